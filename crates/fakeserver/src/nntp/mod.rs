//! NNTP (RFC 3977, with RFC 977's and RFC 2980's commands): [`parse`] turns lines into
//! commands, [`wildmat`] matches group names and headers, [`daemon`] holds the groups and
//! articles shared by every connection, [`handler`] is one connection's state machine,
//! [`personality`] the quirks and wording a TOML personality file can change.

pub mod parse;
pub mod wildmat;
pub mod daemon;
pub mod handler;
pub mod personality;

pub use daemon::NntpDaemon;
pub use handler::NntpHandler;
pub use personality::NntpPersonality;
