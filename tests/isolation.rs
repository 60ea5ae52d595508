//! A problem in one test stays there, and nothing is lost: a run over a suite holding broken
//! tests (an unknown munge, a script line that once panicked runtest, a missing conf), a
//! folder with a REQUIRES line runtest does not know, an underscore folder, `need_ipv6`
//! under `-NOIPV6`, and `$msg2` with one message, gives each test its own verdict — the
//! same with `-j 2` as with `-j 1` — with `file:line` in failed-summary.log, JUnit and JSON.
//! A Ctrl-C'd run reports the test it cut short as interrupted, not failed, and keeps every
//! verdict so far. Needs root and Debian's exim4.

mod common;

use common::ready;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn broken_suite() -> tempfile::TempDir {
    let conf = common::MINIMAL_CONF;
    common::suite(
        "mailrig-isolation",
        &[
            ("confs/0001", conf),
            ("scripts/0000-Basic/0001", "# Passes\nexim -be\n${length_2:abc}\n****\n"),
            ("stdout/0001", "> ab\n> \n"),
            ("confs/0002", conf),
            ("scripts/0000-Basic/0002", "# Needs IPv6\nneed_ipv6\nexim -be\nx\n****\n"),
            ("confs/0003", conf),
            ("scripts/0000-Basic/0003", "# Unknown munge\n\nmunge no_such_munge\nexim -be\nx\n****\n"),
            ("scripts/0000-Basic/0004", "# Leading blank\n café -bV\n****\n"),
            ("scripts/0000-Basic/0005", "# No conf\nexim -be\nx\n****\n"),
            ("confs/0006", "exim_path = EXIM_PATH\nspool_directory = DIR/spool\nlog_file_path = syslog\nkeep_environment = PATH\nprimary_hostname = myhost.test.ex\n"),
            // Only one message: $msg2 stays as written (the shell makes it empty).
            ("scripts/0000-Basic/0006", "# msg2\nexim -odq a@b\nSubject: x\n\n.\n****\nexim -Mrm $msg1 $msg2\n****\nno_stdout_check\nno_stderr_check\nno_msglog_check\n"),
            ("confs/5000", conf),
            ("scripts/5000-Bad/5000", "# Never runs\nexim -be\n****\n"),
            ("scripts/5000-Bad/REQUIRES", "support IPv4\nneeds magic\n"),
            ("confs/6000", conf),
            ("scripts/6000_under_score/6000", "# Underscore folder\nexim -be\n${length_2:abc}\n****\n"),
            ("stdout/6000", "> ab\n> \n"),
            ("confs/7000", conf),
            ("scripts/7000-Maildir/7000", "# Maildir\nexim -be\n${length_2:abc}\n****\n"),
            ("scripts/7000-Maildir/REQUIRES", "transport appendfile/maildir\n"),
            ("stdout/7000", "> ab\n> \n"),
        ],
    )
}

fn run(p: &std::path::Path, jobs: &str, offset: &str) -> (i32, String) {
    let out = common::runtest(p)
        .args([
            "-CONTINUE",
            "-NOIPV6",
            "-j",
            jobs,
            "--port-offset",
            offset,
            "--junit",
        ])
        .arg(p.join("junit.xml"))
        .arg("--json")
        .arg(p.join("report.json"))
        .args(["1", "+"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn summary(p: &std::path::Path) -> Vec<String> {
    let mut l: Vec<String> = common::read(p, "run-summary.log")
        .lines()
        .map(String::from)
        .collect();
    l.sort();
    l
}

#[test]
fn each_problem_stays_in_its_test() {
    if !ready() {
        return;
    }
    let d = broken_suite();
    let p = d.path();
    let want = [
        "0001 P", "0002 .", "0003 F", "0004 F", "0005 F", "0006 P", "5000 .", "6000 P", "7000 P",
    ];
    for (jobs, offset) in [("2", "800"), ("1", "840")] {
        let (code, stdout) = run(p, jobs, offset);
        assert_eq!(code, 0, "-j {jobs}: the run goes on to its end\n{stdout}");
        assert_eq!(summary(p), want, "-j {jobs}\n{stdout}");
        let failed = common::read(p, "failed-summary.log");
        let script = |n: &str| p.join("scripts/0000-Basic").join(n).display().to_string();
        for (n, line, what) in [
            ("0003", 3, "unknown munge `no_such_munge`"),
            ("0004", 2, "unknown command: café -bV"),
        ] {
            let at = format!("{}:{line}: ", script(n));
            assert!(
                failed.lines().any(|l| l.starts_with(&format!("Test {n} "))
                    && l.contains(&at)
                    && l.contains(what)),
                "-j {jobs}: {failed}"
            );
            assert!(
                stdout.contains(&at),
                "-j {jobs}: console lacks {at}\n{stdout}"
            );
        }
        assert!(
            failed.contains("confs/0005: cannot read the test's configuration"),
            "{failed}"
        );
        assert!(
            stdout.contains("REQUIRES:2: bad requirement `needs magic`"),
            "{stdout}"
        );
        assert_eq!(failed.lines().count(), 3, "-j {jobs}: {failed}");

        let json = common::report_json(p);
        assert_eq!(
            (
                json["passed"].as_u64(),
                json["failed"].as_u64(),
                json["skipped"].as_u64()
            ),
            (Some(4), Some(3), Some(2))
        );
        let t3 = json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["number"] == 3)
            .unwrap();
        assert!(
            t3["failures"][0]
                .as_str()
                .unwrap()
                .contains(&format!("{}:3: ", script("0003"))),
            "{t3}"
        );
        let t2 = json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["number"] == 2)
            .unwrap();
        assert_eq!(t2["verdict"], ".");

        let xml = std::fs::read(p.join("junit.xml")).unwrap();
        let suites = junit_parser::from_reader(std::io::Cursor::new(xml)).unwrap();
        assert_eq!((suites.tests, suites.failures, suites.skipped), (9, 3, 2));
        let bad = suites.suites.iter().find(|s| s.name == "5000-Bad").unwrap();
        match &bad.cases[0].status {
            junit_parser::TestStatus::Skipped(s) => assert!(
                s.message.contains("REQUIRES:2: bad requirement"),
                "{}",
                s.message
            ),
            other => panic!("5000 should be skipped: {other:?}"),
        }
    }
}

#[test]
fn ctrl_c_interrupts_without_failing() {
    if !ready() {
        return;
    }
    let conf = common::MINIMAL_CONF;
    let d = common::suite(
        "mailrig-interrupt",
        &[
            ("confs/0001", conf),
            (
                "scripts/0000-Basic/0001",
                "# Passes\nexim -be\n${length_2:abc}\n****\n",
            ),
            ("stdout/0001", "> ab\n> \n"),
            ("confs/0002", conf),
            (
                "scripts/0000-Basic/0002",
                "# Sleeps\nsleep 60\nexim -be\nx\n****\n",
            ),
        ],
    );
    let p = d.path();
    let mut child = common::runtest(p)
        .args(["-CONTINUE", "-j", "2", "--port-offset", "880", "--json"])
        .arg(p.join("report.json"))
        .args(["1", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Once 0001 has its verdict, 0002 is asleep: interrupt the run.
    let start = Instant::now();
    while !std::fs::read_to_string(p.join("run-summary.log"))
        .unwrap_or_default()
        .contains("0001 P")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "0001 never passed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "the interrupt did not cut the sleep short"
    );
    assert_eq!(status.code(), Some(130));
    assert_eq!(common::read(p, "run-summary.log"), "0001 P\n");
    assert_eq!(common::read(p, "failed-summary.log"), "");
    let json = common::report_json(p);
    assert_eq!(
        (
            json["passed"].as_u64(),
            json["failed"].as_u64(),
            json["interrupted"].as_u64()
        ),
        (Some(1), Some(0), Some(1))
    );
}
