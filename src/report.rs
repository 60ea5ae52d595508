//! What the run tells the user and CI: the console lines of the Perl runtest (test heading,
//! "Script completed", skips, the pager), the `run-summary.log` (`NNNN P|F|.`) and
//! `failed-summary.log` (`Test NNNN <what> failed`) files, and the JUnit and JSON reports.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Show text through a pager on a terminal, else print it.
pub fn page(text: &str) {
    use std::io::{IsTerminal, Write};
    if std::io::stdout().is_terminal() && which::which("less").is_ok() {
        if let Ok(mut child) = std::process::Command::new("less")
            .arg("-XF")
            .stdin(std::process::Stdio::piped())
            .spawn()
        {
            if let Some(mut s) = child.stdin.take() {
                let _ = s.write_all(text.as_bytes());
            }
            let _ = child.wait();
            return;
        }
    }
    print!("{text}");
}

/// A test's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skipped,
    /// Cut short by Ctrl-C: no verdict on the test itself (not written to run-summary.log).
    Interrupted,
}

impl Verdict {
    /// The letter of run-summary.log (`I` only in the JSON report).
    pub fn letter(self) -> char {
        match self {
            Verdict::Pass => 'P',
            Verdict::Fail => 'F',
            Verdict::Skipped => '.',
            Verdict::Interrupted => 'I',
        }
    }
}

impl serde::Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_char(self.letter())
    }
}

/// The summary files of a run, in the suite folder, and the failure reasons of each test
/// (kept for the JUnit and JSON reports). A test's lines are written, and reach the file at
/// once, when its verdict is final ([`Summaries::finish`]): a run that is killed or crashes
/// keeps every verdict so far.
pub struct Summaries {
    run: PathBuf,
    failed: PathBuf,
    enabled: bool,
    reasons: std::sync::Mutex<std::collections::BTreeMap<u32, Vec<String>>>,
    /// Serialises writers (tests end on several workers).
    write_lock: std::sync::Mutex<()>,
    /// The first error writing the files (the run goes on; runtest exits 2 at the end).
    write_error: std::sync::Mutex<Option<String>>,
}

impl Summaries {
    /// With -CONTINUE the Perl runtest writes both files, new for each run.
    pub fn new(suite: &Path, enabled: bool) -> Result<Summaries> {
        let s = Summaries {
            run: suite.join("run-summary.log"),
            failed: suite.join("failed-summary.log"),
            enabled,
            reasons: Default::default(),
            write_lock: Default::default(),
            write_error: Default::default(),
        };
        if enabled {
            for f in [&s.run, &s.failed] {
                std::fs::write(f, "").with_context(|| format!("creating {}", f.display()))?;
                crate::elevate::give_back(f);
            }
        }
        Ok(s)
    }

    fn append(path: &Path, text: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        // One write(2) per test: the kernel has the lines even if runtest dies next.
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        f.flush()
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Note one thing that failed in a test (a saved file's name, "exit code unexpected" …),
    /// written with its verdict.
    pub fn failure(&self, testnum: u32, what: &str) {
        if let Ok(mut r) = self.reasons.lock() {
            r.entry(testnum).or_default().push(what.to_string());
        }
    }

    /// A test's verdict is final: append its run-summary.log line and, when it failed, its
    /// failed-summary.log lines (`Test NNNN <what> failed`). Interrupted tests have no line.
    /// A write error is said once and kept for [`Summaries::write_error`]; the run goes on.
    pub fn finish(&self, testnum: u32, v: Verdict, failures: &[String]) {
        if !self.enabled || v == Verdict::Interrupted {
            return;
        }
        let _g = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = Ok(());
        if v == Verdict::Fail {
            let mut lines: String = failures
                .iter()
                .map(|w| format!("Test {testnum:04} {w} failed\n"))
                .collect();
            if lines.is_empty() {
                lines = format!("Test {testnum:04} failed\n");
            }
            written = Self::append(&self.failed, &lines);
        }
        let written = written
            .and_then(|_| Self::append(&self.run, &format!("{testnum:04} {}\n", v.letter())));
        if let Err(e) = written {
            let mut first = self.write_error.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                eprintln!("** {e:#}");
                *first = Some(format!("{e:#}"));
            }
        }
    }

    /// The run is over: put both files in test order, as a serial run writes them (under
    /// `-j` lines were appended as tests ended). Each file is replaced atomically, so a crash
    /// here still leaves every verdict; an error is kept like a write error.
    pub fn close(&self) {
        if !self.enabled {
            return;
        }
        let _g = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        for (path, number_at) in [(&self.run, 0usize), (&self.failed, 1usize)] {
            let sorted = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))
                .map(|text| in_test_order(&text, number_at))
                .and_then(|text| crate::review::write_atomically(path, &text));
            if let Err(e) = sorted {
                let mut first = self.write_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }

    /// The first error writing the summary files, if any.
    pub fn write_error(&self) -> Option<String> {
        self.write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What failed in a test (saved file names, "exit code unexpected", …), and forget it
    /// (a rerun starts afresh).
    pub fn take_reasons(&self, testnum: u32) -> Vec<String> {
        self.reasons
            .lock()
            .map(|mut r| r.remove(&testnum).unwrap_or_default())
            .unwrap_or_default()
    }
}

/// One test's result, for the machine-readable reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestRecord {
    pub number: u32,
    /// `Basic/0042`.
    pub name: String,
    pub folder: String,
    pub heading: String,
    pub verdict: Verdict,
    pub seconds: f64,
    /// When it started, in seconds from the start of the run (a timeline of a `-j` run).
    pub started: f64,
    /// The CPU-seconds its processes used (see `exec::cpu`).
    pub cpu_seconds: f64,
    /// Why it failed: the saved files that differed, "exit code unexpected", …
    pub failures: Vec<String>,
    /// What runtest printed for the test (differences included).
    pub output: String,
    /// Where the test's time went, phase by phase and command by command (the last round
    /// when it was retried).
    pub steps: Vec<StepTime>,
    /// Set when the test failed while running side by side and passed when rerun alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_first: Option<FirstRun>,
    /// The failure comes from the suite's own files (a script that does not parse, a
    /// [`crate::suite::Fault`]): a rerun alone would fail the same way.
    #[serde(skip)]
    pub settled: bool,
    /// It failed, and only because saved files came out with their lines in another order:
    /// the mark of a race between processes, which load decides.
    #[serde(skip)]
    pub reordered: bool,
}

/// The failing first run of a test that passed when rerun alone (a flaky run, for JUnit).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FirstRun {
    pub failures: Vec<String>,
    pub output: String,
    pub seconds: f64,
}

/// The time one phase of a test took: `setup` (a fresh spool), a script command (by its
/// line), or `check` (munging and comparing the outputs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepTime {
    /// The script line of a command; 0 for the phases around the script.
    pub line: usize,
    /// The command's name (`exim`, `client`, `sleep` …), or `setup` / `check`.
    pub what: &'static str,
    pub seconds: f64,
}

/// Write a JUnit XML report (one test suite per folder), atomically.
pub fn write_junit(path: &Path, records: &[TestRecord], total_seconds: f64) -> Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};
    let mut report = Report::new("runtest");
    report.set_time(std::time::Duration::from_secs_f64(total_seconds));
    let mut suites: std::collections::BTreeMap<&str, TestSuite> = std::collections::BTreeMap::new();
    for r in records {
        let suite = suites
            .entry(&r.folder)
            .or_insert_with(|| TestSuite::new(r.folder.clone()));
        let status = match r.verdict {
            Verdict::Pass => {
                let mut s = TestCaseStatus::success();
                // Failed side by side, passed alone: a flaky run, as nextest reports them.
                if let Some(first) = &r.failed_first {
                    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                    rerun.set_message(first.failures.join(", "));
                    rerun.set_type("mismatch");
                    rerun.set_description(first.output.clone());
                    rerun.set_time(std::time::Duration::from_secs_f64(first.seconds));
                    s.add_rerun(rerun);
                }
                s
            }
            Verdict::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(if r.failures.is_empty() {
                    "requirements not met".to_string()
                } else {
                    r.failures.join(", ")
                });
                s
            }
            Verdict::Interrupted => {
                let mut s = TestCaseStatus::skipped();
                s.set_message("interrupted (Ctrl-C)");
                s
            }
            Verdict::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(r.failures.join(", "));
                s.set_type("mismatch");
                s.set_description(r.output.clone());
                s
            }
        };
        let mut case = TestCase::new(format!("{} {}", r.name, r.heading), status);
        case.set_classname(r.folder.clone());
        case.set_time(std::time::Duration::from_secs_f64(r.seconds));
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    let xml = report.to_string().context("rendering the JUnit report")?;
    crate::review::write_saved(path, &xml)
}

/// Write the JSON report: `{"tests": [...], "passed": N, "failed": N, "skipped": N}`.
pub fn write_json(path: &Path, records: &[TestRecord], total_seconds: f64) -> Result<()> {
    let count = |v: Verdict| records.iter().filter(|r| r.verdict == v).count();
    let v = serde_json::json!({
        "passed": count(Verdict::Pass),
        "failed": count(Verdict::Fail),
        "skipped": count(Verdict::Skipped),
        "interrupted": count(Verdict::Interrupted),
        "seconds": total_seconds,
        "tests": records,
    });
    let text = serde_json::to_string_pretty(&v).context("rendering the JSON report")? + "\n";
    crate::review::write_saved(path, &text)
}

/// The totals printed at the end.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub passed: Vec<u32>,
    pub failed: Vec<u32>,
    pub skipped: Vec<u32>,
    pub interrupted: Vec<u32>,
}

impl Totals {
    pub fn add(&mut self, n: u32, v: Verdict) {
        match v {
            Verdict::Pass => self.passed.push(n),
            Verdict::Fail => self.failed.push(n),
            Verdict::Skipped => self.skipped.push(n),
            Verdict::Interrupted => self.interrupted.push(n),
        }
    }

    /// The closing line, in the form CI tools read: `N passed, N failed, N skipped`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed, {} skipped",
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        );
        if !self.interrupted.is_empty() {
            line.push_str(&format!(", {} interrupted", self.interrupted.len()));
        }
        line
    }
}

/// The lines of a summary file ordered by the test number in their word `number_at` (a
/// stable sort: one test's lines keep their order; lines without a number go last).
fn in_test_order(text: &str, number_at: usize) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| {
        l.split_whitespace()
            .nth(number_at)
            .and_then(|w| w.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod order_tests {
    use super::in_test_order;

    #[test]
    fn summaries_are_put_in_test_order() {
        assert_eq!(
            in_test_order("0002 P\n0001 F\n0010 .\n", 0),
            "0001 F\n0002 P\n0010 .\n"
        );
        assert_eq!(
            in_test_order(
                "Test 0005 b failed\nTest 0003 x failed\nTest 0005 a failed\n",
                1
            ),
            "Test 0003 x failed\nTest 0005 b failed\nTest 0005 a failed\n"
        );
        assert_eq!(in_test_order("", 0), "");
    }
}
