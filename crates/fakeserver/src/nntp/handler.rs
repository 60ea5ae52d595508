//! One NNTP connection's state machine (RFC 3977 reader and transit commands, RFC 2980's
//! XOVER/XHDR/XPAT, RFC 4643 AUTHINFO USER/PASS, RFC 4642 STARTTLS). Pure: it implements
//! [`Handler`] over an [`NntpDaemon`], a [`Users`] directory and an [`NntpPersonality`].
//!
//! Per-connection state is the selected group, the current article number, the reader-mode
//! and authentication status, and whether a POST or IHAVE body is awaited (read by the
//! server in dot-terminated mode; a client that disconnects mid-article leaves nothing in the
//! daemon).

use super::daemon::{Article, NntpDaemon, PostError, PostRules};
use super::parse::{self, ArticleRef, Command, ListKind, ParseError, Part, Range, Target};
use super::personality::{NntpPersonality, OverviewFmt};
use super::wildmat;
use crate::auth::Users;
use crate::handler::{ConnInfo, Handler, Input, Output, ReadMode};
use std::sync::Arc;

enum Awaiting {
    Nothing,
    Post,
    Ihave(String),
}

/// An NNTP connection.
pub struct NntpHandler {
    daemon: Arc<NntpDaemon>,
    users: Arc<Users>,
    p: Arc<NntpPersonality>,
    group: Option<String>,
    current: Option<u64>,
    reader: bool,
    pending_user: Option<String>,
    user: Option<String>,
    awaiting: Awaiting,
    /// The selection and login before the last command, and an article it stored: what a
    /// fault that replaced its success with an error undoes ([`Handler::on_fault_reply`]).
    before: Before,
}

#[derive(Default)]
struct Before {
    group: Option<String>,
    current: Option<u64>,
    user: Option<String>,
    stored: Option<String>,
    /// A fault refused a POST/IHAVE start: read commands, not an article.
    read_lines: bool,
}

type Reply = Result<Output, String>;

fn one(s: impl Into<String>) -> Output {
    Output::line(s.into().into_bytes())
}

impl NntpHandler {
    pub fn new(
        daemon: Arc<NntpDaemon>,
        users: Arc<Users>,
        personality: Arc<NntpPersonality>,
    ) -> Self {
        NntpHandler {
            daemon,
            users,
            p: personality,
            group: None,
            current: None,
            reader: false,
            pending_user: None,
            user: None,
            awaiting: Awaiting::Nothing,
            before: Before::default(),
        }
    }

    /// The authenticated user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The selected group, if any.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    fn r(&self, key: &str, default: &str, vars: &[(&str, &str)]) -> String {
        self.p.reply(key, default, vars)
    }

    fn reader_ok(&self) -> bool {
        self.reader || !self.p.mode_reader_required
    }

    fn authinfo_offered(&self, conn: &ConnInfo) -> bool {
        self.p.authinfo && self.user.is_none() && (!self.p.auth_requires_tls || conn.tls)
    }

    fn starttls_offered(&self, conn: &ConnInfo) -> bool {
        self.p.starttls && conn.tls_available && !conn.tls && self.user.is_none()
    }

    fn capabilities(&self, conn: &ConnInfo) -> Output {
        let mut l: Vec<String> = vec!["101 Capability list:".into(), "VERSION 2".into()];
        if self.reader_ok() {
            l.push("READER".into());
            l.push("HDR".into());
            l.push("OVER MSGID".into());
            l.push("LIST ACTIVE ACTIVE.TIMES HEADERS NEWSGROUPS OVERVIEW.FMT".into());
            if self.p.newnews {
                l.push("NEWNEWS".into());
            }
            if self.p.posting {
                l.push("POST".into());
            }
        } else {
            l.push("MODE-READER".into());
            l.push("LIST ACTIVE NEWSGROUPS".into());
        }
        if self.p.ihave {
            l.push("IHAVE".into());
        }
        if self.authinfo_offered(conn) {
            l.push("AUTHINFO USER".into());
        }
        if self.starttls_offered(conn) {
            l.push("STARTTLS".into());
        }
        if let Some(i) = &self.p.implementation {
            l.push(format!("IMPLEMENTATION {i}"));
        }
        l.extend(self.p.capabilities.iter().cloned());
        l.push(".".into());
        Output::lines(l)
    }

    fn selected(&self) -> Result<String, String> {
        self.group
            .clone()
            .ok_or_else(|| self.r("no_group", "412 no newsgroup selected", &[]))
    }

    /// Resolve an article reference (and move the current article for a number).
    fn resolve(&mut self, r: &ArticleRef) -> Result<(u64, Arc<Article>), String> {
        match r {
            ArticleRef::MessageId(id) => self
                .daemon
                .article(id)
                .map(|a| (0, a))
                .ok_or_else(|| self.r("no_such_id", "430 no article with that message-id", &[])),
            ArticleRef::Number(n) => {
                let g = self.selected()?;
                let group = self
                    .daemon
                    .group(&g)
                    .ok_or("411 the selected newsgroup no longer exists")?;
                let a = group.articles.get(n).cloned().ok_or_else(|| {
                    self.r("no_such_number", "423 no article with that number", &[])
                })?;
                self.current = Some(*n);
                Ok((*n, a))
            }
            ArticleRef::Current => {
                let g = self.selected()?;
                let n = self
                    .current
                    .ok_or("420 current article number is invalid")?;
                let group = self
                    .daemon
                    .group(&g)
                    .ok_or("411 the selected newsgroup no longer exists")?;
                let a = group
                    .articles
                    .get(&n)
                    .cloned()
                    .ok_or("420 current article number is invalid")?;
                Ok((n, a))
            }
        }
    }

    /// The articles a range/message-id/current target names: (number or 0, article).
    fn targets(&mut self, t: &Target) -> Result<Vec<(u64, Arc<Article>)>, String> {
        match t {
            Target::MessageId(id) => self
                .resolve(&ArticleRef::MessageId(id.clone()))
                .map(|x| vec![x]),
            Target::Current => self.resolve(&ArticleRef::Current).map(|x| vec![x]),
            Target::Range(r) => {
                let g = self.selected()?;
                let group = self
                    .daemon
                    .group(&g)
                    .ok_or("411 the selected newsgroup no longer exists")?;
                let v: Vec<_> = in_range(&group.articles, r).collect();
                if v.is_empty() {
                    Err("423 no articles in that range".into())
                } else {
                    Ok(v)
                }
            }
        }
    }

    fn select(&mut self, name: &str) -> Result<(usize, u64, u64), String> {
        let g = self
            .daemon
            .group(name)
            .ok_or_else(|| self.r("no_such_group", "411 no such newsgroup", &[]))?;
        let (n, lo, hi) = g.stats();
        self.group = Some(name.to_string());
        self.current = if n > 0 { Some(lo) } else { None };
        Ok((n, lo, hi))
    }

    fn retrieve(&mut self, part: Part, r: &ArticleRef) -> Reply {
        let (n, a) = self.resolve(r)?;
        let id = &a.message_id;
        Ok(match part {
            Part::Stat => one(format!("223 {n} {id}")),
            Part::Article => block(format!("220 {n} {id} article follows"), &a.data),
            Part::Head => block(format!("221 {n} {id} headers follow"), a.head()),
            Part::Body => block(format!("222 {n} {id} body follows"), a.body()),
        })
    }

    fn step(&mut self, forward: bool) -> Reply {
        let g = self.selected()?;
        let cur = self
            .current
            .ok_or("420 current article number is invalid")?;
        let group = self
            .daemon
            .group(&g)
            .ok_or("411 the selected newsgroup no longer exists")?;
        let found = if forward {
            group.articles.range(cur + 1..).next()
        } else {
            group.articles.range(..cur).next_back()
        };
        match found {
            Some((n, a)) => {
                self.current = Some(*n);
                Ok(one(format!("223 {n} {} retrieved", a.message_id)))
            }
            None if forward => Err("421 no next article in this group".into()),
            None => Err("422 no previous article in this group".into()),
        }
    }

    fn overview_line(&self, n: u64, a: &Article) -> Vec<u8> {
        let f = |name: &str| clean(a.header(name).unwrap_or(""));
        let mut s = format!(
            "{n}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            f("Subject"),
            f("From"),
            f("Date"),
            clean(&a.message_id),
            f("References"),
            a.bytes(),
            a.lines()
        );
        if self.p.xref_in_overview {
            s.push_str(&format!("\tXref: {}", self.xref(a)));
        }
        s.into_bytes()
    }

    fn xref(&self, a: &Article) -> String {
        if let Some(x) = a.header("Xref") {
            return clean(x);
        }
        let locs: Vec<String> = self
            .daemon
            .locations(&a.message_id)
            .into_iter()
            .map(|(g, n)| format!("{g}:{n}"))
            .collect();
        format!("{} {}", self.p.hostname, locs.join(" "))
    }

    fn field_value(&self, a: &Article, field: &str) -> Option<String> {
        match field.to_ascii_lowercase().as_str() {
            ":bytes" | "bytes" if a.header("Bytes").is_none() => Some(a.bytes().to_string()),
            ":lines" | "lines" if a.header("Lines").is_none() => Some(a.lines().to_string()),
            "xref" if self.p.xref_in_overview => Some(self.xref(a)),
            _ => a.header(field.trim_start_matches(':')).map(clean),
        }
    }

    fn hdr_allowed(&self, field: &str) -> bool {
        self.p.hdr_fields.is_empty()
            || field.starts_with(':')
            || self
                .p
                .hdr_fields
                .iter()
                .any(|f| f.eq_ignore_ascii_case(field))
    }

    fn hdr(&mut self, field: &str, t: &Target, xhdr: bool) -> Reply {
        if !self.hdr_allowed(field) {
            return Err(format!("503 {field} is not in the header index"));
        }
        let by_id = matches!(t, Target::MessageId(_));
        let arts = self.targets(t)?;
        let mut lines = vec![if xhdr {
            format!("221 {field} fields follow")
        } else {
            "225 headers follow".into()
        }];
        for (n, a) in arts {
            let v = self.field_value(&a, field);
            let key = if by_id && xhdr {
                a.message_id.clone()
            } else {
                n.to_string()
            };
            lines.push(match (v, xhdr) {
                (Some(v), _) => format!("{key} {v}"),
                (None, true) => format!("{key} (none)"),
                (None, false) => format!("{key} "),
            });
        }
        lines.push(".".into());
        Ok(Output::lines(lines))
    }

    fn xpat(&mut self, field: &str, t: &Target, pattern: &str) -> Reply {
        if !self.hdr_allowed(field) {
            return Err(format!("503 {field} is not in the header index"));
        }
        let by_id = matches!(t, Target::MessageId(_));
        let arts = self.targets(t).or_else(|e| {
            if e.starts_with("423") {
                Ok(Vec::new())
            } else {
                Err(e)
            }
        })?;
        let mut lines = vec![format!("221 {field} matches follow")];
        for (n, a) in arts {
            if let Some(v) = self.field_value(&a, field) {
                if wildmat::matches(pattern, &v) {
                    let key = if by_id {
                        a.message_id.clone()
                    } else {
                        n.to_string()
                    };
                    lines.push(format!("{key} {v}"));
                }
            }
        }
        lines.push(".".into());
        Ok(Output::lines(lines))
    }

    fn list(&self, kind: &ListKind) -> Reply {
        let groups = self.daemon.groups();
        let pick = |w: &Option<String>| {
            groups
                .iter()
                .filter(|g| w.as_deref().is_none_or(|w| wildmat::matches(w, &g.name)))
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut lines: Vec<String> = Vec::new();
        match kind {
            ListKind::Active(w) => {
                lines.push("215 list of newsgroups follows".into());
                for g in pick(w) {
                    let (_, lo, hi) = g.stats();
                    lines.push(format!("{} {hi:010} {lo:010} {}", g.name, g.status.flag()));
                }
            }
            ListKind::Newsgroups(w) => {
                lines.push("215 descriptions follow".into());
                for g in pick(w) {
                    lines.push(format!("{}\t{}", g.name, g.description));
                }
            }
            ListKind::ActiveTimes(w) => {
                lines.push("215 group creations follow".into());
                for g in pick(w) {
                    lines.push(format!("{} {} fakeserver", g.name, g.created));
                }
            }
            ListKind::OverviewFmt => {
                lines.push("215 order of fields in overview database".into());
                lines.extend(
                    ["Subject:", "From:", "Date:", "Message-ID:", "References:"].map(String::from),
                );
                match self.p.overview_fmt {
                    OverviewFmt::Rfc3977 => lines.extend([":bytes", ":lines"].map(String::from)),
                    OverviewFmt::Rfc2980 => lines.extend(["Bytes:", "Lines:"].map(String::from)),
                }
                if self.p.xref_in_overview {
                    lines.push("Xref:full".into());
                }
            }
            ListKind::Headers => {
                lines.push("215 headers and metadata items supported".into());
                if self.p.hdr_fields.is_empty() {
                    lines.push(":".into());
                } else {
                    lines.extend(self.p.hdr_fields.iter().cloned());
                }
                lines.extend([":bytes", ":lines"].map(String::from));
            }
            ListKind::DistribPats => {
                return Err("503 no distribution patterns are maintained".into())
            }
            ListKind::Other(k) => return Err(format!("501 unknown LIST keyword {k}")),
        }
        lines.push(".".into());
        Ok(Output::lines(lines))
    }

    fn command(&mut self, cmd: Command, conn: &ConnInfo) -> Reply {
        use Command as C;
        let free = matches!(
            cmd,
            C::Capabilities
                | C::AuthinfoUser(_)
                | C::AuthinfoPass(_)
                | C::StartTls
                | C::Quit
                | C::Help
                | C::ModeReader
                | C::Date
        );
        if !free && self.p.auth_required && self.user.is_none() {
            return Err(self.r("auth_required", "480 authentication required", &[]));
        }
        let reader_cmd = matches!(
            cmd,
            C::Group(_)
                | C::ListGroup { .. }
                | C::Retrieve(..)
                | C::Next
                | C::Last
                | C::Over { .. }
                | C::Hdr { .. }
                | C::Xpat { .. }
                | C::NewNews { .. }
                | C::Post
        );
        if reader_cmd && !self.reader_ok() {
            return Err("502 transit service only; use MODE READER".into());
        }
        match cmd {
            C::Capabilities => Ok(self.capabilities(conn)),
            C::ModeReader => {
                self.reader = true;
                let default = if self.p.posting {
                    "200 reader mode, posting allowed"
                } else {
                    "201 reader mode, posting prohibited"
                };
                Ok(one(self.r("mode_reader", default, &[])))
            }
            C::ModeStream => Err("501 MODE STREAM is not supported".into()),
            C::Group(name) => {
                let (n, lo, hi) = self.select(&name)?;
                Ok(one(format!("211 {n} {lo} {hi} {name}")))
            }
            C::ListGroup { group, range } => {
                let name = match group {
                    Some(g) => g,
                    None => self.selected()?,
                };
                let (n, lo, hi) = self.select(&name)?;
                let g = self.daemon.group(&name).ok_or("411 no such newsgroup")?;
                let mut lines = vec![format!("211 {n} {lo} {hi} {name} list follows")];
                let all = Range { lo: 0, hi: None };
                lines.extend(
                    in_range(&g.articles, &range.unwrap_or(all)).map(|(k, _)| k.to_string()),
                );
                lines.push(".".into());
                Ok(Output::lines(lines))
            }
            C::Retrieve(part, r) => self.retrieve(part, &r),
            C::Next => self.step(true),
            C::Last => self.step(false),
            C::List(kind) => self.list(&kind),
            C::Over { target, .. } => {
                let arts = self.targets(&target)?;
                let mut lines = vec![b"224 overview information follows".to_vec()];
                lines.extend(arts.iter().map(|(n, a)| self.overview_line(*n, a)));
                lines.push(b".".to_vec());
                Ok(Output::lines(lines))
            }
            C::Hdr {
                field,
                target,
                xhdr,
            } => self.hdr(&field, &target, xhdr),
            C::Xpat {
                field,
                target,
                pattern,
            } => self.xpat(&field, &target, &pattern),
            C::NewGroups { when, .. } => {
                let t = when.unix();
                let mut lines = vec!["231 list of new newsgroups follows".to_string()];
                for g in self.daemon.groups().into_iter().filter(|g| g.created >= t) {
                    let (_, lo, hi) = g.stats();
                    lines.push(format!("{} {hi} {lo} {}", g.name, g.status.flag()));
                }
                lines.push(".".into());
                Ok(Output::lines(lines))
            }
            C::NewNews { wildmat: w, when } => {
                if !self.p.newnews {
                    return Err("502 NEWNEWS is not allowed".into());
                }
                let t = when.unix();
                let mut seen = std::collections::HashSet::new();
                let mut lines = vec!["230 list of new articles follows".to_string()];
                for g in self
                    .daemon
                    .groups()
                    .into_iter()
                    .filter(|g| wildmat::matches(&w, &g.name))
                {
                    for a in g.articles.values().filter(|a| a.arrived >= t) {
                        if seen.insert(a.message_id.clone()) {
                            lines.push(a.message_id.clone());
                        }
                    }
                }
                lines.push(".".into());
                Ok(Output::lines(lines))
            }
            C::Post => {
                if !self.p.posting {
                    return Err(self.r("posting_not_allowed", "440 posting not permitted", &[]));
                }
                self.awaiting = Awaiting::Post;
                Ok(one(self.r(
                    "post_send",
                    "340 send article to be posted; end with <CR-LF>.<CR-LF>",
                    &[],
                ))
                .then_read(ReadMode::DotTerminated))
            }
            C::Ihave(id) => {
                if !self.p.ihave {
                    return Err("502 IHAVE is not allowed".into());
                }
                if self.daemon.article(&id).is_some() {
                    return Err(self.r("ihave_unwanted", "435 article not wanted", &[]));
                }
                self.awaiting = Awaiting::Ihave(id);
                Ok(
                    one(self.r("ihave_send", "335 send it; end with <CR-LF>.<CR-LF>", &[]))
                        .then_read(ReadMode::DotTerminated),
                )
            }
            C::Date => {
                let (y, mo, d, h, mi, s, _) = super::daemon::civil(self.daemon.now());
                Ok(one(format!("111 {y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")))
            }
            C::AuthinfoUser(name) => {
                if !self.p.authinfo {
                    return Err("502 AUTHINFO is not available".into());
                }
                if self.user.is_some() {
                    return Err("502 already authenticated".into());
                }
                if self.p.auth_requires_tls && !conn.tls {
                    return Err("483 TLS required before AUTHINFO".into());
                }
                self.pending_user = Some(name);
                // AUTHINFO PASS is masked by `mask` (so it keeps its verb for fault schedules).
                Ok(one(self.r("auth_password", "381 password required", &[])))
            }
            C::AuthinfoPass(pass) => {
                if !self.p.authinfo {
                    return Err("502 AUTHINFO is not available".into());
                }
                if self.user.is_some() {
                    return Err("502 already authenticated".into());
                }
                let Some(user) = self.pending_user.take() else {
                    return Err("482 authentication commands issued out of sequence".into());
                };
                if self.users.check(&user, &String::from_utf8_lossy(&pass)) {
                    self.user = Some(user);
                    Ok(one(self.r("auth_ok", "281 authentication accepted", &[])))
                } else if self.p.drop_on_auth_failure {
                    Ok(one(self.r("auth_failed", "481 authentication failed", &[])).then_close())
                } else {
                    Err(self.r("auth_failed", "481 authentication failed", &[]))
                }
            }
            C::StartTls => {
                if conn.tls || self.user.is_some() {
                    return Err("502 STARTTLS not allowed now".into());
                }
                if !self.p.starttls || !conn.tls_available {
                    return Err("580 can not initiate TLS negotiation".into());
                }
                Ok(
                    one(self.r("starttls", "382 continue with TLS negotiation", &[]))
                        .then_start_tls(),
                )
            }
            C::Help => {
                let mut lines = vec!["100 help text follows".to_string()];
                lines.extend(self.p.help.iter().map(|h| {
                    if h.starts_with('.') {
                        format!(".{h}")
                    } else {
                        h.clone()
                    }
                }));
                lines.push(".".into());
                Ok(Output::lines(lines))
            }
            C::Quit => Ok(one(self.r("quit", "205 closing connection", &[])).then_close()),
        }
    }

    fn on_article(&mut self, block: &[u8]) -> Output {
        if self.p.max_size.is_some_and(|m| block.len() as u64 > m) {
            let conn = ConnInfo::default();
            return self.on_block_too_long(&conn);
        }
        match std::mem::replace(&mut self.awaiting, Awaiting::Nothing) {
            Awaiting::Post => {
                let rules = PostRules {
                    required: self.p.post_required.clone(),
                    hostname: self.p.hostname.clone(),
                };
                match self.daemon.post(block, &rules) {
                    Ok(id) => {
                        let reply =
                            self.r("post_ok", "240 article received ok {id}", &[("id", &id)]);
                        self.before.stored = Some(id);
                        one(reply)
                    }
                    Err(e) => one(self.r(
                        "post_failed",
                        "441 posting failed: {reason}",
                        &[("reason", &oneline(&e.to_string()))],
                    )),
                }
            }
            Awaiting::Ihave(id) => match self.daemon.ihave(&id, block) {
                Ok(()) => {
                    self.before.stored = Some(id);
                    one(self.r("ihave_ok", "235 article transferred ok", &[]))
                }
                Err(PostError::Duplicate(_)) => one(self.r(
                    "ihave_rejected",
                    "437 article rejected: {reason}",
                    &[("reason", "duplicate")],
                )),
                Err(e) => one(self.r(
                    "ihave_rejected",
                    "437 article rejected: {reason}",
                    &[("reason", &oneline(&e.to_string()))],
                )),
            },
            Awaiting::Nothing => one("500 unexpected data"),
        }
    }
}

fn in_range<'a>(
    arts: &'a std::collections::BTreeMap<u64, Arc<Article>>,
    r: &Range,
) -> impl Iterator<Item = (u64, Arc<Article>)> + 'a {
    let hi = r.hi.unwrap_or(u64::MAX);
    let lo = r.lo;
    (lo <= hi)
        .then(|| arts.range(lo..=hi))
        .into_iter()
        .flatten()
        .map(|(k, a)| (*k, a.clone()))
}

/// Header text for overview/HDR: tabs, CR and LF become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\r' | '\n') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn oneline(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// A status line, then `data`'s lines dot-stuffed, then the terminating `.`.
fn block(status: String, data: &[u8]) -> Output {
    let mut lines = vec![status.into_bytes()];
    let data = data.strip_suffix(b"\r\n").unwrap_or(data);
    if !data.is_empty() {
        for line in data.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut l = Vec::with_capacity(line.len() + 1);
            if line.first() == Some(&b'.') {
                l.push(b'.');
            }
            l.extend_from_slice(line);
            lines.push(l);
        }
    }
    lines.push(b".".to_vec());
    Output::lines(lines)
}

impl Handler for NntpHandler {
    fn on_startup(&mut self, _conn: &ConnInfo) -> Output {
        match &self.p.greeting {
            Some(g) => one(g.clone()),
            None if self.p.posting => one("200 fakeserver NNTP ready (posting ok)"),
            None => one("201 fakeserver NNTP ready (no posting)"),
        }
    }

    fn on_input(&mut self, input: Input<'_>, conn: &ConnInfo) -> Output {
        self.before = Before {
            group: self.group.clone(),
            current: self.current,
            user: self.user.clone(),
            ..Before::default()
        };
        let line = match input {
            Input::Block(b) | Input::Bytes(b) => return self.on_article(b),
            Input::Line(l) => l,
        };
        if !matches!(self.awaiting, Awaiting::Nothing) {
            // The server was asked for a block; a line here means it delivered the article
            // line by line: treat it as the whole (one-line) article.
            return self.on_article(line);
        }
        let cmd = match parse::parse_command(line) {
            Ok(c) => c,
            Err(ParseError::Unknown(_)) | Err(ParseError::Empty) => {
                return one(self.r("unknown", "500 unknown command", &[]))
            }
            Err(e) => return one(format!("501 {e}")),
        };
        match self.command(cmd, conn) {
            Ok(o) => o,
            Err(line) => one(line),
        }
    }

    fn verb(&self, line: &[u8]) -> Option<String> {
        parse::keyword(line)
    }

    fn mask(&self, line: &[u8]) -> Option<Vec<u8>> {
        let mut words = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|w| !w.is_empty());
        let (a, b) = (words.next()?, words.next()?);
        (a.eq_ignore_ascii_case(b"AUTHINFO") && b.eq_ignore_ascii_case(b"PASS"))
            .then(|| b"AUTHINFO PASS ****".to_vec())
    }

    /// A fault turned the reply into an error (4xx/5xx): the client saw the command fail, so
    /// its effect is undone — the group selection and current article, a login, a stored
    /// POST or IHAVE article.
    fn on_fault_reply(&mut self, reply: &str) {
        if !(reply.starts_with('4') || reply.starts_with('5')) {
            return;
        }
        let before = std::mem::take(&mut self.before);
        self.group = before.group;
        self.current = before.current;
        self.user = before.user;
        if let Some(id) = before.stored {
            self.daemon.remove_article(&id);
        }
        // A refused POST/IHAVE start means no article follows.
        if !matches!(
            std::mem::replace(&mut self.awaiting, Awaiting::Nothing),
            Awaiting::Nothing
        ) {
            self.before.read_lines = true;
        }
    }

    fn read_mode_after_fault(&self) -> Option<ReadMode> {
        self.before.read_lines.then_some(ReadMode::Line)
    }

    fn on_line_too_long(&mut self, _conn: &ConnInfo) -> Output {
        one("501 line too long")
    }

    fn on_block_too_long(&mut self, _conn: &ConnInfo) -> Output {
        match std::mem::replace(&mut self.awaiting, Awaiting::Nothing) {
            Awaiting::Ihave(_) => one("437 article too large"),
            _ => one("441 article too large"),
        }
    }

    fn on_idle_timeout(&mut self, _conn: &ConnInfo) -> Output {
        one("400 idle timeout, closing connection").then_close()
    }
}

#[cfg(test)]
mod tests {
    use super::super::daemon::Status;
    use super::*;

    use crate::scripted::{text, Session};

    /// A session of `d` with user fred (password pw) and `p`; and the greeting.
    fn start(d: &Arc<NntpDaemon>, p: NntpPersonality) -> (Session<NntpHandler>, String) {
        let creds = Arc::new(Users::strict([("fred", "pw")]));
        Session::start(NntpHandler::new(d.clone(), creds, Arc::new(p)))
    }

    fn daemon() -> Arc<NntpDaemon> {
        let d = NntpDaemon::new();
        d.set_clock(Some(1_000_000_000));
        d.add_group("misc.test", Status::Postable);
        d.add_group("alt.ro", Status::ReadOnly);
        d.add_group("empty", Status::Moderated);
        d.set_description("misc.test", "Testing").unwrap();
        d.add_article(b"From: a@b\nNewsgroups: misc.test,alt.ro\nSubject: one\nDate: x\nMessage-ID: <1@x>\n\nbody\n.dot\n").unwrap();
        d.add_article(b"From: c@d\nNewsgroups: misc.test\nSubject: two\tt\nMessage-ID: <2@x>\nReferences: <1@x>\n\nB\n").unwrap();
        d
    }

    #[test]
    fn group_navigation_and_retrieval() {
        let d = daemon();
        let (mut s, g) = start(&d, NntpPersonality::default());
        assert_eq!(g, "200 fakeserver NNTP ready (posting ok)\n");
        assert_eq!(s.s("ARTICLE"), "412 no newsgroup selected\n");
        assert_eq!(s.s("GROUP nope"), "411 no such newsgroup\n");
        assert_eq!(s.s("GROUP misc.test"), "211 2 1 2 misc.test\n");
        assert_eq!(s.s("STAT"), "223 1 <1@x>\n");
        assert_eq!(s.s("LAST"), "422 no previous article in this group\n");
        assert_eq!(s.s("NEXT"), "223 2 <2@x> retrieved\n");
        assert_eq!(s.s("NEXT"), "421 no next article in this group\n");
        assert_eq!(s.s("LAST"), "223 1 <1@x> retrieved\n");
        assert_eq!(s.s("BODY 1"), "222 1 <1@x> body follows\nbody\n..dot\n.\n");
        assert_eq!(s.s("HEAD 2"), "221 2 <2@x> headers follow\nFrom: c@d\nNewsgroups: misc.test\nSubject: two\tt\nMessage-ID: <2@x>\nReferences: <1@x>\n.\n");
        assert!(s
            .s("ARTICLE <2@x>")
            .starts_with("220 0 <2@x> article follows\nFrom: c@d\n"));
        assert_eq!(
            s.s("STAT"),
            "223 2 <2@x>\n",
            "a number moves the current article"
        );
        assert_eq!(s.s("STAT 3"), "423 no article with that number\n");
        assert_eq!(s.s("STAT <9@x>"), "430 no article with that message-id\n");
        assert_eq!(s.s("GROUP empty"), "211 0 1 0 empty\n");
        assert_eq!(s.s("NEXT"), "420 current article number is invalid\n");
        assert_eq!(
            s.s("LISTGROUP misc.test"),
            "211 2 1 2 misc.test list follows\n1\n2\n.\n"
        );
        assert_eq!(
            s.s("LISTGROUP misc.test 2-"),
            "211 2 1 2 misc.test list follows\n2\n.\n"
        );
        assert_eq!(s.s("QUIT"), "205 closing connection\n");
    }

    #[test]
    fn lists_over_hdr_xpat() {
        let d = daemon();
        let (mut s, _) = start(&d, NntpPersonality::default());
        assert_eq!(
            s.s("LIST"),
            "215 list of newsgroups follows\nalt.ro 0000000001 0000000001 n\nempty 0000000000 0000000001 m\nmisc.test 0000000002 0000000001 y\n.\n"
        );
        assert_eq!(
            s.s("LIST ACTIVE m*"),
            "215 list of newsgroups follows\nmisc.test 0000000002 0000000001 y\n.\n"
        );
        assert_eq!(
            s.s("LIST NEWSGROUPS misc.*"),
            "215 descriptions follow\nmisc.test\tTesting\n.\n"
        );
        assert!(s.s("LIST OVERVIEW.FMT").contains("\n:bytes\n:lines\n.\n"));
        assert_eq!(
            s.s("LIST DISTRIB.PATS"),
            "503 no distribution patterns are maintained\n"
        );
        assert_eq!(s.s("LIST BOGUS"), "501 unknown LIST keyword BOGUS\n");
        assert_eq!(s.s("OVER"), "412 no newsgroup selected\n");
        s.s("GROUP misc.test");
        let a1 = d.article("<1@x>").unwrap();
        assert_eq!(
            s.s("XOVER 1-2"),
            format!("224 overview information follows\n1\tone\ta@b\tx\t<1@x>\t\t{}\t2\n2\ttwo t\tc@d\t\t<2@x>\t<1@x>\t{}\t1\n.\n", a1.bytes(), d.article("<2@x>").unwrap().bytes())
        );
        assert_eq!(s.s("OVER 5-"), "423 no articles in that range\n");
        assert!(s
            .s("OVER <2@x>")
            .starts_with("224 overview information follows\n0\ttwo"));
        assert_eq!(
            s.s("HDR Subject 1-"),
            "225 headers follow\n1 one\n2 two t\n.\n"
        );
        assert_eq!(
            s.s("HDR References 1-"),
            "225 headers follow\n1 \n2 <1@x>\n.\n"
        );
        assert_eq!(
            s.s("XHDR References 1-"),
            "221 References fields follow\n1 (none)\n2 <1@x>\n.\n"
        );
        assert_eq!(
            s.s("XHDR subject <1@x>"),
            "221 subject fields follow\n<1@x> one\n.\n"
        );
        assert_eq!(s.s("HDR :lines 2"), "225 headers follow\n2 1\n.\n");
        assert_eq!(
            s.s("XPAT Subject 1- t*"),
            "221 Subject matches follow\n2 two t\n.\n"
        );
        assert_eq!(
            s.s("XPAT From 1- *@b"),
            "221 From matches follow\n1 a@b\n.\n"
        );
        assert_eq!(s.s("XPAT From 7- *"), "221 From matches follow\n.\n");
    }

    #[test]
    fn personalities_change_overview_and_hdr() {
        let d = daemon();
        let p = NntpPersonality {
            overview_fmt: OverviewFmt::Rfc2980,
            xref_in_overview: true,
            hdr_fields: vec!["Subject".into()],
            ..NntpPersonality::default()
        };
        let (mut s, _) = start(&d, p);
        assert!(s
            .s("LIST OVERVIEW.FMT")
            .ends_with("Bytes:\nLines:\nXref:full\n.\n"));
        s.s("GROUP misc.test");
        assert!(s
            .s("OVER 1")
            .ends_with("\tXref: fakeserver.test alt.ro:1 misc.test:1\n.\n"));
        assert_eq!(s.s("XHDR From 1"), "503 From is not in the header index\n");
        assert_eq!(
            s.s("XHDR Subject 1"),
            "221 Subject fields follow\n1 one\n.\n"
        );
    }

    #[test]
    fn post_and_ihave() {
        let d = daemon();
        let (mut s, _) = start(&d, NntpPersonality::default());
        let o = s.say("POST");
        assert_eq!(o.next, ReadMode::DotTerminated);
        assert_eq!(
            text(&o),
            "340 send article to be posted; end with <CR-LF>.<CR-LF>\n"
        );
        let r = text(&s.h.on_input(
            Input::Block(b"From: me@x\r\nNewsgroups: misc.test\r\nSubject: new\r\n\r\nhello\r\n"),
            &s.conn,
        ));
        assert!(r.starts_with("240 article received ok <fakeserver."), "{r}");
        assert_eq!(d.group("misc.test").unwrap().stats(), (3, 1, 3));
        s.s("POST");
        let r = text(&s.h.on_input(
            Input::Block(b"From: me@x\r\nNewsgroups: alt.ro\r\nSubject: new\r\n\r\nhello\r\n"),
            &s.conn,
        ));
        assert_eq!(r, "441 posting failed: posting to alt.ro is not allowed\n");
        assert_eq!(s.s("IHAVE <1@x>"), "435 article not wanted\n");
        assert_eq!(
            text(&s.say("IHAVE <7@x>")),
            "335 send it; end with <CR-LF>.<CR-LF>\n"
        );
        let r = text(&s.h.on_input(
            Input::Block(b"Message-ID: <7@x>\r\nNewsgroups: misc.test\r\n\r\nx\r\n"),
            &s.conn,
        ));
        assert_eq!(r, "235 article transferred ok\n");
        s.s("IHAVE <8@x>");
        let r = text(&s.h.on_input(Input::Block(b"garbage without headers\r\n"), &s.conn));
        assert!(r.starts_with("437 article rejected"), "{r}");
        let (mut ro, g) = start(
            &d,
            NntpPersonality {
                posting: false,
                ..NntpPersonality::default()
            },
        );
        assert!(g.starts_with("201 "));
        assert_eq!(ro.s("POST"), "440 posting not permitted\n");
    }

    #[test]
    fn dates_newgroups_newnews() {
        let d = daemon();
        let (mut s, _) = start(&d, NntpPersonality::default());
        assert_eq!(s.s("DATE"), "111 20010909014640\n");
        assert_eq!(
            s.s("NEWGROUPS 20010909 014640 GMT"),
            "231 list of new newsgroups follows\nalt.ro 1 1 n\nempty 0 1 m\nmisc.test 2 1 y\n.\n"
        );
        assert_eq!(
            s.s("NEWGROUPS 20010909 014641 GMT"),
            "231 list of new newsgroups follows\n.\n"
        );
        assert_eq!(
            s.s("NEWNEWS * 20010101 000000 GMT"),
            "230 list of new articles follows\n<1@x>\n<2@x>\n.\n"
        );
        assert_eq!(
            s.s("NEWNEWS alt.* 20010101 000000 GMT"),
            "230 list of new articles follows\n<1@x>\n.\n"
        );
        assert_eq!(
            s.s("NEWNEWS * 20020101 000000 GMT"),
            "230 list of new articles follows\n.\n"
        );
        assert_eq!(
            s.s("NEWNEWS * 20021301 000000 GMT"),
            "501 NEWNEWS: invalid date or time\n"
        );
    }

    #[test]
    fn authinfo_and_starttls() {
        let d = daemon();
        let p = NntpPersonality {
            auth_required: true,
            ..NntpPersonality::default()
        };
        let (mut s, _) = start(&d, p);
        assert!(s.s("CAPABILITIES").contains("\nAUTHINFO USER\nSTARTTLS\n"));
        assert_eq!(s.s("GROUP misc.test"), "480 authentication required\n");
        assert_eq!(
            s.s("AUTHINFO PASS pw"),
            "482 authentication commands issued out of sequence\n"
        );
        assert!(!s.say("AUTHINFO USER fred").mask_next_input);
        assert_eq!(
            s.h.mask(b"authinfo pass pw"),
            Some(b"AUTHINFO PASS ****".to_vec())
        );
        assert_eq!(s.s("AUTHINFO PASS bad"), "481 authentication failed\n");
        s.s("AUTHINFO USER fred");
        assert_eq!(s.s("AUTHINFO PASS pw"), "281 authentication accepted\n");
        assert_eq!(s.s("AUTHINFO USER fred"), "502 already authenticated\n");
        assert_eq!(s.s("GROUP misc.test"), "211 2 1 2 misc.test\n");
        assert_eq!(s.s("STARTTLS"), "502 STARTTLS not allowed now\n");
        let (mut t, _) = start(
            &d,
            NntpPersonality {
                auth_requires_tls: true,
                ..NntpPersonality::default()
            },
        );
        assert_eq!(
            t.s("AUTHINFO USER fred"),
            "483 TLS required before AUTHINFO\n"
        );
        assert!(t.say("STARTTLS").start_tls);
        t.conn.tls = true;
        assert!(!t.s("CAPABILITIES").contains("STARTTLS"));
        assert_eq!(t.s("AUTHINFO USER fred"), "381 password required\n");
        let (mut o, _) = start(&d, NntpPersonality::default());
        o.conn.tls_available = false;
        assert_eq!(o.s("STARTTLS"), "580 can not initiate TLS negotiation\n");
    }

    #[test]
    fn a_faulted_reply_undoes_selection_login_and_posts() {
        let d = daemon();
        let (mut s, _) = start(&d, NntpPersonality::default());
        s.s("GROUP misc.test");
        s.s("NEXT");
        s.h.on_fault_reply("400 fault");
        assert_eq!(
            s.s("STAT"),
            "223 1 <1@x>\n",
            "NEXT did not happen for the client"
        );
        s.s("GROUP alt.ro");
        s.h.on_fault_reply("503 fault");
        assert_eq!(s.h.group(), Some("misc.test"));
        s.s("AUTHINFO USER fred");
        s.s("AUTHINFO PASS pw");
        s.h.on_fault_reply("481 fault");
        assert_eq!(s.h.user(), None);
        s.s("POST");
        let r = text(&s.h.on_input(Input::Block(b"From: a@b\r\nNewsgroups: misc.test\r\nSubject: s\r\nMessage-ID: <f@x>\r\n\r\nx\r\n"), &s.conn));
        assert!(r.starts_with("240"), "{r}");
        s.h.on_fault_reply("441 fault");
        assert!(
            d.article("<f@x>").is_none(),
            "the client was told the POST failed"
        );
        let o = s.say("POST");
        s.h.on_fault_reply("440 no");
        assert_eq!(o.next, ReadMode::DotTerminated);
        assert_eq!(s.h.read_mode_after_fault(), Some(ReadMode::Line));
        assert_eq!(
            s.s("DATE").get(..4),
            Some("111 "),
            "a refused POST start reads commands again"
        );
    }

    #[test]
    fn mode_reader_and_bad_input() {
        let d = daemon();
        let (mut s, _) = start(
            &d,
            NntpPersonality {
                mode_reader_required: true,
                ..NntpPersonality::default()
            },
        );
        assert!(s.s("CAPABILITIES").contains("MODE-READER"));
        assert_eq!(
            s.s("GROUP misc.test"),
            "502 transit service only; use MODE READER\n"
        );
        assert_eq!(s.s("MODE READER"), "200 reader mode, posting allowed\n");
        assert!(s.s("CAPABILITIES").contains("\nREADER\n"));
        assert_eq!(s.s("GROUP misc.test"), "211 2 1 2 misc.test\n");
        assert_eq!(s.s("FOO"), "500 unknown command\n");
        assert_eq!(s.s("GROUP"), "501 GROUP: usage: GROUP newsgroup\n");
        assert_eq!(
            text(&s.h.on_input(Input::Line(b"\0\xff\xfe"), &s.conn)),
            "500 unknown command\n"
        );
        assert_eq!(
            text(&s.h.on_input(Input::Line(b"GROUP \xff"), &s.conn)),
            "501 GROUP: argument is not valid UTF-8\n"
        );
        assert!(s.s("HELP").starts_with("100 help text follows\n"));
    }
}
