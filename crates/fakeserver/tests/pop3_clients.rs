//! fakeserver's POP3 against real clients: Python's poplib (every command it has), curl
//! (each login method, STLS, implicit TLS, certificate errors) and fetchmail (with and
//! without STLS), each also with a fault it must survive or report.

mod common;

use common::popnntp::*;
use fakeserver::pop3::{Pop3Daemon, Pop3Personality};
use fakeserver::tls::Preset;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn alice() -> (Arc<Pop3Daemon>, tempfile::TempDir) {
    let t = pop3_tree();
    let d = Pop3Daemon::new();
    assert_eq!(d.load_dir(t.path()).unwrap(), 2);
    (d, t)
}

/// alice's maildrop served with `personality` and `o` when `tool` (the client) is installed;
/// the test is skipped otherwise.
fn served(
    tool: &str,
    personality: Pop3Personality,
    o: Opts,
) -> Option<(Arc<Pop3Daemon>, Running, tempfile::TempDir)> {
    if !have(tool) {
        return None;
    }
    let (d, t) = alice();
    let r = start_pop3(d.clone(), personality, o);
    Some((d, r, t))
}

fn transcript_text(r: &Running) -> String {
    r.server.recorder().to_text()
}

// ---------------------------------------------------------------- poplib

#[test]
fn poplib_every_command_plain() {
    let Some((d, r, _t)) = served("python3", Pop3Personality::default(), Opts::default()) else {
        return;
    };
    let ran = python("pop3_poplib.py", &[&r.server.port().to_string(), "-"]);
    ran.expect_ok();
    for step in [
        "welcome",
        "capa",
        "user/pass",
        "stat/list",
        "uidl",
        "top",
        "retr",
        "dele/rset/noop/quit",
        "apop, stable uidl after update",
        "in-use",
        "auth plain",
    ] {
        assert!(
            ran.stdout.contains(&format!("ok {step}\n")),
            "missing {step}: {}",
            ran.show()
        );
    }
    // The UPDATE state removed message 1 only.
    let left = d.messages("alice");
    assert_eq!(left.len(), 1);
    assert!(String::from_utf8_lossy(&left[0].data).contains("Subject: second"));
    let text = transcript_text(&r);
    assert!(text.contains("RETR 1"), "{text}");
    assert!(
        !text.contains("PASS secret"),
        "the password must be masked:\n{text}"
    );
}

#[test]
fn poplib_stls_with_the_presets_ca() {
    let Some((_d, r, _t)) = served(
        "python3",
        Pop3Personality::default(),
        Opts::tls(Preset::Valid),
    ) else {
        return;
    };
    let ca = r.ca.as_ref().unwrap().to_str().unwrap().to_string();
    let ran = python("pop3_poplib.py", &[&r.server.port().to_string(), &ca]);
    ran.expect_ok();
    ran.expect_out("ok stls\n");
}

const FAULTY_RETR: &str = r#"
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("alice"); p.pass_("secret")
assert p.stat()[0] == 2          # delayed 1.5 s by the fault plan, still answered
try:
    p.retr(1)
    raise SystemExit("RETR should have failed")
except poplib.error_proto as e:
    assert "[SYS/TEMP]" in str(e), e
    print("reported", e)
assert b"Subject: first" in p.retr(1)[1]   # only the first RETR was faulted
p.dele(2)
try:
    p.retr(1)                              # the third RETR is dropped by the plan
except (poplib.error_proto, OSError, EOFError) as e:
    print("dropped", type(e).__name__)
else:
    raise SystemExit("the connection should have been dropped")
q = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
q.user("alice"); q.pass_("secret")
assert q.stat()[0] == 2, "a dropped session must not delete"
q.quit()
print("survived")
"#;

#[test]
fn poplib_survives_an_error_reply_a_delay_and_a_drop() {
    let plan = faults(
        r#"
seed = 1
[[fault]]
verb = "STAT"
nth = 1
action = "delay"
delay_ms = 1500
[[fault]]
verb = "RETR"
nth = 1
action = "reply"
reply = "-ERR [SYS/TEMP] try again later"
[[fault]]
verb = "RETR"
nth = 3
action = "drop"
"#,
    );
    let Some((d, r, _t)) = served("python3", Pop3Personality::default(), Opts::faults(plan)) else {
        return;
    };
    let ran = python_code(FAULTY_RETR, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("reported b'-ERR [SYS/TEMP] try again later'");
    ran.expect_out("dropped");
    assert_eq!(d.messages("alice").len(), 2);
}

// ---------------------------------------------------------------- curl

fn curl(args: &[&str]) -> Ran {
    run(
        Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .args(args),
        Duration::from_secs(30),
    )
}

/// curl as alice on `scheme://127.0.0.1:PORT/path` of `r`, trusting `r`'s CA when it has one.
fn curl_alice(r: &Running, extra: &[&str], scheme: &str, path: &str) -> Ran {
    let url = format!("{scheme}://127.0.0.1:{}/{path}", r.server.port());
    let ca = r.ca.as_ref().map(|p| p.to_str().unwrap());
    let mut args: Vec<&str> = ca.map_or(vec![], |ca| vec!["--cacert", ca]);
    args.extend(extra);
    args.extend(["-u", "alice:secret", &url]);
    curl(&args)
}

#[test]
fn curl_lists_and_retrieves_with_every_login_method() {
    let Some((d, r, _t)) = served("curl", Pop3Personality::default(), Opts::default()) else {
        return;
    };
    let base = format!("pop3://127.0.0.1:{}/", r.server.port());
    let sizes: Vec<usize> = d.messages("alice").iter().map(|m| m.size()).collect();
    for login in [
        "AUTH=PLAIN",
        "AUTH=LOGIN",
        "AUTH=CRAM-MD5",
        "AUTH=+APOP",
        "AUTH=*",
    ] {
        let ran = curl(&["-u", "alice:secret", "--login-options", login, &base]);
        assert!(ran.ok(), "{login}: {}", ran.show());
        assert_eq!(
            ran.stdout,
            format!("1 {}\r\n2 {}\r\n", sizes[0], sizes[1]),
            "{login}"
        );
        let ran = curl(&[
            "-u",
            "alice:secret",
            "--login-options",
            login,
            &format!("{base}1"),
        ]);
        assert!(ran.ok(), "{login}: {}", ran.show());
        assert!(
            ran.stdout
                .ends_with(">\r\n\r\nhello\r\n.dot line\r\nlast line\r\n"),
            "{login}: {:?}",
            ran.stdout
        );
        let bad = curl(&["-u", "alice:wrong", "--login-options", login, &base]);
        assert_eq!(
            bad.code,
            Some(67),
            "{login}: a refused login is curl's error 67: {}",
            bad.show()
        );
    }
    let text = transcript_text(&r);
    for cmd in ["AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-MD5", "APOP alice"] {
        assert!(text.contains(cmd), "{cmd} not in the transcript:\n{text}");
    }
    // curl's DELE (-X on a message URL, no body).
    let ran = curl(&[
        "-u",
        "alice:secret",
        "-X",
        "DELE",
        "-I",
        &format!("{base}1"),
    ]);
    ran.expect_ok();
    assert_eq!(d.messages("alice").len(), 1);
}

#[test]
fn curl_uses_user_pass_when_nothing_else_is_offered() {
    let p = Pop3Personality {
        sasl: vec![],
        apop: false,
        ..Pop3Personality::default()
    };
    let Some((_d, r, _t)) = served("curl", p, Opts::default()) else {
        return;
    };
    let ran = curl_alice(&r, &[], "pop3", "2");
    ran.expect_ok();
    ran.expect_out("Subject: second");
    assert!(transcript_text(&r).contains("USER alice"));
}

#[test]
fn curl_stls_implicit_tls_and_a_bad_certificate() {
    let Some((d, r, _t)) = served("curl", Pop3Personality::default(), Opts::tls(Preset::Valid))
    else {
        return;
    };
    let ran = curl_alice(&r, &["--ssl-reqd"], "pop3", "1");
    ran.expect_ok();
    assert!(ran.stdout.contains("Subject: first"));
    assert!(transcript_text(&r).contains("STLS"));

    let r2 = start_pop3(
        d.clone(),
        Pop3Personality::default(),
        Opts::implicit_tls(Preset::Valid),
    );
    let ran = curl_alice(&r2, &[], "pop3s", "");
    ran.expect_ok();
    assert_eq!(ran.stdout.lines().count(), 2, "{}", ran.show());

    let r3 = start_pop3(d, Pop3Personality::default(), Opts::tls(Preset::Expired));
    let ran = curl_alice(&r3, &["--ssl-reqd"], "pop3", "");
    assert_eq!(
        ran.code,
        Some(60),
        "an expired certificate is curl's error 60: {}",
        ran.show()
    );
}

#[test]
fn curl_reports_a_faulted_retr() {
    let plan = faults(
        "[[fault]]\nverb = \"RETR\"\naction = \"reply\"\nreply = \"-ERR [SYS/TEMP] busy\"\n",
    );
    let Some((_d, r, _t)) = served("curl", Pop3Personality::default(), Opts::faults(plan)) else {
        return;
    };
    let ran = curl_alice(&r, &[], "pop3", "1");
    assert!(
        matches!(ran.code, Some(c) if c != 0),
        "curl must fail: {}",
        ran.show()
    );
    assert!(!ran.stdout.contains("Subject: first"), "{}", ran.show());
}

// ---------------------------------------------------------------- fetchmail

struct Fetch {
    dir: tempfile::TempDir,
}

impl Fetch {
    fn new() -> Self {
        Fetch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn mbox(&self) -> std::path::PathBuf {
        self.dir.path().join("delivered")
    }
    fn delivered(&self) -> String {
        std::fs::read_to_string(self.mbox()).unwrap_or_default()
    }
    /// One fetchmail poll of alice's maildrop; `tls`: the CA to check the server against.
    fn run(&self, host: &str, port: u16, tls: Option<&std::path::Path>) -> Ran {
        let ssl = match tls {
            Some(ca) => format!(
                "sslproto 'tls1.2+' sslcertck sslcertfile \"{}\"",
                ca.display()
            ),
            None => "sslproto ''".to_string(),
        };
        let rc = format!(
            "set no bouncemail\npoll {host} protocol pop3 port {port} auth password timeout 20\n  user \"alice\" there with password \"secret\" is \"root\" here\n  fetchall {ssl}\n  mda \"cat >> {}\"\n",
            self.mbox().display()
        );
        let rcfile = self.dir.path().join("fetchmailrc");
        std::fs::write(&rcfile, rc).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rcfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        run(
            Command::new("fetchmail")
                .env("HOME", self.dir.path())
                .arg("--nosyslog")
                .arg("-v")
                .arg("-f")
                .arg(&rcfile)
                .arg("-i")
                .arg(self.dir.path().join("fetchids"))
                .arg("--pidfile")
                .arg(self.dir.path().join("fetchmail.pid")),
            Duration::from_secs(60),
        )
    }
}

#[test]
fn fetchmail_plain_delivers_and_deletes() {
    let Some((d, r, _t)) = served("fetchmail", Pop3Personality::default(), Opts::default()) else {
        return;
    };
    let f = Fetch::new();
    let ran = f.run("127.0.0.1", r.server.port(), None);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let got = f.delivered();
    assert!(
        got.contains("Subject: first") && got.contains("Subject: second"),
        "{got}\n{}",
        ran.show()
    );
    assert!(
        got.contains("\n.dot line\n"),
        "fetchmail undoes the byte-stuffing: {got}"
    );
    assert!(
        d.messages("alice").is_empty(),
        "fetchmail deletes what it fetched"
    );
    assert!(!transcript_text(&r).contains("STLS"));
    // Nothing new: fetchmail's "no mail" exit code.
    let again = f.run("127.0.0.1", r.server.port(), None);
    assert_eq!(again.code, Some(1), "{}", again.show());
}

#[test]
fn fetchmail_over_stls_checks_the_certificate() {
    let Some((d, r, _t)) = served(
        "fetchmail",
        Pop3Personality::default(),
        Opts::tls(Preset::Valid),
    ) else {
        return;
    };
    let f = Fetch::new();
    let ran = f.run("localhost", r.server.port(), r.ca.as_deref());
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(
        transcript_text(&r).contains("STLS"),
        "fetchmail must have used STLS"
    );
    assert!(f.delivered().contains("Subject: second"));
    assert!(d.messages("alice").is_empty());

    // A certificate for another host: fetchmail refuses and fetches nothing.
    let (d2, _t2) = alice();
    let bad = start_pop3(
        d2.clone(),
        Pop3Personality::default(),
        Opts::tls(Preset::WrongHost),
    );
    let f2 = Fetch::new();
    let ran = f2.run("localhost", bad.server.port(), bad.ca.as_deref());
    assert!(matches!(ran.code, Some(c) if c >= 2), "{}", ran.show());
    assert_eq!(d2.messages("alice").len(), 2);
    assert!(f2.delivered().is_empty());
}

#[test]
fn fetchmail_survives_a_connection_dropped_mid_fetch() {
    let plan = faults("[[fault]]\nverb = \"RETR\"\nnth = 2\naction = \"drop\"\n");
    let Some((d, r, _t)) = served("fetchmail", Pop3Personality::default(), Opts::faults(plan))
    else {
        return;
    };
    let f = Fetch::new();
    let ran = f.run("127.0.0.1", r.server.port(), None);
    assert!(
        matches!(ran.code, Some(c) if c >= 2),
        "fetchmail must report the failure: {}",
        ran.show()
    );
    assert_eq!(
        d.messages("alice").len(),
        2,
        "no QUIT, no UPDATE: nothing deleted"
    );
    // The fault is gone: the next poll gets everything.
    r.server
        .faults()
        .set(fakeserver::faults::FaultPlan::default());
    let ran = f.run("127.0.0.1", r.server.port(), None);
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(d.messages("alice").is_empty());
    assert!(f.delivered().contains("Subject: second"));
}

#[test]
fn poplib_retries_after_a_login_refused_by_a_fault() {
    // The first PASS succeeds in the handler but the client is told -ERR: the server must
    // not keep the session logged in (nor the maildrop locked).
    let plan = faults("[[fault]]\nverb = \"PASS\"\nnth = 1\nscope = \"global\"\naction = \"reply\"\nreply = \"-ERR [SYS/TEMP] login service down\"\n");
    let Some((_d, r, _t)) = served("python3", Pop3Personality::default(), Opts::faults(plan))
    else {
        return;
    };
    let code = r#"
import poplib, sys
port = int(sys.argv[1])
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("alice")
try:
    p.pass_("secret")
    raise SystemExit("PASS should have been refused")
except poplib.error_proto as e:
    print("refused", e)
try:
    p.stat()
    raise SystemExit("STAT must fail: not logged in")
except poplib.error_proto:
    pass
p.user("alice")
p.pass_("secret")          # the maildrop is not left locked by the refused login
print("stat", p.stat())
p.quit()
"#;
    let ran = python_code(code, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("refused b'-ERR [SYS/TEMP] login service down'");
    ran.expect_out("stat (2, ");
    let text = r.server.recorder().to_text();
    assert!(
        text.contains("PASS ****") && !text.contains("PASS secret"),
        "{text}"
    );
}

#[test]
fn curl_reports_a_tls_handshake_cut_by_a_fault() {
    let plan = faults("[[fault]]\non = \"tls\"\naction = \"drop\"\n");
    let Some((d, r, _t)) = served(
        "curl",
        Pop3Personality::default(),
        Opts {
            tls: Some(Preset::Valid),
            faults: plan,
            ..Opts::default()
        },
    ) else {
        return;
    };
    let ran = curl_alice(&r, &["--ssl-reqd"], "pop3", "1");
    assert_eq!(
        ran.code,
        Some(35),
        "a cut handshake is curl's TLS connect error 35: {}",
        ran.show()
    );
    assert_eq!(d.messages("alice").len(), 2);
}
