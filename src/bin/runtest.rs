//! `runtest`: the Exim-compatible regression runner (see `runtest --help`).

fn main() {
    let code = match mailrig::cli::parse(std::env::args().skip(1)) {
        Ok(mailrig::cli::Invocation::Help) => {
            println!("{}", mailrig::cli::USAGE);
            0
        }
        Ok(mailrig::cli::Invocation::Version) => {
            println!("runtest (mailrig) {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(mailrig::cli::Invocation::Run(opts)) => match mailrig::runner::main(*opts) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("runtest: {e:#}");
                2
            }
        },
        Err(e) => {
            eprintln!("runtest: {e:#}");
            2
        }
    };
    std::process::exit(code);
}
