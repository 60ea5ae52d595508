//! POP3 clients: one session ([`session`]: USER/PASS, STAT, LIST, UIDL, TOP, RETR, DELE, NOOP,
//! QUIT, each counted in the column the original reuses for it: Logi = USER/PASS, Stat = STAT,
//! List = LIST, Sele = UIDL, Fetc = TOP, Fet2 = RETR, Expu = DELE, Noop = NOOP, Logo = QUIT),
//! used by profile mode's POP3 clients, and POP3 stress mode without a profile ([`run`], the
//! `pop3` flag): `clients` sessions again and again with the states' probabilities, with mail
//! delivered over LMTP when `lmtp_port=` is given.
use super::console::{self, Control, Drive};
use super::lines::{unstuff, LineConn};
use super::lmtp::Lmtp;
use super::session::Slot;
use super::states::{id, ids, Plan, StateId};
use super::stats::Counters;
use crate::args::{Config, STATES};
use crate::users::{User, Users};
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How likely each step of a session is, in % (per message for TOP, RETR and DELE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub stat: u32,
    pub list: u32,
    pub uidl: u32,
    pub top: u32,
    pub retr: u32,
    pub dele: u32,
    pub noop: u32,
    pub quit: u32,
    /// At most this many messages are read per session.
    pub max_msgs: usize,
}

impl Steps {
    /// The steps of a stress-mode plan.
    pub fn from_plan(plan: &Plan, max_msgs: usize) -> Steps {
        let p = |n: &str| plan.p[id(n)].0;
        Steps {
            stat: p("STATUS"),
            list: p("LIST"),
            uidl: p("SELECT"),
            top: p("FETCH"),
            retr: p("FETCH2"),
            dele: p("EXPUNGE"),
            noop: p("NOOP"),
            quit: p("LOGOUT"),
            max_msgs,
        }
    }
}

/// The states POP3 stress mode runs; others are refused.
pub const POP3_STATES: &[&str] = &[
    "LOGIN", "STATUS", "LIST", "SELECT", "FETCH", "FETCH2", "EXPUNGE", "NOOP", "LOGOUT", "DELAY",
];

/// The plan of `pop3` stress mode: the command line's, with the states POP3 has no command for
/// turned off (asking for one of them is an error).
pub fn plan(cfg: &Config) -> Result<Plan> {
    for (name, p, _) in &cfg.states {
        if *p > 0 && !POP3_STATES.contains(&name.as_str()) {
            bail!(
                "pop3: {} has no POP3 command (POP3 stress runs {})",
                name.to_ascii_lowercase(),
                POP3_STATES.join(" ").to_ascii_lowercase()
            );
        }
    }
    if cfg.checkpoint.is_some() {
        bail!("pop3: checkpoint= is for IMAP");
    }
    let mut plan = Plan::from_config(cfg)?;
    for (i, (name, _)) in STATES.iter().enumerate() {
        if !POP3_STATES.contains(name) && *name != "LMTP" {
            plan.p[i] = (0, 0);
        }
    }
    Ok(plan)
}

/// What a session needs.
pub struct Job<'a> {
    pub addr: SocketAddr,
    pub timeout: Duration,
    pub user: &'a User,
    pub counters: &'a Counters,
    pub slot: &'a Slot,
    pub steps: Steps,
    /// UIDLs already downloaded by this user: only other messages are read (and UIDL is sent).
    pub seen: Option<&'a Mutex<HashSet<Vec<u8>>>>,
    /// Login latency counts from the connect.
    pub connect_ms: bool,
    pub rawlog: Option<PathBuf>,
    /// TLS from the start (`ssl`), or after STLS when `stls` (`starttls`).
    pub tls: Option<super::lines::TlsTo>,
    pub stls: bool,
}

struct Sess<'a, 'r> {
    c: LineConn,
    job: &'a Job<'a>,
    rng: &'r mut ChaCha8Rng,
}

fn roll(rng: &mut ChaCha8Rng, pct: u32) -> bool {
    pct >= 100 || (pct > 0 && rng.gen_range(0..100) < pct)
}

impl Sess<'_, '_> {
    /// Sends a command and reads its status line: `Ok(Ok(text))` for +OK, `Ok(Err(line))`
    /// for -ERR.
    async fn cmd(&mut self, cmd: &str) -> Result<Result<Vec<u8>, String>, String> {
        let shown = if cmd.starts_with("PASS ") {
            "PASS ***"
        } else {
            cmd
        };
        console::waiting(self.job.slot, Some((Instant::now(), shown.to_string())));
        self.c.send(format!("{cmd}\r\n").as_bytes()).await?;
        let line = self.c.line().await?;
        console::waiting(self.job.slot, None);
        if let Some(rest) = line.strip_prefix(b"+OK") {
            Ok(Ok(rest.to_vec()))
        } else if line.starts_with(b"-ERR") {
            Ok(Err(format!(
                "{shown} failed: {}",
                String::from_utf8_lossy(&line)
            )))
        } else {
            Err(format!(
                "{}: {shown}: not a POP3 status line: {:?}",
                self.c.peer(),
                String::from_utf8_lossy(&line)
            ))
        }
    }

    /// A command that must succeed, counted in `state`.
    async fn must(&mut self, cmd: &str, state: Option<StateId>) -> Result<Vec<u8>, String> {
        let t = Instant::now();
        let r = self.cmd(cmd).await??;
        if let Some(s) = state {
            self.job.counters.done(s, t.elapsed().as_micros() as u64);
        }
        Ok(r)
    }

    /// The lines of a multi-line reply.
    async fn lines(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        let mut total = 0usize;
        loop {
            let l = self.c.line().await?;
            match unstuff(&l) {
                None => return Ok(out),
                Some(x) => {
                    total += x.len() + 2;
                    if total > 256 * 1024 * 1024 {
                        return Err(format!("{}: a reply over 256 MiB", self.c.peer()));
                    }
                    out.push(x.to_vec());
                }
            }
        }
    }

    /// A multi-line command; `None` when the server said -ERR and `tolerate` is set.
    async fn multi(
        &mut self,
        cmd: &str,
        state: StateId,
        tolerate: bool,
    ) -> Result<Option<Vec<Vec<u8>>>, String> {
        let t = Instant::now();
        console::waiting(self.job.slot, Some((t, cmd.to_string())));
        match self.cmd(cmd).await? {
            Ok(_) => {}
            Err(_) if tolerate => return Ok(None),
            Err(e) => return Err(e),
        }
        console::waiting(self.job.slot, Some((t, cmd.to_string())));
        let l = self.lines().await?;
        console::waiting(self.job.slot, None);
        self.job
            .counters
            .done(state, t.elapsed().as_micros() as u64);
        Ok(Some(l))
    }
}

/// `n uid` lines of UIDL (or `n size` of LIST): the numbers and second words.
fn listing(lines: &[Vec<u8>]) -> Vec<(u32, Vec<u8>)> {
    lines
        .iter()
        .filter_map(|l| {
            let s = l.split(|&b| b == b' ').collect::<Vec<_>>();
            let n = std::str::from_utf8(s.first()?).ok()?.parse().ok()?;
            Some((n, s.get(1).map(|w| w.to_vec()).unwrap_or_default()))
        })
        .collect()
}

/// One POP3 session, from the connect to QUIT. A -ERR to TOP, RETR or DELE is tolerated
/// (another session of the user may have deleted the message).
pub async fn session(job: &Job<'_>, rng: &mut ChaCha8Rng) -> Result<(), String> {
    let connect = Instant::now();
    let mut c = LineConn::connect(
        job.addr,
        "POP3",
        job.timeout,
        job.rawlog.as_deref(),
        job.tls.as_ref().filter(|_| !job.stls),
    )
    .await?;
    let banner = c.line().await?;
    if !banner.starts_with(b"+OK") {
        return Err(format!(
            "{}: banner: {}",
            c.peer(),
            String::from_utf8_lossy(&banner)
        ));
    }
    if let Some(tls) = job.tls.as_ref().filter(|_| job.stls) {
        c.stls(tls).await?;
    }
    job.slot.banner.store(true, Relaxed);
    let mut s = Sess { c, job, rng };
    let st = job.steps;
    let t = Instant::now();
    s.must(&format!("USER {}", job.user.name), None).await?;
    s.must(&format!("PASS {}", job.user.pass), None).await?;
    let from = if job.connect_ms { connect } else { t };
    job.counters
        .done(id("LOGIN"), from.elapsed().as_micros() as u64);
    let mut count: Option<u32> = None;
    if roll(s.rng, st.stat) {
        let r = s.must("STAT", Some(id("STATUS"))).await?;
        count = String::from_utf8_lossy(&r)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok());
    }
    let mut msgs: Option<Vec<(u32, Vec<u8>)>> = None;
    if roll(s.rng, st.list) {
        if let Some(l) = s.multi("LIST", id("LIST"), false).await? {
            msgs = Some(listing(&l));
        }
    }
    if job.seen.is_some() || roll(s.rng, st.uidl) {
        if let Some(l) = s.multi("UIDL", id("SELECT"), false).await? {
            msgs = Some(listing(&l));
        }
    }
    let msgs = match (msgs, count) {
        (Some(m), _) => m,
        (None, Some(n)) => (1..=n).map(|i| (i, Vec::new())).collect(),
        (None, None) => {
            let r = s.must("STAT", None).await?;
            let n: u32 = String::from_utf8_lossy(&r)
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (1..=n).map(|i| (i, Vec::new())).collect()
        }
    };
    let mut done = 0usize;
    for (n, uidl) in msgs {
        if done >= st.max_msgs {
            break;
        }
        if let Some(seen) = job.seen {
            let fresh = seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(uidl.clone());
            if !fresh {
                continue;
            }
        }
        done += 1;
        if roll(s.rng, st.top) {
            s.multi(&format!("TOP {n} 0"), id("FETCH"), true).await?;
        }
        if roll(s.rng, st.retr) {
            s.multi(&format!("RETR {n}"), id("FETCH2"), true).await?;
        }
        if roll(s.rng, st.dele) {
            let t = Instant::now();
            if s.cmd(&format!("DELE {n}")).await?.is_ok() {
                job.counters
                    .done(id("EXPUNGE"), t.elapsed().as_micros() as u64);
            }
        }
    }
    if roll(s.rng, st.noop) {
        s.must("NOOP", Some(id("NOOP"))).await?;
    }
    if roll(s.rng, st.quit) {
        s.must("QUIT", Some(id("LOGOUT"))).await?;
    }
    Ok(())
}

/// The source messages for LMTP deliveries of a stress run.
fn feed_messages(cfg: &Config, rng: &mut ChaCha8Rng) -> Result<Vec<crate::mbox::Message>> {
    super::messages(cfg, rng)
}

/// What a delivery feed reports to.
pub trait Sink: Send + Sync + 'static {
    fn finishing(&self) -> bool;
    fn delivered(&self, micros: u64);
    fn failed(&self, user: &str, err: &str);
}

/// POP3 stress mode's sink.
struct Pop3Sink {
    counters: Arc<Counters>,
    ctl: Arc<Control>,
}

impl Sink for Pop3Sink {
    fn finishing(&self) -> bool {
        self.ctl.finishing()
    }
    fn delivered(&self, micros: u64) {
        self.counters.done(ids::LMTP, micros)
    }
    fn failed(&self, user: &str, err: &str) {
        self.ctl.error(user, 0, err)
    }
}

/// Delivers mail to random users of the run at `rate` per second until the run finishes.
pub async fn feed(
    lmtp: Arc<Lmtp>,
    rate: u32,
    users: Users,
    messages: Vec<crate::mbox::Message>,
    sink: Arc<dyn Sink>,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c4d_5450);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0usize;
    while !sink.finishing() {
        tick.tick().await;
        if sink.finishing() {
            break;
        }
        let user = users.pick(&mut rng);
        let data = messages[next % messages.len()].data.clone();
        next += 1;
        let (lmtp, sink) = (lmtp.clone(), sink.clone());
        set.spawn(async move {
            match lmtp.deliver(&user.name, &data).await {
                Ok(took) => sink.delivered(took.as_micros() as u64),
                Err(e) => sink.failed(&user.name, &e),
            }
        });
        while set.try_join_next().is_some() {}
    }
    while set.join_next().await.is_some() {}
}

/// The LMTP address of the command line (`lmtp_host`, else the host; `lmtp_port`).
pub async fn lmtp_addr(cfg: &Config, port: u16) -> Result<SocketAddr> {
    let host = cfg
        .lmtp_host
        .clone()
        .or_else(|| cfg.hostip.clone())
        .unwrap_or_else(|| cfg.host.clone());
    resolve(&host, port).await
}

/// The first address of `host:port`.
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    use anyhow::Context;
    tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host}: no address"))
}

/// TLS for POP3 when `ssl` or `starttls` is given (the same certificate checks as IMAP's).
pub async fn tls_to(cfg: &Config) -> Result<Option<super::lines::TlsTo>> {
    if cfg.tls == crate::args::Tls::None {
        return Ok(None);
    }
    let ep = crate::scripted::endpoint(cfg).await?;
    Ok(ep.tls.map(|c| (c, cfg.host.clone())))
}

/// POP3 stress mode: returns the exit status.
pub async fn run(cfg: &Config) -> Result<i32> {
    if cfg.clients == 0 {
        bail!("clients=0: nothing to run");
    }
    let plan = plan(cfg)?;
    if let Some(w) = super::fdlimit::raise(cfg.clients as u64 * 2, cfg.rawlog) {
        eprintln!("{w}");
    }
    let users = Users::from_config(cfg)?;
    let seed = cfg.seed.unwrap_or_else(rand::random);
    let host = cfg.hostip.clone().unwrap_or_else(|| cfg.host.clone());
    let addr = resolve(&host, cfg.port).await?;
    let timeout = Duration::from_secs(if cfg.stalled_disconnect_timeout > 0 {
        cfg.stalled_disconnect_timeout
    } else {
        cfg.timeout.max(1)
    });
    let ctl = Arc::new(Control::new(cfg.error_quit));
    let counters = Arc::new(Counters::default());
    let slots: Arc<Vec<Slot>> = Arc::new((0..cfg.clients).map(|_| Slot::default()).collect());
    let gate = Arc::new(tokio::sync::Semaphore::new(super::MAX_CONNECTING));
    let steps = Steps::from_plan(&plan, cfg.msgs.max(1) as usize);
    let delay = plan.p[id("DELAY")].0;
    let rawlog_dir = if cfg.rawlog {
        Some(std::env::current_dir()?)
    } else {
        None
    };
    let tls = tls_to(cfg).await?;
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(port) = cfg.lmtp_port {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let msgs = feed_messages(cfg, &mut rng)?;
        let lmtp = Arc::new(Lmtp::new(lmtp_addr(cfg, port).await?, 10, timeout));
        let sink = Arc::new(Pop3Sink {
            counters: counters.clone(),
            ctl: ctl.clone(),
        });
        tokio::spawn(feed(lmtp, cfg.lmtp_rate, users.clone(), msgs, sink, seed));
    }
    for cid in 1..=cfg.clients {
        let (users, ctl, counters, slots, gate) = (
            users.clone(),
            ctl.clone(),
            counters.clone(),
            slots.clone(),
            gate.clone(),
        );
        let (connect_ms, rawlog_dir) = (cfg.connect_ms, rawlog_dir.clone());
        let disconnect_quit = cfg.disconnect_quit;
        let (tls, stls) = (tls.clone(), cfg.starttls);
        tasks.spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed.wrapping_add((cid as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            );
            let slot = &slots[cid as usize - 1];
            let mut n = 0u32;
            while !ctl.finishing() {
                let Ok(permit) = gate.acquire().await else {
                    break;
                };
                n += 1;
                slot.exists.store(true, Relaxed);
                let user = users.pick(&mut rng);
                let job = Job {
                    addr,
                    timeout,
                    user: &user,
                    counters: &counters,
                    slot,
                    steps,
                    seen: None,
                    connect_ms,
                    rawlog: rawlog_dir
                        .as_ref()
                        .map(|d| d.join(format!("rawlog.{cid}.{n}"))),
                    tls: tls.clone(),
                    stls,
                };
                let r = session(&job, &mut rng).await;
                drop(permit);
                slot.exists.store(false, Relaxed);
                slot.banner.store(false, Relaxed);
                console::waiting(slot, None);
                if let Err(e) = r {
                    ctl.error(&user.name, cid, &e);
                    if disconnect_quit {
                        ctl.stop(1);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                if roll(&mut rng, delay) {
                    let ms = rng.gen_range(0..1000);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    counters.done(id("DELAY"), ms * 1000);
                }
            }
        });
    }
    let clients = cfg.clients;
    let ramp =
        move |c: &super::stats::ClientLine| (c.exist < clients).then(|| c.exist * 100 / clients);
    console::drive(
        Drive {
            cfg,
            plan: &plan,
            counters: &counters,
            slots: &slots,
            ctl: ctl.clone(),
            names_only: false,
            ramp: &ramp,
        },
        tasks,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn cfg(a: &[&str]) -> Config {
        parse(a.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn pop3_plans() {
        let p = plan(&cfg(&["pop3"])).unwrap();
        let names: Vec<&str> = p.columns().into_iter().map(|s| STATES[s].1).collect();
        assert_eq!(
            names,
            ["Logi", "List", "Stat", "Sele", "Fetc", "Fet2", "Expu", "Logo"]
        );
        let s = Steps::from_plan(&p, 30);
        assert_eq!(
            (s.uidl, s.retr, s.dele, s.quit, s.list),
            (100, 100, 100, 100, 50)
        );
        let p = plan(&cfg(&["pop3", "-", "fetch2=100", "expunge=0"])).unwrap();
        let names: Vec<&str> = p.columns().into_iter().map(|s| STATES[s].1).collect();
        assert_eq!(names, ["Logi", "Sele", "Fet2", "Logo"]);
        let e = plan(&cfg(&["pop3", "append=100"])).unwrap_err().to_string();
        assert!(e.contains("append has no POP3 command"), "{e}");
        assert_eq!(cfg(&["pop3"]).port, 110);
        assert_eq!(cfg(&["pop3", "port=10110"]).port, 10110);
    }

    #[test]
    fn listings() {
        let l = vec![b"1 abc".to_vec(), b"2 def".to_vec(), b"junk".to_vec()];
        assert_eq!(
            listing(&l),
            vec![(1, b"abc".to_vec()), (2, b"def".to_vec())]
        );
    }
}
