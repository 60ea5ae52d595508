//! Profile mode and POP3/LMTP against a real Dovecot (tools/dovecot on free loopback ports,
//! stopped when the test ends, even when it fails): profiles like the two examples of the
//! original run unchanged (only the ports come from the command line), a profile delivering
//! over LMTP and reading over IMAP and POP3 runs clean without `user=` or `$USER`, a broken
//! profile is refused naming file:line, POP3 stress mode reads what LMTP delivers, IMAP stress
//! mode gets an LMTP column with `lmtp_port=`, and hostile LMTP/POP3/IMAP peers are named.
mod common;

use common::Dovecot;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// imaptest in profile mode against `d`, with no `user=` and no `$USER`.
/// imaptest run in `dir` with `profile=DIR/NAME`, the profile file written with `text`.
fn with_profile(dir: &Path, name: &str, text: &str) -> Command {
    let conf = dir.join(name);
    std::fs::write(&conf, text).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_imaptest"));
    c.current_dir(dir)
        .arg(format!("profile={}", conf.display()));
    c
}

fn profile_run(d: &Dovecot, dir: &Path, profile: &str, extra: &[&str]) -> Output {
    with_profile(dir, "test-profile.conf", profile)
        .env_remove("USER")
        .args([
            format!("port={}", d.port),
            format!("pop3_port={}", d.pop3_port),
            format!("lmtp_port={}", d.lmtp_port),
            "pass=testpass".into(),
            format!(
                "mbox={}",
                common::mbox20(dir, "p", ".line starting with a dot")
            ),
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The output of a run that must end with exit 0 and without any error.
fn clean(o: &Output) -> String {
    let s = common::text(o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    s
}

const HEADER: &str = "Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo LMTP ";

/// Checks the shape of a profile run's output; returns the totals by column.
fn shape(out: &str) -> HashMap<String, u64> {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], HEADER, "{out}");
    // names only: the next line is a row of counts, not of probabilities
    assert!(!lines[1].contains('%') || lines[1].contains('['), "{out}");
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 13 && w[..12].iter().all(|x| x.parse::<u64>().is_ok()) && w[12].contains('/')
        })
        .collect();
    assert!(rows.len() >= 3, "per-second rows: {out}");
    for r in &rows {
        // %4d per column, then %3d/%3d
        assert_eq!(&r[63..64], "/", "{r:?} in {out}");
    }
    let t = out.split("Totals:\n").nth(1).expect("Totals:");
    let mut tl = t.lines();
    assert_eq!(tl.next(), Some(HEADER), "{out}");
    let values: Vec<u64> = tl
        .next()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    HEADER
        .split_whitespace()
        .map(String::from)
        .zip(values)
        .collect()
}

/// The original's profile.conf, in our words: 1000 users, ramp-up 30 s, Thunderbird and Apple
/// Mail clients with IDLE. Its lmtp_port stays 24: the command line's wins.
const LIKE_PROFILE_CONF: &str = "\
# deliveries go to the IMAP host's LMTP port
lmtp_port = 24
lmtp_max_parallel_count = 10
total_user_count = 1000
rampup_time = 30s

user aggressive {
  username_format = test%{username_idx}
  #username_start_index = 1
  count = 100%
  mail_session_length = 3 min
  mail_inbox_delivery_interval = 10s
  mail_spam_delivery_interval = 5s
  mail_action_delay = 2s
  mail_action_repeat_delay = 1s
  mail_inbox_move_filter_percentage = 10
  mail_send_interval = 10s
  mail_write_duration = 5s
  mail_inbox_delete_percentage = 5
  mail_inbox_move_percentage = 5
  mail_inbox_reply_percentage = 50
}

user normal {
  username_format = test%{username_idx}
  count = 0%
  mail_inbox_delivery_interval = 5 min
  mail_spam_delivery_interval = 3 min
  mail_action_delay = 3 min
  mail_action_repeat_delay = 10s
  mail_session_length = 20 min
  mail_send_interval = 10 min
  mail_write_duration = 2 min
  mail_inbox_reply_percentage = 50
  mail_inbox_delete_percentage = 5
  mail_inbox_move_percentage = 5
  mail_inbox_move_filter_percentage = 10
}

client Thunderbird {
  count = 80%
  connection_max_count = 5
  imap_idle = yes
  imap_fetch_immediate = UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID References In-Reply-To Content-Type)]
  imap_fetch_manual = RFC822.SIZE BODY[]
}

client AppleMail {
  count = 20%
  connection_max_count = 5
  imap_idle = yes
  imap_fetch_immediate = INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (date subject from to message-id references)] MODSEQ
  imap_fetch_manual = BODYSTRUCTURE BODY.PEEK[]
}
";

/// The original's pop3-profile.conf, in our words: 10 users, POP3 clients keeping mail.
const LIKE_POP3_PROFILE_CONF: &str = "\
lmtp_port = 24
lmtp_max_parallel_count = 100
total_user_count = 10
rampup_time = 1s

user aggressive {
  username_format = test%n
  count = 100%
  mail_inbox_delivery_interval = 10s
  mail_spam_delivery_interval = 5s
  mail_action_delay = 2s
  mail_action_repeat_delay = 1s
  mail_session_length = 3 min
  mail_send_interval = 10s
  mail_write_duration = 5s
  mail_inbox_reply_percentage = 50
  mail_inbox_delete_percentage = 1
  mail_inbox_move_percentage = 5
  mail_inbox_move_filter_percentage = 10
}

client pop3 {
  count = 0%
  connection_max_count = 1
  protocol = pop3
  pop3_keep_mails = no
  login_interval = 1min
}

client pop3 {
  count = 100%
  connection_max_count = 1
  protocol = pop3
  pop3_keep_mails = yes
  login_interval = 1min
}
";

#[test]
fn example_profiles_run_unchanged() {
    let d = Dovecot::start("imaptest-profile-ex");
    let work = tempfile::tempdir().unwrap();
    let o = profile_run(
        &d,
        work.path(),
        LIKE_PROFILE_CONF,
        &["clients=50", "secs=5,10"],
    );
    let s = clean(&o);
    let t = shape(&String::from_utf8_lossy(&o.stdout));
    for c in ["Logi", "List", "Stat", "Sele", "LMTP"] {
        assert!(t[c] > 0, "{c} is 0: {s}");
    }
    // the first rows show the ramp-up over 30 s
    assert!(s.contains("%]\n"), "{s}");

    let o = profile_run(
        &d,
        work.path(),
        LIKE_POP3_PROFILE_CONF,
        &["clients=100", "secs=4,10"],
    );
    let s = clean(&o);
    let t = shape(&String::from_utf8_lossy(&o.stdout));
    // every user logs in once (login_interval = 1min): USER/PASS, UIDL, QUIT; mail kept
    assert_eq!((t["Logi"], t["Sele"], t["Logo"]), (10, 10, 10), "{s}");
    assert_eq!(t["Expu"], 0, "{s}");
    assert!(t["LMTP"] > 0, "{s}");
}

#[test]
fn a_profile_delivers_over_lmtp_and_reads_over_imap_and_pop3() {
    let d = Dovecot::start("imaptest-profile");
    let work = tempfile::tempdir().unwrap();
    let profile = "\
lmtp_port = 24
lmtp_max_parallel_count = 4
total_user_count = 8
rampup_time = 1s
user busy {
  username_format = busy_%{username_idx | lfill(3, '0')}@example.com
  count = 100%
  mail_inbox_delivery_interval = 500ms
  mail_action_delay = 0
  mail_action_repeat_delay = 100ms
  mail_send_interval = 2s
  mail_write_duration = 500ms
  mail_inbox_reply_percentage = 30
  mail_inbox_delete_percentage = 30
  mail_inbox_move_percentage = 20
  mail_inbox_move_filter_percentage = 10
}
client imap {
  count = 50%
  connection_max_count = 2
  imap_idle = yes
  imap_fetch_immediate = UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]
  imap_fetch_manual = RFC822.SIZE BODY[]
}
client pop3 {
  count = 50%
  connection_max_count = 1
  protocol = pop3
  pop3_keep_mails = no
  login_interval = 1s
}
";
    let o = profile_run(
        &d,
        work.path(),
        profile,
        &["clients=20", "secs=5,10", "output=stats.tsv"],
    );
    let s = clean(&o);
    let t = shape(&String::from_utf8_lossy(&o.stdout));
    for c in [
        "Logi", "Sele", "Fetc", "Fet2", "Expu", "Appe", "Logo", "LMTP",
    ] {
        assert!(t[c] > 0, "{c} is 0: {s}");
    }
    // 8 users × 2 deliveries a second for 5 s, at most 4 at once: at least a few dozen
    assert!(t["LMTP"] >= 20, "{s}");
    let tsv = std::fs::read_to_string(work.path().join("stats.tsv")).unwrap();
    assert!(tsv.starts_with("secs\tLogi\t"), "{tsv}");
    assert!(tsv.lines().next().unwrap().contains("\tLMTP\t"), "{tsv}");
    // the POP3 clients deleted what they read: mail of busy_00[5-8] went through POP3
    let log = std::fs::read_to_string(d.dir.path().join("dovecot.log")).unwrap_or_default();
    assert!(
        log.contains("pop3(busy_005@example.com)"),
        "no POP3 session in the Dovecot log"
    );
}

#[test]
fn a_broken_profile_is_refused_naming_file_and_line() {
    let work = tempfile::tempdir().unwrap();
    let o = with_profile(
        work.path(),
        "broken.conf",
        "lmtp_port = 24\ntotal_user_count = 5\nuser a {\n  username_format = a%n\n  count = 100%\n  mail_session_length = forever\n}\n",
    )
    .output()
    .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(2), "{s}");
    assert!(
        s.contains("broken.conf:6: mail_session_length: \"forever\": not a time"),
        "{s}"
    );
    let o = with_profile(
        work.path(),
        "broken.conf",
        "lmtp_port = 24\ntotal_user_count = 5\nuser a {\n  username_format = a%n\n  count = 100%\n}\n",
    )
    .output()
    .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(2), "{s}");
    assert!(
        s.contains("broken.conf: at least one client { } block is required"),
        "{s}"
    );
}

#[test]
fn pop3_stress_reads_what_lmtp_delivers() {
    let d = Dovecot::start("imaptest-pop3");
    let work = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .current_dir(work.path())
        .args([
            "pop3".to_string(),
            format!("port={}", d.pop3_port),
            format!("lmtp_port={}", d.lmtp_port),
            "lmtp_rate=50".into(),
            "user=pop%d".into(),
            "users=3".into(),
            "pass=testpass".into(),
            "clients=3".into(),
            format!(
                "mbox={}",
                common::mbox20(work.path(), "p", ".line starting with a dot")
            ),
            "secs=4,10".into(),
        ])
        .output()
        .unwrap();
    let s = clean(&o);
    assert!(
        s.starts_with("Logi List Stat Sele Fetc Fet2 Expu Logo LMTP \n100%  50%  50% 100% 100% 100% 100% 100% 100% \n"),
        "{s}"
    );
    let v = common::totals(&s);
    // Logi, Fet2 (RETR), Expu (DELE), Logo and LMTP deliveries all happened
    for i in [0, 5, 6, 7, 8] {
        assert!(v[i] > 0, "column {i}: {s}");
    }
    assert!(v[8] >= 100, "about 50 deliveries a second: {s}");
}

#[test]
fn hostile_lmtp_and_pop3_servers_are_named_and_the_run_ends() {
    // LMTP refusing every recipient; POP3 answering USER with something that is not POP3
    let lmtp = common::tiny_server("220 tiny LMTP\r\n", |l| {
        Some(
            match l.split(':').next().unwrap_or("") {
                "LHLO tiny" | "LHLO imaptest" => "250-tiny\r\n250 PIPELINING\r\n",
                "MAIL FROM" => "250 ok\r\n",
                "RCPT TO" => "550 5.1.1 no such user here\r\n",
                _ => "221 bye\r\n",
            }
            .to_string(),
        )
    });
    let pop3 = common::tiny_server("+OK tiny POP3\r\n", |_| {
        Some("* OK this is IMAP, not POP3\r\n".to_string())
    });
    let work = tempfile::tempdir().unwrap();
    let mut c = with_profile(
        work.path(),
        "p.conf",
        "lmtp_port = 24\ntotal_user_count = 2\nuser u {\n username_format = u%n\n count = 100%\n mail_inbox_delivery_interval = 300ms\n}\nclient c {\n count = 100%\n protocol = pop3\n login_interval = 1s\n}\n",
    );
    let t = std::time::Instant::now();
    let o = c
        .args([
            format!("lmtp_port={lmtp}"),
            format!("pop3_port={pop3}"),
            format!(
                "mbox={}",
                common::mbox20(work.path(), "p", ".line starting with a dot")
            ),
            "secs=2,5".into(),
        ])
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(t.elapsed().as_secs() < 10, "{s}");
    assert!(
        s.contains(&format!(
            "LMTP 127.0.0.1:{lmtp}: RCPT TO: 550 5.1.1 no such user here"
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "Error: u1[1]: POP3 127.0.0.1:{pop3}: USER u1: not a POP3 status line: \"* OK this is IMAP, not POP3\""
        )) || s.contains(&format!(
            "Error: u1[2]: POP3 127.0.0.1:{pop3}: USER u1: not a POP3 status line"
        )),
        "{s}"
    );
    assert!(s.contains("Totals:"), "{s}");
}

#[test]
fn profile_imap_clients_check_what_the_server_says() {
    // an IMAP server that announces an EXPUNGE of a message its mailbox never had
    let imap = common::tiny_server("* OK [CAPABILITY IMAP4rev1 IDLE] tiny IMAP\r\n", |l| {
        let (tag, cmd) = l.split_once(' ')?;
        let verb = cmd.split(' ').next()?.to_ascii_uppercase();
        Some(match verb.as_str() {
            "LIST" => format!("* LIST () \"/\" INBOX\r\n{tag} OK done\r\n"),
            "SELECT" => format!("* 0 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n{tag} OK done\r\n"),
            "STATUS" => format!("{tag} OK done\r\n"),
            "IDLE" => "+ idling\r\n* 3 EXPUNGE\r\n".to_string(),
            "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
            _ if tag == "DONE" => return None,
            _ => format!("{tag} OK done\r\n"),
        })
    });
    let work = tempfile::tempdir().unwrap();
    let o = with_profile(
        work.path(),
        "p.conf",
        "lmtp_port = 24\ntotal_user_count = 1\nuser u {\n username_format = u%n\n count = 100%\n}\nclient c {\n count = 100%\n imap_idle = yes\n}\n",
    )
    .args([
        format!("port={imap}"),
        format!("mbox={}", common::mbox20(work.path(), "p", ".line starting with a dot")),
        "secs=2,5".into(),
    ])
        .output()
        .unwrap();
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(
            "Error: u1[1]: EXPUNGE 3 out of range (the mailbox has 0 messages): * 3 EXPUNGE"
        ),
        "{s}"
    );
}

#[test]
fn imap_stress_with_lmtp_deliveries_has_an_lmtp_column() {
    let d = Dovecot::start("imaptest-stress-lmtp");
    let work = tempfile::tempdir().unwrap();
    let o = d
        .command(work.path())
        .args([
            format!("lmtp_port={}", d.lmtp_port),
            "lmtp_rate=20".into(),
            format!(
                "mbox={}",
                common::mbox20(work.path(), "p", ".line starting with a dot")
            ),
            "clients=3".into(),
            "secs=3,10".into(),
            "output=stress.tsv".into(),
        ])
        .output()
        .unwrap();
    let s = clean(&o);
    assert!(
        s.starts_with("Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo LMTP \n100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 100% \n"),
        "{s}"
    );
    let lmtp = *common::totals(&s).last().unwrap();
    assert!(lmtp >= 20, "about 20 deliveries a second: {s}");
    let tsv = std::fs::read_to_string(work.path().join("stress.tsv")).unwrap();
    assert!(
        tsv.starts_with("secs\tLogi\t") && tsv.contains("\tLMTP\tbanner\t"),
        "{tsv}"
    );
}
