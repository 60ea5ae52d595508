//! runtest scripts (`scripts/NNNN-Name/NNNN`): the script parser of the mailrig library.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mailrig::script;

fuzz_target!(|data: &[u8]| {
    let text = script::decode(data);
    // Decoding is byte-exact: the bytes come back unchanged.
    assert_eq!(script::encode(&text), data);
    if let Ok(s) = script::parse_str(&text, Path::new("scripts/9999-Fuzz/9999")) {
        for step in &s.steps {
            assert!(step.span.line >= 1);
            let _ = step.command.name();
        }
        let _ = s.needs().count();
    }
});
