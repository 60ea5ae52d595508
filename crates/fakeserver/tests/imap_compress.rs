//! COMPRESS=DEFLATE (RFC 4978) with clients whose DEFLATE is not the server's: a raw-socket
//! IMAP client in Python with zlib (tests/clients/imap_compress.py; imaplib has no COMPRESS),
//! plain, under STARTTLS and under implicit TLS, and a peer that sends garbage once compression is on. The server
//! side is checked too: the transcript holds the inflated commands and replies, the daemon
//! the APPENDed message. (mbsync's use of COMPRESS is checked in imap_mbsync.rs.)

mod common;

use common::imap::{have, manifest, run, start, text, Fake, Opts};
use fakeserver::auth::Users;
use fakeserver::tls::Preset;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn fake(tls: Option<Preset>, implicit: bool) -> Fake {
    start(Opts {
        tls,
        implicit,
        users: Some(Users::strict([("alice", "secret")])),
        ..Opts::default()
    })
}

/// Run the Python client against `f` (with STARTTLS when `ca` is a CA file) and check what
/// it and the server saw.
fn python_client(f: &Fake, ca: &str) -> String {
    let script = manifest().join("tests/clients/imap_compress.py");
    let o = run(
        Command::new("python3").arg(&script).args([&f.port(), ca]),
        Duration::from_secs(60),
    );
    let s = text(&o);
    assert!(o.status.success(), "{s}\n--- transcript\n{}", f.text());
    for step in [
        "capability",
        "compress",
        "select",
        "append",
        "fetch",
        "pipelined",
        "compressionactive",
        "logout",
    ] {
        assert!(s.contains(&format!("ok {step}")), "missing {step}: {s}");
    }
    let inbox = f.mailbox("alice", "INBOX").unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].1.iter().any(|x| x == "\\Flagged"));
    assert_eq!(inbox[0].2.len(), 45 + 6000 * 60, "the APPENDed size");
    f.settle(1);
    let tr = f.text();
    // The transcript is the protocol: the commands sent compressed, inflated.
    let started = tr
        .find("compression started: DEFLATE")
        .unwrap_or_else(|| panic!("{tr}"));
    for line in [
        "a1 SELECT INBOX",
        "a3 UID FETCH 1:* (FLAGS BODY.PEEK[])",
        "p2 SEARCH SUBJECT compressed",
        "y NO [COMPRESSIONACTIVE]",
        "* BYE",
        "q OK",
    ] {
        let at = tr
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} not in the transcript:\n{tr}"));
        assert!(at > started, "{line:?} before compression started:\n{tr}");
    }
    assert!(tr.contains("b1 BAD ") && tr.contains("b0 BAD "), "{tr}");
    s
}

#[test]
fn a_zlib_client_compresses_commands_and_inflates_replies() {
    if !have("python3") {
        return;
    }
    let f = fake(None, false);
    let s = python_client(&f, "-");
    assert!(!s.contains("ok starttls"), "{s}");
}

#[test]
fn compression_runs_over_starttls() {
    if !have("python3") {
        return;
    }
    let f = fake(Some(Preset::Valid), false);
    let s = python_client(&f, &f.ca_path());
    assert!(s.contains("ok starttls TLSv1."), "{s}");
    let tr = f.text();
    let tls = tr.find("started TLS").unwrap_or_else(|| panic!("{tr}"));
    assert!(tls < tr.find("compression started").unwrap(), "{tr}");
}

#[test]
fn compression_runs_over_implicit_tls() {
    if !have("python3") {
        return;
    }
    let f = fake(Some(Preset::Valid), true);
    let s = python_client(&f, &format!("implicit:{}", f.ca_path()));
    assert!(
        s.contains("ok implicit tls TLSv1.") && !s.contains("ok starttls"),
        "{s}"
    );
    let tr = f.text();
    let tls = tr.find("started TLS").unwrap_or_else(|| panic!("{tr}"));
    assert!(tls < tr.find("compression started").unwrap(), "{tr}");
}

/// After `z OK DEFLATE active`, bytes that are not DEFLATE end the connection (noted in the
/// transcript) and the server goes on serving others.
#[test]
fn garbage_after_compress_closes_only_that_connection() {
    let f = fake(None, false);
    let s = TcpStream::connect(("127.0.0.1", f.server.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let reply = |r: &mut BufReader<TcpStream>, tag: &str| loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "closed before {tag}");
        if l.starts_with(tag) {
            break l;
        }
    };
    reply(&mut r, "* OK");
    w.write_all(b"l LOGIN alice secret\r\nz COMPRESS DEFLATE\r\n")
        .unwrap();
    assert!(reply(&mut r, "l ").starts_with("l OK"));
    assert_eq!(reply(&mut r, "z "), "z OK DEFLATE active\r\n");
    w.write_all(b"\xff\xfe this is not a deflate stream\r\n")
        .unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let n = r.read_to_end(&mut rest);
    assert!(
        matches!(n, Ok(0)) || n.is_err() && start.elapsed() < Duration::from_secs(9),
        "the server must close: {n:?} {rest:?}"
    );
    f.settle(1);
    let tr = f.text();
    assert!(tr.contains("read error: inflate"), "{tr}");
    // Another client is served as before.
    let mut again = TcpStream::connect(("127.0.0.1", f.server.port())).unwrap();
    again
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = [0u8; 5];
    again.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"* OK ");
}
