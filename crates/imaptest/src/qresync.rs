//! QRESYNC (RFC 7162 §3.2.5), the deciding part that stress and profile mode share: what a
//! session knew of a mailbox when it left it ([`Known`]: UIDVALIDITY, the HIGHESTMODSEQ of its
//! SELECT and the UIDs it held), the `SELECT mailbox (QRESYNC (uidvalidity modseq known-uids))`
//! the next session sends (the known UIDs optional), what the reply said ([`Reply`], fed one
//! untagged response at a time), and the check of that reply ([`check`]) against what was
//! known and against what other sessions saw happen since ([`Expect`]).
//!
//! The check flags only what RFC 7162 makes the server report, so concurrent sessions cannot
//! cause a false error. `Known::modseq` is the HIGHESTMODSEQ of the SELECT that began the
//! session: every message that existed at that MODSEQ was in the session's view, so a known UID
//! that is gone was expunged after it, and the server must name it in `VANISHED (EARLIER)`;
//! every message whose MODSEQ is above it (changed flags, or appended later) must come in a
//! FETCH. Hence, for the reply's snapshot (its first EXISTS):
//! - a known UID that another session saw expunged before the SELECT was sent must be in a
//!   `VANISHED (EARLIER)` (or in a VANISHED that came during the reply);
//! - a known UID that another session saw with a higher MODSEQ must be in a VANISHED or in a
//!   FETCH with at least that MODSEQ;
//! - the known UIDs less the VANISHED ones, plus the FETCHed ones, are at most the EXISTS
//!   count (messages of unknown UID that did not change are in the count but in neither list);
//!   when every message's UID was known, they are exactly the count, except that with the known
//!   UIDs sent the server reports changes of those UIDs only (RFC 7162 lets it; Dovecot does),
//!   so messages added since may be missing from the FETCHes: up to as many as UIDNEXT says
//!   were added above the highest known UID. When the mailbox changes during the reply (a
//!   second EXISTS, an EXPUNGE, a VANISHED without EARLIER), the count is not judged.
//!
//! UID sets from the server are kept as ranges (never expanded), so a hostile `1:4294967295`
//! costs nothing. Pure.
use imapwire::{Response, Value};

/// What a session knew of a mailbox at some point: every UID it held, all changes up to
/// `modseq` seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub uidvalidity: u32,
    pub modseq: u64,
    /// Ascending.
    pub uids: Vec<u32>,
    /// Every message of the mailbox had a known UID (`uids` is all of them).
    pub complete: bool,
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

/// Ascending UIDs as a compact UID set: `1:3,5,7:8`.
pub fn set_text(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j].wrapping_add(1) {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}:{}", uids[i], uids[j]));
        } else {
            out.push_str(&uids[i].to_string());
        }
        i = j + 1;
    }
    out
}

/// The SELECT of `mailbox` (already an astring): with QRESYNC's parameter when something is
/// known of it, the known UIDs included when `with_uids`.
pub fn select_cmd(mailbox: &str, known: Option<&Known>, with_uids: bool) -> String {
    match known {
        Some(k) if with_uids && !k.uids.is_empty() => format!(
            "SELECT {mailbox} (QRESYNC ({} {} {}))",
            k.uidvalidity,
            k.modseq,
            set_text(&k.uids)
        ),
        Some(k) => format!(
            "SELECT {mailbox} (QRESYNC ({} {}))",
            k.uidvalidity, k.modseq
        ),
        None => format!("SELECT {mailbox}"),
    }
}

/// What the reply to a QRESYNC SELECT said.
#[derive(Debug, Default, Clone)]
pub struct Reply {
    pub uidvalidity: u32,
    /// The first EXISTS: the snapshot the resync is about.
    pub exists: u32,
    pub exists_seen: bool,
    /// UIDNEXT, when the reply said it.
    pub uidnext: Option<u32>,
    /// `VANISHED (EARLIER)` sets.
    pub vanished: Vec<(u32, u32)>,
    /// `VANISHED` sets without EARLIER: expunges after the snapshot.
    pub gone: Vec<(u32, u32)>,
    /// (UID, MODSEQ) of the FETCH replies.
    pub changed: Vec<(u32, Option<u64>)>,
    /// The mailbox changed while the reply came in (a second EXISTS, an EXPUNGE or a
    /// VANISHED without EARLIER): the count of the snapshot cannot be judged.
    pub moved: bool,
}

/// The UID and MODSEQ of a FETCH's items.
fn uid_modseq(items: &[Value]) -> (Option<u32>, Option<u64>) {
    let (mut uid, mut modseq) = (None, None);
    for pair in items.chunks(2) {
        if let [name, value] = pair {
            if name.is_atom("UID") {
                uid = value.number().and_then(|n| u32::try_from(n).ok());
            } else if name.is_atom("MODSEQ") {
                modseq = value
                    .items()
                    .and_then(|l| l.first())
                    .and_then(Value::number);
            }
        }
    }
    (uid, modseq)
}

impl Reply {
    /// Takes in one response of the reply; an error for a VANISHED that is not a UID set.
    pub fn note(&mut self, r: &Response) -> Result<(), String> {
        let Response::Untagged(v) = r else {
            return Ok(());
        };
        if let Some((_, Some(code))) = r.status_code() {
            if code.first().is_some_and(|c| c.is_atom("UIDVALIDITY")) {
                if let Some(n) = code.get(1).and_then(Value::number) {
                    self.uidvalidity = n as u32;
                }
            } else if code.first().is_some_and(|c| c.is_atom("UIDNEXT")) {
                self.uidnext = code
                    .get(1)
                    .and_then(Value::number)
                    .and_then(|n| u32::try_from(n).ok());
            }
            return Ok(());
        }
        if v.first().is_some_and(|w| w.is_atom("VANISHED")) {
            let earlier = v.get(1).and_then(Value::items).is_some();
            let set = v.get(if earlier { 2 } else { 1 }).and_then(Value::text);
            let Some(set) = set.as_deref().and_then(uid_set) else {
                return Err(format!("VANISHED without a valid UID set: {r}"));
            };
            if earlier {
                self.vanished.extend(set);
            } else {
                self.gone.extend(set);
                self.moved = true;
            }
            return Ok(());
        }
        let (Some(n), Some(word)) = (v.first().and_then(Value::number), v.get(1)) else {
            return Ok(());
        };
        if word.is_atom("EXISTS") {
            if !self.exists_seen {
                self.exists = n.min(u32::MAX as u64) as u32;
                self.exists_seen = true;
            } else if n != self.exists as u64 {
                self.moved = true;
            }
        } else if word.is_atom("EXPUNGE") {
            self.moved = true;
        } else if word.is_atom("FETCH") {
            if let (Some(uid), modseq) = uid_modseq(v.get(2).and_then(Value::items).unwrap_or(&[]))
            {
                self.changed.push((uid, modseq));
            }
        }
        Ok(())
    }
}

/// What other sessions saw happen to known UIDs before the SELECT was sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Known UIDs seen expunged.
    pub expunged: Vec<u32>,
    /// Known UIDs seen with a MODSEQ above the known one: (UID, the highest MODSEQ seen).
    pub changed: Vec<(u32, u64)>,
}

/// The check of a QRESYNC SELECT's reply (see the module's rules; `with_uids`: the SELECT sent
/// the known UIDs): the mailbox's UIDs in sequence order when they are all known and add up,
/// `None` when they cannot be told (some UIDs unknown, messages added that the reply need not
/// name, the mailbox moved during the reply, or a new UIDVALIDITY, for which the server ignores
/// what we knew), every rule broken otherwise.
pub fn check(
    known: &Known,
    with_uids: bool,
    expect: &Expect,
    reply: &Reply,
) -> Result<Option<Vec<u32>>, Vec<String>> {
    if reply.uidvalidity != known.uidvalidity {
        return Ok(None);
    }
    let mut errs = Vec::new();
    let reported_gone = |u: u32| contains(&reply.vanished, u) || contains(&reply.gone, u);
    let m0 = known.modseq;
    for &u in &expect.expunged {
        if !reported_gone(u) {
            errs.push(format!(
                "QRESYNC lost changes: UID {u}, known at MODSEQ {m0}, was expunged since (another \
                 session saw it go), but the reply has no VANISHED (EARLIER) for it"
            ));
        }
    }
    for &(u, m) in &expect.changed {
        if reported_gone(u) {
            continue;
        }
        match reply.changed.iter().find(|c| c.0 == u) {
            None => errs.push(format!(
                "QRESYNC lost changes: UID {u} changed since MODSEQ {m0} (a session saw MODSEQ \
                 {m}), but the reply has no FETCH for it"
            )),
            Some((_, None)) => errs.push(format!(
                "QRESYNC: the FETCH of changed UID {u} has no MODSEQ"
            )),
            Some((_, Some(x))) if *x < m => errs.push(format!(
                "QRESYNC lost changes: the FETCH of UID {u} has MODSEQ {x}, but a session saw \
                 MODSEQ {m} already"
            )),
            Some(_) => {}
        }
    }
    if reply.moved || !reply.exists_seen {
        return if errs.is_empty() { Ok(None) } else { Err(errs) };
    }
    let mut uids: Vec<u32> = known
        .uids
        .iter()
        .copied()
        .filter(|u| !contains(&reply.vanished, *u))
        .collect();
    let kept = uids.len();
    uids.extend(reply.changed.iter().map(|c| c.0));
    uids.sort_unstable();
    uids.dedup();
    let n = uids.len();
    let exists = reply.exists as usize;
    // messages the reply need not name: of unknown UID, or (known UIDs sent) added since
    let unnamed = if !known.complete {
        None
    } else if with_uids {
        let top = known.uids.last().copied().unwrap_or(0);
        reply.uidnext.map(|next| {
            let added = next.saturating_sub(top).saturating_sub(1) as usize;
            added.saturating_sub(uids.iter().filter(|&&u| u > top).count())
        })
    } else {
        Some(0)
    };
    let short = unnamed.is_some_and(|extra| exists > n + extra);
    if n > exists || short {
        errs.push(format!(
            "QRESYNC lost changes: the server has {exists} messages, but the {} UIDs known at \
             MODSEQ {m0} less those reported VANISHED (EARLIER) ({kept} left) and with the {} \
             reported changed make {n}{}",
            known.uids.len(),
            reply.changed.len(),
            match unnamed {
                None => " (messages the reply need not name aside)".to_string(),
                Some(0) => String::new(),
                Some(x) => format!(" (and at most {x} added since that need not be named)"),
            }
        ));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok((unnamed == Some(0) && n == exists).then_some(uids))
}

/// [`check`] without what other sessions saw (profile mode), its errors in one line.
pub fn resync(known: &Known, reply: &Reply) -> Result<Option<Vec<u32>>, String> {
    check(known, false, &Expect::default(), reply).map_err(|e| e.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapwire::parse_response;

    fn known() -> Known {
        Known {
            uidvalidity: 7,
            modseq: 40,
            uids: vec![1, 2, 3, 5, 8],
            complete: true,
        }
    }

    fn reply(lines: &[&str]) -> Reply {
        let mut r = Reply::default();
        for l in lines {
            let resp = parse_response(format!("{l}\r\n").as_bytes()).unwrap();
            r.note(&resp).unwrap();
        }
        r
    }

    #[test]
    fn uid_sets_stay_ranges() {
        assert_eq!(uid_set("1:3,9,12:10"), Some(vec![(1, 3), (9, 9), (10, 12)]));
        assert_eq!(count(&uid_set("1:4294967295").unwrap()), 4294967295);
        assert_eq!(uid_set("0:3"), None);
        assert_eq!(uid_set("1,x"), None);
        assert_eq!(uid_set(""), None);
        assert_eq!(
            set_text(&[1, 2, 3, 5, 7, 8, u32::MAX]),
            "1:3,5,7:8,4294967295"
        );
        assert_eq!(set_text(&[]), "");
    }

    #[test]
    fn select_with_and_without_what_is_known() {
        assert_eq!(select_cmd("\"INBOX\"", None, true), "SELECT \"INBOX\"");
        assert_eq!(
            select_cmd("\"INBOX\"", Some(&known()), true),
            "SELECT \"INBOX\" (QRESYNC (7 40 1:3,5,8))"
        );
        assert_eq!(
            select_cmd("\"INBOX\"", Some(&known()), false),
            "SELECT \"INBOX\" (QRESYNC (7 40))"
        );
        let empty = Known {
            uids: Vec::new(),
            ..known()
        };
        assert_eq!(
            select_cmd("INBOX", Some(&empty), true),
            "SELECT INBOX (QRESYNC (7 40))"
        );
    }

    #[test]
    fn a_reply_is_read_line_by_line() {
        let r = reply(&[
            "* FLAGS (\\Seen)",
            "* 5 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* OK [HIGHESTMODSEQ 60] x",
            "* VANISHED (EARLIER) 2,4:5",
            "* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (55))",
            "* 4 FETCH (FLAGS () UID 9 MODSEQ (58))",
            "* 5 FETCH (UID 10 FLAGS ())",
        ]);
        assert_eq!((r.uidvalidity, r.exists, r.moved), (7, 5, false));
        assert_eq!(r.vanished, [(2, 2), (4, 5)]);
        assert_eq!(r.changed, [(3, Some(55)), (9, Some(58)), (10, None)]);
        let moved = reply(&["* 5 EXISTS", "* VANISHED 3", "* 6 EXISTS"]);
        assert!(moved.moved);
        assert_eq!((moved.exists, moved.gone.clone()), (5, vec![(3, 3)]));
        let mut bad = Reply::default();
        let e = bad
            .note(&parse_response(b"* VANISHED (EARLIER) 0:x\r\n").unwrap())
            .unwrap_err();
        assert!(e.contains("VANISHED without a valid UID set"), "{e}");
    }

    #[test]
    fn a_resync_adds_up_or_is_named() {
        // 2 and 5 expunged (one in a range that also names UIDs never seen), 9 and 10 new,
        // 3 with changed flags
        let ok = reply(&[
            "* 5 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 2,4:5",
            "* 2 FETCH (UID 3 MODSEQ (41))",
            "* 4 FETCH (UID 9 MODSEQ (42))",
            "* 5 FETCH (UID 10 MODSEQ (43))",
        ]);
        assert_eq!(resync(&known(), &ok), Ok(Some(vec![1, 3, 8, 9, 10])));
        // the expunges not reported: the count does not add up
        let lost = Reply {
            vanished: Vec::new(),
            ..ok.clone()
        };
        let e = resync(&known(), &lost).unwrap_err();
        assert!(
            e.contains("QRESYNC lost changes: the server has 5 messages, but the 5 UIDs known at MODSEQ 40 less those reported VANISHED (EARLIER) (5 left) and with the 3 reported changed make 7"),
            "{e}"
        );
        // a new UIDVALIDITY: nothing to compare
        let other = Reply {
            uidvalidity: 8,
            ..lost.clone()
        };
        assert_eq!(resync(&known(), &other), Ok(None));
        // some UIDs unknown: the count is a floor, and the UIDs cannot be told
        let partial = Known {
            uids: vec![1, 3, 5],
            complete: false,
            ..known()
        };
        assert_eq!(resync(&partial, &ok), Ok(None));
        let e = resync(&partial, &Reply { exists: 4, ..lost }).unwrap_err();
        assert!(
            e.contains("make 5 (messages the reply need not name aside)"),
            "{e}"
        );
    }

    #[test]
    fn what_other_sessions_saw_must_be_reported() {
        // others saw 2 expunged and 3 and 8 changed (8 then expunged too); the reply has them
        let expect = Expect {
            expunged: vec![2],
            changed: vec![(3, 44), (8, 45)],
        };
        let ok = reply(&[
            "* 4 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 2,8",
            "* 2 FETCH (UID 3 MODSEQ (46))",
            "* 4 FETCH (UID 9 MODSEQ (47))",
        ]);
        assert_eq!(
            check(&known(), false, &expect, &ok),
            Ok(Some(vec![1, 3, 5, 9]))
        );
        // VANISHED (EARLIER) omits 2: named, even though the count cannot show it (the
        // server also forgot the new message 9)
        let no_vanished = reply(&[
            "* 4 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 8",
            "* 2 FETCH (UID 3 MODSEQ (46))",
        ]);
        let e = check(&known(), false, &expect, &no_vanished).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e.iter().any(|x| x == "QRESYNC lost changes: UID 2, known at MODSEQ 40, was expunged since (another session saw it go), but the reply has no VANISHED (EARLIER) for it"),
            "{e:?}"
        );
        // no FETCH for 3, or one with a MODSEQ below what was seen
        let no_fetch = reply(&[
            "* 4 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 2,8",
            "* 4 FETCH (UID 9 MODSEQ (47))",
        ]);
        let e = check(&known(), false, &expect, &no_fetch).unwrap_err();
        assert!(
            e[0].contains("UID 3 changed since MODSEQ 40 (a session saw MODSEQ 44), but the reply has no FETCH for it"),
            "{e:?}"
        );
        let low = reply(&[
            "* 4 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 2,8",
            "* 2 FETCH (UID 3 MODSEQ (43))",
            "* 4 FETCH (UID 9 MODSEQ (47))",
        ]);
        let e = check(&known(), false, &expect, &low).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("FETCH of UID 3 has MODSEQ 43"), "{e:?}");
    }

    #[test]
    fn with_the_known_uids_sent_new_messages_need_not_be_named() {
        // known 1,2,3,5,8; 2 expunged; 9 and 10 added since (UIDNEXT 11) but not FETCHed, as
        // Dovecot does when the known UIDs restrict the report
        let r = reply(&[
            "* 6 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* OK [UIDNEXT 11] x",
            "* VANISHED (EARLIER) 2",
            "* 2 FETCH (UID 3 MODSEQ (41))",
        ]);
        assert_eq!(check(&known(), true, &Expect::default(), &r), Ok(None));
        // without the known UIDs sent, the server had to name them
        let e = check(&known(), false, &Expect::default(), &r).unwrap_err();
        assert!(e[0].contains("the server has 6 messages"), "{e:?}");
        // more messages than UIDNEXT allows: a known UID not reported gone... or resurrected
        let over = Reply {
            exists: 7,
            ..r.clone()
        };
        let e = check(&known(), true, &Expect::default(), &over).unwrap_err();
        assert!(
            e[0].contains("make 4 (and at most 2 added since that need not be named)"),
            "{e:?}"
        );
        // an expunge omitted, hidden in the count by the two added messages: the count alone
        // cannot tell (no false error), what another session saw can
        let omitted = reply(&[
            "* 6 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* OK [UIDNEXT 11] x",
            "* VANISHED (EARLIER) 2",
        ]);
        let gone3 = Expect {
            expunged: vec![3],
            changed: Vec::new(),
        };
        assert_eq!(
            check(&known(), true, &Expect::default(), &omitted),
            Ok(None)
        );
        let e = check(&known(), true, &gone3, &omitted).unwrap_err();
        assert!(
            e[0].contains("UID 3, known at MODSEQ 40, was expunged"),
            "{e:?}"
        );
        // no messages added: the count is exact again, and the UIDs are told
        let exact = reply(&[
            "* 3 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* OK [UIDNEXT 9] x",
            "* VANISHED (EARLIER) 2,8",
        ]);
        assert_eq!(
            check(&known(), true, &Expect::default(), &exact),
            Ok(Some(vec![1, 3, 5]))
        );
        let lost = Reply {
            vanished: vec![(2, 2)],
            ..exact
        };
        assert!(check(&known(), true, &Expect::default(), &lost).is_err());
    }

    #[test]
    fn concurrent_changes_are_no_error() {
        let expect = Expect {
            expunged: vec![2],
            changed: vec![(3, 44)],
        };
        // during the reply another session expunges 3 and appends one: the snapshot count is
        // not judged, and 3 reported gone satisfies its change
        let r = reply(&[
            "* 4 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 2",
            "* 4 FETCH (UID 9 MODSEQ (47))",
            "* VANISHED 3",
            "* 4 EXISTS",
        ]);
        assert_eq!(check(&known(), false, &expect, &r), Ok(None));
        // a server reporting more than it must (UIDs expunged long ago, or never known, in
        // VANISHED; FETCHes of unchanged messages) is fine
        let r = reply(&[
            "* 5 EXISTS",
            "* OK [UIDVALIDITY 7] x",
            "* VANISHED (EARLIER) 1:2,4,6:7",
            "* 1 FETCH (UID 3 MODSEQ (44))",
            "* 2 FETCH (UID 5 MODSEQ (12))",
            "* 3 FETCH (UID 8 MODSEQ (30))",
            "* 4 FETCH (UID 9 MODSEQ (47))",
            "* 5 FETCH (UID 10 MODSEQ (48))",
        ]);
        assert_eq!(
            check(&known(), false, &expect, &r),
            Ok(Some(vec![3, 5, 8, 9, 10]))
        );
    }
}
