//! A line-based connection for POP3 and LMTP: connect under a timeout (plain, or TLS from the
//! start, or TLS after POP3's STLS: [`LineConn::stls`]), read CRLF lines (at most [`MAX_LINE`] bytes each) under a per-line timeout, write,
//! and a rawlog file when asked. Errors are plain text naming the peer; nothing here panics on
//! peer input.
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// TLS from the start: the client configuration and the server's name.
pub type TlsTo = (Arc<rustls::ClientConfig>, String);

/// The longest line accepted from a peer.
pub const MAX_LINE: usize = 64 * 1024;

/// One connection.
pub struct LineConn {
    stream: Pin<Box<dyn Stream>>,
    buf: Vec<u8>,
    timeout: Duration,
    peer: String,
    rawlog: Option<std::fs::File>,
}

fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)])
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

impl LineConn {
    /// Connects to `addr`; `what` names the protocol in errors (e.g. `POP3`).
    pub async fn connect(
        addr: SocketAddr,
        what: &str,
        timeout: Duration,
        rawlog: Option<&Path>,
        tls: Option<&TlsTo>,
    ) -> Result<LineConn, String> {
        let peer = format!("{what} {addr}");
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("{peer}: connect timed out after {} s", timeout.as_secs()))?
            .map_err(|e| format!("{peer}: connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream: Pin<Box<dyn Stream>> = match tls {
            None => Box::pin(tcp),
            Some((cfg, host)) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("{peer}: TLS: server name {host:?}: {e}"))?;
                let s = tokio::time::timeout(
                    timeout,
                    tokio_rustls::TlsConnector::from(cfg.clone()).connect(name, tcp),
                )
                .await
                .map_err(|_| format!("{peer}: TLS handshake timed out"))?
                .map_err(|e| format!("{peer}: TLS handshake: {e}"))?;
                Box::pin(s)
            }
        };
        let rawlog = match rawlog {
            Some(p) => {
                Some(std::fs::File::create(p).map_err(|e| format!("rawlog {}: {e}", p.display()))?)
            }
            None => None,
        };
        Ok(LineConn {
            stream,
            buf: Vec::with_capacity(4096),
            timeout,
            peer,
            rawlog,
        })
    }

    /// POP3's STLS (RFC 2595): the command, its `+OK`, then the TLS handshake. A `-ERR`, or
    /// anything the server sends between its `+OK` and the handshake, is an error.
    pub async fn stls(&mut self, tls: &TlsTo) -> Result<(), String> {
        self.send(b"STLS\r\n").await?;
        let line = self.line().await?;
        if !line.starts_with(b"+OK") {
            return Err(format!(
                "{}: STLS refused: {}",
                self.peer,
                String::from_utf8_lossy(&line)
            ));
        }
        if !self.buf.is_empty() {
            return Err(format!(
                "{}: STLS: the server sent data after its +OK, before the TLS handshake: {:?}",
                self.peer,
                shown(&self.buf)
            ));
        }
        let plain = std::mem::replace(&mut self.stream, Box::pin(tokio::io::duplex(1).0));
        let s = crate::client::tls::handshake(&tls.0, &tls.1, plain, self.timeout)
            .await
            .map_err(|e| format!("{}: TLS handshake: {e}", self.peer))?;
        self.stream = Box::pin(s);
        Ok(())
    }

    /// The peer, for messages.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    fn log(&mut self, dir: &str, data: &[u8]) {
        if let Some(f) = self.rawlog.as_mut() {
            let _ = f.write_all(dir.as_bytes()).and_then(|_| f.write_all(data));
            if !data.ends_with(b"\n") {
                let _ = f.write_all(b"\n");
            }
        }
    }

    /// Writes bytes as they are.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), String> {
        if data.len() < 1024 {
            self.log("C: ", data);
        } else {
            self.log("C: ", format!("<{} bytes>", data.len()).as_bytes());
        }
        self.stream
            .write_all(data)
            .await
            .map_err(|e| format!("{}: write: {e}", self.peer))
    }

    /// Reads one line, without its line end.
    pub async fn line(&mut self) -> Result<Vec<u8>, String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                let mut line: Vec<u8> = self.buf.drain(..end).collect();
                self.log("S: ", &line);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.buf.len();
            if self.buf.len() > MAX_LINE {
                return Err(format!(
                    "{}: a line longer than {MAX_LINE} bytes: {:?}",
                    self.peer,
                    shown(&self.buf)
                ));
            }
            self.buf.reserve(8192);
            let n = match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
            {
                Err(_) => {
                    return Err(format!(
                        "{}: timeout: no reply within {} s",
                        self.peer,
                        self.timeout.as_secs()
                    ))
                }
                Ok(Err(e)) => return Err(format!("{}: read: {e}", self.peer)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(if self.buf.is_empty() {
                    format!("{}: server closed the connection", self.peer)
                } else {
                    format!(
                        "{}: server closed the connection in the middle of a line: {:?}",
                        self.peer,
                        shown(&self.buf)
                    )
                });
            }
        }
    }
}

/// Dot-stuffs a message for DATA (LMTP) and ends it with `CRLF . CRLF`.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 8);
    let mut at_start = true;
    for (i, &b) in data.iter().enumerate() {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Undoes dot-stuffing of one line of a POP3 multi-line reply; `None` for the final `.`.
pub fn unstuff(line: &[u8]) -> Option<&[u8]> {
    match line {
        b"." => None,
        [b'.', rest @ ..] => Some(rest),
        l => Some(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b"a\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(unstuff(b"."), None);
        assert_eq!(unstuff(b"..x"), Some(&b".x"[..]));
        assert_eq!(unstuff(b"1 abc"), Some(&b"1 abc"[..]));
    }
}
