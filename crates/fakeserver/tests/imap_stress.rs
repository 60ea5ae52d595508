//! The project's imaptest in stress mode against fakeserver's IMAP for 60 s with
//! `checkpoint=1` (every second all sessions stop and compare what they saw of the mailbox:
//! flags, UIDs, EXISTS): the default command mix, with copies, several users, and 0 errors.
//! Also a short run with the pushed-change states (IDLE-less NOOP storms and expunges), and one
//! over STARTTLS with COMPRESS=DEFLATE (imaptest's client side against the server side).

mod common;

use common::imap::{imaptest_bin, run, small_mbox, start, text, Fake, Opts};
use std::process::Command;
use std::time::Duration;

/// A fresh fakeserver IMAP (plain text) and imaptest against it with `args` (and a small
/// mbox to APPEND from), killed after `limit` seconds; it must exit 0 without an `Error:`
/// line. Returns the server (to look at what imaptest left) and imaptest's output.
fn clean_run(args: &[&str], limit: u64) -> (Fake, String) {
    let f = start(Opts {
        tls: None,
        ..Opts::default()
    });
    let work = tempfile::tempdir().unwrap();
    let mbox = small_mbox(work.path(), 40);
    let o = run(
        Command::new(imaptest_bin())
            .current_dir(work.path())
            .args([
                "host=127.0.0.1".to_string(),
                format!("port={}", f.port()),
                "pass=p".into(),
                format!("mbox={}", mbox.display()),
            ])
            .args(args),
        Duration::from_secs(limit),
    );
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    (f, s)
}

/// The Totals row of a stress run, by column name.
fn totals(s: &str) -> Vec<(String, u64)> {
    let t = s.split("Totals:\n").nth(1).expect("Totals:");
    let mut lines = t.lines();
    let names: Vec<String> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let counts: Vec<u64> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    names.into_iter().zip(counts).collect()
}

#[test]
fn stress_60s_with_checkpoints_is_clean() {
    let (f, s) = clean_run(
        &[
            "user=stress%d",
            "users=3",
            "clients=12",
            "checkpoint=1",
            "copybox=Trash",
            "secs=60",
        ],
        150,
    );
    let t = totals(&s);
    let get = |n: &str| t.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    assert!(get("ChkP").unwrap_or(0) >= 30, "too few checkpoints: {s}");
    for state in ["Logi", "Sele", "Fetc", "Stor", "Expu", "Appe", "Copy"] {
        assert!(get(state).unwrap_or(0) > 100, "{state}: {s}");
    }
    // The server kept what imaptest left: every user's INBOX exists with distinct UIDs.
    let state = f.svc.daemon().state();
    for u in ["stress1", "stress2", "stress3"] {
        let msgs = state[u]["INBOX"]["messages"].as_array().unwrap();
        let mut uids: Vec<u64> = msgs.iter().map(|m| m["uid"].as_u64().unwrap()).collect();
        let n = uids.len();
        uids.dedup();
        assert_eq!(uids.len(), n, "{u}: duplicate UIDs");
    }
}

#[test]
fn expunge_and_noop_storm_with_own_flags_is_clean() {
    let (_f, s) = clean_run(
        &[
            "user=storm",
            "clients=8",
            "own_flags",
            "checkpoint=1",
            "-",
            "logout=0",
            "append=50,5",
            "store=50",
            "expunge=30",
            "noop=100",
            "idle=20",
            "fetch=50",
            "secs=8",
        ],
        60,
    );
    assert!(s.contains("ChkP"), "{s}");
}

#[test]
fn stress_over_starttls_with_compress_is_clean() {
    // imaptest's client side of STARTTLS and COMPRESS=DEFLATE against fakeserver's server side
    let f = start(Opts::default());
    let work = tempfile::tempdir().unwrap();
    let mbox = small_mbox(work.path(), 40);
    let o = run(
        Command::new(imaptest_bin()).current_dir(work.path()).args([
            "host=localhost".to_string(),
            "hostip=127.0.0.1".into(),
            format!("port={}", f.port()),
            "starttls".into(),
            format!("ssl_ca_file={}", f.ca_path()),
            "compress=100".into(),
            "user=squeeze%d".into(),
            "users=2".into(),
            "clients=4".into(),
            "checkpoint=1".into(),
            "pass=p".into(),
            format!("mbox={}", mbox.display()),
            "secs=5".into(),
        ]),
        Duration::from_secs(60),
    );
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    let t = totals(&s);
    let get = |n: &str| t.iter().find(|(k, _)| k == n).map(|(_, v)| *v);
    assert!(get("Logi").unwrap_or(0) > 0, "{s}");
    assert_eq!(get("Comp"), get("Logi"), "every session compressed: {s}");
    assert!(get("ChkP").unwrap_or(0) > 0, "{s}");
    let tr = f.text();
    assert!(
        tr.contains("STARTTLS") && tr.contains("COMPRESS DEFLATE"),
        "{tr}"
    );
}
