//! The `fakeserver` program serving POP3 and NNTP as a test suite in another language uses it:
//! `--load`, `--users`, `--personality`, `--tls` with `--ca-out`, the control API's
//! `/api/deliver` and `/api/messages` while it runs, and a real client (curl, nntplib) in
//! between. The program is stopped with SIGTERM and must exit cleanly.

mod common;

use common::popnntp::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `fakeserver` program; killed (SIGTERM, then reaped) on drop.
struct Program {
    child: Child,
    port: u16,
    control: u16,
}

impl Program {
    fn start(args: &[&str]) -> Program {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fakeserver"))
            .args(args)
            .args(["--port", "0", "--control", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fakeserver");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut port, mut control) = (0, 0);
        for _ in 0..2 {
            let mut line = String::new();
            out.read_line(&mut line).expect("read fakeserver's stdout");
            let p = line
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if line.starts_with("listening on ") {
                port = p;
            } else if line.starts_with("control on ") {
                control = p;
            } else {
                let _ = child.kill();
                panic!("unexpected line from fakeserver: {line:?}");
            }
        }
        assert!(port > 0 && control > 0);
        Program {
            child,
            port,
            control,
        }
    }

    fn api(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let url = format!("http://127.0.0.1:{}{path}", self.control);
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--fail-with-body", "-X", method, &url]);
        if let Some(b) = body {
            cmd.args(["--data-binary", b]);
        }
        let ran = run(&mut cmd, Duration::from_secs(20));
        assert!(ran.ok(), "{method} {path}: {}", ran.show());
        ran.stdout
    }

    fn stop(mut self) {
        // SIGTERM through kill(1): no unsafe code, no extra dependency.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("reap fakeserver");
        assert!(status.success(), "fakeserver exited with {status}");
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn program_pop3_with_dovecot_personality_tls_and_live_delivery() {
    if !have("curl") {
        return;
    }
    let tree = pop3_tree();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "alice:secret\nbob:hunter2\n").unwrap();
    let ca = dir.path().join("ca.pem");
    let personality = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/personalities/dovecot-pop3.toml"
    );
    let p = Program::start(&[
        "pop3",
        "--load",
        tree.path().to_str().unwrap(),
        "--users",
        users.to_str().unwrap(),
        "--personality",
        personality,
        "--tls",
        "valid",
        "--ca-out",
        ca.to_str().unwrap(),
    ]);
    // Bob's maildir was empty; a message arrives while the server runs.
    let got = p.api(
        "POST",
        "/api/deliver/bob",
        Some("Subject: live\r\n\r\ndelivered through the API\r\n"),
    );
    assert!(got.contains("\"id\""), "{got}");
    let curl = |user: &str, path: &str| {
        run(
            Command::new("curl").args([
                "-sS",
                "--max-time",
                "20",
                "--ssl-reqd",
                "--cacert",
                ca.to_str().unwrap(),
                "-u",
                user,
                &format!("pop3://127.0.0.1:{}/{path}", p.port),
            ]),
            Duration::from_secs(30),
        )
    };
    let ran = curl("bob:hunter2", "1");
    ran.expect_ok();
    ran.expect_out("delivered through the API");
    let ran = curl("alice:secret", "");
    assert!(
        ran.ok() && ran.stdout.lines().count() == 2,
        "{}",
        ran.show()
    );
    assert_eq!(curl("alice:wrong", "").code, Some(67));
    let state = p.api("GET", "/api/messages", None);
    assert!(
        state.contains("\"bob\"") && state.contains("delivered through the API"),
        "{state}"
    );
    // Dovecot's wording is in the record.
    let text = p.api("GET", "/api/transcripts.txt", None);
    assert!(
        text.contains("+OK Dovecot (Debian) ready.") && text.contains("+OK Logged in."),
        "{text}"
    );
    p.stop();
}

#[test]
fn program_nntp_with_inn_personality_and_live_delivery() {
    if !have("curl") || !have("python3") {
        return;
    }
    let tree = nntp_tree();
    let personality = concat!(env!("CARGO_MANIFEST_DIR"), "/personalities/inn-nntp.toml");
    let p = Program::start(&[
        "nntp",
        "--load",
        tree.path().to_str().unwrap(),
        "--personality",
        personality,
    ]);
    let got = p.api(
        "POST",
        "/api/deliver/comp.lang.rust",
        Some("From: x@test\r\nNewsgroups: comp.lang.rust\r\nSubject: new group\r\n\r\nbody\r\n"),
    );
    assert!(
        got.contains("<fakeserver."),
        "a Message-ID was made up: {got}"
    );
    let code = r#"
import sys, warnings
warnings.simplefilter("ignore")
import nntplib
s = nntplib.NNTP("127.0.0.1", int(sys.argv[1]), timeout=10)
assert "INN" in s.getwelcome()
resp, count, first, last, name = s.group("comp.lang.rust")
assert (count, first, last) == (1, 1, 1), (count, first, last)
resp, info = s.head(1)
assert b"Subject: new group" in info.lines
resp, count, first, last, name = s.group("misc.test")
assert count == 2
print(s.quit())
"#;
    let ran = python_code(code, &[&p.port.to_string()]);
    ran.expect_ok();
    assert!(
        ran.stdout.contains("205 Bye!"),
        "INN's wording: {}",
        ran.show()
    );
    let state = p.api("GET", "/api/messages", None);
    assert!(
        state.contains("comp.lang.rust") && state.contains("misc.test"),
        "{state}"
    );
    p.stop();
}
