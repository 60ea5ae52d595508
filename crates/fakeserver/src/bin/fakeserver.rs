//! The `fakeserver` program (thin: parse arguments, call the library).
use clap::Parser;

fn main() {
    let args = fakeserver::cli::Args::parse();
    if let Err(e) = fakeserver::cli::run(args) {
        eprintln!("fakeserver: {e:#}");
        std::process::exit(2);
    }
}
