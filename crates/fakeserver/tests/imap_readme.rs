//! The README's IMAP example is a test: its shell block (the program with `--load`,
//! `--users`, STARTTLS and the Dovecot personality, driven by Python's imaplib) is taken from
//! README.md and run against the built program; it fails when any of its asserts does.

mod readmeblock;

use readmeblock::block;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn imap_program_example_runs() {
    if !Command::new("sh")
        .args(["-c", "command -v python3"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "python3 missing in CI"
        );
        eprintln!("skipped: needs python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The example names files relative to the repository root.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        dir.path().join("crates"),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_fakeserver"))
        .parent()
        .unwrap();
    let code = block("imap-program");
    assert!(
        code.contains("imaplib") && code.contains("fakeserver imap"),
        "{code}"
    );
    let script = format!("set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{code}");
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the README's IMAP example hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "the README's IMAP example failed: {}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
