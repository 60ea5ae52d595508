//! Folder `REQUIRES` files (`scripts/NNNN-Name/REQUIRES`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The suite reads REQUIRES as UTF-8 text; a file that is not is an I/O error there.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reqs) = mailrig::suite::parse_requires(text, Path::new("scripts/9999-Fuzz/REQUIRES"))
    {
        for r in reqs {
            let _ = r.to_string();
        }
    }
});
