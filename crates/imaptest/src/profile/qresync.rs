//! QRESYNC (RFC 7162) for profile mode's IMAP clients, the deciding part: what a session knew
//! of INBOX when it left it ([`Known`]: UIDVALIDITY, the HIGHESTMODSEQ of its SELECT and the
//! UIDs it knew, kept per user), the `SELECT INBOX (QRESYNC (uidvalidity modseq))` the next
//! session (or the same one, coming back from Drafts) sends, and the check of its reply: the
//! UIDs known, less those the server reports `VANISHED (EARLIER)`, plus those it reports
//! changed, must be exactly the messages the server says the mailbox has; otherwise the resync
//! lost changes. UID sets from the server are kept as ranges (never expanded), so a hostile
//! `1:4294967295` costs nothing. Pure.

/// What a session knew of a mailbox at some point: every UID it held with a MODSEQ at or below
/// `modseq` (and possibly later ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub uidvalidity: u32,
    pub modseq: u64,
    /// Ascending.
    pub uids: Vec<u32>,
}

/// A UID set (`1:5,9,12:10`) as inclusive ranges; `None` when it is not one.
pub fn uid_set(s: &str) -> Option<Vec<(u32, u32)>> {
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
            (a > 0 && b > 0).then(|| (a.min(b), a.max(b)))
        })
        .collect()
}

/// How many UIDs a set names.
pub fn count(set: &[(u32, u32)]) -> u64 {
    set.iter().map(|(a, b)| (b - a) as u64 + 1).sum()
}

fn contains(set: &[(u32, u32)], uid: u32) -> bool {
    set.iter().any(|(a, b)| (*a..=*b).contains(&uid))
}

/// The SELECT of `mailbox` (already an astring): with QRESYNC's parameter when something is
/// known of it.
pub fn select_cmd(mailbox: &str, known: Option<&Known>) -> String {
    match known {
        Some(k) => format!(
            "SELECT {mailbox} (QRESYNC ({} {}))",
            k.uidvalidity, k.modseq
        ),
        None => format!("SELECT {mailbox}"),
    }
}

/// What the reply to a QRESYNC SELECT said.
#[derive(Debug, Default)]
pub struct Reply {
    pub uidvalidity: u32,
    pub exists: u32,
    /// `VANISHED (EARLIER)` sets.
    pub vanished: Vec<(u32, u32)>,
    /// UIDs of the FETCH replies.
    pub changed: Vec<u32>,
}

/// The check of a QRESYNC SELECT's reply against what was known: the mailbox's UIDs in
/// sequence order when they add up, `None` when the UIDVALIDITY changed (the server then
/// ignores what we knew), an error saying what does not add up otherwise.
pub fn resync(known: &Known, reply: &Reply) -> Result<Option<Vec<u32>>, String> {
    if reply.uidvalidity != known.uidvalidity {
        return Ok(None);
    }
    let mut uids: Vec<u32> = known
        .uids
        .iter()
        .copied()
        .filter(|u| !contains(&reply.vanished, *u))
        .collect();
    let kept = uids.len();
    uids.extend(reply.changed.iter().copied());
    uids.sort_unstable();
    uids.dedup();
    if uids.len() != reply.exists as usize {
        return Err(format!(
            "QRESYNC lost changes: the server has {} messages, but the {} UIDs known at MODSEQ {} \
             less those reported VANISHED (EARLIER) ({kept} left) and with the {} reported \
             changed make {}",
            reply.exists,
            known.uids.len(),
            known.modseq,
            reply.changed.len(),
            uids.len()
        ));
    }
    Ok(Some(uids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            uidvalidity: 7,
            modseq: 40,
            uids: vec![1, 2, 3, 5, 8],
        }
    }

    #[test]
    fn uid_sets_stay_ranges() {
        assert_eq!(uid_set("1:3,9,12:10"), Some(vec![(1, 3), (9, 9), (10, 12)]));
        assert_eq!(count(&uid_set("1:4294967295").unwrap()), 4294967295);
        assert_eq!(uid_set("0:3"), None);
        assert_eq!(uid_set("1,x"), None);
        assert_eq!(uid_set(""), None);
    }

    #[test]
    fn select_with_and_without_what_is_known() {
        assert_eq!(select_cmd("\"INBOX\"", None), "SELECT \"INBOX\"");
        assert_eq!(
            select_cmd("\"INBOX\"", Some(&known())),
            "SELECT \"INBOX\" (QRESYNC (7 40))"
        );
    }

    #[test]
    fn a_resync_adds_up_or_is_named() {
        // 2 and 5 expunged (one in a range that also names UIDs never seen), 9 and 10 new,
        // 3 with changed flags
        let reply = Reply {
            uidvalidity: 7,
            exists: 5,
            vanished: uid_set("2,4:5").unwrap(),
            changed: vec![3, 9, 10],
        };
        assert_eq!(resync(&known(), &reply), Ok(Some(vec![1, 3, 8, 9, 10])));
        // the expunges not reported: the count does not add up
        let lost = Reply {
            vanished: Vec::new(),
            ..reply
        };
        let e = resync(&known(), &lost).unwrap_err();
        assert!(
            e.contains("QRESYNC lost changes: the server has 5 messages"),
            "{e}"
        );
        // a new UIDVALIDITY: nothing to compare
        let other = Reply {
            uidvalidity: 8,
            ..lost
        };
        assert_eq!(resync(&known(), &other), Ok(None));
    }
}
