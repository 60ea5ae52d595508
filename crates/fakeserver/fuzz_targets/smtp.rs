//! cargo-fuzz target: the SMTP/LMTP command parser and handler on arbitrary input.
//! Drop into the repository's fuzz/fuzz_targets/ with, in fuzz/Cargo.toml,
//! `mailrig-fakeserver = { path = "../crates/fakeserver" }` and a `[[bin]] name = "smtp"`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fakeserver::fuzz_smtp_command(data);
});
