//! The profile file of `profile=FILE` (the original's format, described in its docs/profile.md):
//! global `key = value` settings, `user [NAME] { … }` and `client [NAME] { … }` blocks, `#`
//! comment lines, Dovecot-style durations (`3 min`, `30s`, `0`) and percentages (`80%`).
//! Pure: text in, a validated [`Profile`] or a [`ParseError`] naming `file:line` out.
use std::fmt;
use std::time::Duration;

/// A problem in a profile file, with the line it is on (0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        }
    }
}

impl std::error::Error for ParseError {}

/// One piece of a `username_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePart {
    Text(String),
    /// The user's index number, left-filled to `width` with `fill`.
    Index {
        width: usize,
        fill: char,
    },
}

/// Where a user profile's names come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserNames {
    Format(Vec<NamePart>),
    File(String),
}

/// A `user { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub name: String,
    /// The line of its `user … {`.
    pub line: usize,
    pub names: UserNames,
    pub username_start_index: u32,
    /// Share of `total_user_count`, in %.
    pub count: u32,
    /// `None`: never.
    pub inbox_delivery_interval: Option<Duration>,
    pub spam_delivery_interval: Option<Duration>,
    pub action_delay: Duration,
    pub action_repeat_delay: Duration,
    /// `None`: the session lasts until the run ends.
    pub session_length: Option<Duration>,
    /// `None`: no outgoing mail.
    pub send_interval: Option<Duration>,
    pub write_duration: Duration,
    pub reply_pct: u32,
    pub delete_pct: u32,
    pub move_pct: u32,
    pub move_filter_pct: u32,
}

/// What a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// A `client { }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProfile {
    pub name: String,
    pub line: usize,
    /// Share of `total_user_count`, in %.
    pub count: u32,
    /// Parallel sessions of one user (0 counts as 1).
    pub connection_max_count: u32,
    pub protocol: Protocol,
    pub imap_idle: bool,
    pub imap_fetch_immediate: Option<String>,
    pub imap_fetch_manual: Option<String>,
    pub pop3_keep_mails: bool,
    /// Time between two logins of a user (0: log in again when a session ends).
    pub login_interval: Duration,
}

/// A whole profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub lmtp_port: Option<u16>,
    /// 0: unlimited.
    pub lmtp_max_parallel_count: u32,
    pub total_user_count: u32,
    pub rampup_time: Duration,
    pub users: Vec<UserProfile>,
    pub clients: Vec<ClientProfile>,
}

/// A Dovecot time setting: a number and an optional unit (seconds when none), e.g. `3 min`.
pub fn duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{v:?}: not a time (e.g. 30s, 3 min)"));
    }
    let n: u64 = v[..digits]
        .parse()
        .map_err(|_| format!("{v:?}: number too large"))?;
    let unit = v[digits..].trim().to_ascii_lowercase();
    let ms: u64 = match unit.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "w" | "week" | "weeks" => 604_800_000,
        _ => return Err(format!("{v:?}: unknown time unit {unit:?}")),
    };
    match n.checked_mul(ms) {
        Some(t) if t <= MAX_TIME_MS => Ok(Duration::from_millis(t)),
        _ => Err(format!("{v:?}: too long (at most 365 days)")),
    }
}

/// The longest time setting accepted (a year).
const MAX_TIME_MS: u64 = 365 * 86_400_000;
/// The most users a profile may ask for.
pub const MAX_USERS: u32 = 1_000_000;

/// A percentage, `50` or `50%`, at most 100.
pub fn percent(v: &str) -> Result<u32, String> {
    let t = v.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim();
    match t.parse::<u32>() {
        Ok(n) if n <= 100 => Ok(n),
        Ok(_) => Err(format!("{v:?}: a percentage is 0..100")),
        Err(_) => Err(format!("{v:?}: not a percentage (e.g. 50%)")),
    }
}

fn number<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| format!("{v:?}: not a number"))
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "1" | "true" | "on" => Ok(true),
        "no" | "n" | "0" | "false" | "off" => Ok(false),
        _ => Err(format!("{v:?}: expected yes or no")),
    }
}

/// An interval where 0 means "never".
fn interval(v: &str) -> Result<Option<Duration>, String> {
    duration(v).map(|d| (!d.is_zero()).then_some(d))
}

/// Parses a `username_format`: `%n`, `%{username_idx}`, `%{username_idx | lfill(3, '0')}`,
/// `%<fill><width>n` (e.g. `%03n`) and `%%`.
pub fn username_format(v: &str) -> Result<Vec<NamePart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = v;
    while let Some(p) = rest.find('%') {
        text.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let (part, used) = if let Some(a) = after.strip_prefix('%') {
            text.push('%');
            rest = a;
            continue;
        } else if let Some(a) = after.strip_prefix('{') {
            let end = a
                .find('}')
                .ok_or_else(|| format!("{v:?}: %{{ without a closing }}"))?;
            (brace_index(&a[..end], v)?, 1 + end + 1)
        } else {
            // %[<fill><width>]n
            let n = after.find('n').ok_or_else(|| {
                format!("{v:?}: unknown % sequence (use %n or %{{username_idx}})")
            })?;
            let spec = &after[..n];
            let part = match spec.chars().count() {
                0 => NamePart::Index {
                    width: 0,
                    fill: '0',
                },
                _ => {
                    let mut cs = spec.chars();
                    let first = cs.next().unwrap_or('0');
                    let (fill, width) = if first.is_ascii_digit() && first != '0' {
                        (' ', spec)
                    } else {
                        (first, cs.as_str())
                    };
                    let width: usize = width.parse().map_err(|_| {
                        format!("{v:?}: %{spec}n: expected a fill character and a width")
                    })?;
                    NamePart::Index { width, fill }
                }
            };
            (part, n + 1)
        };
        if !text.is_empty() {
            parts.push(NamePart::Text(std::mem::take(&mut text)));
        }
        parts.push(part);
        rest = &after[used..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(NamePart::Text(text));
    }
    if !parts.iter().any(|p| matches!(p, NamePart::Index { .. })) {
        return Err(format!(
            "{v:?}: no %n or %{{username_idx}} in it (every user would be the same)"
        ));
    }
    Ok(parts)
}

/// `username_idx` or `username_idx | lfill(N, 'c')`.
fn brace_index(inner: &str, whole: &str) -> Result<NamePart, String> {
    let mut it = inner.split('|').map(str::trim);
    if it.next() != Some("username_idx") {
        return Err(format!(
            "{whole:?}: %{{{inner}}}: only %{{username_idx}} is known"
        ));
    }
    let mut part = NamePart::Index {
        width: 0,
        fill: '0',
    };
    for filter in it {
        let args = filter
            .strip_prefix("lfill(")
            .and_then(|f| f.strip_suffix(')'))
            .ok_or_else(|| {
                format!("{whole:?}: unknown filter {filter:?} (lfill(N, 'c') is known)")
            })?;
        let (w, c) = args.split_once(',').unwrap_or((args, "'0'"));
        let width: usize = w
            .trim()
            .parse()
            .map_err(|_| format!("{whole:?}: lfill width {w:?} is not a number"))?;
        let c = c.trim().trim_matches(|q| q == '\'' || q == '"');
        let mut cs = c.chars();
        let fill = match (cs.next(), cs.next()) {
            (Some(f), None) => f,
            _ => return Err(format!("{whole:?}: lfill needs one fill character")),
        };
        part = NamePart::Index { width, fill };
    }
    Ok(part)
}

/// Expands a parsed `username_format` for index `n`.
pub fn username(parts: &[NamePart], n: u32) -> String {
    let mut s = String::new();
    for p in parts {
        match p {
            NamePart::Text(t) => s.push_str(t),
            NamePart::Index { width, fill } => {
                let d = n.to_string();
                for _ in d.len()..*width {
                    s.push(*fill);
                }
                s.push_str(&d);
            }
        }
    }
    s
}

#[derive(Default)]
struct RawUser {
    format: Option<Vec<NamePart>>,
    userfile: Option<String>,
    start: Option<u32>,
    count: Option<u32>,
}

enum Block {
    User(UserProfile, RawUser),
    Client(ClientProfile, bool),
}

fn new_user(name: String, line: usize) -> UserProfile {
    UserProfile {
        name,
        line,
        names: UserNames::Format(Vec::new()),
        username_start_index: 1,
        count: 0,
        inbox_delivery_interval: None,
        spam_delivery_interval: None,
        action_delay: Duration::ZERO,
        action_repeat_delay: Duration::ZERO,
        session_length: None,
        send_interval: None,
        write_duration: Duration::ZERO,
        reply_pct: 0,
        delete_pct: 0,
        move_pct: 0,
        move_filter_pct: 0,
    }
}

fn new_client(name: String, line: usize) -> ClientProfile {
    ClientProfile {
        name,
        line,
        count: 0,
        connection_max_count: 0,
        protocol: Protocol::Imap,
        imap_idle: false,
        imap_fetch_immediate: None,
        imap_fetch_manual: None,
        pop3_keep_mails: false,
        login_interval: Duration::ZERO,
    }
}

fn set_user(u: &mut UserProfile, raw: &mut RawUser, key: &str, v: &str) -> Result<(), String> {
    match key {
        "username_format" => raw.format = Some(username_format(v)?),
        "username_start_index" => raw.start = Some(number(v)?),
        "userfile" => raw.userfile = (!v.is_empty()).then(|| v.to_string()),
        "count" => raw.count = Some(percent(v)?),
        "mail_inbox_delivery_interval" => u.inbox_delivery_interval = interval(v)?,
        "mail_spam_delivery_interval" => u.spam_delivery_interval = interval(v)?,
        "mail_action_delay" => u.action_delay = duration(v)?,
        "mail_action_repeat_delay" => u.action_repeat_delay = duration(v)?,
        "mail_session_length" => u.session_length = interval(v)?,
        "mail_send_interval" => u.send_interval = interval(v)?,
        "mail_write_duration" => u.write_duration = duration(v)?,
        "mail_inbox_reply_percentage" => u.reply_pct = percent(v)?,
        "mail_inbox_delete_percentage" => u.delete_pct = percent(v)?,
        "mail_inbox_move_percentage" => u.move_pct = percent(v)?,
        "mail_inbox_move_filter_percentage" => u.move_filter_pct = percent(v)?,
        _ => return Err(format!("unknown setting {key:?} in a user block")),
    }
    Ok(())
}

fn set_client(
    c: &mut ClientProfile,
    has_count: &mut bool,
    key: &str,
    v: &str,
) -> Result<(), String> {
    let opt = |v: &str| (!v.is_empty()).then(|| v.to_string());
    match key {
        "count" => {
            c.count = percent(v)?;
            *has_count = true;
        }
        "connection_max_count" => c.connection_max_count = number(v)?,
        "protocol" => {
            c.protocol = match v.to_ascii_lowercase().as_str() {
                "imap" => Protocol::Imap,
                "pop3" => Protocol::Pop3,
                _ => return Err(format!("protocol = {v:?}: expected imap or pop3")),
            }
        }
        "imap_idle" => c.imap_idle = boolean(v)?,
        "imap_fetch_immediate" => c.imap_fetch_immediate = opt(v),
        "imap_fetch_manual" => c.imap_fetch_manual = opt(v),
        "pop3_keep_mails" => c.pop3_keep_mails = boolean(v)?,
        "login_interval" => c.login_interval = duration(v)?,
        _ => return Err(format!("unknown setting {key:?} in a client block")),
    }
    Ok(())
}

/// Removes one pair of surrounding double quotes.
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

/// Parses and checks a profile; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Profile, ParseError> {
    let err = |line: usize, msg: String| ParseError {
        file: file.to_string(),
        line,
        msg,
    };
    let mut p = Profile {
        lmtp_port: None,
        lmtp_max_parallel_count: 0,
        total_user_count: 0,
        rampup_time: Duration::ZERO,
        users: Vec::new(),
        clients: Vec::new(),
    };
    let mut total: Option<u32> = None;
    let mut block: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "}" {
            match block.take() {
                None => return Err(err(n, "'}' without an open block".into())),
                Some(Block::User(mut u, raw)) => {
                    u.count = raw.count.ok_or_else(|| {
                        err(u.line, format!("user {}: count is required", u.name))
                    })?;
                    u.names = match (raw.userfile, raw.format) {
                        (Some(f), _) => UserNames::File(f),
                        (None, Some(f)) => UserNames::Format(f),
                        (None, None) => {
                            return Err(err(
                                u.line,
                                format!("user {}: username_format or userfile is required", u.name),
                            ))
                        }
                    };
                    u.username_start_index = raw.start.unwrap_or(1);
                    p.users.push(u);
                }
                Some(Block::Client(c, has_count)) => {
                    if !has_count {
                        return Err(err(c.line, format!("client {}: count is required", c.name)));
                    }
                    p.clients.push(c);
                }
            }
            continue;
        }
        if let Some(head) = line.strip_suffix('{') {
            if block.is_some() {
                return Err(err(
                    n,
                    "blocks cannot be nested (a '}' is missing above)".into(),
                ));
            }
            let mut words = head.split_whitespace();
            let kind = words.next().unwrap_or("");
            let name = words.collect::<Vec<_>>().join(" ");
            block = Some(match kind {
                "user" => Block::User(new_user(name, n), RawUser::default()),
                "client" => Block::Client(new_client(name, n), false),
                _ => {
                    return Err(err(
                        n,
                        format!("unknown block {kind:?} (user {{ }} and client {{ }} are known)"),
                    ))
                }
            });
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(n, format!("expected key = value, got {line:?}")));
        };
        let key = key.trim();
        let value = unquote(value.trim());
        let res = match block.as_mut() {
            Some(Block::User(u, raw)) => set_user(u, raw, key, value),
            Some(Block::Client(c, has)) => set_client(c, has, key, value),
            None => match key {
                "lmtp_port" => number(value).map(|v| p.lmtp_port = Some(v)),
                "lmtp_max_parallel_count" => number(value).map(|v| p.lmtp_max_parallel_count = v),
                "total_user_count" => number(value).map(|v| total = Some(v)),
                "rampup_time" => duration(value).map(|v| p.rampup_time = v),
                _ => Err(format!("unknown global setting {key:?}")),
            },
        };
        res.map_err(|m| {
            if m.starts_with("unknown setting") || m.starts_with("unknown global setting") {
                err(n, m)
            } else {
                err(n, format!("{key}: {m}"))
            }
        })?;
    }
    if let Some(b) = block {
        let (kind, line) = match b {
            Block::User(u, _) => ("user", u.line),
            Block::Client(c, _) => ("client", c.line),
        };
        return Err(err(line, format!("{kind} block is not closed with '}}'")));
    }
    p.total_user_count = match total {
        Some(t) if t > MAX_USERS => {
            return Err(err(
                0,
                format!("total_user_count = {t}: at most {MAX_USERS} users"),
            ))
        }
        Some(t) if t > 0 => t,
        Some(_) => return Err(err(0, "total_user_count must be above 0".into())),
        None => return Err(err(0, "total_user_count is required".into())),
    };
    if p.users.is_empty() {
        return Err(err(0, "at least one user { } block is required".into()));
    }
    if p.clients.is_empty() {
        return Err(err(0, "at least one client { } block is required".into()));
    }
    let users: u32 = p.users.iter().map(|u| u.count).sum();
    if users != 100 {
        return Err(err(
            p.users[0].line,
            format!("the user blocks' counts add up to {users}%, not 100%"),
        ));
    }
    let clients: u32 = p.clients.iter().map(|c| c.count).sum();
    if clients != 100 {
        return Err(err(
            p.clients[0].line,
            format!("the client blocks' counts add up to {clients}%, not 100%"),
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = "lmtp_port = 24\ntotal_user_count = 10\nrampup_time = 1s\n\
        user a {\n  username_format = test%n\n  count = 100%\n  mail_inbox_delivery_interval = 10s\n}\n\
        client c {\n  count = 100%\n  protocol = pop3\n  pop3_keep_mails = yes\n  login_interval = 1min\n}\n";

    #[test]
    fn durations_and_percentages() {
        assert_eq!(duration("3 min"), Ok(Duration::from_secs(180)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("1min"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("250 ms"), Ok(Duration::from_millis(250)));
        assert!(duration("3 fortnights").is_err());
        assert!(duration("366 days").is_err());
        assert!(duration("18446744073709551615 w").is_err());
        assert!(duration("soon").is_err());
        assert_eq!(percent("80%"), Ok(80));
        assert_eq!(percent("5"), Ok(5));
        assert!(percent("101").is_err());
        assert!(percent("x%").is_err());
    }

    #[test]
    fn username_formats() {
        let f = username_format("test%n").unwrap();
        assert_eq!(username(&f, 7), "test7");
        let f = username_format("test%{username_idx}").unwrap();
        assert_eq!(username(&f, 12), "test12");
        let f = username_format("testuser_%{username_idx | lfill(3, '0')}@example.com").unwrap();
        assert_eq!(username(&f, 7), "testuser_007@example.com");
        assert_eq!(username(&f, 1234), "testuser_1234@example.com");
        let f = username_format("u%03n%%").unwrap();
        assert_eq!(username(&f, 5), "u005%");
        assert!(username_format("test").is_err());
        assert!(username_format("test%d").is_err());
        assert!(username_format("t%{user}").is_err());
        assert!(username_format("t%{username_idx | upper}").is_err());
    }

    #[test]
    fn a_small_profile() {
        let p = parse("p.conf", MINI).unwrap();
        assert_eq!(p.lmtp_port, Some(24));
        assert_eq!(p.total_user_count, 10);
        assert_eq!(p.rampup_time, Duration::from_secs(1));
        assert_eq!(
            p.users[0].inbox_delivery_interval,
            Some(Duration::from_secs(10))
        );
        assert_eq!(p.users[0].spam_delivery_interval, None);
        assert_eq!(p.users[0].username_start_index, 1);
        let c = &p.clients[0];
        assert_eq!((c.protocol, c.pop3_keep_mails), (Protocol::Pop3, true));
        assert_eq!(c.login_interval, Duration::from_secs(60));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = |t: &str| parse("p.conf", t).unwrap_err().to_string();
        assert_eq!(
            e(&MINI.replace("count = 100%\n  mail", "count = 100%\n  mial")),
            "p.conf:7: unknown setting \"mial_inbox_delivery_interval\" in a user block"
        );
        assert_eq!(
            e(&MINI.replace("1min", "1 fortnight")),
            "p.conf:13: login_interval: \"1 fortnight\": unknown time unit \"fortnight\""
        );
        assert!(e(&MINI.replace("protocol = pop3", "protocol = smtp")).starts_with("p.conf:11: "));
        assert!(e(&MINI.replace("}\nclient", "client"))
            .starts_with("p.conf:8: blocks cannot be nested"));
        assert!(
            e(&MINI.replace("login_interval = 1min\n}", "login_interval = 1min"))
                .starts_with("p.conf:9: client block is not closed")
        );
        assert!(
            e(&MINI.replace("count = 100%\n  protocol", "count = 90%\n  protocol"))
                .contains("add up to 90%")
        );
        assert_eq!(
            e(&MINI.replace("total_user_count = 10\n", "")),
            "p.conf: total_user_count is required"
        );
        assert!(e(&MINI.replace("= 10\n", "= 4000000000\n")).contains("at most 1000000 users"));
        assert!(e(&MINI.replace("  username_format = test%n\n", ""))
            .starts_with("p.conf:4: user a: username_format or userfile"));
        assert!(e("what is this\n").starts_with("p.conf:1: expected key = value"));
        assert!(e("}\n").starts_with("p.conf:1: '}' without"));
        assert!(e("mailbox x {\n}\n").starts_with("p.conf:1: unknown block"));
    }

    #[test]
    fn mutated_profiles_never_panic() {
        use rand::{Rng, SeedableRng};
        // a cheap stand-in for the fuzz target (fuzz/fuzz_targets/imaptest_profile.rs)
        let alphabet: Vec<char> = "%{}|'=#\n \t0123456789nmsx,()_lfill username_idx\"é"
            .chars()
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20_000 {
            let mut t: Vec<char> = MINI.chars().collect();
            for _ in 0..rng.gen_range(1..6) {
                let i = rng.gen_range(0..=t.len());
                match rng.gen_range(0..3) {
                    0 => t.insert(i, alphabet[rng.gen_range(0..alphabet.len())]),
                    1 if i < t.len() => {
                        t.remove(i);
                    }
                    _ if i < t.len() => t[i] = alphabet[rng.gen_range(0..alphabet.len())],
                    _ => {}
                }
            }
            let text: String = t.into_iter().collect();
            if let Err(e) = parse("m.conf", &text) {
                assert!(e.to_string().starts_with("m.conf"), "{e}");
            }
        }
    }
}
