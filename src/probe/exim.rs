//! The Exim binary under test: where it is, and what it can do (`-bV` features, `-bP`
//! settings and macros), so that folder REQUIRES lines and `need_*` commands can be decided.

use crate::suite::Kind;
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Find the binary: the command line's, else a sibling Exim source tree's `build-*/exim`
/// (the newest version), else `exim4`/`exim` on PATH or in /usr/sbin.
pub fn find_binary(given: Option<&Path>, suite: &Path) -> Result<PathBuf> {
    if let Some(p) = given {
        let p = if p.components().count() == 1 && !p.exists() {
            which::which(p).with_context(|| format!("{}: no such Exim binary", p.display()))?
        } else {
            p.to_path_buf()
        };
        if !p.is_file() {
            bail!("{}: no such Exim binary", p.display());
        }
        return Ok(p);
    }
    if let Some(parent) = suite
        .canonicalize()
        .ok()
        .and_then(|s| s.parent().map(Path::to_path_buf))
    {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&parent) {
            for tree in rd.flatten() {
                let Ok(inner) = std::fs::read_dir(tree.path()) else {
                    continue;
                };
                for b in inner.flatten() {
                    let n = b.file_name().to_string_lossy().into_owned();
                    let exim = b.path().join("exim");
                    if n.starts_with("build-") && exim.is_file() {
                        found.push((tree.file_name().to_string_lossy().into_owned(), exim));
                    }
                }
            }
        }
        found.sort();
        if let Some((_, p)) = found.pop() {
            return Ok(p);
        }
    }
    for name in ["exim4", "exim"] {
        if let Ok(p) = which::which(name) {
            return Ok(p);
        }
        let p = Path::new("/usr/sbin").join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("no Exim binary found: give its path as the first argument")
}

/// What `exim -bV` says.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub version: String,
    pub support: BTreeSet<String>,
    pub lookups: BTreeSet<String>,
    pub authenticators: BTreeSet<String>,
    pub routers: BTreeSet<String>,
    pub transports: BTreeSet<String>,
    pub malware: BTreeSet<String>,
    pub off_t_size: u32,
    pub configure_owner: Option<(u32, u32)>,
    /// The raw -bV text, for -DEBUG.
    pub raw: String,
}

fn words(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(|w| w.to_lowercase()).collect()
}

/// Parse `-bV` output. Fails when it does not look like Exim's.
pub fn parse_bv(text: &str) -> Result<Features> {
    let mut f = Features {
        raw: text.to_string(),
        ..Default::default()
    };
    let mut seen_version = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Exim version ") {
            f.version = rest.split_whitespace().next().unwrap_or("").to_string();
            seen_version = true;
        } else if let Some(rest) = line.strip_prefix("Support for:") {
            f.support.extend(words(rest));
        } else if let Some((head, rest)) = line.split_once(':') {
            let set = match head {
                h if h.starts_with("Lookups") => &mut f.lookups,
                "Authenticators" => &mut f.authenticators,
                "Routers" => &mut f.routers,
                "Transports" => &mut f.transports,
                "Malware" => &mut f.malware,
                "Size of off_t" => {
                    f.off_t_size = rest.trim().parse().unwrap_or(0);
                    continue;
                }
                "Configure owner" => {
                    let mut it = rest.trim().split(':').filter_map(|x| x.parse().ok());
                    if let (Some(u), Some(g)) = (it.next(), it.next()) {
                        f.configure_owner = Some((u, g));
                    }
                    continue;
                }
                _ => continue,
            };
            // "appendfile/maildir/mailstore/mbx" is the transport appendfile with its three
            // variants: it answers `appendfile`, `appendfile/maildir` … (the Perl runtest's
            // names), and the bare variant names too.
            for w in rest.split_whitespace() {
                let w = w.to_lowercase();
                let mut parts = w.split('/');
                let head = parts.next().unwrap_or_default();
                for part in parts {
                    set.insert(part.to_string());
                    set.insert(format!("{head}/{part}"));
                }
                set.insert(head.to_string());
                set.insert(w.clone());
            }
        }
    }
    if !seen_version {
        bail!("not an Exim binary: its -bV output has no `Exim version` line");
    }
    Ok(f)
}

impl Features {
    /// Decide a REQUIRES line that `-bV` answers (`support`, `lookup`, `authenticator`,
    /// `router`, `transport`, `malware`). Other kinds return None.
    pub fn has(&self, kind: Kind, what: &str) -> Option<bool> {
        let w = what.to_lowercase();
        let set = match kind {
            Kind::Support => &self.support,
            Kind::Lookup => &self.lookups,
            Kind::Authenticator => &self.authenticators,
            Kind::Router => &self.routers,
            Kind::Transport => &self.transports,
            Kind::Malware => &self.malware,
            _ => return None,
        };
        Some(set.contains(&w))
    }
}

/// Run the binary (at most `timeout`) and capture stdout+stderr.
pub fn run_capture(
    bin: &Path,
    args: &[&str],
    timeout: std::time::Duration,
) -> Result<(i32, String)> {
    let c = crate::exec::capture_program(bin, args, timeout)?;
    Ok((c.code, c.text()))
}

/// Where the binary looks for its trusted configuration list (TRUSTED_CONFIG_LIST), found by
/// scanning the binary for an absolute path ending in `trusted_configs`.
pub fn trusted_config_list(bin: &Path) -> Option<PathBuf> {
    let bytes = std::fs::read(bin).ok()?;
    let needle = b"trusted_configs\0";
    let pos = bytes.windows(needle.len()).position(|w| w == needle)?;
    let start = bytes[..pos].iter().rposition(|b| *b == 0).map(|p| p + 1)?;
    let s = std::str::from_utf8(&bytes[start..pos + needle.len() - 1]).ok()?;
    s.starts_with('/').then(|| PathBuf::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BV: &str = "Exim version 4.96 #2 built 27-May-2026 16:52:26\n\
Support for: crypteq iconv() IPv6 PAM Perl Expand_dlfunc GnuTLS move_frozen_messages\n\
Lookups (built-in): lsearch wildlsearch dbm dnsdb\n\
Authenticators: cram_md5 plaintext\n\
Routers: accept dnslookup manualroute redirect\n\
Transports: appendfile/maildir/mailstore/mbx autoreply lmtp pipe smtp\n\
Malware: clamd\n\
Configure owner: 0:0\n\
Size of off_t: 8\n";

    #[test]
    fn parses_bv() {
        let f = parse_bv(BV).unwrap();
        assert_eq!(f.version, "4.96");
        assert_eq!(f.has(Kind::Support, "GnuTLS"), Some(true));
        assert_eq!(f.has(Kind::Support, "OpenSSL"), Some(false));
        assert_eq!(f.has(Kind::Lookup, "dnsdb"), Some(true));
        assert_eq!(f.has(Kind::Transport, "maildir"), Some(true));
        assert_eq!(f.has(Kind::Transport, "appendfile"), Some(true));
        assert_eq!(f.has(Kind::Transport, "appendfile/maildir"), Some(true));
        assert_eq!(f.has(Kind::Transport, "appendfile/mbx"), Some(true));
        assert_eq!(f.has(Kind::Transport, "appendfile/smtp"), Some(false));
        assert_eq!(f.has(Kind::Transport, "pipe/maildir"), Some(false));
        assert_eq!(f.has(Kind::Router, "iplookup"), Some(false));
        assert_eq!(f.has(Kind::Authenticator, "cram_md5"), Some(true));
        assert_eq!(f.has(Kind::Malware, "clamd"), Some(true));
        assert_eq!(f.has(Kind::Malware, "cmdline"), Some(false));
        assert_eq!(f.has(Kind::Running, "IPv4"), None);
        assert_eq!(f.off_t_size, 8);
        assert_eq!(f.configure_owner, Some((0, 0)));
    }

    #[test]
    fn rejects_non_exim() {
        assert!(parse_bv("GNU coreutils 9.1\n")
            .unwrap_err()
            .to_string()
            .contains("not an Exim binary"));
    }
}
