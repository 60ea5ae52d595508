//! The README's POP3 and NNTP examples are tests: the Rust blocks are the doctests of the
//! `pop3` and `nntp` modules (compared here, run by `cargo test --doc`), and the shell blocks
//! run against the built program with curl and Python's nntplib.

mod readmeblock;

use readmeblock::block;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The ```` ``` ```` block of a module's doc comment, without the `//! ` prefixes.
fn doctest(module: &str) -> String {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(module)).unwrap();
    let lines: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let start = lines.iter().position(|l| l.starts_with("```")).unwrap() + 1;
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("```"))
            .unwrap();
    lines[start..end].iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn library_examples_are_the_doctests() {
    assert_eq!(block("pop3-library"), doctest("src/pop3/mod.rs"));
    assert_eq!(block("nntp-library"), doctest("src/nntp/mod.rs"));
}

fn run_shell(name: &str) {
    for tool in ["curl", "python3"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .map_or(true, |o| !o.status.success())
        {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{tool} missing in CI"
            );
            eprintln!("skipped: needs {tool}");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // The examples name files relative to the repository root.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        dir.path().join("crates"),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_fakeserver"))
        .parent()
        .unwrap()
        .to_path_buf();
    let script = format!(
        "set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}",
        block(name)
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the {name} example hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the README's {name} example failed: {status}"
    );
}

#[test]
fn pop3_program_example_runs() {
    run_shell("pop3-program");
}

#[test]
fn nntp_program_example_runs() {
    run_shell("nntp-program");
}
