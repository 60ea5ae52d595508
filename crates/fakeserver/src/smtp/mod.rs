//! SMTP and LMTP: the daemon (accepted messages), the pure handler and the command parser.
//! [`SmtpService`] plugs them into the server.

pub mod daemon;
pub mod handler;
pub mod parse;

use crate::auth::Users;
use crate::handler::{ConnInfo, Handler, Input, ReadMode};
use crate::personality::Section;
use crate::server::Service;
pub use daemon::{Message, SmtpDaemon};
pub use handler::{SmtpHandler, SmtpSetup};
use std::sync::Arc;

/// SMTP or LMTP as a [`Service`].
#[derive(Debug, Clone)]
pub struct SmtpService {
    pub setup: Arc<SmtpSetup>,
}

impl SmtpService {
    /// `lmtp`: speak LMTP (LHLO, one reply per recipient).
    pub fn new(lmtp: bool, section: Section, users: Arc<Users>) -> Self {
        SmtpService {
            setup: Arc::new(SmtpSetup::new(
                lmtp,
                section,
                users,
                Arc::new(SmtpDaemon::new()),
            )),
        }
    }
    pub fn daemon(&self) -> &Arc<SmtpDaemon> {
        &self.setup.daemon
    }
}

impl Service for SmtpService {
    fn handler(&self, conn: &ConnInfo) -> Box<dyn Handler> {
        Box::new(SmtpHandler::new(self.setup.clone(), conn))
    }
    fn state(&self) -> serde_json::Value {
        serde_json::to_value(self.setup.daemon.messages()).unwrap_or_default()
    }
    fn reset(&self) {
        self.setup.daemon.reset();
    }
    fn wait_for(&self, n: usize, timeout: std::time::Duration) -> bool {
        self.setup.daemon.wait_for_messages(n, timeout)
    }
}

/// Fuzz entry: parse arbitrary bytes as command lines and drive a handler with them (lines,
/// data blocks, chunks, SASL responses, as the handler asks). Must never panic.
pub fn fuzz_smtp_command(data: &[u8]) {
    let _ = parse::parse_command(data);
    for lmtp in [false, true] {
        let svc = SmtpService::new(lmtp, Section::default(), Arc::new(Users::open()));
        let conn = ConnInfo {
            peer: "127.0.0.1:1".into(),
            local: "127.0.0.1:25".into(),
            tls: false,
            tls_available: true,
            compressed: false,
        };
        let mut h = svc.handler(&conn);
        let mut out = h.on_startup(&conn);
        for chunk in data.split(|b| *b == b'\n') {
            out = match out.next {
                ReadMode::Line => h.on_input(Input::Line(chunk), &conn),
                ReadMode::DotTerminated => h.on_input(Input::Block(chunk), &conn),
                ReadMode::Exact(_) => h.on_input(Input::Bytes(chunk), &conn),
            };
            if out.close {
                break;
            }
            if out.start_tls {
                h.on_tls_started(&ConnInfo {
                    tls: true,
                    ..conn.clone()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Output;

    /// Drive a handler with client lines; data blocks are given as one "line" when asked.
    /// SMTP (or LMTP) with the default personality, accepting any login.
    fn open(lmtp: bool) -> SmtpService {
        SmtpService::new(lmtp, Section::default(), Arc::new(Users::open()))
    }

    fn run(svc: &SmtpService, conn: &ConnInfo, inputs: &[&[u8]]) -> Vec<String> {
        let mut h = svc.handler(conn);
        let mut replies = Vec::new();
        let mut push = |o: &Output| {
            for l in &o.lines {
                replies.push(String::from_utf8_lossy(l).into_owned());
            }
        };
        let mut out = h.on_startup(conn);
        push(&out);
        for i in inputs {
            out = match out.next {
                ReadMode::Line => h.on_input(Input::Line(i), conn),
                ReadMode::DotTerminated => h.on_input(Input::Block(i), conn),
                ReadMode::Exact(_) => h.on_input(Input::Bytes(i), conn),
            };
            push(&out);
            if out.start_tls {
                h.on_tls_started(conn);
            }
        }
        replies
    }

    fn conn(tls: bool) -> ConnInfo {
        ConnInfo {
            peer: "127.0.0.1:4000".into(),
            local: "127.0.0.1:25".into(),
            tls,
            tls_available: true,
            compressed: false,
        }
    }

    fn codes(r: &[String]) -> Vec<&str> {
        r.iter().map(|l| &l[..3]).collect()
    }

    #[test]
    fn full_transaction_is_kept_with_its_envelope() {
        let svc = open(false);
        let r = run(
            &svc,
            &conn(false),
            &[
                b"EHLO c.test",
                b"MAIL FROM:<a@x> BODY=8BITMIME SIZE=20",
                b"RCPT TO:<b@y> NOTIFY=NEVER",
                b"RCPT TO:<c@y>",
                b"DATA",
                b"Subject: hi\r\n\r\nbody\r\n",
                b"QUIT",
            ],
        );
        assert_eq!(r[0], "220 localhost ESMTP fakeserver ready");
        assert!(
            r.iter().any(|l| l == "250-CHUNKING")
                && r.iter()
                    .any(|l| l.starts_with("250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2")),
            "{r:?}"
        );
        assert_eq!(
            codes(&r[r.len() - 6..]),
            ["250", "250", "250", "354", "250", "221"]
        );
        let m = &svc.daemon().messages()[0];
        assert_eq!(m.mail_from, "a@x");
        assert_eq!(m.rcpt_to, ["b@y", "c@y"]);
        assert_eq!(
            m.rcpt_params,
            vec![vec!["NOTIFY=NEVER".to_string()], vec![]]
        );
        assert_eq!(m.mail_params, ["BODY=8BITMIME", "SIZE=20"]);
        assert_eq!(m.header("Subject").as_deref(), Some("hi"));
        assert_eq!(m.helo, "c.test");
    }

    #[test]
    fn sequence_errors() {
        let svc = open(false);
        let r = run(
            &svc,
            &conn(false),
            &[
                b"MAIL FROM:<a@x>",
                b"HELO c",
                b"RCPT TO:<b@y>",
                b"DATA",
                b"MAIL FROM:<a@x> SIZE=1",
                b"MAIL FROM:<a@x>",
                b"MAIL FROM:<a@x>",
                b"RSET",
                b"FOO",
                b"MAIL FROM:<\xff>",
            ],
        );
        // HELO: no ESMTP parameters; no enhanced codes stripped since the default list has them.
        assert_eq!(
            codes(&r[1..]),
            ["503", "250", "503", "503", "555", "250", "503", "250", "500", "500"],
            "{r:?}"
        );
    }

    #[test]
    fn bdat_chunks_and_lmtp_replies_per_recipient() {
        let svc = open(true);
        let r = run(
            &svc,
            &conn(false),
            &[
                b"EHLO c",
                b"LHLO c",
                b"MAIL FROM:<>",
                b"RCPT TO:<a@x>",
                b"RCPT TO:<b@x>",
                b"BDAT 3",
                b"abc",
                b"BDAT 2 LAST",
                b"de",
                b"QUIT",
            ],
        );
        assert!(r[1].starts_with("500"), "{r:?}");
        let tail: Vec<&String> = r.iter().skip_while(|l| !l.contains("3 octets")).collect();
        assert!(
            tail[1].contains("<a@x> delivered") && tail[2].contains("<b@x> delivered"),
            "{r:?}"
        );
        let m = &svc.daemon().messages()[0];
        assert_eq!(m.raw, b"abcde");
        assert!(m.chunked);
    }

    #[test]
    fn auth_strict_users_and_quirks() {
        use base64::Engine;
        let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let users = Arc::new(Users::strict([("u", "p")]));
        let section = Section {
            auth_required: true,
            drop_on_auth_failure: true,
            ..Section::default()
        };
        let svc = SmtpService::new(false, section, users);
        let good = format!("AUTH PLAIN {}", b("\0u\0p"));
        let r = run(
            &svc,
            &conn(false),
            &[
                b"EHLO c",
                b"MAIL FROM:<a@x>",
                good.as_bytes(),
                b"MAIL FROM:<a@x>",
            ],
        );
        assert_eq!(codes(&r[r.len() - 3..]), ["530", "235", "250"]);
        let ul = b("u");
        let pl = b("wrong");
        let mut h = svc.handler(&conn(false));
        h.on_startup(&conn(false));
        h.on_input(Input::Line(b"EHLO c"), &conn(false));
        let o = h.on_input(Input::Line(b"AUTH LOGIN"), &conn(false));
        assert!(o.mask_next_input);
        h.on_input(Input::Line(ul.as_bytes()), &conn(false));
        let o = h.on_input(Input::Line(pl.as_bytes()), &conn(false));
        assert!(o.close && o.lines[0].starts_with(b"535"));
        assert_eq!(h.mask(good.as_bytes()).unwrap(), b"AUTH PLAIN ****");
    }

    #[test]
    fn personality_wording_and_capabilities() {
        let p = crate::personality::Personality::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("personalities/postfix-smtp.toml"),
        )
        .unwrap();
        let svc = SmtpService::new(false, p.section("smtp"), Arc::new(Users::open()));
        let r = run(&svc, &conn(false), &[b"EHLO c", b"MAIL FROM:<a@x>"]);
        assert_eq!(r[0], "220 mx.example.test ESMTP Postfix (Debian/GNU)");
        assert!(
            r.contains(&"250-SIZE 10240000".to_string()) && r.contains(&"250-STARTTLS".to_string())
        );
        assert!(
            !r.iter().any(|l| l.contains("AUTH")),
            "AUTH only after TLS: {r:?}"
        );
        assert_eq!(r.last().unwrap(), "250 2.1.0 Ok");
        let r = run(&svc, &conn(true), &[b"EHLO c"]);
        assert!(
            r.iter()
                .any(|l| l == "250-AUTH PLAIN LOGIN" || l == "250 AUTH PLAIN LOGIN"),
            "{r:?}"
        );
        assert!(!r.iter().any(|l| l.contains("STARTTLS")));
    }

    #[test]
    fn per_address_replies_from_the_personality() {
        let p = crate::personality::Personality::parse(
            "[smtp]\n[smtp.quirks]\nmail_replies = { \"Spam@x\" = \"550 no\" }\n\
             rcpt_replies = { \"gone@y\" = \"550-5.1.1 gone\\n550 5.1.1 really\" }\n",
            "t.toml",
        )
        .unwrap();
        let svc = SmtpService::new(false, p.section("smtp"), Arc::new(Users::open()));
        let r = run(
            &svc,
            &conn(false),
            &[
                b"EHLO c",
                b"MAIL FROM:<spam@X>",
                b"MAIL FROM:<a@x>",
                b"RCPT TO:<Gone@y>",
                b"RCPT TO:<b@y>",
            ],
        );
        let tail = &r[r.len() - 5..];
        assert_eq!(tail[0], "550 no", "{r:?}");
        assert_eq!(codes(&tail[1..2]), ["250"]);
        assert_eq!(tail[2..4], ["550-5.1.1 gone", "550 5.1.1 really"], "{r:?}");
        assert_eq!(codes(&tail[4..]), ["250"]);
    }

    #[test]
    fn fault_replaced_replies_undo_what_they_stood_for() {
        let svc = open(false);
        let c = conn(false);
        let mut h = svc.handler(&c);
        h.on_startup(&c);
        for l in [&b"EHLO c"[..], b"MAIL FROM:<a@x>", b"RCPT TO:<b@y>"] {
            h.on_input(Input::Line(l), &c);
        }
        h.on_input(Input::Line(b"RCPT TO:<refused@y>"), &c);
        h.on_fault_reply("451 4.3.0 later");
        h.on_input(Input::Line(b"DATA"), &c);
        h.on_input(Input::Block(b"x\r\n"), &c);
        assert_eq!(svc.daemon().messages()[0].rcpt_to, ["b@y"]);
        for l in [&b"MAIL FROM:<a@x>"[..], b"RCPT TO:<b@y>", b"DATA"] {
            h.on_input(Input::Line(l), &c);
        }
        h.on_input(Input::Block(b"second\r\n"), &c);
        h.on_fault_reply("554 5.0.0 refused after all");
        assert_eq!(svc.daemon().count(), 1, "the refused message is withdrawn");
        // A 2xx replacement changes nothing.
        let o = h.on_input(Input::Line(b"MAIL FROM:<a@x>"), &c);
        h.on_fault_reply("250 fine");
        assert!(o.lines[0].starts_with(b"250"));
        assert!(h.on_input(Input::Line(b"MAIL FROM:<a@x>"), &c).lines[0].starts_with(b"503"));
    }

    #[test]
    fn fuzz_entry_survives_garbage() {
        fuzz_smtp_command(b"EHLO x\nAUTH CRAM-MD5\n\xff\xfe\nMAIL FROM:<>\nRCPT TO:<a>\nDATA\n\0\nBDAT 99999999999999999999\nBDAT 5 LAST\nxx\nSTARTTLS\nQUIT\n");
        fuzz_smtp_command(b"");
        fuzz_smtp_command(b"\n\n\n");
    }
}
