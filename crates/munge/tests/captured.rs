//! The shipped `munge.toml` against real raw outputs: the fixtures are small excerpts of
//! what Debian's exim4 4.96 wrote during a mailrig runtest run of Exim's suite (captured with
//! `-KEEP`, port offset 300), and the expected texts are the munged forms the suite's saved
//! outputs use. The context is the one of that run.

use std::path::PathBuf;

use mailrig_munge::{Context, Munger, OutputKind, RuleSet};

fn rules() -> RuleSet {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../munge.toml");
    RuleSet::load(&path).expect("munge.toml loads")
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The facts of the capture run.
fn ctx(testnum: u32) -> Context {
    Context {
        dir: "/tmp/m2b/workspace/0".into(),
        suite_dir: "/tmp/m2b".into(),
        hostname: "vm.mailrig.test".into(),
        hostipv4: Some("192.0.2.2".into()),
        hostipv6: Some("fd00::2".into()),
        caller: "mailrig".into(),
        caller_name: "Mailrig Test Caller".into(),
        caller_uid: 1001,
        caller_gid: 1001,
        caller_group: "mailrig".into(),
        exim_user: "Debian-exim".into(),
        exim_uid: 102,
        exim_group: "Debian-exim".into(),
        exim_gid: 105,
        testnum,
        ports: (1223..=1228).map(|p| (p + 300, p)).collect(),
        exim_version: "4.96".into(),
        port_dynamic: Some(40001),
    }
}

fn munge(testnum: u32, kind: OutputKind, name: &str) -> String {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx(testnum));
    m.munge(kind, &fixture(name))
}

#[test]
fn host_lookup_debug_output() {
    // -bh session of a host whose PTR name has an alias (test 0094): the AAAA lookups, the
    // reverse DNS status and the fork chatter go; addresses, sort order and keys are fixed.
    let expected = "\
host in hosts_connection_nolog? no (option unset)
LOG: smtp_connection MAIN
  SMTP connection from [V4NET.99.99.90]
host in host_lookup? yes (matched \"0.0.0.0/0\")
looking up host name for V4NET.99.99.90
DNS lookup of 90.99.99.V4NET.in-addr.arpa (PTR) using fakens
DNS lookup of 90.99.99.V4NET.in-addr.arpa (PTR) succeeded
IP address lookup yielded \"oneback.test.ex\"
  alias \"host1.masq.test.ex\"
DNS lookup of oneback.test.ex (A) using fakens
DNS lookup of oneback.test.ex (A) succeeded
oneback.test.ex V4NET.99.99.90 mx=-1 sort=xx 
checking addresses for oneback.test.ex
Forward DNS security status: unverified
  V4NET.99.99.90 OK
";
    assert_eq!(
        munge(94, OutputKind::Stderr, "hostlookup.stderr.raw"),
        expected
    );
}

#[test]
fn retry_database_dump() {
    // `dump retry` (test 0099): ports back to canonical, then PORT_N, errno and the interval.
    let record = "  T:thishost.test.ex:127.0.0.1:PORT_N dd 65 Connection refused\nfirst failed = time last try = time2 next try = time2 + 1200\n";
    let sep = "+++++++++++++++++++++++++++\n";
    let expected = format!(
        "{sep}{record}{sep}{record}{sep}{record}  T:thisloop.test.ex:127.0.0.1:PORT_N dd 65 Connection refused\nfirst failed = time last try = time2 next try = time2 + 1200\n  T:thisloop.test.ex:ip4.ip4.ip4.ip4:PORT_N dd 65 Connection refused\nfirst failed = time last try = time2 next try = time2 + 1200\n"
    );
    assert_eq!(
        munge(99, OutputKind::Stdout, "dumpdb-retry.stdout.raw"),
        expected
    );
}

#[test]
fn host_checking_session_log() {
    // -bh sessions (test 0079): the fake interface's port is ppppp, message ids renumbered,
    // deliveries to files keep the workspace path as TESTSUITE.
    let got = munge(79, OutputKind::Mainlog, "bh-session.mainlog.raw");
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "1999-03-02 09:44:33 H=(exim.test.ex) [V4NET.11.12.13] U=CALLER Warning: V4NET.11.12.13 is in rbl.test.ex");
    assert_eq!(lines[1], "1999-03-02 09:44:33 10HmaX-0005vi-00 <= postmaster@exim.test.ex H=(exim.test.ex) [V4NET.11.12.13] U=CALLER P=esmtp S=sss");
    assert_eq!(
        lines[3],
        "1999-03-02 09:44:33 10HmaX-0005vi-00 => TESTSUITE/test-mail/rbl <system-filter> T=file"
    );
    assert_eq!(lines[7], "1999-03-02 09:44:33 H=(exim.test.ex) [V4NET.11.12.14] I=[14.12.11.10]:ppppp U=CALLER F=<postmaster@exim.test.ex> rejected RCPT <userx@exim.test.ex>: host is listed in rbl2.test.ex");
    assert_eq!(lines[8], "1999-03-02 09:44:33 10HmaY-0005vi-00 <= postmaster@exim.test.ex H=(exim.test.ex) [V4NET.11.12.14] I=[14.12.11.10]:ppppp U=CALLER P=esmtp S=sss");
    assert!(!got.contains("mailrig") && !got.contains("2026"), "{got}");
}
