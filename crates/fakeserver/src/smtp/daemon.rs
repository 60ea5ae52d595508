//! The SMTP/LMTP daemon: every accepted message with its envelope, kept in order and
//! queryable while the server runs; waitable (GreenMail's `waitForIncomingEmail`).

use serde::Serialize;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// One accepted message and its envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The queue id given in the final reply (`000001`, …, in acceptance order).
    pub id: String,
    /// "smtp" or "lmtp".
    pub protocol: String,
    pub peer: String,
    pub helo: String,
    pub mail_from: String,
    pub mail_params: Vec<String>,
    pub rcpt_to: Vec<String>,
    /// The parameters of each RCPT, in the order of `rcpt_to`.
    pub rcpt_params: Vec<Vec<String>>,
    pub size: usize,
    /// The exact octets as received (dot-unstuffed, CRLF line ends); in JSON as `data`,
    /// lossy UTF-8.
    #[serde(rename = "data", serialize_with = "lossy")]
    pub raw: Vec<u8>,
    pub tls: bool,
    pub auth: Option<String>,
    /// Received with BDAT rather than DATA.
    pub chunked: bool,
}

fn lossy<S: serde::Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(raw))
}

impl Message {
    /// The message as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }

    /// A header's value (first occurrence, unfolded), parsed with mail-parser.
    pub fn header(&self, name: &str) -> Option<String> {
        let m = mail_parser::MessageParser::default().parse_headers(&self.raw)?;
        m.header_raw(name)
            .map(|v| v.trim().replace("\r\n", "").replace('\n', ""))
    }
}

/// The shared state of an SMTP or LMTP server.
#[derive(Debug, Default)]
pub struct SmtpDaemon {
    messages: Mutex<Vec<Message>>,
    cond: Condvar,
    counter: Mutex<u64>,
}

impl SmtpDaemon {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new transaction/queue id.
    pub fn next_id(&self) -> String {
        let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
        *c += 1;
        format!("{:06}", *c)
    }

    /// Keep an accepted message.
    pub fn accept(&self, m: Message) {
        self.lock().push(m);
        self.cond.notify_all();
    }

    /// Take back a message whose acceptance the client never saw (a fault replaced the
    /// final reply).
    pub fn withdraw(&self, id: &str) {
        self.lock().retain(|m| m.id != id);
    }

    pub fn messages(&self) -> Vec<Message> {
        self.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Messages with this recipient.
    pub fn for_recipient(&self, rcpt: &str) -> Vec<Message> {
        self.lock()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(rcpt)))
            .cloned()
            .collect()
    }

    /// Wait until at least `n` messages were accepted.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock();
        while g.len() < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = match self.cond.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    /// Forget every message (ids keep counting, so replies stay unique in a run).
    pub fn reset(&self) {
        self.lock().clear();
    }
}
