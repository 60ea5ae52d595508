//! SMTP/LMTP command lines (RFC 5321 section 4.1, with the ESMTP parameters of RFC 1870
//! SIZE, 6152 8BITMIME, 3461 DSN, 6531 SMTPUTF8, 3030 CHUNKING, 4954 AUTH). Pure: a line
//! in, a [`Command`] or a [`SyntaxError`] out. Fuzzed ([`crate::smtp::fuzz_smtp_command`]).

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Lhlo(String),
    /// `MAIL FROM:<path> params`; the null path is the empty string.
    Mail {
        path: String,
        params: Vec<Param>,
    },
    Rcpt {
        path: String,
        params: Vec<Param>,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Vrfy(String),
    Expn(String),
    Help(String),
    Noop,
    Quit,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    /// A verb fakeserver does not know (upper-cased).
    Unknown(String),
}

/// An ESMTP parameter `KEY[=VALUE]`, key upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: Option<String>,
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.key, v),
            None => f.write_str(&self.key),
        }
    }
}

/// Why a line is not a valid command; the text goes into a 501 (or 500) reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("empty command")]
    Empty,
    #[error("command contains a NUL or control character")]
    Control,
    #[error("command is not valid UTF-8")]
    Utf8,
    #[error("{0}")]
    Args(&'static str),
}

impl SyntaxError {
    /// 500 (the command as a whole is unreadable) or 501 (bad arguments).
    pub fn code(&self) -> u16 {
        match self {
            SyntaxError::Args(_) => 501,
            _ => 500,
        }
    }
}

/// Parse one command line (without its CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, SyntaxError> {
    let text = std::str::from_utf8(line).map_err(|_| SyntaxError::Utf8)?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(SyntaxError::Control);
    }
    let text = text.trim_end_matches([' ', '\t']);
    if text.trim().is_empty() {
        return Err(SyntaxError::Empty);
    }
    let (verb, rest) = match text.find([' ', '\t']) {
        Some(i) => (&text[..i], text[i + 1..].trim_start()),
        None => (text, ""),
    };
    let verb_uc = verb.to_ascii_uppercase();
    let no_args = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(SyntaxError::Args("this command takes no arguments"))
        }
    };
    match verb_uc.as_str() {
        "HELO" | "EHLO" | "LHLO" => {
            let domain = one_word(rest)
                .ok_or(SyntaxError::Args("a domain or address literal is required"))?;
            Ok(match verb_uc.as_str() {
                "HELO" => Command::Helo(domain),
                "EHLO" => Command::Ehlo(domain),
                _ => Command::Lhlo(domain),
            })
        }
        "MAIL" => {
            let (path, params) = path_and_params(rest, "FROM:")?;
            Ok(Command::Mail { path, params })
        }
        "RCPT" => {
            let (path, params) = path_and_params(rest, "TO:")?;
            if path.is_empty() {
                return Err(SyntaxError::Args("the null path is not a recipient"));
            }
            Ok(Command::Rcpt { path, params })
        }
        "DATA" => no_args(Command::Data),
        "BDAT" => {
            let mut words = rest.split_ascii_whitespace();
            let size = words
                .next()
                .and_then(|w| {
                    if w.bytes().all(|b| b.is_ascii_digit()) {
                        w.parse().ok()
                    } else {
                        None
                    }
                })
                .ok_or(SyntaxError::Args("BDAT needs a chunk size"))?;
            let last = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(SyntaxError::Args("BDAT takes a size and an optional LAST")),
            };
            if words.next().is_some() {
                return Err(SyntaxError::Args("BDAT takes a size and an optional LAST"));
            }
            Ok(Command::Bdat { size, last })
        }
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "STARTTLS" => no_args(Command::StartTls),
        "VRFY" | "EXPN" => {
            if rest.is_empty() {
                return Err(SyntaxError::Args("an argument is required"));
            }
            Ok(if verb_uc == "VRFY" {
                Command::Vrfy(rest.to_string())
            } else {
                Command::Expn(rest.to_string())
            })
        }
        "HELP" => Ok(Command::Help(rest.to_string())),
        "AUTH" => {
            let mut words = rest.split_ascii_whitespace();
            let mechanism = words
                .next()
                .ok_or(SyntaxError::Args("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(SyntaxError::Args(
                    "AUTH takes a mechanism and an optional initial response",
                ));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => {
            if !verb
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(SyntaxError::Args("not a command"));
            }
            Ok(Command::Unknown(verb_uc))
        }
    }
}

fn one_word(s: &str) -> Option<String> {
    let mut w = s.split_ascii_whitespace();
    let first = w.next()?;
    // Some clients send "HELO name extra"; RFC 5321 allows only the domain, but servers are
    // lenient: keep the first word.
    Some(first.to_string())
}

/// `FROM:<path> KEY=VALUE ...` (a space after the colon and a path without brackets are
/// accepted, as most servers do).
fn path_and_params(rest: &str, prefix: &str) -> Result<(String, Vec<Param>), SyntaxError> {
    let head = rest.get(..prefix.len()).ok_or(SyntaxError::Args(
        "syntax: MAIL FROM:<address> / RCPT TO:<address>",
    ))?;
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(SyntaxError::Args(
            "syntax: MAIL FROM:<address> / RCPT TO:<address>",
        ));
    }
    let s = rest[prefix.len()..].trim_start();
    let (path, after) = if let Some(inner) = s.strip_prefix('<') {
        let end = closing_bracket(inner).ok_or(SyntaxError::Args("unbalanced <> in path"))?;
        (&inner[..end], &inner[end + 1..])
    } else {
        match s.find(' ') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    if !after.is_empty() && !after.starts_with(' ') {
        return Err(SyntaxError::Args("junk after the path"));
    }
    // A source route (@a,@b:user@c) is accepted and dropped (RFC 5321 4.1.2).
    let path = match path.strip_prefix('@') {
        Some(_) => path
            .split_once(':')
            .map(|(_, p)| p)
            .ok_or(SyntaxError::Args("bad source route"))?,
        None => path,
    };
    if path.contains([' ', '<', '>']) && !path.starts_with('"') {
        return Err(SyntaxError::Args("bad address"));
    }
    let mut params = Vec::new();
    for w in after.split_ascii_whitespace() {
        let (key, value) = match w.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (w, None),
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(SyntaxError::Args("bad parameter"));
        }
        params.push(Param {
            key: key.to_ascii_uppercase(),
            value,
        });
    }
    Ok((path.to_string(), params))
}

/// The index of the `>` closing a path, skipping quoted strings (`"a>b"@x`).
fn closing_bracket(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, SyntaxError> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn envelope_commands() {
        assert_eq!(
            p("MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME"),
            Ok(Command::Mail {
                path: "a@b.c".into(),
                params: vec![
                    Param {
                        key: "SIZE".into(),
                        value: Some("100".into())
                    },
                    Param {
                        key: "BODY".into(),
                        value: Some("8BITMIME".into())
                    }
                ]
            })
        );
        assert_eq!(
            p("mail from: <>"),
            Ok(Command::Mail {
                path: "".into(),
                params: vec![]
            })
        );
        assert_eq!(
            p("RCPT TO:<@relay:u@x> NOTIFY=SUCCESS,FAILURE"),
            Ok(Command::Rcpt {
                path: "u@x".into(),
                params: vec![Param {
                    key: "NOTIFY".into(),
                    value: Some("SUCCESS,FAILURE".into())
                }]
            })
        );
        assert_eq!(
            p("RCPT TO:<\"a>b\"@x>"),
            Ok(Command::Rcpt {
                path: "\"a>b\"@x".into(),
                params: vec![]
            })
        );
        assert!(p("RCPT TO:<>").is_err());
        assert!(p("MAIL FROM:<a@b").is_err());
        assert!(p("MAIL TO:<a@b>").is_err());
        assert!(p("MAIL FROM:<a@b>junk").is_err());
        assert_eq!(
            p("RCPT TO:<ü@x>"),
            Ok(Command::Rcpt {
                path: "ü@x".into(),
                params: vec![]
            })
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            p("EHLO client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert!(p("HELO").is_err());
        assert_eq!(
            p("BDAT 10 LAST"),
            Ok(Command::Bdat {
                size: 10,
                last: true
            })
        );
        assert_eq!(
            p("bdat 0"),
            Ok(Command::Bdat {
                size: 0,
                last: false
            })
        );
        assert!(p("BDAT -1").is_err());
        assert!(p("BDAT 1 MORE").is_err());
        assert_eq!(
            p("AUTH plain AHUAcA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AHUAcA==".into())
            })
        );
        assert_eq!(p("DATA"), Ok(Command::Data));
        assert!(p("DATA x").is_err());
        assert_eq!(p("XCLIENT A=B"), Ok(Command::Unknown("XCLIENT".into())));
        assert_eq!(p("NOOP whatever"), Ok(Command::Noop));
    }

    #[test]
    fn hostile_lines() {
        assert_eq!(p(""), Err(SyntaxError::Empty));
        assert_eq!(parse_command(b"EHLO a\0b"), Err(SyntaxError::Control));
        assert_eq!(parse_command(b"EHLO \xff"), Err(SyntaxError::Utf8));
        assert!(p("\u{1F600} x").is_err());
    }
}
