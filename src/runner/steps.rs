//! Running the steps of one script, command by command, as the Perl runtest's `run_command`
//! does: the shell command lines it builds, which commands wait and which run on (daemons,
//! `server`, `exim_lock`, `background`), and what happens on an unexpected return code.

use super::Run;
use crate::exec::{Feed, Finished, Identity, Running, ShellCommand};
use crate::review::{Answer, Prompt};
use crate::script::{encode, Command, DataLine, DataPrefix, NoCheck, Script, Step, Sudo, WriteSpec};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
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
    subtest: u32,
    server: Option<Running>,
    daemons: Vec<Running>,
    exim_lock: Option<Running>,
    background: Vec<Running>,
    munge: MungeOptions,
}

enum StepResult {
    /// Ran inline or in the background: no return code to check.
    Done,
    /// Ran and waited: check the return code.
    Waited(Finished),
    Ended(Ended),
}

/// Perl double-quoted string escapes, for `:eval:` data lines.
pub fn perl_unescape(s: &str) -> Vec<u8> {
    let raw = encode(s);
    let b = raw.as_slice();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = b[i];
        i += 1;
        match c {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'e' => out.push(0x1b),
            b'a' => out.push(0x07),
            b'f' => out.push(0x0c),
            b'x' => {
                let (hex, braced) = if b.get(i) == Some(&b'{') {
                    let end = b[i..].iter().position(|x| *x == b'}').map(|p| i + p).unwrap_or(b.len());
                    let h = std::str::from_utf8(&b[i + 1..end]).unwrap_or("");
                    i = (end + 1).min(b.len());
                    (h.to_string(), true)
                } else {
                    let n = b[i..].iter().take(2).take_while(|x| x.is_ascii_hexdigit()).count();
                    let h = std::str::from_utf8(&b[i..i + n]).unwrap_or("");
                    i += n;
                    (h.to_string(), false)
                };
                let v = u32::from_str_radix(if hex.is_empty() { "0" } else { &hex }, 16).unwrap_or(0);
                if braced && v > 255 {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(char::from_u32(v).unwrap_or('?').encode_utf8(&mut buf).as_bytes());
                } else {
                    out.push(v as u8);
                }
            }
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

/// `(DIR/eximdir/UTIL ARGS INPUT; echo UTIL exit code = $?) >>test-stdout`.
fn utility_line(dir: &str, util: &str, args: &str, input: &str) -> String {
    format!("({dir}/eximdir/{util} {args}{input}; echo {util} exit code = $?) >>test-stdout")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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
        Ok(TestState { testnum, subtest: 0, server: None, daemons: Vec::new(), exim_lock: None, background: Vec::new(), munge })
    }

    pub fn munge_options(&self) -> MungeOptions {
        self.munge.clone()
    }

    /// Run every step.
    pub fn run(&mut self, run: &mut Run, script: &Script) -> Result<Ended> {
        for (i, step) in script.steps.iter().enumerate() {
            if run.interrupt.load(Ordering::SeqCst) {
                return Ok(Ended::Quit);
            }
            let started = std::time::Instant::now();
            let result = self
                .step(run, &step.command, step)
                .with_context(|| format!("{}: `{}`", step.span, step.text))?;
            if !matches!(step.command, Command::Comment(_)) {
                run.time_step(step.span.line, step.command.name(), started);
            }
            match result {
                StepResult::Done => {}
                StepResult::Ended(e) => return Ok(e),
                StepResult::Waited(f) => {
                    if f.interrupted {
                        return Ok(Ended::Quit);
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
        for r in self.daemons.drain(..).chain(self.background.drain(..)).chain(self.exim_lock.take()).chain(self.server.take()) {
            let _ = r.wait(Duration::ZERO, &never);
        }
        let _ = run;
    }

    fn bad_return_code(&mut self, run: &mut Run, n: usize, step: &Step, f: &Finished) -> Result<Option<Ended>> {
        run.say(format!("\n** Command {n} (\"{}\", starting at line {})", step.text, step.span.line));
        if f.timed_out {
            let t = run.opts.timeout_secs;
            run.say(format!("** Command timed out after {t} seconds (--timeout) and was killed"));
        } else {
            run.say(format!("** Return code {} (expected {})", f.rc(), step.expect_rc));
        }
        loop {
            match run_ask(run, Prompt::BadReturnCode)? {
                Answer::ShowStderr => show_file(run, "test-stderr"),
                Answer::ShowStdout => show_file(run, "test-stdout"),
                Answer::Retry => return Ok(Some(Ended::Retry)),
                Answer::Quit => return Ok(Some(Ended::Quit)),
                _ => {
                    run.summaries.failure(self.testnum, "exit code unexpected")?;
                    return Ok(Some(Ended::Abandoned));
                }
            }
        }
    }

    fn identity(&self, run: &Run, sudo: &Option<Sudo>) -> Result<Identity> {
        Ok(match sudo {
            None => run.caller_identity.clone(),
            Some(Sudo::Root) => Identity::Root,
            Some(Sudo::User(u)) => Identity::from_name(&run.ws.table.apply(u, Some(self.testnum)))?,
        })
    }

    fn shell(&self, run: &Run, line: String, identity: Identity) -> ShellCommand {
        ShellCommand { line, cwd: run.ws.dir.clone(), env: run.env.clone(), identity, runtest_uid: run.runtest_uid }
    }

    fn subst(&self, run: &Run, s: &str) -> String {
        run.ws.table.apply(s, Some(self.testnum))
    }

    /// Data lines as stdin feed, with substitutions and the `:eval:`/`:noeol:`/`:sleep:`
    /// prefixes and `\NONL\` endings.
    fn feed(&self, run: &Run, data: &[DataLine]) -> Vec<Feed> {
        data.iter()
            .map(|d| {
                let text = self.subst(run, &d.text);
                match d.prefix {
                    DataPrefix::Sleep => Feed::Sleep(Duration::from_secs(text.trim().parse().unwrap_or(0))),
                    DataPrefix::Eval => Feed::Bytes(perl_unescape(&text)),
                    DataPrefix::NoEol => Feed::Bytes(encode(&text)),
                    DataPrefix::None => match text.strip_suffix("\\NONL\\") {
                        Some(t) => Feed::Bytes(encode(t)),
                        None => Feed::Bytes(encode(&format!("{text}\n"))),
                    },
                }
            })
            .collect()
    }

    fn timeout(run: &Run) -> Duration {
        Duration::from_secs(run.opts.timeout_secs)
    }

    fn run_wait(&self, run: &Run, sh: ShellCommand, feed: Vec<Feed>, close_after: Duration) -> Result<Finished> {
        if run.opts.debug {
            println!(">> {} [{}]", sh.line, sh.identity.name());
        }
        let r = sh.spawn(feed, close_after, false)?;
        r.wait(Self::timeout(run), &run.interrupt)
    }

    fn append(&self, run: &Run, file: &str, text: &[u8]) -> Result<()> {
        let p = run.ws.path(file);
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p).with_context(|| format!("{}", p.display()))?;
        f.write_all(text)?;
        if run.facts.is_root {
            let _ = std::os::unix::fs::chown(&p, Some(run.facts.caller.uid), Some(run.facts.caller.gid));
        }
        Ok(())
    }

    fn step(&mut self, run: &mut Run, cmd: &Command, _step: &Step) -> Result<StepResult> {
        let dir = run.ws.dir.display().to_string();
        match cmd {
            Command::Comment(text) => {
                let line = format!("### {}\n", self.subst(run, text));
                self.append(run, "test-stdout", &encode(&line))?;
                self.append(run, "test-stderr", &encode(&line))?;
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
                interruptible_sleep(run, Duration::from_secs(*n));
                Ok(StepResult::Done)
            }
            Command::MilliSleep(n) => {
                interruptible_sleep(run, Duration::from_millis(*n));
                Ok(StepResult::Done)
            }
            Command::Munge(name) => {
                if !run.rules.has_named(name) {
                    anyhow::bail!("unknown munge `{name}` (known: {})", run.rules.named().join(", "));
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
                let _ = std::os::unix::fs::chown(&spool, Some(run.facts.exim_uid), Some(run.facts.exim_gid));
                let dst = spool.join("gnutls-params");
                std::fs::copy(run.ws.path("aux-fixed/gnutls-params"), &dst).context("copying aux-fixed/gnutls-params")?;
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
            // The Exim utilities run as the Perl runtest runs them: their output and a line
            // "<utility> exit code = N" go to test-stdout, so the exit code is part of the
            // compared output rather than checked.
            Command::DbmBuild(args) => {
                let files: Vec<String> = self.subst(run, args).split_whitespace().map(|f| format!("{dir}/{f}")).collect();
                let line = utility_line(&dir, "exim_dbmbuild", &files.join(" "), "");
                self.run_utility(run, line)
            }
            Command::Exinext(args) => {
                let pre = format!("-DEXIM_PATH={dir}/eximdir/exim -C {dir}/test-config ");
                let line = utility_line(&dir, "exinext", &format!("{pre}{}", self.subst(run, args)), "");
                self.run_utility(run, line)
            }
            Command::Exigrep(args) => {
                let line = utility_line(&dir, "exigrep", &self.subst(run, args), &format!(" < {dir}/spool/log/mainlog"));
                self.run_utility(run, line)
            }
            Command::Eximstats(args) => {
                let line = utility_line(&dir, "eximstats", &self.subst(run, args), &format!(" < {dir}/spool/log/mainlog"));
                self.run_utility(run, line)
            }
            Command::Exiqgrep(args) => {
                run.ws.write_config(&run.facts, self.testnum)?;
                let exim = format!("{dir}/eximdir/exim -DEXIM_PATH={dir}/eximdir/exim -C {dir}/test-config");
                let line = utility_line(&dir, "exiqgrep", &format!("-E {} {}", shell_quote(&exim), self.subst(run, args)), "");
                self.run_utility(run, line)
            }
            Command::EximLock(args) => {
                let line = format!("{dir}/eximdir/exim_lock {} >>test-stdout 2>>test-stderr", self.subst(run, args));
                let mut sh = self.shell(run, line, run.caller_identity.clone());
                // exim_lock with no command runs a shell on its stdin: the lock is held
                // until that stdin is closed, after the next non-daemon exim.
                sh.env.retain(|(k, _)| k != "SHELL");
                sh.env.push(("SHELL".into(), "/bin/sh".into()));
                let r = sh.spawn(vec![], Duration::ZERO, true)?;
                std::thread::sleep(Duration::from_millis(200));
                self.exim_lock = Some(r);
                Ok(StepResult::Done)
            }
            Command::Perl { sudo, data } => {
                let id = self.identity(run, sudo)?;
                let sh = self.shell(run, "perl >>test-stdout 2>>test-stderr".into(), id);
                let feed = self.feed(run, data);
                Ok(StepResult::Waited(self.run_wait(run, sh, feed, Duration::ZERO)?))
            }
            Command::File(f) => {
                let id = self.identity(run, &f.sudo)?;
                let line = format!("{} >>test-stdout 2>>test-stderr", self.subst(run, &f.line));
                let sh = self.shell(run, line, id);
                Ok(StepResult::Waited(self.run_wait(run, sh, vec![], Duration::ZERO)?))
            }
            Command::Client { sudo, program, args, data } => {
                let id = self.identity(run, sudo)?;
                let line = format!("{dir}/bin/{program} {} >>test-stdout 2>&1", self.subst(run, args));
                let sh = self.shell(run, line, id);
                let feed = self.feed(run, data);
                Ok(StepResult::Waited(self.run_wait(run, sh, feed, Duration::ZERO)?))
            }
            Command::Server { args, data } => {
                self.start_server(run, args, data)?;
                Ok(StepResult::Done)
            }
            Command::Background(inner) => {
                self.background(run, inner)?;
                Ok(StepResult::Done)
            }
            Command::Exim { .. } => self.exim(run, cmd),
        }
    }

    fn run_utility(&self, run: &Run, line: String) -> Result<StepResult> {
        let sh = self.shell(run, line, run.caller_identity.clone());
        Ok(StepResult::Waited(self.run_wait(run, sh, vec![], Duration::ZERO)?))
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
            std::os::unix::fs::chown(&path, Some(run.facts.caller.uid), Some(run.facts.caller.gid))?;
        }
        if catwrite {
            self.append(run, "test-stdout", &out)?;
        }
        Ok(())
    }

    fn dump(&self, run: &Run, db: &str) -> Result<()> {
        let dir = run.ws.dir.display().to_string();
        let out = std::process::Command::new(format!("{dir}/eximdir/exim_dumpdb"))
            .arg(format!("{dir}/spool"))
            .arg(db)
            .current_dir(&run.ws.dir)
            .output()
            .context("running exim_dumpdb")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut result = String::from("+++++++++++++++++++++++++++\n");
        if db == "retry" {
            // Records are separated by "\n  "; sort them by their first word.
            let mut items: Vec<String> = text.split("\n  ").map(|s| s.to_string()).collect();
            items.sort_by(|a, b| a.split_whitespace().next().cmp(&b.split_whitespace().next()));
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
            // No pid file: the daemon we started last.
            pids.extend(self.daemons.last().map(|d| d.pid()));
        }
        for p in &pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), nix::sys::signal::Signal::SIGINT);
        }
        // Wait for the daemons we hold (the pid file's process is the one we started, as
        // -bd became -bdf).
        let mut keep = Vec::new();
        for mut d in self.daemons.drain(..) {
            if pids.contains(&d.pid()) {
                d.close_stdin();
                let _ = d.wait(Duration::from_secs(10), &run.interrupt);
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

    fn start_server(&mut self, run: &Run, args: &str, data: &[DataLine]) -> Result<()> {
        let dir = run.ws.dir.display().to_string();
        let mut args = self.subst(run, args);
        if !run.facts.have_ipv6 && !args.contains("-noipv6") {
            args = format!("-noipv6 {args}");
        }
        if !run.facts.have_ipv4 && !args.contains("-noipv4") {
            args = format!("-noipv4 {args}");
        }
        let line = format!("{dir}/bin/server {args} >>test-stdout-server 2>&1");
        caller_file(run, "test-stdout-server")?;
        let sh = self.shell(run, line, run.caller_identity.clone());
        if run.opts.debug {
            println!(">> {}", sh.line);
        }
        let feed = self.feed(run, data);
        let r = sh.spawn(feed, Duration::ZERO, false)?;
        // Wait until it listens (unless it pauses first with -i), so the next command
        // does not race it.
        let target = mailrig_aux::server_args::listen_target(&args).map(|l| match l {
            mailrig_aux::server_args::Listen::Port(p) => p.to_string(),
            mailrig_aux::server_args::Listen::Unix(path) => path,
        });
        if !args.split_whitespace().any(|w| w == "-i") {
            if let Some(t) = &target {
                wait_listening(t, &run.ws.dir, Duration::from_secs(5));
            }
        }
        self.server = Some(r);
        Ok(())
    }

    /// Wait for the scripted server; on failure, the server prompt.
    fn wait_server(&mut self, run: &mut Run) -> Result<Option<Ended>> {
        let Some(r) = self.server.take() else { return Ok(None) };
        let f = r.wait(Self::timeout(run), &run.interrupt)?;
        if f.interrupted {
            return Ok(Some(Ended::Quit));
        }
        if f.rc() == 0 && !f.timed_out {
            return Ok(None);
        }
        run.say(format!("** Server return code {}{}", f.rc(), if f.timed_out { " (timed out)" } else { "" }));
        loop {
            match run_ask(run, Prompt::ServerFailed)? {
                Answer::ShowServer => show_file(run, "test-stdout-server"),
                Answer::Retry => return Ok(Some(Ended::Retry)),
                Answer::Quit => return Ok(Some(Ended::Quit)),
                _ => return Ok(None),
            }
        }
    }

    fn background(&mut self, run: &mut Run, inner: &Command) -> Result<()> {
        let dir = run.ws.dir.display().to_string();
        let (line, id, feed) = match inner {
            Command::Exim { env, sudo, variant, args, data, .. } => {
                run.ws.write_config(&run.facts, self.testnum)?;
                let envs: String = env.iter().map(|(k, v)| format!("{k}={} ", self.subst(run, v))).collect();
                (
                    format!(
                        "{envs}{dir}/eximdir/exim{variant} -DEXIM_PATH={dir}/eximdir/exim{variant} -C {dir}/test-config {} >>test-stdout 2>>test-stderr",
                        self.subst(run, args)
                    ),
                    self.identity(run, sudo)?,
                    self.feed(run, data),
                )
            }
            Command::File(f) => (format!("{} >>test-stdout 2>>test-stderr", self.subst(run, &f.line)), self.identity(run, &f.sudo)?, vec![]),
            Command::Perl { sudo, data } => ("perl >>test-stdout 2>>test-stderr".into(), self.identity(run, sudo)?, self.feed(run, data)),
            Command::Client { sudo, program, args, data } => (
                format!("{dir}/bin/{program} {} >>test-stdout 2>&1", self.subst(run, args)),
                self.identity(run, sudo)?,
                self.feed(run, data),
            ),
            other => anyhow::bail!("`{}` cannot run in the background", other.name()),
        };
        let sh = self.shell(run, line, id);
        self.background.push(sh.spawn(feed, Duration::ZERO, false)?);
        Ok(())
    }

    /// The message ids on the queue, oldest first (for `$msgN`).
    fn queue_ids(&self, run: &Run, queue_spec: &str) -> Result<Vec<String>> {
        let dir = run.ws.dir.display().to_string();
        let out = std::process::Command::new(format!("{dir}/eximdir/exim"))
            .args(["-bp"])
            .args(queue_spec.split_whitespace())
            .arg(format!("-DEXIM_PATH={dir}/eximdir/exim"))
            .args(["-C", &format!("{dir}/test-config")])
            .current_dir(&run.ws.dir)
            .env_clear()
            .envs(run.env.iter().map(|(k, v)| (k, v)))
            .output()
            .context("listing the queue for $msgN")?;
        let re = regex::Regex::new(r"^\s*\d+[smhdw]\s+\S+\s+(\S+)").unwrap();
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| re.captures(l).map(|c| c[1].to_string()))
            .collect();
        // Base-62 ids of one length sort by time, then pid, then fraction.
        ids.sort();
        Ok(ids)
    }

    fn exim(&mut self, run: &mut Run, cmd: &Command) -> Result<StepResult> {
        let Command::Exim { env, wait_secs, sudo, variant, args, data } = cmd else { unreachable!() };
        let dir = run.ws.dir.display().to_string();
        self.subtest += 1;
        run.ws.write_config(&run.facts, self.testnum)?;
        let mut args = self.subst(run, args);
        if args.contains("$msg") {
            let qspec = regex::Regex::new(r"-qG\w+").unwrap().find(&args).map(|m| m.as_str().to_string()).unwrap_or_default();
            let ids = self.queue_ids(run, &qspec)?;
            for i in (1..=ids.len()).rev() {
                args = args.replace(&format!("$msg{i}"), &ids[i - 1]);
            }
            if regex::Regex::new(r"\$msg\d").unwrap().is_match(&args) {
                anyhow::bail!("not enough messages on the queue for `{args}`");
            }
        }
        let optargs: String = run.opts.exim_options.iter().map(|o| format!(" {o}")).collect();
        if run.opts.exim_options.iter().any(|o| o.starts_with("-d")) {
            args = regex::Regex::new(r"(^|\s)-d\S*").unwrap().replace_all(&args, "").into_owned();
        }
        let envs: String = env.iter().map(|(k, v)| format!("{k}={} ", self.subst(run, v))).collect();
        let mut line = format!(
            "{envs}{dir}/eximdir/exim{variant}{optargs} -DEXIM_PATH={dir}/eximdir/exim{variant} -C {dir}/test-config {args} >>test-stdout 2>>test-stderr"
        );
        let id = self.identity(run, sudo)?;
        let is_server = line.contains(" -DSERVER=server ");
        if is_server && !line.contains(" -DNOTDAEMON ") {
            // A daemon: runs on until killdaemon; its stderr goes to test-stderr-server.
            let log = run.ws.path("spool/log");
            std::fs::create_dir_all(&log)?;
            let spool = run.ws.path("spool");
            for p in [&spool, &log] {
                let _ = std::os::unix::fs::chown(p, Some(run.facts.exim_uid), Some(run.facts.exim_gid));
            }
            line = line.replacen(" -bd ", " -bdf ", 1);
            if line.contains(" -bdf ") && !line.contains(" -oP ") {
                line = line.replacen(" -bdf ", &format!(" -bdf -oP {dir}/spool/exim-daemon.pid "), 1);
            }
            line.push_str("-server");
            caller_file(run, "test-stderr-server")?;
            let sh = self.shell(run, line, id);
            if run.opts.debug {
                println!(">> daemon: {}", sh.line);
            }
            // Ready means: it has logged "daemon started" (Exim does so once its sockets
            // listen; the pid file can come first) — or it has ended.
            let logs = [run.ws.path("spool/log/servermainlog"), run.ws.path("spool/log/mainlog")];
            let started_lines = || {
                logs.iter()
                    .map(|l| std::fs::read_to_string(l).map(|t| t.matches(" daemon started: ").count()).unwrap_or(0))
                    .sum::<usize>()
            };
            let before = started_lines();
            let mut r = sh.spawn(vec![], Duration::ZERO, true)?;
            let start = std::time::Instant::now();
            while start.elapsed() < Duration::from_secs(10) && started_lines() == before {
                if r.try_finished()?.is_some() || run.interrupt.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if started_lines() == before {
                // Not a listening daemon (e.g. a queue-runner daemon): give it a moment, as
                // the Perl runtest does.
                std::thread::sleep(Duration::from_millis(300));
            }
            self.daemons.push(r);
            return Ok(StepResult::Done);
        }
        if is_server {
            line.push_str("-server");
            caller_file(run, "test-stderr-server")?;
        }
        let sh = self.shell(run, line, id);
        let feed = self.feed(run, data);
        let f = self.run_wait(run, sh, feed, Duration::from_secs(*wait_secs))?;
        // After a non-daemon exim: release exim_lock and wait for the scripted server.
        if let Some(mut l) = self.exim_lock.take() {
            l.close_stdin();
            let _ = l.wait(Duration::from_secs(10), &run.interrupt);
        }
        if let Some(e) = self.wait_server(run)? {
            return Ok(StepResult::Ended(e));
        }
        Ok(StepResult::Waited(f))
    }
}

/// Make sure the output file `name` exists and belongs to the caller.
fn caller_file(run: &Run, name: &str) -> Result<()> {
    let p = run.ws.path(name);
    std::fs::OpenOptions::new().create(true).append(true).open(&p).with_context(|| format!("{}", p.display()))?;
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
    let text = std::fs::read(&p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|e| format!("({}: {e})\n", p.display()));
    run.show(&text);
}

/// Wait until something listens on `target` (a port number or a unix socket path).
fn wait_listening(target: &str, dir: &Path, max: Duration) {
    let start = std::time::Instant::now();
    let port: Option<u16> = target.parse().ok();
    while start.elapsed() < max {
        let ready = match port {
            Some(p) => listening_tcp(p),
            None => dir.join(target).exists() || Path::new(target).exists(),
        };
        if ready {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn listening_tcp(port: u16) -> bool {
    let hex = format!(":{port:04X} ");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .map(|t| t.lines().skip(1).any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(hex.trim_end()) && cols[3] == "0A"
            }))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_escapes() {
        assert_eq!(perl_unescape(r"\x41\101\r\n"), b"AA\r\n".to_vec());
        assert_eq!(perl_unescape(r"a\\b\x{263A}"), "a\\b\u{263A}".as_bytes().to_vec());
        assert_eq!(perl_unescape(r"\t\e\0"), vec![b'\t', 0x1b, 0]);
        assert_eq!(perl_unescape("trailing\\"), b"trailing\\".to_vec());
    }

    #[test]
    fn utility_lines() {
        assert_eq!(
            utility_line("/s", "exigrep", "abc", " < /s/spool/log/mainlog"),
            "(/s/eximdir/exigrep abc < /s/spool/log/mainlog; echo exigrep exit code = $?) >>test-stdout"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
