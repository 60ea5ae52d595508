//! fakeserver's IMAP against Python's imaplib (tests/clients/imap_imaplib.py): every command
//! imaplib 3.11 has that the server offers, over STARTTLS and IMAP4_SSL, with each login
//! method (LOGIN, CRAM-MD5, AUTHENTICATE PLAIN and XOAUTH2); the server's state checked
//! afterwards. Then the shipped personalities as imaplib meets them: Gmail-like
//! LOGINDISABLED before TLS, the flaky one's failing COPY, Dovecot-like capabilities.

mod common;

use common::imap::{have, manifest, run, start, text, Fake, Opts};
use fakeserver::auth::Users;
use std::process::{Command, Output};
use std::time::Duration;

const ALPHA: &str = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: alpha\r\nX-Tag: keep\r\nMessage-ID: <alpha@imaplib.test>\r\nDate: Mon, 7 Feb 2022 21:52:25 -0800\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n";
const BETA: &str = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: beta\r\nMessage-ID: <beta@imaplib.test>\r\nIn-Reply-To: <alpha@imaplib.test>\r\nReferences: <alpha@imaplib.test>\r\nDate: Tue, 8 Feb 2022 10:00:00 +0000\r\n\r\nan answer\r\n";

fn gamma() -> String {
    format!(
        "From: Dave <dave@example.test>\r\nTo: alice@example.test\r\nSubject: gamma\r\nMessage-ID: <gamma@imaplib.test>\r\nDate: Wed, 9 Feb 2022 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        "QUJD".repeat(400)
    )
}

fn with_mail(f: &Fake) {
    let d = f.svc.daemon();
    let t = (1_650_000_000, 0);
    d.deliver("alice", "INBOX", ALPHA.as_bytes().to_vec(), &[], t);
    d.deliver("alice", "INBOX", BETA.as_bytes().to_vec(), &[], t);
    d.deliver("alice", "INBOX", gamma().into_bytes(), &[], t);
}

fn imaplib(f: &Fake, mode: &str, login: &str) -> Output {
    let script = manifest().join("tests/clients/imap_imaplib.py");
    run(
        Command::new("python3")
            .args(["-W", "ignore"])
            .arg(script)
            .args([&f.port(), &f.ca_path(), mode, login]),
        Duration::from_secs(60),
    )
}

const STEPS: &[&str] = &[
    "capability",
    "noop namespace id",
    "create list lsub subscribe rename delete",
    "status",
    "append",
    "examine",
    "select recent check",
    "search",
    "fetch partial",
    "store",
    "copy",
    "uid search fetch store copy move expunge",
    "sort thread",
    "expunge close",
    "enable unselect",
    "logout",
];

fn every_command(implicit: bool, mode: &str, login: &str) {
    if !have("python3") {
        return;
    }
    let f = start(Opts {
        implicit,
        users: Some(Users::strict([("alice", "s3cret")])),
        ..Opts::default()
    });
    with_mail(&f);
    let o = imaplib(&f, mode, login);
    let s = text(&o);
    assert!(o.status.success(), "{s}\n--- transcript\n{}", f.text());
    for st in STEPS.iter().chain([&format!("login {login}").as_str()]) {
        assert!(s.contains(&format!("ok {st}\n")), "step {st} missing: {s}");
    }
    // What imaplib left behind, seen from the daemon.
    let mut names = f.mailbox_names("alice");
    names.sort();
    assert_eq!(names, ["INBOX", "Trash", "Work"]);
    let inbox = f.mailbox("alice", "INBOX").unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].2, ALPHA.as_bytes());
    assert!(
        inbox[0].1.contains(&"\\Seen".to_string()),
        "{:?}",
        inbox[0].1
    );
    let work = f.mailbox("alice", "Work").unwrap();
    assert_eq!(work.len(), 2, "the appended one and the moved beta");
    assert!(work[0].1.contains(&"$Label".to_string()), "{:?}", work[0].1);
    assert_eq!(work[1].2, BETA.as_bytes());
    assert_eq!(f.mailbox("alice", "Trash").unwrap().len(), 1);
    let t = f.text();
    if login == "login" {
        assert!(
            t.contains("LOGIN alice ****") && !t.contains("s3cret"),
            "{t}"
        );
    }
}

#[test]
fn imaplib_every_command_over_starttls_with_login() {
    every_command(false, "starttls", "login");
}

#[test]
fn imaplib_every_command_over_starttls_with_cram_md5() {
    every_command(false, "starttls", "cram-md5");
}

#[test]
fn imaplib_every_command_over_imaps_with_authenticate_plain() {
    every_command(true, "ssl", "plain");
}

#[test]
fn imaplib_every_command_over_imaps_with_xoauth2() {
    every_command(true, "ssl", "xoauth2");
}

fn python(code: &str, args: &[&str]) -> Output {
    run(
        Command::new("python3")
            .args(["-W", "ignore", "-c", code])
            .args(args),
        Duration::from_secs(30),
    )
}

#[test]
fn imaplib_meets_the_personalities() {
    if !have("python3") {
        return;
    }
    // Gmail-like: no LOGIN before TLS, XOAUTH2 offered, its greeting.
    let f = start(Opts {
        personality: Some("gmail-imap.toml"),
        ..Opts::default()
    });
    let code = r#"
import imaplib, ssl, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
assert M.welcome.startswith(b"* OK Gimap ready for requests from 127.0.0.1"), M.welcome
assert "LOGINDISABLED" in M.capabilities, M.capabilities
try:
    M.login("u", "p")
    raise SystemExit("LOGIN accepted before TLS")
except imaplib.IMAP4.error as e:
    print("refused:", e)
M.starttls(ssl_context=ssl.create_default_context(cafile=sys.argv[2]))
assert "LOGINDISABLED" not in M.capabilities and "AUTH=XOAUTH2" in M.capabilities, M.capabilities
assert M.authenticate("XOAUTH2", lambda _: b"user=u\x01auth=Bearer t\x01\x01")[0] == "OK"
print("gmail ok")
"#;
    let o = python(code, &[&f.port(), &f.ca_path()]);
    assert!(text(&o).contains("gmail ok"), "{}\n{}", text(&o), f.text());
    assert!(!f.text().contains("a OK LOGIN"), "{}", f.text());

    // Flaky: COPY always fails; the client sees NO and the target stays empty.
    let f = start(Opts {
        personality: Some("flaky-imap.toml"),
        ..Opts::default()
    });
    f.deliver("u", "INBOX", b"Subject: x\r\n\r\nx\r\n");
    let code = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("u", "p")
M.create("Saved")
M.select("INBOX")
typ, data = M.copy("1", "Saved")
assert typ == "NO", (typ, data)
assert M.fetch("1", "(FLAGS)")[0] == "OK"
print("flaky ok")
"#;
    let o = python(code, &[&f.port()]);
    assert!(text(&o).contains("flaky ok"), "{}\n{}", text(&o), f.text());
    assert_eq!(f.mailbox("u", "Saved").unwrap().len(), 0);

    // Dovecot-like: its greeting and capability list, as imaplib parses them.
    let f = start(Opts {
        personality: Some("dovecot-imap.toml"),
        ..Opts::default()
    });
    let code = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
assert b"Dovecot (Debian) ready." in M.welcome, M.welcome
for c in ("SORT", "THREAD=ORDEREDSUBJECT", "UIDPLUS", "MOVE", "CONDSTORE"):
    assert c in M.capabilities, (c, M.capabilities)
assert "THREAD=REFERENCES" not in M.capabilities, M.capabilities
M.login("u", "p")
M.select("INBOX")
typ, data = M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
assert typ == "OK", (typ, data)
print("dovecot ok")
"#;
    let o = python(code, &[&f.port()]);
    assert!(
        text(&o).contains("dovecot ok"),
        "{}\n{}",
        text(&o),
        f.text()
    );
}

#[test]
fn imaplib_mailbox_names_in_modified_utf7_and_with_utf8_accept() {
    if !have("python3") {
        return;
    }
    let f = start(Opts::default());
    let code = r#"
import imaplib, sys
port = int(sys.argv[1])
A = imaplib.IMAP4("127.0.0.1", port)
A.login("u", "p")
typ, data = A.create('"Gr\u00fc\u00dfe"'.encode("utf-8"))
assert typ == "NO" and b"not valid mUTF-7" in data[0], (typ, data)
assert A.create('"Entw&APw-rfe"')[0] == "OK"
typ, data = A.list('""', '"Entw*"')
assert data == [b'(\\HasNoChildren) "/" "Entw&APw-rfe"'], data
B = imaplib.IMAP4("127.0.0.1", port)
B.login("u", "p")
assert B.enable("UTF8=ACCEPT")[0] == "OK"
typ, data = B.list('""', '"Entw*"')
assert data == ['(\\HasNoChildren) "/" "Entw\u00fcrfe"'.encode("utf-8")], data
typ, data = B.select('"Entw\u00fcrfe"')
assert typ == "OK" and data == [b"0"], (typ, data)
assert B.append('"Entw\u00fcrfe"', None, None, b"Subject: s\r\n\r\nbody\r\n")[0] == "OK"
typ, data = A.status('"Entw&APw-rfe"', "(MESSAGES)")
assert data == [b'"Entw&APw-rfe" (MESSAGES 1)'], data
print("names ok")
"#;
    let o = python(code, &[&f.port()]);
    assert!(text(&o).contains("names ok"), "{}\n{}", text(&o), f.text());
    let mut names = f.mailbox_names("u");
    names.sort();
    assert_eq!(names, ["Entw\u{fc}rfe", "INBOX"]);

    // Dovecot 2.3 does not offer UTF8=ACCEPT: ENABLE ignores it and names stay modified UTF-7.
    let f = start(Opts {
        personality: Some("dovecot-imap.toml"),
        ..Opts::default()
    });
    let code = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("u", "p")
typ, data = M._simple_command("ENABLE", "UTF8=ACCEPT")
assert typ == "OK" and M.untagged_responses.get("ENABLED") in (None, [b""], [None]), M.untagged_responses
print("dovecot names ok")
"#;
    let o = python(code, &[&f.port()]);
    assert!(
        text(&o).contains("dovecot names ok"),
        "{}\n{}",
        text(&o),
        f.text()
    );
}
