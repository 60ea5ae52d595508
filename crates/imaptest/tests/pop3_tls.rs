//! POP3 stress mode over TLS against a tiny rustls POP3 server with a fresh self-signed
//! certificate (rcgen): `ssl=any-cert` reads mail from it, plain `ssl` (web roots) refuses it.
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn start_server() -> u16 {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let (r, mut w) = tokio::io::split(tls);
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"+OK tls POP3 ready\r\n").await;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let mail = "+OK\r\nSubject: hi\r\n\r\n..a stuffed line\r\n.\r\n";
                        let out = match cmd.as_str() {
                            "STAT" => "+OK 2 40\r\n",
                            "LIST" => "+OK\r\n1 20\r\n2 20\r\n.\r\n",
                            "UIDL" => "+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n",
                            "RETR" | "TOP" => mail,
                            _ => "+OK\r\n",
                        };
                        if w.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    port
}

#[test]
fn pop3_over_tls_any_cert_and_verification() {
    let port = start_server();
    let dir = tempfile::tempdir().unwrap();
    let run = |ssl: &str| {
        Command::new(env!("CARGO_BIN_EXE_imaptest"))
            .current_dir(dir.path())
            .args([
                "pop3".to_string(),
                "host=localhost".into(),
                "hostip=127.0.0.1".into(),
                format!("port={port}"),
                ssl.to_string(),
                "user=u".into(),
                "pass=p".into(),
                "clients=2".into(),
                "secs=2,5".into(),
            ])
            .output()
            .unwrap()
    };
    let o = run("ssl=any-cert");
    let s = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{s}");
    let totals: Vec<u64> = s
        .split("Totals:\n")
        .nth(1)
        .and_then(|t| t.lines().nth(1))
        .unwrap_or_else(|| panic!("{s}"))
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    // Logi List Stat Sele Fetc Fet2 Expu Logo: logins, UIDLs, RETRs and DELEs happened
    for i in [0, 3, 4, 5, 6, 7] {
        assert!(totals[i] > 0, "column {i}: {s}");
    }
    let o = run("ssl");
    let s = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("TLS handshake"), "{s}");
}
