//! What one session knows of its selected mailbox, and the checks on every untagged reply that
//! changes it: EXISTS never shrinking, EXPUNGE and FETCH within the announced range, the
//! seq→UID map staying put and ordered, system flags valid, keywords announced by FLAGS or
//! PERMANENTFLAGS (and not dropped while in use), MODSEQ never going down. Pure: replies in,
//! complaints and [`Seen`] facts (for the checks across sessions) out.
use imapwire::{Response, Value};
use std::borrow::Cow;
use std::collections::HashSet;

const SYSTEM_FLAGS: &[&str] = &[
    "\\seen",
    "\\answered",
    "\\flagged",
    "\\deleted",
    "\\draft",
    "\\recent",
];

/// One message as this session sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    /// 0 while unknown.
    pub uid: u32,
    pub flags: Option<Vec<String>>,
    pub modseq: u64,
    /// RFC822.SIZE, once fetched.
    pub size: Option<u64>,
    /// INTERNALDATE's day (own zone, UTC), once fetched.
    pub day: Option<(i64, i64)>,
}

/// Facts from a reply that other sessions' views must agree with.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// UIDs this session saw with `\Recent`.
    pub recent: Vec<u32>,
    /// (UID, item name, canonical value: see [`canon`]) of items that never change for a
    /// message.
    pub fixed: Vec<Fixed>,
    /// UIDs this session saw expunged (EXPUNGE of a message of known UID, VANISHED).
    pub expunged: Vec<u32>,
    /// (UID, MODSEQ) of FETCH replies with a MODSEQ.
    pub modseqs: Vec<(u32, u64)>,
}

/// The session's view of the selected mailbox.
#[derive(Debug, Default)]
pub struct View {
    pub msgs: Vec<Msg>,
    pub uidvalidity: u32,
    pub recent: u32,
    /// Keywords announced by FLAGS / PERMANENTFLAGS, lower case.
    pub keywords: HashSet<String>,
    /// PERMANENTFLAGS has `\*`.
    pub any_keyword: bool,
    /// The last HIGHESTMODSEQ response code (0: none).
    pub highestmodseq: u64,
}

fn lower(v: &Value) -> Option<String> {
    // one allocation: the lossy view borrows when the bytes are UTF-8
    v.bytes()
        .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase())
}

/// One fixed item seen: UID, item name, canonical value.
pub type Fixed = (u32, Cow<'static, str>, Vec<u8>);

/// The canonical form of a value for comparing fixed items: like the wire form, but a string
/// is a string however it was sent (quoted or literal: both become `"…"` with `\` and `"`
/// escaped), so only a change of content is a change. Written into `out`, no formatting.
pub fn canon(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Atom(a) => out.extend_from_slice(a),
        Value::Quoted(q) | Value::Literal { data: q, .. } => imapwire::write_quoted(q, out),
        Value::Nil => out.extend_from_slice(b"NIL"),
        Value::List(items) | Value::Code(items) => {
            out.push(if matches!(v, Value::List(_)) {
                b'('
            } else {
                b'['
            });
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                canon(x, out);
            }
            out.push(if matches!(v, Value::List(_)) {
                b')'
            } else {
                b']'
            });
        }
    }
}

/// The static name of a fixed item (no allocation for the usual ones).
fn fixed_name(n: &str) -> Cow<'static, str> {
    match n {
        "RFC822.SIZE" => Cow::Borrowed("RFC822.SIZE"),
        "ENVELOPE" => Cow::Borrowed("ENVELOPE"),
        "BODYSTRUCTURE" => Cow::Borrowed("BODYSTRUCTURE"),
        "BODY" => Cow::Borrowed("BODY"),
        "INTERNALDATE" => Cow::Borrowed("INTERNALDATE"),
        other => Cow::Owned(other.to_string()),
    }
}

/// Items of a FETCH that identify a message's content.
fn is_fixed(name: &str) -> bool {
    matches!(
        name,
        "RFC822.SIZE" | "ENVELOPE" | "BODYSTRUCTURE" | "BODY" | "INTERNALDATE"
    ) || name.starts_with("BODY[HEADER.FIELDS")
}

impl View {
    pub fn exists(&self) -> u32 {
        self.msgs.len() as u32
    }

    /// Forgets everything (a new SELECT).
    pub fn reset(&mut self) {
        *self = View::default();
    }

    /// Applies an untagged reply; complaints go to `errs`.
    pub fn apply(&mut self, r: &Response, errs: &mut Vec<String>) -> Seen {
        let mut seen = Seen::default();
        let Response::Untagged(v) = r else {
            return seen;
        };
        match (v.first().and_then(Value::number), v.get(1)) {
            (Some(n), Some(word)) if word.is_atom("EXISTS") => {
                let n = n as usize;
                if n < self.msgs.len() {
                    errs.push(format!(
                        "EXISTS shrank from {} to {n} without EXPUNGE",
                        self.msgs.len()
                    ));
                    self.msgs.truncate(n);
                } else {
                    self.msgs.resize(n, Msg::default());
                }
            }
            (Some(n), Some(word)) if word.is_atom("RECENT") => self.recent = n as u32,
            (Some(n), Some(word)) if word.is_atom("EXPUNGE") => {
                if n == 0 || n as usize > self.msgs.len() {
                    errs.push(format!(
                        "EXPUNGE {n} out of range (the mailbox has {} messages)",
                        self.msgs.len()
                    ));
                } else {
                    let m = self.msgs.remove(n as usize - 1);
                    if m.uid != 0 {
                        seen.expunged.push(m.uid);
                    }
                }
            }
            (Some(n), Some(word)) if word.is_atom("FETCH") => {
                if let Some(items) = v.get(2).and_then(Value::items) {
                    self.fetch(n, items, errs, &mut seen);
                } else {
                    errs.push("FETCH without a list of items".into());
                }
            }
            (None, Some(_)) if v.first().is_some_and(|w| w.is_atom("VANISHED")) => {
                self.vanished(&v[1..], errs, &mut seen);
            }
            (None, _) if v.first().is_some_and(|w| w.is_atom("FLAGS")) => {
                if let Some(list) = v.get(1).and_then(Value::items) {
                    self.flags_announced(list, errs);
                }
            }
            (None, _) if v.first().is_some_and(|w| w.is_atom("OK")) => {
                if let Some((_, Some(code))) = r.status_code() {
                    if code.first().is_some_and(|c| c.is_atom("UIDVALIDITY")) {
                        if let Some(n) = code.get(1).and_then(Value::number) {
                            self.uidvalidity = n as u32;
                        }
                    } else if code.first().is_some_and(|c| c.is_atom("HIGHESTMODSEQ")) {
                        if let Some(n) = code.get(1).and_then(Value::number) {
                            self.highestmodseq = n;
                        }
                    } else if code.first().is_some_and(|c| c.is_atom("PERMANENTFLAGS")) {
                        for f in code.get(1).and_then(Value::items).unwrap_or(&[]) {
                            match lower(f).as_deref() {
                                Some("\\*") => self.any_keyword = true,
                                Some(k) if !k.starts_with('\\') => {
                                    self.keywords.insert(k.to_string());
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        seen
    }

    /// The messages as SEARCH sees them.
    pub fn facts(&self) -> Vec<super::search::Facts> {
        self.msgs
            .iter()
            .map(|m| super::search::Facts {
                size: m.size,
                day: m.day,
            })
            .collect()
    }

    /// `* VANISHED uid-set` (QRESYNC's EXPUNGE): every UID must be one the mailbox can hold;
    /// a UID this session has not seen goes where the UID order puts it among the messages
    /// of unknown UID (what was known of them is forgotten when it cannot tell which).
    /// `(EARLIER)` (a resync report) changes nothing here.
    fn vanished(&mut self, args: &[Value], errs: &mut Vec<String>, seen: &mut Seen) {
        if args.first().and_then(Value::items).is_some() {
            return;
        }
        let Some(set) = args.first().and_then(Value::text) else {
            errs.push("VANISHED without a UID set".into());
            return;
        };
        let mut uids = Vec::new();
        for part in set.split(',') {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) if a > 0 && b > 0 => {
                    let (a, b) = (a.min(b), a.max(b));
                    if (b - a) as usize > self.msgs.len() {
                        errs.push(format!(
                            "VANISHED {part} names more UIDs than the mailbox has messages ({})",
                            self.msgs.len()
                        ));
                        return;
                    }
                    uids.extend(a..=b);
                }
                _ => {
                    errs.push(format!("VANISHED: invalid UID set {set}"));
                    return;
                }
            }
        }
        seen.expunged.extend_from_slice(&uids);
        for u in uids {
            if let Some(i) = self.msgs.iter().position(|m| m.uid == u) {
                self.msgs.remove(i);
                continue;
            }
            // the slots of unknown UID between the known neighbours of u
            let lo = self.msgs.iter().rposition(|m| m.uid != 0 && m.uid < u);
            let hi = self.msgs.iter().position(|m| m.uid > u);
            let from = lo.map_or(0, |i| i + 1);
            let to = hi.unwrap_or(self.msgs.len());
            let slots: Vec<usize> = (from..to).filter(|&i| self.msgs[i].uid == 0).collect();
            match slots.as_slice() {
                [] => {
                    errs.push(format!(
                        "VANISHED UID {u} is not in the mailbox (no message of unknown UID where it would be)"
                    ));
                    return;
                }
                [one] => {
                    self.msgs.remove(*one);
                }
                many => {
                    for &i in many {
                        self.msgs[i] = Msg::default();
                    }
                    self.msgs.remove(many[0]);
                }
            }
        }
    }

    fn flags_announced(&mut self, list: &[Value], errs: &mut Vec<String>) {
        let now: HashSet<String> = list
            .iter()
            .filter_map(lower)
            .filter(|f| !f.starts_with('\\'))
            .collect();
        let in_use: HashSet<&String> = self
            .msgs
            .iter()
            .filter_map(|m| m.flags.as_ref())
            .flatten()
            .filter(|f| !f.starts_with('\\'))
            .collect();
        for k in in_use {
            if !now.contains(k) && !self.any_keyword {
                errs.push(format!("FLAGS dropped keyword {k} that is still in use"));
            }
        }
        self.keywords.extend(now);
    }

    fn fetch(&mut self, seq: u64, items: &[Value], errs: &mut Vec<String>, seen: &mut Seen) {
        let count = self.msgs.len();
        if seq == 0 || seq as usize > count {
            errs.push(format!(
                "FETCH {seq} for a sequence never announced by EXISTS (the mailbox has {count} messages)"
            ));
            return;
        }
        let i = seq as usize - 1;
        let mut pairs = items.chunks(2);
        let mut uid = self.msgs[i].uid;
        let mut fixed = Vec::new();
        let mut flags_seen: Option<Vec<String>> = None;
        let mut modseq_seen = None;
        let mut name_buf: Vec<u8> = Vec::with_capacity(64);
        let mut scratch: Vec<u8> = Vec::new();
        for pair in pairs.by_ref() {
            let [name, value] = pair else {
                errs.push("FETCH with an odd number of items".into());
                break;
            };
            // one buffer for every item name of the reply, upper-cased in place
            name_buf.clear();
            name_buf.extend(
                name.bytes()
                    .unwrap_or_default()
                    .iter()
                    .map(u8::to_ascii_uppercase),
            );
            let name = String::from_utf8_lossy(&name_buf);
            match name.as_ref() {
                "UID" => match value.number() {
                    Some(u) if u > 0 && u <= u32::MAX as u64 => {
                        let u = u as u32;
                        if uid != 0 && uid != u {
                            errs.push(format!("seq {seq} changed its UID from {uid} to {u}"));
                        }
                        let before = self.msgs[..i].iter().rev().find(|m| m.uid != 0);
                        let after = self.msgs[i + 1..].iter().find(|m| m.uid != 0);
                        if before.is_some_and(|m| m.uid >= u) || after.is_some_and(|m| m.uid <= u) {
                            errs.push(format!(
                                "seq {seq} has UID {u}, out of order with its neighbours"
                            ));
                        }
                        uid = u;
                        self.msgs[i].uid = u;
                    }
                    _ => errs.push(format!("FETCH {seq}: invalid UID {value}")),
                },
                "FLAGS" => {
                    let Some(list) = value.items() else {
                        errs.push(format!("FETCH {seq}: FLAGS is not a list"));
                        continue;
                    };
                    let mut fl = Vec::new();
                    for f in list.iter().filter_map(lower) {
                        if f.starts_with('\\') {
                            if !SYSTEM_FLAGS.contains(&f.as_str()) {
                                errs.push(format!("FETCH {seq}: invalid system flag {f}"));
                            }
                        } else if !self.keywords.contains(&f) && !self.any_keyword {
                            errs.push(format!(
                                "FETCH {seq}: keyword {f} was not announced in FLAGS"
                            ));
                        }
                        fl.push(f);
                    }
                    flags_seen = Some(fl);
                }
                "MODSEQ" => {
                    if let Some(m) = value
                        .items()
                        .and_then(|l| l.first())
                        .and_then(Value::number)
                    {
                        let old = self.msgs[i].modseq;
                        if m < old {
                            errs.push(format!("seq {seq}: MODSEQ went down from {old} to {m}"));
                        }
                        self.msgs[i].modseq = m;
                        modseq_seen = Some(m);
                    }
                }
                n if is_fixed(n) => {
                    if n == "RFC822.SIZE" {
                        // 0 is what servers send for a message expunged under the FETCH
                        self.msgs[i].size = value.number().filter(|&n| n > 0);
                    } else if n == "INTERNALDATE" {
                        // so is the epoch
                        self.msgs[i].day = value
                            .text()
                            .and_then(|t| super::search::internaldate_days(&t))
                            .filter(|d| d.0 > 1);
                    }
                    // built in a reused buffer, then copied once at its exact size
                    scratch.clear();
                    canon(value, &mut scratch);
                    fixed.push((fixed_name(n), scratch.clone()))
                }
                _ => {}
            }
        }
        if let Some(fl) = flags_seen {
            if fl.iter().any(|f| f == "\\recent") && uid != 0 {
                seen.recent.push(uid);
            }
            self.msgs[i].flags = Some(fl);
        }
        if let (Some(m), true) = (modseq_seen, uid != 0) {
            seen.modseqs.push((uid, m));
        }
        if uid != 0 {
            seen.fixed
                .extend(fixed.into_iter().map(|(n, v)| (uid, n, v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapwire::parse_response;

    fn feed(v: &mut View, lines: &[&str]) -> (Vec<String>, Seen) {
        let mut errs = Vec::new();
        let mut all = Seen::default();
        for l in lines {
            let r = parse_response(format!("{l}\r\n").as_bytes()).unwrap();
            let s = v.apply(&r, &mut errs);
            all.recent.extend(s.recent);
            all.fixed.extend(s.fixed);
            all.expunged.extend(s.expunged);
            all.modseqs.extend(s.modseqs);
        }
        (errs, all)
    }

    #[test]
    fn a_consistent_session_has_no_complaints() {
        let mut v = View::default();
        let (e, s) = feed(
            &mut v,
            &[
                "* FLAGS (\\Seen \\Deleted $Label1)",
                "* OK [PERMANENTFLAGS (\\Seen \\Deleted $Label1)] ok",
                "* OK [UIDVALIDITY 77] ok",
                "* 3 EXISTS",
                "* 1 RECENT",
                "* 1 FETCH (UID 4 FLAGS (\\Seen))",
                "* 2 FETCH (UID 7 FLAGS ($Label1) RFC822.SIZE 100)",
                "* 3 FETCH (UID 9 FLAGS (\\Recent) MODSEQ (5))",
                "* 3 FETCH (MODSEQ (6))",
                "* 2 EXPUNGE",
                "* 2 FETCH (UID 9)",
            ],
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!((v.exists(), v.uidvalidity, v.recent), (2, 77, 1));
        assert_eq!(s.recent, [9]);
        assert_eq!(
            s.fixed,
            [(7, Cow::Borrowed("RFC822.SIZE"), b"100".to_vec())]
        );
        assert_eq!(v.msgs[1].modseq, 6);
    }

    #[test]
    fn expunges_and_modseqs_seen_for_qresync() {
        let mut v = View::default();
        let (e, s) = feed(
            &mut v,
            &[
                "* 4 EXISTS",
                "* OK [HIGHESTMODSEQ 90] x",
                "* 1 FETCH (UID 3 MODSEQ (80))",
                "* 2 FETCH (UID 5 FLAGS ())",
                "* 3 FETCH (MODSEQ (85))",
                "* 4 FETCH (UID 9 MODSEQ (91))",
                "* 1 EXPUNGE",
                "* 2 EXPUNGE",
                "* VANISHED 9",
                "* VANISHED (EARLIER) 1:2",
            ],
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(v.highestmodseq, 90);
        // a MODSEQ or an EXPUNGE of a message of unknown UID tells nothing about a UID
        assert_eq!(s.modseqs, [(3, 80), (9, 91)]);
        assert_eq!(s.expunged, [3, 9]);
        assert_eq!(v.exists(), 1);
    }

    #[test]
    fn canonical_values_ignore_how_strings_were_sent() {
        let form = |line: &str| {
            let r = parse_response(line.as_bytes()).unwrap();
            let Response::Untagged(v) = r else { panic!() };
            let mut out = Vec::new();
            canon(&v[2].items().unwrap()[1], &mut out);
            String::from_utf8(out).unwrap()
        };
        let quoted = form("* 1 FETCH (ENVELOPE (\"a \\\"b\\\"\" NIL (x)))\r\n");
        let literal = form("* 1 FETCH (ENVELOPE ({5}\r\na \"b\" NIL (x)))\r\n");
        assert_eq!(quoted, "(\"a \\\"b\\\"\" NIL (x))");
        assert_eq!(quoted, literal);
    }

    #[test]
    fn vanished_removes_by_uid() {
        let mut v = View::default();
        let (e, _) = feed(
            &mut v,
            &[
                "* 4 EXISTS",
                "* 1 FETCH (UID 3 RFC822.SIZE 10)",
                "* 3 FETCH (RFC822.SIZE 30)",
                "* 4 FETCH (UID 9 RFC822.SIZE 40)",
                "* VANISHED 3",
                "* VANISHED (EARLIER) 1:2",
            ],
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(v.exists(), 3);
        // UID 5 lies among the two messages of unknown UID: which one is forgotten
        let (e, _) = feed(&mut v, &["* VANISHED 5"]);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            v.msgs.iter().map(|m| m.size).collect::<Vec<_>>(),
            [None, Some(40)]
        );
        let (e, _) = feed(
            &mut v,
            &[
                "* VANISHED 9",
                "* 1 FETCH (INTERNALDATE \"24-Mar-2007 23:00:00 +0200\")",
            ],
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(v.exists(), 1);
        assert!(v.msgs[0].day.is_some());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["* 3 EXISTS", "* 2 EXISTS"], "EXISTS shrank from 3 to 2"),
            (&["* 1 EXISTS", "* 2 EXPUNGE"], "EXPUNGE 2 out of range"),
            (
                &["* 1 EXISTS", "* 2 FETCH (FLAGS ())"],
                "FETCH 2 for a sequence never announced",
            ),
            (
                &["* 1 EXISTS", "* 1 FETCH (UID 5)", "* 1 FETCH (UID 6)"],
                "seq 1 changed its UID from 5 to 6",
            ),
            (
                &["* 2 EXISTS", "* 1 FETCH (UID 5)", "* 2 FETCH (UID 3)"],
                "out of order",
            ),
            (
                &["* 1 EXISTS", "* 1 FETCH (FLAGS (\\Bogus))"],
                "invalid system flag \\bogus",
            ),
            (
                &["* 1 EXISTS", "* 1 FETCH (FLAGS ($x))"],
                "keyword $x was not announced",
            ),
            (
                &[
                    "* FLAGS ($x)",
                    "* 1 EXISTS",
                    "* 1 FETCH (FLAGS ($x))",
                    "* FLAGS ()",
                ],
                "FLAGS dropped keyword $x",
            ),
            (
                &[
                    "* 1 EXISTS",
                    "* 1 FETCH (MODSEQ (9))",
                    "* 1 FETCH (MODSEQ (8))",
                ],
                "MODSEQ went down from 9 to 8",
            ),
        ];
        for (lines, want) in cases {
            let (e, _) = feed(&mut View::default(), lines);
            assert!(e.iter().any(|x| x.contains(want)), "{lines:?}: {e:?}");
        }
        for (lines, want) in [
            (
                &[
                    "* 2 EXISTS",
                    "* 1 FETCH (UID 4)",
                    "* 2 FETCH (UID 6)",
                    "* VANISHED 5",
                ][..],
                "VANISHED UID 5 is not in the mailbox",
            ),
            (&["* 1 EXISTS", "* VANISHED 0"], "invalid UID set 0"),
            (&["* 1 EXISTS", "* VANISHED 1:9"], "names more UIDs"),
        ] {
            let (e, _) = feed(&mut View::default(), lines);
            assert!(e.iter().any(|x| x.contains(want)), "{lines:?}: {e:?}");
        }
        // \* in PERMANENTFLAGS allows any keyword
        let (e, _) = feed(
            &mut View::default(),
            &[
                "* OK [PERMANENTFLAGS (\\*)] x",
                "* 1 EXISTS",
                "* 1 FETCH (FLAGS ($new))",
            ],
        );
        assert!(e.is_empty(), "{e:?}");
    }
}
