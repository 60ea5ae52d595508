//! The suite on disk: the folders `scripts/NNNN-Name/` (or `NNNN_name`) with their
//! `REQUIRES` files and the numbered scripts in them, the selection of a range, and the heading lines `listtests`
//! shows. Knows nothing of Exim itself: requirements are evaluated by the caller through
//! [`Requirement`].

mod requires;

pub use requires::{parse_requires, Kind, Requirement, RequiresError};

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A problem in the suite's own files that fails a test the same way however often and
/// however it is run (a missing or broken conf, an unknown munge): rerunning it alone
/// cannot change its verdict.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fault(pub String);

/// One folder of scripts, e.g. `scripts/2000-GnuTLS`.
#[derive(Debug, Clone)]
pub struct Folder {
    pub path: PathBuf,
    /// The folder name without its number: `GnuTLS`.
    pub name: String,
    /// The full folder name: `2000-GnuTLS`.
    pub dir_name: String,
    pub requires: Vec<Requirement>,
    /// Why the folder cannot run at all (a REQUIRES line runtest does not understand, an
    /// unreadable file), as `file:line: …`: its tests are skipped, the run goes on.
    pub broken: Option<String>,
    pub tests: Vec<TestFile>,
}

/// The number and name of a test folder: `0000-Basic` and `4006_scan_clamd` both count
/// (four digits, then `-` or `_`, then a name).
pub fn folder_name(dir_name: &str) -> Option<(u32, &str)> {
    let num = dir_name.get(..4)?;
    let rest = dir_name.get(4..)?;
    if !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = rest.strip_prefix('-').or_else(|| rest.strip_prefix('_'))?;
    if name.is_empty() {
        return None;
    }
    Some((num.parse().ok()?, name))
}

/// One numbered script.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub number: u32,
    pub path: PathBuf,
}

impl TestFile {
    /// `0042`.
    pub fn id(&self) -> String {
        format!("{:04}", self.number)
    }
}

/// Read the folders under `suite/scripts`, in name order, with their tests in number order.
pub fn scan(suite: &Path) -> Result<Vec<Folder>> {
    let scripts = suite.join("scripts");
    let mut folders = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&scripts)
        .with_context(|| format!("{}: cannot read the scripts folder", scripts.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("{}: cannot read the scripts folder", scripts.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let dir_name = e.file_name().to_string_lossy().into_owned();
        let Some((_, name)) = folder_name(&dir_name) else {
            continue;
        };
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        let mut broken = None;
        let req_path = path.join("REQUIRES");
        let requires = match std::fs::read(&req_path) {
            Ok(bytes) => match parse_requires(&crate::script::decode(&bytes), &req_path) {
                Ok(r) => r,
                Err(e) => {
                    broken = Some(e.to_string());
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                broken = Some(format!("{}: cannot read: {e}", req_path.display()));
                Vec::new()
            }
        };
        let mut tests = Vec::new();
        match std::fs::read_dir(&path) {
            Ok(rd) => {
                for t in rd.flatten() {
                    let fname = t.file_name().to_string_lossy().into_owned();
                    if fname.len() == 4 && fname.bytes().all(|b| b.is_ascii_digit()) {
                        if let Ok(number) = fname.parse() {
                            tests.push(TestFile {
                                number,
                                path: t.path(),
                            });
                        }
                    }
                }
            }
            Err(e) => broken = Some(format!("{}: cannot read the folder: {e}", path.display())),
        }
        tests.sort_by_key(|t| t.number);
        folders.push(Folder {
            path,
            name: name.to_string(),
            dir_name,
            requires,
            broken,
            tests,
        });
    }
    Ok(folders)
}

/// The first line of a script without its `#`, as listtests and the run show it.
pub fn heading(path: &Path) -> String {
    std::fs::read(path)
        .ok()
        .and_then(|b| {
            let text = String::from_utf8_lossy(&b).into_owned();
            text.lines()
                .next()
                .map(|l| l.trim_start_matches('#').trim().to_string())
        })
        .unwrap_or_default()
}

/// Render the `listtests` output for folders whose name matches `dir_pattern` and tests
/// whose heading matches `title_pattern` (both case-insensitive regexes).
pub fn listtests(
    folders: &[Folder],
    dir_pattern: Option<&str>,
    title_pattern: Option<&str>,
) -> Result<String> {
    let ci = |p: &str| {
        regex::RegexBuilder::new(p)
            .case_insensitive(true)
            .build()
            .with_context(|| format!("bad pattern `{p}`"))
    };
    let dir_re = dir_pattern.map(ci).transpose()?;
    let title_re = title_pattern.map(ci).transpose()?;
    let mut out = String::new();
    for f in folders {
        if dir_re.as_ref().is_some_and(|r| !r.is_match(&f.dir_name)) {
            continue;
        }
        out.push_str(&format!("=== {} ===\n", f.dir_name));
        if let Some(why) = &f.broken {
            out.push_str(&format!("=== Skipped: {why}\n"));
        }
        for (i, r) in f.requires.iter().enumerate() {
            let lead = if i == 0 {
                "=== Requires: "
            } else {
                "              "
            };
            out.push_str(&format!("{lead}{r}\n"));
        }
        for t in &f.tests {
            let h = heading(&t.path);
            if title_re.as_ref().is_some_and(|r| !r.is_match(&h)) {
                continue;
            }
            out.push_str(&format!("{}/{} {}\n", f.name, t.id(), h));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("scripts");
        std::fs::create_dir_all(s.join("0000-Basic")).unwrap();
        std::fs::create_dir_all(s.join("2000-GnuTLS")).unwrap();
        std::fs::create_dir_all(s.join("notatest")).unwrap();
        std::fs::create_dir_all(s.join("4006_scan_clamd")).unwrap();
        std::fs::write(s.join("4006_scan_clamd/4006"), "# clamd\n").unwrap();
        std::fs::write(
            s.join("4006_scan_clamd/REQUIRES"),
            "malware clamd\nneeds magic\n",
        )
        .unwrap();
        std::fs::write(s.join("0000-Basic/0002"), "# Second\n").unwrap();
        std::fs::write(s.join("0000-Basic/0001"), "# First one\n").unwrap();
        std::fs::write(s.join("0000-Basic/README"), "x").unwrap();
        std::fs::write(s.join("2000-GnuTLS/2000"), "# TLS basics\n").unwrap();
        std::fs::write(
            s.join("2000-GnuTLS/REQUIRES"),
            "support GnuTLS\nrunning IPv4\n",
        )
        .unwrap();
        d
    }

    #[test]
    fn scan_orders_and_filters() {
        let d = suite();
        let f = scan(d.path()).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].name, "Basic");
        assert_eq!(
            f[0].tests.iter().map(|t| t.number).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(f[1].requires.len(), 2);
        assert!(f[1].broken.is_none());
        // An underscore folder is seen; its bad REQUIRES line breaks that folder only.
        assert_eq!(f[2].name, "scan_clamd");
        assert_eq!(f[2].tests.len(), 1);
        let why = f[2].broken.as_deref().unwrap();
        assert!(why.ends_with("4006_scan_clamd/REQUIRES:2: bad requirement `needs magic` (unknown kind `needs`; known: support, lookup, authenticator, router, transport, malware, feature, running, ipv6-non-linklocal)"), "{why}");
    }

    #[test]
    fn folder_names() {
        assert_eq!(folder_name("0000-Basic"), Some((0, "Basic")));
        assert_eq!(folder_name("4006_scan_clamd"), Some((4006, "scan_clamd")));
        assert_eq!(
            folder_name("1020-Linklocal-ipv6"),
            Some((1020, "Linklocal-ipv6"))
        );
        for bad in [
            "notatest",
            "0000",
            "0000-",
            "000-Basic",
            "00000-x",
            "0000 x",
            "é000-x",
            "00é-x",
        ] {
            assert_eq!(folder_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn listtests_format() {
        let d = suite();
        let f = scan(d.path()).unwrap();
        let all = listtests(&f, None, None).unwrap();
        assert!(
            all.starts_with("=== 0000-Basic ===\nBasic/0001 First one\nBasic/0002 Second\n\n=== 2000-GnuTLS ===\n=== Requires: support GnuTLS\n              running IPv4\nGnuTLS/2000 TLS basics\n\n=== 4006_scan_clamd ===\n=== Skipped: "),
            "{all}"
        );
        assert!(all.ends_with("bad requirement `needs magic` (unknown kind `needs`; known: support, lookup, authenticator, router, transport, malware, feature, running, ipv6-non-linklocal)\nscan_clamd/4006 clamd\n\n"), "{all}");
        let tls = listtests(&f, Some("gnutls"), None).unwrap();
        assert!(tls.starts_with("=== 2000-GnuTLS") && !tls.contains("Basic"));
        let first = listtests(&f, Some("."), Some("FIRST")).unwrap();
        assert!(first.contains("Basic/0001") && !first.contains("Basic/0002"));
        assert!(listtests(&f, Some("("), None).is_err());
    }

    #[test]
    fn missing_scripts_folder() {
        let d = tempfile::tempdir().unwrap();
        assert!(scan(d.path())
            .unwrap_err()
            .to_string()
            .contains("cannot read the scripts folder"));
    }
}
