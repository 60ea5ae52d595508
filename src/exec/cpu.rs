//! How much CPU a test's processes used: every child runtest reaps is reaped here, with
//! `wait4`, and its user and system time (its own and that of the children it waited for) is
//! added to the count of the thread that reaped it. A worker thread runs one test at a time
//! and reaps only its own workspace's processes, so its count over a test is that test's
//! CPU time — what tells a test that mostly waits from one that computes (see
//! `runner::rerun`).

use std::cell::Cell;
use std::os::unix::process::ExitStatusExt;

thread_local! {
    static SECONDS: Cell<f64> = const { Cell::new(0.0) };
}

/// The CPU-seconds this thread's reaped children used since the last call; the count
/// starts again from zero.
pub fn take() -> f64 {
    SECONDS.with(|c| c.replace(0.0))
}

fn add(r: &libc::rusage) {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    SECONDS.with(|c| c.set(c.get() + secs(r.ru_utime) + secs(r.ru_stime)));
}

/// Reap `pid` if it has ended (or, with `block`, once it ends), counting its CPU time.
/// None: still running (never with `block`).
pub fn wait4(pid: i32, block: bool) -> std::io::Result<Option<std::process::ExitStatus>> {
    let mut status = 0;
    // SAFETY: wait4 only writes the status and the rusage it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let flags = if block { 0 } else { libc::WNOHANG };
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == pid {
            add(&usage);
            return Ok(Some(std::process::ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::take;

    #[test]
    #[allow(clippy::zombie_processes)] // reaped by wait4, which is what is tested
    fn counts_what_a_child_burns() {
        take();
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let s = super::wait4(pid, true).unwrap().unwrap();
        assert!(s.success());
        let burnt = take();
        assert!(burnt > 0.01, "{burnt}");
        assert_eq!(take(), 0.0);
        // Gone: an error, not a hang.
        assert!(super::wait4(pid, false).is_err());
    }
}
