//! Which test runs when, and on which worker: the serial loop of the Perl runtest (one
//! worker, prompts as they come), or `-j N` workers taking tests from a queue ordered
//! longest-first by the timings of earlier runs, each test's console lines printed whole when
//! it ends, and — when interactive — the failures reviewed one by one afterwards, in test
//! order, on the terminal.

use super::rerun::{AfterEarly, Memory};
use super::{Console, Outcome, Run, Shared};
use crate::cli::Options;
use crate::report::{FirstRun, TestRecord, Totals, Verdict};
use crate::review::Terminal;
use crate::suite::{self, Folder, TestFile};
use anyhow::Result;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A test picked for this run.
#[derive(Clone)]
struct Job {
    folder: Folder,
    test: TestFile,
}

/// A comment line that makes a test run alone, never beside another: for tests that use
/// fixed global resources (a well-known port, a system file).
pub const ALONE_MARK: &str = "# runtest: alone";

/// Tests that must not run beside others: marked with [`ALONE_MARK`], or using a fixed
/// global resource — a scripted server on PORT_N, the one port Exim's harness hard-wires
/// (for ident queries), which is therefore the same in every workspace.
pub fn runs_alone_text(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l == ALONE_MARK || (l.starts_with("server ") && l.split_whitespace().any(|w| w == "PORT_N"))
    })
}

fn runs_alone(test: &TestFile) -> bool {
    std::fs::read(&test.path)
        .map(|b| runs_alone_text(&String::from_utf8_lossy(&b)))
        .unwrap_or(false)
}

/// The folders of a suite that hold saved outputs.
const SAVED_FOLDERS: [&str; 7] = [
    "stdout",
    "stderr",
    "log",
    "mail",
    "rejectlog",
    "paniclog",
    "msglog",
];

/// Does a saved output show one of `ports` as a value (`x=1224`)? The munging maps a parallel
/// workspace's ports back to the canonical ones except right after `=` where the name is not
/// a port's (there a number is a value: `S=1225` is a size; see
/// [`mailrig_munge::is_port_position`]), so such a test can only pass on the workspace that
/// has the canonical ports.
pub fn shows_port_value(text: &str, ports: &[u16]) -> bool {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find('=').map(|i| i + from) {
        from = i + 1;
        if mailrig_munge::is_port_position(&text[..from]) {
            continue;
        }
        let digits = b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        if (1..=5).contains(&digits) {
            if let Ok(n) = text[from..from + digits].parse::<u16>() {
                if ports.contains(&n) {
                    return true;
                }
            }
        }
    }
    false
}

/// The tests among `numbers` whose saved outputs show a canonical port as a value (see
/// [`shows_port_value`]): each saved folder is listed once; a test's own files are read.
fn canonical_port_tests(
    suite: &Path,
    numbers: &std::collections::BTreeSet<u32>,
) -> std::collections::BTreeSet<u32> {
    let ports = crate::subst::Ports::CANONICAL.own();
    let mut found = std::collections::BTreeSet::new();
    for sub in SAVED_FOLDERS {
        for e in walkdir::WalkDir::new(suite.join(sub))
            .min_depth(1)
            .max_depth(3)
            .into_iter()
            .flatten()
        {
            if !e.file_type().is_file() {
                continue;
            }
            // The test number: the first four characters of the top entry (`0376`, `0075.subdir/…`).
            let Some(top) = e
                .path()
                .strip_prefix(suite.join(sub))
                .ok()
                .and_then(|r| r.components().next())
            else {
                continue;
            };
            let top = top.as_os_str().to_string_lossy();
            let Some(n) = top.get(..4).and_then(|d| d.parse::<u32>().ok()) else {
                continue;
            };
            if found.contains(&n) || !numbers.contains(&n) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(e.path()) {
                if shows_port_value(&String::from_utf8_lossy(&bytes), &ports) {
                    found.insert(n);
                }
            }
        }
    }
    found
}

/// Seconds each test took last time (for longest-first ordering).
fn load_timings(path: &Path) -> BTreeMap<u32, f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .collect()
}

/// What the rerun policy remembers (see [`super::rerun::Memory`]): the words `fail=HEX` and
/// `flaky` on a test's line of the timings file (after its seconds; older runtests read only
/// those). A malformed word is ignored.
fn load_memo(path: &Path) -> BTreeMap<u32, Memory> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.parse().ok()?;
            let mut m = Memory::default();
            for word in w.skip(1) {
                if let Some(v) = word.strip_prefix("fail=") {
                    // fail=HEX/N: the failure and its runs in a row (an older file: HEX, once)
                    let (fp, times) = v.split_once('/').unwrap_or((v, "1"));
                    m.fail = u64::from_str_radix(fp, 16).ok();
                    m.times = if m.fail.is_some() {
                        times.parse().unwrap_or(1)
                    } else {
                        0
                    };
                } else if word == "flaky" {
                    m.flaky = true;
                }
            }
            (m != Memory::default()).then_some((n, m))
        })
        .collect()
}

fn save_timings(path: &Path, t: &BTreeMap<u32, f64>, memo: &BTreeMap<u32, Memory>) {
    let text: String = t
        .iter()
        .map(|(n, s)| {
            let m = memo.get(n).copied().unwrap_or_default();
            let mut line = format!("{n:04} {s:.2}");
            if let Some(fp) = m.fail {
                line.push_str(&format!(" fail={fp:016x}/{}", m.times));
            }
            if m.flaky {
                line.push_str(" flaky");
            }
            line.push('\n');
            line
        })
        .collect();
    let _ = crate::review::write_saved(path, &text);
}

/// Run one test to its verdict on `w`, retrying as asked. None means Quit.
///
/// Whatever goes wrong inside runtest while it runs the test — an error (an unknown munge, a
/// missing file, a command that cannot start) or even a panic — fails this test alone, named
/// with the script line it was at; the run goes on.
fn run_one(w: &mut Run, job: &Job) -> Option<Verdict> {
    let mut rounds = 0;
    // The CPU of this test's processes is counted from here (see `record`).
    crate::exec::cpu::take();
    loop {
        w.capture.clear();
        w.summaries.take_reasons(job.test.number);
        w.current = None;
        w.settled = false;
        w.reordered.clear();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.run_test(&job.folder, &job.test)
        }));
        let problem = match result {
            Ok(Ok(outcome)) => match outcome {
                Outcome::Verdict(v) => return Some(v),
                // -UPDATE reruns after each accepted change; output that changes on every run
                // (something unmunged) would loop for ever.
                Outcome::Retry if w.opts.update && rounds >= MAX_UPDATE_RERUNS => {
                    w.say(format!(
                        "** {} still differs after {MAX_UPDATE_RERUNS} updates: its output changes from run to run (something is not munged)",
                        job.test.id()
                    ));
                    w.summaries
                        .failure(job.test.number, "output unstable under -UPDATE");
                    return Some(Verdict::Fail);
                }
                Outcome::Retry => {
                    rounds += 1;
                    continue;
                }
                Outcome::Quit => return None,
            },
            Ok(Err(e)) => {
                w.settled = e.chain().any(|c| c.is::<crate::suite::Fault>());
                format!("{e:#}")
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let at = w
                    .current
                    .clone()
                    .unwrap_or_else(|| job.test.path.display().to_string());
                format!("{at}: runtest panicked: {what}")
            }
        };
        // Errors from a script line already start with `file:line`; others get the script.
        let path = job.test.path.display().to_string();
        let problem = if problem.starts_with(&path) {
            problem
        } else {
            format!("{path}: {problem}")
        };
        w.kill_leftovers();
        w.say(format!("** {problem}"));
        w.summaries
            .failure(job.test.number, &format!("runtest error ({problem})"));
        return Some(Verdict::Fail);
    }
}

/// How often -UPDATE reruns one test before calling its output unstable.
const MAX_UPDATE_RERUNS: usize = 5;

/// The record of a finished test.
fn record(w: &mut Run, job: &Job, v: Verdict, seconds: f64) -> TestRecord {
    let failures = w.summaries.take_reasons(job.test.number);
    let reordered = std::mem::take(&mut w.reordered);
    TestRecord {
        number: job.test.number,
        name: format!("{}/{}", job.folder.name, job.test.id()),
        folder: job.folder.dir_name.clone(),
        heading: suite::heading(&job.test.path),
        verdict: v,
        seconds,
        started: (w.shared.began.elapsed().as_secs_f64() - seconds).max(0.0),
        cpu_seconds: crate::exec::cpu::take(),
        reordered: v == Verdict::Fail
            && !failures.is_empty()
            && failures.iter().all(|f| reordered.contains(f)),
        failures,
        output: std::mem::take(&mut w.capture),
        steps: std::mem::take(&mut w.step_times),
        failed_first: None,
        settled: w.settled,
    }
}

/// The K-th of N slices of the selected tests (1-based K): every N-th test in test order,
/// so that each slice gets a share of every folder. Together the slices are the whole
/// selection, and no test is in two.
pub fn shard<T>(items: Vec<T>, k: usize, n: usize) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, t)| t)
        .collect()
}

/// The tests the command line selects (range, then shard), each with its folder's index.
fn select(folders: &[Folder], opts: &Options) -> Vec<(usize, TestFile)> {
    let selected: Vec<(usize, TestFile)> = folders
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.tests.iter().map(move |t| (i, t.clone())))
        .filter(|(_, t)| t.number >= opts.first && t.number <= opts.last)
        .collect();
    match opts.shard {
        Some((k, n)) => shard(selected, k, n),
        None => selected,
    }
}

/// How many workers a run gets: `-j N`, or by default sixteen per CPU (the tests mostly wait:
/// Exim's test-harness pauses, timeouts and sleeps; on 2 cores Exim's own 4.96 suite ran in
/// 96–101 s with 32 workers, 113 s with 24, 135 s with 16, 131 s with 48), at most 32 — and
/// never more than there are tests selected.
pub fn workers_for(opts: &Options, folders: &[Folder]) -> usize {
    let wanted = opts.jobs.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        (16 * cpus).min(32)
    });
    wanted.min(select(folders, opts).len()).max(1)
}

/// Run the selected tests of the suite's `folders` (as `suite::scan` found them) on `workers`.
pub fn run_all(
    shared: &Arc<Shared>,
    mut workers: Vec<Run>,
    folders: &[Folder],
) -> Result<(Totals, Vec<TestRecord>)> {
    let mut totals = Totals::default();
    let mut records: Vec<TestRecord> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let selected = select(folders, &shared.opts);
    if let Some((k, n)) = shared.opts.shard {
        println!(">>> Shard {k}/{n}: {} test(s)", selected.len());
    }
    for (fi, f) in folders.iter().enumerate() {
        let tests: Vec<&TestFile> = selected
            .iter()
            .filter(|(i, _)| *i == fi)
            .map(|(_, t)| t)
            .collect();
        if tests.is_empty() {
            continue;
        }
        if let Some(reason) = shared.unmet(f) {
            println!(">>> Tests in {} skipped: {reason}", f.dir_name);
            for t in tests {
                shared.summaries.finish(t.number, Verdict::Skipped, &[]);
                totals.add(t.number, Verdict::Skipped);
                records.push(TestRecord {
                    number: t.number,
                    name: format!("{}/{}", f.name, t.id()),
                    folder: f.dir_name.clone(),
                    heading: suite::heading(&t.path),
                    verdict: Verdict::Skipped,
                    seconds: 0.0,
                    started: shared.began.elapsed().as_secs_f64(),
                    cpu_seconds: 0.0,
                    failures: vec![reason.clone()],
                    output: String::new(),
                    steps: Vec::new(),
                    failed_first: None,
                    settled: false,
                    reordered: false,
                });
            }
            continue;
        }
        if !f.requires.is_empty() {
            println!(
                ">>> The following tests require: {}",
                f.requires
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        jobs.extend(tests.into_iter().map(|t| Job {
            folder: f.clone(),
            test: t.clone(),
        }));
    }
    if jobs.is_empty() && totals.skipped.is_empty() {
        println!(
            "No tests in the range {}-{}",
            shared.opts.first, shared.opts.last
        );
        return Ok((totals, records));
    }
    let timings_path = shared.facts.suite.join("workspace").join("timings");
    let mut timings = load_timings(&timings_path);
    let mut memo = load_memo(&timings_path);
    let results = if workers.len() == 1 {
        serial(shared, &mut workers[0], &jobs, &mut timings)
    } else {
        parallel(shared, &mut workers, &jobs, &mut timings, &mut memo)
    };
    save_timings(&timings_path, &timings, &memo);
    for r in results {
        totals.add(r.number, r.verdict);
        records.push(r);
    }
    records.sort_by_key(|r| r.number);
    // Files stay for a look after a failure or an interrupted run.
    let failed = !totals.failed.is_empty() || shared.interrupt.load(Ordering::SeqCst);
    if !shared.opts.keep && !failed {
        for w in &workers {
            let _ = w.ws.clean();
        }
    }
    Ok((totals, records))
}

fn serial(
    shared: &Shared,
    w: &mut Run,
    jobs: &[Job],
    timings: &mut BTreeMap<u32, f64>,
) -> Vec<TestRecord> {
    let mut results = Vec::new();
    for job in jobs {
        if shared.interrupt.load(Ordering::SeqCst) {
            println!("** Interrupted");
            break;
        }
        let started = Instant::now();
        let v = run_one(w, job);
        let secs = started.elapsed().as_secs_f64();
        let rec = record(w, job, v.unwrap_or(Verdict::Fail), secs);
        shared
            .summaries
            .finish(rec.number, rec.verdict, &rec.failures);
        if rec.verdict != Verdict::Interrupted {
            timings.insert(job.test.number, secs);
        }
        results.push(rec);
        if v.is_none() {
            println!(
                "** Quit: files of test {} kept in {}",
                job.test.id(),
                w.ws.dir.display()
            );
            break;
        }
    }
    results
}

/// Is this record's verdict final as soon as its test ends? Failures are not when the test
/// will be rerun alone (or reviewed) afterwards; see [`rerun_failures`].
fn final_at_once(shared: &Shared, rec: &TestRecord, ran_alone: bool) -> bool {
    rec.verdict != Verdict::Fail || shared.opts.update || (ran_alone && shared.opts.continue_)
}

fn parallel(
    shared: &Shared,
    workers: &mut [Run],
    jobs: &[Job],
    timings: &mut BTreeMap<u32, f64>,
    memo: &mut BTreeMap<u32, Memory>,
) -> Vec<TestRecord> {
    let (alone, mut side_by_side): (Vec<Job>, Vec<Job>) =
        jobs.iter().cloned().partition(|j| runs_alone(&j.test));
    // Longest first, so that the run ends soon after the longest test; a test with no
    // timing yet is estimated from its script.
    let lengths: BTreeMap<u32, f64> = side_by_side
        .iter()
        .map(|j| {
            let secs = timings.get(&j.test.number).copied();
            (
                j.test.number,
                secs.unwrap_or_else(|| estimate_seconds(&j.test)),
            )
        })
        .collect();
    let length = |j: &Job| lengths.get(&j.test.number).copied().unwrap_or(0.0);
    side_by_side.sort_by(|a, b| {
        length(b)
            .partial_cmp(&length(a))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.test.number.cmp(&b.test.number))
    });
    // Tests that can pass only with the canonical ports go to the workspace that has them
    // (it takes them first); when none has, they run wherever, as the others.
    let canonical = workers
        .iter()
        .any(|w| w.ws.ports == crate::subst::Ports::CANONICAL);
    let pinned_numbers = if canonical {
        let numbers = side_by_side.iter().map(|j| j.test.number).collect();
        canonical_port_tests(&shared.facts.suite, &numbers)
    } else {
        Default::default()
    };
    let (pinned, side_by_side): (Vec<Job>, Vec<Job>) = side_by_side
        .into_iter()
        .partition(|j| pinned_numbers.contains(&j.test.number));
    let pinned = Mutex::new(pinned.into_iter().collect::<VecDeque<Job>>());
    let queue = Mutex::new(side_by_side.into_iter().collect::<VecDeque<Job>>());
    // Failures rerun at once, at runtest's priority, while the side-by-side tests run nicer
    // (see `rerun::rerun_early`); only where the reruns after this phase would run too.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // The last few workers are the early reruns' lanes (never the one with the canonical
    // ports): one per four workers, at most two per core.
    let lanes = workers.len();
    let early_lanes = if shared.opts.continue_ && !shared.opts.update && cores >= 2 {
        (cores * 2).min(lanes / 4)
    } else {
        0
    };
    let is_early_lane: Vec<bool> = workers
        .iter()
        .enumerate()
        .map(|(i, w)| i >= lanes - early_lanes && w.ws.ports != crate::subst::Ports::CANONICAL)
        .collect();
    let early_on = is_early_lane.contains(&true);
    let early = Mutex::new(Early::default());
    // The early reruns whose verdict is final: the test, the fingerprints of its
    // side-by-side failure and of its rerun's (None: a pass).
    let early_ends: Mutex<Vec<(u32, u64, Option<u64>)>> = Mutex::new(Vec::new());
    // A failure to rerun early, as the policy sees it (its fingerprint hashed once, here).
    let wants_early = |rec: &TestRecord| {
        if !early_on
            || rec.verdict != Verdict::Fail
            || rec.settled
            || pinned_numbers.contains(&rec.number)
        {
            return None;
        }
        let c = candidate(rec);
        let m = memo.get(&rec.number).copied().unwrap_or_default();
        super::rerun::rerun_early(&c, m).then_some(c)
    };
    let results: Mutex<Vec<TestRecord>> = Mutex::new(Vec::new());
    let total = jobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let print_lock = Mutex::new(());
    // A progress bar on a terminal; plain lines otherwise (CI logs).
    let bar = std::io::IsTerminal::is_terminal(&std::io::stdout()).then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let bar = &bar;
    // The other workers run the side-by-side tests, nicer when there are early reruns: their
    // threads are, so are the processes they start and their own polling.
    let main_running =
        std::sync::atomic::AtomicUsize::new(is_early_lane.iter().filter(|e| !**e).count());
    std::thread::scope(|scope| {
        for (i, w) in workers.iter_mut().enumerate() {
            let (queue, pinned, results, done, print_lock) =
                (&queue, &pinned, &results, &done, &print_lock);
            let (early, early_ends, wants_early) = (&early, &early_ends, &wants_early);
            let main_running = &main_running;
            let takes_pinned = w.ws.ports == crate::subst::Ports::CANONICAL;
            if is_early_lane[i] {
                scope.spawn(move || loop {
                    if shared.interrupt.load(Ordering::SeqCst) {
                        return;
                    }
                    let next = early
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take(early_lanes);
                    let Some(Waiting {
                        job,
                        mut first,
                        share,
                        fingerprint: first_fp,
                    }) = next
                    else {
                        if main_running.load(Ordering::SeqCst) == 0 {
                            // what is left waits for the reruns after this phase
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    };
                    let started = Instant::now();
                    let v = run_one(w, &job).unwrap_or(Verdict::Fail);
                    let secs = started.elapsed().as_secs_f64();
                    let text = w.take_console();
                    let mut rec = record(w, &job, v, secs);
                    early.lock().unwrap_or_else(|e| e.into_inner()).ended(share);
                    let again = (rec.verdict == Verdict::Fail)
                        .then(|| super::rerun::fingerprint(&rec.failures, &rec.output));
                    let verdict = super::rerun::after_early(first_fp, again, rec.reordered);
                    let line = format!(
                        "{text}[rerun] {} {} {secs:.1}s (at once, before the tests beside it{})",
                        job.test.id(),
                        rec.verdict.letter(),
                        match verdict {
                            AfterEarly::Pass => "",
                            AfterEarly::Confirmed => "; the same failure as beside them: final",
                            AfterEarly::Later => "; rerun again after them",
                        }
                    );
                    {
                        let _g = print_lock.lock().unwrap_or_else(|e| e.into_inner());
                        print_line(bar, &line);
                    }
                    let keep = if verdict == AfterEarly::Later {
                        // its side-by-side failure goes to the reruns after this phase
                        first
                    } else {
                        early_ends
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((rec.number, first_fp, again));
                        if verdict == AfterEarly::Pass {
                            keep_first_run(&mut rec, &mut first);
                        }
                        shared
                            .summaries
                            .finish(rec.number, rec.verdict, &rec.failures);
                        rec
                    };
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(keep);
                });
                continue;
            }
            scope.spawn(move || {
                if early_on {
                    nicer_thread(BUSY_NICE);
                }
                loop {
                    if shared.interrupt.load(Ordering::SeqCst) {
                        break;
                    }
                    let own = takes_pinned
                        .then(|| pinned.lock().unwrap_or_else(|e| e.into_inner()).pop_front())
                        .flatten();
                    let Some(job) =
                        own.or_else(|| queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front())
                    else {
                        break;
                    };
                    let started = Instant::now();
                    let v = run_one(w, &job).unwrap_or(Verdict::Fail);
                    let secs = started.elapsed().as_secs_f64();
                    let text = w.take_console();
                    if shared.opts.debug {
                        eprintln!(">> worker {} ran {}", w.ws.dir.display(), job.test.id());
                    }
                    let rec = record(w, &job, v, secs);
                    if final_at_once(shared, &rec, false) {
                        shared
                            .summaries
                            .finish(rec.number, rec.verdict, &rec.failures);
                    }
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    {
                        let _g = print_lock.lock().unwrap_or_else(|e| e.into_inner());
                        let line = format!(
                            "{text}[{n:>4}/{total}] {} {} {secs:.1}s",
                            job.test.id(),
                            v.letter()
                        );
                        print_line(bar, &line);
                        if let Some(b) = bar {
                            b.set_message(format!("{} {}", job.test.id(), v.letter()));
                            b.inc(1);
                        }
                    }
                    if let Some(c) = wants_early(&rec) {
                        early
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .queue
                            .push_back(Waiting {
                                job,
                                first: rec,
                                share: super::rerun::share(c.seconds, c.cpu_seconds),
                                fingerprint: c.fingerprint,
                            });
                    } else {
                        results.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
                    }
                }
                main_running.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    // Early reruns that did not come (the phase ended first, or Ctrl-C) are left to the
    // reruns after it; those that ended it are remembered as those would be.
    let left = std::mem::take(&mut early.into_inner().unwrap_or_else(|e| e.into_inner()).queue);
    results.extend(left.into_iter().map(|w| w.first));
    let mut confirmed = std::collections::BTreeSet::new();
    for (n, first, again) in early_ends.into_inner().unwrap_or_else(|e| e.into_inner()) {
        remember(memo, n, first, again);
        if again.is_some() {
            confirmed.insert(n);
        }
    }
    // Tests that must run alone, on the first worker, after the others.
    let w0 = &mut workers[0];
    for job in &alone {
        if shared.interrupt.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        let v = run_one(w0, job).unwrap_or(Verdict::Fail);
        print!("{}", w0.take_console());
        let secs = started.elapsed().as_secs_f64();
        println!("[alone] {} {} {secs:.1}s", job.test.id(), v.letter());
        let rec = record(w0, job, v, secs);
        if final_at_once(shared, &rec, true) {
            shared
                .summaries
                .finish(rec.number, rec.verdict, &rec.failures);
        }
        results.push(rec);
    }
    results.sort_by_key(|r| r.number);
    let mut finished: std::collections::BTreeSet<u32> = results
        .iter()
        .filter(|r| final_at_once(shared, r, alone.iter().any(|a| a.test.number == r.number)))
        .map(|r| r.number)
        .chain(confirmed)
        .collect();
    let pinned_lane = |n: u32| pinned_numbers.contains(&n);
    rerun_failures(
        shared,
        workers,
        jobs,
        &alone,
        &mut results,
        &mut finished,
        memo,
        &pinned_lane,
    );
    // Whatever was left for a rerun that did not come (Ctrl-C, Quit) is final now.
    for r in &results {
        if !finished.contains(&r.number) {
            shared.summaries.finish(r.number, r.verdict, &r.failures);
        }
        if r.verdict != Verdict::Interrupted {
            timings.insert(r.number, r.seconds);
        }
    }
    results
}

/// How much nicer than runtest the tests of the side-by-side phase run when its failures are
/// rerun at once (see [`super::rerun::rerun_early`]): a rerun that wakes up then finds a core
/// nearly as soon as it would alone (CFS weighs nice 0 over nice 10 about 9 to 1).
pub const BUSY_NICE: i32 = 10;

/// Makes the calling thread `nice` steps nicer, and with it the processes it starts (on
/// Linux a thread has its own nice value, and a child gets its parent thread's). Raising it
/// needs no privilege; a failure only leaves the thread as it was.
fn nicer_thread(nice: i32) {
    // SAFETY: plain system calls on the calling thread.
    unsafe {
        let tid = libc::gettid();
        let now = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, now + nice);
    }
}

/// The failures of the side-by-side phase waiting for an early rerun, and the shares of a core
/// of the ones running.
#[derive(Default)]
struct Early {
    queue: VecDeque<Waiting>,
    running: Vec<f64>,
}

/// A failure of the side-by-side phase waiting for its early rerun.
struct Waiting {
    job: Job,
    /// Its side-by-side record.
    first: TestRecord,
    /// The share of a core its side-by-side run used.
    share: f64,
    /// The fingerprint of its side-by-side failure.
    fingerprint: u64,
}

impl Early {
    /// The first waiting rerun that fits beside the running ones (see
    /// [`super::rerun::admit`]).
    fn take(&mut self, lanes: usize) -> Option<Waiting> {
        let i = (0..self.queue.len())
            .find(|i| super::rerun::admit(&self.running, self.queue[*i].share, lanes))?;
        let picked = self.queue.remove(i)?;
        self.running.push(picked.share);
        Some(picked)
    }

    fn ended(&mut self, share: f64) {
        if let Some(i) = self.running.iter().position(|s| *s == share) {
            self.running.swap_remove(i);
        }
    }
}

/// A failed record as the rerun policy sees it.
fn candidate(r: &TestRecord) -> super::rerun::Candidate {
    super::rerun::Candidate {
        number: r.number,
        seconds: r.seconds,
        cpu_seconds: r.cpu_seconds,
        fingerprint: super::rerun::fingerprint(&r.failures, &r.output),
    }
}

/// Rerun the tests that failed while running side by side.
///
/// Under the load of many tests at once, timing races inside Exim itself can fail a test
/// that passes whenever it runs by itself (two processes' debug lines in the other order, a
/// second boundary crossed between reception and delivery), while a parallel run must give
/// the verdicts of a serial one. Which failures are rerun, and how (alone, or two tests that
/// mostly wait side by side), is [`super::rerun`]'s policy. A test that passes on a rerun
/// keeps its first failure as a flaky run in the reports, and is named at the end. In an
/// interactive run this rerun is also the review: the usual prompts come up, on the
/// terminal, for whatever still fails, one test at a time. Tests that already ran alone are
/// rerun only for review. Each final verdict is written at once and added to `finished`.
#[allow(clippy::too_many_arguments)]
fn rerun_failures(
    shared: &Shared,
    workers: &mut [Run],
    jobs: &[Job],
    alone: &[Job],
    results: &mut [TestRecord],
    finished: &mut std::collections::BTreeSet<u32>,
    memo: &mut BTreeMap<u32, Memory>,
    pinned: &(dyn Fn(u32) -> bool + Sync),
) {
    let interactive = !shared.opts.continue_;
    if shared.opts.update || shared.interrupt.load(Ordering::SeqCst) {
        return;
    }
    let failed: Vec<&Job> = jobs
        .iter()
        .filter(|j| {
            results
                .iter()
                .any(|r| r.number == j.test.number && r.verdict == Verdict::Fail)
        })
        .filter(|j| interactive || !alone.iter().any(|a| a.test.number == j.test.number))
        // a failure that an early rerun repeated is final already
        .filter(|j| !finished.contains(&j.test.number))
        // A failure that the suite's files make is the same alone (not for review either:
        // there is nothing to accept).
        .filter(|j| {
            !results
                .iter()
                .any(|r| r.number == j.test.number && r.settled)
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    let first_fp = |results: &[TestRecord], n: u32| {
        results
            .iter()
            .find(|r| r.number == n)
            .map(|r| super::rerun::fingerprint(&r.failures, &r.output))
            .unwrap_or(0)
    };
    if interactive {
        println!(
            "\n{} test(s) failed; reviewing them one by one:",
            failed.len()
        );
        let w0 = &mut workers[0];
        w0.console = Console::Direct;
        w0.asker = Box::new(Terminal);
        for job in failed {
            if shared.interrupt.load(Ordering::SeqCst) {
                break;
            }
            match rerun_one(shared, w0, job) {
                Some(Some((rec, text))) => {
                    print!("{text}");
                    settle(shared, results, finished, rec)
                }
                Some(None) => {}
                None => break,
            }
        }
        return;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let candidates: Vec<super::rerun::Candidate> = failed
        .iter()
        .filter_map(|j| results.iter().find(|r| r.number == j.test.number))
        .map(candidate)
        .collect();
    let plan = super::rerun::plan(
        &candidates,
        memo,
        if workers.len() >= 2 { cores } else { 1 },
    );
    let share_of = |n: u32| {
        candidates
            .iter()
            .find(|c| c.number == n)
            .map(|c| super::rerun::share(c.seconds, c.cpu_seconds))
            .unwrap_or(1.0)
    };
    let job_of = |n: u32| failed.iter().find(|j| j.test.number == n).copied();
    if plan.shared.is_empty() && plan.settled.is_empty() {
        println!(
            "\n{} test(s) failed side by side; rerunning them alone:",
            failed.len()
        );
    } else {
        println!(
            "\n{} test(s) failed side by side; rerunning them ({} side by side while they mostly wait, {} alone, {} not: the failure they had on a rerun before):",
            failed.len(),
            plan.shared.len(),
            plan.alone.len(),
            plan.settled.len()
        );
    }
    for n in &plan.settled {
        println!("[rerun] {n:04} F: the same failure as on its last rerun; not rerun");
        finished.insert(*n);
        if let Some(r) = results.iter().find(|r| r.number == *n) {
            shared.summaries.finish(r.number, r.verdict, &r.failures);
        }
    }
    let mut again_alone: Vec<u32> = Vec::new();
    if !plan.shared.is_empty() {
        let lanes = workers.len().min(cores * SHARED_LANES_PER_CORE);
        let done = rerun_shared(
            shared,
            &mut workers[..lanes],
            &plan.shared,
            &share_of,
            &job_of,
            pinned,
        );
        for rec in done {
            let first = first_fp(results, rec.number);
            let again = (rec.verdict == Verdict::Fail)
                .then(|| super::rerun::fingerprint(&rec.failures, &rec.output));
            match super::rerun::after_shared(first, again, rec.reordered) {
                super::rerun::AfterShared::Final => {
                    remember(memo, rec.number, first, again);
                    settle(shared, results, finished, rec);
                }
                super::rerun::AfterShared::RerunAlone => again_alone.push(rec.number),
            }
        }
        again_alone.sort_unstable();
    }
    for n in plan.alone.iter().chain(again_alone.iter()).copied() {
        if shared.interrupt.load(Ordering::SeqCst) {
            break;
        }
        let Some(job) = job_of(n) else { continue };
        match rerun_one(shared, &mut workers[0], job) {
            Some(Some((rec, text))) => {
                println!(
                    "{text}[rerun] {} {} {:.1}s{}",
                    job.test.id(),
                    rec.verdict.letter(),
                    rec.seconds,
                    if rec.verdict == Verdict::Pass {
                        ": failed side by side, passes alone"
                    } else {
                        ""
                    }
                );
                let first = first_fp(results, n);
                let again = (rec.verdict == Verdict::Fail)
                    .then(|| super::rerun::fingerprint(&rec.failures, &rec.output));
                remember(memo, n, first, again);
                settle(shared, results, finished, rec);
            }
            Some(None) => {}
            None => break,
        }
    }
}

/// The most workers the shared reruns use, per core.
const SHARED_LANES_PER_CORE: usize = 4;

/// Rerun `queue` (longest first) on `lanes`, as many at once as [`super::rerun::admit`]
/// allows for their shares of a core; a test that needs the canonical ports runs only on the
/// first worker (the one that has them, when any has). The records of the reruns that ran
/// to the end, in the order they ended; a Quit stops the lanes.
fn rerun_shared<'j>(
    shared: &Shared,
    lanes: &mut [Run],
    queue: &[u32],
    share_of: &(dyn Fn(u32) -> f64 + Sync),
    job_of: &(dyn Fn(u32) -> Option<&'j Job> + Sync),
    pinned: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<TestRecord> {
    struct State {
        queue: VecDeque<u32>,
        running: Vec<(usize, f64)>,
        stop: bool,
    }
    let state = Mutex::new(State {
        queue: queue.iter().copied().collect(),
        running: Vec::new(),
        stop: false,
    });
    let changed = std::sync::Condvar::new();
    let done: Mutex<Vec<TestRecord>> = Mutex::new(Vec::new());
    let count = lanes.len();
    std::thread::scope(|scope| {
        for (lane, w) in lanes.iter_mut().enumerate() {
            let (state, changed, done) = (&state, &changed, &done);
            scope.spawn(move || loop {
                let job = {
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if st.stop || shared.interrupt.load(Ordering::SeqCst) {
                            return;
                        }
                        // Only the first lane may take a test pinned to it; a lane left
                        // with nothing it may ever take is done.
                        let mine: Vec<usize> = (0..st.queue.len())
                            .filter(|i| lane == 0 || !pinned(st.queue[*i]))
                            .collect();
                        if mine.is_empty() {
                            return;
                        }
                        let shares: Vec<f64> = st.running.iter().map(|r| r.1).collect();
                        let fits = mine
                            .into_iter()
                            .find(|i| super::rerun::admit(&shares, share_of(st.queue[*i]), count));
                        if let Some(i) = fits {
                            let n = st.queue.remove(i).unwrap_or_default();
                            st.running.push((lane, share_of(n)));
                            break n;
                        }
                        // Woken when a rerun ends; the timeout only guards against a missed
                        // wake-up (and lets Ctrl-C be seen).
                        st = changed
                            .wait_timeout(st, std::time::Duration::from_millis(200))
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                };
                let outcome = job_of(job).map(|j| (j, rerun_one(shared, w, j)));
                {
                    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                    st.running.retain(|r| r.0 != lane);
                    if matches!(outcome, Some((_, None))) {
                        st.stop = true;
                    }
                }
                changed.notify_all();
                if let Some((j, Some(Some((rec, text))))) = outcome {
                    println!(
                        "{text}[rerun] {} {} {:.1}s (beside others that mostly wait)",
                        j.test.id(),
                        rec.verdict.letter(),
                        rec.seconds
                    );
                    done.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
                }
            });
        }
    });
    done.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Note (or forget) a test's remembered failure.
fn remember(memo: &mut BTreeMap<u32, Memory>, n: u32, first: u64, again: Option<u64>) {
    let was = memo.get(&n).copied().unwrap_or_default();
    match super::rerun::remember(was, first, again) {
        m if m == Memory::default() => memo.remove(&n),
        m => memo.insert(n, m),
    };
}

/// Rerun one test on `w`. None: the user quit (files kept); Some(None): interrupted (the
/// first run's failure stands); else the rerun's record and its console text (still to be
/// printed, whole, by the caller).
fn rerun_one(shared: &Shared, w: &mut Run, job: &Job) -> Option<Option<(TestRecord, String)>> {
    let started = Instant::now();
    let v = run_one(w, job);
    let secs = started.elapsed().as_secs_f64();
    let text = w.take_console();
    let Some(v) = v else {
        print!("{text}");
        println!(
            "** Quit: files of test {} kept in {}",
            job.test.id(),
            w.ws.dir.display()
        );
        return None;
    };
    if v == Verdict::Interrupted || shared.interrupt.load(Ordering::SeqCst) {
        return Some(None);
    }
    Some(Some((record(w, job, v, secs), text)))
}

/// Make a rerun's record the test's final one (keeping a failed first run of a test that
/// passed as its flaky run), and write its verdict.
fn settle(
    shared: &Shared,
    results: &mut [TestRecord],
    finished: &mut std::collections::BTreeSet<u32>,
    mut rec: TestRecord,
) {
    let Some(slot) = results.iter_mut().find(|r| r.number == rec.number) else {
        return;
    };
    if rec.verdict == Verdict::Pass {
        keep_first_run(&mut rec, slot);
    }
    shared
        .summaries
        .finish(rec.number, rec.verdict, &rec.failures);
    finished.insert(rec.number);
    *slot = rec;
}

/// A rerun that passed keeps the failed first run (`first`, emptied) as its flaky run.
fn keep_first_run(rec: &mut TestRecord, first: &mut TestRecord) {
    rec.failed_first = Some(FirstRun {
        failures: std::mem::take(&mut first.failures),
        output: std::mem::take(&mut first.output),
        seconds: first.seconds,
    });
}

/// A test's lines, whole: above the progress bar on a terminal, else on stdout.
fn print_line(bar: &Option<indicatif::ProgressBar>, line: &str) {
    match bar {
        Some(b) => b.println(line.trim_end_matches('\n')),
        None => println!("{line}"),
    }
}

/// The estimated seconds of a test with no timing yet (see [`super::estimate`]); a script
/// that does not parse gets a second (it fails at once).
fn estimate_seconds(test: &TestFile) -> f64 {
    crate::script::parse_script(&test.path)
        .map(|s| super::estimate::estimate(&s))
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::shard;

    #[test]
    fn shards_are_disjoint_and_complete() {
        let all: Vec<u32> = (1..=299).chain(2000..2050).collect();
        for n in 1..=7 {
            let mut seen: Vec<u32> = Vec::new();
            for k in 1..=n {
                let part = shard(all.clone(), k, n);
                // Balanced: sizes differ by at most one.
                assert!(part.len() >= all.len() / n && part.len() <= all.len() / n + 1);
                for t in &part {
                    assert!(!seen.contains(t), "test {t} in two shards of {n}");
                    seen.push(*t);
                }
            }
            seen.sort();
            assert_eq!(seen, all, "shards of {n} are not the whole selection");
        }
    }

    #[test]
    fn alone_tests() {
        use super::runs_alone_text as alone;
        assert!(alone("# t\n# runtest: alone\nexim -bV\n****\n"));
        assert!(alone("# t\nserver PORT_N\n****\n"));
        assert!(alone("# t\nserver -t 5 PORT_N 2\n****\n"));
        assert!(!alone("# t\nserver PORT_S\n****\nexim -odi x\n****\n"));
        assert!(!alone("# t\nexim -DPORT=PORT_N -odi x\n****\n"));
    }

    #[test]
    fn port_values() {
        use super::shows_port_value as shows;
        let ports = [1224, 1225];
        // Named as a port: munged back like any other port.
        assert!(!shows("interface=NULL port=1224\n", &ports));
        assert!(!shows("smtp_port=1225: x", &ports));
        // Any other value that equals a port might be one.
        assert!(shows("x S=1225 y", &ports));
        assert!(!shows("port 1224 S=12245 a=", &ports));
        assert!(!shows("==1224x", &[1225]));
        assert!(!shows("x=", &ports));
        assert!(shows("a=99999999 b=1225", &ports));
    }

    #[test]
    fn timings_keep_the_remembered_failures() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("timings");
        let t = std::collections::BTreeMap::from([(40, 0.6), (548, 25.25), (552, 3.0)]);
        let memo = std::collections::BTreeMap::from([
            (
                40,
                super::Memory {
                    fail: Some(0x1c68_bd2a_385e_f593u64),
                    times: 2,
                    flaky: false,
                },
            ),
            (
                548,
                super::Memory {
                    fail: None,
                    times: 0,
                    flaky: true,
                },
            ),
        ]);
        super::save_timings(&p, &t, &memo);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "0040 0.60 fail=1c68bd2a385ef593/2\n0548 25.25 flaky\n0552 3.00\n"
        );
        assert_eq!(super::load_timings(&p), t);
        assert_eq!(super::load_memo(&p), memo);
        // An older file (seconds only) has nothing remembered; a bad word is ignored.
        std::fs::write(&p, "0040 0.6\n0041 1.0 fail=zz\n").unwrap();
        assert!(super::load_memo(&p).is_empty());
        // A fail= word without a count (an earlier runtest's) counts once.
        std::fs::write(&p, "0040 0.6 fail=1c68bd2a385ef593\n").unwrap();
        assert_eq!(super::load_memo(&p)[&40].times, 1);
    }

    #[test]
    fn shards_are_deterministic() {
        let all: Vec<u32> = (1..=50).collect();
        assert_eq!(shard(all.clone(), 2, 3), shard(all.clone(), 2, 3));
        assert_eq!(shard(all, 1, 3)[..3], [1, 4, 7]);
    }
}
