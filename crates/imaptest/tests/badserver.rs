//! imaptest against a tiny hostile server (in this file): garbage, a connection closed in the
//! middle of a literal, a 2 GB literal, no answer at all, a flood of untagged lines, a MODSEQ
//! going down, and a server that accepts LOGIN and then drops every session. Each must end
//! quickly with an error that names what the server sent.
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Bad {
    Garbage,
    CloseMidLiteral,
    HugeLiteral,
    Silent,
    Flood,
    ModseqDown,
    DropAfterLogin,
    /// No LITERAL+: literals wait for a continuation.
    SyncLiterals,
}

fn serve(conn: TcpStream, bad: Bad) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let caps = if matches!(bad, Bad::SyncLiterals) {
        "IMAP4rev1"
    } else {
        "IMAP4rev1 LITERAL+"
    };
    let _ = w.write_all(format!("* OK [CAPABILITY {caps}] tiny\r\n").as_bytes());
    let mut line = String::new();
    let mut modseq = 10u32;
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        // a synchronising literal: say go, read it and the rest of the command
        while let Some(n) = line
            .trim_end()
            .strip_suffix('}')
            .and_then(|l| l.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        {
            if line.trim_end().ends_with("+}") {
                break;
            }
            let _ = w.write_all(b"+ go ahead\r\n");
            let mut data = vec![0u8; n];
            if std::io::Read::read_exact(&mut r, &mut data).is_err() {
                return;
            }
            let mut more = String::new();
            if r.read_line(&mut more).unwrap_or(0) == 0 {
                return;
            }
            line = line.trim_end().to_string() + "<literal>" + &more;
        }
        let mut words = line.split_whitespace();
        let tag = words.next().unwrap_or("*").to_string();
        let cmd = words.next().unwrap_or("").to_ascii_uppercase();
        let out: Vec<u8> = match cmd.as_str() {
            "LOGIN" => {
                let _ = w.write_all(format!("{tag} OK logged in\r\n").as_bytes());
                if matches!(bad, Bad::DropAfterLogin) {
                    return;
                }
                continue;
            }
            "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n").into_bytes(),
            "APPEND" if line.matches("<literal>").count() == 2 && line.contains("plus") => {
                format!("{tag} OK [APPENDUID 1 2] two literals\r\n").into_bytes()
            }
            "LIST" | "DELETE" | "CREATE" | "SELECT" | "LOGOUT" => {
                format!("{tag} OK done\r\n").into_bytes()
            }
            "NOOP" => match bad {
                Bad::Garbage => b"\x00\xff((garbage\r\n".to_vec(),
                Bad::CloseMidLiteral => {
                    let _ = w.write_all(b"* 1 FETCH (BODY[] {100}\r\nonly a few bytes");
                    return;
                }
                Bad::HugeLiteral => {
                    let _ = w.write_all(b"* 1 FETCH (BODY[] {2147483648}\r\n");
                    let chunk = vec![b'x'; 65536];
                    for _ in 0..32768 {
                        if w.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                    return;
                }
                Bad::Silent => {
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                Bad::Flood => {
                    let mut buf = Vec::new();
                    for i in 0..100_000 {
                        buf.extend_from_slice(format!("* OK flood {i}\r\n").as_bytes());
                        if buf.len() > 65536 {
                            if w.write_all(&buf).is_err() {
                                return;
                            }
                            buf.clear();
                        }
                    }
                    let _ = w.write_all(&buf);
                    std::thread::sleep(Duration::from_secs(30));
                    return;
                }
                _ => format!("{tag} OK noop\r\n").into_bytes(),
            },
            "FETCH" => {
                modseq -= 3;
                format!("* 1 FETCH (MODSEQ ({modseq}))\r\n{tag} OK fetched\r\n").into_bytes()
            }
            _ => format!("{tag} BAD unknown\r\n").into_bytes(),
        };
        if w.write_all(&out).is_err() {
            return;
        }
    }
}

fn server(bad: Bad) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || serve(c, bad));
        }
    });
    port
}

fn run(bad: Bad, scripts: &[(&str, &str)], extra: &[&str]) -> (Output, Duration) {
    let port = server(bad);
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in scripts {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imaptest"));
    cmd.args([
        format!("port={port}"),
        "user=u".into(),
        "pass=p".into(),
        format!("test={}", dir.path().display()),
        "timeout=3".into(),
    ]);
    cmd.args(extra);
    let out = cmd.output().unwrap();
    (out, start.elapsed())
}

const NOOP: &str = "state: auth\n\nok noop\n";

/// Run imaptest (no extra arguments) against `bad`, check its exit code is `code`; its
/// stdout and stderr, and how long it took.
#[track_caller]
fn exits(code: i32, bad: Bad, scripts: &[(&str, &str)]) -> (String, Duration) {
    let (o, t) = run(bad, scripts, &[]);
    let s = stdout(&o);
    assert_eq!(o.status.code(), Some(code), "{s}");
    (s, t)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn garbage_is_a_malformed_reply_naming_the_line() {
    let (s, t) = exits(1, Bad::Garbage, &[("g", NOOP)]);
    assert!(s.contains("malformed") && s.contains("garbage"), "{s}");
    assert!(s.contains("1 test groups: 1 failed"), "{s}");
    assert!(t < Duration::from_secs(10));
}

#[test]
fn close_in_the_middle_of_a_literal() {
    let (s, _) = exits(1, Bad::CloseMidLiteral, &[("c", NOOP)]);
    assert!(
        s.contains("closed the connection in the middle of a reply") && s.contains("{100}"),
        "{s}"
    );
}

#[test]
fn a_2gb_literal_is_refused_without_buffering_it() {
    let (s, t) = exits(1, Bad::HugeLiteral, &[("h", NOOP)]);
    assert!(s.contains("2147483648") && s.contains("BODY[]"), "{s}");
    assert!(t < Duration::from_secs(10), "{t:?}");
}

#[test]
fn a_silent_server_times_out() {
    let (s, t) = exits(1, Bad::Silent, &[("s", NOOP)]);
    assert!(s.contains("timeout: no reply within 3 s"), "{s}");
    assert!(t < Duration::from_secs(10), "{t:?}");
}

#[test]
fn a_flood_of_untagged_lines_ends_in_a_timeout_naming_the_last_line() {
    let (s, t) = exits(1, Bad::Flood, &[("f", NOOP)]);
    assert!(s.contains("timeout") && s.contains("flood"), "{s}");
    assert!(t < Duration::from_secs(15), "{t:?}");
}

#[test]
fn a_modseq_going_down_fails_on_its_line() {
    let script = "state: auth\n\nok fetch 1 modseq\n* 1 fetch (modseq ($modseq1))\n\n# the server answers 4 here, below 7\nok fetch 1 modseq\n* 1 fetch (modseq ($modseq2))\n";
    let (s, _) = exits(1, Bad::ModseqDown, &[("m", script)]);
    assert!(s.contains("command 2/2 (line 7)"), "{s}");
    assert!(s.contains("$modseq2 must be at least 8"), "{s}");
    assert!(
        s.contains("base protocol: 1/2 individual commands failed"),
        "{s}"
    );
}

#[test]
fn a_server_dropping_every_session_after_login_is_given_up_on() {
    let scripts: Vec<(String, &str)> = (0..6).map(|i| (format!("t{i}"), NOOP)).collect();
    let refs: Vec<(&str, &str)> = scripts.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let (s, t) = exits(2, Bad::DropAfterLogin, &refs);
    assert!(
        s.contains("giving up") && s.contains("3 groups in a row"),
        "{s}"
    );
    assert!(s.contains("3 test groups: 3 failed"), "{s}");
    assert!(t < Duration::from_secs(20), "{t:?}");
}

#[test]
fn arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .arg("bogus=1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument: bogus=1"));
    let out = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: imaptest"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad"), "state: sideways\n\nok noop\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imaptest"))
        .args(["user=u", &format!("test={}/bad", dir.path().display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/bad:1: state:"), "{err}");
}

#[test]
fn literals_wait_for_the_continuation_without_literal_plus() {
    let script = "state: auth\n\nok append x {{{\nabc\n}}} plus {{{\nde\n}}}\n";
    let (_, t) = exits(0, Bad::SyncLiterals, &[("l", script)]);
    assert!(t < Duration::from_secs(10));
}
