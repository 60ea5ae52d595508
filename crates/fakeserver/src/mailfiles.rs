//! Reading messages from disk for the daemons' `--load`: an mbox file (mboxrd `>From `
//! unquoting), a maildir (`cur/` and `new/`), or a plain folder of message files (`.eml`,
//! or any regular file not starting with a dot). Every message comes back with CRLF line ends
//! and its source path, in a deterministic order (sorted by file name; mbox in file order).
//!
//! Errors name the file that could not be read. A layout with one folder per user (POP3) or
//! per newsgroup (NNTP) is walked with [`load_tree`].

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// One message read from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedMessage {
    /// The message, CRLF line ends, ending in CRLF.
    pub data: Vec<u8>,
    /// Where it came from (for mbox: the mbox file).
    pub source: PathBuf,
    /// A stable name for it within its folder: the file name (a maildir's unique part,
    /// without `:2,flags`), or `mbox-N` for the Nth message of an mbox.
    pub name: String,
}

/// Messages of one mailbox: `path` is an mbox file, a maildir or a folder of messages.
pub fn load_mailbox(path: &Path) -> Result<Vec<LoadedMessage>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if meta.is_file() {
        let raw =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        return Ok(split_mbox(&raw)
            .into_iter()
            .enumerate()
            .map(|(i, data)| LoadedMessage {
                data,
                source: path.to_path_buf(),
                name: format!("mbox-{}", i + 1),
            })
            .collect());
    }
    let is_maildir = path.join("cur").is_dir() && path.join("new").is_dir();
    let dirs: Vec<PathBuf> = if is_maildir {
        vec![path.join("new"), path.join("cur")]
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for dir in dirs {
        let mut files = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))?
        {
            let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let ft = entry
                .file_type()
                .with_context(|| format!("{}: cannot stat", entry.path().display()))?;
            if ft.is_file() {
                files.push((name, entry.path()));
            }
        }
        files.sort();
        for (name, file) in files {
            let raw =
                std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
            let name = if is_maildir {
                name.split(':').next().unwrap_or(&name).to_string()
            } else {
                name
            };
            out.push(LoadedMessage {
                data: to_crlf(&raw),
                source: file,
                name,
            });
        }
    }
    Ok(out)
}

/// A tree with one mailbox per entry of `dir` (folders, maildirs or mbox files, hidden
/// entries skipped), sorted by name: `(entry name, its messages)`.
pub fn load_tree(dir: &Path) -> Result<Vec<(String, Vec<LoadedMessage>)>> {
    let mut entries = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    entries
        .into_iter()
        .map(|(name, path)| Ok((name, load_mailbox(&path)?)))
        .collect()
}

/// Line ends to CRLF (bare LF and CRLF alike; a lone CR is kept), with a final CRLF.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    for (i, b) in raw.iter().enumerate() {
        if *b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Split an mbox into messages (a `From ` line at the start or after an empty line starts
/// one), dropping the separator lines and unquoting mboxrd `>From ` lines.
pub fn split_mbox(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut msgs = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.starts_with(b"From ") && prev_blank {
            if let Some(m) = cur.take() {
                msgs.push(finish_mbox_message(m));
            }
            cur = Some(Vec::new());
            prev_blank = false;
            continue;
        }
        prev_blank = content.is_empty();
        let Some(m) = cur.as_mut() else { continue };
        let gt = content.iter().take_while(|b| **b == b'>').count();
        let unquoted = if gt > 0 && content[gt..].starts_with(b"From ") {
            &content[1..]
        } else {
            content
        };
        m.extend_from_slice(unquoted);
        m.extend_from_slice(b"\r\n");
    }
    if let Some(m) = cur {
        msgs.push(finish_mbox_message(m));
    }
    msgs
}

/// The blank line before the next `From ` belongs to the mbox format, not the message.
fn finish_mbox_message(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(to_crlf(b""), b"");
        assert_eq!(to_crlf(b"a\rb\n"), b"a\rb\r\n");
    }

    #[test]
    fn mbox() {
        let raw = b"From a@b Sat Jan  3 01:05:34 1996\nSubject: one\n\n>From here\n>>From there\nbody\n\nFrom c@d Sat Jan  3 01:05:34 1996\nSubject: two\n\nbody\nFrom not a separator\n";
        let m = split_mbox(raw);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            b"Subject: one\r\n\r\nFrom here\r\n>From there\r\nbody\r\n"
        );
        assert_eq!(
            m[1],
            b"Subject: two\r\n\r\nbody\r\nFrom not a separator\r\n"
        );
    }

    #[test]
    fn folders_and_maildirs() {
        let t = tempfile::tempdir().unwrap();
        let eml = t.path().join("alice");
        std::fs::create_dir(&eml).unwrap();
        std::fs::write(eml.join("2.eml"), "Subject: b\n\nB\n").unwrap();
        std::fs::write(eml.join("1.eml"), "Subject: a\n\nA\n").unwrap();
        std::fs::write(eml.join(".hidden"), "x").unwrap();
        let md = t.path().join("bob");
        for d in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(md.join(d)).unwrap();
        }
        std::fs::write(md.join("cur/1700000000.M1P1.host:2,S"), "Subject: c\n\nC\n").unwrap();
        std::fs::write(md.join("new/1700000001.M2P1.host"), "Subject: d\n\nD\n").unwrap();
        std::fs::write(
            t.path().join("carol"),
            "From x Mon Jan 1 00:00:00 2024\nSubject: e\n\nE\n",
        )
        .unwrap();
        let tree = load_tree(t.path()).unwrap();
        let names: Vec<_> = tree
            .iter()
            .map(|(n, m)| {
                (
                    n.as_str(),
                    m.iter().map(|x| x.name.clone()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("alice", vec!["1.eml".to_string(), "2.eml".into()]),
                (
                    "bob",
                    vec!["1700000001.M2P1.host".into(), "1700000000.M1P1.host".into()]
                ),
                ("carol", vec!["mbox-1".into()]),
            ]
        );
        assert_eq!(tree[0].1[0].data, b"Subject: a\r\n\r\nA\r\n");
        let err = load_mailbox(&t.path().join("nope")).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
    }
}
