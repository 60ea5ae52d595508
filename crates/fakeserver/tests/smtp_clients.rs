//! SMTP and LMTP against real clients: swaks, Python's smtplib, curl (SMTP, STARTTLS,
//! SMTPS) and Exim (SMTP and LMTP transports), each also with a fault it must survive or
//! report.

mod common;
use common::smtp::*;
use fakeserver::tls::Preset;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn swaks(f: &Fake, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new("swaks");
    c.args([
        "--server",
        &format!("127.0.0.1:{}", f.port()),
        "--from",
        "alice@client.test",
        "--to",
        "bob@fake.test",
        "--helo",
        "client.test",
    ]);
    c.args(extra);
    run(&mut c, b"", T)
}

#[test]
fn swaks_plain_pipelining_and_chunking_free_transaction() {
    let f = start(Opts::default());
    let o = swaks(&f, &["--pipeline", "--header", "Subject: piped"]);
    assert!(o.status.success(), "{}", text(&o));
    f.settle(1);
    let m = f.svc.daemon().messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].mail_from, "alice@client.test");
    assert_eq!(m[0].rcpt_to, ["bob@fake.test"]);
    assert_eq!(m[0].header("Subject").as_deref(), Some("piped"));
    let t = f.text();
    assert!(t.contains("them: MAIL FROM:<alice@client.test>\nus: 250 2.1.0 Sender OK\nthem: RCPT TO:<bob@fake.test>\nus: 250 2.1.5"), "{t}");
    assert!(
        t.contains("data: Subject: piped\n")
            && t.ends_with("them: QUIT\nus: 221 2.0.0 localhost closing connection\n== closed\n"),
        "{t}"
    );
}

#[test]
fn swaks_starttls_and_every_auth_mechanism() {
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let users = fakeserver::auth::Users::strict([("alice", "s3cret")]);
        let f = start(Opts {
            tls: Some(Preset::Valid),
            users: Some(users),
            ..Opts::default()
        });
        let ca = f.ca_path();
        // STARTTLS (checking the certificate when `verify`), then AUTH as alice.
        let login = |verify: bool, password: &str| {
            let mut args = vec!["-tls"];
            if verify {
                args.push("--tls-verify");
            }
            args.extend(["--tls-ca-path", &ca, "--auth", mech]);
            args.extend(["--auth-user", "alice", "--auth-password", password]);
            swaks(&f, &args)
        };
        let o = login(true, "s3cret");
        assert!(o.status.success(), "{mech}: {}", text(&o));
        f.settle(1);
        let m = &f.svc.daemon().messages()[0];
        assert!(m.tls);
        assert_eq!(m.auth.as_deref(), Some("alice"));
        let t = f.text();
        assert!(t.contains("tls: started"), "{t}");
        assert!(
            !t.contains("s3cret") && !t.contains(&base64_of("\0alice\0s3cret")),
            "secret leaked: {t}"
        );
        // Wrong password: 535 reported by swaks (exit 28: AUTH failure).
        let o = login(false, "nope");
        assert_eq!(o.status.code(), Some(28), "{mech}: {}", text(&o));
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn swaks_reports_a_scheduled_rcpt_failure() {
    let f = start(Opts {
        faults: "[[fault]]\nverb = \"RCPT\"\nnth = 1\nreply = \"550 5.1.1 no such user\"\n",
        ..Opts::default()
    });
    let o = swaks(&f, &[]);
    assert_eq!(o.status.code(), Some(24), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("550 5.1.1 no such user"));
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 0);
    assert!(
        f.text()
            .contains("fault: reply replaced\nus: 550 5.1.1 no such user"),
        "{}",
        f.text()
    );
}

const PY_SEND: &str = r#"
import smtplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca) if ca != "-" else None
try:
    if mode == "smtps":
        s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=20)
    else:
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.ehlo("py.test")
    if mode == "starttls":
        s.starttls(context=ctx)
        s.ehlo("py.test")
    if mode in ("starttls", "smtps"):
        s.login("carol", "pw")
    s.verify("someone")
    s.noop()
    s.help()
    r = s.sendmail("carol@py.test", ["d1@fake.test", "d2@fake.test"],
                   "Subject: from python\r\n\r\nline one\r\n.line with a dot\r\n",
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"], rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
    s.rset()
    s.quit()
    print("sent", r)
except (smtplib.SMTPException, OSError) as e:
    print("error", type(e).__name__, e)
    sys.exit(3)
"#;

fn python(f: &Fake, mode: &str, ca: &str) -> std::process::Output {
    run(
        Command::new("python3").args(["-c", PY_SEND, &f.port(), mode, ca]),
        b"",
        T,
    )
}

#[test]
fn python_smtplib_plain_starttls_and_smtps() {
    for (mode, implicit) in [("plain", false), ("starttls", false), ("smtps", true)] {
        let f = start(Opts {
            tls: Some(Preset::Valid),
            implicit,
            ..Opts::default()
        });
        let o = python(&f, mode, &f.ca_path());
        assert!(o.status.success(), "{mode}: {}", text(&o));
        f.settle(1);
        let m = &f.svc.daemon().messages()[0];
        assert_eq!(m.rcpt_to, ["d1@fake.test", "d2@fake.test"]);
        // smtplib adds SIZE= itself when SIZE is advertised.
        assert_eq!(
            m.mail_params[m.mail_params.len() - 2..],
            ["SMTPUTF8", "BODY=8BITMIME"]
        );
        assert_eq!(m.rcpt_params[1], ["NOTIFY=SUCCESS,FAILURE"]);
        assert!(
            m.text().contains("\r\n.line with a dot\r\n"),
            "dot-unstuffing: {:?}",
            m.text()
        );
        assert_eq!(m.tls, mode != "plain");
        let t = f.text().to_ascii_lowercase();
        for verb in ["vrfy someone", "noop", "help", "rset", "quit"] {
            assert!(t.contains(&format!("them: {verb}")), "{mode} {verb}: {t}");
        }
    }
}

#[test]
fn python_smtplib_reports_a_drop_during_data() {
    let f = start(Opts {
        faults: "[[fault]]\nverb = \"DATA\"\naction = \"drop\"\n",
        ..Opts::default()
    });
    let o = python(&f, "plain", "-");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("SMTPServerDisconnected"),
        "{}",
        text(&o)
    );
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 0);
}

#[test]
fn python_smtplib_survives_a_delayed_reply() {
    let f = start(Opts {
        faults: "[[fault]]\nverb = \"MAIL\"\naction = \"delay\"\ndelay_ms = 1500\n",
        ..Opts::default()
    });
    let t0 = std::time::Instant::now();
    let o = python(&f, "plain", "-");
    assert!(o.status.success(), "{}", text(&o));
    assert!(t0.elapsed() >= Duration::from_millis(1500));
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 1);
    assert!(f.text().contains("fault: delay 1500 ms"));
}

fn curl(url: &str, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        url,
        "--mail-from",
        "eve@curl.test",
        "--mail-rcpt",
        "frank@fake.test",
        "-T",
        "-",
    ]);
    c.args(extra);
    run(
        &mut c,
        b"From: eve@curl.test\r\nSubject: curl\r\n\r\nhello\r\n.\r\nstill body\r\n",
        T,
    )
}

#[test]
fn curl_smtp_starttls_and_smtps() {
    let f = start(Opts {
        tls: Some(Preset::Valid),
        ..Opts::default()
    });
    let ca = f.ca_path();
    let o = curl(&format!("smtp://127.0.0.1:{}", f.port()), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let o = curl(
        &format!("smtp://127.0.0.1:{}", f.port()),
        &["--ssl-reqd", "--cacert", &ca, "--user", "eve:pw"],
    );
    assert!(o.status.success(), "{}", text(&o));
    f.settle(2);
    let m = f.svc.daemon().messages();
    assert_eq!(m.len(), 2);
    assert!(!m[0].tls && m[1].tls);
    assert_eq!(m[1].auth.as_deref(), Some("eve"));
    assert!(
        m[0].text().contains("\r\n.\r\nstill body"),
        "{:?}",
        m[0].text()
    );

    let f = start(Opts {
        tls: Some(Preset::Valid),
        implicit: true,
        ..Opts::default()
    });
    let o = curl(
        &format!("smtps://127.0.0.1:{}", f.port()),
        &["--cacert", &f.ca_path()],
    );
    assert!(o.status.success(), "{}", text(&o));
    f.settle(1);
    assert!(f.svc.daemon().messages()[0].tls);
}

#[test]
fn curl_rejects_bad_certificates_and_reports_a_cut_handshake() {
    for p in [
        Preset::Expired,
        Preset::NotYetValid,
        Preset::SelfSigned,
        Preset::WrongHost,
    ] {
        let f = start(Opts {
            tls: Some(p),
            implicit: true,
            ..Opts::default()
        });
        // Trust the server's own CA (for self-signed, the leaf itself is its "CA": trust
        // another one instead), so only the defect of the preset makes the handshake fail.
        let trusted = if p == Preset::SelfSigned {
            fakeserver::tls::Certs::preset(Preset::Valid)
                .unwrap()
                .ca_pem
        } else {
            std::fs::read_to_string(f.ca_path()).unwrap()
        };
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), trusted).unwrap();
        let o = curl(
            &format!("smtps://127.0.0.1:{}", f.port()),
            &["--cacert", &ca.path().display().to_string()],
        );
        assert_eq!(o.status.code(), Some(60), "{p:?}: {}", text(&o));
        f.settle(1);
        // The client gave up on the certificate: it never sent a command (OpenSSL checks the
        // host name after the handshake, so for wrong-host the handshake itself completes).
        let t = f.text();
        assert!(!t.contains("them:"), "{p:?}: {t}");
        assert!(
            p == Preset::WrongHost || t.contains("tls: handshake failed"),
            "{p:?}: {t}"
        );
    }
    let f = start(Opts {
        tls: Some(Preset::Valid),
        implicit: true,
        faults: "[[fault]]\non = \"tls\"\naction = \"drop\"\n",
        ..Opts::default()
    });
    let o = curl(
        &format!("smtps://127.0.0.1:{}", f.port()),
        &["--cacert", &f.ca_path()],
    );
    assert_eq!(o.status.code(), Some(35), "{}", text(&o));
    f.settle(1);
    assert!(f.text().contains("fault: closed during the TLS handshake"));
}

#[test]
fn curl_reports_garbage_greeting() {
    let f = start(Opts {
        faults: "seed = 3\n[[fault]]\non = \"connect\"\naction = \"garbage\"\ngarbage_bytes = 40\n",
        idle: Duration::from_secs(2),
        ..Opts::default()
    });
    let o = curl(&format!("smtp://127.0.0.1:{}", f.port()), &[]);
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(f.svc.daemon().count(), 0);
}

// ---------------------------------------------------------------- Exim as the client

struct Exim {
    dir: tempfile::TempDir,
    conf: std::path::PathBuf,
}

fn exim(port: &str, lmtp: bool, ca: Option<&str>) -> Option<Exim> {
    if !is_root() || !std::path::Path::new("/usr/sbin/exim4").exists() {
        eprintln!("needs root and /usr/sbin/exim4: skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    assert!(Command::new("chown")
        .arg("-R")
        .arg("Debian-exim:")
        .arg(dir.path())
        .status()
        .unwrap()
        .success());
    let tls = match ca {
        Some(ca) => format!(
            "  hosts_require_tls = *\n  tls_verify_certificates = {ca}\n  tls_verify_hosts = *\n"
        ),
        None => "  hosts_avoid_tls = *\n".to_string(),
    };
    let proto = if lmtp { "  protocol = lmtp\n" } else { "" };
    let conf = dir.path().join("exim.conf");
    std::fs::write(
        &conf,
        format!(
            "primary_hostname = exim.test\nspool_directory = {spool}\nlog_file_path = {spool}/%slog\n\
             notifier_socket =\nbegin routers\nout:\n  driver = manualroute\n  route_list = * 127.0.0.1\n  self = send\n  transport = t\n\
             begin transports\nt:\n  driver = smtp\n  port = {port}\n  allow_localhost\n{proto}{tls}\
             begin retry\n* * F,1h,1h\n",
            spool = spool.display()
        ),
    )
    .unwrap();
    if let Some(ca) = ca {
        let _ = Command::new("chmod").args(["644", ca]).status();
    }
    Some(Exim { dir, conf })
}

impl Exim {
    fn send(&self, rcpts: &[&str], msg: &str) -> std::process::Output {
        let mut c = Command::new("/usr/sbin/exim4");
        c.arg("-C")
            .arg(&self.conf)
            .args(["-odi", "-oi", "-f", "sender@exim.test"])
            .args(rcpts);
        run(&mut c, msg.as_bytes(), T)
    }
    fn queue_count(&self) -> String {
        let o = Command::new("/usr/sbin/exim4")
            .arg("-C")
            .arg(&self.conf)
            .arg("-bpc")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
    fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("spool/mainlog")).unwrap_or_default()
    }
}

#[test]
fn exim_delivers_over_smtp_with_chunking_and_starttls() {
    let f = start(Opts {
        tls: Some(Preset::Valid),
        ..Opts::default()
    });
    let ca = f.ca_path();
    let Some(e) = exim(&f.port(), false, Some(&ca)) else {
        return;
    };
    let o = e.send(
        &["r1@fake.test", "r2@fake.test"],
        "Subject: from exim\n\nbody\n.dot\n",
    );
    assert!(o.status.success(), "{}\n{}", text(&o), e.mainlog());
    f.settle(1);
    let m = f.svc.daemon().messages();
    assert_eq!(m.len(), 1, "{}\n{}", e.mainlog(), f.text());
    assert_eq!(m[0].rcpt_to, ["r1@fake.test", "r2@fake.test"]);
    assert!(
        m[0].tls && m[0].chunked,
        "Exim uses STARTTLS and BDAT when offered"
    );
    assert!(m[0].text().contains("\r\n.dot\r\n"));
    assert_eq!(e.queue_count(), "0");
}

#[test]
fn exim_defers_on_a_scheduled_451() {
    let f = start(Opts {
        faults: "[[fault]]\nverb = \"RCPT\"\nnth = 1\nreply = \"451 4.3.0 try later\"\n",
        ..Opts::default()
    });
    let Some(e) = exim(&f.port(), false, None) else {
        return;
    };
    let o = e.send(&["r1@fake.test"], "Subject: deferred\n\nbody\n");
    assert!(o.status.success(), "{}", text(&o));
    f.settle(1);
    assert_eq!(f.svc.daemon().count(), 0);
    assert_eq!(e.queue_count(), "1", "{}", e.mainlog());
    assert!(
        e.mainlog().contains("451 4.3.0 try later"),
        "{}",
        e.mainlog()
    );
}

#[test]
fn exim_delivers_over_lmtp_and_handles_per_recipient_replies() {
    let section = fakeserver::personality::Personality::parse(
        "[lmtp.quirks]\ndata_replies = { \"full@fake.test\" = \"452 4.2.2 <full@fake.test> mailbox full\" }\n",
        "test",
    )
    .unwrap()
    .section("lmtp");
    let f = start(Opts {
        lmtp: true,
        section,
        ..Opts::default()
    });
    let Some(e) = exim(&f.port(), true, None) else {
        return;
    };
    let o = e.send(
        &["ok@fake.test", "full@fake.test"],
        "Subject: lmtp\n\nbody\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    f.settle(1);
    let t = f.text();
    assert!(t.contains("them: LHLO exim.test"), "{t}");
    assert!(
        t.contains("us: 250 2.1.5 <ok@fake.test> delivered as")
            && t.contains("us: 452 4.2.2 <full@fake.test> mailbox full"),
        "{t}"
    );
    let log = e.mainlog();
    assert!(
        log.contains("=> ok@fake.test") && log.contains("== full@fake.test"),
        "{log}"
    );
    assert_eq!(e.queue_count(), "1");
}
