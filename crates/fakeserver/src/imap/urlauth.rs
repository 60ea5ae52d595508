//! URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524), pure: splitting an IMAP URL into the
//! parts GENURLAUTH and URLFETCH check, the INTERNAL token (HMAC-MD5 of the URL under a
//! per-mailbox key, hex), the access identifiers, and `;EXPIRE=` times.

use super::daemon::Account;

/// An `imap://` URL as GENURLAUTH takes it (a "rump", ending in `;URLAUTH=access`) or as
/// URLFETCH takes it (with `:mechanism:token` after the access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The mailbox owner (`imap://USER@host/`).
    pub user: String,
    /// The mailbox as stored (percent-decoded, INBOX canonical).
    pub mailbox: String,
    /// The path without `;EXPIRE=` and `;URLAUTH=`, as CATENATE's URL resolver takes it.
    pub path: String,
    /// Everything up to and including the access identifier: what the token signs.
    pub rump: String,
    pub access: String,
    /// Seconds since the epoch after which the URL is refused.
    pub expire: Option<i64>,
    /// `(mechanism, token)` of an authorized URL.
    pub auth: Option<(String, String)>,
}

/// Parse an IMAP URL with a `;URLAUTH=` part; `None` if it is not one.
pub fn parse(url: &str) -> Option<Url> {
    let rest = strip_prefix_ci(url, "imap://")?;
    let (authority, path) = rest.split_at(rest.find('/')?);
    let (userinfo, _host) = authority.rsplit_once('@')?;
    let user = percent_decode(userinfo.split(';').next()?)?;
    let lower = path.to_ascii_lowercase();
    let ua = lower.rfind(";urlauth=")?;
    let after = &path[ua + 9..];
    let (access, auth) = match after.split_once(':') {
        None => (after.to_string(), None),
        Some((a, mt)) => {
            let (m, t) = mt.split_once(':')?;
            (a.to_string(), Some((m.to_string(), t.to_string())))
        }
    };
    if access.is_empty() {
        return None;
    }
    let rump = format!("{}{access}", &url[..url.len() - after.len()]);
    let mut body = &path[..ua];
    let mut expire = None;
    if let Some(e) = body.to_ascii_lowercase().rfind(";expire=") {
        expire = Some(rfc3339(&body[e + 8..])?);
        body = &body[..e];
    }
    let mbox = body.strip_prefix('/')?.split("/;").next()?;
    let mbox = mbox.split(';').next()?;
    Some(Url {
        user,
        mailbox: Account::canonical(&percent_decode(mbox)?),
        path: body.to_string(),
        rump,
        access,
        expire,
        auth,
    })
}

/// The message part of an IMAP URL path (RFC 5092, the server's own mailboxes):
/// `/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`, what CATENATE and
/// URLFETCH resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePath {
    /// The mailbox as stored (percent-decoded, INBOX canonical).
    pub mailbox: String,
    pub uidvalidity: Option<u32>,
    pub uid: u32,
    /// The section, percent-decoded, as FETCH BODY[...] takes it.
    pub section: Option<String>,
    /// `(offset, length)` of `;PARTIAL=`.
    pub partial: Option<(usize, Option<usize>)>,
}

impl MessagePath {
    /// Parse a path; `None` when it is malformed or has an item other than those above.
    pub fn parse(path: &str) -> Option<MessagePath> {
        let rest = path.strip_prefix('/')?;
        let (mbox_part, rest) = rest.split_once("/;")?;
        let (mbox, uidvalidity) = match mbox_part.to_ascii_lowercase().find(";uidvalidity=") {
            Some(p) => (
                &mbox_part[..p],
                Some(mbox_part[p + 13..].parse::<u32>().ok()?),
            ),
            None => (mbox_part, None),
        };
        let (mut uid, mut section, mut partial) = (None, None, None);
        for item in rest.split("/;") {
            let (k, v) = item.split_once('=')?;
            match k.to_ascii_lowercase().as_str() {
                "uid" => uid = Some(v.parse::<u32>().ok()?),
                "section" => section = Some(percent_decode(v)?),
                "partial" => {
                    let (o, l) = v.split_once('.').map_or((v, None), |(o, l)| (o, Some(l)));
                    partial = Some((
                        o.parse::<usize>().ok()?,
                        l.map(|l| l.parse::<usize>()).transpose().ok()?,
                    ));
                }
                _ => return None,
            }
        }
        Some(MessagePath {
            mailbox: Account::canonical(&percent_decode(mbox)?),
            uidvalidity,
            uid: uid?,
            section,
            partial,
        })
    }

    /// The `;PARTIAL=` range of `bytes` (all of them without one).
    pub fn cut<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        match self.partial {
            None => bytes,
            Some((o, l)) => {
                let s = o.min(bytes.len());
                let e = l.map_or(bytes.len(), |l| s.saturating_add(l).min(bytes.len()));
                &bytes[s..e]
            }
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    s.get(..p.len())
        .filter(|head| head.eq_ignore_ascii_case(p))
        .map(|_| &s[p.len()..])
}

/// `%XX` escapes decoded; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The INTERNAL mechanism's token for a rump URL under a mailbox key. The rump's scheme and
/// host compare case-insensitively, so the token signs the URL as written.
pub fn token(key: &str, rump: &str) -> String {
    crate::auth::cram_md5_digest(key, rump)
}

/// Whether `user` (None: not authenticated) may fetch a URL with this access identifier.
pub fn allowed(access: &str, user: Option<&str>) -> bool {
    let lower = access.to_ascii_lowercase();
    if lower == "anonymous" {
        return true;
    }
    let Some(user) = user else { return false };
    if lower == "authuser" {
        return true;
    }
    match access.split_once('+') {
        Some((kind, who)) if kind.eq_ignore_ascii_case("user") => {
            percent_decode(who).is_some_and(|w| w == user)
        }
        // Only a submission server may use submit+ URLs; an IMAP session never is one.
        _ => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → seconds since the epoch.
pub fn rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        rest = &f[n..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 6 && rest.get(3..4) == Some(":") => {
            let part = |r: std::ops::Range<usize>| rest.get(r)?.parse::<i64>().ok();
            let v = part(1..3)? * 3600 + part(4..6)? * 60;
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian).
    let (yy, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        let u =
            parse("imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred").unwrap();
        assert_eq!(u.user, "joe");
        assert_eq!(u.mailbox, "INBOX");
        assert_eq!(u.path, "/INBOX/;uid=20/;section=1.2");
        assert_eq!(
            u.rump,
            "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
        );
        assert!(u.auth.is_none());
        let u = parse("IMAP://a%40b@h/my%20box;UIDVALIDITY=4/;UID=2;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=authuser:INTERNAL:00ff").unwrap();
        assert_eq!((u.user.as_str(), u.mailbox.as_str()), ("a@b", "my box"));
        assert_eq!(u.path, "/my%20box;UIDVALIDITY=4/;UID=2");
        assert_eq!(u.expire, Some(1893553445));
        assert_eq!(u.auth, Some(("INTERNAL".into(), "00ff".into())));
        assert!(u.rump.ends_with(";URLAUTH=authuser"));
        for bad in [
            "imap:/é/u@h/INBOX/;uid=1;urlauth=anonymous",
            "imap://u@h/INBOX/;uid=1;expire=2030-01-02T03:04:05+1é00;urlauth=anonymous",
            "imap://h/INBOX/;uid=1",
            "imap://u@h/INBOX/;uid=1;urlauth=",
            "http://u@h/x;urlauth=anonymous",
            "imap://u@h/INBOX/;uid=1;expire=soon;urlauth=anonymous",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn message_paths_parse() {
        let p = MessagePath::parse("/my%20box;UIDVALIDITY=4/;UID=2/;Section=1.MIME/;partial=3.4")
            .unwrap();
        assert_eq!(p.mailbox, "my box");
        assert_eq!((p.uidvalidity, p.uid), (Some(4), 2));
        assert_eq!(p.section.as_deref(), Some("1.MIME"));
        assert_eq!(p.cut(b"0123456789"), b"3456");
        let p = MessagePath::parse("/inbox/;uid=7/;partial=8").unwrap();
        assert_eq!((p.mailbox.as_str(), p.uid), ("INBOX", 7));
        assert_eq!(p.cut(b"0123456789"), b"89");
        assert_eq!(
            MessagePath::parse("/INBOX/;uid=7/;partial=20.5")
                .unwrap()
                .cut(b"abc"),
            b""
        );
        for bad in [
            "INBOX/;uid=1",
            "/INBOX",
            "/INBOX/;section=1",
            "/INBOX/;uid=x",
            "/INBOX;uidvalidity=x/;uid=1",
            "/INBOX/;uid=1/;expire=2030-01-02T03:04:05Z",
            "/IN%ZZBOX/;uid=1",
            "/INBOX/;uid=1/;partial=1.x",
        ] {
            assert_eq!(MessagePath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn access_and_tokens() {
        assert!(allowed("anonymous", None) && !allowed("authuser", None));
        assert!(allowed("AUTHUSER", Some("x")));
        assert!(allowed("user+fred", Some("fred")) && !allowed("user+fred", Some("joe")));
        assert!(!allowed("submit+fred", Some("fred")));
        let t = token("k1", "imap://u@h/INBOX/;uid=1;urlauth=anonymous");
        assert_eq!(t.len(), 32);
        assert_ne!(t, token("k2", "imap://u@h/INBOX/;uid=1;urlauth=anonymous"));
        assert_eq!(rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(rfc3339("2000-03-01T00:00:00.5Z"), Some(951868800));
    }
}
