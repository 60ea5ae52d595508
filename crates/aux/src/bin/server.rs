//! `server`: the scripted SMTP (or other) server of Exim's test suite. Thin main: argv
//! and stdio in, exit status out; the logic is in `mailrig_aux::server`.

use std::io::{self, Write};

use mailrig_aux::server;
use mailrig_aux::server_args;

fn main() {
    // server.c dies of SIGPIPE when the client has gone while it writes; keep that.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv0 = argv.first().map(String::as_str).unwrap_or("server");
    let args = match server_args::parse(argv0, argv.get(1..).unwrap_or(&[])) {
        Ok(a) => a,
        Err(e) => {
            print!("{}", e.message);
            let _ = io::stdout().flush();
            std::process::exit(e.code);
        }
    };
    let script = match server::load_script(&mut io::stdin().lock()) {
        Ok(s) => s,
        Err(e) => {
            println!("server: reading the script from stdin failed: {e}");
            std::process::exit(1);
        }
    };
    let mut out = io::stdout();
    let code = server::run(&args, &script, &mut out);
    let _ = out.flush();
    std::process::exit(code);
}
