//! End-to-end tests of the `fakens` binary: a suite folder with zone files, the program run
//! as Exim runs it, and its packets decoded by hickory-proto and by an independent decoder
//! (`fakens_decode.py`: dnspython when installed, else its own standard-library decoder;
//! skipped only when python3 itself is missing).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hickory_proto::op::Message;

const ZONE: &str = "\
; fakens integration test zone
example.test.      NS   ns1.example.test.
example.test.      SOA  ns1.example.test. hostmaster.example.test 1 2 3 4 60
www                A    192.0.2.10
                   AAAA 2001:db8::10
Mixed              A    192.0.2.11
alias              CNAME www
mail               MX   10 www
                   MX   20 backup.Example.TEST.
_smtp._tcp.srv     SRV  1 2 25 www
text               TXT  \"first string\" \"second\"
bare               TXT  v=spf1 -all
spf                SPF  \"v=spf1 +all\"
_25._tcp.www       TLSA 3 1 1 91fc6fc3553e40db5f762fb73d9fa5ffce2b7a90a6d17f58df0124d47aaf8e3d
# hash comments are comments too
DNSSEC signed      A    192.0.2.20
AA auth            A    192.0.2.21
TTL=5 short        A    192.0.2.22
NXDOMAIN gone      A    192.0.2.23
*.wild             A    192.0.2.24
DELAY=10 slow      A    192.0.2.25
utf                MX   0 mx.\u{3c0}.example.test.
";

struct Suite {
    dir: tempfile::TempDir,
}

impl Suite {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let zones = dir.path().join("dnszones");
        std::fs::create_dir(&zones).unwrap();
        std::fs::write(zones.join("db.example.test"), ZONE).unwrap();
        std::fs::write(zones.join("qualify.example.test"), "").unwrap();
        std::fs::write(
            zones.join("db.ip4.198.51"),
            "100.7   PTR   www.example.test.\n",
        )
        .unwrap();
        // 2001:db8::10 below the 2001:0db8 zone: the remaining 24 nibbles, reversed.
        let rest = format!("{:024x}", 0x10);
        let owner: Vec<String> = rest.chars().rev().map(String::from).collect();
        std::fs::write(
            zones.join("db.ip6.20010db8"),
            format!("{}   PTR   www.example.test.\n", owner.join(".")),
        )
        .unwrap();
        std::fs::write(
            zones.join("db.pass.test"),
            "PASS ON NOT FOUND\nhere A 192.0.2.99\n",
        )
        .unwrap();
        std::fs::write(
            zones.join("db.broken.test"),
            "; ok\nfine A 192.0.2.1\nbad A 300.1.1.1\n",
        )
        .unwrap();
        Suite { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, name: &str, qtype: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fakens"))
            .arg(self.path())
            .arg(name)
            .arg(qtype)
            .output()
            .expect("run fakens")
    }

    /// Runs a query that must produce a packet; checks hickory can decode it and returns
    /// the exit code and the independent decoder's lines (None without python3).
    fn query(&self, name: &str, qtype: &str) -> (i32, Option<Vec<String>>) {
        let out = self.run(name, qtype);
        assert!(
            out.stderr.is_empty(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let message = Message::from_vec(&out.stdout).expect("hickory decodes the reply");
        assert_eq!(message.id(), 0);
        (out.status.code().unwrap(), independent_decode(&out.stdout))
    }
}

fn python() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("python3"))
        .find(|p| p.is_file())
}

fn decode_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakens_decode.py")
}

/// Decodes with the Python script: with dnspython if present, and always with the
/// standard-library decoder too; both must agree. The "decoder" line is dropped.
fn independent_decode(packet: &[u8]) -> Option<Vec<String>> {
    let Some(python) = python() else {
        eprintln!("SKIPPED independent decoding: python3 is not installed");
        return None;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), packet).unwrap();
    let decode = |extra: &[&str]| -> (String, Vec<String>) {
        let out = Command::new(&python)
            .arg(decode_script())
            .arg(file.path())
            .args(extra)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "decoder failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines().map(String::from);
        let which = lines.next().unwrap_or_default();
        (which, lines.collect())
    };
    let (which, lines) = decode(&[]);
    if which == "decoder stdlib" {
        eprintln!("note: dnspython is not installed; only the stdlib decoder checked the packets");
    }
    let (_, stdlib_lines) = decode(&["--stdlib"]);
    assert_eq!(
        lines, stdlib_lines,
        "dnspython and the stdlib decoder disagree"
    );
    Some(lines)
}

const OK_HEADER: &str = "header id=0 qr=1 opcode=0 aa=0 tc=0 rd=0 ra=0 ad=0 cd=0 rcode=0";

fn check(suite: &Suite, name: &str, qtype: &str, code: i32, expected: &[&str]) {
    let (got_code, lines) = suite.query(name, qtype);
    assert_eq!(got_code, code, "exit status for {name} {qtype}");
    if let Some(lines) = lines {
        assert_eq!(lines, expected, "decoded reply for {name} {qtype}");
    }
}

#[test]
fn positive_answers() {
    let s = Suite::new();
    check(
        &s,
        "www.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question www.example.test. A 1",
            "answer www.example.test. 3600 1 A 192.0.2.10",
        ],
    );
    check(
        &s,
        "www.example.test.",
        "aaaa",
        0,
        &[
            OK_HEADER,
            "question www.example.test. AAAA 1",
            "answer www.example.test. 3600 1 AAAA 2001:db8::10",
        ],
    );
    check(
        &s,
        "MIXED.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question mixed.example.test. A 1",
            "answer Mixed.example.test. 3600 1 A 192.0.2.11",
        ],
    );
    check(
        &s,
        "alias.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question alias.example.test. A 1",
            "answer alias.example.test. 3600 1 CNAME www.example.test.",
        ],
    );
    check(
        &s,
        "mail.example.test",
        "MX",
        0,
        &[
            OK_HEADER,
            "question mail.example.test. MX 1",
            "answer mail.example.test. 3600 1 MX 10 www.example.test.",
            "answer mail.example.test. 3600 1 MX 20 backup.Example.TEST.",
        ],
    );
    check(
        &s,
        "_smtp._tcp.srv.example.test",
        "SRV",
        0,
        &[
            OK_HEADER,
            "question _smtp._tcp.srv.example.test. SRV 1",
            "answer _smtp._tcp.srv.example.test. 3600 1 SRV 1 2 25 www.example.test.",
        ],
    );
    check(
        &s,
        "text.example.test",
        "TXT",
        0,
        &[
            OK_HEADER,
            "question text.example.test. TXT 1",
            "answer text.example.test. 3600 1 TXT first string|second",
        ],
    );
    check(
        &s,
        "bare.example.test",
        "TXT",
        0,
        &[
            OK_HEADER,
            "question bare.example.test. TXT 1",
            "answer bare.example.test. 3600 1 TXT v=spf1 -all",
        ],
    );
    check(
        &s,
        "spf.example.test",
        "SPF",
        0,
        &[
            OK_HEADER,
            "question spf.example.test. SPF 1",
            "answer spf.example.test. 3600 1 SPF v=spf1 +all",
        ],
    );
    check(&s, "_25._tcp.www.example.test", "TLSA", 0, &[
        OK_HEADER,
        "question _25._tcp.www.example.test. TLSA 1",
        "answer _25._tcp.www.example.test. 3600 1 TLSA 3 1 1 91fc6fc3553e40db5f762fb73d9fa5ffce2b7a90a6d17f58df0124d47aaf8e3d",
    ]);
    check(
        &s,
        "example.test",
        "SOA",
        0,
        &[
            OK_HEADER,
            "question example.test. SOA 1",
            "answer example.test. 3600 1 SOA ns1.example.test. hostmaster.example.test. 1 2 3 4 60",
        ],
    );
    check(
        &s,
        "short.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question short.example.test. A 1",
            "answer short.example.test. 5 1 A 192.0.2.22",
        ],
    );
    check(
        &s,
        "a.b.wild.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question a.b.wild.example.test. A 1",
            "answer a.b.wild.example.test. 3600 1 A 192.0.2.24",
        ],
    );
    check(
        &s,
        "utf.example.test",
        "MX",
        0,
        &[
            OK_HEADER,
            "question utf.example.test. MX 1",
            "answer utf.example.test. 3600 1 MX 0 mx.\\207\\128.example.test.",
        ],
    );
    check(
        &s,
        "slow.example.test",
        "A",
        0,
        &[
            OK_HEADER,
            "question slow.example.test. A 1",
            "answer slow.example.test. 3600 1 A 192.0.2.25",
        ],
    );
}

#[test]
fn qualification_and_reverse_zones() {
    let s = Suite::new();
    check(
        &s,
        "www",
        "A",
        0,
        &[
            OK_HEADER,
            "question www.example.test. A 1",
            "answer www.example.test. 3600 1 A 192.0.2.10",
        ],
    );
    check(
        &s,
        "100.7.51.198.in-addr.arpa",
        "PTR",
        0,
        &[
            OK_HEADER,
            "question 100.7.51.198.in-addr.arpa. PTR 1",
            "answer 100.7.51.198.in-addr.arpa. 3600 1 PTR www.example.test.",
        ],
    );
    let v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
    let question = format!("question {v6}. PTR 1");
    let answer = format!("answer {v6}. 3600 1 PTR www.example.test.");
    check(&s, v6, "PTR", 0, &[OK_HEADER, &question, &answer]);
}

#[test]
fn flags_from_prefixes() {
    let s = Suite::new();
    check(
        &s,
        "signed.example.test",
        "A",
        0,
        &[
            "header id=0 qr=1 opcode=0 aa=0 tc=0 rd=0 ra=0 ad=1 cd=0 rcode=0",
            "question signed.example.test. A 1",
            "answer signed.example.test. 3600 1 A 192.0.2.20",
        ],
    );
    check(
        &s,
        "auth.example.test",
        "A",
        0,
        &[
            "header id=0 qr=1 opcode=0 aa=1 tc=0 rd=0 ra=0 ad=0 cd=0 rcode=0",
            "question auth.example.test. A 1",
            "answer auth.example.test. 3600 1 A 192.0.2.21",
            "authority example.test. 3600 1 NS ns1.example.test.",
        ],
    );
}

#[test]
fn negative_answers_carry_the_soa() {
    let s = Suite::new();
    let soa =
        "authority example.test. 3600 1 SOA ns1.example.test. hostmaster.example.test. 1 2 3 4 60";
    check(
        &s,
        "nonexist.example.test",
        "A",
        1,
        &[
            "header id=0 qr=1 opcode=0 aa=0 tc=0 rd=0 ra=0 ad=0 cd=0 rcode=3",
            "question nonexist.example.test. A 1",
            soa,
        ],
    );
    // An NXDOMAIN line hides its data, not its name: NO_DATA, flags as the line has them.
    check(
        &s,
        "gone.example.test",
        "A",
        4,
        &[
            "header id=0 qr=1 opcode=0 aa=0 tc=0 rd=0 ra=0 ad=0 cd=0 rcode=0",
            "question gone.example.test. A 1",
            soa,
        ],
    );
    // The name exists without MX: NO_DATA, and (as with fakens.c) AA and AD set.
    check(
        &s,
        "www.example.test",
        "MX",
        4,
        &[
            "header id=0 qr=1 opcode=0 aa=1 tc=0 rd=0 ra=0 ad=1 cd=0 rcode=0",
            "question www.example.test. MX 1",
            soa,
        ],
    );
}

#[test]
fn outcomes_without_a_packet() {
    let s = Suite::new();
    for (name, qtype, code) in [
        ("elsewhere.org", "A", 5),
        ("nothere.pass.test", "A", 5),
        ("test.again.dns", "A", 2),
        ("x.test.fail.dns", "MX", 3),
    ] {
        let out = s.run(name, qtype);
        assert_eq!(out.status.code(), Some(code), "{name} {qtype}");
        assert!(out.stdout.is_empty(), "{name}: no packet expected");
        assert!(
            out.stderr.is_empty(),
            "{name}: Exim's stderr must stay clean"
        );
    }
    // The pass-on zone still answers what it has.
    assert_eq!(s.run("here.pass.test", "A").status.code(), Some(0));
}

#[test]
fn manyhome_has_2048_addresses() {
    let s = Suite::new();
    let out = s.run("manyhome.test.ex", "A");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout.len(), 12 + 2048 * 32);
    let message = Message::from_vec(&out.stdout).expect("hickory decodes the reply");
    assert_eq!(message.answers().len(), 2048);
    assert!(message.queries().is_empty());
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "one line expected: {text}");
    text.trim_end().to_string()
}

#[test]
fn errors_exit_no_recovery_with_one_line() {
    let s = Suite::new();
    let out = s.run("fine.broken.test", "A");
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let zone = s.path().join("dnszones/db.broken.test");
    assert_eq!(
        stderr_line(&out),
        format!(
            "fakens: {}:3: bad IPv4 address \"300.1.1.1\"",
            zone.display()
        )
    );

    let out = s.run("www.example.test", "HINFO");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr_line(&out), "fakens: unknown record type HINFO");

    let out = s.run("www..example.test", "A");
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr_line(&out).starts_with("fakens: bad domain name"));

    let missing = Command::new(env!("CARGO_BIN_EXE_fakens"))
        .args(["/nonexistent/suite", "www.example.test", "A"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    assert!(stderr_line(&missing).contains("cannot list zone folder /nonexistent/suite/dnszones"));

    let usage = Command::new(env!("CARGO_BIN_EXE_fakens"))
        .arg(s.path())
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(3));
    assert_eq!(
        stderr_line(&usage),
        "fakens: the following required arguments were not provided: <NAME> <TYPE> (see --help)"
    );
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_fakens"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "Usage: fakens <DIR> <NAME> <TYPE>",
        "5  PASS_ON",
        "broken zone file",
        "DELAY=ms",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
}
