//! What a personality can change in POP3: the `[pop3]` section of a personality file
//! ([`crate::personality`]) read into a typed [`Pop3Personality`]. Defaults are a plain,
//! standards-following server, so a file names only what differs.
//!
//! How the common keys apply to POP3:
//! - `greeting`: the whole greeting line (`{host}` is the hostname; the APOP timestamp is
//!   appended when APOP is on).
//! - `capabilities`: the CAPA lines as the server lists them. `TOP`, `UIDL`, `USER`, `STLS`
//!   switch those commands on (absent: off), `SASL` is rebuilt from `auth_mechanisms`,
//!   `IMPLEMENTATION x` sets that line; every other line is sent as written.
//! - `auth_mechanisms`: AUTH's mechanisms (`[]`: no AUTH). `auth_requires_tls`: no login of
//!   any kind before TLS. `drop_on_auth_failure`: close after a failed login.
//! - `replies`: whole reply lines by key (see [`REPLY_KEYS`]); `{count}`, `{octets}`, `{msg}`
//!   and `{host}` are filled in.
//! - `quirks`: `apop` (bool, default true), `rset_logs_out` (Mozilla's fake: RSET drops back
//!   to AUTHORIZATION), `lock_maildrop` (default true).
//!
//! ```toml
//! [pop3]
//! greeting = "+OK Dovecot ready."
//! capabilities = ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "USER", "STLS", "SASL"]
//! auth_mechanisms = ["PLAIN", "LOGIN"]
//! [pop3.replies]
//! logged_in = "+OK Logged in."
//! [pop3.quirks]
//! apop = false
//! ```

use crate::auth::Mechanism;
use crate::personality::Section;
use anyhow::{bail, Result};

/// The POP3 behaviour of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Personality {
    /// The greeting line, without the APOP timestamp.
    pub greeting: String,
    pub apop: bool,
    pub user_pass: bool,
    /// SASL mechanisms offered, in CAPA order; empty: no AUTH.
    pub sasl: Vec<String>,
    pub stls: bool,
    /// No login before TLS.
    pub require_tls: bool,
    pub top: bool,
    pub uidl: bool,
    /// CAPA lines sent as written.
    pub capabilities: Vec<String>,
    pub implementation: Option<String>,
    pub rset_logs_out: bool,
    pub drop_on_auth_failure: bool,
    pub lock_maildrop: bool,
    /// In the APOP timestamp and CRAM-MD5 challenge, and `{host}`.
    pub hostname: String,
    pub replies: Pop3Replies,
}

/// Every reply a personality may reword: whole lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Replies {
    pub user_ok: String,
    pub logged_in: String,
    pub auth_failed: String,
    pub auth_cancelled: String,
    pub in_use: String,
    pub no_such_message: String,
    pub list: String,
    pub uidl: String,
    pub retr: String,
    pub top: String,
    pub rset: String,
    pub noop: String,
    pub deleted: String,
    pub already_deleted: String,
    pub bye: String,
    pub bye_update: String,
    pub capa: String,
    pub stls: String,
    pub tls_required: String,
    pub unknown: String,
    pub wrong_state: String,
}

/// The reply keys a `[pop3.replies]` table may use.
pub const REPLY_KEYS: &[&str] = &[
    "user_ok",
    "logged_in",
    "auth_failed",
    "auth_cancelled",
    "in_use",
    "no_such_message",
    "list",
    "uidl",
    "retr",
    "top",
    "rset",
    "noop",
    "deleted",
    "already_deleted",
    "bye",
    "bye_update",
    "capa",
    "stls",
    "tls_required",
    "unknown",
    "wrong_state",
];

impl Pop3Replies {
    fn slot(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "user_ok" => &mut self.user_ok,
            "logged_in" => &mut self.logged_in,
            "auth_failed" => &mut self.auth_failed,
            "auth_cancelled" => &mut self.auth_cancelled,
            "in_use" => &mut self.in_use,
            "no_such_message" => &mut self.no_such_message,
            "list" => &mut self.list,
            "uidl" => &mut self.uidl,
            "retr" => &mut self.retr,
            "top" => &mut self.top,
            "rset" => &mut self.rset,
            "noop" => &mut self.noop,
            "deleted" => &mut self.deleted,
            "already_deleted" => &mut self.already_deleted,
            "bye" => &mut self.bye,
            "bye_update" => &mut self.bye_update,
            "capa" => &mut self.capa,
            "stls" => &mut self.stls,
            "tls_required" => &mut self.tls_required,
            "unknown" => &mut self.unknown,
            "wrong_state" => &mut self.wrong_state,
            _ => return None,
        })
    }
}

impl Default for Pop3Replies {
    fn default() -> Self {
        Pop3Replies {
            user_ok: "+OK send PASS".into(),
            logged_in: "+OK maildrop locked and ready ({count} messages, {octets} octets)".into(),
            auth_failed: "-ERR [AUTH] authentication failed".into(),
            auth_cancelled: "-ERR authentication cancelled".into(),
            in_use: "-ERR [IN-USE] maildrop already locked".into(),
            no_such_message: "-ERR no such message".into(),
            list: "+OK {count} messages ({octets} octets)".into(),
            uidl: "+OK unique-id listing follows".into(),
            retr: "+OK {octets} octets".into(),
            top: "+OK top of message follows".into(),
            rset: "+OK maildrop has {count} messages ({octets} octets)".into(),
            noop: "+OK".into(),
            deleted: "+OK message {msg} deleted".into(),
            already_deleted: "-ERR message already deleted".into(),
            bye: "+OK bye".into(),
            bye_update: "+OK bye, maildrop updated".into(),
            capa: "+OK capability list follows".into(),
            stls: "+OK begin TLS negotiation".into(),
            tls_required: "-ERR [AUTH] TLS required first".into(),
            unknown: "-ERR unknown command".into(),
            wrong_state: "-ERR command not valid in this state".into(),
        }
    }
}

impl Default for Pop3Personality {
    fn default() -> Self {
        Pop3Personality {
            greeting: "+OK fakeserver POP3 ready".into(),
            apop: true,
            user_pass: true,
            sasl: Mechanism::ALL
                .iter()
                .map(|m| m.name().to_string())
                .collect(),
            stls: true,
            require_tls: false,
            top: true,
            uidl: true,
            capabilities: vec![
                "RESP-CODES".into(),
                "AUTH-RESP-CODE".into(),
                "PIPELINING".into(),
            ],
            implementation: Some("mailrig-fakeserver".into()),
            rset_logs_out: false,
            drop_on_auth_failure: false,
            lock_maildrop: true,
            hostname: "fakeserver.test".into(),
            replies: Pop3Replies::default(),
        }
    }
}

impl Pop3Personality {
    /// Read a personality's `[pop3]` section; unknown reply keys, quirks, mechanisms or
    /// ill-typed quirks are errors naming them.
    pub fn from_section(s: &Section) -> Result<Self> {
        let mut p = Pop3Personality::default();
        if let Some(h) = &s.hostname {
            p.hostname = h.clone();
        }
        let host = p.hostname.clone();
        if let Some(g) = &s.greeting {
            p.greeting = g.replace("{host}", &host);
        }
        if s.capabilities.is_some() {
            let has = |w: &str| s.has_capability(w);
            p.top = has("TOP");
            p.uidl = has("UIDL");
            p.user_pass = has("USER");
            p.stls = has("STLS");
            if !has("SASL") {
                p.sasl.clear();
            }
            p.implementation = s.implementation();
            p.capabilities =
                s.other_capabilities(&["TOP", "UIDL", "USER", "STLS", "SASL", "IMPLEMENTATION"]);
        }
        if let Some(m) = &s.auth_mechanisms {
            for name in m {
                if Mechanism::parse(name).is_none() {
                    bail!("[pop3] auth_mechanisms: unknown mechanism {name:?}");
                }
            }
            p.sasl = m.iter().map(|x| x.to_ascii_uppercase()).collect();
        }
        p.require_tls = s.auth_requires_tls;
        p.drop_on_auth_failure = s.drop_on_auth_failure;
        for (key, line) in &s.replies {
            let Some(slot) = p.replies.slot(key) else {
                bail!(
                    "[pop3.replies] unknown key {key:?} (known: {})",
                    REPLY_KEYS.join(", ")
                );
            };
            *slot = line.replace("{host}", &host);
        }
        for (name, v) in &s.quirks {
            let slot = match name.as_str() {
                "apop" => &mut p.apop,
                "rset_logs_out" => &mut p.rset_logs_out,
                "lock_maildrop" => &mut p.lock_maildrop,
                _ => bail!("[pop3.quirks] unknown quirk {name:?} (known: apop, rset_logs_out, lock_maildrop)"),
            };
            *slot = v
                .as_bool()
                .ok_or_else(|| anyhow::anyhow!("[pop3.quirks] {name} must be true or false"))?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personality::Personality;

    #[test]
    fn sections_map_onto_the_knobs() {
        let p = Personality::parse(
            "[pop3]\nhostname = \"h.test\"\ngreeting = \"+OK {host} hi\"\ncapabilities = [\"UIDL\", \"SASL\", \"EXPIRE NEVER\", \"IMPLEMENTATION X 1\"]\n\
             auth_mechanisms = [\"plain\"]\n[pop3.replies]\nbye = \"+OK ciao\"\n[pop3.quirks]\nrset_logs_out = true\napop = false\n",
            "t.toml",
        )
        .unwrap();
        let p = Pop3Personality::from_section(&p.section("pop3")).unwrap();
        assert_eq!(p.greeting, "+OK h.test hi");
        assert!(p.uidl && !p.top && !p.user_pass && !p.stls && !p.apop && p.rset_logs_out);
        assert_eq!(p.sasl, vec!["PLAIN"]);
        assert_eq!(p.capabilities, vec!["EXPIRE NEVER"]);
        assert_eq!(p.implementation.as_deref(), Some("X 1"));
        assert_eq!(p.replies.bye, "+OK ciao");
        assert_eq!(p.replies.deleted, Pop3Replies::default().deleted);
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, needle) in [
            ("[pop3.replies]\nbyee = \"x\"\n", "byee"),
            ("[pop3.quirks]\nrset_logs_outt = true\n", "rset_logs_outt"),
            ("[pop3.quirks]\napop = 1\n", "apop"),
            ("[pop3]\nauth_mechanisms = [\"GSSAPI\"]\n", "GSSAPI"),
        ] {
            let p = Personality::parse(text, "t.toml").unwrap();
            let e = Pop3Personality::from_section(&p.section("pop3"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    /// The shipped POP3 personalities load and mean what they say.
    #[test]
    fn shipped_pop3_personalities() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/personalities");
        let load = |n: &str| {
            let p = Personality::load(std::path::Path::new(&format!("{dir}/{n}.toml"))).unwrap();
            Pop3Personality::from_section(&p.section("pop3"))
                .unwrap_or_else(|e| panic!("{n}: {e:#}"))
        };
        let dovecot = load("dovecot-pop3");
        assert!(!dovecot.apop && dovecot.stls && dovecot.replies.logged_in == "+OK Logged in.");
        let gmail = load("gmail-pop3");
        assert!(gmail.require_tls && !gmail.stls && gmail.sasl == ["PLAIN", "XOAUTH2"]);
        let moz = load("mozilla-pop3");
        assert!(moz.rset_logs_out && !moz.stls && !moz.apop);
    }
}
