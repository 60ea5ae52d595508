//! A tolerant generic parser: one framed IMAP line → [`Response`] / [`Value`]s.
//!
//! Atoms are read generously (any byte but SP, parens, CR/LF, and `]` inside a response code);
//! a `[` inside an atom runs to its matching `]` so `BODY[HEADER.FIELDS (FROM)]<0>` stays one
//! atom. The text of status responses (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`) is an optional
//! `[code ...]` and then words, never parsed further. Errors name the offset and the line.
use crate::bytes::Bytes;
use crate::frame::preview;
use crate::value::Value;
use std::fmt;
use thiserror::Error;

/// Lists may nest this deep before the line is called malformed (keeps recursion bounded).
pub const MAX_DEPTH: usize = 100;

/// A malformed line.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed IMAP line at byte {offset}: {reason}: {line:?}")]
pub struct WireError {
    pub offset: usize,
    pub reason: String,
    pub line: String,
}

/// The status word of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

impl Status {
    pub fn from_word(w: &[u8]) -> Option<Status> {
        // no upper-cased copy: this runs for every line a client reads
        [
            (&b"OK"[..], Status::Ok),
            (b"NO", Status::No),
            (b"BAD", Status::Bad),
            (b"BYE", Status::Bye),
            (b"PREAUTH", Status::Preauth),
        ]
        .into_iter()
        .find(|(word, _)| w.eq_ignore_ascii_case(word))
        .map(|(_, s)| s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Bye => "BYE",
            Status::Preauth => "PREAUTH",
        }
    }
}

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+ text`.
    Continuation(Vec<u8>),
    /// `* ...`: all values after the `*` (for status responses: the status atom, an optional
    /// [`Value::Code`], then one atom per word of text).
    Untagged(Vec<Value>),
    /// `tag STATUS [code] text`: `text` holds the optional code and the words.
    Tagged {
        tag: String,
        status: Status,
        text: Vec<Value>,
    },
}

impl Response {
    /// For a status response: its status and response code, if any.
    pub fn status_code(&self) -> Option<(Status, Option<&[Value]>)> {
        let (status, text) = match self {
            Response::Tagged { status, text, .. } => (*status, &text[..]),
            Response::Untagged(v) => (Status::from_word(v.first()?.bytes()?)?, &v[1..]),
            Response::Continuation(_) => return None,
        };
        match text.first() {
            Some(Value::Code(c)) => Some((status, Some(c))),
            _ => Some((status, None)),
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: &[Value]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Response::Continuation(t) => write!(f, "+ {}", String::from_utf8_lossy(t)),
            Response::Untagged(v) => write!(f, "* {}", join(v)),
            Response::Tagged { tag, status, text } => {
                write!(f, "{tag} {}", status.as_str())?;
                if !text.is_empty() {
                    write!(f, " {}", join(text))?;
                }
                Ok(())
            }
        }
    }
}

/// Bytes that continue an atom whatever the context: not SP, CR, LF, `(`, `)`, `"`, `[`, `]`,
/// `{` (only special first, but kept out so the careful loop sees it).
const PLAIN_ATOM: [bool; 256] = {
    let mut t = [true; 256];
    let special = b" \r\n()\"[]{";
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = false;
        i += 1;
    }
    t
};

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Reading a client command: an atom whose `[` never closes (a mailbox name such as
    /// `a[b`) is a plain atom instead of an error.
    command: bool,
    /// The values of the lists being read, innermost last: one stack for the whole line, so
    /// each list is allocated once at its final size instead of growing item by item.
    stack: Vec<Value>,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], command: bool) -> Self {
        Cursor {
            buf,
            pos: 0,
            command,
            stack: Vec::new(),
        }
    }
}

impl<'a> Cursor<'a> {
    fn err(&self, reason: impl Into<String>) -> WireError {
        WireError {
            offset: self.pos,
            reason: reason.into(),
            line: preview(self.buf),
        }
    }
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r') | Some(b'\n'))
            && self.buf[self.pos..]
                .iter()
                .all(|&c| c == b'\r' || c == b'\n')
    }
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }
    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\r' || c == b'\n' {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// Values until end of line, or until `close` at this depth.
    fn values(&mut self, close: Option<u8>, depth: usize) -> Result<Vec<Value>, WireError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("lists nested deeper than {MAX_DEPTH}")));
        }
        let base = self.stack.len();
        loop {
            self.skip_spaces();
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    if let Some(c) = close {
                        return Err(self.err(format!("missing '{}'", c as char)));
                    }
                    break;
                }
                Some(c) if Some(c) == close => {
                    self.pos += 1;
                    break;
                }
                Some(b')') => return Err(self.err("unexpected ')'")),
                Some(_) => {
                    let v = self.value(close, depth)?;
                    self.stack.push(v);
                }
            }
        }
        // an exact-size iterator: one allocation of the list's final size
        Ok(self.stack.drain(base..).collect())
    }

    fn value(&mut self, close: Option<u8>, depth: usize) -> Result<Value, WireError> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                Ok(Value::List(self.values(Some(b')'), depth + 1)?))
            }
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(false),
            Some(b'~') if self.buf.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 1;
                self.literal(true)
            }
            _ => self.atom(close),
        }
    }

    fn quoted(&mut self) -> Result<Value, WireError> {
        self.pos += 1;
        let mut out = Bytes::default();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return Err(self.err("unterminated quoted string"))
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Value::Quoted(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c != b'\r' && c != b'\n' => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("unterminated quoted string")),
                    }
                }
                Some(_) => {
                    // the run up to the next quote, backslash or line end, at once
                    let rest = &self.buf[self.pos..];
                    let n = rest
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\\' | b'\r' | b'\n'))
                        .unwrap_or(rest.len());
                    out.extend_from_slice(&rest[..n]);
                    self.pos += n;
                }
            }
        }
    }

    fn literal(&mut self, binary: bool) -> Result<Value, WireError> {
        let start = self.pos;
        self.pos += 1;
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.buf[digits_start..self.pos];
        if matches!(self.peek(), Some(b'+') | Some(b'-')) {
            self.pos += 1;
        }
        if digits.is_empty() || self.peek() != Some(b'}') {
            self.pos = start;
            return Err(self.err("bad literal announcement"));
        }
        self.pos += 1;
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        if self.peek() != Some(b'\n') {
            return Err(self.err("literal announcement not at the end of a line"));
        }
        self.pos += 1;
        let size: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| self.err("literal size out of range"))?;
        if self.buf.len() - self.pos < size {
            return Err(self.err(format!("literal of {size} bytes cut short")));
        }
        let data = Bytes::copy_from(&self.buf[self.pos..self.pos + size]);
        self.pos += size;
        Ok(Value::Literal { data, binary })
    }

    fn atom(&mut self, close: Option<u8>) -> Result<Value, WireError> {
        let start = self.pos;
        let mut bracket = 0usize;
        // the common case first: a run of bytes that can only continue an atom
        let plain = self.buf[self.pos..]
            .iter()
            .position(|&c| !PLAIN_ATOM[c as usize])
            .unwrap_or(self.buf.len() - self.pos);
        if plain > 0 && self.buf.get(self.pos) != Some(&b'{') {
            self.pos += plain;
        }
        while let Some(c) = self.peek() {
            match c {
                b'\r' | b'\n' => break,
                b'[' => bracket += 1,
                b']' if bracket > 0 => bracket -= 1,
                b']' if close == Some(b']') => break,
                b' ' | b'(' | b')' | b'"' if bracket == 0 => break,
                b'{' if bracket == 0 && self.pos == start => break,
                _ => {}
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(format!(
                "unexpected byte 0x{:02x}",
                self.peek().unwrap_or(0)
            )));
        }
        if bracket > 0 && self.command {
            self.pos = start;
            while let Some(c) = self.peek() {
                if matches!(c, b'\r' | b'\n' | b' ' | b'(' | b')' | b'"') {
                    break;
                }
                self.pos += 1;
            }
        } else if bracket > 0 {
            return Err(self.err("unbalanced '[' in atom"));
        }
        let a = &self.buf[start..self.pos];
        if a.eq_ignore_ascii_case(b"NIL") {
            return Ok(Value::Nil);
        }
        Ok(Value::Atom(Bytes::copy_from(a)))
    }

    /// resp-text: `[code]` (parsed into values) then words.
    /// With `base`, the values already on the stack from there come first in the result.
    fn resp_text(&mut self, base: usize) -> Result<Vec<Value>, WireError> {
        self.skip_spaces();
        if self.peek() == Some(b'[') {
            self.pos += 1;
            let code = Value::Code(self.values(Some(b']'), 1)?);
            self.stack.push(code);
        }
        loop {
            self.skip_spaces();
            if self.at_end() {
                return Ok(self.stack.drain(base..).collect());
            }
            let w = self.word();
            if w.is_empty() {
                // A CR or LF inside the text, with more after it: skip it (it was once an
                // endless loop, found by the `imaptest_script` fuzz target).
                self.pos += 1;
                continue;
            }
            self.stack.push(Value::Atom(Bytes::copy_from(w)));
        }
    }
}

/// Values of a whole line (literals inline), no response structure.
pub fn tokenize(line: &[u8]) -> Result<Vec<Value>, WireError> {
    Cursor::new(line, false).values(None, 0)
}

/// Values of a client command line (literals inline): like [`tokenize`], but an atom with
/// an unclosed `[` (legal in mailbox names) is read up to the next space or parenthesis.
pub fn tokenize_command(line: &[u8]) -> Result<Vec<Value>, WireError> {
    Cursor::new(line, true).values(None, 0)
}

/// Parses the values of an untagged response body (after `* `): status responses get the
/// resp-text treatment, anything else generic values.
pub fn parse_line(body: &[u8]) -> Result<Vec<Value>, WireError> {
    let mut c = Cursor::new(body, false);
    c.skip_spaces();
    let save = c.pos;
    let first = c.word();
    if Status::from_word(first).is_some() {
        c.stack.push(Value::Atom(Bytes::copy_from(first)));
        return c.resp_text(0);
    }
    c.pos = save;
    c.values(None, 0)
}

/// Parses one framed response line (as returned by [`crate::Framer`]).
pub fn parse_response(line: &[u8]) -> Result<Response, WireError> {
    let mut c = Cursor::new(line, false);
    match c.peek() {
        Some(b'+') => {
            c.pos += 1;
            c.skip_spaces();
            let rest = &line[c.pos..];
            let end = rest
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(rest.len());
            Ok(Response::Continuation(rest[..end].to_vec()))
        }
        Some(b'*') => {
            c.pos += 1;
            if c.peek() != Some(b' ') {
                return Err(c.err("'*' not followed by a space"));
            }
            Ok(Response::Untagged(parse_line(&line[1..]).map_err(
                |mut e| {
                    e.offset += 1;
                    e.line = preview(line);
                    e
                },
            )?))
        }
        None | Some(b'\r') | Some(b'\n') => Err(c.err("empty line")),
        Some(_) => {
            let tag = c.word();
            if tag
                .iter()
                .any(|&b| !(0x21..0x7f).contains(&b) || b"(){%\"\\".contains(&b))
            {
                return Err(c.err("invalid tag"));
            }
            let tag = String::from_utf8_lossy(tag).into_owned();
            c.skip_spaces();
            let w = c.word();
            let status = match Status::from_word(w) {
                Some(s @ (Status::Ok | Status::No | Status::Bad)) => s,
                _ => {
                    return Err(c.err(format!(
                        "tagged reply without OK, NO or BAD (got {:?})",
                        String::from_utf8_lossy(w)
                    )))
                }
            };
            Ok(Response::Tagged {
                tag,
                status,
                text: c.resp_text(0)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(s: &str) -> Value {
        Value::Atom(s.into())
    }

    #[test]
    fn command_atoms_may_hold_an_open_bracket() {
        assert!(tokenize(b"a select x[}").is_err());
        let v = tokenize_command(b"a select x[} (BODY[HEADER.FIELDS (A B)])").unwrap();
        assert_eq!(v[2], Value::Atom(b"x[}".into()));
        assert_eq!(
            v[3],
            Value::List(vec![Value::Atom(b"BODY[HEADER.FIELDS (A B)]".into())])
        );
    }

    #[test]
    fn fetch_with_literal_and_sections() {
        let r = parse_response(
            b"* 1 FETCH (UID 5 BODY[HEADER.FIELDS (FROM)]<0> {3}\r\nab\n FLAGS (\\Seen))\r\n",
        )
        .unwrap();
        let Response::Untagged(v) = r else { panic!() };
        assert_eq!(v[0], atom("1"));
        assert_eq!(v[1], atom("FETCH"));
        let items = v[2].items().unwrap();
        assert_eq!(items[2], atom("BODY[HEADER.FIELDS (FROM)]<0>"));
        assert_eq!(
            items[3],
            Value::Literal {
                data: b"ab\n".into(),
                binary: false
            }
        );
        assert_eq!(items[5], Value::List(vec![atom("\\Seen")]));
    }

    #[test]
    fn status_responses_keep_text_as_words() {
        let r =
            parse_response(b"* OK [PERMANENTFLAGS (\\Seen \\*)] Flags (permitted.\r\n").unwrap();
        let Response::Untagged(v) = &r else { panic!() };
        assert_eq!(
            v[1],
            Value::Code(vec![
                atom("PERMANENTFLAGS"),
                Value::List(vec![atom("\\Seen"), atom("\\*")])
            ])
        );
        assert_eq!(v[3], atom("(permitted."));
        let (s, code) = r.status_code().unwrap();
        assert_eq!(s, Status::Ok);
        assert_eq!(code.unwrap().len(), 2);
        let t = parse_response(b"a1 no [TRYCREATE] Mailbox doesn't exist\r\n").unwrap();
        assert!(matches!(&t, Response::Tagged { tag, status: Status::No, .. } if tag == "a1"));
        assert_eq!(
            parse_response(b"+ go ahead\r\n").unwrap(),
            Response::Continuation(b"go ahead".to_vec())
        );
    }

    #[test]
    fn structures_of_common_extensions() {
        for line in [
            &b"* 2 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL \"s\" ((\"A\" NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0) 1) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL))\r\n"[..],
            b"* 1 FETCH (ENVELOPE (\"Sat, 24 Mar 2007 23:00:00 +0200\" {2}\r\nhi ((\"N\" NIL \"u\" \"d\")) NIL NIL NIL NIL NIL NIL \"<id@x>\"))\r\n",
            b"* VANISHED (EARLIER) 41,43:116,118\r\n",
            b"* ESEARCH (TAG \"a\") UID ALL 1:3,5 MIN 1 MAX 5 COUNT 4\r\n",
            b"* NAMESPACE ((\"\" \"/\")) NIL ((\"#shared/\" \"/\" \"X-EXT\" (\"a\" \"b\")))\r\n",
            b"* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n",
            b"* LIST (\\HasNoChildren) \".\" INBOX\r\n",
            b"* STATUS \"a b\" (MESSAGES 1 UIDNEXT 2)\r\n",
            b"* 3 FETCH (BINARY[1] ~{2}\r\n\0\xff MODSEQ (12))\r\n",
            b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
        ] {
            let r = parse_response(line).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(r, Response::Untagged(_)), "{r}");
        }
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for line in [
            &b"* 1 FETCH (UID 5\r\n"[..],
            b"* 1 FETCH (BODY[] {10}\r\nab)\r\n",
            b"* 1 FETCH UID 5)\r\n",
            b"\r\n",
            b"a1 HELLO\r\n",
            b"* LIST () \"/ INBOX\r\n",
            b"*\r\n",
            b"a1\r\n",
            b"* 1 FETCH (BODY[HEADER 1)\r\n",
        ] {
            let e = parse_response(line).unwrap_err();
            assert!(!e.line.is_empty() || line == b"\r\n", "{e}");
        }
        let deep = [vec![b'*', b' '], vec![b'('; 10_000]].concat();
        assert!(parse_response(&deep).unwrap_err().reason.contains("nested"));
    }

    #[test]
    fn fuzz_entry_point_survives_odd_input() {
        crate::fuzz_response(b"* 1 {99999999999999999999}\r\n((((\"\\");
        crate::fuzz_response(b"+\r\n*\r\n~{3}\r\nab");
        crate::fuzz_response(&[0xff, b'\n', b'{', b'1', b'}', b'\n']);
    }
}

#[cfg(test)]
mod resp_text_regressions {
    #[test]
    fn a_line_break_inside_status_text_ends() {
        let v = super::parse_line(b"OK a\rb\nc").unwrap();
        assert_eq!(v.len(), 4, "{v:?}");
    }
}
