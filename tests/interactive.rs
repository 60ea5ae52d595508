//! The interactive review, driven through a real pseudo-terminal: a test whose saved output
//! is wrong must show the cf-style difference and the Perl runtest's prompt; "u" must update
//! the saved file atomically and rerun the test, which then passes; "q" must stop the run and
//! keep the test's files. Needs root and Debian's exim4 (CI has both).

mod common;

use common::ready;
use std::path::{Path, PathBuf};

fn runtest() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_runtest"))
}

/// A one-test suite: `exim -be` prints a known string; the saved stdout says otherwise.
fn suite(saved: &str) -> tempfile::TempDir {
    common::suite(
        "mailrig-it",
        &[
            (
                "scripts/0000-Basic/0001",
                "# Expansion of a constant\nexim -be\nabc${length_1:xyz}\n****\n",
            ),
            ("confs/0001", common::MINIMAL_CONF),
            ("stdout/0001", saved),
        ],
    )
}

fn spawn(suite: &Path) -> rexpect::session::PtySession {
    let cmd = format!(
        "{} /usr/sbin/exim4 --suite {} 1",
        runtest().display(),
        suite.display()
    );
    rexpect::spawn(&cmd, Some(60_000)).unwrap()
}

#[test]
fn update_and_retry_through_the_terminal() {
    if !ready() {
        return;
    }
    let d = suite("> wrong\n> \n");
    let mut p = spawn(d.path());
    p.exp_string("Basic/0001 Expansion of a constant").unwrap();
    p.exp_string("Line 1 of \"test-stdout-munged\" does not match line 1 of \"stdout/0001\".")
        .unwrap();
    p.exp_string("Continue, Retry, Update & retry, Quit? [Q] ")
        .unwrap();
    // An unknown letter repeats the question.
    p.send_line("x").unwrap();
    p.exp_string("Continue, Retry, Update & retry, Quit? [Q] ")
        .unwrap();
    p.send_line("u").unwrap();
    p.exp_string("** Updated stdout/0001").unwrap();
    p.exp_string("1 passed, 0 failed, 0 skipped").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("stdout/0001")).unwrap(),
        "> abcx\n> \n"
    );
}

#[test]
fn quit_keeps_the_files() {
    if !ready() {
        return;
    }
    let d = suite("> wrong\n");
    let mut p = spawn(d.path());
    p.exp_string("Continue, Retry, Update & retry, Quit? [Q] ")
        .unwrap();
    p.send_line("").unwrap();
    p.exp_string("** Quit: files of test 0001 kept in").unwrap();
    p.exp_eof().unwrap();
    let ws = d.path().join("workspace/0");
    assert!(
        ws.join("test-stdout").exists(),
        "test files must be kept after Quit"
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("stdout/0001")).unwrap(),
        "> wrong\n"
    );
}
