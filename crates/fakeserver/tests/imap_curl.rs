//! fakeserver's IMAP against curl: LIST, a message fetched by UID (UIDs that differ from the
//! sequence numbers), APPEND by upload, a refused login; over STARTTLS (`--ssl-reqd`) and
//! IMAPS with `--cacert`; each broken TLS preset (expired, not yet valid, self-signed, wrong
//! host) refused by curl's certificate check.

mod common;

use common::imap::{have, run, start, text, Fake, Opts};
use fakeserver::auth::Users;
use fakeserver::tls::Preset;
use std::process::{Command, Output};
use std::time::Duration;

fn curl(args: &[&str]) -> Output {
    run(
        Command::new("curl")
            .args(["-s", "-S", "--max-time", "20"])
            .args(args),
        Duration::from_secs(30),
    )
}

fn msg(n: u32) -> Vec<u8> {
    format!("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: number {n}\r\n\r\nbody of message {n}\r\n").into_bytes()
}

/// alice with three messages, the first expunged: UID 2 is message 1, UID 3 is message 2.
fn with_mail(f: &Fake) {
    for n in 1..=3 {
        f.svc
            .daemon()
            .deliver("alice", "INBOX", msg(n), &[], (1_700_000_000, 0));
    }
    for (mailbox, n) in [("Work", 8), ("Work/Reports", 9)] {
        f.svc
            .daemon()
            .deliver("alice", mailbox, msg(n), &[], (1_700_000_000, 0));
    }
    f.expunge("alice", "INBOX", 1);
}

fn strict() -> Users {
    Users::strict([("alice", "s3cret")])
}

#[test]
fn curl_lists_fetches_by_uid_and_appends_over_starttls() {
    if !have("curl") {
        return;
    }
    let f = start(Opts {
        users: Some(strict()),
        ..Opts::default()
    });
    with_mail(&f);
    let base = format!("imap://127.0.0.1:{}", f.port());
    let ca = f.ca_path();
    let tls = ["--ssl-reqd", "--cacert", &ca, "-u", "alice:s3cret"];

    let o = curl(&[&tls[..], &[&format!("{base}/")]].concat());
    let s = text(&o);
    assert!(o.status.success(), "{s}");
    assert!(
        s.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\""),
        "{s}"
    );
    assert!(
        s.contains("(\\HasChildren) \"/\" \"Work\"") && s.contains("\"Work/Reports\""),
        "{s}"
    );

    // UID 3 is the second message now; curl must fetch by UID, not by position.
    let o = curl(&[&tls[..], &[&format!("{base}/INBOX/;UID=3")]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(o.stdout, msg(3), "{}", text(&o));
    // A part of it: the text section.
    let o = curl(&[&tls[..], &[&format!("{base}/INBOX/;UID=2/;SECTION=TEXT")]].concat());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "body of message 2\r\n",
        "{}",
        text(&o)
    );
    // A UID that does not exist is an error, not an empty success.
    let o = curl(&[&tls[..], &[&format!("{base}/INBOX/;UID=1")]].concat());
    assert!(!o.status.success() || o.stdout.is_empty(), "{}", text(&o));

    // SEARCH through curl's custom request on the mailbox URL.
    let o = curl(
        &[
            &tls[..],
            &["-X", "UID SEARCH ALL", &format!("{base}/INBOX")],
        ]
        .concat(),
    );
    assert!(text(&o).contains("* SEARCH 2 3"), "{}", text(&o));

    // APPEND by upload.
    let up = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(up.path(), msg(7)).unwrap();
    let o = curl(
        &[
            &tls[..],
            &[
                "-T",
                up.path().to_str().unwrap(),
                &format!("{base}/Work/Reports"),
            ],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let reports = f.mailbox("alice", "Work/Reports").unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(reports[1].2, msg(7));

    // A wrong password: curl's login-denied error (67), and no mail shown.
    let o = curl(&[
        "--ssl-reqd",
        "--cacert",
        &ca,
        "-u",
        "alice:wrong",
        &format!("{base}/INBOX/;UID=2"),
    ]);
    assert_eq!(o.status.code(), Some(67), "{}", text(&o));
    assert!(o.stdout.is_empty());

    let t = f.text();
    assert!(
        t.contains("STARTTLS") && t.contains("UID FETCH 3 BODY[]"),
        "{t}"
    );
    assert!(!t.contains("s3cret"), "passwords are masked: {t}");
}

#[test]
fn curl_over_imaps_with_the_ca() {
    if !have("curl") {
        return;
    }
    let f = start(Opts {
        users: Some(strict()),
        implicit: true,
        ..Opts::default()
    });
    with_mail(&f);
    let base = format!("imaps://127.0.0.1:{}", f.port());
    let ca = f.ca_path();
    let o = curl(&[
        "--cacert",
        &ca,
        "-u",
        "alice:s3cret",
        &format!("{base}/INBOX/;UID=2"),
    ]);
    assert_eq!(o.stdout, msg(2), "{}", text(&o));
    let o = curl(&[
        "--cacert",
        &ca,
        "-u",
        "alice:s3cret",
        "-X",
        "EXAMINE INBOX",
        &format!("{base}/"),
    ]);
    let s = text(&o);
    assert!(s.contains("* 2 EXISTS") && s.contains("UIDNEXT 4"), "{s}");
    // Without the CA curl refuses the certificate (error 60).
    let o = curl(&["-u", "alice:s3cret", &format!("{base}/")]);
    assert_eq!(o.status.code(), Some(60), "{}", text(&o));
}

#[test]
fn curl_refuses_each_broken_certificate() {
    if !have("curl") {
        return;
    }
    for (preset, what) in [
        (Preset::Expired, "expired"),
        (Preset::NotYetValid, "not yet valid"),
        (Preset::SelfSigned, "self-signed"),
        (Preset::WrongHost, "wrong host"),
    ] {
        for implicit in [false, true] {
            let f = start(Opts {
                tls: Some(preset),
                implicit,
                ..Opts::default()
            });
            let url = if implicit {
                format!("imaps://127.0.0.1:{}/", f.port())
            } else {
                format!("imap://127.0.0.1:{}/", f.port())
            };
            // The CA of this very server is trusted: only the certificate's defect remains (a
            // self-signed certificate is its own CA: the system's CAs are the trusted ones).
            let ca = f.ca_path();
            let trust: &[&str] = if preset == Preset::SelfSigned {
                &[]
            } else {
                &["--cacert", &ca]
            };
            let o = curl(&[&["--ssl-reqd"][..], trust, &["-u", "u:p", &url]].concat());
            let s = text(&o);
            assert!(
                matches!(o.status.code(), Some(60) | Some(35) | Some(51)),
                "{what} (implicit {implicit}): curl should refuse: {:?} {s}",
                o.status
            );
            assert!(!s.contains("* LIST"), "{what}: {s}");
            // The same server is fine when the check is off: the refusal was the certificate.
            let o = curl(&["--ssl-reqd", "-k", "-u", "u:p", &url]);
            assert!(
                o.status.success() && text(&o).contains("INBOX"),
                "{what} with -k: {}",
                text(&o)
            );
        }
    }
}
