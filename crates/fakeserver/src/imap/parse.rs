//! IMAP command syntax, pure: a complete command (its literals inline, framed by the handler)
//! goes through imapwire's tokenizer — the same one imaptest reads responses with — and is
//! then read into typed pieces: tag and command name, sequence sets, fetch attributes, search
//! keys, flags and dates. Every error is a message for a tagged `BAD`, never a panic.

use super::mime::Spec;
use imapwire::Value;

/// A command: tag, name (upper case; `UID FETCH` for UID forms) and the remaining arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub tag: String,
    pub name: String,
    pub args: Vec<Value>,
}

/// Why a command could not be read: the tag when there was one, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub tag: Option<String>,
    pub reason: String,
}

pub fn request(bytes: &[u8]) -> Result<Request, SyntaxError> {
    let first = bytes.split(|&c| c == b' ').next().unwrap_or_default();
    let tag_guess = valid_tag(first).then(|| String::from_utf8_lossy(first).into_owned());
    let err = |reason: String| SyntaxError {
        tag: tag_guess.clone(),
        reason,
    };
    let values = imapwire::tokenize_command(bytes).map_err(|e| err(e.reason.clone()))?;
    let mut it = values.into_iter();
    let tag = match it.next() {
        Some(Value::Atom(t)) if valid_tag(&t) => String::from_utf8_lossy(&t).into_owned(),
        _ => {
            return Err(SyntaxError {
                tag: None,
                reason: "Invalid tag".into(),
            })
        }
    };
    let mut name = match it.next() {
        Some(Value::Atom(a)) => String::from_utf8_lossy(&a).to_ascii_uppercase(),
        _ => {
            return Err(SyntaxError {
                tag: Some(tag),
                reason: "Missing command".into(),
            })
        }
    };
    if name == "UID" {
        match it.next() {
            Some(Value::Atom(a)) => {
                name = format!("UID {}", String::from_utf8_lossy(&a).to_ascii_uppercase())
            }
            _ => {
                return Err(SyntaxError {
                    tag: Some(tag),
                    reason: "UID needs a command".into(),
                })
            }
        }
    }
    Ok(Request {
        tag,
        name,
        args: it.collect(),
    })
}

fn valid_tag(t: &[u8]) -> bool {
    !t.is_empty()
        && t.iter()
            .all(|&c| c > b' ' && c < 0x7f && !b"(){%*\"\\+".contains(&c))
}

/// A string-ish argument (atom, quoted, literal) as text.
pub fn astring(v: &Value) -> Option<String> {
    match v {
        Value::Atom(_) | Value::Quoted(_) | Value::Literal { .. } => v.text(),
        Value::Nil => Some("NIL".into()),
        _ => None,
    }
}

/// One end of a range in a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    N(u32),
    Star,
}

/// A sequence set, or `$` (the saved search result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqSet {
    Ranges(Vec<(Bound, Bound)>),
    Saved,
}

impl SeqSet {
    pub fn parse(s: &str) -> Option<SeqSet> {
        if s == "$" {
            return Some(SeqSet::Saved);
        }
        let mut out = Vec::new();
        for r in s.split(',') {
            let (a, b) = match r.split_once(':') {
                Some((a, b)) => (bound(a)?, bound(b)?),
                None => {
                    let a = bound(r)?;
                    (a, a)
                }
            };
            out.push((a, b));
        }
        Some(SeqSet::Ranges(out))
    }

    /// Whether `n` is in the set, `*` being `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        let SeqSet::Ranges(r) = self else {
            return false;
        };
        let v = |b: Bound| match b {
            Bound::N(x) => x,
            Bound::Star => max,
        };
        r.iter().any(|&(a, b)| {
            let (lo, hi) = (v(a).min(v(b)), v(a).max(v(b)));
            n >= lo && n <= hi
        })
    }
}

fn bound(s: &str) -> Option<Bound> {
    if s == "*" {
        return Some(Bound::Star);
    }
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match s.parse::<u32>().ok()? {
        0 => None,
        n => Some(Bound::N(n)),
    }
}

/// SELECT's `QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])` (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known: Option<SeqSet>,
    /// The sequence match data: known sequence numbers and their UIDs.
    pub seq_match: Option<(SeqSet, SeqSet)>,
}

/// The parenthesised list after SELECT's QRESYNC parameter.
pub fn qresync_params(v: &Value) -> Result<Qresync, String> {
    let bad = || "Invalid QRESYNC parameters".to_string();
    let items = v.items().ok_or_else(bad)?;
    let number = |i: usize| items.get(i).and_then(Value::number).ok_or_else(bad);
    let uidvalidity = u32::try_from(number(0)?).map_err(|_| bad())?;
    let modseq = number(1)?;
    if uidvalidity == 0 || modseq == 0 {
        return Err(bad());
    }
    let set = |v: Option<&Value>| -> Result<SeqSet, String> {
        let s = v.and_then(astring).ok_or_else(bad)?;
        match SeqSet::parse(&s) {
            Some(SeqSet::Ranges(r)) => Ok(SeqSet::Ranges(r)),
            _ => Err(bad()),
        }
    };
    let mut known = None;
    let mut seq_match = None;
    let mut i = 2;
    if items.get(i).is_some_and(|x| !matches!(x, Value::List(_))) {
        known = Some(set(items.get(i))?);
        i += 1;
    }
    if let Some(m) = items.get(i) {
        let pair = m.items().filter(|p| p.len() == 2).ok_or_else(bad)?;
        seq_match = Some((set(pair.first())?, set(pair.get(1))?));
        i += 1;
    }
    if i != items.len() {
        return Err(bad());
    }
    Ok(Qresync {
        uidvalidity,
        modseq,
        known,
        seq_match,
    })
}

/// A FETCH attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Att {
    GmMsgId,
    GmThrId,
    GmLabels,
    Flags,
    Uid,
    InternalDate,
    Size,
    Envelope,
    Body,
    BodyStructure,
    ModSeq,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// BINARY[path]<partial> (RFC 3516), decoded; `size`: BINARY.SIZE[path].
    Binary {
        peek: bool,
        size: bool,
        path: Vec<u32>,
        partial: Option<(u64, u64)>,
        echo: String,
    },
    /// BODY[...] / BODY.PEEK[...]: the name as echoed, path, spec, partial.
    Section {
        peek: bool,
        path: Vec<u32>,
        spec: Spec,
        partial: Option<(u64, u64)>,
        echo: String,
    },
}

/// The items of a parenthesized list, or `v` alone (FETCH items and flags may be either).
fn list_or_one(v: &Value) -> Vec<&Value> {
    match v {
        Value::List(l) => l.iter().collect(),
        other => vec![other],
    }
}

pub fn fetch_atts(v: &Value) -> Result<Vec<Att>, String> {
    let items = list_or_one(v);
    let mut out = Vec::new();
    for it in items {
        let Value::Atom(a) = it else {
            return Err("Invalid fetch item".into());
        };
        let s = String::from_utf8_lossy(a).into_owned();
        let up = s.to_ascii_uppercase();
        match up.as_str() {
            "ALL" => out.extend([Att::Flags, Att::InternalDate, Att::Size, Att::Envelope]),
            "FAST" => out.extend([Att::Flags, Att::InternalDate, Att::Size]),
            "FULL" => out.extend([
                Att::Flags,
                Att::InternalDate,
                Att::Size,
                Att::Envelope,
                Att::Body,
            ]),
            "FLAGS" => out.push(Att::Flags),
            "UID" => out.push(Att::Uid),
            "INTERNALDATE" => out.push(Att::InternalDate),
            "RFC822.SIZE" => out.push(Att::Size),
            "ENVELOPE" => out.push(Att::Envelope),
            "BODY" => out.push(Att::Body),
            "BODYSTRUCTURE" => out.push(Att::BodyStructure),
            "MODSEQ" => out.push(Att::ModSeq),
            "X-GM-MSGID" => out.push(Att::GmMsgId),
            "X-GM-THRID" => out.push(Att::GmThrId),
            "X-GM-LABELS" => out.push(Att::GmLabels),
            "RFC822" => out.push(Att::Rfc822),
            "RFC822.HEADER" => out.push(Att::Rfc822Header),
            "RFC822.TEXT" => out.push(Att::Rfc822Text),
            _ if up.starts_with("BODY[") || up.starts_with("BODY.PEEK[") => {
                out.push(section_att(&s)?)
            }
            _ if up.starts_with("BINARY[")
                || up.starts_with("BINARY.PEEK[")
                || up.starts_with("BINARY.SIZE[") =>
            {
                let body = format!("BODY{}", &s[s.find('[').unwrap_or(0)..]);
                let Att::Section {
                    path,
                    spec,
                    partial,
                    ..
                } = section_att(&body)?
                else {
                    return Err("Invalid BINARY".into());
                };
                let size = up.starts_with("BINARY.SIZE[");
                if spec != Spec::All || (size && partial.is_some()) {
                    return Err(format!("Invalid BINARY section {s}"));
                }
                let p: Vec<String> = path.iter().map(u32::to_string).collect();
                let mut echo = format!(
                    "{}[{}]",
                    if size { "BINARY.SIZE" } else { "BINARY" },
                    p.join(".")
                );
                if let Some((a, _)) = partial {
                    echo.push_str(&format!("<{a}>"));
                }
                out.push(Att::Binary {
                    peek: up.starts_with("BINARY.PEEK[") || size,
                    size,
                    path,
                    partial,
                    echo,
                });
            }
            _ => return Err(format!("Unknown fetch item {s}")),
        }
    }
    Ok(out)
}

fn section_att(s: &str) -> Result<Att, String> {
    let bad = || format!("Invalid section {s}");
    let peek = s.to_ascii_uppercase().starts_with("BODY.PEEK[");
    let open = s.find('[').ok_or_else(bad)?;
    let close = s.rfind(']').ok_or_else(bad)?;
    let inner = &s[open + 1..close];
    let after = &s[close + 1..];
    let partial = if after.is_empty() {
        None
    } else {
        let p = after
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .ok_or_else(bad)?;
        let (a, b) = p.split_once('.').ok_or_else(bad)?;
        let a: u64 = a.parse().map_err(|_| bad())?;
        let b: u64 = b.parse().map_err(|_| bad())?;
        if b == 0 {
            return Err(bad());
        }
        Some((a, b))
    };
    let (path, spec) = section_spec(inner).ok_or_else(bad)?;
    // Echo: BODY[section] with HEADER.FIELDS names as sent, partial as <origin>.
    let mut echo = format!("BODY[{}]", normalise_section(inner));
    if let Some((a, _)) = partial {
        echo.push_str(&format!("<{a}>"));
    }
    Ok(Att::Section {
        peek,
        path,
        spec,
        partial,
        echo,
    })
}

fn normalise_section(inner: &str) -> String {
    match inner.find('(') {
        Some(p) => format!("{}{}", inner[..p].to_ascii_uppercase(), &inner[p..]),
        None => inner.to_ascii_uppercase(),
    }
}

/// `1.2.HEADER.FIELDS (A B)` → path and spec.
pub fn section_spec(inner: &str) -> Option<(Vec<u32>, Spec)> {
    let mut path = Vec::new();
    let mut rest = inner.trim();
    loop {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        let n: u32 = rest[..end].parse().ok()?;
        if n == 0 {
            return None;
        }
        path.push(n);
        rest = &rest[end..];
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    let up = rest.to_ascii_uppercase();
    let spec = if up.is_empty() {
        Spec::All
    } else if up == "HEADER" {
        Spec::Header
    } else if up == "TEXT" {
        Spec::Text
    } else if up == "MIME" && !path.is_empty() {
        Spec::Mime
    } else if let Some(list) = up
        .strip_prefix("HEADER.FIELDS.NOT")
        .or_else(|| up.strip_prefix("HEADER.FIELDS"))
    {
        let not = up.starts_with("HEADER.FIELDS.NOT");
        let list = list.trim().strip_prefix('(')?.strip_suffix(')')?;
        let names: Vec<String> = imapwire::tokenize(list.as_bytes())
            .ok()?
            .iter()
            .filter_map(astring)
            .collect();
        if names.is_empty() {
            return None;
        }
        Spec::HeaderFields { not, names }
    } else {
        return None;
    };
    Some((path, spec))
}

/// A SEARCH key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    All,
    Flag(&'static str, bool),
    Keyword(String, bool),
    New,
    Old,
    Recent,
    Seq(SeqSet),
    Uid(SeqSet),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
    Header(String, String),
    Body(String),
    Text(String),
    Larger(u64),
    Smaller(u64),
    /// INTERNALDATE (day number) before/on/since.
    Date {
        sent: bool,
        cmp: std::cmp::Ordering,
        inclusive: bool,
        day: i64,
    },
    ModSeq(u64),
    /// Gmail's X-GM-LABELS, X-GM-MSGID, X-GM-THRID (X-GM-RAW becomes ordinary keys).
    GmLabel(String),
    GmMsgId(u64),
    GmThrId(u64),
}

/// Search keys nest (NOT, OR, parentheses) at most this deep, so evaluation stays bounded.
pub const MAX_KEY_DEPTH: usize = 64;

/// Parse search keys (the arguments after an optional CHARSET).
pub fn search_keys(args: &[Value]) -> Result<Key, String> {
    keys_at(args, 0)
}

fn keys_at(args: &[Value], depth: usize) -> Result<Key, String> {
    if depth > MAX_KEY_DEPTH {
        return Err(format!("Search keys nested deeper than {MAX_KEY_DEPTH}"));
    }
    let mut i = 0;
    let mut keys = Vec::new();
    while i < args.len() {
        keys.push(one_key(args, &mut i, depth)?);
    }
    if keys.is_empty() {
        return Err("Missing search keys".into());
    }
    Ok(if keys.len() == 1 {
        keys.remove(0)
    } else {
        Key::And(keys)
    })
}

fn one_key(args: &[Value], i: &mut usize, depth: usize) -> Result<Key, String> {
    if depth > MAX_KEY_DEPTH {
        return Err(format!("Search keys nested deeper than {MAX_KEY_DEPTH}"));
    }
    let v = args.get(*i).ok_or("Missing search key")?;
    *i += 1;
    if let Value::List(l) = v {
        return keys_at(l, depth + 1);
    }
    let word = astring(v).ok_or("Invalid search key")?;
    let arg = |i: &mut usize| -> Result<String, String> {
        let a = args
            .get(*i)
            .and_then(astring)
            .ok_or_else(|| format!("Missing argument to {word}"))?;
        *i += 1;
        Ok(a)
    };
    let up = word.to_ascii_uppercase();
    let num = |s: String| s.parse::<u64>().map_err(|_| format!("Invalid number {s}"));
    let date = |s: String| parse_date(&s).ok_or_else(|| format!("Invalid date {s}"));
    use std::cmp::Ordering::*;
    Ok(match up.as_str() {
        "ALL" => Key::All,
        "ANSWERED" => Key::Flag("\\Answered", true),
        "UNANSWERED" => Key::Flag("\\Answered", false),
        "DELETED" => Key::Flag("\\Deleted", true),
        "UNDELETED" => Key::Flag("\\Deleted", false),
        "DRAFT" => Key::Flag("\\Draft", true),
        "UNDRAFT" => Key::Flag("\\Draft", false),
        "FLAGGED" => Key::Flag("\\Flagged", true),
        "UNFLAGGED" => Key::Flag("\\Flagged", false),
        "SEEN" => Key::Flag("\\Seen", true),
        "UNSEEN" => Key::Flag("\\Seen", false),
        "NEW" => Key::New,
        "OLD" => Key::Old,
        "RECENT" => Key::Recent,
        "KEYWORD" => Key::Keyword(arg(i)?, true),
        "UNKEYWORD" => Key::Keyword(arg(i)?, false),
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => Key::Header(up.to_ascii_lowercase(), arg(i)?),
        "HEADER" => {
            let h = arg(i)?;
            Key::Header(h.to_ascii_lowercase(), arg(i)?)
        }
        "BODY" => Key::Body(arg(i)?),
        "TEXT" => Key::Text(arg(i)?),
        "LARGER" => Key::Larger(num(arg(i)?)?),
        "SMALLER" => Key::Smaller(num(arg(i)?)?),
        // RFC 3501 §6.4.4: internal date (or, with SENT, the Date: header) before, on or
        // since a day.
        k @ ("BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE") => {
            let sent = k.starts_with("SENT");
            let (cmp, inclusive) = match k.trim_start_matches("SENT") {
                "BEFORE" => (Less, false),
                "ON" => (Equal, true),
                _ => (Greater, true),
            };
            Key::Date {
                sent,
                cmp,
                inclusive,
                day: date(arg(i)?)?,
            }
        }
        "UID" => Key::Uid(SeqSet::parse(&arg(i)?).ok_or("Invalid UID set")?),
        "NOT" => Key::Not(Box::new(one_key(args, i, depth + 1)?)),
        "OR" => {
            let a = one_key(args, i, depth + 1)?;
            let b = one_key(args, i, depth + 1)?;
            Key::Or(Box::new(a), Box::new(b))
        }
        "X-GM-RAW" => super::gmail::raw(&arg(i)?)?,
        "X-GM-LABELS" => Key::GmLabel(arg(i)?),
        "X-GM-MSGID" => Key::GmMsgId(num(arg(i)?)?),
        "X-GM-THRID" => Key::GmThrId(num(arg(i)?)?),
        "MODSEQ" => {
            // MODSEQ [entry-name entry-type] value
            let mut a = arg(i)?;
            if a.starts_with('"') || a.starts_with('/') || !a.bytes().all(|c| c.is_ascii_digit()) {
                let _type = arg(i)?;
                a = arg(i)?;
            }
            Key::ModSeq(num(a)?)
        }
        _ => match SeqSet::parse(&word) {
            Some(s) => Key::Seq(s),
            None => return Err(format!("Unknown search key {word}")),
        },
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn month(s: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

/// `1-Feb-1994` → day number.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().split('-');
    let d: u32 = it.next()?.trim().parse().ok()?;
    let m = month(it.next()?)?;
    let y: i64 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `17-Jul-1996 02:44:25 -0700` → (epoch seconds, zone minutes).
pub fn parse_date_time(s: &str) -> Option<(i64, i32)> {
    let (date, rest) = s.trim().split_once(' ')?;
    let day = parse_date(date)?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let t: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if t.len() != 3 || t[0] > 23 || t[1] > 59 || t[2] > 60 {
        return None;
    }
    let z = zone_minutes(zone)?;
    Some((
        day * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - z as i64 * 60,
        z,
    ))
}

fn zone_minutes(z: &str) -> Option<i32> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: i32 = digits.parse().ok()?;
    Some(sign * (n / 100 * 60 + n % 100))
}

/// INTERNALDATE text of (epoch seconds, zone minutes).
pub fn format_date_time((secs, zone): (i64, i32)) -> String {
    let local = secs + zone as i64 * 60;
    let (y, m, d) = civil_from_days(local.div_euclid(86400));
    let t = local.rem_euclid(86400);
    let sign = if zone < 0 { '-' } else { '+' };
    let za = zone.abs();
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[(m - 1) as usize],
        t / 3600,
        t / 60 % 60,
        t % 60,
        za / 60,
        za % 60
    )
}

/// The day (in its own zone) of an RFC 5322 Date: header, tolerantly.
pub fn rfc5322_day(v: &str) -> Option<i64> {
    let v = v.split_once(',').map(|(_, r)| r).unwrap_or(v);
    let mut it = v.split_whitespace();
    let d: u32 = it.next()?.parse().ok()?;
    let m = month(it.next()?)?;
    let mut y: i64 = it.next()?.parse().ok()?;
    if y < 50 {
        y += 2000;
    } else if y < 1000 {
        y += 1900;
    }
    Some(days_from_civil(y, m, d))
}

/// A flag list `(\Seen $x)` or a single flag.
pub fn flags(v: &Value) -> Result<Vec<String>, String> {
    let items = list_or_one(v);
    let mut out = Vec::new();
    for f in items {
        let Value::Atom(a) = f else {
            return Err("Invalid flag".into());
        };
        let s = String::from_utf8_lossy(a).into_owned();
        out.push(canonical_flag(&s).ok_or_else(|| format!("Invalid flag {s}"))?);
    }
    Ok(out)
}

/// System flags in canonical case; keywords as given; `None` for an unknown `\Flag`.
pub fn canonical_flag(s: &str) -> Option<String> {
    const SYS: [&str; 6] = [
        "\\Seen",
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Draft",
        "\\Recent",
    ];
    if s.starts_with('\\') {
        return SYS
            .iter()
            .find(|f| f.eq_ignore_ascii_case(s))
            .map(|f| f.to_string());
    }
    if s.is_empty()
        || s.bytes()
            .any(|c| b"(){%*\"\\]".contains(&c) || c <= b' ' || c >= 0x7f)
    {
        return None;
    }
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r = request(b"a1 UID fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)])").unwrap();
        assert_eq!(r.tag, "a1");
        assert_eq!(r.name, "UID FETCH");
        let atts = fetch_atts(&r.args[1]).unwrap();
        assert_eq!(atts[0], Att::Flags);
        match &atts[1] {
            Att::Section {
                peek: true, echo, ..
            } => assert_eq!(echo, "BODY[HEADER.FIELDS (From)]"),
            other => panic!("{other:?}"),
        }
        assert_eq!(request(b"* x").unwrap_err().tag, None);
        assert_eq!(request(b"a (").unwrap_err().tag.as_deref(), Some("a"));
    }

    #[test]
    fn sets_and_dates() {
        let s = SeqSet::parse("1:3,7,9:*").unwrap();
        assert!(s.contains(2, 10) && s.contains(10, 10) && !s.contains(5, 10));
        assert!(SeqSet::parse("0").is_none() && SeqSet::parse("1:x").is_none());
        let t = parse_date_time("17-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(format_date_time(t), "17-Jul-1996 02:44:25 -0700");
        assert_eq!(
            civil_from_days(parse_date("1-Feb-1994").unwrap()),
            (1994, 2, 1)
        );
        assert_eq!(
            rfc5322_day("Mon, 7 Feb 1994 21:52:25 -0800"),
            parse_date("7-Feb-1994")
        );
    }

    #[test]
    fn search() {
        let v = imapwire::tokenize(b"OR SEEN (FROM x NOT 1:2) LARGER 5").unwrap();
        let k = search_keys(&v).unwrap();
        assert!(matches!(k, Key::And(ref v) if v.len() == 2));
        assert!(search_keys(&imapwire::tokenize(b"FOO").unwrap()).is_err());
        let deep = "NOT ".repeat(10000) + "ALL";
        assert!(search_keys(&imapwire::tokenize(deep.as_bytes()).unwrap())
            .unwrap_err()
            .contains("deeper"));
    }

    #[test]
    fn date_keys() {
        use std::cmp::Ordering::*;
        let day = |k: &str| match search_keys(&imapwire::tokenize(k.as_bytes()).unwrap()) {
            Ok(Key::Date {
                sent,
                cmp,
                inclusive,
                ..
            }) => (sent, cmp, inclusive),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(day("BEFORE 1-Feb-2024"), (false, Less, false));
        assert_eq!(day("on 1-Feb-2024"), (false, Equal, true));
        assert_eq!(day("SINCE 1-Feb-2024"), (false, Greater, true));
        assert_eq!(day("SENTBEFORE 1-Feb-2024"), (true, Less, false));
        assert_eq!(day("SENTON 1-Feb-2024"), (true, Equal, true));
        assert_eq!(day("SENTSINCE 1-Feb-2024"), (true, Greater, true));
        assert!(search_keys(&imapwire::tokenize(b"SENT 1-Feb-2024").unwrap()).is_err());
    }
}
