//! The command lines of `client` and `server` (as a script line gives them), and
//! `listen_target`, which runtest uses to find where a `server` will listen.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailrig_aux::{client_args, server_args};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<String> = text.split_whitespace().map(String::from).collect();
    for flavour in [
        client_args::Flavour::Plain,
        client_args::Flavour::Tls,
        client_args::Flavour::Ssl,
    ] {
        let _ = client_args::parse(flavour, &argv);
    }
    let parsed = server_args::parse("server", &argv);
    // listen_target agrees with the server's own parse.
    assert_eq!(
        server_args::listen_target(&text),
        parsed.ok().map(|a| a.listen)
    );
});
