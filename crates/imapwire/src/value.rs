//! The generic IMAP value tree and its canonical text form.
use crate::bytes::Bytes;
use std::fmt;

/// One IMAP argument as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An atom or number, including flags (`\Seen`) and section atoms (`BODY[HEADER]<0>`).
    Atom(Bytes),
    /// A quoted string, unescaped.
    Quoted(Bytes),
    /// A literal's bytes; `binary` for `~{N}` (literal8).
    Literal { data: Bytes, binary: bool },
    /// NIL.
    Nil,
    /// `( ... )`.
    List(Vec<Value>),
    /// A response code `[ ... ]` at the start of a status response's text.
    Code(Vec<Value>),
}

/// Writes `s` as an IMAP quoted string: in double quotes, with `"` and `\` escaped.
pub fn write_quoted(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        if c == b'"' || c == b'\\' {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
}

impl Value {
    /// The bytes of an atom/string/literal (`NIL` for NIL); `None` for lists.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(b) | Value::Quoted(b) => Some(&b[..]),
            Value::Literal { data, .. } => Some(&data[..]),
            Value::Nil => Some(b"NIL"),
            Value::List(_) | Value::Code(_) => None,
        }
    }

    /// The value as text (lossy UTF-8), for atoms and strings.
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Whether this is an atom equal to `word`, ignoring ASCII case.
    pub fn is_atom(&self, word: &str) -> bool {
        matches!(self, Value::Atom(a) if a.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// The elements of a list or code.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Code(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a number, when it is an atom of digits.
    pub fn number(&self) -> Option<u64> {
        match self {
            Value::Atom(a) if !a.is_empty() && a.iter().all(u8::is_ascii_digit) => {
                std::str::from_utf8(a).ok()?.parse().ok()
            }
            _ => None,
        }
    }

    /// Canonical wire form (quoted strings re-escaped, literals as `{N}` + data).
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            Value::Atom(a) => out.extend_from_slice(a),
            Value::Quoted(q) => write_quoted(q, out),
            Value::Literal { data, binary } => {
                if *binary {
                    out.push(b'~');
                }
                out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
            }
            Value::Nil => out.extend_from_slice(b"NIL"),
            Value::List(items) | Value::Code(items) => {
                let (open, close) = if matches!(self, Value::List(_)) {
                    (b'(', b')')
                } else {
                    (b'[', b']')
                };
                out.push(open);
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    v.write_wire(out);
                }
                out.push(close);
            }
        }
    }
}

impl fmt::Display for Value {
    /// Human form for reports: like the wire form, but a literal shows as `{N}` and a short
    /// printable preview, so a report stays one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Literal { data, binary } => {
                let preview: String = String::from_utf8_lossy(&data[..data.len().min(60)])
                    .chars()
                    .map(|c| if c.is_control() { '.' } else { c })
                    .collect();
                write!(
                    f,
                    "{}{{{}}}\"{}{}\"",
                    if *binary { "~" } else { "" },
                    data.len(),
                    preview,
                    if data.len() > 60 { "..." } else { "" }
                )
            }
            Value::List(items) | Value::Code(items) => {
                let (open, close) = if matches!(self, Value::List(_)) {
                    ('(', ')')
                } else {
                    ('[', ']')
                };
                write!(f, "{open}")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "{close}")
            }
            other => {
                let mut out = Vec::new();
                other.write_wire(&mut out);
                write!(f, "{}", String::from_utf8_lossy(&out))
            }
        }
    }
}
