//! `fd [-f] [-q] [-s]`: reports open file descriptors (see [`mailrig_aux::fd_report`]).

use std::process::ExitCode;

use clap::Parser;
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("fd: {} (see --help)", one_line(&e));
            return ExitCode::FAILURE;
        }
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
