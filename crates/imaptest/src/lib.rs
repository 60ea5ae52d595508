//! imaptest: a Dovecot-imaptest-compatible IMAP server tester.
//!
//! - [`args`]: the command line (pure);
//! - [`client`]: one connection (TCP/TLS, framing with limits, rawlog, login/SASL);
//! - [`mbox`]: source messages;
//! - [`script`]: scripted tests (parse, variables, matching, running, reports);
//! - [`users`]: user templates and userfiles;
//! - [`scripted`]: the `test=DIR|FILE` driver that ties them together;
//! - [`stress`]: stress mode (clients walking the states, state tracking, per-second output),
//!   POP3 stress mode and LMTP deliveries;
//! - [`profile`]: profile mode (`profile=FILE`: users and clients as a profile describes them);
//! - [`qresync`]: the QRESYNC resync both modes do with `qresync` (pure).
//!
//! The IMAP syntax itself lives in the `imapwire` crate, shared with fakeserver.
pub mod args;
pub mod client;
pub mod mbox;
pub mod profile;
pub mod qresync;
pub mod script;
pub mod scripted;
pub mod stress;
pub mod users;

/// Runs the program with the arguments after its name; returns the exit status.
pub fn main_with(argv: Vec<String>) -> i32 {
    let cfg = match args::parse(argv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("imaptest: {e:#}");
            return 2;
        }
    };
    if cfg.help {
        print!("{}", args::HELP);
        return 0;
    }
    // stress mode runs on one thread: its sessions wait on the server, and cross-thread
    // wake-ups would cost more CPU than they save
    let rt = if cfg.test.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imaptest: tokio runtime: {e}");
            return 2;
        }
    };
    let mode = async {
        if cfg.test.is_some() {
            scripted::run(&cfg).await
        } else {
            stress::run(&cfg).await
        }
    };
    match rt.block_on(mode) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("imaptest: {e:#}");
            2
        }
    }
}
