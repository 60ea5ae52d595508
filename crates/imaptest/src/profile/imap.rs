//! An IMAP session of profile mode, the doing part: log in (Logi), `LIST "" *` (List), create
//! Drafts, Sent and Spam when missing, STATUS them (Stat), SELECT INBOX (Sele) and fetch what
//! is there with `imap_fetch_immediate` (Fetc); then wait for new mail (IDLE when the profile
//! and the server have it, else NOOP every few seconds), fetch each new mail's metadata (Fetc),
//! move some to Spam at once (`mail_inbox_move_filter_percentage`), and act on the others after
//! `mail_action_delay`, one action every `mail_action_repeat_delay` ([`super::plan::actions`]):
//! read (`imap_fetch_manual`, Fet2), reply (APPEND to Drafts, later to Sent, the draft
//! deleted, `\Answered` stored), delete (`\Deleted` and UID EXPUNGE) or move to Spam.
//! Every `mail_send_interval` a new mail goes the Drafts → Sent way. The session ends after
//! `mail_session_length` or when the run finishes (LOGOUT, Logo). Unless `no_tracking`, every
//! untagged reply goes through stress mode's checks ([`crate::stress::mailbox::View`], and
//! [`crate::stress::shared::Shared`] across the sessions of a user). With `qresync` (and a
//! server that has it) QRESYNC is enabled after login, expunges come as VANISHED, and INBOX is
//! selected with what the user's sessions last knew of it, the reply checked by
//! [`crate::qresync::resync`].
use super::plan::{self, Action};
use super::{Env, UserState};
use crate::client::login::{astring, login};
use crate::client::sasl::Creds;
use crate::client::Conn;
use crate::qresync::{self, Known};
use crate::stress::console;
use crate::stress::mailbox::{Seen, View};
use crate::stress::session::Slot;
use crate::stress::states::id;
use imapwire::{Response, Status, Value};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::time::Instant;

/// How often a client without IDLE looks for new mail.
const POLL: Duration = Duration::from_secs(5);
/// The longest IDLE before DONE (below the reply timeout).
const MAX_IDLE: Duration = Duration::from_secs(20);

const MAILBOXES: [&str; 3] = ["Drafts", "Sent", "Spam"];

/// A draft waiting to be sent.
struct Draft {
    due: Instant,
    uid: Option<u32>,
    /// The INBOX mail it answers.
    answers: Option<u32>,
    data: Vec<u8>,
}

struct Sess<'a> {
    env: &'a Env,
    user: &'a UserState,
    slot: &'a Slot,
    conn: Conn,
    rng: &'a mut ChaCha8Rng,
    tag: u32,
    exists: u32,
    max_uid: u32,
    /// New mail to look at.
    news: bool,
    /// (due, uid, actions left) per mail, in due order.
    queue: VecDeque<(Instant, u32, Vec<Action>)>,
    drafts: VecDeque<Draft>,
    next_send: Option<Instant>,
    logging_out: bool,
    n_msg: u64,
    /// Stress mode's view of the selected mailbox: every untagged reply is checked by it.
    view: View,
    mailbox: String,
    cid: u32,
    /// Fixed items (size, headers…) seen in the current command, judged at its tagged OK.
    unconfirmed: Vec<crate::stress::mailbox::Fixed>,
    /// QRESYNC is enabled.
    qresync: bool,
    /// The reply of a QRESYNC SELECT while it comes in.
    resync: Option<qresync::Reply>,
    /// The HIGHESTMODSEQ of the last SELECT (0: none).
    select_modseq: u64,
}

/// The `(UID, FLAGS)` of a `* n FETCH (…)` reply.
fn fetch_uid_flags(v: &[Value]) -> Option<(u32, Option<Vec<String>>)> {
    if !v.get(1).is_some_and(|w| w.is_atom("FETCH")) {
        return None;
    }
    let items = v.get(2)?.items()?;
    let mut uid = None;
    let mut flags = None;
    for w in items.windows(2) {
        if w[0].is_atom("UID") {
            uid = w[1].number().map(|n| n as u32);
        } else if w[0].is_atom("FLAGS") {
            flags = w[1]
                .items()
                .map(|f| f.iter().filter_map(|x| x.text()).collect());
        }
    }
    Some((uid?, flags))
}

/// FETCH items with UID and FLAGS in them.
fn with_uid_flags(items: &str) -> String {
    let upper = items.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    let mut out = String::new();
    if !words.contains(&"UID") {
        out.push_str("UID ");
    }
    if !words.contains(&"FLAGS") {
        out.push_str("FLAGS ");
    }
    out.push_str(items.trim());
    out.trim().to_string()
}

impl Sess<'_> {
    fn next_tag(&mut self) -> String {
        self.tag += 1;
        self.tag.to_string()
    }

    /// Notes what QRESYNC needs from an untagged reply: HIGHESTMODSEQ, VANISHED (which stands
    /// for EXPUNGEs) and, during a QRESYNC SELECT, what it reports.
    fn note_qresync(&mut self, v: &[Value], r: &Response) -> Result<(), String> {
        if let Some(rep) = self.resync.as_mut() {
            rep.note(r)?;
        }
        if let Some((_, Some(code))) = r.status_code() {
            if code.first().is_some_and(|c| c.is_atom("HIGHESTMODSEQ")) {
                self.select_modseq = code.get(1).and_then(Value::number).unwrap_or(0);
            }
            return Ok(());
        }
        if v.first().is_some_and(|w| w.is_atom("VANISHED")) {
            let earlier = v.get(1).and_then(Value::items).is_some();
            let set = v.get(if earlier { 2 } else { 1 }).and_then(Value::text);
            let Some(set) = set.as_deref().and_then(qresync::uid_set) else {
                return Err(format!("VANISHED without a valid UID set: {r}"));
            };
            if !earlier {
                let n = qresync::count(&set).min(u32::MAX as u64) as u32;
                self.exists = self.exists.saturating_sub(n);
            }
        }
        Ok(())
    }

    /// Notes what an untagged reply says about the selected mailbox.
    fn note(&mut self, r: &Response) -> Result<(), String> {
        if let Response::Untagged(v) = r {
            if self.qresync {
                self.note_qresync(v, r)?;
            }
            if v.first().is_some_and(|w| w.is_atom("BYE")) && !self.logging_out {
                return Err(format!("server disconnected: {r}"));
            }
            if let (Some(n), Some(w)) = (v.first().and_then(|x| x.number()), v.get(1)) {
                if w.is_atom("EXISTS") {
                    if n as u32 > self.exists {
                        self.news = true;
                    }
                    self.exists = n as u32;
                } else if w.is_atom("EXPUNGE") {
                    self.exists = self.exists.saturating_sub(1);
                }
            }
            if !self.env.cfg.no_tracking {
                let mut errs = Vec::new();
                let seen = self.view.apply(r, &mut errs);
                self.unconfirmed.extend(seen.fixed);
                let recent = Seen {
                    recent: seen.recent,
                    fixed: Vec::new(),
                    ..Default::default()
                };
                self.record(recent, &mut errs);
                if !errs.is_empty() {
                    return Err(errs
                        .into_iter()
                        .map(|e| format!("{e}: {r}"))
                        .collect::<Vec<_>>()
                        .join("; "));
                }
            }
        }
        Ok(())
    }

    /// What every session of the user must agree on (one `\Recent`, fixed items).
    fn record(&self, seen: Seen, errs: &mut Vec<String>) {
        self.env.shared.record(
            &self.user.planned.login.name,
            &self.mailbox,
            self.view.uidvalidity,
            self.cid,
            seen,
            errs,
        );
    }

    /// At a tagged reply: the fixed items seen count unless a message was expunged under it.
    fn confirm(&mut self, tagged: &Response, ok: bool) -> Result<(), String> {
        let fixed = std::mem::take(&mut self.unconfirmed);
        let expunged = tagged.status_code().is_some_and(|(_, code)| {
            code.and_then(|c| c.first())
                .is_some_and(|c| c.is_atom("EXPUNGEISSUED"))
        });
        if !ok || expunged || fixed.is_empty() || self.env.cfg.no_tracking {
            return Ok(());
        }
        let mut errs = Vec::new();
        self.record(
            Seen {
                recent: Vec::new(),
                fixed,
                ..Default::default()
            },
            &mut errs,
        );
        if errs.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {tagged}", errs.join("; ")))
        }
    }

    /// Sends a command and reads up to its tagged reply; counts an OK in `state`. A NO is
    /// returned when `tolerate_no` (a race with another session explains it), else an error.
    async fn cmd(
        &mut self,
        state: Option<&str>,
        cmd: &[u8],
        tolerate_no: bool,
    ) -> Result<(Status, Vec<Response>, Response), String> {
        let tag = self.next_tag();
        let shown = String::from_utf8_lossy(&cmd[..cmd.len().min(60)])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let t = std::time::Instant::now();
        console::waiting(self.slot, Some((t, format!("{tag} {shown}"))));
        let mut untagged = Vec::new();
        let early = self
            .conn
            .send_command(&tag, cmd)
            .await
            .map_err(|e| e.to_string())?;
        let mut pending = early.into_iter();
        let tagged = loop {
            let r = match pending.next() {
                Some(r) => r,
                None => match self.conn.read().await {
                    Ok(r) => r,
                    Err(e) if self.logging_out && e.is_lost() => {
                        console::waiting(self.slot, None);
                        return Ok((Status::Ok, untagged, Response::Continuation(Vec::new())));
                    }
                    Err(e) => return Err(e.to_string()),
                },
            };
            match &r {
                Response::Tagged { tag: t, .. } if *t == tag => break r,
                Response::Tagged { .. } => return Err(format!("unexpected tagged reply: {r}")),
                Response::Continuation(_) => {
                    return Err(format!("unexpected continuation: {r}"));
                }
                Response::Untagged(_) => {
                    self.note(&r)?;
                    untagged.push(r);
                }
            }
        };
        console::waiting(self.slot, None);
        let Response::Tagged { status, .. } = &tagged else {
            unreachable!("the loop breaks on a tagged reply")
        };
        let status = *status;
        self.confirm(&tagged, status == Status::Ok)?;
        match status {
            Status::Ok => {
                if let Some(s) = state {
                    self.env
                        .counters
                        .done(id(s), t.elapsed().as_micros() as u64);
                }
            }
            Status::No if tolerate_no => {}
            _ => return Err(format!("{tag} {shown} failed: {tagged}")),
        }
        Ok((status, untagged, tagged))
    }

    async fn select(&mut self, mailbox: &str) -> Result<(), String> {
        self.save_inbox();
        self.exists = 0;
        self.news = false;
        self.view.reset();
        self.unconfirmed.clear();
        self.mailbox = mailbox.to_string();
        self.select_modseq = 0;
        let known = self.known(mailbox);
        self.resync = known.as_ref().map(|_| qresync::Reply::default());
        let name = String::from_utf8_lossy(&astring(mailbox)).into_owned();
        let cmd = qresync::select_cmd(&name, known.as_ref(), false);
        let r = self.cmd(Some("SELECT"), cmd.as_bytes(), false).await;
        let reply = self.resync.take();
        r?;
        if let (Some(k), Some(reply)) = (known, reply) {
            if let Some(uids) = qresync::resync(&k, &reply)? {
                self.adopt(&uids)?;
                self.max_uid = self.max_uid.max(k.uids.last().copied().unwrap_or(0));
            }
        }
        Ok(())
    }

    /// What the user's sessions last knew of `mailbox`, when this SELECT is to use QRESYNC
    /// (INBOX, with the replies tracked).
    fn known(&self, mailbox: &str) -> Option<Known> {
        if !self.qresync || mailbox != "INBOX" || self.env.cfg.no_tracking {
            return None;
        }
        self.user
            .inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The UIDs a QRESYNC SELECT adds up to go into the view; one the server already put at
    /// another place is an error.
    fn adopt(&mut self, uids: &[u32]) -> Result<(), String> {
        if uids.len() != self.view.msgs.len() {
            return Err(format!(
                "QRESYNC: the resync makes {} messages, EXISTS said {}",
                uids.len(),
                self.view.msgs.len()
            ));
        }
        for (i, (m, &uid)) in self.view.msgs.iter_mut().zip(uids).enumerate() {
            if m.uid != 0 && m.uid != uid {
                return Err(format!(
                    "QRESYNC: seq {} is UID {}, but the resync puts UID {uid} there",
                    i + 1,
                    m.uid
                ));
            }
            m.uid = uid;
        }
        Ok(())
    }

    /// Leaving INBOX: what this session knows of it is kept for the next QRESYNC SELECT (only
    /// when it knows every message's UID; otherwise what was kept before stays).
    fn save_inbox(&self) {
        let v = &self.view;
        if !self.qresync
            || self.env.cfg.no_tracking
            || self.mailbox != "INBOX"
            || self.select_modseq == 0
            || v.uidvalidity == 0
            || v.msgs.iter().any(|m| m.uid == 0)
        {
            return;
        }
        let mut uids: Vec<u32> = v.msgs.iter().map(|m| m.uid).collect();
        uids.sort_unstable();
        *self.user.inbox.lock().unwrap_or_else(|p| p.into_inner()) = Some(Known {
            uidvalidity: v.uidvalidity,
            modseq: self.select_modseq,
            uids,
            complete: true,
        });
    }

    /// Fetches the metadata of mail above the UIDs known; queues what nobody acted on yet.
    async fn fetch_new(&mut self) -> Result<(), String> {
        self.news = false;
        if self.exists == 0 {
            return Ok(());
        }
        let cp = self.user.client_profile(self.env);
        let items = with_uid_flags(cp.imap_fetch_immediate.as_deref().unwrap_or("RFC822.SIZE"));
        let cmd = format!("UID FETCH {}:* ({items})", self.max_uid + 1);
        let (_, untagged, _) = self.cmd(Some("FETCH"), cmd.as_bytes(), true).await?;
        let up = self.user.user_profile(self.env);
        let now = Instant::now();
        let mut fresh = Vec::new();
        for r in &untagged {
            let Response::Untagged(v) = r else { continue };
            let Some((uid, flags)) = fetch_uid_flags(v) else {
                continue;
            };
            if uid <= self.max_uid {
                continue;
            }
            self.max_uid = self.max_uid.max(uid);
            let seen = flags.is_some_and(|f| f.iter().any(|x| x.eq_ignore_ascii_case("\\Seen")));
            let mine = !seen
                && self
                    .user
                    .handled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(uid);
            if mine {
                fresh.push(uid);
            }
        }
        for uid in fresh {
            if plan::filtered(up, self.rng) {
                self.move_to_spam(uid).await?;
            } else {
                let a = plan::actions(up, self.rng);
                self.queue.push_back((now + up.action_delay, uid, a));
            }
        }
        Ok(())
    }

    async fn move_to_spam(&mut self, uid: u32) -> Result<(), String> {
        if self.conn.has("MOVE") {
            self.cmd(
                Some("MOVE"),
                format!("UID MOVE {uid} Spam").as_bytes(),
                true,
            )
            .await?;
        } else {
            self.cmd(
                Some("COPY"),
                format!("UID COPY {uid} Spam").as_bytes(),
                true,
            )
            .await?;
            self.delete(uid).await?;
        }
        Ok(())
    }

    async fn delete(&mut self, uid: u32) -> Result<(), String> {
        let cmd = format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)");
        self.cmd(Some("DELETE"), cmd.as_bytes(), true).await?;
        let cmd = if self.conn.has("UIDPLUS") {
            format!("UID EXPUNGE {uid}")
        } else {
            "EXPUNGE".to_string()
        };
        self.cmd(Some("EXPUNGE"), cmd.as_bytes(), true).await?;
        Ok(())
    }

    /// A new mail from this user (a reply when `answers` is set).
    fn compose(&mut self, answers: Option<u32>) -> Vec<u8> {
        self.n_msg += 1;
        let me = &self.user.planned.login.name;
        let subject = match answers {
            Some(uid) => format!("Re: mail {uid}"),
            None => format!("note {}", self.n_msg),
        };
        let id: u64 = self.rng.gen();
        let mut m = format!(
            "From: {me}\r\nTo: someone@example.com\r\nSubject: {subject}\r\nMessage-ID: <{id:016x}.{}@imaptest>\r\n\r\n",
            self.n_msg
        );
        for i in 0..self.rng.gen_range(1..20) {
            m.push_str(&format!("line {i} of a mail written by {me}\r\n"));
        }
        m.into_bytes()
    }

    /// APPENDs to `mailbox`; returns the new UID when the server says it (UIDPLUS).
    async fn append(
        &mut self,
        mailbox: &str,
        data: &[u8],
        flags: &str,
    ) -> Result<Option<u32>, String> {
        let mut cmd = format!("APPEND {mailbox} ({flags}) {{{}}}\r\n", data.len()).into_bytes();
        cmd.extend_from_slice(data);
        let (_, _, tagged) = self.cmd(Some("APPEND"), &cmd, false).await?;
        let uid = tagged.status_code().and_then(|(_, code)| {
            let c = code?;
            (c.first()?.is_atom("APPENDUID")).then(|| c.get(2)?.number())?
        });
        Ok(uid.map(|u| u as u32))
    }

    async fn write_draft(&mut self, answers: Option<u32>) -> Result<(), String> {
        let data = self.compose(answers);
        let uid = self.append("Drafts", &data, "\\Draft").await?;
        let up = self.user.user_profile(self.env);
        self.drafts.push_back(Draft {
            due: Instant::now() + up.write_duration,
            uid,
            answers,
            data,
        });
        Ok(())
    }

    /// Sends a draft: to Sent, out of Drafts, `\Answered` on what it answers.
    async fn send_draft(&mut self, d: Draft) -> Result<(), String> {
        self.append("Sent", &d.data, "\\Seen").await?;
        if let Some(uid) = d.uid {
            let before = self.exists;
            self.select("Drafts").await?;
            self.delete(uid).await?;
            self.select("INBOX").await?;
            self.news = self.exists != before;
        }
        if let Some(uid) = d.answers {
            let cmd = format!("UID STORE {uid} +FLAGS.SILENT (\\Answered)");
            self.cmd(Some("STORE"), cmd.as_bytes(), true).await?;
        }
        Ok(())
    }

    async fn act(&mut self, uid: u32, a: Action) -> Result<(), String> {
        match a {
            Action::Read => {
                let cp = self.user.client_profile(self.env);
                let items = cp
                    .imap_fetch_manual
                    .clone()
                    .unwrap_or_else(|| "BODY.PEEK[]".into());
                let cmd = format!("UID FETCH {uid} ({items})");
                self.cmd(Some("FETCH2"), cmd.as_bytes(), true).await?;
            }
            Action::Reply => self.write_draft(Some(uid)).await?,
            Action::Delete => self.delete(uid).await?,
            Action::Move => self.move_to_spam(uid).await?,
        }
        Ok(())
    }

    /// Does everything that is due; returns when the next thing is.
    async fn due_work(&mut self) -> Result<Option<Instant>, String> {
        loop {
            let now = Instant::now();
            if self.news {
                self.fetch_new().await?;
                continue;
            }
            if self.queue.front().is_some_and(|q| q.0 <= now) {
                let Some((_, uid, mut actions)) = self.queue.pop_front() else {
                    continue;
                };
                if actions.is_empty() {
                    continue;
                }
                let a = actions.remove(0);
                self.act(uid, a).await?;
                if !actions.is_empty() {
                    let up = self.user.user_profile(self.env);
                    let due = Instant::now() + up.action_repeat_delay;
                    let at = self
                        .queue
                        .iter()
                        .position(|q| q.0 > due)
                        .unwrap_or(self.queue.len());
                    self.queue.insert(at, (due, uid, actions));
                }
                continue;
            }
            if self.drafts.front().is_some_and(|d| d.due <= now) {
                if let Some(d) = self.drafts.pop_front() {
                    self.send_draft(d).await?;
                }
                continue;
            }
            if self.next_send.is_some_and(|t| t <= now) {
                let up = self.user.user_profile(self.env);
                if let Some(i) = up.send_interval {
                    self.next_send = Some(now + plan::next_of(i, self.rng));
                }
                self.write_draft(None).await?;
                continue;
            }
            let next = [
                self.queue.front().map(|q| q.0),
                self.drafts.front().map(|d| d.due),
                self.next_send,
            ];
            return Ok(next.into_iter().flatten().min());
        }
    }

    /// Waits for new mail until `until`: IDLE, or a NOOP after a pause.
    async fn wait(
        &mut self,
        until: Instant,
        finish: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), String> {
        let idle = self.user.client_profile(self.env).imap_idle && self.conn.has("IDLE");
        if !idle {
            tokio::select! {
                _ = tokio::time::sleep_until(until.min(Instant::now() + POLL)) => {}
                _ = finish.changed() => return Ok(()),
            }
            if !self.env.ctl.finishing() {
                self.cmd(Some("NOOP"), b"NOOP", false).await?;
            }
            return Ok(());
        }
        let tag = self.next_tag();
        let t = std::time::Instant::now();
        self.conn
            .write(format!("{tag} IDLE\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let r = self.conn.read().await.map_err(|e| e.to_string())?;
            match &r {
                Response::Continuation(_) => break,
                Response::Untagged(_) => self.note(&r)?,
                Response::Tagged { tag: t, status, .. } if *t == tag => {
                    return Err(format!("{tag} IDLE failed ({status:?}): {r}"))
                }
                _ => return Err(format!("unexpected reply during IDLE: {r}")),
            }
        }
        let until = until.min(Instant::now() + MAX_IDLE);
        while !self.news {
            tokio::select! {
                r = self.conn.read() => {
                    let r = r.map_err(|e| e.to_string())?;
                    match &r {
                        Response::Untagged(_) => self.note(&r)?,
                        _ => return Err(format!("unexpected reply during IDLE: {r}")),
                    }
                }
                _ = tokio::time::sleep_until(until) => break,
                _ = finish.changed() => break,
            }
        }
        console::waiting(self.slot, Some((t, format!("{tag} IDLE"))));
        self.conn
            .write(b"DONE\r\n")
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let r = self.conn.read().await.map_err(|e| e.to_string())?;
            match &r {
                Response::Untagged(_) => self.note(&r)?,
                Response::Tagged {
                    tag: tg, status, ..
                } if *tg == tag => {
                    if *status != Status::Ok {
                        return Err(format!("{tag} IDLE failed: {r}"));
                    }
                    self.env
                        .counters
                        .done(id("IDLE"), t.elapsed().as_micros() as u64);
                    break;
                }
                _ => return Err(format!("unexpected reply to DONE: {r}")),
            }
        }
        console::waiting(self.slot, None);
        Ok(())
    }

    async fn setup(&mut self) -> Result<(), String> {
        let (_, untagged, _) = self.cmd(Some("LIST"), b"LIST \"\" *", false).await?;
        let names: Vec<String> = untagged
            .iter()
            .filter_map(|r| match r {
                Response::Untagged(v) if v.first().is_some_and(|w| w.is_atom("LIST")) => {
                    v.get(3).and_then(|n| n.text())
                }
                _ => None,
            })
            .collect();
        for mb in MAILBOXES {
            if !names.iter().any(|n| n == mb) {
                // another session of the user may create it first: a NO is fine
                self.cmd(None, format!("CREATE {mb}").as_bytes(), true)
                    .await?;
            }
            let cmd = format!("STATUS {mb} (MESSAGES UNSEEN RECENT)");
            self.cmd(Some("STATUS"), cmd.as_bytes(), false).await?;
        }
        self.select("INBOX").await?;
        self.news = self.exists > 0;
        Ok(())
    }
}

/// One IMAP session of a user; `cid` names it in errors.
pub async fn session(
    env: &Env,
    user: &UserState,
    slot: &Slot,
    cid: u32,
    rng: &mut ChaCha8Rng,
) -> Result<(), String> {
    let up = user.user_profile(env);
    let connect_start = std::time::Instant::now();
    let gate = env.connecting.acquire().await.map_err(|e| e.to_string())?;
    let n = env.sessions.fetch_add(1, Relaxed) + 1;
    let conn = Conn::connect(&env.imap, &format!("{}.{n}", user.index + 1))
        .await
        .map_err(|e| e.to_string())?;
    slot.banner.store(true, Relaxed);
    let login_user = &user.planned.login;
    let creds = Creds {
        user: login_user.name.clone(),
        authc: env.cfg.master.clone(),
        pass: login_user.pass.clone(),
    };
    let mut s = Sess {
        env,
        user,
        slot,
        conn,
        rng,
        tag: 0,
        exists: 0,
        max_uid: 0,
        news: false,
        queue: VecDeque::new(),
        drafts: VecDeque::new(),
        next_send: None,
        logging_out: false,
        n_msg: 0,
        view: View::default(),
        mailbox: String::new(),
        cid,
        unconfirmed: Vec::new(),
        qresync: false,
        resync: None,
        select_modseq: 0,
    };
    let t = std::time::Instant::now();
    let nonce = format!("{:016x}{:016x}", s.rng.gen::<u64>(), s.rng.gen::<u64>());
    console::waiting(slot, Some((t, "1 LOGIN".into())));
    s.tag = 1;
    login(&mut s.conn, "1", &env.cfg.mech, &creds, &nonce)
        .await
        .map_err(|e| format!("{e:#}"))?;
    console::waiting(slot, None);
    let from = if env.cfg.connect_ms { connect_start } else { t };
    env.counters
        .done(id("LOGIN"), from.elapsed().as_micros() as u64);
    drop(gate);
    if env.cfg.qresync && s.conn.has("QRESYNC") {
        s.cmd(None, b"ENABLE QRESYNC", false).await?;
        s.qresync = true;
    }
    s.setup().await?;
    s.next_send = up
        .send_interval
        .map(|i| Instant::now() + plan::first_of(i, s.rng));
    let end = up.session_length.map(|l| Instant::now() + l);
    let mut finish = env.ctl.subscribe();
    let far = Instant::now() + Duration::from_secs(100 * 365 * 86400);
    loop {
        if env.ctl.finishing() || end.is_some_and(|e| e <= Instant::now()) {
            break;
        }
        let next = s.due_work().await?;
        let until = [next, end].into_iter().flatten().min().unwrap_or(far);
        if env.ctl.finishing() {
            break;
        }
        if until > Instant::now() {
            s.wait(until, &mut finish).await?;
        }
    }
    s.save_inbox();
    s.logging_out = true;
    s.cmd(Some("LOGOUT"), b"LOGOUT", false).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_replies_and_items() {
        let r =
            imapwire::parse_response(b"* 3 FETCH (UID 17 RFC822.SIZE 100 FLAGS (\\Seen $x))\r\n")
                .unwrap();
        let Response::Untagged(v) = r else { panic!() };
        assert_eq!(
            fetch_uid_flags(&v),
            Some((17, Some(vec!["\\Seen".to_string(), "$x".to_string()])))
        );
        let r = imapwire::parse_response(b"* 3 EXISTS\r\n").unwrap();
        let Response::Untagged(v) = r else { panic!() };
        assert_eq!(fetch_uid_flags(&v), None);
        assert_eq!(
            with_uid_flags("RFC822.SIZE BODY[]"),
            "UID FLAGS RFC822.SIZE BODY[]"
        );
        assert_eq!(
            with_uid_flags("UID RFC822.SIZE FLAGS BODY.PEEK[HEADER]"),
            "UID RFC822.SIZE FLAGS BODY.PEEK[HEADER]"
        );
    }
}
