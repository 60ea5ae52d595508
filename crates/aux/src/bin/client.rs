//! `client` and its TLS builds (`client-gnutls`, `client-ssl`, `client-anytls`: the same
//! binary under other names): a scripted SMTP client for Exim's test suite. Thin main:
//! argv and stdio in, exit status out; the logic is in `mailrig_aux::client`.

use std::io::{self, Write};

use mailrig_aux::client;
use mailrig_aux::client_args::{self, Flavour};

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = argv.first().map(String::as_str).unwrap_or("client");
    let flavour = Flavour::from_argv0(argv0);
    if flavour == Flavour::Plain {
        // The C plain client dies of SIGPIPE on a write to a closed connection (the TLS
        // builds ignore it); keep the same fate.
        // SAFETY: setting a signal disposition to its default before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let args = match client_args::parse(flavour, argv.get(1..).unwrap_or(&[])) {
        Ok(a) => a,
        Err(e) => {
            if e.to_stdout {
                print!("{}", e.message);
                let _ = io::stdout().flush();
            } else {
                eprint!("{}", e.message);
            }
            std::process::exit(e.code);
        }
    };
    let stdin = io::stdin();
    let mut script = stdin.lock();
    let mut out = io::stdout();
    let mut err = io::stderr();
    let code = client::run(flavour, &args, &mut script, &mut out, &mut err);
    let _ = out.flush();
    std::process::exit(code);
}
