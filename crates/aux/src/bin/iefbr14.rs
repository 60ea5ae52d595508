//! `iefbr14`: does nothing and exits 0, like `true`, but at a known place (DIR/bin).

use std::process::ExitCode;

use clap::Parser;

/// Does nothing, successfully (exit status 0). Exim's tests run it from ${run}.
#[derive(Parser)]
#[command(name = "iefbr14", version)]
struct Cli {
    /// Ignored, like every argument of IEFBR14
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _ignored: Vec<std::ffi::OsString>,
}

fn main() -> ExitCode {
    // Only --help/--version can make parsing "fail"; both print and exit 0.
    if let Err(e) = Cli::try_parse() {
        let _ = e.print();
    }
    ExitCode::SUCCESS
}
