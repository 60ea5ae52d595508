//! A DEFLATE layer over any byte stream (RFC 4978's COMPRESS=DEFLATE), as an
//! `AsyncRead + AsyncWrite` so the connection reads and writes plain IMAP through it. The
//! compressing and bounded inflating are [`imapwire::deflate`]'s (the same code fakeserver's
//! server side uses); each write ends with a sync flush so the server can decode every
//! command as soon as it arrives. Errors in the server's stream name the server.
use imapwire::deflate::{Deflate, MAX_INFLATE};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The compressed stream over `S`.
pub struct Compressed<S> {
    inner: S,
    deflate: Box<Deflate>,
    /// Inflated bytes not handed out yet (`plain[at..]`).
    plain: Vec<u8>,
    at: usize,
    /// Compressed bytes not written to `inner` yet (`out[sent..]`).
    out: Vec<u8>,
    sent: usize,
    /// Room for compressed input (allocated once, not zeroed per read).
    raw: Box<[u8]>,
    /// The server, for errors.
    peer: String,
}

impl<S> Compressed<S> {
    /// Wraps `inner`; `already` is compressed input read before the switch.
    pub fn new(inner: S, already: &[u8], peer: String) -> Compressed<S> {
        let mut deflate = Box::<Deflate>::default();
        deflate.push(already);
        Compressed {
            inner,
            deflate,
            plain: Vec::new(),
            at: 0,
            out: Vec::new(),
            sent: 0,
            raw: vec![0u8; 16 * 1024].into_boxed_slice(),
            peer,
        }
    }

    fn bad(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("{}: the server's DEFLATE stream: {e}", self.peer),
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Compressed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            if me.at < me.plain.len() {
                let n = (me.plain.len() - me.at).min(buf.remaining());
                buf.put_slice(&me.plain[me.at..me.at + n]);
                me.at += n;
                return Poll::Ready(Ok(()));
            }
            me.plain.clear();
            me.at = 0;
            if me.deflate.has_pending() {
                match me.deflate.inflate(&mut me.plain, MAX_INFLATE) {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => return Poll::Ready(Err(me.bad(e))),
                }
            }
            let mut rb = ReadBuf::new(&mut me.raw);
            ready!(Pin::new(&mut me.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                if me.deflate.has_pending() {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection ended inside a DEFLATE block",
                    );
                    return Poll::Ready(Err(me.bad(e)));
                }
                return Poll::Ready(Ok(())); // the end of the stream
            }
            me.deflate.push(&me.raw[..n]);
        }
    }
}

impl<S: AsyncWrite + Unpin> Compressed<S> {
    /// Writes what is compressed and not sent yet.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Compressed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.poll_send(cx))?;
        me.deflate.deflate(data, &mut me.out)?;
        // the bytes are taken; they go out now if the socket takes them, else at the flush
        if let Poll::Ready(Err(e)) = me.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_send(cx))?;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_send(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn both_directions_through_a_pipe_and_a_compressed_head_start() {
        let (client, mut server) = tokio::io::duplex(64);
        // the server's first compressed bytes arrived with the OK line, before the switch
        let mut srv = Deflate::default();
        let mut head = Vec::new();
        srv.deflate(b"* OK first\r\n", &mut head).unwrap();
        let mut c = Compressed::new(client, &head, "test".into());
        let mut line = [0u8; 12];
        c.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"* OK first\r\n");
        // a big write through a small pipe: the server reads while we write
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let want = big.clone();
        let reader = tokio::spawn(async move {
            let mut inflater = Deflate::default();
            let mut got = Vec::new();
            let mut raw = [0u8; 4096];
            while got.len() < want.len() {
                let n = server.read(&mut raw).await.unwrap();
                assert!(n > 0);
                inflater.push(&raw[..n]);
                while inflater.inflate(&mut got, MAX_INFLATE).unwrap() > 0 {}
            }
            assert!(got == want);
            let mut wire = Vec::new();
            srv.deflate(b"a OK done\r\n", &mut wire).unwrap();
            server.write_all(&wire).await.unwrap();
            server
        });
        c.write_all(&big).await.unwrap();
        c.flush().await.unwrap();
        let _server = reader.await.unwrap();
        let mut line = [0u8; 11];
        c.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"a OK done\r\n");
    }

    #[tokio::test]
    async fn garbage_from_the_server_is_an_error_naming_it() {
        let (client, mut server) = tokio::io::duplex(64);
        server
            .write_all(b"\xff\xff\xff\xff not deflate")
            .await
            .unwrap();
        let mut c = Compressed::new(client, b"", "127.0.0.1:143".into());
        let e = c.read(&mut [0u8; 10]).await.unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:143") && e.contains("DEFLATE"), "{e}");
    }
}
