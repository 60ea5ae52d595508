//! The script language of Exim's test suite: parse `scripts/NNNN-Name/NNNN` into a list of
//! [`Step`]s, each with the `file:line` it came from.
//!
//! The parser is purely structural: it knows which commands exist, which of them read data
//! lines up to `****`, the expected-return-code lines, `\` continuations and the `###` echo
//! lines. It applies no substitutions (those need run-time facts such as the test number and
//! the message ids on the queue) and it runs nothing. A malformed script is a [`ParseError`]
//! naming the file and line.

mod command;
mod escape;
mod parse;

pub use command::{
    Command, DataLine, DataPrefix, FileCommand, LineSpec, NeedKind, NoCheck, Sudo, WriteSpec,
};
pub use escape::perl_unescape;
pub use parse::{parse_script, parse_str, ParseError};

use std::path::PathBuf;

/// Script text is bytes: Exim's scripts hold Latin-1 and raw 8-bit data (0000-Basic/0002,
/// 0046) that must reach Exim unchanged. Each byte is read as the char of the same value,
/// so any file decodes, and [`encode`] gives the very bytes back.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(*b)).collect()
}

/// The bytes of script text decoded by [`decode`]. Chars above 255 (only from values put in
/// by runtest itself) are written as UTF-8.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if (c as u32) < 256 {
            out.push(c as u32 as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// Script text as a message shows it: the bytes [`decode`] made chars of, read as UTF-8
/// where they are (a script's `café` is shown as written, not as `cafÃ©`).
pub fn shown(text: &str) -> String {
    String::from_utf8_lossy(&encode(text)).into_owned()
}

/// Where a step came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub file: PathBuf,
    /// 1-based line of the command (the first line when continued).
    pub line: usize,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One command of a script with its expected return code.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub span: Span,
    /// The return code given on the line before the command (default 0).
    pub expect_rc: i32,
    /// The command as written (continuations joined), for messages.
    pub text: String,
    pub command: Command,
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub path: PathBuf,
    /// The first line, without the leading `#` and blanks.
    pub heading: String,
    pub steps: Vec<Step>,
}

impl Script {
    /// The `need_*` requirements of the script, wherever they stand.
    pub fn needs(&self) -> impl Iterator<Item = NeedKind> + '_ {
        self.steps.iter().filter_map(|s| match &s.command {
            Command::Need(n) => Some(*n),
            _ => None,
        })
    }

    /// Whether a `no_*_check` command appears anywhere in the script.
    pub fn has_no_check(&self, which: NoCheck) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(&s.command, Command::NoCheck(n) if *n == which))
    }
}
