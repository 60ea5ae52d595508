//! The control API's IMAP part. Through the router without a socket: delivery into a nested
//! mailbox (parents created), the mailbox tree, messages, flags, expunge, create and delete,
//! and every error (404 naming the user, mailbox or UID; 400 for bad input; 409). Over real
//! sockets: curl drives the API while raw IMAP sessions (one in IDLE, one polling with NOOP)
//! see the pushed EXISTS, FETCH FLAGS (with the bumped MODSEQ) and EXPUNGE, and the quota
//! and subscriptions the API sets.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use fakeserver::auth::Users;
use fakeserver::imap::ImapService;
use fakeserver::personality::Section;
use fakeserver::server::{ServerConfig, ServerHandle};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn imap_server(users: Users) -> (ImapService, ServerHandle, Arc<Users>) {
    let users = Arc::new(users);
    let svc = ImapService::new(Section::default(), users.clone());
    let server =
        fakeserver::server::start(ServerConfig::new("imap"), Arc::new(svc.clone())).unwrap();
    (svc, server, users)
}

/// Calls the router directly.
struct Api {
    app: axum::Router,
    rt: tokio::runtime::Runtime,
}

impl Api {
    fn new(server: &ServerHandle, protocol: &str, users: Arc<Users>) -> Self {
        let target = fakeserver::control::Target::of(server, protocol, users);
        Api {
            app: fakeserver::control::router(target),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn raw(&self, method: Method, uri: &str, body: &[u8]) -> (StatusCode, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_vec()))
            .unwrap();
        self.rt.block_on(async {
            let resp = self.app.clone().oneshot(req).await.unwrap();
            let code = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (code, bytes.to_vec())
        })
    }

    fn call(&self, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let (code, bytes) = self.raw(method, uri, body.as_bytes());
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&bytes)));
        (code, v)
    }
}

#[test]
fn router_manages_mailboxes_messages_and_flags() {
    let (svc, server, users) = imap_server(Users::open());
    let api = Api::new(&server, "imap", users);

    // Delivery into a nested mailbox creates its parent; flags and INTERNALDATE come from the
    // query; LF line ends are stored as CRLF.
    let (code, v) = api.call(
        Method::POST,
        "/api/deliver/alice/Work/Reports?flags=%5CSeen,$Q1&internaldate=17-Jul-1996%2002:44:25%20-0700",
        "Subject: report\n\nnumbers\n",
    );
    assert_eq!(code, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["uid"].as_u64(), v["mailbox"].as_str()),
        (Some(1), Some("Work/Reports"))
    );
    let (code, v) = api.call(Method::GET, "/api/mailboxes?user=alice", "");
    assert_eq!(code, StatusCode::OK);
    let tree = v["users"]["alice"].as_array().unwrap();
    let names: Vec<&str> = tree.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["INBOX", "Work", "Work/Reports"]);
    assert_eq!(tree[1]["children"], true);
    assert_eq!(
        (tree[2]["messages"].as_u64(), tree[2]["uidnext"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(
        tree[2]["uidvalidity"].as_u64().unwrap() > 0
            && tree[2]["highestmodseq"].as_u64().unwrap() > 1
    );
    let (_, list) = api.call(
        Method::GET,
        "/api/mailboxes/alice/Work/Reports/messages",
        "",
    );
    let m = &list[0];
    assert_eq!(m["flags"], json!(["$Q1", "\\Seen"]));
    assert_eq!(m["internaldate"], "17-Jul-1996 02:44:25 -0700");
    assert_eq!(m["size"], 28);
    let (code, raw) = api.raw(
        Method::GET,
        "/api/mailboxes/alice/Work%2FReports/messages/1/raw",
        b"",
    );
    assert_eq!(
        (code, raw.as_slice()),
        (StatusCode::OK, &b"Subject: report\r\n\r\nnumbers\r\n"[..])
    );
    // The daemon agrees (what a session would see).
    assert_eq!(
        svc.daemon().state()["alice"]["Work/Reports"]["messages"][0]["size"],
        28
    );

    // Flags: add/remove, then replace; MODSEQ grows with each change.
    let modseq0 = m["modseq"].as_u64().unwrap();
    let (code, v) = api.call(
        Method::POST,
        "/api/mailboxes/alice/Work/Reports/messages/1/flags",
        r#"{"add":["\\Flagged"],"remove":["\\Seen"]}"#,
    );
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["flags"], json!(["$Q1", "\\Flagged"]));
    let modseq1 = v["modseq"].as_u64().unwrap();
    assert!(modseq1 > modseq0);
    let (_, v) = api.call(
        Method::PUT,
        "/api/mailboxes/alice/Work/Reports/messages/1/flags",
        r#"{"flags":["\\answered"]}"#,
    );
    assert_eq!(
        (v["flags"].clone(), v["modseq"].as_u64() > Some(modseq1)),
        (json!(["\\Answered"]), true)
    );
    let (_, v) = api.call(
        Method::GET,
        "/api/mailboxes/alice/Work/Reports/messages/1/flags",
        "",
    );
    assert_eq!(v, json!({"flags": ["\\Answered"]}));

    // Create (parents too), delete, and the conflicts the server's own commands have.
    let (code, v) = api.call(Method::POST, "/api/mailboxes/alice/Lists/rust", "");
    assert_eq!(
        (code, v["created"].clone()),
        (StatusCode::CREATED, json!(["Lists", "Lists/rust"]))
    );
    let (code, v) = api.call(Method::POST, "/api/mailboxes/alice/Lists", "");
    assert_eq!(code, StatusCode::CONFLICT, "{v}");
    let (code, v) = api.call(Method::DELETE, "/api/mailboxes/alice/Lists", "");
    assert!(
        code == StatusCode::CONFLICT && v["error"].as_str().unwrap().contains("children"),
        "{v}"
    );
    let (code, _) = api.call(Method::DELETE, "/api/mailboxes/alice/inbox", "");
    assert_eq!(code, StatusCode::CONFLICT);
    let (code, v) = api.call(Method::DELETE, "/api/mailboxes/alice/Lists/rust", "");
    assert_eq!(
        (code, v["deleted"].as_str()),
        (StatusCode::OK, Some("Lists/rust"))
    );

    // Expunge; then the UID is gone.
    let (code, _) = api.call(
        Method::DELETE,
        "/api/mailboxes/alice/Work/Reports/messages/1",
        "",
    );
    assert_eq!(code, StatusCode::OK);
    let (_, list) = api.call(
        Method::GET,
        "/api/mailboxes/alice/Work/Reports/messages",
        "",
    );
    assert_eq!(list, json!([]));

    // 404s name what is missing.
    for (method, uri, body, named) in [
        (Method::GET, "/api/mailboxes?user=nobody", "", "nobody"),
        (
            Method::GET,
            "/api/mailboxes/nobody/INBOX/messages",
            "",
            "nobody",
        ),
        (
            Method::GET,
            "/api/mailboxes/alice/Nope/messages",
            "",
            "Nope",
        ),
        (
            Method::DELETE,
            "/api/mailboxes/alice/Lists/rust",
            "",
            "Lists/rust",
        ),
        (
            Method::DELETE,
            "/api/mailboxes/alice/Work/Reports/messages/1",
            "",
            "UID 1",
        ),
        (
            Method::PUT,
            "/api/mailboxes/alice/INBOX/messages/42/flags",
            r#"{"flags":[]}"#,
            "UID 42",
        ),
        (
            Method::GET,
            "/api/mailboxes/alice/INBOX/messages/42/raw",
            "",
            "UID 42",
        ),
    ] {
        let (code, v) = api.call(method.clone(), uri, body);
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {uri}: {v}");
        assert!(v["error"].as_str().unwrap().contains(named), "{uri}: {v}");
    }
    // 400s: bad bodies, flags, queries, paths.
    api.call(Method::POST, "/api/deliver/alice", "Subject: x\n\nx\n");
    for (method, uri, body, says) in [
        (
            Method::PUT,
            "/api/mailboxes/alice/INBOX/messages/1/flags",
            "{nonsense",
            "expected",
        ),
        (
            Method::PUT,
            "/api/mailboxes/alice/INBOX/messages/1/flags",
            "{}",
            "nothing to do",
        ),
        (
            Method::POST,
            "/api/mailboxes/alice/INBOX/messages/1/flags",
            r#"{"add":["\\Bogus"]}"#,
            "\\\\Bogus",
        ),
        (Method::POST, "/api/deliver/alice", "", "empty"),
        (Method::POST, "/api/deliver/alice?bogus=1", "x", "bogus"),
        (
            Method::POST,
            "/api/deliver/alice?internaldate=yesterday",
            "x",
            "yesterday",
        ),
        (
            Method::POST,
            "/api/deliver/alice?flags=%5CRecent",
            "x",
            "Recent",
        ),
        (Method::POST, "/api/deliver/alice/a%2A", "x", "a*"),
        (
            Method::GET,
            "/api/mailboxes/alice/INBOX/messages/0",
            "",
            "UID",
        ),
        (Method::GET, "/api/mailboxes/alice", "", "mailbox"),
    ] {
        let (code, v) = api.call(method.clone(), uri, body);
        assert_eq!(code, StatusCode::BAD_REQUEST, "{method} {uri}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{uri}: {v}");
    }
    let (code, _) = api.call(Method::PATCH, "/api/mailboxes/alice/INBOX", "");
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    // POST …/messages appends, like /api/deliver.
    let (code, v) = api.call(
        Method::POST,
        "/api/mailboxes/alice/INBOX/messages?flags=%5CDraft",
        "Subject: d\n\nd\n",
    );
    assert_eq!((code, v["uid"].as_u64()), (StatusCode::CREATED, Some(2)));
}

#[test]
fn strict_users_and_other_protocols() {
    let (_svc, server, users) = imap_server(Users::strict([("bob", "pw")]));
    let api = Api::new(&server, "imap", users);
    // A listed user who never logged in has an INBOX; an unlisted one does not exist.
    let (code, v) = api.call(Method::GET, "/api/mailboxes?user=bob", "");
    assert_eq!(
        (code, v["users"]["bob"][0]["name"].as_str()),
        (StatusCode::OK, Some("INBOX"))
    );
    let (code, v) = api.call(Method::POST, "/api/deliver/carol", "Subject: x\n\nx\n");
    assert!(
        code == StatusCode::NOT_FOUND && v["error"].as_str().unwrap().contains("carol"),
        "{v}"
    );

    let users = Arc::new(Users::open());
    let smtp = fakeserver::smtp::SmtpService::new(false, Default::default(), users.clone());
    let server = fakeserver::server::start(ServerConfig::new("smtp"), Arc::new(smtp)).unwrap();
    let api = Api::new(&server, "smtp", users);
    let (code, v) = api.call(Method::GET, "/api/mailboxes", "");
    assert!(
        code == StatusCode::NOT_FOUND && v["error"].as_str().unwrap().contains("IMAP only"),
        "{v}"
    );
    let (code, _) = api.call(Method::POST, "/api/deliver/x/y", "x");
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

/// A raw IMAP session.
struct Session {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Session {
    fn open(addr: std::net::SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut sess = Session {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        let greeting = sess.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        sess
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        match self.r.read_line(&mut l) {
            Ok(n) if n > 0 => l,
            other => panic!("no line from the server ({other:?}); so far {l:?}"),
        }
    }

    fn send(&mut self, text: &str) {
        self.w.write_all(format!("{text}\r\n").as_bytes()).unwrap();
    }

    /// Lines up to (not including) the first that contains `want`, and that line.
    fn until(&mut self, want: &str) -> (Vec<String>, String) {
        let mut before = Vec::new();
        loop {
            let l = self.line();
            if l.contains(want) {
                return (before, l);
            }
            before.push(l);
        }
    }

    /// Send a tagged command; the untagged lines before its OK.
    fn cmd(&mut self, tag: &str, text: &str) -> Vec<String> {
        self.send(&format!("{tag} {text}"));
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            if l.starts_with(&format!("{tag} ")) {
                assert!(l.starts_with(&format!("{tag} OK")), "{text}: {l}");
                return lines;
            }
            lines.push(l);
        }
    }
}

fn curl(args: &[&str]) -> (u16, Value) {
    let o = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (tools/ensure-deps installs it)");
    let s = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, code) = s.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn sessions_see_control_api_changes_at_once() {
    let (_svc, server, users) = imap_server(Users::open());
    let target = fakeserver::control::Target::of(&server, "imap", users);
    let ctl = fakeserver::control::start("127.0.0.1:0".parse().unwrap(), target, server.runtime())
        .unwrap();
    let url = |p: &str| format!("http://{}{p}", ctl.addr());

    let mut idle = Session::open(server.addr());
    idle.cmd("a", "LOGIN alice x");
    idle.cmd("b", "ENABLE CONDSTORE");
    idle.cmd("c", "SELECT INBOX");
    let mut poll = Session::open(server.addr());
    poll.cmd("a", "LOGIN alice x");
    poll.cmd("b", "SELECT INBOX");
    idle.send("d IDLE");
    assert!(idle.line().starts_with("+ "));

    // A delivery wakes IDLE at once and shows at the other session's next command.
    let (code, v) = curl(&[
        "--data-binary",
        "Subject: one\n\nbody\n",
        &url("/api/deliver/alice"),
    ]);
    assert_eq!((code, v["uid"].as_u64()), (201, Some(1)), "{v}");
    idle.until("* 1 EXISTS");
    let lines = poll.cmd("c", "NOOP");
    assert!(lines.iter().any(|l| l == "* 1 EXISTS\r\n"), "{lines:?}");

    // A flag change: FETCH FLAGS, with the new MODSEQ for the CONDSTORE session.
    let (code, v) = curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"add":["\\Flagged","$Later"]}"#,
        &url("/api/mailboxes/alice/INBOX/messages/1/flags"),
    ]);
    assert_eq!(code, 200, "{v}");
    let modseq = v["modseq"].as_u64().unwrap();
    let (_, fetch) = idle.until("* 1 FETCH");
    assert!(
        fetch.contains("\\Flagged")
            && fetch.contains("$Later")
            && fetch.contains(&format!("MODSEQ ({modseq})")),
        "{fetch}"
    );
    let lines = poll.cmd("d", "NOOP");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* 1 FETCH (") && l.contains("\\Flagged")),
        "{lines:?}"
    );

    // An expunge.
    let (code, _) = curl(&[
        "-X",
        "DELETE",
        &url("/api/mailboxes/alice/INBOX/messages/1"),
    ]);
    assert_eq!(code, 200);
    idle.until("* 1 EXPUNGE");
    let lines = poll.cmd("e", "NOOP");
    assert!(lines.iter().any(|l| l == "* 1 EXPUNGE\r\n"), "{lines:?}");
    idle.send("DONE");
    let (_, done) = idle.until("d OK");
    assert!(done.starts_with("d OK"), "{done}");

    // A delivery into a nested mailbox: LIST shows the parent as a real mailbox.
    let (code, _) = curl(&[
        "--data-binary",
        "Subject: r\n\nr\n",
        &url("/api/deliver/alice/Work/Reports"),
    ]);
    assert_eq!(code, 201);
    let lines = poll.cmd("f", "LIST \"\" \"*\"");
    assert!(
        lines
            .iter()
            .any(|l| l == "* LIST (\\HasChildren) \"/\" \"Work\"\r\n"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("\"/\" \"Work/Reports\"")),
        "{lines:?}"
    );
    let lines = poll.cmd("g", "STATUS Work/Reports (MESSAGES UIDNEXT)");
    assert!(
        lines.iter().any(|l| l.contains("MESSAGES 1 UIDNEXT 2")),
        "{lines:?}"
    );
    poll.cmd("h", "LOGOUT");
    idle.cmd("e", "LOGOUT");
}

/// Quota and subscriptions through the API, as a session sees them: GETQUOTAROOT shows the
/// limits set, APPEND over them gets `NO [OVERQUOTA]`; LSUB follows PUT and DELETE, and a
/// NOTIFY SubscriptionChange session is told at its next command.
#[test]
fn quota_and_subscriptions_through_the_api() {
    let (_svc, server, users) = imap_server(Users::open());
    let target = fakeserver::control::Target::of(&server, "imap", users);
    let ctl = fakeserver::control::start("127.0.0.1:0".parse().unwrap(), target, server.runtime())
        .unwrap();
    let url = |p: &str| format!("http://{}{p}", ctl.addr());
    let (code, _) = curl(&[
        "--data-binary",
        "Subject: r\n\nr\n",
        &url("/api/deliver/alice/Work/Reports"),
    ]);
    assert_eq!(code, 201);
    let mut s = Session::open(server.addr());
    s.cmd("a", "LOGIN alice x");
    s.cmd("b", "NOTIFY SET (PERSONAL (SubscriptionChange))");

    let (code, v) = curl(&[
        "-X",
        "PUT",
        "-d",
        r#"{"storage": 1, "message": 2}"#,
        &url("/api/quota/alice"),
    ]);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["message"], json!({"usage": 1, "limit": 2}), "{v}");
    let lines = s.cmd("c", "GETQUOTAROOT INBOX");
    assert!(
        lines.contains(&"* QUOTA \"\" (STORAGE 1 1 MESSAGE 1 2)\r\n".to_string()),
        "{lines:?}"
    );
    let big = "x".repeat(2000);
    s.send(&format!("d APPEND INBOX {{{}+}}", big.len()));
    s.send(&big);
    let (_, no) = s.until("d ");
    assert!(no.starts_with("d NO [OVERQUOTA]"), "{no}");
    let (code, v) = curl(&[&url("/api/quota/alice")]);
    assert_eq!((code, &v["storage"]["limit"]), (200, &json!(1)), "{v}");
    let (code, v) = curl(&["-X", "PUT", "-d", "{}", &url("/api/quota/alice")]);
    assert_eq!((code, &v["storage"]["limit"]), (200, &Value::Null), "{v}");
    let lines = s.cmd("e", "GETQUOTAROOT INBOX");
    assert!(
        lines.contains(&"* QUOTA \"\" ()\r\n".to_string()),
        "{lines:?}"
    );

    let (code, v) = curl(&["-X", "PUT", &url("/api/subscriptions/alice/Work/Reports")]);
    assert_eq!((code, &v["changed"]), (200, &json!(true)), "{v}");
    let lines = s.cmd("f", "NOOP");
    assert!(
        lines.contains(&"* LIST (\\Subscribed) \"/\" \"Work/Reports\"\r\n".to_string()),
        "{lines:?}"
    );
    let lines = s.cmd("g", "LSUB \"\" \"*\"");
    assert!(
        lines.iter().any(|l| l.ends_with("\"Work/Reports\"\r\n")),
        "{lines:?}"
    );
    let (code, v) = curl(&[&url("/api/subscriptions/alice")]);
    assert_eq!(
        (code, &v["subscribed"]),
        (200, &json!(["INBOX", "Work/Reports"]))
    );
    let (code, _) = curl(&[
        "-X",
        "DELETE",
        &url("/api/subscriptions/alice/Work%2FReports"),
    ]);
    assert_eq!(code, 200);
    let lines = s.cmd("h", "LSUB \"\" \"*\"");
    // NOTIFY's news first (no longer \Subscribed), then LSUB without it.
    assert_eq!(
        lines[0], "* LIST () \"/\" \"Work/Reports\"\r\n",
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("* LSUB") && l.contains("Work/Reports")),
        "{lines:?}"
    );

    // Errors name what is wrong.
    let (code, v) = curl(&[&url("/api/quota/nobody")]);
    assert_eq!(code, 404, "{v}");
    assert!(v["error"].as_str().unwrap().contains("nobody"), "{v}");
    let (code, v) = curl(&[
        "-X",
        "PUT",
        "-d",
        r#"{"bytes": 1}"#,
        &url("/api/quota/alice"),
    ]);
    assert_eq!(code, 400, "{v}");
    let (code, _) = curl(&[&url("/api/subscriptions/alice/INBOX")]);
    assert_eq!(code, 405);
    let (code, _) = curl(&["-X", "PUT", &url("/api/subscriptions/alice/a%2F%2Fb")]);
    assert_eq!(code, 400);
    s.cmd("z", "LOGOUT");
}
