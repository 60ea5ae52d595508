//! [`Bytes`]: the byte string inside an atom, quoted string or literal of the value tree.
//!
//! Most atoms a client reads are short (numbers, `FETCH`, `UID`, `\Seen`, the words of a
//! status text), so up to 16 bytes live inline and cost no allocation; longer ones go on the
//! heap. It is no bigger than a `Vec<u8>`, and reads like a `[u8]` (it derefs to one).
use smallvec::SmallVec;
use std::fmt;
use std::ops::Deref;

/// An owned byte string, short ones stored inline.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(SmallVec<[u8; 16]>);

impl Bytes {
    /// A copy of `b`.
    pub fn copy_from(b: &[u8]) -> Bytes {
        Bytes(SmallVec::from_slice(b))
    }
    /// Appends one byte.
    pub fn push(&mut self, b: u8) {
        self.0.push(b);
    }
    /// Appends bytes.
    pub fn extend_from_slice(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    /// The bytes as a `Vec`.
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into_vec()
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    /// Like a byte-string literal: `b"\\Seen"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes(SmallVec::from_vec(v))
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Bytes {
        Bytes::copy_from(b)
    }
}

impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(b: &[u8; N]) -> Bytes {
        Bytes::copy_from(b)
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Bytes {
        Bytes::copy_from(s.as_bytes())
    }
}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.0[..] == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Bytes {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.0[..] == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Bytes {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0[..] == other[..]
    }
}

impl PartialEq<Vec<u8>> for Bytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.0[..] == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_alike() {
        let short = Bytes::from("FETCH");
        let long = Bytes::from(&b"BODY[HEADER.FIELDS (FROM TO SUBJECT)]"[..]);
        assert_eq!(&short[..], b"FETCH");
        assert_eq!(long.len(), 37);
        assert_eq!(
            long.clone().into_vec(),
            b"BODY[HEADER.FIELDS (FROM TO SUBJECT)]".to_vec()
        );
        assert_eq!(short, *b"FETCH");
        assert_eq!(format!("{short:?}"), "b\"FETCH\"");
        assert_eq!(std::mem::size_of::<Bytes>(), std::mem::size_of::<Vec<u8>>());
        let mut b = Bytes::default();
        for c in b"0123456789abcdefXYZ" {
            b.push(*c);
        }
        assert_eq!(b, *b"0123456789abcdefXYZ");
    }
}
