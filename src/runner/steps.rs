//! Running the steps of one script, command by command, as the Perl runtest's `run_command`
//! does: the commands that act inside runtest (`sleep`, `write`, `munge`, `killdaemon` …),
//! the launch of the others as `plan` decides them, through the test's one
//! `exec::Executor`, keeping what runs on (daemons, `server`, `exim_lock`, `background`),
//! and what happens on an unexpected return code.

use super::plan::{self, Launch, Lifetime, Who};
use super::Run;
use crate::exec::{Executor, Finished, Identity, Running};
use crate::review::{Answer, Prompt};
use crate::script::{encode, Command, NoCheck, Script, Step, WriteSpec};
use anyhow::{Context, Result};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How the script ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Completed,
    /// Given up after a bad return code (Continue without file comparison).
    Abandoned,
    Retry,
    Quit,
    Skipped,
    /// Cut short by Ctrl-C.
    Interrupted,
}

/// Munging choices made by script commands.
#[derive(Debug, Default, Clone)]
pub struct MungeOptions {
    pub named: Vec<String>,
    pub sortlog: bool,
    pub rmfiltertest: bool,
    pub no_stdout: bool,
    pub no_stderr: bool,
    pub no_message: bool,
    pub no_msglog: bool,
}

/// The running state of one test.
pub struct TestState {
    testnum: u32,
    /// Launches every command of the test.
    exec: Executor,
    server: Option<Running>,
    daemons: Vec<Running>,
    exim_lock: Option<Running>,
    background: Vec<Running>,
    munge: MungeOptions,
    /// How much longer than the Perl runtest the daemon started by the last step was
    /// waited for ([`crate::exec::perl_lead`]): a sleep right after comes off it.
    daemon_lead: Duration,
}

enum StepResult {
    /// Ran inline or in the background: no return code to check.
    Done,
    /// Ran and waited: check the return code.
    Waited(Finished),
    Ended(Ended),
}

impl TestState {
    pub fn new(run: &Run, testnum: u32, script: &Script) -> Result<TestState> {
        // The output files exist from the start and belong to the caller: in the Perl
        // runtest the caller's shell opens them, even for `sudo` commands, so a root
        // command must never be the first to create one (a later caller command could not
        // append to it).
        // (The -server files are made when a server or daemon starts: that they exist at
        // all shows in the joined output.)
        for name in ["test-stdout", "test-stderr"] {
            caller_file(run, name)?;
        }
        let munge = MungeOptions {
            no_stdout: script.has_no_check(NoCheck::Stdout),
            no_stderr: script.has_no_check(NoCheck::Stderr),
            no_message: script.has_no_check(NoCheck::Message),
            no_msglog: script.has_no_check(NoCheck::Msglog),
            ..Default::default()
        };
        Ok(TestState {
            testnum,
            exec: Executor {
                cwd: run.ws.dir.clone(),
                env: run.env.clone(),
                runtest_uid: run.runtest_uid,
                caller_uid: run.facts.caller.uid,
                timeout: run.timeout(),
                interrupt: run.interrupt.clone(),
                debug: run.opts.debug,
            },
            server: None,
            daemons: Vec::new(),
            exim_lock: None,
            background: Vec::new(),
            munge,
            daemon_lead: Duration::ZERO,
        })
    }

    pub fn munge_options(&self) -> MungeOptions {
        self.munge.clone()
    }

    /// Run every step.
    pub fn run(&mut self, run: &mut Run, script: &Script) -> Result<Ended> {
        for (i, step) in script.steps.iter().enumerate() {
            if run.interrupt.load(Ordering::SeqCst) {
                return Ok(Ended::Interrupted);
            }
            run.current = Some(step.span.to_string());
            if panic_hook() == Some(step.text.as_str()) {
                panic!("{PANIC_HOOK_VAR} names this step");
            }
            let started = std::time::Instant::now();
            let result = self.step(run, &step.command).with_context(|| {
                format!("{}: `{}`", step.span, crate::script::shown(&step.text))
            })?;
            if !matches!(step.command, Command::Comment(_)) {
                run.time_step(step.span.line, step.command.name(), started);
            }
            match result {
                StepResult::Done => {}
                StepResult::Ended(e) => return Ok(e),
                StepResult::Waited(f) => {
                    if f.interrupted {
                        return Ok(Ended::Interrupted);
                    }
                    if f.timed_out || f.rc() != step.expect_rc {
                        if let Some(e) = self.bad_return_code(run, i + 1, step, &f)? {
                            return Ok(e);
                        }
                    }
                }
            }
        }
        // A server still running at the end is waited for, like after an exim command.
        let started = std::time::Instant::now();
        let waited = self.wait_server(run)?;
        run.time_step(0, "server-end", started);
        if let Some(e) = waited {
            return Ok(e);
        }
        Ok(Ended::Completed)
    }

    /// The processes this test holds handles for (daemons, server, exim_lock, background).
    fn held_pids(&self) -> Vec<i32> {
        self.daemons
            .iter()
            .chain(self.background.iter())
            .chain(self.exim_lock.iter())
            .chain(self.server.iter())
            .map(|r| r.pid())
            .collect()
    }

    /// Stop everything this test started that is still running.
    pub fn finish(&mut self, run: &Run) {
        let never = std::sync::atomic::AtomicBool::new(true);
        for r in self
            .daemons
            .drain(..)
            .chain(self.background.drain(..))
            .chain(self.exim_lock.take())
            .chain(self.server.take())
        {
            let _ = r.wait(Duration::ZERO, &never);
        }
        let _ = run;
    }

    fn bad_return_code(
        &mut self,
        run: &mut Run,
        n: usize,
        step: &Step,
        f: &Finished,
    ) -> Result<Option<Ended>> {
        run.say(format!(
            "\n** Command {n} (\"{}\", starting at line {})",
            step.text, step.span.line
        ));
        if f.timed_out {
            let t = run.opts.timeout_secs;
            run.say(format!(
                "** Command timed out after {t} seconds (--timeout) and was killed"
            ));
        } else {
            run.say(format!(
                "** Return code {} (expected {})",
                f.rc(),
                step.expect_rc
            ));
        }
        loop {
            match run_ask(run, Prompt::BadReturnCode)? {
                Answer::ShowStderr => show_file(run, "test-stderr"),
                Answer::ShowStdout => show_file(run, "test-stdout"),
                Answer::Retry => return Ok(Some(Ended::Retry)),
                Answer::Quit => return Ok(Some(Ended::Quit)),
                _ => {
                    run.summaries.failure(self.testnum, "exit code unexpected");
                    return Ok(Some(Ended::Abandoned));
                }
            }
        }
    }

    fn identity(&self, run: &Run, who: &Who) -> Result<Identity> {
        Ok(match who {
            Who::Caller => run.caller_identity.clone(),
            Who::Root => Identity::Root,
            Who::User(u) => Identity::from_name(u)?,
        })
    }

    fn subst(&self, run: &Run, s: &str) -> String {
        run.ws.table.apply(s, Some(self.testnum))
    }

    fn append(&self, run: &Run, file: &str, text: &[u8]) -> Result<()> {
        let p = run.ws.path(file);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .with_context(|| format!("{}", p.display()))?;
        f.write_all(text)?;
        if run.facts.is_root {
            let _ = std::os::unix::fs::chown(
                &p,
                Some(run.facts.caller.uid),
                Some(run.facts.caller.gid),
            );
        }
        Ok(())
    }

    fn step(&mut self, run: &mut Run, cmd: &Command) -> Result<StepResult> {
        let lead = if matches!(cmd, Command::Comment(_)) {
            Duration::ZERO
        } else {
            std::mem::take(&mut self.daemon_lead)
        };
        if let Some(l) = self.plan(run, cmd)? {
            return self.launch(run, l);
        }
        match cmd {
            Command::Comment(text) => {
                let line = encode(&format!("### {}\n", self.subst(run, text)));
                for file in plan::COMMENT_FILES {
                    self.append(run, file, &line)?;
                }
                Ok(StepResult::Done)
            }
            Command::Echo(text) => {
                let t = self.subst(run, text);
                run.say(t);
                Ok(StepResult::Done)
            }
            Command::Sleep(n) => {
                if *n > 1 && run.opts.debug {
                    run.say(format!("  sleep {n}"));
                }
                interruptible_sleep(run, Duration::from_secs(*n).saturating_sub(lead));
                Ok(StepResult::Done)
            }
            Command::MilliSleep(n) => {
                interruptible_sleep(run, Duration::from_millis(*n).saturating_sub(lead));
                Ok(StepResult::Done)
            }
            Command::Munge(name) => {
                if !run.rules.has_named(name) {
                    let known = run.rules.named().join(", ");
                    return Err(crate::suite::Fault(format!(
                        "unknown munge `{name}` (known: {known})"
                    ))
                    .into());
                }
                self.munge.named.push(name.clone());
                Ok(StepResult::Done)
            }
            Command::SortLog => {
                self.munge.sortlog = true;
                Ok(StepResult::Done)
            }
            Command::RmFilterTest => {
                self.munge.rmfiltertest = true;
                Ok(StepResult::Done)
            }
            Command::NoCheck(_) => Ok(StepResult::Done),
            Command::Need(n) => Ok(match run.need(*n) {
                Some(_) => StepResult::Ended(Ended::Skipped),
                None => StepResult::Done,
            }),
            Command::Gnutls => {
                let spool = run.ws.path("spool");
                std::fs::create_dir_all(&spool)?;
                let _ = std::os::unix::fs::chown(
                    &spool,
                    Some(run.facts.exim_uid),
                    Some(run.facts.exim_gid),
                );
                let dst = spool.join("gnutls-params");
                std::fs::copy(run.ws.path("aux-fixed/gnutls-params"), &dst)
                    .context("copying aux-fixed/gnutls-params")?;
                std::os::unix::fs::chown(&dst, Some(run.facts.exim_uid), Some(run.facts.exim_gid))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o400))?;
                Ok(StepResult::Done)
            }
            Command::Write { catwrite, spec } => {
                self.write(run, *catwrite, spec)?;
                Ok(StepResult::Done)
            }
            Command::KillDaemon => {
                self.killdaemon(run)?;
                Ok(StepResult::Done)
            }
            Command::Dump(db) => {
                self.dump(run, &self.subst(run, db))?;
                Ok(StepResult::Done)
            }
            other => anyhow::bail!("`{}`: runtest has no way to run it", other.name()),
        }
    }

    fn write(&self, run: &Run, catwrite: bool, spec: &WriteSpec) -> Result<()> {
        let mut out: Vec<u8> = Vec::new();
        for l in &spec.before {
            out.extend_from_slice(&encode(&self.subst(run, l)));
            out.push(b'\n');
        }
        for s in &spec.specs {
            let lead = s.start.clone().unwrap_or_default();
            let fill = s.length.saturating_sub(lead.len() + 1);
            for _ in 0..s.count {
                out.extend_from_slice(&encode(&lead));
                out.extend(std::iter::repeat_n(b'a', fill));
                out.push(b'\n');
            }
        }
        for l in &spec.after {
            out.extend_from_slice(&encode(&self.subst(run, l)));
            out.push(b'\n');
        }
        let name = self.subst(run, &spec.file);
        let path = run.ws.dir.join(&name);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, &out).with_context(|| format!("write {}", path.display()))?;
        if run.facts.is_root {
            std::os::unix::fs::chown(
                &path,
                Some(run.facts.caller.uid),
                Some(run.facts.caller.gid),
            )?;
        }
        if catwrite {
            // As Perl's runtest: the copy in test-stdout is framed by lines of equals signs.
            let framed = [b"==========\n".as_slice(), &out, b"==========\n"].concat();
            self.append(run, "test-stdout", &framed)?;
        }
        Ok(())
    }

    fn dump(&self, run: &Run, db: &str) -> Result<()> {
        let dir = run.ws.dir.display().to_string();
        let mut cmd = std::process::Command::new(format!("{dir}/eximdir/exim_dumpdb"));
        cmd.arg(format!("{dir}/spool"))
            .arg(db)
            .current_dir(&run.ws.dir);
        let out = crate::exec::capture(cmd, self.exec.timeout).context("running exim_dumpdb")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut result = String::from("+++++++++++++++++++++++++++\n");
        if db == "retry" {
            // Records are separated by "\n  "; sort them by their first word.
            let mut items: Vec<String> = text.split("\n  ").map(|s| s.to_string()).collect();
            items.sort_by(|a, b| {
                a.split_whitespace()
                    .next()
                    .cmp(&b.split_whitespace().next())
            });
            for item in items {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let mut parts = item.splitn(2, '\n');
                let first = parts.next().unwrap_or("").trim();
                let second = parts.next().unwrap_or("").trim();
                result.push_str(&format!("  {first}\n{second}\n"));
            }
        } else {
            let mut lines: Vec<&str> = text.lines().collect();
            if db == "callout" {
                lines.sort_by(|a, b| a.get(21..).unwrap_or("").cmp(b.get(21..).unwrap_or("")));
            }
            for l in lines {
                result.push_str(l);
                result.push('\n');
            }
        }
        self.append(run, "test-stdout", result.as_bytes())
    }

    fn killdaemon(&mut self, run: &Run) -> Result<()> {
        let spool = run.ws.path("spool");
        let mut pids = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&spool) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("exim-daemon.") {
                    if let Ok(t) = std::fs::read_to_string(e.path()) {
                        pids.extend(t.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
                    }
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if pids.is_empty() {
            // No pid file (an inetd wait-mode daemon): the daemon we started last — the
            // Exim its shell runs, which is the one to signal.
            pids.extend(self.daemons.last().map(|d| {
                if d.direct {
                    d.pid()
                } else {
                    daemon_pid(d.pid())
                }
            }));
        }
        // Read before the signals: a daemon that ends at once leaves the tree.
        let tree = crate::exec::reap::descendants_of(
            &self.daemons.iter().map(|d| d.pid()).collect::<Vec<_>>(),
        );
        for p in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p),
                nix::sys::signal::Signal::SIGINT,
            );
        }
        // Wait for the daemons we hold whose Exim was signalled (as -bd became -bdf, the
        // pid file's process is the one our shell started), as the Perl runtest closes its
        // pipe to the daemon and so waits for it: a daemon still going would hold the
        // ports and the notifier socket that the test's next daemon needs.
        let mut keep = Vec::new();
        for mut d in self.daemons.drain(..) {
            let signalled = pids.contains(&d.pid())
                || tree
                    .get(&d.pid())
                    .is_some_and(|ds| ds.iter().any(|p| pids.contains(p)));
            if signalled {
                d.close_stdin();
                let _ = self.exec.wait_for(d, Duration::from_secs(10));
            } else {
                keep.push(d);
            }
        }
        self.daemons = keep;
        // The daemon's children (connections, deliveries) outlive it and finish their work;
        // wait for them so that their log lines come before whatever the script does next.
        let held: Vec<i32> = self.held_pids();
        crate::exec::reap::wait_quiet(&run.ws.dir, &held, Duration::from_secs(10));
        Ok(())
    }

    /// Wait for the scripted server; on failure, the server prompt.
    fn wait_server(&mut self, run: &mut Run) -> Result<Option<Ended>> {
        let Some(r) = self.server.take() else {
            return Ok(None);
        };
        let f = self.exec.wait_for(r, self.exec.timeout)?;
        if f.interrupted {
            return Ok(Some(Ended::Interrupted));
        }
        if f.rc() == 0 && !f.timed_out {
            return Ok(None);
        }
        run.say(format!(
            "** Server return code {}{}",
            f.rc(),
            if f.timed_out { " (timed out)" } else { "" }
        ));
        loop {
            match run_ask(run, Prompt::ServerFailed)? {
                Answer::ShowServer => show_file(run, "test-stdout-server"),
                Answer::Retry => return Ok(Some(Ended::Retry)),
                Answer::Quit => return Ok(Some(Ended::Quit)),
                _ => return Ok(None),
            }
        }
    }

    /// The message ids on the queue, oldest first (for `$msgN`).
    fn queue_ids(&self, run: &Run, queue_spec: &str) -> Result<Vec<String>> {
        let dir = run.ws.dir.display().to_string();
        let mut cmd = std::process::Command::new(format!("{dir}/eximdir/exim"));
        cmd.args(["-bp"])
            .args(queue_spec.split_whitespace())
            .arg(format!("-DEXIM_PATH={dir}/eximdir/exim"))
            .args(["-C", &format!("{dir}/test-config")])
            .current_dir(&run.ws.dir)
            .env_clear()
            .envs(run.env.iter().map(|(k, v)| (k, v)));
        let out =
            crate::exec::capture(cmd, self.exec.timeout).context("listing the queue for $msgN")?;
        let re = regex::Regex::new(r"^\s*\d+[smhdw]\s+\S+\s+(\S+)").unwrap();
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| re.captures(l).map(|c| c[1].to_string()))
            .collect();
        // Base-62 ids of one length sort by time, then pid, then fraction.
        ids.sort();
        Ok(ids)
    }

    /// What to launch for `cmd` (None: it runs inside runtest).
    fn plan(&self, run: &Run, cmd: &Command) -> Result<Option<Launch>> {
        let dir = run.ws.dir.display().to_string();
        let subst = |t: &str| run.ws.table.apply(t, Some(self.testnum));
        let msg_ids = |spec: &str| {
            run.ws.write_config(&run.facts, self.testnum)?;
            self.queue_ids(run, spec)
        };
        let cx = plan::Context {
            dir: &dir,
            exim_options: &run.opts.exim_options,
            have_ipv4: run.facts.have_ipv4,
            have_ipv6: run.facts.have_ipv6,
            subst: &subst,
            msg_ids: &msg_ids,
        };
        plan::plan(cmd, &cx)
    }

    /// Launch a planned command through the executor, and keep what runs on.
    fn launch(&mut self, run: &mut Run, l: Launch) -> Result<StepResult> {
        if l.needs_config {
            run.ws.write_config(&run.facts, self.testnum)?;
        }
        for f in &l.caller_files {
            caller_file(run, f)?;
        }
        let id = self.identity(run, &l.who)?;
        match l.lifetime {
            Lifetime::Wait { close_after } => {
                let f = self.exec.wait(l.line, id, l.feed, close_after)?;
                if l.is_exim {
                    // After a non-daemon exim: release exim_lock and wait for the server.
                    if let Some(mut lock) = self.exim_lock.take() {
                        lock.close_stdin();
                        let _ = self.exec.wait_for(lock, Duration::from_secs(10));
                    }
                    if let Some(e) = self.wait_server(run)? {
                        return Ok(StepResult::Ended(e));
                    }
                }
                Ok(StepResult::Waited(f))
            }
            Lifetime::Daemon | Lifetime::WaitDaemon { .. } => {
                // It runs on until killdaemon; its spool and log folders are the Exim user's.
                let log = run.ws.path("spool/log");
                std::fs::create_dir_all(&log)?;
                for p in [&run.ws.path("spool"), &log] {
                    let _ = std::os::unix::fs::chown(
                        p,
                        Some(run.facts.exim_uid),
                        Some(run.facts.exim_gid),
                    );
                }
                let daemon = match l.lifetime {
                    Lifetime::WaitDaemon { port } => {
                        self.exec.start_wait_daemon(l.line, id, port)?
                    }
                    _ => {
                        let logs = [
                            run.ws.path("spool/log/servermainlog"),
                            run.ws.path("spool/log/mainlog"),
                        ];
                        let (daemon, lead) = self.exec.start_daemon(l.line, id, &logs)?;
                        self.daemon_lead = lead;
                        daemon
                    }
                };
                self.daemons.push(daemon);
                Ok(StepResult::Done)
            }
            Lifetime::Server { ready } => {
                let transcript = run.ws.path("test-stdout-server");
                self.server = Some(self.exec.start_server(
                    l.line,
                    id,
                    l.feed,
                    ready.as_ref(),
                    &transcript,
                )?);
                Ok(StepResult::Done)
            }
            Lifetime::Background => {
                self.background
                    .push(self.exec.start(l.line, id, l.feed, false)?);
                Ok(StepResult::Done)
            }
            Lifetime::Lock => {
                let r = self.exec.start(l.line, id, vec![], true)?;
                std::thread::sleep(Duration::from_millis(200));
                self.exim_lock = Some(r);
                Ok(StepResult::Done)
            }
        }
    }
}

/// For runtest's own tests of what a panic while running a test does (it fails that test
/// alone, named with its script line, and the run goes on): the text of a script command
/// at which runtest panics on purpose. Never set in normal use.
pub const PANIC_HOOK_VAR: &str = "MAILRIG_TEST_PANIC_AT";

fn panic_hook() -> Option<&'static str> {
    static HOOK: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HOOK.get_or_init(|| std::env::var(PANIC_HOOK_VAR).ok().filter(|s| !s.is_empty()))
        .as_deref()
}

/// The Exim of a daemon launched as `/bin/sh -c "exim …"`: the shell's child (the shell
/// forks for a command with redirections), else the shell itself. (A daemon started
/// without a shell is its own Exim.)
fn daemon_pid(shell: i32) -> i32 {
    crate::exec::reap::children(shell)
        .into_iter()
        .min()
        .unwrap_or(shell)
}

/// Make sure the output file `name` exists and belongs to the caller.
fn caller_file(run: &Run, name: &str) -> Result<()> {
    let p = run.ws.path(name);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .with_context(|| format!("{}", p.display()))?;
    if run.facts.is_root {
        std::os::unix::fs::chown(&p, Some(run.facts.caller.uid), Some(run.facts.caller.gid))?;
    }
    Ok(())
}

fn interruptible_sleep(run: &Run, d: Duration) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end && !run.interrupt.load(Ordering::SeqCst) {
        std::thread::sleep((end - std::time::Instant::now()).min(Duration::from_millis(50)));
    }
}

fn run_ask(run: &mut Run, p: Prompt) -> Result<Answer> {
    run.asker.ask(p)
}

/// Show one of the workspace's files (through `less -XF` on a terminal).
fn show_file(run: &mut Run, name: &str) {
    let p = run.ws.path(name);
    let text = std::fs::read(&p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("({}: {e})\n", p.display()));
    run.show(&text);
}
