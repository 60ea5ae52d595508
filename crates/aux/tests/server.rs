//! `server` against real clients: swaks and Python's smtplib (skipped when missing), raw
//! sockets for the edge cases (bad input, timeouts, huge lines, Unix sockets).

mod server_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use server_common::*;

const SMTP_SCRIPT: &str = "220 Server ready\nEHLO\n250-OK\n250 HELP\nMAIL FROM\n250 Sender OK\nRCPT TO\n250 Recipient OK\nDATA\n354 Send message\n.\n250 OK\nQUIT\n221 Bye\n";

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn swaks_delivers_a_message() {
    if !have("swaks") {
        eprintln!("swaks not installed: skipped");
        return;
    }
    let srv = BgServer::start(&["-t", "10"], SMTP_SCRIPT, None);
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &srv.port.to_string()])
        .args([
            "--from",
            "a@test.ex",
            "--to",
            "b@test.ex",
            "--helo",
            "swaks.test.ex",
        ])
        .args(["--header", "Subject: hello", "--body", "Body line"])
        .output()
        .expect("run swaks");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (rc, text) = srv.finish();
    assert_eq!(rc, 0, "{text}");
    assert!(
        text.contains("\nEHLO swaks.test.ex\n250-OK\n250 HELP\nMAIL FROM:<a@test.ex>\n"),
        "{text}"
    );
    assert!(text.contains("Subject: hello\n"), "{text}");
    assert!(text.contains("\nBody line\n"), "{text}");
    assert!(
        text.ends_with("\n.\n250 OK\nQUIT\n221 Bye\nEnd of script\n"),
        "{text}"
    );
}

#[test]
fn python_smtplib_over_two_connections() {
    if !have("python3") {
        eprintln!("python3 not installed: skipped");
        return;
    }
    // smtplib's commands are lower case.
    let script = "220 Server ready\nehlo\n250-OK\n250 HELP\nmail FROM\n250 Sender OK\nrcpt TO\n250 Recipient OK\n\
                  data\n354 Send message\n.\n250 OK\nquit\n221 Bye\n*eof\n220 Again\nhelo\n250 hi\nquit\n221 Bye\n";
    let srv = BgServer::start(&["-t", "10"], script, Some(2));
    let py = format!(
        "import smtplib\n\
         s = smtplib.SMTP('127.0.0.1', {port})\n\
         s.sendmail('a@test.ex', ['b@test.ex'], 'Subject: py\\r\\n\\r\\n.leading dot\\r\\n')\n\
         s.quit()\n\
         s = smtplib.SMTP('127.0.0.1', {port})\n\
         s.helo('py.test.ex')\n\
         s.quit()\n",
        port = srv.port
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(py)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (rc, text) = srv.finish();
    assert_eq!(rc, 0, "{text}");
    // The dot-stuffed line shows as sent; the second connection follows the *eof.
    assert!(
        text.contains("Subject: py\n\n..leading dot\n.\n250 OK\n"),
        "{text}"
    );
    assert!(
        text.contains("221 Bye\nExpected EOF read from client\nListening on port"),
        "{text}"
    );
    assert!(
        text.ends_with("helo py.test.ex\n250 hi\nquit\n221 Bye\nEnd of script\n"),
        "{text}"
    );
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn comparison_failure_is_reported_and_exits_zero() {
    let srv = BgServer::start(&[], "220 Hi\nEHLO\n250 OK\n", None);
    let mut s = connect(srv.port);
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"220 Hi\r\n");
    s.write_all(b"HELO x\r\n").unwrap();
    let (rc, text) = srv.finish();
    assert_eq!(rc, 0);
    assert!(
        text.ends_with("220 Hi\nHELO x\nComparison failed - bailing out\nExpected: EHLO\n"),
        "{text}"
    );
}

#[test]
fn timeouts() {
    let srv = BgServer::start(&["-t", "1"], "220 Hi\n", None);
    let (rc, text) = srv.finish();
    assert_eq!(rc, 99);
    assert!(text.ends_with(" ... \nServer timed out\n"), "{text}");

    let srv = BgServer::start(&["-t", "-1"], "220 Hi\n", None);
    assert_eq!(srv.finish().0, 0);

    // Waiting for a line that never comes.
    let srv = BgServer::start(&["-t", "1"], "220 Hi\nEHLO\n", None);
    let _s = connect(srv.port);
    let (rc, text) = srv.finish();
    assert_eq!(rc, 99);
    assert!(text.ends_with("220 Hi\n\nServer timed out\n"), "{text}");
}

#[test]
fn escapes_sends_and_unbuffered_mode() {
    // `>>` switches to unbuffered reads; non-printing input shows as \xNN.
    let srv = BgServer::start(
        &[],
        ">>no-crlf\n>CR>cr\n>LF>lf\n550 \\x41\\\\z\nab\n*eof\n",
        None,
    );
    let mut s = connect(srv.port);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < b"no-crlfcr\rlf\n550 A\\z\r\n".len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"no-crlfcr\rlf\n550 A\\z\r\n");
    s.write_all(b"a\x01\r\n").unwrap();
    drop(s);
    let (rc, text) = srv.finish();
    assert_eq!(rc, 0);
    assert!(
        text.contains("\n>>no-crlf\n>CR>cr\n>LF>lf\n550 A\\z\n"),
        "{text}"
    );
    // Unbuffered compare: 2 bytes read, then up to the newline (CR LF dropped); the
    // mismatch shown escaped.
    assert!(
        text.contains("a\\x01\nComparison failed - bailing out\nExpected: ab\n"),
        "{text}"
    );
}

#[test]
fn huge_line_without_newline_is_read_in_bounded_chunks() {
    let srv = BgServer::start(&["-t", "5"], "220 Hi\n.\n250 OK\n", None);
    let mut s = connect(srv.port);
    let mut buf = [0u8; 16];
    let _ = s.read(&mut buf).unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..10 {
        s.write_all(&chunk).unwrap();
    }
    s.write_all(b"\r\n.\r\n").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"250 OK\r\n");
    drop(s);
    let (rc, text) = srv.finish();
    assert_eq!(rc, 0);
    // 10 MiB in lines of at most 10239 bytes.
    assert!(text.lines().all(|l| l.len() <= 10239));
    assert!(text.ends_with("\n.\n250 OK\nEnd of script\n"));
}

#[test]
fn unix_socket_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sock");
    let sock_s = sock.display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-t", "5", &sock_s])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\n>bye\n")
        .unwrap();
    wait_for_file(&sock);
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all(b"hello there\n").unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "bye\r\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "Listening on {sock_s} ... \nConnection request\nhello there\n>bye\nEnd of script\n"
        )
    );
    assert!(!sock.exists(), "socket file removed at the end");

    let out = run_with_input(
        std::path::Path::new(env!("CARGO_BIN_EXE_server")),
        &["-noipv4", "-noipv6", "1"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_of(&out),
        "server: -noipv4 and -noipv6 cannot both be given\n"
    );
}
