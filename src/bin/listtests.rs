//! `listtests [--suite DIR] [DIR-PATTERN [TITLE-PATTERN]]`: the heading of every test, folder
//! by folder, with each folder's requirements (patterns are case-insensitive regexes).

use clap::Parser;
use std::path::PathBuf;

/// Lists the tests of a suite: folders whose name matches DIR-PATTERN, tests whose heading
/// matches TITLE-PATTERN (case-insensitive regexes), each folder with the requirements of
/// its REQUIRES file.
#[derive(Parser, Debug)]
#[command(name = "listtests", version)]
struct Args {
    /// The suite folder (default: $MAILRIG_SUITE, else the current directory).
    #[arg(long, env = "MAILRIG_SUITE", default_value = ".")]
    suite: PathBuf,
    /// Folders whose name matches this regex.
    dir_pattern: Option<String>,
    /// Tests whose heading matches this regex.
    title_pattern: Option<String>,
}

fn main() {
    let args = Args::parse();
    let result = mailrig::suite::scan(&args.suite).and_then(|f| {
        mailrig::suite::listtests(
            &f,
            args.dir_pattern.as_deref(),
            args.title_pattern.as_deref(),
        )
    });
    match result {
        Ok(text) if text.is_empty() => {
            let what = if args.dir_pattern.is_none() {
                "no tests"
            } else {
                "no test matches"
            };
            eprintln!("listtests: {what} in {}", args.suite.display());
            std::process::exit(1);
        }
        Ok(text) => mailrig::report::page(&text),
        Err(e) => {
            eprintln!("listtests: {e:#}");
            std::process::exit(2);
        }
    }
}
