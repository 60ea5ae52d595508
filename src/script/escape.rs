//! Perl's double-quoted string escapes, as the Perl runtest applies them to `:eval:` data
//! lines (`\n`, `\x41`, `\x{263A}`, octal `\101` …), giving the bytes to send.

use super::encode;

/// Perl double-quoted string escapes, for `:eval:` data lines.
pub fn perl_unescape(s: &str) -> Vec<u8> {
    let raw = encode(s);
    let b = raw.as_slice();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = b[i];
        i += 1;
        match c {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'e' => out.push(0x1b),
            b'a' => out.push(0x07),
            b'f' => out.push(0x0c),
            b'x' => {
                let (hex, braced) = if b.get(i) == Some(&b'{') {
                    let end = b[i..]
                        .iter()
                        .position(|x| *x == b'}')
                        .map(|p| i + p)
                        .unwrap_or(b.len());
                    let h = std::str::from_utf8(&b[i + 1..end]).unwrap_or("");
                    i = (end + 1).min(b.len());
                    (h.to_string(), true)
                } else {
                    let n = b[i..]
                        .iter()
                        .take(2)
                        .take_while(|x| x.is_ascii_hexdigit())
                        .count();
                    let h = std::str::from_utf8(&b[i..i + n]).unwrap_or("");
                    i += n;
                    (h.to_string(), false)
                };
                let v =
                    u32::from_str_radix(if hex.is_empty() { "0" } else { &hex }, 16).unwrap_or(0);
                if braced && v > 255 {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(
                        char::from_u32(v)
                            .unwrap_or('?')
                            .encode_utf8(&mut buf)
                            .as_bytes(),
                    );
                } else {
                    out.push(v as u8);
                }
            }
            b'0'..=b'7' => {
                let mut v = (c - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + (b[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_escapes() {
        assert_eq!(perl_unescape(r"\x41\101\r\n"), b"AA\r\n".to_vec());
        assert_eq!(
            perl_unescape(r"a\\b\x{263A}"),
            "a\\b\u{263A}".as_bytes().to_vec()
        );
        assert_eq!(perl_unescape(r"\t\e\0"), vec![b'\t', 0x1b, 0]);
        assert_eq!(perl_unescape("trailing\\"), b"trailing\\".to_vec());
    }
}
