//! fakeserver's IMAP against mbsync (isync): a full two-way sync of a mailbox tree with a
//! local Maildir tree over STARTTLS with certificate checks, then a second sync
//! after changes on both sides (new mail, flags, deletions), each side checked afterwards, and
//! a third sync that must change nothing; against the default (where mbsync turns on
//! COMPRESS=DEFLATE), Dovecot-like and Gmail-like personalities. mbsync is Debian's `isync` (tools/ensure-deps).

mod common;

use common::imap::{have, run, start, text, Fake, Opts};
use fakeserver::auth::Users;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn msg(id: &str) -> Vec<u8> {
    format!("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: {id}\r\nMessage-ID: <{id}@sync.test>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nthe body of {id}\r\n").into_bytes()
}

/// The local messages of one Maildir folder: (Subject, maildir flags) sorted by subject.
fn local(dir: &Path) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let flags = name.rsplit_once(":2,").map_or("", |(_, f)| f).to_string();
            let data = std::fs::read_to_string(e.path()).unwrap();
            let subject = data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("?")
                .trim()
                .to_string();
            v.push((subject, flags));
        }
    }
    v.sort();
    v
}

/// The remote messages of a mailbox: (Subject, flags without \Recent) sorted by subject.
fn remote(f: &Fake, mailbox: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = f
        .mailbox("alice", mailbox)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, flags, data)| {
            let s = String::from_utf8_lossy(&data).into_owned();
            let subject = s
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("?")
                .trim()
                .to_string();
            let flags: Vec<String> = flags.into_iter().filter(|f| f != "\\Recent").collect();
            (subject, flags.join(" "))
        })
        .collect();
    v.sort();
    v
}

fn pair(s: &str, f: &str) -> (String, String) {
    (s.to_string(), f.to_string())
}

/// A new message in a Maildir folder, written as a mail client would.
fn put_local(dir: &Path, name: &str, id: &str) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("new").join(name), msg(id)).unwrap();
}

fn find_local(dir: &Path, subject: &str) -> PathBuf {
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            if std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .any(|l| l.trim_end() == format!("Subject: {subject}"))
            {
                return e.path();
            }
        }
    }
    panic!("no local message {subject} in {}", dir.display());
}

fn mbsync(cfg: &Path) -> String {
    let o = run(
        Command::new("mbsync").arg("-c").arg(cfg).args(["-V", "-a"]),
        Duration::from_secs(60),
    );
    let s = text(&o);
    assert!(o.status.success(), "mbsync failed: {s}");
    s
}

#[test]
fn mbsync_two_way_sync_of_a_tree_then_changes_on_both_sides() {
    two_way(None);
}

#[test]
fn mbsync_against_the_dovecot_personality() {
    two_way(Some("dovecot-imap.toml"));
}

#[test]
fn mbsync_against_the_gmail_personality() {
    two_way(Some("gmail-imap.toml"));
}

fn two_way(personality: Option<&'static str>) {
    if !have("mbsync") {
        return;
    }
    let f = start(Opts {
        users: Some(Users::strict([("alice", "s3cret")])),
        personality,
        ..Opts::default()
    });
    let d = f.svc.daemon();
    let t = (760_000_000, -480);
    d.deliver("alice", "INBOX", msg("in-1"), &["\\Seen"], t);
    d.deliver("alice", "INBOX", msg("in-2"), &[], t);
    d.deliver("alice", "INBOX", msg("in-3"), &["\\Flagged"], t);
    d.deliver("alice", "Work", msg("work-1"), &["\\Answered", "\\Seen"], t);
    d.deliver("alice", "Work/Reports", msg("rep-1"), &[], t);
    d.deliver("alice", "Archive/2023", msg("arch-1"), &["\\Seen"], t);

    let work = tempfile::tempdir().unwrap();
    let maildir = work.path().join("mail");
    // A folder that exists only on the local side, with one message: synced up.
    put_local(&maildir.join("Drafts"), "1.local", "draft-1");
    let cfg = work.path().join("mbsyncrc");
    std::fs::write(
        &cfg,
        format!(
            "IMAPAccount fake
Host localhost
Port {port}
User alice
Pass s3cret
SSLType STARTTLS
CertificateFile {ca}
SystemCertificates no
AuthMechs LOGIN
PipelineDepth 20

IMAPStore fake-far
Account fake

MaildirStore near
Path {m}/
Inbox {m}/INBOX
SubFolders Verbatim

Channel both
Far :fake-far:
Near :near:
Patterns *
Create Both
Remove Both
Expunge Both
Sync All
CopyArrivalDate yes
SyncState *
",
            port = f.port(),
            ca = f.ca_path(),
            m = maildir.display()
        ),
    )
    .unwrap();

    // First sync: the whole tree comes down, Drafts goes up.
    let out = mbsync(&cfg);
    assert_eq!(
        local(&maildir.join("INBOX")),
        vec![pair("in-1", "S"), pair("in-2", ""), pair("in-3", "F")],
        "{out}"
    );
    assert_eq!(local(&maildir.join("Work")), vec![pair("work-1", "RS")]);
    assert_eq!(
        local(&maildir.join("Work/Reports")),
        vec![pair("rep-1", "")]
    );
    assert_eq!(
        local(&maildir.join("Archive/2023")),
        vec![pair("arch-1", "S")]
    );
    assert_eq!(remote(&f, "Drafts"), vec![pair("draft-1", "")], "{out}");
    let up = f.mailbox("alice", "Drafts").unwrap();
    // Uploaded byte for byte, but for the X-TUID header mbsync adds to find it again.
    let uploaded: Vec<u8> = String::from_utf8_lossy(&up[0].2)
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("X-TUID: "))
        .collect::<String>()
        .into_bytes();
    assert_eq!(uploaded, msg("draft-1"));

    // Changes on both sides.
    let inbox = f.mailbox("alice", "INBOX").unwrap();
    let uid = |s: &str| {
        inbox
            .iter()
            .find(|m| String::from_utf8_lossy(&m.2).contains(&format!("Subject: {s}\r")))
            .unwrap()
            .0
    };
    d.deliver("alice", "INBOX", msg("in-4"), &[], t); // new on the server
    f.set_flags("alice", "INBOX", uid("in-2"), &["\\Flagged", "\\Seen"]); // flagged on the server
    f.expunge("alice", "INBOX", uid("in-1")); // deleted on the server
    put_local(&maildir.join("Work"), "2.local", "work-2"); // new locally
    let rep = find_local(&maildir.join("Work/Reports"), "rep-1"); // read and replied locally
    let name = rep.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap();
    std::fs::rename(
        &rep,
        maildir
            .join("Work/Reports/cur")
            .join(format!("{base}:2,RS")),
    )
    .unwrap();
    std::fs::remove_file(find_local(&maildir.join("INBOX"), "in-3")).unwrap(); // deleted locally
    std::fs::remove_file(find_local(&maildir.join("Archive/2023"), "arch-1")).unwrap();

    let out = mbsync(&cfg);
    let want_inbox = vec![pair("in-2", "FS"), pair("in-4", "")];
    assert_eq!(local(&maildir.join("INBOX")), want_inbox, "{out}");
    assert_eq!(
        remote(&f, "INBOX"),
        vec![pair("in-2", "\\Flagged \\Seen"), pair("in-4", "")],
        "{out}"
    );
    assert_eq!(
        remote(&f, "Work"),
        vec![pair("work-1", "\\Answered \\Seen"), pair("work-2", "")],
        "{out}"
    );
    assert_eq!(
        local(&maildir.join("Work")),
        vec![pair("work-1", "RS"), pair("work-2", "")]
    );
    assert_eq!(
        remote(&f, "Work/Reports"),
        vec![pair("rep-1", "\\Answered \\Seen")],
        "{out}"
    );
    assert_eq!(remote(&f, "Archive/2023"), vec![], "{out}");
    assert_eq!(local(&maildir.join("Archive/2023")), vec![]);

    // A third sync finds nothing to do and changes nothing.
    let before = f.svc.daemon().state();
    let out = mbsync(&cfg);
    assert_eq!(local(&maildir.join("INBOX")), want_inbox, "{out}");
    let after = f.svc.daemon().state();
    assert_eq!(
        before["alice"]["INBOX"]["messages"], after["alice"]["INBOX"]["messages"],
        "{out}"
    );

    let tr = f.text();
    assert!(tr.contains("STARTTLS"), "{tr}");
    assert!(
        tr.contains("OK [APPENDUID "),
        "mbsync uses UIDPLUS's APPENDUID: {tr}"
    );
    assert!(!tr.contains(" BAD "), "no command was refused as bad: {tr}");
    // isync 1.4 turns on COMPRESS=DEFLATE when it is offered (by default, over STARTTLS);
    // the Dovecot-like and Gmail-like lists do not offer it. The transcript holds the
    // inflated commands either way.
    let compressed = tr.matches("compression started: DEFLATE").count();
    if personality.is_none() {
        assert!(tr.contains(" OK DEFLATE active"), "{tr}");
        assert_eq!(compressed, 3, "each of the three syncs compressed: {tr}");
        assert!(tr.contains(" UID FETCH "), "{tr}");
    } else {
        assert_eq!(compressed, 0, "{tr}");
        assert!(!tr.contains("COMPRESS"), "{tr}");
    }
}
