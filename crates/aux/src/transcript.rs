//! What `client` and `server` share about their report on stdout: writes that, like C's
//! printf, go on whatever happens to stdout; the exit status they end with; and the message
//! and status of their SIGALRM handlers.

use std::io::Write;

/// The process should end with this status (messages already printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

/// Write to the report and flush, so that it reads in order with what other processes
/// write to the same file. Nothing useful can be done if stdout fails.
pub fn say(out: &mut dyn Write, bytes: &[u8]) {
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// The C programs' SIGALRM handler: "\n<Program> timed out\n", then status 99 (0 with
/// `-tmo_noerror`, spelt so in both programs' options).
pub fn timed_out(out: &mut dyn Write, program: &str, tmo_noerror: bool) -> Exit {
    say(out, format!("\n{program} timed out\n").as_bytes());
    Exit(if tmo_noerror { 0 } else { 99 })
}
