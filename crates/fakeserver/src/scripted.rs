//! Feed a byte stream to a [`Handler`] without sockets: the bytes are split into lines (LF,
//! optional CR), dot-terminated blocks are gathered and unstuffed when the handler asks for
//! them, exact reads take that many octets, STARTTLS is pretended (the connection is marked
//! TLS). Returns everything the handler would have sent. For fuzz targets and unit tests of
//! whole sessions; the real server (framing limits, TLS, faults, recording) lives elsewhere.

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
                let Some((line, tail)) = next_line(rest) else { break };
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
