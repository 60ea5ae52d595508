//! SORT (RFC 5256, with DISPLAYFROM/DISPLAYTO of RFC 5957) and THREAD=ORDEREDSUBJECT, pure:
//! sort keys of a message (base subject, first address, sent date) and the orderings.

use super::daemon::Message;
use super::mime;
use std::cmp::Ordering;

/// One sort criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crit {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

pub fn parse_criteria(words: &[String]) -> Result<Vec<(Crit, bool)>, String> {
    let mut out = Vec::new();
    let mut reverse = false;
    for w in words {
        let c = match w.to_ascii_uppercase().as_str() {
            "REVERSE" => {
                reverse = true;
                continue;
            }
            "ARRIVAL" => Crit::Arrival,
            "CC" => Crit::Cc,
            "DATE" => Crit::Date,
            "FROM" => Crit::From,
            "SIZE" => Crit::Size,
            "SUBJECT" => Crit::Subject,
            "TO" => Crit::To,
            "DISPLAYFROM" => Crit::DisplayFrom,
            "DISPLAYTO" => Crit::DisplayTo,
            other => return Err(format!("Unknown sort criterion {other}")),
        };
        out.push((c, reverse));
        reverse = false;
    }
    if out.is_empty() || reverse {
        return Err("Missing sort criterion".into());
    }
    Ok(out)
}

/// A key value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyVal {
    N(i64),
    S(String),
}

fn key(m: &Message, c: Crit) -> KeyVal {
    let fields = || {
        let p = mime::parse(&m.data);
        mime::header_fields(&m.data[p.header.clone()])
    };
    match c {
        Crit::Arrival => KeyVal::N(m.internal.0),
        Crit::Size => KeyVal::N(m.data.len() as i64),
        Crit::Date => KeyVal::N(sent_time(&fields()).unwrap_or(m.internal.0)),
        Crit::Subject => KeyVal::S(base_subject(
            &mime::field(&fields(), "subject").unwrap_or_default(),
        )),
        Crit::From | Crit::To | Crit::Cc => {
            let name = match c {
                Crit::From => "from",
                Crit::To => "to",
                _ => "cc",
            };
            let v = mime::field(&fields(), name).unwrap_or_default();
            KeyVal::S(
                mime::first_address(&v)
                    .map(|a| a.1.to_uppercase())
                    .unwrap_or_default(),
            )
        }
        Crit::DisplayFrom | Crit::DisplayTo => {
            let name = if c == Crit::DisplayFrom { "from" } else { "to" };
            let v = mime::field(&fields(), name).unwrap_or_default();
            let display = match mime::first_address(&v) {
                Some((Some(n), _, _)) if !decode_2047(&n).trim().is_empty() => decode_2047(&n),
                Some((_, l, Some(h))) => format!("{l}@{h}"),
                Some((_, l, None)) => l,
                None => String::new(),
            };
            KeyVal::S(display.to_uppercase())
        }
    }
}

/// Indices of `msgs` in SORT order (ties by the original order, i.e. sequence number).
pub fn sort(msgs: &[&Message], crits: &[(Crit, bool)]) -> Vec<usize> {
    let keys: Vec<Vec<KeyVal>> = msgs
        .iter()
        .map(|m| crits.iter().map(|(c, _)| key(m, *c)).collect())
        .collect();
    let mut idx: Vec<usize> = (0..msgs.len()).collect();
    idx.sort_by(|&a, &b| {
        for (i, (_, rev)) in crits.iter().enumerate() {
            let o = keys[a][i].cmp(&keys[b][i]);
            let o = if *rev { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(&b)
    });
    idx
}

/// THREAD=ORDEREDSUBJECT: threads of indices, each sorted by sent date; the first message
/// is the parent of the others.
pub fn ordered_subject(msgs: &[&Message]) -> String {
    let mut groups: Vec<(String, Vec<(i64, usize)>)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let p = mime::parse(&m.data);
        let f = mime::header_fields(&m.data[p.header.clone()]);
        let subj = base_subject(&mime::field(&f, "subject").unwrap_or_default());
        let date = sent_time(&f).unwrap_or(m.internal.0);
        match groups.iter_mut().find(|g| g.0 == subj) {
            Some(g) => g.1.push((date, i)),
            None => groups.push((subj, vec![(date, i)])),
        }
    }
    for g in &mut groups {
        g.1.sort();
    }
    groups.sort_by_key(|g| g.1[0]);
    groups
        .iter()
        .map(|(_, v)| {
            let ids: Vec<usize> = v.iter().map(|x| x.1).collect();
            match ids.len() {
                1 => format!("({})", ids[0] + 1),
                2 => format!("({} {})", ids[0] + 1, ids[1] + 1),
                _ => format!(
                    "({} {})",
                    ids[0] + 1,
                    ids[1..]
                        .iter()
                        .map(|i| format!("({})", i + 1))
                        .collect::<String>()
                ),
            }
        })
        .collect()
}

/// RFC 2047 encoded words decoded (by mail-parser).
pub fn decode_2047(s: &str) -> String {
    let raw = format!("Subject: {s}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| s.to_string())
}

/// RFC 5256 base subject, upper-cased for comparison (i;unicode-casemap titlecases, so `_`
/// and `[` sort after letters, as Dovecot has them).
pub fn base_subject(raw: &str) -> String {
    let decoded = decode_2047(raw);
    let mut s: String = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        // (2) trailers
        loop {
            let t = s.trim_end().to_string();
            if t.len() >= 5
                && t.get(t.len() - 5..)
                    .is_some_and(|x| x.eq_ignore_ascii_case("(fwd)"))
            {
                s = t[..t.len() - 5].to_string();
            } else {
                s = t;
                break;
            }
        }
        // (3)(4) leaders and blobs
        loop {
            let t = s.trim_start().to_string();
            if let Some(rest) = strip_leader(&t) {
                s = rest;
                continue;
            }
            if let Some(rest) = strip_blob(&t) {
                if !rest.trim().is_empty() {
                    s = rest;
                    continue;
                }
            }
            s = t;
            break;
        }
        // (5) [fwd: ...]
        let lower = s.to_lowercase();
        if lower.starts_with("[fwd:") && lower.ends_with(']') {
            match s.get(5..s.len() - 1) {
                Some(inner) => s = inner.to_string(),
                None => break,
            }
            continue;
        }
        break;
    }
    s.trim().to_uppercase()
}

/// Whether a subject marks a reply or forward (a `Re:`/`Fwd:` leader, a `(fwd)` trailer or
/// a `[fwd: ...]` wrapper was removed to get the base subject).
pub fn is_reply(raw: &str) -> bool {
    let s: String = decode_2047(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let lower = s.to_lowercase();
    lower.trim_end().ends_with("(fwd)")
        || strip_leader(s.trim_start()).is_some()
        || (lower.starts_with("[fwd:") && lower.ends_with(']'))
}

fn strip_blob(s: &str) -> Option<String> {
    let rest = s.strip_prefix('[')?;
    let close = rest.find([']', '['])?;
    if rest.as_bytes()[close] != b']' {
        return None;
    }
    Some(rest[close + 1..].trim_start().to_string())
}

fn strip_leader(s: &str) -> Option<String> {
    let mut t = s.to_string();
    while let Some(r) = strip_blob(&t) {
        t = r;
    }
    let lower = t.to_lowercase();
    let n = ["fwd", "fw", "re"]
        .iter()
        .find(|p| lower.starts_with(*p))?
        .len();
    let mut rest = t.get(n..)?.trim_start().to_string();
    if let Some(r) = strip_blob(&rest) {
        rest = r;
    }
    rest.strip_prefix(':').map(str::to_string)
}

/// The Date: header as UTC seconds.
pub fn sent_time(fields: &[(String, String)]) -> Option<i64> {
    let v = mime::field(fields, "date")?;
    let v = v.split_once(',').map(|(_, r)| r).unwrap_or(&v);
    let w: Vec<&str> = v.split_whitespace().collect();
    if w.len() < 4 {
        return None;
    }
    let day = super::parse::rfc5322_day(&w[..3].join(" "))?;
    let t: Vec<i64> = w[3]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let secs = t.first()? * 3600 + t.get(1)? * 60 + t.get(2).copied().unwrap_or(0);
    let zone = w.get(4).map(|z| zone_minutes(z)).unwrap_or(0);
    Some(day * 86400 + secs - zone * 60)
}

fn zone_minutes(z: &str) -> i64 {
    let b = z.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') {
        if let Ok(n) = z[1..].parse::<i64>() {
            let m = n / 100 * 60 + n % 100;
            return if b[0] == b'-' { -m } else { m };
        }
    }
    match z.to_ascii_uppercase().as_str() {
        "EST" => -300,
        "EDT" => -240,
        "CST" => -360,
        "CDT" => -300,
        "MST" => -420,
        "MDT" => -360,
        "PST" => -480,
        "PDT" => -420,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_subjects() {
        assert_eq!(base_subject("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)"), "B");
        assert_eq!(base_subject("Re: [FWD: c]"), "C");
        assert_eq!(base_subject("[xyz]"), "[XYZ]");
        assert_eq!(base_subject("=?iso-8859-1?q?RE:_C?="), "C");
        assert_eq!(
            base_subject("re: [fwd: [fwd: re: [fwd: babylon]]]"),
            "BABYLON"
        );
        assert_eq!(
            base_subject("Ad: Re: Ad: Re: Ad: x"),
            "AD: RE: AD: RE: AD: X"
        );
    }

    #[test]
    fn dates() {
        let f = vec![(
            "date".to_string(),
            "Thu, 15 Feb 2007 01:02:03 +0200".to_string(),
        )];
        let g = vec![("date".to_string(), "14 Feb 2007 23:02:03 +0000".to_string())];
        assert_eq!(sent_time(&f), sent_time(&g));
    }
}
