//! One IMAP connection: the state machine (not authenticated, authenticated, selected,
//! logout) over the core's [`Handler`] contract. It frames commands with their literals
//! (answering `+` to synchronising ones, refusing announced sizes over the limit before
//! reading a byte), runs each command against the daemon, and keeps this session's view of
//! the selected mailbox (sequence → UID map, MODSEQs announced, its `\Recent` messages) so
//! that EXISTS, EXPUNGE and FETCH FLAGS reach it at the moments RFC 9051 allows.
//!
//! Personality (`[imap]` of a personality file): `greeting` (`{host}`, `{caps}`, `{peer}`),
//! `capabilities` (replaces the advertised list; STARTTLS, AUTH= and LOGINDISABLED are
//! added by state), `auth_mechanisms`, `auth_requires_tls` (LOGINDISABLED and no plaintext
//! AUTHENTICATE before TLS); quirks: `command_to_fail = "COPY"` (that command answers NO),
//! `rfc822_size_round`, `envelope_omit`, `starttls_broken` ("bad" / "close"),
//! `quota_storage_kb`, `quota_messages`, `hide_compress` (no COMPRESS=DEFLATE, and COMPRESS
//! is an unknown command, as in a personality whose `capabilities` lack it; see IMAP.md).
//! Extensions with rules of their own live in sibling modules: `notify`, `urlauth`, `list`
//! (LIST-EXTENDED), `gmail` (X-GM-EXT-1).

use super::daemon::{self, Account, ImapDaemon, Mailbox, Message, DELIM};
use super::fetch::{self, flag_list};
use super::notify::{self, Snap};
use super::now;
use super::parse::{self, astring, Att, Request, SeqSet};
use super::search::{self, Cand};
use super::urlauth;
use crate::auth::{Mechanism, Sasl, Step, Users};
use crate::handler::{ConnInfo, Handler, Input, Output, ReadMode};
use crate::personality::Section;
use imapwire::{mutf7, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

/// Largest literal accepted (APPEND data included); larger announcements are refused.
pub const MAX_LITERAL: u64 = 64 << 20;
/// Largest whole command (literals included).
pub const MAX_COMMAND: usize = 80 << 20;

/// What every connection of a service shares.
#[derive(Debug)]
pub struct ImapSetup {
    pub daemon: Arc<ImapDaemon>,
    pub users: Arc<Users>,
    pub section: Section,
}

impl ImapSetup {
    fn hostname(&self) -> &str {
        self.section.host("imap.fakeserver.test")
    }
    fn mechanisms(&self) -> Vec<Mechanism> {
        match &self.section.auth_mechanisms {
            Some(list) => list.iter().filter_map(|m| Mechanism::parse(m)).collect(),
            None => Mechanism::ALL.to_vec(),
        }
    }
}

/// Capabilities fakeserver implements, in the order advertised.
const CAPS: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UIDPLUS",
    "MOVE",
    "UNSELECT",
    "CHILDREN",
    "MULTIAPPEND",
    "ESEARCH",
    "SEARCHRES",
    "CONDSTORE",
    "QRESYNC",
    "NOTIFY",
    "URLAUTH",
    "URLAUTH=BINARY",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "QUOTASET",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "UTF8=ACCEPT",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=ORDEREDSUBJECT",
    "BINARY",
    "ESORT",
    "THREAD=REFERENCES",
    "CATENATE",
    "CONTEXT=SEARCH",
    "CONTEXT=SORT",
    "COMPRESS=DEFLATE",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotAuth,
    Auth,
    Selected,
    Logout,
}

/// What the next input line is.
enum Pending {
    Command,
    Idle(String),
    Sasl(String, Sasl),
}

/// This session's view of its selected mailbox.
struct Selected {
    name: String,
    readonly: bool,
    uidvalidity: u32,
    /// (UID, MODSEQ announced), by sequence number - 1.
    view: Vec<(u32, u64)>,
    recent: HashSet<u32>,
    keywords: usize,
}

pub struct ImapHandler {
    setup: Arc<ImapSetup>,
    state: State,
    user: Option<String>,
    sel: Option<Selected>,
    pending: Pending,
    buf: Vec<u8>,
    condstore: bool,
    /// ENABLE QRESYNC was given: VANISHED replaces EXPUNGE, FETCH always carries UID.
    qresync: bool,
    /// ENABLE UTF8=ACCEPT was given (RFC 6855): APPEND … UTF8 (~{n}) is allowed.
    utf8: bool,
    saved: Vec<u32>,
    tls: bool,
    /// The tag of the command being run (ESEARCH replies name it).
    tag: String,
    /// SEARCH RETURN (UPDATE) contexts (RFC 5267).
    contexts: Vec<Context>,
    /// NOTIFY SET in force (RFC 5465), what it last announced per mailbox, and the mailbox
    /// names (→ subscribed) it last knew.
    notify: Option<notify::Spec>,
    notify_snaps: BTreeMap<String, Snap>,
    notify_names: BTreeMap<String, bool>,
}

/// A search whose result changes are announced (ADDTO/REMOVEFROM).
struct Context {
    tag: String,
    uid: bool,
    key: parse::Key,
    /// UIDs in the result as last announced.
    result: Vec<u32>,
}

type Lines = Vec<Vec<u8>>;

fn line(s: impl AsRef<[u8]>) -> Vec<u8> {
    let mut v = s.as_ref().to_vec();
    v.extend_from_slice(b"\r\n");
    v
}

fn quote(s: &str) -> String {
    let mut o = Vec::new();
    super::mime::string(&mut o, s.as_bytes());
    String::from_utf8_lossy(&o).into_owned()
}

/// A mailbox name from the client in its stored form (Unicode, INBOX in capitals): modified
/// UTF-7 unless the session enabled UTF8=ACCEPT (RFC 3501 section 5.1.3, RFC 6855 section 3).
/// Anything else (8-bit bytes, a non-canonical spelling) is refused, as Dovecot refuses it.
pub(super) fn mailbox_in(utf8: bool, raw: &str) -> Result<String, String> {
    if utf8 {
        return Ok(Account::canonical(raw));
    }
    mutf7::decode(raw.as_bytes())
        .map(|n| Account::canonical(&n))
        .map_err(|_| "Mailbox name is not valid mUTF-7".to_string())
}

/// A stored mailbox name as the session's client reads it (see [`mailbox_in`]), quoted: with
/// UTF8=ACCEPT a quoted string may hold UTF-8 (RFC 6855 section 3).
pub(super) fn mailbox_out(utf8: bool, name: &str) -> String {
    if !utf8 {
        return quote(&mutf7::encode(name));
    }
    if name.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0) {
        return quote(name);
    }
    let mut o = Vec::new();
    imapwire::write_quoted(name.as_bytes(), &mut o);
    String::from_utf8_lossy(&o).into_owned()
}

/// A LIST pattern in the stored form of names: decoded as a name is where it is valid modified
/// UTF-7 (its wildcards are plain ASCII), else taken as it is (then it matches ASCII names only).
fn pattern_in(utf8: bool, raw: &str) -> String {
    if utf8 {
        return raw.to_string();
    }
    mutf7::decode(raw.as_bytes()).unwrap_or_else(|_| raw.to_string())
}

/// The stored form of a mailbox name argument, or the command's NO when it is not valid.
macro_rules! mailbox {
    ($self:expr, $raw:expr) => {
        match mailbox_in($self.utf8, &$raw) {
            Ok(n) => n,
            Err(no) => return Ok(Done::No(no)),
        }
    };
}

/// The output for reply lines (each ending in CRLF). Lines without literals go as plain
/// lines (the server adds CRLF, transcripts stay readable, fault replacements work); a
/// batch holding literal data goes byte for byte.
fn out(lines: Lines) -> Output {
    let plain = lines.iter().all(|l| {
        l.strip_suffix(b"\r\n")
            .is_some_and(|body| !body.iter().any(|&c| c == b'\r' || c == b'\n'))
    });
    if plain {
        let lines = lines.into_iter().map(|mut l| {
            l.truncate(l.len() - 2);
            l
        });
        return Output {
            lines: lines.collect(),
            ..Output::default()
        };
    }
    Output {
        lines,
        raw: true,
        ..Output::default()
    }
}

impl ImapHandler {
    pub fn new(setup: Arc<ImapSetup>, conn: &ConnInfo) -> Self {
        ImapHandler {
            setup,
            state: State::NotAuth,
            user: None,
            sel: None,
            pending: Pending::Command,
            buf: Vec::new(),
            condstore: false,
            qresync: false,
            utf8: false,
            saved: Vec::new(),
            tls: conn.tls,
            tag: String::new(),
            contexts: Vec::new(),
            notify: None,
            notify_snaps: BTreeMap::new(),
            notify_names: BTreeMap::new(),
        }
    }

    fn capabilities(&self, conn: &ConnInfo) -> String {
        let mut caps: Vec<String> = match &self.setup.section.capabilities {
            Some(c) => c.clone(),
            None => CAPS.iter().map(|s| s.to_string()).collect(),
        };
        if self.setup.section.quirk_bool("hide_compress") {
            caps.retain(|c| !c.eq_ignore_ascii_case("COMPRESS=DEFLATE"));
        }
        if self.state == State::NotAuth {
            if (conn.tls_available || self.broken_starttls().is_some()) && !conn.tls && !self.tls {
                caps.push("STARTTLS".into());
            }
            if self.login_disabled(conn) {
                caps.push("LOGINDISABLED".into());
            } else {
                caps.extend(
                    self.setup
                        .mechanisms()
                        .iter()
                        .map(|m| format!("AUTH={}", m.name())),
                );
            }
        }
        caps.join(" ")
    }

    /// Whether COMPRESS=DEFLATE (RFC 4978) is offered: advertised by the personality (or the
    /// default list) and not hidden by the `hide_compress` quirk.
    fn compress_offered(&self) -> bool {
        let listed = match &self.setup.section.capabilities {
            Some(c) => c.iter().any(|c| c.eq_ignore_ascii_case("COMPRESS=DEFLATE")),
            None => true,
        };
        listed && !self.setup.section.quirk_bool("hide_compress")
    }

    /// The `starttls_broken` quirk ("bad" or "close"), if set.
    fn broken_starttls(&self) -> Option<&str> {
        self.setup.section.quirk_str("starttls_broken")
    }

    fn login_disabled(&self, conn: &ConnInfo) -> bool {
        self.setup.section.auth_requires_tls && !(conn.tls || self.tls)
    }

    fn user(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    /// Announce what changed: the selected mailbox, then what NOTIFY asks for elsewhere.
    fn sync(&mut self, daemon: &ImapDaemon, expunges: bool, lines: &mut Lines) {
        self.sync_selected(daemon, expunges, lines);
        self.notify_sync(daemon, false, lines);
    }

    /// NOTIFY's part: STATUS for changed mailboxes other than the selected one, LIST for
    /// created, deleted or (un)subscribed ones. `initial`: take the snapshots and, with the
    /// STATUS indicator, send every covered mailbox's STATUS.
    fn notify_sync(&mut self, daemon: &ImapDaemon, initial: bool, lines: &mut Lines) {
        let Some(spec) = &self.notify else { return };
        let user = self.user();
        let selected = self.sel.as_ref().map(|s| s.name.clone());
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let mut snaps = BTreeMap::new();
        for (name, mb) in &acct.mailboxes {
            if Some(name) == selected.as_ref() {
                continue;
            }
            let ev = spec.events_for(name, acct);
            if !(ev.messages() || ev.flags) {
                continue;
            }
            let snap = Snap::of(mb);
            let text = match self.notify_snaps.get(name) {
                _ if initial => spec.status.then(|| snap.items(&ev, true)),
                Some(old) => notify::status_change(old, &snap, &ev),
                None => None,
            };
            if let Some(items) = text {
                lines.push(line(format!(
                    "* STATUS {} ({items})",
                    mailbox_out(self.utf8, name)
                )));
            }
            snaps.insert(name.clone(), snap);
        }
        self.notify_snaps = snaps;
        if spec.wants_names() {
            let names: BTreeMap<String, bool> = acct
                .mailboxes
                .keys()
                .map(|n| (n.clone(), acct.subscribed.contains(n)))
                .collect();
            if !initial {
                let ev = |n: &str| spec.events_for(n, acct);
                for t in notify::name_changes(&self.notify_names, &names, &ev, self.utf8) {
                    lines.push(line(t));
                }
            }
            self.notify_names = names;
        }
    }

    /// Compare the session's view with the mailbox and announce the differences.
    fn sync_selected(&mut self, daemon: &ImapDaemon, expunges: bool, lines: &mut Lines) {
        let user = self.user();
        // NOTIFY … (SELECTED (MessageNew (atts) …)): a FETCH for each new message.
        let new_fetch = self
            .notify
            .as_ref()
            .and_then(|s| s.selected_events())
            .and_then(|e| e.new_fetch.clone());
        let Some(sel) = self.sel.as_mut() else { return };
        let initial = sel.keywords == usize::MAX;
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let mut gone = Mailbox::default_for_sync();
        let mb: &mut Mailbox = match acct.mailboxes.get_mut(&sel.name) {
            Some(m) if m.uidvalidity == sel.uidvalidity => m,
            _ => &mut gone,
        };
        if expunges {
            for c in &mut self.contexts {
                let gone: Vec<u32> = c
                    .result
                    .iter()
                    .copied()
                    .filter(|u| mb.index_of(*u).is_none())
                    .collect();
                if gone.is_empty() {
                    continue;
                }
                let ids: Vec<u32> = if c.uid {
                    gone.clone()
                } else {
                    gone.iter()
                        .filter_map(|u| {
                            sel.view
                                .iter()
                                .position(|v| v.0 == *u)
                                .map(|p| p as u32 + 1)
                        })
                        .collect()
                };
                c.result.retain(|u| !gone.contains(u));
                lines.push(line(format!(
                    "* ESEARCH (TAG {}){} REMOVEFROM (0 {})",
                    quote(&c.tag),
                    if c.uid { " UID" } else { "" },
                    uid_set(&ids)
                )));
            }
            let mut vanished = Vec::new();
            for i in (0..sel.view.len()).rev() {
                if mb.index_of(sel.view[i].0).is_none() {
                    if self.qresync {
                        vanished.push(sel.view[i].0);
                    } else {
                        lines.push(line(format!("* {} EXPUNGE", i + 1)));
                    }
                    sel.recent.remove(&sel.view[i].0);
                    sel.view.remove(i);
                }
            }
            if !vanished.is_empty() {
                vanished.reverse();
                lines.push(line(format!("* VANISHED {}", uid_set(&vanished))));
            }
        }
        if mb.keywords.len() != sel.keywords {
            sel.keywords = mb.keywords.len();
            let kw = mb.keywords.join(" ");
            let sp = if kw.is_empty() { "" } else { " " };
            lines.push(line(format!(
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{sp}{kw})"
            )));
            let perm = if sel.readonly {
                String::new()
            } else {
                format!("\\Answered \\Flagged \\Deleted \\Seen \\Draft{sp}{kw} \\*")
            };
            lines.push(line(format!(
                "* OK [PERMANENTFLAGS ({perm})] Flags permitted."
            )));
        }
        for (i, (uid, known)) in sel.view.iter_mut().enumerate() {
            if let Some(j) = mb.index_of(*uid) {
                let m = &mb.messages[j];
                if m.modseq > *known {
                    *known = m.modseq;
                    let mut o = format!("* {} FETCH (", i + 1).into_bytes();
                    if expunges || self.qresync {
                        // UID is allowed (and helps clients) in unsolicited FETCH; QRESYNC
                        // requires it.
                        o.extend_from_slice(format!("UID {} ", m.uid).as_bytes());
                    }
                    o.extend_from_slice(b"FLAGS ");
                    flag_list(&mut o, m, sel.recent.contains(uid));
                    if self.condstore {
                        o.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
                    }
                    o.push(b')');
                    lines.push(line(o));
                }
            }
        }
        let last = sel.view.last().map(|v| v.0).unwrap_or(0);
        let before = sel.view.len();
        let mut claimed = 0;
        for m in mb.messages.iter().filter(|m| m.uid > last) {
            sel.view.push((m.uid, m.modseq));
            if m.uid > mb.recent_claimed {
                // EXAMINE sees \Recent without taking it from the next read-write session.
                sel.recent.insert(m.uid);
                if !sel.readonly {
                    claimed = claimed.max(m.uid);
                }
            }
        }
        if claimed > 0 {
            mb.recent_claimed = claimed;
        }
        if sel.view.len() != before {
            lines.push(line(format!("* {} EXISTS", sel.view.len())));
            lines.push(line(format!("* {} RECENT", sel.recent.len())));
            if let (Some(atts), false) = (&new_fetch, initial) {
                for (i, (u, _)) in sel.view.iter().enumerate().skip(before) {
                    let Some(j) = mb.index_of(*u) else { continue };
                    let ctx = fetch::Ctx {
                        seq: i + 1,
                        recent: sel.recent.contains(u),
                        uid: true,
                        modseq: self.condstore,
                        atts,
                        size_round: 0,
                        envelope_omit: &[],
                    };
                    if let Ok(l) = fetch::render(&mb.messages[j], &ctx) {
                        lines.push(l);
                    }
                }
            }
        }
        // Search contexts: what now matches, against what was announced.
        let max_uid = sel.view.last().map(|v| v.0).unwrap_or(0);
        for c in &mut self.contexts {
            let mut now = Vec::new();
            for (i, (u, _)) in sel.view.iter().enumerate() {
                let Some(j) = mb.index_of(*u) else { continue };
                let cand = Cand {
                    msg: &mb.messages[j],
                    seq: i as u32 + 1,
                    max_seq: sel.view.len() as u32,
                    max_uid,
                    recent: sel.recent.contains(u),
                    saved: &self.saved,
                };
                if search::matches(&c.key, &cand) {
                    now.push(*u);
                }
            }
            let id = |u: &u32| {
                if c.uid {
                    Some(*u)
                } else {
                    sel.view
                        .iter()
                        .position(|v| v.0 == *u)
                        .map(|p| p as u32 + 1)
                }
            };
            let removed: Vec<u32> = c
                .result
                .iter()
                .filter(|u| !now.contains(u))
                .filter_map(id)
                .collect();
            let added: Vec<u32> = now
                .iter()
                .filter(|u| !c.result.contains(u))
                .filter_map(id)
                .collect();
            let uid = if c.uid { " UID" } else { "" };
            if !removed.is_empty() {
                lines.push(line(format!(
                    "* ESEARCH (TAG {}){uid} REMOVEFROM (0 {})",
                    quote(&c.tag),
                    uid_set(&removed)
                )));
            }
            if !added.is_empty() {
                lines.push(line(format!(
                    "* ESEARCH (TAG {}){uid} ADDTO (0 {})",
                    quote(&c.tag),
                    uid_set(&added)
                )));
            }
            c.result = now;
        }
    }

    fn ok(&self, tag: &str, text: &str) -> Vec<u8> {
        line(format!("{tag} OK {text}"))
    }

    /// Run one complete command.
    fn command(&mut self, bytes: &[u8], conn: &ConnInfo) -> Output {
        let req = match parse::request(bytes) {
            Ok(r) => r,
            Err(e) => {
                let tag = e.tag.unwrap_or_else(|| "*".into());
                return out(vec![line(format!(
                    "{tag} BAD Error in IMAP command: {}",
                    e.reason
                ))]);
            }
        };
        let tag = req.tag.clone();
        self.tag = tag.clone();
        let daemon = self.setup.daemon.clone();
        let mut lines = Lines::new();
        let fetchlike = matches!(req.name.as_str(), "FETCH" | "STORE" | "SEARCH");
        let res = self.dispatch(&req, conn, &daemon, &mut lines);
        match res {
            Ok(Done::Ok(text)) => {
                self.sync(&daemon, !fetchlike, &mut lines);
                lines.push(self.ok(&tag, &text));
            }
            Ok(Done::No(text)) => {
                self.sync(&daemon, !fetchlike, &mut lines);
                lines.push(line(format!("{tag} NO {text}")));
            }
            Ok(Done::Output(mut o)) => {
                for l in std::mem::take(&mut o.lines) {
                    lines.push(if o.raw || l.ends_with(b"\r\n") {
                        l
                    } else {
                        line(l)
                    });
                }
                let f = out(lines);
                o.lines = f.lines;
                o.raw = f.raw;
                return o;
            }
            Ok(Done::Bad(text)) | Err(text) => lines.push(line(format!("{tag} BAD {text}"))),
        }
        out(lines)
    }

    fn dispatch(
        &mut self,
        req: &Request,
        conn: &ConnInfo,
        daemon: &Arc<ImapDaemon>,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let name = req.name.as_str();
        let a = &req.args;
        let need = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("Command {name} not valid in this state"))
            }
        };
        let authed = matches!(self.state, State::Auth | State::Selected);
        let selected = self.state == State::Selected;
        if let Some(cmd) = self.setup.section.quirk_str("command_to_fail") {
            if cmd.eq_ignore_ascii_case(name) {
                return Ok(Done::No(format!("{name} failed (personality)")));
            }
        }
        match name {
            "CAPABILITY" => {
                lines.push(line(format!("* CAPABILITY {}", self.capabilities(conn))));
                Ok(Done::Ok("Capability completed.".into()))
            }
            "NOOP" | "CHECK" => {
                if name == "CHECK" {
                    need(selected)?;
                }
                Ok(Done::Ok(format!("{} completed.", cap(name))))
            }
            "LOGOUT" => {
                self.state = State::Logout;
                let o = Output {
                    lines: vec![
                        line("* BYE Logging out"),
                        self.ok(&req.tag, "Logout completed."),
                    ],
                    ..Output::default()
                }
                .then_close();
                Ok(Done::Output(o))
            }
            "ID" => {
                lines.push(line(
                    "* ID (\"name\" \"fakeserver\" \"vendor\" \"mailrig\")",
                ));
                Ok(Done::Ok("ID completed.".into()))
            }
            "STARTTLS" => {
                need(self.state == State::NotAuth)?;
                // Quirk starttls_broken: "bad" answers BAD (as Mozilla's fake does), "close"
                // says OK and hangs up before any handshake.
                match self.broken_starttls() {
                    Some("bad") => return Err("STARTTLS failed (personality)".into()),
                    Some(_) => {
                        let o = Output {
                            lines: vec![self.ok(&req.tag, "Begin TLS negotiation now.")],
                            ..Output::default()
                        };
                        return Ok(Done::Output(o.then_close()));
                    }
                    None => {}
                }
                if !conn.tls_available || conn.tls || self.tls {
                    return Err("STARTTLS not available".into());
                }
                self.tls = true;
                let o = Output {
                    lines: vec![self.ok(&req.tag, "Begin TLS negotiation now.")],
                    ..Output::default()
                }
                .then_start_tls();
                Ok(Done::Output(o))
            }
            "COMPRESS" if self.compress_offered() => {
                // RFC 4978: after authentication; the tagged OK is the last uncompressed
                // line, then both directions are raw DEFLATE (over TLS when it is up).
                need(authed)?;
                let mech = match a.as_slice() {
                    [m] => astring(m).unwrap_or_default(),
                    _ => return Err("COMPRESS needs one mechanism".into()),
                };
                if !mech.eq_ignore_ascii_case("DEFLATE") {
                    return Err(format!("Unknown compression mechanism {mech}"));
                }
                if conn.compressed {
                    return Ok(Done::No(
                        "[COMPRESSIONACTIVE] DEFLATE active via COMPRESS".into(),
                    ));
                }
                let o = Output {
                    lines: vec![self.ok(&req.tag, "DEFLATE active")],
                    ..Output::default()
                }
                .then_start_compress();
                Ok(Done::Output(o))
            }
            "LOGIN" => {
                need(self.state == State::NotAuth)?;
                if self.login_disabled(conn) {
                    return Ok(Done::No("[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections.".into()));
                }
                let (Some(u), Some(p)) = (a.first().and_then(astring), a.get(1).and_then(astring))
                else {
                    return Err("LOGIN needs user and password".into());
                };
                if self.setup.users.check(&u, &p) {
                    Ok(Done::Ok(self.logged_in(u, conn)))
                } else {
                    Ok(Done::No(
                        "[AUTHENTICATIONFAILED] Authentication failed.".into(),
                    ))
                }
            }
            "AUTHENTICATE" => {
                need(self.state == State::NotAuth)?;
                let mech = a.first().and_then(astring).unwrap_or_default();
                let Some(m) =
                    Mechanism::parse(&mech).filter(|m| self.setup.mechanisms().contains(m))
                else {
                    return Ok(Done::No(format!(
                        "Unsupported authentication mechanism {mech}"
                    )));
                };
                if self.login_disabled(conn) && m != Mechanism::XOAuth2 {
                    return Ok(Done::No(
                        "[PRIVACYREQUIRED] Plaintext authentication disallowed.".into(),
                    ));
                }
                let initial = a.get(1).and_then(astring);
                let challenge = format!(
                    "<{}.{}@{}>",
                    std::process::id(),
                    rand::random::<u32>(),
                    self.setup.hostname()
                );
                let (sasl, step) = Sasl::start(m, initial.as_deref(), &challenge);
                Ok(self.sasl_step(req.tag.clone(), sasl, step, conn))
            }
            "ENABLE" => {
                need(authed)?;
                // RFC 5161: what the server does not offer is ignored
                let offered = self.capabilities(conn).to_ascii_uppercase();
                let offered: Vec<&str> = offered.split(' ').collect();
                let mut on = Vec::new();
                for v in a {
                    let w = astring(v).unwrap_or_default().to_ascii_uppercase();
                    if !offered.contains(&w.as_str()) {
                        continue;
                    }
                    if w == "CONDSTORE" && !self.condstore {
                        self.condstore = true;
                        on.push(w);
                    } else if w == "UTF8=ACCEPT" && !self.utf8 {
                        self.utf8 = true;
                        on.push(w);
                    } else if w == "QRESYNC" && !self.qresync {
                        // QRESYNC implies CONDSTORE (RFC 7162 section 3.2.3).
                        self.qresync = true;
                        self.condstore = true;
                        on.push(w);
                    }
                }
                lines.push(line(format!(
                    "* ENABLED{}{}",
                    if on.is_empty() { "" } else { " " },
                    on.join(" ")
                )));
                Ok(Done::Ok("Enabled.".into()))
            }
            "NAMESPACE" => {
                need(authed)?;
                lines.push(line(format!("* NAMESPACE ((\"\" \"{DELIM}\")) NIL NIL")));
                Ok(Done::Ok("Namespace completed.".into()))
            }
            "SELECT" | "EXAMINE" => {
                need(authed)?;
                self.select(a, name == "EXAMINE", daemon, lines)
            }
            "CREATE" | "DELETE" | "RENAME" | "SUBSCRIBE" | "UNSUBSCRIBE" => {
                need(authed)?;
                self.manage(name, a, daemon)
            }
            "LIST" if super::list::is_extended(a) => {
                need(authed)?;
                self.list_extended(a, daemon, lines)
            }
            "XLIST" => {
                // Gmail's pre-SPECIAL-USE LIST: the same answer as `* XLIST`, INBOX as \Inbox.
                need(authed)?;
                let start = lines.len();
                let done = self.list(false, a, daemon, lines)?;
                for l in &mut lines[start..] {
                    if let Some(rest) = l.strip_prefix(b"* LIST (".as_slice()) {
                        let inbox = rest.ends_with(b" \"INBOX\"\r\n");
                        let mut n = b"* XLIST (".to_vec();
                        if inbox {
                            n.extend_from_slice(b"\\Inbox ");
                        }
                        n.extend_from_slice(rest);
                        *l = n;
                    }
                }
                Ok(done)
            }
            "LIST" | "LSUB" => {
                need(authed)?;
                self.list(name == "LSUB", a, daemon, lines)
            }
            "STATUS" => {
                need(authed)?;
                self.status(a, daemon, lines)
            }
            "APPEND" => {
                need(authed)?;
                self.append(a, daemon)
            }
            "CLOSE" | "UNSELECT" => {
                need(selected)?;
                if name == "CLOSE" && !self.sel.as_ref().is_some_and(|s| s.readonly) {
                    self.expunge(None, daemon, &mut Lines::new())?;
                }
                self.sel = None;
                self.contexts.clear();
                self.state = State::Auth;
                Ok(Done::Ok(format!("{} completed.", cap(name))))
            }
            "EXPUNGE" => {
                need(selected)?;
                self.expunge(None, daemon, lines)
            }
            "UID EXPUNGE" => {
                need(selected)?;
                let set = a
                    .first()
                    .and_then(astring)
                    .and_then(|s| SeqSet::parse(&s))
                    .ok_or("Invalid UID set")?;
                self.expunge(Some(set), daemon, lines)
            }
            "FETCH" | "UID FETCH" => {
                need(selected)?;
                self.fetch(name == "UID FETCH", a, daemon, lines)
            }
            "STORE" | "UID STORE" => {
                need(selected)?;
                self.store(name == "UID STORE", a, daemon, lines)
            }
            "COPY" | "UID COPY" | "MOVE" | "UID MOVE" => {
                need(selected)?;
                self.copy(
                    name.starts_with("UID"),
                    name.ends_with("MOVE"),
                    a,
                    daemon,
                    lines,
                )
            }
            "SEARCH" | "UID SEARCH" => {
                need(selected)?;
                self.search(&req.tag, name == "UID SEARCH", a, daemon, lines)
            }
            "CANCELUPDATE" => {
                need(selected)?;
                let tags: Vec<String> = a.iter().filter_map(astring).collect();
                if tags.is_empty() {
                    return Err("CANCELUPDATE needs tags".into());
                }
                self.contexts.retain(|c| !tags.contains(&c.tag));
                Ok(Done::Ok("Cancelupdate completed.".into()))
            }
            "SORT" | "UID SORT" | "THREAD" | "UID THREAD" => {
                need(selected)?;
                self.sort(
                    name.ends_with("THREAD"),
                    name.starts_with("UID"),
                    a,
                    daemon,
                    lines,
                )
            }
            "GETQUOTA" | "GETQUOTAROOT" | "SETQUOTA" => {
                need(authed)?;
                self.quota(name, a, daemon, lines)
            }
            "GENURLAUTH" => {
                need(authed)?;
                self.genurlauth(a, daemon, lines)
            }
            "URLFETCH" => {
                need(authed)?;
                self.urlfetch(a, daemon, lines)
            }
            "RESETKEY" => {
                need(authed)?;
                self.resetkey(a, daemon)
            }
            "NOTIFY" => {
                need(authed)?;
                match notify::parse(a, self.utf8) {
                    Err(notify::Refusal::Bad(t)) => Err(t),
                    Err(notify::Refusal::No(t)) => Ok(Done::No(t)),
                    Ok(spec) => {
                        self.notify = spec;
                        self.notify_snaps.clear();
                        self.notify_names.clear();
                        self.notify_sync(daemon, true, lines);
                        Ok(Done::Ok("NOTIFY completed.".into()))
                    }
                }
            }
            "IDLE" => {
                need(authed)?;
                self.sync(daemon, true, lines);
                self.pending = Pending::Idle(req.tag.clone());
                Ok(Done::Output(out(vec![line("+ idling")])))
            }
            _ => Err(format!("Unknown command {name}")),
        }
    }

    fn logged_in(&mut self, user: String, conn: &ConnInfo) -> String {
        self.user = Some(user.clone());
        {
            // A personality's default quota (quirks quota_storage_kb, quota_messages).
            let q = &self.setup.section;
            let limit = |k: &str| q.quirk_int(k).and_then(|v| u64::try_from(v).ok());
            let mut l = self.setup.daemon.lock();
            let acct = l.account(&user);
            if acct.quota == daemon::Quota::default() {
                acct.quota = daemon::Quota {
                    storage_kb: limit("quota_storage_kb"),
                    messages: limit("quota_messages"),
                };
            }
        }
        self.state = State::Auth;
        format!("[CAPABILITY {}] Logged in", self.capabilities(conn))
    }

    fn sasl_step(&mut self, tag: String, mut sasl: Sasl, step: Step, conn: &ConnInfo) -> Done {
        match step {
            Step::Challenge(c) => {
                self.pending = Pending::Sasl(tag, sasl);
                Done::Output(out(vec![line(format!("+ {c}"))]).masking_next_input())
            }
            Step::Done(creds) => match self.setup.users.verify(&creds) {
                Some(u) => Done::Ok(self.logged_in(u, conn)),
                None if sasl.mechanism() == Mechanism::XOAuth2 => {
                    let c = sasl.xoauth2_error_challenge();
                    self.pending = Pending::Sasl(tag, sasl);
                    Done::Output(out(vec![line(format!("+ {c}"))]).masking_next_input())
                }
                None => Done::No("[AUTHENTICATIONFAILED] Authentication failed.".into()),
            },
            Step::Aborted => Done::Bad("Authentication aborted".into()),
            Step::Malformed(m) => Done::Bad(format!("Invalid authentication response: {m}")),
        }
    }

    fn select(
        &mut self,
        a: &[Value],
        readonly: bool,
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let name = a.first().and_then(astring).ok_or("Missing mailbox name")?;
        let params = a.get(1).and_then(Value::items).unwrap_or_default();
        let mut qresync = None;
        let mut k = 0;
        while k < params.len() {
            if params[k].is_atom("CONDSTORE") {
                self.condstore = true;
            } else if params[k].is_atom("QRESYNC") {
                if !self.qresync {
                    return Err("QRESYNC not enabled".into());
                }
                let q = params.get(k + 1).ok_or("Missing QRESYNC parameters")?;
                qresync = Some(parse::qresync_params(q)?);
                k += 1;
            } else {
                return Err(format!(
                    "Unknown SELECT parameter {}",
                    params[k].text().unwrap_or_default()
                ));
            }
            k += 1;
        }
        let name = mailbox!(self, name);
        if self.sel.is_some() {
            // RFC 7162 section 3.2.11: the implicit close is announced.
            lines.push(line("* OK [CLOSED] Previous mailbox closed."));
        }
        self.sel = None;
        self.contexts.clear();
        self.state = State::Auth;
        let user = self.user();
        let (uidvalidity, uidnext, hms) = {
            let mut l = daemon.lock();
            match l.account(&user).mailboxes.get(&name) {
                Some(mb) => (mb.uidvalidity, mb.uidnext, mb.highest_modseq),
                None => return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into())),
            }
        };
        self.sel = Some(Selected {
            name,
            readonly,
            uidvalidity,
            view: Vec::new(),
            recent: HashSet::new(),
            keywords: usize::MAX,
        });
        self.state = State::Selected;
        let mut tmp = Lines::new();
        self.sync(daemon, true, &mut tmp);
        let sel = self.sel.as_ref().ok_or("no mailbox")?;
        // FLAGS and PERMANENTFLAGS first, then EXISTS/RECENT (always sent on SELECT).
        let flags: Vec<_> = tmp
            .iter()
            .filter(|l| l.starts_with(b"* FLAGS") || l.starts_with(b"* OK [PERMANENTFLAGS"))
            .cloned()
            .collect();
        lines.extend(flags);
        lines.push(line(format!("* {} EXISTS", sel.view.len())));
        lines.push(line(format!("* {} RECENT", sel.recent.len())));
        {
            let mut l = daemon.lock();
            if let Some(mb) = l.account(&user).mailboxes.get(&sel.name) {
                if let Some(i) = sel.view.iter().position(|(uid, _)| {
                    mb.index_of(*uid)
                        .is_some_and(|j| !mb.messages[j].has_flag("\\Seen"))
                }) {
                    lines.push(line(format!("* OK [UNSEEN {}] First unseen.", i + 1)));
                }
            }
        }
        lines.push(line(format!("* OK [UIDVALIDITY {uidvalidity}] UIDs valid")));
        lines.push(line(format!("* OK [UIDNEXT {uidnext}] Predicted next UID")));
        lines.push(line(format!("* OK [HIGHESTMODSEQ {hms}] Highest")));
        if let Some(q) = qresync.filter(|q| q.uidvalidity == uidvalidity) {
            let mut l = daemon.lock();
            if let Some(mb) = l.account(&user).mailboxes.get(&sel.name) {
                lines.extend(qresync_replies(mb, &sel.view, &sel.recent, &q));
            }
        }
        Ok(Done::Ok(format!(
            "[{}] {} completed.",
            if readonly { "READ-ONLY" } else { "READ-WRITE" },
            if readonly { "Examine" } else { "Select" }
        )))
    }

    /// QUOTA (RFC 9208): one root, `""`, holding every mailbox of the user.
    fn quota(
        &mut self,
        cmd: &str,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let arg = a.first().and_then(astring).ok_or("Missing argument")?;
        let user = self.user();
        let mut l = daemon.lock();
        let acct = l.account(&user);
        match cmd {
            "GETQUOTAROOT" => {
                let name = mailbox!(self, arg);
                if !acct.mailboxes.contains_key(&name) {
                    return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into()));
                }
                lines.push(line(format!(
                    "* QUOTAROOT {} \"\"",
                    mailbox_out(self.utf8, &name)
                )));
            }
            _ if !arg.is_empty() => {
                return Ok(Done::No("[NONEXISTENT] No such quota root.".into()))
            }
            "SETQUOTA" => {
                let list = a
                    .get(1)
                    .and_then(Value::items)
                    .ok_or("SETQUOTA needs a resource list")?;
                let mut q = daemon::Quota::default();
                for pair in list.chunks(2) {
                    let res = astring(&pair[0]).unwrap_or_default().to_ascii_uppercase();
                    let limit = pair
                        .get(1)
                        .and_then(Value::number)
                        .ok_or("Invalid quota limit")?;
                    match res.as_str() {
                        "STORAGE" => q.storage_kb = Some(limit),
                        "MESSAGE" => q.messages = Some(limit),
                        _ => return Ok(Done::No(format!("Unsupported quota resource {res}"))),
                    }
                }
                acct.quota = q;
            }
            _ => {}
        }
        lines.push(line(format!(
            "* QUOTA \"\" ({})",
            acct.quota.list(acct.usage())
        )));
        Ok(Done::Ok(format!("{} completed.", cap(cmd))))
    }

    /// GENURLAUTH url mechanism …: `* GENURLAUTH` with each URL signed by its mailbox key.
    fn genurlauth(
        &mut self,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        if a.is_empty() || !a.len().is_multiple_of(2) {
            return Err("GENURLAUTH needs URL and mechanism pairs".into());
        }
        let user = self.user();
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let mut signed = Vec::new();
        for pair in a.chunks(2) {
            let raw = astring(&pair[0]).ok_or("Invalid URL")?;
            let mech = astring(&pair[1]).unwrap_or_default();
            let Some(u) = urlauth::parse(&raw).filter(|u| u.auth.is_none()) else {
                return Err(format!("Invalid URLAUTH URL {raw}"));
            };
            if !mech.eq_ignore_ascii_case("INTERNAL") {
                return Ok(Done::No(format!("Unsupported URLAUTH mechanism {mech}")));
            }
            if u.user != user {
                return Ok(Done::No(format!("[BADURL {raw}] Not your mailbox")));
            }
            if !acct.mailboxes.contains_key(&u.mailbox) {
                return Ok(Done::No(format!("[BADURL {raw}] Mailbox doesn't exist")));
            }
            let key = acct
                .url_keys
                .entry(u.mailbox.clone())
                .or_insert_with(|| format!("{:032x}", rand::random::<u128>()));
            signed.push(format!(
                "{}:INTERNAL:{}",
                u.rump,
                urlauth::token(key, &u.rump)
            ));
        }
        let quoted: Vec<String> = signed.iter().map(|s| quote(s)).collect();
        lines.push(line(format!("* GENURLAUTH {}", quoted.join(" "))));
        Ok(Done::Ok("Genurlauth completed.".into()))
    }

    /// The message an authorized URL names and its parsed path, if it is valid for this
    /// session now.
    fn url_target(
        &self,
        raw: &str,
        daemon: &ImapDaemon,
    ) -> Option<(Arc<Vec<u8>>, urlauth::MessagePath)> {
        let u = urlauth::parse(raw)?;
        let (mech, token) = u.auth.as_ref()?;
        if !mech.eq_ignore_ascii_case("INTERNAL") || u.expire.is_some_and(|e| e <= now().0) {
            return None;
        }
        if !urlauth::allowed(&u.access, self.user.as_deref()) {
            return None;
        }
        let mut l = daemon.lock();
        let acct = l.existing(&u.user)?;
        let key = acct.url_keys.get(&u.mailbox)?;
        if !urlauth::token(key, &u.rump).eq_ignore_ascii_case(token) {
            return None;
        }
        let path = urlauth::MessagePath::parse(&u.path)?;
        Some((url_message(acct, &path)?, path))
    }

    /// URLFETCH url … and RFC 5524's URLFETCH (url [BODY] [BINARY] [BODYPARTSTRUCTURE]) ….
    fn urlfetch(
        &mut self,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        if a.is_empty() {
            return Err("URLFETCH needs URLs".into());
        }
        for arg in a {
            let (raw, opts) = match arg {
                Value::List(items) => {
                    let raw = items.first().and_then(astring).ok_or("Invalid URLFETCH")?;
                    let mut opts = Vec::new();
                    for o in &items[1..] {
                        let w = astring(o).unwrap_or_default().to_ascii_uppercase();
                        if !matches!(w.as_str(), "BODY" | "BINARY" | "BODYPARTSTRUCTURE") {
                            return Err(format!("Invalid URLFETCH parameter {w}"));
                        }
                        opts.push(w);
                    }
                    (raw, Some(opts))
                }
                v => (astring(v).ok_or("Invalid URL")?, None),
            };
            let mut o = format!("* URLFETCH {} ", quote(&raw)).into_bytes();
            let target = self.url_target(&raw, daemon);
            match (target, opts) {
                (None, _) => o.extend_from_slice(b"NIL"),
                (Some((data, path)), None) => {
                    nstring_bin(&mut o, url_bytes(&data, &path).as_deref());
                }
                (Some((data, path)), Some(opts)) => {
                    let section = path.section.clone();
                    let root = super::mime::parse(&data);
                    let part_path = section
                        .as_deref()
                        .and_then(parse::section_spec)
                        .filter(|(_, spec)| *spec == super::mime::Spec::All)
                        .map(|(p, _)| p);
                    let mut items: Vec<Vec<u8>> = Vec::new();
                    let binary = opts.iter().any(|w| w == "BINARY");
                    let bin = match &part_path {
                        Some(p) => super::mime::binary(&data, &root, p).and_then(Result::ok),
                        None if section.is_none() => Some(data.to_vec()),
                        None => None,
                    };
                    if opts.iter().any(|w| w == "BODYPARTSTRUCTURE") {
                        let mut b = b"(BODYPARTSTRUCTURE ".to_vec();
                        let leaf =
                            |p: &&super::mime::Part| p.ctype != "multipart" && p.message.is_none();
                        match part_path
                            .as_ref()
                            .or(section.is_none().then_some(&Vec::new()))
                            .and_then(|p| super::mime::resolve(&root, p))
                        {
                            // With BINARY, the structure describes the decoded content.
                            Some(part) if binary && leaf(&part) && section.is_some() => {
                                match &bin {
                                    Some(d) => {
                                        super::mime::decoded_structure(&mut b, &data, part, d)
                                    }
                                    None => super::mime::body_structure(&mut b, &data, part, true),
                                }
                            }
                            Some(part) => super::mime::body_structure(&mut b, &data, part, true),
                            None => b.extend_from_slice(b"NIL"),
                        }
                        b.push(b')');
                        items.push(b);
                    }
                    if opts.iter().any(|w| w == "BODY") {
                        let mut b = b"(BODY ".to_vec();
                        nstring_bin(&mut b, url_bytes(&data, &path).as_deref());
                        b.push(b')');
                        items.push(b);
                    }
                    if binary {
                        let mut b = b"(BINARY ".to_vec();
                        nstring_bin(&mut b, bin.as_deref());
                        b.push(b')');
                        items.push(b);
                    }
                    o.extend_from_slice(&items.join(&b' '));
                }
            }
            lines.push(line(o));
        }
        Ok(Done::Ok("Urlfetch completed.".into()))
    }

    /// RESETKEY [mailbox [mechanism …]]: new keys, so URLs signed before stop working.
    fn resetkey(&mut self, a: &[Value], daemon: &ImapDaemon) -> Result<Done, String> {
        let user = self.user();
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let Some(first) = a.first() else {
            acct.url_keys.clear();
            return Ok(Done::Ok("All keys removed.".into()));
        };
        let name = mailbox!(self, astring(first).ok_or("Invalid mailbox name")?);
        for m in &a[1..] {
            let m = astring(m).unwrap_or_default();
            if !m.eq_ignore_ascii_case("INTERNAL") {
                return Ok(Done::No(format!("Unsupported URLAUTH mechanism {m}")));
            }
        }
        if !acct.mailboxes.contains_key(&name) {
            return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into()));
        }
        acct.url_keys.remove(&name);
        Ok(Done::Ok("Reset completed.".into()))
    }

    fn manage(&mut self, cmd: &str, a: &[Value], daemon: &ImapDaemon) -> Result<Done, String> {
        let raw = a.first().and_then(astring).ok_or("Missing mailbox name")?;
        let name = mailbox!(self, raw);
        let user = self.user();
        let mut l = daemon.lock();
        let res = match cmd {
            "CREATE" => {
                if name.is_empty() || name.split(DELIM).any(str::is_empty) {
                    return Ok(Done::No("Invalid mailbox name".into()));
                }
                // CREATE name (USE (\Drafts …)) (RFC 6154).
                let mut uses = Vec::new();
                if let Some(p) = a.get(1) {
                    let items = p.items().ok_or("Invalid CREATE parameters")?;
                    for pair in items.chunks(2) {
                        let list = match pair {
                            [k, v] if k.is_atom("USE") => v.items().ok_or("Invalid USE list")?,
                            _ => return Err("Unknown CREATE parameter".into()),
                        };
                        for u in list {
                            let w = u.text().unwrap_or_default();
                            match super::list::special_use(&w) {
                                Some(c) => uses.push(c.to_string()),
                                None => {
                                    return Ok(Done::No(format!(
                                        "[USEATTR] Unsupported special use {w}"
                                    )))
                                }
                            }
                        }
                    }
                }
                if l.account(&user).mailboxes.contains_key(&name) {
                    return Ok(Done::No("[ALREADYEXISTS] Mailbox already exists".into()));
                }
                let mut prefix = String::new();
                for seg in name.split(DELIM) {
                    if !prefix.is_empty() {
                        prefix.push(DELIM);
                    }
                    prefix.push_str(seg);
                    if !l.account(&user).mailboxes.contains_key(&prefix) {
                        let mb = l.new_mailbox();
                        l.account(&user).mailboxes.insert(prefix.clone(), mb);
                    }
                }
                if let Some(mb) = l.account(&user).mailboxes.get_mut(&name) {
                    mb.special_use = (!uses.is_empty()).then(|| uses.join(" "));
                }
                Done::Ok("Create completed.".into())
            }
            "DELETE" => {
                let acct = l.account(&user);
                if name == "INBOX" {
                    return Ok(Done::No("INBOX can't be deleted.".into()));
                }
                if !acct.mailboxes.contains_key(&name) {
                    return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into()));
                }
                let child = format!("{name}{DELIM}");
                if acct.mailboxes.keys().any(|k| k.starts_with(&child)) {
                    return Ok(Done::No(
                        "[INUSE] Mailbox has children, delete them first".into(),
                    ));
                }
                acct.mailboxes.remove(&name);
                Done::Ok("Delete completed.".into())
            }
            "RENAME" => {
                let to = mailbox!(self, a.get(1).and_then(astring).ok_or("Missing new name")?);
                if to.is_empty() || to.split(DELIM).any(str::is_empty) {
                    return Ok(Done::No("Invalid mailbox name".into()));
                }
                let fresh = l.new_mailbox();
                let acct = l.account(&user);
                if !acct.mailboxes.contains_key(&name) {
                    return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into()));
                }
                if acct.mailboxes.contains_key(&to) {
                    return Ok(Done::No(
                        "[ALREADYEXISTS] Target mailbox already exists".into(),
                    ));
                }
                if name == "INBOX" {
                    // RFC 3501: INBOX's messages move; INBOX stays, empty.
                    let inbox = acct
                        .mailboxes
                        .insert("INBOX".into(), fresh)
                        .ok_or("no INBOX")?;
                    acct.mailboxes.insert(to, inbox);
                } else {
                    let child = format!("{name}{DELIM}");
                    let moving: Vec<String> = acct
                        .mailboxes
                        .keys()
                        .filter(|k| **k == name || k.starts_with(&child))
                        .cloned()
                        .collect();
                    for k in moving {
                        if let Some(mb) = acct.mailboxes.remove(&k) {
                            let nk = format!("{to}{}", &k[name.len()..]);
                            acct.mailboxes.insert(nk, mb);
                        }
                    }
                    let mut prefix = String::new();
                    let segs: Vec<&str> = to.split(DELIM).collect();
                    for seg in &segs[..segs.len() - 1] {
                        if !prefix.is_empty() {
                            prefix.push(DELIM);
                        }
                        prefix.push_str(seg);
                        if !acct.mailboxes.contains_key(&prefix) {
                            // Parents of the new name are created on demand (no UIDVALIDITY clash matters).
                            let mut p = Mailbox::default_for_sync();
                            p.uidvalidity = fresh_validity(acct);
                            acct.mailboxes.insert(prefix.clone(), p);
                        }
                    }
                }
                Done::Ok("Rename completed.".into())
            }
            "SUBSCRIBE" => {
                l.account(&user).subscribed.insert(name);
                Done::Ok("Subscribe completed.".into())
            }
            _ => {
                l.account(&user).subscribed.remove(&name);
                Done::Ok("Unsubscribe completed.".into())
            }
        };
        drop(l);
        daemon.changed();
        Ok(res)
    }

    fn list(
        &mut self,
        lsub: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let (Some(reference), Some(pattern)) =
            (a.first().and_then(astring), a.get(1).and_then(astring))
        else {
            return Err("LIST needs a reference and a pattern".into());
        };
        let word = if lsub { "LSUB" } else { "LIST" };
        if pattern.is_empty() && !lsub {
            lines.push(line(format!("* LIST (\\Noselect) \"{DELIM}\" \"\"")));
            return Ok(Done::Ok("List completed.".into()));
        }
        let full = pattern_in(self.utf8, &format!("{reference}{pattern}"));
        let user = self.user();
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let names: Vec<String> = if lsub {
            acct.subscribed.iter().cloned().collect()
        } else {
            acct.mailboxes.keys().cloned().collect()
        };
        let all: BTreeSet<&String> = acct.mailboxes.keys().collect();
        let mut shown = BTreeSet::new();
        for n in &names {
            if wildmatch(&full, n) && shown.insert(n.clone()) {
                let mut attrs = Vec::new();
                if !acct.mailboxes.contains_key(n) {
                    attrs.push(if lsub { "\\Noselect" } else { "\\NonExistent" });
                }
                let child = format!("{n}{DELIM}");
                if !lsub {
                    attrs.push(if all.iter().any(|k| k.starts_with(&child)) {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    });
                    if let Some(u) = acct.mailboxes.get(n).and_then(|m| m.special_use.as_deref()) {
                        attrs.push(u);
                    }
                }
                lines.push(line(format!(
                    "* {word} ({}) \"{DELIM}\" {}",
                    attrs.join(" "),
                    mailbox_out(self.utf8, n)
                )));
            } else if full.ends_with('%') {
                // A parent of a matching name shows when `%` stops at it.
                let mut prefix = String::new();
                for seg in n.split(DELIM) {
                    if !prefix.is_empty() {
                        prefix.push(DELIM);
                    }
                    prefix.push_str(seg);
                    if prefix.len() < n.len()
                        && wildmatch(&full, &prefix)
                        && !names.contains(&prefix)
                        && shown.insert(prefix.clone())
                    {
                        let attr = if lsub {
                            "\\Noselect"
                        } else {
                            "\\Noselect \\HasChildren"
                        };
                        lines.push(line(format!(
                            "* {word} ({attr}) \"{DELIM}\" {}",
                            mailbox_out(self.utf8, &prefix)
                        )));
                    }
                }
            }
        }
        Ok(Done::Ok(format!("{} completed.", cap(word))))
    }

    /// LIST with selection options, several patterns or RETURN options (RFC 5258, 5819, 6154).
    fn list_extended(
        &mut self,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let mut q = super::list::parse(a)?;
        q.reference = pattern_in(self.utf8, &q.reference);
        for p in &mut q.patterns {
            *p = pattern_in(self.utf8, p);
        }
        if q.patterns.iter().all(String::is_empty) {
            lines.push(line(format!("* LIST (\\Noselect) \"{DELIM}\" \"\"")));
            return Ok(Done::Ok("List completed.".into()));
        }
        let user = self.user();
        let mut l = daemon.lock();
        let acct = l.account(&user);
        let boxes: BTreeMap<String, Vec<String>> = acct
            .mailboxes
            .iter()
            .map(|(n, mb)| {
                let uses = mb.special_use.as_deref().unwrap_or_default();
                (
                    n.clone(),
                    uses.split_whitespace().map(String::from).collect(),
                )
            })
            .collect();
        let entries = super::list::select(&boxes, &acct.subscribed, &q, &wildmatch);
        for e in entries {
            let mut o = format!(
                "* LIST ({}) \"{DELIM}\" {}",
                e.attrs.join(" "),
                mailbox_out(self.utf8, &e.name)
            );
            if e.childinfo {
                o.push_str(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            lines.push(line(o));
            if let (Some(items), true) = (&q.status, e.exists) {
                if let Some(mb) = acct.mailboxes.get(&e.name) {
                    lines.push(line(status_line(self.utf8, &e.name, mb, items)?));
                }
            }
        }
        Ok(Done::Ok("List completed.".into()))
    }

    fn status(
        &mut self,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let raw = a.first().and_then(astring).ok_or("Missing mailbox name")?;
        let items = a
            .get(1)
            .and_then(Value::items)
            .ok_or("Missing status items")?;
        let name = mailbox!(self, raw);
        let user = self.user();
        let mut l = daemon.lock();
        let Some(mb) = l.account(&user).mailboxes.get(&name) else {
            return Ok(Done::No("[NONEXISTENT] Mailbox doesn't exist.".into()));
        };
        let items: Vec<String> = items
            .iter()
            .map(|it| astring(it).unwrap_or_default().to_ascii_uppercase())
            .collect();
        lines.push(line(status_line(self.utf8, &name, mb, &items)?));
        Ok(Done::Ok("Status completed.".into()))
    }

    fn append(&mut self, a: &[Value], daemon: &ImapDaemon) -> Result<Done, String> {
        let raw = a.first().and_then(astring).ok_or("Missing mailbox name")?;
        let name = mailbox!(self, raw);
        let mut msgs = Vec::new();
        let mut i = 1;
        while i < a.len() {
            let mut flags = BTreeSet::new();
            let mut date = None;
            if let Value::List(_) = &a[i] {
                for f in parse::flags(&a[i])? {
                    if f != "\\Recent" {
                        flags.insert(f);
                    }
                }
                i += 1;
            }
            if let Some(Value::Quoted(q)) = a.get(i) {
                let s = String::from_utf8_lossy(q);
                date = Some(
                    parse::parse_date_time(&s).ok_or_else(|| format!("Invalid date-time {s}"))?,
                );
                i += 1;
            }
            match (a.get(i), a.get(i + 1)) {
                (Some(Value::Literal { data, .. }), _) => {
                    let data =
                        super::mime::encode_binary_parts(data).unwrap_or_else(|| data.to_vec());
                    msgs.push((Source::Data(data), flags, date))
                }
                (Some(v), Some(Value::List(parts))) if v.is_atom("UTF8") => {
                    // RFC 6855 section 4: UTF8 (literal8), only once UTF8=ACCEPT is enabled.
                    if !self.utf8 {
                        return Err("APPEND UTF8 needs ENABLE UTF8=ACCEPT".into());
                    }
                    let [Value::Literal { data, .. }] = parts.as_slice() else {
                        return Err("APPEND UTF8 needs one literal".into());
                    };
                    i += 1;
                    msgs.push((Source::Data(data.to_vec()), flags, date))
                }
                (Some(v), Some(Value::List(parts))) if v.is_atom("CATENATE") => {
                    let mut cat = Vec::new();
                    for pair in parts.chunks(2) {
                        match (
                            pair[0].text().map(|t| t.to_ascii_uppercase()).as_deref(),
                            pair.get(1),
                        ) {
                            (Some("TEXT"), Some(Value::Literal { data, .. })) => {
                                cat.push(Err(data.to_vec()))
                            }
                            (Some("URL"), Some(u)) => {
                                cat.push(Ok(astring(u).ok_or("Invalid URL")?))
                            }
                            _ => return Err("Invalid CATENATE part".into()),
                        }
                    }
                    i += 1;
                    msgs.push((Source::Catenate(cat), flags, date))
                }
                _ => return Err("APPEND needs a message literal".into()),
            }
            i += 1;
        }
        if msgs.is_empty() {
            return Err("APPEND needs a message literal".into());
        }
        let user = self.user();
        let now = now();
        let res = {
            let mut l = daemon.lock();
            let acct = l.account(&user);
            if !acct.mailboxes.contains_key(&name) {
                return Ok(Done::No("[TRYCREATE] Mailbox doesn't exist.".into()));
            }
            let mut ready = Vec::new();
            for (src, f, date) in msgs {
                let data = match src {
                    Source::Data(d) => d,
                    Source::Catenate(parts) => {
                        let mut d = Vec::new();
                        for p in parts {
                            match p {
                                Err(text) => d.extend_from_slice(&text),
                                Ok(url) => match resolve_url(acct, &url) {
                                    Some(bytes) => d.extend_from_slice(&bytes),
                                    None => {
                                        return Ok(Done::No(format!("[BADURL {url}] Invalid URL.")))
                                    }
                                },
                            }
                        }
                        d
                    }
                };
                if data.is_empty() {
                    return Ok(Done::No("Can't save an empty message.".into()));
                }
                ready.push((data, f, date));
            }
            let octets = ready.iter().map(|r| r.0.len() as u64).sum();
            if acct
                .quota
                .exceeded(acct.usage(), octets, ready.len() as u64)
            {
                return Ok(Done::No("[OVERQUOTA] Quota exceeded.".into()));
            }
            let Some(mb) = acct.mailboxes.get_mut(&name) else {
                return Ok(Done::No("[TRYCREATE] Mailbox doesn't exist.".into()));
            };
            let uids: Vec<u32> = ready
                .into_iter()
                .map(|(d, f, date)| mb.append(d, f, date.unwrap_or(now)))
                .collect();
            format!(
                "[APPENDUID {} {}] Append completed.",
                mb.uidvalidity,
                uid_set(&uids)
            )
        };
        daemon.changed();
        Ok(Done::Ok(res))
    }

    /// Messages of the view named by a set: (sequence number, UID).
    fn resolve(&self, set: &SeqSet, uid: bool, daemon: &ImapDaemon) -> Vec<(usize, u32)> {
        let Some(sel) = &self.sel else {
            return Vec::new();
        };
        if *set == SeqSet::Saved {
            return sel
                .view
                .iter()
                .enumerate()
                .filter(|(_, v)| self.saved.contains(&v.0))
                .map(|(i, v)| (i + 1, v.0))
                .collect();
        }
        let max_uid = if uid {
            let mut l = daemon.lock();
            let last = sel.view.last().map(|v| v.0).unwrap_or(0);
            let _ = l.account(&self.user());
            last
        } else {
            0
        };
        let n = sel.view.len() as u32;
        sel.view
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                if uid {
                    set.contains(v.0, max_uid)
                } else {
                    set.contains(*i as u32 + 1, n)
                }
            })
            .map(|(i, v)| (i + 1, v.0))
            .collect()
    }

    fn set_arg(&self, a: &[Value], uid: bool) -> Result<SeqSet, String> {
        let s = a.first().and_then(astring).ok_or("Missing sequence set")?;
        let set = SeqSet::parse(&s)
            .ok_or_else(|| format!("Invalid {}set {s}", if uid { "UID " } else { "sequence " }))?;
        if !uid {
            if let (SeqSet::Ranges(r), Some(sel)) = (&set, &self.sel) {
                let n = sel.view.len() as u32;
                let too_big = r.iter().any(|&(x, y)| {
                    [x, y]
                        .iter()
                        .any(|b| matches!(b, parse::Bound::N(v) if *v > n))
                });
                if too_big {
                    return Err("Invalid messageset".into());
                }
            }
        }
        Ok(set)
    }

    fn fetch(
        &mut self,
        uid: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let set = self.set_arg(a, uid)?;
        let atts = parse::fetch_atts(a.get(1).ok_or("Missing fetch items")?)?;
        let mut changedsince = None;
        let mut vanished = false;
        let mods = a.get(2).and_then(Value::items).unwrap_or_default();
        let mut k = 0;
        while k < mods.len() {
            if mods[k].is_atom("CHANGEDSINCE") {
                changedsince = Some(
                    mods.get(k + 1)
                        .and_then(Value::number)
                        .ok_or("Invalid CHANGEDSINCE value")?,
                );
                self.condstore = true;
                k += 1;
            } else if mods[k].is_atom("VANISHED") {
                vanished = true;
            } else {
                return Err(format!(
                    "Unknown FETCH modifier {}",
                    mods[k].text().unwrap_or_default()
                ));
            }
            k += 1;
        }
        if vanished && !(uid && self.qresync && changedsince.is_some()) {
            // RFC 7162 section 3.2.6: only UID FETCH with CHANGEDSINCE, once QRESYNC is on.
            return Err("VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC".into());
        }
        let want_modseq = self.condstore && (changedsince.is_some() || atts.contains(&Att::ModSeq));
        let targets = self.resolve(&set, uid, daemon);
        let sets_seen = self.sel.as_ref().is_some_and(|s| !s.readonly)
            && atts.iter().any(|t| {
                matches!(
                    t,
                    Att::Section { peek: false, .. }
                        | Att::Binary { peek: false, .. }
                        | Att::Rfc822
                        | Att::Rfc822Text
                )
            });
        let user = self.user();
        let mut changed = false;
        let quirks = &self.setup.section;
        let size_round = quirks
            .quirk_int("rfc822_size_round")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0);
        let envelope_omit: Vec<String> = quirks
            .quirks
            .get("envelope_omit")
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| Some(v.as_str()?.to_ascii_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        {
            let mut l = daemon.lock();
            let Some(sel) = self.sel.as_mut() else {
                return Err("no mailbox".into());
            };
            let Some(mb) = l.account(&user).mailboxes.get_mut(&sel.name) else {
                return Ok(Done::No("Mailbox was deleted".into()));
            };
            if let (true, Some(since)) = (vanished, changedsince) {
                let gone = mb.vanished_since(since, Some(&set));
                if !gone.is_empty() {
                    lines.push(line(format!("* VANISHED (EARLIER) {}", uid_set(&gone))));
                }
            }
            let mut extra_flags = false;
            for (seq, u) in targets {
                let Some(j) = mb.index_of(u) else { continue };
                if sets_seen && !mb.messages[j].has_flag("\\Seen") {
                    let mut f = mb.messages[j].flags.clone();
                    f.insert("\\Seen".into());
                    mb.set_flags(j, f);
                    changed = true;
                    extra_flags = true;
                }
                let m: &Message = &mb.messages[j];
                if changedsince.is_some_and(|c| m.modseq <= c) {
                    continue;
                }
                if let Some(v) = sel.view.get_mut(seq - 1) {
                    if atts.contains(&Att::Flags) || extra_flags {
                        v.1 = m.modseq;
                    }
                }
                let mut list = atts.clone();
                if extra_flags && !list.contains(&Att::Flags) {
                    list.push(Att::Flags);
                }
                let ctx = fetch::Ctx {
                    seq,
                    recent: sel.recent.contains(&u),
                    uid: uid || self.qresync,
                    modseq: want_modseq,
                    atts: &list,
                    size_round,
                    envelope_omit: &envelope_omit,
                };
                match fetch::render(m, &ctx) {
                    Ok(l) => lines.push(l),
                    Err(no) => {
                        drop(l);
                        if changed {
                            daemon.changed();
                        }
                        return Ok(Done::No(no));
                    }
                }
                extra_flags = false;
            }
        }
        if changed {
            daemon.changed();
        }
        Ok(Done::Ok("Fetch completed.".into()))
    }

    fn store(
        &mut self,
        uid: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let set = self.set_arg(a, uid)?;
        let mut i = 1;
        let mut unchanged = None;
        if let Some(Value::List(m)) = a.get(1) {
            if m.first().is_some_and(|x| x.is_atom("UNCHANGEDSINCE")) {
                unchanged = m.get(1).and_then(Value::number);
                self.condstore = true;
            }
            i = 2;
        }
        let op = a
            .get(i)
            .and_then(astring)
            .ok_or("Missing STORE operation")?
            .to_ascii_uppercase();
        let silent = op.ends_with(".SILENT");
        let op = op.trim_end_matches(".SILENT");
        let mode = match op {
            "FLAGS" => 0,
            "+FLAGS" => 1,
            "-FLAGS" => 2,
            "X-GM-LABELS" | "+X-GM-LABELS" | "-X-GM-LABELS" => {
                return self.store_labels(uid, &set, op, silent, &a[i + 1..], daemon, lines)
            }
            _ => return Err(format!("Invalid STORE operation {op}")),
        };
        let list: Vec<Value> = a[i + 1..].to_vec();
        let flags: Vec<String> = if list.len() == 1 {
            parse::flags(&list[0])?
        } else {
            parse::flags(&Value::List(list))?
        };
        let flags: Vec<String> = flags.into_iter().filter(|f| f != "\\Recent").collect();
        let mut failed = Vec::new();
        let condstore = self.condstore;
        let each = |mb: &mut Mailbox, j: usize, seq: usize, u: u32, recent: &HashSet<u32>| {
            if unchanged.is_some_and(|c| mb.messages[j].modseq > c) {
                failed.push(if uid { u } else { seq as u32 });
                return Stored::Skipped;
            }
            let mut f = mb.messages[j].flags.clone();
            match mode {
                0 => f = flags.iter().cloned().collect(),
                1 => f.extend(flags.iter().cloned()),
                _ => {
                    for x in &flags {
                        f.retain(|y| !y.eq_ignore_ascii_case(x));
                    }
                }
            }
            mb.set_flags(j, f);
            if silent && unchanged.is_none() {
                return Stored::Silent;
            }
            let m = &mb.messages[j];
            let mut o = b"FLAGS ".to_vec();
            flag_list(&mut o, m, recent.contains(&u));
            if condstore {
                o.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
            }
            Stored::Announce(o)
        };
        if let Some(refused) = self.store_each(&set, uid, daemon, lines, each)? {
            return Ok(refused);
        }
        if !failed.is_empty() {
            return Ok(Done::Ok(format!(
                "[MODIFIED {}] Conditional store failed.",
                uid_set(&failed)
            )));
        }
        Ok(Done::Ok("Store completed.".into()))
    }

    /// STORE … [+-]X-GM-LABELS (labels): Gmail's labels, answered as FETCH X-GM-LABELS.
    #[allow(clippy::too_many_arguments)]
    fn store_labels(
        &mut self,
        uid: bool,
        set: &SeqSet,
        op: &str,
        silent: bool,
        args: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let items: Vec<String> = match args {
            [Value::List(l)] => l.iter().filter_map(astring).collect(),
            l => l.iter().filter_map(astring).collect(),
        };
        let each = |mb: &mut Mailbox, j: usize, _seq: usize, _u: u32, _: &HashSet<u32>| {
            let mut labels = mb.messages[j].labels.clone();
            match op.as_bytes()[0] {
                b'+' => labels.extend(items.iter().cloned()),
                b'-' => labels.retain(|x| !items.iter().any(|y| y.eq_ignore_ascii_case(x))),
                _ => labels = items.iter().cloned().collect(),
            }
            mb.set_labels(j, labels);
            if silent {
                return Stored::Silent;
            }
            let mut o = b"X-GM-LABELS ".to_vec();
            super::gmail::labels(&mut o, &mb.messages[j].labels);
            Stored::Announce(o)
        };
        if let Some(refused) = self.store_each(set, uid, daemon, lines, each)? {
            return Ok(refused);
        }
        Ok(Done::Ok("Store completed.".into()))
    }

    /// What both STOREs (flags, Gmail labels) share: a read-only mailbox refuses; otherwise,
    /// with the daemon locked, `each(mailbox, index, seq, uid, this session's \Recent)` runs
    /// on every message of `set` still there, and what it stored moves this session's MODSEQ
    /// and, when it says so, is announced as `* seq FETCH ([UID n] items)`; then the other
    /// sessions wake. `Some(done)`: the STORE cannot run.
    fn store_each(
        &mut self,
        set: &SeqSet,
        uid: bool,
        daemon: &ImapDaemon,
        lines: &mut Lines,
        mut each: impl FnMut(&mut Mailbox, usize, usize, u32, &HashSet<u32>) -> Stored,
    ) -> Result<Option<Done>, String> {
        if self.sel.as_ref().is_some_and(|s| s.readonly) {
            return Ok(Some(Done::No("Mailbox is read-only.".into())));
        }
        let targets = self.resolve(set, uid, daemon);
        let user = self.user();
        let with_uid = uid || self.qresync;
        {
            let mut l = daemon.lock();
            let Some(sel) = self.sel.as_mut() else {
                return Err("no mailbox".into());
            };
            let Some(mb) = l.account(&user).mailboxes.get_mut(&sel.name) else {
                return Ok(Some(Done::No("Mailbox was deleted".into())));
            };
            for (seq, u) in targets {
                let Some(j) = mb.index_of(u) else { continue };
                let stored = each(mb, j, seq, u, &sel.recent);
                if matches!(stored, Stored::Skipped) {
                    continue;
                }
                let m = &mb.messages[j];
                if let Some(v) = sel.view.get_mut(seq - 1) {
                    v.1 = m.modseq;
                }
                if let Stored::Announce(items) = stored {
                    let mut o = format!("* {seq} FETCH (").into_bytes();
                    if with_uid {
                        o.extend_from_slice(format!("UID {} ", m.uid).as_bytes());
                    }
                    o.extend_from_slice(&items);
                    o.push(b')');
                    lines.push(line(o));
                }
            }
        }
        daemon.changed();
        Ok(None)
    }

    fn copy(
        &mut self,
        uid: bool,
        mv: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let set = self.set_arg(a, uid)?;
        let dest = mailbox!(
            self,
            a.get(1).and_then(astring).ok_or("Missing mailbox name")?
        );
        if mv && self.sel.as_ref().is_some_and(|s| s.readonly) {
            return Ok(Done::No("Mailbox is read-only.".into()));
        }
        let targets = self.resolve(&set, uid, daemon);
        let user = self.user();
        let src_name = self
            .sel
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let text = {
            let mut l = daemon.lock();
            let acct = l.account(&user);
            if !acct.mailboxes.contains_key(&dest) {
                return Ok(Done::No("[TRYCREATE] Mailbox doesn't exist.".into()));
            }
            let src: Vec<Message> = match acct.mailboxes.get(&src_name) {
                Some(mb) => targets
                    .iter()
                    .filter_map(|(_, u)| mb.index_of(*u).map(|j| mb.messages[j].clone()))
                    .collect(),
                None => return Ok(Done::No("Mailbox was deleted".into())),
            };
            // A MOVE between the user's own mailboxes leaves the usage as it is.
            let octets = src.iter().map(|m| m.data.len() as u64).sum();
            if !mv && acct.quota.exceeded(acct.usage(), octets, src.len() as u64) {
                return Ok(Done::No("[OVERQUOTA] Quota exceeded.".into()));
            }
            let dst = acct.mailboxes.get_mut(&dest).ok_or("no destination")?;
            let mut from = Vec::new();
            let mut to = Vec::new();
            for m in &src {
                from.push(m.uid);
                let new = dst.append((*m.data).clone(), m.flags.clone(), m.internal);
                if let Some(j) = dst.index_of(new) {
                    dst.messages[j].labels = m.labels.clone();
                }
                to.push(new);
            }
            let code = if from.is_empty() {
                String::new()
            } else {
                format!(
                    "[COPYUID {} {} {}] ",
                    dst.uidvalidity,
                    uid_set(&from),
                    uid_set(&to)
                )
            };
            if mv {
                if let Some(mb) = acct.mailboxes.get_mut(&src_name) {
                    mb.expunge(&from.iter().copied().collect());
                }
            }
            code
        };
        daemon.changed();
        if mv {
            if !text.is_empty() {
                lines.push(line(format!("* OK {}Moved UIDs.", text)));
            }
            return Ok(Done::Ok("Move completed.".into()));
        }
        Ok(Done::Ok(format!("{text}Copy completed.")))
    }

    fn expunge(
        &mut self,
        only: Option<SeqSet>,
        daemon: &ImapDaemon,
        _lines: &mut Lines,
    ) -> Result<Done, String> {
        if self.sel.as_ref().is_some_and(|s| s.readonly) {
            return Ok(Done::No("Mailbox is read-only.".into()));
        }
        let user = self.user();
        let name = self
            .sel
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        {
            let mut l = daemon.lock();
            let Some(mb) = l.account(&user).mailboxes.get_mut(&name) else {
                return Ok(Done::Ok("Expunge completed.".into()));
            };
            let max = mb.messages.last().map(|m| m.uid).unwrap_or(0);
            let gone: BTreeSet<u32> = mb
                .messages
                .iter()
                .filter(|m| {
                    m.has_flag("\\Deleted") && only.as_ref().is_none_or(|s| s.contains(m.uid, max))
                })
                .map(|m| m.uid)
                .collect();
            mb.expunge(&gone);
        }
        daemon.changed();
        Ok(Done::Ok("Expunge completed.".into()))
    }

    fn search(
        &mut self,
        _tag: &str,
        uid: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        let mut i = 0;
        let mut ret: Option<Vec<String>> = None;
        if a.first().is_some_and(|v| v.is_atom("RETURN")) {
            let l = a
                .get(1)
                .and_then(Value::items)
                .ok_or("Invalid RETURN options")?;
            ret = Some(
                l.iter()
                    .filter_map(astring)
                    .map(|s| s.to_ascii_uppercase())
                    .collect(),
            );
            i = 2;
        }
        if a.get(i).is_some_and(|v| v.is_atom("CHARSET")) {
            let cs = a
                .get(i + 1)
                .and_then(astring)
                .ok_or("Missing charset")?
                .to_ascii_uppercase();
            if !matches!(cs.as_str(), "UTF-8" | "US-ASCII") {
                return Ok(Done::No(
                    "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset".into(),
                ));
            }
            i += 2;
        }
        let key = parse::search_keys(&a[i..])?;
        let mut hits: Vec<(u32, u32)> = Vec::new(); // (seq, uid)
        let mut max_modseq = 0;
        let found = self.for_each_match(&key, daemon, |seq, m| {
            hits.push((seq, m.uid));
            max_modseq = max_modseq.max(m.modseq);
        });
        match found {
            Ok(()) => {}
            Err(NoView::NotSelected) => return Err("no mailbox".into()),
            Err(NoView::Deleted) => return Ok(Done::No("Mailbox was deleted".into())),
        }
        let nums: Vec<u32> = hits.iter().map(|h| if uid { h.1 } else { h.0 }).collect();
        let modseq = has_modseq(&key);
        match ret {
            None => {
                let mut s = String::from("* SEARCH");
                for n in &nums {
                    s.push_str(&format!(" {n}"));
                }
                if modseq && !nums.is_empty() {
                    s.push_str(&format!(" (MODSEQ {max_modseq})"));
                }
                lines.push(line(s));
            }
            Some(opts) => {
                let opts = if opts.is_empty() {
                    vec!["ALL".to_string()]
                } else {
                    opts
                };
                if opts.iter().any(|o| o == "SAVE") {
                    self.saved = hits.iter().map(|h| h.1).collect();
                }
                let mut s = format!("* ESEARCH (TAG {})", quote(_tag));
                if uid {
                    s.push_str(" UID");
                }
                if opts.iter().any(|o| o == "UPDATE") {
                    self.contexts.push(Context {
                        tag: _tag.to_string(),
                        uid,
                        key: key.clone(),
                        result: hits.iter().map(|h| h.1).collect(),
                    });
                }
                let mut it = opts.iter();
                while let Some(o) = it.next() {
                    match o.as_str() {
                        "UPDATE" => {}
                        "PARTIAL" => s.push_str(&partial(it.next(), &nums)?),
                        "MIN" if !nums.is_empty() => {
                            s.push_str(&format!(" MIN {}", nums.iter().min().unwrap_or(&0)))
                        }
                        "MAX" if !nums.is_empty() => {
                            s.push_str(&format!(" MAX {}", nums.iter().max().unwrap_or(&0)))
                        }
                        "COUNT" => s.push_str(&format!(" COUNT {}", nums.len())),
                        "ALL" if !nums.is_empty() => {
                            s.push_str(&format!(" ALL {}", uid_set(&nums)))
                        }
                        "MIN" | "MAX" | "ALL" | "SAVE" => {}
                        other => return Err(format!("Unknown RETURN option {other}")),
                    }
                }
                if modseq && !nums.is_empty() {
                    s.push_str(&format!(" MODSEQ {max_modseq}"));
                }
                if opts.len() > 1 || opts[0] != "SAVE" {
                    lines.push(line(s));
                }
            }
        }
        Ok(Done::Ok("Search completed.".into()))
    }

    /// The messages of the view that match `key`: (sequence number, message).
    fn hits(&self, key: &parse::Key, daemon: &ImapDaemon) -> Result<Vec<(u32, Message)>, Done> {
        let mut out = Vec::new();
        match self.for_each_match(key, daemon, |seq, m| out.push((seq, m.clone()))) {
            Ok(()) => Ok(out),
            Err(NoView::NotSelected) => Err(Done::Bad("No mailbox selected".into())),
            Err(NoView::Deleted) => Err(Done::No("Mailbox was deleted".into())),
        }
    }

    /// Call `f(sequence number, message)` for each message of the selected view that
    /// matches `key`, in view order.
    fn for_each_match(
        &self,
        key: &parse::Key,
        daemon: &ImapDaemon,
        mut f: impl FnMut(u32, &Message),
    ) -> Result<(), NoView> {
        let user = self.user();
        let mut l = daemon.lock();
        let sel = self.sel.as_ref().ok_or(NoView::NotSelected)?;
        let mb = l
            .account(&user)
            .mailboxes
            .get(&sel.name)
            .ok_or(NoView::Deleted)?;
        let max_uid = sel.view.last().map(|v| v.0).unwrap_or(0);
        for (i, (u, _)) in sel.view.iter().enumerate() {
            let Some(j) = mb.index_of(*u) else { continue };
            let m = &mb.messages[j];
            let c = Cand {
                msg: m,
                seq: i as u32 + 1,
                max_seq: sel.view.len() as u32,
                max_uid,
                recent: sel.recent.contains(u),
                saved: &self.saved,
            };
            if search::matches(key, &c) {
                f(i as u32 + 1, m);
            }
        }
        Ok(())
    }

    fn sort(
        &mut self,
        thread: bool,
        uid: bool,
        a: &[Value],
        daemon: &ImapDaemon,
        lines: &mut Lines,
    ) -> Result<Done, String> {
        // ESORT: SORT RETURN (options) (criteria) charset keys.
        let (ret, a) = match a.first() {
            Some(v) if !thread && v.is_atom("RETURN") => {
                let opts = a
                    .get(1)
                    .and_then(Value::items)
                    .ok_or("Invalid RETURN options")?;
                let opts: Vec<String> = opts
                    .iter()
                    .filter_map(astring)
                    .map(|s| s.to_ascii_uppercase())
                    .collect();
                (Some(opts), &a[2..])
            }
            _ => (None, a),
        };
        let first = a.first().ok_or("Missing sort criteria")?;
        let cs = a
            .get(1)
            .and_then(astring)
            .ok_or("Missing charset")?
            .to_ascii_uppercase();
        if !matches!(cs.as_str(), "UTF-8" | "US-ASCII") {
            return Ok(Done::No(
                "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset".into(),
            ));
        }
        let key = parse::search_keys(&a[2..])?;
        let hits = match self.hits(&key, daemon) {
            Ok(h) => h,
            Err(d) => return Ok(d),
        };
        let msgs: Vec<&Message> = hits.iter().map(|h| &h.1).collect();
        let id = |i: usize| if uid { hits[i].1.uid } else { hits[i].0 };
        if thread {
            let alg = astring(first).unwrap_or_default().to_ascii_uppercase();
            let t = match alg.as_str() {
                "ORDEREDSUBJECT" => super::sort::ordered_subject(&msgs),
                "REFERENCES" => super::thread::references(&msgs),
                _ => return Ok(Done::No(format!("Unknown thread algorithm {alg}"))),
            };
            // Indices in the thread text are 1-based positions in `hits`; map them to ids.
            let mapped = map_numbers(&t, |n| id(n - 1));
            lines.push(line(format!("* THREAD {mapped}")));
            return Ok(Done::Ok("Thread completed.".into()));
        }
        let words: Vec<String> = first
            .items()
            .ok_or("Invalid sort criteria")?
            .iter()
            .filter_map(astring)
            .collect();
        let crits = super::sort::parse_criteria(&words)?;
        let order = super::sort::sort(&msgs, &crits);
        let ids: Vec<u32> = order.into_iter().map(id).collect();
        if let Some(opts) = ret {
            let opts = if opts.is_empty() {
                vec!["ALL".to_string()]
            } else {
                opts
            };
            let mut s = format!("* ESEARCH (TAG {})", quote(&self.tag));
            if uid {
                s.push_str(" UID");
            }
            let mut it = opts.iter();
            while let Some(o) = it.next() {
                match o.as_str() {
                    "PARTIAL" => s.push_str(&partial(it.next(), &ids)?),
                    "MIN" | "MAX" | "ALL" if ids.is_empty() => {}
                    "MIN" => s.push_str(&format!(" MIN {}", ids[0])),
                    "MAX" => s.push_str(&format!(" MAX {}", ids[ids.len() - 1])),
                    "ALL" => s.push_str(&format!(" ALL {}", uid_set(&ids))),
                    "COUNT" => s.push_str(&format!(" COUNT {}", ids.len())),
                    other => return Err(format!("Unknown RETURN option {other}")),
                }
            }
            lines.push(line(s));
            return Ok(Done::Ok("Sort completed.".into()));
        }
        let mut s = String::from("* SORT");
        for i in ids {
            s.push_str(&format!(" {i}"));
        }
        lines.push(line(s));
        Ok(Done::Ok("Sort completed.".into()))
    }

    fn input_line(&mut self, l: &[u8], conn: &ConnInfo) -> Output {
        match std::mem::replace(&mut self.pending, Pending::Command) {
            Pending::Idle(tag) => {
                if l.eq_ignore_ascii_case(b"DONE") {
                    let mut lines = Lines::new();
                    let daemon = self.setup.daemon.clone();
                    self.sync(&daemon, true, &mut lines);
                    lines.push(self.ok(&tag, "Idle completed."));
                    return out(lines);
                }
                self.pending = Pending::Idle(tag.clone());
                return out(vec![line(format!("{tag} BAD Expected DONE."))]);
            }
            Pending::Sasl(tag, mut sasl) => {
                let step = sasl.respond(&String::from_utf8_lossy(l));
                let done = self.sasl_step(tag.clone(), sasl, step, conn);
                return match done {
                    Done::Ok(t) => out(vec![self.ok(&tag, &t)]),
                    Done::No(t) => out(vec![line(format!("{tag} NO {t}"))]),
                    Done::Bad(t) => out(vec![line(format!("{tag} BAD {t}"))]),
                    Done::Output(o) => o,
                };
            }
            Pending::Command => {}
        }
        if self.buf.len() + l.len() > MAX_COMMAND {
            self.buf.clear();
            return out(vec![line("* BAD Command too long")]);
        }
        self.buf.extend_from_slice(l);
        if let Some(size) = imapwire::frame::trailing_literal(l) {
            let nonsync = l.ends_with(b"+}");
            let tag =
                String::from_utf8_lossy(self.buf.split(|&c| c == b' ').next().unwrap_or_default())
                    .into_owned();
            if size > MAX_LITERAL {
                self.buf.clear();
                if nonsync {
                    let o = out(vec![line(format!(
                        "* BYE [TOOBIG] Literal of {size} bytes is over the limit of {MAX_LITERAL}"
                    ))]);
                    return o.then_close();
                }
                return out(vec![line(format!(
                    "{tag} NO [TOOBIG] Literal of {size} bytes is over the limit of {MAX_LITERAL}"
                ))]);
            }
            self.buf.extend_from_slice(b"\r\n");
            let lines = if nonsync {
                Vec::new()
            } else {
                vec![line("+ OK")]
            };
            return out(lines).then_read(ReadMode::Exact(size));
        }
        let cmd = std::mem::take(&mut self.buf);
        self.command(&cmd, conn)
    }
}

/// One message of an APPEND: its bytes, or CATENATE parts (TEXT bytes as `Err`, URLs as
/// `Ok`) resolved once the mailbox is known.
enum Source {
    Data(Vec<u8>),
    Catenate(Vec<Result<String, Vec<u8>>>),
}

/// The message an IMAP URL path names in this account, if its UIDVALIDITY still holds.
fn url_message(acct: &Account, p: &urlauth::MessagePath) -> Option<Arc<Vec<u8>>> {
    let mb = acct.mailboxes.get(&p.mailbox)?;
    if p.uidvalidity.is_some_and(|v| v != mb.uidvalidity) {
        return None;
    }
    Some(mb.messages[mb.index_of(p.uid)?].data.clone())
}

/// The bytes a URL path names within its message: the section, then the partial range.
fn url_bytes(data: &[u8], p: &urlauth::MessagePath) -> Option<Vec<u8>> {
    let bytes = match &p.section {
        None => data.to_vec(),
        Some(s) => {
            let (path, spec) = parse::section_spec(s)?;
            super::mime::section(data, &super::mime::parse(data), &path, &spec)?
        }
    };
    Some(p.cut(&bytes).to_vec())
}

/// NIL, a string, or a literal8 when the bytes hold a NUL (URLFETCH BINARY).
fn nstring_bin(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(b) if b.contains(&0) => {
            out.extend_from_slice(format!("~{{{}}}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
        }
        Some(b) if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') => {
            super::mime::string(out, b)
        }
        Some(b) => {
            out.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// The bytes an IMAP URL path (RFC 5092, this user's own mailboxes) names.
fn resolve_url(acct: &Account, url: &str) -> Option<Vec<u8>> {
    let p = urlauth::MessagePath::parse(url)?;
    url_bytes(&url_message(acct, &p)?, &p)
}

/// What a STORE did to one message (see `store_each`).
enum Stored {
    /// Left alone (UNCHANGEDSINCE failed).
    Skipped,
    /// Changed, not announced (.SILENT).
    Silent,
    /// Changed and announced with these FETCH items.
    Announce(Vec<u8>),
}

/// How a command ended.
enum Done {
    Ok(String),
    No(String),
    Bad(String),
    /// A complete output (continuations, LOGOUT, STARTTLS).
    Output(Output),
}

/// Why the selected view cannot be searched.
enum NoView {
    NotSelected,
    /// The selected mailbox was deleted by another session.
    Deleted,
}

/// ` PARTIAL (m:n set)` of a result list (RFC 9394): the results at positions m..n.
fn partial(range: Option<&String>, ids: &[u32]) -> Result<String, String> {
    let r = range.ok_or("PARTIAL needs a range")?;
    let (a, b) = r
        .split_once(':')
        .ok_or_else(|| format!("Invalid PARTIAL range {r}"))?;
    let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
        (Ok(a), Ok(b)) if a > 0 && b > 0 => (a, b),
        _ => return Err(format!("Invalid PARTIAL range {r}")),
    };
    let (lo, hi) = (a.min(b), a.max(b));
    let part: Vec<u32> = ids.iter().skip(lo - 1).take(hi - lo + 1).copied().collect();
    let set = if part.is_empty() {
        "NIL".to_string()
    } else {
        uid_set(&part)
    };
    Ok(format!(" PARTIAL ({lo}:{hi} {set})"))
}

/// Replace every number in `s` by `f(number)`.
fn map_numbers(s: &str, f: impl Fn(usize) -> u32) -> String {
    let mut out = String::new();
    let mut num = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        if !num.is_empty() {
            out.push_str(&f(num.parse().unwrap_or(1)).to_string());
            num.clear();
        }
        out.push(c);
    }
    out.pop();
    out
}

fn cap(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn has_modseq(k: &parse::Key) -> bool {
    use parse::Key;
    match k {
        Key::ModSeq(_) => true,
        Key::Not(k) => has_modseq(k),
        Key::Or(a, b) => has_modseq(a) || has_modseq(b),
        Key::And(v) => v.iter().any(has_modseq),
        _ => false,
    }
}

fn fresh_validity(acct: &Account) -> u32 {
    acct.mailboxes
        .values()
        .map(|m| m.uidvalidity)
        .max()
        .unwrap_or(1)
        + 1
}

/// What SELECT … (QRESYNC …) adds after the usual replies, when the client's UIDVALIDITY
/// still holds (RFC 7162 section 3.2.5): `VANISHED (EARLIER)` for the known UIDs expunged
/// since its MODSEQ, then FETCH (UID, FLAGS, MODSEQ) for the messages changed since. The
/// expunge log holds the newest expunges; for a MODSEQ older than it, VANISHED names every
/// known UID that is not here (which RFC 7162 allows), so the sequence match data is never
/// needed to narrow it.
fn qresync_replies(
    mb: &Mailbox,
    view: &[(u32, u64)],
    recent: &HashSet<u32>,
    q: &parse::Qresync,
) -> Lines {
    let mut lines = Lines::new();
    let gone = mb.vanished_since(q.modseq, q.known.as_ref());
    if !gone.is_empty() {
        lines.push(line(format!("* VANISHED (EARLIER) {}", uid_set(&gone))));
    }
    for (i, (u, _)) in view.iter().enumerate() {
        let Some(j) = mb.index_of(*u) else { continue };
        let m = &mb.messages[j];
        if m.modseq <= q.modseq || q.known.as_ref().is_some_and(|k| !k.contains(*u, u32::MAX)) {
            continue;
        }
        let mut o = format!("* {} FETCH (UID {} FLAGS ", i + 1, u).into_bytes();
        flag_list(&mut o, m, recent.contains(u));
        o.extend_from_slice(format!(" MODSEQ ({}))", m.modseq).as_bytes());
        lines.push(line(o));
    }
    lines
}

/// `* STATUS name (items)` for one mailbox (STATUS, and LIST … RETURN (STATUS …)).
fn status_line(utf8: bool, name: &str, mb: &Mailbox, items: &[String]) -> Result<String, String> {
    let mut parts = Vec::new();
    for w in items {
        let v = match w.as_str() {
            "MESSAGES" => mb.messages.len() as u64,
            "RECENT" => mb
                .messages
                .iter()
                .filter(|m| m.uid > mb.recent_claimed)
                .count() as u64,
            "UIDNEXT" => mb.uidnext as u64,
            "UIDVALIDITY" => mb.uidvalidity as u64,
            "UNSEEN" => mb.unseen() as u64,
            "HIGHESTMODSEQ" => mb.highest_modseq,
            "SIZE" => mb.messages.iter().map(|m| m.data.len() as u64).sum(),
            _ => return Err(format!("Invalid status item {w}")),
        };
        parts.push(format!("{w} {v}"));
    }
    Ok(format!(
        "* STATUS {} ({})",
        mailbox_out(utf8, name),
        parts.join(" ")
    ))
}

/// `1:3,5` from a list of numbers (kept in the given order for COPYUID pairing).
pub fn uid_set(v: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}:{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// `*`, `%` wildcards; INBOX matched case-insensitively.
fn wildmatch(pattern: &str, name: &str) -> bool {
    let pattern = match pattern.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("INBOX") && name.starts_with("INBOX") => {
            format!("INBOX{}", &pattern[5..])
        }
        _ => pattern.to_string(),
    };
    // Dynamic programming over (pattern position, name position): linear in each, so a
    // hostile pattern of many wildcards cannot make LIST take exponential time.
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let mut cur = vec![false; n.len() + 1];
    cur[0] = true;
    for &c in p {
        let mut next = vec![false; n.len() + 1];
        match c {
            b'*' | b'%' => {
                let mut reach = false;
                for j in 0..=n.len() {
                    reach = reach || cur[j];
                    next[j] = reach;
                    if c == b'%' && j < n.len() && n[j] == DELIM as u8 {
                        reach = false;
                    }
                }
            }
            _ => {
                for j in 0..n.len() {
                    next[j + 1] = cur[j] && n[j] == c;
                }
            }
        }
        cur = next;
    }
    cur[n.len()]
}

impl Handler for ImapHandler {
    fn on_startup(&mut self, conn: &ConnInfo) -> Output {
        let greeting = match &self.setup.section.greeting {
            Some(g) => g
                .replace("{host}", self.setup.hostname())
                .replace("{caps}", &self.capabilities(conn))
                .replace("{peer}", &conn.peer),
            None => format!(
                "* OK [CAPABILITY {}] fakeserver IMAP ready.",
                self.capabilities(conn)
            ),
        };
        out(vec![line(greeting)])
    }

    fn on_input(&mut self, input: Input<'_>, conn: &ConnInfo) -> Output {
        match input {
            Input::Line(l) => self.input_line(l, conn),
            Input::Bytes(b) | Input::Block(b) => {
                self.buf.extend_from_slice(b);
                Output::none()
            }
        }
    }

    fn verb(&self, line: &[u8]) -> Option<String> {
        if !matches!(self.pending, Pending::Command) || !self.buf.is_empty() {
            return None;
        }
        let mut words = line.split(|b| *b == b' ').skip(1);
        let w = String::from_utf8_lossy(words.next()?).to_ascii_uppercase();
        if w == "UID" {
            return Some(format!(
                "UID {}",
                String::from_utf8_lossy(words.next()?).to_ascii_uppercase()
            ));
        }
        (!w.is_empty()).then_some(w)
    }

    fn mask(&self, line: &[u8]) -> Option<Vec<u8>> {
        let words: Vec<&[u8]> = line.splitn(4, |b| *b == b' ').collect();
        if words.len() >= 3 && words[1].eq_ignore_ascii_case(b"LOGIN") {
            return Some([words[0], b" LOGIN ", words[2], b" ****"].concat());
        }
        if words.len() >= 4 && words[1].eq_ignore_ascii_case(b"AUTHENTICATE") {
            return Some([words[0], b" AUTHENTICATE ", words[2], b" ****"].concat());
        }
        None
    }

    fn on_line_too_long(&mut self, _conn: &ConnInfo) -> Output {
        self.buf.clear();
        out(vec![line("* BAD Line too long")])
    }

    fn on_block_too_long(&mut self, _conn: &ConnInfo) -> Output {
        self.buf.clear();
        out(vec![line("* BAD Literal too large")])
    }

    fn on_notify(&mut self, _conn: &ConnInfo) -> Output {
        let daemon = self.setup.daemon.clone();
        let mut lines = Lines::new();
        match (&self.pending, &self.notify) {
            (Pending::Idle(_), _) => self.sync(&daemon, true, &mut lines),
            // With NOTIFY, changes go out between commands too (RFC 5465 section 3): the
            // selected mailbox's only when SELECTED asks (expunges unless SELECTED-DELAYED).
            (Pending::Command, Some(spec)) if self.buf.is_empty() => {
                let selected = spec.groups.iter().find_map(|(f, _)| match f {
                    notify::Filter::Selected { delayed } => Some(!*delayed),
                    _ => None,
                });
                if let Some(expunges) = selected {
                    self.sync_selected(&daemon, expunges, &mut lines);
                }
                self.notify_sync(&daemon, false, &mut lines);
            }
            _ => return Output::none(),
        }
        out(lines)
    }

    fn on_idle_timeout(&mut self, _conn: &ConnInfo) -> Output {
        out(vec![line("* BYE Disconnected for inactivity.")]).then_close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A logged-in session over a fresh daemon holding `n` messages in INBOX.
    fn session(n: usize) -> (ImapHandler, Arc<ImapDaemon>) {
        session_with(n, Section::default())
    }

    fn session_with(n: usize, section: Section) -> (ImapHandler, Arc<ImapDaemon>) {
        let daemon = Arc::new(ImapDaemon::new());
        for i in 0..n {
            let m = format!("From: a@b.example\r\nSubject: m{i}\r\n\r\nbody {i}\r\n");
            daemon.deliver("u", "INBOX", m.into_bytes(), &[], (0, 0));
        }
        let setup = Arc::new(ImapSetup {
            daemon: daemon.clone(),
            users: Arc::new(Users::open()),
            section,
        });
        let mut h = ImapHandler::new(setup, &ConnInfo::default());
        assert!(send(&mut h, "l LOGIN u p").contains("l OK"));
        (h, daemon)
    }

    #[test]
    fn compress_deflate_follows_rfc_4978() {
        let setup = |section: Section| {
            Arc::new(ImapSetup {
                daemon: Arc::new(ImapDaemon::new()),
                users: Arc::new(Users::open()),
                section,
            })
        };
        let plain = ConnInfo::default();
        let mut h = ImapHandler::new(setup(Section::default()), &plain);
        let caps = text_of(h.input_line(b"c CAPABILITY", &plain));
        assert!(caps.contains(" COMPRESS=DEFLATE"), "{caps}");
        // Not before authentication.
        let o = h.input_line(b"a COMPRESS DEFLATE", &plain);
        assert!(!o.start_compress && text_of(o).starts_with("a BAD "));
        assert!(text_of(h.input_line(b"l LOGIN u p", &plain)).contains("l OK"));
        for bad in ["b COMPRESS", "b COMPRESS LZW", "b COMPRESS DEFLATE DEFLATE"] {
            let o = h.input_line(bad.as_bytes(), &plain);
            assert!(!o.start_compress, "{bad}");
            assert!(text_of(o).starts_with("b BAD "), "{bad}");
        }
        let o = h.input_line(b"z compress deflate", &plain);
        assert!(o.start_compress && !o.close);
        assert_eq!(text_of(o), "z OK DEFLATE active\n");
        let on = ConnInfo {
            compressed: true,
            ..ConnInfo::default()
        };
        let o = h.input_line(b"y COMPRESS DEFLATE", &on);
        assert!(!o.start_compress);
        assert_eq!(
            text_of(o),
            "y NO [COMPRESSIONACTIVE] DEFLATE active via COMPRESS\n"
        );
        // Hidden by the quirk, or absent from a personality's list: an unknown command.
        let mut hidden = Section::default();
        hidden
            .quirks
            .insert("hide_compress".into(), toml::Value::Boolean(true));
        let listed = Section {
            capabilities: Some(vec!["IMAP4rev1".into(), "IDLE".into()]),
            ..Section::default()
        };
        for section in [hidden, listed] {
            let mut h = ImapHandler::new(setup(section), &plain);
            let caps = text_of(h.input_line(b"c CAPABILITY", &plain));
            assert!(!caps.contains("COMPRESS"), "{caps}");
            h.input_line(b"l LOGIN u p", &plain);
            let o = h.input_line(b"a COMPRESS DEFLATE", &plain);
            assert!(!o.start_compress);
            assert_eq!(text_of(o), "a BAD Unknown command COMPRESS\n");
        }
    }

    fn text_of(o: Output) -> String {
        crate::scripted::text(&o)
    }

    /// One command (lines, and literals of the announced sizes) in, the replies out as text.
    fn send(h: &mut ImapHandler, cmd: &str) -> String {
        let conn = ConnInfo::default();
        let mut text = String::new();
        let mut push = |o: Output| {
            for r in o.lines {
                text.push_str(&String::from_utf8_lossy(&r));
                if !o.raw {
                    text.push_str("\r\n");
                }
            }
        };
        let mut rest = cmd.as_bytes();
        while !rest.is_empty() {
            let end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len());
            let l = &rest[..end];
            rest = rest.get(end + 2..).unwrap_or_default();
            push(h.input_line(l, &conn));
            if let Some(n) = imapwire::frame::trailing_literal(l) {
                let n = (n as usize).min(rest.len());
                push(h.on_input(Input::Bytes(&rest[..n]), &conn));
                rest = &rest[n..];
                if rest.is_empty() {
                    push(h.input_line(b"", &conn));
                }
            }
        }
        text
    }

    #[test]
    fn qresync_vanished_and_select() {
        let (mut h, _d) = session(4);
        let (mut other, _) = (ImapHandler::new(h.setup.clone(), &ConnInfo::default()), ());
        send(&mut other, "l LOGIN u p");
        let r = send(&mut h, "a SELECT INBOX (QRESYNC (1 1))");
        assert!(r.starts_with("a BAD"), "{r}");
        assert!(send(&mut h, "b ENABLE QRESYNC").contains("* ENABLED QRESYNC"));
        let r = send(&mut h, "c SELECT INBOX");
        let v = r
            .split("[UIDVALIDITY ")
            .nth(1)
            .and_then(|x| x.split(']').next());
        let validity: u32 = v.and_then(|x| x.parse().ok()).expect("UIDVALIDITY");
        let hms_before = 5; // four appends on top of the initial 1
        assert!(r.contains(&format!("[HIGHESTMODSEQ {hms_before}]")), "{r}");
        // Another session expunges UID 2 and flags UID 1.
        send(&mut other, "s SELECT INBOX");
        send(&mut other, "t STORE 2 +FLAGS (\\Deleted)");
        send(&mut other, "u EXPUNGE");
        send(&mut other, "v STORE 1 +FLAGS (\\Flagged)");
        // Unsolicited: VANISHED, never EXPUNGE; FETCH carries the UID.
        let r = send(&mut h, "d NOOP");
        assert!(
            r.contains("* VANISHED 2\r\n") && !r.contains("EXPUNGE"),
            "{r}"
        );
        assert!(
            r.contains("* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent) MODSEQ (8))"),
            "{r}"
        );
        let r = send(&mut h, "e UID FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)");
        assert!(r.starts_with("* VANISHED (EARLIER) 2\r\n"), "{r}");
        assert!(send(&mut h, "f FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)").starts_with("f BAD"));
        // Resync from the old state: the expunge, then the flag change; [CLOSED] first.
        let r = send(
            &mut h,
            &format!("g SELECT INBOX (QRESYNC ({validity} {hms_before}))"),
        );
        assert!(r.starts_with("* OK [CLOSED]"), "{r}");
        let tail = r
            .split("[HIGHESTMODSEQ 8] Highest\r\n")
            .nth(1)
            .unwrap_or_default();
        assert_eq!(
            tail,
            "* VANISHED (EARLIER) 2\r\n* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (8))\r\n\
             g OK [READ-WRITE] Select completed.\r\n"
        );
        // Known UIDs narrow it; a stale UIDVALIDITY gets a plain SELECT.
        let r = send(
            &mut h,
            &format!("h SELECT INBOX (QRESYNC ({validity} 5 3:4))"),
        );
        assert!(!r.contains("VANISHED") && !r.contains("FETCH"), "{r}");
        let r = send(&mut h, "i SELECT INBOX (QRESYNC (7 5 1:4 (1:2 1:2)))");
        assert!(!r.contains("VANISHED") && !r.contains("FETCH"), "{r}");
        assert!(send(&mut h, "j SELECT INBOX (QRESYNC (7))").starts_with("j BAD"));
    }

    #[test]
    fn qresync_past_a_trimmed_expunge_log_names_every_missing_uid() {
        let (mut h, d) = session(8);
        assert!(send(&mut h, "b ENABLE QRESYNC").contains("* ENABLED QRESYNC"));
        let r = send(&mut h, "c SELECT INBOX");
        let validity: u32 = r
            .split("[UIDVALIDITY ")
            .nth(1)
            .and_then(|x| x.split(']').next())
            .and_then(|x| x.parse().ok())
            .expect("UIDVALIDITY");
        send(&mut h, "d UNSELECT");
        // Four expunges (MODSEQ 10..13), then the log keeps only the newest two.
        {
            let mut l = d.lock();
            let mb = l.account("u").mailboxes.get_mut("INBOX").unwrap();
            for uid in [2, 3, 5, 7] {
                mb.expunge(&[uid].into_iter().collect());
            }
            mb.trim_expunge_log(2);
            assert_eq!(mb.expunged, vec![(5, 12), (7, 13)]);
            assert_eq!(mb.expunged_floor, 11);
        }
        let vanished = |h: &mut ImapHandler, tag: &str, q: &str| {
            let r = send(
                h,
                &format!("{tag} EXAMINE INBOX (QRESYNC ({validity} {q}))"),
            );
            assert!(r.contains(&format!("{tag} OK")), "{r}");
            r.lines()
                .find_map(|l| l.strip_prefix("* VANISHED (EARLIER) "))
                .map(str::to_string)
        };
        // Newer than the trimmed part: exactly what the log says.
        assert_eq!(vanished(&mut h, "e", "11").as_deref(), Some("5,7"));
        assert_eq!(vanished(&mut h, "f", "12").as_deref(), Some("7"));
        // Older: every UID below UIDNEXT not in the mailbox, narrowed by the known UIDs.
        assert_eq!(vanished(&mut h, "g", "9").as_deref(), Some("2:3,5,7"));
        assert_eq!(vanished(&mut h, "h", "9 4:8").as_deref(), Some("5,7"));
        assert_eq!(vanished(&mut h, "i", "9 1,4,6,8"), None);
        // UID FETCH … VANISHED follows the same rule.
        send(&mut h, "j SELECT INBOX");
        let r = send(&mut h, "k UID FETCH 1:* FLAGS (CHANGEDSINCE 9 VANISHED)");
        assert!(r.starts_with("* VANISHED (EARLIER) 2:3,5,7\r\n"), "{r}");
        let r = send(&mut h, "k UID FETCH 1:* FLAGS (CHANGEDSINCE 12 VANISHED)");
        assert!(r.starts_with("* VANISHED (EARLIER) 7\r\n"), "{r}");
    }

    /// As Dovecot: MessageNew alone (or MessageExpunge alone) for other mailboxes is
    /// accepted and hears only its own event; SELECTED still needs both.
    #[test]
    fn notify_message_events_one_at_a_time() {
        let (mut h, d) = session(0);
        send(&mut h, "c CREATE box");
        let r = send(&mut h, "n NOTIFY SET (SELECTED (MessageNew))");
        assert!(r.starts_with("n BAD"), "{r}");
        let r = send(&mut h, "a NOTIFY SET (MAILBOXES box (MessageNew))");
        assert!(r.starts_with("a OK"), "{r}");
        d.deliver("u", "box", b"Subject: x\r\n\r\nx\r\n".to_vec(), &[], (0, 0));
        let r = send(&mut h, "b NOOP");
        assert!(
            r.starts_with("* STATUS \"box\" (MESSAGES 1 UIDNEXT 2 "),
            "{r}"
        );
        let expunge_box = |d: &ImapDaemon| {
            {
                let mut l = d.lock();
                let mb = l.account("u").mailboxes.get_mut("box").unwrap();
                let uids = mb.messages.iter().map(|m| m.uid).collect();
                mb.expunge(&uids);
            }
            d.changed();
        };
        expunge_box(&d);
        assert_eq!(send(&mut h, "c NOOP"), "c OK Noop completed.\r\n");
        let r = send(&mut h, "e NOTIFY SET (MAILBOXES box (MessageExpunge))");
        assert!(r.starts_with("e OK"), "{r}");
        d.deliver("u", "box", b"Subject: y\r\n\r\ny\r\n".to_vec(), &[], (0, 0));
        assert_eq!(send(&mut h, "f NOOP"), "f OK Noop completed.\r\n");
        expunge_box(&d);
        let r = send(&mut h, "g NOOP");
        assert!(
            r.starts_with("* STATUS \"box\" (MESSAGES 0 UIDNEXT 3 "),
            "{r}"
        );
    }

    #[test]
    fn notify_pushes_status_between_commands() {
        let (mut h, d) = session(1);
        send(&mut h, "c CREATE box");
        let r = send(
            &mut h,
            "a NOTIFY SET STATUS (MAILBOXES box (MessageNew MessageExpunge FlagChange))",
        );
        assert!(
            r.starts_with("* STATUS \"box\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "),
            "{r}"
        );
        assert!(r.contains("HIGHESTMODSEQ 1)\r\na OK"), "{r}");
        // A delivery elsewhere: announced without a command being sent.
        d.deliver("u", "box", b"Subject: x\r\n\r\nx\r\n".to_vec(), &[], (0, 0));
        let o = h.on_notify(&ConnInfo::default());
        let text: Vec<String> = o
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with("* STATUS \"box\" (MESSAGES 1 UIDNEXT 2 "),
            "{text:?}"
        );
        assert!(text[0].ends_with(" UNSEEN 1 HIGHESTMODSEQ 2)"), "{text:?}");
        assert!(h.on_notify(&ConnInfo::default()).lines.is_empty());
        // SELECTED with MessageNew (atts): a new message comes with its FETCH, unasked.
        send(&mut h, "s SELECT box");
        let r = send(
            &mut h,
            "n NOTIFY SET (SELECTED (MessageNew (FLAGS RFC822.SIZE) MessageExpunge))",
        );
        assert!(r.starts_with("n OK"), "{r}");
        d.deliver("u", "box", b"Subject: z\r\n\r\nz\r\n".to_vec(), &[], (0, 0));
        let o = h.on_notify(&ConnInfo::default());
        let text = String::from_utf8_lossy(&o.lines.join(&b'|')).into_owned();
        assert_eq!(
            text,
            "* 2 EXISTS|* 2 RECENT|* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE 17)"
        );
        // NOTIFY NONE: silence; other mailboxes stay unannounced.
        assert!(send(&mut h, "b NOTIFY NONE").starts_with("b OK"));
        d.deliver("u", "box", b"Subject: y\r\n\r\ny\r\n".to_vec(), &[], (0, 0));
        assert!(h.on_notify(&ConnInfo::default()).lines.is_empty());
        assert!(!send(&mut h, "e NOOP").contains("STATUS"));
    }

    #[test]
    fn urlauth_sign_fetch_reset() {
        let (mut h, _d) = session(1);
        let mut other = ImapHandler::new(h.setup.clone(), &ConnInfo::default());
        send(&mut other, "l LOGIN v p");
        let gen = |h: &mut ImapHandler, access: &str| {
            let r = send(
                h,
                &format!("g GENURLAUTH \"imap://u@h/INBOX/;uid=1;urlauth={access}\" INTERNAL"),
            );
            let url = r.split('"').nth(1).unwrap_or_default().to_string();
            assert!(url.contains(&format!(";urlauth={access}:INTERNAL:")), "{r}");
            url
        };
        let mine = gen(&mut h, "user+u");
        let any = gen(&mut h, "authuser");
        let body = "{42}\r\nFrom: a@b.example\r\nSubject: m0\r\n\r\nbody 0\r\n";
        let r = send(&mut h, &format!("f URLFETCH {mine}"));
        assert!(r.contains(body), "{r}");
        // user+u is for u only; authuser for anyone logged in; a changed token for no one.
        assert!(send(&mut other, &format!("f URLFETCH {mine}")).contains("\" NIL\r\n"));
        assert!(send(&mut other, &format!("f URLFETCH {any}")).contains(body));
        let last = if any.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &any[..any.len() - 1]);
        assert!(send(&mut other, &format!("f URLFETCH {forged}")).contains("\" NIL\r\n"));
        let r = send(
            &mut h,
            &format!("f URLFETCH ({mine} BINARY BODYPARTSTRUCTURE)"),
        );
        assert!(r.contains("(BODYPARTSTRUCTURE (\"text\" \"plain\""), "{r}");
        // Signing someone else's mailbox, an unknown mechanism, a URL without URLAUTH.
        let r = send(
            &mut other,
            "g GENURLAUTH \"imap://u@h/INBOX/;uid=1;urlauth=anonymous\" INTERNAL",
        );
        assert!(r.starts_with("g NO [BADURL"), "{r}");
        let r = send(
            &mut h,
            "g GENURLAUTH \"imap://u@h/INBOX/;uid=1;urlauth=anonymous\" XSECRET",
        );
        assert!(r.starts_with("g NO"), "{r}");
        assert!(
            send(&mut h, "g GENURLAUTH \"imap://u@h/INBOX/;uid=1\" INTERNAL").starts_with("g BAD")
        );
        // RESETKEY: every URL signed before is dead.
        assert!(send(&mut h, "r RESETKEY INBOX INTERNAL").starts_with("r OK"));
        assert!(send(&mut h, &format!("f URLFETCH {mine}")).contains("\" NIL\r\n"));
        assert!(send(&mut h, "r RESETKEY nosuch").starts_with("r NO"));
    }

    #[test]
    fn quota_roots_limits_and_overquota() {
        let (mut h, _d) = session(2);
        send(&mut h, "c CREATE other");
        let r = send(&mut h, "a GETQUOTAROOT other");
        assert!(
            r.starts_with("* QUOTAROOT \"other\" \"\"\r\n* QUOTA \"\" ()\r\n"),
            "{r}"
        );
        assert!(send(&mut h, "b GETQUOTA nosuch").starts_with("b NO"));
        let r = send(&mut h, "c SETQUOTA \"\" (STORAGE 1 MESSAGE 3)");
        assert!(
            r.starts_with("* QUOTA \"\" (STORAGE 1 1 MESSAGE 2 3)\r\nc OK"),
            "{r}"
        );
        assert!(send(&mut h, "d SETQUOTA \"\" (FANCY 1)").starts_with("d NO"));
        // A third message fits the count but not 1 KiB of storage.
        let big = "x".repeat(1000);
        let r = send(
            &mut h,
            &format!("e APPEND other {{{}}}\r\n{big}", big.len()),
        );
        assert!(r.ends_with("e NO [OVERQUOTA] Quota exceeded.\r\n"), "{r}");
        let r = send(&mut h, "f APPEND other {1+}\r\nx");
        assert!(r.contains("f OK [APPENDUID"), "{r}");
        send(&mut h, "g SELECT INBOX");
        assert!(send(&mut h, "h COPY 1 other").starts_with("h NO [OVERQUOTA]"));
        assert!(send(&mut h, "i MOVE 1 other").contains("i OK"));
    }

    #[test]
    fn quota_from_personality() {
        let mut section = Section::default();
        section
            .quirks
            .insert("quota_messages".into(), toml::Value::Integer(1));
        let (mut h, _d) = session_with(1, section);
        let r = send(&mut h, "a GETQUOTA \"\"");
        assert!(r.starts_with("* QUOTA \"\" (MESSAGE 1 1)"), "{r}");
        assert!(send(&mut h, "b APPEND INBOX {1+}\r\nx").contains("b NO [OVERQUOTA]"));
    }

    #[test]
    fn list_extended_status_and_special_use() {
        let (mut h, _d) = session(2);
        assert!(send(&mut h, "a CREATE Bin (USE (\\Trash))").starts_with("a OK"));
        let r = send(&mut h, "b CREATE Odd (USE (\\Nonsense))");
        assert!(r.starts_with("b NO [USEATTR]"), "{r}");
        let r = send(
            &mut h,
            "c LIST \"\" (INBOX Bin) RETURN (STATUS (MESSAGES UNSEEN))",
        );
        assert_eq!(
            r,
            "* LIST (\\HasNoChildren \\Trash) \"/\" \"Bin\"\r\n\
             * STATUS \"Bin\" (MESSAGES 0 UNSEEN 0)\r\n\
             * LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
             * STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2)\r\n\
             c OK List completed.\r\n"
        );
        let r = send(&mut h, "d LIST (SPECIAL-USE) \"\" *");
        assert!(
            r.starts_with("* LIST (\\HasNoChildren \\Trash) \"/\" \"Bin\"\r\nd OK"),
            "{r}"
        );
        assert!(send(&mut h, "e LIST (RECURSIVEMATCH) \"\" *").starts_with("e BAD"));
        // Plain LIST shows the special use as well.
        assert!(send(&mut h, "f LIST \"\" Bin").contains("(\\HasNoChildren \\Trash)"));
    }

    #[test]
    fn personalities_with_quirks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("personalities");
        let load = |f: &str| {
            crate::personality::Personality::load(&dir.join(f))
                .unwrap()
                .section("imap")
        };
        let msg = "Subject: s\r\nIn-Reply-To: <p@q>\r\nMessage-ID: <m@q>\r\n\r\nbody\r\n";
        let scenario = |f: &str, tls: bool| {
            let setup = Arc::new(ImapSetup {
                daemon: Arc::new(ImapDaemon::new()),
                users: Arc::new(Users::open()),
                section: load(f),
            });
            setup
                .daemon
                .deliver("u", "INBOX", msg.as_bytes().to_vec(), &[], (0, 0));
            let conn = ConnInfo {
                tls,
                ..ConnInfo::default()
            };
            let mut h = ImapHandler::new(setup, &conn);
            let mut got = String::from_utf8_lossy(&h.on_startup(&conn).lines.concat()).into_owned();
            got.push_str("\r\n");
            for c in [
                "a STARTTLS",
                "b LOGIN u p",
                "c SELECT INBOX",
                "d FETCH 1 (RFC822.SIZE ENVELOPE)",
                "e GETQUOTA \"\"",
                "f XLIST \"\" *",
            ] {
                got.push_str(&send(&mut h, c));
            }
            got
        };
        // Exchange: RFC822.SIZE an estimate in whole KiB; its greeting.
        let ex = scenario("exchange-imap.toml", false);
        assert!(
            ex.starts_with("* OK The Microsoft Exchange IMAP4 service is ready."),
            "{ex}"
        );
        assert!(ex.contains("RFC822.SIZE 1024 "), "{ex}");
        // UW: STARTTLS offered without a certificate, then refused; no In-Reply-To.
        let uw = scenario("uw-imap.toml", false);
        assert!(
            uw.contains(" STARTTLS") && uw.contains("a BAD STARTTLS failed"),
            "{uw}"
        );
        assert!(uw.contains(&format!("RFC822.SIZE {} ", msg.len())), "{uw}");
        assert!(uw.contains("NIL NIL NIL NIL NIL \"<m@q>\"))"), "{uw}");
        // Cyrus: a default quota of 100 MiB.
        let cy = scenario("cyrus-imap.toml", false);
        assert!(cy.contains("* QUOTA \"\" (STORAGE 1 102400)"), "{cy}");
        assert!(cy.contains("\"<p@q>\" \"<m@q>\"))"), "{cy}");
        // Gmail: XLIST with \Inbox.
        let gm = scenario("gmail-imap.toml", true);
        assert!(
            gm.contains("* XLIST (\\Inbox \\HasNoChildren) \"/\" \"INBOX\""),
            "{gm}"
        );
    }

    #[test]
    fn gmail_labels_ids_and_raw_search() {
        let (mut h, d) = session(0);
        let thread = [
            "Message-ID: <root@x>\r\nFrom: Alice <a@x>\r\nSubject: plan\r\n\r\nbig news\r\n",
            "Message-ID: <re@x>\r\nReferences: <root@x>\r\nFrom: Bob <b@x>\r\n\r\nok\r\n",
        ];
        for m in thread {
            d.deliver("u", "INBOX", m.as_bytes().to_vec(), &[], (0, 0));
        }
        send(&mut h, "a SELECT INBOX");
        let r = send(&mut h, "b STORE 1 +X-GM-LABELS (\\Inbox Work)");
        assert_eq!(
            r,
            "* 1 FETCH (X-GM-LABELS (\\Inbox \"Work\"))\r\nb OK Store completed.\r\n"
        );
        let r = send(&mut h, "c FETCH 1:2 (X-GM-MSGID X-GM-THRID)");
        let ids: Vec<&str> = r.split_whitespace().collect();
        let thr: Vec<&&str> = ids.iter().filter(|w| w.ends_with(')')).collect();
        assert_eq!(thr.len(), 2);
        assert_eq!(thr[0], thr[1], "one thread: {r}");
        let msgid = super::super::gmail::msgid(thread[0].as_bytes());
        let r = send(&mut h, &format!("d SEARCH X-GM-MSGID {msgid}"));
        assert!(r.starts_with("* SEARCH 1\r\n"), "{r}");
        let r = send(
            &mut h,
            "e SEARCH X-GM-RAW \"label:work from:alice \\\"big news\\\"\"",
        );
        assert!(r.starts_with("* SEARCH 1\r\n"), "{r}");
        let r = send(&mut h, "f SEARCH X-GM-RAW \"-in:inbox\"");
        assert!(r.starts_with("* SEARCH 2\r\n"), "{r}");
        assert!(send(&mut h, "g SEARCH X-GM-RAW \"has:drive\"").starts_with("g BAD"));
        // COPY keeps the labels; -X-GM-LABELS removes one.
        send(&mut h, "h CREATE Other");
        send(&mut h, "i COPY 1 Other");
        send(&mut h, "j SELECT Other");
        assert!(send(&mut h, "k FETCH 1 X-GM-LABELS").contains("(\\Inbox \"Work\")"));
        let r = send(&mut h, "l STORE 1 -X-GM-LABELS work");
        assert!(r.starts_with("* 1 FETCH (X-GM-LABELS (\\Inbox))"), "{r}");
    }

    #[test]
    fn mailbox_names_are_modified_utf7_unless_utf8_accept_is_enabled() {
        let (mut h, d) = session(0);
        let mut u = ImapHandler::new(h.setup.clone(), &ConnInfo::default());
        send(&mut u, "a LOGIN u p");
        let no = "Mailbox name is not valid mUTF-7";
        for bad in [
            "\"Entw\u{fc}rfe\"",
            "\"a&AGE-b\"",
            "\"x&APw-&APw-\"",
            "\"open&APw\"",
        ] {
            let r = send(&mut h, &format!("c CREATE {bad}"));
            assert_eq!(r, format!("c NO {no}\r\n"), "{bad}");
        }
        assert!(send(&mut h, "c CREATE \"Entw&APw-rfe/a&-b\"").starts_with("c OK"));
        // stored in Unicode: what the control API and --load show
        assert!(d
            .lock()
            .account("u")
            .mailboxes
            .contains_key("Entw\u{fc}rfe/a&b"));
        let r = send(&mut h, "l LIST \"\" \"Entw&APw-*\"");
        assert!(
            r.contains("* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\"\r\n"),
            "{r}"
        );
        assert!(r.contains(" \"/\" \"Entw&APw-rfe/a&-b\"\r\n"), "{r}");
        let r = send(&mut h, "s STATUS \"Entw&APw-rfe/a&-b\" (MESSAGES)");
        assert!(
            r.starts_with("* STATUS \"Entw&APw-rfe/a&-b\" (MESSAGES 0)\r\n"),
            "{r}"
        );
        // a second session with UTF8=ACCEPT sees and names the same mailbox in UTF-8
        assert!(send(&mut u, "e ENABLE UTF8=ACCEPT").starts_with("* ENABLED UTF8=ACCEPT"));
        let r = send(&mut u, "l LIST \"\" \"Entw\u{fc}*\"");
        assert!(r.contains(" \"/\" \"Entw\u{fc}rfe/a&b\"\r\n"), "{r}");
        let r = send(&mut u, "a APPEND \"Entw\u{fc}rfe/a&b\" {1+}\r\nx");
        assert!(r.contains("a OK"), "{r}");
        let r = send(&mut h, "s STATUS \"Entw&APw-rfe/a&-b\" (MESSAGES)");
        assert!(
            r.starts_with("* STATUS \"Entw&APw-rfe/a&-b\" (MESSAGES 1)\r\n"),
            "{r}"
        );
        // with UTF8=ACCEPT a '&' is only a '&'
        assert!(send(&mut u, "c CREATE \"R&D\"").starts_with("c OK"));
        let r = send(&mut h, "l LIST \"\" R*");
        assert!(r.contains(" \"/\" \"R&-D\"\r\n"), "{r}");
    }

    #[test]
    fn utf8_accept_allows_append_utf8() {
        let (mut h, d) = session(0);
        let msg = "Subject: Grüße\r\n\r\nx\r\n";
        let append = format!("b APPEND INBOX UTF8 (~{{{}+}}\r\n{msg})", msg.len());
        assert!(send(&mut h, &append).starts_with("b BAD"));
        assert!(send(&mut h, "a ENABLE UTF8=ACCEPT").starts_with("* ENABLED UTF8=ACCEPT\r\n"));
        let r = send(&mut h, &append);
        assert!(r.contains("b OK [APPENDUID"), "{r}");
        let mut l = d.lock();
        let inbox = &l.account("u").mailboxes["INBOX"];
        assert_eq!(inbox.messages[0].data.as_slice(), msg.as_bytes());
    }

    #[test]
    fn qresync_params_parse() {
        let v = |s: &str| parse::request(format!("a X {s}").as_bytes()).map(|r| r.args[0].clone());
        let q = parse::qresync_params(&v("(67 90 1:9 (3,5 4,8))").unwrap()).unwrap();
        assert_eq!((q.uidvalidity, q.modseq), (67, 90));
        assert!(q.known.is_some_and(|k| k.contains(9, 9)) && q.seq_match.is_some());
        for bad in [
            "(0 1)",
            "(1)",
            "(1 2 x)",
            "(1 2 1:3 (1))",
            "(1 2 1 (1 1) 4)",
        ] {
            assert!(parse::qresync_params(&v(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_wildcards() {
        assert!(wildmatch("*", "a/b/c"));
        assert!(wildmatch("a/%", "a/b") && !wildmatch("a/%", "a/b/c"));
        assert!(wildmatch("%/%/*", "a/b/c/d") && !wildmatch("%/%/%", "a/b"));
        assert!(wildmatch("inbox", "INBOX") && wildmatch("INBOé*", "INBOé"));
        assert!(wildmatch("*b*c", "abxc") && !wildmatch("*b*c", "abx"));
        let hostile = "*%".repeat(200) + "x";
        assert!(!wildmatch(&hostile, &"a".repeat(200)));
    }
}
