//! IMAP against real clients: Python's imaplib (every command it has, STARTTLS included) and
//! the project's own imaptest running its scripted tests (crates/imaptest/tests/scripts),
//! plus hostile input (an over-long literal, garbage) that must get a tagged answer.

mod common;

use common::imap::{imaptest_bin, run, text, Fake, Opts};
use fakeserver::auth::Users;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn start(users: Users) -> Fake {
    start_with(users, "")
}

fn start_with(users: Users, faults: &'static str) -> Fake {
    common::imap::start(Opts {
        users: Some(users),
        faults,
        ..Opts::default()
    })
}

const IMAPLIB: &str = r#"
import imaplib, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
M = imaplib.IMAP4("127.0.0.1", port)
assert "STARTTLS" in M.capabilities, M.capabilities
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
M.starttls(ssl_context=ctx)
assert "STARTTLS" not in M.capabilities
M.login("alice", "s3cret")
def ok(r):
    typ, data = r
    assert typ == "OK", (typ, data)
    return data
ok(M.noop())
ok(M.create("Work/Projects"))
ok(M.create("Archive"))
names = b" ".join(ok(M.list()))
assert b'"Work/Projects"' in names and b"\\HasChildren" in names, names
ok(M.subscribe("Archive"))
assert b"Archive" in b" ".join(ok(M.lsub()))
ok(M.unsubscribe("Archive"))
msg = b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Greetings\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nHello Alice,\r\nhow are you?\r\n"
for i in range(3):
    data = ok(M.append("INBOX", "(\\Flagged)" if i == 0 else None, imaplib.Time2Internaldate(time.time()), msg.replace(b"Greetings", b"Greetings %d" % i)))
assert ok(M.select("INBOX")) == [b"3"]
assert ok(M.search(None, "FLAGGED")) == [b"1"]
assert ok(M.search(None, 'SUBJECT "greetings 2"')) == [b"3"]
assert ok(M.search(None, "BODY", "alice", "SENTON", "7-Feb-1994")) == [b"1 2 3"]
typ, data = M.fetch("1", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
head = data[0][0]
assert b"ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Greetings 0\" ((\"Bob\" NIL \"bob\" \"example.test\"))" in head, head
assert b"\\Flagged" in head and b"BODYSTRUCTURE (\"text\" \"plain\"" in head, head
assert data[0][1] == b"Subject: Greetings 0\r\n\r\n", data
typ, data = M.fetch("2", "(BODY[TEXT]<0.5>)")
assert data[0][1] == b"Hello", data
assert b"\\Seen" in ok(M.fetch("2", "(FLAGS)"))[0]
ok(M.store("1:2", "+FLAGS", "(\\Deleted $Done)"))
assert ok(M.search(None, "KEYWORD", "$Done")) == [b"1 2"]
typ, data = M.uid("COPY", "1:*", "Archive")
assert typ == "OK", data
typ, data = M.uid("MOVE", "3", "Work")
assert typ == "OK", data
assert ok(M.expunge()) == [b"3", b"2", b"1"]  # imaplib keeps the EXPUNGE of MOVE
st = ok(M.status("Archive", "(MESSAGES UNSEEN UIDNEXT)"))[0]
assert b"MESSAGES 3" in st and b"UIDNEXT 4" in st, st
ok(M.rename("Archive", "Old/Archive"))
assert ok(M.select("Old/Archive", readonly=True)) == [b"3"]
typ, data = M.store("1", "+FLAGS", "\\Seen")
assert typ == "NO", data
ok(M.close())
ok(M.delete("Work/Projects"))
assert ok(M.namespace())[0].startswith(b'(("" "/"))')
ok(M.select("Work"))
ok(M.check())
typ, data = M.uid("SEARCH", None, "ALL")
assert data == [b"1"], data
ok(M.unselect())
M.logout()
print("imaplib: all good")
"#;

#[test]
fn python_imaplib_every_command_over_starttls() {
    let f = start(Users::strict([("alice", "s3cret")]));
    let o = run(
        Command::new("python3").args(["-c", IMAPLIB, &f.server.port().to_string(), &f.ca_path()]),
        Duration::from_secs(60),
    );
    assert!(
        o.status.success() && text(&o).contains("imaplib: all good"),
        "{}\n{}",
        text(&o),
        f.server.recorder().to_text()
    );
    let state = f.svc.daemon().state();
    assert_eq!(
        state["alice"]["Old/Archive"]["messages"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{state}"
    );
    let t = f.server.recorder().to_text();
    assert!(
        t.contains("LOGIN alice ****") && !t.contains("s3cret"),
        "{t}"
    );
    assert!(
        t.contains("OK [APPENDUID ")
            && t.contains(" 3] Append completed")
            && t.contains("OK [COPYUID "),
        "{t}"
    );
}

#[test]
fn imaptest_scripted_tests_pass() {
    let f = start(Users::strict([("testuser", "testpass")]));
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../imaptest/tests/scripts");
    let o = run(
        Command::new(imaptest_bin())
            .env("IMAPTEST_SELFTEST_ON", "1")
            .args([
                "host=127.0.0.1",
                &format!("port={}", f.server.port()),
                "user=testuser",
                "pass=testpass",
            ])
            .arg(format!("test={}", scripts.display())),
        Duration::from_secs(120),
    );
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains("test groups: 0 failed"), "{s}");
    assert!(
        s.contains("base protocol: 0/") && s.contains("extensions: 0/"),
        "{s}"
    );
}

fn read_until_tag(r: &mut impl BufRead, tag: &str) -> String {
    let mut all = String::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap() == 0 {
            return all;
        }
        all.push_str(&l);
        if l.starts_with(tag) || l.starts_with("* BYE") {
            return all;
        }
    }
}

#[test]
fn hostile_input_gets_tagged_answers() {
    let f = start(Users::open());
    let s = std::net::TcpStream::connect(f.server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    w.write_all(b"a LOGIN u p\r\nb APPEND INBOX {2147483648}\r\n")
        .unwrap();
    assert!(read_until_tag(&mut r, "a ").contains("a OK"));
    assert!(read_until_tag(&mut r, "b ").contains("b NO [TOOBIG]"));
    w.write_all(b"x COPY 1 INBOX\r\n").unwrap();
    assert!(read_until_tag(&mut r, "x ").contains("x BAD Command COPY not valid in this state"));
    w.write_all(b"c FETCH 1 (BODY[\r\nd SELECT INBOX\r\ne FETCH 1:* (FLAGS (((((\r\nf STORE x FLAGS\r\n\"\r\n").unwrap();
    assert!(read_until_tag(&mut r, "c ").contains("c BAD"));
    assert!(read_until_tag(&mut r, "d ").contains("d OK"));
    assert!(read_until_tag(&mut r, "e ").contains("e BAD"));
    assert!(read_until_tag(&mut r, "f ").contains("f BAD"));
    w.write_all(b"g APPEND INBOX {4000000000+}\r\n").unwrap();
    assert!(read_until_tag(&mut r, "g ").contains("* BYE [TOOBIG]"));
}

struct Session {
    w: std::net::TcpStream,
    r: BufReader<std::net::TcpStream>,
}

impl Session {
    fn open(f: &Fake) -> Session {
        let s = std::net::TcpStream::connect(f.server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        Session { w: s, r }
    }
    fn cmd(&mut self, tag: &str, c: &str) -> String {
        self.w
            .write_all(format!("{tag} {c}\r\n").as_bytes())
            .unwrap();
        read_until_tag(&mut self.r, &format!("{tag} "))
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l
    }
}

#[test]
fn idle_hears_other_sessions_at_once_and_recent_goes_to_one_session() {
    let f = start(Users::open());
    let mut a = Session::open(&f);
    let mut b = Session::open(&f);
    a.cmd("1", "LOGIN u p");
    b.cmd("1", "LOGIN u p");
    assert!(a.cmd("2", "SELECT INBOX").contains("* 0 EXISTS"));
    a.w.write_all(b"3 IDLE\r\n").unwrap();
    assert!(a.line().starts_with("+ "));
    f.deliver("u", "INBOX", b"Subject: one\r\n\r\nx\r\n");
    assert_eq!(a.line(), "* 1 EXISTS\r\n");
    assert_eq!(a.line(), "* 1 RECENT\r\n");
    // b selects after a has claimed \Recent: it sees the message, not as recent.
    let sel = b.cmd("2", "SELECT INBOX");
    assert!(
        sel.contains("* 1 EXISTS") && sel.contains("* 0 RECENT"),
        "{sel}"
    );
    b.cmd("3", "STORE 1 +FLAGS (\\Flagged)");
    assert_eq!(a.line(), "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n");
    b.cmd("4", "STORE 1 +FLAGS (\\Deleted)");
    assert!(a.line().contains("FLAGS (\\Deleted \\Flagged \\Recent)"));
    b.cmd("5", "EXPUNGE");
    assert_eq!(a.line(), "* 1 EXPUNGE\r\n");
    a.w.write_all(b"DONE\r\n").unwrap();
    assert!(a.line().starts_with("3 OK"));
    let st = a.cmd("4", "STATUS INBOX (MESSAGES RECENT)");
    assert!(st.contains("(MESSAGES 0 RECENT 0)"), "{st}");
}

#[test]
fn thousands_of_pipelined_commands_are_answered_in_order() {
    let f = start(Users::open());
    let mut a = Session::open(&f);
    a.cmd("l", "LOGIN u p");
    let mut batch = String::new();
    for i in 0..3000 {
        batch.push_str(&format!("n{i} NOOP\r\n"));
    }
    a.w.write_all(batch.as_bytes()).unwrap();
    for i in 0..3000 {
        assert_eq!(a.line(), format!("n{i} OK Noop completed.\r\n"));
    }
}

#[test]
fn a_fault_plan_drops_the_second_fetch_and_imaplib_reports_it() {
    let plan = "[[fault]]\non = \"reply\"\nverb = \"FETCH\"\nnth = 2\naction = \"drop\"\n";
    let f = start_with(Users::open(), plan);
    f.deliver("u", "INBOX", b"Subject: x\r\n\r\nx\r\n");
    let script = r#"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("u", "p")
M.select("INBOX")
assert M.fetch("1", "(FLAGS)")[0] == "OK"
try:
    M.fetch("1", "(FLAGS)")
    print("no error")
except (imaplib.IMAP4.abort, OSError) as e:
    print("aborted:", e)
"#;
    let o = run(
        Command::new("python3").args(["-c", script, &f.server.port().to_string()]),
        Duration::from_secs(30),
    );
    assert!(text(&o).contains("aborted:"), "{}", text(&o));
    let t = f.server.recorder().to_text();
    assert!(t.contains("drop instead of reply"), "{t}");
}
