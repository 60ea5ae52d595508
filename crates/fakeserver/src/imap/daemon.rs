//! The IMAP daemon: every user's mailboxes and messages, shared by all connections of a run.
//!
//! A mailbox holds messages in UID order with flags, keywords, INTERNALDATE and MODSEQ, plus
//! UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ. Sessions do not receive events: each keeps its own
//! view (the UIDs and MODSEQs it has announced) and compares it with the mailbox when it may
//! speak (see `handler::sync`), so changes reach every session at the right moment. `\Recent`
//! is claimed by exactly one session: the first to see a message with its mailbox selected
//! read-write. Every change wakes the server's connections (IDLE answers at once).

use crate::server::Notifier;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// The hierarchy delimiter.
pub const DELIM: char = '/';

/// One stored message.
#[derive(Debug, Clone)]
pub struct Message {
    pub uid: u32,
    /// System flags (canonical case, `\Seen`) and keywords.
    pub flags: BTreeSet<String>,
    /// INTERNALDATE: seconds since the epoch and the zone offset in minutes.
    pub internal: (i64, i32),
    pub data: Arc<Vec<u8>>,
    pub modseq: u64,
    /// Gmail labels (X-GM-LABELS), kept by COPY.
    pub labels: BTreeSet<String>,
}

impl Message {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x.eq_ignore_ascii_case(f))
    }
}

/// One mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub messages: Vec<Message>,
    /// Keywords ever used here (announced in FLAGS).
    pub keywords: Vec<String>,
    /// Messages with a UID at or below this have had their `\Recent` claimed.
    pub recent_claimed: u32,
    pub special_use: Option<String>,
    /// Expunged UIDs with the MODSEQ of their expunge, oldest first (QRESYNC's VANISHED
    /// (EARLIER) answers from it); the newest [`EXPUNGE_LOG_MAX`] at most.
    pub expunged: Vec<(u32, u64)>,
    /// The newest MODSEQ whose expunges were trimmed from the log (0: nothing trimmed): a
    /// client whose state is older gets every UID that is not here (RFC 7162 allows UIDs it
    /// never knew).
    pub expunged_floor: u64,
}

/// Expunge log entries a mailbox keeps; past that, the oldest quarter is dropped.
pub const EXPUNGE_LOG_MAX: usize = 100_000;

impl Mailbox {
    fn new(uidvalidity: u32) -> Self {
        Mailbox {
            uidvalidity,
            uidnext: 1,
            highest_modseq: 1,
            messages: Vec::new(),
            keywords: Vec::new(),
            recent_claimed: 0,
            special_use: None,
            expunged: Vec::new(),
            expunged_floor: 0,
        }
    }

    /// An empty mailbox without a UIDVALIDITY of its own (a deleted mailbox's stand-in).
    pub fn default_for_sync() -> Self {
        Mailbox::new(0)
    }

    /// Index of the message with this UID.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Store a new message; returns its UID.
    pub fn append(&mut self, data: Vec<u8>, flags: BTreeSet<String>, internal: (i64, i32)) -> u32 {
        let uid = self.uidnext;
        self.uidnext += 1;
        self.highest_modseq += 1;
        for f in &flags {
            self.note_keyword(f);
        }
        self.messages.push(Message {
            uid,
            flags,
            internal,
            data: Arc::new(data),
            modseq: self.highest_modseq,
            labels: BTreeSet::new(),
        });
        uid
    }

    /// Remember a keyword for FLAGS (system flags are not keywords).
    pub fn note_keyword(&mut self, f: &str) {
        if !f.starts_with('\\') && !self.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
            self.keywords.push(f.to_string());
        }
    }

    /// Set a message's flags (by index); bumps its MODSEQ when they change.
    pub fn set_flags(&mut self, i: usize, flags: BTreeSet<String>) -> bool {
        if self.messages[i].flags == flags {
            return false;
        }
        for f in &flags {
            self.note_keyword(f);
        }
        self.highest_modseq += 1;
        let m = &mut self.messages[i];
        m.flags = flags;
        m.modseq = self.highest_modseq;
        true
    }

    /// Set a message's Gmail labels (by index); bumps its MODSEQ when they change.
    pub fn set_labels(&mut self, i: usize, labels: BTreeSet<String>) -> bool {
        if self.messages[i].labels == labels {
            return false;
        }
        self.highest_modseq += 1;
        let m = &mut self.messages[i];
        m.labels = labels;
        m.modseq = self.highest_modseq;
        true
    }

    /// Remove the messages with these UIDs.
    pub fn expunge(&mut self, uids: &BTreeSet<u32>) {
        if uids.is_empty() {
            return;
        }
        self.highest_modseq += 1;
        let modseq = self.highest_modseq;
        let mut gone = Vec::new();
        self.messages.retain(|m| {
            let keep = !uids.contains(&m.uid);
            if !keep {
                gone.push((m.uid, modseq));
            }
            keep
        });
        self.expunged.extend(gone);
        self.trim_expunge_log(EXPUNGE_LOG_MAX);
    }

    /// Keep at most `max` entries in the expunge log: beyond it, drop the oldest quarter of
    /// `max` (so trimming is rare) and remember the newest MODSEQ dropped.
    pub fn trim_expunge_log(&mut self, max: usize) {
        if self.expunged.len() <= max {
            return;
        }
        let cut = self.expunged.len() - max + max / 4;
        let cut = cut.min(self.expunged.len());
        self.expunged_floor = self.expunged_floor.max(self.expunged[cut - 1].1);
        self.expunged.drain(..cut);
    }

    /// UIDs expunged after `modseq` (sorted), limited to those in `within` when given. When
    /// the log no longer reaches back to `modseq`, every UID below UIDNEXT that is not in the
    /// mailbox (RFC 7162 section 3.2.5.2 lets the server include UIDs the client never saw).
    pub fn vanished_since(&self, modseq: u64, within: Option<&super::parse::SeqSet>) -> Vec<u32> {
        let wanted = |u: u32| within.is_none_or(|s| s.contains(u, u32::MAX));
        if modseq < self.expunged_floor {
            return (1..self.uidnext)
                .filter(|u| self.index_of(*u).is_none() && wanted(*u))
                .collect();
        }
        let mut v: Vec<u32> = self
            .expunged
            .iter()
            .filter(|(u, m)| *m > modseq && wanted(*u))
            .map(|(u, _)| *u)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn unseen(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| !m.has_flag("\\Seen"))
            .count()
    }
}

/// One user's mail.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// By full name; INBOX is always `INBOX`.
    pub mailboxes: BTreeMap<String, Mailbox>,
    pub subscribed: BTreeSet<String>,
    /// URLAUTH keys by mailbox (RFC 4467): made by GENURLAUTH, dropped by RESETKEY.
    pub url_keys: BTreeMap<String, String>,
    /// Quota limits of the user's one quota root `""` (RFC 9208), by resource.
    pub quota: Quota,
}

/// Limits of a quota root: STORAGE in units of 1024 octets, MESSAGE in messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub storage_kb: Option<u64>,
    pub messages: Option<u64>,
}

impl Quota {
    /// The QUOTA response list for this usage: `STORAGE used limit MESSAGE used limit`.
    pub fn list(&self, usage: (u64, u64)) -> String {
        let mut v = Vec::new();
        if let Some(l) = self.storage_kb {
            v.push(format!("STORAGE {} {l}", usage.0.div_ceil(1024)));
        }
        if let Some(l) = self.messages {
            v.push(format!("MESSAGE {} {l}", usage.1));
        }
        v.join(" ")
    }

    /// Whether adding `octets` in `count` messages to this usage goes over a limit.
    pub fn exceeded(&self, usage: (u64, u64), octets: u64, count: u64) -> bool {
        self.storage_kb
            .is_some_and(|l| (usage.0 + octets).div_ceil(1024) > l)
            || self.messages.is_some_and(|l| usage.1 + count > l)
    }
}

impl Account {
    /// Octets and messages stored over all mailboxes (the quota root's usage).
    pub fn usage(&self) -> (u64, u64) {
        self.mailboxes.values().fold((0, 0), |(o, n), mb| {
            (
                o + mb.messages.iter().map(|m| m.data.len() as u64).sum::<u64>(),
                n + mb.messages.len() as u64,
            )
        })
    }

    /// The stored name of a mailbox as the client wrote it (INBOX is case-insensitive).
    pub fn canonical(name: &str) -> String {
        let name = name.trim_end_matches(DELIM);
        if name.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        match name.split_once(DELIM) {
            Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => {
                format!("INBOX{DELIM}{rest}")
            }
            _ => name.to_string(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<String, Account>,
    next_uidvalidity: u32,
}

/// The shared state of a run.
#[derive(Debug)]
pub struct ImapDaemon {
    inner: Mutex<Inner>,
    notifier: Mutex<Option<Notifier>>,
}

impl Default for ImapDaemon {
    fn default() -> Self {
        Self::new()
    }
}

/// Exclusive access to the daemon's state; dropping it after a change should be followed by
/// [`ImapDaemon::changed`].
pub struct Locked<'a>(MutexGuard<'a, Inner>);

impl Locked<'_> {
    /// A user's account, created (with an empty INBOX) on first use.
    pub fn account(&mut self, user: &str) -> &mut Account {
        let inner = &mut *self.0;
        let next = &mut inner.next_uidvalidity;
        inner.accounts.entry(user.to_string()).or_insert_with(|| {
            let mut a = Account::default();
            *next += 1;
            a.mailboxes.insert("INBOX".into(), Mailbox::new(*next));
            a.subscribed.insert("INBOX".into());
            a
        })
    }

    /// A fresh UIDVALIDITY (never reused in a run, so a recreated mailbox differs).
    pub fn new_mailbox(&mut self) -> Mailbox {
        self.0.next_uidvalidity += 1;
        Mailbox::new(self.0.next_uidvalidity)
    }

    /// A user's account if it exists (never creates one).
    pub fn existing(&mut self, user: &str) -> Option<&mut Account> {
        self.0.accounts.get_mut(user)
    }

    /// Create `name` (canonical) and every missing parent, as CREATE does; returns the names
    /// created, parents first (empty when it already existed).
    pub fn ensure_mailbox(&mut self, user: &str, name: &str) -> Vec<String> {
        let mut created = Vec::new();
        let mut prefix = String::new();
        for seg in name.split(DELIM) {
            if !prefix.is_empty() {
                prefix.push(DELIM);
            }
            prefix.push_str(seg);
            if !self.account(user).mailboxes.contains_key(&prefix) {
                let mb = self.new_mailbox();
                self.account(user).mailboxes.insert(prefix.clone(), mb);
                created.push(prefix.clone());
            }
        }
        created
    }

    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.accounts.keys().cloned().collect();
        v.sort();
        v
    }
}

impl ImapDaemon {
    pub fn new() -> Self {
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        ImapDaemon {
            inner: Mutex::new(Inner {
                accounts: HashMap::new(),
                next_uidvalidity: base,
            }),
            notifier: Mutex::new(None),
        }
    }

    pub fn lock(&self) -> Locked<'_> {
        Locked(self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn set_notifier(&self, n: Notifier) {
        *self.notifier.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
    }

    /// Wake every connection: something changed.
    pub fn changed(&self) {
        if let Some(n) = &*self.notifier.lock().unwrap_or_else(|e| e.into_inner()) {
            n.notify();
        }
    }

    /// Put a message into a user's mailbox (created with its parents if missing, as CREATE
    /// does), from a test or a loader.
    pub fn deliver(
        &self,
        user: &str,
        mailbox: &str,
        data: Vec<u8>,
        flags: &[&str],
        internal: (i64, i32),
    ) -> u32 {
        let uid = {
            let mut l = self.lock();
            let name = Account::canonical(mailbox);
            l.ensure_mailbox(user, &name);
            match l.account(user).mailboxes.get_mut(&name) {
                Some(mb) => mb.append(
                    data,
                    flags.iter().map(|s| s.to_string()).collect(),
                    internal,
                ),
                None => 0,
            }
        };
        self.changed();
        uid
    }

    /// Forget every account.
    pub fn reset(&self) {
        self.lock().0.accounts.clear();
        self.changed();
    }

    /// A summary for the control API: users, mailboxes, messages with UID and flags.
    pub fn state(&self) -> serde_json::Value {
        let l = self.lock();
        let mut users = serde_json::Map::new();
        for (u, a) in &l.0.accounts {
            let mut boxes = serde_json::Map::new();
            for (n, m) in &a.mailboxes {
                let msgs: Vec<serde_json::Value> = m
                    .messages
                    .iter()
                    .map(|x| serde_json::json!({"uid": x.uid, "flags": x.flags, "size": x.data.len(), "modseq": x.modseq}))
                    .collect();
                boxes.insert(
                    n.clone(),
                    serde_json::json!({"uidvalidity": m.uidvalidity, "uidnext": m.uidnext, "messages": msgs}),
                );
            }
            users.insert(u.clone(), serde_json::Value::Object(boxes));
        }
        serde_json::Value::Object(users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_start_with_inbox_and_uids_grow() {
        let d = ImapDaemon::new();
        let uid1 = d.deliver("u", "inbox", b"a".to_vec(), &["\\Seen"], (0, 0));
        let uid2 = d.deliver("u", "INBOX", b"b".to_vec(), &["$Label"], (0, 0));
        assert_eq!((uid1, uid2), (1, 2));
        let mut l = d.lock();
        let inbox = &l.account("u").mailboxes["INBOX"];
        assert_eq!(inbox.keywords, vec!["$Label".to_string()]);
        assert!(inbox.messages[1].modseq > inbox.messages[0].modseq);
    }

    #[test]
    fn canonical_names() {
        assert_eq!(Account::canonical("inbox"), "INBOX");
        assert_eq!(Account::canonical("Inbox/x/"), "INBOX/x");
        assert_eq!(Account::canonical("Foo"), "Foo");
    }
}
