//! NNTP command parsing (RFC 3977, with RFC 977's and RFC 2980's forms): one client line in,
//! one [`Command`] or a [`ParseError`] out. Pure and total — any byte string gives an answer,
//! never a panic (the `nntp` fuzz target calls [`parse_command`]).
//!
//! Keywords are case-insensitive; arguments are separated by runs of spaces or tabs
//! (RFC 3977 §3.1). A Message-ID is `<...>`, 3 to 250 octets of printable ASCII without
//! `>` inside (RFC 3977 §3.6). A range is `n`, `n-` or `n-m` (§6.1.2.2).

/// The handler answers 500 for [`ParseError::Unknown`] and 501 for the others.
pub use crate::lineparse::ParseError;
use crate::lineparse::{printable, syntax, trim_end, truncate, utf8};

/// An article number range (inclusive); `hi == None` means "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: u64,
    pub hi: Option<u64>,
}

impl Range {
    pub fn contains(&self, n: u64) -> bool {
        n >= self.lo && self.hi.is_none_or(|h| n <= h)
    }
}

/// Which article a retrieval command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleRef {
    /// The current article of the selected group.
    Current,
    Number(u64),
    MessageId(String),
}

/// What OVER/XOVER/HDR/XHDR/XPAT/LISTGROUP apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Current,
    Range(Range),
    MessageId(String),
}

/// The part of an article a retrieval command wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Article,
    Head,
    Body,
    Stat,
}

/// `LIST` variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    Active(Option<String>),
    Newsgroups(Option<String>),
    ActiveTimes(Option<String>),
    OverviewFmt,
    Headers,
    DistribPats,
    /// A keyword we do not know; answered 501 by the handler, but parsed so the reply can
    /// name it.
    Other(String),
}

/// A point in time given to NEWGROUPS/NEWNEWS, as sent (two- or four-digit year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// The `GMT` argument was present (otherwise "server local time", which is UTC here).
    pub gmt: bool,
}

impl When {
    /// Seconds since the Unix epoch (UTC).
    pub fn unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One parsed NNTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capabilities,
    ModeReader,
    ModeStream,
    Group(String),
    /// `LISTGROUP [group [range]]`
    ListGroup {
        group: Option<String>,
        range: Option<Range>,
    },
    Retrieve(Part, ArticleRef),
    Next,
    Last,
    List(ListKind),
    /// `OVER`/`XOVER` (the flag says which, for reply wording)
    Over {
        target: Target,
        xover: bool,
    },
    /// `HDR`/`XHDR field [target]`
    Hdr {
        field: String,
        target: Target,
        xhdr: bool,
    },
    /// `XPAT field target pattern...` (the patterns joined with spaces, as INN does)
    Xpat {
        field: String,
        target: Target,
        pattern: String,
    },
    NewGroups {
        when: When,
        distributions: Option<String>,
    },
    NewNews {
        wildmat: String,
        when: When,
    },
    Post,
    Ihave(String),
    Date,
    AuthinfoUser(String),
    /// The password, byte for byte (the rest of the line).
    AuthinfoPass(Vec<u8>),
    StartTls,
    Help,
    Quit,
}

/// The longest line RFC 3977 allows for a command is 512 octets; the server enforces its own
/// limit, we only refuse absurd argument counts here.
const MAX_ARGS: usize = 64;

/// The keyword of a line, upper-cased (for transcripts and fault schedules).
pub fn keyword(line: &[u8]) -> Option<String> {
    let word = split_args(line).into_iter().next()?;
    Some(printable(word).to_ascii_uppercase())
}

/// Parse one command line (without its line end; a trailing CR is tolerated).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let line = trim_end(line);
    let args = split_args(line);
    let Some((word, rest)) = args.split_first() else {
        return Err(ParseError::Empty);
    };
    if args.len() > MAX_ARGS {
        return syntax("command", "too many arguments");
    }
    let kw = printable(word).to_ascii_uppercase();
    match kw.as_str() {
        "CAPABILITIES" => match rest {
            [] | [_] => Ok(Command::Capabilities),
            _ => syntax("CAPABILITIES", "at most one argument is allowed"),
        },
        "MODE" => match rest {
            [m] if m.eq_ignore_ascii_case(b"READER") => Ok(Command::ModeReader),
            [m] if m.eq_ignore_ascii_case(b"STREAM") => Ok(Command::ModeStream),
            _ => syntax("MODE", "usage: MODE READER"),
        },
        "GROUP" => match rest {
            [g] => Ok(Command::Group(group_name(g, "GROUP")?)),
            _ => syntax("GROUP", "usage: GROUP newsgroup"),
        },
        "LISTGROUP" => match rest {
            [] => Ok(Command::ListGroup {
                group: None,
                range: None,
            }),
            [g] => Ok(Command::ListGroup {
                group: Some(group_name(g, "LISTGROUP")?),
                range: None,
            }),
            [g, r] => Ok(Command::ListGroup {
                group: Some(group_name(g, "LISTGROUP")?),
                range: Some(range(r, "LISTGROUP")?),
            }),
            _ => syntax("LISTGROUP", "usage: LISTGROUP [newsgroup [range]]"),
        },
        "ARTICLE" => retrieve(Part::Article, rest, "ARTICLE"),
        "HEAD" => retrieve(Part::Head, rest, "HEAD"),
        "BODY" => retrieve(Part::Body, rest, "BODY"),
        "STAT" => retrieve(Part::Stat, rest, "STAT"),
        "NEXT" => no_args(rest, "NEXT", Command::Next),
        "LAST" => no_args(rest, "LAST", Command::Last),
        "LIST" => list(rest),
        "OVER" | "XOVER" => {
            let xover = kw == "XOVER";
            let name = if xover { "XOVER" } else { "OVER" };
            match rest {
                [] => Ok(Command::Over {
                    target: Target::Current,
                    xover,
                }),
                [t] => Ok(Command::Over {
                    target: target(t, name)?,
                    xover,
                }),
                _ => syntax(name, "at most one argument is allowed"),
            }
        }
        "HDR" | "XHDR" => {
            let xhdr = kw == "XHDR";
            let name = if xhdr { "XHDR" } else { "HDR" };
            match rest {
                [f] => Ok(Command::Hdr {
                    field: field(f, name)?,
                    target: Target::Current,
                    xhdr,
                }),
                [f, t] => Ok(Command::Hdr {
                    field: field(f, name)?,
                    target: target(t, name)?,
                    xhdr,
                }),
                _ => syntax(name, "usage: HDR field [range|message-id]"),
            }
        }
        "XPAT" => match rest {
            [f, t, pats @ ..] if !pats.is_empty() => {
                let pats: Result<Vec<&str>, _> = pats.iter().map(|p| utf8(p, "XPAT")).collect();
                Ok(Command::Xpat {
                    field: field(f, "XPAT")?,
                    target: target(t, "XPAT")?,
                    pattern: pats?.join(" "),
                })
            }
            _ => syntax("XPAT", "usage: XPAT header range|message-id pattern..."),
        },
        "NEWGROUPS" => match rest {
            [d, t, more @ ..] => {
                let (gmt, dist) = gmt_and_rest(more, "NEWGROUPS")?;
                Ok(Command::NewGroups {
                    when: when(d, t, gmt, "NEWGROUPS")?,
                    distributions: dist,
                })
            }
            _ => syntax("NEWGROUPS", "usage: NEWGROUPS date time [GMT]"),
        },
        "NEWNEWS" => match rest {
            [w, d, t, more @ ..] => {
                let (gmt, dist) = gmt_and_rest(more, "NEWNEWS")?;
                if dist.is_some() {
                    return syntax("NEWNEWS", "usage: NEWNEWS wildmat date time [GMT]");
                }
                Ok(Command::NewNews {
                    wildmat: utf8(w, "NEWNEWS")?.to_string(),
                    when: when(d, t, gmt, "NEWNEWS")?,
                })
            }
            _ => syntax("NEWNEWS", "usage: NEWNEWS wildmat date time [GMT]"),
        },
        "POST" => no_args(rest, "POST", Command::Post),
        "IHAVE" => match rest {
            [id] => Ok(Command::Ihave(message_id(id).ok_or(
                ParseError::Syntax {
                    keyword: "IHAVE",
                    reason: "invalid message-id",
                },
            )?)),
            _ => syntax("IHAVE", "usage: IHAVE message-id"),
        },
        "DATE" => no_args(rest, "DATE", Command::Date),
        "AUTHINFO" => authinfo(line, rest),
        "STARTTLS" => no_args(rest, "STARTTLS", Command::StartTls),
        "HELP" => Ok(Command::Help),
        "QUIT" => no_args(rest, "QUIT", Command::Quit),
        _ => Err(ParseError::Unknown(truncate(kw, 40))),
    }
}

fn split_args(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
        .collect()
}

fn no_args(rest: &[&[u8]], keyword: &'static str, c: Command) -> Result<Command, ParseError> {
    if rest.is_empty() {
        Ok(c)
    } else {
        syntax(keyword, "no arguments are allowed")
    }
}

fn retrieve(part: Part, rest: &[&[u8]], keyword: &'static str) -> Result<Command, ParseError> {
    match rest {
        [] => Ok(Command::Retrieve(part, ArticleRef::Current)),
        [a] if a.first() == Some(&b'<') => Ok(Command::Retrieve(
            part,
            ArticleRef::MessageId(message_id(a).ok_or(ParseError::Syntax {
                keyword,
                reason: "invalid message-id",
            })?),
        )),
        [a] => Ok(Command::Retrieve(
            part,
            ArticleRef::Number(number(a).ok_or(ParseError::Syntax {
                keyword,
                reason: "invalid article number",
            })?),
        )),
        _ => syntax(keyword, "at most one argument is allowed"),
    }
}

fn list(rest: &[&[u8]]) -> Result<Command, ParseError> {
    let Some((kind, args)) = rest.split_first() else {
        return Ok(Command::List(ListKind::Active(None)));
    };
    let kind = printable(kind).to_ascii_uppercase();
    let one_wildmat = |args: &[&[u8]]| -> Result<Option<String>, ParseError> {
        match args {
            [] => Ok(None),
            [w] => Ok(Some(utf8(w, "LIST")?.to_string())),
            _ => syntax("LIST", "at most one wildmat is allowed"),
        }
    };
    let none = |args: &[&[u8]], k: ListKind| -> Result<ListKind, ParseError> {
        if args.is_empty() {
            Ok(k)
        } else {
            syntax("LIST", "this keyword takes no argument")
        }
    };
    let k = match kind.as_str() {
        "ACTIVE" => ListKind::Active(one_wildmat(args)?),
        "NEWSGROUPS" => ListKind::Newsgroups(one_wildmat(args)?),
        "ACTIVE.TIMES" => ListKind::ActiveTimes(one_wildmat(args)?),
        "OVERVIEW.FMT" => none(args, ListKind::OverviewFmt)?,
        "DISTRIB.PATS" => none(args, ListKind::DistribPats)?,
        "HEADERS" => match args {
            [] => ListKind::Headers,
            [a] if a.eq_ignore_ascii_case(b"MSGID") || a.eq_ignore_ascii_case(b"RANGE") => {
                ListKind::Headers
            }
            _ => return syntax("LIST", "usage: LIST HEADERS [MSGID|RANGE]"),
        },
        _ => ListKind::Other(truncate(kind, 40)),
    };
    Ok(Command::List(k))
}

fn authinfo(line: &[u8], rest: &[&[u8]]) -> Result<Command, ParseError> {
    match rest {
        [sub, name] if sub.eq_ignore_ascii_case(b"USER") => {
            Ok(Command::AuthinfoUser(utf8(name, "AUTHINFO")?.to_string()))
        }
        [sub, ..] if sub.eq_ignore_ascii_case(b"PASS") && rest.len() >= 2 => {
            // The password is everything after "AUTHINFO PASS " (it may contain spaces).
            let after_sub = find_after_words(line, 2);
            Ok(Command::AuthinfoPass(after_sub.to_vec()))
        }
        [sub, ..] if sub.eq_ignore_ascii_case(b"USER") || sub.eq_ignore_ascii_case(b"PASS") => {
            syntax("AUTHINFO", "exactly one argument is required")
        }
        _ => syntax(
            "AUTHINFO",
            "usage: AUTHINFO USER name | AUTHINFO PASS password",
        ),
    }
}

/// The rest of `line` after its first `n` whitespace-separated words and the single
/// separator that follows them.
fn find_after_words(line: &[u8], n: usize) -> &[u8] {
    let mut i = 0;
    for _ in 0..n {
        while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
            i += 1;
        }
        while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
            i += 1;
        }
    }
    if i < line.len() {
        i += 1;
    }
    &line[i.min(line.len())..]
}

fn gmt_and_rest(
    more: &[&[u8]],
    keyword: &'static str,
) -> Result<(bool, Option<String>), ParseError> {
    match more {
        [] => Ok((false, None)),
        [g] if g.eq_ignore_ascii_case(b"GMT") => Ok((true, None)),
        [g, d] if g.eq_ignore_ascii_case(b"GMT") => Ok((true, Some(utf8(d, keyword)?.to_string()))),
        // RFC 977 allowed a distributions list without GMT.
        [d] if d.first() == Some(&b'<') => Ok((false, Some(utf8(d, keyword)?.to_string()))),
        _ => syntax(keyword, "usage: date time [GMT]"),
    }
}

fn when(d: &[u8], t: &[u8], gmt: bool, keyword: &'static str) -> Result<When, ParseError> {
    let bad = ParseError::Syntax {
        keyword,
        reason: "invalid date or time",
    };
    if !(d.len() == 6 || d.len() == 8) || t.len() != 6 || !d.iter().chain(t).all(u8::is_ascii_digit)
    {
        return Err(bad);
    }
    let num = |s: &[u8]| -> i32 { s.iter().fold(0i32, |a, b| a * 10 + i32::from(b - b'0')) };
    let (year, md) = if d.len() == 8 {
        (num(&d[..4]), &d[4..])
    } else {
        // RFC 3977 §7.3.2: a two-digit year is in the current century if not more than
        // 50 years ahead, else the previous one. We fix the pivot at 2000 (deterministic).
        let yy = num(&d[..2]);
        (if yy <= 50 { 2000 + yy } else { 1900 + yy }, &d[2..])
    };
    let month = num(&md[..2]);
    let day = num(&md[2..]);
    let (hour, minute, second) = (num(&t[..2]), num(&t[2..4]), num(&t[4..]));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad);
    }
    Ok(When {
        year,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        gmt,
    })
}

fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn range(s: &[u8], keyword: &'static str) -> Result<Range, ParseError> {
    let bad = ParseError::Syntax {
        keyword,
        reason: "invalid range",
    };
    match s.iter().position(|b| *b == b'-') {
        None => {
            let n = number(s).ok_or(bad)?;
            Ok(Range { lo: n, hi: Some(n) })
        }
        Some(i) => {
            let lo = number(&s[..i]).ok_or(bad.clone())?;
            let hi = &s[i + 1..];
            if hi.is_empty() {
                Ok(Range { lo, hi: None })
            } else {
                Ok(Range {
                    lo,
                    hi: Some(number(hi).ok_or(bad)?),
                })
            }
        }
    }
}

fn target(s: &[u8], keyword: &'static str) -> Result<Target, ParseError> {
    if s.first() == Some(&b'<') {
        message_id(s)
            .map(Target::MessageId)
            .ok_or(ParseError::Syntax {
                keyword,
                reason: "invalid message-id",
            })
    } else {
        range(s, keyword).map(Target::Range)
    }
}

/// A syntactically valid Message-ID (RFC 3977 §3.6), or `None`.
pub fn message_id(s: &[u8]) -> Option<String> {
    if s.len() < 3 || s.len() > 250 || s[0] != b'<' || s[s.len() - 1] != b'>' {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if inner
        .iter()
        .any(|b| !(0x21..=0x7e).contains(b) || *b == b'>')
    {
        return None;
    }
    Some(String::from_utf8_lossy(s).into_owned())
}

fn group_name(s: &[u8], keyword: &'static str) -> Result<String, ParseError> {
    let g = utf8(s, keyword)?;
    // RFC 3977 §4.1: printable, no wildmat specials, and not starting with a dot.
    if g.chars()
        .any(|c| c.is_control() || matches!(c, '*' | ',' | '?' | '[' | '\\' | ']' | '!'))
    {
        return syntax(keyword, "invalid newsgroup name");
    }
    Ok(g.to_string())
}

fn field(s: &[u8], keyword: &'static str) -> Result<String, ParseError> {
    if s.iter().all(|b| b.is_ascii_graphic() && *b != b':')
        || (s.first() == Some(&b':') && s.len() > 1)
    {
        Ok(String::from_utf8_lossy(s).into_owned())
    } else {
        syntax(keyword, "invalid header name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, ParseError> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn retrieval() {
        assert_eq!(
            p("ARTICLE"),
            Ok(Command::Retrieve(Part::Article, ArticleRef::Current))
        );
        assert_eq!(
            p("head 3000234"),
            Ok(Command::Retrieve(Part::Head, ArticleRef::Number(3000234)))
        );
        assert_eq!(
            p("BODY <45223423@example.com>"),
            Ok(Command::Retrieve(
                Part::Body,
                ArticleRef::MessageId("<45223423@example.com>".into())
            ))
        );
        assert!(p("STAT <a b>").is_err());
        assert!(p("STAT <>").is_err());
        assert!(p("STAT x1").is_err());
        assert!(p("STAT 1 2").is_err());
    }

    #[test]
    fn groups_and_ranges() {
        assert_eq!(p("GROUP misc.test"), Ok(Command::Group("misc.test".into())));
        assert!(p("GROUP").is_err());
        assert!(p("GROUP a*").is_err());
        assert_eq!(
            p("LISTGROUP misc.test 3000238-3000248"),
            Ok(Command::ListGroup {
                group: Some("misc.test".into()),
                range: Some(Range {
                    lo: 3000238,
                    hi: Some(3000248)
                })
            })
        );
        assert_eq!(
            p("XOVER 5-"),
            Ok(Command::Over {
                target: Target::Range(Range { lo: 5, hi: None }),
                xover: true
            })
        );
        assert_eq!(
            p("OVER 7"),
            Ok(Command::Over {
                target: Target::Range(Range { lo: 7, hi: Some(7) }),
                xover: false
            })
        );
        assert_eq!(
            p("OVER"),
            Ok(Command::Over {
                target: Target::Current,
                xover: false
            })
        );
        assert!(p("OVER 5-x").is_err());
        assert!(p("OVER -5").is_err());
        assert_eq!(
            p("HDR Subject <i.am.an.article@example.com>"),
            Ok(Command::Hdr {
                field: "Subject".into(),
                target: Target::MessageId("<i.am.an.article@example.com>".into()),
                xhdr: false
            })
        );
        assert_eq!(
            p("HDR :bytes 1-2"),
            Ok(Command::Hdr {
                field: ":bytes".into(),
                target: Target::Range(Range { lo: 1, hi: Some(2) }),
                xhdr: false
            })
        );
        assert_eq!(
            p("XPAT Subject 1- *foo* bar*"),
            Ok(Command::Xpat {
                field: "Subject".into(),
                target: Target::Range(Range { lo: 1, hi: None }),
                pattern: "*foo* bar*".into()
            })
        );
        assert!(p("XPAT Subject 1-").is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(p("LIST"), Ok(Command::List(ListKind::Active(None))));
        assert_eq!(
            p("list active comp.*"),
            Ok(Command::List(ListKind::Active(Some("comp.*".into()))))
        );
        assert_eq!(
            p("LIST NEWSGROUPS"),
            Ok(Command::List(ListKind::Newsgroups(None)))
        );
        assert_eq!(
            p("LIST OVERVIEW.FMT"),
            Ok(Command::List(ListKind::OverviewFmt))
        );
        assert_eq!(
            p("LIST FOO"),
            Ok(Command::List(ListKind::Other("FOO".into())))
        );
        assert!(p("LIST OVERVIEW.FMT x").is_err());
    }

    #[test]
    fn dates() {
        let Ok(Command::NewGroups { when, .. }) = p("NEWGROUPS 19990624 000000 GMT") else {
            panic!()
        };
        assert_eq!(
            (when.year, when.month, when.day, when.gmt),
            (1999, 6, 24, true)
        );
        assert_eq!(when.unix(), 930_182_400);
        let Ok(Command::NewNews { wildmat, when }) = p("NEWNEWS news.*,sci.* 990624 000000") else {
            panic!()
        };
        assert_eq!(wildmat, "news.*,sci.*");
        assert_eq!((when.year, when.gmt), (1999, false));
        let Ok(Command::NewGroups { when, .. }) = p("NEWGROUPS 200101 120000") else {
            panic!()
        };
        assert_eq!(when.year, 2020);
        assert!(p("NEWGROUPS 19991324 000000").is_err());
        assert!(p("NEWGROUPS 1999062 000000").is_err());
        assert!(p("NEWGROUPS 19990624 250000").is_err());
        assert!(p("NEWGROUPS 19990624 000000 XYZ").is_err());
    }

    #[test]
    fn others() {
        assert_eq!(p("MODE READER"), Ok(Command::ModeReader));
        assert_eq!(p("CAPABILITIES"), Ok(Command::Capabilities));
        assert_eq!(p("IHAVE <i@x>"), Ok(Command::Ihave("<i@x>".into())));
        assert_eq!(
            p("AUTHINFO USER fred"),
            Ok(Command::AuthinfoUser("fred".into()))
        );
        assert_eq!(
            p("AUTHINFO PASS two words"),
            Ok(Command::AuthinfoPass(b"two words".to_vec()))
        );
        assert!(p("AUTHINFO PASS").is_err());
        assert!(p("AUTHINFO SASL PLAIN").is_err());
        assert_eq!(p("DATE"), Ok(Command::Date));
        assert_eq!(p("POST"), Ok(Command::Post));
        assert_eq!(p("HELP"), Ok(Command::Help));
        assert_eq!(p("QUIT\r"), Ok(Command::Quit));
        assert_eq!(p("\tQUIT"), Ok(Command::Quit));
        assert_eq!(p(""), Err(ParseError::Empty));
        assert_eq!(
            parse_command(b"F\0O \xff"),
            Err(ParseError::Unknown("F?O".into()))
        );
        assert!(parse_command(b"GROUP \xff").is_err());
    }
}
