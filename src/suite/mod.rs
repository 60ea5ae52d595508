//! The suite on disk: the folders `scripts/NNNN-Name/` with their `REQUIRES` files and the
//! numbered scripts in them, the selection of a range, and the heading lines `listtests`
//! shows. Knows nothing of Exim itself: requirements are evaluated by the caller through
//! [`Requirement`].

mod requires;

pub use requires::{parse_requires, Requirement};

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One folder of scripts, e.g. `scripts/2000-GnuTLS`.
#[derive(Debug, Clone)]
pub struct Folder {
    pub path: PathBuf,
    /// The folder name without its number: `GnuTLS`.
    pub name: String,
    /// The full folder name: `2000-GnuTLS`.
    pub dir_name: String,
    pub requires: Vec<Requirement>,
    pub tests: Vec<TestFile>,
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
        let Some((num, name)) = dir_name.split_once('-') else { continue };
        if num.len() != 4 || !num.bytes().all(|b| b.is_ascii_digit()) || !e.path().is_dir() {
            continue;
        }
        let path = e.path();
        let req_path = path.join("REQUIRES");
        let requires = if req_path.exists() {
            let text = std::fs::read_to_string(&req_path)
                .with_context(|| format!("{}: cannot read", req_path.display()))?;
            parse_requires(&text, &req_path)?
        } else {
            Vec::new()
        };
        let mut tests = Vec::new();
        for t in std::fs::read_dir(&path).with_context(|| format!("{}: cannot read", path.display()))? {
            let t = t.with_context(|| format!("{}: cannot read", path.display()))?;
            let fname = t.file_name().to_string_lossy().into_owned();
            if fname.len() == 4 && fname.bytes().all(|b| b.is_ascii_digit()) {
                tests.push(TestFile { number: fname.parse().unwrap_or(0), path: t.path() });
            }
        }
        tests.sort_by_key(|t| t.number);
        folders.push(Folder { path, name: name.to_string(), dir_name, requires, tests });
    }
    Ok(folders)
}

/// The first line of a script without its `#`, as listtests and the run show it.
pub fn heading(path: &Path) -> String {
    std::fs::read(path)
        .ok()
        .and_then(|b| {
            let text = String::from_utf8_lossy(&b).into_owned();
            text.lines().next().map(|l| l.trim_start_matches('#').trim().to_string())
        })
        .unwrap_or_default()
}

/// Render the `listtests` output for folders whose name matches `dir_pattern` and tests
/// whose heading matches `title_pattern` (both case-insensitive regexes).
pub fn listtests(folders: &[Folder], dir_pattern: Option<&str>, title_pattern: Option<&str>) -> Result<String> {
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
        for (i, r) in f.requires.iter().enumerate() {
            let lead = if i == 0 { "=== Requires: " } else { "              " };
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
        std::fs::write(s.join("0000-Basic/0002"), "# Second\n").unwrap();
        std::fs::write(s.join("0000-Basic/0001"), "# First one\n").unwrap();
        std::fs::write(s.join("0000-Basic/README"), "x").unwrap();
        std::fs::write(s.join("2000-GnuTLS/2000"), "# TLS basics\n").unwrap();
        std::fs::write(s.join("2000-GnuTLS/REQUIRES"), "support GnuTLS\nrunning IPv4\n").unwrap();
        d
    }

    #[test]
    fn scan_orders_and_filters() {
        let d = suite();
        let f = scan(d.path()).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "Basic");
        assert_eq!(f[0].tests.iter().map(|t| t.number).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(f[1].requires.len(), 2);
    }

    #[test]
    fn listtests_format() {
        let d = suite();
        let f = scan(d.path()).unwrap();
        let all = listtests(&f, None, None).unwrap();
        assert_eq!(
            all,
            "=== 0000-Basic ===\nBasic/0001 First one\nBasic/0002 Second\n\n=== 2000-GnuTLS ===\n=== Requires: support GnuTLS\n              running IPv4\nGnuTLS/2000 TLS basics\n\n"
        );
        let tls = listtests(&f, Some("gnutls"), None).unwrap();
        assert!(tls.starts_with("=== 2000-GnuTLS") && !tls.contains("Basic"));
        let first = listtests(&f, Some("."), Some("FIRST")).unwrap();
        assert!(first.contains("Basic/0001") && !first.contains("Basic/0002"));
        assert!(listtests(&f, Some("("), None).is_err());
    }

    #[test]
    fn missing_scripts_folder() {
        let d = tempfile::tempdir().unwrap();
        assert!(scan(d.path()).unwrap_err().to_string().contains("cannot read the scripts folder"));
    }
}
