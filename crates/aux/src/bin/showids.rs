//! `showids`: prints `uid=… gid=… euid=… egid=…` (see [`mailrig_aux::showids`]).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mailrig_aux::showids::Ids;

/// Prints the real and effective user and group ids of the process, in showids.c's
/// format: `uid=U gid=G euid=EU egid=EG`. Exit status 0, or 1 on bad arguments or when
/// stdout cannot be written.
#[derive(Parser)]
#[command(name = "showids", version)]
struct Cli {}

fn main() -> ExitCode {
    if let Err(e) = Cli::try_parse() {
        if !e.use_stderr() {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        eprintln!("showids: {} (see --help)", one_line(&e));
        return ExitCode::FAILURE;
    }
    let mut out = std::io::stdout().lock();
    match out
        .write_all(Ids::current().line().as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("showids: cannot write: {e}");
            ExitCode::FAILURE
        }
    }
}

/// clap's usage error as one line (its message without the usage block).
fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let words: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    words.join(" ").trim_start_matches("error: ").to_string()
}
