//! One connection's byte transport: the TCP stream, TLS on it (implicit, or switched to after
//! STARTTLS/STLS), and raw DEFLATE on top of either (RFC 4978's COMPRESS, switched to after the
//! handler's OK). The connection code reads and writes plain protocol bytes through it and
//! never sees TLS records or compressed bytes, so the transcript holds the protocol lines.
//!
//! Inflating is bounded: one read hands out at most [`MAX_INFLATE`] bytes and keeps the rest
//! of the compressed input for the next, so a small compressed burst (a "zip bomb") cannot
//! grow the input buffer past what the framer's limits would refuse anyway.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Plain bytes one read inflates at most.
pub const MAX_INFLATE: usize = 64 * 1024;

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

/// Raw DEFLATE (no zlib header, RFC 1951) both ways, pure: no I/O.
pub struct Deflate {
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input not inflated yet.
    pending: Vec<u8>,
    /// The peer's stream ended (a final block): what follows is an error.
    ended: bool,
    /// The last inflate filled its slice, so the inflater may hold more output.
    held: bool,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::default(), false),
            pending: Vec::new(),
            ended: false,
            held: false,
        }
    }
}

impl Deflate {
    /// Take compressed input.
    pub fn push(&mut self, compressed: &[u8]) {
        self.pending.extend_from_slice(compressed);
    }

    /// Whether input is waiting to be inflated (compressed bytes, or output the inflater
    /// holds because the last call filled its slice).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.held
    }

    /// Inflate what is pending onto `out`, at most `max` bytes; the number of bytes added.
    /// Input that is not DEFLATE (or comes after the stream's final block) is an error.
    pub fn inflate(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let start = out.len();
        let mut chunk = [0u8; 16 * 1024];
        while self.has_pending() && out.len() - start < max {
            if self.ended {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compressed data after the end of the DEFLATE stream",
                ));
            }
            let room = (max - (out.len() - start)).min(chunk.len());
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(&self.pending, &mut chunk[..room], FlushDecompress::Sync)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("inflate: {e}")))?;
            let used = (self.inflate.total_in() - before_in) as usize;
            let made = (self.inflate.total_out() - before_out) as usize;
            out.extend_from_slice(&chunk[..made]);
            self.pending.drain(..used);
            // A full slice may leave output inside the inflater: ask again even without input.
            self.held = made == room;
            if status == Status::StreamEnd {
                self.ended = true;
                self.held = false;
            }
            if used == 0 && made == 0 {
                break; // an incomplete block: wait for more input
            }
        }
        Ok(out.len() - start)
    }

    /// Compress `plain` onto `out`, ending with a sync flush so the peer can decode every
    /// byte sent so far.
    pub fn deflate(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        let mut input = plain;
        loop {
            out.reserve(input.len() / 2 + 64);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            // Done once all input is taken and the flush left spare room in `out`.
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(a: &mut Deflate, b: &mut Deflate, plain: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        a.deflate(plain, &mut wire).unwrap();
        b.push(&wire);
        let mut got = Vec::new();
        while b.inflate(&mut got, MAX_INFLATE).unwrap() > 0 {}
        got
    }

    #[test]
    fn each_write_decodes_on_its_own_and_the_context_carries_over() {
        let (mut a, mut b) = (Deflate::default(), Deflate::default());
        assert_eq!(round_trip(&mut a, &mut b, b"a1 NOOP\r\n"), b"a1 NOOP\r\n");
        assert_eq!(round_trip(&mut a, &mut b, b"a2 NOOP\r\n"), b"a2 NOOP\r\n");
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let got = round_trip(&mut a, &mut b, &big);
        assert!(got == big, "{} bytes back of {}", got.len(), big.len());
        assert_eq!(round_trip(&mut a, &mut b, b""), b"");
    }

    #[test]
    fn input_split_anywhere_inflates_to_the_same_bytes() {
        let mut a = Deflate::default();
        let mut wire = Vec::new();
        a.deflate(b"x LOGIN u p\r\ny SELECT INBOX\r\n", &mut wire)
            .unwrap();
        for cut in 0..wire.len() {
            let mut b = Deflate::default();
            let mut got = Vec::new();
            b.push(&wire[..cut]);
            b.inflate(&mut got, MAX_INFLATE).unwrap();
            b.push(&wire[cut..]);
            b.inflate(&mut got, MAX_INFLATE).unwrap();
            assert_eq!(got, b"x LOGIN u p\r\ny SELECT INBOX\r\n", "cut at {cut}");
        }
    }

    #[test]
    fn a_bomb_is_inflated_a_slice_at_a_time() {
        let mut a = Deflate::default();
        let mut wire = Vec::new();
        a.deflate(&vec![b'A'; 10 << 20], &mut wire).unwrap();
        assert!(wire.len() < 64 * 1024, "{}", wire.len());
        let mut b = Deflate::default();
        b.push(&wire);
        let mut got = Vec::new();
        assert_eq!(b.inflate(&mut got, MAX_INFLATE).unwrap(), MAX_INFLATE);
        assert!(b.has_pending());
        assert!(got.iter().all(|c| *c == b'A'));
        let mut total = got.len();
        loop {
            got.clear();
            match b.inflate(&mut got, MAX_INFLATE).unwrap() {
                0 => break,
                n => total += n,
            }
        }
        assert_eq!(total, 10 << 20);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut b = Deflate::default();
        b.push(b"\xff\xff\xff\xff this is not deflate");
        assert!(b.inflate(&mut Vec::new(), MAX_INFLATE).is_err());
    }
}
