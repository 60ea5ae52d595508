//! Modified UTF-7, the form of mailbox names on the IMAP wire (RFC 3501 section 5.1.3) unless
//! the client enabled UTF8=ACCEPT (RFC 6855).
//!
//! Printable US-ASCII stands for itself, `&` is written `&-`, and every other run of characters
//! is UTF-16 (big-endian) in a modified BASE64 (`,` for `/`, no padding) between `&` and `-`.
//! [`decode`] is strict, as Dovecot is: only the one canonical spelling of a name is valid (no
//! 8-bit bytes, no printable ASCII inside a shift, no two shifts side by side, no stray bits, no
//! lone surrogates), so that a name has one wire form and one stored form.
use base64::alphabet::IMAP_MUTF7;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// The modified BASE64 of RFC 3501: `,` for `/`, no `=` padding, no stray bits.
const B64: GeneralPurpose = GeneralPurpose::new(
    &IMAP_MUTF7,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    #[error("byte 0x{byte:02x} at offset {at} is not printable US-ASCII")]
    NotAscii { at: usize, byte: u8 },
    #[error("the shift at offset {at} has no closing '-'")]
    Unterminated { at: usize },
    #[error("the shift at offset {at} is not valid modified BASE64 of UTF-16")]
    BadShift { at: usize },
    #[error("the name is not in its one canonical spelling (it would be {canonical:?})")]
    NotCanonical { canonical: String },
}

/// Whether `c` stands for itself on the wire (printable US-ASCII other than `&`).
fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c) && c != '&'
}

/// The wire form of a (Unicode) mailbox name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&B64.encode(bytes));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut run, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut run, &mut out);
            out.push_str("&-");
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The (Unicode) name a wire form stands for; only the canonical spelling is accepted.
pub fn decode(wire: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let b = wire[i];
        if b != b'&' {
            if !(0x20..0x7f).contains(&b) {
                return Err(Mutf7Error::NotAscii { at: i, byte: b });
            }
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        let end = wire[start + 1..]
            .iter()
            .position(|&c| c == b'-')
            .map(|p| start + 1 + p)
            .ok_or(Mutf7Error::Unterminated { at: start })?;
        let body = &wire[start + 1..end];
        if body.is_empty() {
            out.push('&');
        } else {
            let bad = || Mutf7Error::BadShift { at: start };
            let bytes = B64.decode(body).map_err(|_| bad())?;
            if bytes.len() % 2 != 0 {
                return Err(bad());
            }
            let units = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                out.push(c.map_err(|_| bad())?);
            }
        }
        i = end + 1;
    }
    let canonical = encode(&out);
    if canonical.as_bytes() != wire {
        return Err(Mutf7Error::NotCanonical { canonical });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples_and_round_trips() {
        // RFC 3501 5.1.3: "~peter/mail/台北/日本語"
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
        assert_eq!(encode("Entw\u{fc}rfe"), "Entw&APw-rfe");
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(decode(b"a&-b").unwrap(), "a&b");
        assert_eq!(encode("INBOX"), "INBOX");
        // outside the BMP: a surrogate pair
        assert_eq!(
            decode(encode("x\u{1f600}y").as_bytes()).unwrap(),
            "x\u{1f600}y"
        );
        assert_eq!(encode("\u{7f}\u{1}"), "&AH8AAQ-");
    }

    #[test]
    fn only_the_canonical_spelling_is_valid() {
        assert!(matches!(
            decode("Entwürfe".as_bytes()),
            Err(Mutf7Error::NotAscii { at: 4, .. })
        ));
        assert_eq!(decode(b"bad&AB"), Err(Mutf7Error::Unterminated { at: 3 }));
        // printable ASCII ("a") encoded
        assert!(matches!(
            decode(b"&AGE-"),
            Err(Mutf7Error::NotCanonical { .. })
        ));
        // two shifts side by side are one run
        assert!(matches!(
            decode(b"&APw-&APw-"),
            Err(Mutf7Error::NotCanonical { .. })
        ));
        // stray bits, an odd byte count, padding, a lone surrogate
        assert!(matches!(decode(b"&APx-"), Err(Mutf7Error::BadShift { .. })));
        assert!(matches!(decode(b"&AP-"), Err(Mutf7Error::BadShift { .. })));
        assert!(matches!(
            decode(b"&APw=-"),
            Err(Mutf7Error::BadShift { .. })
        ));
        assert!(matches!(decode(b"&2D0-"), Err(Mutf7Error::BadShift { .. })));
        assert!(matches!(decode(b"&A/w-"), Err(Mutf7Error::BadShift { .. })));
        assert!(matches!(
            decode(b"a\tb"),
            Err(Mutf7Error::NotAscii { at: 1, byte: 9 })
        ));
    }
}
