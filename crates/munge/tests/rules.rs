//! Unit checks of the shipped `munge.toml`, one or more per rule group: a raw line as Exim
//! (Debian's exim4 4.96 in test-harness mode, or unpatched) prints it, and the munged form
//! the saved outputs of a suite expect.

use mailrig_munge::{Context, Munger, OutputKind, RuleSet};
use OutputKind::*;

fn rules() -> RuleSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../munge.toml");
    RuleSet::load(&path).expect("munge.toml loads")
}

fn ctx() -> Context {
    Context {
        dir: "/work/suite".into(),
        suite_dir: "/work/suite".into(),
        hostname: "vm.example.net".into(),
        hostipv4: Some("10.20.30.40".into()),
        hostipv6: Some("2001:db8::5".into()),
        caller: "mungetest".into(),
        caller_name: "Munge Tester".into(),
        caller_uid: 1001,
        caller_gid: 1002,
        caller_group: "mungetest".into(),
        exim_user: "Debian-exim".into(),
        exim_uid: 102,
        exim_group: "Debian-exim".into(),
        exim_gid: 105,
        testnum: 5,
        ports: vec![(1225, 1225), (1224, 1224)],
        exim_version: "4.96".into(),
        port_dynamic: Some(40001),
    }
}

/// Munges `raw` as the only file of a fresh test.
fn one(kind: OutputKind, raw: &str) -> String {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    m.munge(kind, raw)
}

#[test]
fn log_lines_date_id_caller_size() {
    assert_eq!(
        one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e <= someone@some.domain U=mungetest P=local-smtp S=331\n"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 <= someone@some.domain U=CALLER P=local-smtp S=sss\n"
    );
}

#[test]
fn log_time_with_zone_ms_and_pid() {
    // Milliseconds (log_selector +millisec) have their own fixed form; pids (+pid) are
    // renumbered from 1234.
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(m.munge(Mainlog, "2026-11-22 04:44:10.123 +0100 [4242] Start queue run: pid=4242\n2026-11-22 04:44:10 [4243] x QT=0s DT=1m2s\n2026-11-22 04:44:11 [4242] y QT=0.532s\n"),
        "2017-07-30 18:51:05.712 [1234] Start queue run: pid=pppp\n1999-03-02 09:44:33 [1235] x QT=qqs DT=qqs\n1999-03-02 09:44:33 [1234] y QT=q.qqqs\n");
    assert_eq!(
        one(
            Stderr,
            "SYSLOG: '2026-11-22 04:44:10 Start queue run: pid=4242'"
        ),
        "SYSLOG: '2017-07-30 18:51:05 Start queue run: pid=pppp'"
    );
}

#[test]
fn smtp_banner_host_version_and_rfc2822_date() {
    assert_eq!(
        one(
            Stdout,
            "220 vm.example.net ESMTP Exim 4.96 Sun, 22 Nov 2026 04:44:10 +0000\n"
        ),
        "220 the.local.host.name ESMTP Exim x.yz Tue, 2 Mar 1999 09:44:33 +0000\n"
    );
}

#[test]
fn mbox_from_line_and_caller_name() {
    assert_eq!(one(Mail, "From mungetest@test.ex Sun Nov  2 04:44:10 2026\nFrom: Munge Tester <mungetest@test.ex>\n"),
        "From CALLER@test.ex Tue Mar 02 09:44:33 1999\nFrom: CALLER_GECOS <CALLER@test.ex>\n");
}

#[test]
fn message_ids_are_consistent_across_the_files_of_a_test() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let log = m.munge(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e <= a@b\n2026-11-22 04:44:10 1xUzQx-0002Xy-0e <= c@d\n");
    assert!(log.contains("10HmaX") && log.contains("10HmaY"), "{log}");
    let mail = m.munge(
        Mail,
        "\tid 1xUzQx-0002Xy-0e\nMessage-Id: <E1xUzQw-0002Xx-0e@vm.example.net>\n",
    );
    assert_eq!(
        mail,
        "\tid 10HmaY-0005vi-00\nMessage-Id: <E10HmaX-0005vi-00@the.local.host.name>\n"
    );
    assert_eq!(m.munge_file_name("1xUzQx-0002Xy-0e"), "10HmaY-0005vi-00");
    assert_eq!(m.munge_file_name("1xUzQz-0002Xy-0e"), "10HmaZ-0005vi-00");
}

#[test]
fn mail_file_names() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(m.munge_file_name("mungetest"), "CALLER");
    assert_eq!(m.munge_file_name("mungetest/new/file"), "CALLER/new/file");
    assert_eq!(m.munge_file_name("mungetester"), "mungetester");
}

#[test]
fn paths_addresses_and_users() {
    assert_eq!(
        one(Stderr, "configuration file is /work/suite/test-config\n"),
        "configuration file is TESTSUITE/test-config\n"
    );
    assert_eq!(
        one(Mainlog, "H=(test) [10.20.30.40] P=smtp"),
        "H=(test) [ip4.ip4.ip4.ip4] P=smtp"
    );
    assert_eq!(
        one(Stdout, "40.30.20.10.in-addr.arpa"),
        "ip4-reverse.in-addr.arpa"
    );
    assert_eq!(
        one(Stdout, "[2001:db8::5]"),
        "[ip6:ip6:ip6:ip6:ip6:ip6:ip6:ip6]"
    );
    assert_eq!(
        one(Mainlog, "<= <> R=x U=Debian-exim P=local S=12"),
        "<= <> R=x U=EXIMUSER P=local S=sss"
    );
    assert_eq!(
        one(
            Stderr,
            "originator: uid=1001 gid=1002 login=mungetest name=Munge Tester"
        ),
        "originator: uid=CALLER_UID gid=CALLER_GID login=CALLER name=CALLER_GECOS"
    );
    assert_eq!(
        one(Stderr, "  uid=102 gid=105 pid=777"),
        "  uid=EXIM_UID gid=EXIM_GID pid=pppp"
    );
    assert_eq!(
        one(Stderr, "  uid=0 gid=1002 pid=777"),
        "  uid=uuuu gid=CALLER_GID pid=pppp"
    );
}

#[test]
fn ports() {
    // Client ports of incoming connections are numbered; daemon ports get names in logs.
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(
        m.munge(Mainlog, "2026-11-22 04:44:10 SMTP connection from [127.0.0.1]:40312 I=[127.0.0.1]:1225 (TCP/IP connection count = 1)\n"),
        "1999-03-02 09:44:33 SMTP connection from [127.0.0.1]:1111 I=[127.0.0.1]:PORT_D (TCP/IP connection count = 1)\n"
    );
    assert_eq!(
        m.munge(Mail, "Received: from [127.0.0.1] (port=40312 helo=x)\n"),
        "Received: from [127.0.0.1] (port=1111 helo=x)\n"
    );
    assert_eq!(m.munge(Mainlog, "2026-11-22 04:44:10 exim 4.96 daemon started: pid=9, no queue runs, listening for SMTP on port 1225 port 1224\n"),
        "1999-03-02 09:44:33 exim x.yz daemon started: pid=pppp, no queue runs, listening for SMTP on port PORT_D port PORT_S\n");
    // The aux client's own output keeps the real port.
    assert_eq!(
        m.munge(Stdout, "Connecting to 127.0.0.1 port 1225 ... connected\n"),
        "Connecting to 127.0.0.1 port 1225 ... connected\n"
    );
    // Spool files show a fixed port.
    assert_eq!(
        m.munge(Stdout, "-host_address [127.0.0.1]:40312\n"),
        "-host_address [127.0.0.1]:9999\n"
    );
}

#[test]
fn workspace_ports_map_to_canonical_ones() {
    let rs = rules();
    let mut c = ctx();
    c.ports = vec![(31225, 1225)];
    let mut m = Munger::new(&rs, c);
    assert_eq!(
        m.munge(Mainlog, "listening for SMTP on port 31225"),
        "listening for SMTP on port PORT_D"
    );
}

#[test]
fn outgoing_delivery_with_tls() {
    assert_eq!(
        one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e => userx@test.ex R=client T=t1 H=127.0.0.1 [127.0.0.1]:1225 I=[127.0.0.1]:51234 X=TLS1.3:ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no C=\"250 OK id=1xUzQx-0002Xy-0e\""),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 => userx@test.ex R=client T=t1 H=127.0.0.1 [127.0.0.1]:PORT_D I=[127.0.0.1]:ppppp X=TLS1.x:ke-RSA-AES256-SHAnnn:xxx CV=no C=\"250 OK id=10HmaY-0005vi-00\""
    );
}

#[test]
fn errnos_but_not_exim_codes() {
    assert_eq!(
        one(Mainlog, "== x@y R=r T=t defer (111): Connection refused"),
        "== x@y R=r T=t defer (dd): Connection refused"
    );
    assert_eq!(
        one(
            Mainlog,
            "== x@y R=r T=t defer (0): SMTP delivery explicitly queued"
        ),
        "== x@y R=r T=t defer (0): SMTP delivery explicitly queued"
    );
    assert_eq!(
        one(
            Mainlog,
            "== x@y R=r T=t defer (-38): a TLS session is required"
        ),
        "== x@y R=r T=t defer (-38): a TLS session is required"
    );
    assert_eq!(
        one(
            Stdout,
            "  T:thishost.test.ex:127.0.0.1:1223 111 65 Connection refused"
        ),
        "  T:thishost.test.ex:127.0.0.1:PORT_N dd 65 Connection refused"
    );
}

#[test]
fn debug_output_build_lines_are_dropped() {
    let raw = "Exim version 4.96 uid=0 gid=0 pid=123 D=fbb95cfd\nSupport for: crypteq iconv() IPv6 PAM Perl\nLookups (built-in): lsearch\nLibrary version: GnuTLS: Compile: 3.7.9\n                         Runtime: 3.7.9\nconfiguration file is /work/suite/test-config\n>>>>>>>>>>>>>>>> Exim pid=123 (fresh-exec) terminating with rc=0 >>>>>>>>>>>>>>>>\n";
    assert_eq!(one(Stderr, raw), "Exim version x.yz ....\nconfiguration file is TESTSUITE/test-config\n>>>>>>>>>>>>>>>> Exim pid=pppp (fresh-exec) terminating with rc=0 >>>>>>>>>>>>>>>>\n");
}

#[test]
fn spool_header_file_lengths() {
    assert_eq!(
        one(Stdout, "038P Received: from mungetest by x"),
        "dddP Received: from CALLER by x"
    );
    assert_eq!(one(Stdout, "014T To: xxxx@yyyy"), "014T To: xxxx@yyyy");
}

#[test]
fn size_of_mail_commands_only() {
    assert_eq!(
        one(
            Mainlog,
            r#"mail accepted "mail from: <ok@test3> SIZE=1234" "<ok@test3> SIZE=1234""#
        ),
        r#"mail accepted "mail from: <ok@test3> SIZE=ssss" "<ok@test3> SIZE=1234""#
    );
}

#[test]
fn named_munges_are_off_until_enabled() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let dsn = "Status: 5.0.0\nX-Exim-Diagnostic: X-str; whatever\n";
    assert_eq!(m.munge(Mail, dsn), dsn);
    m.enable_named("optional_dsn_info").unwrap();
    assert_eq!(m.munge(Mail, dsn), "Status: 5.0.0\n");
    assert!(rs.has_named("gnutls_handshake"));
    assert!(m.enable_named("no_such_munge").is_err());
}

#[test]
fn rmfiltertest_drops_filter_chatter_from_stdout() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let out = "Testing Exim filter file \"/work/suite/f\"\n\nSave message to: /x\nFiltering did not set up a significant delivery.\nNormal delivery will occur.\n";
    m.set_rmfiltertest(true);
    assert_eq!(m.munge(Stdout, out), "Save message to: /x\n");
}

#[test]
fn sortlog_sorts_delivery_runs() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    m.set_sortlog(true);
    let raw = "2026-11-22 04:44:10 1xUzQw-0002Xx-0e <= a@b\n2026-11-22 04:44:10 1xUzQw-0002Xx-0e => z@b R=r T=t\n2026-11-22 04:44:10 1xUzQw-0002Xx-0e => b@b R=r T=t\n2026-11-22 04:44:10 1xUzQw-0002Xx-0e Completed\n";
    assert_eq!(m.munge(Mainlog, raw), "**NOTE: The delivery lines in this file have been sorted.\n1999-03-02 09:44:33 10HmaX-0005vi-00 <= a@b\n1999-03-02 09:44:33 10HmaX-0005vi-00 => b@b R=r T=t\n1999-03-02 09:44:33 10HmaX-0005vi-00 => z@b R=r T=t\n1999-03-02 09:44:33 10HmaX-0005vi-00 Completed\n");
    // The note heads the first sorted file of the kind only (not the server's log too).
    assert!(!m.munge(Mainlog, raw).contains("NOTE"));
}

#[test]
fn connection_time_and_listening_families() {
    assert_eq!(
        one(
            Stderr,
            "LOG: unexpected disconnection while reading SMTP command from (test) [1.1.1.1] D=0s"
        ),
        "LOG: unexpected disconnection while reading SMTP command from (test) [1.1.1.1] D=qqs"
    );
    assert_eq!(one(Mainlog, "2026-11-22 04:44:10 exim 4.96 daemon started: pid=1, no queue runs, listening for SMTP on port 1225 (IPv6 and IPv4)"),
        "1999-03-02 09:44:33 exim x.yz daemon started: pid=pppp, no queue runs, listening for SMTP on port PORT_D");
    // Outside the folders that require IPv6, the dual-stack note goes (Perl's saved files).
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let raw = "2026-11-22 04:44:10 exim 4.96 daemon started: pid=1, no queue runs, listening for SMTP on [127.0.0.1]:1228 port 1225 (IPv6 and IPv4) port 1226 (IPv4)\n";
    m.set_flag("ipv6test", true);
    assert!(m
        .munge(Mainlog, raw)
        .ends_with("port PORT_D (IPv6 and IPv4) port PORT_D2 (IPv4)\n"));
    m.set_flag("ipv6test", false);
    assert!(m
        .munge(Mainlog, raw)
        .ends_with("on [127.0.0.1]:PORT_D4 port PORT_D port PORT_D2 (IPv4)\n"));
    let lone = "2026-11-22 04:44:10 exim 4.96 daemon started: pid=1, no queue runs, listening for SMTP on port 1225 (IPv4)\n";
    assert!(m
        .munge(Mainlog, lone)
        .ends_with("listening for SMTP on port PORT_D\n"));
    // A list that starts with wildcard listeners loses every family note (0433's saved files);
    // one that starts with an explicit address keeps them (above).
    let run = "2026-11-22 04:44:10 exim 4.96 daemon started: pid=1, no queue runs, listening for SMTP on port 1225 (IPv4) port 1226 (IPv4) [127.0.0.1]:1228\n";
    assert!(m
        .munge(Mainlog, run)
        .ends_with("listening for SMTP on port PORT_D port PORT_D2 [127.0.0.1]:PORT_D4\n"));
    m.set_flag("ipv6test", true);
    assert!(m
        .munge(Mainlog, lone)
        .ends_with("listening for SMTP on port PORT_D (IPv4)\n"));
    assert_eq!(
        one(Stdout, "host ff00:1234:0005:0006:0007:0008:0abc:000d\n"),
        "host V6NET:1234:0005:0006:0007:0008:0abc:000d\n"
    );
}

#[test]
fn debug_lines_that_depend_on_accounts_and_build_are_dropped() {
    let raw = "  auxiliary group list: <none>\nchanging group to 105 failed: Operation not permitted\nuser name \"Munge Tester\" extracted from gecos field \"Munge Tester\"\n>>> host in tls_advertise_hosts? no (end of list)\n>>> host in smtputf8_advertise_hosts? no (option unset)\nspf_conn_init: test 224.9.8.7\nSPF_dns_exim_new\nspf_compile.c:523    Debug: Parsing macro starting at x\ncalling local_scan(); timeout=300\nlocal_scan() returned 0 NULL\nkept\n";
    assert_eq!(one(Stderr, raw), "kept\n");
}

#[test]
fn aaaa_lookups_and_reverse_dns_status_are_dropped() {
    let raw = "DNS lookup of 1.0.0.224.in-addr.arpa (PTR) succeeded\nReverse DNS security status: unverified\nIP address lookup yielded \"ten-1.test.ex\"\nDNS lookup of ten-1.test.ex (AAAA) using fakens\nDNS lookup of ten-1.test.ex (AAAA) gave NO_DATA\nreturning DNS_NODATA\nfaking res_search(AAAA) response length as 65535\n writing neg-cache entry for ten-1.test.ex-AAAA-41, ttl 3000\nDNS lookup of ten-1.test.ex (A) using fakens\nten-1.test.ex 224.0.0.1 mx=-1 sort=-151 \n";
    assert_eq!(one(Stderr, raw), "DNS lookup of 1.0.0.V4NET.in-addr.arpa (PTR) succeeded\nIP address lookup yielded \"ten-1.test.ex\"\nDNS lookup of ten-1.test.ex (A) using fakens\nten-1.test.ex V4NET.0.0.1 mx=-1 sort=xx \n");
}

#[test]
fn aaaa_lookups_that_succeed_stay_only_in_ipv6_folders() {
    let raw = "DNS lookup of 46.test.ex (AAAA) using fakens\nDNS lookup of 46.test.ex (AAAA) succeeded\nDNS lookup of 46.test.ex (AAAA) gave NO_DATA\nreturning DNS_NODATA\nDNS lookup of 46.test.ex (A) using fakens\n";
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    m.set_flag("ipv6test", true);
    assert_eq!(
        m.munge(Stderr, raw),
        "DNS lookup of 46.test.ex (AAAA) succeeded\nDNS lookup of 46.test.ex (A) using fakens\n"
    );
    m.set_flag("ipv6test", false);
    assert_eq!(
        m.munge(Stderr, raw),
        "DNS lookup of 46.test.ex (A) using fakens\n"
    );
}

#[test]
fn tls_in_ver_expansion_trace_loses_the_lines_perl_dropped() {
    // The condition, its result and the skipped branch's scan trace: 22 lines in all for
    // the default received_header_text; what follows stays.
    let rest = "}}(Exim $version_number)\n  \t${if def:sender_address {(envelope-from <$sender_address>)\n  \t}}id $message_exim_id${if def:received_for {\n  \tfor $received_for}}\n";
    let mut raw = String::from(" ├──condition: def:tls_in_ver\n ├─────result: false\n");
    raw += &format!("  ╭───scanning:  ($tls_in_ver)}}}}${{if def:tls_in_cipher_std {{ tls $tls_in_cipher_std\n  \t{rest}");
    raw += "  ├───────text:  (\n";
    raw += &format!("  ├───scanning: $tls_in_ver)}}}}${{if def:tls_in_cipher_std {{ tls $tls_in_cipher_std\n  \t{rest}");
    raw += &format!(
        "  ├───scanning: )}}}}${{if def:tls_in_cipher_std {{ tls $tls_in_cipher_std\n  \t{rest}"
    );
    raw += "  ├───────text: )\n";
    raw += &format!(
        "  ├───scanning: }}}}${{if def:tls_in_cipher_std {{ tls $tls_in_cipher_std\n  \t{rest}"
    );
    raw += "  ├──expanding:  ($tls_in_ver)\n";
    assert_eq!(raw.lines().count(), 25);
    assert_eq!(
        one(Stderr, &raw),
        "  \t}}id $message_exim_id${if def:received_for {\n  \tfor $received_for}}\n  ├──expanding:  ($tls_in_ver)\n"
    );
    // Other conditions of the header text are untouched.
    assert_eq!(
        one(
            Stderr,
            " ├──condition: def:tls_in_cipher_std\n ├─────result: false\n"
        ),
        " ├──condition: def:tls_in_cipher_std\n ├─────result: false\n"
    );
}

#[test]
fn daemon_debug_lines_lose_the_pid_prefix() {
    let raw = "13328 daemon_smtp_port overridden by -oX:\n13328   <: 1225\n 1951 creating notifier socket\n 1951  @/work/suite/spool/exim_daemon_notify\n\
13328 listening on all interfaces (IPv4) port 1225\n13328 TLS: basic cred init, server\n13328 TLS: generating selfsigned server cert\n\
13328 GnuTLS<3>: ASSERT: ../../../lib/nettle/mpi.c[wrap_nettle_mpi_print]:1111\n13328 TLS: preloading CA bundle for server\n\
13328 Added 144 certificate authorities\n13328 TLS: not preloading CRL for server\n13328 TLS: preloading cipher list for server: NULL\n\
13328 GnuTLS using default session cipher/priority \"NORMAL\"\n13328 SIGTERM/SIGINT seen\n\
13385 exec /work/suite/eximdir/exim -DEXIM_PATH=/work/suite/eximdir/exim -C /work/suite/test-config -MCd daemon-del-pidfile -oPX\n\
\n  501 malformed address: < may not follow someone@some.where\n";
    assert_eq!(one(Stderr, raw), "daemon_smtp_port overridden by -oX:\n  <: 1225\ncreating notifier socket\n TESTSUITE/spool/exim_daemon_notify\n\
listening on all interfaces (IPv4) port 1225\nSIGTERM/SIGINT seen\n\
pppp exec TESTSUITE/eximdir/exim -DEXIM_PATH=TESTSUITE/eximdir/exim -C TESTSUITE/test-config -MCd daemon-del-pidfile -oPX\n\
\n  501 malformed address: < may not follow someone@some.where\n");
    // Where the notifier lines open the daemon's pid-prefixed output (no -oX report before
    // them), they keep a pid marker; the rest still loses the pid.
    let raw = "originator: uid=1001 gid=1001 login=u name=N\n13327 creating notifier socket\n\
13327  @/work/suite/spool/exim_daemon_notify\n13327 listening on all interfaces (IPv4) port 1225\n";
    let out = one(Stderr, raw);
    assert!(
        out.ends_with(
            "\nppppp creating notifier socket\nppppp  TESTSUITE/spool/exim_daemon_notify\n\
listening on all interfaces (IPv4) port 1225\n"
        ),
        "{out}"
    );
    // the marker only follows a marked notifier line
    assert_eq!(
        one(Stderr, "13327  @/work/suite/spool/exim_daemon_notify\n"),
        " TESTSUITE/spool/exim_daemon_notify\n"
    );
}

#[test]
fn daemon_pids_under_1000_lose_their_prefix_too() {
    // On a machine booted a moment ago the daemon's pid fills the five-wide field with
    // blanks; an SMTP reply in an error report has the same shape but follows a blank line.
    let raw = [
        "originator: uid=1001 gid=1001 login=u name=N",
        "  385 creating notifier socket",
        "  385  @/work/suite/spool/exim_daemon_notify",
        "  385 listening on 127.0.0.1 port 1228",
        "   42 pid written to x",
        "    7 SIGTERM/SIGINT seen",
        "  370 postfork: daemon-del-pidfile",
        "  370 exec /work/suite/eximdir/exim -C /work/suite/test-config -MCd daemon-del-pidfile -oPX",
        "The error message was:",
        "",
        "  501 sender address must contain a domain",
        "",
    ];
    let want = [
        "originator: uid=CALLER_UID gid=1001 login=u name=N",
        "ppppp creating notifier socket",
        "ppppp  TESTSUITE/spool/exim_daemon_notify",
        "listening on 127.0.0.1 port 1228",
        "pid written to x",
        "SIGTERM/SIGINT seen",
        "pppp exec TESTSUITE/eximdir/exim -C TESTSUITE/test-config -MCd daemon-del-pidfile -oPX",
        "The error message was:",
        "",
        "  501 sender address must contain a domain",
        "",
    ];
    assert_eq!(one(Stderr, &raw.join("\n")), want.join("\n"));
    // a wider field is not a pid field
    assert_eq!(one(Stderr, "x\n   370 y\n"), "x\n   370 y\n");
}

#[test]
fn lookup_cache_keys_and_directory_space() {
    assert_eq!(one(Stderr, "LRU list:\n  :/work/suite/aux-fixed/0002.lsearch\n   ;/work/suite/aux-fixed/0085.data\n"),
        "LRU list:\n  0TESTSUITE/aux-fixed/0002.lsearch\n   0TESTSUITE/aux-fixed/0085.data\n");
    assert_eq!(
        one(
            Stderr,
            "log directory space = -1K inodes = -1 check_space = 10240K inodes = 100"
        ),
        "log directory space = nnnnnK inodes = nnnnn check_space = 10240K inodes = 100"
    );
    assert_eq!(one(Stderr, "errno = 2\n"), "errno = EEE\n");
}

#[test]
fn dumpdb_retry_times_become_the_interval() {
    let raw = "  T:thishost.test.ex:127.0.0.1:1223 111 65 Connection refused\n22-Nov-2026 05:01:10  22-Nov-2026 05:01:12  22-Nov-2026 05:21:12\n22-Nov-2026 05:01:10  22-Nov-2026 05:01:12  22-Nov-2026 05:01:22 *\n";
    assert_eq!(one(Stdout, raw), "  T:thishost.test.ex:127.0.0.1:PORT_N dd 65 Connection refused\nfirst failed = time last try = time2 next try = time2 + 1200\nfirst failed = time last try = time2 next try = time2 + 10 *\n");
    // A key that starts with an address keeps the port number; errno 0 stays.
    assert_eq!(
        one(
            Stdout,
            "  T:127.0.0.1:127.0.0.1:1223 0 65 Connection refused\n"
        ),
        "  T:127.0.0.1:127.0.0.1:1223 0 65 Connection refused\n"
    );
}

#[test]
fn errno_kinds_and_network_wording() {
    assert_eq!(
        one(
            Mainlog,
            "== x@y R=r T=t defer (2): No such file or directory: creating lock file"
        ),
        "== x@y R=r T=t defer (EEE): No such file or directory: creating lock file"
    );
    assert_eq!(
        one(
            Mainlog,
            "== x@y R=all T=smtp defer (101): Network is unreachable"
        ),
        "== x@y R=all T=smtp defer (dd): Network Error"
    );
    assert_eq!(
        one(Mail, "X-local-user: uid=4294967295 gid=4294967295\n"),
        "X-local-user: uid=-1 gid=-1\n"
    );
}

#[test]
fn date_and_build_dependent_values() {
    assert_eq!(
        one(Stdout, "> prvs=0786d6aa1a=userx@test.ex"),
        "> prvs=xxxxxxxxxx=userx@test.ex"
    );
    assert_eq!(
        one(
            Stdout,
            "> Failed: argument for base62d operator is \"0003D7.\", which is not a base 62 number"
        ),
        "> Failed: argument for base62d operator is \"0003D7.\", which is not a base 36/62 number"
    );
    assert_eq!(one(Stdout, "-host_address [127.0.0.1]:40312\n-interface_address [127.0.0.1]:1225\n-tls_resumption A\n-received_protocol esmtp\n"),
        "-host_address [127.0.0.1]:9999\n-interface_address [127.0.0.1]:1112\n-received_protocol esmtp\n");
}

#[test]
fn autoreply_log_date_line_is_joined_with_the_next() {
    assert_eq!(
        one(
            Mail,
            "2026-11-22 05:10:01\n  To: Munge Tester <mungetest@test.ex>\n  Subject: x\n"
        ),
        "1999-03-02 09:44:33   To: CALLER_GECOS <CALLER@test.ex>\n  Subject: x\n"
    );
    assert_eq!(
        one(
            Stderr,
            " writing neg-cache entry for 99.99.99.224.rbl.test.ex-A-41, ttl 3000\n"
        ),
        " writing neg-cache entry for 99.99.99.V4NET.rbl.test.ex-A-xxxx, ttl 3000\n"
    );
}

#[test]
fn test_network_inside_names() {
    assert_eq!(
        one(
            Stderr,
            ">>> using ACL \"acl_224_11_12\" for 224.224.0.1 1.0.0.224.in-addr.arpa 12240.1"
        ),
        ">>> using ACL \"acl_V4NET_11_12\" for V4NET.V4NET.0.1 1.0.0.V4NET.in-addr.arpa 12240.1"
    );
}

#[test]
fn fake_interface_port_of_host_checking_sessions() {
    assert_eq!(one(Rejectlog, "2026-11-22 05:15:30 H=(exim.test.ex) [224.11.12.14] I=[14.12.11.10]:1225 U=mungetest F=<p@e> rejected RCPT <u@e>: listed"),
        "1999-03-02 09:44:33 H=(exim.test.ex) [V4NET.11.12.14] I=[14.12.11.10]:ppppp U=CALLER F=<p@e> rejected RCPT <u@e>: listed");
    // A daemon's incoming connection keeps its named port.
    assert_eq!(one(Mainlog, "2026-11-22 05:15:30 1xUzup-0004TK-0a <= x@y.x H=(test) [127.0.0.1]:40000 I=[127.0.0.1]:1225 P=smtp S=12"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 <= x@y.x H=(test) [127.0.0.1]:1111 I=[127.0.0.1]:PORT_D P=smtp S=sss");
}

#[test]
fn build_and_system_wording() {
    assert_eq!(one(Mainlog, "== u@t R=reply T=reply defer (21): Is a directory: Failed to open db (v4.1+) file /work/suite/spool when sending"),
        "== u@t R=reply T=reply defer (EEE): Is a directory: Failed to open DBM file TESTSUITE/spool when sending");
    assert_eq!(one(Mainlog, "== u@t R=local T=appendfile defer (6): No such device or address: while opening named pipe /work/suite/test-fifo (x)"),
        "== u@t R=local T=appendfile defer (EEE): Error: while opening named pipe TESTSUITE/test-fifo (x)");
    assert_eq!(
        one(
            Stdout,
            "exim_lock: locking test-mail/userx succeeded: running /bin/sh ..."
        ),
        "exim_lock: locking test-mail/userx succeeded: running ENV_SHELL ..."
    );
    assert_eq!(
        one(
            Mail,
            "  0 opt=0 status=0 RDONLY\n  2 opt=0 status=1 WRONLY\n"
        ),
        "  0 opt=0 STATUS\n  2 opt=0 STATUS\n"
    );
}

#[test]
fn quota_and_errno_debug() {
    let raw = "Exim quota = 52428800 old size = 809 this message = 355 (included)\nquota = 52428800 threshold = 21495808 old size = 809 message size = 409\nappendfile yields 0 with errno=0 more_errno=0\nadded retry item for R:outside: errno=-1 more_errno=0 flags=0\nread response data: size=34\n   closing :/work/suite/aux-fixed/0123.aliases1\n";
    assert_eq!(one(Stderr, raw), "Exim quota = 52428800 old size = sssss this message = sss (included)\nquota = 52428800 threshold = 21495808 old size = sssss message size = sss\nappendfile yields 0 with errno=dd more_errno=dd\nadded retry item for R:outside: errno=-1 more_errno=dd flags=0\n   closing 0TESTSUITE/aux-fixed/0123.aliases1\n");
}

#[test]
fn routing_test_host_lines_and_space_checks() {
    assert_eq!(one(Stdout, "  host 10.20.30.40 [10.20.30.40]\n  host 127.0.0.1       [127.0.0.1]\n  host ten-1.test.ex   [224.0.0.1] MX=1\n"),
        "  host ipv4.ipv4.ipv4.ipv4 [ipv4.ipv4.ipv4.ipv4]\n  host 127.0.0.1 [127.0.0.1]\n  host ten-1.test.ex [V4NET.0.0.1] MX=1\n");
    assert_eq!(one(Mainlog, "2026-11-22 05:20:00 spool directory space check failed: space=75547788 inodes=16333786"),
        "1999-03-02 09:44:33 spool directory space check failed: space=xxxxx inodes=xxxxx");
    assert_eq!(one(Stderr, " writing neg-cache entry for test.again.dns-MX-8000c1, ttl -1\nten-1.test.ex in dns_ipv4_lookup? yes (matched \"*\")\n"),
        " writing neg-cache entry for test.again.dns-MX-xxxx, ttl -1\n");
}

#[test]
fn server_port_in_host_error_lines_is_renumbered_as_perl_did() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let raw = "2026-11-22 05:20:00 1xUzup-0004TK-0a H=127.0.0.1 [127.0.0.1]:1224: SMTP error from remote mail server after MAIL FROM:<>: 450 not right now\n2026-11-22 05:20:00 1xUzup-0004TK-0a == u@d R=all T=smtp defer (-45) H=127.0.0.1 [127.0.0.1]:1224 I=[127.0.0.1]:40001: SMTP error\n";
    assert_eq!(m.munge(Mainlog, raw), "1999-03-02 09:44:33 10HmaX-0005vi-00 H=127.0.0.1 [127.0.0.1]:1111: SMTP error from remote mail server after MAIL FROM:<>: 450 not right now\n1999-03-02 09:44:33 10HmaX-0005vi-00 == u@d R=all T=smtp defer (-45) H=127.0.0.1 [127.0.0.1]:PORT_S I=[127.0.0.1]:ppppp: SMTP error\n");
}

#[test]
fn host_lines_with_a_port_say_host_twice_as_the_saved_files_do() {
    assert_eq!(one(Stdout, "  host 127.0.0.1 [127.0.0.1]   port=1225\n  host 10.20.30.40 [10.20.30.40] port=1228\n  host ten-1.test.ex [224.0.0.1] MX=1 port=99\n"),
        "  host host 127.0.0.1 [127.0.0.1] port=1225\n  host host ipv4.ipv4.ipv4.ipv4 [ipv4.ipv4.ipv4.ipv4] port=1228\n  host ten-1.test.ex [V4NET.0.0.1] MX=1 port=99\n");
}

#[test]
fn host_lines_in_bounces() {
    assert_eq!(
        one(
            Mail,
            "    host localhost4.test.ex [127.0.0.1]\n  host a.host.name          \n"
        ),
        "  host localhost4.test.ex [127.0.0.1]\n  host a.host.name          \n"
    );
}

#[test]
fn callouts_fast_open_and_spool_owner() {
    assert_eq!(one(Stderr, "  SMTP>> RCPT TO:<vm.example.net-1795324784-testing@remote.domain>\nConnecting to 127.0.0.1 [127.0.0.1]:1224 ...  TFO mode sendto, no data: EINPROGRESS\n connected\n"),
        "  SMTP>> RCPT TO:<the.local.host.name-dddddddd-testing@remote.domain>\nConnecting to 127.0.0.1 [127.0.0.1]:1224 ...  connected\n");
    assert_eq!(
        one(Stdout, "10HmaX-0005vi-00-H\nmungetest 1001 1002\n"),
        "10HmaX-0005vi-00-H\nCALLER UID GID\n"
    );
}

#[test]
fn ports_after_fake_and_own_addresses_are_renumbered() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let raw = "2026-11-22 05:20:00 1xUzup-0004TK-0a <= x@y.x H=(test) [224.9.8.7]:1234 U=root P=smtp S=1\n2026-11-22 05:20:00 SMTP connection from [10.20.30.40]:44844 I=[10.20.30.40]:1225 (TCP/IP connection count = 1)\n2026-11-22 05:20:00 1xUzuq-0004TK-0a <= x@y.x H=(test) [224.9.8.7]:1225 U=root P=smtp S=1\n";
    assert_eq!(m.munge(Mainlog, raw), "1999-03-02 09:44:33 10HmaX-0005vi-00 <= x@y.x H=(test) [V4NET.9.8.7]:1111 U=root P=smtp S=sss\n1999-03-02 09:44:33 SMTP connection from [ip4.ip4.ip4.ip4]:1112 I=[ip4.ip4.ip4.ip4]:PORT_D (TCP/IP connection count = 1)\n1999-03-02 09:44:33 10HmaY-0005vi-00 <= x@y.x H=(test) [V4NET.9.8.7]:1113 U=root P=smtp S=sss\n");
}

#[test]
fn retry_debug_and_header_sizes() {
    assert_eq!(one(Stderr, "failing_interval=0 message_age=0\n  first failed=1795324870 last try=1795324870 next try=1795325170 expired=0\nSize of headers = 294\n"),
        "failing_interval=ttt message_age=ttt\n  first failed=dddd last try=dddd next try=+300 expired=0\nSize of headers = sss\n");
    assert_eq!(
        one(
            Stdout,
            "  T:userx@test.ex -22 0 mailbox is full (MTA-imposed quota exceeded)"
        ),
        "  T:userx@test.ex -22 xxxx mailbox is full (MTA-imposed quota exceeded)"
    );
}

#[test]
fn gnutls_4_96_forms() {
    assert_eq!(one(Mail, "\tby vm.example.net with esmtps  (TLS1.2) tls TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n\tby x with smtps  (TLS1.2) tls TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n"),
        "\tby the.local.host.name with esmtps (TLS1.x:ke-RSA-AES256-SHAnnn:xxx)\n\tby x with smtps (TLS1.x:ke-ECDSA-AES256-SHAnnn:xxx)\n");
    assert_eq!(one(Mainlog, "2026-11-22 05:30:00 cipher_ TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n2026-11-22 05:30:00 ver:    TLS1.2\n"),
        "1999-03-02 09:44:33 cipher_ TLS1.x:ke_RSA_WITH_ci_mac\n1999-03-02 09:44:33 ver:    TLS1.x\n");
    assert_eq!(one(Mainlog, "TLS error on connection from (rhu.barb) [127.0.0.1] (gnutls_handshake): No certificate was found."),
        "TLS error on connection from (rhu.barb) [127.0.0.1] (gnutls_handshake): The peer did not send any certificate.");
    assert_eq!(
        one(Mainlog, "C=\"250- 323 byte chunk, total 323\\n250 OK\""),
        "C=\"250- 3nn byte chunk, total 3nn\\n250 OK\""
    );
}

#[test]
fn gnutls_tls13_and_library_wording() {
    let raw = "2026-11-22 05:30:00 1xUzup-0004TK-0a H=10.20.30.40 [10.20.30.40] TLS error on connection (recv): A TLS fatal alert has been received: Certificate is required\n2026-11-22 05:30:00 1xUzup-0004TK-0a TLS session: error on first read: delivering unencrypted to H=10.20.30.40 [10.20.30.40] (not in hosts_require_tls)\n2026-11-22 05:30:00 TLS error on connection from (rhu1.barb) [127.0.0.1] (gnutls_handshake): Certificate is required.\n2026-11-22 05:30:00 TLS error on connection from (rhu1.barb) [127.0.0.1] (gnutls_handshake): timed out\n2026-11-22 05:30:00 TLS error on connection from x [127.0.0.1] (gnutls_handshake): No supported cipher suites have been found.\n";
    assert_eq!(one(Mainlog, raw), "1999-03-02 09:44:33 10HmaX-0005vi-00 TLS session: (gnutls_handshake): A TLS fatal alert has been received.: delivering unencrypted to H=ip4.ip4.ip4.ip4 [ip4.ip4.ip4.ip4] (not in hosts_require_tls)\n1999-03-02 09:44:33 TLS error on connection from (rhu1.barb) [127.0.0.1] (gnutls_handshake): The peer did not send any certificate.\n1999-03-02 09:44:33 TLS error on connection from (rhu1.barb) [127.0.0.1] (tls lib accept fn): timed out\n1999-03-02 09:44:33 TLS error on connection from x [127.0.0.1] (gnutls_handshake): Could not negotiate a supported cipher suite.\n");
}

#[test]
fn port_headers_share_the_port_numbering() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    m.munge(Mainlog, "2026-11-22 05:20:00 SMTP connection from [127.0.0.1]:59026 I=[127.0.0.1]:1225 (TCP/IP connection count = 1)\n");
    assert_eq!(
        m.munge(Mail, "Port: 59026\nPort: 1234\n"),
        "Port: 1111\nPort: 1112\n"
    );
}

#[test]
fn gnutls_bad_clientcert_named_munge() {
    let rs = rules();
    let raw = "2026-11-22 05:30:00 TLS error on connection from (rhu1.barb) [10.20.30.40] (gnutls_handshake): No supported cipher suites have been found.\n";
    let mut m = Munger::new(&rs, ctx());
    assert!(m
        .munge(Mainlog, raw)
        .ends_with("Could not negotiate a supported cipher suite.\n"));
    let mut m = Munger::new(&rs, ctx());
    m.enable_named("gnutls_bad_clientcert").unwrap();
    assert_eq!(m.munge(Mainlog, raw), "1999-03-02 09:44:33 TLS error on connection from (rhu1.barb) [ip4.ip4.ip4.ip4] (gnutls_handshake): The peer did not send any certificate.\n");
}

#[test]
fn optional_events_drops_event_action_from_bp_output() {
    let rs = rules();
    let out = "delay_after_cutoff\nevent_action = \nno_event_action\nfallback_hosts = \n";
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(m.munge(Stdout, out), out);
    m.enable_named("optional_events").unwrap();
    assert_eq!(
        m.munge(Stdout, out),
        "delay_after_cutoff\nfallback_hosts = \n"
    );
    // Only -bP output (stdout); a log line naming the option stays.
    assert_eq!(m.munge(Stderr, "event_action = x\n"), "event_action = x\n");
}

#[test]
fn optional_ocsp_drops_ocsp_host_checks_from_debug_output() {
    let rs = rules();
    let err = "  host in hosts_request_ocsp? yes (matched \"*\")\n127.0.0.1 in hosts_require_ocsp? no (option unset)\n  host in hosts_require_tls? no\n";
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(m.munge(Stderr, err), err);
    m.enable_named("optional_ocsp").unwrap();
    assert_eq!(m.munge(Stderr, err), "  host in hosts_require_tls? no\n");
}

#[test]
fn perl_variants_turns_a_bucket_fill_into_a_key_count() {
    let rs = rules();
    let out = "> 3/8\n> 3\n> 10/10/10\n";
    let mut m = Munger::new(&rs, ctx());
    assert_eq!(m.munge(Stdout, out), out);
    m.enable_named("perl_variants").unwrap();
    assert_eq!(m.munge(Stdout, out), "> 3\n> 3\n> 10/10/10\n");
}

#[test]
fn debug_lines_that_depend_on_the_build_or_the_heap() {
    let rs = rules();
    let mut m = Munger::new(&rs, ctx());
    let raw = "Connecting to 127.0.0.1 [127.0.0.1]:1224 ... 127.0.0.1 in hosts_try_fastopen? no (end of list)\n connected\n\
>>> Connecting to 127.0.0.1 [127.0.0.1]:1224 ... 127.0.0.1 in hosts_try_fastopen? no (end of list)\n>>>  connected\n\
127.0.0.1 in hosts_pipe_connect? no (option unset)\n>>> 127.0.0.1 in hosts_require_tls? no (option unset)\n\
\x20in tls_advertise_hosts? no (end of list)\n\
set_process_info: 4242 delivering 1xUzQw-0002Xx-0e to 127.0.0.1 [127.0.0.1]:1224 (x@y)\n\
\x20returned from EXIM_DBOPEN: 0x5577b5141ba0\n EXIM_DBCLOSE(0x5577b5141ba0)\n\
>>> cmd buf flush 21 bytes\ncmd buf flush 21 bytes\nwriting error 32: Broken pipe\n\
\x20 now=1796120733 first_failed=1796120723 next_try=1796120737 expired=F\n\
\x20 received_time=1796120722 diff=11 timeout=3600\n\
DKIM >> Body data for hash, canonicalized >>>>>>>>>>>>>>>>>>>>>>>>>>>>\nDKIM <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n\
host_fake_gethostbyname(af=inet6) returned 1 (HOST_NOT_FOUND)\n\
process 17064 running as transport filter: fd_write=9 fd_read=10\nprocess 17069 writing to transport filter\n";
    assert_eq!(m.munge(Stderr, raw), "Connecting to 127.0.0.1 [127.0.0.1]:1224 ...  connected\n\
>>> Connecting to 127.0.0.1 [127.0.0.1]:1224 ...  connected\n\
set_process_info: pppp delivering 10HmaX-0005vi-00 to 127.0.0.1 [127.0.0.1]:PORT_S (x@y)\n\
\x20returned from EXIM_DBOPEN: 0xAAAAAAAA\n EXIM_DBCLOSE(0xAAAAAAAA)\n\
>>> cmd buf flush 21 bytes\ncmd buf flush ddd bytes\nwriting error EEE: Broken pipe\n\
\x20 now=tttt first_failed=tttt next_try=tttt expired=F\n\
\x20 received_time=tttt diff=tttt timeout=3600\n\
process pppp running as transport filter: fd_write=dddd fd_read=dddd\nprocess pppp writing to transport filter\n");
}

#[test]
fn bt_host_lines_ls_lines_and_log_ports() {
    assert_eq!(one(Stdout, "  host 1.2.3.4 [1.2.3.4]   \n  host v6.test.ex [unknown]   MX=10 ** unusable **\n  host a.host.name          \n"),
        "  host 1.2.3.4 [1.2.3.4]\n  host v6.test.ex [unknown] MX=10 ** unusable **\n  host a.host.name          \n");
    assert_eq!(
        one(
            Stdout,
            "-rw------- 1 mungetest mungetest 0 May 10  2002 /work/suite/test-mail/a\n"
        ),
        "-rw------- 1 CALLER CALLER 0 May 10 2002 TESTSUITE/test-mail/a\n"
    );
    assert_eq!(one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e H=127.0.0.1 [127.0.0.1]:1223 Connection refused\n"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 H=127.0.0.1 [127.0.0.1]:PORT_N Connection refused\n");
    assert_eq!(one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e == u@t R=r1 T=t1 defer (99): Cannot assign requested address\n"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 == u@t R=r1 T=t1 defer (dd): Network Error\n");
    assert_eq!(one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e == u@t R=r1 T=t1 defer (17): File exists: while renaming /work/suite/test-mail/temp.14872.vm.example.net as /x\n"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 == u@t R=r1 T=t1 defer (EEE): File exists: while renaming TESTSUITE/test-mail/temp.pppp.the.local.host.name as /x\n");
}

#[test]
fn sync_check_data_keeps_eight_characters_of_the_next_input() {
    let rs = rules();
    let line = "2026-11-22 04:44:10 SMTP protocol synchronization error (next input sent too soon: pipelining was advertised): rejected \"data\" H=(abcd) [127.0.0.1] next input=\"the message\\r\\n\"\n";
    let mut m = Munger::new(&rs, ctx());
    assert!(m
        .munge(Rejectlog, line)
        .ends_with("next input=\"the message\\r\\n\"\n"));
    m.enable_named("sync_check_data").unwrap();
    assert!(m
        .munge(Rejectlog, line)
        .ends_with("next input=\"the mes<suppressed>\n"));
}

#[test]
fn tls_client_timeouts_and_ipv6_server_peers() {
    assert_eq!(one(Mainlog, "2026-11-22 04:44:10 1xUzQw-0002Xx-0e == u@d R=r T=smtp defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (gnutls_handshake): timed out\n"),
        "1999-03-02 09:44:33 10HmaX-0005vi-00 == u@d R=r T=smtp defer (-37) H=127.0.0.1 [127.0.0.1]: TLS session: (tls lib connect fn): timed out\n");
    assert!(one(Mainlog, "2026-11-22 04:44:10 TLS error on connection from [127.0.0.1] (gnutls_handshake): timed out\n").ends_with("(tls lib accept fn): timed out\n"));
    assert!(one(Mainlog, "2026-11-22 04:44:10 TLS error on connection from (close.rhu.barb) [127.0.0.1] (gnutls_handshake): The TLS connection was non-properly terminated.\n")
        .ends_with("[127.0.0.1] (tls lib accept fn): TCP connection closed by peer\n"));
    assert_eq!(
        one(
            Stdout,
            "Connection request from [::1]\nConnection request from [127.0.0.1]\n"
        ),
        "Connection request from [ipv6]\nConnection request from [127.0.0.1]\n"
    );
}

#[test]
fn the_dynamic_port_and_retry_record_debug_times() {
    assert_eq!(
        one(Stdout, "Connecting to 127.0.0.1 port 40001 ... connected\n"),
        "Connecting to 127.0.0.1 port <dynamic port> ... connected\n"
    );
    // the same number elsewhere is not a port
    assert_eq!(one(Stdout, "size 40001\n"), "size 40001\n");
    assert_eq!(
        one(
            Stderr,
            "retry record exists: age=1m5s (max 1w)\n  time to retry = 5m2s expired = 0\n"
        ),
        "retry record exists: age=ttt (max 1w)\n  time to retry = tttt expired = 0\n"
    );
}

#[test]
fn dumpdb_retry_increments_round_up_to_even_seconds() {
    assert_eq!(
        one(
            Stdout,
            "  01-Dec-2026 10:00:00  01-Dec-2026 10:00:01  01-Dec-2026 10:00:30 *\n"
        ),
        "first failed = time last try = time2 next try = time2 + 30 *\n"
    );
}

#[test]
fn optional_config_drops_the_build_dependent_option_families_only() {
    let rs = rules();
    let raw = "dkim_canon = \ndane_require_tls_ciphers = \nhosts_try_dane = *\nhosts_request_ocsp = *\nhosts_avoid_tls = \nhosts_pipe_connect = \npipelining_connect_advertise_hosts = :\nsocks_proxy = \nutf8_downconvert = -1\ntls_certificate = \nkeep_environment = PATH\nadd_environment = A=B\ndns_cname_loops = 9\nhosts_require_alpn = \nhosts_connection_nolog = \n";
    let mut m = Munger::new(&rs, ctx());
    m.enable_named("optional_config").unwrap();
    assert_eq!(m.munge(Stdout, raw),
        "keep_environment = PATH\nadd_environment = A=B\ndns_cname_loops = 9\nhosts_require_alpn = \nhosts_connection_nolog = \n");
}
