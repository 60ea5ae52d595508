//! POP3 (RFC 1939 with CAPA from RFC 2449, AUTH from RFC 5034 and STLS from RFC 2595):
//! [`parse`] turns lines into commands, [`daemon`] holds the maildrops shared by every
//! connection, [`handler`] is one connection's state machine, [`personality`] the quirks
//! and wording a TOML personality file can change.
//!
//! ```
//! use fakeserver::pop3::Pop3Daemon;
//! let daemon = Pop3Daemon::new();
//! let uid = daemon.add_message("alice", b"Subject: hi\n\nhello\n");
//! assert_eq!(daemon.messages("alice")[0].uid, uid);
//! ```

pub mod daemon;
pub mod handler;
pub mod parse;
pub mod personality;
pub mod service;

pub use daemon::Pop3Daemon;
pub use handler::Pop3Handler;
pub use personality::Pop3Personality;

/// A whole POP3 session over `data` (one command per line) against a small maildrop, any
/// user and the default personality, without sockets. For the `pop3` fuzz target: it must
/// never panic.
pub fn fuzz_session(data: &[u8]) -> Vec<u8> {
    use std::sync::Arc;
    let daemon = Pop3Daemon::new();
    daemon.add_message("u", b"Subject: a\n\n.line\nbody\n");
    daemon.add_message("u", b"");
    let mut h = Pop3Handler::new(
        daemon,
        Arc::new(crate::auth::Users::open()),
        Arc::new(Pop3Personality::default()),
    );
    crate::scripted::run(&mut h, data, crate::handler::ConnInfo::offering_tls())
}

#[cfg(test)]
mod session_tests {
    #[test]
    fn a_scripted_session() {
        let out = String::from_utf8(super::fuzz_session(
            b"CAPA\nUSER u\nPASS p\nRETR 1\nSTLS\nDELE 2\nQUIT\nNOOP\n",
        ))
        .unwrap();
        assert!(
            out.contains("\r\n+OK 27 octets\r\nSubject: a\r\n\r\n..line\r\nbody\r\n.\r\n"),
            "{out}"
        );
        assert!(
            out.ends_with("+OK message 2 deleted\r\n+OK bye, maildrop updated\r\n"),
            "{out}"
        );
    }
}
