//! Feed a byte stream to a [`Handler`] without sockets: the bytes are split into lines (LF,
//! optional CR), dot-terminated blocks are gathered and unstuffed when the handler asks for
//! them, exact reads take that many octets, STARTTLS and COMPRESS are pretended (the
//! connection is marked TLS or compressed; the input is the plain protocol). Returns
//! everything the handler would have sent. For fuzz targets and unit tests of whole sessions;
//! the real server (framing limits, TLS, compression, faults, recording) lives elsewhere.

use crate::handler::{ConnInfo, Handler, Input, ReadMode};

/// Drive `h` with `input`; the replies, CRLF-terminated, in order.
pub fn run(h: &mut dyn Handler, input: &[u8], mut conn: ConnInfo) -> Vec<u8> {
    let mut out = Vec::new();
    let emit = |o: &crate::handler::Output, out: &mut Vec<u8>| {
        for l in &o.lines {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
    };
    let first = h.on_startup(&conn);
    emit(&first, &mut out);
    if first.close {
        return out;
    }
    let mut mode = first.next;
    let mut rest = input;
    loop {
        let o = match mode {
            ReadMode::Line => {
                let Some((line, tail)) = next_line(rest) else {
                    break;
                };
                rest = tail;
                h.on_input(Input::Line(line), &conn)
            }
            ReadMode::DotTerminated => {
                let mut block = Vec::new();
                let mut done = false;
                while let Some((line, tail)) = next_line(rest) {
                    rest = tail;
                    if line == b"." {
                        done = true;
                        break;
                    }
                    block.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
                    block.extend_from_slice(b"\r\n");
                }
                if !done {
                    // The client went away mid-block: nothing is delivered.
                    break;
                }
                h.on_input(Input::Block(&block), &conn)
            }
            ReadMode::Exact(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                let (bytes, tail) = rest.split_at(n);
                rest = tail;
                h.on_input(Input::Bytes(bytes), &conn)
            }
        };
        emit(&o, &mut out);
        if o.close {
            break;
        }
        if o.start_tls {
            conn.tls = true;
            let t = h.on_tls_started(&conn);
            emit(&t, &mut out);
        }
        if o.start_compress {
            // The scripted input is the inflated protocol: only the state changes.
            conn.compressed = true;
        }
        mode = o.next;
    }
    out
}

fn next_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    if buf.is_empty() {
        return None;
    }
    match buf.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let line = &buf[..i];
            Some((line.strip_suffix(b"\r").unwrap_or(line), &buf[i + 1..]))
        }
        None => Some((buf, &[])),
    }
}

/// A handler driven one input at a time, for the protocols' unit tests.
#[cfg(test)]
pub(crate) struct Session<H> {
    pub h: H,
    pub conn: ConnInfo,
}

#[cfg(test)]
impl<H: Handler> Session<H> {
    /// Start `h` on a plain connection that offers TLS: the session and the greeting.
    pub fn start(mut h: H) -> (Self, String) {
        let conn = ConnInfo::offering_tls();
        let g = text(&h.on_startup(&conn));
        (Session { h, conn }, g)
    }
    /// Send one command line.
    pub fn say(&mut self, line: &str) -> crate::handler::Output {
        self.h.on_input(Input::Line(line.as_bytes()), &self.conn)
    }
    /// Send one command line; the reply as text, each line ending in LF.
    pub fn s(&mut self, line: &str) -> String {
        text(&self.say(line))
    }
}

/// An output's lines as text, each ending in LF.
#[cfg(test)]
pub(crate) fn text(o: &crate::handler::Output) -> String {
    o.lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned() + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    /// Seeded random sessions built from real command words and hostile bytes: neither
    /// protocol's handler may panic (a cheap stand-in for the fuzz targets in `cargo test`).
    #[test]
    fn random_sessions_never_panic() {
        let words: &[&[u8]] = &[
            b"USER u",
            b"PASS p",
            b"APOP u 0123456789abcdef0123456789abcdef",
            b"STAT",
            b"LIST",
            b"LIST 1",
            b"UIDL",
            b"TOP 1 1",
            b"RETR 1",
            b"RETR 2",
            b"DELE 1",
            b"RSET",
            b"NOOP",
            b"CAPA",
            b"AUTH",
            b"AUTH PLAIN",
            b"AUTH LOGIN",
            b"AUTH CRAM-MD5",
            b"AUTH XOAUTH2 =",
            b"*",
            b"STLS",
            b"QUIT",
            b"GROUP misc.test",
            b"LISTGROUP",
            b"ARTICLE",
            b"HEAD 1",
            b"BODY <1@x>",
            b"STAT 0",
            b"NEXT",
            b"LAST",
            b"LIST ACTIVE *",
            b"LIST NEWSGROUPS",
            b"LIST OVERVIEW.FMT",
            b"OVER 1-",
            b"XOVER 0-99999999999",
            b"HDR Subject 1-",
            b"XHDR x <1@x>",
            b"XPAT Subject 1- *[a-",
            b"NEWGROUPS 700101 000000",
            b"NEWNEWS * 19700101 000000 GMT",
            b"POST",
            b"IHAVE <2@x>",
            b".",
            b"..",
            b"DATE",
            b"AUTHINFO USER u",
            b"AUTHINFO PASS p",
            b"STARTTLS",
            b"HELP",
            b"MODE READER",
            b"\0\xff\xfe",
            b"",
            b"\r",
            b"\xc3\x28",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(10);
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.gen_range(1..30) {
                if rng.gen_bool(0.1) {
                    let n = rng.gen_range(0..40);
                    input.extend((0..n).map(|_| rng.gen::<u8>()));
                } else {
                    input.extend_from_slice(words[rng.gen_range(0..words.len())]);
                }
                input.push(b'\n');
            }
            let _ = crate::pop3::fuzz_session(&input);
            let _ = crate::nntp::fuzz_session(&input);
        }
    }
}
