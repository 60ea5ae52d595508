//! POP3 command parsing (RFC 1939, CAPA from RFC 2449, AUTH from RFC 5034, STLS from
//! RFC 2595): one client line in, one [`Command`] or a [`ParseError`] out. Pure and total: any
//! byte string gives an answer, never a panic (the `pop3` fuzz target calls [`parse_command`]).
//!
//! The keyword is case-insensitive; arguments are separated by single spaces (runs of spaces
//! are tolerated, as real servers do). `PASS` takes the rest of the line as the password, so a
//! password may contain spaces (RFC 1939 §7 allows this). Message numbers are decimal, at
//! least 1, and must fit in a `u32`.

pub use crate::lineparse::ParseError;
use crate::lineparse::{printable, syntax, trim_end, truncate, utf8};

/// The longest argument RFC 1939 allows is 40 octets; we accept more (clients send long
/// XOAUTH2 tokens with AUTH) but cap a single line's arguments here.
pub const MAX_ARG: usize = 16 * 1024;

/// One parsed POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    /// The password, byte for byte (it may contain spaces and need not be UTF-8).
    Pass(Vec<u8>),
    /// `APOP name digest`: the digest is 32 lowercase hex digits (normalised here).
    Apop {
        name: String,
        digest: String,
    },
    Stat,
    /// `LIST [msg]`
    List(Option<u32>),
    /// `UIDL [msg]`
    Uidl(Option<u32>),
    /// `TOP msg n`
    Top {
        msg: u32,
        lines: u32,
    },
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Quit,
    Capa,
    /// `AUTH` alone asks for the mechanism list (a common extension); `AUTH mech [ir]`
    /// starts an exchange, `ir` being the initial response as sent (base64 or `=`).
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Stls,
}

impl Command {
    /// The command's keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Top { .. } => "TOP",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Capa => "CAPA",
            Command::Auth { .. } => "AUTH",
            Command::Stls => "STLS",
        }
    }
}

/// The keyword of a line, upper-cased, if it has one (for transcripts and fault schedules).
pub fn keyword(line: &[u8]) -> Option<String> {
    let line = trim_end(line);
    let word = line.split(|b| *b == b' ').find(|w| !w.is_empty())?;
    Some(printable(word).to_ascii_uppercase())
}

/// Parse one command line (without its line end; a trailing CR is tolerated).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let line = trim_end(line);
    let (word, rest) = split_word(line);
    if word.is_empty() {
        return Err(ParseError::Empty);
    }
    let kw = printable(word).to_ascii_uppercase();
    match kw.as_str() {
        "USER" => {
            let args = args(rest, "USER")?;
            match args.as_slice() {
                [name] => Ok(Command::User(utf8(name, "USER")?.to_string())),
                [] => syntax("USER", "a mailbox name is required"),
                _ => syntax("USER", "exactly one argument is allowed"),
            }
        }
        "PASS" => {
            // Everything after the single separating space is the password.
            let pass = rest.strip_prefix(b" ").unwrap_or(rest);
            if pass.is_empty() {
                return syntax("PASS", "a password is required");
            }
            if pass.len() > MAX_ARG {
                return syntax("PASS", "argument too long");
            }
            Ok(Command::Pass(pass.to_vec()))
        }
        "APOP" => {
            let args = args(rest, "APOP")?;
            match args.as_slice() {
                [name, digest] => {
                    let digest = utf8(digest, "APOP")?;
                    if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return syntax("APOP", "the digest must be 32 hex digits");
                    }
                    Ok(Command::Apop {
                        name: utf8(name, "APOP")?.to_string(),
                        digest: digest.to_ascii_lowercase(),
                    })
                }
                _ => syntax("APOP", "usage: APOP name digest"),
            }
        }
        "STAT" => no_args(rest, "STAT", Command::Stat),
        "NOOP" => no_args(rest, "NOOP", Command::Noop),
        "RSET" => no_args(rest, "RSET", Command::Rset),
        "QUIT" => no_args(rest, "QUIT", Command::Quit),
        "CAPA" => no_args(rest, "CAPA", Command::Capa),
        "STLS" => no_args(rest, "STLS", Command::Stls),
        "LIST" => Ok(Command::List(optional_msg(rest, "LIST")?)),
        "UIDL" => Ok(Command::Uidl(optional_msg(rest, "UIDL")?)),
        "RETR" => Ok(Command::Retr(one_msg(rest, "RETR")?)),
        "DELE" => Ok(Command::Dele(one_msg(rest, "DELE")?)),
        "TOP" => {
            let args = args(rest, "TOP")?;
            match args.as_slice() {
                [msg, n] => Ok(Command::Top {
                    msg: msg_number(msg, "TOP")?,
                    lines: number(n).ok_or(ParseError::Syntax {
                        keyword: "TOP",
                        reason: "the line count must be a non-negative number",
                    })?,
                }),
                _ => syntax("TOP", "usage: TOP msg n"),
            }
        }
        "AUTH" => {
            let args = args(rest, "AUTH")?;
            match args.as_slice() {
                [] => Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
                [mech] => Ok(Command::Auth {
                    mechanism: Some(mechanism(mech)?),
                    initial: None,
                }),
                [mech, ir] => Ok(Command::Auth {
                    mechanism: Some(mechanism(mech)?),
                    initial: Some(utf8(ir, "AUTH")?.to_string()),
                }),
                _ => syntax("AUTH", "usage: AUTH mechanism [initial-response]"),
            }
        }
        _ => Err(ParseError::Unknown(truncate(kw, 40))),
    }
}

/// The first space-separated word and the rest (starting at the separator).
fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|b| *b == b' ') {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, &[]),
    }
}

fn args<'a>(rest: &'a [u8], keyword: &'static str) -> Result<Vec<&'a [u8]>, ParseError> {
    if rest.len() > MAX_ARG {
        return syntax(keyword, "argument too long");
    }
    Ok(rest
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .collect())
}

fn no_args(rest: &[u8], keyword: &'static str, c: Command) -> Result<Command, ParseError> {
    if rest.iter().all(|b| *b == b' ') {
        Ok(c)
    } else {
        syntax(keyword, "no arguments are allowed")
    }
}

fn optional_msg(rest: &[u8], keyword: &'static str) -> Result<Option<u32>, ParseError> {
    let args = args(rest, keyword)?;
    match args.as_slice() {
        [] => Ok(None),
        [m] => Ok(Some(msg_number(m, keyword)?)),
        _ => syntax(keyword, "at most one message number is allowed"),
    }
}

fn one_msg(rest: &[u8], keyword: &'static str) -> Result<u32, ParseError> {
    let args = args(rest, keyword)?;
    match args.as_slice() {
        [m] => msg_number(m, keyword),
        [] => syntax(keyword, "a message number is required"),
        _ => syntax(keyword, "exactly one message number is allowed"),
    }
}

fn number(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn msg_number(s: &[u8], keyword: &'static str) -> Result<u32, ParseError> {
    match number(s) {
        Some(n) if n >= 1 => Ok(n),
        _ => syntax(keyword, "invalid message number"),
    }
}

fn mechanism(s: &[u8]) -> Result<String, ParseError> {
    // RFC 4422: 1-20 of upper-case letters, digits, '-' and '_' (we upper-case for the client).
    if s.is_empty()
        || s.len() > 20
        || !s
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        return syntax("AUTH", "invalid mechanism name");
    }
    Ok(String::from_utf8_lossy(s).to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_commands() {
        assert_eq!(
            parse_command(b"user alice"),
            Ok(Command::User("alice".into()))
        );
        assert_eq!(
            parse_command(b"PASS my secret pw"),
            Ok(Command::Pass(b"my secret pw".to_vec()))
        );
        assert_eq!(parse_command(b"STAT"), Ok(Command::Stat));
        assert_eq!(parse_command(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse_command(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse_command(b"uidl 7\r"), Ok(Command::Uidl(Some(7))));
        assert_eq!(
            parse_command(b"TOP 1 0"),
            Ok(Command::Top { msg: 1, lines: 0 })
        );
        assert_eq!(parse_command(b"RETR 3"), Ok(Command::Retr(3)));
        assert_eq!(parse_command(b"DELE 1"), Ok(Command::Dele(1)));
        assert_eq!(parse_command(b"NOOP"), Ok(Command::Noop));
        assert_eq!(parse_command(b"RSET"), Ok(Command::Rset));
        assert_eq!(parse_command(b"QUIT"), Ok(Command::Quit));
        assert_eq!(
            parse_command(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
            Ok(Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            })
        );
    }

    #[test]
    fn extensions() {
        assert_eq!(parse_command(b"CAPA"), Ok(Command::Capa));
        assert_eq!(parse_command(b"STLS"), Ok(Command::Stls));
        assert_eq!(
            parse_command(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            parse_command(b"AUTH plain AGFsaWNlAHB3"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGFsaWNlAHB3".into())
            })
        );
        assert_eq!(
            parse_command(b"AUTH PLAIN ="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("=".into())
            })
        );
    }

    #[test]
    fn bad_arguments() {
        assert!(matches!(parse_command(b""), Err(ParseError::Empty)));
        assert!(matches!(parse_command(b"   "), Err(ParseError::Empty)));
        assert!(matches!(
            parse_command(b"RETR"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"RETR 0"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"RETR -1"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"RETR 99999999999"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"RETR 1 2"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"STAT x"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"TOP 1"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"APOP bob short"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"AUTH PL@IN"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"PASS"),
            Err(ParseError::Syntax { .. })
        ));
        assert!(matches!(
            parse_command(b"USER \xff\xfe"),
            Err(ParseError::Syntax { .. })
        ));
        assert_eq!(
            parse_command(b"XTND\0foo"),
            Err(ParseError::Unknown("XTND?FOO".into()))
        );
    }

    #[test]
    fn keyword_of_a_line() {
        assert_eq!(keyword(b"retr 1"), Some("RETR".into()));
        assert_eq!(keyword(b""), None);
    }
}
