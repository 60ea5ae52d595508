//! Fuzz target for imaptest's profile parser (`profile=FILE`): arbitrary text gives a profile
//! or a `file:line: …` error, never a panic; the users a profile makes are planned too (with
//! a cap on their number, so one input cannot ask for billions). Part of the repository's
//! fuzz crate (`tools/fuzz` runs it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut p) = imaptest::profile::parse::parse("fuzz.conf", text) {
        p.total_user_count = p.total_user_count.min(1000);
        let _ = imaptest::profile::plan::users(&p, &Default::default(), "pass");
    }
});
