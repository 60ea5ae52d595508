//! cargo-fuzz target: fakeserver's IMAP command parsing and a session driven by the same
//! bytes (literals, sequence sets, nested parentheses), which must never panic nor allocate
//! what a hostile literal announces. Part of the repository's fuzz crate (`tools/fuzz` runs it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fakeserver::imap::fuzz_imap_command(data);
});
