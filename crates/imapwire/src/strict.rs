//! The strict, typed layer: RFC 3501/9051 syntax through imap-codec (imap-types values). Where
//! the generic [`crate::parse`] layer accepts anything tolerably shaped, this one says whether
//! a complete framed line is valid IMAP: fakeserver parses commands with it, imaptest's state
//! tracking reads typed FETCH data with it and calls the rest malformed.
use imap_codec::decode::{CommandDecodeError, Decoder, GreetingDecodeError, ResponseDecodeError};
pub use imap_codec::imap_types;
use imap_codec::{CommandCodec, GreetingCodec, ResponseCodec};
use imap_types::command::Command;
use imap_types::response::{Greeting, Response};
use thiserror::Error;

/// A line that is not valid IMAP (or not complete).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("not valid IMAP ({kind}): {line:?}")]
pub struct StrictError {
    pub kind: &'static str,
    pub line: String,
}

fn err(kind: &'static str, line: &[u8]) -> StrictError {
    StrictError {
        kind,
        line: crate::frame::preview(line),
    }
}

fn whole<T>(line: &[u8], r: (&[u8], T)) -> Result<T, StrictError> {
    if r.0.is_empty() {
        Ok(r.1)
    } else {
        Err(err("trailing bytes after the line", line))
    }
}

/// Decodes one complete server response (literals included).
pub fn response(line: &[u8]) -> Result<Response<'static>, StrictError> {
    match ResponseCodec::default().decode_static(line) {
        Ok(r) => whole(line, r),
        Err(ResponseDecodeError::Incomplete) | Err(ResponseDecodeError::LiteralFound { .. }) => {
            Err(err("incomplete", line))
        }
        Err(_) => Err(err("syntax", line)),
    }
}

/// Decodes a server greeting.
pub fn greeting(line: &[u8]) -> Result<Greeting<'static>, StrictError> {
    match GreetingCodec::default().decode_static(line) {
        Ok(r) => whole(line, r),
        Err(GreetingDecodeError::Incomplete) => Err(err("incomplete", line)),
        Err(_) => Err(err("syntax", line)),
    }
}

/// Decodes one complete client command (literals included).
pub fn command(line: &[u8]) -> Result<Command<'static>, StrictError> {
    match CommandCodec::default().decode_static(line) {
        Ok(r) => whole(line, r),
        Err(CommandDecodeError::Incomplete) | Err(CommandDecodeError::LiteralFound { .. }) => {
            Err(err("incomplete", line))
        }
        Err(_) => Err(err("syntax", line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_decoding() {
        assert!(greeting(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n").is_ok());
        for ok in [
            &b"* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n"[..],
            b"* 3 EXPUNGE\r\n",
            b"* LIST (\\HasNoChildren) \".\" INBOX\r\n",
            b"a1 OK [READ-WRITE] done\r\n",
            b"+ go\r\n",
        ] {
            assert!(response(ok).is_ok(), "{:?}", String::from_utf8_lossy(ok));
        }
        assert_eq!(response(b"* 1 FETCH (UID\r\n").unwrap_err().kind, "syntax");
        assert!(response(b"* 1 FETCH (BODY[] {10}\r\nab").is_err());
        assert!(command(b"a LOGIN user pass\r\n").is_ok());
        assert!(command(b"a SELECT\r\n").is_err());
        assert!(command(b"a NOOP\r\nb NOOP\r\n").is_err(), "one line only");
    }
}
