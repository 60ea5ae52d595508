//! `fd [-f] [-q] [-s]`: reports open file descriptors (see [`mailrig_aux::fd_report`]).

use std::process::ExitCode;

use clap::Parser;
use mailrig_aux::cli_util::parse_or_exit;
use mailrig_aux::fd_report::{self, Options};

/// Reports the open file descriptors of this process in fd.c's format: `max fd = N`, then
/// `%3d opt=FLAGS status=HEX MODE[ TTY][ APPEND]` per open descriptor. Exit status 0, or 1
/// on bad arguments or I/O errors.
#[derive(Parser)]
#[command(name = "fd", version)]
struct Cli {
    /// Copy stdin to stdout first (for use as a transport filter)
    #[arg(short = 'f')]
    filter: bool,
    /// Print the report as one queryprogram line: ACCEPT DATA="..."
    #[arg(short = 'q')]
    queryprogram: bool,
    /// Add mode, owner uid and size of each descriptor
    #[arg(short = 's')]
    stat: bool,
}

fn main() -> ExitCode {
    let cli: Cli = match parse_or_exit("fd", 1) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let options = Options {
        filter: cli.filter,
        queryprogram: cli.queryprogram,
        stat: cli.stat,
    };
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    match fd_report::run(options, &mut stdin, &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fd: {e}");
            ExitCode::FAILURE
        }
    }
}
