//! Processes never outlive their test: a command that hangs is ended by the per-command
//! timeout and reported; Ctrl-C in the middle of a test with a running Exim daemon ends
//! runtest and leaves no process behind. Needs root and Debian's exim4 (CI has both).

mod common;

use common::ready;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn suite(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = Vec::new();
    for (n, text) in scripts {
        files.push((format!("scripts/0000-Basic/{n}"), text.to_string()));
        files.push((format!("confs/{n}"), common::MINIMAL_CONF.to_string()));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    common::suite("mailrig-cleanup", &refs)
}

/// Live processes whose command line or folder mentions `dir`.
fn processes_in(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            if stat[stat.rfind(')')? + 1..].trim_start().starts_with('Z') {
                return None;
            }
            let cmd = String::from_utf8_lossy(&std::fs::read(e.path().join("cmdline")).ok()?)
                .replace('\0', " ");
            let cwd = std::fs::read_link(e.path().join("cwd"))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (cmd.contains(&needle) || cwd.starts_with(&needle)).then_some(cmd)
        })
        .collect()
}

fn runtest() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_runtest"))
}

#[test]
fn hanging_command_is_timed_out_and_reported() {
    if !ready() {
        return;
    }
    let d = suite(&[
        ("0001", "# A command that hangs\nperl\nsleep 600;\n****\n"),
        ("0002", "# The next test still runs\nexim -be\nok\n****\n"),
    ]);
    let started = Instant::now();
    let out = Command::new(runtest())
        .args(["/usr/sbin/exim4", "--suite"])
        .arg(d.path())
        .args([
            "--timeout",
            "2",
            "--port-offset",
            "700",
            "-CONTINUE",
            "1",
            "2",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(started.elapsed() < Duration::from_secs(60), "{text}");
    assert!(
        text.contains("** Command timed out after 2 seconds (--timeout) and was killed"),
        "{text}"
    );
    assert!(
        text.contains("Basic/0002 The next test still runs"),
        "{text}"
    );
    let summary = std::fs::read_to_string(d.path().join("run-summary.log")).unwrap();
    assert!(summary.starts_with("0001 F\n"), "{summary}");
    let failed = std::fs::read_to_string(d.path().join("failed-summary.log")).unwrap();
    assert!(
        failed.contains("Test 0001 exit code unexpected failed"),
        "{failed}"
    );
    assert!(processes_in(d.path()).is_empty());
}

/// Run runtest with `args` on the suite `d`, send it SIGINT once every daemon of `pidfiles`
/// has started, and check that it exits 130 soon, leaving no process behind.
fn interrupt_once_daemons_run(d: &Path, args: &[&str], pidfiles: &[PathBuf]) {
    // runtest's console, kept outside the suite for the messages of a failure
    let console = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(runtest())
        .args(["/usr/sbin/exim4", "--suite"])
        .arg(d)
        .args(args)
        .stdin(Stdio::null())
        .stdout(console.reopen().unwrap())
        .stderr(console.reopen().unwrap())
        .spawn()
        .unwrap();
    let said = || std::fs::read_to_string(console.path()).unwrap_or_default();
    let start = Instant::now();
    while !pidfiles.iter().all(|p| p.exists()) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        pidfiles.iter().all(|p| p.exists()),
        "the daemons never all started; runtest said:\n{}",
        said()
    );
    assert!(!processes_in(d).is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{}", said());
    assert!(start.elapsed() < Duration::from_secs(60));
    let left = processes_in(d);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn ctrl_c_with_a_daemon_running_leaves_nothing() {
    if !ready() {
        return;
    }
    let d = suite(&[(
        "0001",
        "# A daemon, then a long wait\nexim -DSERVER=server -bd -oX PORT_D\n****\nsleep 120\nkilldaemon\n",
    )]);
    let pidfile = d.path().join("workspace/0/spool/exim-daemon.pid");
    interrupt_once_daemons_run(
        d.path(),
        &["--port-offset", "710", "-CONTINUE", "1"],
        &[pidfile],
    );
}

#[test]
fn ctrl_c_under_jobs_leaves_nothing_and_keeps_the_files() {
    if !ready() {
        return;
    }
    let script = "# A daemon, then a long wait\nexim -DSERVER=server -bd -oX PORT_D\n****\nsleep 120\nkilldaemon\n";
    let d = suite(&[("0001", script), ("0002", script), ("0003", script)]);
    let pidfiles: Vec<PathBuf> = (0..3)
        .map(|k| {
            d.path()
                .join(format!("workspace/{k}/spool/exim-daemon.pid"))
        })
        .collect();
    interrupt_once_daemons_run(
        d.path(),
        &["--port-offset", "760", "-CONTINUE", "-j", "3", "1", "3"],
        &pidfiles,
    );
    // The interrupted tests' files stay for a look.
    for k in 0..3 {
        assert!(
            d.path()
                .join(format!("workspace/{k}/spool/log/mainlog"))
                .exists(),
            "workspace {k} was emptied"
        );
    }
}
