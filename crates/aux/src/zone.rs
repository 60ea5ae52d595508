//! Parser for fakens zone files (`dnszones/db.*`).
//!
//! The syntax is the one Exim's test suite uses, which is simpler than RFC 1035 master files:
//! one record per line, `;` or `#` start a comment line, and
//!
//! ```text
//! [PREFIX ...]NAME [TTL] [IN] TYPE DATA      a record for NAME
//! [PREFIX ...]     [TTL] [IN] TYPE DATA      (leading blank) another record for the last NAME
//! PASS ON NOT FOUND                          names missing from this zone go to the real DNS
//! ```
//!
//! NAME is absolute with a trailing dot, else relative to the zone's origin; `@` is the
//! origin and a leftmost `*` label makes a wildcard. The prefixes, each followed by one
//! space, are `DNSSEC` (the record counts as signed: the AD bit), `AA` (authoritative),
//! `NXDOMAIN` (the record is not returned and its name does not exist), `DELAY=ms`
//! (pause before answering with it) and `TTL=s` (default 3600). Types: A AAAA NS CNAME PTR
//! MX SRV SOA TXT SPF TLSA. Every line is checked, so a bad zone is reported with its file
//! and line instead of answering wrongly.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::dns_name::DnsName;

/// TTL of records without a `TTL=` prefix (fakens.c's DEFAULT_TTL).
pub const DEFAULT_TTL: u32 = 3600;

/// The record types fakens serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    A,
    Aaaa,
    Ns,
    Cname,
    Soa,
    Ptr,
    Mx,
    Txt,
    Srv,
    Tlsa,
    Spf,
}

impl RecordKind {
    /// Every kind, for help texts and tests.
    pub const ALL: [RecordKind; 11] = [
        RecordKind::A,
        RecordKind::Aaaa,
        RecordKind::Ns,
        RecordKind::Cname,
        RecordKind::Soa,
        RecordKind::Ptr,
        RecordKind::Mx,
        RecordKind::Txt,
        RecordKind::Srv,
        RecordKind::Tlsa,
        RecordKind::Spf,
    ];

    /// The mnemonic, as Exim passes it to fakens.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Ns => "NS",
            RecordKind::Cname => "CNAME",
            RecordKind::Soa => "SOA",
            RecordKind::Ptr => "PTR",
            RecordKind::Mx => "MX",
            RecordKind::Txt => "TXT",
            RecordKind::Srv => "SRV",
            RecordKind::Tlsa => "TLSA",
            RecordKind::Spf => "SPF",
        }
    }

    /// The wire type code.
    pub fn code(self) -> u16 {
        match self {
            RecordKind::A => 1,
            RecordKind::Ns => 2,
            RecordKind::Cname => 5,
            RecordKind::Soa => 6,
            RecordKind::Ptr => 12,
            RecordKind::Mx => 15,
            RecordKind::Txt => 16,
            RecordKind::Aaaa => 28,
            RecordKind::Srv => 33,
            RecordKind::Tlsa => 52,
            RecordKind::Spf => 99,
        }
    }

    /// Looks a mnemonic up, ignoring ASCII case.
    pub fn from_name(text: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().as_bytes().eq_ignore_ascii_case(text))
    }
}

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(DnsName),
    Cname(DnsName),
    Ptr(DnsName),
    Mx {
        preference: u16,
        exchange: DnsName,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: DnsName,
    },
    Soa {
        mname: DnsName,
        rname: DnsName,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        minimum: u32,
    },
    /// Character strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    /// Same layout as TXT, type 99.
    Spf(Vec<Vec<u8>>),
    Tlsa {
        usage: u8,
        selector: u8,
        matching: u8,
        data: Vec<u8>,
    },
}

impl RecordData {
    /// The type of this data.
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordData::A(_) => RecordKind::A,
            RecordData::Aaaa(_) => RecordKind::Aaaa,
            RecordData::Ns(_) => RecordKind::Ns,
            RecordData::Cname(_) => RecordKind::Cname,
            RecordData::Ptr(_) => RecordKind::Ptr,
            RecordData::Mx { .. } => RecordKind::Mx,
            RecordData::Srv { .. } => RecordKind::Srv,
            RecordData::Soa { .. } => RecordKind::Soa,
            RecordData::Txt(_) => RecordKind::Txt,
            RecordData::Spf(_) => RecordKind::Spf,
            RecordData::Tlsa { .. } => RecordKind::Tlsa,
        }
    }
}

/// What the prefixes of a line asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFlags {
    /// `DNSSEC`: the record is "signed"; an answer made only of such records gets AD.
    pub dnssec: bool,
    /// `AA`: an answer made only of such records gets AA (and the zone's NS records).
    pub aa: bool,
    /// `NXDOMAIN`: the record is never returned and does not make its name exist.
    pub nxdomain: bool,
    /// `DELAY=ms`: pause before answering with this record.
    pub delay_ms: u64,
    /// `TTL=s` (or a TTL field): the record's TTL.
    pub ttl: Option<u32>,
}

/// One record line of a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// 1-based line number in the file.
    pub line: usize,
    /// Absolute owner name, possibly a `*` wildcard.
    pub owner: DnsName,
    pub flags: LineFlags,
    pub data: RecordData,
}

impl ZoneRecord {
    /// The record's TTL, defaulted.
    pub fn ttl(&self) -> u32 {
        self.flags.ttl.unwrap_or(DEFAULT_TTL)
    }
}

/// A parsed zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFile {
    pub path: PathBuf,
    /// The zone's origin (derived from the file name by the caller).
    pub origin: DnsName,
    /// A `PASS ON NOT FOUND` line was present.
    pub pass_on_not_found: bool,
    pub records: Vec<ZoneRecord>,
}

/// A zone file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("cannot read zone file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl ZoneFile {
    /// Reads and parses a zone file whose origin is `origin`.
    pub fn load(path: &Path, origin: &DnsName) -> Result<Self, ZoneError> {
        let text = std::fs::read(path).map_err(|source| ZoneError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, origin, &text)
    }

    /// Parses zone-file text; `path` is only used in error messages.
    pub fn parse(path: &Path, origin: &DnsName, text: &[u8]) -> Result<Self, ZoneError> {
        let mut zone = ZoneFile {
            path: path.to_path_buf(),
            origin: origin.clone(),
            pass_on_not_found: false,
            records: Vec::new(),
        };
        let mut last_owner: Option<DnsName> = None;
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            let syntax = |message: String| ZoneError::Syntax {
                path: path.to_path_buf(),
                line,
                message,
            };
            match parse_line(raw, origin, last_owner.as_ref()).map_err(syntax)? {
                Line::Blank => {}
                Line::PassOnNotFound => zone.pass_on_not_found = true,
                Line::Record { owner, flags, data } => {
                    last_owner = Some(owner.clone());
                    zone.records.push(ZoneRecord {
                        line,
                        owner,
                        flags,
                        data,
                    });
                }
            }
        }
        Ok(zone)
    }
}

/// What one line holds.
enum Line {
    Blank,
    PassOnNotFound,
    Record {
        owner: DnsName,
        flags: LineFlags,
        data: RecordData,
    },
}

fn is_blank(b: u8) -> bool {
    b.is_ascii_whitespace()
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if is_blank(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_blank(*first) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Splits off the first blank-separated token: `(token, rest without leading blanks)`.
fn next_token(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s.iter().position(|&b| is_blank(b)).unwrap_or(s.len());
    (&s[..end], trim_start(&s[end..]))
}

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_line(raw: &[u8], origin: &DnsName, last_owner: Option<&DnsName>) -> Result<Line, String> {
    let line = trim_end(raw);
    let content = trim_start(line);
    if content.is_empty() || content.starts_with(b";") || content.starts_with(b"#") {
        return Ok(Line::Blank);
    }
    if content.starts_with(b"PASS ON NOT FOUND") {
        return Ok(Line::PassOnNotFound);
    }

    // Prefixes are only recognised at the very start of the line, in any order.
    let (flags, rest) = parse_prefixes(line)?;

    let (owner, rest) = if rest.first().is_some_and(|&b| is_blank(b)) {
        let owner = last_owner
            .ok_or("record without a name, and no earlier name to continue")?
            .clone();
        (owner, trim_start(rest))
    } else {
        let (token, rest) = next_token(rest);
        let owner =
            DnsName::parse_in_zone(token, origin).map_err(|e| format!("bad record name: {e}"))?;
        (owner, rest)
    };

    let mut flags = flags;
    let mut rest = rest;
    let (token, after) = next_token(rest);
    if !token.is_empty() && token.iter().all(u8::is_ascii_digit) {
        let ttl = parse_number::<u32>(token, "TTL")?;
        flags.ttl.get_or_insert(ttl);
        rest = after;
    }
    let (token, after) = next_token(rest);
    if token.eq_ignore_ascii_case(b"IN") {
        rest = after;
    }

    let (type_token, data) = next_token(rest);
    if type_token.is_empty() {
        return Err(format!("missing record type after name {owner}"));
    }
    let kind = RecordKind::from_name(type_token)
        .ok_or_else(|| format!("unknown record type {:?}", shown(type_token)))?;
    let data = parse_data(kind, data, origin)?;
    Ok(Line::Record { owner, flags, data })
}

/// Strips the `DNSSEC `, `AA `, `NXDOMAIN `, `DELAY=n ` and `TTL=n ` prefixes.
fn parse_prefixes(mut s: &[u8]) -> Result<(LineFlags, &[u8]), String> {
    let mut flags = LineFlags::default();
    loop {
        if let Some(rest) = s.strip_prefix(b"DNSSEC ") {
            flags.dnssec = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"NXDOMAIN ") {
            flags.nxdomain = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"AA ") {
            flags.aa = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"DELAY=") {
            let (value, rest) = prefix_number(rest, "DELAY=")?;
            flags.delay_ms = value.into();
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"TTL=") {
            let (value, rest) = prefix_number(rest, "TTL=")?;
            flags.ttl = Some(value);
            s = rest;
        } else {
            return Ok((flags, s));
        }
    }
}

/// The number after `DELAY=`/`TTL=`, which must be followed by one blank.
fn prefix_number<'a>(s: &'a [u8], what: &str) -> Result<(u32, &'a [u8]), String> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(format!("{what} must be followed by a number"));
    }
    let value = parse_number::<u32>(&s[..digits], what)?;
    match s.get(digits) {
        Some(&b) if is_blank(b) => Ok((value, &s[digits + 1..])),
        _ => Err(format!(
            "{what}{} must be followed by a blank and the record",
            shown(&s[..digits])
        )),
    }
}

fn parse_number<T: std::str::FromStr>(token: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(token)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad {what} {:?}: expected a number in range", shown(token)))
}

/// Splits DATA into exactly `n` blank-separated fields.
fn fields<'a>(
    data: &'a [u8],
    n: usize,
    kind: RecordKind,
    layout: &str,
) -> Result<Vec<&'a [u8]>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (token, after) = next_token(rest);
        out.push(token);
        rest = after;
    }
    if out.len() != n {
        return Err(format!(
            "{} record needs {layout}, found {:?}",
            kind.name(),
            shown(data)
        ));
    }
    Ok(out)
}

fn name_field(token: &[u8], origin: &DnsName, what: &str) -> Result<DnsName, String> {
    DnsName::parse_in_zone(token, origin).map_err(|e| format!("bad {what}: {e}"))
}

fn parse_data(kind: RecordKind, data: &[u8], origin: &DnsName) -> Result<RecordData, String> {
    if data.is_empty() {
        return Err(format!("{} record without data", kind.name()));
    }
    Ok(match kind {
        RecordKind::A => {
            let f = fields(data, 1, kind, "an IPv4 address")?;
            RecordData::A(parse_addr(f[0], "IPv4")?)
        }
        RecordKind::Aaaa => {
            let f = fields(data, 1, kind, "an IPv6 address")?;
            RecordData::Aaaa(parse_addr(f[0], "IPv6")?)
        }
        RecordKind::Ns | RecordKind::Cname | RecordKind::Ptr => {
            let f = fields(data, 1, kind, "one domain name")?;
            let name = name_field(f[0], origin, "target name")?;
            match kind {
                RecordKind::Ns => RecordData::Ns(name),
                RecordKind::Cname => RecordData::Cname(name),
                _ => RecordData::Ptr(name),
            }
        }
        RecordKind::Mx => {
            let f = fields(data, 2, kind, "a preference and a host name")?;
            RecordData::Mx {
                preference: parse_number(f[0], "MX preference")?,
                exchange: name_field(f[1], origin, "MX host name")?,
            }
        }
        RecordKind::Srv => {
            let f = fields(data, 4, kind, "priority, weight, port and target")?;
            RecordData::Srv {
                priority: parse_number(f[0], "SRV priority")?,
                weight: parse_number(f[1], "SRV weight")?,
                port: parse_number(f[2], "SRV port")?,
                target: name_field(f[3], origin, "SRV target")?,
            }
        }
        RecordKind::Soa => {
            let f = fields(
                data,
                7,
                kind,
                "primary server, mailbox, serial, refresh, retry, expire and minimum",
            )?;
            RecordData::Soa {
                mname: name_field(f[0], origin, "SOA primary server")?,
                // fakens.c writes the mailbox as given, never appending the origin.
                rname: DnsName::parse(f[1]).map_err(|e| format!("bad SOA mailbox: {e}"))?,
                serial: parse_number(f[2], "SOA serial")?,
                refresh: parse_number(f[3], "SOA refresh")?,
                retry: parse_number(f[4], "SOA retry")?,
                expire: parse_number(f[5], "SOA expire")?,
                minimum: parse_number(f[6], "SOA minimum")?,
            }
        }
        RecordKind::Txt => RecordData::Txt(parse_text(data)?),
        RecordKind::Spf => RecordData::Spf(parse_text(data)?),
        RecordKind::Tlsa => {
            let (usage, rest) = next_token(data);
            let (selector, rest) = next_token(rest);
            let (matching, rest) = next_token(rest);
            let hex: Vec<u8> = rest.iter().copied().filter(|&b| !is_blank(b)).collect();
            if hex.is_empty() {
                return Err("TLSA record needs usage, selector, matching type and hex data".into());
            }
            RecordData::Tlsa {
                usage: parse_number(usage, "TLSA usage")?,
                selector: parse_number(selector, "TLSA selector")?,
                matching: parse_number(matching, "TLSA matching type")?,
                data: parse_hex(&hex)?,
            }
        }
    })
}

fn parse_addr<T: std::str::FromStr>(token: &[u8], family: &str) -> Result<T, String> {
    std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad {family} address {:?}", shown(token)))
}

fn parse_hex(hex: &[u8]) -> Result<Vec<u8>, String> {
    if hex.len() & 1 == 1 {
        return Err("TLSA data has an odd number of hex digits".into());
    }
    hex.chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("bad hex digits {:?} in TLSA data", shown(pair)))
        })
        .collect()
}

/// TXT data: one or more `"quoted"` strings, or (as fakens.c allows) the bare rest of the
/// line as one string. Text is taken literally: a backslash stays a backslash, because the
/// suite relies on that for deliberately broken DKIM records. Strings longer than 255
/// bytes are split into 255-byte character-strings, as DNS requires.
fn parse_text(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut strings: Vec<&[u8]> = Vec::new();
    if data.first() == Some(&b'"') {
        let mut rest = data;
        while !rest.is_empty() {
            let inner = rest
                .strip_prefix(b"\"")
                .ok_or_else(|| format!("text outside quotes: {:?}", shown(rest)))?;
            let close = inner
                .iter()
                .position(|&b| b == b'"')
                .ok_or("unterminated quoted string")?;
            strings.push(&inner[..close]);
            rest = trim_start(&inner[close + 1..]);
        }
    } else {
        strings.push(data);
    }
    let mut out = Vec::new();
    for s in strings {
        if s.is_empty() {
            out.push(Vec::new());
        } else {
            out.extend(s.chunks(255).map(<[u8]>::to_vec));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> DnsName {
        DnsName::parse(b"test.ex").unwrap()
    }

    fn name(s: &str) -> DnsName {
        DnsName::parse(s.as_bytes()).unwrap()
    }

    fn parse(text: &str) -> Result<ZoneFile, ZoneError> {
        ZoneFile::parse(Path::new("dnszones/db.test.ex"), &origin(), text.as_bytes())
    }

    fn one(text: &str) -> ZoneRecord {
        let zone = parse(text).unwrap();
        assert_eq!(zone.records.len(), 1, "{text}");
        zone.records.into_iter().next().unwrap()
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn comments_blanks_and_pass_on() {
        let zone = parse("; comment\n\n   \n# hash comment\n  ; indented\n").unwrap();
        assert!(zone.records.is_empty());
        assert!(!zone.pass_on_not_found);
        let zone = parse("; x\n\nPASS ON NOT FOUND\n").unwrap();
        assert!(zone.pass_on_not_found);
    }

    #[test]
    fn names_relative_absolute_apex_and_wildcard() {
        assert_eq!(one("mx A 1.2.3.4").owner, name("mx.test.ex"));
        assert_eq!(one("test.ex. A 1.2.3.4").owner, name("test.ex"));
        assert_eq!(one("@ A 1.2.3.4").owner, name("test.ex"));
        assert_eq!(
            one("UpperCase A 1.2.3.4").owner.to_string(),
            "UpperCase.test.ex"
        );
        let w = one("*.250 PTR manyhome.test.ex.");
        assert!(w.owner.is_wildcard());
        assert_eq!(w.owner, name("*.250.test.ex"));
    }

    #[test]
    fn continuation_lines_reuse_the_last_name() {
        let zone = parse("other2 A 10.0.0.1\n       A 10.0.0.2\nDNSSEC   MX 2 x\n").unwrap();
        assert_eq!(zone.records.len(), 3);
        assert!(zone
            .records
            .iter()
            .all(|r| r.owner == name("other2.test.ex")));
        assert!(zone.records[2].flags.dnssec);
        assert_eq!(zone.records[1].line, 2);
        assert!(error("   A 1.2.3.4").contains("no earlier name"));
    }

    #[test]
    fn every_prefix() {
        let r = one("DNSSEC a-sec A 1.2.3.4");
        assert!(r.flags.dnssec && !r.flags.aa && !r.flags.nxdomain);
        assert_eq!(r.ttl(), DEFAULT_TTL);
        assert!(one("AA a-aa A 1.2.3.4").flags.aa);
        assert!(one("NXDOMAIN dontqualify. A 127.0.0.1").flags.nxdomain);
        assert_eq!(one("DELAY=500 delay500 A 1.2.3.4").flags.delay_ms, 500);
        assert_eq!(one("TTL=2 shorthost A 1.2.3.4").ttl(), 2);
        let r = one("DNSSEC NXDOMAIN TTL=7 DELAY=3 AA x A 1.2.3.4");
        assert_eq!(
            r.flags,
            LineFlags {
                dnssec: true,
                aa: true,
                nxdomain: true,
                delay_ms: 3,
                ttl: Some(7)
            }
        );
        assert_eq!(r.owner, name("x.test.ex"));
    }

    #[test]
    fn bad_prefixes() {
        assert!(error("DELAY=x a A 1.2.3.4").contains("DELAY= must be followed by a number"));
        assert!(error("TTL=5x a A 1.2.3.4").contains("TTL=5 must be followed by a blank"));
        assert!(error("TTL=99999999999 a A 1.2.3.4").contains("bad TTL="));
    }

    #[test]
    fn optional_ttl_and_class_fields() {
        let r = one("host 300 IN A 1.2.3.4");
        assert_eq!(r.ttl(), 300);
        assert_eq!(r.data, RecordData::A("1.2.3.4".parse().unwrap()));
        assert_eq!(one("host in a 1.2.3.4").data.kind(), RecordKind::A);
        // A purely numeric *name* is still a name.
        assert_eq!(one("46 A 1.2.3.4").owner, name("46.test.ex"));
    }

    #[test]
    fn every_record_type() {
        assert_eq!(
            one("x A 127.0.0.1").data,
            RecordData::A(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            one("x AAAA ff00:ffff:836f:0a00:000a:0800:200a:c031").data,
            RecordData::Aaaa("ff00:ffff:836f:a00:a:800:200a:c031".parse().unwrap())
        );
        assert_eq!(
            one("x AAAA ::1").data,
            RecordData::Aaaa(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(
            one("test.ex. NS exim.test.ex.").data,
            RecordData::Ns(name("exim.test.ex"))
        );
        assert_eq!(
            one("cname46 CNAME localhost").data,
            RecordData::Cname(name("localhost.test.ex"))
        );
        assert_eq!(
            one("ptr PTR data.for.ptr.test.ex.").data,
            RecordData::Ptr(name("data.for.ptr.test.ex"))
        );
        assert_eq!(one("dud PTR .").data, RecordData::Ptr(DnsName::root()));
        assert_eq!(
            one("mxcased MX  5  ten-99.TEST.EX.").data,
            RecordData::Mx {
                preference: 5,
                exchange: name("ten-99.TEST.EX")
            }
        );
        assert_eq!(
            one("_smtp._tcp.srv02 SRV 1 3 99 ten-1").data,
            RecordData::Srv {
                priority: 1,
                weight: 3,
                port: 99,
                target: name("ten-1.test.ex")
            }
        );
        assert_eq!(
            one("test.ex. SOA exim.test.ex. hostmaster.exim.test.ex 1430683638 1200 120 604800 3000").data,
            RecordData::Soa {
                mname: name("exim.test.ex"),
                rname: name("hostmaster.exim.test.ex"),
                serial: 1430683638,
                refresh: 1200,
                retry: 120,
                expire: 604800,
                minimum: 3000,
            }
        );
        assert_eq!(
            one("x TXT \"A TXT record\"").data,
            RecordData::Txt(vec![b"A TXT record".to_vec()])
        );
        assert_eq!(
            one("x SPF v=spf1 -all").data,
            RecordData::Spf(vec![b"v=spf1 -all".to_vec()])
        );
        assert_eq!(
            one("_1225._tcp.x TLSA 3 1 1 9177E577d2").data,
            RecordData::Tlsa {
                usage: 3,
                selector: 1,
                matching: 1,
                data: vec![0x91, 0x77, 0xe5, 0x77, 0xd2]
            }
        );
        // Every kind round-trips through its mnemonic.
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::from_name(kind.name().as_bytes()), Some(kind));
        }
    }

    #[test]
    fn txt_forms() {
        let txt = |s: &str| match one(&format!("x TXT {s}")).data {
            RecordData::Txt(v) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            txt("v=spf1 include:_spf.google.com ~all"),
            vec![b"v=spf1 include:_spf.google.com ~all".to_vec()]
        );
        assert_eq!(txt("\"a\" \"b c\""), vec![b"a".to_vec(), b"b c".to_vec()]);
        assert_eq!(txt("\"v=DKIM1\\; p=x\""), vec![br"v=DKIM1\; p=x".to_vec()]);
        assert_eq!(txt("\"\""), vec![Vec::<u8>::new()]);
        let long = "y".repeat(300);
        let parts = txt(&format!("\"{long}\""));
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![255, 45]
        );
        assert!(error("x TXT \"open").contains("unterminated"));
        assert!(error("x TXT \"a\" b").contains("text outside quotes"));
    }

    #[test]
    fn utf8_names_stay_raw() {
        let r = one("xn--1xa MX 0 mx.π.test.ex.");
        match r.data {
            RecordData::Mx { exchange, .. } => assert_eq!(exchange.labels()[1], "π".as_bytes()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = error("; ok\nx A 1.2.3.4\ny A 1.2.3\n");
        assert_eq!(e, "dnszones/db.test.ex:3: bad IPv4 address \"1.2.3\"");
        assert!(error("x AAAA 1.2.3.4").contains("bad IPv6 address"));
        assert!(error("x HINFO a b").contains("unknown record type \"HINFO\""));
        assert!(error("x").contains("missing record type"));
        assert!(error("x A").contains("A record without data"));
        assert!(error("x A 1.2.3.4 5.6.7.8").contains("A record needs an IPv4 address"));
        assert!(error("x MX 70000 y").contains("bad MX preference"));
        assert!(error("x MX 5").contains("MX record needs a preference and a host name"));
        assert!(error("x SRV 1 2 y z").contains("bad SRV port"));
        assert!(error("x SOA a b 1 2 3 4").contains("SOA record needs"));
        assert!(error("x TLSA 3 1 1 abc").contains("odd number"));
        assert!(error("x TLSA 3 1 1 zz").contains("bad hex digits"));
        assert!(error("x TLSA 300 1 1 ab").contains("bad TLSA usage"));
        assert!(error("x TLSA 3 1 1").contains("needs usage"));
        assert!(error("a..b A 1.2.3.4").contains("bad record name"));
        assert!(error("x CNAME a..b").contains("bad target name"));
    }

    #[test]
    fn crlf_and_trailing_blanks_are_ignored() {
        let r = one("x A 1.2.3.4  \r\n");
        assert_eq!(r.data, RecordData::A("1.2.3.4".parse().unwrap()));
    }
}
