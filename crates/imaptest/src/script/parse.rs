//! The scripted-test file format: a header of `key: value` lines, a blank line, then commands
//! in the three forms (`ok|no|bad|"" cmd`; `cmd` … `ok [prefix]`; `tag cmd` … `tag ok`), each
//! optionally prefixed by a connection number, followed by `*` (expected) and `!` (banned)
//! untagged lines. `{{{` … `}}}` (and `~{{{` for literal8) embed multi-line literals;
//! `!ifenv`/`!ifnenv`/`!else`/`!endif` select lines by environment. Errors are `file:line: …`.
use anyhow::{bail, Result};
use imapwire::{parse_line, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The state a test starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Nonauth,
    Auth,
    Created,
    Appended,
    Selected,
}

/// The header of a test file.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub capabilities: Vec<String>,
    pub connections: usize,
    /// `user N: name` lines.
    pub users: BTreeMap<usize, String>,
    /// `None` = all messages of the mbox.
    pub messages: Option<usize>,
    pub state: State,
    pub ignore_extra_untagged: bool,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            capabilities: vec![],
            connections: 1,
            users: BTreeMap::new(),
            messages: None,
            state: State::Selected,
            ignore_extra_untagged: true,
        }
    }
}

/// The tagged reply a command expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Ok,
    No,
    Bad,
    /// `""`: any.
    Any,
}

impl Expect {
    fn from_word(w: &str) -> Option<Expect> {
        Some(match w.to_ascii_lowercase().as_str() {
            "ok" => Expect::Ok,
            "no" => Expect::No,
            "bad" => Expect::Bad,
            "\"\"" => Expect::Any,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Ok => "ok",
            Expect::No => "no",
            Expect::Bad => "bad",
            Expect::Any => "\"\"",
        }
    }
}

/// One command of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The script's tag (form 3), else None.
    pub tag: Option<String>,
    /// The command (literals in wire form `{N}` CRLF data), variables not yet expanded.
    pub text: Vec<u8>,
    pub line: usize,
    pub expect: Option<Expect>,
    /// The expected start of the tagged reply's text, e.g. `[read-write]`.
    pub prefix: Vec<u8>,
    /// `prefix` parsed (code and words).
    pub prefix_values: Vec<Value>,
}

/// An expected or banned untagged line.
#[derive(Debug, Clone, PartialEq)]
pub struct Untagged {
    /// After `* ` / `! `, literals in wire form.
    pub text: Vec<u8>,
    /// `text` parsed with the wire parser (variables stay atoms).
    pub values: Vec<Value>,
    pub line: usize,
}

/// Commands sent together on one connection, with the untagged lines expected meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Connection index, 0-based.
    pub conn: usize,
    pub commands: Vec<Command>,
    pub expected: Vec<Untagged>,
    pub banned: Vec<Untagged>,
}

/// A parsed test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    pub name: String,
    pub header: Header,
    pub steps: Vec<Step>,
}

struct Line {
    no: usize,
    text: Vec<u8>,
}

/// Joins `{{{` literals into logical lines and applies `!ifenv` blocks.
fn logical_lines(file: &str, data: &[u8], env: &dyn Fn(&str) -> bool) -> Result<Vec<Line>> {
    let phys: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut out = Vec::new();
    let mut cond: Vec<(bool, usize, bool)> = Vec::new(); // (active, line, seen_else)
    let mut i = 0;
    while i < phys.len() {
        let no = i + 1;
        let raw = phys[i];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        i += 1;
        let active = cond.iter().all(|c| c.0);
        let s = String::from_utf8_lossy(raw);
        let t = s.trim();
        if let Some(var) = t
            .strip_prefix("!ifenv ")
            .or_else(|| t.strip_prefix("!ifnenv "))
        {
            let want = t.starts_with("!ifenv");
            let var = var.trim();
            if var.is_empty() {
                bail!(
                    "{file}:{no}: {} needs a variable name",
                    if want { "!ifenv" } else { "!ifnenv" }
                );
            }
            cond.push((env(var) == want, no, false));
            continue;
        }
        if t == "!else" {
            match cond.last_mut() {
                Some(c) if !c.2 => {
                    c.0 = !c.0;
                    c.2 = true;
                }
                Some(_) => bail!("{file}:{no}: second !else in one !if block"),
                None => bail!("{file}:{no}: !else without !ifenv/!ifnenv"),
            }
            continue;
        }
        if t == "!endif" {
            if cond.pop().is_none() {
                bail!("{file}:{no}: !endif without !ifenv/!ifnenv");
            }
            continue;
        }
        // literals: a line ending in {{{ continues until a line starting with }}}
        let mut text = Vec::new();
        let mut cur: Vec<u8> = raw.to_vec();
        loop {
            let opens = cur.ends_with(b"{{{");
            if !opens {
                text.extend_from_slice(cur.trim_ascii_end());
                break;
            }
            let binary = cur.len() >= 4 && cur[cur.len() - 4] == b'~';
            let head_len = cur.len() - 3 - usize::from(binary);
            text.extend_from_slice(&cur[..head_len]);
            let mut content: Vec<u8> = Vec::new();
            let mut first = true;
            loop {
                if i >= phys.len() {
                    bail!("{file}:{no}: literal started with {{{{{{ is not closed with }}}}}}");
                }
                let l = phys[i];
                i += 1;
                if let Some(rest) = l.strip_prefix(b"}}}") {
                    cur = rest.strip_suffix(b"\r").unwrap_or(rest).to_vec();
                    break;
                }
                if !first {
                    content.push(b'\n');
                }
                first = false;
                content.extend_from_slice(l);
            }
            let content = if binary {
                content
            } else {
                crate::mbox::crlf(&content)
            };
            if binary {
                text.push(b'~');
            }
            text.extend_from_slice(format!("{{{}}}\r\n", content.len()).as_bytes());
            text.extend_from_slice(&content);
        }
        if active {
            out.push(Line { no, text });
        }
    }
    if let Some(c) = cond.last() {
        bail!("{file}:{}: !ifenv/!ifnenv block without !endif", c.1);
    }
    Ok(out)
}

fn words(text: &[u8]) -> (String, &[u8]) {
    let t = text.trim_ascii_start();
    let end = t
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(t.len());
    (
        String::from_utf8_lossy(&t[..end]).into_owned(),
        t[end..].trim_ascii_start(),
    )
}

fn parse_header(file: &str, no: usize, line: &str, h: &mut Header) -> Result<()> {
    let (key, value) = line
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("{file}:{no}: header line without ':': {line:?}"))?;
    let key = key.trim().to_ascii_lowercase();
    let value = value.trim();
    match key.as_str() {
        "capabilities" => {
            h.capabilities = value
                .split_whitespace()
                .map(|s| s.to_ascii_uppercase())
                .collect()
        }
        "connections" => {
            h.connections = value.parse().map_err(|_| {
                anyhow::anyhow!("{file}:{no}: connections: {value:?} is not a number")
            })?;
            if h.connections == 0 || h.connections > 100 {
                bail!("{file}:{no}: connections: must be 1..100");
            }
        }
        "messages" => {
            h.messages = if value.eq_ignore_ascii_case("all") {
                None
            } else {
                Some(value.parse().map_err(|_| {
                    anyhow::anyhow!("{file}:{no}: messages: {value:?} is neither a number nor all")
                })?)
            }
        }
        "state" => {
            h.state = match value.to_ascii_lowercase().as_str() {
                "nonauth" => State::Nonauth,
                "auth" => State::Auth,
                "created" => State::Created,
                "appended" => State::Appended,
                "selected" => State::Selected,
                _ => bail!(
                "{file}:{no}: state: {value:?} is not nonauth, auth, created, appended or selected"
            ),
            }
        }
        "ignore_extra_untagged" => {
            h.ignore_extra_untagged = match value.to_ascii_lowercase().as_str() {
                "yes" | "1" | "true" => true,
                "no" | "0" | "false" => false,
                _ => bail!("{file}:{no}: ignore_extra_untagged: expected yes or no"),
            }
        }
        k if k.starts_with("user") => {
            let n: usize = k[4..]
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{file}:{no}: unknown header key {key:?}"))?;
            h.users.insert(n, value.to_string());
        }
        _ => bail!("{file}:{no}: unknown header key {key:?}"),
    }
    Ok(())
}

/// Parses a test file's bytes. `env` answers `!ifenv`.
pub fn parse(file: &str, name: &str, data: &[u8], env: &dyn Fn(&str) -> bool) -> Result<TestFile> {
    let lines = logical_lines(file, data, env)?;
    let mut header = Header::default();
    let mut idx = 0;
    // header: until the first blank line (or the first line that is not `key: value`)
    while idx < lines.len() {
        let l = &lines[idx];
        let s = String::from_utf8_lossy(&l.text).trim().to_string();
        if s.is_empty() {
            idx += 1;
            break;
        }
        if s.starts_with('#') {
            idx += 1;
            continue;
        }
        // `key: value` where key is one word (or `user N`); a command such as
        // `ok fetch 1:3 uid` is not a header line
        let looks = s.split_once(':').is_some_and(|(k, _)| {
            let k = k.trim();
            let one_word =
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let user_n = k.strip_prefix("user").is_some_and(|n| {
                !n.trim().is_empty() && n.trim().chars().all(|c| c.is_ascii_digit())
            });
            one_word || user_n
        });
        if !looks {
            break;
        }
        parse_header(file, l.no, &s, &mut header)?;
        idx += 1;
    }
    let body = &lines[idx..];
    let multi = header.connections > 1;
    let split_conn = |text: &[u8], no: usize| -> Result<(usize, Vec<u8>)> {
        let (w, rest) = words(text);
        if multi && !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = w.parse().unwrap_or(0);
            if n == 0 || n > header.connections {
                bail!(
                    "{file}:{no}: connection {w} out of range 1..{}",
                    header.connections
                );
            }
            return Ok((n - 1, rest.to_vec()));
        }
        Ok((0, text.trim_ascii_start().to_vec()))
    };
    // pre-split every body line
    let mut parsed: Vec<(usize, usize, Vec<u8>)> = Vec::new(); // (line no, conn, rest)
    for l in body {
        let t = l.text.trim_ascii_start();
        if t.is_empty() || t.starts_with(b"#") {
            continue;
        }
        if t.starts_with(b"* ") || t == b"*" || t.starts_with(b"! ") || t == b"!" {
            parsed.push((l.no, usize::MAX, t.to_vec()));
            continue;
        }
        let (c, rest) = split_conn(t, l.no)?;
        parsed.push((l.no, c, rest));
    }
    // a word W is a script tag when a later line on the same connection is `W ok|no|bad|""`
    let is_tag_at = |from: usize, conn: usize, w: &str| {
        parsed[from + 1..].iter().any(|(_, c, rest)| {
            *c == conn && {
                let (a, r) = words(rest);
                let (b, _) = words(r);
                a == w && Expect::from_word(&b).is_some()
            }
        })
    };
    let mut steps: Vec<Step> = Vec::new();
    // whether the last step still waits for status lines (forms 2 and 3)
    let mut open = false;
    for (k, (no, conn, rest)) in parsed.iter().enumerate() {
        let (no, conn) = (*no, *conn);
        if conn == usize::MAX {
            let Some(step) = steps.last_mut() else {
                bail!("{file}:{no}: untagged reply before any command");
            };
            let text = rest[2.min(rest.len())..].to_vec();
            let values = parse_line(&text)
                .map_err(|e| anyhow::anyhow!("{file}:{no}: malformed reply line: {}", e.reason))?;
            let u = Untagged {
                text,
                values,
                line: no,
            };
            if rest[0] == b'*' {
                step.expected.push(u)
            } else {
                step.banned.push(u)
            }
            continue;
        }
        let (w1, after1) = words(rest);
        if let Some(exp) = Expect::from_word(&w1) {
            // status line of a pending form-2 command?
            if open {
                if let Some(step) = steps.last_mut() {
                    if step.conn == conn {
                        if let Some(cmd) = step
                            .commands
                            .iter_mut()
                            .find(|c| c.tag.is_none() && c.expect.is_none())
                        {
                            cmd.expect = Some(exp);
                            cmd.prefix = after1.to_vec();
                            cmd.prefix_values = prefix_values(file, no, after1)?;
                            open = step.commands.iter().any(|c| c.expect.is_none());
                            continue;
                        }
                    }
                }
            }
            if after1.is_empty() {
                bail!(
                    "{file}:{no}: {} without a command (and no command waits for its reply)",
                    w1
                );
            }
            check_closed(file, &steps, open)?;
            open = false;
            steps.push(Step {
                conn,
                commands: vec![Command {
                    tag: None,
                    text: after1.to_vec(),
                    line: no,
                    expect: Some(exp),
                    prefix: vec![],
                    prefix_values: vec![],
                }],
                expected: vec![],
                banned: vec![],
            });
            continue;
        }
        let (w2, after2) = words(after1);
        // status line of a pending form-3 command
        if let Some(exp) = Expect::from_word(&w2) {
            if let Some(step) = steps.last_mut().filter(|s| s.conn == conn && open) {
                if let Some(cmd) = step
                    .commands
                    .iter_mut()
                    .find(|c| c.tag.as_deref() == Some(w1.as_str()) && c.expect.is_none())
                {
                    cmd.expect = Some(exp);
                    cmd.prefix = after2.to_vec();
                    cmd.prefix_values = prefix_values(file, no, after2)?;
                    open = step.commands.iter().any(|c| c.expect.is_none());
                    continue;
                }
            }
        }
        if is_tag_at(k, conn, &w1) && !after1.is_empty() {
            // form 3; consecutive tagged commands on one connection form one pipelined step
            let joinable = open
                && steps.last().is_some_and(|s| {
                    s.conn == conn
                        && s.expected.is_empty()
                        && s.banned.is_empty()
                        && s.commands
                            .iter()
                            .all(|c| c.tag.is_some() && c.expect.is_none())
                });
            if !joinable {
                check_closed(file, &steps, open)?;
                steps.push(Step {
                    conn,
                    commands: vec![],
                    expected: vec![],
                    banned: vec![],
                });
            }
            let step = steps.last_mut().expect("pushed above");
            if step
                .commands
                .iter()
                .any(|c| c.tag.as_deref() == Some(w1.as_str()))
            {
                bail!("{file}:{no}: tag {w1} used twice in one pipelined group");
            }
            step.commands.push(Command {
                tag: Some(w1.clone()),
                text: after1.to_vec(),
                line: no,
                expect: None,
                prefix: vec![],
                prefix_values: vec![],
            });
            open = true;
            continue;
        }
        // form 2
        check_closed(file, &steps, open)?;
        steps.push(Step {
            conn,
            commands: vec![Command {
                tag: None,
                text: rest.clone(),
                line: no,
                expect: None,
                prefix: vec![],
                prefix_values: vec![],
            }],
            expected: vec![],
            banned: vec![],
        });
        open = true;
    }
    check_closed(file, &steps, open)?;
    Ok(TestFile {
        name: name.to_string(),
        header,
        steps,
    })
}

fn prefix_values(file: &str, no: usize, prefix: &[u8]) -> Result<Vec<Value>> {
    let mut line = b"OK ".to_vec();
    line.extend_from_slice(prefix);
    let mut v = parse_line(&line)
        .map_err(|e| anyhow::anyhow!("{file}:{no}: malformed reply prefix: {}", e.reason))?;
    v.remove(0);
    Ok(v)
}

fn check_closed(file: &str, steps: &[Step], open: bool) -> Result<()> {
    if !open {
        return Ok(());
    }
    if let Some(cmd) = steps
        .last()
        .and_then(|s| s.commands.iter().find(|c| c.expect.is_none()))
    {
        bail!(
            "{file}:{}: command without its reply line (ok, no, bad or \"\")",
            cmd.line
        );
    }
    Ok(())
}

/// Reads and parses a test file from disk.
pub fn read(path: &Path) -> Result<TestFile> {
    let data = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse(&path.display().to_string(), &name, &data, &|v| {
        std::env::var_os(v).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<TestFile> {
        parse("t", "t", s.as_bytes(), &|v| v == "HAVE_FOO")
    }

    #[test]
    fn header_keys() {
        let t = p("capabilities: CHILDREN list-extended\nconnections: 2\nstate: auth\nmessages: 5\nignore_extra_untagged: no\nuser 2: other\n\n1 ok noop\n").unwrap();
        assert_eq!(t.header.capabilities, vec!["CHILDREN", "LIST-EXTENDED"]);
        assert_eq!(
            (t.header.connections, t.header.state, t.header.messages),
            (2, State::Auth, Some(5))
        );
        assert!(!t.header.ignore_extra_untagged);
        assert_eq!(t.header.users.get(&2).map(String::as_str), Some("other"));
        let c = p("ok fetch 1:3 uid\n* 1 fetch (uid $u)\n").unwrap();
        assert_eq!((c.header.clone(), c.steps.len()), (Header::default(), 1));
        let d = p("ok noop\n").unwrap();
        assert_eq!(d.header, Header::default());
        assert_eq!(d.steps.len(), 1);
    }

    #[test]
    fn three_command_forms() {
        let t = p("connections: 2\n\n1 ok select $mailbox\n* 0 exists\n\n2 examine $mailbox\n* 2 exists\n! 3 exists\n2 ok [read-only]\n\n1 tag1 status a (messages)\n1 tag2 status b (messages)\n* status a (messages 0)\n1 tag2 ok\n1 tag1 no [x]\n").unwrap();
        assert_eq!(t.steps.len(), 3);
        let s = &t.steps[0];
        assert_eq!(
            (s.conn, s.commands[0].expect, s.commands[0].text.as_slice()),
            (0, Some(Expect::Ok), &b"select $mailbox"[..])
        );
        assert_eq!(s.expected[0].text, b"0 exists");
        let s = &t.steps[1];
        assert_eq!(
            (
                s.conn,
                s.commands[0].expect,
                s.commands[0].prefix.as_slice()
            ),
            (1, Some(Expect::Ok), &b"[read-only]"[..])
        );
        assert_eq!(
            (s.expected.len(), s.banned.len(), s.banned[0].line),
            (1, 1, 8)
        );
        let s = &t.steps[2];
        assert_eq!(s.commands.len(), 2);
        assert_eq!(s.commands[0].tag.as_deref(), Some("tag1"));
        assert_eq!(
            (s.commands[0].expect, s.commands[0].prefix.as_slice()),
            (Some(Expect::No), &b"[x]"[..])
        );
        assert_eq!(s.commands[1].expect, Some(Expect::Ok));
        let any = p("\"\" delete x\n").unwrap();
        assert_eq!(any.steps[0].commands[0].expect, Some(Expect::Any));
    }

    #[test]
    fn literals_and_literal8() {
        let t = p("ok append $mailbox {{{\nFrom: a\n\nbody\n}}} ~{{{\nx\r\n}}}\n* 1 fetch (body[] {{{\na\n\n}}})\n").unwrap();
        let c = &t.steps[0].commands[0];
        // the line break before }}} ends the line, it is not data
        assert_eq!(
            c.text,
            b"append $mailbox {15}\r\nFrom: a\r\n\r\nbody ~{2}\r\nx\r"
        );
        assert_eq!(
            t.steps[0].expected[0].text,
            b"1 fetch (body[] {3}\r\na\r\n)"
        );
        let e = p("ok append x {{{\nabc\n").unwrap_err().to_string();
        assert!(e.starts_with("t:1: literal"), "{e}");
    }

    #[test]
    fn ifenv_blocks() {
        let t = p(
            "!ifenv HAVE_FOO\nok foo\n!else\nok bar\n!endif\n!ifnenv HAVE_FOO\nok baz\n!endif\n",
        )
        .unwrap();
        assert_eq!(t.steps.len(), 1);
        assert_eq!(t.steps[0].commands[0].text, b"foo");
        assert!(p("!ifenv X\nok a\n")
            .unwrap_err()
            .to_string()
            .starts_with("t:1:"));
        assert!(p("ok a\n!endif\n")
            .unwrap_err()
            .to_string()
            .starts_with("t:2:"));
        assert!(p("!else\n").is_err());
    }

    #[test]
    fn malformed_scripts_name_the_line() {
        for (s, want) in [
            ("state: maybe\n\nok noop\n", "t:1:"),
            ("colour: red\n\nok noop\n", "t:1:"),
            ("connections: x\n\n", "t:1:"),
            ("\n* 1 exists\n", "t:2:"),
            ("\nselect x\n* 1 exists\n", "t:2:"),
            ("\nok noop\n* 1 fetch (uid 1\n", "t:3:"),
            ("connections: 2\n\n3 ok noop\n", "t:3:"),
            ("\nok\n", "t:2:"),
        ] {
            let e = p(s).unwrap_err().to_string();
            assert!(e.starts_with(want), "{s:?}: {e}");
        }
    }
}

#[cfg(test)]
mod fuzz_regressions {
    /// Found by the `imaptest_script` fuzz target: this input made the parser loop forever.
    #[test]
    fn fuzz_timeout_9e0f219f() {
        let data: &[u8] = &[
            0x2c, 0xa, 0x22, 0x22, 0x9, 0x1, 0xc, 0xc, 0x20, 0xb, 0xb, 0xb, 0xc, 0xb, 0xc, 0xd,
            0xd, 0x86, 0xc, 0xc, 0x21, 0x20, 0x5b, 0x5f, 0x80, 0x0, 0xff, 0x36, 0x20, 0xf5, 0xd6,
            0x2a, 0xe5, 0xa1, 0xa, 0x0, 0xa, 0x21, 0x20, 0x21, 0x20, 0x27, 0xe5,
        ];
        let _ = super::parse("fuzz", "fuzz", data, &|_| false);
    }
}
