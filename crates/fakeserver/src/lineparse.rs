//! What the POP3 and NNTP command parsers share: the error a line gets when it is not a
//! command, and the small byte helpers (line-end trimming, UTF-8 arguments, printable
//! keywords for messages). Each protocol's `parse` module owns its own grammar.

use std::fmt;

/// Why a line is not a valid command. The `Display` text is what follows the protocol's
/// error code (`-ERR ` in POP3, `500`/`501` in NNTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    /// The keyword is not one we know (carried upper-cased, lossily decoded, truncated).
    Unknown(String),
    /// A known keyword with arguments that do not fit it.
    Syntax {
        keyword: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty command"),
            ParseError::Unknown(k) => write!(f, "unknown command {k}"),
            ParseError::Syntax { keyword, reason } => write!(f, "{keyword}: {reason}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A [`ParseError::Syntax`] for `keyword`.
pub(crate) fn syntax<T>(keyword: &'static str, reason: &'static str) -> Result<T, ParseError> {
    Err(ParseError::Syntax { keyword, reason })
}

/// `line` without its trailing CRs and LFs.
pub(crate) fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [head @ .., b'\r' | b'\n'] = line {
        line = head;
    }
    line
}

/// An argument as UTF-8, or a syntax error for `keyword`.
pub(crate) fn utf8<'a>(s: &'a [u8], keyword: &'static str) -> Result<&'a str, ParseError> {
    std::str::from_utf8(s).map_err(|_| ParseError::Syntax {
        keyword,
        reason: "argument is not valid UTF-8",
    })
}

/// A keyword for messages: at most 64 bytes of printable ASCII, anything else replaced by '?'.
pub(crate) fn printable(s: &[u8]) -> String {
    s.iter()
        .take(64)
        .map(|b| {
            if b.is_ascii_graphic() {
                *b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// `s` cut to at most `n` bytes (`s` is ASCII: it comes from [`printable`]).
pub(crate) fn truncate(mut s: String, n: usize) -> String {
    if s.len() > n {
        s.truncate(n);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(trim_end(b"LIST\r\n\r"), b"LIST");
        assert_eq!(printable(b"a\x01b c"), "a?b?c");
        assert_eq!(printable(&[b'x'; 100]).len(), 64);
        assert_eq!(truncate("abcdef".into(), 3), "abc");
        assert_eq!(utf8(b"ok", "K"), Ok("ok"));
        assert_eq!(
            utf8(b"\xff", "K").unwrap_err().to_string(),
            "K: argument is not valid UTF-8"
        );
    }
}
