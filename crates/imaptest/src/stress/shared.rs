//! Facts about a mailbox that every session of a user must agree on: which session got a
//! message's `\Recent` (only one ever may), and the items that never change for a message
//! (RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, INTERNALDATE, header fields). Keyed by user,
//! mailbox and UIDVALIDITY; one short lock per FETCH reply. Also whether a mailbox's RECENT
//! counts must add up (for checkpoints).
use super::mailbox::Seen;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct Facts {
    recent: HashMap<u32, u32>,
    fixed: HashMap<(u32, String), String>,
}

/// The facts of every mailbox of the run.
#[derive(Default)]
pub struct Shared {
    boxes: Mutex<HashMap<(String, String, u32), Facts>>,
    /// Per (user, mailbox): some session saw every message `\Recent` and no session that
    /// had the mailbox selected has left since, so the RECENT counts must add up.
    recent_known: Mutex<HashMap<(String, String), bool>>,
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
        let f = boxes
            .entry((user.to_string(), mailbox.to_string(), uidvalidity))
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
            match f.fixed.get(&(uid, name.clone())) {
                Some(old) if *old != value => {
                    errs.push(format!("UID {uid}: {name} changed from {old} to {value}"))
                }
                Some(_) => {}
                None => {
                    f.fixed.insert((uid, name), value);
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
                .map(|(u, n, v)| (u, n.to_string(), v.to_string()))
                .collect(),
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
}
