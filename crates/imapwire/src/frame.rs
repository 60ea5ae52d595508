//! Framing: where one complete IMAP line (with its literals) ends in a byte buffer.
//!
//! A line ends at LF (CRLF or, tolerantly, a bare LF); a line ending in `{N}`, `{N+}`, `{N-}`,
//! or `~{N}` continues after N literal bytes. Limits bound what a peer can make us buffer.
use thiserror::Error;

/// Size limits for one framed line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes of line text (literal data not counted) before a CRLF.
    pub max_line: usize,
    /// Largest literal accepted.
    pub max_literal: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 1 << 20,
            max_literal: 64 << 20,
        }
    }
}

/// A framing error: the peer sent more than the limits allow.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("line longer than {limit} bytes without CRLF (starts {start:?})")]
    LineTooLong { limit: usize, start: String },
    #[error("literal of {size} bytes announced, more than the limit of {limit} (line {line:?})")]
    LiteralTooLarge { size: u64, limit: u64, line: String },
}

/// Finds complete lines; stateless, so it can re-scan a growing buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Framer {
    pub limits: Limits,
}

/// Where the last literal announcement of a line is, if the line ends with one.
/// Returns the literal size.
pub fn trailing_literal(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&c| c == b'{')?;
    let mut digits = &inner[open + 1..];
    if let Some(d) = digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
    {
        digits = d;
    }
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

pub(crate) fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(100)]);
    s.trim_end_matches(['\r', '\n']).to_string()
}

impl Framer {
    pub fn new(limits: Limits) -> Self {
        Framer { limits }
    }

    /// The length of the first complete line in `buf` (literals and the final LF included),
    /// `Ok(None)` when more bytes are needed, or an error when a limit is crossed.
    pub fn complete_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let mut pos = 0usize;
        let mut text_len = 0usize;
        loop {
            let rest = &buf[pos..];
            let Some(lf) = memchr(b'\n', rest) else {
                if text_len + rest.len() > self.limits.max_line {
                    return Err(FrameError::LineTooLong {
                        limit: self.limits.max_line,
                        start: preview(buf),
                    });
                }
                return Ok(None);
            };
            text_len += lf;
            if text_len > self.limits.max_line {
                return Err(FrameError::LineTooLong {
                    limit: self.limits.max_line,
                    start: preview(buf),
                });
            }
            let line = &rest[..lf];
            let after = pos + lf + 1;
            match trailing_literal(line) {
                None => return Ok(Some(after)),
                Some(size) => {
                    if size > self.limits.max_literal {
                        return Err(FrameError::LiteralTooLarge {
                            size,
                            limit: self.limits.max_literal,
                            line: preview(&buf[..after]),
                        });
                    }
                    let end = after as u64 + size;
                    if (buf.len() as u64) < end {
                        return Ok(None);
                    }
                    pos = end as usize;
                }
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_lines_and_literals() {
        let f = Framer::default();
        assert_eq!(f.complete_len(b"* OK hi\r\n* 1 EXISTS\r\n"), Ok(Some(9)));
        assert_eq!(f.complete_len(b"* OK hi"), Ok(None));
        let lit = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\nrest";
        assert_eq!(f.complete_len(lit), Ok(Some(lit.len() - 4)));
        assert_eq!(f.complete_len(b"* 1 FETCH (BODY[] {5}\r\nab"), Ok(None));
        assert_eq!(
            f.complete_len(b"a APPEND x ~{2+}\r\n\0\x01)\r\n"),
            Ok(Some(23))
        );
        assert_eq!(f.complete_len(b"x\n"), Ok(Some(2)));
    }

    #[test]
    fn limits_are_enforced() {
        let f = Framer::new(Limits {
            max_line: 10,
            max_literal: 100,
        });
        assert!(matches!(
            f.complete_len(b"* OK 0123456789"),
            Err(FrameError::LineTooLong { .. })
        ));
        let f2 = Framer::new(Limits {
            max_line: 100,
            max_literal: 100,
        });
        let e = f2
            .complete_len(b"* 1 FETCH (BODY[] {2147483648}\r\n")
            .unwrap_err();
        assert!(matches!(
            e,
            FrameError::LiteralTooLarge {
                size: 2147483648,
                ..
            }
        ));
        assert!(e.to_string().contains("2147483648"));
        // text before and after a literal counts together
        assert!(f.complete_len(b"12345 {1}\r\nx123456789\r\n").is_err());
    }

    #[test]
    fn literal_marker_detection() {
        assert_eq!(trailing_literal(b"a {12}"), Some(12));
        assert_eq!(trailing_literal(b"a {12+}\r"), Some(12));
        assert_eq!(trailing_literal(b"a ~{0}"), Some(0));
        assert_eq!(trailing_literal(b"a {}"), None);
        assert_eq!(trailing_literal(b"a {1x}"), None);
        assert_eq!(trailing_literal(b"a {99999999999999999999999}"), None);
    }
}
