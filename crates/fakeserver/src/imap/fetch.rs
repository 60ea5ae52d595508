//! FETCH responses, pure: one message and the requested attributes → the wire bytes of
//! `* N FETCH (...)`, literals included.

use super::daemon::Message;
use super::mime::{self, Spec};
use super::parse::{format_date_time, Att};

/// What a FETCH response needs besides the message.
pub struct Ctx<'a> {
    pub seq: usize,
    pub recent: bool,
    /// Add UID (UID FETCH) and MODSEQ (CONDSTORE) even when not asked.
    pub uid: bool,
    pub modseq: bool,
    pub atts: &'a [Att],
    /// Personality quirks: RFC822.SIZE rounded up to a multiple of this (0: exact), and
    /// header fields left out of ENVELOPE (lower case; their slots become NIL).
    pub size_round: u64,
    pub envelope_omit: &'a [String],
}

/// Flags as a list, `\Recent` included for the session that owns it.
pub fn flag_list(out: &mut Vec<u8>, m: &Message, recent: bool) {
    out.push(b'(');
    let mut first = true;
    for f in &m.flags {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(f.as_bytes());
    }
    if recent {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(b"\\Recent");
    }
    out.push(b')');
}

/// A header block without the named fields (lower-case names), continuation lines included.
fn without_fields(h: &[u8], names: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.len());
    let mut skip = false;
    for l in h.split_inclusive(|&c| c == b'\n') {
        if !l.starts_with(b" ") && !l.starts_with(b"\t") {
            let name = l.split(|&c| c == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            skip = l.contains(&b':') && names.contains(&name);
        }
        if !skip {
            out.extend_from_slice(l);
        }
    }
    out
}

/// The whole response line, with its CRLF; `Err`: the tagged NO text.
pub fn render(m: &Message, ctx: &Ctx<'_>) -> Result<Vec<u8>, String> {
    let data = &m.data[..];
    let mut parsed = None;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut have_uid = false;
    let mut have_modseq = false;
    for att in ctx.atts {
        let mut o = Vec::new();
        match att {
            Att::Flags => {
                o.extend_from_slice(b"FLAGS ");
                flag_list(&mut o, m, ctx.recent);
            }
            Att::Uid => {
                if have_uid {
                    continue;
                }
                have_uid = true;
                o.extend_from_slice(format!("UID {}", m.uid).as_bytes());
            }
            Att::ModSeq => {
                if have_modseq {
                    continue;
                }
                have_modseq = true;
                o.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes());
            }
            Att::GmMsgId => {
                o.extend_from_slice(format!("X-GM-MSGID {}", super::gmail::msgid(data)).as_bytes())
            }
            Att::GmThrId => {
                o.extend_from_slice(format!("X-GM-THRID {}", super::gmail::thrid(data)).as_bytes())
            }
            Att::GmLabels => {
                o.extend_from_slice(b"X-GM-LABELS ");
                super::gmail::labels(&mut o, &m.labels);
            }
            Att::InternalDate => o.extend_from_slice(
                format!("INTERNALDATE \"{}\"", format_date_time(m.internal)).as_bytes(),
            ),
            Att::Size => {
                let mut n = data.len() as u64;
                if ctx.size_round > 1 {
                    n = n.div_ceil(ctx.size_round) * ctx.size_round;
                }
                o.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes())
            }
            Att::Envelope => {
                let p = parsed.get_or_insert_with(|| mime::parse(data));
                o.extend_from_slice(b"ENVELOPE ");
                let h = &data[p.header.clone()];
                if ctx.envelope_omit.is_empty() {
                    mime::envelope(&mut o, h);
                } else {
                    mime::envelope(&mut o, &without_fields(h, ctx.envelope_omit));
                }
            }
            Att::Body | Att::BodyStructure => {
                let p = parsed.get_or_insert_with(|| mime::parse(data));
                let ext = *att == Att::BodyStructure;
                o.extend_from_slice(if ext { b"BODYSTRUCTURE " } else { b"BODY " });
                mime::body_structure(&mut o, data, p, ext);
            }
            Att::Rfc822 => {
                o.extend_from_slice(b"RFC822 ");
                literal(&mut o, data);
            }
            Att::Rfc822Header | Att::Rfc822Text => {
                let p = parsed.get_or_insert_with(|| mime::parse(data));
                let (name, spec) = if *att == Att::Rfc822Header {
                    ("RFC822.HEADER ", Spec::Header)
                } else {
                    ("RFC822.TEXT ", Spec::Text)
                };
                o.extend_from_slice(name.as_bytes());
                let bytes = mime::section(data, p, &[], &spec).unwrap_or_default();
                literal(&mut o, &bytes);
            }
            Att::Binary {
                size,
                path,
                partial,
                echo,
                ..
            } => {
                let p = parsed.get_or_insert_with(|| mime::parse(data));
                let bytes = match mime::binary(data, p, path) {
                    Some(Ok(b)) => b,
                    Some(Err(cte)) => {
                        return Err(format!(
                            "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding {cte}"
                        ))
                    }
                    None => Vec::new(),
                };
                o.extend_from_slice(echo.as_bytes());
                o.push(b' ');
                if *size {
                    o.extend_from_slice(bytes.len().to_string().as_bytes());
                } else {
                    let slice = match partial {
                        Some((start, len)) => {
                            let s = (*start as usize).min(bytes.len());
                            &bytes[s..s.saturating_add(*len as usize).min(bytes.len())]
                        }
                        None => &bytes[..],
                    };
                    if slice.contains(&0) {
                        o.push(b'~');
                    }
                    literal(&mut o, slice);
                }
            }
            Att::Section {
                path,
                spec,
                partial,
                echo,
                ..
            } => {
                let p = parsed.get_or_insert_with(|| mime::parse(data));
                o.extend_from_slice(echo.as_bytes());
                o.push(b' ');
                let bytes = mime::section(data, p, path, spec).unwrap_or_default();
                match partial {
                    Some((start, len)) => {
                        let s = (*start as usize).min(bytes.len());
                        let e = s.saturating_add(*len as usize).min(bytes.len());
                        literal(&mut o, &bytes[s..e]);
                    }
                    None => literal(&mut o, &bytes),
                }
            }
        }
        items.push(o);
    }
    if ctx.uid && !have_uid {
        items.insert(0, format!("UID {}", m.uid).into_bytes());
    }
    if ctx.modseq && !have_modseq {
        items.push(format!("MODSEQ ({})", m.modseq).into_bytes());
    }
    let mut out = format!("* {} FETCH (", ctx.seq).into_bytes();
    out.extend_from_slice(&items.join(&b' '));
    out.extend_from_slice(b")\r\n");
    Ok(out)
}

fn literal(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::fetch_atts;
    use std::sync::Arc;

    #[test]
    fn renders_items_in_order() {
        let m = Message {
            uid: 7,
            flags: ["\\Seen".to_string()].into_iter().collect(),
            internal: (0, 0),
            data: Arc::new(b"Subject: x\r\n\r\nbody\r\n".to_vec()),
            modseq: 3,
            labels: Default::default(),
        };
        let atts = fetch_atts(
            &imapwire::tokenize(b"(FLAGS RFC822.SIZE BODY.PEEK[TEXT]<1.2>)").unwrap()[0],
        )
        .unwrap();
        let got = render(
            &m,
            &Ctx {
                seq: 1,
                recent: true,
                uid: true,
                modseq: false,
                atts: &atts,
                size_round: 0,
                envelope_omit: &[],
            },
        );
        assert_eq!(
            String::from_utf8(got.unwrap()).unwrap(),
            "* 1 FETCH (UID 7 FLAGS (\\Seen \\Recent) RFC822.SIZE 20 BODY[TEXT]<1> {2}\r\nod)\r\n"
        );
    }

    #[test]
    fn quirks_round_size_and_drop_envelope_fields() {
        let m = Message {
            uid: 1,
            flags: Default::default(),
            internal: (0, 0),
            data: Arc::new(
                b"Subject: x\r\nMessage-ID:\r\n <a@b>\r\nIn-Reply-To: <c@d>\r\n\r\nbody\r\n"
                    .to_vec(),
            ),
            modseq: 1,
            labels: Default::default(),
        };
        let atts = fetch_atts(&imapwire::tokenize(b"(RFC822.SIZE ENVELOPE)").unwrap()[0]).unwrap();
        let omit = ["message-id".to_string()];
        let ctx = Ctx {
            seq: 1,
            recent: false,
            uid: false,
            modseq: false,
            atts: &atts,
            size_round: 1024,
            envelope_omit: &omit,
        };
        let got = String::from_utf8(render(&m, &ctx).unwrap()).unwrap();
        assert!(
            got.starts_with("* 1 FETCH (RFC822.SIZE 1024 ENVELOPE (NIL \"x\""),
            "{got}"
        );
        assert!(
            got.ends_with("NIL NIL NIL NIL \"<c@d>\" NIL))\r\n"),
            "{got}"
        );
    }
}
