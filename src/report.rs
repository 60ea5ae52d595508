//! What the run tells the user and CI: the console lines of the Perl runtest (test heading,
//! "Script completed", skips), and the `run-summary.log` (`NNNN P|F|.`) and
//! `failed-summary.log` (`Test NNNN <what> failed`) files.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A test's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skipped,
}

impl Verdict {
    pub fn letter(self) -> char {
        match self {
            Verdict::Pass => 'P',
            Verdict::Fail => 'F',
            Verdict::Skipped => '.',
        }
    }
}

/// The summary files of a run, in the suite folder.
pub struct Summaries {
    run: PathBuf,
    failed: PathBuf,
    enabled: bool,
}

impl Summaries {
    /// With -CONTINUE the Perl runtest writes both files, new for each run.
    pub fn new(suite: &Path, enabled: bool) -> Result<Summaries> {
        let s = Summaries {
            run: suite.join("run-summary.log"),
            failed: suite.join("failed-summary.log"),
            enabled,
        };
        if enabled {
            for f in [&s.run, &s.failed] {
                std::fs::write(f, "").with_context(|| format!("creating {}", f.display()))?;
            }
        }
        Ok(s)
    }

    fn append(path: &Path, line: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(f, "{line}").with_context(|| format!("writing {}", path.display()))
    }

    pub fn verdict(&self, testnum: u32, v: Verdict) -> Result<()> {
        if self.enabled {
            Self::append(&self.run, &format!("{testnum:04} {}", v.letter()))?;
        }
        Ok(())
    }

    pub fn failure(&self, testnum: u32, what: &str) -> Result<()> {
        if self.enabled {
            Self::append(&self.failed, &format!("Test {testnum:04} {what} failed"))?;
        }
        Ok(())
    }
}

/// The totals printed at the end.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub passed: Vec<u32>,
    pub failed: Vec<u32>,
    pub skipped: Vec<u32>,
}

impl Totals {
    pub fn add(&mut self, n: u32, v: Verdict) {
        match v {
            Verdict::Pass => self.passed.push(n),
            Verdict::Fail => self.failed.push(n),
            Verdict::Skipped => self.skipped.push(n),
        }
    }

    /// The closing line, in the form CI tools read: `N passed, N failed, N skipped`.
    pub fn line(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed.len(), self.failed.len(), self.skipped.len())
    }
}
