//! One IMAP client connection: connect (plain or TLS), send commands (literals synchronised
//! unless the server has LITERAL+), read framed replies under limits and a per-reply timeout,
//! and a rawlog file when asked. Peer misbehaviour comes back as a [`ConnError`] naming what
//! the server sent; nothing here panics on peer input.
use imapwire::{parse_response, FrameError, Framer, Limits, Response, WireError};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

mod upgrade;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Where and how to connect.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `tls` is started by STARTTLS after the greeting, not at the connect.
    pub starttls: bool,
    pub timeout: Duration,
    pub limits: Limits,
    /// Directory for `rawlog.*` files, when rawlog is on.
    pub rawlog_dir: Option<PathBuf>,
}

/// What went wrong on a connection.
#[derive(Debug, Error)]
pub enum ConnError {
    #[error("connect to {addr}: {err}")]
    Connect {
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("TLS handshake with {addr}: {err}")]
    Tls {
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("STARTTLS with {addr}: {why}")]
    Starttls { addr: SocketAddr, why: String },
    #[error("COMPRESS with {addr}: {why}")]
    Compress { addr: SocketAddr, why: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("server closed the connection{}", partial.as_ref().map(|p| format!(" in the middle of a reply: {p:?}")).unwrap_or_default())]
    Closed { partial: Option<String> },
    #[error("timeout: no reply within {secs} s{}", last.as_ref().map(|l| format!(" (last line from the server: {l:?})")).unwrap_or_default())]
    Timeout { secs: u64, last: Option<String> },
    #[error("server sent too much: {0}")]
    Frame(#[from] FrameError),
    #[error("server sent a malformed reply: {0}")]
    Malformed(#[from] WireError),
}

impl ConnError {
    /// Whether the session is gone (as opposed to the server having said something wrong).
    pub fn is_lost(&self) -> bool {
        matches!(
            self,
            ConnError::Connect { .. }
                | ConnError::Tls { .. }
                | ConnError::Starttls { .. }
                | ConnError::Compress { .. }
                | ConnError::Io(_)
                | ConnError::Closed { .. }
                | ConnError::Timeout { .. }
        )
    }
}

/// One connection.
pub struct Conn {
    stream: Pin<Box<dyn Stream>>,
    /// The server (for errors).
    addr: SocketAddr,
    /// Bytes read; `buf[start..]` is not consumed yet (moved down only before a read).
    buf: Vec<u8>,
    start: usize,
    framer: Framer,
    timeout: Duration,
    /// The reply timer: one per connection, never earlier than `timeout` after the read it was
    /// last set for. It is moved only when it fires before the current read's deadline (so at
    /// most once per `timeout`), not armed and cancelled for every read.
    timer: Pin<Box<tokio::time::Sleep>>,
    rawlog: Option<std::fs::File>,
    /// The start of the last line read (for timeout messages), reused.
    last_line: Vec<u8>,
    /// Capabilities last announced, upper case, separated by single spaces (one string, not
    /// one allocation per capability).
    pub capabilities: String,
    /// LITERAL+ is among them (looked at for every command sent).
    literal_plus: bool,
    /// The greeting line.
    pub greeting: Option<Response>,
}

fn short(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned();
    s.trim_end_matches(['\r', '\n']).to_string()
}

impl Conn {
    /// Connects and reads the greeting. `id` names the rawlog file.
    pub async fn connect(ep: &Endpoint, id: &str) -> Result<Conn, ConnError> {
        let tcp = tokio::time::timeout(ep.timeout, TcpStream::connect(ep.addr))
            .await
            .map_err(|_| ConnError::Timeout {
                secs: ep.timeout.as_secs(),
                last: None,
            })?
            .map_err(|err| ConnError::Connect { addr: ep.addr, err })?;
        let _ = tcp.set_nodelay(true);
        let stream: Pin<Box<dyn Stream>> = match &ep.tls {
            _ if ep.starttls => Box::pin(tcp),
            None => Box::pin(tcp),
            Some(cfg) => {
                let name =
                    rustls::pki_types::ServerName::try_from(ep.host.clone()).map_err(|e| {
                        ConnError::Tls {
                            addr: ep.addr,
                            err: std::io::Error::other(e),
                        }
                    })?;
                let tls = tokio::time::timeout(
                    ep.timeout,
                    tokio_rustls::TlsConnector::from(cfg.clone()).connect(name, tcp),
                )
                .await
                .map_err(|_| ConnError::Timeout {
                    secs: ep.timeout.as_secs(),
                    last: None,
                })?
                .map_err(|err| ConnError::Tls { addr: ep.addr, err })?;
                Box::pin(tls)
            }
        };
        let rawlog = match &ep.rawlog_dir {
            Some(dir) => Some(std::fs::File::create(dir.join(format!("rawlog.{id}")))?),
            None => None,
        };
        let mut conn = Conn {
            stream,
            addr: ep.addr,
            // the size every read asks for: one allocation per connection
            buf: Vec::with_capacity(16384),
            start: 0,
            framer: Framer::new(ep.limits),
            timeout: ep.timeout,
            timer: Box::pin(tokio::time::sleep(ep.timeout)),
            rawlog,
            last_line: Vec::with_capacity(200),
            capabilities: String::new(),
            literal_plus: false,
            greeting: None,
        };
        let greeting = conn.read().await?;
        if let Some(caps) = caps_of(&greeting) {
            conn.set_caps(caps);
        }
        conn.greeting = Some(greeting);
        if ep.starttls {
            conn.starttls(ep).await?;
        }
        Ok(conn)
    }

    fn set_caps(&mut self, caps: String) {
        self.capabilities = caps;
        self.literal_plus = self.has("LITERAL+");
    }

    /// Whether the server announced LITERAL+.
    pub fn literal_plus(&self) -> bool {
        self.literal_plus
    }

    /// Whether the server announced `cap` (case-insensitive).
    pub fn has(&self, cap: &str) -> bool {
        self.capabilities
            .split(' ')
            .any(|c| c.eq_ignore_ascii_case(cap))
    }

    fn log(&mut self, dir: &str, data: &[u8]) {
        if let Some(f) = self.rawlog.as_mut() {
            let _ = f.write_all(dir.as_bytes()).and_then(|_| f.write_all(data));
            if !data.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ConnError> {
        self.log("C: ", data);
        self.stream.write_all(data).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads one reply (and notes capabilities it carries), parsed straight from the buffer.
    pub async fn read(&mut self) -> Result<Response, ConnError> {
        let (a, b) = self.next_line().await?;
        let r = parse_response(&self.buf[a..b])?;
        if let Some(caps) = caps_of(&r) {
            self.set_caps(caps);
        }
        Ok(r)
    }

    /// Reads one framed reply line with its literals.
    pub async fn read_raw(&mut self) -> Result<Vec<u8>, ConnError> {
        let (a, b) = self.next_line().await?;
        Ok(self.buf[a..b].to_vec())
    }

    /// Frames the next reply; returns where it lies in `buf` (valid until the next read).
    async fn next_line(&mut self) -> Result<(usize, usize), ConnError> {
        if let Some(n) = self.framer.complete_len(&self.buf[self.start..])? {
            return Ok(self.consume(n));
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if self.start > 0 {
                // move the unread rest down once, not once per line
                self.buf.drain(..self.start);
                self.start = 0;
            }
            // read into the buffer's spare room: no zeroed scratch array per read, and no
            // growth while a good part of the first allocation is free
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16384);
            }
            let n = tokio::select! {
                biased;
                r = self.stream.read_buf(&mut self.buf) => r?,
                () = self.timer.as_mut() => {
                    if tokio::time::Instant::now() < deadline {
                        // set for an earlier read: on to this one's deadline
                        self.timer.as_mut().reset(deadline);
                        continue;
                    }
                    let last = if self.buf.is_empty() {
                        (!self.last_line.is_empty()).then(|| short(&self.last_line))
                    } else {
                        Some(short(&self.buf))
                    };
                    return Err(ConnError::Timeout {
                        secs: self.timeout.as_secs(),
                        last,
                    });
                }
            };
            if n == 0 {
                let partial = (!self.buf.is_empty()).then(|| short(&self.buf));
                return Err(ConnError::Closed { partial });
            }
            if let Some(n) = self.framer.complete_len(&self.buf)? {
                return Ok(self.consume(n));
            }
        }
    }

    /// Takes the next `n` unread bytes as a line.
    fn consume(&mut self, n: usize) -> (usize, usize) {
        let (a, b) = (self.start, self.start + n);
        self.start = b;
        if self.rawlog.is_some() {
            let line = self.buf[a..b].to_vec();
            self.log("S: ", &line);
        }
        self.last_line.clear();
        self.last_line
            .extend_from_slice(&self.buf[a..b.min(a + 200)]);
        (a, b)
    }

    /// Sends `tag SP command CRLF`. `command` may hold literals in wire form (`{N}` CRLF data);
    /// with LITERAL+ they are sent as `{N+}` at once, otherwise each waits for the server's
    /// continuation. Replies read while waiting are returned, in order; when the server answers
    /// the tag instead of a continuation, sending stops there.
    pub async fn send_command(
        &mut self,
        tag: &str,
        command: &[u8],
    ) -> Result<Vec<Response>, ConnError> {
        let nonsync = self.literal_plus;
        let mut got = Vec::new();
        let mut out = Vec::with_capacity(command.len() + tag.len() + 3);
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        let mut rest = command;
        loop {
            match split_literal(rest) {
                None => {
                    out.extend_from_slice(rest);
                    out.extend_from_slice(b"\r\n");
                    self.write(&out).await?;
                    return Ok(got);
                }
                Some((before, size, data_start)) => {
                    let head = &before[..before.len() - 1]; // without '}'
                    out.extend_from_slice(head);
                    if nonsync {
                        out.extend_from_slice(b"+}\r\n");
                    } else {
                        out.extend_from_slice(b"}\r\n");
                        self.write(&out).await?;
                        out.clear();
                        loop {
                            let r = self.read().await?;
                            match r {
                                Response::Continuation(_) => break,
                                Response::Tagged { tag: ref t, .. } if t == tag => {
                                    got.push(r);
                                    return Ok(got);
                                }
                                other => got.push(other),
                            }
                        }
                    }
                    let end = data_start + size;
                    out.extend_from_slice(&rest[data_start..end]);
                    rest = &rest[end..];
                }
            }
        }
    }
}

/// Appends `tag SP command CRLF` to `out` with every literal of `command` (wire form,
/// `{N}` CRLF data) announced as non-synchronising `{N+}`: for servers with LITERAL+, so a
/// command with literals can be pipelined in one write.
pub fn encode_nonsync(tag: &str, command: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    let mut rest = command;
    while let Some((before, size, data_start)) = split_literal(rest) {
        out.extend_from_slice(&before[..before.len() - 1]);
        out.extend_from_slice(b"+}\r\n");
        let end = data_start + size;
        out.extend_from_slice(&rest[data_start..end]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b"\r\n");
}

/// Finds the first literal announcement `{N}` CRLF in a command: returns the text up to and
/// including `}`, the size, and where the data starts.
fn split_literal(cmd: &[u8]) -> Option<(&[u8], usize, usize)> {
    let mut from = 0;
    while let Some(off) = cmd[from..].windows(3).position(|w| w == b"}\r\n") {
        let close = from + off;
        if let Some(open) = cmd[..close].iter().rposition(|&c| c == b'{') {
            let digits = &cmd[open + 1..close];
            if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
                if let Some(size) = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<usize>().ok())
                {
                    let start = close + 3;
                    if start + size <= cmd.len() {
                        return Some((&cmd[..=close], size, start));
                    }
                }
            }
        }
        from = close + 1;
    }
    None
}

/// The capability list carried by a reply (`* CAPABILITY ...` or a `[CAPABILITY ...]` code),
/// upper case, separated by single spaces.
pub fn caps_of(r: &Response) -> Option<String> {
    let items: &[imapwire::Value] = match r {
        Response::Untagged(v) if v.first().is_some_and(|a| a.is_atom("CAPABILITY")) => &v[1..],
        _ => match r.status_code() {
            Some((_, Some(code))) if code.first().is_some_and(|a| a.is_atom("CAPABILITY")) => {
                &code[1..]
            }
            _ => return None,
        },
    };
    let mut out = String::with_capacity(items.len() * 12);
    for b in items.iter().filter_map(|v| v.bytes()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&String::from_utf8_lossy(b));
    }
    out.make_ascii_uppercase();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_split() {
        let cmd = b"APPEND box {3}\r\nabc x {2}\r\nde";
        let (before, size, start) = split_literal(cmd).unwrap();
        assert_eq!(
            (before, size, &cmd[start..start + size]),
            (&b"APPEND box {3}"[..], 3, &b"abc"[..])
        );
        assert!(split_literal(b"LOGIN a b").is_none());
        assert!(split_literal(b"X {a}\r\n").is_none());
        let (b, s, _) = split_literal(b"APPEND b ~{1}\r\nz").unwrap();
        assert_eq!((b, s), (&b"APPEND b ~{1}"[..], 1));
        let mut out = Vec::new();
        encode_nonsync("7", b"APPEND box {3}\r\nabc", &mut out);
        encode_nonsync("8", b"NOOP", &mut out);
        assert_eq!(out, b"7 APPEND box {3+}\r\nabc\r\n8 NOOP\r\n");
    }

    #[test]
    fn capabilities_from_code_or_untagged() {
        let r = parse_response(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n").unwrap();
        assert_eq!(caps_of(&r).unwrap(), "IMAP4REV1 LITERAL+");
        let r = parse_response(b"* CAPABILITY IMAP4rev1 id\r\n").unwrap();
        assert_eq!(caps_of(&r).unwrap(), "IMAP4REV1 ID");
        assert!(caps_of(&parse_response(b"* 1 EXISTS\r\n").unwrap()).is_none());
    }
}
