//! The questions runtest asks when something differs, with the Perl runtest's wording and
//! defaults, read from the terminal (never from stdin, which a CI job may have closed); and
//! the atomic replacement of saved files that "Update" does.

use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::path::Path;

/// An answer to a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Continue,
    Retry,
    Update,
    Quit,
    Show,
    ShowStderr,
    ShowStdout,
    ShowServer,
}

/// One of the prompts, with its letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A saved file differs.
    Difference,
    /// Output where no saved file exists.
    Unexpected,
    /// A command ended with an unexpected return code.
    BadReturnCode,
    /// The scripted server failed.
    ServerFailed,
    /// A pending output (`FILE.new`) under `--review`.
    Pending,
}

impl Prompt {
    pub fn text(self) -> &'static str {
        match self {
            Prompt::Difference => "Continue, Retry, Update & retry, Quit? [Q] ",
            Prompt::Unexpected => "Continue, Show, or Quit? [Q] ",
            Prompt::BadReturnCode => {
                "show stdErr, show stdOut, Retry, Continue (without file comparison), or Quit? [Q] "
            }
            Prompt::ServerFailed => "Show server stdout, Retry, Continue, or Quit? [Q] ",
            Prompt::Pending => "Continue, Update, or Quit? [Q] ",
        }
    }

    /// Decide an answer typed at this prompt: empty takes the default (Q); one letter, any
    /// case; anything else is None (ask again).
    pub fn decide(self, typed: &str) -> Option<Answer> {
        let t = typed.trim();
        let c = if t.is_empty() {
            'q'
        } else if t.chars().count() == 1 {
            t.chars().next()?.to_ascii_lowercase()
        } else {
            return None;
        };
        match (self, c) {
            (_, 'q') => Some(Answer::Quit),
            (_, 'c') => Some(Answer::Continue),
            (Prompt::Difference, 'r')
            | (Prompt::BadReturnCode, 'r')
            | (Prompt::ServerFailed, 'r') => Some(Answer::Retry),
            (Prompt::Difference, 'u') | (Prompt::Pending, 'u') => Some(Answer::Update),
            (Prompt::Unexpected, 's') => Some(Answer::Show),
            (Prompt::ServerFailed, 's') => Some(Answer::ShowServer),
            (Prompt::BadReturnCode, 'e') => Some(Answer::ShowStderr),
            (Prompt::BadReturnCode, 'o') => Some(Answer::ShowStdout),
            _ => None,
        }
    }
}

/// Where answers come from.
pub trait Asker {
    fn ask(&mut self, prompt: Prompt) -> Result<Answer>;
}

/// Answers from the controlling terminal (/dev/tty).
pub struct Terminal;

impl Asker for Terminal {
    fn ask(&mut self, prompt: Prompt) -> Result<Answer> {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .context("no terminal to ask on (use -CONTINUE or -UPDATE when running without one)")?;
        let mut out = tty.try_clone().context("/dev/tty")?;
        let mut input = std::io::BufReader::new(tty);
        loop {
            write!(out, "{}", prompt.text()).context("writing to the terminal")?;
            out.flush().ok();
            let mut line = String::new();
            if input.read_line(&mut line).context("reading the terminal")? == 0 {
                return Ok(Answer::Quit);
            }
            if let Some(a) = prompt.decide(&line) {
                return Ok(a);
            }
        }
    }
}

/// The non-interactive modes: -CONTINUE answers Continue, -UPDATE answers Update where it
/// can (and Continue elsewhere).
pub struct Fixed(pub Answer);

impl Asker for Fixed {
    fn ask(&mut self, prompt: Prompt) -> Result<Answer> {
        Ok(match (self.0, prompt) {
            (Answer::Update, Prompt::Difference) => Answer::Update,
            (Answer::Update, Prompt::Unexpected) => Answer::Update,
            (Answer::Update, Prompt::Pending) => Answer::Update,
            _ => Answer::Continue,
        })
    }
}

/// Replace `path` with `content` atomically (write a temporary file beside it, then rename),
/// or delete it when `content` is empty — a missing saved file means "no output expected".
pub fn write_saved(path: &Path, content: &str) -> Result<()> {
    if content.is_empty() {
        match std::fs::remove_file(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
    write_atomically(path, content)
}

/// Replace `path` with `content` (even empty) through a temporary file and a rename, so that
/// a reader never sees half a file.
pub fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("temporary file in {}", dir.display()))?;
    tmp.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).ok();
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    crate::elevate::give_back(path);
    Ok(())
}

/// The pending file beside a saved file: `stdout/0042` → `stdout/0042.new`.
pub fn pending_path(saved: &Path) -> std::path::PathBuf {
    let mut s = saved.as_os_str().to_owned();
    s.push(".new");
    s.into()
}

/// Write a pending output beside the saved file, atomically. Unlike [`write_saved`], an
/// empty output is written as an empty file: it means "the saved file should go".
pub fn write_pending(saved: &Path, content: &str) -> Result<()> {
    write_atomically(&pending_path(saved), content)
}

/// Accept a pending output: it replaces the saved file (or removes it when empty).
pub fn accept_pending(saved: &Path) -> Result<()> {
    let pending = pending_path(saved);
    let text = std::fs::read(&pending).with_context(|| format!("reading {}", pending.display()))?;
    write_saved(saved, &String::from_utf8_lossy(&text))?;
    std::fs::remove_file(&pending).with_context(|| format!("removing {}", pending.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_letters() {
        assert_eq!(Prompt::Difference.decide(""), Some(Answer::Quit));
        assert_eq!(Prompt::Difference.decide("\n"), Some(Answer::Quit));
        assert_eq!(Prompt::Difference.decide("u"), Some(Answer::Update));
        assert_eq!(Prompt::Difference.decide("R\n"), Some(Answer::Retry));
        assert_eq!(Prompt::Difference.decide("c"), Some(Answer::Continue));
        assert_eq!(Prompt::Difference.decide("s"), None);
        assert_eq!(Prompt::Difference.decide("cr"), None);
        assert_eq!(Prompt::Unexpected.decide("S"), Some(Answer::Show));
        assert_eq!(Prompt::Unexpected.decide("u"), None);
        assert_eq!(Prompt::BadReturnCode.decide("e"), Some(Answer::ShowStderr));
        assert_eq!(Prompt::BadReturnCode.decide("o"), Some(Answer::ShowStdout));
        assert_eq!(Prompt::BadReturnCode.decide("r"), Some(Answer::Retry));
        assert_eq!(Prompt::ServerFailed.decide("s"), Some(Answer::ShowServer));
        assert_eq!(Prompt::ServerFailed.decide("u"), None);
    }

    #[test]
    fn fixed_answers() {
        let mut c = Fixed(Answer::Continue);
        assert_eq!(c.ask(Prompt::Difference).unwrap(), Answer::Continue);
        assert_eq!(c.ask(Prompt::BadReturnCode).unwrap(), Answer::Continue);
        let mut u = Fixed(Answer::Update);
        assert_eq!(u.ask(Prompt::Difference).unwrap(), Answer::Update);
        assert_eq!(u.ask(Prompt::BadReturnCode).unwrap(), Answer::Continue);
    }

    #[test]
    fn pending_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let saved = d.path().join("log").join("0007");
        write_saved(&saved, "old\n").unwrap();
        write_pending(&saved, "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join("log/0007.new")).unwrap(),
            "new\n"
        );
        accept_pending(&saved).unwrap();
        assert_eq!(std::fs::read_to_string(&saved).unwrap(), "new\n");
        assert!(!pending_path(&saved).exists());
        // An empty pending output removes the saved file.
        write_pending(&saved, "").unwrap();
        assert!(pending_path(&saved).exists());
        accept_pending(&saved).unwrap();
        assert!(!saved.exists());
        assert_eq!(Prompt::Pending.decide("u"), Some(Answer::Update));
        assert_eq!(Prompt::Pending.decide("r"), None);
    }

    #[test]
    fn atomic_write_and_delete() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("stdout").join("0042");
        write_saved(&p, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        write_saved(&p, "newer\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "newer\n");
        // No temporary files are left beside it.
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        write_saved(&p, "").unwrap();
        assert!(!p.exists());
        write_saved(&p, "").unwrap();
    }
}
