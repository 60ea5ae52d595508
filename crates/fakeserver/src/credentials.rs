//! Who may log in, as the POP3 and NNTP handlers ask it: an open store (any user, any
//! password, GreenMail-like) or a strict table. The handlers depend only on the
//! [`Credentials`] trait, so the run's users file plugs in behind it.

use std::collections::HashMap;

/// Who may log in. `None` from [`Credentials::password`] with [`Credentials::open`] true means
/// "anyone, any password" (the GreenMail-like default).
pub trait Credentials: Send + Sync {
    /// True when unknown users may log in with any password.
    fn open(&self) -> bool;
    /// The clear-text password of a known user.
    fn password(&self, user: &str) -> Option<String>;
    /// Does `password` log `user` in?
    fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.password(user) {
            Some(p) => p.as_bytes() == password,
            None => self.open(),
        }
    }
    /// Is `token` a valid OAuth2 bearer token for `user`? (Open stores accept any; a strict
    /// store accepts the user's password as the token.)
    fn verify_token(&self, user: &str, token: &str) -> bool {
        self.verify(user, token.as_bytes())
    }
}

/// Anyone may log in with anything.
#[derive(Debug, Default, Clone)]
pub struct AnyUser;

impl Credentials for AnyUser {
    fn open(&self) -> bool {
        true
    }
    fn password(&self, _user: &str) -> Option<String> {
        None
    }
}

/// A fixed table of users: strict (unknown users are refused).
#[derive(Debug, Default, Clone)]
pub struct UserTable(pub HashMap<String, String>);

impl Credentials for UserTable {
    fn open(&self) -> bool {
        false
    }
    fn password(&self, user: &str) -> Option<String> {
        self.0.get(user).cloned()
    }
}

