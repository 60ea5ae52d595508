//! Domain names as fakens sees them: a sequence of raw byte labels, case preserved.
//!
//! Zone files hold names Exim's tests care about byte for byte: mixed case (`UpperCase`,
//! `ten-99.TEST.EX.`), UTF-8 labels that must *not* be punycoded (`π` next to `xn--1xa`),
//! slashes and underscores. So a name here is just its labels; comparisons ignore ASCII
//! case (like the C `tolower` fakens.c applies) and the conversion to a wire-format
//! [`hickory_proto::rr::Name`] keeps the bytes as written.

use std::fmt;

use hickory_proto::rr::Name;

/// Longest label the DNS wire format allows.
const MAX_LABEL: usize = 63;
/// Longest name the DNS wire format allows (length bytes and root included).
const MAX_WIRE_NAME: usize = 255;

/// Why some text is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in domain name {0:?}")]
    EmptyLabel(String),
    #[error("label longer than 63 bytes in domain name {0:?}")]
    LabelTooLong(String),
    #[error("domain name {0:?} is longer than 255 bytes on the wire")]
    NameTooLong(String),
}

/// An absolute domain name (the root has no labels).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct DnsName {
    labels: Vec<Vec<u8>>,
}

impl DnsName {
    /// The root name `.`.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses an absolute name; one trailing dot is optional, `.` alone (or nothing) is the root.
    pub fn parse(text: &[u8]) -> Result<Self, NameError> {
        let text = text.strip_suffix(b".").unwrap_or(text);
        if text.is_empty() {
            return Ok(Self::root());
        }
        let shown = || String::from_utf8_lossy(text).into_owned();
        let mut labels = Vec::new();
        for label in text.split(|&b| b == b'.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(shown()));
            }
            if label.len() > MAX_LABEL {
                return Err(NameError::LabelTooLong(shown()));
            }
            labels.push(label.to_vec());
        }
        let name = Self { labels };
        if name.wire_len() > MAX_WIRE_NAME {
            return Err(NameError::NameTooLong(shown()));
        }
        Ok(name)
    }

    /// Parses a name as written in a zone file: with a trailing dot it is absolute, without
    /// one it is relative to `origin`; `@` alone is the origin itself.
    pub fn parse_in_zone(text: &[u8], origin: &DnsName) -> Result<Self, NameError> {
        if text == b"@" {
            return Ok(origin.clone());
        }
        if text.ends_with(b".") {
            return Self::parse(text);
        }
        let relative = Self::parse(text)?;
        relative.join(origin)
    }

    /// `self` followed by `suffix` (both taken as label sequences).
    pub fn join(&self, suffix: &DnsName) -> Result<Self, NameError> {
        let mut labels = self.labels.clone();
        labels.extend(suffix.labels.iter().cloned());
        let name = Self { labels };
        if name.wire_len() > MAX_WIRE_NAME {
            return Err(NameError::NameTooLong(name.to_string()));
        }
        Ok(name)
    }

    /// The labels, leftmost first.
    pub fn labels(&self) -> &[Vec<u8>] {
        &self.labels
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// True when the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.labels.first().is_some_and(|l| l == b"*")
    }

    /// The name without its leftmost label (the root stays the root).
    pub fn parent(&self) -> DnsName {
        Self {
            labels: self.labels.iter().skip(1).cloned().collect(),
        }
    }

    /// Equality ignoring ASCII case, as DNS compares names.
    pub fn same_as(&self, other: &DnsName) -> bool {
        self.labels.len() == other.labels.len()
            && self
                .labels
                .iter()
                .zip(&other.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// True when `self` is `zone` or lies below it (ASCII case ignored).
    pub fn is_in(&self, zone: &DnsName) -> bool {
        self.labels.len() >= zone.labels.len()
            && self.labels[self.labels.len() - zone.labels.len()..]
                .iter()
                .zip(&zone.labels)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// True when `self` lies strictly below `zone`.
    pub fn is_below(&self, zone: &DnsName) -> bool {
        self.labels.len() > zone.labels.len() && self.is_in(zone)
    }

    /// Does this owner name (possibly a `*.` wildcard) cover `query`? A wildcard covers
    /// every name strictly below its parent, at any depth, as fakens.c's suffix test does.
    pub fn covers(&self, query: &DnsName) -> bool {
        if self.is_wildcard() {
            query.is_below(&self.parent())
        } else {
            self.same_as(query)
        }
    }

    /// The same name with ASCII letters lower-cased.
    pub fn to_lowercase(&self) -> DnsName {
        Self {
            labels: self.labels.iter().map(|l| l.to_ascii_lowercase()).collect(),
        }
    }

    /// Number of bytes the name takes on the wire, uncompressed.
    pub fn wire_len(&self) -> usize {
        self.labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1
    }

    /// The wire-format name, bytes and case kept exactly (no IDNA, no lower-casing).
    pub fn to_hickory(&self) -> Result<Name, hickory_proto::ProtoError> {
        Name::from_labels(self.labels.iter().map(|l| l.as_slice()))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        for (i, label) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&String::from_utf8_lossy(label))?;
        }
        Ok(())
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> DnsName {
        DnsName::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn parses_absolute_and_root() {
        assert_eq!(n("test.ex.").labels().len(), 2);
        assert_eq!(n("test.ex"), n("test.ex."));
        assert!(n(".").is_root());
        assert!(n("").is_root());
        assert_eq!(n("a.b.c").to_string(), "a.b.c");
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            DnsName::parse(b"a..b"),
            Err(NameError::EmptyLabel(_))
        ));
        assert!(matches!(
            DnsName::parse(b".a"),
            Err(NameError::EmptyLabel(_))
        ));
        let long = "x".repeat(64);
        assert!(matches!(
            DnsName::parse(long.as_bytes()),
            Err(NameError::LabelTooLong(_))
        ));
        let many = vec!["abcdefghi"; 30].join(".");
        assert!(matches!(
            DnsName::parse(many.as_bytes()),
            Err(NameError::NameTooLong(_))
        ));
    }

    #[test]
    fn relative_names_take_the_origin() {
        let origin = n("test.ex");
        assert_eq!(
            DnsName::parse_in_zone(b"mx", &origin).unwrap(),
            n("mx.test.ex")
        );
        assert_eq!(
            DnsName::parse_in_zone(b"exim.org.", &origin).unwrap(),
            n("exim.org")
        );
        assert_eq!(DnsName::parse_in_zone(b"@", &origin).unwrap(), origin);
        assert!(DnsName::parse_in_zone(b".", &origin).unwrap().is_root());
    }

    #[test]
    fn comparisons_ignore_ascii_case_only() {
        assert!(n("UpperCase.TEST.ex").same_as(&n("uppercase.test.ex")));
        assert!(!n("a.test.ex").same_as(&n("test.ex")));
        assert!(n("x.test.ex").is_in(&n("TEST.EX")));
        assert!(n("test.ex").is_in(&n("test.ex")));
        assert!(!n("test.ex").is_below(&n("test.ex")));
        assert!(!n("xtest.ex").is_in(&n("test.ex")));
    }

    #[test]
    fn wildcards_cover_names_below_their_parent() {
        let w = n("*.250.10.in-addr.arpa");
        assert!(w.covers(&n("42.104.250.10.in-addr.arpa")));
        assert!(w.covers(&n("1.250.10.in-addr.arpa")));
        assert!(!w.covers(&n("250.10.in-addr.arpa")));
        assert!(!w.covers(&n("1.251.10.in-addr.arpa")));
        assert!(!n("a.test.ex").covers(&n("b.test.ex")));
    }

    #[test]
    fn hickory_names_keep_bytes_and_case() {
        let name = DnsName::parse("mx.π.TEST.ex".as_bytes()).unwrap();
        let h = name.to_hickory().unwrap();
        assert!(h.is_fqdn());
        let labels: Vec<&[u8]> = h.iter().collect();
        assert_eq!(labels, vec![&b"mx"[..], "π".as_bytes(), b"TEST", b"ex"]);
        assert!(DnsName::root().to_hickory().unwrap().is_root());
    }
}
