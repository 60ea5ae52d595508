//! What a POP3 personality can change, as data: the `[pop3]` table of a personality TOML
//! file. Every field has a default (a plain, standards-following server), so a file names
//! only what differs. Quirks real servers (and Mozilla's fake) have are switches here, never
//! code paths chosen by server name.
//!
//! ```toml
//! [pop3]
//! greeting = "Dovecot ready."
//! sasl = ["PLAIN", "LOGIN"]
//! capabilities = ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
//! rset_logs_out = false
//! ```

use serde::Deserialize;

/// The POP3 part of a personality.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Pop3Personality {
    /// Text after `+OK ` in the greeting (an APOP timestamp is appended when `apop` is on).
    pub greeting: String,
    /// Offer APOP (the greeting carries a `<pid.clock@host>` timestamp).
    pub apop: bool,
    /// Allow USER/PASS (and advertise `USER` in CAPA).
    pub user_pass: bool,
    /// SASL mechanisms offered by AUTH and CAPA's `SASL` line, in order; empty: no AUTH.
    pub sasl: Vec<String>,
    /// Offer STLS when the server has a certificate.
    pub stls: bool,
    /// Refuse USER/PASS/APOP/AUTH before TLS (with `[AUTH]`/`-ERR` wording below).
    pub require_tls: bool,
    /// Support TOP / UIDL (and advertise them).
    pub top: bool,
    pub uidl: bool,
    /// Extra CAPA lines, as sent (`RESP-CODES`, `PIPELINING`, `EXPIRE NEVER`, ...).
    pub capabilities: Vec<String>,
    /// CAPA's `IMPLEMENTATION` line, if any.
    pub implementation: Option<String>,
    /// Put RFC 2449/3206 response codes (`[IN-USE]`, `[AUTH]`, `[SYS/PERM]`) in replies.
    pub resp_codes: bool,
    /// Mozilla's fake: RSET drops the session back to the AUTHORIZATION state.
    pub rset_logs_out: bool,
    /// Close the connection after a failed USER/PASS, APOP or AUTH.
    pub drop_on_auth_failure: bool,
    /// Lock maildrops (RFC 1939): a second concurrent session gets `[IN-USE]`.
    pub lock_maildrop: bool,
    /// Host name in the APOP / CRAM-MD5 timestamps.
    pub hostname: String,
    /// Reply wording.
    pub replies: Pop3Replies,
}

/// The text of replies a personality may reword (after `+OK ` / `-ERR `). `{count}`,
/// `{octets}` and `{msg}` (a message number) are filled in where they make sense.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Pop3Replies {
    pub user_ok: String,
    pub logged_in: String,
    pub auth_failed: String,
    pub in_use: String,
    pub no_such_message: String,
    pub list: String,
    pub retr: String,
    pub rset: String,
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

impl Default for Pop3Replies {
    fn default() -> Self {
        Pop3Replies {
            user_ok: "send PASS".into(),
            logged_in: "maildrop locked and ready ({count} messages, {octets} octets)".into(),
            auth_failed: "authentication failed".into(),
            in_use: "maildrop already locked".into(),
            no_such_message: "no such message".into(),
            list: "{count} messages ({octets} octets)".into(),
            retr: "{octets} octets".into(),
            rset: "maildrop has {count} messages ({octets} octets)".into(),
            deleted: "message {msg} deleted".into(),
            already_deleted: "message already deleted".into(),
            bye: "bye".into(),
            bye_update: "bye, maildrop updated".into(),
            capa: "capability list follows".into(),
            stls: "begin TLS negotiation".into(),
            tls_required: "TLS required first".into(),
            unknown: "unknown command".into(),
            wrong_state: "command not valid in this state".into(),
        }
    }
}

impl Default for Pop3Personality {
    fn default() -> Self {
        Pop3Personality {
            greeting: "fakeserver POP3 ready".into(),
            apop: true,
            user_pass: true,
            sasl: ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"].map(String::from).to_vec(),
            stls: true,
            require_tls: false,
            top: true,
            uidl: true,
            capabilities: vec!["RESP-CODES".into(), "AUTH-RESP-CODE".into(), "PIPELINING".into()],
            implementation: Some("mailrig-fakeserver".into()),
            resp_codes: true,
            rset_logs_out: false,
            drop_on_auth_failure: false,
            lock_maildrop: true,
            hostname: "fakeserver.test".into(),
            replies: Pop3Replies::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let p: Pop3Personality = toml::from_str("greeting = \"hi\"\nrset_logs_out = true\n[replies]\nbye = \"ciao\"\n").unwrap();
        assert_eq!(p.greeting, "hi");
        assert!(p.rset_logs_out);
        assert_eq!(p.replies.bye, "ciao");
        assert_eq!(p.replies.deleted, Pop3Replies::default().deleted);
        assert!(toml::from_str::<Pop3Personality>("no_such_knob = 1").is_err());
    }
}

#[cfg(test)]
mod shipped {
    /// The shipped POP3 personalities parse (their `[pop3]` table) with no unknown knob.
    #[test]
    fn shipped_pop3_personalities_parse() {
        for name in ["dovecot-pop3", "gmail-pop3", "mozilla-pop3"] {
            let path = format!("{}/personalities/{name}.toml", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let v: toml::Table = toml::from_str(&text).unwrap();
            let p: super::Pop3Personality = v["pop3"].clone().try_into().unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(!p.greeting.is_empty(), "{path}");
        }
    }
}
