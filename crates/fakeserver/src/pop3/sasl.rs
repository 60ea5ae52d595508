//! The server side of the SASL exchanges POP3's AUTH uses (RFC 5034 framing; mechanisms
//! PLAIN RFC 4616, LOGIN, CRAM-MD5 RFC 2195, XOAUTH2 as Google documents it), over a
//! [`Credentials`] store. Pure: a [`Exchange`] gets the client's decoded responses and says
//! what to send next. Base64 framing and `*` cancellation are the handler's.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;
pub use crate::credentials::{AnyUser, Credentials, UserTable};

/// What to do after a step of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (raw; the handler base64-encodes it) and wait for a response.
    Challenge(Vec<u8>),
    /// Authenticated as this user.
    Success(String),
    /// Refused; the user name if one was given, for the record.
    Failure(Option<String>),
    /// XOAUTH2 failure: send this error challenge, then fail whatever the client answers.
    FailAfter(Vec<u8>),
}

/// The mechanisms this module implements, in a sensible advertising order.
pub const MECHANISMS: &[&str] = &["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"];

#[derive(Debug, Clone)]
enum Stage {
    Plain,
    LoginUser,
    LoginPass(String),
    Cram(Vec<u8>),
    XOauth2,
    XOauth2Failed(Option<String>),
}

/// One SASL exchange in progress.
#[derive(Debug, Clone)]
pub struct Exchange {
    stage: Stage,
}

impl Exchange {
    /// Start `mechanism` (upper case). `challenge_seed` makes the CRAM-MD5 challenge
    /// (deterministic, so transcripts compare). `None` for an unknown mechanism.
    pub fn start(mechanism: &str, challenge_seed: &str) -> Option<(Exchange, Option<Step>)> {
        let (stage, first) = match mechanism {
            "PLAIN" => (Stage::Plain, None),
            "LOGIN" => (Stage::LoginUser, Some(Step::Challenge(b"Username:".to_vec()))),
            "CRAM-MD5" => {
                let c = format!("<{challenge_seed}>").into_bytes();
                (Stage::Cram(c.clone()), Some(Step::Challenge(c)))
            }
            "XOAUTH2" => (Stage::XOauth2, None),
            _ => return None,
        };
        Some((Exchange { stage }, first))
    }

    /// The first challenge when the client gave no initial response.
    pub fn initial_challenge(&self) -> Step {
        match &self.stage {
            Stage::LoginUser => Step::Challenge(b"Username:".to_vec()),
            Stage::Cram(c) => Step::Challenge(c.clone()),
            _ => Step::Challenge(Vec::new()),
        }
    }

    /// Feed one decoded client response.
    pub fn respond(&mut self, response: &[u8], creds: &dyn Credentials) -> Step {
        match std::mem::replace(&mut self.stage, Stage::Plain) {
            Stage::Plain => {
                // authzid NUL authcid NUL passwd
                let parts: Vec<&[u8]> = response.split(|b| *b == 0).collect();
                let [authz, user, pass] = parts.as_slice() else { return Step::Failure(None) };
                let Ok(user) = std::str::from_utf8(user) else { return Step::Failure(None) };
                if !authz.is_empty() && *authz != user.as_bytes() {
                    return Step::Failure(Some(user.to_string()));
                }
                verdict(user, creds.verify(user, pass))
            }
            Stage::LoginUser => {
                let user = String::from_utf8_lossy(response).into_owned();
                self.stage = Stage::LoginPass(user);
                Step::Challenge(b"Password:".to_vec())
            }
            Stage::LoginPass(user) => {
                let ok = creds.verify(&user, response);
                verdict(&user, ok)
            }
            Stage::Cram(challenge) => {
                let text = String::from_utf8_lossy(response);
                let Some((user, digest)) = text.rsplit_once(' ') else { return Step::Failure(None) };
                let ok = match creds.password(user) {
                    Some(p) => cram_digest(&challenge, p.as_bytes()).eq_ignore_ascii_case(digest),
                    None => creds.open(),
                };
                verdict(user, ok)
            }
            Stage::XOauth2 => {
                // "user=" user ^A "auth=Bearer " token ^A ^A
                let mut user = None;
                let mut token = None;
                for kv in response.split(|b| *b == 1) {
                    let kv = String::from_utf8_lossy(kv);
                    if let Some(u) = kv.strip_prefix("user=") {
                        user = Some(u.to_string());
                    } else if let Some(t) = kv.strip_prefix("auth=") {
                        token = t.strip_prefix("Bearer ").map(str::to_string);
                    }
                }
                match (user, token) {
                    (Some(u), Some(t)) if creds.verify_token(&u, &t) => Step::Success(u),
                    (u, _) => {
                        self.stage = Stage::XOauth2Failed(u);
                        Step::FailAfter(br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#.to_vec())
                    }
                }
            }
            Stage::XOauth2Failed(u) => Step::Failure(u),
        }
    }
}

fn verdict(user: &str, ok: bool) -> Step {
    if ok {
        Step::Success(user.to_string())
    } else {
        Step::Failure(Some(user.to_string()))
    }
}

/// The CRAM-MD5 response digest: lowercase hex HMAC-MD5 of the challenge keyed by the password.
pub fn cram_digest(challenge: &[u8], password: &[u8]) -> String {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(password).expect("HMAC takes any key length");
    mac.update(challenge);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode a client's base64 response (`=` is the empty initial response of RFC 4954/5034).
pub fn decode(s: &[u8]) -> Option<Vec<u8>> {
    if s == b"=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

pub fn encode(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> UserTable {
        UserTable([("tim".to_string(), "tanstaaftanstaaf".to_string())].into())
    }

    #[test]
    fn plain() {
        let (mut x, first) = Exchange::start("PLAIN", "1.2@h").unwrap();
        assert!(first.is_none());
        assert_eq!(x.respond(b"\0tim\0tanstaaftanstaaf", &strict()), Step::Success("tim".into()));
        let (mut x, _) = Exchange::start("PLAIN", "1.2@h").unwrap();
        assert_eq!(x.respond(b"\0tim\0wrong", &strict()), Step::Failure(Some("tim".into())));
        let (mut x, _) = Exchange::start("PLAIN", "1.2@h").unwrap();
        assert_eq!(x.respond(b"garbage", &strict()), Step::Failure(None));
        let (mut x, _) = Exchange::start("PLAIN", "1.2@h").unwrap();
        assert_eq!(x.respond(b"\0anyone\0x", &AnyUser), Step::Success("anyone".into()));
    }

    #[test]
    fn login() {
        let (mut x, first) = Exchange::start("LOGIN", "s").unwrap();
        assert_eq!(first, Some(Step::Challenge(b"Username:".to_vec())));
        assert_eq!(x.respond(b"tim", &strict()), Step::Challenge(b"Password:".to_vec()));
        assert_eq!(x.respond(b"tanstaaftanstaaf", &strict()), Step::Success("tim".into()));
    }

    #[test]
    fn cram_md5_rfc2195_example() {
        // RFC 2195 §2's example.
        let (mut x, first) = Exchange::start("CRAM-MD5", "1896.697170952@postoffice.reston.mci.net").unwrap();
        assert_eq!(first, Some(Step::Challenge(b"<1896.697170952@postoffice.reston.mci.net>".to_vec())));
        assert_eq!(x.respond(b"tim b913a602c7eda7a495b4e6e7334d3890", &strict()), Step::Success("tim".into()));
        let (mut x, _) = Exchange::start("CRAM-MD5", "1896.697170952@postoffice.reston.mci.net").unwrap();
        assert_eq!(x.respond(b"tim 00000000000000000000000000000000", &strict()), Step::Failure(Some("tim".into())));
    }

    #[test]
    fn xoauth2() {
        let (mut x, _) = Exchange::start("XOAUTH2", "s").unwrap();
        assert_eq!(x.respond(b"user=tim\x01auth=Bearer tanstaaftanstaaf\x01\x01", &strict()), Step::Success("tim".into()));
        let (mut x, _) = Exchange::start("XOAUTH2", "s").unwrap();
        assert!(matches!(x.respond(b"user=tim\x01auth=Bearer no\x01\x01", &strict()), Step::FailAfter(_)));
        assert_eq!(x.respond(b"", &strict()), Step::Failure(Some("tim".into())));
        assert!(Exchange::start("GSSAPI", "s").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(decode(b"="), Some(vec![]));
        assert_eq!(decode(b"AHRpbQB4"), Some(b"\0tim\0x".to_vec()));
        assert_eq!(decode(b"!!"), None);
        assert_eq!(encode(b"Username:"), "VXNlcm5hbWU6");
    }
}
