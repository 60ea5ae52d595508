//! Reporting scripted runs: each failure as it becomes final (the command, what was expected,
//! what came), the closing summary in the original's words, and JUnit / JSON files (one case
//! per group).
use super::run::{GroupResult, Verdict};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Prints one group's failures (nothing for a passing or skipped group).
pub fn print_group(out: &mut dyn Write, g: &GroupResult) -> std::io::Result<()> {
    if g.verdict != Verdict::Failed {
        return Ok(());
    }
    if let Some(e) = &g.error {
        writeln!(out, "*** Test {}: {e}", g.name)?;
    }
    for f in &g.failures {
        writeln!(
            out,
            "*** Test {} command {} (line {})",
            g.name, f.index, f.line
        )?;
        writeln!(out, " - failed: {}", f.reason)?;
        writeln!(out, " - Command: {}", f.command)?;
        for e in &f.expected {
            writeln!(out, " - Expected: {e}")?;
        }
        for got in &f.got {
            writeln!(out, " - Got: {got}")?;
        }
    }
    out.flush()
}

/// Totals over a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub groups: usize,
    pub failed: usize,
    pub skipped: usize,
    pub base: (usize, usize),
    pub ext: (usize, usize),
}

pub fn totals(groups: &[GroupResult]) -> Totals {
    let mut t = Totals {
        groups: groups.len(),
        ..Totals::default()
    };
    for g in groups {
        match g.verdict {
            Verdict::Failed => t.failed += 1,
            Verdict::Skipped => {
                t.skipped += 1;
                continue;
            }
            Verdict::Passed => {}
        }
        let slot = if g.extension { &mut t.ext } else { &mut t.base };
        slot.0 += g.failed_commands;
        slot.1 += g.commands;
    }
    t
}

/// The closing summary, as the original prints it.
pub fn summary(t: &Totals) -> String {
    format!(
        "{} test groups: {} failed, {} skipped due to missing capabilities\nbase protocol: {}/{} individual commands failed\nextensions: {}/{} individual commands failed\n",
        t.groups, t.failed, t.skipped, t.base.0, t.base.1, t.ext.0, t.ext.1
    )
}

/// Writes a JUnit XML file: one test suite, one case per group.
pub fn write_junit(path: &Path, groups: &[GroupResult]) -> Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("imaptest");
    for g in groups {
        let status = match g.verdict {
            Verdict::Passed => TestCaseStatus::success(),
            Verdict::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("missing capabilities: {}", g.missing.join(" ")));
                s
            }
            Verdict::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut text = Vec::new();
                let _ = print_group(&mut text, g);
                s.set_message(format!(
                    "{} of {} commands failed",
                    g.failed_commands, g.commands
                ));
                s.set_description(String::from_utf8_lossy(&text).into_owned());
                s
            }
        };
        let mut case = TestCase::new(g.name.clone(), status);
        case.set_time(std::time::Duration::from_secs_f64(g.seconds));
        case.set_classname(if g.extension {
            "imaptest.extensions"
        } else {
            "imaptest.base"
        });
        suite.add_test_case(case);
    }
    let mut report = Report::new("imaptest");
    report.add_test_suite(suite);
    let xml = report.to_string().context("JUnit report")?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}

/// Writes a JSON file: `{"groups": [...], "summary": {...}}`.
pub fn write_json(path: &Path, groups: &[GroupResult]) -> Result<()> {
    let t = totals(groups);
    let v = serde_json::json!({
        "groups": groups,
        "summary": {
            "groups": t.groups, "failed": t.failed, "skipped": t.skipped,
            "base_failed": t.base.0, "base_commands": t.base.1,
            "extensions_failed": t.ext.0, "extensions_commands": t.ext.1,
        }
    });
    let text = serde_json::to_string_pretty(&v).context("JSON report")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str, verdict: Verdict, ext: bool, n: usize, f: usize) -> GroupResult {
        GroupResult {
            name: name.into(),
            verdict,
            missing: vec![],
            extension: ext,
            commands: n,
            failed_commands: f,
            failures: vec![],
            error: None,
            setup_lost: false,
            seconds: 0.1,
        }
    }

    #[test]
    fn summary_lines() {
        let gs = vec![
            g("a", Verdict::Passed, false, 5, 0),
            g("b", Verdict::Failed, true, 4, 2),
            g("c", Verdict::Skipped, true, 9, 0),
        ];
        assert_eq!(
            summary(&totals(&gs)),
            "3 test groups: 1 failed, 1 skipped due to missing capabilities\nbase protocol: 0/5 individual commands failed\nextensions: 2/4 individual commands failed\n"
        );
    }

    #[test]
    fn junit_and_json_files() {
        let dir = tempfile::tempdir().unwrap();
        let gs = vec![
            g("a", Verdict::Passed, false, 5, 0),
            g("b", Verdict::Failed, true, 4, 2),
        ];
        write_junit(&dir.path().join("j.xml"), &gs).unwrap();
        let xml = std::fs::read_to_string(dir.path().join("j.xml")).unwrap();
        assert!(
            xml.contains("testcase name=\"a\"") && xml.contains("<failure"),
            "{xml}"
        );
        write_json(&dir.path().join("r.json"), &gs).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap())
                .unwrap();
        assert_eq!(v["groups"][1]["verdict"], "failed");
        assert_eq!(v["summary"]["extensions_failed"], 2);
    }
}
