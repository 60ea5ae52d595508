//! Which test runs when, and on which worker: the serial loop of the Perl runtest (one
//! worker, prompts as they come), or `-j N` workers taking tests from a queue ordered
//! longest-first by the timings of earlier runs, each test's console lines printed whole when
//! it ends, and — when interactive — the failures reviewed one by one afterwards, in test
//! order, on the terminal.

use super::{Console, Outcome, Run, Shared};
use crate::report::{FirstRun, TestRecord, Totals, Verdict};
use crate::review::Terminal;
use crate::cli::Options;
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
    std::fs::read(&test.path).map(|b| runs_alone_text(&String::from_utf8_lossy(&b))).unwrap_or(false)
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

fn save_timings(path: &Path, t: &BTreeMap<u32, f64>) {
    let text: String = t.iter().map(|(n, s)| format!("{n:04} {s:.2}\n")).collect();
    let _ = crate::review::write_saved(path, &text);
}

/// Run one test to its verdict on `w`, retrying as asked. None means Quit.
fn run_one(w: &mut Run, job: &Job) -> Result<Option<Verdict>> {
    let mut rounds = 0;
    loop {
        w.capture.clear();
        w.summaries.take_reasons(job.test.number);
        match w.run_test(&job.folder, &job.test)? {
            Outcome::Verdict(v) => return Ok(Some(v)),
            // -UPDATE reruns after each accepted change; output that changes on every run
            // (something unmunged) would loop for ever.
            Outcome::Retry if w.opts.update && rounds >= MAX_UPDATE_RERUNS => {
                w.say(format!(
                    "** {} still differs after {MAX_UPDATE_RERUNS} updates: its output changes from run to run (something is not munged)",
                    job.test.id()
                ));
                w.summaries.failure(job.test.number, "output unstable under -UPDATE")?;
                return Ok(Some(Verdict::Fail));
            }
            Outcome::Retry => rounds += 1,
            Outcome::Quit => return Ok(None),
        }
    }
}

/// How often -UPDATE reruns one test before calling its output unstable.
const MAX_UPDATE_RERUNS: usize = 5;

/// The record of a finished test.
fn record(w: &mut Run, job: &Job, v: Verdict, seconds: f64) -> TestRecord {
    TestRecord {
        number: job.test.number,
        name: format!("{}/{}", job.folder.name, job.test.id()),
        folder: job.folder.dir_name.clone(),
        heading: suite::heading(&job.test.path),
        verdict: v.letter(),
        seconds,
        failures: w.summaries.take_reasons(job.test.number),
        output: std::mem::take(&mut w.capture),
        steps: std::mem::take(&mut w.step_times),
        failed_first: None,
    }
}

/// The K-th of N slices of the selected tests (1-based K): every N-th test in test order,
/// so that each slice gets a share of every folder. Together the slices are the whole
/// selection, and no test is in two.
pub fn shard<T>(items: Vec<T>, k: usize, n: usize) -> Vec<T> {
    items.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, t)| t).collect()
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

/// How many workers a run gets: `-j N`, or by default eight per CPU (the tests mostly wait:
/// Exim's test-harness pauses, timeouts and sleeps), at most 32 — and never more than there
/// are tests selected.
pub fn workers_for(opts: &Options, folders: &[Folder]) -> usize {
    let wanted = opts.jobs.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        (8 * cpus).min(32)
    });
    wanted.min(select(folders, opts).len()).max(1)
}

/// Run the selected tests of the suite's `folders` (as `suite::scan` found them) on `workers`.
pub fn run_all(shared: &Arc<Shared>, mut workers: Vec<Run>, folders: &[Folder]) -> Result<(Totals, Vec<TestRecord>)> {
    let mut totals = Totals::default();
    let mut records: Vec<TestRecord> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let selected = select(folders, &shared.opts);
    if let Some((k, n)) = shared.opts.shard {
        println!(">>> Shard {k}/{n}: {} test(s)", selected.len());
    }
    for (fi, f) in folders.iter().enumerate() {
        let tests: Vec<&TestFile> = selected.iter().filter(|(i, _)| *i == fi).map(|(_, t)| t).collect();
        if tests.is_empty() {
            continue;
        }
        if let Some(reason) = shared.unmet(&f.requires) {
            println!(">>> Tests in {} skipped: {reason}", f.dir_name);
            for t in tests {
                shared.summaries.verdict(t.number, Verdict::Skipped)?;
                totals.add(t.number, Verdict::Skipped);
                records.push(TestRecord {
                    number: t.number,
                    name: format!("{}/{}", f.name, t.id()),
                    folder: f.dir_name.clone(),
                    heading: suite::heading(&t.path),
                    verdict: '.',
                    seconds: 0.0,
                    failures: vec![reason.clone()],
                    output: String::new(),
                    steps: Vec::new(),
                    failed_first: None,
                });
            }
            continue;
        }
        if !f.requires.is_empty() {
            println!(
                ">>> The following tests require: {}",
                f.requires.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        jobs.extend(tests.into_iter().map(|t| Job { folder: f.clone(), test: t.clone() }));
    }
    if jobs.is_empty() && totals.skipped.is_empty() {
        println!("No tests in the range {}-{}", shared.opts.first, shared.opts.last);
        return Ok((totals, records));
    }
    let timings_path = shared.facts.suite.join("workspace").join("timings");
    let mut timings = load_timings(&timings_path);
    let results = if workers.len() == 1 {
        serial(shared, &mut workers[0], &jobs, &mut timings)?
    } else {
        parallel(shared, &mut workers, &jobs, &mut timings)?
    };
    save_timings(&timings_path, &timings);
    for r in results {
        totals.add(r.number, if r.verdict == 'P' { Verdict::Pass } else if r.verdict == 'F' { Verdict::Fail } else { Verdict::Skipped });
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

fn serial(shared: &Shared, w: &mut Run, jobs: &[Job], timings: &mut BTreeMap<u32, f64>) -> Result<Vec<TestRecord>> {
    let mut results = Vec::new();
    for job in jobs {
        if shared.interrupt.load(Ordering::SeqCst) {
            println!("** Interrupted");
            break;
        }
        let started = Instant::now();
        let Some(v) = run_one(w, job)? else {
            let secs = started.elapsed().as_secs_f64();
            results.push(record(w, job, Verdict::Fail, secs));
            println!("** Quit: files of test {} kept in {}", job.test.id(), w.ws.dir.display());
            break;
        };
        let secs = started.elapsed().as_secs_f64();
        timings.insert(job.test.number, secs);
        shared.summaries.verdict(job.test.number, v)?;
        results.push(record(w, job, v, secs));
    }
    Ok(results)
}

fn parallel(shared: &Shared, workers: &mut [Run], jobs: &[Job], timings: &mut BTreeMap<u32, f64>) -> Result<Vec<TestRecord>> {
    let (alone, mut side_by_side): (Vec<Job>, Vec<Job>) = jobs.iter().cloned().partition(|j| runs_alone(&j.test));
    // Longest first, so that the run ends soon after the longest test; unknown tests count
    // as long (they may be), then test order.
    side_by_side.sort_by(|a, b| {
        let ta = timings.get(&a.test.number).copied().unwrap_or(f64::MAX);
        let tb = timings.get(&b.test.number).copied().unwrap_or(f64::MAX);
        tb.partial_cmp(&ta).unwrap_or(std::cmp::Ordering::Equal).then(a.test.number.cmp(&b.test.number))
    });
    let queue = Mutex::new(side_by_side.into_iter().collect::<VecDeque<Job>>());
    let results: Mutex<Vec<TestRecord>> = Mutex::new(Vec::new());
    let total = jobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let print_lock = Mutex::new(());
    // A progress bar on a terminal; plain lines otherwise (CI logs).
    let bar = std::io::IsTerminal::is_terminal(&std::io::stdout()).then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("[{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let bar = &bar;
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in workers.iter_mut() {
            let (queue, results, done, print_lock, errors) = (&queue, &results, &done, &print_lock, &errors);
            scope.spawn(move || loop {
                if shared.interrupt.load(Ordering::SeqCst) {
                    return;
                }
                let Some(job) = queue.lock().unwrap().pop_front() else { return };
                let started = Instant::now();
                let r = run_one(w, &job);
                let secs = started.elapsed().as_secs_f64();
                let text = w.take_console();
                if shared.opts.debug {
                    eprintln!(">> worker {} ran {}", w.ws.dir.display(), job.test.id());
                }
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                let _g = print_lock.lock().unwrap();
                let emit = |s: String| match bar {
                    Some(b) => b.println(s.trim_end_matches('\n')),
                    None => print!("{s}"),
                };
                match r {
                    Ok(v) => {
                        let v = v.unwrap_or(Verdict::Fail);
                        emit(format!("{text}[{n:>4}/{total}] {} {} {secs:.1}s\n", job.test.id(), v.letter()));
                        if let Some(b) = bar {
                            b.set_message(format!("{} {}", job.test.id(), v.letter()));
                            b.inc(1);
                        }
                        let rec = record(w, &job, v, secs);
                        results.lock().unwrap().push(rec);
                    }
                    Err(e) => {
                        emit(format!("{text}** {}: {e:#}\n", job.test.id()));
                        errors.lock().unwrap().push(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = errors.into_inner().unwrap().into_iter().next() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap();
    // Tests that must run alone, on the first worker, after the others.
    let w0 = &mut workers[0];
    for job in &alone {
        if shared.interrupt.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        let v = run_one(w0, job)?.unwrap_or(Verdict::Fail);
        print!("{}", w0.take_console());
        let secs = started.elapsed().as_secs_f64();
        println!("[alone] {} {} {secs:.1}s", job.test.id(), v.letter());
        results.push(record(w0, job, v, secs));
    }
    results.sort_by_key(|r| r.number);
    rerun_failures(shared, &mut workers[0], jobs, &alone, &mut results)?;
    for r in &results {
        timings.insert(r.number, r.seconds);
        let v = if r.verdict == 'P' { Verdict::Pass } else { Verdict::Fail };
        shared.summaries.verdict(r.number, v)?;
    }
    Ok(results)
}

/// Rerun, alone and in test order, the tests that failed while running side by side.
///
/// Under the load of many tests at once, timing races inside Exim itself can fail a test
/// that passes whenever it runs by itself (two processes' debug lines in the other order, a
/// second boundary crossed between reception and delivery), while a parallel run must give
/// the verdicts of a serial one. A test that passes alone keeps its first failure as a flaky
/// run in the reports, and is named at the end. In an interactive run this rerun is also the
/// review: the usual prompts come up, on the terminal, for whatever still fails. Tests that
/// already ran alone are rerun only for review.
fn rerun_failures(shared: &Shared, w0: &mut Run, jobs: &[Job], alone: &[Job], results: &mut [TestRecord]) -> Result<()> {
    let interactive = !shared.opts.continue_;
    if shared.opts.update || shared.interrupt.load(Ordering::SeqCst) {
        return Ok(());
    }
    let failed: Vec<&Job> = jobs
        .iter()
        .filter(|j| results.iter().any(|r| r.number == j.test.number && r.verdict == 'F'))
        .filter(|j| interactive || !alone.iter().any(|a| a.test.number == j.test.number))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    if interactive {
        println!("\n{} test(s) failed; reviewing them one by one:", failed.len());
        w0.console = Console::Direct;
        w0.asker = Box::new(Terminal);
    } else {
        println!("\n{} test(s) failed side by side; rerunning them alone:", failed.len());
    }
    for job in failed {
        if shared.interrupt.load(Ordering::SeqCst) {
            break;
        }
        let started = Instant::now();
        let Some(v) = run_one(w0, job)? else {
            println!("** Quit: files of test {} kept in {}", job.test.id(), w0.ws.dir.display());
            break;
        };
        let secs = started.elapsed().as_secs_f64();
        print!("{}", w0.take_console());
        let mut rec = record(w0, job, v, secs);
        let Some(slot) = results.iter_mut().find(|r| r.number == job.test.number) else { continue };
        if v == Verdict::Pass {
            shared.summaries.retract_failures(job.test.number)?;
            rec.failed_first = Some(FirstRun {
                failures: std::mem::take(&mut slot.failures),
                output: std::mem::take(&mut slot.output),
                seconds: slot.seconds,
            });
        }
        if !interactive {
            let note = if v == Verdict::Pass { ": failed side by side, passes alone" } else { "" };
            println!("[rerun] {} {} {secs:.1}s{note}", job.test.id(), v.letter());
        }
        *slot = rec;
    }
    Ok(())
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
    fn shards_are_deterministic() {
        let all: Vec<u32> = (1..=50).collect();
        assert_eq!(shard(all.clone(), 2, 3), shard(all.clone(), 2, 3));
        assert_eq!(shard(all, 1, 3)[..3], [1, 4, 7]);
    }
}
