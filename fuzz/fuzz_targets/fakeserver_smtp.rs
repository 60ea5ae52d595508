//! cargo-fuzz target: the SMTP/LMTP command parser and handler on arbitrary input.
//! Part of the repository's fuzz crate (`tools/fuzz` runs it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fakeserver::fuzz_smtp_command(data);
});
