//! fakeserver's NNTP against Python's nntplib (every command it has: capabilities, group,
//! over/xover, xhdr, article/head/body/stat, next/last, list, descriptions, post, ihave,
//! newgroups, newnews, date, help, starttls, login), plain and over STARTTLS, and with faults
//! the client must survive or report.

mod common;

use common::popnntp::*;
use fakeserver::nntp::{NntpDaemon, NntpPersonality};
use fakeserver::tls::Preset;
use std::sync::Arc;

fn news() -> (Arc<NntpDaemon>, tempfile::TempDir) {
    let t = nntp_tree();
    let d = NntpDaemon::new();
    assert_eq!(d.load_dir(t.path()).unwrap(), 2);
    d.set_description("misc.test", "Testing group").unwrap();
    (d, t)
}

const STEPS: &[&str] = &[
    "welcome/capabilities",
    "login",
    "list",
    "descriptions",
    "group",
    "over/xover",
    "xhdr",
    "stat/next/last",
    "article/head/body",
    "post",
    "ihave",
    "date/newgroups/newnews",
    "help/slave",
    "quit",
];

#[test]
fn nntplib_every_command_plain() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let r = start_nntp(d.clone(), NntpPersonality::default(), Opts::default());
    let ran = python("nntp_nntplib.py", &[&r.server.port().to_string(), "-"]);
    ran.expect_ok();
    for s in STEPS {
        assert!(
            ran.stdout.contains(&format!("ok {s}\n")),
            "missing {s}: {}",
            ran.show()
        );
    }
    let posted = d
        .article("<posted@test>")
        .expect("the POSTed article is stored");
    assert!(
        posted.header("Path").is_some() && posted.header("Date").is_some(),
        "POST adds Path and Date"
    );
    assert_eq!(d.group("misc.test").unwrap().stats(), (4, 1, 4));
    let text = r.server.recorder().to_text().to_ascii_lowercase();
    assert!(text.contains("them: authinfo user fred"), "{text}");
    assert!(
        !text.contains("pass pw"),
        "the password must be masked:\n{text}"
    );
    for cmd in [
        "group misc.test",
        "over 1-2",
        "xover 1-2",
        "xhdr subject 1-2",
        "newnews misc.* ",
        "ihave <fed@test>",
        "post",
        "date",
        "list newsgroups",
        "next",
        "last",
    ] {
        assert!(
            text.contains(&format!("them: {cmd}")),
            "{cmd} not sent:\n{text}"
        );
    }
}

#[test]
fn nntplib_over_starttls() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let r = start_nntp(d, NntpPersonality::default(), Opts::tls(Preset::Valid));
    let ca = r.ca.clone().unwrap();
    let ran = python(
        "nntp_nntplib.py",
        &[&r.server.port().to_string(), ca.to_str().unwrap()],
    );
    ran.expect_ok();
    ran.expect_out("ok starttls\n");
    assert!(r.server.recorder().to_text().contains("STARTTLS"));
}

#[test]
fn nntplib_with_the_inn_personality() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/personalities/inn-nntp.toml");
    let file = fakeserver::personality::Personality::load(std::path::Path::new(path)).unwrap();
    let p = NntpPersonality::from_section(&file.section("nntp")).unwrap();
    let r = start_nntp(d, p, Opts::default());
    let code = r#"
import sys, warnings
warnings.simplefilter("ignore")
import nntplib
s = nntplib.NNTP("127.0.0.1", int(sys.argv[1]), timeout=10)
assert "INN" in s.getwelcome(), s.getwelcome()
assert "IHAVE" not in s.getcapabilities()
resp, count, first, last, name = s.group("misc.test")
resp, ov = s.over((first, last))
assert ov[0][1]["xref"].endswith("misc.test:1"), ov[0][1]
try:
    s.ihave("<x@test>", [b"Subject: x", b"", b"x"])
    raise SystemExit("IHAVE should be refused")
except nntplib.NNTPPermanentError as e:
    print("refused", e)
s.quit()
print("done")
"#;
    let ran = python_code(code, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("refused 502");
}

#[test]
fn nntplib_reports_a_temporary_failure_and_a_drop() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let plan = faults(
        r#"
[[fault]]
verb = "GROUP"
nth = 1
scope = "global"
action = "reply"
reply = "400 service temporarily unavailable"
[[fault]]
verb = "ARTICLE"
nth = 1
scope = "global"
action = "drop"
[[fault]]
verb = "OVER"
nth = 1
action = "delay"
delay_ms = 1000
"#,
    );
    let r = start_nntp(d.clone(), NntpPersonality::default(), Opts::faults(plan));
    let code = r#"
import sys, warnings
warnings.simplefilter("ignore")
import nntplib
port = int(sys.argv[1])
s = nntplib.NNTP("127.0.0.1", port, timeout=10)
try:
    s.group("misc.test")
    raise SystemExit("GROUP should fail")
except nntplib.NNTPTemporaryError as e:
    print("reported", e)
resp, count, first, last, name = s.group("misc.test")
assert count == 2
resp, ov = s.over((1, 2))           # delayed, still answered
assert len(ov) == 2
try:
    s.article(1)
    raise SystemExit("ARTICLE should have lost the connection")
except (EOFError, OSError, nntplib.NNTPError) as e:
    print("dropped", type(e).__name__)
s = nntplib.NNTP("127.0.0.1", port, timeout=10)
s.group("misc.test")
resp, info = s.article(1)
assert info.message_id == "<a1@test>"
s.quit()
print("survived")
"#;
    let ran = python_code(code, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("reported 400 service temporarily unavailable");
    ran.expect_out("dropped");
    ran.expect_out("survived");
}

#[test]
fn nntplib_reports_a_connection_cut_in_the_middle_of_post() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let plan = faults("[[fault]]\non = \"data\"\nafter_bytes = 100\naction = \"drop\"\n");
    let r = start_nntp(d.clone(), NntpPersonality::default(), Opts::faults(plan));
    // nntplib writes an article in one go, and the core checks the byte limit only on a
    // block still arriving; so the article goes out in two writes on nntplib's own socket,
    // and nntplib reads (and must report) the outcome.
    let code = r#"
import sys, time, warnings
warnings.simplefilter("ignore")
import nntplib
s = nntplib.NNTP("127.0.0.1", int(sys.argv[1]), timeout=10)
resp = s._shortcmd("POST")
assert resp.startswith("340"), resp
art = b"From: p@test\r\nNewsgroups: misc.test\r\nSubject: cut\r\nMessage-ID: <cut@test>\r\n\r\n" + b"x" * 4000 + b"\r\n.\r\n"
s.sock.sendall(art[:150])
time.sleep(0.3)
try:
    s.sock.sendall(art[150:])
    s._getresp()
    raise SystemExit("POST should have lost the connection")
except (EOFError, OSError, nntplib.NNTPError) as e:
    print("cut", type(e).__name__)
"#;
    let ran = python_code(code, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("cut ");
    assert!(
        d.article("<cut@test>").is_none(),
        "a cut POST stores nothing"
    );
    assert_eq!(d.group("misc.test").unwrap().stats().0, 2);
}

#[test]
fn nntplib_survives_a_refused_post_and_a_lost_post_success() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    // The first POST is refused at its start (reply 1 to POST); the second one's 240 (reply 3:
    // a block's reply counts for the command it belongs to) is turned into a 441, so the
    // client is told it failed and the article must not be kept either.
    let plan = faults(
        "[[fault]]\nverb = \"POST\"\nnth = 1\naction = \"reply\"\nreply = \"440 posting suspended\"\n\
         [[fault]]\nverb = \"POST\"\nnth = 3\naction = \"reply\"\nreply = \"441 fault: try later\"\n",
    );
    let r = start_nntp(d.clone(), NntpPersonality::default(), Opts::faults(plan));
    let code = r#"
import io, sys, warnings
warnings.simplefilter("ignore")
import nntplib
s = nntplib.NNTP("127.0.0.1", int(sys.argv[1]), timeout=10)
art = b"From: p@test\r\nNewsgroups: misc.test\r\nSubject: s\r\nMessage-ID: <p%d@test>\r\n\r\nbody\r\n"
for i in (1, 2):
    try:
        s.post(io.BytesIO(art % i))
        raise SystemExit("POST %d should fail" % i)
    except nntplib.NNTPTemporaryError as e:
        print("refused", i, e)
resp, count, first, last, name = s.group("misc.test")
print("group", count)
print(s.post(io.BytesIO(art % 3)))
"#;
    let ran = python_code(code, &[&r.server.port().to_string()]);
    ran.expect_ok();
    ran.expect_out("refused 1 440 posting suspended");
    ran.expect_out("refused 2 441 fault: try later");
    ran.expect_out("group 2\n");
    assert!(
        r.server.recorder().to_text().contains("<p2@test>"),
        "the second article was sent"
    );
    assert!(
        d.article("<p2@test>").is_none(),
        "a POST the client was told failed is not kept"
    );
    assert!(d.article("<p3@test>").is_some());
}

#[test]
fn nntplib_over_implicit_tls() {
    if !have("python3") {
        return;
    }
    let (d, _t) = news();
    let r = start_nntp(
        d,
        NntpPersonality::default(),
        Opts::implicit_tls(Preset::Valid),
    );
    let code = r#"
import ssl, sys, warnings
warnings.simplefilter("ignore")
import nntplib
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = nntplib.NNTP_SSL("localhost", int(sys.argv[1]), ssl_context=ctx, timeout=10)
assert "STARTTLS" not in s.getcapabilities()
resp, count, first, last, name = s.group("misc.test")
resp, info = s.body(2)
print("body", info.lines)
s.quit()
"#;
    let ca = r.ca.clone().unwrap();
    let ran = python_code(code, &[&r.server.port().to_string(), ca.to_str().unwrap()]);
    ran.expect_ok();
    ran.expect_out("body [b'.starts with a dot', b'second line']");
}
