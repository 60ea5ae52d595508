//! The one place that launches a test's commands: every spawn goes through an [`Executor`],
//! which knows the workspace, the environment, runtest's own uid, the `--timeout` and the
//! interrupt flag, and owns the readiness checks of what runs on (a daemon has logged
//! "daemon started"; the scripted server listens).

use super::{Feed, Finished, Identity, Running, ShellCommand};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a started server is ready for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// Listening on this TCP port.
    Port(u16),
    /// This Unix socket path exists (relative paths are in the workspace).
    Socket(String),
}

/// Launches commands for one workspace.
#[derive(Clone)]
pub struct Executor {
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub runtest_uid: u32,
    /// The caller's uid: its commands (and root's) run without a shell when they need none.
    pub caller_uid: u32,
    /// The limit on any command that is waited for (--timeout).
    pub timeout: Duration,
    pub interrupt: Arc<AtomicBool>,
    /// Print each command line before it runs (-DEBUG).
    pub debug: bool,
}

impl Executor {
    fn shell(&self, line: String, identity: Identity) -> ShellCommand {
        if self.debug {
            println!(">> {line} [{}]", identity.name());
        }
        let direct_ok = match &identity {
            Identity::Root => true,
            Identity::User { uid, .. } => *uid == self.caller_uid,
        };
        ShellCommand {
            line,
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            identity,
            runtest_uid: self.runtest_uid,
            direct_ok,
        }
    }

    /// Run a line to its end, at most the timeout; stdin is closed `close_after` after the data.
    pub fn wait(
        &self,
        line: String,
        identity: Identity,
        feed: Vec<Feed>,
        close_after: Duration,
    ) -> Result<Finished> {
        let r = self.shell(line, identity).spawn(feed, close_after, false)?;
        r.wait(self.timeout, &self.interrupt)
    }

    /// Wait for something started earlier, at most `limit`.
    pub fn wait_for(&self, r: Running, limit: Duration) -> Result<Finished> {
        r.wait(limit.min(self.timeout), &self.interrupt)
    }

    /// Start a line that runs on (background); `hold_stdin` keeps its stdin open, unwritten.
    pub fn start(
        &self,
        line: String,
        identity: Identity,
        feed: Vec<Feed>,
        hold_stdin: bool,
    ) -> Result<Running> {
        self.shell(line, identity)
            .spawn(feed, Duration::ZERO, hold_stdin)
    }

    /// Start the scripted server and wait (at most 5 s) until it is ready, so that the next
    /// command does not race it. The server announces each wait for a connection with a
    /// "Listening on …" line in its transcript once its sockets listen (the saved server
    /// outputs show it): one more such line in `transcript` than before is the sign, read
    /// from that small file rather than from the kernel's table of every TCP socket on the
    /// machine. `ready` (the port or socket it listens on, None when it pauses first) says
    /// whether to wait at all.
    pub fn start_server(
        &self,
        line: String,
        identity: Identity,
        feed: Vec<Feed>,
        ready: Option<&Ready>,
        transcript: &Path,
    ) -> Result<Running> {
        let before = announcements(transcript);
        let mut r = self.start(line, identity, feed, false)?;
        if let Some(ready) = ready {
            let start = Instant::now();
            let mut nap = Duration::from_millis(1);
            while start.elapsed() < Duration::from_secs(5) && !self.interrupt.load(Ordering::SeqCst)
            {
                if announcements(transcript) > before || r.try_finished()?.is_some() {
                    break;
                }
                // A server that says nothing (another program in its place) is ready once
                // it listens.
                if start.elapsed() > Duration::from_millis(500) && is_ready(ready, &self.cwd) {
                    break;
                }
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
        }
        Ok(r)
    }

    /// Start an Exim daemon in inetd wait mode: runtest listens on 127.0.0.1 `port` (with
    /// SO_REUSEADDR, as the Perl runtest does) and the listening socket becomes the
    /// daemon's stdin. Connections made before the daemon accepts wait in the backlog.
    pub fn start_wait_daemon(
        &self,
        line: String,
        identity: Identity,
        port: u16,
    ) -> Result<Running> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).with_context(|| {
            format!("cannot listen on 127.0.0.1 port {port} for the wait-mode daemon")
        })?;
        let r = self
            .shell(line, identity)
            .spawn_on(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                listener,
            )))?;
        Ok(r)
    }

    /// Start an Exim daemon (stdin held open) and wait until one more "daemon started" line
    /// is in `logs` (Exim logs it once its sockets listen; the pid file can come first) and
    /// the daemon then waits for input in its main loop, or it has ended, at most 10 s. A
    /// daemon that never says so (a queue-runner daemon) gets a moment, as the Perl runtest
    /// gives it. Returned with it: how much longer than the Perl runtest this waited (see
    /// [`perl_lead`]).
    pub fn start_daemon(
        &self,
        line: String,
        identity: Identity,
        logs: &[PathBuf],
    ) -> Result<(Running, Duration)> {
        let before = started_pids(logs);
        let mut r = self.start(line, identity, vec![], true)?;
        let start = Instant::now();
        let mut nap = Duration::from_millis(1);
        let mut started: Vec<i32> = Vec::new();
        let mut logged = None;
        while start.elapsed() < Duration::from_secs(10) && !self.interrupt.load(Ordering::SeqCst) {
            started = new_pids(&before, &started_pids(logs));
            if !started.is_empty() {
                logged = Some(start.elapsed());
                break;
            }
            if r.try_finished()?.is_some() {
                break;
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(10));
        }
        if started.is_empty() {
            started = new_pids(&before, &started_pids(logs));
            if started.is_empty() {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        // Exim logs "daemon started" before it makes its TLS credentials, and with no
        // certificate configured it generates a self-signed one: a second of CPU, several
        // under load. A script that goes on before the daemon gets to its main loop (a
        // killdaemon after `millisleep 1000`) then finds a daemon that never listened. So
        // (within the same 10 s) wait until the daemon the log names (the process that
        // was started may have forked it and ended) sits in poll, waiting for input.
        for daemon in started {
            let mut nap = Duration::from_millis(1);
            while start.elapsed() < Duration::from_secs(10)
                && !self.interrupt.load(Ordering::SeqCst)
                && super::idle::activity(daemon).is_some_and(|a| super::idle::is_busy(&a))
            {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(5));
            }
        }
        // The Perl runtest looks for the daemon's pid file in 0.3 s steps, so a script goes on
        // no sooner than 0.3 s after the start; saved outputs of daemons that get to work at
        // once (a queue run at start, `-q1h -bd`) were made with that head start.
        let least = Duration::from_millis(DAEMON_INTERLOCK_MS);
        if let Some(rest) = least.checked_sub(start.elapsed()) {
            std::thread::sleep(rest);
        }
        Ok((r, perl_lead(logged, start.elapsed())))
    }
}

/// The least time a script waits after starting a daemon (the Perl runtest's poll step).
pub const DAEMON_INTERLOCK_MS: u64 = 300;

/// How much longer than the Perl runtest a daemon's start was waited for: it goes on at the
/// first of its 0.3-s steps that finds the pid file (written with the "daemon started" line,
/// here seen `logged` after the start), while runtest also waits (until `waited`) for the
/// daemon to reach its main loop, past making its TLS credentials. A script's sleep right
/// after the start is shortened by this lead, so that its next command comes when the
/// saved outputs had it: Exim's test-harness daemon renews a self-signed certificate 2 s
/// (in whole seconds) after making it, and a `killdaemon` after `millisleep 1000` that
/// comes over a second after the credentials were made finds a "selfsign cert rotate" in
/// the debug output that the saved files never have. Nothing seen: no lead.
pub fn perl_lead(logged: Option<Duration>, waited: Duration) -> Duration {
    let Some(logged) = logged else {
        return Duration::ZERO;
    };
    let step = DAEMON_INTERLOCK_MS as f64 / 1000.0;
    let steps = (logged.as_secs_f64() / step).ceil().max(1.0);
    waited.saturating_sub(Duration::from_secs_f64(steps * step))
}

/// The pids of the "daemon started: pid=N" lines the logs hold, in order.
fn started_pids(logs: &[PathBuf]) -> Vec<i32> {
    logs.iter()
        .filter_map(|l| std::fs::read(l).ok())
        .flat_map(|t| daemon_pids(&t))
        .collect()
}

/// The pids named by the "daemon started: pid=N" lines of a log's text.
fn daemon_pids(text: &[u8]) -> Vec<i32> {
    String::from_utf8_lossy(text)
        .split(" daemon started: pid=")
        .skip(1)
        .filter_map(|rest| {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

/// The pids in `now` that `before` did not hold (a pid can be reused: counted, not only
/// looked up).
fn new_pids(before: &[i32], now: &[i32]) -> Vec<i32> {
    let mut left = before.to_vec();
    now.iter()
        .filter(|p| match left.iter().position(|b| b == *p) {
            Some(i) => {
                left.swap_remove(i);
                false
            }
            None => true,
        })
        .copied()
        .collect()
}

/// How many times the server's transcript says it is listening.
fn announcements(transcript: &Path) -> usize {
    std::fs::read(transcript)
        .map(|t| count(&t, b"Listening on "))
        .unwrap_or(0)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn is_ready(ready: &Ready, dir: &Path) -> bool {
    match ready {
        Ready::Port(p) => listening_tcp(*p),
        Ready::Socket(s) => dir.join(s).exists(),
    }
}

/// Whether something listens on this TCP port (from /proc/net/tcp and tcp6).
pub fn listening_tcp(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
                })
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(listening_tcp(port));
        drop(l);
        assert!(!listening_tcp(port));
    }

    #[test]
    fn the_lead_over_the_perl_runtest_counts_from_its_poll_steps() {
        let ms = Duration::from_millis;
        // logged at once, in its main loop at once: runtest waited 0.3 s, as Perl did
        assert_eq!(perl_lead(Some(ms(40)), ms(300)), Duration::ZERO);
        // credentials took until 0.9 s: Perl went on at 0.3 s
        assert_eq!(perl_lead(Some(ms(40)), ms(900)), ms(600));
        // logged at 0.31 s: Perl found the pid file at its second step, 0.6 s
        assert_eq!(perl_lead(Some(ms(310)), ms(1000)), ms(400));
        assert_eq!(perl_lead(Some(ms(310)), ms(500)), Duration::ZERO);
        // never logged (a queue-runner daemon): no lead
        assert_eq!(perl_lead(None, ms(10_300)), Duration::ZERO);
    }

    #[test]
    fn counts_server_announcements() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("test-stdout-server");
        assert_eq!(announcements(&t), 0);
        std::fs::write(&t, "Listening on port 1224 ... \nConnection request from [127.0.0.1]\nListening on /w/sock ... ").unwrap();
        assert_eq!(announcements(&t), 2);
    }

    #[test]
    fn reads_started_pids() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("mainlog");
        std::fs::write(
            &log,
            "x daemon started: pid=12, -q3s\ny\nz daemon started: pid=345, -bd\nw daemon started: pid=oops\n",
        )
        .unwrap();
        assert_eq!(started_pids(&[log, d.path().join("none")]), vec![12, 345]);
        assert_eq!(new_pids(&[12], &[12, 345]), vec![345]);
        assert_eq!(new_pids(&[12], &[12, 12]), vec![12]);
        assert!(new_pids(&[12, 345], &[12, 345]).is_empty());
    }
}
