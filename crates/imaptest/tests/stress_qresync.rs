//! Stress mode's `qresync`: a session that selects a mailbox its user's sessions already knew
//! resyncs with `SELECT "INBOX" (QRESYNC (uidvalidity modseq [known-uids]))` and its reply is
//! checked. Against a private Dovecot (tools/dovecot on free loopback ports, stopped when the
//! test ends, even when it fails) busy sessions of three users run clean, with and without
//! checkpoints, and the rawlogs show the resyncs and Dovecot's `VANISHED (EARLIER)` replies;
//! without `qresync` nothing of it is sent. Against a tiny scripted server (in this file, on
//! port 0) that forgets an expunge or a flag change in its resync, the lost change is named;
//! the same server honest runs clean, and without QRESYNC in its capabilities nothing of it
//! is sent.
mod common;

use common::Dovecot;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output};

fn imaptest(port: u16, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(cwd)
        .args([
            "host=127.0.0.1".to_string(),
            format!("port={port}"),
            "pass=testpass".into(),
            format!("mbox={}", common::mbox20(cwd, "q", "")),
        ])
        .args(args)
        .output()
        .unwrap()
}

/// The lines of every `rawlog.*` file in `dir`.
fn rawlog_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawlog.") {
            let data = std::fs::read(e.path()).unwrap();
            lines.extend(String::from_utf8_lossy(&data).lines().map(str::to_string));
        }
    }
    lines
}

/// A run against Dovecot in a fresh folder: exit 0, no error; returns the output and the
/// rawlog lines.
fn clean_run(d: &Dovecot, args: &[&str]) -> (String, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let o = imaptest(d.port, work.path(), args);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {s}");
    assert!(!s.contains("Error:"), "{args:?}: {s}");
    (s, rawlog_lines(work.path()))
}

#[test]
fn resyncs_run_clean_against_dovecot() {
    let d = Dovecot::start("imaptest-qresync");
    let users = ["user=u%d", "users=3", "clients=5"];
    // a busy mix that keeps the mailboxes full: expunges and flag changes to resync over
    let mut a = users.to_vec();
    a.extend(["secs=6", "qresync", "rawlog", "expunge=10", "delete=20"]);
    let (s, log) = clean_run(&d, &a);
    assert!(common::totals(&s)[0] > 20, "too few logins: {s}");
    let resyncs: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(" SELECT \"INBOX\" (QRESYNC ("))
        .collect();
    assert!(resyncs.len() > 10, "{} resyncs", resyncs.len());
    // some with the known UIDs, some without
    let with_uids = resyncs
        .iter()
        .filter(|l| {
            l.split("(QRESYNC (")
                .nth(1)
                .is_some_and(|p| p.split_whitespace().count() == 3)
        })
        .count();
    assert!(with_uids > 0 && with_uids < resyncs.len(), "{resyncs:?}");
    assert!(log
        .iter()
        .any(|l| l.starts_with("S: * ") && l.contains(" FETCH (") && l.contains("MODSEQ (")));
    let vanished = |log: &[String]| {
        log.iter()
            .filter(|l| l.starts_with("S: * VANISHED (EARLIER) "))
            .count()
    };
    let mut earlier = vanished(&log);

    // the default mix with checkpoints
    let mut a = users.to_vec();
    a.extend(["secs=6", "qresync", "checkpoint=1", "rawlog"]);
    let (s, log) = clean_run(&d, &a);
    assert!(
        *common::totals(&s).last().unwrap() > 0,
        "no checkpoints: {s}"
    );
    assert!(log.iter().any(|l| l.contains("(QRESYNC (")));
    // (the default mix expunges often: most resyncs have something gone)
    earlier += vanished(&log);
    assert!(earlier > 0, "no VANISHED (EARLIER) in the rawlogs");

    // without qresync: neither ENABLE nor QRESYNC SELECTs
    let mut a = users.to_vec();
    a.extend(["secs=3", "rawlog"]);
    let (_, log) = clean_run(&d, &a);
    assert!(log.iter().any(|l| l.contains(" SELECT \"INBOX\"")));
    assert!(
        log.iter()
            .all(|l| !l.starts_with("C: ") || !l.contains("QRESYNC")),
        "QRESYNC sent without qresync"
    );
}

/// What changes in the scripted server's mailbox.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Change {
    /// UID 2 is expunged (MODSEQ 11).
    Expunge,
    /// UID 3 gets `\Seen` (MODSEQ 11).
    Flag,
}

/// A tiny IMAP server with QRESYNC, one mailbox of UIDVALIDITY 5 and UIDs 1-3 at MODSEQ 10.
/// Connection 1 selects it. In connection 2 (its SELECT has no HIGHESTMODSEQ, so what it
/// learns is not kept) the first NOOP makes the `change`. From connection 3 on, a SELECT shows
/// the mailbox as it is then, and its resync reports the change (its `VANISHED (EARLIER)` or
/// FETCH) unless told to `forget` it. It announces `caps`.
fn serve(change: Change, forget: bool, caps: &'static str) -> u16 {
    common::serve_each(move |s, conn| session(s, conn, change, forget, caps))
}

fn session(s: std::net::TcpStream, conn: u32, change: Change, forget: bool, caps: &str) {
    let Ok(mut w) = s.try_clone() else { return };
    let expunge = change == Change::Expunge;
    // (uid, seen, modseq) as this connection sees the mailbox
    let mut msgs: Vec<(u32, bool, u64)> = if conn < 3 {
        vec![(1, false, 10), (2, false, 10), (3, false, 10)]
    } else if expunge {
        vec![(1, false, 10), (3, false, 10)]
    } else {
        vec![(1, false, 10), (2, false, 10), (3, true, 11)]
    };
    let highest = if conn < 3 { 10 } else { 11 };
    // the FETCH replies of the messages with a MODSEQ above `since`
    let fetch = |msgs: &[(u32, bool, u64)], since: u64| {
        let mut out = String::new();
        for (i, (uid, seen, modseq)) in msgs.iter().enumerate() {
            if *modseq > since {
                let flags = if *seen { "\\Seen" } else { "" };
                out += &format!(
                    "* {} FETCH (UID {uid} FLAGS ({flags}) MODSEQ ({modseq}))\r\n",
                    i + 1
                );
            }
        }
        out
    };
    let banner = format!("* OK [CAPABILITY {caps}] forgetful\r\n");
    if w.write_all(banner.as_bytes()).is_err() {
        return;
    }
    let mut noops = 0;
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { return };
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let body = match cmd.to_ascii_uppercase().as_str() {
            "ENABLE" => "* ENABLED QRESYNC\r\n".to_string(),
            "SELECT" => {
                let mut r = format!(
                    "* FLAGS (\\Seen \\Deleted)\r\n* OK [PERMANENTFLAGS (\\Seen \\Deleted)] x\r\n* {} EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n* OK [UIDNEXT 4] x\r\n",
                    msgs.len()
                );
                if conn != 2 {
                    r += &format!("* OK [HIGHESTMODSEQ {highest}] x\r\n");
                }
                // the resync: what changed after the MODSEQ the client gave
                let since: Option<u64> = args
                    .split("(QRESYNC (")
                    .nth(1)
                    .and_then(|p| p.split_whitespace().nth(1))
                    .and_then(|m| m.trim_end_matches(')').parse().ok());
                if let Some(since) = since {
                    if conn >= 3 && expunge && since < 11 && !forget {
                        r += "* VANISHED (EARLIER) 2\r\n";
                    }
                    if !forget {
                        r += &fetch(&msgs, since);
                    }
                }
                r
            }
            "NOOP" => {
                noops += 1;
                if conn == 2 && noops == 1 {
                    if expunge {
                        msgs.remove(1);
                        "* VANISHED 2\r\n".to_string()
                    } else {
                        msgs[2] = (3, true, 11);
                        "* 3 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (11))\r\n".to_string()
                    }
                } else {
                    String::new()
                }
            }
            "FETCH" => fetch(&msgs, 0),
            "LOGOUT" => "* BYE bye\r\n".to_string(),
            _ => String::new(),
        };
        if w.write_all(format!("{body}{tag} OK done\r\n").as_bytes())
            .is_err()
        {
            return;
        }
    }
}

/// imaptest against the scripted server: one client, sessions of SELECT, NOOP and LOGOUT.
const QRESYNC_CAPS: &str = "IMAP4rev1 LITERAL+ ENABLE CONDSTORE QRESYNC";

fn against(change: Change, forget: bool, extra: &[&str]) -> Output {
    let port = serve(change, forget, QRESYNC_CAPS);
    let work = tempfile::tempdir().unwrap();
    let mut a = vec!["user=testuser", "clients=1", "-", "noop=100", "qresync"];
    a.extend_from_slice(extra);
    imaptest(port, work.path(), &a)
}

#[test]
fn an_honest_resync_is_no_error() {
    for change in [Change::Expunge, Change::Flag] {
        let o = against(change, false, &["secs=3"]);
        let s = common::text(&o);
        assert_eq!(o.status.code(), Some(0), "{change:?}: {s}");
        assert!(!s.contains("Error:"), "{change:?}: {s}");
        assert!(common::totals(&s)[0] >= 4, "too few sessions: {s}");
    }
}

#[test]
fn a_resync_that_forgets_an_expunge_is_named() {
    let o = against(Change::Expunge, true, &["secs=6", "error_quit"]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(2), "{s}");
    assert!(
        s.contains("Error: testuser[1]: QRESYNC lost changes: UID 2, known at MODSEQ 10, was expunged since (another session saw it go), but the reply has no VANISHED (EARLIER) for it: "),
        "{s}"
    );
    // with the server's tagged reply, and the count that does not add up either
    assert!(s.contains("for it: 3 OK done"), "{s}");
    assert!(
        s.contains(
            "QRESYNC lost changes: the server has 2 messages, but the 3 UIDs known at MODSEQ 10"
        ),
        "{s}"
    );
}

#[test]
fn a_resync_that_forgets_a_flag_change_is_named() {
    let o = against(Change::Flag, true, &["secs=6", "error_quit"]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(2), "{s}");
    // the count adds up: only what the other session saw tells
    assert!(
        s.contains("Error: testuser[1]: QRESYNC lost changes: UID 3 changed since MODSEQ 10 (a session saw MODSEQ 11), but the reply has no FETCH for it: 3 OK done"),
        "{s}"
    );
    assert!(!s.contains("the server has"), "{s}");
}

#[test]
fn without_qresync_at_the_server_nothing_changes() {
    // the same forgetful server, but without QRESYNC: no ENABLE, SELECT with CONDSTORE as
    // before, no UIDs fetched before leaving, no resync to judge
    let port = serve(Change::Expunge, true, "IMAP4rev1 LITERAL+ ENABLE CONDSTORE");
    let work = tempfile::tempdir().unwrap();
    let a = [
        "user=testuser",
        "clients=1",
        "-",
        "noop=100",
        "qresync",
        "rawlog",
        "secs=2",
    ];
    let o = imaptest(port, work.path(), &a);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    let log = rawlog_lines(work.path());
    let sent: Vec<&String> = log.iter().filter(|l| l.starts_with("C: ")).collect();
    assert!(
        sent.iter()
            .any(|l| l.ends_with(" SELECT \"INBOX\" (CONDSTORE)")),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .all(|l| !l.contains("QRESYNC") && !l.contains("ENABLE") && !l.contains("FETCH")),
        "{sent:?}"
    );
}
