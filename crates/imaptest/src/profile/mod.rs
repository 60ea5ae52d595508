//! Profile mode (`profile=FILE`): the users and clients a profile describes ([`parse`], pure),
//! who they are and when they act ([`plan`], pure), and the doing: one task per user that has
//! mail delivered over LMTP at the profile's rates and logs its client in (see
//! [`plan::logins_due`] for `connection_max_count`; `clients` sessions in all), IMAP clients
//! acting on their mail ([`imap`]) and POP3 clients ([`crate::stress::pop3`]). The console is
//! the original's: the default columns plus LMTP, names only in the headers.
pub mod imap;
pub mod parse;
pub mod plan;

use crate::args::Config;
use crate::client::Endpoint;
use crate::mbox::Message;
use crate::stress::console::{self, Control, Drive};
use crate::stress::lmtp::{with_detail, Lmtp};
use crate::stress::pop3;
use crate::stress::session::Slot;
use crate::stress::states::{ids, Plan};
use crate::stress::stats::{ClientLine, Counters};
use crate::users::{User, Users};
use anyhow::{Context, Result};
use parse::{ClientProfile, Profile, Protocol, UserNames, UserProfile};
use plan::PlannedUser;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// Everything the users and sessions of a profile run share.
pub struct Env {
    pub cfg: Config,
    pub profile: Profile,
    pub plan: Plan,
    pub imap: Endpoint,
    pub pop3: SocketAddr,
    pub lmtp: Lmtp,
    pub counters: Counters,
    /// What the sessions of a user must agree on.
    pub shared: crate::stress::shared::Shared,
    pub slots: Vec<Slot>,
    free: Mutex<Vec<usize>>,
    seats: Semaphore,
    /// At most this many sessions connect (and log in) at once.
    pub connecting: Semaphore,
    pub ctl: Arc<Control>,
    messages: Vec<Message>,
    next: AtomicUsize,
    /// Sessions started (names rawlog files).
    pub sessions: AtomicUsize,
    /// TLS for POP3 clients (`ssl`).
    pub pop3_tls: Option<crate::stress::lines::TlsTo>,
    /// Users that have logged in at least once (the ramp-up).
    started: AtomicU32,
    pub start: Instant,
    pub seed: u64,
}

impl Env {
    /// The next source message (the mbox in order, wrapping).
    pub fn next_message(&self) -> &Message {
        let i = self.next.fetch_add(1, Relaxed);
        &self.messages[i % self.messages.len()]
    }
}

/// One emulated user while the run lasts.
pub struct UserState {
    pub planned: PlannedUser,
    pub index: usize,
    /// Sessions open now.
    pub sessions: AtomicU32,
    /// A session ended.
    pub ended: Notify,
    /// INBOX UIDs some session of the user already acted on.
    pub handled: Mutex<HashSet<u32>>,
    /// POP3 UIDLs already downloaded.
    pub uidls: Mutex<HashSet<Vec<u8>>>,
    /// What its IMAP sessions last knew of INBOX (`qresync`).
    pub inbox: Mutex<Option<crate::qresync::Known>>,
}

impl UserState {
    pub fn user_profile<'a>(&self, env: &'a Env) -> &'a UserProfile {
        &env.profile.users[self.planned.user]
    }
    pub fn client_profile<'a>(&self, env: &'a Env) -> &'a ClientProfile {
        &env.profile.clients[self.planned.client]
    }
}

/// Reads a profile file (errors name `file:line`).
pub fn load(path: &std::path::Path) -> Result<Profile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("profile {}", path.display()))?;
    Ok(parse::parse(&path.display().to_string(), &text)?)
}

/// Runs profile mode; returns the exit status.
pub async fn run(cfg: &Config) -> Result<i32> {
    let path = cfg.profile.as_ref().context("profile= is required")?;
    if cfg.checkpoint.is_some() {
        anyhow::bail!("checkpoint= is for stress mode, not for profile mode");
    }
    let profile = load(path)?;
    let lmtp_port = cfg.lmtp_port.or(profile.lmtp_port).with_context(|| {
        format!(
            "{}: lmtp_port is required (in the profile or on the command line)",
            path.display()
        )
    })?;
    // userfiles, each read once
    let mut files: HashMap<String, Vec<User>> = HashMap::new();
    for u in profile.users.iter().filter(|u| u.count > 0) {
        if let UserNames::File(f) = &u.names {
            if !files.contains_key(f) {
                let Users::File(list) =
                    Users::new("-", (1, 1), 1, Some(std::path::Path::new(f)), &cfg.pass)
                        .with_context(|| format!("{}: user {}", path.display(), u.name))?
                else {
                    unreachable!("a userfile gives a list")
                };
                files.insert(f.clone(), list);
            }
        }
    }
    let planned = plan::users(&profile, &files, &cfg.pass)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let plan = Plan::from_config(cfg)?;
    let clients = cfg.clients.max(1);
    if let Some(w) = crate::stress::fdlimit::raise(
        clients as u64 + profile.lmtp_max_parallel_count.max(100) as u64,
        cfg.rawlog,
    ) {
        eprintln!("{w}");
    }
    let seed = cfg.seed.unwrap_or_else(rand::random);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let messages = crate::stress::messages(cfg, &mut rng)?;
    let mut imap = crate::scripted::endpoint(cfg).await?;
    if cfg.stalled_disconnect_timeout > 0 {
        imap.timeout = Duration::from_secs(cfg.stalled_disconnect_timeout);
    }
    let host = cfg.hostip.clone().unwrap_or_else(|| cfg.host.clone());
    let pop3_addr = pop3::resolve(&host, cfg.pop3_port).await?;
    let lmtp_addr = pop3::lmtp_addr(cfg, lmtp_port).await?;
    let env = Arc::new(Env {
        lmtp: Lmtp::new(lmtp_addr, profile.lmtp_max_parallel_count, imap.timeout),
        cfg: cfg.clone(),
        plan,
        imap,
        pop3: pop3_addr,
        counters: Counters::default(),
        shared: crate::stress::shared::Shared::default(),
        slots: (0..clients).map(|_| Slot::default()).collect(),
        free: Mutex::new((0..clients as usize).rev().collect()),
        seats: Semaphore::new(clients as usize),
        connecting: Semaphore::new(crate::stress::MAX_CONNECTING),
        ctl: Arc::new(Control::new(cfg.error_quit)),
        messages,
        next: AtomicUsize::new(0),
        sessions: AtomicUsize::new(0),
        pop3_tls: pop3::tls_to(cfg).await?,
        started: AtomicU32::new(0),
        start: Instant::now(),
        seed,
        profile,
    });
    let n = planned.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, planned) in planned.into_iter().enumerate() {
        let u = Arc::new(UserState {
            planned,
            index,
            sessions: AtomicU32::new(0),
            ended: Notify::new(),
            handled: Mutex::new(HashSet::new()),
            uidls: Mutex::new(HashSet::new()),
            inbox: Mutex::new(None),
        });
        tasks.spawn(user_task(env.clone(), u, n));
    }
    let total = n as u32;
    let env2 = env.clone();
    let ramp = move |_: &ClientLine| {
        let s = env2.started.load(Relaxed);
        (s < total).then(|| s * 100 / total.max(1))
    };
    console::drive(
        Drive {
            cfg,
            plan: &env.plan,
            counters: &env.counters,
            slots: &env.slots,
            ctl: env.ctl.clone(),
            names_only: true,
            ramp: &ramp,
        },
        tasks,
    )
    .await
}

/// The earliest of some instants.
fn earliest(ts: &[Option<Instant>]) -> Option<Instant> {
    ts.iter().flatten().min().copied()
}

/// One user: deliveries when due, logins when due ([`plan::logins_due`]), until the
/// run finishes; then deliveries not made yet are dropped and its sessions log out.
async fn user_task(env: Arc<Env>, u: Arc<UserState>, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(
        env.seed
            .wrapping_add((u.index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
    );
    let up = u.user_profile(&env).clone();
    let cp = u.client_profile(&env).clone();
    let t0 = env.start;
    let mut next_login = Some(t0 + plan::first_login(u.index, n, env.profile.rampup_time));
    let mut next_inbox = up
        .inbox_delivery_interval
        .map(|d| t0 + plan::first_of(d, &mut rng));
    let mut next_spam = up
        .spam_delivery_interval
        .map(|d| t0 + plan::first_of(d, &mut rng));
    let max_sessions = cp.connection_max_count.max(1);
    let mut first = true;
    let mut finish = env.ctl.subscribe();
    let mut children = tokio::task::JoinSet::new();
    let mut deliveries = tokio::task::JoinSet::new();
    let far = Instant::now() + Duration::from_secs(100 * 365 * 86400);
    while !env.ctl.finishing() {
        let wake = earliest(&[next_login, next_inbox, next_spam]).unwrap_or(far);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = u.ended.notified() => {
                if cp.login_interval.is_zero() && next_login.is_none() {
                    next_login = Some(Instant::now() + plan::next_of(Duration::from_secs(1), &mut rng));
                }
                continue;
            }
            _ = finish.changed() => break,
        }
        while children.try_join_next().is_some() {}
        while deliveries.try_join_next().is_some() {}
        let now = Instant::now();
        for (due, detail, interval) in [
            (&mut next_inbox, None, up.inbox_delivery_interval),
            (&mut next_spam, Some("Spam"), up.spam_delivery_interval),
        ] {
            if let (Some(t), Some(i)) = (*due, interval) {
                if t <= now {
                    *due = Some(t + plan::next_of(i, &mut rng));
                    let rcpt = match detail {
                        None => u.planned.login.name.clone(),
                        Some(d) => with_detail(&u.planned.login.name, d),
                    };
                    let env = env.clone();
                    deliveries.spawn(async move {
                        let data = env.next_message().data.clone();
                        match env.lmtp.deliver(&rcpt, &data).await {
                            Ok(took) => env.counters.done(ids::LMTP, took.as_micros() as u64),
                            Err(e) => env.ctl.error(&rcpt, 0, &e),
                        }
                    });
                }
            }
        }
        if next_login.is_some_and(|t| t <= now) {
            let open = u.sessions.load(Relaxed);
            if open < max_sessions {
                if first {
                    first = false;
                    env.started.fetch_add(1, Relaxed);
                }
                for _ in 0..plan::logins_due(open, max_sessions, cp.login_interval) {
                    u.sessions.fetch_add(1, Relaxed);
                    children.spawn(session_task(env.clone(), u.clone(), rng_for(&mut rng)));
                }
                next_login = (!cp.login_interval.is_zero())
                    .then(|| now + plan::next_of(cp.login_interval, &mut rng));
            } else {
                // all its sessions are open: try again later
                next_login = (!cp.login_interval.is_zero()).then(|| now + cp.login_interval);
            }
        }
    }
    // deliveries still waiting for an LMTP connection are not made; sessions log out
    deliveries.abort_all();
    while children.join_next().await.is_some() {}
}

fn rng_for(rng: &mut ChaCha8Rng) -> ChaCha8Rng {
    use rand::Rng;
    ChaCha8Rng::seed_from_u64(rng.gen())
}

/// One session of a user: a seat among `clients`, then IMAP or POP3 as its client profile says.
async fn session_task(env: Arc<Env>, u: Arc<UserState>, mut rng: ChaCha8Rng) {
    let mut finish = env.ctl.subscribe();
    let permit = tokio::select! {
        p = env.seats.acquire() => p,
        _ = finish.changed() => {
            end_session(&u);
            return;
        }
    };
    let Ok(permit) = permit else {
        end_session(&u);
        return;
    };
    let slot_i = env
        .free
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or(0);
    let slot = &env.slots[slot_i];
    slot.exists.store(true, Relaxed);
    let cp = u.client_profile(&env);
    let res = match cp.protocol {
        Protocol::Imap => imap::session(&env, &u, slot, slot_i as u32 + 1, &mut rng).await,
        Protocol::Pop3 => {
            let job = pop3::Job {
                addr: env.pop3,
                timeout: env.imap.timeout,
                user: &u.planned.login,
                counters: &env.counters,
                slot,
                steps: pop3::Steps {
                    stat: 0,
                    list: 0,
                    uidl: 100,
                    top: 0,
                    retr: 100,
                    dele: if cp.pop3_keep_mails { 0 } else { 100 },
                    noop: 0,
                    quit: 100,
                    max_msgs: usize::MAX,
                },
                seen: cp.pop3_keep_mails.then_some(&u.uidls),
                connect_ms: env.cfg.connect_ms,
                rawlog: env.imap.rawlog_dir.as_ref().map(|d| {
                    let n = env.sessions.fetch_add(1, Relaxed) + 1;
                    d.join(format!("rawlog.pop3.{}.{n}", u.index + 1))
                }),
                tls: env.pop3_tls.clone(),
                stls: env.cfg.starttls,
            };
            pop3::session(&job, &mut rng).await
        }
    };
    slot.exists.store(false, Relaxed);
    slot.banner.store(false, Relaxed);
    console::waiting(slot, None);
    env.free
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(slot_i);
    drop(permit);
    if let Err(e) = res {
        env.ctl.error(&u.planned.login.name, slot_i as u32 + 1, &e);
        if env.cfg.disconnect_quit {
            env.ctl.stop(1);
        }
    }
    end_session(&u);
}

fn end_session(u: &UserState) {
    u.sessions.fetch_sub(1, Relaxed);
    u.ended.notify_one();
}
