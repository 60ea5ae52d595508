//! `mtpscript` scripts, played against client input (what follows the first NUL) that
//! ends there. Scripts with `*sleep` are skipped.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailrig_aux::mtp::{self, TimedLines};
use mailrig_fuzz::{contains_any, split2};

fuzz_target!(|data: &[u8]| {
    let (script, input) = split2(data);
    if contains_any(script, &[b"*sleep "]) {
        return;
    }
    let lines = TimedLines::spawn(std::io::Cursor::new(input.to_vec()));
    let mut out = Vec::new();
    let mut log = Vec::new();
    let _ = mtp::run(
        &mut &script[..],
        &lines,
        &mut out,
        &mut log,
        Some(Duration::from_secs(1)),
    );
});
