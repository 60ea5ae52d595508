//! Raw DEFLATE (RFC 1951, no zlib header) both ways, as RFC 4978's COMPRESS=DEFLATE puts on
//! an IMAP connection: pure (no I/O), shared by fakeserver's server side and imaptest's client
//! side, so both ends use the same machinery.
//!
//! Inflating is bounded: one call hands out at most the `max` bytes asked for (the callers
//! use [`MAX_INFLATE`]) and keeps the rest of the compressed input for the next, so a small
//! compressed burst (a "zip bomb") cannot grow the reader's buffer past what the framer's
//! limits would refuse anyway. Input that is not DEFLATE is an error, never a panic.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;

/// Plain bytes one read inflates at most.
pub const MAX_INFLATE: usize = 64 * 1024;

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
