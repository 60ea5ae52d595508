//! `checkpoint=N`: every N seconds every session stops sending after its current commands
//! (phase 1); once all have stopped, each selected session sends CHECK and `FETCH 1:* (UID
//! FLAGS)` and reports what it sees (phase 2); the reports of each user and mailbox are then
//! compared ([`compare`], pure): message count, seq→UID map, flags and keywords, MODSEQs, and
//! `\Recent` on a message in at most one session. Then the sessions go on.
use super::Run;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long the coordinator waits for sessions before going on without them.
const WAIT: Duration = Duration::from_secs(10);

/// One session's mailbox at a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snap {
    /// Per sequence: UID, flags (lower case, sorted, without `\recent`), MODSEQ (0 unknown).
    pub msgs: Vec<(u32, Vec<String>, u64)>,
    /// UIDs with `\Recent` in this session.
    pub recent: Vec<u32>,
    /// The `* THREAD` reply to `UID THREAD REFERENCES US-ASCII ALL`, when the server has it.
    pub thread: Option<String>,
}

/// Compares the `\Recent` counts of every session of a mailbox (all of them reported, and
/// each message was `\Recent` in some session since the count was last right) with its
/// message count.
pub fn recent_sum(snaps: &[(u32, Snap)]) -> Option<(u32, String)> {
    let (cid, first) = snaps.first()?;
    let sum: usize = snaps.iter().map(|(_, s)| s.recent.len()).sum();
    (sum != first.msgs.len()).then(|| {
        (
            *cid,
            format!(
                "checkpoint: the sessions' RECENT counts sum to {sum}, the mailbox has {} messages",
                first.msgs.len()
            ),
        )
    })
}

/// Compares the snapshots of one user's mailbox; returns (client, complaint) pairs.
pub fn compare(snaps: &[(u32, Snap)]) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Some((ref_cid, r)) = snaps.first() else {
        return out;
    };
    for (cid, s) in &snaps[1..] {
        if let (Some(a), Some(b)) = (&r.thread, &s.thread) {
            if a != b {
                out.push((
                    *cid,
                    format!("checkpoint: THREAD reply {b}, client {ref_cid} got {a}"),
                ));
            }
        }
        if s.msgs.len() != r.msgs.len() {
            out.push((
                *cid,
                format!(
                    "checkpoint: {} messages, client {ref_cid} has {}",
                    s.msgs.len(),
                    r.msgs.len()
                ),
            ));
            continue;
        }
        for (i, (a, b)) in r.msgs.iter().zip(&s.msgs).enumerate() {
            let seq = i + 1;
            if a.0 != 0 && b.0 != 0 && a.0 != b.0 {
                out.push((
                    *cid,
                    format!(
                        "checkpoint: seq {seq} is UID {}, client {ref_cid} has UID {}",
                        b.0, a.0
                    ),
                ));
                break;
            }
            if a.1 != b.1 {
                out.push((
                    *cid,
                    format!(
                        "checkpoint: UID {} has flags ({}), client {ref_cid} has ({})",
                        b.0,
                        b.1.join(" "),
                        a.1.join(" ")
                    ),
                ));
            }
            if a.2 != 0 && b.2 != 0 && a.2 != b.2 {
                out.push((
                    *cid,
                    format!(
                        "checkpoint: UID {} has MODSEQ {}, client {ref_cid} has {}",
                        b.0, b.2, a.2
                    ),
                ));
            }
        }
    }
    let mut owner: HashMap<u32, u32> = HashMap::new();
    for (cid, s) in snaps {
        for uid in &s.recent {
            if let Some(o) = owner.insert(*uid, *cid) {
                if o != *cid {
                    out.push((
                        *cid,
                        format!("checkpoint: UID {uid} has \\Recent here and in client {o}"),
                    ));
                }
            }
        }
    }
    out
}

#[derive(Default)]
struct State {
    in_walk: HashSet<u32>,
    paused: HashSet<u32>,
    reports: HashMap<u32, Option<(String, String, Snap)>>,
}

/// The coordinator's shared state.
pub struct Checkpoint {
    /// The checkpoint sessions must stop for (0: none yet).
    pub due: AtomicU64,
    state: Mutex<State>,
    phase2: watch::Sender<u64>,
    done: watch::Sender<u64>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            due: AtomicU64::new(0),
            state: Mutex::default(),
            phase2: watch::channel(0).0,
            done: watch::channel(0).0,
        }
    }
}

impl Checkpoint {
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last checkpoint that is over.
    pub fn completed(&self) -> u64 {
        let g = *self.done.borrow();
        if g == u64::MAX {
            self.due.load(Relaxed)
        } else {
            g
        }
    }

    /// A session starts walking the states (it may change the mailbox from now on).
    pub fn enter(&self, cid: u32) {
        self.st().in_walk.insert(cid);
    }

    /// A session is gone.
    pub fn leave(&self, cid: u32) {
        let mut s = self.st();
        s.in_walk.remove(&cid);
        s.paused.remove(&cid);
        s.reports.remove(&cid);
    }

    /// Phase 1: the session has stopped sending; returns once every session has.
    pub async fn pause(&self, cid: u32, gen: u64) {
        self.st().paused.insert(cid);
        let mut rx = self.phase2.subscribe();
        let _ = rx.wait_for(|g| *g >= gen).await;
    }

    /// Phase 2: the session's report (`None` when it has no mailbox selected); returns when
    /// the checkpoint is over.
    pub async fn report(&self, cid: u32, gen: u64, r: Option<(String, String, Snap)>) {
        self.st().reports.insert(cid, r);
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|g| *g >= gen).await;
    }
}

/// Waits (at most [`WAIT`]) for `ok`; whether it came true.
async fn until(mut ok: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if ok() {
            return true;
        }
        if t.elapsed() >= WAIT {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a checkpoint every `every` seconds until the run finishes.
pub async fn coordinate(run: std::sync::Arc<Run>, every: u64) {
    let cp = &run.checkpoint;
    let mut gen = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(every.max(1))).await;
        if run.finishing() {
            // release anyone still waiting
            cp.phase2.send_replace(u64::MAX);
            cp.done.send_replace(u64::MAX);
            return;
        }
        gen += 1;
        {
            let mut s = cp.st();
            s.paused.clear();
            s.reports.clear();
        }
        cp.due.store(gen, Relaxed);
        let all_paused = until(|| {
            let s = cp.st();
            s.in_walk.iter().all(|c| s.paused.contains(c))
        })
        .await;
        cp.phase2.send_replace(gen);
        let all_reported = until(|| {
            let s = cp.st();
            s.paused.iter().all(|c| s.reports.contains_key(c))
        })
        .await;
        let reports: Vec<(u32, String, String, Snap)> = {
            let mut s = cp.st();
            let mut v: Vec<_> = s
                .reports
                .drain()
                .filter_map(|(cid, r)| r.map(|(u, m, snap)| (cid, u, m, snap)))
                .collect();
            v.sort_by_key(|r| r.0);
            v
        };
        let mut groups: HashMap<(String, String), Vec<(u32, Snap)>> = HashMap::new();
        for (cid, u, m, snap) in reports {
            groups.entry((u, m)).or_default().push((cid, snap));
        }
        for ((user, mailbox), snaps) in groups {
            let errs = compare(&snaps);
            let clean = errs.is_empty();
            for (cid, msg) in errs {
                run.error(&user, cid, &[msg]);
            }
            if clean && all_paused && all_reported && run.shared.all_recent_known(&user, &mailbox) {
                if let Some((cid, msg)) = recent_sum(&snaps) {
                    run.error(&user, cid, &[msg]);
                }
            }
        }
        cp.done.send_replace(gen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(msgs: &[(u32, &[&str], u64)], recent: &[u32]) -> Snap {
        Snap {
            msgs: msgs
                .iter()
                .map(|(u, f, m)| (*u, f.iter().map(|s| s.to_string()).collect(), *m))
                .collect(),
            recent: recent.to_vec(),
            thread: None,
        }
    }

    #[test]
    fn threads_and_recent_counts() {
        let mut a = snap(&[(1, &[], 0), (3, &[], 0)], &[3]);
        let mut b = a.clone();
        b.recent = vec![1];
        a.thread = Some("* THREAD (1)(3)".into());
        b.thread = Some("* THREAD (1 3)".into());
        let e = compare(&[(1, a.clone()), (2, b.clone())]);
        assert!(
            e.iter().any(|(c, m)| *c == 2
                && m.contains("THREAD reply * THREAD (1 3), client 1 got * THREAD (1)(3)")),
            "{e:?}"
        );
        assert_eq!(recent_sum(&[(1, a.clone()), (2, b.clone())]), None);
        b.recent.clear();
        let (c, m) = recent_sum(&[(1, a), (2, b)]).unwrap();
        assert_eq!(c, 1);
        assert!(
            m.contains("RECENT counts sum to 1, the mailbox has 2 messages"),
            "{m}"
        );
    }

    #[test]
    fn agreeing_sessions_pass() {
        let a = snap(&[(1, &["\\seen"], 5), (3, &[], 0)], &[3]);
        let b = snap(&[(1, &["\\seen"], 5), (3, &[], 7)], &[]);
        assert!(compare(&[(1, a), (2, b)]).is_empty());
    }

    #[test]
    fn each_disagreement_is_named() {
        let base = snap(&[(1, &["\\seen"], 5), (3, &[], 0)], &[3]);
        let cases = [
            (
                snap(&[(1, &["\\seen"], 5)], &[]),
                "1 messages, client 1 has 2",
            ),
            (
                snap(&[(1, &["\\seen"], 5), (4, &[], 0)], &[]),
                "seq 2 is UID 4, client 1 has UID 3",
            ),
            (
                snap(&[(1, &[], 5), (3, &[], 0)], &[]),
                "UID 1 has flags (), client 1 has (\\seen)",
            ),
            (
                snap(&[(1, &["\\seen"], 6), (3, &[], 0)], &[]),
                "UID 1 has MODSEQ 6, client 1 has 5",
            ),
            (
                snap(&[(1, &["\\seen"], 5), (3, &[], 0)], &[3]),
                "UID 3 has \\Recent here and in client 1",
            ),
        ];
        for (other, want) in cases {
            let e = compare(&[(1, base.clone()), (2, other)]);
            assert!(
                e.iter().any(|(c, m)| *c == 2 && m.contains(want)),
                "{want}: {e:?}"
            );
        }
    }
}
