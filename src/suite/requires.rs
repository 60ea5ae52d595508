//! Folder `REQUIRES` files: one requirement a line (`support X`, `lookup X`, `authenticator
//! X`, `router X`, `transport X`, `feature X`, `running X`).

use anyhow::{bail, Result};
use std::path::Path;

/// One requirement of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// support, lookup, authenticator, router, transport, feature, running.
    pub kind: String,
    pub what: String,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.what)
    }
}

const KINDS: &[&str] = &["support", "lookup", "authenticator", "router", "transport", "feature", "running"];

/// Parse a REQUIRES file; blank lines and `#` comments are ignored.
pub fn parse_requires(text: &str, path: &Path) -> Result<Vec<Requirement>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut w = line.split_whitespace();
        let kind = w.next().unwrap_or_default();
        let what: Vec<&str> = w.collect();
        if !KINDS.contains(&kind) || what.is_empty() {
            bail!(
                "{}:{}: bad requirement `{line}` (expected one of {} followed by a name)",
                path.display(),
                i + 1,
                KINDS.join(", ")
            );
        }
        out.push(Requirement { kind: kind.to_string(), what: what.join(" ") });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Path::new("scripts/2000-GnuTLS/REQUIRES");
        let r = parse_requires("support GnuTLS\n\n# c\nlookup dnsdb\n", p).unwrap();
        assert_eq!(r, vec![
            Requirement { kind: "support".into(), what: "GnuTLS".into() },
            Requirement { kind: "lookup".into(), what: "dnsdb".into() },
        ]);
        let e = parse_requires("support GnuTLS\nneeds magic\n", p).unwrap_err().to_string();
        assert!(e.starts_with("scripts/2000-GnuTLS/REQUIRES:2: bad requirement `needs magic`"), "{e}");
        assert!(parse_requires("lookup\n", p).is_err());
    }
}
