//! POP3 (RFC 1939 with CAPA from RFC 2449, AUTH from RFC 5034 and STLS from RFC 2595):
//! [`parse`] turns lines into commands, [`daemon`] holds the maildrops shared by every
//! connection, [`handler`] is one connection's state machine, [`personality`] the quirks
//! and wording a TOML personality file can change.

pub mod parse;
pub mod daemon;
pub mod handler;
pub mod personality;
pub mod sasl;

pub use daemon::Pop3Daemon;
pub use handler::Pop3Handler;
pub use personality::Pop3Personality;
