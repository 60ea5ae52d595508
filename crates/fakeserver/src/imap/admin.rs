//! The daemon's operations for the control API: list, create and delete mailboxes, append a
//! message, list messages, change flags, expunge one message, show and set a user's quota,
//! list and change subscriptions. Each one checks its arguments
//! and names what is missing ([`AdminError`]), changes the daemon exactly as a session's
//! command would (so the MODSEQ bump, EXISTS, FETCH FLAGS and EXPUNGE reach every session
//! through `handler::sync`), and wakes the connections (IDLE answers at once).

use super::daemon::{Account, ImapDaemon, Mailbox, Message, Quota, DELIM};
use super::parse::{canonical_flag, format_date_time};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Why an operation was refused; the control API maps these to 404, 400 and 409.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("no user {0:?}")]
    NoUser(String),
    #[error("user {user:?} has no mailbox {mailbox:?}")]
    NoMailbox { user: String, mailbox: String },
    #[error("mailbox {mailbox:?} of user {user:?} has no message with UID {uid}")]
    NoMessage {
        user: String,
        mailbox: String,
        uid: u32,
    },
    #[error("invalid mailbox name {0:?}")]
    BadName(String),
    #[error("invalid flag {0:?}")]
    BadFlag(String),
    #[error("{0}")]
    Conflict(String),
}

impl AdminError {
    /// Whether it names something that does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            AdminError::NoUser(_) | AdminError::NoMailbox { .. } | AdminError::NoMessage { .. }
        )
    }
}

/// How to change a message's flags: replace them (when `set` is given), then add, then remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagChange {
    pub set: Option<Vec<String>>,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// A mailbox name as the API takes it: canonical (INBOX in any case), no empty level, no
/// wildcard (LIST could not show it).
pub fn mailbox_name(raw: &str) -> Result<String, AdminError> {
    let name = Account::canonical(raw);
    if name.is_empty()
        || raw.ends_with(DELIM)
        || name.split(DELIM).any(str::is_empty)
        || name.chars().any(|c| c == '*' || c == '%' || c.is_control())
    {
        return Err(AdminError::BadName(raw.to_string()));
    }
    Ok(name)
}

/// Flags as IMAP stores them: system flags in canonical case, keywords as atoms;
/// `\Recent` is the server's, never stored.
pub fn stored_flags(list: &[String]) -> Result<BTreeSet<String>, AdminError> {
    list.iter()
        .map(|f| match canonical_flag(f) {
            Some(c) if c != "\\Recent" => Ok(c),
            _ => Err(AdminError::BadFlag(f.clone())),
        })
        .collect()
}

/// A message's metadata as JSON.
pub fn message_json(m: &Message) -> Value {
    json!({
        "uid": m.uid,
        "flags": m.flags,
        "size": m.data.len(),
        "internaldate": format_date_time(m.internal),
        "internaldate_epoch": m.internal.0,
        "modseq": m.modseq,
    })
}

fn mailbox_json(acct: &Account, name: &str, mb: &Mailbox) -> Value {
    let child = format!("{name}{DELIM}");
    json!({
        "name": name,
        "uidvalidity": mb.uidvalidity,
        "uidnext": mb.uidnext,
        "highestmodseq": mb.highest_modseq,
        "messages": mb.messages.len(),
        "unseen": mb.unseen(),
        "children": acct.mailboxes.keys().any(|k| k.starts_with(&child)),
        "subscribed": acct.subscribed.contains(name),
        "special_use": mb.special_use,
    })
}

impl ImapDaemon {
    /// Whether the daemon holds an account for `user` (it has logged in, or got mail).
    pub fn has_user(&self, user: &str) -> bool {
        self.lock().existing(user).is_some()
    }

    /// Make sure `user` has an account (with an empty INBOX), e.g. for a user that the
    /// strict user list names but who never logged in.
    pub fn open_account(&self, user: &str) {
        self.lock().account(user);
    }

    /// Every user's mailboxes (or one user's), in hierarchy order:
    /// `{"delimiter":"/","users":{"alice":[{"name":…,"uidvalidity":…},…]}}`.
    pub fn mailboxes(&self, only: Option<&str>) -> Result<Value, AdminError> {
        let mut l = self.lock();
        let users = match only {
            Some(u) if l.existing(u).is_none() => return Err(AdminError::NoUser(u.to_string())),
            Some(u) => vec![u.to_string()],
            None => l.users(),
        };
        let mut out = serde_json::Map::new();
        for u in users {
            let Some(acct) = l.existing(&u) else { continue };
            let list: Vec<Value> = acct
                .mailboxes
                .iter()
                .map(|(n, mb)| mailbox_json(acct, n, mb))
                .collect();
            out.insert(u, Value::Array(list));
        }
        Ok(json!({"delimiter": DELIM.to_string(), "users": out}))
    }

    /// One mailbox's summary.
    pub fn mailbox(&self, user: &str, mailbox: &str) -> Result<Value, AdminError> {
        self.with_mailbox(user, mailbox, mailbox_json)
    }

    /// CREATE from the API: the mailbox and its missing parents (real, selectable
    /// mailboxes, as the server's CREATE makes them). Returns the names created.
    pub fn create_mailbox(&self, user: &str, mailbox: &str) -> Result<Vec<String>, AdminError> {
        let name = mailbox_name(mailbox)?;
        let created = {
            let mut l = self.lock();
            if l.account(user).mailboxes.contains_key(&name) {
                return Err(AdminError::Conflict(format!(
                    "user {user:?} already has a mailbox {name:?}"
                )));
            }
            l.ensure_mailbox(user, &name)
        };
        self.changed();
        Ok(created)
    }

    /// DELETE from the API, with the server's rules: never INBOX, never a mailbox with
    /// children. Sessions that had it selected see every message expunged.
    pub fn delete_mailbox(&self, user: &str, mailbox: &str) -> Result<(), AdminError> {
        let name = mailbox_name(mailbox)?;
        {
            let mut l = self.lock();
            let acct = l
                .existing(user)
                .ok_or_else(|| AdminError::NoUser(user.to_string()))?;
            if !acct.mailboxes.contains_key(&name) {
                return Err(AdminError::NoMailbox {
                    user: user.to_string(),
                    mailbox: name,
                });
            }
            if name == "INBOX" {
                return Err(AdminError::Conflict("INBOX can't be deleted".into()));
            }
            let child = format!("{name}{DELIM}");
            if acct.mailboxes.keys().any(|k| k.starts_with(&child)) {
                return Err(AdminError::Conflict(format!(
                    "mailbox {name:?} has children; delete them first"
                )));
            }
            acct.mailboxes.remove(&name);
        }
        self.changed();
        Ok(())
    }

    /// APPEND from the API: the mailbox (and parents) are created when missing; returns
    /// (UIDVALIDITY, UID).
    pub fn append_message(
        &self,
        user: &str,
        mailbox: &str,
        data: Vec<u8>,
        flags: &[String],
        internal: (i64, i32),
    ) -> Result<(u32, u32), AdminError> {
        let name = mailbox_name(mailbox)?;
        let flags = stored_flags(flags)?;
        let got =
            {
                let mut l = self.lock();
                l.ensure_mailbox(user, &name);
                let mb = l.account(user).mailboxes.get_mut(&name).ok_or_else(|| {
                    AdminError::NoMailbox {
                        user: user.to_string(),
                        mailbox: name.clone(),
                    }
                })?;
                (mb.uidvalidity, mb.append(data, flags, internal))
            };
        self.changed();
        Ok(got)
    }

    /// A mailbox's messages in UID order.
    pub fn messages(&self, user: &str, mailbox: &str) -> Result<Value, AdminError> {
        self.with_mailbox(user, mailbox, |_, _, mb| {
            Value::Array(mb.messages.iter().map(message_json).collect())
        })
    }

    /// One message: its metadata and its bytes.
    pub fn message(
        &self,
        user: &str,
        mailbox: &str,
        uid: u32,
    ) -> Result<(Value, Arc<Vec<u8>>), AdminError> {
        self.with_mailbox(user, mailbox, |_, _, mb| {
            mb.index_of(uid)
                .map(|i| (message_json(&mb.messages[i]), mb.messages[i].data.clone()))
        })?
        .ok_or_else(|| no_message(user, mailbox, uid))
    }

    /// STORE from the API: the MODSEQ is bumped when the flags change (sessions then see a
    /// FETCH FLAGS). Returns the message's new metadata.
    pub fn change_flags(
        &self,
        user: &str,
        mailbox: &str,
        uid: u32,
        change: &FlagChange,
    ) -> Result<Value, AdminError> {
        let set = change.set.as_deref().map(stored_flags).transpose()?;
        let add = stored_flags(&change.add)?;
        let remove = stored_flags(&change.remove)?;
        let (json, changed) = self
            .with_mailbox_mut(user, mailbox, |mb| {
                let i = mb.index_of(uid)?;
                let mut flags = set.unwrap_or_else(|| mb.messages[i].flags.clone());
                flags.extend(add);
                flags.retain(|f| !remove.contains(f));
                let changed = mb.set_flags(i, flags);
                Some((message_json(&mb.messages[i]), changed))
            })?
            .ok_or_else(|| no_message(user, mailbox, uid))?;
        if changed {
            self.changed();
        }
        Ok(json)
    }

    /// EXPUNGE of one message from the API (sessions see EXPUNGE or VANISHED).
    pub fn expunge_message(&self, user: &str, mailbox: &str, uid: u32) -> Result<(), AdminError> {
        self.with_mailbox_mut(user, mailbox, |mb| {
            mb.index_of(uid)?;
            mb.expunge(&BTreeSet::from([uid]));
            Some(())
        })?
        .ok_or_else(|| no_message(user, mailbox, uid))?;
        self.changed();
        Ok(())
    }

    /// The quota root `""` of a user (RFC 9208): usage and limit of STORAGE (KiB, rounded
    /// up as GETQUOTA does) and MESSAGE; a limit is `null` when there is none.
    pub fn quota(&self, user: &str) -> Result<Value, AdminError> {
        self.with_account(user, |acct| quota_json(user, acct))
    }

    /// SETQUOTA from the API: replace the user's limits (`None`: no limit). Like SETQUOTA, it
    /// refuses nothing already stored; APPEND and COPY over a limit then get `NO [OVERQUOTA]`.
    pub fn set_quota(&self, user: &str, quota: Quota) -> Result<Value, AdminError> {
        self.with_account(user, |acct| {
            acct.quota = quota;
            quota_json(user, acct)
        })
    }

    /// A user's subscriptions, sorted (they may name mailboxes that do not exist, as
    /// SUBSCRIBE allows).
    pub fn subscriptions(&self, user: &str) -> Result<Value, AdminError> {
        self.with_account(
            user,
            |acct| json!({"user": user, "subscribed": acct.subscribed}),
        )
    }

    /// SUBSCRIBE (`on`) or UNSUBSCRIBE from the API; sessions with NOTIFY SubscriptionChange
    /// hear of it. Says whether anything changed.
    pub fn subscribe(&self, user: &str, mailbox: &str, on: bool) -> Result<Value, AdminError> {
        let name = mailbox_name(mailbox)?;
        let changed = self.with_account(user, |acct| {
            if on {
                acct.subscribed.insert(name.clone())
            } else {
                acct.subscribed.remove(&name)
            }
        })?;
        if changed {
            self.changed();
        }
        Ok(json!({"user": user, "mailbox": name, "subscribed": on, "changed": changed}))
    }

    /// Run `f` on an existing account (the lock held), or name the missing user.
    fn with_account<T>(
        &self,
        user: &str,
        f: impl FnOnce(&mut Account) -> T,
    ) -> Result<T, AdminError> {
        let mut l = self.lock();
        let acct = l
            .existing(user)
            .ok_or_else(|| AdminError::NoUser(user.to_string()))?;
        Ok(f(acct))
    }

    fn with_mailbox<T>(
        &self,
        user: &str,
        mailbox: &str,
        f: impl FnOnce(&Account, &str, &Mailbox) -> T,
    ) -> Result<T, AdminError> {
        let name = mailbox_name(mailbox)?;
        self.with_account(user, |acct| {
            let mb = acct
                .mailboxes
                .get(&name)
                .ok_or_else(|| no_mailbox(user, &name))?;
            Ok(f(acct, &name, mb))
        })?
    }

    fn with_mailbox_mut<T>(
        &self,
        user: &str,
        mailbox: &str,
        f: impl FnOnce(&mut Mailbox) -> T,
    ) -> Result<T, AdminError> {
        let name = mailbox_name(mailbox)?;
        self.with_account(user, |acct| {
            let mb = acct
                .mailboxes
                .get_mut(&name)
                .ok_or_else(|| no_mailbox(user, &name))?;
            Ok(f(mb))
        })?
    }
}

fn no_mailbox(user: &str, name: &str) -> AdminError {
    AdminError::NoMailbox {
        user: user.to_string(),
        mailbox: name.to_string(),
    }
}

fn quota_json(user: &str, acct: &Account) -> Value {
    let (octets, messages) = acct.usage();
    json!({
        "user": user,
        "root": "",
        "storage": {"usage": octets.div_ceil(1024), "limit": acct.quota.storage_kb},
        "message": {"usage": messages, "limit": acct.quota.messages},
    })
}

fn no_message(user: &str, mailbox: &str, uid: u32) -> AdminError {
    AdminError::NoMessage {
        user: user.to_string(),
        mailbox: Account::canonical(mailbox),
        uid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_creates_parents_like_create() {
        let d = ImapDaemon::new();
        d.deliver("u", "Work/Reports", b"x".to_vec(), &[], (0, 0));
        let v = d.mailboxes(Some("u")).unwrap();
        let names: Vec<&str> = v["users"]["u"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["INBOX", "Work", "Work/Reports"]);
        assert_eq!(v["users"]["u"][1]["children"], true);
        assert_eq!(v["users"]["u"][2]["messages"], 1);
    }

    #[test]
    fn quota_and_subscriptions() {
        let d = ImapDaemon::new();
        assert_eq!(d.quota("nobody"), Err(AdminError::NoUser("nobody".into())));
        d.deliver("u", "INBOX", vec![b'x'; 1500], &[], (0, 0));
        let q = d.quota("u").unwrap();
        assert_eq!(q["storage"], json!({"usage": 2, "limit": null}));
        assert_eq!(q["message"], json!({"usage": 1, "limit": null}));
        let q = d
            .set_quota(
                "u",
                Quota {
                    storage_kb: Some(10),
                    messages: None,
                },
            )
            .unwrap();
        assert_eq!(q["storage"]["limit"], 10);
        assert_eq!(d.lock().account("u").quota.storage_kb, Some(10));
        // A new account has INBOX subscribed.
        assert_eq!(
            d.subscriptions("u").unwrap()["subscribed"],
            json!(["INBOX"])
        );
        let r = d.subscribe("u", "inbox", false).unwrap();
        assert_eq!(
            (r["mailbox"].as_str(), r["changed"].as_bool()),
            (Some("INBOX"), Some(true))
        );
        assert_eq!(d.subscribe("u", "INBOX", false).unwrap()["changed"], false);
        d.subscribe("u", "Not/There", true).unwrap();
        d.subscribe("u", "A", true).unwrap();
        assert_eq!(
            d.subscriptions("u").unwrap()["subscribed"],
            json!(["A", "Not/There"])
        );
        assert_eq!(
            d.subscribe("u", "a//b", true),
            Err(AdminError::BadName("a//b".into()))
        );
        assert!(matches!(
            d.subscribe("v", "x", true),
            Err(AdminError::NoUser(_))
        ));
    }

    #[test]
    fn create_and_delete_follow_the_server_rules() {
        let d = ImapDaemon::new();
        assert_eq!(
            d.create_mailbox("u", "a/b/c").unwrap(),
            ["a", "a/b", "a/b/c"]
        );
        assert!(matches!(
            d.create_mailbox("u", "a/b"),
            Err(AdminError::Conflict(_))
        ));
        for bad in ["", "a//b", "a/", "x*", "%"] {
            assert_eq!(
                d.create_mailbox("u", bad),
                Err(AdminError::BadName(bad.into()))
            );
        }
        assert!(matches!(
            d.delete_mailbox("u", "a/b"),
            Err(AdminError::Conflict(_))
        ));
        assert!(matches!(
            d.delete_mailbox("u", "inbox"),
            Err(AdminError::Conflict(_))
        ));
        d.delete_mailbox("u", "a/b/c").unwrap();
        assert_eq!(
            d.delete_mailbox("u", "a/b/c"),
            Err(AdminError::NoMailbox {
                user: "u".into(),
                mailbox: "a/b/c".into()
            })
        );
        assert_eq!(
            d.delete_mailbox("nobody", "a"),
            Err(AdminError::NoUser("nobody".into()))
        );
        assert!(d.mailboxes(Some("nobody")).unwrap_err().is_not_found());
    }

    #[test]
    fn flags_change_bumps_modseq_only_when_they_change() {
        let d = ImapDaemon::new();
        let (_, uid) = d
            .append_message("u", "INBOX", b"m".to_vec(), &["\\seen".into()], (60, 120))
            .unwrap();
        let m = &d.messages("u", "INBOX").unwrap()[0];
        assert_eq!(m["flags"], json!(["\\Seen"]));
        assert_eq!(m["internaldate"], "01-Jan-1970 02:01:00 +0200");
        let before = m["modseq"].as_u64().unwrap();
        let add = FlagChange {
            add: vec!["\\Flagged".into(), "$Work".into()],
            remove: vec!["\\Seen".into()],
            ..FlagChange::default()
        };
        let got = d.change_flags("u", "INBOX", uid, &add).unwrap();
        assert_eq!(got["flags"], json!(["$Work", "\\Flagged"]));
        let after = got["modseq"].as_u64().unwrap();
        assert!(after > before);
        let again = d.change_flags("u", "INBOX", uid, &add).unwrap();
        assert_eq!(again["modseq"].as_u64(), Some(after));
        let set = FlagChange {
            set: Some(vec![]),
            ..FlagChange::default()
        };
        assert_eq!(
            d.change_flags("u", "INBOX", uid, &set).unwrap()["flags"],
            json!([])
        );
        for bad in ["\\Recent", "\\Bogus", "a b", ""] {
            let c = FlagChange {
                add: vec![bad.into()],
                ..FlagChange::default()
            };
            assert_eq!(
                d.change_flags("u", "INBOX", uid, &c),
                Err(AdminError::BadFlag(bad.into()))
            );
        }
        assert!(d
            .change_flags("u", "INBOX", 99, &set)
            .unwrap_err()
            .is_not_found());
        d.expunge_message("u", "INBOX", uid).unwrap();
        assert_eq!(
            d.expunge_message("u", "inbox", uid),
            Err(AdminError::NoMessage {
                user: "u".into(),
                mailbox: "INBOX".into(),
                uid
            })
        );
    }
}
