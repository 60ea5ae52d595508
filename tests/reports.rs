//! The CI reports, read back by real consumers: the JUnit XML by `junit-parser` (a JUnit
//! reader library) and the JSON by serde_json, for a run with a pass, a failure and a folder
//! skipped for its requirements, run with two workers. Needs root and Debian's exim4.

mod common;

use common::ready;
use std::process::Stdio;

#[test]
fn junit_and_json_reports_are_readable() {
    if !ready() {
        return;
    }
    let conf = common::MINIMAL_CONF;
    let d = common::suite(
        "mailrig-reports",
        &[
            ("confs/0001", conf),
            ("confs/0002", conf),
            ("confs/5000", conf),
            (
                "scripts/0000-Basic/0001",
                "# Passes\nexim -be\n${length_2:abc}\n****\n",
            ),
            ("stdout/0001", "> ab\n> \n"),
            ("scripts/0000-Basic/0002", "# Fails\nexim -be\nxyz\n****\n"),
            ("stdout/0002", "> not xyz\n> \n"),
            ("scripts/5000-Never/5000", "# Never runs\nexim -be\n****\n"),
            ("scripts/5000-Never/REQUIRES", "support NoSuchFeature\n"),
        ],
    );
    let p = d.path();
    let status = common::runtest(p)
        .args(["-CONTINUE", "-j", "2", "--port-offset", "720", "--junit"])
        .arg(p.join("junit.xml"))
        .arg("--json")
        .arg(p.join("report.json"))
        .args(["--fail-exit", "1", "+"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "--fail-exit with a failure");

    let xml = std::fs::read(p.join("junit.xml")).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml)).unwrap();
    assert_eq!(suites.tests, 3);
    assert_eq!(suites.failures, 1);
    assert_eq!(suites.skipped, 1);
    let basic = suites
        .suites
        .iter()
        .find(|s| s.name == "0000-Basic")
        .unwrap();
    let failing = basic
        .cases
        .iter()
        .find(|c| c.name.ends_with("::Basic/0002 Fails"))
        .unwrap();
    match &failing.status {
        junit_parser::TestStatus::Failure(f) => {
            assert_eq!(f.message, "stdout/0002");
            assert!(f.text.contains("does not match"), "{}", f.text);
        }
        other => panic!("0002 should fail: {other:?}"),
    }
    let passing = basic
        .cases
        .iter()
        .find(|c| c.name.ends_with("::Basic/0001 Passes"))
        .unwrap();
    assert!(passing.status.is_success());

    let json = common::report_json(p);
    assert_eq!(
        (
            json["passed"].as_u64(),
            json["failed"].as_u64(),
            json["skipped"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(
        tests
            .iter()
            .map(|t| t["number"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 5000]
    );
    assert_eq!(tests[1]["failures"][0], "stdout/0002");
    assert_eq!(tests[2]["verdict"], ".");
    // run-summary.log is in test order even with two workers.
    assert_eq!(
        common::read(p, "run-summary.log"),
        "0001 P\n0002 F\n5000 .\n"
    );
}

/// A test that fails only while another runs beside it is rerun alone after the parallel
/// run: its verdict is that of a serial run, its first failure is kept as a flaky run in the
/// reports, and failed-summary.log no longer names it.
#[test]
fn a_failure_side_by_side_is_rerun_alone() {
    if !ready() {
        return;
    }
    let conf = common::MINIMAL_CONF;
    let marker = format!("/tmp/mailrig-busy-{}", std::process::id());
    let holder = format!("# Holds a marker file for two seconds\nperl\nopen(F, \">{marker}\"); close F; sleep 2; unlink \"{marker}\";\n****\n");
    let checker = format!("# Passes only when nothing else runs\nperl\nselect(undef, undef, undef, 0.5); print -e \"{marker}\" ? \"busy\\n\" : \"idle\\n\";\n****\n");
    let d = common::suite(
        "mailrig-rerun",
        &[
            ("confs/0001", conf),
            ("confs/0002", conf),
            ("scripts/0000-Basic/0001", &holder),
            ("scripts/0000-Basic/0002", &checker),
            ("stdout/0002", "idle\n"),
        ],
    );
    let p = d.path();
    let out = common::runtest(p)
        .args(["-CONTINUE", "-j", "2", "--port-offset", "740", "--json"])
        .arg(p.join("report.json"))
        .args(["--junit"])
        .arg(p.join("junit.xml"))
        .args(["--fail-exit", "1", "2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("1 test(s) failed side by side; rerunning them alone:"),
        "{stdout}"
    );
    assert!(stdout.contains("[rerun] 0002 P"), "{stdout}");
    assert!(
        stdout.contains("Failed side by side, passed alone: 0002"),
        "{stdout}"
    );
    assert_eq!(common::read(p, "run-summary.log"), "0001 P\n0002 P\n");
    assert_eq!(common::read(p, "failed-summary.log"), "");
    let json = common::report_json(p);
    let second = &json["tests"][1];
    assert_eq!(second["verdict"], "P");
    assert_eq!(second["failed_first"]["failures"][0], "stdout/0002");
    assert!(json["tests"][0].get("failed_first").is_none());
    let xml = common::read(p, "junit.xml");
    assert!(xml.contains("<flakyFailure"), "{xml}");
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
    assert_eq!((suites.tests, suites.failures), (2, 0));
}

/// With enough workers, a test that fails side by side and mostly waits is rerun at once, in
/// a lane kept for that, while the side-by-side tests go on nicer than it: a pass there is
/// final, with the first failure kept as a flaky run.
/// A suite of eight tests (so that -j 8 gives eight workers, two of them the early reruns'
/// lanes): `files` for the tests numbered in `own`, a quick passing test for the others.
fn eight_tests(name: &str, mut files: Vec<(String, String)>, own: &[u32]) -> tempfile::TempDir {
    for n in 1..=8 {
        files.push((format!("confs/{n:04}"), common::MINIMAL_CONF.into()));
        if !own.contains(&n) {
            files.push((
                format!("scripts/0000-Basic/{n:04}"),
                "# Passes\nexim -be\n${length_2:abc}\n****\n".into(),
            ));
            files.push((format!("stdout/{n:04}"), "> ab\n> \n".into()));
        }
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    common::suite(name, &files)
}

#[test]
fn a_waiting_failure_is_rerun_at_once_at_a_higher_priority() {
    if !ready() || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    // in /tmp: the scripts' perl may run as another user than this test
    let file = |what: &str| {
        std::path::PathBuf::from(format!("/tmp/mailrig-early-{}-{what}", std::process::id()))
    };
    let (count, busy_nice, rerun_nice) = (file("count"), file("busy-nice"), file("rerun-nice"));
    for f in [&count, &busy_nice, &rerun_nice] {
        let _ = std::fs::remove_file(f);
    }
    // The long neighbour notes its nice value; the flaky test fails on its first run only
    // and notes the nice value of the run that passes.
    let long = format!(
        "# Long neighbour\nperl\nopen(F, \">{}\"); print F getpriority(0, 0), \"\\n\"; close F; sleep 4;\n****\n",
        busy_nice.display()
    );
    let flaky = format!(
        "# Fails on its first run\nperl\nselect(undef, undef, undef, 0.3); if (-e \"{c}\") {{ open(F, \">{r}\"); print F getpriority(0, 0), \"\\n\"; close F; print \"second\\n\" }} else {{ open(F, \">{c}\"); close F; print \"first\\n\" }}\n****\n",
        c = count.display(),
        r = rerun_nice.display()
    );
    let files: Vec<(String, String)> = vec![
        ("scripts/0000-Basic/0001".into(), long),
        ("scripts/0000-Basic/0002".into(), flaky),
        ("stdout/0002".into(), "second\n".into()),
    ];
    let s = eight_tests("mailrig-early", files, &[1, 2]);
    let p = s.path();
    let out = common::runtest(p)
        .args(["-CONTINUE", "-j", "8", "--port-offset", "820", "--json"])
        .arg(p.join("report.json"))
        .args(["1", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let read = |f: &std::path::Path| -> i32 {
        let n = std::fs::read_to_string(f)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(-99);
        let _ = std::fs::remove_file(f);
        n
    };
    let (busy, rerun) = (read(&busy_nice), read(&rerun_nice));
    let _ = std::fs::remove_file(&count);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("[rerun] 0002 P")
            && stdout.contains("(at once, before the tests beside it)"),
        "{stdout}"
    );
    // it was final there: no rerun after the phase
    assert!(
        !stdout.contains("failed side by side; rerunning"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Failed side by side, passed alone: 0002"),
        "{stdout}"
    );
    assert!(
        common::read(p, "run-summary.log").starts_with("0001 P\n0002 P\n0003 P\n"),
        "{stdout}"
    );
    let json = common::report_json(p);
    assert_eq!(
        json["tests"][1]["failed_first"]["failures"][0],
        "stdout/0002"
    );
    // SAFETY: a plain system call.
    let own = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    assert_eq!(
        busy,
        (own + 10).min(19),
        "the side-by-side test's nice value"
    );
    assert_eq!(rerun, own, "the early rerun's nice value");
}

/// An early rerun that fails exactly as the test failed side by side is final (no rerun after
/// the phase); one that fails in another way is rerun after the phase.
#[test]
fn an_early_rerun_that_repeats_the_failure_is_final() {
    if !ready() || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let count = std::path::PathBuf::from(format!(
        "/tmp/mailrig-early-final-{}-count",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&count);
    // 0002 fails the same way every time; 0003 prints how many times it ran
    let same =
        "# Fails the same way\nperl\nselect(undef, undef, undef, 0.3); print \"same\\n\"\n****\n";
    let differs = format!(
        "# Fails differently each time\nperl\nselect(undef, undef, undef, 0.3); open(F, \"+>>{c}\"); print F \"x\"; seek(F, 0, 0); $n = length(<F>); close F; print \"run $n\\n\"\n****\n",
        c = count.display()
    );
    let files: Vec<(String, String)> = vec![
        ("scripts/0000-Basic/0002".into(), same.into()),
        ("stdout/0002".into(), "other\n".into()),
        ("scripts/0000-Basic/0003".into(), differs),
        ("stdout/0003".into(), "other\n".into()),
    ];
    let s = eight_tests("mailrig-early-final", files, &[2, 3]);
    let p = s.path();
    let out = common::runtest(p)
        .args(["-CONTINUE", "-j", "8", "--port-offset", "840", "1", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs = std::fs::read_to_string(&count).unwrap_or_default().len();
    let _ = std::fs::remove_file(&count);
    // failures under -CONTINUE end with 0, as in the Perl runtest
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("[rerun] 0002 F")
            && stdout.contains(
                "(at once, before the tests beside it; the same failure as beside them: final)"
            ),
        "{stdout}"
    );
    assert!(
        stdout.contains("(at once, before the tests beside it; rerun again after them)"),
        "{stdout}"
    );
    // only 0003 is rerun after the phase, and it ran three times in all
    let after = stdout
        .split("failed side by side; rerunning")
        .nth(1)
        .and_then(|a| a.split("Failed tests:").next())
        .unwrap_or_else(|| panic!("no reruns after the phase: {stdout}"));
    assert!(
        stdout.contains("\n1 test(s) failed side by side; rerunning") && !after.contains("0002"),
        "{stdout}"
    );
    assert_eq!(runs, 3, "{stdout}");
    assert!(
        common::read(p, "run-summary.log").starts_with("0001 P\n0002 F\n0003 F\n0004 P\n"),
        "{stdout}"
    );
}

/// A panic inside runtest while it runs a test (provoked through runtest's test hook) fails
/// that test alone, named with the script's file:line in the console, in failed-summary.log
/// and in the JSON report; the other tests run on and keep their verdicts, serially and
/// side by side.
#[test]
fn a_panic_fails_that_test_alone() {
    if !ready() {
        return;
    }
    let conf = common::MINIMAL_CONF;
    let d = common::suite(
        "mailrig-panic",
        &[
            ("confs/0001", conf),
            ("confs/0002", conf),
            ("confs/0003", conf),
            (
                "scripts/0000-Basic/0001",
                "# Passes\nexim -be\n${length_2:abc}\n****\n",
            ),
            ("stdout/0001", "> ab\n> \n"),
            (
                "scripts/0000-Basic/0002",
                "# Panics\nexim -be\n${length_2:abc}\n****\n#\nexim -be PANIC-HERE\n****\n",
            ),
            (
                "scripts/0000-Basic/0003",
                "# Passes after the panic\nexim -be\n${length_2:xyz}\n****\n",
            ),
            ("stdout/0003", "> xy\n> \n"),
        ],
    );
    let p = d.path();
    for jobs in ["1", "2"] {
        let out = common::runtest(p)
            .args(["-CONTINUE", "-j", jobs, "--port-offset", "780", "--json"])
            .arg(p.join("report.json"))
            .args(["--fail-exit", "1", "3"])
            .env("MAILRIG_TEST_PANIC_AT", "exim -be PANIC-HERE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let at = format!(
            "{}:6: runtest panicked:",
            p.join("scripts/0000-Basic/0002").display()
        );
        assert_eq!(out.status.code(), Some(1), "-j {jobs}: {stdout}");
        assert!(stdout.contains(&format!("** {at}")), "-j {jobs}: {stdout}");
        assert_eq!(
            common::read(p, "run-summary.log"),
            "0001 P\n0002 F\n0003 P\n",
            "-j {jobs}"
        );
        let failed = common::read(p, "failed-summary.log");
        assert!(failed.contains(&at), "-j {jobs}: {failed}");
        let json = common::report_json(p);
        let reason = json["tests"][1]["failures"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains(&at), "-j {jobs}: {reason}");
    }
}
