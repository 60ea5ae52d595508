//! Folder `REQUIRES` files, in the forms of Exim's Perl runtest: one requirement a line,
//! `support X`, `lookup X`, `authenticator X` (or `authenticators X`), `router X`,
//! `transport X` (also `transport appendfile/maildir`), `malware X`, `feature X`,
//! `running X` and the bare `ipv6-non-linklocal`. Blank lines and `#` comments are ignored.
//!
//! Parsing is pure; whether a requirement is met is decided by `probe::requires`.

use std::path::Path;

/// What a requirement asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `Support for:` word of `exim -bV`.
    Support,
    /// A lookup type (`Lookups (built-in):` / `Lookups (dynamic):`).
    Lookup,
    Authenticator,
    Router,
    /// A transport, or `transport/variant` as `-bV` lists `appendfile/maildir/mailstore/mbx`.
    Transport,
    /// A `Malware:` scanner type.
    Malware,
    /// A macro `exim -bP macro NAME` knows (`_HAVE_TLS` …).
    Feature,
    /// Something the host runs or has: `IPv4`, `IPv6`, or a program (spamd, clamd, redis).
    Running,
    /// The host has an IPv6 address that is not link-local (`fe80::/10`).
    Ipv6NonLinkLocal,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Support => "support",
            Kind::Lookup => "lookup",
            Kind::Authenticator => "authenticator",
            Kind::Router => "router",
            Kind::Transport => "transport",
            Kind::Malware => "malware",
            Kind::Feature => "feature",
            Kind::Running => "running",
            Kind::Ipv6NonLinkLocal => "ipv6-non-linklocal",
        }
    }

    /// The kind a line's first word names (`authenticators` is the Perl runtest's plural).
    fn from_keyword(w: &str) -> Option<Kind> {
        Some(match w {
            "support" => Kind::Support,
            "lookup" => Kind::Lookup,
            "authenticator" | "authenticators" => Kind::Authenticator,
            "router" => Kind::Router,
            "transport" => Kind::Transport,
            "malware" => Kind::Malware,
            "feature" => Kind::Feature,
            "running" => Kind::Running,
            "ipv6-non-linklocal" => Kind::Ipv6NonLinkLocal,
            _ => return None,
        })
    }
}

/// One requirement of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub kind: Kind,
    /// The name asked for (empty for `ipv6-non-linklocal`).
    pub what: String,
    /// The line of the REQUIRES file it came from (1-based).
    pub line: usize,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.what.is_empty() {
            write!(f, "{}", self.kind.keyword())
        } else {
            write!(f, "{} {}", self.kind.keyword(), self.what)
        }
    }
}

/// A REQUIRES line runtest does not understand: the folder is skipped, not the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: bad requirement `{text}` ({why})")]
pub struct RequiresError {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub why: String,
}

/// Parse a REQUIRES file.
pub fn parse_requires(text: &str, path: &Path) -> Result<Vec<Requirement>, RequiresError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line, ""),
        };
        let err = |why: String| RequiresError {
            file: path.display().to_string(),
            line: i + 1,
            text: line.to_string(),
            why,
        };
        let Some(kind) = Kind::from_keyword(word) else {
            return Err(err(format!(
                "unknown kind `{word}`; known: support, lookup, authenticator, router, transport, malware, feature, running, ipv6-non-linklocal"
            )));
        };
        match (kind, rest.is_empty()) {
            (Kind::Ipv6NonLinkLocal, false) => {
                return Err(err("`ipv6-non-linklocal` takes no name".into()))
            }
            (Kind::Ipv6NonLinkLocal, true) => {}
            (_, true) => return Err(err(format!("`{word}` needs a name"))),
            (_, false) if rest.contains(char::is_whitespace) => {
                return Err(err(format!("`{word}` takes one name")));
            }
            _ => {}
        }
        out.push(Requirement {
            kind,
            what: rest.to_string(),
            line: i + 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: Kind, what: &str, line: usize) -> Requirement {
        Requirement {
            kind,
            what: what.into(),
            line,
        }
    }

    #[test]
    fn every_form() {
        let p = Path::new("scripts/5000-maildir/REQUIRES");
        let text = "support GnuTLS\n\n# c\nlookup dnsdb\nauthenticators plaintext\nauthenticator cram_md5\n\
router redirect\ntransport appendfile/maildir\nmalware clamd\nfeature _HAVE_TLS\nrunning IPv4\n  ipv6-non-linklocal  \n";
        let r = parse_requires(text, p).unwrap();
        assert_eq!(
            r,
            vec![
                req(Kind::Support, "GnuTLS", 1),
                req(Kind::Lookup, "dnsdb", 4),
                req(Kind::Authenticator, "plaintext", 5),
                req(Kind::Authenticator, "cram_md5", 6),
                req(Kind::Router, "redirect", 7),
                req(Kind::Transport, "appendfile/maildir", 8),
                req(Kind::Malware, "clamd", 9),
                req(Kind::Feature, "_HAVE_TLS", 10),
                req(Kind::Running, "IPv4", 11),
                req(Kind::Ipv6NonLinkLocal, "", 12),
            ]
        );
        assert_eq!(r[9].to_string(), "ipv6-non-linklocal");
        assert_eq!(r[5].to_string(), "transport appendfile/maildir");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let p = Path::new("scripts/2000-GnuTLS/REQUIRES");
        let e = parse_requires("support GnuTLS\nneeds magic\n", p).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.to_string()
                .starts_with("scripts/2000-GnuTLS/REQUIRES:2: bad requirement `needs magic`"),
            "{e}"
        );
        assert_eq!(parse_requires("lookup\n", p).unwrap_err().line, 1);
        assert!(parse_requires("ipv6-non-linklocal yes\n", p).is_err());
        assert!(parse_requires("support a b\n", p).is_err());
        // Non-ASCII never panics.
        assert!(parse_requires("café ü\n", p).is_err());
    }
}
