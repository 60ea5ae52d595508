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
