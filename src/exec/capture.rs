//! Running a program (not a shell line) to capture its output, with a timeout: the probes of
//! the binary (`-bV`, `-bP`), the queue listing for `$msgN`. A program that does not end in
//! time is killed (its whole process group) and reaped, and the error says so.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a captured program printed and how it ended.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Captured {
    /// stdout then stderr, as text (lossy).
    pub fn text(&self) -> String {
        let mut t = String::from_utf8_lossy(&self.stdout).into_owned();
        t.push_str(&String::from_utf8_lossy(&self.stderr));
        t
    }
}

/// Run `cmd` (stdin from /dev/null) and capture both outputs, killing it after `timeout`.
pub fn capture(mut cmd: Command, timeout: Duration) -> Result<Captured> {
    let what = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().with_context(|| format!("cannot run {what}"))?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let notifier = super::process::exit_notifier(child.id());
    let mut nap = Duration::from_micros(200);
    let status = loop {
        if let Some(s) = child.try_wait().context("waitpid")? {
            break s;
        }
        if started.elapsed() >= timeout {
            let pg = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            bail!(
                "{what} did not end within {} s (--timeout): killed",
                timeout.as_secs()
            );
        }
        let left = timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1));
        super::process::nap_until_exit(notifier.as_ref(), nap.min(left));
        nap = super::process::next_nap(nap, notifier.is_some(), Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Captured {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    })
}

/// `capture` of `bin ARGS`.
pub fn capture_program(bin: &Path, args: &[&str], timeout: Duration) -> Result<Captured> {
    let mut c = Command::new(bin);
    c.args(args);
    capture(c, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_outputs_and_the_code() {
        let c = capture_program(
            Path::new("/bin/sh"),
            &["-c", "echo out; echo err >&2; exit 3"],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(c.code, 3);
        assert_eq!(c.text(), "out\nerr\n");
    }

    #[test]
    fn a_hanging_program_is_killed() {
        let t = Instant::now();
        let e = capture_program(
            Path::new("/bin/sh"),
            &["-c", "sleep 30 & sleep 30"],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(e.to_string().contains("did not end within"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }
}
