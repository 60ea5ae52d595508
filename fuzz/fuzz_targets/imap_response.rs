//! Fuzz target for the IMAP response parser shared by imaptest and fakeserver: framing (lines,
//! literals, limits) and the generic value parser must never panic, whatever a server sends.
//! Part of the repository's fuzz crate (`tools/fuzz` runs it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imapwire::fuzz_response(data);
});
