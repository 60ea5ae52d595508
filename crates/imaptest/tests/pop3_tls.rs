//! POP3 stress mode over TLS against a tiny rustls POP3 server with a fresh self-signed
//! certificate (rcgen): `ssl=any-cert` reads mail from it, plain `ssl` (web roots) refuses it.
use std::process::Command;

mod common;

/// The POP3 server's reply to one command line.
fn answer(line: &str) -> String {
    let cmd = line
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    let mail = "+OK\r\nSubject: hi\r\n\r\n..a stuffed line\r\n.\r\n";
    match cmd.as_str() {
        "STAT" => "+OK 2 40\r\n",
        "LIST" => "+OK\r\n1 20\r\n2 20\r\n.\r\n",
        "UIDL" => "+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n",
        "RETR" | "TOP" => mail,
        _ => "+OK\r\n",
    }
    .to_string()
}

fn start_server() -> u16 {
    common::tls_server::start(b"+OK tls POP3 ready\r\n", answer).0
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
    let totals = common::totals(&s);
    // Logi List Stat Sele Fetc Fet2 Expu Logo: logins, UIDLs, RETRs and DELEs happened
    for i in [0, 3, 4, 5, 6, 7] {
        assert!(totals[i] > 0, "column {i}: {s}");
    }
    let o = run("ssl");
    let s = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("TLS handshake"), "{s}");
}
