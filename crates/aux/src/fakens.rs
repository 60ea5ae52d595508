//! fakens: answers one DNS question from the test suite's fake zone files.
//!
//! Exim in test-harness mode runs `DIR/bin/fakens DIR NAME TYPE` instead of asking the
//! resolver and reads a DNS reply packet from its stdout; the exit status is the resolver
//! outcome ([`Status`]). This module decides the answer (which records, which flags); the
//! packet itself is made by [`crate::dns_reply`]. Behaviour follows Exim's fakens.c:
//!
//! * special names: `manyhome.test.ex` (type A) has 2048 addresses in 10.250.104.0/21;
//!   any name ending in `test.again.dns` gives TRY_AGAIN after sleeping as many seconds as
//!   the digits it starts with; any name ending in `test.fail.dns` gives NO_RECOVERY;
//! * names outside every zone, and names missing from a zone with `PASS ON NOT FOUND`,
//!   give PASS_ON (Exim then asks the real resolver);
//! * records are scanned in file order; a CNAME for the name is always returned, and never
//!   chased: Exim follows it with a lookup of its own ("CNAME found: change to …");
//! * a record marked `NXDOMAIN` is never returned but its name exists: asked for its
//!   type, it gives NO_DATA (with its `DNSSEC`/`AA` flags), as fakens.c does;
//! * AD is set when every record that answered (CNAMEs included) is `DNSSEC`, AA when
//!   every one is `AA` — vacuously true when the name exists without data of that type;
//!   an AA answer carries the zone's NS records in the authority section;
//! * a negative answer (HOST_NOT_FOUND, NO_DATA) carries the zone's SOA in the authority
//!   section when the zone has one, which Exim 4.96 needs for its negative-cache TTL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dns_name::{DnsName, NameError};
use crate::zone::{RecordData, RecordKind, ZoneError, ZoneFile, DEFAULT_TTL};
use crate::zone_dir::{ZoneDir, ZoneEntry};

/// The outcome of a lookup; the discriminant is fakens's exit status (Exim's `h_errno`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Found = 0,
    HostNotFound = 1,
    TryAgain = 2,
    NoRecovery = 3,
    NoData = 4,
    PassOn = 5,
}

impl Status {
    /// The process exit status for this outcome.
    pub fn exit_code(self) -> u8 {
        self as u8
    }

    /// Whether Exim reads a reply packet for this outcome.
    pub fn has_packet(self) -> bool {
        matches!(self, Status::Found | Status::HostNotFound | Status::NoData)
    }
}

/// A resource record of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRecord {
    pub owner: DnsName,
    pub ttl: u32,
    pub data: RecordData,
}

/// Everything the reply packet says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// The name (lower-cased, qualified) and type asked; absent for the special names.
    pub question: Option<(DnsName, RecordKind)>,
    pub answers: Vec<ReplyRecord>,
    pub authority: Vec<ReplyRecord>,
    /// The AA header bit.
    pub authoritative: bool,
    /// The AD header bit.
    pub authentic_data: bool,
}

impl Reply {
    fn bare(status: Status) -> Self {
        Reply {
            status,
            question: None,
            answers: Vec::new(),
            authority: Vec::new(),
            authoritative: false,
            authentic_data: false,
        }
    }
}

/// Why fakens could not answer at all (exit status 3, NO_RECOVERY).
#[derive(Debug, thiserror::Error)]
pub enum FakensError {
    #[error("cannot list zone folder {}: {source}", dir.display())]
    ZoneDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error("unknown record type {0}")]
    UnknownType(String),
    #[error("bad domain name: {0}")]
    BadDomain(NameError),
}

/// Answers `domain`/`qtype` from the zones in `dir/dnszones`. `pause` is called for the
/// delays zone files and special names ask for (a parameter so tests need not sleep).
pub fn answer(
    dir: &Path,
    domain: &[u8],
    qtype: &[u8],
    pause: &mut dyn FnMut(Duration),
) -> Result<Reply, FakensError> {
    let zones_path = dir.join("dnszones");
    let zones = move || {
        ZoneDir::scan(&zones_path).map_err(|source| FakensError::ZoneDir {
            dir: zones_path.clone(),
            source,
        })
    };
    answer_from(
        zones,
        &mut |entry| ZoneFile::load(&entry.path, &entry.origin),
        domain,
        qtype,
        pause,
    )
}

/// The decision behind [`answer`], with the zone folder and files supplied by the caller:
/// `zones` lists the folder (called only for names that need a zone), `load` reads one
/// zone file.
pub fn answer_from(
    zones: impl FnOnce() -> Result<ZoneDir, FakensError>,
    load: &mut dyn FnMut(&ZoneEntry) -> Result<ZoneFile, ZoneError>,
    domain: &[u8],
    qtype: &[u8],
    pause: &mut dyn FnMut(Duration),
) -> Result<Reply, FakensError> {
    let domain = domain
        .strip_suffix(b".")
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let qtype = qtype.to_ascii_uppercase();

    if domain == b"manyhome.test.ex" && qtype == b"A" {
        return manyhome(&domain);
    }
    if domain.ends_with(b"test.again.dns") {
        let digits = domain.iter().take_while(|b| b.is_ascii_digit()).count();
        let seconds: u64 = std::str::from_utf8(&domain[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        if seconds > 0 {
            pause(Duration::from_secs(seconds));
        }
        return Ok(Reply::bare(Status::TryAgain));
    }
    if domain.ends_with(b"test.fail.dns") {
        return Ok(Reply::bare(Status::NoRecovery));
    }

    let name = DnsName::parse(&domain).map_err(FakensError::BadDomain)?;
    let zones = zones()?;
    let name = zones.qualified(name);
    let Some(entry) = zones.zone_for(&name) else {
        return Ok(Reply::bare(Status::PassOn));
    };
    let kind = RecordKind::from_name(&qtype)
        .ok_or_else(|| FakensError::UnknownType(String::from_utf8_lossy(&qtype).into_owned()))?;
    let zone = load(entry)?;
    Ok(lookup(&zone, &name, kind, pause))
}

/// Answers a question from one parsed zone.
pub fn lookup(
    zone: &ZoneFile,
    name: &DnsName,
    kind: RecordKind,
    pause: &mut dyn FnMut(Duration),
) -> Reply {
    let found = search(zone, name, kind, pause);
    let mut reply = Reply {
        status: found.status,
        question: Some((name.clone(), kind)),
        answers: found.answers,
        authority: Vec::new(),
        authoritative: found.aa,
        authentic_data: found.ad,
    };
    match reply.status {
        Status::Found if reply.authoritative => {
            reply.authority = apex_records(zone, RecordKind::Ns);
        }
        Status::HostNotFound | Status::NoData => {
            reply.authority = apex_records(zone, RecordKind::Soa)
                .into_iter()
                .take(1)
                .collect();
        }
        _ => {}
    }
    if reply.status == Status::HostNotFound && zone.pass_on_not_found {
        reply = Reply::bare(Status::PassOn);
    }
    reply
}

struct Search {
    status: Status,
    answers: Vec<ReplyRecord>,
    ad: bool,
    aa: bool,
}

fn search(
    zone: &ZoneFile,
    name: &DnsName,
    kind: RecordKind,
    pause: &mut dyn FnMut(Duration),
) -> Search {
    let mut out = Search {
        status: Status::HostNotFound,
        answers: Vec::new(),
        ad: false,
        aa: false,
    };
    for record in zone.records.iter().filter(|r| r.owner.covers(name)) {
        // The name exists (an NXDOMAIN line too: its data is hidden, not the name), so
        // the flags start true and each answering record may cancel them.
        if out.status == Status::HostNotFound {
            out.status = Status::NoData;
            out.ad = true;
            out.aa = true;
        }
        let record_kind = record.data.kind();
        if record_kind != RecordKind::Cname && record_kind != kind {
            continue;
        }
        if record.flags.delay_ms > 0 {
            pause(Duration::from_millis(record.flags.delay_ms));
        }
        out.ad &= record.flags.dnssec;
        out.aa &= record.flags.aa;
        if record.flags.nxdomain {
            continue;
        }
        out.status = Status::Found;
        // A wildcard answers with the name asked; others with the name as written.
        let owner = if record.owner.is_wildcard() {
            name.clone()
        } else {
            record.owner.clone()
        };
        out.answers.push(ReplyRecord {
            owner,
            ttl: record.ttl(),
            data: record.data.clone(),
        });
    }
    out
}

/// The records of `kind` owned by the zone's origin.
fn apex_records(zone: &ZoneFile, kind: RecordKind) -> Vec<ReplyRecord> {
    zone.records
        .iter()
        .filter(|r| r.data.kind() == kind && r.owner.same_as(&zone.origin))
        .map(|r| ReplyRecord {
            owner: r.owner.clone(),
            ttl: r.ttl(),
            data: r.data.clone(),
        })
        .collect()
}

/// `manyhome.test.ex`: 2048 A records, 10.250.104.0 to 10.250.111.255 in that order
/// (Exim shuffles them with its fixed test-harness random seed, so the order matters),
/// 65548 bytes of which Exim reads the first 65535: 2047 whole records.
fn manyhome(domain: &[u8]) -> Result<Reply, FakensError> {
    let owner = DnsName::parse(domain).map_err(FakensError::BadDomain)?;
    let answers = (104u8..=111)
        .flat_map(|third| (0u8..=255).map(move |fourth| [10, 250, third, fourth]))
        .map(|octets| ReplyRecord {
            owner: owner.clone(),
            ttl: DEFAULT_TTL,
            data: RecordData::A(octets.into()),
        })
        .collect();
    Ok(Reply {
        status: Status::Found,
        // fakens.c wrote no question here; with one, two fewer records would fit the
        // 65535 bytes Exim reads, and test 0020's saved output lists the 2047th address.
        question: None,
        answers,
        authority: Vec::new(),
        authoritative: false,
        authentic_data: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const ZONE: &str = "\
; test zone
test.ex.     NS      exim.test.ex.
test.ex.     SOA     exim.test.ex. hostmaster.exim.test.ex 1430683638 1200 120 604800 3000
UpperCase    A       127.0.0.1
other2       A       10.12.3.1
             A       10.12.3.2
46           A       10.0.0.4
             AAAA    ff00::4
cname46      CNAME   46
chain1       CNAME   chain2
chain2       CNAME   46.test.ex.
loop1        CNAME   loop2
loop2        CNAME   loop1
outside      CNAME   test.again.dns.
*.wild       A       10.9.9.9
TTL=2 shorthost A    127.0.0.1
DNSSEC mx-sec-a-sec     MX 5 a-sec
DNSSEC a-sec   A 10.0.0.100
a-unsec        A 10.0.0.100
DNSSEC mx-sec-a-unsec   MX 5 a-unsec
DNSSEC secchain   CNAME  a-sec
insecchain        CNAME  a-sec
AA a-aa        A 10.0.0.100
DNSSEC NXDOMAIN _25._tcp.gone TLSA 2 0 1 abcd
NXDOMAIN nx    A 1.2.3.4
DELAY=500 delay500   A 127.0.0.1
";

    fn zone() -> ZoneFile {
        let origin = DnsName::parse(b"test.ex").unwrap();
        ZoneFile::parse(Path::new("db.test.ex"), &origin, ZONE.as_bytes()).unwrap()
    }

    fn ask(name: &str, kind: RecordKind) -> Reply {
        let mut pauses = Vec::new();
        let reply = ask_paused(name, kind, &mut pauses);
        assert!(pauses.is_empty(), "unexpected pauses {pauses:?}");
        reply
    }

    fn ask_paused(name: &str, kind: RecordKind, pauses: &mut Vec<Duration>) -> Reply {
        let name = DnsName::parse(name.as_bytes()).unwrap();
        lookup(&zone(), &name, kind, &mut |d| pauses.push(d))
    }

    fn owners(records: &[ReplyRecord]) -> Vec<String> {
        records.iter().map(|r| r.owner.to_string()).collect()
    }

    #[test]
    fn found_keeps_written_case_and_order() {
        let r = ask("uppercase.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::Found);
        assert_eq!(owners(&r.answers), ["UpperCase.test.ex"]);
        let r = ask("other2.test.ex", RecordKind::A);
        let addrs: Vec<_> = r.answers.iter().map(|a| a.data.clone()).collect();
        assert_eq!(
            addrs,
            [
                RecordData::A(Ipv4Addr::new(10, 12, 3, 1)),
                RecordData::A(Ipv4Addr::new(10, 12, 3, 2))
            ]
        );
        assert!(r.authority.is_empty());
        assert!(!r.authentic_data && !r.authoritative);
        assert_eq!(ask("shorthost.test.ex", RecordKind::A).answers[0].ttl, 2);
        assert_eq!(r.answers[0].ttl, DEFAULT_TTL);
    }

    #[test]
    fn no_data_and_not_found_carry_the_soa() {
        let r = ask("46.test.ex", RecordKind::Mx);
        assert_eq!(r.status, Status::NoData);
        assert!(r.answers.is_empty());
        assert_eq!(r.authority.len(), 1);
        assert_eq!(r.authority[0].data.kind(), RecordKind::Soa);
        // fakens.c: the flags start true when the name matches and nothing cancels them.
        assert!(r.authentic_data && r.authoritative);

        let r = ask("nonexist.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::HostNotFound);
        assert_eq!(r.authority.len(), 1);
        assert!(!r.authentic_data && !r.authoritative);
    }

    #[test]
    fn cnames_are_returned_not_chased() {
        // Only the CNAME: Exim looks its target up itself.
        let r = ask("cname46.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::Found);
        assert_eq!(owners(&r.answers), ["cname46.test.ex"]);
        assert_eq!(r.answers[0].data.kind(), RecordKind::Cname);

        let r = ask("chain1.test.ex", RecordKind::Aaaa);
        assert_eq!(owners(&r.answers), ["chain1.test.ex"]);

        // A loop is the client's problem; each answer is one record.
        assert_eq!(ask("loop1.test.ex", RecordKind::A).answers.len(), 1);

        // A CNAME pointing out of the zone is an answer too.
        let r = ask("outside.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::Found);
        assert_eq!(r.answers.len(), 1);

        // Asking for the CNAME itself returns it.
        let r = ask("cname46.test.ex", RecordKind::Cname);
        assert_eq!(owners(&r.answers), ["cname46.test.ex"]);
    }

    #[test]
    fn wildcards_answer_with_the_asked_name() {
        let r = ask("a.b.wild.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::Found);
        assert_eq!(owners(&r.answers), ["a.b.wild.test.ex"]);
        assert_eq!(
            ask("wild.test.ex", RecordKind::A).status,
            Status::HostNotFound
        );
    }

    #[test]
    fn dnssec_flag_needs_every_answering_record() {
        assert!(ask("mx-sec-a-sec.test.ex", RecordKind::Mx).authentic_data);
        assert!(ask("a-sec.test.ex", RecordKind::A).authentic_data);
        assert!(!ask("a-unsec.test.ex", RecordKind::A).authentic_data);
        assert!(ask("secchain.test.ex", RecordKind::A).authentic_data);
        // An unsigned CNAME spoils a signed target.
        assert!(!ask("insecchain.test.ex", RecordKind::A).authentic_data);
    }

    #[test]
    fn aa_flag_brings_the_ns_records() {
        let r = ask("a-aa.test.ex", RecordKind::A);
        assert!(r.authoritative);
        assert_eq!(r.authority.len(), 1);
        assert_eq!(r.authority[0].data.kind(), RecordKind::Ns);
        assert!(!ask("a-sec.test.ex", RecordKind::A).authoritative);
    }

    #[test]
    fn nxdomain_lines_hide_the_data_not_the_name() {
        let r = ask("_25._tcp.gone.test.ex", RecordKind::Tlsa);
        assert_eq!(r.status, Status::NoData);
        assert!(r.answers.is_empty());
        assert!(
            r.authentic_data,
            "a DNSSEC NXDOMAIN line gives a signed denial"
        );
        assert_eq!(
            r.authority.len(),
            1,
            "the SOA, as for every negative answer"
        );
        let r = ask("nx.test.ex", RecordKind::A);
        assert_eq!(r.status, Status::NoData);
        assert!(!r.authentic_data);
        assert_eq!(ask("nx.test.ex", RecordKind::Mx).status, Status::NoData);
        // A name no line owns is still HOST_NOT_FOUND.
        assert_eq!(
            ask("nothere.test.ex", RecordKind::A).status,
            Status::HostNotFound
        );
    }

    #[test]
    fn single_label_zone_with_an_nxdomain_line_gives_no_data() {
        // Exim's db.dontqualify: the name is not qualified, its zone holds only an
        // NXDOMAIN line, and an MX pointing at it finds "NO_DATA" (test 0469).
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("dnszones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(zones.join("qualify.test.ex"), "").unwrap();
        std::fs::write(
            zones.join("db.dontqualify"),
            "NXDOMAIN dontqualify.     A 127.0.0.1\n",
        )
        .unwrap();
        let (r, _) = run(dir.path(), "dontqualify", "A");
        let r = r.unwrap();
        assert_eq!(r.status, Status::NoData);
        assert_eq!(r.question.unwrap().0.to_string(), "dontqualify");
    }

    #[test]
    fn reverse_zone_db_ip6_0_does_not_hold_the_loopback() {
        // db.ip6.0 serves 0.ip6.arpa: its 28-label record is 29 nibbles long, so the
        // reverse name of ::1 (32 nibbles) is in the zone but not found.
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("dnszones");
        std::fs::create_dir(&zones).unwrap();
        let owner = vec!["0"; 27].join(".");
        std::fs::write(
            zones.join("db.ip6.0"),
            format!("1.{owner}   PTR    localhost.\n"),
        )
        .unwrap();
        let loopback = format!("1.{}.ip6.arpa", vec!["0"; 31].join("."));
        let (r, _) = run(dir.path(), &loopback, "PTR");
        assert_eq!(r.unwrap().status, Status::HostNotFound);
        let (r, _) = run(dir.path(), &format!("1.{owner}.0.ip6.arpa"), "PTR");
        assert_eq!(r.unwrap().status, Status::Found);
    }

    #[test]
    fn delays_pause_before_answering() {
        let mut pauses = Vec::new();
        let r = ask_paused("delay500.test.ex", RecordKind::A, &mut pauses);
        assert_eq!(r.status, Status::Found);
        assert_eq!(pauses, [Duration::from_millis(500)]);
        let mut pauses = Vec::new();
        ask_paused("delay500.test.ex", RecordKind::Mx, &mut pauses);
        assert!(pauses.is_empty(), "only records of the asked type delay");
    }

    #[test]
    fn pass_on_not_found() {
        let origin = DnsName::parse(b"10.in-addr.arpa").unwrap();
        let zone = ZoneFile::parse(
            Path::new("db.ip4.10"),
            &origin,
            b"PASS ON NOT FOUND\n*.250 PTR manyhome.test.ex.\n",
        )
        .unwrap();
        let mut pause = |_| panic!("no pause expected");
        let name = DnsName::parse(b"42.104.250.10.in-addr.arpa").unwrap();
        let r = lookup(&zone, &name, RecordKind::Ptr, &mut pause);
        assert_eq!(r.status, Status::Found);
        assert_eq!(owners(&r.answers), ["42.104.250.10.in-addr.arpa"]);
        let name = DnsName::parse(b"1.1.1.10.in-addr.arpa").unwrap();
        assert_eq!(
            lookup(&zone, &name, RecordKind::Ptr, &mut pause).status,
            Status::PassOn
        );
        // An existing name without the type is NO_DATA, not passed on.
        let name = DnsName::parse(b"1.250.10.in-addr.arpa").unwrap();
        assert_eq!(
            lookup(&zone, &name, RecordKind::A, &mut pause).status,
            Status::NoData
        );
    }

    fn suite_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("dnszones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(zones.join("db.test.ex"), ZONE).unwrap();
        std::fs::write(zones.join("qualify.test.ex"), "").unwrap();
        std::fs::write(zones.join("db.bad.ex"), "ok A 1.2.3.4\nbroken A nonsense\n").unwrap();
        dir
    }

    fn run(dir: &Path, domain: &str, qtype: &str) -> (Result<Reply, FakensError>, Vec<Duration>) {
        let mut pauses = Vec::new();
        let r = answer(dir, domain.as_bytes(), qtype.as_bytes(), &mut |d| {
            pauses.push(d)
        });
        (r, pauses)
    }

    #[test]
    fn answer_handles_specials() {
        let dir = suite_dir();
        let (r, pauses) = run(dir.path(), "test.again.dns", "A");
        assert_eq!(r.unwrap().status, Status::TryAgain);
        assert!(pauses.is_empty());
        let (r, pauses) = run(dir.path(), "5.test.again.dns", "MX");
        assert_eq!(r.unwrap().status, Status::TryAgain);
        assert_eq!(pauses, [Duration::from_secs(5)]);
        let (r, _) = run(dir.path(), "x.test.fail.dns", "A");
        assert_eq!(r.unwrap().status, Status::NoRecovery);

        let (r, _) = run(dir.path(), "ManyHome.test.ex.", "a");
        let r = r.unwrap();
        assert_eq!(r.status, Status::Found);
        assert_eq!(r.answers.len(), 2048);
        assert!(
            r.question.is_none(),
            "fakens.c sent no question for manyhome"
        );
        assert_eq!(
            r.answers[0].data,
            RecordData::A(Ipv4Addr::new(10, 250, 104, 0))
        );
        assert_eq!(
            r.answers[2047].data,
            RecordData::A(Ipv4Addr::new(10, 250, 111, 255))
        );
        let (r, _) = run(dir.path(), "manyhome.test.ex", "AAAA");
        assert_eq!(r.unwrap().status, Status::HostNotFound);
    }

    #[test]
    fn answer_qualifies_selects_zones_and_reports_errors() {
        let dir = suite_dir();
        let (r, _) = run(dir.path(), "UPPERCASE", "A");
        let r = r.unwrap();
        assert_eq!(r.status, Status::Found);
        assert_eq!(r.question.unwrap().0.to_string(), "uppercase.test.ex");
        let (r, _) = run(dir.path(), "example.org", "A");
        assert_eq!(r.unwrap().status, Status::PassOn);
        let (r, _) = run(dir.path(), "a-sec.test.ex", "HINFO");
        assert!(matches!(r, Err(FakensError::UnknownType(t)) if t == "HINFO"));
        let (r, _) = run(dir.path(), "ok.bad.ex", "A");
        let e = r.unwrap_err().to_string();
        assert!(
            e.ends_with("db.bad.ex:2: bad IPv4 address \"nonsense\""),
            "{e}"
        );
        let (r, _) = run(Path::new("/nonexistent"), "a.test.ex", "A");
        assert!(matches!(r, Err(FakensError::ZoneDir { .. })));
        let (r, _) = run(dir.path(), "a..b", "A");
        assert!(matches!(r, Err(FakensError::BadDomain(_))));
    }
}
