//! TLS after STARTTLS (IMAP) and STLS (POP3), and COMPRESS=DEFLATE, against a private Dovecot
//! with TLS (a fresh rcgen certificate) and the imap_zlib plugin: stress mode, POP3 stress
//! mode and profile mode's IMAP and POP3 clients upgrade their connections (Dovecot's log says
//! TLS, the rawlogs show the commands, and Dovecot would drop a client that kept talking plain
//! after COMPRESS's OK). Tiny servers in this file check the refusals: no STARTTLS announced,
//! plain text injected after STARTTLS's OK, STLS refused, and a broken DEFLATE stream, each
//! named with the server's address.
mod common;

use common::Dovecot;
use std::path::Path;
use std::process::Command;

/// A Dovecot with TLS and COMPRESS; the CA file for its certificate is `dir/ca.pem`.
fn tls_dovecot(dir: &Path) -> Dovecot {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let extra = format!(
        "ssl = yes\nssl_cert = <{d}/ca.pem\nssl_key = <{d}/key.pem\n\
         mail_plugins = $mail_plugins zlib\nprotocol imap {{\n  mail_plugins = $mail_plugins imap_zlib\n}}\n",
        d = dir.display()
    );
    Dovecot::start_with("imaptest-tls-", &extra)
}

/// The Dovecot log's logins over TLS for a protocol (`imap` or `pop3`), once there are at least
/// `want` of them (its log process writes a moment later) or 5 s have passed.
fn tls_logins(d: &Dovecot, proto: &str, want: usize) -> usize {
    let t = std::time::Instant::now();
    loop {
        let log = std::fs::read_to_string(d.dir.path().join("dovecot.log")).unwrap_or_default();
        let n = log
            .lines()
            .filter(|l| l.contains(&format!("{proto}-login: Info: Login:")) && l.contains(", TLS"))
            .count();
        if n >= want || t.elapsed().as_secs() >= 5 {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// How many of the rawlogs show a login that succeeded.
fn logged_in(logs: &[String]) -> usize {
    logs.iter()
        .filter(|l| l.contains("] Logged in") || l.contains("+OK Logged in"))
        .count()
}

/// The rawlog files of `dir` whose name starts with `prefix`, read.
fn rawlogs(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

#[test]
fn imap_stress_over_starttls_with_compress() {
    let work = tempfile::tempdir().unwrap();
    let d = tls_dovecot(work.path());
    let run = |extra: &[String]| {
        d.command(work.path())
            .args([
                "host=localhost",
                "hostip=127.0.0.1",
                "clients=2",
                "secs=3,5",
            ])
            .arg(format!("mbox={}", common::mbox20(work.path(), "tc", "")))
            .args(extra)
            .output()
            .unwrap()
    };
    let ca = format!("ssl_ca_file={}", work.path().join("ca.pem").display());
    let o = run(&[
        "starttls".into(),
        ca.clone(),
        "compress=100".into(),
        "rawlog".into(),
    ]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    let header: Vec<&str> = s
        .split("Totals:\n")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header[..2], ["Logi", "Comp"], "{s}");
    let totals = common::totals(&s);
    assert!(
        totals[0] > 0 && totals[1] == totals[0],
        "every login compressed: {s}"
    );
    assert!(
        totals[2..].iter().all(|&n| n > 0),
        "commands after COMPRESS: {s}"
    );
    let logs = rawlogs(work.path(), "rawlog.");
    assert!(!logs.is_empty());
    for log in &logs {
        let tls = log.find("C: T1 STARTTLS").expect(log);
        let login = log.find(" LOGIN ").expect(log);
        let comp = log.find("COMPRESS DEFLATE\r\n").expect(log);
        assert!(tls < login && login < comp, "{log}");
        assert!(log[comp..].contains(" OK "), "{log}");
    }
    let n = logged_in(&logs);
    assert!(
        n > 0 && tls_logins(&d, "imap", n) >= n,
        "Dovecot saw the TLS logins"
    );
    // the web roots do not know Dovecot's certificate: refused, naming the server
    let o = run(&["starttls".into()]);
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!("TLS handshake with 127.0.0.1:{}: ", d.port))
            && s.contains("certificate"),
        "{s}"
    );
}

#[test]
fn pop3_stls_in_stress_and_profile_clients() {
    let work = tempfile::tempdir().unwrap();
    let d = tls_dovecot(work.path());
    let ca = format!("ssl_ca_file={}", work.path().join("ca.pem").display());
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(work.path())
        .args([
            "pop3",
            "host=localhost",
            "hostip=127.0.0.1",
            "user=testuser",
            "pass=testpass",
        ])
        .args(["clients=2", "secs=2,5", "starttls", "rawlog", &ca])
        .arg(format!("port={}", d.pop3_port))
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    assert!(common::totals(&s)[0] > 0, "{s}");
    let logs = rawlogs(work.path(), "rawlog.");
    assert!(!logs.is_empty());
    for log in &logs {
        assert!(
            log.starts_with("S: +OK") && log.contains("\nC: STLS\r\nS: +OK"),
            "{log}"
        );
        assert!(
            log.find("C: STLS").unwrap() < log.find("C: USER").unwrap(),
            "{log}"
        );
    }
    let n = logged_in(&logs);
    let pop3_before = tls_logins(&d, "pop3", n);
    assert!(n > 0 && pop3_before >= n, "Dovecot saw the TLS logins");
    for e in std::fs::read_dir(work.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawlog.") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    // profile mode: one POP3 user, one IMAP user, both over STARTTLS/STLS
    let conf = work.path().join("p.conf");
    std::fs::write(
        &conf,
        "lmtp_port = 24\ntotal_user_count = 2\nuser u {\n  username_format = tlsuser%n\n  count = 100%\n  mail_inbox_delivery_interval = 500ms\n}\nclient pop {\n  count = 50%\n  protocol = pop3\n  connection_max_count = 1\n  login_interval = 1s\n}\nclient imap {\n  count = 50%\n  imap_idle = yes\n}\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(work.path())
        .env_remove("USER")
        .args([
            "host=localhost",
            "hostip=127.0.0.1",
            "pass=testpass",
            "secs=3,5",
            "starttls",
            "rawlog",
            &ca,
        ])
        .arg(format!("profile={}", conf.display()))
        .arg(format!("port={}", d.port))
        .arg(format!("pop3_port={}", d.pop3_port))
        .arg(format!("lmtp_port={}", d.lmtp_port))
        .arg(format!("mbox={}", common::mbox20(work.path(), "tc", "")))
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    let pop3 = rawlogs(work.path(), "rawlog.pop3.");
    assert!(!pop3.is_empty(), "{s}");
    assert!(
        pop3.iter().all(|l| l.contains("\nC: STLS\r\nS: +OK")),
        "{pop3:?}"
    );
    let all = rawlogs(work.path(), "rawlog.");
    let imap: Vec<&String> = all.iter().filter(|l| l.starts_with("S: * OK")).collect();
    assert!(!imap.is_empty(), "{s}");
    assert!(
        imap.iter()
            .all(|l| l.contains("C: T1 STARTTLS\r\nS: T1 OK")),
        "{imap:?}"
    );
    assert!(tls_logins(&d, "pop3", pop3_before + 1) > pop3_before);
    assert!(tls_logins(&d, "imap", 1) > 0);
}

/// An IMAP reply: `tag OK` to everything (after `extra` for the commands it names).
fn ok(line: &str, extra: &[(&str, &[u8])]) -> Option<Vec<u8>> {
    let mut w = line.split_whitespace();
    let tag = w.next()?;
    let cmd = w.next().unwrap_or("").to_ascii_uppercase();
    for (name, bytes) in extra {
        if cmd == *name {
            let mut out = format!("{tag} ").into_bytes();
            out.extend_from_slice(bytes);
            return Some(out);
        }
    }
    Some(format!("{tag} OK done\r\n").into_bytes())
}

fn stress(port: u16, dir: &Path, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(dir)
        .args(["user=u", "pass=p", "clients=1", "secs=1,3", "-", "select=0"])
        .arg(format!("port={port}"))
        .arg(format!("mbox={}", common::mbox20(dir, "tc", "")))
        .args(extra)
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    s
}

#[test]
fn refusals_and_broken_streams_name_the_server() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // no STARTTLS among the capabilities: nothing is sent in plain text
    let p = common::tiny_server("* OK [CAPABILITY IMAP4rev1] tiny\r\n", |l| ok(l, &[]));
    let s = stress(p, dir, &["starttls=any-cert"]);
    assert!(
        s.contains(&format!(
            "STARTTLS with 127.0.0.1:{p}: the server does not announce STARTTLS (capabilities: IMAP4REV1)"
        )),
        "{s}"
    );
    // plain text after STARTTLS's OK, before the handshake (an injection)
    let p = common::tiny_server("* OK [CAPABILITY IMAP4rev1 STARTTLS] tiny\r\n", |l| {
        ok(
            l,
            &[(
                "STARTTLS",
                b"OK go\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n",
            )],
        )
    });
    let s = stress(p, dir, &["starttls=any-cert"]);
    assert!(
        s.contains(&format!("STARTTLS with 127.0.0.1:{p}: the server sent data after its OK, before the TLS handshake: \"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\"")),
        "{s}"
    );
    // STARTTLS refused
    let p = common::tiny_server("* OK [CAPABILITY IMAP4rev1 STARTTLS] tiny\r\n", |l| {
        ok(l, &[("STARTTLS", b"NO not today\r\n")])
    });
    let s = stress(p, dir, &["starttls=any-cert"]);
    assert!(
        s.contains(&format!(
            "STARTTLS with 127.0.0.1:{p}: refused: T1 NO not today"
        )),
        "{s}"
    );
    // POP3's STLS refused
    let p = common::tiny_server("+OK tiny POP3\r\n", |l| {
        Some(
            if l.starts_with("STLS") {
                &b"-ERR not now\r\n"[..]
            } else {
                b"+OK\r\n"
            }
            .to_vec(),
        )
    });
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(dir)
        .args([
            "pop3",
            "user=u",
            "pass=p",
            "clients=1",
            "secs=1,3",
            "starttls=any-cert",
        ])
        .arg(format!("port={p}"))
        .output()
        .unwrap();
    let s = common::text(&o);
    assert!(
        s.contains(&format!("POP3 127.0.0.1:{p}: STLS refused: -ERR not now")),
        "{s}"
    );
    // COMPRESS's OK followed by bytes that are not DEFLATE
    let p = common::tiny_server(
        "* OK [CAPABILITY IMAP4rev1 COMPRESS=DEFLATE] tiny\r\n",
        |l| {
            ok(
                l,
                &[(
                    "COMPRESS",
                    b"OK go\r\n\xff\xff\xff\xff this is not deflate\r\n",
                )],
            )
        },
    );
    let s = stress(p, dir, &["compress=100"]);
    assert!(
        s.contains(&format!(
            "127.0.0.1:{p}: the server's DEFLATE stream: inflate"
        )),
        "{s}"
    );
    // a server without COMPRESS=DEFLATE is not asked (the run is clean, Comp stays 0)
    let p = common::tiny_server("* OK [CAPABILITY IMAP4rev1] tiny\r\n", |l| ok(l, &[]));
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(dir)
        .args([
            "user=u",
            "pass=p",
            "clients=1",
            "secs=1,3",
            "-",
            "select=0",
            "compress=100",
            "rawlog",
        ])
        .arg(format!("port={p}"))
        .arg(format!("mbox={}", common::mbox20(dir, "tc", "")))
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert_eq!(common::totals(&s)[1], 0, "{s}");
    assert!(rawlogs(dir, "rawlog.")
        .iter()
        .all(|l| !l.contains("COMPRESS")));
}
