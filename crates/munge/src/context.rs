//! The facts of one run and one test that rules refer to as `{PLACEHOLDER}`s, and the
//! expansion of those placeholders inside rule patterns.

use std::collections::HashMap;

/// Facts of one run + one test. All plain values so that the runner can fill them in.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The path substituted for DIR (the workspace; absolute, no trailing `/`).
    pub dir: String,
    /// The suite root (== `dir` in serial runs).
    pub suite_dir: String,
    /// The fully qualified host name the tests see.
    pub hostname: String,
    pub hostipv4: Option<String>,
    pub hostipv6: Option<String>,
    pub caller: String,
    /// The caller's gecos name.
    pub caller_name: String,
    pub caller_uid: u32,
    pub caller_gid: u32,
    pub caller_group: String,
    pub exim_user: String,
    pub exim_uid: u32,
    pub exim_group: String,
    pub exim_gid: u32,
    pub testnum: u32,
    /// (actual, canonical) port pairs: actual listening ports of this workspace mapped back
    /// to the canonical values (PORT_D=1225, PORT_S=1224, ...) before any rule runs.
    pub ports: Vec<(u16, u16)>,
    /// The version printed by the binary, e.g. "4.96".
    pub exim_version: String,
    /// The port this test's PORT_DYNAMIC stood for (None: the test had none).
    pub port_dynamic: Option<u16>,
}

/// The placeholder names a rule pattern may use, with what each one stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("DIR", "the test workspace directory"),
    ("SUITE_DIR", "the suite root directory"),
    ("HOSTNAME", "the host's fully qualified name"),
    ("HOSTIPV4", "the host's IPv4 address"),
    (
        "HOSTIPV4R",
        "the host's IPv4 address reversed, as in in-addr.arpa names",
    ),
    ("HOSTIPV6", "the host's IPv6 address"),
    (
        "HOSTIPV6R",
        "the host's IPv6 address as reversed nibbles, as in ip6.arpa names",
    ),
    ("CALLER", "the login name of the caller"),
    (
        "CALLER_HOME",
        "the caller's home folder (looked up from the caller's login)",
    ),
    ("CALLER_NAME", "the caller's gecos name"),
    ("CALLER_UID", "the caller's uid"),
    ("CALLER_GID", "the caller's gid"),
    ("CALLER_GROUP", "the caller's group name"),
    ("EXIM_USER", "the exim user's name"),
    ("EXIM_UID", "the exim user's uid"),
    ("EXIM_GROUP", "the exim group's name"),
    ("EXIM_GID", "the exim group's gid"),
    ("TESTNUM", "the test number, four digits"),
    ("EXIM_VERSION", "the version the binary prints"),
    (
        "PORT_DYNAMIC",
        "the free port this test's PORT_DYNAMIC stood for",
    ),
];

impl Context {
    /// The raw (unescaped) value of every placeholder; absent or empty facts are left out,
    /// which disables the rules that need them.
    pub(crate) fn placeholder_values(&self) -> HashMap<&'static str, String> {
        let mut v: HashMap<&'static str, String> = HashMap::new();
        let mut put = |k: &'static str, s: String| {
            if !s.is_empty() {
                v.insert(k, s);
            }
        };
        put("DIR", self.dir.clone());
        put("SUITE_DIR", self.suite_dir.clone());
        put("HOSTNAME", self.hostname.clone());
        if let Some(ip) = &self.hostipv4 {
            put("HOSTIPV4", ip.clone());
            put("HOSTIPV4R", reverse_ipv4(ip));
        }
        if let Some(ip) = &self.hostipv6 {
            put("HOSTIPV6", ip.clone());
            put("HOSTIPV6R", reverse_ipv6(ip).unwrap_or_default());
        }
        put("CALLER", self.caller.clone());
        put("CALLER_HOME", home_of(&self.caller).unwrap_or_default());
        put("CALLER_NAME", self.caller_name.clone());
        put("CALLER_UID", self.caller_uid.to_string());
        put("CALLER_GID", self.caller_gid.to_string());
        put("CALLER_GROUP", self.caller_group.clone());
        put("EXIM_USER", self.exim_user.clone());
        put("EXIM_UID", self.exim_uid.to_string());
        put("EXIM_GROUP", self.exim_group.clone());
        put("EXIM_GID", self.exim_gid.to_string());
        put("TESTNUM", format!("{:04}", self.testnum));
        put("EXIM_VERSION", self.exim_version.clone());
        if let Some(p) = self.port_dynamic {
            put("PORT_DYNAMIC", p.to_string());
        }
        v
    }
}

/// The home folder of a login, from the passwd database. The runner's `Context` has no home
/// field, and Exim prints `$home` in several tests, so it is looked up here.
fn home_of(login: &str) -> Option<String> {
    if login.is_empty() {
        return None;
    }
    let user = nix::unistd::User::from_name(login).ok()??;
    let home = user.dir.to_string_lossy().into_owned();
    // A home of "/" would turn every slash into CALLER_HOME.
    (home.len() > 1).then_some(home)
}

/// `192.168.1.2` → `2.1.168.192`.
fn reverse_ipv4(ip: &str) -> String {
    ip.split('.').rev().collect::<Vec<_>>().join(".")
}

/// `2001:db8::1` → `1.0.0.0.…​.8.b.d.0.1.0.0.2` (32 nibbles, reversed, dot separated).
fn reverse_ipv6(ip: &str) -> Option<String> {
    let addr: std::net::Ipv6Addr = ip.parse().ok()?;
    let hex: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    Some(
        hex.chars()
            .rev()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// A piece of a rule pattern: literal regex text or a placeholder to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Regex(String),
    Placeholder(&'static str),
}

/// Splits a pattern into regex text and `{NAME}` placeholders. Only upper-case names are
/// placeholders, so regex repetitions such as `{2}` or `{1,3}` are left alone, and so is an
/// escaped `\{`.
pub(crate) fn split_placeholders(pattern: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < pattern.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < pattern.len() {
            // Copy the escape and the escaped char (which may be multi-byte) verbatim.
            let ch_len = pattern[i + 1..].chars().next().map_or(1, char::len_utf8);
            lit.push_str(&pattern[i..i + 1 + ch_len]);
            i += 1 + ch_len;
            continue;
        }
        if c == b'{' {
            let rest = &pattern[i + 1..];
            let name_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
                .count();
            if name_len > 0
                && rest.as_bytes().get(name_len) == Some(&b'}')
                && rest.as_bytes()[0].is_ascii_uppercase()
            {
                let name = &rest[..name_len];
                let known = PLACEHOLDERS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(n, _)| *n)
                    .ok_or_else(|| format!("unknown placeholder {{{name}}}"))?;
                if !lit.is_empty() {
                    pieces.push(Piece::Regex(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Placeholder(known));
                i += name_len + 2;
                continue;
            }
        }
        let ch_len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        lit.push_str(&pattern[i..i + ch_len]);
        i += ch_len;
    }
    if !lit.is_empty() {
        pieces.push(Piece::Regex(lit));
    }
    Ok(pieces)
}

/// Joins pieces back into a regex, filling placeholders with escaped values; `None` when a
/// needed value is unknown in this context.
pub(crate) fn fill(pieces: &[Piece], values: &HashMap<&'static str, String>) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Regex(s) => out.push_str(s),
            Piece::Placeholder(name) => out.push_str(&regex::escape(values.get(name)?)),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_split_but_repetitions_are_not() {
        let p = split_placeholders(r"x{2}\{DIR}{HOSTNAME}[a-z]{1,3}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Regex(r"x{2}\{DIR}".into()),
                Piece::Placeholder("HOSTNAME"),
                Piece::Regex("[a-z]{1,3}".into())
            ]
        );
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        assert!(split_placeholders("{HOSTNAM}")
            .unwrap_err()
            .contains("HOSTNAM"));
    }

    #[test]
    fn fill_escapes_and_reports_missing_values() {
        let ctx = Context {
            hostname: "a.b+c".into(),
            ..Default::default()
        };
        let vals = ctx.placeholder_values();
        let p = split_placeholders("^{HOSTNAME}$").unwrap();
        assert_eq!(fill(&p, &vals).unwrap(), r"^a\.b\+c$");
        let q = split_placeholders("{HOSTIPV6}").unwrap();
        assert_eq!(fill(&q, &vals), None);
    }

    #[test]
    fn caller_home_comes_from_passwd() {
        let ctx = Context {
            caller: "root".into(),
            ..Default::default()
        };
        assert_eq!(
            ctx.placeholder_values()
                .get("CALLER_HOME")
                .map(String::as_str),
            Some("/root")
        );
        let nobody = Context {
            caller: "no-such-user-xyzzy".into(),
            ..Default::default()
        };
        assert!(!nobody.placeholder_values().contains_key("CALLER_HOME"));
    }

    #[test]
    fn reversed_addresses() {
        assert_eq!(reverse_ipv4("10.1.2.3"), "3.2.1.10");
        let r = reverse_ipv6("2001:db8::1").unwrap();
        assert!(r.starts_with("1.0.0.0.0.0.0.0."));
        assert!(r.ends_with(".8.b.d.0.1.0.0.2"));
        assert_eq!(r.split('.').count(), 32);
    }
}
