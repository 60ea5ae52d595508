//! `runtest-as UID GID GROUPS PROGRAM [ARG...]`: take the identity (supplementary groups,
//! then group, then user) and exec PROGRAM. runtest, as root, starts each command of a test
//! through it with posix_spawn, so that it never forks its own big process to change identity
//! (see `mailrig::exec::privilege`). Exit status 127 (and a message) when it cannot.

use mailrig::exec::privilege::{become_identity, parse_helper_args, HELPER};
use std::os::unix::process::CommandExt;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (id, program) = match parse_helper_args(&args) {
        Ok(x) => x,
        Err(e) => fail(&e),
    };
    // SAFETY: this process has one thread and execs (or exits) right after.
    if let Err(e) = unsafe { become_identity(&id) } {
        let ids = args
            .iter()
            .take(3)
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        fail(&format!("cannot take the identity {ids}: {e}"));
    }
    let e = std::process::Command::new(&program[0])
        .args(&program[1..])
        .exec();
    fail(&format!("cannot run {}: {e}", program[0].to_string_lossy()));
}

fn fail(msg: &str) -> ! {
    eprintln!("{HELPER}: {msg}");
    std::process::exit(127);
}
