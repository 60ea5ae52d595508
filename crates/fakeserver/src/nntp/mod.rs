//! NNTP (RFC 3977, with RFC 977's and RFC 2980's commands): [`parse`] turns lines into
//! commands, [`wildmat`] matches group names and headers, [`daemon`] holds the groups and
//! articles shared by every connection, [`handler`] is one connection's state machine,
//! [`personality`] the quirks and wording a TOML personality file can change.
//!
//! ```
//! use fakeserver::nntp::{daemon::Status, NntpDaemon};
//! let news = NntpDaemon::new();
//! news.add_group("misc.test", Status::Postable);
//! news.add_article(b"From: a@b\nNewsgroups: misc.test\nSubject: s\nMessage-ID: <1@x>\n\nbody\n").unwrap();
//! assert_eq!(news.group("misc.test").unwrap().stats(), (1, 1, 1));
//! ```

pub mod daemon;
pub mod handler;
pub mod parse;
pub mod personality;
pub mod service;
pub mod wildmat;

pub use daemon::NntpDaemon;
pub use handler::NntpHandler;
pub use personality::NntpPersonality;

/// A whole NNTP session over `data` (one command per line, POST/IHAVE bodies up to a `.`
/// line) against two small groups, any user and the default personality, without sockets.
/// For the `nntp` fuzz target: it must never panic.
pub fn fuzz_session(data: &[u8]) -> Vec<u8> {
    use std::sync::Arc;
    let daemon = NntpDaemon::new();
    daemon.set_clock(Some(1_000_000_000));
    daemon.add_group("misc.test", daemon::Status::Postable);
    daemon.add_group("alt.ro", daemon::Status::ReadOnly);
    let _ = daemon.add_article(
        b"From: a@b\nNewsgroups: misc.test,alt.ro\nSubject: s\nMessage-ID: <1@x>\n\n.body\n",
    );
    let mut h = NntpHandler::new(
        daemon,
        Arc::new(crate::auth::Users::open()),
        Arc::new(NntpPersonality::default()),
    );
    crate::scripted::run(&mut h, data, crate::handler::ConnInfo::offering_tls())
}

#[cfg(test)]
mod session_tests {
    #[test]
    fn a_scripted_session_with_post() {
        let out = super::fuzz_session(b"GROUP misc.test\r\nPOST\r\nFrom: me@x\r\nNewsgroups: misc.test\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nGROUP misc.test\r\nBODY 2\r\nQUIT\r\nGROUP misc.test\r\n");
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("211 2 1 2 misc.test\r\n"), "{out}");
        assert!(out.contains("222 2 <"), "{out}");
        assert!(
            out.ends_with("\r\n..dot\r\n.\r\n205 closing connection\r\n"),
            "{out}"
        );
    }

    #[test]
    fn disconnect_mid_post_stores_nothing() {
        let out = String::from_utf8(super::fuzz_session(
            b"POST\r\nFrom: me@x\r\nNewsgroups: misc.test\r\n",
        ))
        .unwrap();
        assert!(
            out.ends_with("340 send article to be posted; end with <CR-LF>.<CR-LF>\r\n"),
            "{out}"
        );
    }
}
