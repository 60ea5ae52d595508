//! Socket plumbing for the scripted network programs: deadlines (the C programs use
//! `alarm()`; here every blocking call gets the time left), reads and writes that report
//! a timeout distinctly, a small buffered reader with `fgets`-like line reads for the
//! server, and the record-exact reader that feeds TLS records to rustls.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use socket2::Socket;

/// A point in time after which blocking operations give up; `None` waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// A deadline `secs` seconds from now (`0` means no deadline, like `alarm(0)`).
    pub fn after_secs(secs: u64) -> Self {
        if secs == 0 {
            Deadline(None)
        } else {
            Deadline(Instant::now().checked_add(Duration::from_secs(secs)))
        }
    }

    /// No deadline at all.
    pub fn never() -> Self {
        Deadline(None)
    }

    /// Time left, `Err(NetError::Timeout)` once it has passed.
    pub fn remaining(&self) -> Result<Option<Duration>, NetError> {
        match self.0 {
            None => Ok(None),
            Some(at) => {
                let now = Instant::now();
                if now >= at {
                    Err(NetError::Timeout)
                } else {
                    Ok(Some(at - now))
                }
            }
        }
    }
}

/// Why a network operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The deadline passed (the C programs' SIGALRM).
    #[error("timed out")]
    Timeout,
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl NetError {
    /// The C `strerror` text for the error (Rust's io::Error adds " (os error N)").
    pub fn strerror(&self) -> String {
        match self {
            NetError::Timeout => "Interrupted system call".to_string(),
            NetError::Io(e) => strerror(e),
        }
    }
}

/// `strerror(errno)` for an io::Error, without Rust's " (os error N)" suffix.
pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let s = e.to_string();
            match s.rfind(" (os error ") {
                Some(n) => s[..n].to_string(),
                None => format!("errno {code}"),
            }
        }
        None => e.to_string(),
    }
}

/// The value for SO_RCVTIMEO/SO_SNDTIMEO that waits at most `left`. The kernel takes whole
/// microseconds and reads zero as "wait forever", so a time left under 1 µs (which
/// would truncate to zero and block with no limit) becomes 1 µs.
pub fn socket_timeout(left: Option<Duration>) -> Option<Duration> {
    left.map(|d| d.max(Duration::from_micros(1)))
}

/// `poll()`'s timeout in whole milliseconds for `wait`, rounded up so that a wait under
/// 1 ms does not become a busy zero-time poll; capped at `i32::MAX`.
pub fn poll_millis(wait: Duration) -> i32 {
    let ms = wait.as_nanos().div_ceil(1_000_000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One `read()` on the socket, waiting at most until `deadline`.
pub fn read_some(sock: &Socket, buf: &mut [u8], deadline: Deadline) -> Result<usize, NetError> {
    loop {
        sock.set_read_timeout(socket_timeout(deadline.remaining()?))?;
        match (&*sock).read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => {
                // A timeout from SO_RCVTIMEO: loop so that the deadline decides.
                continue;
            }
            Err(e) => return Err(NetError::Io(e)),
        }
    }
}

/// Whether the socket becomes readable (data, EOF or error) within `wait` (and before
/// `deadline`).
pub fn wait_readable(sock: &Socket, wait: Duration, deadline: Deadline) -> bool {
    use std::os::fd::AsRawFd;
    let wait = match deadline.remaining() {
        Ok(Some(left)) => left.min(wait),
        Ok(None) => wait,
        Err(_) => return false,
    };
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = poll_millis(wait);
    loop {
        // SAFETY: one valid pollfd, exclusively borrowed for the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return rc > 0;
    }
}

/// Fill `buf` completely; `Ok(false)` if the peer closed before the first byte.
pub fn read_exact_or_eof(
    sock: &Socket,
    buf: &mut [u8],
    deadline: Deadline,
) -> Result<bool, NetError> {
    let mut got = 0;
    while got < buf.len() {
        let n = read_some(sock, &mut buf[got..], deadline)?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(NetError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a record",
            )));
        }
        got += n;
    }
    Ok(true)
}

/// Write all of `data`, waiting at most until `deadline`.
pub fn write_all(sock: &Socket, data: &[u8], deadline: Deadline) -> Result<(), NetError> {
    let mut done = 0;
    while done < data.len() {
        sock.set_write_timeout(socket_timeout(deadline.remaining()?))?;
        match (&*sock).write(&data[done..]) {
            Ok(0) => return Err(NetError::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(NetError::Io(e)),
        }
    }
    Ok(())
}

/// A buffered reader over a connected socket, with the server's two reading styles:
/// `fgets`-like lines and single bytes (stdio `FILE *`), or raw `read()`s.
pub struct SockReader<'a> {
    sock: &'a Socket,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<'a> SockReader<'a> {
    /// A reader with stdio's usual 4 KiB buffer.
    pub fn new(sock: &'a Socket) -> Self {
        SockReader {
            sock,
            buf: vec![0; 4096],
            start: 0,
            end: 0,
        }
    }

    fn fill(&mut self, deadline: Deadline) -> Result<bool, NetError> {
        if self.start < self.end {
            return Ok(true);
        }
        let n = read_some(self.sock, &mut self.buf, deadline)?;
        self.start = 0;
        self.end = n;
        Ok(n > 0)
    }

    /// `fgets` with room for `max` bytes: a line including its `\n`, or `max` bytes.
    /// `Ok(None)` at end of file with nothing read. Read errors count as end of file,
    /// as they do for `fgets`.
    pub fn read_line(
        &mut self,
        max: usize,
        deadline: Deadline,
    ) -> Result<Option<Vec<u8>>, NetError> {
        let mut line = Vec::new();
        while line.len() < max {
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) | Err(NetError::Io(_)) => break,
                Err(NetError::Timeout) => return Err(NetError::Timeout),
            }
            let avail = &self.buf[self.start..self.end];
            let want = max - line.len();
            let take = match avail.iter().take(want).position(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => avail.len().min(want),
            };
            line.extend_from_slice(&avail[..take]);
            self.start += take;
            if line.last() == Some(&b'\n') {
                break;
            }
        }
        Ok(if line.is_empty() { None } else { Some(line) })
    }

    /// `fgetc`: one byte, `Ok(None)` at end of file (or on a read error).
    pub fn getc(&mut self, deadline: Deadline) -> Result<Option<u8>, NetError> {
        match self.fill(deadline) {
            Ok(true) => {
                let b = self.buf[self.start];
                self.start += 1;
                Ok(Some(b))
            }
            Ok(false) | Err(NetError::Io(_)) => Ok(None),
            Err(NetError::Timeout) => Err(NetError::Timeout),
        }
    }

    /// `read()`: buffered bytes first, then one read from the socket.
    pub fn read_raw(&mut self, out: &mut [u8], deadline: Deadline) -> Result<usize, NetError> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.start < self.end {
            let n = (self.end - self.start).min(out.len());
            out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
            self.start += n;
            return Ok(n);
        }
        read_some(self.sock, out, deadline)
    }
}

/// Feeds rustls one TLS record per `read()`, never reading past the end of a record.
///
/// GnuTLS reads records exactly, so after a failed handshake or a fatal alert whatever
/// the peer sent next in clear (e.g. Exim's "554 Security failure") is still on the
/// socket for the client's plain-text reads. rustls would otherwise read ahead.
pub struct RecordReader<'a> {
    pub sock: &'a Socket,
    pub deadline: Deadline,
    /// Bytes of the current record not yet handed to rustls.
    pending: Vec<u8>,
    /// The last error, kept because rustls turns it into a plain io::Error.
    pub last_error: Option<NetError>,
}

impl<'a> RecordReader<'a> {
    pub fn new(sock: &'a Socket, deadline: Deadline) -> Self {
        RecordReader {
            sock,
            deadline,
            pending: Vec::new(),
            last_error: None,
        }
    }

    /// Whether the record read last has been handed over whole. rustls reads in chunks
    /// (4 KiB once the handshake is done), smaller than a full record: the caller must
    /// keep feeding it until this is true, or the rest of the record is lost.
    pub fn is_drained(&self) -> bool {
        self.pending.is_empty()
    }
}

impl Read for RecordReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            let mut header = [0u8; 5];
            let res = read_exact_or_eof(self.sock, &mut header, self.deadline).and_then(|open| {
                if !open {
                    return Ok(None);
                }
                let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
                // Not a TLS record header (e.g. a clear-text reply): hand over just the
                // header, rustls rejects it at once instead of waiting for a "body".
                if !(20..=24).contains(&header[0]) || header[1] != 3 || len > 18432 {
                    return Ok(Some(header.to_vec()));
                }
                let mut record = vec![0u8; 5 + len];
                record[..5].copy_from_slice(&header);
                if !read_exact_or_eof(self.sock, &mut record[5..], self.deadline)? && len > 0 {
                    return Err(NetError::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(Some(record))
            });
            match res {
                Ok(None) => return Ok(0),
                Ok(Some(record)) => self.pending = record,
                Err(e) => {
                    let kind = match &e {
                        NetError::Timeout => io::ErrorKind::TimedOut,
                        NetError::Io(io) => io.kind(),
                    };
                    self.last_error = Some(e);
                    return Err(io::Error::new(kind, "TLS transport read failed"));
                }
            }
        }
        let n = self.pending.len().min(out.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_os_error_suffix() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(strerror(&e), "Connection refused");
    }

    #[test]
    fn tiny_timeouts_never_mean_forever() {
        assert_eq!(
            socket_timeout(Some(Duration::from_nanos(1))),
            Some(Duration::from_micros(1))
        );
        assert_eq!(
            socket_timeout(Some(Duration::ZERO)),
            Some(Duration::from_micros(1))
        );
        assert_eq!(
            socket_timeout(Some(Duration::from_millis(3))),
            Some(Duration::from_millis(3))
        );
        assert_eq!(socket_timeout(None), None);
        assert_eq!(poll_millis(Duration::from_nanos(1)), 1);
        assert_eq!(poll_millis(Duration::from_micros(1500)), 2);
        assert_eq!(poll_millis(Duration::ZERO), 0);
        assert_eq!(poll_millis(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[test]
    fn sub_microsecond_read_deadline_times_out() {
        // The deadline has 0.5 µs left when the read starts: it must time out, not block.
        let (a, _b) = Socket::pair(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        let d = Deadline(Some(Instant::now() + Duration::from_nanos(500)));
        let mut buf = [0u8; 4];
        assert!(matches!(read_some(&a, &mut buf, d), Err(NetError::Timeout)));
        // And a real 20 ms deadline, with nothing to read, too.
        assert!(matches!(
            read_some(
                &a,
                &mut buf,
                Deadline(Some(Instant::now() + Duration::from_millis(20)))
            ),
            Err(NetError::Timeout)
        ));
    }

    #[test]
    fn expired_deadline_times_out() {
        let d = Deadline(Some(Instant::now() - Duration::from_millis(1)));
        assert!(matches!(d.remaining(), Err(NetError::Timeout)));
        assert!(Deadline::never().remaining().unwrap().is_none());
        assert!(Deadline::after_secs(0).remaining().unwrap().is_none());
    }
}
