//! Stress mode: `clients` concurrent sessions walking the states (see [`states`]), each
//! reply checked against what the session knows ([`mailbox`]) and what all sessions of the
//! user must agree on ([`shared`]), counted ([`stats`]) and printed once a second in the
//! original's format; `secs=N[,F]`, Ctrl-C once to finish and twice to stop, `output=FILE`.
//!
//! - [`checkpoint`]: `checkpoint=N`, the consistency check across sessions;
//! - [`states`]: the states and the plan of a command line (pure);
//! - [`commands`]: the command each state sends (pure);
//! - [`mailbox`]: one session's view and its checks (pure);
//! - [`own`]: `own_msgs`/`own_flags`, what a client owns and must find unchanged (pure);
//! - [`shared`]: the checks across sessions;
//! - [`fdlimit`]: room for many sockets;
//! - [`stats`]: counters and the console format (pure formatting);
//! - [`search`]: judging SEARCH results (pure);
//! - [`session`]: one client on the wire (the doing);
//! - [`pop3`]: POP3 sessions and POP3 stress mode (`pop3`); [`lmtp`]: LMTP deliveries;
//!   [`lines`]: their line-based connection; [`console`]: their per-second loop.
pub mod checkpoint;
pub mod commands;
pub mod console;
pub mod fdlimit;
pub mod lines;
pub mod lmtp;
pub mod mailbox;
pub mod own;
pub mod pop3;
pub mod search;
pub mod session;
pub mod shared;
pub mod states;
pub mod stats;

use crate::args::{Config, STATES};
use crate::mbox;
use crate::users::Users;
use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use session::Slot;
use states::Plan;
use stats::{ClientLine, Counters};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

/// At most this many clients connect (and log in) at once.
pub const MAX_CONNECTING: usize = 100;

/// Everything the sessions of a run share.
pub struct Run {
    pub cfg: Config,
    pub plan: Plan,
    pub endpoint: crate::client::Endpoint,
    pub users: Users,
    pub mailbox: String,
    pub seed: u64,
    pub counters: Counters,
    pub shared: shared::Shared,
    pub checkpoint: checkpoint::Checkpoint,
    pub slots: Vec<Slot>,
    pub gate: Semaphore,
    messages: Vec<mbox::Message>,
    next: AtomicUsize,
    finishing: AtomicBool,
    stop_code: AtomicI32,
    stopped: Notify,
    errors: AtomicU64,
}

impl Run {
    /// Whether clients should log out and end.
    pub fn finishing(&self) -> bool {
        self.finishing.load(Relaxed)
    }

    fn finish(&self) {
        self.finishing.store(true, Relaxed);
    }

    /// Stops the run now with exit status `code`.
    pub fn stop(&self, code: i32) {
        self.finish();
        let _ = self.stop_code.compare_exchange(-1, code, Relaxed, Relaxed);
        self.stopped.notify_one();
    }

    /// Prints a client's complaints (`Error: user[client]: …`).
    pub fn error(&self, user: &str, cid: u32, errs: &[String]) {
        let mut e = std::io::stderr().lock();
        for m in errs {
            let _ = writeln!(e, "Error: {user}[{cid}]: {m}");
        }
        self.errors.fetch_add(1, Relaxed);
        if self.cfg.error_quit {
            self.stop(2);
        }
    }

    /// The next message to append: the mbox in order, wrapping.
    pub fn next_message(&self) -> &mbox::Message {
        let i = self.next.fetch_add(1, Relaxed);
        &self.messages[i % self.messages.len()]
    }
}

impl pop3::Sink for Run {
    fn finishing(&self) -> bool {
        Run::finishing(self)
    }
    fn delivered(&self, micros: u64) {
        self.counters.done(states::ids::LMTP, micros)
    }
    fn failed(&self, user: &str, err: &str) {
        self.error(user, 0, &[err.to_string()])
    }
}

/// The source messages: `random_msg_size` garbage, or the mbox (default `~/mail/dovecot-crlf`).
pub(crate) fn messages(cfg: &Config, rng: &mut impl Rng) -> Result<Vec<mbox::Message>> {
    if cfg.random_msg_size > 0 {
        let size = cfg.random_msg_size as usize;
        return Ok((0..64)
            .map(|i| {
                let mut d = format!(
                    "From: imaptest@example.com\r\nSubject: random {i}\r\nMessage-ID: <random-{i}-{}@imaptest>\r\n\r\n",
                    rng.gen::<u64>()
                )
                .into_bytes();
                while d.len() < size {
                    let line: String = (0..70)
                        .map(|_| char::from(rng.gen_range(b'a'..=b'z')))
                        .collect();
                    d.extend_from_slice(line.as_bytes());
                    d.extend_from_slice(b"\r\n");
                }
                mbox::Message {
                    internaldate: None,
                    data: d,
                }
            })
            .collect());
    }
    let path = match &cfg.mbox {
        Some(p) => p.clone(),
        None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("mail/dovecot-crlf"),
    };
    let msgs = mbox::read(&path)?;
    if msgs.is_empty() {
        bail!("mbox {}: no messages in it", path.display());
    }
    Ok(msgs)
}

/// Where the per-second lines go.
struct Console {
    out: std::io::Stdout,
    tsv: Option<std::fs::File>,
}

impl Console {
    fn print(&mut self, s: &str) {
        let mut o = self.out.lock();
        // a closed stdout must not stop the run
        let _ = o.write_all(s.as_bytes()).and_then(|_| o.flush());
    }
    fn tsv(&mut self, s: &str) {
        if let Some(f) = self.tsv.as_mut() {
            let _ = f.write_all(s.as_bytes());
        }
    }
}

/// Runs stress mode; returns the exit status.
pub async fn run(cfg: &Config) -> Result<i32> {
    if cfg.profile.is_some() {
        return crate::profile::run(cfg).await;
    }
    if cfg.pop3 {
        return pop3::run(cfg).await;
    }
    if cfg.clients == 0 {
        bail!("clients=0: nothing to run");
    }
    let plan = Plan::from_config(cfg)?;
    if let Some(w) = fdlimit::raise(cfg.clients as u64, cfg.rawlog) {
        eprintln!("{w}");
    }
    let users = Users::from_config(cfg)?;
    let seed = cfg.seed.unwrap_or_else(rand::random);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let messages = messages(cfg, &mut rng)?;
    let mut endpoint = crate::scripted::endpoint(cfg).await?;
    if cfg.stalled_disconnect_timeout > 0 {
        endpoint.timeout = Duration::from_secs(cfg.stalled_disconnect_timeout);
    }
    let tsv = match &cfg.output {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("output={}", p.display()))?)
        }
        None => None,
    };
    let run = Arc::new(Run {
        cfg: cfg.clone(),
        plan,
        endpoint,
        users,
        mailbox: cfg.box_name.clone().unwrap_or_else(|| "INBOX".into()),
        seed,
        counters: Counters::default(),
        shared: shared::Shared::default(),
        checkpoint: checkpoint::Checkpoint::default(),
        slots: (0..cfg.clients).map(|_| Slot::default()).collect(),
        gate: Semaphore::new(MAX_CONNECTING),
        messages,
        next: AtomicUsize::new(0),
        finishing: AtomicBool::new(false),
        stop_code: AtomicI32::new(-1),
        stopped: Notify::new(),
        errors: AtomicU64::new(0),
    });
    let mut console = Console {
        out: std::io::stdout(),
        tsv,
    };
    console.print(&stats::header(&run.plan, false));
    console.tsv(&stats::tsv_header(&run.plan));

    let mut set = tokio::task::JoinSet::new();
    for cid in 1..=cfg.clients {
        set.spawn(session::client(run.clone(), cid));
    }
    if let Some(n) = cfg.checkpoint {
        tokio::spawn(checkpoint::coordinate(run.clone(), n));
    }
    if let Some(port) = cfg.lmtp_port {
        let addr = pop3::lmtp_addr(cfg, port).await?;
        let lmtp = Arc::new(lmtp::Lmtp::new(addr, 10, run.endpoint.timeout));
        let sink: Arc<dyn pop3::Sink> = run.clone();
        let msgs = run.messages.clone();
        tokio::spawn(pop3::feed(
            lmtp,
            cfg.lmtp_rate,
            run.users.clone(),
            msgs,
            sink,
            seed,
        ));
    }
    let signals = {
        let (a, b) = (run.clone(), run.clone());
        console::on_ctrl_c(move || a.finish(), move || b.stop(1))
    };

    let start = Instant::now();
    let mut tick = console::every_second();
    let mut totals = vec![0u64; STATES.len()];
    let mut rows = 0u32;
    let mut ramped = false;
    let mut hard_deadline: Option<tokio::time::Instant> = None;
    let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86400);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let counts = run.counters.take_second();
                for (t, c) in totals.iter_mut().zip(&counts) {
                    *t += c;
                }
                let line = client_line(&run, &mut ramped, &mut console);
                console.print(&stats::row(&run.plan, &counts, line));
                console.tsv(&stats::tsv_row(&run.plan, start.elapsed().as_secs(), &counts, line));
                rows += 1;
                if rows.is_multiple_of(10) {
                    let w = run.counters.take_window();
                    console.print(&stats::averages(&run.plan, &w, cfg.precise_ms));
                    console.print(&stats::header(&run.plan, false));
                }
                if let Some((n, _)) = cfg.secs {
                    if start.elapsed().as_secs() >= n && !run.finishing() {
                        run.finish();
                    }
                }
                if run.finishing() && hard_deadline.is_none() {
                    let f = cfg.secs.and_then(|(_, f)| f).unwrap_or(30);
                    hard_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(f));
                }
            }
            _ = run.stopped.notified() => break,
            r = set.join_next() => if r.is_none() { break },
            _ = tokio::time::sleep_until(hard_deadline.unwrap_or(far)) => break,
        }
    }
    set.abort_all();
    signals.abort();
    for (t, c) in totals.iter_mut().zip(run.counters.take_second()) {
        *t += c;
    }
    console.print(&stats::totals(&run.plan, &totals));
    let code = run.stop_code.load(Relaxed);
    Ok(if code >= 0 {
        code
    } else if run.errors.load(Relaxed) > 0 {
        1
    } else {
        0
    })
}

/// The clients part of a per-second row, printing the notes about long stalls first, with
/// the ramp-up percentage until every client has connected once.
fn client_line(run: &Run, ramped: &mut bool, console: &mut Console) -> ClientLine {
    let mut c = console::client_line(&run.slots, |t| console.print(t));
    if !*ramped {
        if c.exist >= run.cfg.clients {
            *ramped = true;
        } else {
            c.ramp = Some(c.exist * 100 / run.cfg.clients);
        }
    }
    c
}
