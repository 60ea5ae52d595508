//! The policy for rerunning, after the side-by-side phase of a `-j` run, the tests that failed
//! there — decided here, without running anything; `schedule` does the runs.
//!
//! A rerun exists because a test can fail only under the load of many tests at once (a
//! timing race in Exim, a second boundary crossed). Running every failure again strictly
//! alone, one after the other, makes a run pay the whole length of each genuine failure a
//! second time. The policy keeps the verdict a failure would get alone and pays less:
//!
//! * **Settled by memory.** A test that failed side by side and then on its rerun with the
//!   very same failure (the same reasons and the same printed differences, byte for byte:
//!   its [`fingerprint`]) is remembered with that fingerprint and how many runs in a row it
//!   did so. Once that is [`SETTLE_AFTER`] runs, the same failure side by side is final
//!   without a rerun. Any other failure of it is rerun. One unlucky run is never enough:
//!   a test that crossed a second boundary (`time on queue = 1s`) on its side-by-side run
//!   and again on its rerun would otherwise be failed in every later run.
//!   A test that ever failed side by side and then passed on its rerun is remembered as
//!   *flaky* for good: load decides its verdict, so its failures are always rerun (else a
//!   timing test that once failed alone on a loaded machine would stay failed ever after).
//! * **Side by side when they mostly wait, within a budget.** A test whose processes used at
//!   most [`LIGHT_SHARE`] of its wall time in CPU (a test of sleeps, timeouts and retry
//!   intervals) is rerun beside other such tests, on a machine with two cores or more, as
//!   long as the reruns running at once want at most [`SHARED_BUDGET`] of a core together
//!   (each one's share: its CPU time over its wall time): with half a core wanted in all, a
//!   test finds a free core whenever it needs one, which is what "alone" gives it. The
//!   lightest tests (a retry test that sleeps 20 s on 2% of a core) thus rerun several at a
//!   time, two tests at the limit only in pairs. Tests that compute are rerun alone.
//! * **At once, before the tests beside it** ([`rerun_early`]). While the side-by-side phase
//!   still runs, a failure that mostly waits is rerun in a worker kept for that, at
//!   runtest's priority while the side-by-side tests run nicer. A pass there is final; so is
//!   a failure with the very fingerprint of the side-by-side one, unless it is only lines
//!   in another order ([`after_early`]). Any other failure goes on to the reruns after the
//!   phase, decided as below. (Measured over seven runs of Exim's open suite: the 70 early
//!   failures that repeated the side-by-side one all failed the same way again after the
//!   phase; each test that passed there had failed differently early.)
//! * **A shared failure is final only when it repeats.** A shared rerun that passes is a
//!   pass (load makes tests fail, never pass). One that fails with the fingerprint of its
//!   side-by-side failure has failed the same way twice, the second time beside tests that
//!   were almost idle: final. One that fails differently is rerun alone, and that
//!   verdict is final; so is one whose failure is only lines in another order (a race
//!   between processes, which a little load can tip the same way twice).

use std::collections::BTreeMap;

/// The most CPU (as a share of its wall time) a test may use to be rerun beside another.
pub const LIGHT_SHARE: f64 = 0.25;

/// The most CPU (in cores) the reruns running side by side may want together: two tests at
/// [`LIGHT_SHARE`], or more that want less.
pub const SHARED_BUDGET: f64 = 2.0 * LIGHT_SHARE;

/// A test that failed side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub number: u32,
    /// Its side-by-side run's wall time and the CPU time of its processes.
    pub seconds: f64,
    pub cpu_seconds: f64,
    /// The [`fingerprint`] of its side-by-side failure.
    pub fingerprint: u64,
}

/// How many runs in a row a test must have failed the same way side by side and on its
/// rerun before that failure is settled without a rerun.
pub const SETTLE_AFTER: u32 = 2;

/// What the timings file keeps of a test for this policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// The fingerprint of a failure it had side by side and then on its rerun, the same.
    pub fail: Option<u64>,
    /// In how many runs in a row it had that failure both ways.
    pub times: u32,
    /// It once failed side by side and passed on its rerun.
    pub flaky: bool,
}

/// What to do with the candidates, in the order to do it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Final failures without a rerun (settled by memory).
    pub settled: Vec<u32>,
    /// Rerun side by side within [`SHARED_BUDGET`] (see [`admit`]), longest first.
    pub shared: Vec<u32>,
    /// Rerun alone, one after the other.
    pub alone: Vec<u32>,
}

/// Whether a run of `seconds` whose processes used `cpu_seconds` mostly waited.
pub fn is_light(seconds: f64, cpu_seconds: f64) -> bool {
    seconds > 0.0 && cpu_seconds >= 0.0 && cpu_seconds <= LIGHT_SHARE * seconds
}

/// The share of a core a run of `seconds` used (`cpu_seconds` over `seconds`); a run that
/// took no time counts as a whole core.
pub fn share(seconds: f64, cpu_seconds: f64) -> f64 {
    if seconds > 0.0 && cpu_seconds >= 0.0 {
        cpu_seconds / seconds
    } else {
        1.0
    }
}

/// Whether a shared rerun wanting `share` of a core may start beside the ones running (their
/// shares in `running`) on one of `lanes` workers: always when none runs, else when a
/// worker is free and all of them together stay within [`SHARED_BUDGET`].
pub fn admit(running: &[f64], share: f64, lanes: usize) -> bool {
    running.is_empty()
        || (running.len() < lanes && running.iter().sum::<f64>() + share <= SHARED_BUDGET)
}

/// Whether what is remembered of a candidate makes its failure final without a rerun.
fn settled(c: &Candidate, m: Memory) -> bool {
    !m.flaky && m.fail == Some(c.fingerprint) && m.times >= SETTLE_AFTER
}

/// Whether a test that just failed side by side is rerun at once, while the side-by-side
/// phase goes on at a lower priority (its processes nicer than the rerun's): one that mostly
/// waits and is not settled by memory. A pass there is final (load makes tests fail, never
/// pass), and so is the same failure again ([`after_early`]); another failure only puts it
/// back among the candidates of [`plan`], with its side-by-side failure. It takes the
/// length of a flaky timing test's second run, and of a waiting genuine failure's, out of
/// the run's tail.
pub fn rerun_early(c: &Candidate, m: Memory) -> bool {
    !settled(c, m) && is_light(c.seconds, c.cpu_seconds)
}

/// The plan for `candidates`, given what earlier runs remember of them (`memo`) and the
/// machine's cores.
pub fn plan(candidates: &[Candidate], memo: &BTreeMap<u32, Memory>, cores: usize) -> Plan {
    let mut p = Plan::default();
    let mut light: Vec<&Candidate> = Vec::new();
    for c in candidates {
        let m = memo.get(&c.number).copied().unwrap_or_default();
        if settled(c, m) {
            p.settled.push(c.number);
        } else if cores >= 2 && is_light(c.seconds, c.cpu_seconds) {
            light.push(c);
        } else {
            p.alone.push(c.number);
        }
    }
    if light.len() < 2 {
        // Nobody to share with.
        p.alone.extend(light.iter().map(|c| c.number));
        p.alone.sort_unstable();
    } else {
        light.sort_by(|a, b| {
            b.seconds
                .total_cmp(&a.seconds)
                .then(a.number.cmp(&b.number))
        });
        p.shared = light.iter().map(|c| c.number).collect();
    }
    p
}

/// After a shared rerun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterShared {
    /// Its verdict is final.
    Final,
    /// It failed in another way than side by side: rerun it alone.
    RerunAlone,
}

/// What a shared rerun's result means: `again` is None for a pass, else the fingerprint of
/// the failure; `first` is that of the side-by-side failure; `reordered`: the failure is
/// only lines in another order, a race that even light load can decide twice the same way
/// (Exim's 1157: a proxy process's last debug line before or after its parent's), so it
/// is confirmed alone.
pub fn after_shared(first: u64, again: Option<u64>, reordered: bool) -> AfterShared {
    match again {
        Some(_) if reordered => AfterShared::RerunAlone,
        Some(fp) if fp != first => AfterShared::RerunAlone,
        _ => AfterShared::Final,
    }
}

/// After an early rerun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEarly {
    /// It passed: final.
    Pass,
    /// It failed the same way as side by side, at a higher priority than the tests beside
    /// it: final, as after a shared rerun.
    Confirmed,
    /// It failed in another way, or only in the order of lines: rerun after the phase.
    Later,
}

/// What an early rerun's result means (`again`: None for a pass, else its failure's
/// fingerprint; `first`: that of the side-by-side failure; `reordered`: see
/// [`after_shared`]).
pub fn after_early(first: u64, again: Option<u64>, reordered: bool) -> AfterEarly {
    match (again, after_shared(first, again, reordered)) {
        (None, _) => AfterEarly::Pass,
        (Some(_), AfterShared::Final) => AfterEarly::Confirmed,
        (Some(_), AfterShared::RerunAlone) => AfterEarly::Later,
    }
}

/// What to remember of a test after its final rerun (alone, or shared and failing exactly
/// as side by side), from what was remembered (`m`), the fingerprint of its side-by-side
/// failure and its rerun's (None: it passed): a pass makes it flaky; the same failure is
/// remembered (one run more when it was the one remembered); another forgets it.
pub fn remember(m: Memory, first: u64, rerun: Option<u64>) -> Memory {
    match rerun {
        None => Memory {
            fail: None,
            times: 0,
            flaky: true,
        },
        Some(fp) if fp == first => Memory {
            fail: Some(fp),
            times: if m.fail == Some(fp) { m.times + 1 } else { 1 },
            flaky: m.flaky,
        },
        Some(_) => Memory {
            fail: None,
            times: 0,
            flaky: m.flaky,
        },
    }
}

/// A failure's identity: its reasons and everything runtest printed for it (the differences
/// found), hashed with 64-bit FNV-1a — stable from run to run and release to release, unlike
/// the standard library's hasher.
pub fn fingerprint(failures: &[String], output: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for f in failures {
        eat(f.as_bytes());
        eat(&[0]);
    }
    eat(&[1]);
    eat(output.as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(number: u32, seconds: f64, cpu_seconds: f64, fingerprint: u64) -> Candidate {
        Candidate {
            number,
            seconds,
            cpu_seconds,
            fingerprint,
        }
    }

    #[test]
    fn only_waiting_unsettled_failures_are_rerun_early() {
        let c = |seconds, cpu_seconds| Candidate {
            number: 548,
            seconds,
            cpu_seconds,
            fingerprint: 7,
        };
        let none = Memory::default();
        assert!(rerun_early(&c(24.7, 2.6), none));
        assert!(!rerun_early(&c(4.0, 2.0), none), "busy");
        assert!(!rerun_early(&c(0.0, 0.0), none), "no time");
        let same = Memory {
            fail: Some(7),
            times: SETTLE_AFTER,
            flaky: false,
        };
        assert!(!rerun_early(&c(24.7, 2.6), same), "settled");
        assert!(rerun_early(
            &c(24.7, 2.6),
            Memory {
                flaky: true,
                ..same
            }
        ));
        assert!(rerun_early(
            &c(24.7, 2.6),
            Memory {
                fail: Some(8),
                ..same
            }
        ));
        assert!(rerun_early(&c(24.7, 2.6), Memory { times: 1, ..same }));
    }

    #[test]
    fn waiting_tests_share_longest_first_and_busy_ones_run_alone() {
        let cands = [
            c(40, 0.6, 0.5, 1),
            c(548, 25.0, 1.0, 2),
            c(576, 19.0, 0.8, 3),
            c(192, 1.0, 0.1, 4),
        ];
        let p = plan(&cands, &BTreeMap::new(), 2);
        assert_eq!(
            p,
            Plan {
                settled: vec![],
                shared: vec![548, 576, 192],
                alone: vec![40]
            }
        );
        // One core: everything alone, nothing shared.
        let p = plan(&cands, &BTreeMap::new(), 1);
        assert_eq!((p.shared.len(), p.alone), (0, vec![40, 192, 548, 576]));
        // A single light test has nobody to share with.
        let p = plan(&cands[..2], &BTreeMap::new(), 2);
        assert_eq!(
            p,
            Plan {
                settled: vec![],
                shared: vec![],
                alone: vec![40, 548]
            }
        );
    }

    #[test]
    fn only_the_remembered_failure_itself_is_settled() {
        let fail = |fp, times| Memory {
            fail: Some(fp),
            times,
            flaky: false,
        };
        let memo = BTreeMap::from([(40, fail(1, 2)), (548, fail(99, 5))]);
        let p = plan(&[c(40, 0.6, 0.5, 1), c(548, 25.0, 1.0, 2)], &memo, 2);
        assert_eq!(
            p,
            Plan {
                settled: vec![40],
                shared: vec![],
                alone: vec![548]
            }
        );
        // One run of that failure is not enough.
        let p = plan(
            &[c(40, 0.6, 0.5, 1)],
            &BTreeMap::from([(40, fail(1, 1))]),
            2,
        );
        assert_eq!((p.settled.len(), p.alone), (0, vec![40]));
        // A test that load once made fail is never settled by memory.
        let flaky = Memory {
            flaky: true,
            ..fail(1, 9)
        };
        let p = plan(&[c(40, 0.6, 0.5, 1)], &BTreeMap::from([(40, flaky)]), 2);
        assert_eq!((p.settled.len(), p.alone), (0, vec![40]));
    }

    #[test]
    fn the_budget_admits_many_idle_tests_or_two_at_the_limit() {
        // Nothing runs: anything starts, even a busy one.
        assert!(admit(&[], 1.0, 8));
        // Two at the limit, not three.
        assert!(admit(&[0.25], 0.25, 8));
        assert!(!admit(&[0.25, 0.25], 0.01, 8));
        // Retry tests that hardly compute: many at once, up to the free workers.
        let idle = [0.02; 7];
        assert!(admit(&idle, 0.02, 8));
        assert!(!admit(&[0.02; 8], 0.02, 8));
        assert!(!admit(&[0.3], 0.25, 8));
        assert_eq!(share(20.0, 0.4), 0.02);
        assert_eq!(share(0.0, 0.0), 1.0);
        assert_eq!(share(1.0, -1.0), 1.0);
    }

    #[test]
    fn lightness() {
        assert!(is_light(10.0, 2.5));
        assert!(!is_light(10.0, 2.6));
        assert!(!is_light(0.0, 0.0));
        assert!(!is_light(10.0, f64::NAN));
        assert!(!is_light(f64::NAN, 0.0));
    }

    #[test]
    fn early_results() {
        assert_eq!(after_early(7, None, false), AfterEarly::Pass);
        assert_eq!(after_early(7, Some(7), false), AfterEarly::Confirmed);
        assert_eq!(after_early(7, Some(8), false), AfterEarly::Later);
        assert_eq!(after_early(7, Some(7), true), AfterEarly::Later);
    }

    #[test]
    fn shared_results() {
        assert_eq!(after_shared(7, None, false), AfterShared::Final);
        assert_eq!(after_shared(7, Some(7), false), AfterShared::Final);
        assert_eq!(after_shared(7, Some(8), false), AfterShared::RerunAlone);
        // The same lines in another order, twice: a race, confirmed alone.
        assert_eq!(after_shared(7, Some(7), true), AfterShared::RerunAlone);
        assert_eq!(after_shared(7, None, true), AfterShared::Final);
        let none = Memory::default();
        let seven = |times| Memory {
            fail: Some(7),
            times,
            flaky: false,
        };
        let flaky = Memory {
            fail: None,
            times: 0,
            flaky: true,
        };
        assert_eq!(remember(none, 7, Some(7)), seven(1));
        assert_eq!(remember(seven(1), 7, Some(7)), seven(2));
        assert_eq!(remember(seven(2), 8, Some(8)).times, 1);
        assert_eq!(remember(seven(3), 7, Some(8)), none);
        assert_eq!(remember(seven(3), 7, None), flaky);
        // Flakiness is never forgotten.
        assert_eq!(
            remember(flaky, 7, Some(7)),
            Memory {
                flaky: true,
                ..seven(1)
            }
        );
    }

    #[test]
    fn fingerprints_tell_failures_apart() {
        let r = |s: &str| vec![s.to_string()];
        assert_eq!(
            fingerprint(&r("stdout"), "diff"),
            fingerprint(&r("stdout"), "diff")
        );
        assert_ne!(
            fingerprint(&r("stdout"), "diff"),
            fingerprint(&r("stdout"), "diff2")
        );
        assert_ne!(
            fingerprint(&r("stdout"), "diff"),
            fingerprint(&r("stderr"), "diff")
        );
        // Where one reason ends and the output starts is part of it.
        assert_ne!(fingerprint(&r("ab"), "c"), fingerprint(&r("a"), "bc"));
        // A fixed value for a fixed input: remembered fingerprints stay valid.
        assert_eq!(fingerprint(&[], ""), 0xaf63_bc4c_8601_b62c);
        assert_eq!(fingerprint(&r("x"), "y"), 0x4bf7_5b52_798b_dcaf);
    }
}
