//! Framing of client input, pure: lines (CRLF or bare LF), dot-terminated blocks with
//! dot-unstuffing, exact-length byte runs, with limits. The connection feeds it its read
//! buffer; the framer says what unit is complete and how much it consumed.

use crate::handler::ReadMode;

/// A complete unit of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    Line(Vec<u8>),
    Block(Vec<u8>),
    Bytes(Vec<u8>),
    /// A line longer than the limit: the first `kept` bytes (up to the record cap) and the
    /// full length. The line is not given to the handler.
    LineTooLong {
        kept: Vec<u8>,
        len: u64,
    },
    /// A block over `max_block`: it was read to its end and discarded; `len` bytes.
    BlockTooLong {
        len: u64,
    },
}

/// Bytes of an over-long line kept for the record.
pub const RECORD_CAP: usize = 1 << 20;

#[derive(Debug)]
pub struct Framer {
    pub max_line: usize,
    pub max_block: usize,
    block: Vec<u8>,
    block_len: u64,
    long: Option<(Vec<u8>, u64)>,
    /// In a dot-terminated block, part of the current line was already taken (a line
    /// longer than [`PARTIAL`]): its start was unstuffed and it cannot be the final `.`.
    mid_line: bool,
}

/// A data line without its end yet is moved out of the read buffer once this long, so a
/// peer that never sends a line end cannot make the buffer grow without bound.
pub const PARTIAL: usize = 64 * 1024;

impl Framer {
    pub fn new(max_line: usize, max_block: usize) -> Self {
        Framer {
            max_line,
            max_block,
            block: Vec::new(),
            block_len: 0,
            long: None,
            mid_line: false,
        }
    }

    /// Bytes of the block being read so far (for the `after_bytes` fault).
    pub fn pending_block(&self) -> u64 {
        self.block_len
    }

    /// What was taken in but never completed a unit (a block cut by the peer, the start
    /// of an over-long line), for the record.
    pub fn take_pending(&mut self) -> Vec<u8> {
        self.block_len = 0;
        self.mid_line = false;
        match self.long.take() {
            Some((kept, _)) => kept,
            None => std::mem::take(&mut self.block),
        }
    }

    /// The next complete unit of `buf[*pos..]` in `mode`, advancing `*pos` past what it used.
    /// `None`: more input is needed (partial input is kept inside the framer or left in
    /// `buf` at `*pos`).
    pub fn next(&mut self, buf: &[u8], pos: &mut usize, mode: ReadMode) -> Option<Unit> {
        match mode {
            ReadMode::Line => self.line(buf, pos),
            ReadMode::DotTerminated => self.dot_block(buf, pos),
            ReadMode::Exact(n) => self.exact(buf, pos, n),
        }
    }

    fn line(&mut self, buf: &[u8], pos: &mut usize) -> Option<Unit> {
        let rest = &buf[*pos..];
        match memchr(b'\n', rest) {
            Some(i) => {
                let line = strip_cr(&rest[..i]);
                *pos += i + 1;
                if let Some((mut kept, len)) = self.long.take() {
                    let room = RECORD_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&line[..line.len().min(room)]);
                    return Some(Unit::LineTooLong {
                        kept,
                        len: len + line.len() as u64,
                    });
                }
                if line.len() > self.max_line {
                    let kept = line[..line.len().min(RECORD_CAP)].to_vec();
                    return Some(Unit::LineTooLong {
                        kept,
                        len: line.len() as u64,
                    });
                }
                Some(Unit::Line(line.to_vec()))
            }
            None => {
                if rest.len() > self.max_line || self.long.is_some() {
                    // Keep reading the over-long line without buffering it all.
                    let (kept, len) = self.long.get_or_insert_with(|| (Vec::new(), 0));
                    let room = RECORD_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&rest[..rest.len().min(room)]);
                    *len += rest.len() as u64;
                    *pos = buf.len();
                }
                None
            }
        }
    }

    fn dot_block(&mut self, buf: &[u8], pos: &mut usize) -> Option<Unit> {
        loop {
            let rest = &buf[*pos..];
            let Some(i) = memchr(b'\n', rest) else {
                if rest.len() > PARTIAL {
                    // Keep a final CR back: it may be half of the CRLF.
                    let take = if rest.ends_with(b"\r") {
                        rest.len() - 1
                    } else {
                        rest.len()
                    };
                    let mut part = &rest[..take];
                    if !self.mid_line {
                        part = part.strip_prefix(b".").unwrap_or(part);
                    }
                    self.append(part, false);
                    self.mid_line = true;
                    *pos += take;
                }
                return None;
            };
            let line = strip_cr(&rest[..i]);
            *pos += i + 1;
            if std::mem::take(&mut self.mid_line) {
                self.append(line, true);
                continue;
            }
            if line == b"." {
                let len = self.block_len;
                self.block_len = 0;
                if len as usize > self.max_block {
                    self.block.clear();
                    return Some(Unit::BlockTooLong { len });
                }
                return Some(Unit::Block(std::mem::take(&mut self.block)));
            }
            self.append(line.strip_prefix(b".").unwrap_or(line), true);
        }
    }

    fn append(&mut self, bytes: &[u8], line_end: bool) {
        self.block_len += bytes.len() as u64 + if line_end { 2 } else { 0 };
        if self.block_len as usize <= self.max_block {
            self.block.extend_from_slice(bytes);
            if line_end {
                self.block.extend_from_slice(b"\r\n");
            }
        } else {
            self.block.clear();
        }
    }

    fn exact(&mut self, buf: &[u8], pos: &mut usize, n: u64) -> Option<Unit> {
        let need = n.saturating_sub(self.block_len);
        let rest = &buf[*pos..];
        let take = (rest.len() as u64).min(need) as usize;
        if self.block_len + (take as u64) <= self.max_block as u64 {
            self.block.extend_from_slice(&rest[..take]);
        }
        self.block_len += take as u64;
        *pos += take;
        if self.block_len < n {
            return None;
        }
        self.block_len = 0;
        if n > self.max_block as u64 {
            self.block.clear();
            return Some(Unit::BlockTooLong { len: n });
        }
        Some(Unit::Bytes(std::mem::take(&mut self.block)))
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|x| *x == b)
}

/// Reply bytes for one line: bare `\n` becomes `\r\n` (when `normalize`), CRLF appended.
pub fn encode_line(out: &mut Vec<u8>, line: &[u8], normalize: bool) {
    if normalize && line.contains(&b'\n') {
        let mut prev = 0u8;
        for &b in line {
            if b == b'\n' && prev != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            prev = b;
        }
    } else {
        out.extend_from_slice(line);
    }
    if !line.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut Framer, input: &[u8], modes: &[ReadMode]) -> Vec<Unit> {
        let mut pos = 0;
        let mut out = Vec::new();
        for m in modes {
            if let Some(u) = f.next(input, &mut pos, *m) {
                out.push(u);
            }
        }
        out
    }

    #[test]
    fn pipelined_lines_crlf_and_lf() {
        let mut f = Framer::new(100, 1000);
        let got = all(
            &mut f,
            b"EHLO a\r\nMAIL FROM:<>\nRCPT",
            &[ReadMode::Line; 3],
        );
        assert_eq!(
            got,
            vec![
                Unit::Line(b"EHLO a".to_vec()),
                Unit::Line(b"MAIL FROM:<>".to_vec())
            ]
        );
    }

    #[test]
    fn dot_block_unstuffs_and_spans_reads() {
        let mut f = Framer::new(100, 1000);
        let mut pos = 0;
        let part1 = b"a\r\n..b\r\n.c";
        assert_eq!(f.next(part1, &mut pos, ReadMode::DotTerminated), None);
        assert_eq!(pos, 8);
        let part2 = b".c\r\n.\r\nQUIT\r\n";
        let mut pos = 0;
        assert_eq!(
            f.next(part2, &mut pos, ReadMode::DotTerminated),
            Some(Unit::Block(b"a\r\n.b\r\nc\r\n".to_vec()))
        );
        assert_eq!(
            f.next(part2, &mut pos, ReadMode::Line),
            Some(Unit::Line(b"QUIT".to_vec()))
        );
    }

    #[test]
    fn exact_bytes_binary_and_split() {
        let mut f = Framer::new(10, 1000);
        let mut pos = 0;
        assert_eq!(f.next(b"ab\0", &mut pos, ReadMode::Exact(5)), None);
        let mut pos = 0;
        assert_eq!(
            f.next(b"\n\xffQUIT\r\n", &mut pos, ReadMode::Exact(5)),
            Some(Unit::Bytes(b"ab\0\n\xff".to_vec()))
        );
        assert_eq!(
            f.next(b"\n\xffQUIT\r\n", &mut pos, ReadMode::Line),
            Some(Unit::Line(b"QUIT".to_vec()))
        );
        let mut pos = 0;
        assert_eq!(
            f.next(b"", &mut pos, ReadMode::Exact(0)),
            Some(Unit::Bytes(Vec::new()))
        );
    }

    #[test]
    fn long_lines_are_reported_with_their_length() {
        let mut f = Framer::new(4, 1000);
        let mut pos = 0;
        assert_eq!(f.next(b"abcdefgh", &mut pos, ReadMode::Line), None);
        assert_eq!(pos, 8);
        let mut pos = 0;
        assert_eq!(
            f.next(b"ij\r\nok\r\n", &mut pos, ReadMode::Line),
            Some(Unit::LineTooLong {
                kept: b"abcdefghij".to_vec(),
                len: 10
            })
        );
        assert_eq!(
            f.next(b"ij\r\nok\r\n", &mut pos, ReadMode::Line),
            Some(Unit::Line(b"ok".to_vec()))
        );
    }

    #[test]
    fn oversized_blocks_are_drained_not_kept() {
        let mut f = Framer::new(100, 5);
        let mut pos = 0;
        assert_eq!(
            f.next(b"0123456789\r\n.\r\n", &mut pos, ReadMode::DotTerminated),
            Some(Unit::BlockTooLong { len: 12 })
        );
    }

    #[test]
    fn endless_data_line_does_not_stay_in_the_buffer() {
        let mut f = Framer::new(100, 1 << 30);
        let mut big = vec![b'.'];
        big.extend(std::iter::repeat_n(b'x', PARTIAL + 10));
        big.push(b'\r');
        let mut pos = 0;
        assert_eq!(f.next(&big, &mut pos, ReadMode::DotTerminated), None);
        assert_eq!(pos, big.len() - 1, "all but the CR moved out");
        let mut tail = b"\r".to_vec();
        tail.extend_from_slice(b"\n.\r\n");
        let mut pos = 0;
        let Some(Unit::Block(b)) = f.next(&tail, &mut pos, ReadMode::DotTerminated) else {
            panic!()
        };
        assert_eq!(b.len(), PARTIAL + 10 + 2);
        assert!(b.starts_with(b"xxx") && b.ends_with(b"x\r\n"));
    }

    #[test]
    fn encode_normalises_bare_lf() {
        let mut out = Vec::new();
        encode_line(&mut out, b"250-a\n250 b", true);
        assert_eq!(out, b"250-a\r\n250 b\r\n");
        let mut out = Vec::new();
        encode_line(&mut out, b"x\ny", false);
        assert_eq!(out, b"x\ny\r\n");
    }
}
