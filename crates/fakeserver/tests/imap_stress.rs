//! The project's imaptest in stress mode against fakeserver's IMAP for 60 s with
//! `checkpoint=1` (every second all sessions stop and compare what they saw of the mailbox:
//! flags, UIDs, EXISTS): the default command mix, with copies, several users, and 0 errors.
//! Also a short run with the pushed-change states (IDLE-less NOOP storms and expunges).

mod imap_common;

use imap_common::{imaptest_bin, run, small_mbox, start, text, Opts};
use std::process::{Command, Output};
use std::time::Duration;

fn imaptest(port: &str, dir: &std::path::Path, args: &[&str], limit: u64) -> Output {
    let mbox = small_mbox(dir, 40);
    run(
        Command::new(imaptest_bin())
            .current_dir(dir)
            .args([
                "host=127.0.0.1".to_string(),
                format!("port={port}"),
                "pass=p".into(),
                format!("mbox={}", mbox.display()),
            ])
            .args(args),
        Duration::from_secs(limit),
    )
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
    let f = start(Opts {
        tls: None,
        ..Opts::default()
    });
    let work = tempfile::tempdir().unwrap();
    let o = imaptest(
        &f.port(),
        work.path(),
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
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
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
    let f = start(Opts {
        tls: None,
        ..Opts::default()
    });
    let work = tempfile::tempdir().unwrap();
    let o = imaptest(
        &f.port(),
        work.path(),
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
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    assert!(s.contains("ChkP"), "{s}");
}
