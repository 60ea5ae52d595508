//! The SMTP and LMTP per-connection state machine (RFC 5321, LMTP RFC 2033), pure: lines
//! and data blocks in, [`Output`] out. Wording, capabilities and deviations come from the
//! personality's `[smtp]`/`[lmtp]` [`Section`].
//!
//! Reply keys (defaults in [`defaults`]): greeting, ehlo_first, helo, mail_ok, rcpt_ok,
//! data_start, data_ok, bdat_ok, lmtp_ok, rset, noop, quit, help, vrfy, expn, unknown,
//! syntax, need_helo, need_mail, need_rcpt, nested_mail, bad_sequence, bad_param,
//! size_exceeded, need_smtputf8, auth_ok, auth_failed, auth_aborted, auth_required,
//! auth_mech, auth_done, need_tls, starttls, no_tls, line_too_long, data_too_long,
//! idle_timeout. Placeholders: `{host}`, `{helo}`, `{peer_ip}`, `{id}`, `{arg}`, `{size}`,
//! `{rcpt}`. When ENHANCEDSTATUSCODES is not advertised, the `x.y.z` after the reply code is
//! dropped from the default wording.
//!
//! Quirks: `rcpt_replies`/`mail_replies` (address → reply: a fixed answer for an address),
//! `max_recipients` (integer), `data_replies` (a table recipient → final reply, LMTP).

use super::daemon::{Message, SmtpDaemon};
use super::parse::{parse_command, Command, Param};
use crate::auth::{Mechanism, Sasl, Step, Users};
use crate::handler::{ConnInfo, Handler, Input, Output, ReadMode};
use crate::personality::Section;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default wording by reply key.
pub fn defaults(key: &str) -> &'static str {
    match key {
        "greeting" => "220 {host} ESMTP fakeserver ready",
        "ehlo_first" => "250-{host} Hello {helo}",
        "helo" => "250 {host} Hello {helo}",
        "mail_ok" => "250 2.1.0 Sender OK",
        "rcpt_ok" => "250 2.1.5 Recipient OK",
        "data_start" => "354 End data with <CR><LF>.<CR><LF>",
        "data_ok" => "250 2.0.0 OK queued as {id}",
        "bdat_ok" => "250 2.0.0 {size} octets received",
        "lmtp_ok" => "250 2.1.5 <{rcpt}> delivered as {id}",
        "rset" => "250 2.0.0 Reset",
        "noop" => "250 2.0.0 OK",
        "quit" => "221 2.0.0 {host} closing connection",
        "help" => "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET VRFY EXPN HELP NOOP QUIT STARTTLS AUTH",
        "vrfy" => "252 2.1.5 Cannot VRFY {arg}, but will accept the message",
        "vrfy_known" => "250 2.1.5 <{arg}>",
        "vrfy_unknown" => "550 5.1.1 <{arg}>: no such user",
        "expn" => "502 5.5.1 EXPN not available",
        "unknown" => "500 5.5.2 Command not recognized",
        "syntax" => "501 5.5.4 Syntax error: {arg}",
        "need_helo" => "503 5.5.1 Send HELO/EHLO first",
        "need_mail" => "503 5.5.1 Need MAIL before RCPT",
        "need_rcpt" => "554 5.5.1 No valid recipients",
        "nested_mail" => "503 5.5.1 Sender already given",
        "bad_sequence" => "503 5.5.1 Bad sequence of commands",
        "bad_param" => "555 5.5.4 Unsupported parameter {arg}",
        "size_exceeded" => "552 5.3.4 Message size exceeds the limit",
        "too_many_rcpts" => "452 4.5.3 Too many recipients",
        "need_smtputf8" => "553 5.6.7 Non-ASCII address needs SMTPUTF8",
        "auth_ok" => "235 2.7.0 Authentication successful",
        "auth_failed" => "535 5.7.8 Authentication credentials invalid",
        "auth_aborted" => "501 5.0.0 Authentication aborted",
        "auth_malformed" => "501 5.5.2 {arg}",
        "auth_required" => "530 5.7.0 Authentication required",
        "auth_mech" => "504 5.5.4 Unrecognized authentication mechanism",
        "auth_done" => "503 5.5.1 Already authenticated",
        "need_tls" => "538 5.7.11 Encryption required for requested authentication mechanism",
        "starttls" => "220 2.0.0 Ready to start TLS",
        "no_tls" => "454 4.7.0 TLS not available",
        "line_too_long" => "500 5.5.2 Line too long",
        "data_too_long" => "552 5.3.4 Message too big",
        "idle_timeout" => "421 4.4.2 {host} idle timeout, closing connection",
        _ => "500 5.5.0 (no wording)",
    }
}

/// Everything a connection needs that is fixed for the server's life.
#[derive(Debug)]
pub struct SmtpSetup {
    pub lmtp: bool,
    pub section: Section,
    pub users: Arc<Users>,
    pub daemon: Arc<SmtpDaemon>,
}

impl SmtpSetup {
    pub fn new(lmtp: bool, section: Section, users: Arc<Users>, daemon: Arc<SmtpDaemon>) -> Self {
        SmtpSetup {
            lmtp,
            section,
            users,
            daemon,
        }
    }
    fn host(&self) -> &str {
        self.section.host("localhost")
    }
    fn mechanisms(&self) -> Vec<Mechanism> {
        match &self.section.auth_mechanisms {
            None => Mechanism::ALL.to_vec(),
            Some(list) => list.iter().filter_map(|m| Mechanism::parse(m)).collect(),
        }
    }
    fn ext(&self, word: &str) -> bool {
        match &self.section.capabilities {
            None => !matches!(word, "VRFY" | "ETRN" | "PRDR"),
            Some(_) => self.section.has_capability(word),
        }
    }
}

#[derive(Debug, Default)]
struct Tx {
    id: String,
    from: String,
    mail_params: Vec<String>,
    rcpts: Vec<String>,
    rcpt_params: Vec<Vec<String>>,
    data: Vec<u8>,
    chunked: bool,
    smtputf8: bool,
}

#[derive(Debug)]
enum Stage {
    Command,
    /// Waiting for the DATA block.
    Data,
    /// Waiting for a BDAT chunk; `discard` when the transaction is not valid.
    Bdat {
        last: bool,
        discard: bool,
        size: u64,
    },
    /// In a SASL exchange.
    Sasl(Box<Sasl>),
    /// XOAUTH2 failed: wait for the client's empty response, then 535.
    XOAuthFailed,
}

/// What the last input changed, so a fault that replaced its reply can undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Last {
    Nothing,
    Helo,
    Mail,
    Rcpt,
    DataStart,
    Chunk,
    Delivered(String),
    Auth,
    Challenge,
}

/// One SMTP/LMTP connection.
#[derive(Debug)]
pub struct SmtpHandler {
    last: Last,
    setup: Arc<SmtpSetup>,
    helo: Option<String>,
    esmtp: bool,
    auth_user: Option<String>,
    tx: Option<Tx>,
    stage: Stage,
    peer: String,
    tls: bool,
}

impl SmtpHandler {
    pub fn new(setup: Arc<SmtpSetup>, conn: &ConnInfo) -> Self {
        SmtpHandler {
            last: Last::Nothing,
            setup,
            helo: None,
            esmtp: false,
            auth_user: None,
            tx: None,
            stage: Stage::Command,
            peer: conn.peer.clone(),
            tls: conn.tls,
        }
    }

    /// The wording of `key` with placeholders filled in.
    fn say(&self, key: &str, vars: &[(&str, &str)]) -> String {
        let s = &self.setup.section;
        let custom = s.replies.contains_key(key);
        let mut text = s.reply(key, defaults(key), self.setup.host());
        if !custom && !self.setup.ext("ENHANCEDSTATUSCODES") {
            text = strip_enhanced(&text);
        }
        let peer_ip = self
            .peer
            .rsplit_once(':')
            .map(|(ip, _)| ip)
            .unwrap_or(&self.peer);
        let peer_ip = peer_ip.trim_start_matches('[').trim_end_matches(']');
        let id = self.tx.as_ref().map(|t| t.id.as_str()).unwrap_or("");
        let mut out = text
            .replace("{helo}", self.helo.as_deref().unwrap_or(""))
            .replace("{peer_ip}", peer_ip)
            .replace("{id}", id);
        for (k, v) in vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    fn reply(&self, key: &str) -> Output {
        Output::lines(
            self.say(key, &[])
                .split('\n')
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    }

    fn reply_with(&self, key: &str, vars: &[(&str, &str)]) -> Output {
        Output::lines(
            self.say(key, vars)
                .split('\n')
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    }

    fn ehlo_lines(&self, conn: &ConnInfo) -> Output {
        let mut lines = vec![self.say("ehlo_first", &[])];
        let cfg = &self.setup;
        let words: Vec<String> = match &cfg.section.capabilities {
            Some(list) => list.clone(),
            None => [
                "PIPELINING",
                "SIZE",
                "8BITMIME",
                "DSN",
                "SMTPUTF8",
                "CHUNKING",
                "ENHANCEDSTATUSCODES",
                "STARTTLS",
                "HELP",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        };
        let mut auth_done = false;
        for w in words {
            let key = w
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match key.as_str() {
                "STARTTLS" if !conn.tls_available || conn.tls => continue,
                "SIZE" => {
                    lines.push(match cfg.section.max_size {
                        Some(n) => format!("SIZE {n}"),
                        None => w.clone(),
                    });
                    continue;
                }
                "AUTH" => auth_done = true,
                _ => {}
            }
            lines.push(w);
        }
        let mechs = cfg.mechanisms();
        if !auth_done && !mechs.is_empty() && (conn.tls || !cfg.section.auth_requires_tls) {
            let names: Vec<&str> = mechs.iter().map(|m| m.name()).collect();
            lines.push(format!("AUTH {}", names.join(" ")));
        }
        let n = lines.len();
        let code = lines[0].get(..3).unwrap_or("250").to_string();
        let out = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    let rest = l.get(4..).unwrap_or("");
                    format!("{code}{}{rest}", if n == 1 { ' ' } else { '-' })
                } else {
                    format!("{code}{}{l}", if i + 1 == n { ' ' } else { '-' })
                }
            })
            .collect::<Vec<_>>();
        Output::lines(out)
    }

    fn command(&mut self, line: &[u8], conn: &ConnInfo) -> Output {
        let cmd = match parse_command(line) {
            Ok(c) => c,
            Err(e) if e.code() == 500 => {
                return self
                    .reply_with("syntax", &[("arg", &e.to_string())])
                    .replace_code("500");
            }
            Err(e) => return self.reply_with("syntax", &[("arg", &e.to_string())]),
        };
        let lmtp = self.setup.lmtp;
        match cmd {
            Command::Lhlo(_) if !lmtp => self.reply("unknown"),
            Command::Ehlo(_) | Command::Helo(_) if lmtp => self.reply("unknown"),
            Command::Ehlo(d) | Command::Lhlo(d) => {
                self.helo = Some(d);
                self.last = Last::Helo;
                self.esmtp = true;
                self.tx = None;
                self.ehlo_lines(conn)
            }
            Command::Helo(d) => {
                self.helo = Some(d);
                self.last = Last::Helo;
                self.esmtp = false;
                self.tx = None;
                self.reply("helo")
            }
            Command::Mail { path, params } => self.mail(path, params, conn),
            Command::Rcpt { path, params } => self.rcpt(path, params),
            Command::Data => {
                let Some(tx) = &self.tx else {
                    return self.reply("need_mail");
                };
                if tx.rcpts.is_empty() {
                    return self.reply("need_rcpt");
                }
                if tx.chunked {
                    return self.reply("bad_sequence");
                }
                self.stage = Stage::Data;
                self.last = Last::DataStart;
                self.reply("data_start").then_read(ReadMode::DotTerminated)
            }
            Command::Bdat { size, last } => {
                if !self.setup.ext("CHUNKING") {
                    return self.reply("unknown");
                }
                let discard = match &mut self.tx {
                    Some(tx) if !tx.rcpts.is_empty() => {
                        tx.chunked = true;
                        false
                    }
                    _ => true,
                };
                self.stage = Stage::Bdat {
                    last,
                    discard,
                    size,
                };
                Output::none().then_read(ReadMode::Exact(size))
            }
            Command::Rset => {
                self.tx = None;
                self.reply("rset")
            }
            Command::Noop => self.reply("noop"),
            Command::Quit => self.reply("quit").then_close(),
            Command::Help(_) => self.reply("help"),
            Command::Vrfy(arg) => {
                let arg = arg
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string();
                let users = &self.setup.users;
                let local = arg.split('@').next().unwrap_or(&arg);
                let key = if !users.is_strict() {
                    "vrfy"
                } else if users.password(&arg).is_some() || users.password(local).is_some() {
                    "vrfy_known"
                } else {
                    "vrfy_unknown"
                };
                self.reply_with(key, &[("arg", &arg)])
            }
            Command::Expn(arg) => self.reply_with("expn", &[("arg", &arg)]),
            Command::StartTls => {
                if conn.tls || !conn.tls_available || !self.setup.ext("STARTTLS") {
                    return self.reply("no_tls");
                }
                self.reply("starttls").then_start_tls()
            }
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial.as_deref(), conn),
            Command::Unknown(_) => self.reply("unknown"),
        }
    }

    fn mail(&mut self, path: String, params: Vec<Param>, conn: &ConnInfo) -> Output {
        if self.helo.is_none() {
            return self.reply("need_helo");
        }
        if self.tx.is_some() {
            return self.reply("nested_mail");
        }
        if self.setup.section.auth_required && self.auth_user.is_none() {
            if self.setup.section.auth_requires_tls
                && !conn.tls
                && self.setup.section.replies.contains_key("need_tls")
            {
                return self.reply("need_tls");
            }
            return self.reply("auth_required");
        }
        let mut smtputf8 = false;
        for p in &params {
            let ok = self.esmtp
                && match p.key.as_str() {
                    "SIZE" => match p.value.as_deref().and_then(|v| v.parse::<u64>().ok()) {
                        Some(n) => {
                            if self.setup.section.max_size.is_some_and(|max| n > max) {
                                return self.reply("size_exceeded");
                            }
                            self.setup.ext("SIZE")
                        }
                        None => false,
                    },
                    "BODY" => {
                        let v = p.value.as_deref().unwrap_or("").to_ascii_uppercase();
                        v == "7BIT"
                            || (v == "8BITMIME" && self.setup.ext("8BITMIME"))
                            || (v == "BINARYMIME" && self.setup.ext("BINARYMIME"))
                    }
                    "SMTPUTF8" => {
                        smtputf8 = true;
                        p.value.is_none() && self.setup.ext("SMTPUTF8")
                    }
                    "RET" => {
                        let v = p.value.as_deref().unwrap_or("").to_ascii_uppercase();
                        (v == "FULL" || v == "HDRS") && self.setup.ext("DSN")
                    }
                    "ENVID" => p.value.is_some() && self.setup.ext("DSN"),
                    "AUTH" => p.value.is_some(),
                    _ => false,
                };
            if !ok {
                return self.reply_with("bad_param", &[("arg", &p.to_string())]);
            }
        }
        if !path.is_ascii() && !smtputf8 {
            return self.reply("need_smtputf8");
        }
        if let Some(o) = self.quirk_reply("mail_replies", &path) {
            return o;
        }
        self.tx = Some(Tx {
            id: self.setup.daemon.next_id(),
            from: path,
            mail_params: params.iter().map(Param::to_string).collect(),
            smtputf8,
            ..Tx::default()
        });
        self.last = Last::Mail;
        self.reply("mail_ok")
    }

    /// The reply the personality's `quirk` table (`mail_replies`, `rcpt_replies`) sets for
    /// `path` (case-insensitive), if any: one line, or several separated by LF.
    fn quirk_reply(&self, quirk: &str, path: &str) -> Option<Output> {
        let map = self.setup.section.quirk_map(quirk);
        let r = map.get(&path.to_ascii_lowercase())?;
        Some(Output::lines(
            r.split('\n').map(str::to_string).collect::<Vec<_>>(),
        ))
    }

    fn rcpt(&mut self, path: String, params: Vec<Param>) -> Output {
        let Some(tx) = &self.tx else {
            return self.reply("need_mail");
        };
        for p in &params {
            let ok = self.esmtp
                && match p.key.as_str() {
                    "NOTIFY" => {
                        let v = p.value.as_deref().unwrap_or("").to_ascii_uppercase();
                        self.setup.ext("DSN")
                            && (v == "NEVER"
                                || (!v.is_empty()
                                    && v.split(',')
                                        .all(|x| matches!(x, "SUCCESS" | "FAILURE" | "DELAY"))))
                    }
                    "ORCPT" => {
                        self.setup.ext("DSN") && p.value.as_deref().is_some_and(|v| v.contains(';'))
                    }
                    _ => false,
                };
            if !ok {
                return self.reply_with("bad_param", &[("arg", &p.to_string())]);
            }
        }
        if !path.is_ascii() && !tx.smtputf8 {
            return self.reply("need_smtputf8");
        }
        if let Some(o) = self.quirk_reply("rcpt_replies", &path) {
            return o;
        }
        if let Some(max) = self.setup.section.quirk_int("max_recipients") {
            if tx.rcpts.len() as i64 >= max {
                return self.reply("too_many_rcpts");
            }
        }
        let out = self.reply_with("rcpt_ok", &[("rcpt", &path)]);
        if let Some(tx) = &mut self.tx {
            tx.rcpts.push(path);
            tx.rcpt_params
                .push(params.iter().map(Param::to_string).collect());
            self.last = Last::Rcpt;
        }
        out
    }

    fn auth(&mut self, mech: &str, initial: Option<&str>, conn: &ConnInfo) -> Output {
        if self.helo.is_none() || !self.esmtp {
            return self.reply("need_helo");
        }
        if self.auth_user.is_some() {
            return self.reply("auth_done");
        }
        if self.tx.is_some() {
            return self.reply("bad_sequence");
        }
        let Some(m) = Mechanism::parse(mech).filter(|m| self.setup.mechanisms().contains(m)) else {
            return self.reply("auth_mech");
        };
        if self.setup.section.auth_requires_tls && !conn.tls {
            return self.reply("need_tls");
        }
        let challenge = format!(
            "<{}.{}@{}>",
            self.setup.daemon.next_id(),
            std::process::id(),
            self.setup.host()
        );
        let (sasl, step) = Sasl::start(m, initial, &challenge);
        self.sasl_step(sasl, step)
    }

    fn sasl_step(&mut self, mut sasl: Sasl, step: Step) -> Output {
        match step {
            Step::Challenge(c) => {
                self.stage = Stage::Sasl(Box::new(sasl));
                self.last = Last::Challenge;
                Output::line(format!("334 {c}")).masking_next_input()
            }
            Step::Done(creds) => match self.setup.users.verify(&creds) {
                Some(user) => {
                    self.auth_user = Some(user);
                    self.last = Last::Auth;
                    self.reply("auth_ok")
                }
                None if sasl.mechanism() == Mechanism::XOAuth2 => {
                    let c = sasl.xoauth2_error_challenge();
                    self.stage = Stage::XOAuthFailed;
                    Output::line(format!("334 {c}"))
                }
                None => self.auth_failed(),
            },
            Step::Aborted => self.reply("auth_aborted"),
            Step::Malformed(m) => self.reply_with("auth_malformed", &[("arg", &m)]),
        }
    }

    fn auth_failed(&self) -> Output {
        let out = self.reply("auth_failed");
        if self.setup.section.drop_on_auth_failure {
            out.then_close()
        } else {
            out
        }
    }

    fn deliver(&mut self, conn: &ConnInfo) -> Output {
        let Some(tx) = self.tx.take() else {
            return self.reply("bad_sequence");
        };
        if self
            .setup
            .section
            .max_size
            .is_some_and(|max| tx.data.len() as u64 > max)
        {
            return self.reply("size_exceeded");
        }
        let msg = Message {
            id: tx.id.clone(),
            protocol: if self.setup.lmtp { "lmtp" } else { "smtp" }.to_string(),
            peer: conn.peer.clone(),
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: tx.from.clone(),
            mail_params: tx.mail_params.clone(),
            rcpt_to: tx.rcpts.clone(),
            rcpt_params: tx.rcpt_params.clone(),
            size: tx.data.len(),
            raw: tx.data,
            tls: conn.tls,
            auth: self.auth_user.clone(),
            chunked: tx.chunked,
        };
        // Keep the id for the reply wording.
        self.tx = Some(Tx {
            id: tx.id,
            ..Tx::default()
        });
        let out = if self.setup.lmtp {
            let special: BTreeMap<String, String> = self.setup.section.quirk_map("data_replies");
            let lines: Vec<String> = msg
                .rcpt_to
                .iter()
                .flat_map(|r| match special.get(&r.to_ascii_lowercase()) {
                    Some(s) => s.split('\n').map(str::to_string).collect::<Vec<_>>(),
                    None => self
                        .say("lmtp_ok", &[("rcpt", r)])
                        .split('\n')
                        .map(str::to_string)
                        .collect(),
                })
                .collect();
            Output::lines(lines)
        } else if msg.chunked {
            self.reply_with("data_ok", &[("size", &msg.size.to_string())])
        } else {
            self.reply("data_ok")
        };
        self.tx = None;
        self.last = Last::Delivered(msg.id.clone());
        self.setup.daemon.accept(msg);
        out
    }
}

fn strip_enhanced(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let (code, rest) = (line.get(..4).unwrap_or(line), line.get(4..).unwrap_or(""));
            let mut parts = rest.splitn(2, ' ');
            let first = parts.next().unwrap_or("");
            let is_enh = first.split('.').count() == 3
                && first
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if is_enh {
                format!("{code}{}", parts.next().unwrap_or(""))
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

trait ReplaceCode {
    fn replace_code(self, code: &str) -> Self;
}
impl ReplaceCode for Output {
    fn replace_code(mut self, code: &str) -> Self {
        for l in &mut self.lines {
            if l.len() >= 3 {
                l.splice(..3, code.bytes());
            }
        }
        self
    }
}

impl Handler for SmtpHandler {
    fn on_startup(&mut self, _conn: &ConnInfo) -> Output {
        let s = &self.setup.section;
        let greeting = match &s.greeting {
            Some(g) => g.replace("{host}", self.setup.host()),
            None => {
                let g = self.say("greeting", &[]);
                if self.setup.lmtp {
                    g.replace("ESMTP", "LMTP")
                } else {
                    g
                }
            }
        };
        Output::lines(greeting.split('\n').map(str::to_string).collect::<Vec<_>>())
    }

    fn on_input(&mut self, input: Input<'_>, conn: &ConnInfo) -> Output {
        self.tls = conn.tls;
        self.last = Last::Nothing;
        match (std::mem::replace(&mut self.stage, Stage::Command), input) {
            (Stage::Command, Input::Line(l)) => self.command(l, conn),
            (Stage::Data, Input::Block(b)) => {
                if let Some(tx) = &mut self.tx {
                    tx.data = b.to_vec();
                }
                self.deliver(conn)
            }
            (
                Stage::Bdat {
                    last,
                    discard,
                    size,
                },
                Input::Bytes(b),
            ) => {
                if discard {
                    return self.reply("need_rcpt");
                }
                let Some(tx) = &mut self.tx else {
                    return self.reply("bad_sequence");
                };
                tx.data.extend_from_slice(b);
                if self
                    .setup
                    .section
                    .max_size
                    .is_some_and(|max| tx.data.len() as u64 > max)
                {
                    self.tx = None;
                    return self.reply("size_exceeded");
                }
                if last {
                    self.deliver(conn)
                } else {
                    self.last = Last::Chunk;
                    self.reply_with("bdat_ok", &[("size", &size.to_string())])
                }
            }
            (Stage::Sasl(mut sasl), Input::Line(l)) => {
                let step = sasl.respond(&String::from_utf8_lossy(l));
                self.sasl_step(*sasl, step)
            }
            (Stage::XOAuthFailed, Input::Line(_)) => self.auth_failed(),
            (_, _) => self.reply("bad_sequence"),
        }
    }

    fn mask(&self, line: &[u8]) -> Option<Vec<u8>> {
        let mut words = line.split(|b| *b == b' ').filter(|w| !w.is_empty());
        let verb = words.next()?;
        if !verb.eq_ignore_ascii_case(b"AUTH") {
            return None;
        }
        let mech = words.next()?;
        words.next()?;
        let mut m = b"AUTH ".to_vec();
        m.extend_from_slice(mech);
        m.extend_from_slice(b" ****");
        Some(m)
    }

    fn on_fault_reply(&mut self, reply: &str) {
        if reply.starts_with('2') || reply.starts_with('3') {
            return;
        }
        match std::mem::replace(&mut self.last, Last::Nothing) {
            Last::Nothing => {}
            Last::Helo => {
                self.helo = None;
                self.esmtp = false;
            }
            Last::Mail | Last::Chunk => self.tx = None,
            Last::Rcpt => {
                if let Some(tx) = &mut self.tx {
                    tx.rcpts.pop();
                    tx.rcpt_params.pop();
                }
            }
            Last::DataStart | Last::Challenge => self.stage = Stage::Command,
            Last::Delivered(id) => self.setup.daemon.withdraw(&id),
            Last::Auth => self.auth_user = None,
        }
    }

    fn on_tls_started(&mut self, conn: &ConnInfo) -> Output {
        // RFC 3207: forget everything learnt before TLS.
        self.tls = conn.tls;
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        self.auth_user = None;
        Output::none()
    }

    fn on_line_too_long(&mut self, _conn: &ConnInfo) -> Output {
        // A too-long line inside a SASL exchange ends it.
        if matches!(self.stage, Stage::Sasl(_) | Stage::XOAuthFailed) {
            self.stage = Stage::Command;
        }
        self.reply("line_too_long")
    }

    fn on_block_too_long(&mut self, _conn: &ConnInfo) -> Output {
        self.tx = None;
        self.stage = Stage::Command;
        self.reply("data_too_long")
    }

    fn on_idle_timeout(&mut self, _conn: &ConnInfo) -> Output {
        self.reply("idle_timeout").then_close()
    }
}
