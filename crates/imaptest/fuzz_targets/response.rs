//! Fuzz target for the IMAP response parser shared by imaptest and fakeserver: framing (lines,
//! literals, limits) and the generic value parser must never panic, whatever a server sends.
//! Drop into the repo's fuzz/ crate as fuzz_targets/imap_response.rs with the dependency
//! `mailrig-imapwire = { path = "../crates/imapwire" }`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imapwire::fuzz_response(data);
});
