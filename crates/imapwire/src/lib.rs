//! IMAP wire syntax shared by the tester (imaptest) and the server (fakeserver).
//!
//! Its parts, all pure (no sockets):
//! - [`frame`]: where one complete IMAP line ends, literals included (`{N}`, `{N+}`, `~{N}`),
//!   with limits on line and literal sizes so a hostile peer cannot make us buffer gigabytes;
//! - [`parse`]: a tolerant generic parser from one framed line to a tree of [`Value`]s
//!   (atoms, quoted strings, literals, NIL, parenthesised lists, `[...]` response codes), which is
//!   what scripted matching needs, plus the split into tagged / untagged / continuation responses;
//! - [`deflate`]: raw DEFLATE both ways for COMPRESS=DEFLATE (RFC 4978), bounded inflating;
//! - [`strict`]: the typed, RFC-strict layer (imap-codec / imap-types) for commands and responses;
//! - [`mutf7`]: modified UTF-7, the wire form of mailbox names (RFC 3501 5.1.3).
//!
//! A malformed line is a [`WireError`], never a panic.
pub mod bytes;
pub mod deflate;
pub mod frame;
pub mod mutf7;
pub mod parse;
pub mod strict;
pub mod value;

pub use bytes::Bytes;
pub use frame::{FrameError, Framer, Limits};
pub use parse::{
    parse_line, parse_response, tokenize, tokenize_command, Response, Status, WireError,
};
pub use value::{write_quoted, Value};

/// The entry point of the fuzz target: frame and parse arbitrary bytes; must never panic.
pub fn fuzz_response(data: &[u8]) {
    let framer = Framer::new(Limits {
        max_line: 8192,
        max_literal: 1 << 20,
    });
    let mut rest = data;
    while let Ok(Some(n)) = framer.complete_len(rest) {
        let _ = parse_response(&rest[..n]).map(|r| r.to_string());
        let _ = strict::response(&rest[..n]);
        let _ = strict::command(&rest[..n]);
        rest = &rest[n..];
    }
    let _ = tokenize(data);
    if let Ok(name) = mutf7::decode(data) {
        assert_eq!(
            mutf7::encode(&name).as_bytes(),
            data,
            "a decoded name encodes back"
        );
    }
}
