//! Gmail's X-GM-EXT-1, pure: X-GM-MSGID (a stable id of the message's bytes), X-GM-THRID (the
//! id of its thread's root Message-ID), the X-GM-LABELS list as FETCH shows it, and X-GM-RAW
//! (Gmail's search box syntax) translated into ordinary search keys.

use super::mime;
use super::parse::Key;
use std::collections::BTreeSet;

/// 64-bit FNV-1a, kept positive as Gmail's ids are (they fit a signed 64-bit integer).
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h & 0x7fff_ffff_ffff_ffff).max(1)
}

/// X-GM-MSGID: the same for every copy of a message.
pub fn msgid(data: &[u8]) -> u64 {
    fnv(data)
}

/// X-GM-THRID: the id of the thread root, the first message id of References, else
/// In-Reply-To, else the message's own Message-ID (else its X-GM-MSGID).
pub fn thrid(data: &[u8]) -> u64 {
    let p = mime::parse(data);
    let f = mime::header_fields(&data[p.header.clone()]);
    let first_id = |name: &str| {
        let v = mime::field(&f, name)?;
        let start = v.find('<')?;
        let end = v[start..].find('>')? + start;
        Some(v[start..=end].to_string())
    };
    match first_id("references")
        .or_else(|| first_id("in-reply-to"))
        .or_else(|| first_id("message-id"))
    {
        Some(id) => fnv(id.as_bytes()),
        None => msgid(data),
    }
}

/// `(\Inbox "Work")`: system labels (`\…`) first, as atoms, then the others as strings.
pub fn labels(out: &mut Vec<u8>, l: &BTreeSet<String>) {
    out.push(b'(');
    let system = l.iter().filter(|x| x.starts_with('\\'));
    let user = l.iter().filter(|x| !x.starts_with('\\'));
    for (i, x) in system.chain(user).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        if x.starts_with('\\') && x[1..].bytes().all(|c| c.is_ascii_alphanumeric()) {
            out.extend_from_slice(x.as_bytes());
        } else {
            mime::string(out, x.as_bytes());
        }
    }
    out.push(b')');
}

/// X-GM-RAW: words and "phrases" (TEXT), `from:` `to:` `cc:` `bcc:` `subject:` (headers),
/// `label:`/`in:` (labels), `is:unread|read|starred|flagged|answered`, `-term` (NOT), `OR`
/// between two terms, `( … )` groups. Everything else is an error naming the term.
pub fn raw(query: &str) -> Result<Key, String> {
    let tokens = tokenize(query)?;
    let mut i = 0;
    let k = seq(&tokens, &mut i, 0)?;
    if i != tokens.len() {
        return Err("Unbalanced ) in X-GM-RAW".into());
    }
    Ok(k)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = q.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<Tok>| {
        if !cur.is_empty() {
            out.push(Tok::Word(std::mem::take(cur)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A NUL first marks a word that starts quoted (so `"OR"` stays a word).
                if cur.is_empty() {
                    cur.push('\u{0}');
                }
                let mut phrase = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(x) => phrase.push(x),
                        None => return Err("Unterminated quote in X-GM-RAW".into()),
                    }
                }
                cur.push_str(&phrase);
            }
            '(' if cur.is_empty() => out.push(Tok::Open),
            ')' => {
                flush(&mut cur, &mut out);
                out.push(Tok::Close);
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

fn seq(t: &[Tok], i: &mut usize, depth: usize) -> Result<Key, String> {
    if depth > super::parse::MAX_KEY_DEPTH {
        return Err("X-GM-RAW nested too deep".into());
    }
    let mut keys: Vec<Key> = Vec::new();
    while *i < t.len() && t[*i] != Tok::Close {
        if t[*i] == Tok::Word("OR".into()) {
            *i += 1;
            let a = keys.pop().ok_or("OR needs a term before it")?;
            let b = term(t, i, depth)?;
            keys.push(Key::Or(Box::new(a), Box::new(b)));
            continue;
        }
        keys.push(term(t, i, depth)?);
    }
    Ok(match keys.len() {
        0 => Key::All,
        1 => keys.remove(0),
        _ => Key::And(keys),
    })
}

fn term(t: &[Tok], i: &mut usize, depth: usize) -> Result<Key, String> {
    if depth > super::parse::MAX_KEY_DEPTH {
        return Err("X-GM-RAW nested too deep".into());
    }
    let tok = t.get(*i).ok_or("X-GM-RAW ends early")?;
    *i += 1;
    let w = match tok {
        Tok::Open => {
            let k = seq(t, i, depth + 1)?;
            if t.get(*i) != Some(&Tok::Close) {
                return Err("Missing ) in X-GM-RAW".into());
            }
            *i += 1;
            return Ok(k);
        }
        Tok::Close => return Err("Unexpected ) in X-GM-RAW".into()),
        Tok::Word(w) => w,
    };
    if let Some(quoted) = w.strip_prefix('\u{0}') {
        return Ok(Key::Text(quoted.to_string()));
    }
    if let Some(rest) = w.strip_prefix('-').filter(|r| !r.is_empty()) {
        let sub = vec![Tok::Word(rest.to_string())];
        let mut j = 0;
        return Ok(Key::Not(Box::new(term(&sub, &mut j, depth + 1)?)));
    }
    let Some((op, val)) = w.split_once(':') else {
        return Ok(Key::Text(w.clone()));
    };
    let val = val.to_string();
    Ok(match op.to_ascii_lowercase().as_str() {
        h @ ("from" | "to" | "cc" | "bcc" | "subject") => Key::Header(h.to_string(), val),
        "label" | "in" => Key::GmLabel(match val.to_ascii_lowercase().as_str() {
            "inbox" => "\\Inbox".into(),
            "sent" => "\\Sent".into(),
            "drafts" => "\\Draft".into(),
            "starred" => "\\Starred".into(),
            "important" => "\\Important".into(),
            _ => val,
        }),
        "is" => match val.to_ascii_lowercase().as_str() {
            "unread" => Key::Flag("\\Seen", false),
            "read" => Key::Flag("\\Seen", true),
            "starred" | "flagged" => Key::Flag("\\Flagged", true),
            "answered" => Key::Flag("\\Answered", true),
            other => return Err(format!("Unsupported X-GM-RAW term is:{other}")),
        },
        _ => return Err(format!("Unsupported X-GM-RAW term {w}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_threads_share_a_root() {
        let a = b"Message-ID: <r@x>\r\nSubject: a\r\n\r\nx\r\n";
        let b = b"Message-ID: <s@x>\r\nReferences: <r@x> <q@x>\r\nSubject: b\r\n\r\ny\r\n";
        assert_eq!(msgid(a), msgid(a));
        assert_ne!(msgid(a), msgid(b));
        assert_eq!(thrid(a), thrid(b));
        let mut o = Vec::new();
        labels(
            &mut o,
            &["\\Inbox".to_string(), "My Work".to_string()].into(),
        );
        assert_eq!(o, b"(\\Inbox \"My Work\")");
    }

    #[test]
    fn raw_queries_become_keys() {
        assert_eq!(
            raw("from:alice is:unread").unwrap(),
            Key::And(vec![
                Key::Header("from".into(), "alice".into()),
                Key::Flag("\\Seen", false)
            ])
        );
        assert_eq!(
            raw("label:work OR \"big news\" -in:inbox").unwrap(),
            Key::And(vec![
                Key::Or(
                    Box::new(Key::GmLabel("work".into())),
                    Box::new(Key::Text("big news".into()))
                ),
                Key::Not(Box::new(Key::GmLabel("\\Inbox".into())))
            ])
        );
        assert_eq!(
            raw("(a OR b) c").unwrap(),
            Key::And(vec![
                Key::Or(
                    Box::new(Key::Text("a".into())),
                    Box::new(Key::Text("b".into()))
                ),
                Key::Text("c".into())
            ])
        );
        let deep = "-".repeat(100_000) + "a";
        let parens = "(".repeat(100_000);
        for bad in [
            "has:drive",
            "\"open",
            "(a",
            "a)",
            "OR a",
            "is:muted",
            &deep,
            &parens,
        ] {
            assert!(raw(bad).is_err(), "{bad}");
        }
    }
}
