//! One client of stress mode, the *doing* part: connect (at most 100 at once, through the
//! run's gate, held until the login succeeds), log in, walk the states in order (or randomly)
//! with their probabilities, pipelining up to a barrier unless `no_pipelining`, read and check
//! every reply, count the tagged OKs, and start again after LOGOUT/DISCONNECT. Errors end the
//! connection and are printed as `Error: user[client]: message: server line`. With `qresync`
//! (and a server that has it): QRESYNC is enabled, what the session knows of the mailbox is
//! kept when it leaves it, and the next session of the user selects with
//! `(QRESYNC (uidvalidity modseq known-uids))`, its reply checked by [`crate::qresync::check`].
use super::checkpoint::Snap;
use super::commands::{self, Ctx};
use super::mailbox::{Seen, View};
use super::own::{self, Own, Store};
use super::states::{ids, StateId};
use super::Run;
use crate::args::STATES;
use crate::client::login::{astring, login};
use crate::client::sasl::Creds;
use crate::client::{Conn, ConnError};
use crate::qresync::{self, Expect, Known};
use crate::users::User;
use imapwire::{Response, Status};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most commands pipelined at once.
const MAX_PIPELINE: usize = 10;

/// What the console knows of one client.
#[derive(Default)]
pub struct Slot {
    /// A connection exists (connecting or connected).
    pub exists: AtomicBool,
    /// It got the server's banner.
    pub banner: AtomicBool,
    /// The oldest command waiting for its reply: since when, and its text.
    waiting: Mutex<Waiting>,
    /// The last stall length (in 15 s steps) already reported.
    pub reported: AtomicU64,
}

/// The oldest command waiting for its reply; `text` keeps its buffer while nothing waits, so
/// noting the next command costs no allocation.
#[derive(Default)]
struct Waiting {
    since: Option<Instant>,
    text: String,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes what the client waits for since when (`None`: nothing).
    pub fn wait(&self, w: Option<(Instant, String)>) {
        {
            let mut g = self.lock();
            match w {
                Some((t, text)) => {
                    *g = Waiting {
                        since: Some(t),
                        text,
                    }
                }
                None => g.since = None,
            }
        }
        self.reported.store(0, Relaxed);
    }

    /// Notes that command `tag text` waits since `since`, reusing the text's buffer.
    fn wait_on(&self, since: Instant, tag: &str, text: &str) {
        {
            let mut g = self.lock();
            g.since = Some(since);
            g.text.clear();
            g.text.push_str(tag);
            g.text.push(' ');
            g.text.push_str(text);
        }
        self.reported.store(0, Relaxed);
    }

    /// What the client waits for since when, if anything.
    pub fn waiting(&self) -> Option<(Instant, String)> {
        let g = self.lock();
        g.since.map(|t| (t, g.text.clone()))
    }
}

/// How a connection ended without an error.
enum End {
    /// LOGOUT or DISCONNECT: connect again.
    Again,
    /// The run is finishing.
    Finished,
}

/// A complaint: the message and the server line it is about.
type Errs = Vec<String>;

fn lost(e: ConnError) -> Errs {
    vec![e.to_string()]
}

/// One client: connects again and again until the run finishes.
pub async fn client(run: Arc<Run>, cid: u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(
        run.seed
            .wrapping_add((cid as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    );
    let slot = &run.slots[cid as usize - 1];
    let mut nconn = 0u32;
    while !run.finishing() {
        let Ok(permit) = run.gate.acquire().await else {
            break;
        };
        nconn += 1;
        slot.exists.store(true, Relaxed);
        let user = run.users.pick(&mut rng);
        let connect_start = Instant::now();
        let res = match Conn::connect(&run.endpoint, &format!("{cid}.{nconn}")).await {
            Err(e) => Err(lost(e)),
            Ok(conn) => {
                slot.banner.store(true, Relaxed);
                let mut s = Session {
                    run: &run,
                    slot,
                    cid,
                    user: &user,
                    conn,
                    rng: &mut rng,
                    tag: 0,
                    view: View::default(),
                    selected: false,
                    uidfetched: false,
                    expunges: 0,
                    pending: VecDeque::new(),
                    logging_out: false,
                    unconfirmed: Vec::new(),
                    cp_seen: 0,
                    connect_start,
                    search_reply: None,
                    thread_reply: None,
                    batch_expunged: false,
                    caps: Caps::default(),
                    qresync: false,
                    select_modseq: 0,
                    resync: None,
                    own: Own::new(
                        run.cfg.own_msgs && !run.cfg.no_tracking,
                        (run.cfg.own_flags && !run.cfg.no_tracking).then(|| format!("$Own{cid}")),
                    ),
                };
                s.go(Some(permit)).await
            }
        };
        slot.banner.store(false, Relaxed);
        slot.exists.store(false, Relaxed);
        slot.wait(None);
        match res {
            Ok(End::Again) => {}
            Ok(End::Finished) => break,
            Err(errs) => {
                run.error(&user.name, cid, &errs);
                if run.cfg.disconnect_quit {
                    run.stop(1);
                }
                // a server that refuses us must not make us spin
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

struct Pending {
    tag: String,
    state: Option<StateId>,
    sent: Instant,
    /// Expunges seen when it was sent (a BAD over a stale sequence is then not the server's fault).
    expunges: u64,
    text: String,
    idle: bool,
    /// For SEARCH: the query, to judge the result.
    query: Option<String>,
    /// An own STORE (`own_msgs`/`own_flags`).
    store: Option<Store>,
    /// A `STORE … .SILENT` over these sequences: their flags are unknown once it is done.
    silent: Option<(u32, u32)>,
}

struct Session<'a> {
    run: &'a Run,
    slot: &'a Slot,
    cid: u32,
    user: &'a User,
    conn: Conn,
    rng: &'a mut ChaCha8Rng,
    tag: u32,
    view: View,
    selected: bool,
    uidfetched: bool,
    expunges: u64,
    pending: VecDeque<Pending>,
    logging_out: bool,
    /// Fixed items seen since the last tagged reply (UID, item, value).
    unconfirmed: Vec<super::mailbox::Fixed>,
    /// The last checkpoint this session took part in.
    cp_seen: u64,
    /// When the connection was started (for `connect_ms`).
    connect_start: Instant,
    /// The last `* SEARCH` reply.
    search_reply: Option<Vec<u32>>,
    /// A tagged reply since the last idle moment said NO or EXPUNGEISSUED.
    batch_expunged: bool,
    /// The last `* THREAD` reply (for checkpoints).
    thread_reply: Option<String>,
    /// What this client owns (`own_msgs`, `own_flags`).
    own: Own,
    /// Capabilities looked at per command, taken once after login.
    caps: Caps,
    /// QRESYNC is enabled (`qresync` and the server has it).
    qresync: bool,
    /// The HIGHESTMODSEQ of the SELECT (0: none).
    select_modseq: u64,
    /// A QRESYNC SELECT under way.
    resync: Option<Resync>,
}

/// A QRESYNC SELECT under way: what it started from, whether it sent the known UIDs, what its
/// reply must report, and the reply so far.
struct Resync {
    known: Known,
    with_uids: bool,
    expect: Expect,
    reply: qresync::Reply,
}

/// The capabilities the states depend on.
#[derive(Default, Clone, Copy)]
struct Caps {
    sort: bool,
    thread: bool,
    moves: bool,
    idle: bool,
    multiappend: bool,
}

impl Caps {
    fn of(c: &Conn) -> Caps {
        Caps {
            sort: c.has("SORT"),
            thread: c.has("THREAD=REFERENCES"),
            moves: c.has("MOVE"),
            idle: c.has("IDLE"),
            multiappend: c.has("MULTIAPPEND"),
        }
    }
}

impl Session<'_> {
    fn next_tag(&mut self) -> String {
        self.tag += 1;
        self.tag.to_string()
    }

    fn p(&self, s: StateId) -> (u32, u32) {
        self.run.plan.p[s]
    }

    fn roll(&mut self, pct: u32) -> bool {
        pct > 0 && self.rng.gen_range(0..100) < pct
    }

    async fn go(&mut self, permit: Option<tokio::sync::SemaphorePermit<'_>>) -> Result<End, Errs> {
        self.login().await?;
        drop(permit);
        self.compress().await?;
        self.caps = Caps::of(&self.conn);
        let cfg = &self.run.cfg;
        // qresync: QRESYNC enabled (expunges come as VANISHED), MODSEQs tracked
        if cfg.qresync && self.conn.has("QRESYNC") {
            self.simple(None, "ENABLE QRESYNC").await?;
            self.qresync = true;
        }
        if let Some(copybox) = cfg.copybox.as_deref() {
            // COPY needs its mailbox; a NO (it exists) is fine
            let cmd = format!("CREATE {}", String::from_utf8_lossy(&astring(copybox)));
            self.send(None, cmd.into_bytes(), false).await?;
            self.drain_tolerant().await?;
        }
        if cfg.imap4rev2 && self.conn.has("IMAP4REV2") {
            self.simple(None, "ENABLE IMAP4rev2").await?;
        }
        self.run.checkpoint.enter(self.cid);
        // a checkpoint already under way when we come in includes us
        self.cp_seen = self.run.checkpoint.completed();
        let r = self.walk().await;
        if r.is_ok() {
            self.leave_mailbox();
        }
        if self.selected {
            // the \Recent flags it held are gone with it
            self.run
                .shared
                .all_recent(&self.user.name, &self.run.mailbox, false);
        }
        self.run.checkpoint.leave(self.cid);
        r
    }

    /// Takes part in a checkpoint when one is due.
    async fn checkpoint_if_due(&mut self) -> Result<(), Errs> {
        let cp = &self.run.checkpoint;
        let gen = cp.due.load(Relaxed);
        if gen <= self.cp_seen {
            return Ok(());
        }
        self.cp_seen = gen;
        cp.pause(self.cid, gen).await;
        if !self.selected {
            self.run.checkpoint.report(self.cid, gen, None).await;
            return Ok(());
        }
        let t = Instant::now();
        let res = self.snapshot().await;
        let snap = match res {
            Ok(s) => s,
            Err(e) => {
                self.run.checkpoint.report(self.cid, gen, None).await;
                return Err(e);
            }
        };
        let r = Some((self.user.name.clone(), self.run.mailbox.clone(), snap));
        self.run.checkpoint.report(self.cid, gen, r).await;
        self.run
            .counters
            .done(ids::CHECKPOINT, t.elapsed().as_micros() as u64);
        Ok(())
    }

    async fn snapshot(&mut self) -> Result<Snap, Errs> {
        self.simple(None, "CHECK").await?;
        if self.view.exists() > 0 {
            let items = if self.conn.has("CONDSTORE") && self.run.cfg.qresync {
                "FETCH 1:* (UID FLAGS MODSEQ)"
            } else {
                "FETCH 1:* (UID FLAGS)"
            };
            self.simple(None, items).await?;
        }
        let mut snap = Snap::default();
        if self.conn.has("THREAD=REFERENCES") {
            self.thread_reply = None;
            self.simple(None, "UID THREAD REFERENCES US-ASCII ALL")
                .await?;
            snap.thread = self.thread_reply.take();
        }
        for m in &self.view.msgs {
            let mut flags: Vec<String> = m.flags.clone().unwrap_or_default();
            if flags.iter().any(|f| f == "\\recent") {
                snap.recent.push(m.uid);
            }
            flags.retain(|f| f != "\\recent");
            flags.sort();
            snap.msgs.push((m.uid, flags, m.modseq));
        }
        Ok(snap)
    }

    async fn login(&mut self) -> Result<(), Errs> {
        let auth = ids::AUTHENTICATE;
        let (state, mech) = if self.run.plan.on(auth) && self.roll(self.p(auth).0) {
            let m = if self.run.cfg.mech == "LOGIN" {
                "PLAIN".to_string()
            } else {
                self.run.cfg.mech.clone()
            };
            (auth, m)
        } else {
            (ids::LOGIN, self.run.cfg.mech.clone())
        };
        let creds = Creds {
            user: self.user.name.clone(),
            authc: self.run.cfg.master.clone(),
            pass: self.user.pass.clone(),
        };
        let nonce = format!(
            "{:016x}{:016x}",
            self.rng.gen::<u64>(),
            self.rng.gen::<u64>()
        );
        let tag = self.next_tag();
        let t = Instant::now();
        self.slot.wait(Some((t, format!("{tag} LOGIN"))));
        login(&mut self.conn, &tag, &mech, &creds, &nonce)
            .await
            .map_err(|e| vec![format!("{e:#}")])?;
        self.slot.wait(None);
        let from = if self.run.cfg.connect_ms {
            self.connect_start
        } else {
            t
        };
        self.run
            .counters
            .done(state, from.elapsed().as_micros() as u64);
        Ok(())
    }

    /// The COMPRESS state, right after login: `COMPRESS DEFLATE` when it is rolled and the
    /// server announces COMPRESS=DEFLATE; everything after its OK is compressed.
    async fn compress(&mut self) -> Result<(), Errs> {
        let s = ids::COMPRESS;
        if !self.run.plan.on(s) || !self.roll(self.p(s).0) || !self.conn.has("COMPRESS=DEFLATE") {
            return Ok(());
        }
        let tag = self.next_tag();
        let t = Instant::now();
        self.slot.wait(Some((t, format!("{tag} COMPRESS DEFLATE"))));
        let r = self.conn.compress(&tag).await.map_err(lost)?;
        self.slot.wait(None);
        if !matches!(
            r,
            Response::Tagged {
                status: Status::Ok,
                ..
            }
        ) {
            return Err(vec![format!("{tag} COMPRESS DEFLATE failed: {r}")]);
        }
        self.run.counters.done(s, t.elapsed().as_micros() as u64);
        Ok(())
    }

    /// The states walked after login, in order.
    fn order(&self) -> Vec<StateId> {
        let skip = [
            ids::AUTHENTICATE,
            ids::LOGIN,
            ids::COMPRESS,
            ids::CHECKPOINT,
            ids::LMTP,
        ];
        (0..STATES.len())
            .filter(|s| self.run.plan.on(*s) && !skip.contains(s))
            .collect()
    }

    async fn walk(&mut self) -> Result<End, Errs> {
        let order = self.order();
        let max = if self.run.cfg.no_pipelining {
            1
        } else {
            MAX_PIPELINE
        };
        // APPEND goes into a batch when its literal needs no continuation
        let batch_append = self.conn.literal_plus();
        let mut i = 0usize;
        let mut deferred: Option<StateId> = None;
        loop {
            self.checkpoint_if_due().await?;
            if self.run.finishing() {
                self.logout(None).await?;
                return Ok(End::Finished);
            }
            let mut batch: Vec<(StateId, Vec<u8>)> = Vec::new();
            let mut visited = 0;
            let mut barrier: Option<StateId> = None;
            let mut selecting = false;
            while batch.len() < max && visited < order.len().max(1) && !order.is_empty() {
                let s = match deferred.take() {
                    Some(s) => s,
                    None => {
                        visited += 1;
                        let s = if self.run.cfg.random {
                            order[self.rng.gen_range(0..order.len())]
                        } else {
                            let s = order[i];
                            i = (i + 1) % order.len();
                            s
                        };
                        if !self.roll(self.p(s).0) {
                            continue;
                        }
                        s
                    }
                };
                if self.nothing_to_do(s) {
                    continue;
                }
                if s == ids::APPEND && batch_append {
                    if let Some(cmd) = self.append_cmd(s) {
                        batch.push((s, cmd));
                    }
                    continue;
                }
                if commands::is_terminal(s) {
                    // the last command of the batch: what follows waits for its reply
                    if s == ids::SELECT {
                        self.view.reset();
                        selecting = true;
                        batch.push((s, self.select_cmd().into_bytes()));
                    } else if s == ids::LOGOUT
                        && self.leaves_known()
                        && (self.uid_fill().is_some() || batch.iter().any(|b| b.0 == ids::APPEND))
                    {
                        // the UIDs it lacks (or will, after an APPEND) are fetched first
                        // (qresync): LOGOUT goes alone
                        if batch.is_empty() {
                            barrier = Some(s);
                        } else {
                            deferred = Some(s);
                        }
                    } else if s == ids::LOGOUT {
                        self.logging_out = true;
                        batch.push((s, b"LOGOUT".to_vec()));
                    } else if let Some(cmd) = self.command(s) {
                        batch.push((s, cmd.into_bytes()));
                    }
                    break;
                }
                if commands::is_barrier(s) || s == ids::APPEND {
                    if !batch.is_empty() {
                        deferred = Some(s);
                        break;
                    }
                    barrier = Some(s);
                    break;
                }
                let again = self.p(s).1;
                while let Some(cmd) = self.command(s) {
                    batch.push((s, cmd.into_bytes()));
                    if batch.len() >= max || !self.roll(again) {
                        break;
                    }
                }
            }
            let mut issued = !batch.is_empty();
            if !batch.is_empty() {
                self.send_batch(batch).await?;
                let r = self.drain().await;
                if self.logging_out {
                    return match r {
                        // a server may close right after its tagged OK to LOGOUT
                        Err(e) if e.iter().any(|m| m.starts_with("server closed")) => {
                            Ok(End::Again)
                        }
                        Err(e) => Err(e),
                        Ok(()) => Ok(End::Again),
                    };
                }
                r?;
                if selecting {
                    self.selected();
                }
            }
            if let Some(s) = barrier {
                let sent = self.tag;
                if let Some(end) = self.barrier(s).await? {
                    return Ok(end);
                }
                issued |= self.tag != sent || s == ids::DELAY;
            }
            if !issued {
                // nothing to do this round (e.g. a full mailbox with only APPEND on): wait a
                // little, look for news, and let secs= and Ctrl-C be noticed
                tokio::time::sleep(Duration::from_millis(100)).await;
                if self.selected {
                    self.simple(None, "NOOP").await?;
                }
            }
        }
    }

    /// `SELECT mailbox`: with QRESYNC when `qresync` is on and a session of the user left the
    /// mailbox before (what it knew, and what the reply must report, noted for the check),
    /// else with CONDSTORE when `qresync` asks for it.
    fn select_cmd(&mut self) -> String {
        let mb = String::from_utf8_lossy(&astring(&self.run.mailbox)).into_owned();
        self.resync = None;
        if self.qresync && !self.run.cfg.no_tracking {
            if let Some((known, expect)) = self
                .run
                .shared
                .resync_base(&self.user.name, &self.run.mailbox)
            {
                // with the known UIDs or without (the server then reports every change):
                // both ways of the server are tried
                let with_uids = self.rng.gen_bool(0.5);
                let cmd = qresync::select_cmd(&mb, Some(&known), with_uids);
                self.resync = Some(Resync {
                    known,
                    with_uids,
                    expect,
                    reply: qresync::Reply::default(),
                });
                return cmd;
            }
        }
        if self.run.cfg.qresync && self.conn.has("CONDSTORE") {
            format!("SELECT {mb} (CONDSTORE)")
        } else {
            format!("SELECT {mb}")
        }
    }

    /// With QRESYNC, before leaving the mailbox: the sequences whose UID the session does not
    /// know (`FETCH a:b (UID)`), so that what it leaves behind names every message and the next
    /// session's resync can be counted exactly; `None` when it knows them all.
    fn uid_fill(&self) -> Option<String> {
        if !self.leaves_known() {
            return None;
        }
        let msgs = &self.view.msgs;
        let first = msgs.iter().position(|m| m.uid == 0)?;
        let last = msgs.iter().rposition(|m| m.uid == 0)?;
        Some(format!("FETCH {}:{} (UID)", first + 1, last + 1))
    }

    /// Sends [`Self::uid_fill`]'s FETCH, if any (uncounted; a NO is fine).
    async fn fill_uids(&mut self) -> Result<(), Errs> {
        if let Some(cmd) = self.uid_fill() {
            self.send(None, cmd.into_bytes(), false).await?;
            self.drain_tolerant().await?;
        }
        Ok(())
    }

    /// Whether leaving the mailbox keeps what the session knows of it (QRESYNC, tracking, and
    /// a SELECT with HIGHESTMODSEQ).
    fn leaves_known(&self) -> bool {
        self.selected
            && self.qresync
            && !self.run.cfg.no_tracking
            && self.select_modseq != 0
            && self.view.uidvalidity != 0
    }

    /// Leaving the mailbox (LOGOUT, DISCONNECT, the end of the run) with every reply read:
    /// with QRESYNC, what the session knows of it is kept for the next session's resync.
    fn leave_mailbox(&mut self) {
        if !self.leaves_known() {
            return;
        }
        let v = &self.view;
        let mut uids: Vec<u32> = v.msgs.iter().map(|m| m.uid).filter(|&u| u != 0).collect();
        uids.sort_unstable();
        let complete = uids.len() == v.msgs.len();
        let known = Known {
            uidvalidity: v.uidvalidity,
            modseq: self.select_modseq,
            uids,
            complete,
        };
        self.run
            .shared
            .left(&self.user.name, &self.run.mailbox, known);
    }

    /// The tagged OK of a QRESYNC SELECT: its reply checked; when it tells every UID, the
    /// view learns them.
    fn resynced(&mut self, r: &Response) -> Result<(), Errs> {
        let Some(rs) = self.resync.take() else {
            return Ok(());
        };
        let uids = qresync::check(&rs.known, rs.with_uids, &rs.expect, &rs.reply)
            .map_err(|e| e.into_iter().map(|e| format!("{e}: {r}")).collect::<Errs>())?;
        let Some(uids) = uids else { return Ok(()) };
        if uids.len() != self.view.msgs.len() {
            return Ok(());
        }
        for (i, (m, &uid)) in self.view.msgs.iter_mut().zip(&uids).enumerate() {
            if m.uid != 0 && m.uid != uid {
                return Err(vec![format!(
                    "QRESYNC: seq {} is UID {}, but the resync puts UID {uid} there: {r}",
                    i + 1,
                    m.uid
                )]);
            }
            m.uid = uid;
        }
        Ok(())
    }

    /// The SELECT's reply is in.
    fn selected(&mut self) {
        self.selected = true;
        self.select_modseq = self.view.highestmodseq;
        if self.view.recent == self.view.exists() && !self.run.cfg.no_tracking {
            // every message is \Recent here: from now on the sessions' RECENT counts must
            // sum to the message count
            self.run
                .shared
                .all_recent(&self.user.name, &self.run.mailbox, true);
        }
    }

    fn command(&mut self, s: StateId) -> Option<String> {
        if s == ids::UIDFETCH {
            if self.uidfetched {
                return None;
            }
            self.uidfetched = true;
        }
        let run = self.run;
        let known = || self.view.msgs.iter().map(|m| m.uid).filter(|&u| u != 0);
        let store_uids = if self.own.msgs_on {
            Some(self.own.owned(known()))
        } else if self.own.flag.is_some() {
            Some(known().collect())
        } else {
            None
        };
        let c = Ctx {
            mailbox: &run.mailbox,
            copybox: run.cfg.copybox.as_deref(),
            exists: self.view.exists(),
            selected: self.selected,
            has_sort: self.caps.sort,
            has_thread: self.caps.thread,
            has_move: self.caps.moves,
            // .SILENT unless the flags must be known: at checkpoints (as the original) and
            // in the own modes, which check every STORE's outcome
            loud_store: !run.cfg.no_tracking && (run.cfg.checkpoint.is_some() || self.own.on()),
            store_uids: store_uids.as_deref(),
            own_flag: self.own.flag.as_deref(),
        };
        commands::command(s, self.rng, &c)
    }

    /// Whether a state sent alone would send nothing now (so it must not end a round).
    fn nothing_to_do(&self, s: StateId) -> bool {
        let limit = (self.run.cfg.msgs as u64 * 8 / 7) as u32;
        match STATES[s].0 {
            "SELECT" => self.selected,
            "APPEND" => self.selected && self.view.exists() >= limit,
            "IDLE" => !self.selected || !self.caps.idle,
            _ => false,
        }
    }

    /// Runs a state that is sent alone; `Some` when the connection is done.
    async fn barrier(&mut self, s: StateId) -> Result<Option<End>, Errs> {
        let name = STATES[s].0;
        match name {
            "LOGOUT" => {
                self.logout(Some(s)).await?;
                Ok(Some(End::Again))
            }
            "DISCONNECT" => {
                self.fill_uids().await?;
                self.run.counters.done(s, 0);
                Ok(Some(End::Again))
            }
            "DELAY" => {
                let ms = self.rng.gen_range(0..1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                self.run.counters.done(s, ms * 1000);
                Ok(None)
            }
            "SELECT" => {
                if self.selected {
                    return Ok(None);
                }
                self.view.reset();
                let cmd = self.select_cmd();
                self.simple(Some(s), &cmd).await?;
                self.selected();
                Ok(None)
            }
            "IDLE" => {
                if !self.selected || !self.conn.has("IDLE") {
                    return Ok(None);
                }
                self.send(Some(s), b"IDLE".to_vec(), true).await?;
                self.drain().await?;
                Ok(None)
            }
            "APPEND" => {
                self.append(s).await?;
                Ok(None)
            }
            _ => {
                if let Some(cmd) = self.command(s) {
                    self.simple(Some(s), &cmd).await?;
                }
                Ok(None)
            }
        }
    }

    async fn append(&mut self, s: StateId) -> Result<(), Errs> {
        if let Some(cmd) = self.append_cmd(s) {
            self.send(Some(s), cmd, false).await?;
            self.drain().await?;
        }
        Ok(())
    }

    /// `APPEND mailbox [date] {N}` CRLF data …, one message or (MULTIAPPEND, "again") more;
    /// `None` when the mailbox is full.
    fn append_cmd(&mut self, s: StateId) -> Option<Vec<u8>> {
        let limit = (self.run.cfg.msgs as u64 * 8 / 7) as u32;
        let mut have = self.view.exists();
        if self.selected && have >= limit {
            return None;
        }
        let multi = self.caps.multiappend;
        let mb = astring(&self.run.mailbox);
        let mut cmd = b"APPEND ".to_vec();
        cmd.extend_from_slice(&mb);
        loop {
            let msg = self.run.next_message();
            if let Some(d) = &msg.internaldate {
                cmd.extend_from_slice(format!(" \"{d}\"").as_bytes());
            }
            cmd.extend_from_slice(format!(" {{{}}}\r\n", msg.data.len()).as_bytes());
            cmd.extend_from_slice(&msg.data);
            have += 1;
            if !multi || (self.selected && have >= limit) || !self.roll(self.p(s).1) {
                break;
            }
        }
        Some(cmd)
    }

    async fn logout(&mut self, s: Option<StateId>) -> Result<(), Errs> {
        self.fill_uids().await?;
        self.logging_out = true;
        let r = self.simple(s.or(Some(ids::LOGOUT)), "LOGOUT").await;
        match r {
            // a server may close right after its tagged OK, or even before we read it
            Err(e) if e.iter().any(|m| m.starts_with("server closed")) => Ok(()),
            other => other,
        }
    }

    async fn simple(&mut self, s: Option<StateId>, cmd: &str) -> Result<(), Errs> {
        self.send(s, cmd.as_bytes().to_vec(), false).await?;
        self.drain().await
    }

    /// Sends pipelined commands (literals non-synchronising: APPEND is only batched with
    /// LITERAL+) in one write; with
    /// rawlog one write each, so every command gets its own `C:` line.
    async fn send_batch(&mut self, batch: Vec<(StateId, Vec<u8>)>) -> Result<(), Errs> {
        if self.run.cfg.rawlog {
            for (s, cmd) in batch {
                self.send(Some(s), cmd, false).await?;
            }
            return Ok(());
        }
        let mut out = Vec::with_capacity(batch.iter().map(|(_, c)| c.len() + 8).sum());
        for (s, cmd) in batch {
            // an APPEND's literal is sent at once: only batched when the server has LITERAL+
            let tag = self.expect(Some(s), &cmd, false);
            crate::client::conn::encode_nonsync(&tag, &cmd, &mut out);
        }
        self.conn.write(&out).await.map_err(lost)
    }

    /// Notes a command about to be sent; returns its tag.
    fn expect(&mut self, state: Option<StateId>, cmd: &[u8], idle: bool) -> String {
        let tag = self.next_tag();
        let text = String::from_utf8_lossy(&cmd[..cmd.len().min(60)])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let store =
            if self.own.on() && matches!(state.map(|s| STATES[s].0), Some("STORE" | "DELETE")) {
                let st = std::str::from_utf8(cmd).ok().and_then(own::parse_store);
                if let Some(st) = &st {
                    self.own.stored(st);
                }
                st
            } else {
                None
            };
        let sent = Instant::now();
        if self.pending.is_empty() {
            self.slot.wait_on(sent, &tag, &text);
        }
        self.pending.push_back(Pending {
            tag: tag.clone(),
            state,
            sent,
            expunges: self.expunges,
            query: (state == Some(ids::SEARCH)).then(|| {
                String::from_utf8_lossy(cmd)
                    .trim_start_matches("SEARCH ")
                    .to_string()
            }),
            silent: (state.is_some() && cmd.starts_with(b"STORE "))
                .then(|| commands::silent_store_range(cmd))
                .flatten(),
            text,
            idle,
            store,
        });
        tag
    }

    async fn send(&mut self, state: Option<StateId>, cmd: Vec<u8>, idle: bool) -> Result<(), Errs> {
        let tag = self.expect(state, &cmd, idle);
        let early = self.conn.send_command(&tag, &cmd).await.map_err(lost)?;
        for r in early {
            self.handle(r).await?;
        }
        Ok(())
    }

    /// Like [`Self::drain`], but a NO or BAD to the (uncounted) commands is fine.
    async fn drain_tolerant(&mut self) -> Result<(), Errs> {
        while !self.pending.is_empty() {
            let r = self.conn.read().await.map_err(lost)?;
            match &r {
                Response::Tagged { tag, .. } if self.pending.iter().any(|p| p.tag == *tag) => {
                    self.pending.retain(|p| p.tag != *tag);
                }
                _ => self.handle(r).await?,
            }
        }
        self.slot.wait(None);
        Ok(())
    }

    /// Reads until every pending command has its tagged reply.
    async fn drain(&mut self) -> Result<(), Errs> {
        while !self.pending.is_empty() {
            let r = self.conn.read().await.map_err(lost)?;
            self.handle(r).await?;
        }
        self.slot.wait(None);
        Ok(())
    }

    async fn handle(&mut self, r: Response) -> Result<(), Errs> {
        match &r {
            Response::Continuation(_) => {
                if self.pending.front().is_some_and(|p| p.idle) {
                    self.conn.write(b"DONE\r\n").await.map_err(lost)?;
                    if let Some(p) = self.pending.front_mut() {
                        p.idle = false;
                    }
                    Ok(())
                } else {
                    Err(vec![format!("unexpected continuation: {r}")])
                }
            }
            Response::Untagged(v) => {
                if v.first().is_some_and(|w| w.is_atom("BYE")) {
                    return if self.logging_out {
                        Ok(())
                    } else {
                        Err(vec![format!("server disconnected: {r}")])
                    };
                }
                if v.first().is_some_and(|w| w.is_atom("THREAD")) {
                    self.thread_reply = Some(r.to_string());
                    return Ok(());
                }
                if v.first().is_some_and(|w| w.is_atom("SEARCH")) {
                    self.search_reply = Some(
                        v[1..]
                            .iter()
                            .filter_map(|n| n.number())
                            .map(|n| n as u32)
                            .collect(),
                    );
                    return Ok(());
                }
                if v.get(1).is_some_and(|w| w.is_atom("EXPUNGE"))
                    || v.first().is_some_and(|w| w.is_atom("VANISHED"))
                {
                    self.expunges += 1;
                }
                let mut errs = Vec::new();
                if let Some(rs) = self.resync.as_mut() {
                    if let Err(e) = rs.reply.note(&r) {
                        errs.push(e);
                    }
                }
                let seen = self.view.apply(&r, &mut errs);
                if self.run.cfg.no_tracking {
                    return Ok(());
                }
                if self.qresync {
                    self.run.shared.observed(
                        &self.user.name,
                        &self.run.mailbox,
                        self.view.uidvalidity,
                        &seen,
                    );
                }
                if self.own.on() {
                    self.own_check(v, &mut errs);
                }
                // a message's fixed items are judged once the command's tagged reply shows
                // it was not expunged under us (servers answer those with dummy data)
                self.unconfirmed.extend(seen.fixed);
                let recent = Seen {
                    recent: seen.recent,
                    fixed: Vec::new(),
                    ..Default::default()
                };
                self.run.shared.record(
                    &self.user.name,
                    &self.run.mailbox,
                    self.view.uidvalidity,
                    self.cid,
                    recent,
                    &mut errs,
                );
                if errs.is_empty() {
                    Ok(())
                } else {
                    Err(errs.into_iter().map(|e| format!("{e}: {r}")).collect())
                }
            }
            Response::Tagged { tag, status, .. } => {
                let Some(pos) = self.pending.iter().position(|p| p.tag == *tag) else {
                    return Err(vec![format!("unexpected tagged reply: {r}")]);
                };
                let p = self.pending.remove(pos).unwrap_or_else(|| unreachable!());
                if let Some((a, b)) = p.silent {
                    // no FETCH told us what the flags became
                    for m in self
                        .view
                        .msgs
                        .iter_mut()
                        .take(b as usize)
                        .skip(a as usize - 1)
                    {
                        m.flags = None;
                    }
                }
                if let Some(st) = &p.store {
                    self.own.answered(st, *status == Status::Ok);
                    {
                        let mut errs = Vec::new();
                        for u in &st.uids {
                            if let Some(f) = self
                                .view
                                .msgs
                                .iter()
                                .find(|m| m.uid == *u)
                                .and_then(|m| m.flags.clone())
                            {
                                errs.extend(self.own.check(*u, &f));
                            }
                        }
                        if !errs.is_empty() {
                            return Err(errs.into_iter().map(|e| format!("{e}: {r}")).collect());
                        }
                    }
                }
                if p.state == Some(ids::APPEND) && *status == Status::Ok && self.own.msgs_on {
                    if let Some((_, Some(code))) = r.status_code() {
                        if code.first().is_some_and(|c| c.is_atom("APPENDUID")) {
                            if let Some(set) = code.get(2).and_then(|v| v.text()) {
                                self.own.appended(own::uid_set(&set, 1000));
                            }
                        }
                    }
                }
                if let Some(first) = self.pending.front() {
                    self.slot.wait_on(first.sent, &first.tag, &first.text);
                }
                let micros = p.sent.elapsed().as_micros() as u64;
                // Tags may come out of order, so the fixed items seen are judged once every
                // pending command is answered, and only if none says a message was expunged
                // under it (servers answer those FETCHes with dummy data).
                let expunged = r.status_code().is_some_and(|(_, code)| {
                    code.and_then(|c| c.first())
                        .is_some_and(|c| c.is_atom("EXPUNGEISSUED"))
                });
                self.batch_expunged |= expunged || *status != Status::Ok;
                if self.pending.is_empty() {
                    let fixed = std::mem::take(&mut self.unconfirmed);
                    let spoiled = std::mem::replace(&mut self.batch_expunged, false);
                    if !spoiled && !self.run.cfg.no_tracking {
                        let mut errs = Vec::new();
                        let seen = Seen {
                            recent: Vec::new(),
                            fixed,
                            ..Default::default()
                        };
                        self.run.shared.record(
                            &self.user.name,
                            &self.run.mailbox,
                            self.view.uidvalidity,
                            self.cid,
                            seen,
                            &mut errs,
                        );
                        if !errs.is_empty() {
                            return Err(errs.into_iter().map(|e| format!("{e}: {r}")).collect());
                        }
                    }
                }
                if p.state == Some(ids::SELECT) && self.resync.is_some() {
                    if *status == Status::Ok {
                        self.resynced(&r)?;
                    }
                    self.resync = None;
                }
                match status {
                    Status::Ok => {
                        // Dovecot may answer pipelined commands' tags after a later one's
                        // untagged replies: the SEARCH reply waits for the SEARCH's own tag
                        if let (Some(q), false) = (&p.query, self.run.cfg.no_tracking) {
                            let got = self.search_reply.take();
                            if let Some(want) = super::search::expected(q, &self.view.facts()) {
                                let mut got = got.unwrap_or_default();
                                got.sort_unstable();
                                if got != want {
                                    return Err(vec![format!(
                                        "SEARCH {q} returned {got:?}, expected {want:?}: {r}"
                                    )]);
                                }
                            }
                        }
                        if let Some(s) = p.state {
                            self.run.counters.done(s, micros);
                        }
                        Ok(())
                    }
                    _ if self.tolerated(&p, *status) => Ok(()),
                    _ => Err(vec![format!("{} {} failed: {r}", p.tag, p.text)]),
                }
            }
        }
    }

    /// `own_msgs`/`own_flags`: the flags of an untagged FETCH against what this client owns.
    fn own_check(&mut self, v: &[imapwire::Value], errs: &mut Vec<String>) {
        let (Some(n), Some(items)) = (
            v.first().and_then(|x| x.number()),
            v.get(2).and_then(|x| x.items()),
        ) else {
            return;
        };
        if !items.iter().step_by(2).any(|i| i.is_atom("FLAGS")) {
            return;
        }
        if let Some(m) = self
            .view
            .msgs
            .get((n as usize).wrapping_sub(1))
            .filter(|m| m.uid != 0)
        {
            if let Some(f) = &m.flags {
                let (uid, f) = (m.uid, f.clone());
                errs.extend(self.own.check(uid, &f));
            }
        }
    }

    /// A NO that a busy mailbox explains (an expunged message, a mailbox another client just
    /// created or deleted), or a BAD over sequences made stale by expunges while pipelining.
    fn tolerated(&self, p: &Pending, status: Status) -> bool {
        let Some(s) = p.state else { return false };
        let name = STATES[s].0;
        let seq_state = matches!(
            name,
            "FETCH" | "FETCH2" | "STORE" | "DELETE" | "COPY" | "MOVE" | "SEARCH" | "UIDFETCH"
        );
        match status {
            Status::No => {
                seq_state || matches!(name, "MCREATE" | "MDELETE" | "MRENAME" | "MSUBS" | "STATUS")
            }
            Status::Bad => seq_state && p.expunges != self.expunges,
            _ => false,
        }
    }
}
