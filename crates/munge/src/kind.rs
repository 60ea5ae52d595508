//! Output kinds (which file of a test is being munged) and sets of them, as named in `munge.toml`.

use std::fmt;

/// The kind of output file being munged. Rules can be restricted to some kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    Paniclog,
    Rejectlog,
    Mainlog,
    Stdout,
    Stderr,
    Mail,
    Msglog,
}

impl OutputKind {
    /// Every output kind, in the order the runner munges the files of a test.
    pub const ALL: [OutputKind; 7] = [
        OutputKind::Paniclog,
        OutputKind::Rejectlog,
        OutputKind::Mainlog,
        OutputKind::Stdout,
        OutputKind::Stderr,
        OutputKind::Mail,
        OutputKind::Msglog,
    ];

    /// The name used for this kind in `munge.toml`.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Paniclog => "paniclog",
            OutputKind::Rejectlog => "rejectlog",
            OutputKind::Mainlog => "mainlog",
            OutputKind::Stdout => "stdout",
            OutputKind::Stderr => "stderr",
            OutputKind::Mail => "mail",
            OutputKind::Msglog => "msglog",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for OutputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bit for the pseudo-kind `filename`: rules that rewrite file names (see
/// `Munger::munge_file_name`), never file contents.
const FILENAME_BIT: u16 = 1 << 15;

/// A set of output kinds a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindSet(u16);

impl KindSet {
    /// All output kinds, but not file names: the default of a rule.
    pub(crate) fn outputs() -> KindSet {
        KindSet(OutputKind::ALL.iter().fold(0, |m, k| m | k.bit()))
    }

    pub(crate) fn contains(self, kind: OutputKind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub(crate) fn has_filename(self) -> bool {
        self.0 & FILENAME_BIT != 0
    }

    /// Parses a `kinds = [...]` list. Names are the kinds, `log` (every file Perl's
    /// runtest treats as a log: paniclog, rejectlog, mainlog and msglog, because it
    /// tested the path against /log/), `all`, `filename`; `!name` removes kinds.
    /// A list of only removals starts from `all`.
    pub(crate) fn parse(names: &[String]) -> Result<KindSet, String> {
        let only_removals = names.iter().all(|n| n.starts_with('!'));
        let mut set = if only_removals {
            KindSet::outputs().0
        } else {
            0
        };
        for name in names {
            let (remove, bare) = match name.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, name.as_str()),
            };
            let bits = Self::bits_of(bare).ok_or_else(|| {
                format!(
                    "unknown kind `{bare}` (expected one of all, log, filename, {})",
                    OutputKind::ALL.map(|k| k.name()).join(", ")
                )
            })?;
            if remove {
                set &= !bits;
            } else {
                set |= bits;
            }
        }
        if set == 0 {
            return Err("the kinds list selects nothing".into());
        }
        Ok(KindSet(set))
    }

    fn bits_of(name: &str) -> Option<u16> {
        match name {
            "all" => Some(KindSet::outputs().0),
            "log" => Some(
                OutputKind::Paniclog.bit()
                    | OutputKind::Rejectlog.bit()
                    | OutputKind::Mainlog.bit()
                    | OutputKind::Msglog.bit(),
            ),
            "filename" => Some(FILENAME_BIT),
            _ => OutputKind::ALL
                .iter()
                .find(|k| k.name() == name)
                .map(|k| k.bit()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> Result<KindSet, String> {
        KindSet::parse(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn log_group_includes_msglog_but_not_stdout() {
        let s = set(&["log"]).unwrap();
        assert!(s.contains(OutputKind::Msglog));
        assert!(s.contains(OutputKind::Mainlog));
        assert!(!s.contains(OutputKind::Stdout));
        assert!(!s.has_filename());
    }

    #[test]
    fn removals_alone_start_from_all() {
        let s = set(&["!stderr"]).unwrap();
        assert!(!s.contains(OutputKind::Stderr));
        assert!(s.contains(OutputKind::Mail));
    }

    #[test]
    fn unknown_and_empty_are_errors() {
        assert!(set(&["stdot"])
            .unwrap_err()
            .contains("unknown kind `stdot`"));
        assert!(set(&["stdout", "!stdout"]).is_err());
    }
}
