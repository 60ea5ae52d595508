//! `runtest --review`: accept or leave the pending outputs (`stdout/0042.new` …) that a
//! `--save-pending` run (typically in CI) wrote beside the saved files, one at a time, with
//! the difference shown as in a normal run.

use crate::review::{accept_pending, Answer, Asker, Prompt};
use anyhow::Result;
use std::path::Path;

/// The output folders whose files can be pending.
const FOLDERS: &[&str] = &[
    "paniclog",
    "rejectlog",
    "log",
    "stdout",
    "stderr",
    "mail",
    "msglog",
];

/// Every pending file of tests `first..=last`, as (saved file relative to the suite).
pub fn find(suite: &Path, first: u32, last: u32) -> Vec<String> {
    let mut out = Vec::new();
    for folder in FOLDERS {
        let root = suite.join(folder);
        for e in walkdir::WalkDir::new(&root)
            .min_depth(1)
            .into_iter()
            .flatten()
        {
            let Ok(rel) = e.path().strip_prefix(&root) else {
                continue;
            };
            let rel = rel.display().to_string();
            let Some(saved) = rel.strip_suffix(".new") else {
                continue;
            };
            let num: Option<u32> = saved.get(..4).and_then(|n| n.parse().ok());
            if e.file_type().is_file() && num.is_some_and(|n| n >= first && n <= last) {
                out.push(format!("{folder}/{saved}"));
            }
        }
    }
    out.sort_by(|a, b| {
        let n = |s: &str| {
            s.split('/')
                .nth(1)
                .and_then(|x| x.get(..4))
                .unwrap_or("")
                .to_string()
        };
        n(a).cmp(&n(b)).then(a.cmp(b))
    });
    out
}

/// Review them; returns how many were accepted.
pub fn review(
    suite: &Path,
    first: u32,
    last: u32,
    unified: bool,
    asker: &mut dyn Asker,
) -> Result<usize> {
    let pending = find(suite, first, last);
    if pending.is_empty() {
        println!("No pending outputs for tests {first}-{last}");
        return Ok(0);
    }
    let mut accepted = 0;
    for rel in &pending {
        let saved = suite.join(rel);
        let new_name = format!("{rel}.new");
        let old = std::fs::read(&saved)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let new = std::fs::read(suite.join(&new_name))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        println!(
            "\n** {new_name}{}",
            if saved.exists() {
                ""
            } else {
                " (no saved file yet)"
            }
        );
        let shown = if unified {
            crate::compare::unified(rel, &old, &new_name, &new)
        } else {
            crate::compare::cf(&new_name, &new, rel, &old)
        };
        super::page(&shown.unwrap_or_else(|| "(the same as the saved file)\n".into()));
        match asker.ask(Prompt::Pending)? {
            Answer::Update => {
                accept_pending(&saved)?;
                accepted += 1;
                println!("** Updated {rel}");
            }
            Answer::Continue => {}
            _ => break,
        }
    }
    println!("{accepted} of {} pending outputs accepted", pending.len());
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Fixed;

    #[test]
    fn finds_and_accepts_in_range() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for f in ["stdout", "log", "mail/0075.subdir"] {
            std::fs::create_dir_all(p.join(f)).unwrap();
        }
        std::fs::write(p.join("stdout/0042"), "old\n").unwrap();
        std::fs::write(p.join("stdout/0042.new"), "new\n").unwrap();
        std::fs::write(p.join("log/0043.new"), "").unwrap();
        std::fs::write(p.join("log/0043"), "gone\n").unwrap();
        std::fs::write(p.join("mail/0075.subdir/userx.new"), "m\n").unwrap();
        std::fs::write(p.join("stdout/0100.new"), "out of range\n").unwrap();
        assert_eq!(
            find(p, 1, 99),
            vec!["stdout/0042", "log/0043", "mail/0075.subdir/userx"]
        );
        let n = review(p, 1, 99, false, &mut Fixed(Answer::Update)).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            std::fs::read_to_string(p.join("stdout/0042")).unwrap(),
            "new\n"
        );
        assert!(!p.join("log/0043").exists());
        assert_eq!(
            std::fs::read_to_string(p.join("mail/0075.subdir/userx")).unwrap(),
            "m\n"
        );
        assert!(p.join("stdout/0100.new").exists());
        // Continue leaves them pending.
        std::fs::write(p.join("stdout/0042.new"), "newer\n").unwrap();
        assert_eq!(
            review(p, 1, 99, false, &mut Fixed(Answer::Continue)).unwrap(),
            0
        );
        assert!(p.join("stdout/0042.new").exists());
    }
}
