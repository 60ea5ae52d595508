//! SEARCH evaluation, pure: does one message match a [`Key`]?

use super::daemon::Message;
use super::mime;
use super::parse::{rfc5322_day, Key};
use std::cmp::Ordering;

/// One message as the search sees it.
pub struct Cand<'a> {
    pub msg: &'a Message,
    pub seq: u32,
    pub max_seq: u32,
    pub max_uid: u32,
    pub recent: bool,
    /// The saved result (`$`), as UIDs.
    pub saved: &'a [u32],
}

pub fn matches(k: &Key, c: &Cand<'_>) -> bool {
    let m = c.msg;
    match k {
        Key::All => true,
        Key::Flag(f, want) => m.has_flag(f) == *want,
        Key::Keyword(f, want) => m.has_flag(f) == *want,
        Key::New => c.recent && !m.has_flag("\\Seen"),
        Key::Old => !c.recent,
        Key::Recent => c.recent,
        Key::Seq(s) => match s {
            super::parse::SeqSet::Saved => c.saved.contains(&m.uid),
            s => s.contains(c.seq, c.max_seq),
        },
        Key::Uid(s) => match s {
            super::parse::SeqSet::Saved => c.saved.contains(&m.uid),
            s => s.contains(m.uid, c.max_uid),
        },
        Key::Not(k) => !matches(k, c),
        Key::Or(a, b) => matches(a, c) || matches(b, c),
        Key::And(v) => v.iter().all(|k| matches(k, c)),
        Key::Larger(n) => m.data.len() as u64 > *n,
        Key::Smaller(n) => (m.data.len() as u64) < *n,
        Key::ModSeq(n) => m.modseq >= *n,
        Key::GmLabel(l) => m.labels.iter().any(|x| x.eq_ignore_ascii_case(l)),
        Key::GmMsgId(n) => super::gmail::msgid(&m.data) == *n,
        Key::GmThrId(n) => super::gmail::thrid(&m.data) == *n,
        Key::Date { sent, cmp, day, .. } => {
            let d = if *sent {
                let p = mime::parse(&m.data);
                let f = mime::header_fields(&m.data[p.header.clone()]);
                match mime::field(&f, "date").and_then(|v| rfc5322_day(&v)) {
                    Some(d) => d,
                    None => internal_day(m),
                }
            } else {
                internal_day(m)
            };
            match cmp {
                Ordering::Less => d < *day,
                Ordering::Equal => d == *day,
                Ordering::Greater => d >= *day,
            }
        }
        Key::Header(name, needle) => {
            let p = mime::parse(&m.data);
            let f = mime::header_fields(&m.data[p.header.clone()]);
            f.iter()
                .filter(|(n, _)| n == name)
                .any(|(_, v)| needle.is_empty() || contains(v.as_bytes(), needle))
        }
        // The raw body, and each part decoded (RFC 9051: the search is over the content).
        Key::Body(needle) => {
            let p = mime::parse(&m.data);
            contains(&m.data[p.body.clone()], needle)
                || mime::decoded_leaves(&m.data, &p)
                    .iter()
                    .any(|b| contains(b, needle))
        }
        Key::Text(needle) => {
            contains(&m.data, needle)
                || mime::decoded_leaves(&m.data, &mime::parse(&m.data))
                    .iter()
                    .any(|b| contains(b, needle))
        }
    }
}

/// The day of INTERNALDATE in its own zone.
fn internal_day(m: &Message) -> i64 {
    (m.internal.0 + m.internal.1 as i64 * 60).div_euclid(86400)
}

/// Case-insensitive (ASCII) substring search, ignoring folding line breaks.
fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    if n.is_empty() {
        return true;
    }
    let unfolded: Vec<u8>;
    let hay = if hay.windows(2).any(|w| w == b"\r\n") {
        unfolded = unfold(hay);
        &unfolded[..]
    } else {
        hay
    };
    hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn unfold(h: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.len());
    let mut i = 0;
    while i < h.len() {
        if h[i..].starts_with(b"\r\n") && h.get(i + 2).is_some_and(|c| *c == b' ' || *c == b'\t') {
            i += 2;
            continue;
        }
        out.push(h[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::search_keys;
    use std::sync::Arc;

    /// Whether the message of `c` matches the SEARCH keys written as `keys`.
    fn hit(keys: &str, c: &Cand) -> bool {
        matches(
            &search_keys(&imapwire::tokenize(keys.as_bytes()).unwrap()).unwrap(),
            c,
        )
    }

    #[test]
    fn keys_match() {
        let m = Message {
            uid: 5,
            flags: ["\\Seen".to_string()].into_iter().collect(),
            internal: (86400 * 10, 0),
            data: Arc::new(
                b"From: Alice <a@x>\r\nSubject: Hello\r\n world\r\n\r\nasdf qwer\r\n".to_vec(),
            ),
            modseq: 2,
            labels: Default::default(),
        };
        let c = Cand {
            msg: &m,
            seq: 1,
            max_seq: 3,
            max_uid: 9,
            recent: false,
            saved: &[],
        };
        let t = |s: &str| hit(s, &c);
        assert!(t("SEEN FROM alice"));
        assert!(t("SUBJECT \"hello world\""));
        assert!(t("BODY QWER NOT BODY alice"));
        assert!(!t("UNSEEN"));
        assert!(t("OR UNSEEN UID 5"));
        assert!(t("SINCE 11-Jan-1970 BEFORE 12-Jan-1970 LARGER 10"));
    }

    #[test]
    fn body_and_text_see_decoded_parts() {
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gYmFzZTY0IHdvcmxk\r\n--b\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak caf=C3=A9\r\n--b--\r\n";
        let m = Message {
            uid: 1,
            flags: Default::default(),
            internal: (0, 0),
            data: Arc::new(raw.to_vec()),
            modseq: 1,
            labels: Default::default(),
        };
        let c = Cand {
            msg: &m,
            seq: 1,
            max_seq: 1,
            max_uid: 1,
            recent: false,
            saved: &[],
        };
        let t = |s: &str| hit(s, &c);
        assert!(t("BODY \"BASE64 world\""));
        assert!(t("TEXT softbreak") && t("BODY \"café\""));
        assert!(!t("BODY aGVsbG8gYmFzZTY0IHdvcmxkX") && !t("BODY nothere"));
    }
}
