//! `checkaccess PATH USER GROUP`: as root, become USER/GROUP and open PATH for reading
//! (see [`mailrig_aux::checkaccess`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mailrig_aux::checkaccess;
use mailrig_aux::cli_util::parse_or_exit;

/// Checks that the Exim user can read the test suite: run as root, drops all supplementary
/// groups, becomes GROUP and USER (names or numeric ids) and opens PATH (a file or folder)
/// for reading. Prints nothing and exits 0 on success; prints one line and exits 1 when
/// the switch or the open fails (or on bad arguments).
#[derive(Parser)]
#[command(name = "checkaccess", version)]
struct Cli {
    /// The file or folder to open
    path: PathBuf,
    /// The user to become (name or uid), normally Exim's user
    user: String,
    /// The group to become (name or gid), normally Exim's group
    group: String,
}

fn main() -> ExitCode {
    let cli: Cli = match parse_or_exit("checkaccess", checkaccess::FAILED) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match checkaccess::run(&cli.path, &cli.user, &cli.group) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("checkaccess: {e}");
            ExitCode::from(checkaccess::FAILED)
        }
    }
}
