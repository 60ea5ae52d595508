//! imaptest over TLS against a tiny rustls IMAP server with a fresh self-signed certificate
//! (rcgen): `ssl=any-cert` and `ssl_ca_file=` connect, plain `ssl` (web roots) refuses it.
use std::process::Command;

mod common;

/// The IMAP server's reply to one command line.
fn answer(line: &str) -> String {
    let tag = line.split_whitespace().next().unwrap_or("*").to_string();
    let cmd = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_ascii_uppercase();
    match cmd.as_str() {
        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"),
        "NOOP" => format!("* 3 EXISTS\r\n{tag} OK noop\r\n"),
        _ => format!("{tag} OK done\r\n"),
    }
}

fn start_server() -> (u16, String) {
    common::tls_server::start(b"* OK [CAPABILITY IMAP4rev1] tls ready\r\n", answer)
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
