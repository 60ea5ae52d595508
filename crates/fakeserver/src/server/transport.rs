//! One connection's byte transport: the TCP stream, TLS on it (implicit, or switched to after
//! STARTTLS/STLS), and raw DEFLATE on top of either (RFC 4978's COMPRESS, switched to after the
//! handler's OK). The connection code reads and writes plain protocol bytes through it and
//! never sees TLS records or compressed bytes, so the transcript holds the protocol lines.
//! The DEFLATE machinery itself ([`Deflate`], bounded inflating) is imapwire's, shared with
//! imaptest's client side.

pub use imapwire::deflate::{Deflate, MAX_INFLATE};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Plain or TLS; `Gone` only transiently during the STARTTLS switch.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Gone,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// The stream and, once COMPRESS is on, the DEFLATE layer over it.
pub struct Transport {
    pub stream: Stream,
    deflate: Option<Box<Deflate>>,
    raw: Vec<u8>,
    out: Vec<u8>,
}

impl Transport {
    pub fn new(tcp: TcpStream) -> Transport {
        Transport {
            stream: Stream::Plain(tcp),
            deflate: None,
            raw: Vec::new(),
            out: Vec::new(),
        }
    }

    /// From now on, input is inflated and output deflated. `already` is input read before the
    /// switch that the client sent after the command (so already compressed).
    pub fn start_compress(&mut self, already: &[u8]) {
        let mut d = Box::<Deflate>::default();
        d.push(already);
        self.deflate = Some(d);
    }

    /// Read plain bytes onto `buf`: `Ok(0)` only at the end of the stream. Cancel-safe (the
    /// only await is the stream's own read).
    pub async fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let Some(d) = self.deflate.as_mut() else {
            return self.stream.read_buf(buf).await;
        };
        loop {
            if d.has_pending() {
                let n = d.inflate(buf, MAX_INFLATE)?;
                if n > 0 {
                    return Ok(n);
                }
            }
            self.raw.clear();
            self.raw.reserve(16 * 1024);
            if self.stream.read_buf(&mut self.raw).await? == 0 {
                if d.has_pending() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ended inside a DEFLATE block",
                    ));
                }
                return Ok(0);
            }
            d.push(&self.raw);
        }
    }

    /// Write plain bytes (compressed first when COMPRESS is on) and flush.
    pub async fn write_all(&mut self, plain: &[u8]) -> io::Result<()> {
        match self.deflate.as_mut() {
            None => self.stream.write_all(plain).await?,
            Some(d) => {
                self.out.clear();
                d.deflate(plain, &mut self.out)?;
                self.stream.write_all(&self.out).await?;
            }
        }
        self.stream.flush().await
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }
}
