//! fakeserver: stateful, scriptable fake mail servers (SMTP, LMTP, POP3, NNTP; IMAP next) for
//! testing mail *clients*.
//!
//! The shape follows Mozilla's fakeserver: a **server** owns one listening socket and the I/O
//! of each connection (framing, pipelining, multi-line and literal reads, TLS, idle timeout,
//! faults, recording); a **handler** is one connection's protocol state machine and is pure
//! (it gets input, returns [`handler::Output`]: it never touches a socket); a **daemon** is
//! the state shared by every connection of a run (users, messages, maildrops, groups).
//!
//! Module map:
//! - [`handler`]: the contract between the server and every protocol's handler.
//! - [`server`]: listener, connection I/O, [`server::ServerHandle`] (the test's grip).
//! - [`record`]: transcripts and debug levels.
//! - [`faults`]: seeded fault schedules.
//! - [`tls`]: certificate presets.
//! - [`auth`]: users and SASL, shared by every protocol.
//! - [`personality`]: personalities and quirks as data.
//! - [`smtp`]: SMTP and LMTP.
//! - [`imap`]: IMAP (daemon, handler, parser, FETCH and SEARCH).
//! - [`protocols`]: the registry (one line per protocol) the program uses.
//! - [`control`]: the HTTP/JSON control API; [`cli`]: the program's options.
//! - [`pop3`], [`nntp`]: those protocols' parsers, daemons, handlers and services.
//! - [`lineparse`]: the parse error and byte helpers POP3 and NNTP share.
//! - [`mailfiles`]: reading mbox, maildir and .eml folders for `--load`.
//! - [`scripted`]: driving a handler from a byte string without sockets (fuzzing, tests).

pub mod auth;
pub mod cli;
pub mod control;
pub mod faults;
pub mod handler;
pub mod imap;
pub mod lineparse;
pub mod mailfiles;
pub mod nntp;
pub mod personality;
pub mod pop3;
pub mod protocols;
pub mod record;
pub mod scripted;
pub mod server;
pub mod smtp;
pub mod tls;

pub use smtp::fuzz_smtp_command;
