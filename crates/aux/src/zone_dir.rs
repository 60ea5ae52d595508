//! The `dnszones` folder: which zone each `db.*` file serves, and which zone a name is in.
//!
//! A file's zone comes from its name: `db.ip4.A.B` serves `B.A.in-addr.arpa` (octets
//! written forward); `db.ip6.HEX` serves the nibble-reversed `….ip6.arpa` of the hex digits
//! written forward, one label per digit as fakens.c makes it (dots between digits allowed,
//! no padding: `db.ip6.ff00` is `0.0.f.f.ip6.arpa` and `db.ip6.0` is `0.ip6.arpa`, so the
//! 28-label record in Exim's `db.ip6.0` is not `::1`, whose reverse lookup finds no name);
//! any other `db.NAME` serves `NAME`. A file named `qualify.DOMAIN` makes fakens qualify
//! single-label names (except `dontqualify`) with `.DOMAIN`. When several zones contain a
//! name, the longest one wins.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::dns_name::DnsName;

/// One zone file and the zone it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneEntry {
    pub path: PathBuf,
    pub origin: DnsName,
}

/// The zones found in a `dnszones` folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneDir {
    pub zones: Vec<ZoneEntry>,
    /// From a `qualify.DOMAIN` file: the domain single-label names are qualified with.
    pub qualify: Option<DnsName>,
}

impl ZoneDir {
    /// Lists `dir` (normally `<DIR>/dnszones`).
    pub fn scan(dir: &Path) -> std::io::Result<Self> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().as_bytes().to_vec());
        }
        // Directory order is arbitrary; sorting keeps the choice between equal zones stable.
        names.sort();
        let mut zone_dir = Self::default();
        for name in names {
            if let Some(domain) = name.strip_prefix(b"qualify.") {
                zone_dir.qualify = DnsName::parse(domain).ok().filter(|d| !d.is_root());
            } else if let Some(origin) = origin_for_file_name(&name) {
                zone_dir.zones.push(ZoneEntry {
                    path: dir.join(OsStr::from_bytes(&name)),
                    origin,
                });
            }
        }
        Ok(zone_dir)
    }

    /// Qualifies a single-label name (other than `dontqualify`) if a qualify file exists.
    pub fn qualified(&self, name: DnsName) -> DnsName {
        match &self.qualify {
            Some(suffix) if name.labels().len() == 1 && name.labels()[0] != b"dontqualify" => {
                name.join(suffix).unwrap_or(name)
            }
            _ => name,
        }
    }

    /// The zone that holds `name`: the longest origin that `name` is in or equal to.
    pub fn zone_for(&self, name: &DnsName) -> Option<&ZoneEntry> {
        self.zones.iter().filter(|z| name.is_in(&z.origin)).fold(
            None,
            |best: Option<&ZoneEntry>, z| match best {
                Some(b) if b.origin.labels().len() >= z.origin.labels().len() => Some(b),
                _ => Some(z),
            },
        )
    }
}

/// The zone a file serves, from its name; `None` for files that are not zones.
pub fn origin_for_file_name(file_name: &[u8]) -> Option<DnsName> {
    let rest = file_name.strip_prefix(b"db.")?;
    let text = if let Some(v4) = rest.strip_prefix(b"ip4.") {
        let mut labels: Vec<&[u8]> = v4.split(|&b| b == b'.').collect();
        labels.reverse();
        labels.push(b"in-addr");
        labels.push(b"arpa");
        labels.join(&b'.')
    } else if let Some(v6) = rest.strip_prefix(b"ip6.") {
        let digits: Vec<u8> = v6.iter().copied().filter(|&b| b != b'.').collect();
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_hexdigit) {
            let mut nibbles = digits;
            nibbles.reverse();
            let mut text: Vec<u8> = nibbles
                .iter()
                .flat_map(|&n| [n.to_ascii_lowercase(), b'.'])
                .collect();
            text.extend_from_slice(b"ip6.arpa");
            text
        } else {
            [v6, b".ip6.arpa"].concat()
        }
    } else {
        rest.to_vec()
    };
    DnsName::parse(&text).ok().filter(|n| !n.is_root())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(file: &str) -> String {
        origin_for_file_name(file.as_bytes()).unwrap().to_string()
    }

    #[test]
    fn file_names_give_zones() {
        assert_eq!(origin("db.test.ex"), "test.ex");
        assert_eq!(origin("db.test.ex._bad"), "test.ex._bad");
        assert_eq!(origin("db.dontqualify"), "dontqualify");
        assert_eq!(origin("db.ip4.10"), "10.in-addr.arpa");
        assert_eq!(origin("db.ip4.224"), "224.in-addr.arpa");
        assert_eq!(origin("db.ip4.192.168"), "168.192.in-addr.arpa");
        assert_eq!(origin("db.ip6.ff00"), "0.0.f.f.ip6.arpa");
        assert_eq!(origin("db.ip6.f.f.0.0"), "0.0.f.f.ip6.arpa");
        assert_eq!(origin("db.ip6.0"), "0.ip6.arpa");
        assert_eq!(origin("db.ip6.fd0"), "0.d.f.ip6.arpa");
        assert_eq!(origin("db.ip6.20010DB8"), "8.b.d.0.1.0.0.2.ip6.arpa");
        assert_eq!(origin("db.ip6.V6NET"), "V6NET.ip6.arpa");
        assert_eq!(origin_for_file_name(b"qualify.test.ex"), None);
        assert_eq!(origin_for_file_name(b"db."), None);
        assert_eq!(origin_for_file_name(b"README"), None);
    }

    #[test]
    fn scan_finds_zones_and_qualify() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "db.test.ex",
            "db.sub.test.ex",
            "db.ip4.10",
            "qualify.test.ex",
            "notes",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let zones = ZoneDir::scan(dir.path()).unwrap();
        assert_eq!(zones.zones.len(), 3);
        assert_eq!(zones.qualify.as_ref().unwrap().to_string(), "test.ex");

        let name = |s: &str| DnsName::parse(s.as_bytes()).unwrap();
        let pick = |s: &str| zones.zone_for(&name(s)).map(|z| z.origin.to_string());
        assert_eq!(pick("a.sub.test.ex").as_deref(), Some("sub.test.ex"));
        assert_eq!(pick("sub.test.ex").as_deref(), Some("sub.test.ex"));
        assert_eq!(pick("xsub.test.ex").as_deref(), Some("test.ex"));
        assert_eq!(pick("TEST.EX").as_deref(), Some("test.ex"));
        assert_eq!(
            pick("1.2.3.10.in-addr.arpa").as_deref(),
            Some("10.in-addr.arpa")
        );
        assert_eq!(pick("example.org"), None);

        assert_eq!(zones.qualified(name("host")).to_string(), "host.test.ex");
        assert_eq!(
            zones.qualified(name("dontqualify")).to_string(),
            "dontqualify"
        );
        assert_eq!(zones.qualified(name("a.b")).to_string(), "a.b");
        assert_eq!(
            ZoneDir::default().qualified(name("host")).to_string(),
            "host"
        );
    }

    #[test]
    fn scan_of_missing_dir_fails() {
        assert!(ZoneDir::scan(Path::new("/nonexistent/dnszones")).is_err());
    }
}
