//! One child process: a shell command line run as some identity in a folder, its stdin fed by
//! a thread (data, sleeps, a final wait before closing), waited for with a timeout and an
//! interrupt flag.

use super::privilege::{become_identity, helper_args, helper_path, sudo_words, Identity};
use anyhow::{Context, Result};
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A command line for `/bin/sh -c`, with where and as whom to run it.
#[derive(Debug, Clone)]
pub struct ShellCommand {
    pub line: String,
    pub cwd: PathBuf,
    /// The whole environment of the child.
    pub env: Vec<(String, String)>,
    pub identity: Identity,
    /// runtest's own uid: when not root, identity changes go through sudo.
    pub runtest_uid: u32,
    /// The line may run without a shell when it needs none (see [`super::argv`]): not for
    /// an identity other than the caller's or root's, whose shell opens the redirections
    /// with that identity's rights.
    pub direct_ok: bool,
}

/// What to write to the child's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    Bytes(Vec<u8>),
    Sleep(Duration),
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub interrupted: bool,
}

impl Finished {
    /// The return code as the Perl runtest compares it (`$? >> 8`; a signal gives 0 there, so
    /// report it as 128+signal to make it visible).
    pub fn rc(&self) -> i32 {
        self.code.unwrap_or_else(|| 128 + self.signal.unwrap_or(0))
    }
}

/// A started child.
pub struct Running {
    child: Child,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Held open (never written) for children whose stdin must stay open until they end.
    held_stdin: Option<std::process::ChildStdin>,
    pub started: Instant,
    /// Started without a shell: the process is the program itself.
    pub direct: bool,
    /// How it ended, once reaped (here, with its CPU time, not through `child`).
    status: Option<std::process::ExitStatus>,
}

impl ShellCommand {
    /// The command that starts `/bin/sh` as the identity, and the identity still to take in
    /// the forked child (only when runtest is root and its helper is missing). With nothing
    /// to do between fork and exec, the standard library starts the child with posix_spawn,
    /// which never copies runtest's address space.
    fn command(&self) -> (Command, Option<Identity>) {
        let words = sudo_words(&self.identity, self.runtest_uid);
        if let Some((first, rest)) = words.split_first() {
            // A full path: a bare name with PATH in the environment makes std fork.
            let sudo = which::which(first).unwrap_or_else(|_| PathBuf::from(first));
            let mut c = Command::new(sudo);
            c.args(rest).arg("/bin/sh");
            return (c, None);
        }
        if self.runtest_uid != 0 {
            return (Command::new("/bin/sh"), None);
        }
        match (helper_args(&self.identity), helper_path()) {
            (None, _) => (Command::new("/bin/sh"), None),
            (Some(args), Some(helper)) => {
                let mut c = Command::new(helper);
                c.args(args).arg("/bin/sh");
                (c, None)
            }
            (Some(_), None) => (Command::new("/bin/sh"), Some(self.identity.clone())),
        }
    }

    /// Start the command. `feed` is written to its stdin, then after `close_after` the stdin
    /// is closed — unless `hold_stdin`, in which case nothing is written and stdin stays open
    /// until the child is waited for (daemons, like the Perl runtest's open pipe).
    pub fn spawn(
        &self,
        feed: Vec<Feed>,
        close_after: Duration,
        hold_stdin: bool,
    ) -> Result<Running> {
        self.spawn_with(Stdio::piped(), feed, close_after, hold_stdin)
    }

    /// Start the command with `stdin` as its standard input (e.g. a listening socket handed
    /// to an inetd-style daemon); nothing is fed.
    pub fn spawn_on(&self, stdin: Stdio) -> Result<Running> {
        self.spawn_with(stdin, Vec::new(), Duration::ZERO, false)
    }

    /// The command for a line that needs no shell (see [`super::argv::direct`]): the
    /// program itself (through the identity helper when it needs one), with its output
    /// files opened here as the shell would open them. None when the line needs a shell, or
    /// when anything about it is unusual (a program not found, an output file that cannot
    /// be opened): the shell then runs it and says what it says about it.
    fn direct(&self) -> Option<(Command, Option<Identity>)> {
        if !self.direct_ok || !sudo_words(&self.identity, self.runtest_uid).is_empty() {
            return None;
        }
        let d = super::argv::direct(&self.line)?;
        let (typed, args) = d.argv.split_first()?;
        let program = if typed.contains('/') {
            self.cwd.join(typed)
        } else {
            let path = self
                .env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.clone())?;
            which::which_in(typed, Some(path), &self.cwd).ok()?
        };
        if !is_executable(&program) {
            return None;
        }
        let open = |f: &str| -> Option<std::fs::File> {
            let p = self.cwd.join(f);
            let existed = std::fs::symlink_metadata(&p).is_ok();
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&p)
                .ok()?;
            // Made by the shell, it would belong to the identity.
            if let (false, Identity::User { uid, gid, .. }) = (existed, &self.identity) {
                if self.runtest_uid == 0 {
                    std::os::unix::fs::chown(&p, Some(*uid), Some(*gid)).ok()?;
                }
            }
            Some(file)
        };
        let stdout = match &d.stdout {
            Some(super::argv::Sink::Append(f)) => Some(open(f)?),
            _ => None,
        };
        let stderr = match &d.stderr {
            Some(super::argv::Sink::Append(f)) => Some(open(f)?),
            Some(super::argv::Sink::Stdout) => Some(stdout.as_ref()?.try_clone().ok()?),
            None => None,
        };
        let encoded = |w: &str| -> std::ffi::OsString {
            std::os::unix::ffi::OsStringExt::from_vec(crate::script::encode(w))
        };
        let (mut cmd, in_child) =
            match (self.runtest_uid, helper_args(&self.identity), helper_path()) {
                (0, Some(ids), Some(helper)) => {
                    // The helper execs the name as written (found in the same PATH), so the
                    // program's argv[0] is what the script wrote, as under the shell.
                    let mut c = Command::new(helper);
                    c.args(ids).arg(encoded(typed));
                    (c, None)
                }
                (uid, ids, _) => {
                    let mut c = Command::new(&program);
                    c.arg0(encoded(typed));
                    (
                        c,
                        (uid == 0 && ids.is_some()).then(|| self.identity.clone()),
                    )
                }
            };
        cmd.args(args.iter().map(|a| encoded(a)));
        cmd.stdout(stdout.map(Stdio::from).unwrap_or_else(Stdio::inherit));
        cmd.stderr(stderr.map(Stdio::from).unwrap_or_else(Stdio::inherit));
        Some((cmd, in_child))
    }

    fn spawn_with(
        &self,
        stdin: Stdio,
        feed: Vec<Feed>,
        close_after: Duration,
        hold_stdin: bool,
    ) -> Result<Running> {
        let (mut cmd, in_child, direct) = match self.direct() {
            Some((cmd, in_child)) => (cmd, in_child, true),
            None => {
                let (mut cmd, in_child) = self.command();
                // The line holds script text: its chars are bytes (see script::decode).
                let line: std::ffi::OsString =
                    std::os::unix::ffi::OsStringExt::from_vec(crate::script::encode(&self.line));
                cmd.arg("-c").arg(line);
                cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
                (cmd, in_child, false)
            }
        };
        cmd.current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(stdin);
        cmd.process_group(0);
        if let Some(id) = in_child {
            // SAFETY: become_identity only makes async-signal-safe libc calls.
            unsafe {
                cmd.pre_exec(move || become_identity(&id));
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start `{}`", self.line))?;
        let stdin = child.stdin.take();
        let (writer, held_stdin) = if hold_stdin {
            (None, stdin)
        } else if let Some(bytes) = at_once(&feed, close_after) {
            // Fits in the pipe: written now, without a thread, and closed.
            if let Some(mut s) = stdin {
                let _ = s.write_all(&bytes);
            }
            (None, None)
        } else {
            let h = stdin.map(|mut s| {
                std::thread::spawn(move || {
                    for f in feed {
                        match f {
                            // A child that does not read all its data (or has ended) gives
                            // EPIPE: the Perl runtest ignores SIGPIPE here too.
                            Feed::Bytes(b) => {
                                if s.write_all(&b).is_err() {
                                    return;
                                }
                            }
                            Feed::Sleep(d) => std::thread::sleep(d),
                        }
                    }
                    if !close_after.is_zero() {
                        std::thread::sleep(close_after);
                    }
                    drop(s);
                })
            });
            (h, None)
        };
        Ok(Running {
            child,
            writer,
            held_stdin,
            started: Instant::now(),
            direct,
            status: None,
        })
    }
}

/// Whether `p` is a file the kernel itself can execute: executable, and a binary or a
/// `#!` script (a script without `#!` is one only the shell runs, as a shell script).
fn is_executable(p: &std::path::Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let runnable =
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut magic = [0u8; 4];
    runnable
        && std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
        && (magic == *b"\x7fELF" || magic.starts_with(b"#!"))
}

/// The least room a new pipe has (one page, even when the user's pipe buffers are limited).
const PIPE_ROOM: usize = 4096;

/// The whole of `feed` when it can be written at once into a new pipe without blocking and
/// closed right away: no pauses, no wait before closing, at most [`PIPE_ROOM`] bytes.
fn at_once(feed: &[Feed], close_after: Duration) -> Option<Vec<u8>> {
    if !close_after.is_zero() {
        return None;
    }
    let mut all = Vec::new();
    for f in feed {
        match f {
            Feed::Bytes(b) => all.extend_from_slice(b),
            Feed::Sleep(_) => return None,
        }
        if all.len() > PIPE_ROOM {
            return None;
        }
    }
    Some(all)
}

/// A handle that becomes readable when the process `pid` ends (Linux's pidfd), so a wait
/// can sleep until the exit itself instead of waking up to ask. None where the kernel has
/// no pidfd_open (before 5.3) or the process is gone.
pub fn exit_notifier(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just made and is owned by nobody else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Sleep `nap`, or less when `notifier` shows that its process has ended.
pub fn nap_until_exit(notifier: Option<&std::os::fd::OwnedFd>, nap: Duration) {
    match notifier {
        Some(fd) => {
            if !wait_for_exits(std::slice::from_ref(fd), nap.max(Duration::from_millis(1))) {
                std::thread::sleep(nap);
            }
        }
        None => std::thread::sleep(nap),
    }
}

/// Sleep until one of the processes behind the exit notifiers `fds` ends, at most `max`.
/// False when the wait itself failed (the caller then sleeps instead).
pub fn wait_for_exits(fds: &[std::os::fd::OwnedFd], max: Duration) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut polls: Vec<PollFd> = fds
        .iter()
        .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
        .collect();
    let ms = max.as_millis().min(i32::MAX as u128) as i32;
    poll(
        &mut polls,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    )
    .is_ok()
}

/// How long one nap of a wait lasts: short at first (most commands end within a few
/// milliseconds), growing to `cap`; with an exit notifier the nap ends at the exit anyway,
/// so it may be long — it only bounds how soon a timeout or Ctrl-C is seen.
pub fn next_nap(nap: Duration, notified: bool, cap: Duration) -> Duration {
    if notified {
        NOTIFIED_NAP
    } else {
        (nap * 2).min(cap)
    }
}

/// The nap of a wait that an exit notifier ends early.
const NOTIFIED_NAP: Duration = Duration::from_millis(50);

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Reap the child if it has ended (or, with `block`, once it ends), adding its CPU time
    /// to this thread's count (see [`super::cpu`]).
    fn reap(&mut self, block: bool) -> Result<Option<std::process::ExitStatus>> {
        if self.status.is_none() {
            self.status = super::cpu::wait4(self.pid(), block).context("waitpid")?;
        }
        Ok(self.status)
    }

    /// Has it ended? (Never blocks.)
    pub fn try_finished(&mut self) -> Result<Option<Finished>> {
        Ok(self.reap(false)?.map(|s| Finished {
            code: s.code(),
            signal: s.signal(),
            timed_out: false,
            interrupted: false,
        }))
    }

    /// Wait for the end, at most `timeout`; on timeout or interrupt the child's process
    /// group is killed and the result says so.
    /// The timeout counts from this call (a daemon started long ago still gets its grace
    /// after killdaemon's signal).
    pub fn wait(mut self, timeout: Duration, interrupt: &AtomicBool) -> Result<Finished> {
        let begun = Instant::now();
        let notifier = exit_notifier(self.child.id());
        let mut nap = if notifier.is_some() {
            NOTIFIED_NAP
        } else {
            Duration::from_micros(500)
        };
        loop {
            if let Some(f) = self.try_finished()? {
                self.join_writer();
                return Ok(f);
            }
            let timed_out = begun.elapsed() >= timeout;
            let interrupted = interrupt.load(Ordering::SeqCst);
            if timed_out || interrupted {
                self.kill_group();
                let s = self.reap(true)?.context("waitpid after kill")?;
                self.join_writer();
                return Ok(Finished {
                    code: s.code(),
                    signal: s.signal(),
                    timed_out,
                    interrupted,
                });
            }
            let left = timeout
                .saturating_sub(begun.elapsed())
                .max(Duration::from_millis(1));
            nap_until_exit(notifier.as_ref(), nap.min(left));
            nap = next_nap(nap, notifier.is_some(), Duration::from_millis(10));
        }
    }

    /// Wait without a timeout check but stop early on interrupt (used for the rest of a
    /// grace period).
    pub fn kill_group(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        let pg = nix::unistd::Pid::from_raw(self.pid());
        let _ = killpg(pg, Signal::SIGTERM);
        for _ in 0..30 {
            if matches!(self.reap(false), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(pg, Signal::SIGKILL);
        if self.status.is_none() {
            let _ = nix::sys::signal::kill(pg, Signal::SIGKILL);
        }
    }

    /// Close a held stdin (daemons) so the child sees EOF.
    pub fn close_stdin(&mut self) {
        self.held_stdin.take();
    }

    fn join_writer(&mut self) {
        self.held_stdin.take();
        if let Some(w) = self.writer.take() {
            // The child has ended: any write in progress fails with EPIPE and the thread ends,
            // except while it sleeps, so do not wait for a sleeping writer.
            if w.is_finished() {
                let _ = w.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(line: &str) -> ShellCommand {
        ShellCommand {
            line: line.into(),
            cwd: std::env::temp_dir(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            identity: Identity::Root,
            runtest_uid: nix::unistd::getuid().as_raw(),
            direct_ok: true,
        }
    }

    #[test]
    fn a_plain_line_runs_without_a_shell() {
        let no = AtomicBool::new(false);
        let d = tempfile::tempdir().unwrap();
        let mut c = sh("ls /nonexistent-rt >>out 2>&1");
        c.cwd = d.path().to_path_buf();
        let r = c.spawn(vec![], Duration::ZERO, false).unwrap();
        assert!(r.direct);
        assert_eq!(r.wait(Duration::from_secs(10), &no).unwrap().code, Some(2));
        // argv[0] as written (not the path PATH found), and stderr where stdout goes.
        let out = std::fs::read_to_string(d.path().join("out")).unwrap();
        assert!(out.starts_with("ls: "), "{out}");
        // The same line with the shell's help gives the same text.
        let mut c = sh("ls /nonexistent-rt >>out2 2>&1 || exit 2");
        c.cwd = d.path().to_path_buf();
        let r = c.spawn(vec![], Duration::ZERO, false).unwrap();
        assert!(!r.direct);
        assert_eq!(r.wait(Duration::from_secs(10), &no).unwrap().code, Some(2));
        assert_eq!(std::fs::read_to_string(d.path().join("out2")).unwrap(), out);
        // Appended, stdin fed, separate stderr file.
        let mut c = sh("/bin/cat >>out 2>>err");
        c.cwd = d.path().to_path_buf();
        let r = c
            .spawn(vec![Feed::Bytes(b"fed\n".to_vec())], Duration::ZERO, false)
            .unwrap();
        assert!(r.direct);
        r.wait(Duration::from_secs(10), &no).unwrap();
        let out = std::fs::read_to_string(d.path().join("out")).unwrap();
        assert!(out.starts_with("ls: ") && out.ends_with("\nfed\n"), "{out}");
        assert!(d.path().join("err").exists());
        // A program that is not there is left to the shell, which says so.
        let mut c = sh("no-such-program-rt >>out3 2>&1");
        c.cwd = d.path().to_path_buf();
        let r = c.spawn(vec![], Duration::ZERO, false).unwrap();
        assert!(!r.direct);
        assert_eq!(
            r.wait(Duration::from_secs(10), &no).unwrap().code,
            Some(127)
        );
        assert!(std::fs::read_to_string(d.path().join("out3"))
            .unwrap()
            .contains("not found"));
        // A script without `#!` is the shell's to run.
        std::fs::write(d.path().join("s"), "echo from-sh >>out4\n").unwrap();
        std::fs::set_permissions(
            d.path().join("s"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut c = sh("./s");
        c.cwd = d.path().to_path_buf();
        let r = c.spawn(vec![], Duration::ZERO, false).unwrap();
        assert!(!r.direct);
        assert_eq!(r.wait(Duration::from_secs(10), &no).unwrap().code, Some(0));
        assert_eq!(
            std::fs::read_to_string(d.path().join("out4")).unwrap(),
            "from-sh\n"
        );
        // Not allowed: the shell, always.
        let mut c = sh("/bin/true");
        c.direct_ok = false;
        assert!(!c.spawn(vec![], Duration::ZERO, false).unwrap().direct);
    }

    #[test]
    fn small_data_is_written_at_once() {
        let b = |s: &str| Feed::Bytes(s.as_bytes().to_vec());
        assert_eq!(
            at_once(&[b("ab"), b("c")], Duration::ZERO),
            Some(b"abc".to_vec())
        );
        assert_eq!(at_once(&[], Duration::ZERO), Some(vec![]));
        assert_eq!(
            at_once(
                &[b("a"), Feed::Sleep(Duration::from_secs(1))],
                Duration::ZERO
            ),
            None
        );
        assert_eq!(at_once(&[b("a")], Duration::from_secs(1)), None);
        assert_eq!(
            at_once(&[Feed::Bytes(vec![b'x'; PIPE_ROOM + 1])], Duration::ZERO),
            None
        );
        assert!(at_once(&[Feed::Bytes(vec![b'x'; PIPE_ROOM])], Duration::ZERO).is_some());
    }

    #[test]
    fn exit_code_and_stdin() {
        let no = AtomicBool::new(false);
        let r = sh("read a; read b; test \"$a$b\" = xy && exit 3")
            .spawn(
                vec![Feed::Bytes(b"x\n".to_vec()), Feed::Bytes(b"y\n".to_vec())],
                Duration::ZERO,
                false,
            )
            .unwrap();
        let f = r.wait(Duration::from_secs(10), &no).unwrap();
        assert_eq!(f.code, Some(3));
        assert!(!f.timed_out);
    }

    #[test]
    fn a_socket_as_stdin() {
        let no = AtomicBool::new(false);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        // The child's stdin is the listening socket itself.
        let r = sh("test -S /dev/stdin && readlink /proc/self/fd/0 | grep -q socket")
            .spawn_on(Stdio::from(std::os::fd::OwnedFd::from(l)))
            .unwrap();
        assert_eq!(r.wait(Duration::from_secs(10), &no).unwrap().code, Some(0));
        // runtest kept no copy: the port is free again.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn an_exit_ends_the_nap() {
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 0.1"])
            .spawn()
            .unwrap();
        let fd = exit_notifier(child.id()).expect("pidfd_open (Linux 5.3+)");
        let t = Instant::now();
        nap_until_exit(Some(&fd), Duration::from_secs(20));
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        let mut child = child;
        child.wait().unwrap();
        // Without a notifier the nap is a plain sleep.
        let t = Instant::now();
        nap_until_exit(None, Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert_eq!(
            next_nap(Duration::from_millis(4), false, Duration::from_millis(10)),
            Duration::from_millis(8)
        );
        assert_eq!(
            next_nap(Duration::from_millis(8), false, Duration::from_millis(10)),
            Duration::from_millis(10)
        );
        assert_eq!(
            next_nap(Duration::from_millis(1), true, Duration::from_millis(10)),
            NOTIFIED_NAP
        );
    }

    #[test]
    fn timeout_kills_the_group() {
        let no = AtomicBool::new(false);
        let r = sh("sleep 30 & sleep 30")
            .spawn(vec![], Duration::ZERO, false)
            .unwrap();
        let pgid = r.pid();
        let f = r.wait(Duration::from_millis(200), &no).unwrap();
        assert!(f.timed_out);
        assert_eq!(f.code, None);
        // Nothing is left alive in the process group (a zombie waiting for init is dead).
        std::thread::sleep(Duration::from_millis(50));
        let live: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
                    .split_whitespace()
                    .collect();
                rest[2] == pgid.to_string() && rest[0] != "Z"
            })
            .collect();
        assert!(live.is_empty(), "{live:?}");
    }

    #[test]
    fn interrupt_flag_stops_the_wait() {
        let yes = AtomicBool::new(true);
        let r = sh("sleep 30").spawn(vec![], Duration::ZERO, false).unwrap();
        let f = r.wait(Duration::from_secs(30), &yes).unwrap();
        assert!(f.interrupted);
    }

    #[test]
    fn child_that_ignores_stdin_does_not_block() {
        let no = AtomicBool::new(false);
        let big = vec![b'a'; 1 << 20];
        let r = sh("exit 0")
            .spawn(vec![Feed::Bytes(big)], Duration::ZERO, false)
            .unwrap();
        assert_eq!(r.wait(Duration::from_secs(10), &no).unwrap().code, Some(0));
    }
}
