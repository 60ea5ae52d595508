//! imaptest against a real Dovecot (Debian's packages, started by tools/dovecot on loopback with
//! a private config): the project's own scripted tests pass, the failing set fails on the right
//! lines, rawlog files are written, and LOGIN, AUTHENTICATE PLAIN, CRAM-MD5 and SCRAM-SHA-1/256 work. Each test has its own
//! instance on free ports, stopped when the test ends, even when it fails.
mod common;

use common::Dovecot;
use std::path::Path;
use std::process::Output;

trait Run {
    /// imaptest against this server, with the scripted tests' self-test switch.
    fn imaptest(&self, args: &[&str], cwd: &Path) -> Output;
}

impl Run for Dovecot {
    fn imaptest(&self, args: &[&str], cwd: &Path) -> Output {
        self.command(cwd)
            .args(args)
            .env("IMAPTEST_SELFTEST_ON", "1")
            .output()
            .unwrap()
    }
}

fn scripts(dir: &str) -> String {
    format!(
        "test={}",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(dir)
            .display()
    )
}

#[test]
fn own_scripts_pass_and_failures_name_their_lines() {
    let d = Dovecot::start("imaptest-dovecot");
    let work = tempfile::tempdir().unwrap();
    let json = work.path().join("r.json");
    let junit = work.path().join("r.xml");
    let o = d.imaptest(
        &[
            &scripts("scripts"),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        work.path(),
    );
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(
        s.contains("9 test groups: 0 failed, 1 skipped due to missing capabilities"),
        "{s}"
    );
    assert!(
        s.contains("base protocol: 0/") && s.contains("extensions: 0/"),
        "{s}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["summary"]["skipped"], 1);
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("testcase name=\"basics\""));

    let o = d.imaptest(&[&scripts("failing")], work.path());
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    for want in [
        "*** Test banned-and-status command 1/2 (line 3)\n - failed: banned reply (line 4)",
        "*** Test banned-and-status command 2/2 (line 5)\n - failed: tagged reply mismatch",
        "*** Test extra-untagged command 2/2 (line 5)\n - failed: unexpected replies",
        "*** Test missing-reply command 2/2 (line 5)\n - failed: missing 1 untagged replies",
        " - Expected: * 7 exists (line 6)",
        "*** Test noextra command 2/2 (line 4)",
        "*** Test wrong-line command 2/2 (line 5)",
        " - Expected: * status $mailbox (messages 5) (line 6)",
        " - Got: * STATUS imaptest (MESSAGES 1)",
        "5 test groups: 5 failed, 0 skipped due to missing capabilities\nbase protocol: 6/10 individual commands failed\nextensions: 0/0 individual commands failed\n",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
}

#[test]
fn sasl_mechanisms_rawlog_and_no_pipelining() {
    let d = Dovecot::start("imaptest-dovecot");
    let work = tempfile::tempdir().unwrap();
    let one = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/basics");
    let o = d.imaptest(
        &[
            &format!("test={}", one.display()),
            "mech=plain",
            "rawlog",
            "no_pipelining",
        ],
        work.path(),
    );
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains("1 test groups: 0 failed"), "{s}");
    let log = std::fs::read_to_string(work.path().join("rawlog.basics.1")).unwrap();
    assert!(log.contains("AUTHENTICATE PLAIN"), "{log}");
    assert!(log.contains("S: * OK"), "{log}");
    // every SASL mechanism against the real server (tools/dovecot enables them all)
    for mech in ["login", "cram-md5", "scram-sha-1", "scram-sha-256"] {
        let o = d.imaptest(
            &[&format!("test={}", one.display()), &format!("mech={mech}")],
            work.path(),
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "mech={mech}: {}",
            common::text(&o)
        );
    }
    // a wrong password is a clear setup error
    let o = d.imaptest(
        &[&format!("test={}", one.display()), "pass=wrong"],
        work.path(),
    );
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("login as testuser failed"), "{s}");
}
