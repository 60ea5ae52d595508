//! Command-line handling shared by the small aux programs: clap parsing where `--help` and
//! `--version` print and exit 0, and a usage error is one line on stderr with the program's
//! own failure status (scripts and Exim read that status).

use std::process::ExitCode;

/// Parse the command line into `T`, or give the exit code to return at once.
pub fn parse_or_exit<T: clap::Parser>(program: &str, usage_status: u8) -> Result<T, ExitCode> {
    T::try_parse().map_err(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        eprintln!("{program}: {} (see --help)", one_line(&e));
        ExitCode::from(usage_status)
    })
}

/// clap's usage error as one line (its message without the usage block).
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let words: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    words.join(" ").trim_start_matches("error: ").to_string()
}
