//! `client` scripts: the client plays a script against a peer that has already sent what
//! follows the first NUL and closed. `+++` (sleep) and `<<<` (include a file) lines are
//! skipped: one sleeps, the other reads any file named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailrig_aux::client;
use mailrig_aux::client_args::{self, Flavour};
use mailrig_fuzz::{contains_any, socket_with_peer, split2};

fuzz_target!(|data: &[u8]| {
    let (script, peer) = split2(data);
    if contains_any(script, &[b"+++ ", b"<<< "]) {
        return;
    }
    let argv: Vec<String> = ["-t1", "127.0.0.1", "1225"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let args = client_args::parse(Flavour::Plain, &argv).expect("fixed arguments parse");
    let sock = socket_with_peer(peer);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let _ = client::run_connected(&args, sock, &mut &script[..], &mut out, &mut err);
});
