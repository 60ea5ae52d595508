//! `mtpscript` (Exim's test/src/mtpscript.c): an SMTP/LMTP server simulation on
//! stdin/stdout for pipe transports. Usage `mtpscript <script> [+]<logfile>`: lines of
//! the script starting with a digit are sent (CRLF-terminated), `*sleep N` pauses, other
//! lines are the start of what the client must send (`.` swallows a message body,
//! `*eof` expects end of input). Everything is logged to the log file (`+` appends),
//! which is what the tests compare.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::script::{atoi, read_line_bounded, trim_end_c};

/// mtpscript.c's line buffers are 1024 bytes.
const LINE_MAX: usize = 1023;
/// mtpscript.c waits 5 seconds for each input line.
const INPUT_TIMEOUT: Duration = Duration::from_secs(5);

/// No input line arrived in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out waiting for input")]
pub struct InputTimeout;

/// Lines of stdin, read on a helper thread so that waiting for one can time out
/// (mtpscript.c uses `alarm(5)`).
pub struct TimedLines {
    rx: mpsc::Receiver<io::Result<Option<Vec<u8>>>>,
}

impl TimedLines {
    /// Start reading `input` line by line (bounded to 1023 bytes a line, like `fgets`).
    pub fn spawn<R: Read + Send + 'static>(input: R) -> TimedLines {
        let (tx, rx) = mpsc::sync_channel(1);
        thread::spawn(move || {
            let mut r = io::BufReader::new(input);
            loop {
                let item = read_line_bounded(&mut r, LINE_MAX);
                let done = !matches!(item, Ok(Some(_)));
                if tx.send(item).is_err() || done {
                    break;
                }
            }
        });
        TimedLines { rx }
    }

    /// The next line; `Ok(None)` at end of input (or on a read error, as `fgets`),
    /// `Err(InputTimeout)` when nothing came within `timeout`.
    pub fn next(&self, timeout: Duration) -> Result<Option<Vec<u8>>, InputTimeout> {
        match self.rx.recv_timeout(timeout) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(_)) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(InputTimeout),
        }
    }
}

/// Play `script`, reading the client from `input`, answering on `out`, logging to `log`.
/// Returns the exit status (0, or 99 after a timeout, as mtpscript.c).
pub fn run(
    script: &mut dyn BufRead,
    input: &TimedLines,
    out: &mut dyn Write,
    log: &mut dyn Write,
    timeout: Option<Duration>,
) -> io::Result<i32> {
    let timeout = timeout.unwrap_or(INPUT_TIMEOUT);
    while let Some(raw) = read_line_bounded(script, LINE_MAX)? {
        let sline = trim_end_c(&raw);
        if sline.first().is_some_and(u8::is_ascii_digit) {
            log.write_all(sline)?;
            log.write_all(b"\n")?;
            log.flush()?;
            out.write_all(sline)?;
            out.write_all(b"\r\n")?;
            out.flush()?;
        } else if sline.starts_with(b"*sleep ") {
            // Not logged: the log may be shared and this would land out of place.
            let secs = u64::try_from(atoi(&sline[7..])).unwrap_or(0);
            thread::sleep(Duration::from_secs(secs));
        } else {
            let data = sline == b".";
            log.write_all(sline)?;
            log.write_all(b"\n")?;
            log.flush()?;
            let mut got;
            loop {
                let line = match input.next(timeout) {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        let which = if sline.starts_with(b"*eof") {
                            "E"
                        } else {
                            "Une"
                        };
                        writeln!(log, "{which}xpected EOF read from client")?;
                        log.flush()?;
                        return Ok(0);
                    }
                    Err(InputTimeout) => {
                        log.write_all(b"\nTimed out\n")?;
                        log.flush()?;
                        return Ok(99);
                    }
                };
                got = trim_end_c(&line).to_vec();
                log.write_all(b"<<< ")?;
                log.write_all(&got)?;
                log.write_all(b"\n")?;
                if !data || got == b"." {
                    break;
                }
            }
            if !got.starts_with(sline) {
                log.write_all(b"Comparison failed - bailing out\n")?;
                log.flush()?;
                return Ok(0);
            }
        }
    }
    log.write_all(b"End of script\n")?;
    log.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(script: &str, input: &'static [u8]) -> (i32, String, String) {
        let lines = TimedLines::spawn(input);
        let mut out = Vec::new();
        let mut log = Vec::new();
        let rc = run(
            &mut script.as_bytes(),
            &lines,
            &mut out,
            &mut log,
            Some(Duration::from_secs(2)),
        )
        .unwrap();
        (
            rc,
            String::from_utf8(out).unwrap(),
            String::from_utf8(log).unwrap(),
        )
    }

    #[test]
    fn lmtp_dialogue() {
        let (rc, out, log) = play(
            "220 ready\nLHLO\n250 OK\nDATA\n354 go\n.\n250 done\n*eof\n",
            b"LHLO x\r\nDATA\r\nline 1\r\n.\r\n",
        );
        assert_eq!(rc, 0);
        assert_eq!(out, "220 ready\r\n250 OK\r\n354 go\r\n250 done\r\n");
        assert_eq!(
            log,
            "220 ready\nLHLO\n<<< LHLO x\n250 OK\nDATA\n<<< DATA\n354 go\n.\n<<< line 1\n<<< .\n250 done\n*eof\nExpected EOF read from client\n"
        );
    }

    #[test]
    fn mismatch_bails_out() {
        let (rc, _, log) = play("LHLO\n250 OK\n", b"HELO x\r\n");
        assert_eq!(rc, 0);
        assert!(
            log.ends_with("<<< HELO x\nComparison failed - bailing out\n"),
            "{log}"
        );
    }

    #[test]
    fn early_eof() {
        let (_, _, log) = play("QUIT\n", b"");
        assert_eq!(log, "QUIT\nUnexpected EOF read from client\n");
    }
}
