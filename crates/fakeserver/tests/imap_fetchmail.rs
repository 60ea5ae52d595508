//! fakeserver's IMAP against fetchmail over STARTTLS with `sslcertck`: a poll that fetches
//! and deletes every message (checked in the delivered mbox and on the server), a `keep`
//! poll that fetches only unseen mail and leaves it marked `\Seen`, and a wrong-host
//! certificate that fetchmail refuses before it logs in.

mod common;

use common::imap::{have, run, start, text, Fake, Opts};
use fakeserver::auth::Users;
use fakeserver::tls::Preset;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn msg(id: &str) -> Vec<u8> {
    format!("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: {id}\r\nMessage-ID: <{id}@fetch.test>\r\n\r\nthe body of {id}\r\n").into_bytes()
}

/// One fetchmail poll of alice's INBOX on `f` with STARTTLS and certificate checks; the
/// messages go to `dir/delivered` (an mbox written by the mda).
fn poll(dir: &Path, f: &Fake, host: &str, keep: &str) -> Output {
    let rc = format!(
        "set no bouncemail\npoll {host} protocol imap port {port} auth password timeout 20\n  user \"alice\" there with password \"s3cret\" is \"root\" here\n  {keep} sslproto 'tls1.2+' sslcertck sslcertfile \"{ca}\"\n  mda \"cat >> {out}\"\n",
        port = f.port(),
        ca = f.ca_path(),
        out = dir.join("delivered").display(),
    );
    let rcfile = dir.join("fetchmailrc");
    std::fs::write(&rcfile, rc).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rcfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    run(
        Command::new("fetchmail")
            .env("HOME", dir)
            .args(["--nosyslog", "-v", "-f"])
            .arg(&rcfile)
            .arg("-i")
            .arg(dir.join("fetchids"))
            .arg("--pidfile")
            .arg(dir.join("fetchmail.pid")),
        Duration::from_secs(60),
    )
}

fn delivered(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("delivered")).unwrap_or_default()
}

fn alice() -> Option<Users> {
    Some(Users::strict([("alice", "s3cret")]))
}

#[test]
fn fetchmail_fetches_and_deletes_over_starttls() {
    if !have("fetchmail") {
        return;
    }
    let f = start(Opts {
        users: alice(),
        ..Opts::default()
    });
    for id in ["one", "two", "three"] {
        f.svc
            .daemon()
            .deliver("alice", "INBOX", msg(id), &[], (1_700_000_000, 0));
    }
    let dir = tempfile::tempdir().unwrap();
    let o = poll(dir.path(), &f, "localhost", "fetchall");
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}\n{}", f.text());
    assert!(s.contains("3 messages for alice"), "{s}");
    let got = delivered(dir.path());
    for id in ["one", "two", "three"] {
        assert!(
            got.contains(&format!("Subject: {id}\n")) && got.contains(&format!("the body of {id}")),
            "{id} not delivered: {got}"
        );
    }
    assert_eq!(
        got.matches("Subject: ").count(),
        3,
        "each exactly once: {got}"
    );
    // Not kept: flagged \Deleted and expunged on the server.
    assert_eq!(f.mailbox("alice", "INBOX").unwrap().len(), 0);
    let t = f.text();
    assert!(t.contains("STARTTLS") && t.contains("Begin TLS"), "{t}");
    assert!(
        t.contains("+FLAGS (\\Seen \\Deleted)") && t.contains("EXPUNGE"),
        "{t}"
    );
    assert!(!t.contains("s3cret"), "{t}");
}

#[test]
fn fetchmail_keep_fetches_only_unseen_and_marks_seen() {
    if !have("fetchmail") {
        return;
    }
    let f = start(Opts {
        users: alice(),
        ..Opts::default()
    });
    let d = f.svc.daemon();
    d.deliver(
        "alice",
        "INBOX",
        msg("old"),
        &["\\Seen"],
        (1_700_000_000, 0),
    );
    d.deliver("alice", "INBOX", msg("new"), &[], (1_700_000_000, 0));
    let dir = tempfile::tempdir().unwrap();
    let o = poll(dir.path(), &f, "localhost", "keep");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let got = delivered(dir.path());
    assert!(
        got.contains("Subject: new") && !got.contains("Subject: old"),
        "{got}"
    );
    let inbox = f.mailbox("alice", "INBOX").unwrap();
    assert_eq!(inbox.len(), 2);
    assert!(
        inbox.iter().all(|m| m.1.iter().any(|x| x == "\\Seen")),
        "{inbox:?}"
    );
    // Nothing new: fetchmail's "no mail" exit (1), nothing delivered again.
    let o = poll(dir.path(), &f, "localhost", "keep");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(delivered(dir.path()).matches("Subject: ").count(), 1);
    // Mail arriving later is fetched by the next poll.
    d.deliver("alice", "INBOX", msg("later"), &[], (1_700_000_000, 0));
    let o = poll(dir.path(), &f, "localhost", "keep");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(delivered(dir.path()).contains("Subject: later"));
}

#[test]
fn fetchmail_refuses_a_wrong_host_certificate() {
    if !have("fetchmail") {
        return;
    }
    let f = start(Opts {
        users: alice(),
        tls: Some(Preset::WrongHost),
        ..Opts::default()
    });
    f.svc
        .daemon()
        .deliver("alice", "INBOX", msg("secret"), &[], (1_700_000_000, 0));
    let dir = tempfile::tempdir().unwrap();
    let o = poll(dir.path(), &f, "localhost", "fetchall");
    let s = text(&o);
    assert!(
        !matches!(o.status.code(), Some(0) | Some(1)),
        "fetchmail should fail: {s}"
    );
    assert!(s.to_lowercase().contains("certificate"), "{s}");
    assert_eq!(delivered(dir.path()), "");
    assert_eq!(f.mailbox("alice", "INBOX").unwrap().len(), 1);
    assert!(
        !f.text().contains("LOGIN alice"),
        "no login over a bad certificate: {}",
        f.text()
    );
}
