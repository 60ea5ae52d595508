//! Facts about a mailbox that every session of a user must agree on: which session got a
//! message's `\Recent` (only one ever may), and the items that never change for a message
//! (RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, INTERNALDATE, header fields). Keyed by user,
//! mailbox and UIDVALIDITY; one short lock per FETCH reply. Also whether a mailbox's RECENT
//! counts must add up (for checkpoints). With `qresync`: what the last session to leave a
//! mailbox knew of it ([`Known`]), and what the user's sessions saw happen since to the UIDs it
//! knew (expunges, MODSEQs), for the check of the next QRESYNC SELECT ([`crate::qresync`]).
use super::mailbox::Seen;
use crate::qresync::{Expect, Known};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Facts kept beyond the UIDs of the current [`Known`] (UIDs a later session may know): at
/// most this many, so a run where sessions rarely leave cannot grow without bound.
const MAX_TRACKED: usize = 100_000;

/// What the user's sessions saw happen to a mailbox since the last session left it.
#[derive(Debug)]
struct Track {
    known: Known,
    expunged: HashSet<u32>,
    /// UID → the highest MODSEQ seen.
    modseq: HashMap<u32, u64>,
}

impl Track {
    /// Keeps only the facts about UIDs `known` holds, or above them (not yet seen by it).
    fn rebase(&mut self, known: Known) {
        if known.uidvalidity != self.known.uidvalidity {
            self.expunged.clear();
            self.modseq.clear();
        } else {
            let max = known.uids.last().copied().unwrap_or(0);
            let keep = |u: &u32| *u > max || known.uids.binary_search(u).is_ok();
            self.expunged.retain(keep);
            self.modseq.retain(|u, _| keep(u));
        }
        self.known = known;
    }

    fn observe(&mut self, seen: &Seen) {
        for &u in &seen.expunged {
            if self.expunged.len() < MAX_TRACKED || self.known.uids.binary_search(&u).is_ok() {
                self.expunged.insert(u);
            }
        }
        for &(u, m) in &seen.modseqs {
            if self.modseq.len() >= MAX_TRACKED
                && !self.modseq.contains_key(&u)
                && self.known.uids.binary_search(&u).is_err()
            {
                continue;
            }
            let e = self.modseq.entry(u).or_insert(m);
            *e = (*e).max(m);
        }
    }

    /// What a QRESYNC SELECT sent now must report about the known UIDs.
    fn expect(&self) -> Expect {
        let k = &self.known;
        let expunged: Vec<u32> = k
            .uids
            .iter()
            .copied()
            .filter(|u| self.expunged.contains(u))
            .collect();
        let changed = k
            .uids
            .iter()
            .filter(|u| !self.expunged.contains(u))
            .filter_map(|u| Some((*u, *self.modseq.get(u)?)))
            .filter(|(_, m)| *m > k.modseq)
            .collect();
        Expect { expunged, changed }
    }
}

#[derive(Default)]
struct Facts {
    recent: HashMap<u32, u32>,
    /// UID → item name → canonical value.
    fixed: HashMap<u32, HashMap<String, Vec<u8>>>,
}

/// A canonical value for a message, cut at 300 bytes.
fn show(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(&v[..v.len().min(300)]);
    if v.len() > 300 {
        format!("{s}...")
    } else {
        s.into_owned()
    }
}

/// One user's mailboxes: name → UIDVALIDITY → facts.
type Mailboxes = HashMap<String, HashMap<u32, Facts>>;

/// The facts of every mailbox of the run.
#[derive(Default)]
pub struct Shared {
    /// user → mailbox → UIDVALIDITY → facts (looked up by `&str`: no key allocated per reply).
    boxes: Mutex<HashMap<String, Mailboxes>>,
    /// Per (user, mailbox): some session saw every message `\Recent` and no session that
    /// had the mailbox selected has left since, so the RECENT counts must add up.
    recent_known: Mutex<HashMap<(String, String), bool>>,
    /// user → mailbox → what its last session knew and what was seen since (`qresync`).
    resync: Mutex<HashMap<String, HashMap<String, Track>>>,
}

impl Shared {
    /// Sets or clears the "every message is `\Recent` somewhere" state of a mailbox.
    pub fn all_recent(&self, user: &str, mailbox: &str, known: bool) {
        let mut m = self.recent_known.lock().unwrap_or_else(|p| p.into_inner());
        m.insert((user.to_string(), mailbox.to_string()), known);
    }

    /// Whether a mailbox's RECENT counts must add up to its message count.
    pub fn all_recent_known(&self, user: &str, mailbox: &str) -> bool {
        let m = self.recent_known.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(user.to_string(), mailbox.to_string()))
            .copied()
            .unwrap_or(false)
    }

    /// A session left `mailbox` knowing `known`: the next QRESYNC SELECT starts from it.
    pub fn left(&self, user: &str, mailbox: &str, known: Known) {
        let mut all = self.resync.lock().unwrap_or_else(|p| p.into_inner());
        let boxes = all.entry(user.to_string()).or_default();
        match boxes.get_mut(mailbox) {
            Some(t) => t.rebase(known),
            None => {
                boxes.insert(
                    mailbox.to_string(),
                    Track {
                        known,
                        expunged: HashSet::new(),
                        modseq: HashMap::new(),
                    },
                );
            }
        }
    }

    /// What a QRESYNC SELECT of `mailbox` sent now starts from, and what its reply must report
    /// of what the user's sessions saw since; `None` when no session left it yet.
    pub fn resync_base(&self, user: &str, mailbox: &str) -> Option<(Known, Expect)> {
        let all = self.resync.lock().unwrap_or_else(|p| p.into_inner());
        let t = all.get(user)?.get(mailbox)?;
        Some((t.known.clone(), t.expect()))
    }

    /// Notes the expunges and MODSEQs a session saw (for the next QRESYNC SELECT's check).
    pub fn observed(&self, user: &str, mailbox: &str, uidvalidity: u32, seen: &Seen) {
        if seen.expunged.is_empty() && seen.modseqs.is_empty() {
            return;
        }
        let mut all = self.resync.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = all.get_mut(user).and_then(|b| b.get_mut(mailbox)) {
            if t.known.uidvalidity == uidvalidity {
                t.observe(seen);
            }
        }
    }

    /// Records what `client` saw; complaints go to `errs`.
    pub fn record(
        &self,
        user: &str,
        mailbox: &str,
        uidvalidity: u32,
        client: u32,
        seen: Seen,
        errs: &mut Vec<String>,
    ) {
        if seen.recent.is_empty() && seen.fixed.is_empty() {
            return;
        }
        let mut boxes = self.boxes.lock().unwrap_or_else(|p| p.into_inner());
        if !boxes.contains_key(user) {
            boxes.insert(user.to_string(), HashMap::new());
        }
        let users = boxes.get_mut(user).unwrap_or_else(|| unreachable!());
        if !users.contains_key(mailbox) {
            users.insert(mailbox.to_string(), HashMap::new());
        }
        let f = users
            .get_mut(mailbox)
            .unwrap_or_else(|| unreachable!())
            .entry(uidvalidity)
            .or_default();
        for uid in seen.recent {
            let owner = *f.recent.entry(uid).or_insert(client);
            if owner != client {
                errs.push(format!(
                    "UID {uid} has \\Recent in two sessions (client {owner} had it first)"
                ));
            }
        }
        for (uid, name, value) in seen.fixed {
            let items = f.fixed.entry(uid).or_default();
            match items.get(name.as_ref()) {
                Some(old) if *old != value => errs.push(format!(
                    "UID {uid}: {name} changed from {} to {}",
                    show(old),
                    show(&value)
                )),
                Some(_) => {}
                None => {
                    items.insert(name.into_owned(), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_once_and_fixed_items() {
        let s = Shared::default();
        let mut e = Vec::new();
        let seen = |r: Vec<u32>, f: Vec<(u32, &str, &str)>| Seen {
            recent: r,
            fixed: f
                .into_iter()
                .map(|(u, n, v)| (u, n.to_string().into(), v.as_bytes().to_vec()))
                .collect(),
            ..Default::default()
        };
        s.record(
            "u",
            "INBOX",
            1,
            1,
            seen(vec![5], vec![(5, "RFC822.SIZE", "10")]),
            &mut e,
        );
        s.record(
            "u",
            "INBOX",
            1,
            1,
            seen(vec![5], vec![(5, "RFC822.SIZE", "10")]),
            &mut e,
        );
        assert!(e.is_empty(), "{e:?}");
        // another user's mailbox is another mailbox
        s.record(
            "v",
            "INBOX",
            1,
            2,
            seen(vec![5], vec![(5, "RFC822.SIZE", "11")]),
            &mut e,
        );
        assert!(e.is_empty(), "{e:?}");
        s.record(
            "u",
            "INBOX",
            1,
            2,
            seen(vec![5], vec![(5, "RFC822.SIZE", "11")]),
            &mut e,
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("UID 5 has \\Recent in two sessions (client 1"));
        assert!(e[1].contains("RFC822.SIZE changed from 10 to 11"));
    }

    #[test]
    fn what_sessions_saw_since_the_last_one_left() {
        let s = Shared::default();
        let known = |uids: Vec<u32>| Known {
            uidvalidity: 3,
            modseq: 20,
            uids,
            complete: true,
        };
        let saw = |expunged: Vec<u32>, modseqs: Vec<(u32, u64)>| Seen {
            expunged,
            modseqs,
            ..Default::default()
        };
        assert_eq!(s.resync_base("u", "INBOX"), None);
        // nothing is kept before a session left
        s.observed("u", "INBOX", 3, &saw(vec![1], vec![]));
        s.left("u", "INBOX", known(vec![1, 2, 3, 4]));
        s.observed(
            "u",
            "INBOX",
            3,
            &saw(vec![2], vec![(3, 25), (4, 19), (9, 30)]),
        );
        // another UIDVALIDITY, another user: not this mailbox
        s.observed("u", "INBOX", 4, &saw(vec![3], vec![]));
        s.observed("v", "INBOX", 3, &saw(vec![3], vec![]));
        s.observed("u", "INBOX", 3, &saw(vec![], vec![(3, 22)]));
        let (k, e) = s.resync_base("u", "INBOX").unwrap();
        assert_eq!(k, known(vec![1, 2, 3, 4]));
        assert_eq!(
            e,
            Expect {
                expunged: vec![2],
                changed: vec![(3, 25)],
            }
        );
        // the next session to leave knew 3, 4 and 9: what was seen of 9 counts now, of 2 not
        s.left("u", "INBOX", known(vec![3, 4, 9]));
        let (_, e) = s.resync_base("u", "INBOX").unwrap();
        assert_eq!(
            e,
            Expect {
                expunged: vec![],
                changed: vec![(3, 25), (9, 30)],
            }
        );
    }
}
