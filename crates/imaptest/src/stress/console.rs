//! The per-second loop shared by POP3 stress mode and profile mode: once a second a row of
//! counts (and the `output=FILE` TSV line), every 10 rows the averages and the header again,
//! `secs=N[,F]`, Ctrl-C once to finish and twice to stop, `Totals:` at the end. [`Control`]
//! is how the clients learn that the run is finishing and report errors.
use super::session::Slot;
use super::states::Plan;
use super::stats::{self, ClientLine, Counters};
use crate::args::{Config, STATES};
use anyhow::{Context, Result};
use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// A client waiting this long for a reply counts as stalled.
const STALLED: Duration = Duration::from_secs(3);
/// Stalls this long are named on the console.
const STALL_REPORT: u64 = 15;

/// Finishing, stopping and errors of a run.
pub struct Control {
    finish: watch::Sender<bool>,
    stop_code: AtomicI32,
    stopped: Notify,
    errors: AtomicU64,
    error_quit: bool,
}

impl Control {
    pub fn new(error_quit: bool) -> Control {
        Control {
            finish: watch::channel(false).0,
            stop_code: AtomicI32::new(-1),
            stopped: Notify::new(),
            errors: AtomicU64::new(0),
            error_quit,
        }
    }

    /// Whether clients should log out and end.
    pub fn finishing(&self) -> bool {
        *self.finish.borrow()
    }

    /// A receiver that changes when the run starts finishing.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.finish.subscribe()
    }

    pub fn finish(&self) {
        self.finish.send_replace(true);
    }

    /// Stops the run now with exit status `code`.
    pub fn stop(&self, code: i32) {
        self.finish();
        let _ = self.stop_code.compare_exchange(-1, code, Relaxed, Relaxed);
        self.stopped.notify_one();
    }

    /// Prints a complaint (`Error: who[id]: …`).
    pub fn error(&self, who: &str, id: u32, msg: &str) {
        let _ = writeln!(std::io::stderr().lock(), "Error: {who}[{id}]: {msg}");
        self.errors.fetch_add(1, Relaxed);
        if self.error_quit {
            self.stop(2);
        }
    }

    /// The number of errors so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }
}

/// Marks what a client waits for (for the stalled count), or that it waits for nothing.
pub fn waiting(slot: &Slot, w: Option<(Instant, String)>) {
    slot.wait(w);
}

struct Out {
    tsv: Option<std::fs::File>,
}

impl Out {
    fn print(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes()).and_then(|_| o.flush());
    }
    fn tsv(&mut self, s: &str) {
        if let Some(f) = self.tsv.as_mut() {
            let _ = f.write_all(s.as_bytes());
        }
    }
}

/// What the loop needs to know about a run.
pub struct Drive<'a> {
    pub cfg: &'a Config,
    pub plan: &'a Plan,
    pub counters: &'a Counters,
    pub slots: &'a [Slot],
    pub ctl: std::sync::Arc<Control>,
    /// Print only the names in headers (profile mode), not the probabilities.
    pub names_only: bool,
    /// The ramp-up % for a row, `None` once ramped up (called until it says `None`).
    pub ramp: &'a (dyn Fn(&ClientLine) -> Option<u32> + Sync),
}

/// Runs the console until the clients end, `secs` and its grace period pass, or a stop;
/// returns the exit status.
pub async fn drive(d: Drive<'_>, mut tasks: tokio::task::JoinSet<()>) -> Result<i32> {
    let cfg = d.cfg;
    let mut out = Out {
        tsv: match &cfg.output {
            Some(p) => {
                Some(std::fs::File::create(p).with_context(|| format!("output={}", p.display()))?)
            }
            None => None,
        },
    };
    out.print(&stats::header(d.plan, d.names_only));
    out.tsv(&stats::tsv_header(d.plan));
    let signals = {
        let (a, b) = (d.ctl.clone(), d.ctl.clone());
        on_ctrl_c(move || a.finish(), move || b.stop(1))
    };
    let start = Instant::now();
    let mut tick = every_second();
    let mut totals = vec![0u64; STATES.len()];
    let mut rows = 0u32;
    let mut ramped = false;
    let mut hard: Option<tokio::time::Instant> = None;
    let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86400);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let counts = d.counters.take_second();
                for (t, c) in totals.iter_mut().zip(&counts) {
                    *t += c;
                }
                let mut line = client_line(d.slots, |t| out.print(t));
                if !ramped {
                    line.ramp = (d.ramp)(&line);
                    ramped = line.ramp.is_none();
                }
                out.print(&stats::row(d.plan, &counts, line));
                out.tsv(&stats::tsv_row(d.plan, start.elapsed().as_secs(), &counts, line));
                rows += 1;
                if let Some((n, _)) = cfg.secs {
                    if start.elapsed().as_secs() >= n {
                        d.ctl.finish();
                    }
                }
                if rows.is_multiple_of(10) {
                    let w = d.counters.take_window();
                    out.print(&stats::averages(d.plan, &w, cfg.precise_ms));
                    // as the original: no header right before the totals
                    if !d.ctl.finishing() {
                        out.print(&stats::header(d.plan, d.names_only));
                    }
                }
                if d.ctl.finishing() && hard.is_none() {
                    let f = cfg.secs.and_then(|(_, f)| f).unwrap_or(30);
                    hard = Some(tokio::time::Instant::now() + Duration::from_secs(f));
                }
            }
            _ = d.ctl.stopped.notified() => break,
            r = tasks.join_next() => if r.is_none() { break },
            _ = tokio::time::sleep_until(hard.unwrap_or(far)) => break,
        }
    }
    tasks.abort_all();
    signals.abort();
    for (t, c) in totals.iter_mut().zip(d.counters.take_second()) {
        *t += c;
    }
    out.print(&stats::totals(d.plan, &totals));
    let code = d.ctl.stop_code.load(Relaxed);
    Ok(if code >= 0 {
        code
    } else if d.ctl.errors() > 0 {
        1
    } else {
        0
    })
}

/// The clients part of a row (connected, banner, stalled), printing the notes about long
/// stalls through `print` first. Shared by the stress and the profile/POP3 consoles.
pub fn client_line(slots: &[Slot], mut print: impl FnMut(&str)) -> ClientLine {
    let now = Instant::now();
    let mut c = ClientLine::default();
    for (i, s) in slots.iter().enumerate() {
        c.exist += s.exists.load(Relaxed) as u32;
        c.banner += s.banner.load(Relaxed) as u32;
        if let Some((since, text)) = s.waiting() {
            let secs = now.duration_since(since).as_secs();
            if now.duration_since(since) > STALLED {
                c.stalled += 1;
            }
            let step = secs / STALL_REPORT;
            if step > 0 && step > s.reported.load(Relaxed) {
                s.reported.store(step, Relaxed);
                print(&format!(
                    " - {} stalled for {secs} secs in command: {text}\n",
                    i + 1
                ));
            }
        }
    }
    c
}

/// Ctrl-C once: `finish` (end at the next state boundary); twice: `stop`.
pub fn on_ctrl_c(
    finish: impl FnOnce() + Send + 'static,
    stop: impl FnOnce() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            finish();
            if tokio::signal::ctrl_c().await.is_ok() {
                stop();
            }
        }
    })
}

/// The per-second row clock: first tick one second from now, late ticks not bunched up.
pub fn every_second() -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
