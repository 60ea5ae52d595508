//! The POP3 daemon: every user's maildrop, shared by all connections of a run and changeable
//! while the server runs (add, replace, clear, read back). A maildrop is created empty on a
//! user's first login (as GreenMail does); whether a login is allowed at all is the users
//! store's business, not the daemon's.
//!
//! RFC 1939's rules are kept here: a session *locks* the maildrop (a second session for the
//! same user gets `[IN-USE]`), works on a snapshot taken at login (messages delivered during
//! the session appear in the next one), and only a QUIT in the TRANSACTION state removes the
//! messages it marked deleted ([`Pop3Daemon::commit`]). Each message keeps a UIDL that never
//! changes and is never reused.

use crate::mailfiles;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// One message in a maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The unique-id listing (RFC 1939 §7: 1-70 characters 0x21-0x7E).
    pub uid: String,
    /// The message with CRLF line ends; its length is the size POP3 reports.
    pub data: Arc<[u8]>,
}

impl Message {
    pub fn size(&self) -> usize {
        self.data.len()
    }
}

#[derive(Debug, Default)]
struct State {
    maildrops: BTreeMap<String, Vec<Arc<Message>>>,
    locked: HashSet<String>,
    next_uid: u64,
}

/// The maildrops of a run. Cheap to share (`Arc`); every method takes `&self`.
#[derive(Debug, Default)]
pub struct Pop3Daemon {
    state: Mutex<State>,
}

/// Why a maildrop could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Another session holds it.
    InUse,
}

impl Pop3Daemon {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A handler that panicked while holding the lock must not take the daemon down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append a message to `user`'s maildrop (created if missing); returns its UIDL.
    /// Line ends are normalised to CRLF.
    pub fn add_message(&self, user: &str, data: &[u8]) -> String {
        let mut st = self.state();
        st.next_uid += 1;
        let uid = format!("{:08}", st.next_uid);
        let msg = Arc::new(Message {
            uid: uid.clone(),
            data: mailfiles::to_crlf(data).into(),
        });
        st.maildrops.entry(user.to_string()).or_default().push(msg);
        uid
    }

    /// Append a message with a given UIDL (it must be valid and unused in that maildrop).
    pub fn add_message_with_uid(&self, user: &str, uid: &str, data: &[u8]) -> Result<()> {
        if uid.is_empty() || uid.len() > 70 || !uid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            anyhow::bail!("invalid UIDL {uid:?}: 1-70 printable ASCII characters, no spaces");
        }
        let mut st = self.state();
        let drop = st.maildrops.entry(user.to_string()).or_default();
        if drop.iter().any(|m| m.uid == uid) {
            anyhow::bail!("UIDL {uid:?} is already used in {user}'s maildrop");
        }
        drop.push(Arc::new(Message {
            uid: uid.to_string(),
            data: mailfiles::to_crlf(data).into(),
        }));
        Ok(())
    }

    /// Make sure `user` has a maildrop (empty if new).
    pub fn ensure_user(&self, user: &str) {
        self.state().maildrops.entry(user.to_string()).or_default();
    }

    /// Load `dir`: one entry per user (a folder of messages, a maildir or an mbox file),
    /// appended in name order. Returns the number of messages loaded.
    pub fn load_dir(&self, dir: &Path) -> Result<usize> {
        let tree = mailfiles::load_tree(dir)
            .with_context(|| format!("loading POP3 maildrops from {}", dir.display()))?;
        let mut n = 0;
        for (user, msgs) in tree {
            self.ensure_user(&user);
            for m in msgs {
                self.add_message(&user, &m.data);
                n += 1;
            }
        }
        Ok(n)
    }

    /// The users that have a maildrop.
    pub fn users(&self) -> Vec<String> {
        self.state().maildrops.keys().cloned().collect()
    }

    /// `user`'s current messages (empty if the user has none).
    pub fn messages(&self, user: &str) -> Vec<Arc<Message>> {
        self.state()
            .maildrops
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// Remove every message of `user` (the maildrop stays).
    pub fn clear_user(&self, user: &str) {
        if let Some(d) = self.state().maildrops.get_mut(user) {
            d.clear();
        }
    }

    /// Forget every maildrop (locks held by live sessions are kept).
    pub fn reset(&self) {
        self.state().maildrops.clear();
    }

    /// Lock `user`'s maildrop for a session and take its snapshot (creating it if needed).
    pub fn lock(&self, user: &str) -> Result<Vec<Arc<Message>>, LockError> {
        let mut st = self.state();
        if !st.locked.insert(user.to_string()) {
            return Err(LockError::InUse);
        }
        Ok(st.maildrops.entry(user.to_string()).or_default().clone())
    }

    /// Whether a session holds `user`'s maildrop.
    pub fn is_locked(&self, user: &str) -> bool {
        self.state().locked.contains(user)
    }

    /// Release the lock without changing anything (RSET-logout, dropped connection).
    pub fn unlock(&self, user: &str) {
        self.state().locked.remove(user);
    }

    /// The UPDATE state: remove the messages with these UIDLs and release the lock.
    /// Returns how many were removed (messages another party removed meanwhile are skipped).
    pub fn commit(&self, user: &str, deleted: &[String]) -> usize {
        let mut st = self.state();
        st.locked.remove(user);
        let Some(drop) = st.maildrops.get_mut(user) else {
            return 0;
        };
        let before = drop.len();
        drop.retain(|m| !deleted.contains(&m.uid));
        before - drop.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidls_are_stable_and_never_reused() {
        let d = Pop3Daemon::new();
        let a = d.add_message("u", b"Subject: a\n\nA\n");
        let b = d.add_message("u", b"Subject: b\n\nB\n");
        assert_ne!(a, b);
        assert_eq!(d.messages("u")[0].data.as_ref(), b"Subject: a\r\n\r\nA\r\n");
        assert_eq!(d.messages("u")[0].size(), 17);
        d.lock("u").unwrap();
        assert_eq!(d.commit("u", std::slice::from_ref(&a)), 1);
        let c = d.add_message("u", b"x");
        assert!(c != a && c != b);
        assert_eq!(
            d.messages("u")
                .iter()
                .map(|m| m.uid.clone())
                .collect::<Vec<_>>(),
            vec![b, c]
        );
    }

    #[test]
    fn locking() {
        let d = Pop3Daemon::new();
        let snap = d.lock("new").unwrap();
        assert!(snap.is_empty());
        assert_eq!(d.lock("new"), Err(LockError::InUse));
        d.add_message("new", b"late");
        d.unlock("new");
        assert_eq!(d.lock("new").unwrap().len(), 1);
        assert!(d.is_locked("new"));
    }

    #[test]
    fn explicit_uids_are_checked() {
        let d = Pop3Daemon::new();
        d.add_message_with_uid("u", "abc", b"x").unwrap();
        assert!(d.add_message_with_uid("u", "abc", b"y").is_err());
        assert!(d.add_message_with_uid("u", "has space", b"y").is_err());
        assert!(d.add_message_with_uid("u", "", b"y").is_err());
    }

    #[test]
    fn load_names_the_missing_dir() {
        let d = Pop3Daemon::new();
        let err = d.load_dir(Path::new("/nonexistent/pop")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/pop"));
    }
}
