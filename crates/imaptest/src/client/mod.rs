//! A client connection and what happens on it: TCP/TLS ([`tls`]), COMPRESS=DEFLATE
//! ([`compress`]), framing and reading replies
//! with limits and timeouts ([`conn`]), rawlog files, and logging in ([`sasl`] decides the SASL
//! exchanges, [`login`] drives them on a connection).
//!
//! Everything here is per-connection state owned by one task, so a run of hundreds of clients is
//! hundreds of these on one tokio runtime, with no shared locks.
pub mod compress;
pub mod conn;
pub mod login;
pub mod sasl;
pub mod tls;

pub use conn::{Conn, ConnError, Endpoint};
