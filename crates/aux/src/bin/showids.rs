//! `showids`: prints `uid=… gid=… euid=… egid=…` (see [`mailrig_aux::showids`]).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mailrig_aux::cli_util::parse_or_exit;
use mailrig_aux::showids::Ids;

/// Prints the real and effective user and group ids of the process, in showids.c's
/// format: `uid=U gid=G euid=EU egid=EG`. Exit status 0, or 1 on bad arguments or when
/// stdout cannot be written.
#[derive(Parser)]
#[command(name = "showids", version)]
struct Cli {}

fn main() -> ExitCode {
    if let Err(code) = parse_or_exit::<Cli>("showids", 1) {
        return code;
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
