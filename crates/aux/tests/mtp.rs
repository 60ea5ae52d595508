//! The `mtpscript` binary end to end: an LMTP exchange over its stdin/stdout, the log
//! file (created, or appended to with `+`), and its usage errors.

use std::io::Write;
use std::process::{Command, Stdio};

fn mtpscript(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtpscript"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mtpscript");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write input");
    child.wait_with_output().expect("wait")
}

#[test]
fn lmtp_exchange_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script");
    let log = dir.path().join("log");
    std::fs::write(&script, "220 LMTP ready\nLHLO\n250 OK\nMAIL FROM\n250 OK\nRCPT TO\n250 OK\nDATA\n354 go\n.\n250 delivered\nQUIT\n221 bye\n").unwrap();
    let input = b"LHLO host\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let out = mtpscript(&[script.to_str().unwrap(), log.to_str().unwrap()], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "220 LMTP ready\r\n250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n250 delivered\r\n221 bye\r\n"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.starts_with("220 LMTP ready\nLHLO\n<<< LHLO host\n250 OK\n"),
        "{logged}"
    );
    assert!(
        logged.contains(".\n<<< Subject: x\n<<< \n<<< body\n<<< .\n250 delivered\n"),
        "{logged}"
    );
    assert!(
        logged.ends_with("QUIT\n<<< QUIT\n221 bye\nEnd of script\n"),
        "{logged}"
    );

    // "+log" appends.
    std::fs::write(&script, "QUIT\n").unwrap();
    let plus = format!("+{}", log.display());
    let out = mtpscript(&[script.to_str().unwrap(), &plus], b"");
    assert_eq!(out.status.code(), Some(0));
    let logged2 = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged2,
        format!("{logged}QUIT\nUnexpected EOF read from client\n")
    );
}

#[test]
fn usage_errors_speak_smtp() {
    let out = mtpscript(&["only-one"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "500 Script and log file required\n"
    );
    let out = mtpscript(&["/nonexistent/script", "/tmp/x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "500 Failed to open script /nonexistent/script: No such file or directory\r\n"
    );
    let out = mtpscript(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Usage: mtpscript"));
}
