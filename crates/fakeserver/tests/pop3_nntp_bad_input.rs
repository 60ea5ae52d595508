//! Hostile and broken clients against fakeserver's POP3 and NNTP over real sockets:
//! over-long lines, NULs, invalid UTF-8, pipelined commands, a client that disconnects in the
//! middle of a POST or of a session, an over-long article, many sessions at once. Every case
//! gets a protocol error (never a panic or a hang), and the server keeps serving.

mod common;

use common::popnntp::*;
use fakeserver::nntp::{NntpDaemon, NntpPersonality};
use fakeserver::pop3::{Pop3Daemon, Pop3Personality};
use std::sync::Arc;
use std::time::Duration;

fn pop3() -> (Arc<Pop3Daemon>, Running) {
    let d = Pop3Daemon::new();
    d.add_message("alice", b"Subject: a\n\nA\n");
    let r = start_pop3(
        d.clone(),
        Pop3Personality::default(),
        Opts {
            max_line: Some(1000),
            ..Opts::default()
        },
    );
    (d, r)
}

#[test]
fn pop3_over_long_lines_nuls_and_bad_utf8_get_errors() {
    let (_d, r) = pop3();
    let mut c = Raw::connect(r.server.port());
    assert!(c.line().starts_with("+OK "));
    c.send(&[b'X'; 5000]);
    assert_eq!(c.ask(b"\r\n"), "-ERR line too long");
    assert_eq!(c.ask(b"US\0ER alice\r\n"), "-ERR unknown command");
    assert_eq!(
        c.ask(b"USER \xff\xfe\r\n"),
        "-ERR USER: argument is not valid UTF-8"
    );
    assert_eq!(c.ask(b"RETR 1\r\n"), "-ERR command not valid in this state");
    // Still a working session afterwards.
    assert_eq!(
        c.ask(b"USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n"),
        "+OK send PASS"
    );
    assert!(c
        .line()
        .starts_with("+OK maildrop locked and ready (1 messages"));
    assert_eq!(c.line(), "+OK 1 17");
    assert_eq!(c.line(), "+OK bye");
    assert_eq!(c.line(), "", "closed after QUIT");
}

#[test]
fn pop3_pipelined_commands_are_answered_in_order() {
    let (_d, r) = pop3();
    let mut c = Raw::connect(r.server.port());
    c.line();
    c.send(b"CAPA\r\nUSER alice\r\nPASS secret\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n");
    let capa = c.multiline();
    assert!(capa.contains(&"PIPELINING".to_string()), "{capa:?}");
    assert_eq!(c.line(), "+OK send PASS");
    assert!(c.line().starts_with("+OK maildrop"));
    assert_eq!(
        c.multiline(),
        vec!["+OK 1 messages (17 octets)", "1 17", "."]
    );
    assert!(c.line().starts_with("+OK 1 "));
    assert_eq!(
        c.multiline(),
        vec!["+OK 17 octets", "Subject: a", "", "A", "."]
    );
    assert_eq!(c.line(), "+OK");
    assert_eq!(c.line(), "+OK bye");
}

#[test]
fn pop3_disconnect_mid_session_deletes_nothing_and_unlocks() {
    let (d, r) = pop3();
    let mut c = Raw::connect(r.server.port());
    c.line();
    c.send(b"USER alice\r\nPASS secret\r\nDELE 1\r\n");
    c.line();
    c.line();
    assert!(c.line().starts_with("+OK"));
    c.close();
    r.server
        .wait_for_connections_closed(1, Duration::from_secs(10))
        .unwrap();
    assert_eq!(d.messages("alice").len(), 1);
    assert!(!d.is_locked("alice"));
}

#[test]
fn pop3_many_sessions_at_once() {
    let d = Pop3Daemon::new();
    for i in 0..100 {
        d.add_message(
            &format!("u{i}"),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes(),
        );
    }
    let users = (0..100).map(|i| (format!("u{i}"), "pw".to_string()));
    let server = fakeserver::server::start(
        fakeserver::server::ServerConfig::new("pop3").port(0),
        Arc::new(fakeserver::pop3::service::Pop3Service::new(
            d.clone(),
            Arc::new(fakeserver::auth::Users::strict(users)),
            Pop3Personality::default(),
        )),
    )
    .unwrap();
    let port = server.port();
    let threads: Vec<_> = (0..100)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                c.line();
                c.send(format!("USER u{i}\r\nPASS pw\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n").as_bytes());
                c.line();
                c.line();
                let body = c.multiline();
                assert!(body.contains(&format!("body {i}")), "{body:?}");
                assert!(c.line().starts_with("+OK"));
                assert!(c.line().starts_with("+OK"));
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a session failed");
    }
    assert!((0..100).all(|i| d.messages(&format!("u{i}")).is_empty()));
}

fn nntp(max_block: Option<usize>) -> (Arc<NntpDaemon>, Running) {
    let d = NntpDaemon::new();
    d.add_group("misc.test", fakeserver::nntp::daemon::Status::Postable);
    let r = start_nntp(
        d.clone(),
        NntpPersonality::default(),
        Opts {
            max_line: Some(1000),
            max_block,
            ..Opts::default()
        },
    );
    (d, r)
}

#[test]
fn nntp_over_long_lines_nuls_and_bad_utf8_get_errors() {
    let (_d, r) = nntp(None);
    let mut c = Raw::connect(r.server.port());
    assert!(c.line().starts_with("200 "));
    c.send(&[b'G'; 4000]);
    assert_eq!(c.ask(b"\r\n"), "501 line too long");
    assert_eq!(c.ask(b"GR\0UP misc.test\r\n"), "500 unknown command");
    assert_eq!(
        c.ask(b"GROUP misc.\xc3\x28\r\n"),
        "501 GROUP: argument is not valid UTF-8"
    );
    assert_eq!(
        c.ask(b"GROUP misc.test\r\nSTAT\r\nQUIT\r\n"),
        "211 0 1 0 misc.test"
    );
    assert_eq!(c.line(), "420 current article number is invalid");
    assert_eq!(c.line(), "205 closing connection");
}

#[test]
fn nntp_disconnect_mid_post_stores_nothing_and_keeps_serving() {
    let (d, r) = nntp(None);
    let mut c = Raw::connect(r.server.port());
    c.line();
    c.send(b"POST\r\n");
    assert!(c.line().starts_with("340 "));
    c.send(b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: partial\r\n\r\nhalf an art");
    c.close();
    r.server
        .wait_for_connections_closed(1, Duration::from_secs(10))
        .unwrap();
    assert_eq!(d.group("misc.test").unwrap().stats().0, 0);
    let record = r.server.recorder().to_text();
    assert!(
        record.contains("half an art"),
        "what the client sent is in the record:\n{record}"
    );
    // The next client posts fine.
    let mut c = Raw::connect(r.server.port());
    c.line();
    c.send(b"POST\r\n");
    c.line();
    c.send(b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: whole\r\n\r\n..dotted\r\n.\r\n");
    assert!(c.line().starts_with("240 "));
    let g = d.group("misc.test").unwrap();
    let art = g.articles.values().next().unwrap();
    assert_eq!(art.body(), b".dotted\r\n");
}

#[test]
fn nntp_over_long_article_is_refused_and_the_session_goes_on() {
    let (d, r) = nntp(Some(10_000));
    let mut c = Raw::connect(r.server.port());
    c.line();
    c.send(b"POST\r\n");
    c.line();
    c.send(b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: big\r\n\r\n");
    for _ in 0..500 {
        c.send(b"0123456789012345678901234567890123456789\r\n");
    }
    assert_eq!(c.ask(b".\r\nDATE\r\n"), "441 article too large");
    assert!(c.line().starts_with("111 "));
    assert_eq!(d.group("misc.test").unwrap().stats().0, 0);
}
