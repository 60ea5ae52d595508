//! Byte-level helpers shared by the scripted network programs (`client`, `server`,
//! `mtpscript`): the two backslash-escape dialects, C-string views and the bounded
//! `fgets`-like line reading the C programs are built on.
//!
//! The quirks are deliberate: the saved outputs of Exim's test suite were produced by the
//! C programs, so edge cases (a trailing backslash, bad hex digits, a NUL produced by an
//! escape) behave as the C code did rather than being rejected.

use std::io::{self, BufRead};

/// The part of `bytes` before the first NUL, as C's string functions would see it.
pub fn cstr(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => &bytes[..n],
        None => bytes,
    }
}

/// C's `isspace` in the "C" locale.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Strip trailing C whitespace (what the C programs do to every script and input line).
pub fn trim_end_c(bytes: &[u8]) -> &[u8] {
    let mut n = bytes.len();
    while n > 0 && is_c_space(bytes[n - 1]) {
        n -= 1;
    }
    &bytes[..n]
}

/// C's `atoi`: optional leading whitespace and sign, then digits; anything else ends it.
pub fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add(i64::from(s[i] - b'0'));
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// The value of one hex digit the way client.c computes it (no validation: a bad digit
/// gives whatever the arithmetic gives, as in C).
fn client_hex_nibble(t: u8) -> u8 {
    let mut t = t;
    if t.is_ascii_uppercase() && t <= b'F' {
        t = t.wrapping_sub(b'A' - b'9' - 1);
    } else if (b'a'..=b'f').contains(&t) {
        t = t.wrapping_sub(b'a' - b'9' - 1);
    }
    t.wrapping_sub(b'0')
}

/// client.c's `unescape_buf`: `\n`, `\r`, `\xHH`, and `\c` → `c` for any other `c`.
/// A trailing lone backslash disappears.
pub fn unescape_client(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match input.get(i + 1) {
            None => {
                // C reads the terminating NUL as the escaped char and shortens the line.
                i += 1;
            }
            Some(b'n') => {
                out.push(b'\n');
                i += 2;
            }
            Some(b'r') => {
                out.push(b'\r');
                i += 2;
            }
            Some(b'x') => {
                let hi = client_hex_nibble(input.get(i + 2).copied().unwrap_or(0));
                let lo = client_hex_nibble(input.get(i + 3).copied().unwrap_or(0));
                out.push(((hi << 4) & 0xf0) | (lo & 0x0f));
                i += 4;
            }
            Some(&c) => {
                out.push(c);
                i += 2;
            }
        }
    }
    out
}

/// The value of one hex digit the way server.c computes it (signed char arithmetic).
fn server_hex_nibble(c: u8) -> i32 {
    let mut ch = i32::from(c) - i32::from(b'0');
    if ch > 9 {
        ch -= i32::from(b'A' - b'9' - 1);
        if ch > 15 {
            ch -= i32::from(b'a' - b'A');
        }
    }
    ch
}

/// server.c's script-line escapes: `\xHH` is a byte, `\c` is `c` for any other `c`
/// (so `\\` is one backslash). A trailing lone backslash ends the line there.
pub fn unescape_server(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match input.get(i + 1) {
            None => break,
            Some(b'x') => {
                let hi = server_hex_nibble(input.get(i + 2).copied().unwrap_or(0));
                let lo = server_hex_nibble(input.get(i + 3).copied().unwrap_or(0));
                out.push(((lo | (hi << 4)) & 0xff) as u8);
                i += 4;
            }
            Some(&c) => {
                out.push(c);
                i += 2;
            }
        }
    }
    out
}

/// server.c's `printit`: printable ASCII as is, backslash doubled, others as `\xhh`.
pub fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &c in bytes {
        match c {
            b'\\' => s.push_str("\\\\"),
            b' '..=b'~' => s.push(char::from(c)),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Read one line like C's `fgets` with a buffer of `max + 1` bytes: up to and including
/// the next `\n`, or `max` bytes, whichever comes first. `Ok(None)` at end of input
/// with nothing read. Memory use is bounded by `max` whatever the peer sends.
pub fn read_line_bounded<R: BufRead + ?Sized>(
    r: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    while line.len() < max {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        let want = max - line.len();
        let take = match avail.iter().take(want).position(|&b| b == b'\n') {
            Some(p) => p + 1,
            None => avail.len().min(want),
        };
        line.extend_from_slice(&avail[..take]);
        r.consume(take);
        if line.last() == Some(&b'\n') {
            break;
        }
    }
    Ok(if line.is_empty() { None } else { Some(line) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_escapes() {
        assert_eq!(unescape_client(b"a\\r\\nb"), b"a\r\nb");
        assert_eq!(unescape_client(b"\\x41\\x6a\\x7E"), b"Aj~");
        assert_eq!(unescape_client(b"a\\\\b\\.c"), b"a\\b.c");
        assert_eq!(unescape_client(b"end\\"), b"end");
        assert_eq!(unescape_client(b"\\x0"), &[0u8][..]);
    }

    #[test]
    fn server_escapes() {
        assert_eq!(unescape_server(b"550 \\x80\\xFF\\xff"), b"550 \x80\xff\xff");
        assert_eq!(unescape_server(b"a\\\\b"), b"a\\b");
        assert_eq!(unescape_server(b"a\\nb"), b"anb");
        assert_eq!(unescape_server(b"cut\\"), b"cut");
        assert_eq!(unescape_server(b"\\x41BC"), b"ABC");
    }

    #[test]
    fn cstring_helpers() {
        assert_eq!(cstr(b"ab\0cd"), b"ab");
        assert_eq!(cstr(b"abc"), b"abc");
        assert_eq!(trim_end_c(b"abc \r\n"), b"abc");
        assert_eq!(trim_end_c(b" \t"), b"");
        assert_eq!(atoi(b" 12x"), 12);
        assert_eq!(atoi(b"-5"), -5);
        assert_eq!(atoi(b"x"), 0);
    }

    #[test]
    fn printable_escapes_controls_and_backslash() {
        assert_eq!(printable(b"ab\rc\\"), "ab\\x0dc\\\\");
    }

    #[test]
    fn bounded_lines() {
        let mut r: &[u8] = b"one\ntwo-long-line\nlast";
        assert_eq!(read_line_bounded(&mut r, 100).unwrap().unwrap(), b"one\n");
        assert_eq!(read_line_bounded(&mut r, 4).unwrap().unwrap(), b"two-");
        assert_eq!(
            read_line_bounded(&mut r, 100).unwrap().unwrap(),
            b"long-line\n"
        );
        assert_eq!(read_line_bounded(&mut r, 100).unwrap().unwrap(), b"last");
        assert!(read_line_bounded(&mut r, 100).unwrap().is_none());
    }
}
