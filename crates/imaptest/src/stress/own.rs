//! `own_msgs` and `own_flags`: what a client owns and therefore knows exactly. With `own_msgs`
//! a message belongs to the client that appended it (its UIDs from APPENDUID) and only its
//! owner stores flags on it, so the owner knows its flags; with `own_flags` each client owns
//! one keyword and only it sets or clears that keyword, so it knows where the keyword is. Any
//! FLAGS seen must agree (while an own STORE is in flight, a state before it is fine too).
//! `\Deleted` is anyone's to set (DELETE goes to any message, so the mailbox drains), and
//! `\Recent` is the server's. Pure.
use std::collections::{BTreeSet, HashMap};

/// How a STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// A parsed `UID STORE set ±FLAGS[.SILENT] (flags)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub uids: Vec<u32>,
    pub op: Op,
    /// Lower case.
    pub flags: Vec<String>,
}

/// Parses the STOREs this tester sends in own modes (UIDs listed one by one).
pub fn parse_store(cmd: &str) -> Option<Store> {
    let rest = cmd.strip_prefix("UID STORE ")?;
    let (set, rest) = rest.split_once(' ')?;
    let uids = set
        .split(',')
        .map(|u| u.parse().ok())
        .collect::<Option<Vec<u32>>>()?;
    let (item, flags) = rest.split_once(' ')?;
    let op = match item.as_bytes().first()? {
        b'+' => Op::Add,
        b'-' => Op::Remove,
        _ => Op::Replace,
    };
    let flags = flags
        .trim_matches(['(', ')'])
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    Some(Store { uids, op, flags })
}

fn norm(flags: &[String]) -> BTreeSet<String> {
    flags
        .iter()
        .filter(|f| *f != "\\recent" && *f != "\\deleted")
        .map(|f| f.to_ascii_lowercase())
        .collect()
}

fn show(s: &BTreeSet<String>) -> String {
    s.iter().cloned().collect::<Vec<_>>().join(" ")
}

/// What is known of a message: its flags (own_msgs) and whether the own keyword is set
/// (own_flags); `None` where not known.
type State = (Option<BTreeSet<String>>, Option<bool>);

/// One session's ownership.
#[derive(Debug, Default)]
pub struct Own {
    /// own_msgs is on.
    pub msgs_on: bool,
    /// own_msgs: own UID → its flags once every STORE sent is done (None: not known, after
    /// a failed STORE).
    msgs: HashMap<u32, Option<BTreeSet<String>>>,
    /// own_flags: the keyword this client owns (lower case).
    pub flag: Option<String>,
    /// own_flags: UID → whether the keyword is set there once every STORE sent is done.
    flagged: HashMap<u32, bool>,
    /// Per UID: own STOREs on it in flight, and the states it may show meanwhile (before
    /// each of them), as (flags, keyword).
    in_flight: HashMap<u32, (u32, Vec<State>)>,
}

impl Own {
    pub fn new(own_msgs: bool, flag: Option<String>) -> Own {
        Own {
            msgs_on: own_msgs,
            flag: flag.map(|f| f.to_ascii_lowercase()),
            ..Own::default()
        }
    }

    /// Whether anything is tracked.
    pub fn on(&self) -> bool {
        self.msgs_on || self.flag.is_some()
    }

    /// The client appended these (APPENDUID), without flags.
    pub fn appended(&mut self, uids: impl IntoIterator<Item = u32>) {
        if self.msgs_on {
            for u in uids {
                self.msgs.insert(u, Some(BTreeSet::new()));
            }
        }
    }

    /// Own UIDs among `present`.
    pub fn owned<'a>(&'a self, present: impl Iterator<Item = u32> + 'a) -> Vec<u32> {
        present.filter(|u| self.msgs.contains_key(u)).collect()
    }

    fn state(&self, uid: u32) -> State {
        (
            self.msgs.get(&uid).cloned().flatten(),
            self.flagged.get(&uid).copied(),
        )
    }

    /// An own STORE is sent.
    pub fn stored(&mut self, s: &Store) {
        for u in &s.uids {
            let before = self.state(*u);
            let e = self.in_flight.entry(*u).or_default();
            e.0 += 1;
            e.1.push(before);
            if let Some(Some(set)) = self.msgs.get_mut(u) {
                match s.op {
                    Op::Add => set.extend(s.flags.iter().cloned()),
                    Op::Remove => {
                        for f in &s.flags {
                            set.remove(f);
                        }
                    }
                    Op::Replace => *set = norm(&s.flags),
                }
            }
            if let Some(k) = &self.flag {
                if s.flags.contains(k) {
                    self.flagged.insert(*u, s.op != Op::Remove);
                } else if s.op == Op::Replace {
                    self.flagged.insert(*u, false);
                }
            }
        }
    }

    /// An own STORE is answered; a failure makes its messages' flags unknown.
    pub fn answered(&mut self, s: &Store, ok: bool) {
        for u in &s.uids {
            if let Some(e) = self.in_flight.get_mut(u) {
                e.0 = e.0.saturating_sub(1);
                if e.0 == 0 {
                    self.in_flight.remove(u);
                }
            }
            if !ok {
                if let Some(e) = self.msgs.get_mut(u) {
                    *e = None;
                }
                self.flagged.remove(u);
            }
        }
    }

    /// Judges the flags seen for `uid`: they must be the state after this client's STOREs,
    /// or, while some are in flight, one it went through.
    pub fn check(&mut self, uid: u32, flags: &[String]) -> Vec<String> {
        let mut errs = Vec::new();
        let got = norm(flags);
        let (want, on) = self.state(uid);
        let alts = self
            .in_flight
            .get(&uid)
            .map(|e| e.1.as_slice())
            .unwrap_or(&[]);
        let busy = !alts.is_empty();
        if self.msgs_on {
            if let Some(want) = &want {
                // a state before an in-flight STORE that was not known allows anything
                let ok =
                    *want == got || alts.iter().any(|a| a.0.as_ref().is_none_or(|a| *a == got));
                if !ok {
                    errs.push(format!(
                        "UID {uid}: flags ({}) changed by another session, this client (its owner) set ({})",
                        show(&got),
                        show(want)
                    ));
                }
            }
            if !busy && self.msgs.contains_key(&uid) {
                self.msgs.insert(uid, Some(got.clone()));
            }
        }
        if let (Some(k), Some(on)) = (&self.flag, on) {
            let has = got.contains(k);
            let ok = has == on || alts.iter().any(|a| a.1.is_none_or(|a| a == has));
            if !ok {
                errs.push(format!(
                    "UID {uid}: keyword {k}, owned by this client, was {} by another session",
                    if on { "removed" } else { "set" }
                ));
            }
            if !busy {
                self.flagged.insert(uid, has);
            }
        }
        errs
    }
}

/// The UIDs of an APPENDUID code's set (`5` or `5:7` or `5,7`), at most `max` of them.
pub fn uid_set(set: &str, max: usize) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            for u in a.min(b)..=a.max(b) {
                if out.len() >= max {
                    return out;
                }
                out.push(u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_its_own_stores() {
        assert_eq!(
            parse_store("UID STORE 4,9 +FLAGS (\\Seen $Own3)"),
            Some(Store {
                uids: vec![4, 9],
                op: Op::Add,
                flags: v(&["\\seen", "$own3"])
            })
        );
        assert_eq!(
            parse_store("UID STORE 4 FLAGS.SILENT (\\Seen)").unwrap().op,
            Op::Replace
        );
        assert_eq!(parse_store("STORE 1:3 +FLAGS (\\Seen)"), None);
        assert_eq!(uid_set("5:7,9", 10), [5, 6, 7, 9]);
        assert_eq!(uid_set("1:4000000000", 3), [1, 2, 3]);
    }

    #[test]
    fn own_msgs_flags_must_stay_as_the_owner_left_them() {
        let mut o = Own::new(true, None);
        o.appended([5]);
        assert!(o.check(5, &v(&["\\recent"])).is_empty());
        let s = parse_store("UID STORE 5 +FLAGS (\\Flagged $Label1)").unwrap();
        o.stored(&s);
        // while the STORE is in flight, the state before it is fine too, others are not
        assert!(o.check(5, &v(&[])).is_empty());
        assert!(!o.check(5, &v(&["\\seen"])).is_empty());
        o.answered(&s, true);
        assert!(o.check(5, &v(&["\\flagged", "$label1"])).is_empty());
        let e = o.check(5, &v(&["\\flagged"]));
        assert!(
            e[0].contains("UID 5: flags (\\flagged) changed by another session"),
            "{e:?}"
        );
        // a message owned by nobody here is not judged
        assert!(o.check(6, &v(&["\\seen"])).is_empty());
        // after a failed STORE the flags are learnt again
        let s = parse_store("UID STORE 5 FLAGS (\\Seen)").unwrap();
        o.stored(&s);
        o.answered(&s, false);
        assert!(o.check(5, &v(&["\\draft"])).is_empty());
        assert!(!o.check(5, &v(&[])).is_empty());
    }

    #[test]
    fn own_flags_keyword_must_stay() {
        let mut o = Own::new(false, Some("$Own2".into()));
        let s = parse_store("UID STORE 3,4 +FLAGS ($Own2)").unwrap();
        o.stored(&s);
        o.answered(&s, true);
        assert!(o.check(3, &v(&["$own2", "\\seen"])).is_empty());
        let e = o.check(4, &v(&["\\seen"]));
        assert!(
            e[0].contains("keyword $own2, owned by this client, was removed"),
            "{e:?}"
        );
        let s = parse_store("UID STORE 3 -FLAGS ($Own2)").unwrap();
        o.stored(&s);
        o.answered(&s, true);
        let e = o.check(3, &v(&["$own2"]));
        assert!(e[0].contains("was set by another session"), "{e:?}");
        // a STORE in flight that does not change the keyword leaves it judged
        let s = parse_store("UID STORE 4 +FLAGS ($Own2)").unwrap();
        o.stored(&s);
        o.answered(&s, true);
        o.stored(&s);
        o.stored(&s);
        assert!(o.check(4, &v(&["$own2"])).is_empty());
        assert!(!o.check(4, &v(&[])).is_empty());
    }
}
