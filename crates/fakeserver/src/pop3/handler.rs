//! One POP3 connection's state machine (RFC 1939 §3: AUTHORIZATION, TRANSACTION, UPDATE),
//! with CAPA, AUTH and STLS. Pure: it implements [`Handler`] over a [`Pop3Daemon`], a
//! [`Users`] directory and a [`Pop3Personality`]; the server does all I/O.
//!
//! A session works on the snapshot of the maildrop taken at login; DELE only marks; QUIT in
//! TRANSACTION enters UPDATE and removes the marked messages; a connection that ends any other
//! way (dropped, RSET-logout quirk) releases the maildrop unchanged.

use super::daemon::{LockError, Message, Pop3Daemon};
use super::parse::{self, Command, ParseError};
use super::personality::Pop3Personality;
use crate::auth::{Mechanism, Sasl, Step, Users};
use crate::handler::{ConnInfo, Handler, Input, Output};
use md5::{Digest, Md5};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

enum State {
    Authorization {
        user: Option<String>,
    },
    /// An AUTH exchange is waiting for the client's next response.
    Sasl {
        exchange: Sasl,
        xoauth_failed: bool,
    },
    Transaction {
        user: String,
        messages: Vec<Arc<Message>>,
        deleted: Vec<bool>,
    },
    Closed,
}

/// What the last command changed, so a fault that replaced its success with `-ERR` can be
/// undone ([`Handler::on_fault_reply`]): the client saw a failure.
enum Undo {
    Nothing,
    /// A login entered TRANSACTION.
    Login,
    /// DELE marked this message.
    Dele(usize),
    /// RSET cleared these marks.
    Rset(Vec<bool>),
}

/// A POP3 connection.
pub struct Pop3Handler {
    daemon: Arc<Pop3Daemon>,
    users: Arc<Users>,
    p: Arc<Pop3Personality>,
    state: State,
    /// This connection's `<pid.n@host>` (APOP timestamp and CRAM-MD5 challenge).
    timestamp: String,
    undo: Undo,
}

impl Pop3Handler {
    pub fn new(
        daemon: Arc<Pop3Daemon>,
        users: Arc<Users>,
        personality: Arc<Pop3Personality>,
    ) -> Self {
        let n = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let timestamp = format!("<{}.{}@{}>", std::process::id(), n, personality.hostname);
        Pop3Handler {
            daemon,
            users,
            p: personality,
            state: State::Authorization { user: None },
            timestamp,
            undo: Undo::Nothing,
        }
    }

    /// The logged-in user, if the session is in TRANSACTION.
    pub fn user(&self) -> Option<&str> {
        match &self.state {
            State::Transaction { user, .. } => Some(user),
            _ => None,
        }
    }

    fn err(&self, text: &str) -> Vec<u8> {
        format!("-ERR {text}").into_bytes()
    }

    fn tls_ok(&self, conn: &ConnInfo) -> bool {
        !self.p.require_tls || conn.tls
    }

    fn stls_offered(&self, conn: &ConnInfo) -> bool {
        self.p.stls && conn.tls_available && !conn.tls
    }

    fn auth_failed(&mut self) -> Output {
        self.state = State::Authorization { user: None };
        let out = Output::line(say(&self.p.replies.auth_failed));
        if self.p.drop_on_auth_failure {
            self.state = State::Closed;
            out.then_close()
        } else {
            out
        }
    }

    /// Credentials accepted: lock the maildrop and enter TRANSACTION.
    fn log_in(&mut self, user: String) -> Output {
        let snapshot = if self.p.lock_maildrop {
            match self.daemon.lock(&user) {
                Ok(s) => s,
                Err(LockError::InUse) => {
                    self.state = State::Authorization { user: None };
                    return Output::line(say(&self.p.replies.in_use));
                }
            }
        } else {
            self.daemon.ensure_user(&user);
            self.daemon.messages(&user)
        };
        let size: usize = snapshot.iter().map(|m| m.size()).sum();
        let text = fill(&self.p.replies.logged_in, snapshot.len(), size, 0);
        let text = say(&text);
        let deleted = vec![false; snapshot.len()];
        self.state = State::Transaction {
            user,
            messages: snapshot,
            deleted,
        };
        self.undo = Undo::Login;
        Output::line(text)
    }

    fn release(&mut self) {
        if let State::Transaction { user, .. } = &self.state {
            if self.p.lock_maildrop {
                self.daemon.unlock(user);
            }
        }
    }

    fn capa(&self, conn: &ConnInfo) -> Output {
        let authorization = !matches!(self.state, State::Transaction { .. });
        let mut lines = vec![say(&self.p.replies.capa)];
        if self.p.top {
            lines.push(b"TOP".to_vec());
        }
        if self.p.uidl {
            lines.push(b"UIDL".to_vec());
        }
        if authorization && self.tls_ok(conn) {
            if self.p.user_pass {
                lines.push(b"USER".to_vec());
            }
            if !self.p.sasl.is_empty() {
                lines.push(format!("SASL {}", self.p.sasl.join(" ")).into_bytes());
            }
        }
        if authorization && self.stls_offered(conn) {
            lines.push(b"STLS".to_vec());
        }
        lines.extend(self.p.capabilities.iter().map(|c| c.clone().into_bytes()));
        if let Some(i) = &self.p.implementation {
            lines.push(format!("IMPLEMENTATION {i}").into_bytes());
        }
        lines.push(b".".to_vec());
        Output::lines(lines)
    }

    /// Act on a step of the SASL exchange in `exchange` (put back in the state when it goes on).
    fn sasl_step(&mut self, mut exchange: Sasl, step: Step, xoauth_failed: bool) -> Output {
        match step {
            Step::Challenge(c) => {
                self.state = State::Sasl {
                    exchange,
                    xoauth_failed,
                };
                Output::line(format!("+ {c}").into_bytes()).masking_next_input()
            }
            Step::Done(creds) => match self.users.verify(&creds) {
                Some(user) => self.log_in(user),
                None if exchange.mechanism() == Mechanism::XOAuth2 => {
                    // RFC 7628-style: an error challenge, the client answers, then -ERR.
                    let c = exchange.xoauth2_error_challenge();
                    self.state = State::Sasl {
                        exchange,
                        xoauth_failed: true,
                    };
                    Output::line(format!("+ {c}").into_bytes())
                }
                None => self.auth_failed(),
            },
            Step::Aborted => Output::line(say(&self.p.replies.auth_cancelled)),
            Step::Malformed(_) if xoauth_failed => self.auth_failed(),
            Step::Malformed(why) => {
                Output::line(self.err(&format!("authentication failed: {why}")))
            }
        }
    }

    fn on_sasl_line(&mut self, line: &[u8]) -> Output {
        let State::Sasl {
            mut exchange,
            xoauth_failed,
        } = std::mem::replace(&mut self.state, State::Authorization { user: None })
        else {
            return Output::none();
        };
        let step = exchange.respond(&String::from_utf8_lossy(line));
        self.sasl_step(exchange, step, xoauth_failed)
    }

    fn authorization(&mut self, cmd: Command, conn: &ConnInfo) -> Output {
        let pending_user = match &self.state {
            State::Authorization { user } => user.clone(),
            _ => None,
        };
        match cmd {
            Command::Capa => self.capa(conn),
            Command::Quit => {
                self.state = State::Closed;
                Output::line(say(&self.p.replies.bye)).then_close()
            }
            Command::Stls => {
                if !self.stls_offered(conn) {
                    return Output::line(self.err(if conn.tls {
                        "already in TLS"
                    } else {
                        "STLS not available"
                    }));
                }
                self.state = State::Authorization { user: None };
                Output::line(say(&self.p.replies.stls)).then_start_tls()
            }
            Command::User(name) => {
                if !self.p.user_pass {
                    return Output::line(self.err("USER/PASS not supported"));
                }
                if !self.tls_ok(conn) {
                    return Output::line(say(&self.p.replies.tls_required));
                }
                self.state = State::Authorization { user: Some(name) };
                // PASS is masked by `mask` (so it keeps its verb for fault schedules).
                Output::line(say(&self.p.replies.user_ok))
            }
            Command::Pass(pass) => {
                let Some(user) = pending_user else {
                    return Output::line(self.err("USER first"));
                };
                if self.users.check(&user, &String::from_utf8_lossy(&pass)) {
                    self.log_in(user)
                } else {
                    self.auth_failed()
                }
            }
            Command::Apop { name, digest } => {
                if !self.p.apop {
                    return Output::line(self.err("APOP not supported"));
                }
                if !self.tls_ok(conn) {
                    return Output::line(say(&self.p.replies.tls_required));
                }
                let ok = self.users.check_apop(&name, &self.timestamp, &digest);
                if ok {
                    self.log_in(name)
                } else {
                    self.auth_failed()
                }
            }
            Command::Auth {
                mechanism: None, ..
            } => {
                let mut lines = vec![b"+OK".to_vec()];
                lines.extend(self.p.sasl.iter().map(|m| m.clone().into_bytes()));
                lines.push(b".".to_vec());
                Output::lines(lines)
            }
            Command::Auth {
                mechanism: Some(mech),
                initial,
            } => {
                if !self.tls_ok(conn) {
                    return Output::line(say(&self.p.replies.tls_required));
                }
                if !self.p.sasl.iter().any(|m| m.eq_ignore_ascii_case(&mech)) {
                    return Output::line(self.err("unsupported authentication mechanism"));
                }
                let Some(m) = Mechanism::parse(&mech) else {
                    return Output::line(self.err("unsupported authentication mechanism"));
                };
                let (exchange, step) = Sasl::start(m, initial.as_deref(), &self.timestamp);
                self.sasl_step(exchange, step, false)
            }
            Command::Stat
            | Command::List(_)
            | Command::Uidl(_)
            | Command::Top { .. }
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset => Output::line(say(&self.p.replies.wrong_state)),
        }
    }

    fn transaction(&mut self, cmd: Command, conn: &ConnInfo) -> Output {
        if matches!(cmd, Command::Capa) {
            return self.capa(conn);
        }
        let State::Transaction {
            user,
            messages,
            deleted,
        } = &mut self.state
        else {
            return Output::none();
        };
        let p = &self.p;
        let r = &p.replies;
        // Message `n` if it exists and is not deleted.
        let live = |n: u32| -> Option<usize> {
            let i = usize::try_from(n).ok()?.checked_sub(1)?;
            (i < messages.len() && !deleted[i]).then_some(i)
        };
        match cmd {
            Command::Stat => {
                let (n, size) = totals(messages, deleted);
                Output::line(format!("+OK {n} {size}"))
            }
            Command::List(None) => {
                let (n, size) = totals(messages, deleted);
                let mut lines = vec![say(&fill(&r.list, n, size, 0))];
                for (i, m) in messages.iter().enumerate().filter(|(i, _)| !deleted[*i]) {
                    lines.push(format!("{} {}", i + 1, m.size()).into_bytes());
                }
                lines.push(b".".to_vec());
                Output::lines(lines)
            }
            Command::List(Some(n)) => match live(n) {
                Some(i) => Output::line(format!("+OK {n} {}", messages[i].size())),
                None => Output::line(say(&fill(&r.no_such_message, 0, 0, n))),
            },
            Command::Uidl(_) if !p.uidl => Output::line(say(&r.unknown)),
            Command::Uidl(None) => {
                let mut lines = vec![say(&r.uidl)];
                for (i, m) in messages.iter().enumerate().filter(|(i, _)| !deleted[*i]) {
                    lines.push(format!("{} {}", i + 1, m.uid).into_bytes());
                }
                lines.push(b".".to_vec());
                Output::lines(lines)
            }
            Command::Uidl(Some(n)) => match live(n) {
                Some(i) => Output::line(format!("+OK {n} {}", messages[i].uid)),
                None => Output::line(say(&fill(&r.no_such_message, 0, 0, n))),
            },
            Command::Retr(n) => match live(n) {
                Some(i) => {
                    let m = &messages[i];
                    let mut lines = vec![say(&fill(&r.retr, 1, m.size(), n))];
                    lines.extend(stuffed_lines(&m.data, None));
                    lines.push(b".".to_vec());
                    Output::lines(lines)
                }
                None => Output::line(say(&fill(&r.no_such_message, 0, 0, n))),
            },
            Command::Top { .. } if !p.top => Output::line(say(&r.unknown)),
            Command::Top { msg, lines: n } => match live(msg) {
                Some(i) => {
                    let mut lines = vec![say(&r.top)];
                    lines.extend(stuffed_lines(&messages[i].data, Some(n as usize)));
                    lines.push(b".".to_vec());
                    Output::lines(lines)
                }
                None => Output::line(say(&fill(&r.no_such_message, 0, 0, msg))),
            },
            Command::Dele(n) => {
                let i = (n as usize).wrapping_sub(1);
                if i < messages.len() && deleted[i] {
                    Output::line(say(&r.already_deleted))
                } else if i < messages.len() {
                    deleted[i] = true;
                    self.undo = Undo::Dele(i);
                    Output::line(say(&fill(&r.deleted, 0, 0, n)))
                } else {
                    Output::line(say(&fill(&r.no_such_message, 0, 0, n)))
                }
            }
            Command::Noop => Output::line(say(&r.noop)),
            Command::Rset => {
                self.undo = Undo::Rset(deleted.clone());
                deleted.iter_mut().for_each(|d| *d = false);
                let (n, size) = totals(messages, deleted);
                let reply = say(&fill(&r.rset, n, size, 0));
                if p.rset_logs_out {
                    self.release();
                    self.state = State::Authorization { user: None };
                }
                Output::line(reply)
            }
            Command::Quit => {
                let gone: Vec<String> = messages
                    .iter()
                    .zip(deleted.iter())
                    .filter(|(_, d)| **d)
                    .map(|(m, _)| m.uid.clone())
                    .collect();
                let user = user.clone();
                let text = say(if gone.is_empty() {
                    &r.bye
                } else {
                    &r.bye_update
                });
                if p.lock_maildrop {
                    self.daemon.commit(&user, &gone);
                } else {
                    // Without a lock the snapshot may be stale; remove by UIDL all the same.
                    let d = &self.daemon;
                    d.lock(&user).ok();
                    d.commit(&user, &gone);
                }
                self.state = State::Closed;
                Output::line(text).then_close()
            }
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::Stls => Output::line(say(&r.wrong_state)),
            Command::Capa => Output::none(),
        }
    }
}

impl Drop for Pop3Handler {
    fn drop(&mut self) {
        // A connection that ends without QUIT never enters UPDATE: nothing is deleted.
        self.release();
    }
}

/// A reply line as bytes.
fn say(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A reply template with `{count}`, `{octets}` and `{msg}` filled in.
fn fill(template: &str, count: usize, octets: usize, msg: u32) -> String {
    template
        .replace("{count}", &count.to_string())
        .replace("{octets}", &octets.to_string())
        .replace("{msg}", &msg.to_string())
}

fn totals(messages: &[Arc<Message>], deleted: &[bool]) -> (usize, usize) {
    messages
        .iter()
        .zip(deleted)
        .filter(|(_, d)| !**d)
        .fold((0, 0), |(n, s), (m, _)| (n + 1, s + m.size()))
}

/// The lines of a message, byte-stuffed (RFC 1939 §3); with `Some(n)`, the header, the blank
/// line and the first `n` body lines (TOP).
fn stuffed_lines(data: &[u8], body_lines: Option<usize>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let body = data.strip_suffix(b"\r\n").unwrap_or(data);
    let mut in_body = false;
    let mut left = body_lines.unwrap_or(usize::MAX);
    if data.is_empty() {
        return out;
    }
    for line in body.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if in_body {
            if left == 0 {
                break;
            }
            left -= 1;
        } else if line.is_empty() {
            in_body = true;
        }
        let mut l = Vec::with_capacity(line.len() + 1);
        if line.first() == Some(&b'.') {
            l.push(b'.');
        }
        l.extend_from_slice(line);
        out.push(l);
    }
    out
}

/// The APOP digest (RFC 1939 §7): lowercase hex MD5 of the timestamp followed by the secret.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Handler for Pop3Handler {
    fn on_startup(&mut self, _conn: &ConnInfo) -> Output {
        let text = if self.p.apop {
            format!("{} {}", self.p.greeting, self.timestamp)
        } else {
            self.p.greeting.clone()
        };
        Output::line(text.into_bytes())
    }

    fn on_input(&mut self, input: Input<'_>, conn: &ConnInfo) -> Output {
        self.undo = Undo::Nothing;
        let line = match input {
            Input::Line(l) => l,
            Input::Block(_) | Input::Bytes(_) => return Output::line(self.err("unexpected data")),
        };
        if matches!(self.state, State::Sasl { .. }) {
            return self.on_sasl_line(line);
        }
        if matches!(self.state, State::Closed) {
            return Output::none().then_close();
        }
        let cmd = match parse::parse_command(line) {
            Ok(c) => c,
            Err(ParseError::Unknown(_)) | Err(ParseError::Empty) => {
                return Output::line(say(&self.p.replies.unknown));
            }
            Err(e) => return Output::line(self.err(&e.to_string())),
        };
        if (matches!(cmd, Command::Top { .. }) && !self.p.top)
            || (matches!(cmd, Command::Uidl(_)) && !self.p.uidl)
        {
            return Output::line(say(&self.p.replies.unknown));
        }
        if matches!(self.state, State::Transaction { .. }) {
            self.transaction(cmd, conn)
        } else {
            self.authorization(cmd, conn)
        }
    }

    fn verb(&self, line: &[u8]) -> Option<String> {
        if matches!(self.state, State::Sasl { .. }) {
            return None;
        }
        parse::keyword(line)
    }

    fn mask(&self, line: &[u8]) -> Option<Vec<u8>> {
        let word = parse::keyword(line)?;
        match word.as_str() {
            "PASS" => Some(b"PASS ****".to_vec()),
            "AUTH" => {
                let mut parts = line.splitn(3, |b| *b == b' ');
                let (kw, mech) = (parts.next()?, parts.next()?);
                parts.next()?; // an initial response: mask it
                Some([kw, b" ", mech, b" ****"].concat())
            }
            _ => None,
        }
    }

    /// A fault turned the reply into `-ERR`: the login, DELE or RSET did not happen for the
    /// client, so it does not happen here either.
    fn on_fault_reply(&mut self, reply: &str) {
        if !reply.starts_with("-ERR") {
            return;
        }
        if matches!(self.state, State::Sasl { .. }) {
            // The challenge never reached the client: no exchange is going on.
            self.state = State::Authorization { user: None };
        }
        match std::mem::replace(&mut self.undo, Undo::Nothing) {
            Undo::Nothing => {}
            Undo::Login => {
                self.release();
                self.state = State::Authorization { user: None };
            }
            Undo::Dele(i) => {
                if let State::Transaction { deleted, .. } = &mut self.state {
                    deleted[i] = false;
                }
            }
            Undo::Rset(before) => {
                if let State::Transaction { deleted, .. } = &mut self.state {
                    *deleted = before;
                }
            }
        }
    }

    fn on_line_too_long(&mut self, _conn: &ConnInfo) -> Output {
        Output::line(self.err("line too long"))
    }

    fn on_idle_timeout(&mut self, _conn: &ConnInfo) -> Output {
        Output::line(self.err("autologout: idle for too long")).then_close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    use crate::scripted::{text, Session};

    /// A session of `daemon` with `creds` and `p`; and the greeting.
    fn start(
        daemon: &Arc<Pop3Daemon>,
        creds: Arc<Users>,
        p: Pop3Personality,
    ) -> (Session<Pop3Handler>, String) {
        Session::start(Pop3Handler::new(daemon.clone(), creds, Arc::new(p)))
    }

    fn strict() -> Arc<Users> {
        Arc::new(Users::strict([("tim", "secret")]))
    }

    fn any() -> Arc<Users> {
        Arc::new(Users::open())
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn user_pass_stat_list_retr_dele_quit() {
        let d = Pop3Daemon::new();
        d.add_message("tim", b"Subject: one\n\nline\n.dot\n");
        d.add_message("tim", b"Subject: two\n\nB\n");
        let (mut s, greeting) = start(&d, strict(), Pop3Personality::default());
        assert!(
            greeting.starts_with("+OK fakeserver POP3 ready <"),
            "{greeting}"
        );
        assert_eq!(s.s("STAT"), "-ERR command not valid in this state\n");
        let o = s.say("USER tim");
        assert!(
            !o.mask_next_input,
            "PASS keeps its verb; mask() hides the password"
        );
        assert_eq!(s.h.mask(b"PASS secret"), Some(b"PASS ****".to_vec()));
        assert_eq!(
            s.h.mask(b"AUTH PLAIN AGFsaWNl"),
            Some(b"AUTH PLAIN ****".to_vec())
        );
        assert_eq!(s.h.mask(b"AUTH PLAIN"), None);
        assert_eq!(s.s("PASS wrong"), "-ERR [AUTH] authentication failed\n");
        assert_eq!(s.s("PASS secret"), "-ERR USER first\n");
        s.s("USER tim");
        assert_eq!(
            s.s("PASS secret"),
            "+OK maildrop locked and ready (2 messages, 47 octets)\n"
        );
        assert_eq!(s.s("STAT"), "+OK 2 47\n");
        assert_eq!(s.s("LIST"), "+OK 2 messages (47 octets)\n1 28\n2 19\n.\n");
        assert_eq!(s.s("LIST 2"), "+OK 2 19\n");
        assert_eq!(s.s("LIST 3"), "-ERR no such message\n");
        assert_eq!(
            s.s("RETR 1"),
            "+OK 28 octets\nSubject: one\n\nline\n..dot\n.\n"
        );
        assert_eq!(
            s.s("TOP 1 0"),
            "+OK top of message follows\nSubject: one\n\n.\n"
        );
        assert_eq!(
            s.s("TOP 1 1"),
            "+OK top of message follows\nSubject: one\n\nline\n.\n"
        );
        assert_eq!(
            s.s("UIDL"),
            "+OK unique-id listing follows\n1 00000001\n2 00000002\n.\n"
        );
        assert_eq!(s.s("DELE 1"), "+OK message 1 deleted\n");
        assert_eq!(s.s("DELE 1"), "-ERR message already deleted\n");
        assert_eq!(s.s("RETR 1"), "-ERR no such message\n");
        assert_eq!(s.s("STAT"), "+OK 1 19\n");
        assert_eq!(s.s("LIST"), "+OK 1 messages (19 octets)\n2 19\n.\n");
        assert_eq!(s.s("RSET"), "+OK maildrop has 2 messages (47 octets)\n");
        s.s("DELE 2");
        assert_eq!(s.s("NOOP"), "+OK\n");
        let o = s.say("QUIT");
        assert!(o.close);
        assert_eq!(text(&o), "+OK bye, maildrop updated\n");
        assert_eq!(d.messages("tim").len(), 1);
        assert!(!d.is_locked("tim"));
    }

    #[test]
    fn dropped_connection_deletes_nothing_and_unlocks() {
        let d = Pop3Daemon::new();
        d.add_message("tim", b"x\n");
        {
            let (mut s, _) = start(&d, any(), Pop3Personality::default());
            s.s("USER tim");
            s.s("PASS any");
            s.s("DELE 1");
            let (mut s2, _) = start(&d, any(), Pop3Personality::default());
            s2.s("USER tim");
            assert_eq!(s2.s("PASS any"), "-ERR [IN-USE] maildrop already locked\n");
        }
        assert_eq!(d.messages("tim").len(), 1);
        assert!(!d.is_locked("tim"));
    }

    #[test]
    fn any_user_gets_an_empty_maildrop() {
        let d = Pop3Daemon::new();
        let (mut s, _) = start(&d, any(), Pop3Personality::default());
        s.s("USER nobody");
        assert_eq!(
            s.s("PASS whatever"),
            "+OK maildrop locked and ready (0 messages, 0 octets)\n"
        );
        assert_eq!(s.s("LIST"), "+OK 0 messages (0 octets)\n.\n");
        assert_eq!(d.users(), vec!["nobody".to_string()]);
    }

    #[test]
    fn apop() {
        let d = Pop3Daemon::new();
        let (mut s, greeting) = start(&d, strict(), Pop3Personality::default());
        let ts = &greeting[greeting.find('<').unwrap()..greeting.trim_end().len()];
        let good = apop_digest(ts, "secret");
        assert_eq!(
            s.s("APOP tim 00000000000000000000000000000000"),
            "-ERR [AUTH] authentication failed\n"
        );
        assert!(s
            .s(&format!("APOP tim {good}"))
            .starts_with("+OK maildrop locked"));
        // RFC 1939's example digest.
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn capa_and_stls() {
        let d = Pop3Daemon::new();
        let (mut s, _) = start(&d, strict(), Pop3Personality::default());
        assert_eq!(
            s.s("CAPA"),
            "+OK capability list follows\nTOP\nUIDL\nUSER\nSASL PLAIN LOGIN CRAM-MD5 XOAUTH2\nSTLS\nRESP-CODES\nAUTH-RESP-CODE\nPIPELINING\nIMPLEMENTATION mailrig-fakeserver\n.\n"
        );
        let o = s.say("STLS");
        assert!(o.start_tls);
        s.conn.tls = true;
        assert!(!s.s("CAPA").contains("STLS"));
        assert_eq!(s.s("STLS"), "-ERR already in TLS\n");
        s.conn.tls_available = false;
        s.conn.tls = false;
        assert_eq!(s.s("STLS"), "-ERR STLS not available\n");
    }

    #[test]
    fn require_tls() {
        let d = Pop3Daemon::new();
        let p = Pop3Personality {
            require_tls: true,
            ..Pop3Personality::default()
        };
        let (mut s, _) = start(&d, strict(), p);
        assert_eq!(s.s("USER tim"), "-ERR [AUTH] TLS required first\n");
        assert!(!s.s("CAPA").contains("USER"));
        s.conn.tls = true;
        assert_eq!(s.s("USER tim"), "+OK send PASS\n");
    }

    #[test]
    fn auth_mechanisms() {
        let d = Pop3Daemon::new();
        let (mut s, _) = start(&d, strict(), Pop3Personality::default());
        assert_eq!(s.s("AUTH"), "+OK\nPLAIN\nLOGIN\nCRAM-MD5\nXOAUTH2\n.\n");
        assert_eq!(
            s.s("AUTH GSSAPI"),
            "-ERR unsupported authentication mechanism\n"
        );
        // PLAIN with an initial response.
        assert_eq!(
            s.s(&format!("AUTH PLAIN {}", b64(b"\0tim\0wrong"))),
            "-ERR [AUTH] authentication failed\n"
        );
        // PLAIN without: empty challenge, then the response; '*' cancels.
        assert_eq!(s.s("AUTH PLAIN"), "+ \n");
        assert_eq!(s.s("*"), "-ERR authentication cancelled\n");
        assert_eq!(s.s("AUTH PLAIN"), "+ \n");
        assert!(s
            .s("!!notbase64")
            .starts_with("-ERR authentication failed: invalid base64"));
        // LOGIN.
        assert_eq!(s.s("AUTH LOGIN"), "+ VXNlcm5hbWU6\n");
        assert_eq!(s.s(&b64(b"tim")), "+ UGFzc3dvcmQ6\n");
        assert!(s.s(&b64(b"secret")).starts_with("+OK maildrop locked"));
    }

    #[test]
    fn cram_md5_and_xoauth2() {
        let d = Pop3Daemon::new();
        let (mut s, _) = start(&d, strict(), Pop3Personality::default());
        let ch = s.s("AUTH CRAM-MD5");
        let ch = base64::engine::general_purpose::STANDARD
            .decode(ch.trim_end().strip_prefix("+ ").unwrap())
            .unwrap();
        let resp = format!(
            "tim {}",
            crate::auth::cram_md5_digest("secret", &String::from_utf8(ch).unwrap())
        );
        assert!(s.s(&b64(resp.as_bytes())).starts_with("+OK"));
        let (mut s, _) = start(&Pop3Daemon::new(), strict(), Pop3Personality::default());
        let bad = b64(b"user=tim\x01auth=Bearer nope\x01\x01");
        assert!(s.s(&format!("AUTH XOAUTH2 {bad}")).starts_with("+ eyJ"));
        assert_eq!(s.s(""), "-ERR [AUTH] authentication failed\n");
    }

    #[test]
    fn quirks_rset_logs_out_and_drop_on_auth_failure() {
        let d = Pop3Daemon::new();
        let p = Pop3Personality {
            rset_logs_out: true,
            drop_on_auth_failure: true,
            ..Pop3Personality::default()
        };
        let (mut s, _) = start(&d, strict(), p);
        s.s("USER tim");
        s.s("PASS secret");
        assert!(s.s("RSET").starts_with("+OK"));
        assert_eq!(s.s("STAT"), "-ERR command not valid in this state\n");
        assert!(!d.is_locked("tim"));
        s.s("USER tim");
        let o = s.say("PASS bad");
        assert!(o.close);
    }

    #[test]
    fn a_faulted_reply_undoes_login_and_dele() {
        let d = Pop3Daemon::new();
        d.add_message("tim", b"x\n");
        let (mut s, _) = start(&d, strict(), Pop3Personality::default());
        s.s("USER tim");
        s.s("PASS secret");
        s.h.on_fault_reply("-ERR [SYS/TEMP] fault");
        assert!(!d.is_locked("tim"));
        assert_eq!(s.s("STAT"), "-ERR command not valid in this state\n");
        s.s("USER tim");
        s.s("PASS secret");
        s.s("DELE 1");
        s.h.on_fault_reply("-ERR no");
        assert_eq!(s.s("STAT"), "+OK 1 3\n");
        s.s("DELE 1");
        s.h.on_fault_reply("+OK fine");
        assert_eq!(s.s("STAT"), "+OK 0 0\n");
    }

    #[test]
    fn bad_input_gets_errors() {
        let d = Pop3Daemon::new();
        let (mut s, _) = start(&d, any(), Pop3Personality::default());
        assert_eq!(s.s("\0\0\0"), "-ERR unknown command\n");
        assert_eq!(
            text(&s.h.on_input(Input::Line(b"USER \xff\xfe"), &s.conn)),
            "-ERR USER: argument is not valid UTF-8\n"
        );
        assert_eq!(s.s(""), "-ERR unknown command\n");
        assert_eq!(s.s("RETR 1"), "-ERR command not valid in this state\n");
        s.s("USER a");
        s.s("PASS b");
        assert_eq!(s.s("RETR 4294967295"), "-ERR no such message\n");
        assert_eq!(s.s("DELE 4294967295"), "-ERR no such message\n");
        assert_eq!(s.s("TOP 1 99999"), "-ERR no such message\n");
    }

    #[test]
    fn stuffing_and_top_edges() {
        let m = crate::mailfiles::to_crlf(b"A: b\n\n.\n..x\nlast");
        assert_eq!(
            stuffed_lines(&m, None),
            vec![
                b"A: b".to_vec(),
                vec![],
                b"..".to_vec(),
                b"...x".to_vec(),
                b"last".to_vec()
            ]
        );
        assert_eq!(
            stuffed_lines(&m, Some(1)),
            vec![b"A: b".to_vec(), vec![], b"..".to_vec()]
        );
        // A message without a body separator: TOP gives all header lines.
        let h = crate::mailfiles::to_crlf(b"A: b\nC: d\n");
        assert_eq!(stuffed_lines(&h, Some(0)).len(), 2);
    }
}
