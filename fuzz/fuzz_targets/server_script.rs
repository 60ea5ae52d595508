//! `server` scripts: loaded as server.c does, then played over one connection whose client
//! has already sent what follows the first NUL and closed. Scripts with `*sleep` are
//! skipped (they would only sleep).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailrig_aux::server;
use mailrig_aux::server_args;
use mailrig_fuzz::{socket_with_peer, split2};

fuzz_target!(|data: &[u8]| {
    let (script_text, client_says) = split2(data);
    let Ok(script) = server::load_script(&mut &script_text[..]) else {
        return;
    };
    // The loaded lines are what the server plays (escapes done, long lines split).
    if script.lines.iter().any(|l| l.starts_with(b"*sleep ")) {
        return;
    }
    let argv: Vec<String> = ["-t", "1", "1224"].iter().map(|s| s.to_string()).collect();
    let args = server_args::parse("server", &argv).expect("fixed arguments parse");
    let conn = socket_with_peer(client_says);
    let mut out = Vec::new();
    let _ = server::run_connection(&args, &script, &conn, &mut out);
});
