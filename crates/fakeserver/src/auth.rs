//! Users, passwords and SASL, shared by every protocol handler (SMTP AUTH, POP3 USER/PASS,
//! APOP and AUTH, NNTP AUTHINFO, later IMAP LOGIN/AUTHENTICATE).
//!
//! [`Users`] is the directory: open by default (any user logs in with any password, as
//! GreenMail does), strict once loaded from a users file or given users through the API.
//! [`Sasl`] is a pure SASL exchange (PLAIN with or without an initial response, LOGIN,
//! CRAM-MD5, XOAUTH2): it decodes client responses into [`Credentials`] and never touches a
//! socket; [`Users::verify`] decides.

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;

/// The user directory of a run.
#[derive(Debug, Default)]
pub struct Users {
    inner: RwLock<UsersInner>,
}

#[derive(Debug, Default, Clone)]
struct UsersInner {
    strict: bool,
    passwords: BTreeMap<String, String>,
}

impl Users {
    /// Any user, any password.
    pub fn open() -> Self {
        Self::default()
    }

    /// Strict: only these users with these passwords.
    pub fn strict<I, U, P>(users: I) -> Self
    where
        I: IntoIterator<Item = (U, P)>,
        U: Into<String>,
        P: Into<String>,
    {
        let passwords = users
            .into_iter()
            .map(|(u, p)| (u.into(), p.into()))
            .collect();
        Users {
            inner: RwLock::new(UsersInner {
                strict: true,
                passwords,
            }),
        }
    }

    /// Parse a users file: one `user:password` (or `user password`) per line; blank lines and
    /// lines starting with `#` are ignored. The directory is strict.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut users = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, pass) = line
                .split_once(':')
                .or_else(|| line.split_once(char::is_whitespace))
                .with_context(|| {
                    format!("{origin}:{}: expected `user:password`, got {line:?}", n + 1)
                })?;
            if user.is_empty() {
                anyhow::bail!("{origin}:{}: empty user name", n + 1);
            }
            users.push((user.trim().to_string(), pass.trim_start().to_string()));
        }
        Ok(Self::strict(users))
    }

    /// Load a users file (see [`Users::parse`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading users file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, UsersInner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, UsersInner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// True when only known users may log in.
    pub fn is_strict(&self) -> bool {
        self.read().strict
    }

    /// Add or change a user; the directory becomes strict.
    pub fn set(&self, user: &str, password: &str) {
        let mut w = self.write();
        w.strict = true;
        w.passwords.insert(user.to_string(), password.to_string());
    }

    /// Remove a user.
    pub fn remove(&self, user: &str) -> bool {
        self.write().passwords.remove(user).is_some()
    }

    /// Back to "any user, any password", or to strict with no users.
    pub fn clear(&self, strict: bool) {
        let mut w = self.write();
        w.strict = strict;
        w.passwords.clear();
    }

    /// The known users (name, password), sorted.
    pub fn list(&self) -> Vec<(String, String)> {
        self.read()
            .passwords
            .iter()
            .map(|(u, p)| (u.clone(), p.clone()))
            .collect()
    }

    /// The stored password of a user (CRAM-MD5, APOP need it).
    pub fn password(&self, user: &str) -> Option<String> {
        self.read().passwords.get(user).cloned()
    }

    /// Does this user/password pair log in?
    pub fn check(&self, user: &str, password: &str) -> bool {
        let r = self.read();
        if !r.strict {
            return !user.is_empty();
        }
        r.passwords.get(user).is_some_and(|p| p == password)
    }

    /// APOP (RFC 1939): `digest` is hex MD5 of `timestamp` followed by the password.
    pub fn check_apop(&self, user: &str, timestamp: &str, digest: &str) -> bool {
        let r = self.read();
        if !r.strict {
            return !user.is_empty();
        }
        let Some(pass) = r.passwords.get(user) else {
            return false;
        };
        let mut h = Md5::new();
        h.update(timestamp.as_bytes());
        h.update(pass.as_bytes());
        hex(&h.finalize()).eq_ignore_ascii_case(digest)
    }

    /// Verify decoded SASL credentials; `challenge` is the CRAM-MD5 challenge sent.
    /// Returns the authenticated user name.
    pub fn verify(&self, creds: &Credentials) -> Option<String> {
        match creds {
            Credentials::Password { user, password, .. } => {
                self.check(user, password).then(|| user.clone())
            }
            Credentials::CramMd5 {
                user,
                digest,
                challenge,
            } => {
                let r = self.read();
                if !r.strict {
                    return (!user.is_empty()).then(|| user.clone());
                }
                let pass = r.passwords.get(user)?;
                (cram_md5_digest(pass, challenge).eq_ignore_ascii_case(digest))
                    .then(|| user.clone())
            }
            Credentials::OAuth2 { user, token } => {
                // The token stands for the password: in strict mode it must equal it.
                self.check(user, token).then(|| user.clone())
            }
        }
    }
}

/// Hex MD5-HMAC of `challenge` keyed by `password` (RFC 2195).
pub fn cram_md5_digest(password: &str, challenge: &str) -> String {
    // An HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Md5>::new_from_slice(password.as_bytes()) else {
        return String::new();
    };
    mac.update(challenge.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SASL mechanism fakeserver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "LOGIN")]
    Login,
    #[serde(rename = "CRAM-MD5")]
    CramMd5,
    #[serde(rename = "XOAUTH2")]
    XOAuth2,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ];

    /// Parse a mechanism name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            "CRAM-MD5" => Some(Mechanism::CramMd5),
            "XOAUTH2" => Some(Mechanism::XOAuth2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }
}

/// What a finished SASL exchange decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// PLAIN or LOGIN.
    Password {
        authzid: String,
        user: String,
        password: String,
    },
    CramMd5 {
        user: String,
        digest: String,
        challenge: String,
    },
    OAuth2 {
        user: String,
        token: String,
    },
}

impl Credentials {
    pub fn user(&self) -> &str {
        match self {
            Credentials::Password { user, .. }
            | Credentials::CramMd5 { user, .. }
            | Credentials::OAuth2 { user, .. } => user,
        }
    }
}

/// The next thing the protocol must do in a SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (already base64; may be empty) and read one response line.
    Challenge(String),
    /// The exchange is complete.
    Done(Credentials),
    /// The client sent `*`.
    Aborted,
    /// The response was not valid for the mechanism (bad base64, missing fields).
    Malformed(String),
}

/// One SASL exchange in progress. Pure: the handler feeds it response lines.
#[derive(Debug, Clone)]
pub struct Sasl {
    mech: Mechanism,
    state: SaslState,
}

#[derive(Debug, Clone)]
enum SaslState {
    Start,
    LoginUser,
    LoginPass(String),
    Cram(String),
    XOAuthError,
    Finished,
}

impl Sasl {
    /// Begin an exchange. `initial` is the initial response given on the command line (`=`
    /// means an empty one); `cram_challenge` is the challenge text CRAM-MD5 sends (the caller
    /// picks it, e.g. `<seq.seed@host>`, so runs are reproducible).
    pub fn start(mech: Mechanism, initial: Option<&str>, cram_challenge: &str) -> (Self, Step) {
        let mut s = Sasl {
            mech,
            state: SaslState::Start,
        };
        let step = match (mech, initial) {
            (Mechanism::Plain, None) => Step::Challenge(String::new()),
            (Mechanism::Plain, Some(r)) | (Mechanism::XOAuth2, Some(r)) => s.respond(r),
            (Mechanism::XOAuth2, None) => Step::Challenge(String::new()),
            (Mechanism::Login, None) => {
                s.state = SaslState::LoginUser;
                Step::Challenge(B64.encode("Username:"))
            }
            (Mechanism::Login, Some(r)) => {
                s.state = SaslState::LoginUser;
                s.respond(r)
            }
            (Mechanism::CramMd5, _) => {
                s.state = SaslState::Cram(cram_challenge.to_string());
                Step::Challenge(B64.encode(cram_challenge))
            }
        };
        (s, step)
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mech
    }

    /// Feed one client response line (base64, or `*` to abort).
    pub fn respond(&mut self, line: &str) -> Step {
        let line = line.trim_end_matches(['\r', '\n']);
        if line == "*" {
            self.state = SaslState::Finished;
            return Step::Aborted;
        }
        let decoded = if line == "=" || line.is_empty() {
            Vec::new()
        } else {
            match B64.decode(line.trim()) {
                Ok(d) => d,
                Err(e) => {
                    self.state = SaslState::Finished;
                    return Step::Malformed(format!("invalid base64: {e}"));
                }
            }
        };
        let text = String::from_utf8_lossy(&decoded).into_owned();
        let state = std::mem::replace(&mut self.state, SaslState::Finished);
        match (self.mech, state) {
            (Mechanism::Plain, _) => decode_plain(&decoded),
            (Mechanism::Login, SaslState::LoginUser) => {
                self.state = SaslState::LoginPass(text);
                Step::Challenge(B64.encode("Password:"))
            }
            (Mechanism::Login, SaslState::LoginPass(user)) => Step::Done(Credentials::Password {
                authzid: String::new(),
                user,
                password: text,
            }),
            (Mechanism::CramMd5, SaslState::Cram(challenge)) => match text.rsplit_once(' ') {
                Some((user, digest)) => Step::Done(Credentials::CramMd5 {
                    user: user.to_string(),
                    digest: digest.to_string(),
                    challenge,
                }),
                None => Step::Malformed("CRAM-MD5 response is not `user digest`".into()),
            },
            (Mechanism::XOAuth2, SaslState::XOAuthError) => {
                Step::Malformed("XOAUTH2 failed".into())
            }
            (Mechanism::XOAuth2, _) => match decode_xoauth2(&text) {
                Some(c) => Step::Done(c),
                None => Step::Malformed("XOAUTH2 response lacks user= or auth=Bearer".into()),
            },
            _ => Step::Malformed("unexpected response".into()),
        }
    }

    /// XOAUTH2 failure: the server sends an error challenge and expects an empty response.
    /// Call after [`Users::verify`] refused XOAUTH2 credentials; returns the challenge.
    pub fn xoauth2_error_challenge(&mut self) -> String {
        self.state = SaslState::XOAuthError;
        B64.encode(r#"{"status":"401","schemes":"bearer","scope":"https://mail.example/"}"#)
    }
}

fn decode_plain(decoded: &[u8]) -> Step {
    let mut parts = decoded.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Step::Malformed("PLAIN response is not authzid NUL user NUL password".into());
    };
    Step::Done(Credentials::Password {
        authzid: String::from_utf8_lossy(authzid).into_owned(),
        user: String::from_utf8_lossy(user).into_owned(),
        password: String::from_utf8_lossy(pass).into_owned(),
    })
}

/// `user=<u>\x01auth=Bearer <token>\x01\x01`
fn decode_xoauth2(text: &str) -> Option<Credentials> {
    let mut user = None;
    let mut token = None;
    for field in text.split('\x01') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_string());
        } else if let Some(a) = field.strip_prefix("auth=") {
            let (scheme, t) = a.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("bearer") {
                token = Some(t.to_string());
            }
        }
    }
    Some(Credentials::OAuth2 {
        user: user?,
        token: token?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_directory_takes_anyone() {
        let u = Users::open();
        assert!(u.check("alice", "whatever"));
        assert!(!u.check("", "x"));
    }

    #[test]
    fn users_file_is_strict_and_reports_lines() {
        let u = Users::parse("# c\nalice:secret\nbob pass word\n", "users").unwrap();
        assert!(u.check("alice", "secret"));
        assert!(!u.check("alice", "wrong"));
        assert!(u.check("bob", "pass word"));
        assert!(!u.check("carol", "x"));
        let e = Users::parse("alice:x\njunk\n", "f.txt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.txt:2"), "{e}");
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let ir = B64.encode("\0alice\0secret");
        let (_, step) = Sasl::start(Mechanism::Plain, Some(&ir), "");
        let want = Credentials::Password {
            authzid: "".into(),
            user: "alice".into(),
            password: "secret".into(),
        };
        assert_eq!(step, Step::Done(want.clone()));
        let (mut s, step) = Sasl::start(Mechanism::Plain, None, "");
        assert_eq!(step, Step::Challenge(String::new()));
        assert_eq!(s.respond(&ir), Step::Done(want));
        let (mut s, _) = Sasl::start(Mechanism::Plain, None, "");
        assert!(matches!(s.respond("!!!"), Step::Malformed(_)));
        let (mut s, _) = Sasl::start(Mechanism::Plain, None, "");
        assert!(matches!(
            s.respond(&B64.encode("nonul")),
            Step::Malformed(_)
        ));
        let (mut s, _) = Sasl::start(Mechanism::Plain, None, "");
        assert_eq!(s.respond("*"), Step::Aborted);
    }

    #[test]
    fn login_two_steps() {
        let (mut s, step) = Sasl::start(Mechanism::Login, None, "");
        assert_eq!(step, Step::Challenge(B64.encode("Username:")));
        assert_eq!(
            s.respond(&B64.encode("bob")),
            Step::Challenge(B64.encode("Password:"))
        );
        assert_eq!(
            s.respond(&B64.encode("pw")),
            Step::Done(Credentials::Password {
                authzid: "".into(),
                user: "bob".into(),
                password: "pw".into()
            })
        );
    }

    #[test]
    fn cram_md5_rfc2195_example() {
        // The example of RFC 2195 section 2.
        let challenge = "<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            cram_md5_digest("tanstaaftanstaaf", challenge),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        let users = Users::strict([("tim", "tanstaaftanstaaf")]);
        let (mut s, step) = Sasl::start(Mechanism::CramMd5, None, challenge);
        assert_eq!(step, Step::Challenge(B64.encode(challenge)));
        let Step::Done(c) = s.respond(&B64.encode("tim b913a602c7eda7a495b4e6e7334d3890")) else {
            panic!()
        };
        assert_eq!(users.verify(&c).as_deref(), Some("tim"));
        let (mut s, _) = Sasl::start(Mechanism::CramMd5, None, challenge);
        let Step::Done(c) = s.respond(&B64.encode("tim 00")) else {
            panic!()
        };
        assert_eq!(users.verify(&c), None);
    }

    #[test]
    fn xoauth2_decodes_user_and_token() {
        let ir = B64.encode("user=someone@example.com\x01auth=Bearer tok123\x01\x01");
        let (_, step) = Sasl::start(Mechanism::XOAuth2, Some(&ir), "");
        assert_eq!(
            step,
            Step::Done(Credentials::OAuth2 {
                user: "someone@example.com".into(),
                token: "tok123".into()
            })
        );
        let (_, step) = Sasl::start(Mechanism::XOAuth2, Some(&B64.encode("user=x\x01\x01")), "");
        assert!(matches!(step, Step::Malformed(_)));
    }

    #[test]
    fn apop_digest() {
        // RFC 1939's APOP example.
        let u = Users::strict([("mrose", "tanstaaf")]);
        assert!(u.check_apop(
            "mrose",
            "<1896.697170952@dbc.mtview.ca.us>",
            "c4c9334bac560ecc979e58001b3e22fb"
        ));
        assert!(!u.check_apop("mrose", "<1896.697170952@dbc.mtview.ca.us>", "00"));
    }
}
