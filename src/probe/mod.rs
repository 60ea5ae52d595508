//! Facts about the host and the MTA, gathered once per run: the host's name and addresses
//! (`host`), the caller account (`account`), the Exim binary and what it supports (`exim`),
//! and the patched test-harness copy of it (`patch`); whether a folder's `REQUIRES` are met
//! (`requires`).

pub mod account;
pub mod exim;
pub mod host;
pub mod patch;
pub mod requires;
