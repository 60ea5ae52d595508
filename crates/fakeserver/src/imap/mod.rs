//! IMAP4rev1 with modern extensions: the daemon (mailboxes and messages shared by every
//! connection), the per-connection handler, the command parser (over crates/imapwire, the
//! codec imaptest uses too), MIME structure for FETCH, and SEARCH. [`ImapService`] plugs
//! them into the server; [`load`] fills the daemon from `--load DIR`.

pub mod admin;
pub mod daemon;
pub mod fetch;
pub mod gmail;
pub mod handler;
pub mod list;
pub mod mime;
pub mod notify;
pub mod parse;
pub mod search;
pub mod sort;
pub mod thread;
pub mod urlauth;

use crate::auth::Users;
use crate::handler::{ConnInfo, Handler, Input, ReadMode};
use crate::personality::Section;
use crate::server::{Notifier, Service};
use anyhow::{Context, Result};
pub use daemon::ImapDaemon;
pub use handler::{ImapHandler, ImapSetup};
use std::path::Path;
use std::sync::Arc;

/// IMAP as a [`Service`].
#[derive(Debug, Clone)]
pub struct ImapService {
    pub setup: Arc<ImapSetup>,
}

impl ImapService {
    pub fn new(section: Section, users: Arc<Users>) -> Self {
        ImapService {
            setup: Arc::new(ImapSetup {
                daemon: Arc::new(ImapDaemon::new()),
                users,
                section,
            }),
        }
    }
    pub fn daemon(&self) -> &Arc<ImapDaemon> {
        &self.setup.daemon
    }
}

impl Service for ImapService {
    fn handler(&self, conn: &ConnInfo) -> Box<dyn Handler> {
        Box::new(ImapHandler::new(self.setup.clone(), conn))
    }
    fn state(&self) -> serde_json::Value {
        self.setup.daemon.state()
    }
    fn reset(&self) {
        self.setup.daemon.reset();
    }
    fn set_notifier(&self, n: Notifier) {
        self.setup.daemon.set_notifier(n);
    }
    fn imap_daemon(&self) -> Option<Arc<ImapDaemon>> {
        Some(self.setup.daemon.clone())
    }
}

/// `--load DIR`: `DIR/<user>/<mailbox>` (names in UTF-8) holds messages, as a maildir (`cur/`, `new/`), a
/// folder of `.eml` files, or an mbox file `DIR/<user>/<mailbox>` (nested folders are
/// hierarchy levels; `INBOX` names the inbox).
pub fn load(daemon: &ImapDaemon, dir: &Path) -> Result<usize> {
    let mut n = 0;
    let users =
        std::fs::read_dir(dir).with_context(|| format!("--load {}: reading", dir.display()))?;
    for u in users {
        let u = u.with_context(|| format!("--load {}", dir.display()))?;
        if !u.path().is_dir() {
            continue;
        }
        let user = u.file_name().to_string_lossy().into_owned();
        n += load_tree(daemon, &user, &u.path(), "")?;
    }
    Ok(n)
}

fn load_tree(daemon: &ImapDaemon, user: &str, dir: &Path, prefix: &str) -> Result<usize> {
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mailbox = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}{}{name}", daemon::DELIM)
        };
        if p.is_file() {
            let data = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            for m in split_mbox(&data) {
                daemon.deliver(user, &mailbox, m, &[], now());
                n += 1;
            }
        } else if p.is_dir() {
            let mut files: Vec<_> = Vec::new();
            for sub in ["cur", "new"] {
                if let Ok(rd) = std::fs::read_dir(p.join(sub)) {
                    files.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()));
                }
            }
            let is_maildir = !files.is_empty() || p.join("cur").is_dir();
            let mut emls: Vec<_> = std::fs::read_dir(&p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "eml"))
                .collect();
            files.append(&mut emls);
            files.sort();
            if files.is_empty() && !is_maildir {
                n += load_tree(daemon, user, &p, &mailbox)?;
                continue;
            }
            for f in files {
                let data = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
                let seen = f
                    .to_string_lossy()
                    .rsplit_once(":2,")
                    .is_some_and(|(_, fl)| fl.contains('S'));
                daemon.deliver(
                    user,
                    &mailbox,
                    crlf(&data),
                    if seen { &["\\Seen"] } else { &[] },
                    now(),
                );
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The time now: seconds since the epoch, and the zone offset (always 0: UTC).
pub(crate) fn now() -> (i64, i32) {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (s, 0)
}

/// Bare LF line ends become CRLF (IMAP sizes count CRLF).
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    let mut prev = 0u8;
    for &c in data {
        if c == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// The messages of an mbox file (`From ` lines separate them; `>From ` is unquoted), CRLF.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for l in data.split_inclusive(|&c| c == b'\n') {
        if l.starts_with(b"From ") {
            if let Some(m) = cur.take() {
                out.push(m);
            }
            cur = Some(Vec::new());
            continue;
        }
        let m = cur.get_or_insert_with(Vec::new);
        let l = if l.starts_with(b">From ") { &l[1..] } else { l };
        m.extend_from_slice(l);
    }
    if let Some(m) = cur {
        out.push(m);
    }
    out.into_iter()
        .map(|mut m| {
            // The blank line before the next From belongs to the mbox, not the message.
            if m.ends_with(b"\n\n") || m.ends_with(b"\r\n\r\n") {
                m.pop();
                if m.ends_with(b"\r") {
                    m.pop();
                }
            }
            crlf(&m)
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// Fuzz entry: drive a handler with arbitrary bytes as lines and literal data. Never panics.
pub fn fuzz_imap_command(data: &[u8]) {
    let _ = parse::request(data);
    let svc = ImapService::new(Section::default(), Arc::new(Users::open()));
    let conn = ConnInfo {
        peer: "127.0.0.1:1".into(),
        local: "127.0.0.1:143".into(),
        tls: false,
        tls_available: true,
        compressed: false,
    };
    let mut h = svc.handler(&conn);
    let mut out = h.on_startup(&conn);
    let _ = h.on_input(Input::Line(b"a LOGIN u p"), &conn);
    let _ = h.on_input(Input::Line(b"b SELECT INBOX"), &conn);
    for chunk in data.split(|b| *b == b'\n') {
        out = match out.next {
            ReadMode::Exact(_) => h.on_input(Input::Bytes(chunk), &conn),
            _ => h.on_input(Input::Line(chunk), &conn),
        };
        if out.close {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Output;

    fn run(h: &mut dyn Handler, conn: &ConnInfo, input: &[&[u8]]) -> String {
        let mut all = String::new();
        let mut push = |o: &Output| {
            for l in &o.lines {
                all.push_str(&String::from_utf8_lossy(l));
                if !o.raw {
                    all.push_str("\r\n");
                }
            }
        };
        push(&h.on_startup(conn));
        let mut mode = ReadMode::Line;
        for i in input {
            let o = match mode {
                ReadMode::Exact(_) => h.on_input(Input::Bytes(i), conn),
                _ => h.on_input(Input::Line(i), conn),
            };
            mode = o.next;
            push(&o);
        }
        all
    }

    #[test]
    fn a_session() {
        let svc = ImapService::new(Section::default(), Arc::new(Users::open()));
        let conn = ConnInfo::default();
        let mut h = svc.handler(&conn);
        let got = run(
            &mut *h,
            &conn,
            &[
                b"a LOGIN u p",
                b"b APPEND INBOX (\\Seen) {20}",
                b"Subject: hi\r\n\r\nbody\r\n",
                b"",
                b"c SELECT inbox",
                b"d FETCH 1 (FLAGS BODY[HEADER.FIELDS (SUBJECT)])",
                b"e STORE 1 +FLAGS (\\Deleted)",
                b"f SEARCH DELETED",
                b"g EXPUNGE",
                b"h APPEND INBOX {99999999999}",
                b"i LOGOUT",
            ],
        );
        for want in [
            "a OK [CAPABILITY",
            "+ OK\r\n",
            "b OK [APPENDUID ",
            "* 1 EXISTS\r\n* 1 RECENT\r\n",
            "c OK [READ-WRITE]",
            "* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: hi\r\n\r\n)",
            "* 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent))",
            "* SEARCH 1\r\n",
            "* 1 EXPUNGE\r\ng OK",
            "h NO [TOOBIG]",
            "* BYE",
        ] {
            assert!(got.contains(want), "{want:?} not in:\n{got}");
        }
    }

    #[test]
    fn personalities_change_what_a_session_sees() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("personalities");
        let load = |f: &str| {
            crate::personality::Personality::load(&dir.join(f))
                .unwrap()
                .section("imap")
        };
        let conn = ConnInfo {
            tls_available: true,
            ..ConnInfo::default()
        };
        let svc = ImapService::new(load("gmail-imap.toml"), Arc::new(Users::open()));
        let got = run(
            &mut *svc.handler(&conn),
            &conn,
            &[b"a CAPABILITY", b"b LOGIN u p"],
        );
        assert!(
            got.starts_with("* OK Gimap ready")
                && got.contains("LOGINDISABLED")
                && got.contains("b NO [PRIVACYREQUIRED]"),
            "{got}"
        );
        let svc = ImapService::new(load("flaky-imap.toml"), Arc::new(Users::open()));
        let got = run(
            &mut *svc.handler(&conn),
            &conn,
            &[b"a LOGIN u p", b"b SELECT INBOX", b"c COPY 1:* INBOX"],
        );
        assert!(got.contains("c NO COPY failed"), "{got}");
        let svc = ImapService::new(load("dovecot-imap.toml"), Arc::new(Users::open()));
        let got = run(&mut *svc.handler(&conn), &conn, &[]);
        assert!(
            got.starts_with("* OK [CAPABILITY IMAP4rev1 SASL-IR")
                && got.contains("STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot"),
            "{got}"
        );
    }

    #[test]
    fn hostile_bytes_never_panic() {
        for input in [
            &b"a FETCH 1:* (BODY[1.2.3.MIME]<0.0> BINARY[0] ((((\nb STORE 4294967296 FLAGS \\Bogus"[..],
            b"a APPEND INBOX {5}\nabc\nb APPEND INBOX ~{3+}\n\x00\x01\x02\nc SEARCH OR OR OR NOT",
            b"a SEARCH CHARSET UTF-8 HEADER\nb UID SEARCH UID 5:* MODSEQ x y\nc SORT (REVERSE) UTF-8 ALL",
            b"a THREAD REFERENCES UTF-8 ALL\nb RENAME INBOX INBOX/x\nc DELETE INBOX/x\nd LIST \"\" %/%/*",
            b"\xff\xfe {99999999999999999999}\n* OK\n+\na AUTHENTICATE PLAIN\n!!!\nDONE\nb IDLE\nDONE",
        ] {
            fuzz_imap_command(input);
        }
    }

    #[test]
    fn load_reads_mbox_maildir_and_eml_folders() {
        let d = tempfile::tempdir().unwrap();
        let u = d.path().join("alice");
        std::fs::create_dir_all(u.join("Work/Reports/cur")).unwrap();
        std::fs::create_dir_all(u.join("Work/Reports/new")).unwrap();
        std::fs::create_dir_all(u.join("Sent")).unwrap();
        std::fs::write(
            u.join("INBOX"),
            "From a\nSubject: 1\n\nx\n\nFrom b\nSubject: 2\n\ny\n",
        )
        .unwrap();
        std::fs::write(u.join("Work/Reports/cur/1.host:2,S"), "Subject: r\n\nr\n").unwrap();
        std::fs::write(u.join("Sent/a.eml"), "Subject: s\n\ns\n").unwrap();
        let daemon = ImapDaemon::new();
        assert_eq!(load(&daemon, d.path()).unwrap(), 4);
        let st = daemon.state();
        assert_eq!(
            st["alice"]["INBOX"]["messages"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            st["alice"]["Work/Reports"]["messages"][0]["flags"][0],
            "\\Seen"
        );
        assert_eq!(st["alice"]["Sent"]["messages"][0]["size"], 17); // CRLF line ends
        assert!(load(&daemon, &d.path().join("missing")).is_err());
    }

    #[test]
    fn search_contexts_partial_and_updates() {
        let svc = ImapService::new(Section::default(), Arc::new(Users::open()));
        for i in 0..4 {
            svc.daemon().deliver(
                "u",
                "INBOX",
                format!("Subject: {i}\r\n\r\nx\r\n").into_bytes(),
                &[],
                (i, 0),
            );
        }
        let conn = ConnInfo::default();
        let got = run(
            &mut *svc.handler(&conn),
            &conn,
            &[
                b"a LOGIN u p",
                b"b SELECT INBOX",
                b"c SEARCH RETURN (PARTIAL 2:3) ALL",
                b"d SORT RETURN (PARTIAL 1:2) (REVERSE ARRIVAL) UTF-8 ALL",
                b"e SEARCH RETURN (UPDATE) SEEN",
                b"f STORE 2:3 +FLAGS.SILENT (\\Seen)",
                b"g STORE 2 -FLAGS.SILENT (\\Seen)",
                b"h CANCELUPDATE \"e\"",
                b"i STORE 1 +FLAGS.SILENT (\\Seen)",
                b"j SEARCH RETURN (PARTIAL 1:*) ALL",
            ],
        );
        for want in [
            "* ESEARCH (TAG \"c\") PARTIAL (2:3 2:3)\r\n",
            "* ESEARCH (TAG \"d\") PARTIAL (1:2 4,3)\r\n",
            "* ESEARCH (TAG \"e\")\r\n",
            "* ESEARCH (TAG \"e\") ADDTO (0 2:3)\r\nf OK",
            "* ESEARCH (TAG \"e\") REMOVEFROM (0 2)\r\ng OK",
            "h OK Cancelupdate completed.\r\ni OK",
            "j BAD Invalid PARTIAL range 1:*",
        ] {
            assert!(got.contains(want), "{want:?} not in:\n{got}");
        }
    }

    #[test]
    fn mbox_split() {
        let m = split_mbox(b"From a\nSubject: 1\n\nx\n>From y\n\nFrom b\nSubject: 2\n\ny\n");
        assert_eq!(
            m,
            vec![
                b"Subject: 1\r\n\r\nx\r\nFrom y\r\n".to_vec(),
                b"Subject: 2\r\n\r\ny\r\n".to_vec()
            ]
        );
    }
}
