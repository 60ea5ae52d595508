//! The orchestration of one run — the only place that knows every stage: probe the host and
//! the binary, build the workspace, select the tests, and for each test run its script
//! (`steps`), collect and munge its outputs and compare them (`check`), and act on the
//! answers (`review`), reporting as it goes.

mod check;
mod estimate;
mod pending;
mod plan;
mod rerun;
mod schedule;
mod steps;

pub use crate::report::page;

use crate::cli::Options;
use crate::exec::Identity;
use crate::probe;
use crate::report::{Summaries, Verdict};
use crate::review::{Answer, Asker, Fixed, Terminal};
use crate::script::{self, NeedKind};
use crate::suite::{self, Folder, TestFile};
use crate::workspace::{Facts, Workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Everything a run knows once set up, shared by its workers.
pub struct Shared {
    pub opts: Options,
    pub facts: Facts,
    pub features: probe::exim::Features,
    pub rules: mailrig_munge::RuleSet,
    pub interrupt: Arc<AtomicBool>,
    pub summaries: Summaries,
    pub env: Vec<(String, String)>,
    pub caller_identity: Identity,
    pub runtest_uid: u32,
    /// More than one worker: clean-up must spare the other workers' processes.
    pub parallel: bool,
    /// When the run began (the reports give each test's start from it).
    pub began: std::time::Instant,
}

/// Where a worker's console lines go: straight to the terminal (serial runs, interactive
/// review), or into a buffer printed when the test ends (parallel runs, so that the lines of
/// tests running side by side never interleave).
pub enum Console {
    Direct,
    Buffer(String),
}

/// One worker: a workspace, the way it gets answers, and its console.
pub struct Run {
    pub shared: Arc<Shared>,
    pub ws: Workspace,
    asker: Box<dyn Asker + Send>,
    pub console: Console,
    /// Everything said for the current test, for the JUnit/JSON reports.
    capture: String,
    /// Where the current test's time went, for the JSON report.
    step_times: Vec<crate::report::StepTime>,
    /// The script line being run (`file:line`), to name it when runtest itself fails there.
    pub current: Option<String>,
    /// The current test failed because of the suite's own files (see `TestRecord::settled`).
    pub settled: bool,
    /// The saved files (`stderr/0042`) the current test's output matched but for the order
    /// of its lines (see `TestRecord::reordered`).
    pub reordered: Vec<String>,
    /// This worker's copy of the munge rules (regexes whose caches no other thread shares).
    own_rules: Arc<mailrig_munge::RuleSet>,
}

impl std::ops::Deref for Run {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl Run {
    /// One line (or more) for the user.
    pub fn say(&mut self, text: impl AsRef<str>) {
        self.capture.push_str(text.as_ref());
        self.capture.push('\n');
        match &mut self.console {
            Console::Direct => println!("{}", text.as_ref()),
            Console::Buffer(b) => {
                b.push_str(text.as_ref());
                b.push('\n');
            }
        }
    }

    /// Long text (a difference, a file): through the pager when direct.
    pub fn show(&mut self, text: &str) {
        self.capture.push_str(text);
        match &mut self.console {
            Console::Direct => page(text),
            Console::Buffer(b) => b.push_str(text),
        }
    }

    /// Note the time one phase of the current test took.
    fn time_step(&mut self, line: usize, what: &'static str, since: std::time::Instant) {
        self.step_times.push(crate::report::StepTime {
            line,
            what,
            seconds: since.elapsed().as_secs_f64(),
        });
    }

    fn take_console(&mut self) -> String {
        match &mut self.console {
            Console::Direct => String::new(),
            Console::Buffer(b) => std::mem::take(b),
        }
    }

    /// Kill and reap whatever this worker's test left running.
    fn kill_leftovers(&self) {
        if self.parallel {
            crate::exec::reap::kill_workspace(&self.ws.dir);
        } else {
            crate::exec::reap::kill_all_descendants();
        }
    }
}

/// How a test ended.
#[derive(Debug)]
enum Outcome {
    Verdict(Verdict),
    Retry,
    Quit,
}

/// Close every inherited descriptor above 2: one leaking into Exim changes test 0142.
fn close_inherited_fds() {
    // SAFETY: called first thing in main, before anything opens a descriptor we need.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
}

/// Where the runtest binary and its siblings (the aux programs) live.
fn own_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The environment the tests' commands get: USER, SHELL, PATH, TERM and EXIM_TEST_* only.
fn test_environment(caller: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("USER".to_string(), caller.to_string()),
        ("SHELL".to_string(), "/bin/sh".to_string()),
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
                + ":/usr/sbin:/sbin",
        ),
    ];
    for (k, v) in std::env::vars() {
        if k == "TERM" || k.starts_with("EXIM_TEST_") {
            env.push((k, v));
        }
    }
    env
}

/// Run runtest with these options. Returns the exit status.
pub fn main(opts: Options) -> Result<i32> {
    close_inherited_fds();
    // SAFETY: umask has no memory effects. The suite's files must not be group-writable.
    unsafe {
        libc::umask(0o022);
    }
    let is_root = nix::unistd::geteuid().is_root();
    let suite = match &opts.suite {
        Some(s) => s.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    let suite = suite
        .canonicalize()
        .with_context(|| format!("{}: no such suite folder", suite.display()))?;
    if !suite.join("scripts").is_dir() {
        bail!(
            "{}: not a test suite (no scripts/ folder); run from the suite or give --suite DIR",
            suite.display()
        );
    }
    if opts.review {
        let mut asker: Box<dyn Asker> = if opts.update {
            Box::new(Fixed(Answer::Update))
        } else {
            Box::new(Terminal)
        };
        pending::review(&suite, opts.first, opts.last, opts.diff, asker.as_mut())?;
        return Ok(0);
    }
    if !is_root {
        // A maintainer with sudo rights: restart as root, with them as the caller.
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        crate::elevate::restart_under_sudo(&args)?;
    }
    // Before any thread exists: the private UTS namespace and the subreaper.
    let hostname = probe::host::ensure_fqdn(is_root)?;
    crate::exec::reap::become_subreaper();
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let count = Arc::new(AtomicUsize::new(0));
        ctrlc::set_handler(move || {
            flag.store(true, Ordering::SeqCst);
            if count.fetch_add(1, Ordering::SeqCst) >= 1 {
                eprintln!("\n** Interrupted twice: killing everything and exiting");
                crate::exec::reap::kill_all_descendants();
                std::process::exit(130);
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    if !hostname.contains('.') {
        eprintln!("** Warning: the host name `{hostname}` is not fully qualified; some tests (e.g. 0036) will fail");
    }

    let binary = probe::exim::find_binary(opts.binary.as_deref(), &suite)?;
    let binary = binary.canonicalize().unwrap_or(binary);
    let limit = std::time::Duration::from_secs(opts.timeout_secs);
    let (_, bv) = probe::exim::run_capture(&binary, &["-C", "/dev/null", "-bV"], limit)?;
    let features = probe::exim::parse_bv(&bv).with_context(|| binary.display().to_string())?;
    let (_, users) = probe::exim::run_capture(
        &binary,
        &["-C", "/dev/null", "-bP", "exim_user", "exim_group"],
        limit,
    )?;
    let setting = |name: &str| {
        users.lines().find_map(|l| {
            l.strip_prefix(&format!("{name} = "))
                .map(|v| v.trim().to_string())
        })
    };
    let exim_user = setting("exim_user").context("cannot find the Exim user (-bP exim_user)")?;
    let exim_group = setting("exim_group").unwrap_or_else(|| exim_user.clone());
    let exim_acct = probe::account::lookup(&exim_user)?
        .with_context(|| format!("Exim user {exim_user} has no passwd entry"))?;
    let exim_gid = probe::account::group_gid(&exim_group)?
        .with_context(|| format!("no group {exim_group}"))?;

    let caller_name = opts.caller.as_deref().unwrap_or("mailrig");
    let caller = match crate::elevate::invoker() {
        // The maintainer's own account is used as it is (never changed by runtest).
        Some(inv) if inv.name == caller_name => probe::account::lookup(caller_name)?
            .with_context(|| format!("caller {caller_name} has no passwd entry"))?,
        _ => probe::account::ensure_caller(caller_name, &exim_group)?,
    };
    probe::account::validate_caller(&caller, exim_gid)?;

    let (v4, v6) = probe::host::addresses();
    let host = probe::host::Host {
        hostname: hostname.clone(),
        ipv4: v4,
        ipv6: v6,
    };
    let have_ipv4 = v4.is_some() && !opts.no_ipv4;
    let have_ipv6 = v6.is_some() && !opts.no_ipv6 && features.support.contains("ipv6");

    let facts = Facts {
        suite: suite.clone(),
        binary: binary.clone(),
        host,
        caller: caller.clone(),
        exim_user: exim_user.clone(),
        exim_uid: exim_acct.uid,
        exim_group: exim_group.clone(),
        exim_gid,
        aux_dir: own_dir(),
        trusted_list: probe::exim::trusted_config_list(&binary),
        is_root,
        have_ipv4,
        have_ipv6,
    };

    println!(
        "Exim binary: {} (version {})",
        binary.display(),
        features.version
    );
    println!("Suite:       {}", suite.display());
    println!(
        "Host:        {hostname} IPv4 {} IPv6 {}",
        v4.map(|a| a.to_string()).unwrap_or_else(|| "none".into()),
        v6.map(|a| a.to_string()).unwrap_or_else(|| "none".into())
    );
    println!(
        "Caller:      {} (uid {} gid {}); Exim user {exim_user}, group {exim_group}",
        caller.name, caller.uid, caller.gid
    );

    let missing = crate::workspace::missing_aux_programs(&facts.aux_dir);
    if !missing.is_empty() {
        eprintln!(
            "** Warning: no {} beside runtest in {}: tests that use them will fail",
            missing.join(", "),
            facts.aux_dir.display()
        );
    }

    let rules_path = find_rules(&suite)?;
    let rules = mailrig_munge::RuleSet::load(&rules_path)?;
    let summaries = Summaries::new(&suite, opts.continue_ || opts.update)?;
    let env = test_environment(&caller.name);
    let caller_identity = Identity::User {
        name: caller.name.clone(),
        uid: caller.uid,
        gid: caller.gid,
        groups: caller.groups.clone(),
    };
    let folders = suite::scan(&suite)?;
    let jobs = schedule::workers_for(&opts, &folders);
    let shared = Arc::new(Shared {
        opts,
        facts,
        features,
        rules,
        interrupt,
        summaries,
        env,
        caller_identity,
        runtest_uid: nix::unistd::geteuid().as_raw(),
        parallel: jobs > 1,
        began: std::time::Instant::now(),
    });
    let mut workers = Vec::new();
    // The workspaces are built side by side too (links to aux-fixed, the patched binary …).
    let (blocks, busy) = crate::workspace::free_port_blocks(shared.opts.port_offset, jobs)?;
    for b in busy {
        println!(
            "Ports:       {}-{} are in use by something else: not used",
            b.s, b.d4
        );
    }
    // One master copy of the aux files and programs, which every workspace links to.
    let shared_dir = suite.join("workspace").join("shared");
    crate::workspace::prepare_shared(&shared.facts, &shared_dir)?;
    let spaces: Vec<Result<Workspace>> = std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .into_iter()
            .enumerate()
            .map(|(k, ports)| {
                let (facts, suite, shared_dir) = (&shared.facts, &suite, &shared_dir);
                scope.spawn(move || {
                    Workspace::create(
                        facts,
                        &suite.join("workspace").join(k.to_string()),
                        ports,
                        shared_dir,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("building a workspace panicked")))
            })
            .collect()
    });
    for ws in spaces {
        let ws = ws?;
        let asker: Box<dyn Asker + Send> = if shared.opts.update {
            Box::new(Fixed(Answer::Update))
        } else if shared.opts.continue_ || jobs > 1 {
            Box::new(Fixed(Answer::Continue))
        } else {
            Box::new(Terminal)
        };
        let console = if jobs > 1 {
            Console::Buffer(String::new())
        } else {
            Console::Direct
        };
        workers.push(Run {
            shared: shared.clone(),
            ws,
            asker,
            console,
            capture: String::new(),
            step_times: Vec::new(),
            current: None,
            settled: false,
            reordered: Vec::new(),
            own_rules: Arc::new(shared.rules.for_one_thread()),
        });
    }
    println!(
        "Workspace:   {}{}",
        workers[0].ws.dir.display(),
        if jobs > 1 {
            format!(" (and {} more, -j {jobs})", jobs - 1)
        } else {
            String::new()
        }
    );
    let started = std::time::Instant::now();
    let (totals, records) = schedule::run_all(&shared, workers, &folders)?;
    let secs = started.elapsed().as_secs_f64();
    if let Some(p) = &shared.opts.junit {
        crate::report::write_junit(p, &records, secs)?;
    }
    if let Some(p) = &shared.opts.json {
        crate::report::write_json(p, &records, secs)?;
    }
    crate::exec::reap::kill_all_descendants();
    println!();
    if !totals.failed.is_empty() {
        println!(
            "Failed tests: {}",
            totals
                .failed
                .iter()
                .map(|n| format!("{n:04}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let flaky: Vec<String> = records
        .iter()
        .filter(|r| r.failed_first.is_some())
        .map(|r| format!("{:04}", r.number))
        .collect();
    if !flaky.is_empty() {
        println!("Failed side by side, passed alone: {}", flaky.join(" "));
    }
    println!("{}", cpu_line(secs));
    println!("{}", totals.line());
    shared.summaries.close();
    if let Some(e) = shared.summaries.write_error() {
        eprintln!("runtest: the summary files are incomplete: {e}");
        return Ok(2);
    }
    if shared.interrupt.load(Ordering::SeqCst) {
        if !totals.interrupted.is_empty() {
            println!(
                "Interrupted tests (no verdict): {}",
                totals
                    .interrupted
                    .iter()
                    .map(|n| format!("{n:04}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        return Ok(130);
    }
    Ok(if shared.opts.fail_exit && !totals.failed.is_empty() {
        1
    } else {
        0
    })
}

/// Where the run's time went: wall time, runtest's own CPU (its threads: scheduling,
/// waiting, copying, munging, comparing) and its children's (Exim and the aux programs).
fn cpu_line(wall: f64) -> String {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let usage = |who| {
        // SAFETY: getrusage only writes the struct it is given.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut r) };
        (secs(r.ru_utime), secs(r.ru_stime))
    };
    let (u, s) = usage(libc::RUSAGE_SELF);
    let (cu, cs) = usage(libc::RUSAGE_CHILDREN);
    format!("Time:        {wall:.1} s; runtest's own CPU {u:.1} s user + {s:.1} s system, its children's {cu:.1} s + {cs:.1} s")
}

/// The munge rules: the suite's own `munge.toml` if it has one, else the one shipped with
/// mailrig (beside the sources, found from the binary's location).
fn find_rules(suite: &Path) -> Result<PathBuf> {
    let local = suite.join("munge.toml");
    if local.is_file() {
        return Ok(local);
    }
    let mut dir = own_dir();
    for _ in 0..4 {
        let p = dir.join("munge.toml");
        if p.is_file() {
            return Ok(p);
        }
        if !dir.pop() {
            break;
        }
    }
    let built_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("munge.toml");
    if built_in.is_file() {
        return Ok(built_in);
    }
    bail!(
        "no munge.toml found in {} or beside runtest",
        suite.display()
    )
}

impl Shared {
    /// Why a folder cannot run: a broken REQUIRES file, or a requirement not met.
    fn unmet(&self, folder: &Folder) -> Option<String> {
        if let Some(why) = &folder.broken {
            return Some(why.clone());
        }
        struct Live<'a>(&'a Shared);
        impl probe::requires::Probes for Live<'_> {
            fn has_macro(&mut self, name: &str) -> bool {
                probe::exim::run_capture(
                    &self.0.facts.binary,
                    &["-C", "/dev/null", "-bP", "macro", name],
                    self.0.timeout(),
                )
                .map(|(rc, out)| rc == 0 && !out.contains("not found"))
                .unwrap_or(false)
            }
            fn has_program(&mut self, name: &str) -> bool {
                which::which(name).is_ok()
            }
        }
        let net = probe::requires::Network {
            have_ipv4: self.facts.have_ipv4,
            have_ipv6: self.facts.have_ipv6,
            ipv6: self.facts.host.ipv6,
        };
        probe::requires::unmet(&folder.requires, &self.features, &net, &mut Live(self))
    }

    /// The limit on any one command (--timeout).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.opts.timeout_secs)
    }

    /// Is a `need_*` requirement met? (None: yes; Some(message): skip.)
    fn need(&self, n: NeedKind) -> Option<&'static str> {
        match n {
            NeedKind::Ipv4 if !self.facts.have_ipv4 => Some("No IPv4 interface is available"),
            NeedKind::Ipv6 if !self.facts.have_ipv6 => Some("No IPv6 interface is available"),
            NeedKind::LargeFiles if self.features.off_t_size <= 4 => {
                Some("Exim does not support large files")
            }
            NeedKind::MoveFrozenMessages
                if !self.features.support.contains("move_frozen_messages") =>
            {
                Some("move_frozen_messages is not supported")
            }
            _ => None,
        }
    }
}

impl Run {
    /// Run one test once: its script, then the comparison of its outputs.
    fn run_test(&mut self, folder: &Folder, test: &TestFile) -> Result<Outcome> {
        let heading = suite::heading(&test.path);
        self.say(format!("{}/{} {}", folder.name, test.id(), heading));
        self.current = Some(test.path.display().to_string());
        let script = match script::parse_script(&test.path) {
            Ok(s) => s,
            Err(e) => {
                self.say(format!("** {e:#}"));
                self.summaries
                    .failure(test.number, &format!("script ({e:#})"));
                self.settled = true;
                return Ok(Outcome::Verdict(Verdict::Fail));
            }
        };
        for n in script.needs() {
            if let Some(why) = self.need(n) {
                self.say(format!(">>> {why}: test {} skipped", test.id()));
                return Ok(Outcome::Verdict(Verdict::Skipped));
            }
        }
        self.step_times.clear();
        let started = std::time::Instant::now();
        self.ws
            .reset(&self.facts)
            .context("setting up the workspace")?;
        // PORT_DYNAMIC is a port found free for this test, as the Perl runtest picks one
        // per test (a workspace's earlier pick may have been taken since).
        if let Some(p) = crate::workspace::free_port() {
            self.ws.table.port_dynamic = p;
        }
        self.time_step(0, "setup", started);
        let mut state = steps::TestState::new(self, test.number, &script)?;
        let ended = state.run(self, &script);
        // Whatever happened, nothing the test started survives it.
        let started = std::time::Instant::now();
        state.finish(self);
        self.kill_leftovers();
        self.time_step(0, "teardown", started);
        if self.interrupt.load(Ordering::SeqCst) {
            return Ok(Outcome::Verdict(Verdict::Interrupted));
        }
        match ended? {
            steps::Ended::Completed => {}
            steps::Ended::Abandoned => return Ok(Outcome::Verdict(Verdict::Fail)),
            steps::Ended::Retry => return Ok(Outcome::Retry),
            steps::Ended::Quit => return Ok(Outcome::Quit),
            steps::Ended::Skipped => return Ok(Outcome::Verdict(Verdict::Skipped)),
            steps::Ended::Interrupted => return Ok(Outcome::Verdict(Verdict::Interrupted)),
        }
        self.say("  Script completed");
        if self.opts.slow {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let started = std::time::Instant::now();
        self.current = Some(format!("{} (comparing the outputs)", test.path.display()));
        let verdict = check::check_outputs(self, test.number, &script, state.munge_options());
        self.time_step(0, "check", started);
        verdict
    }
}
