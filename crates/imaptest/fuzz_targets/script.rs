//! Fuzz target for the scripted-test file parser: arbitrary bytes give a test file or a
//! `file:line: …` error, never a panic. Needs the dependency
//! `mailrig-imaptest = { path = "../crates/imaptest" }`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imaptest::script::parse::parse("fuzz", "fuzz", data, &|_| false);
});
