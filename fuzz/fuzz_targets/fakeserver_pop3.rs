//! cargo-fuzz target: POP3 command parsing, then a whole POP3 session driven by the same
//! bytes (one line per `\n`), so neither the parser nor the state machine may panic on any
//! input. Part of the repository's fuzz crate (`tools/fuzz` runs it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fakeserver::pop3::parse::parse_command(data);
    let _ = fakeserver::pop3::parse::keyword(data);
    fakeserver::pop3::fuzz_session(data);
});
