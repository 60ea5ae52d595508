//! imaptest over TLS against a tiny rustls IMAP server with a fresh self-signed certificate
//! (rcgen): `ssl=any-cert` and `ssl_ca_file=` connect, plain `ssl` (web roots) refuses it.
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn start_server() -> (u16, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = cert.cert.pem();
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
                    let _ = w
                        .write_all(b"* OK [CAPABILITY IMAP4rev1] tls ready\r\n")
                        .await;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let tag = line.split_whitespace().next().unwrap_or("*").to_string();
                        let cmd = line
                            .split_whitespace()
                            .nth(1)
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let out = match cmd.as_str() {
                            "CAPABILITY" => format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"),
                            "NOOP" => format!("* 3 EXISTS\r\n{tag} OK noop\r\n"),
                            _ => format!("{tag} OK done\r\n"),
                        };
                        if w.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    (port, pem)
}

#[test]
fn tls_any_cert_ca_file_and_verification() {
    let (port, pem) = start_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t"), "state: auth\n\nok noop\n* 3 exists\n").unwrap();
    std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
    let run = |extra: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_imaptest"))
            .args([
                format!("port={port}"),
                "host=localhost".into(),
                "user=u".into(),
                "pass=p".into(),
                "timeout=5".into(),
            ])
            .arg(format!("test={}", dir.path().join("t").display()))
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["ssl=any-cert".into()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&[format!(
        "ssl_ca_file={}",
        dir.path().join("ca.pem").display()
    )]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&["ssl".into()]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains("TLS handshake") && s.contains("certificate"),
        "{s}"
    );
}
