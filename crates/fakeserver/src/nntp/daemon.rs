//! The NNTP daemon: newsgroups (postable status, description, creation time, article
//! numbers with low/high water marks) and articles by Message-ID, shared by every connection
//! and changeable while the server runs. Articles are numbered per group and numbers are
//! never reused (a removed article leaves a gap, as on a real server).
//!
//! Articles come from the API, from POST and IHAVE, or from `--load DIR` (one folder of
//! messages per newsgroup, numbered in file-name order; a crossposted article — same
//! Message-ID in several folders — is stored once). The clock used for DATE, NEWGROUPS and
//! NEWNEWS can be fixed for reproducible transcripts.

use super::parse::message_id;
use crate::mailfiles;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A group's posting status, as LIST ACTIVE shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `y`: posting allowed.
    Postable,
    /// `n`: no posting.
    ReadOnly,
    /// `m`: moderated (posts are accepted as a moderator would, here: stored).
    Moderated,
}

impl Status {
    pub fn flag(self) -> char {
        match self {
            Status::Postable => 'y',
            Status::ReadOnly => 'n',
            Status::Moderated => 'm',
        }
    }
}

/// One article: its text and what overview and HDR need, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub message_id: String,
    /// The whole article, CRLF line ends, ending in CRLF.
    pub data: Arc<[u8]>,
    /// Byte offset of the body (after the empty line), `data.len()` if there is none.
    body_start: usize,
    /// Unfolded header fields in order: (name as written, value without leading space).
    pub headers: Vec<(String, String)>,
    /// When it arrived (Unix seconds), for NEWNEWS.
    pub arrived: i64,
}

impl Article {
    /// Parse `raw` (any line ends). A missing Message-ID is an error here; [`NntpDaemon`]
    /// adds one before calling this where that is the right thing to do.
    pub fn parse(raw: &[u8], arrived: i64) -> Result<Article> {
        let data: Arc<[u8]> = mailfiles::to_crlf(raw).into();
        let (headers, body_start) = parse_headers(&data);
        let mid = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
            .map(|(_, v)| v.trim().to_string())
            .context("the article has no Message-ID header")?;
        if message_id(mid.as_bytes()).is_none() {
            bail!("invalid Message-ID {mid:?}");
        }
        Ok(Article {
            message_id: mid,
            data,
            body_start,
            headers,
            arrived,
        })
    }

    /// The first header field of that name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header block, without the empty separator line.
    pub fn head(&self) -> &[u8] {
        let h = &self.data[..self.body_start];
        if h.ends_with(b"\r\n\r\n") {
            &h[..h.len() - 2]
        } else {
            h
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.data[self.body_start..]
    }

    /// `:bytes` — the article's size in octets (CRLF counted as two).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// `:lines` — the body's line count.
    pub fn lines(&self) -> usize {
        self.body().split(|b| *b == b'\n').count().saturating_sub(1)
    }

    /// The newsgroups it names (its Newsgroups header, split on commas).
    pub fn newsgroups(&self) -> Vec<String> {
        self.header("Newsgroups")
            .map(|v| {
                v.split(',')
                    .map(|g| g.trim().to_string())
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Unfold the header block of a CRLF message: (fields, body offset).
fn parse_headers(data: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(data.len(), |i| pos + i);
        let line = &data[pos..end];
        let next = (end + 2).min(data.len());
        if line.is_empty() {
            return (fields, next);
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(text.trim());
            }
        } else if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim_end().to_string(), value.trim().to_string()));
        }
        pos = next;
    }
    (fields, data.len())
}

/// One newsgroup.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub status: Status,
    pub description: String,
    pub created: i64,
    pub articles: BTreeMap<u64, Arc<Article>>,
    /// The number the next article gets.
    pub next: u64,
}

impl Group {
    /// A new empty group created at `created`, numbering from 1.
    fn new(name: &str, status: Status, created: i64) -> Group {
        Group {
            name: name.to_string(),
            status,
            description: String::new(),
            created,
            articles: BTreeMap::new(),
            next: 1,
        }
    }

    /// (count, low, high) as GROUP reports them: an empty group has low = high + 1.
    pub fn stats(&self) -> (usize, u64, u64) {
        match (
            self.articles.keys().next(),
            self.articles.keys().next_back(),
        ) {
            (Some(lo), Some(hi)) => (self.articles.len(), *lo, *hi),
            _ => (0, self.next, self.next - 1),
        }
    }
}

/// Why a POST or IHAVE was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("{0}")]
    Rejected(String),
    #[error("duplicate article {0}")]
    Duplicate(String),
}

#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<String, Group>,
    by_id: HashMap<String, Arc<Article>>,
    clock: Option<i64>,
}

/// The newsgroups of a run. Cheap to share (`Arc`); every method takes `&self`.
#[derive(Debug, Default)]
pub struct NntpDaemon {
    state: Mutex<State>,
    serial: AtomicU64,
}

/// What the daemon requires of a posted article.
#[derive(Debug, Clone)]
pub struct PostRules {
    /// Headers that must be present (INN: From, Subject, Newsgroups).
    pub required: Vec<String>,
    /// Host for generated Message-IDs and the Path header.
    pub hostname: String,
}

impl NntpDaemon {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The daemon's clock (Unix seconds): fixed with [`NntpDaemon::set_clock`], else real.
    pub fn now(&self) -> i64 {
        self.state().clock.unwrap_or_else(real_now)
    }

    /// Fix the clock (`Some`) or go back to real time (`None`).
    pub fn set_clock(&self, t: Option<i64>) {
        self.state().clock = t;
    }

    /// Add (or reset, if it exists) a group.
    pub fn add_group(&self, name: &str, status: Status) {
        let now = self.now();
        let g = Group::new(name, status, now);
        self.state().groups.insert(name.to_string(), g);
    }

    /// Add a group unless it exists.
    pub fn ensure_group(&self, name: &str, status: Status) {
        let now = self.now();
        self.state()
            .groups
            .entry(name.to_string())
            .or_insert_with(|| Group::new(name, status, now));
    }

    pub fn set_description(&self, group: &str, text: &str) -> Result<()> {
        match self.state().groups.get_mut(group) {
            Some(g) => {
                g.description = text.to_string();
                Ok(())
            }
            None => bail!("no such newsgroup {group}"),
        }
    }

    /// A copy of a group (articles are shared).
    pub fn group(&self, name: &str) -> Option<Group> {
        self.state().groups.get(name).cloned()
    }

    /// Every group, in name order.
    pub fn groups(&self) -> Vec<Group> {
        self.state().groups.values().cloned().collect()
    }

    pub fn article(&self, message_id: &str) -> Option<Arc<Article>> {
        self.state().by_id.get(message_id).cloned()
    }

    /// Every group and number an article is filed under.
    pub fn locations(&self, message_id: &str) -> Vec<(String, u64)> {
        let st = self.state();
        st.groups
            .values()
            .filter_map(|g| {
                g.articles
                    .iter()
                    .find(|(_, a)| a.message_id == message_id)
                    .map(|(n, _)| (g.name.clone(), *n))
            })
            .collect()
    }

    /// File an article (parsed, with a Message-ID) in every existing group its Newsgroups
    /// header names; returns the groups and numbers it got. Groups that do not exist are
    /// skipped; none existing is an error.
    pub fn add_article(&self, raw: &[u8]) -> Result<Vec<(String, u64)>> {
        let now = self.now();
        let art = Arc::new(Article::parse(raw, now)?);
        let mut st = self.state();
        if st.by_id.contains_key(&art.message_id) {
            bail!("an article with Message-ID {} exists", art.message_id);
        }
        let mut filed = Vec::new();
        for name in art.newsgroups() {
            if let Some(g) = st.groups.get_mut(&name) {
                let n = g.next;
                g.next += 1;
                g.articles.insert(n, art.clone());
                filed.push((name, n));
            }
        }
        if filed.is_empty() {
            bail!(
                "none of the article's newsgroups ({}) exists",
                art.newsgroups().join(",")
            );
        }
        st.by_id.insert(art.message_id.clone(), art);
        Ok(filed)
    }

    /// File an article under a given number of a given group (tests of sparse numbering).
    /// The same Message-ID may be filed in several groups this way.
    pub fn add_article_to_group(&self, raw: &[u8], group: &str, number: u64) -> Result<()> {
        let now = self.now();
        let mut st = self.state();
        let art = match Article::parse(raw, now) {
            Ok(a) => st
                .by_id
                .get(&a.message_id)
                .cloned()
                .unwrap_or_else(|| Arc::new(a)),
            Err(e) => return Err(e),
        };
        let g = st
            .groups
            .get_mut(group)
            .with_context(|| format!("no such newsgroup {group}"))?;
        if number == 0 || g.articles.contains_key(&number) {
            bail!("article number {number} is zero or taken in {group}");
        }
        g.articles.insert(number, art.clone());
        g.next = g.next.max(number + 1);
        st.by_id.insert(art.message_id.clone(), art);
        Ok(())
    }

    /// Remove an article from every group (its numbers are not reused).
    pub fn remove_article(&self, message_id: &str) -> bool {
        let mut st = self.state();
        for g in st.groups.values_mut() {
            g.articles.retain(|_, a| a.message_id != message_id);
        }
        st.by_id.remove(message_id).is_some()
    }

    /// Forget every group and article.
    pub fn reset(&self) {
        let mut st = self.state();
        st.groups.clear();
        st.by_id.clear();
    }

    /// File `raw` under the next number of `group` (created postable if missing), adding a
    /// Message-ID if it has none; an article already known by its Message-ID is filed again
    /// (crossposting). Returns (Message-ID, number).
    pub fn file_in(&self, group: &str, raw: &[u8]) -> Result<(String, u64)> {
        if group.is_empty() || group.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("invalid newsgroup name {group:?}");
        }
        self.ensure_group(group, Status::Postable);
        let raw = self.with_message_id(raw, "fakeserver.test");
        let mut st = self.state();
        let now = st.clock.unwrap_or_else(real_now);
        let art = Article::parse(&raw, now)?;
        let art = st
            .by_id
            .get(&art.message_id)
            .cloned()
            .unwrap_or_else(|| Arc::new(art));
        let g = st.groups.get_mut(group).context("the group vanished")?;
        let num = g.next;
        g.next += 1;
        g.articles.insert(num, art.clone());
        let id = art.message_id.clone();
        st.by_id.insert(id.clone(), art);
        Ok((id, num))
    }

    /// Load `dir`: one folder (maildir, folder of messages or mbox) per newsgroup, created
    /// postable; its messages filed under that group in order, with a Message-ID made up for
    /// those without one. Returns the number of articles filed.
    pub fn load_dir(&self, dir: &Path) -> Result<usize> {
        let tree = mailfiles::load_tree(dir)
            .with_context(|| format!("loading newsgroups from {}", dir.display()))?;
        let mut n = 0;
        for (group, msgs) in tree {
            self.ensure_group(&group, Status::Postable);
            for m in msgs {
                self.file_in(&group, &m.data)
                    .with_context(|| format!("{}", m.source.display()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// `raw` with a Message-ID header prepended if it has none.
    fn with_message_id(&self, raw: &[u8], host: &str) -> Vec<u8> {
        let (headers, _) = parse_headers(&mailfiles::to_crlf(raw));
        if headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
        {
            return raw.to_vec();
        }
        let n = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let mut out = format!(
            "Message-ID: <fakeserver.{n}.{}@{host}>\r\n",
            std::process::id()
        )
        .into_bytes();
        out.extend_from_slice(raw);
        out
    }

    /// POST: check the article, add Message-ID, Date and Path when missing, file it.
    pub fn post(&self, raw: &[u8], rules: &PostRules) -> Result<String, PostError> {
        let crlf = mailfiles::to_crlf(raw);
        let (headers, body_start) = parse_headers(&crlf);
        if body_start >= crlf.len() && !crlf.ends_with(b"\r\n\r\n") && headers.is_empty() {
            return Err(PostError::Rejected("the article has no header".into()));
        }
        for req in &rules.required {
            if !headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(req) && !v.is_empty())
            {
                return Err(PostError::Rejected(format!("missing {req} header")));
            }
        }
        let mut extra = String::new();
        let now = self.now();
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
        {
            let n = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
            extra.push_str(&format!(
                "Message-ID: <fakeserver.{n}.{now}@{}>\r\n",
                rules.hostname
            ));
        }
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("Date")) {
            extra.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
        }
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("Path")) {
            extra.push_str(&format!("Path: {}!not-for-mail\r\n", rules.hostname));
        }
        let mut full = extra.into_bytes();
        full.extend_from_slice(&crlf);
        let art = Article::parse(&full, now).map_err(|e| PostError::Rejected(e.to_string()))?;
        let groups = art.newsgroups();
        if groups.is_empty() {
            return Err(PostError::Rejected("no newsgroups given".into()));
        }
        {
            let st = self.state();
            if st.by_id.contains_key(&art.message_id) {
                return Err(PostError::Duplicate(art.message_id.clone()));
            }
            for g in &groups {
                match st.groups.get(g) {
                    None => return Err(PostError::Rejected(format!("no such newsgroup {g}"))),
                    Some(gr) if gr.status == Status::ReadOnly => {
                        return Err(PostError::Rejected(format!(
                            "posting to {g} is not allowed"
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        let mid = art.message_id.clone();
        self.add_article(&full)
            .map_err(|e| PostError::Rejected(e.to_string()))?;
        Ok(mid)
    }

    /// IHAVE: the article must carry the offered Message-ID and not be known; groups it names
    /// that do not exist are skipped (a transit server files what it carries).
    pub fn ihave(&self, offered: &str, raw: &[u8]) -> Result<(), PostError> {
        let art =
            Article::parse(raw, self.now()).map_err(|e| PostError::Rejected(e.to_string()))?;
        if art.message_id != offered {
            return Err(PostError::Rejected(format!(
                "Message-ID {} is not the offered {offered}",
                art.message_id
            )));
        }
        if self.article(offered).is_some() {
            return Err(PostError::Duplicate(offered.to_string()));
        }
        self.add_article(raw)
            .map(|_| ())
            .map_err(|e| PostError::Rejected(e.to_string()))
    }
}

fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// (year, month, day, hour, minute, second, weekday 0=Sunday) of a Unix time, UTC.
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = (days + 4).rem_euclid(7) as u32;
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        ((secs / 60) % 60) as u32,
        (secs % 60) as u32,
        wd,
    )
}

/// `Tue, 01 Dec 2026 10:15:03 +0000`
pub fn rfc5322_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = civil(t);
    format!(
        "{}, {d:02} {} {y} {h:02}:{mi:02}:{s:02} +0000",
        DAYS[wd as usize],
        MONTHS[(mo - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A1: &[u8] = b"From: a@b\nNewsgroups: misc.test,alt.test\nSubject: one\nMessage-ID: <1@x>\nReferences: <0@x>\n  <00@x>\n\nbody\nline 2\n";

    #[test]
    fn articles_parse() {
        let a = Article::parse(A1, 0).unwrap();
        assert_eq!(a.message_id, "<1@x>");
        assert_eq!(a.header("references"), Some("<0@x> <00@x>"));
        assert_eq!(a.newsgroups(), vec!["misc.test", "alt.test"]);
        assert_eq!(a.body(), b"body\r\nline 2\r\n");
        assert!(a.head().ends_with(b"<00@x>\r\n"));
        assert_eq!(a.lines(), 2);
        assert_eq!(a.bytes(), a.data.len());
        assert!(Article::parse(b"Subject: x\n\nno id\n", 0).is_err());
        assert!(Article::parse(b"Message-ID: nope\n\n", 0).is_err());
    }

    #[test]
    fn groups_and_numbers() {
        let d = NntpDaemon::new();
        d.add_group("misc.test", Status::Postable);
        assert_eq!(d.group("misc.test").unwrap().stats(), (0, 1, 0));
        assert_eq!(
            d.add_article(A1).unwrap(),
            vec![("misc.test".to_string(), 1)]
        );
        assert!(d.add_article(A1).is_err());
        d.add_article_to_group(b"Message-ID: <5@x>\n\nx\n", "misc.test", 10)
            .unwrap();
        assert_eq!(d.group("misc.test").unwrap().stats(), (2, 1, 10));
        assert!(d.remove_article("<1@x>"));
        assert_eq!(d.group("misc.test").unwrap().stats(), (1, 10, 10));
        d.remove_article("<5@x>");
        assert_eq!(d.group("misc.test").unwrap().stats(), (0, 11, 10));
        assert!(d
            .add_article(b"Message-ID: <9@x>\nNewsgroups: nowhere\n\n")
            .is_err());
    }

    #[test]
    fn posting() {
        let d = NntpDaemon::new();
        d.set_clock(Some(930_182_400));
        d.add_group("misc.test", Status::Postable);
        d.add_group("ro", Status::ReadOnly);
        let rules = PostRules {
            required: vec!["From".into(), "Subject".into(), "Newsgroups".into()],
            hostname: "h.test".into(),
        };
        let mid = d
            .post(
                b"From: a@b\nNewsgroups: misc.test\nSubject: hi\n\nbody\n",
                &rules,
            )
            .unwrap();
        let a = d.article(&mid).unwrap();
        assert_eq!(a.header("Date"), Some("Thu, 24 Jun 1999 00:00:00 +0000"));
        assert_eq!(a.header("Path"), Some("h.test!not-for-mail"));
        assert!(
            matches!(d.post(b"From: a@b\nNewsgroups: misc.test\n\nbody\n", &rules), Err(PostError::Rejected(m)) if m.contains("Subject"))
        );
        assert!(d
            .post(b"From: a@b\nNewsgroups: ro\nSubject: s\n\nx\n", &rules)
            .is_err());
        assert!(d
            .post(b"From: a@b\nNewsgroups: nope\nSubject: s\n\nx\n", &rules)
            .is_err());
        assert!(d
            .post(
                b"From: a@b\nNewsgroups: misc.test\nSubject: s\nMessage-ID: <1@x>\n\nx\n",
                &rules
            )
            .is_ok());
        assert!(matches!(
            d.post(
                b"From: a@b\nNewsgroups: misc.test\nSubject: s\nMessage-ID: <1@x>\n\nx\n",
                &rules
            ),
            Err(PostError::Duplicate(_))
        ));
        assert!(d
            .ihave("<2@x>", b"Message-ID: <2@x>\nNewsgroups: misc.test\n\nx\n")
            .is_ok());
        assert!(matches!(
            d.ihave("<2@x>", b"Message-ID: <2@x>\nNewsgroups: misc.test\n\nx\n"),
            Err(PostError::Duplicate(_))
        ));
        assert!(d
            .ihave("<3@x>", b"Message-ID: <4@x>\nNewsgroups: misc.test\n\nx\n")
            .is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(civil(1_796_120_103), (2026, 12, 1, 10, 15, 3, 2));
        assert_eq!(
            super::super::parse::days_from_civil(2026, 12, 1) * 86400 + 36903,
            1_796_120_103
        );
    }

    #[test]
    fn load_dir_crossposts_once() {
        let t = tempfile::tempdir().unwrap();
        for g in ["alt.test", "misc.test"] {
            std::fs::create_dir(t.path().join(g)).unwrap();
            std::fs::write(t.path().join(g).join("1"), A1).unwrap();
        }
        std::fs::write(
            t.path().join("misc.test").join("2"),
            "Subject: no id\n\nx\n",
        )
        .unwrap();
        let d = NntpDaemon::new();
        assert_eq!(d.load_dir(t.path()).unwrap(), 3);
        assert_eq!(d.group("misc.test").unwrap().stats(), (2, 1, 2));
        assert_eq!(d.locations("<1@x>").len(), 2);
        assert_eq!(d.file_in("new.group", b"Subject: x\n\ny\n").unwrap().1, 1);
        assert!(d.file_in("bad group", b"x").is_err());
    }
}
