//! Stress mode against a real Dovecot (tools/dovecot on free loopback ports, stopped when the
//! test ends, even when it fails) and against a tiny rule-breaking server: the default mix runs
//! clean, `- append=100,0 logout=0` ends at `secs`, a seeded run repeats its commands, the
//! per-second lines come through a pipe each second, checkpoints with many users are clean,
//! Ctrl-C once finishes the run, and each broken rule of a rule-breaking server is named.
mod common;

use common::Dovecot;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

trait Stress {
    /// imaptest against this server with the test mbox.
    fn cmd(&self, args: &[&str], cwd: &Path) -> Command;
    fn imaptest(&self, args: &[&str], cwd: &Path) -> Output;
    /// Forget the test user's mail (a fresh mailbox for the next run).
    fn wipe_mail(&self);
}

impl Stress for Dovecot {
    fn cmd(&self, args: &[&str], cwd: &Path) -> Command {
        let mut c = self.command(cwd);
        c.arg(format!("mbox={}", mbox(cwd).display())).args(args);
        c
    }

    fn imaptest(&self, args: &[&str], cwd: &Path) -> Output {
        self.cmd(args, cwd).output().unwrap()
    }

    fn wipe_mail(&self) {
        let _ = std::fs::remove_dir_all(self.dir.path().join("mail/testuser"));
    }
}

/// A small mbox with unique Message-IDs in `dir`.
fn mbox(dir: &Path) -> PathBuf {
    let p = dir.join("test.mbox");
    if !p.exists() {
        let mut s = String::new();
        for i in 0..40 {
            s += &format!(
                "From s{i}@example.com  Sat Mar 24 23:00:{:02} 2007 +0200\nFrom: s{i}@example.com\nTo: r@example.com\nSubject: message {i}\nMessage-ID: <m{i}@imaptest.example>\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n\n",
                i % 60
            );
            for j in 0..(i % 7 + 1) {
                s += &format!("body line {j} of {i}\n");
            }
            s += "\n";
        }
        std::fs::write(&p, s).unwrap();
    }
    p
}

#[test]
fn default_mix_and_seed_examples_run_clean() {
    let d = Dovecot::start("imaptest-stress");
    let work = tempfile::tempdir().unwrap();
    let o = d.imaptest(&["secs=4", "clients=5", "copybox=Trash"], work.path());
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(!s.contains("Error:"), "{s}");
    assert!(
        s.starts_with("Logi List Stat Sele Fetc Fet2 Copy Stor Dele Expu Appe Logo \n100%  50%  50% 100% 100% 100%  33%  50% 100% 100% 100% 100% \n"),
        "{s}"
    );
    let rows = s.lines().filter(|l| l.contains("/  5")).count();
    assert!(rows >= 3, "{s}");
    let logins = common::totals(&s)[0];
    assert!(logins > 0, "{s}");
    // a few of the seed's examples, with secs= added
    for args in [
        &["-", "select=0", "secs=3"][..],
        &[
            "logout=0",
            "search=100",
            "expunge=10",
            "clients=1",
            "secs=3",
        ],
        &["own_msgs", "expunge=5", "logout=1", "secs=3"],
        &[
            "clients=20",
            "-",
            "logout=0",
            "status=50",
            "noop=50",
            "delay=100",
            "secs=3",
        ],
        &["auth=100", "secs=3", "clients=3"],
    ] {
        let o = d.imaptest(args, work.path());
        let s = common::text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {s}");
        assert!(
            s.contains("Totals:") && !s.contains("Error:"),
            "{args:?}: {s}"
        );
    }
}

#[test]
fn append_only_with_default_msgs_ends_at_secs() {
    let d = Dovecot::start("imaptest-stress");
    let work = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let o = d.imaptest(&["-", "append=100,0", "logout=0", "secs=3"], work.path());
    let s = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t.elapsed()
    );
    assert!(s.starts_with("Logi Sele Appe \n100% 100% 100% \n"), "{s}");
}

#[test]
fn a_seeded_run_repeats_its_commands() {
    let d = Dovecot::start("imaptest-stress");
    let runs: Vec<Vec<String>> = (0..2)
        .map(|_| {
            d.wipe_mail();
            let work = tempfile::tempdir().unwrap();
            // the command line: the default mix (a LOGOUT and a new connection,
            // so a new rawlog.1.N, every round)
            let o = d.imaptest(&["seed=123", "secs=10", "clients=1", "rawlog"], work.path());
            assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
            let mut sent = Vec::new();
            for n in 1.. {
                let Ok(log) = std::fs::read_to_string(work.path().join(format!("rawlog.1.{n}")))
                else {
                    break;
                };
                sent.extend(
                    log.lines()
                        .filter(|l| l.starts_with("C: "))
                        .map(str::to_string),
                );
            }
            sent
        })
        .collect();
    let n = runs[0].len().min(runs[1].len());
    assert!(n > 30, "too few commands: {n}");
    // the runs end at different points (secs=); what both sent must be identical
    assert_eq!(runs[0][..n - 1], runs[1][..n - 1]);
}

#[test]
fn per_second_lines_arrive_through_a_pipe() {
    let d = Dovecot::start("imaptest-stress");
    let work = tempfile::tempdir().unwrap();
    let mut child = d
        .cmd(&["secs=5", "clients=2"], work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut firsts = Vec::new();
    while firsts.len() < 2 && r.read_line(&mut line).unwrap() > 0 {
        if line.contains("/  2") {
            firsts.push(t.elapsed());
        }
        line.clear();
    }
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.wait();
    assert_eq!(firsts.len(), 2);
    assert!(still_running, "the rows came only at exit");
    assert!(firsts[0] < Duration::from_millis(2500), "{firsts:?}");
    assert!(
        firsts[1] - firsts[0] < Duration::from_millis(1800),
        "{firsts:?}"
    );
}

/// The untagged lines a broken server sends for the n-th FETCH of a connection.
type Personality = fn(u32) -> String;

/// A server that answers everything OK but breaks one rule in its FETCH replies: `fetch`
/// gives the untagged lines for the n-th FETCH (from 1) of a connection.
fn broken_server(fetch: Personality) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let _ = w.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] broken\r\n");
                let mut n = 0;
                for line in BufReader::new(s).lines() {
                    let Ok(line) = line else { return };
                    let mut it = line.splitn(3, ' ');
                    let (tag, cmd) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                    let reply = match cmd.to_ascii_uppercase().as_str() {
                        "SELECT" => format!("* FLAGS (\\Seen)\r\n* 2 EXISTS\r\n* OK [UIDVALIDITY 1] x\r\n{tag} OK [READ-WRITE] done\r\n"),
                        "FETCH" => {
                            n += 1;
                            format!("{}{tag} OK done\r\n", fetch(n))
                        }
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if w.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn each_broken_rule_is_caught_and_named() {
    let cases: &[(Personality, &str, &str)] = &[
        (|_| "* 5 FETCH (UID 9)\r\n".into(), "1", "FETCH 5 for a sequence never announced by EXISTS (the mailbox has 2 messages): * 5 FETCH (UID 9)"),
        (|n| format!("* 1 FETCH (UID {n})\r\n"), "1", "seq 1 changed its UID from 1 to 2: * 1 FETCH (UID 2)"),
        (|_| "* 3 EXPUNGE\r\n".into(), "1", "EXPUNGE 3 out of range (the mailbox has 2 messages): * 3 EXPUNGE"),
        (|n| format!("* 1 FETCH (UID 1 MODSEQ ({}))\r\n", 100 - n), "1", "seq 1: MODSEQ went down from 99 to 98"),
        (|_| "* 1 FETCH (UID 1 FLAGS ($NotAnnounced))\r\n".into(), "1", "keyword $notannounced was not announced in FLAGS"),
        (|_| "* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n".into(), "2", "UID 1 has \\Recent in two sessions"),
        (|n| format!("* 1 FETCH (UID 1 RFC822.SIZE {})\r\n", 100 + n), "1", "UID 1: RFC822.SIZE changed from 101 to 102"),
    ];
    let wrong_search: Personality =
        |_| "* 1 FETCH (UID 1 RFC822.SIZE 100)\r\n* 2 FETCH (UID 2 RFC822.SIZE 200)\r\n".into();
    let cases: Vec<(Personality, &str, &str, &str)> = cases
        .iter()
        .map(|(f, c, w)| (*f, *c, *w, "fetch=100"))
        .chain([(wrong_search, "1", "returned [], expected [", "search=100")])
        .collect();
    let work = tempfile::tempdir().unwrap();
    for (fetch, clients, want, state) in cases {
        let port = broken_server(fetch);
        let o = Command::new(env!("CARGO_BIN_EXE_imaptest"))
            .current_dir(work.path())
            .args([
                format!("port={port}"),
                "user=testuser".into(),
                format!("mbox={}", mbox(work.path()).display()),
                "-".into(),
                "fetch=100".into(),
                state.into(),
                "logout=0".into(),
                format!("clients={clients}"),
                "secs=5".into(),
                "error_quit".into(),
            ])
            .output()
            .unwrap();
        let s = common::text(&o);
        assert_eq!(o.status.code(), Some(2), "{want}: {s}");
        assert!(s.contains("Error: testuser["), "{s}");
        assert!(s.contains(want), "missing {want:?} in: {s}");
    }
}

#[test]
fn checkpoints_with_many_users_are_clean() {
    let d = Dovecot::start("imaptest-stress");
    let work = tempfile::tempdir().unwrap();
    for args in [
        &[
            "checkpoint=1",
            "user=testuser%d",
            "users=4",
            "clients=12",
            "secs=5",
            // with the default logout=100 a session spends most of its life connecting and
            // logging in, so about one in twelve is selected when a checkpoint comes and a
            // loaded machine could end 5 s with no snapshot at all; 5% still logs in again
            // ~20 times a second and keeps nearly every session selected at each checkpoint
            "logout=5",
        ][..],
        &["checkpoint=1", "logout=0", "expunge=10", "secs=4"],
    ] {
        let mut c = d.cmd(args, work.path());
        // the template replaces user=testuser given by cmd()
        let o = c.output().unwrap();
        let s = common::text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {s}");
        assert!(!s.contains("Error:"), "{args:?}: {s}");
        assert!(s.contains("ChkP \n"), "{s}");
        let chkp = *common::totals(&s).last().unwrap();
        assert!(chkp > 0, "no session was checkpointed: {s}");
    }
}

#[test]
fn ctrl_c_once_finishes_the_run() {
    let d = Dovecot::start("imaptest-stress");
    let work = tempfile::tempdir().unwrap();
    let mut child = d
        .cmd(&["clients=3"], work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let o = loop {
        if child.try_wait().unwrap().is_some() || t.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            break child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let s = common::text(&o);
    assert!(t.elapsed() < Duration::from_secs(10), "{s}");
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains("Totals:"), "{s}");
}
