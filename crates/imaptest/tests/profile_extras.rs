//! Profile mode's `connection_max_count` and `qresync`, against a private Dovecot
//! (tools/dovecot on free ports, stopped when the test ends) and a tiny IMAP server in this
//! file: a user keeps `connection_max_count` connections; with `qresync` the IMAP clients
//! enable QRESYNC, select INBOX again with what the user's last session knew and check the
//! server's resync (Dovecot's adds up; the tiny server's drops an expunge and is named).
mod common;

use common::Dovecot;
use std::path::Path;
use std::process::{Command, Output};

/// imaptest with `profile` (written to `dir/p.conf`) against ports `imap` and `lmtp`.
fn run(dir: &Path, profile: &str, imap: u16, lmtp: u16, extra: &[&str]) -> Output {
    let conf = dir.join("p.conf");
    std::fs::write(&conf, profile).unwrap();
    Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(dir)
        .env_remove("USER")
        .arg(format!("profile={}", conf.display()))
        .arg(format!("port={imap}"))
        .arg(format!("lmtp_port={lmtp}"))
        .arg(format!("mbox={}", common::mbox20(dir, "pe", "")))
        .arg("pass=testpass")
        .args(extra)
        .output()
        .unwrap()
}

/// The column `name` of the Totals row.
fn total(s: &str, name: &str) -> u64 {
    let header = s.split("Totals:\n").nth(1).unwrap().lines().next().unwrap();
    let i = header
        .split_whitespace()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}: {s}"));
    common::totals(s)[i]
}

fn rawlogs(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("rawlog."))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_user_keeps_connection_max_count_connections() {
    let d = Dovecot::start("imaptest-cmc-");
    let work = tempfile::tempdir().unwrap();
    // sessions never end on their own and there is no login_interval: each user logs in once
    // with all its connections, which stay open until the run finishes
    let profile = "lmtp_port = 24\ntotal_user_count = 2\nuser u {\n  username_format = cmcuser%n\n  count = 100%\n}\nclient tb {\n  count = 100%\n  connection_max_count = 3\n  imap_idle = yes\n}\n";
    let o = run(
        work.path(),
        profile,
        d.port,
        d.lmtp_port,
        &["secs=3,5", "rawlog"],
    );
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    assert_eq!(
        total(&s, "Logi"),
        6,
        "3 connections for each of 2 users: {s}"
    );
    assert_eq!(total(&s, "Logo"), 6, "{s}");
    let logs = rawlogs(work.path());
    for user in ["cmcuser1", "cmcuser2"] {
        let n = logs
            .iter()
            .filter(|l| l.contains(&format!("LOGIN \"{user}\"")))
            .count();
        assert_eq!(n, 3, "{user}: {s}");
    }
    // connection_max_count = 1: one connection per user
    let work = tempfile::tempdir().unwrap();
    let one = profile.replace("connection_max_count = 3", "connection_max_count = 1");
    let o = run(work.path(), &one, d.port, d.lmtp_port, &["secs=2,5"]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert_eq!(total(&s, "Logi"), 2, "{s}");
}

#[test]
fn qresync_resyncs_inbox_against_dovecot() {
    let d = Dovecot::start("imaptest-qrs-");
    let work = tempfile::tempdir().unwrap();
    // mail arrives five times a second, half of it is deleted at once, sessions last a second:
    // each new session resyncs INBOX with what the last one knew
    let profile = "lmtp_port = 24\ntotal_user_count = 1\nuser u {\n  username_format = qrsuser%n\n  count = 100%\n  mail_inbox_delivery_interval = 200ms\n  mail_action_delay = 0\n  mail_inbox_delete_percentage = 50\n  mail_session_length = 1s\n}\nclient c {\n  count = 100%\n  imap_idle = yes\n}\n";
    let o = run(
        work.path(),
        profile,
        d.port,
        d.lmtp_port,
        &["secs=8,5", "rawlog", "qresync"],
    );
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    let logs = rawlogs(work.path());
    assert!(logs.len() >= 3, "{s}");
    assert!(
        logs.iter().all(|l| l.contains("C: 2 ENABLE QRESYNC")),
        "{logs:?}"
    );
    let resyncs = logs
        .iter()
        .filter(|l| l.contains("SELECT \"INBOX\" (QRESYNC ("))
        .count();
    assert!(resyncs >= 2, "later sessions resync: {logs:?}");
    assert!(
        logs.iter().any(|l| l.contains("S: * VANISHED ")),
        "expunges come as VANISHED: {logs:?}"
    );
    assert!(total(&s, "Expu") > 0, "{s}");
    // without qresync nothing of it is sent
    let work = tempfile::tempdir().unwrap();
    let o = run(
        work.path(),
        profile,
        d.port,
        d.lmtp_port,
        &["secs=2,5", "rawlog"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    assert!(rawlogs(work.path())
        .iter()
        .all(|l| !l.contains("QRESYNC (")));
}

/// A tiny IMAP server with QRESYNC whose resync forgets an expunge: its first SELECT shows
/// UIDs 1-3 at HIGHESTMODSEQ 10; a SELECT with QRESYNC then says 2 messages but reports no
/// VANISHED (EARLIER) and no changes. (The client polls with NOOP: no IDLE.)
fn forgetful_server() -> u16 {
    common::tiny_server(
        "* OK [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC UIDPLUS] forgetful\r\n",
        |line| {
            let mut words = line.split_whitespace();
            let tag = words.next().unwrap_or("*").to_string();
            let cmd = words.next().unwrap_or("").to_ascii_uppercase();
            let out = match cmd.as_str() {
                "ENABLE" => "* ENABLED QRESYNC\r\n".to_string(),
                "LIST" => "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Drafts\r\n* LIST () \"/\" Sent\r\n* LIST () \"/\" Spam\r\n".to_string(),
                "STATUS" => {
                    let mb = words.next().unwrap_or("x");
                    format!("* STATUS {mb} (MESSAGES 0 UNSEEN 0 RECENT 0)\r\n")
                }
                "SELECT" if line.contains("QRESYNC") => "* FLAGS (\\Seen \\Deleted)\r\n* 2 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n* OK [HIGHESTMODSEQ 12] x\r\n".to_string(),
                "SELECT" => "* FLAGS (\\Seen \\Deleted)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\n* OK [HIGHESTMODSEQ 10] x\r\n".to_string(),
                "UID" => "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10)\r\n* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 10)\r\n* 3 FETCH (UID 3 FLAGS (\\Seen) RFC822.SIZE 10)\r\n".to_string(),
                "LOGOUT" => "* BYE bye\r\n".to_string(),
                _ => String::new(),
            };
            Some(out + &format!("{tag} OK done\r\n"))
        },
    )
}

#[test]
fn a_resync_that_loses_an_expunge_is_named() {
    let port = forgetful_server();
    let work = tempfile::tempdir().unwrap();
    let profile = "lmtp_port = 24\ntotal_user_count = 1\nuser u {\n  username_format = fuser%n\n  count = 100%\n  mail_session_length = 1s\n}\nclient c {\n  count = 100%\n}\n";
    // LMTP is never used (no deliveries): any port will do
    let o = run(work.path(), profile, port, 9, &["secs=4,3", "qresync"]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains("Error: fuser1[1]: QRESYNC lost changes: the server has 2 messages, but the 3 UIDs known at MODSEQ 10 less those reported VANISHED (EARLIER) (3 left) and with the 0 reported changed make 3"),
        "{s}"
    );
}
