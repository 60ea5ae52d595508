//! `mtpscript <script> [+]<logfile>`: the SMTP/LMTP server simulation on stdin/stdout
//! used as a pipe-transport command. Thin main; the logic is in `mailrig_aux::mtp`.

use std::fs::OpenOptions;
use std::io::{self, BufReader, Write};

use mailrig_aux::mtp;

const HELP: &str = "Usage: mtpscript <script file> [+]<log file>\n\
Plays the script against stdin/stdout, logging to the log file (+ appends).\n";

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if matches!(argv.get(1).map(String::as_str), Some("--help" | "-h")) {
        print!("{HELP}");
        std::process::exit(0);
    }
    let mut stdout = io::stdout();
    if argv.len() < 3 {
        // The client on the other end of the pipe sees an SMTP error, as with the C version.
        let _ = writeln!(stdout, "500 Script and log file required");
        std::process::exit(1);
    }
    let script = match std::fs::File::open(&argv[1]) {
        Ok(f) => f,
        Err(e) => {
            let _ = write!(
                stdout,
                "500 Failed to open script {}: {}\r\n",
                argv[1],
                mailrig_aux::net::strerror(&e)
            );
            std::process::exit(1);
        }
    };
    let (path, append) = match argv[2].strip_prefix('+') {
        Some(p) => (p, true),
        None => (argv[2].as_str(), false),
    };
    let log = OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .open(path);
    let mut log = match log {
        Ok(f) => f,
        Err(e) => {
            let _ = write!(
                stdout,
                "500 Failed to open log {path}: {}\r\n",
                mailrig_aux::net::strerror(&e)
            );
            std::process::exit(1);
        }
    };
    let input = mtp::TimedLines::spawn(io::stdin());
    let code = match mtp::run(
        &mut BufReader::new(script),
        &input,
        &mut stdout,
        &mut log,
        None,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mtpscript: {e}");
            1
        }
    };
    std::process::exit(code);
}
