//! Line-level parsing of a test script into [`Step`]s.

use super::command::*;
use super::{Script, Span, Step};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A malformed script: the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ParseError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Read and parse a script file.
pub fn parse_script(path: &Path) -> anyhow::Result<Script> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read script: {e}", path.display()))?;
    Ok(parse_str(&super::decode(&bytes), path)?)
}

struct Lines<'a> {
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> Lines<'a> {
    /// The next line and its 1-based number.
    fn next(&mut self) -> Option<(usize, &'a str)> {
        let l = self.lines.get(self.next)?;
        self.next += 1;
        Some((self.next, l.strip_suffix('\r').unwrap_or(l)))
    }
}

struct Regexes {
    exim: Regex,
    client: Regex,
    file: Regex,
    sudo_perl: Regex,
    write: Regex,
    linespec: Regex,
    rc: Regex,
    data_prefix: Regex,
}

fn regexes() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(|| Regexes {
        // The same shape as the Perl runtest's: env settings, a wait time, sudo, exim[_x].
        exim: Regex::new(
            r"^((?:[A-Za-z\d_]+=\S+\s+)+)?(\d+)?\s*(sudo(?:\s+-u\s+(\S+))?\s+)?exim(_\w+)?(?:\s+(.*))?$",
        )
        .unwrap(),
        client: Regex::new(r"^(sudo(?:\s+-u\s+(\S+))?\s+)?(client(?:-\w+)?)(?:\s+(.*))?$").unwrap(),
        file: Regex::new(
            r"^(sudo(?:\s+-u\s+(\S+))?\s+)?(cat|chmod|chown|cp|du|ln|ls|mkdir|mkfifo|mv|rm|rmdir|touch)(\s.*)?$",
        )
        .unwrap(),
        // `[sudo] perl [ARGS]`: the arguments (`-e '…'`, a script file and its own
        // arguments) go to perl as written; the data lines are its stdin.
        sudo_perl: Regex::new(r"^(sudo(?:\s+-u\s+(\S+))?\s+)?perl(?:\s+(.*?))?\s*$").unwrap(),
        write: Regex::new(r"^(cat)?write\s+(\S+)(?:\s+(.*?))?\s*$").unwrap(),
        linespec: Regex::new(r"^(\d+)x(\d+)(?:=(.*))?$").unwrap(),
        rc: Regex::new(r"^\s*(\d+)\s*$").unwrap(),
        data_prefix: Regex::new(r"^:(eval|noeol|sleep):(.*)$").unwrap(),
    })
}

fn sudo_from(prefix: Option<regex::Match>, user: Option<regex::Match>) -> Option<Sudo> {
    prefix.map(|_| match user {
        Some(u) => Sudo::User(u.as_str().to_string()),
        None => Sudo::Root,
    })
}

struct Parser<'a> {
    file: PathBuf,
    lines: Lines<'a>,
}

impl<'a> Parser<'a> {
    fn err(&self, line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.clone(),
            line,
            message: super::shown(&message.into()),
        }
    }

    /// Data lines up to `****`, raw.
    fn raw_data(&mut self, cmd_line: usize, what: &str) -> Result<Vec<String>, ParseError> {
        let mut out = Vec::new();
        loop {
            match self.lines.next() {
                Some((_, l)) if is_terminator(l) => return Ok(out),
                Some((_, l)) => out.push(l.to_string()),
                // The end of the file ends the data too: Exim's own scripts rely on it
                // (e.g. 0000-Basic/0004), and the Perl runtest reads to EOF.
                None => {
                    let _ = (cmd_line, what);
                    return Ok(out);
                }
            }
        }
    }

    fn data(&mut self, cmd_line: usize, what: &str) -> Result<Vec<DataLine>, ParseError> {
        // Data lines follow one another, so the i-th is on line `first + i`.
        let first = self.lines.next + 1;
        let raw = self.raw_data(cmd_line, what)?;
        raw.into_iter()
            .enumerate()
            .map(|(i, l)| {
                let d = data_line(&l);
                if d.prefix == DataPrefix::Sleep && d.text.trim().parse::<u64>().is_err() {
                    return Err(self.err(
                        first + i,
                        format!(
                            "`:sleep:` needs a whole number of seconds, not `{}`",
                            d.text
                        ),
                    ));
                }
                Ok(d)
            })
            .collect()
    }

    /// The next command line (continuations joined), skipping blanks and plain comments.
    /// Returns the expected return code line too, if one precedes the command.
    fn next_command(&mut self) -> Result<Option<(usize, Option<i32>, String)>, ParseError> {
        let mut rc: Option<(usize, i32)> = None;
        loop {
            let Some((n, line)) = self.lines.next() else {
                if let Some((rcline, _)) = rc {
                    return Err(self.err(rcline, "a return code line is not followed by a command"));
                }
                return Ok(None);
            };
            if line.trim().is_empty() {
                continue;
            }
            if line.starts_with('#') && !is_echo_comment(line) {
                continue;
            }
            if let Some(c) = regexes().rc.captures(line) {
                if let Some((first, _)) = rc {
                    return Err(self.err(
                        n,
                        format!("a second return code line (the first is at line {first})"),
                    ));
                }
                let v: i32 = c[1]
                    .parse()
                    .map_err(|_| self.err(n, format!("return code {} is out of range", &c[1])))?;
                rc = Some((n, v));
                continue;
            }
            // Trailing blanks do not count: `\ ` continues the line too (0000-Basic/0001).
            let mut text = line.trim_end().to_string();
            while text.ends_with('\\') {
                text.pop();
                match self.lines.next() {
                    // The continuation's leading blanks go: a value split over lines joins up
                    // exactly (0000-Basic/0095 continues a header list after `\n\`).
                    Some((_, more)) => text.push_str(more.trim()),
                    None => {
                        return Err(self.err(n, "the last line ends with a continuation backslash"))
                    }
                }
            }
            return Ok(Some((n, rc.map(|r| r.1), text)));
        }
    }

    /// Parse one command whose line is `text` (already joined), reading its data if it has any.
    fn command(&mut self, n: usize, text: &str) -> Result<Command, ParseError> {
        let r = regexes();
        // Leading blanks do not count either (the command word is found after them).
        let t = text.trim();
        if is_echo_comment(t) {
            return Ok(Command::Comment(t[3..].trim_start().to_string()));
        }
        let mut words = t.split_whitespace();
        let first = words.next().unwrap_or("");
        // The words after the first, which need not start the line (` café -bV`).
        let rest = t.trim_start()[first.len()..].trim().to_string();
        let no_args = |cmd: Command| -> Result<Command, ParseError> {
            if rest.is_empty() {
                Ok(cmd)
            } else {
                Err(self.err(n, format!("`{first}` takes no arguments")))
            }
        };
        let one_arg = |what: &str| -> Result<String, ParseError> {
            if rest.is_empty() {
                Err(self.err(n, format!("`{first}` needs {what}")))
            } else {
                Ok(rest.clone())
            }
        };
        let number = |what: &str| -> Result<u64, ParseError> {
            rest.parse::<u64>()
                .map_err(|_| self.err(n, format!("`{first}` needs {what}, not `{rest}`")))
        };
        match first {
            "killdaemon" => return no_args(Command::KillDaemon),
            "sortlog" => return no_args(Command::SortLog),
            "rmfiltertest" => return no_args(Command::RmFilterTest),
            "gnutls" => return no_args(Command::Gnutls),
            "no_message_check" => return no_args(Command::NoCheck(NoCheck::Message)),
            "no_msglog_check" => return no_args(Command::NoCheck(NoCheck::Msglog)),
            "no_stderr_check" => return no_args(Command::NoCheck(NoCheck::Stderr)),
            "no_stdout_check" => return no_args(Command::NoCheck(NoCheck::Stdout)),
            "need_ipv4" => return no_args(Command::Need(NeedKind::Ipv4)),
            "need_ipv6" => return no_args(Command::Need(NeedKind::Ipv6)),
            "need_largefiles" => return no_args(Command::Need(NeedKind::LargeFiles)),
            "need_move_frozen_messages" => {
                return no_args(Command::Need(NeedKind::MoveFrozenMessages))
            }
            "sleep" => return Ok(Command::Sleep(number("a number of seconds")?)),
            "millisleep" => return Ok(Command::MilliSleep(number("a number of milliseconds")?)),
            "echo" => return Ok(Command::Echo(rest)),
            "munge" => {
                let name = one_arg("a munge name")?;
                if name.contains(char::is_whitespace) {
                    return Err(self.err(n, "`munge` takes one name"));
                }
                return Ok(Command::Munge(name));
            }
            "dump" => return Ok(Command::Dump(one_arg("a database name")?)),
            "dbmbuild" => return Ok(Command::DbmBuild(one_arg("input and output file names")?)),
            "exim_lock" => return Ok(Command::EximLock(one_arg("a file name")?)),
            "exinext" => return Ok(Command::Exinext(one_arg("an argument")?)),
            "exigrep" => return Ok(Command::Exigrep(one_arg("a pattern")?)),
            "exiqgrep" => return Ok(Command::Exiqgrep(rest)),
            "eximstats" => return Ok(Command::Eximstats(rest)),
            "server" => {
                let args = one_arg("a port or socket")?;
                let data = self.data(n, "server")?;
                return Ok(Command::Server { args, data });
            }
            "background" => {
                if !rest.is_empty() {
                    return Err(self.err(
                        n,
                        "`background` takes no arguments: the command is on the next line",
                    ));
                }
                let Some((bn, rc, btext)) = self.next_command()? else {
                    return Err(self.err(n, "`background` is not followed by a command"));
                };
                if rc.is_some() {
                    return Err(self.err(bn, "a return code line cannot follow `background`"));
                }
                let inner = self.command(bn, &btext)?;
                if matches!(inner, Command::Background(_)) {
                    return Err(self.err(bn, "`background` cannot be nested"));
                }
                return Ok(Command::Background(Box::new(inner)));
            }
            _ => {}
        }
        if let Some(c) = r.write.captures(t) {
            let catwrite = c.get(1).is_some();
            let file = c[2].to_string();
            let mut specs = Vec::new();
            for item in c
                .get(3)
                .map(|m| m.as_str())
                .unwrap_or("")
                .split_whitespace()
            {
                let s = r.linespec.captures(item).ok_or_else(|| {
                    self.err(
                        n,
                        format!("bad line specification `{item}` (expected NxM or NxM=text)"),
                    )
                })?;
                let count = s[1]
                    .parse()
                    .map_err(|_| self.err(n, format!("bad count in `{item}`")))?;
                let length: usize = s[2]
                    .parse()
                    .map_err(|_| self.err(n, format!("bad length in `{item}`")))?;
                let start = s.get(3).map(|m| m.as_str().replace('_', " "));
                if length < 1 + start.as_ref().map_or(0, |s| s.len()) {
                    return Err(self.err(
                        n,
                        format!("line length in `{item}` is too small for its text and newline"),
                    ));
                }
                specs.push(LineSpec {
                    count,
                    length,
                    start,
                });
            }
            let total = specs.iter().try_fold(0usize, |sum, s| {
                s.count
                    .checked_mul(s.length)
                    .and_then(|b| sum.checked_add(b))
            });
            if total.is_none_or(|t| t > MAX_WRITE_BYTES) {
                return Err(self.err(
                    n,
                    format!("`{first}` would write more than {MAX_WRITE_BYTES} bytes"),
                ));
            }
            let raw = self.raw_data(n, if catwrite { "catwrite" } else { "write" })?;
            let (before, after) = match raw.iter().position(|l| is_plus_split(l)) {
                Some(i) => (raw[..i].to_vec(), raw[i + 1..].to_vec()),
                None => (raw, Vec::new()),
            };
            return Ok(Command::Write {
                catwrite,
                spec: WriteSpec {
                    file,
                    specs,
                    before,
                    after,
                },
            });
        }
        if let Some(c) = r.sudo_perl.captures(t) {
            let sudo = sudo_from(c.get(1), c.get(2));
            let args = c.get(3).map(|m| m.as_str().to_string()).unwrap_or_default();
            let data = self.data(n, "perl")?;
            return Ok(Command::Perl { sudo, args, data });
        }
        if let Some(c) = r.exim.captures(t) {
            let env = c
                .get(1)
                .map(|m| {
                    m.as_str()
                        .split_whitespace()
                        .filter_map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let wait_secs = match c.get(2) {
                Some(m) => m
                    .as_str()
                    .parse()
                    .map_err(|_| self.err(n, "bad wait time before exim"))?,
                None => 0,
            };
            let sudo = sudo_from(c.get(3), c.get(4));
            let variant = c.get(5).map(|m| m.as_str().to_string()).unwrap_or_default();
            if !variant.is_empty() && variant != "_exim" {
                return Err(self.err(n, format!("unknown command `exim{variant}`")));
            }
            let args = c
                .get(6)
                .map(|m| m.as_str().trim().to_string())
                .unwrap_or_default();
            let data = self.data(n, "exim")?;
            return Ok(Command::Exim {
                env,
                wait_secs,
                sudo,
                variant,
                args,
                data,
            });
        }
        if let Some(c) = r.client.captures(t) {
            let program = c[3].to_string();
            if !matches!(
                program.as_str(),
                "client" | "client-ssl" | "client-gnutls" | "client-anytls"
            ) {
                return Err(self.err(n, format!("unknown command `{program}`")));
            }
            let sudo = sudo_from(c.get(1), c.get(2));
            let args = c
                .get(4)
                .map(|m| m.as_str().trim().to_string())
                .unwrap_or_default();
            if args.is_empty() {
                return Err(self.err(n, format!("`{program}` needs an address and a port")));
            }
            let data = self.data(n, &program)?;
            return Ok(Command::Client {
                sudo,
                program,
                args,
                data,
            });
        }
        if let Some(c) = r.file.captures(t) {
            let sudo = sudo_from(c.get(1), c.get(2));
            let line = format!("{}{}", &c[3], c.get(4).map(|m| m.as_str()).unwrap_or(""));
            return Ok(Command::File(FileCommand { sudo, line }));
        }
        Err(self.err(n, format!("unknown command: {t}")))
    }
}

/// The most a `write`/`catwrite` command's `NxM` items may add up to (1 GiB; Exim's
/// largest is 16 MB), so a typo cannot make runtest build a file that fills memory.
pub const MAX_WRITE_BYTES: usize = 1 << 30;

fn is_terminator(l: &str) -> bool {
    l.starts_with("****") && l[4..].trim().is_empty()
}

fn is_plus_split(l: &str) -> bool {
    l.starts_with("++++") && l[4..].trim().is_empty()
}

fn is_echo_comment(l: &str) -> bool {
    l.starts_with("###") && (l.len() == 3 || l[3..].starts_with(char::is_whitespace))
}

fn data_line(l: &str) -> DataLine {
    match regexes().data_prefix.captures(l) {
        Some(c) => DataLine {
            prefix: match &c[1] {
                "eval" => DataPrefix::Eval,
                "noeol" => DataPrefix::NoEol,
                _ => DataPrefix::Sleep,
            },
            text: c[2].to_string(),
        },
        None => DataLine {
            prefix: DataPrefix::None,
            text: l.to_string(),
        },
    }
}

/// Parse script text; `path` is used in spans and messages.
pub fn parse_str(text: &str, path: &Path) -> Result<Script, ParseError> {
    let lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').collect()
    };
    // A trailing newline gives one empty last element: drop it so line numbers stay true.
    let lines = match lines.last() {
        Some(&"") => lines[..lines.len() - 1].to_vec(),
        _ => lines,
    };
    let heading_line = lines.first().copied().unwrap_or("");
    if !heading_line.starts_with('#') {
        return Err(ParseError {
            file: path.to_path_buf(),
            line: 1,
            message: "the first line must be a heading comment starting with #".into(),
        });
    }
    let heading = heading_line.trim_start_matches('#').trim().to_string();
    let mut p = Parser {
        file: path.to_path_buf(),
        lines: Lines { lines, next: 1 },
    };
    let mut steps = Vec::new();
    while let Some((n, rc, text)) = p.next_command()? {
        let command = p.command(n, &text)?;
        steps.push(Step {
            span: Span {
                file: path.to_path_buf(),
                line: n,
            },
            expect_rc: rc.unwrap_or(0),
            text: text.trim_end().to_string(),
            command,
        });
    }
    Ok(Script {
        path: path.to_path_buf(),
        heading,
        steps,
    })
}

#[cfg(test)]
#[path = "parse/tests.rs"]
mod tests;
