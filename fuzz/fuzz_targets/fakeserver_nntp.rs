//! cargo-fuzz target: NNTP command parsing, wildmat matching (pattern = the first line,
//! text = the rest) and a whole NNTP session driven by the same bytes (one line per `\n`,
//! POST/IHAVE bodies up to a `.` line). Drop into the repository's `fuzz/fuzz_targets/`
//! (it needs `mailrig-fakeserver` as a dependency of the fuzz crate).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fakeserver::nntp::parse::parse_command(data);
    let _ = fakeserver::nntp::parse::keyword(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let (pat, rest) = text.split_once('\n').unwrap_or((text, ""));
        let _ = fakeserver::nntp::wildmat::matches(pat, rest);
    }
    fakeserver::nntp::fuzz_session(data);
});
