//! POP3 as the server runs it: a [`Service`] making one [`Pop3Handler`] per connection over
//! the run's maildrops, users and personality, and showing the maildrops to the control API.

use super::{Pop3Daemon, Pop3Handler, Pop3Personality};
use crate::auth::Users;
use crate::handler::{ConnInfo, Handler};
use crate::protocols::Setup;
use crate::server::Service;
use anyhow::{Context, Result};
use std::sync::Arc;

/// The registry's builder: the `[pop3]` section of the personality, the run's users, and
/// `--load DIR` (maildrops, one entry per user).
pub fn build(s: &Setup) -> Result<Arc<dyn Service>> {
    let personality = Pop3Personality::from_section(&s.personality.section("pop3"))
        .with_context(|| format!("personality {}", s.personality.name))?;
    let daemon = Pop3Daemon::new();
    if let Some(dir) = &s.load {
        daemon.load_dir(dir)?;
    }
    Ok(Arc::new(Pop3Service::new(
        daemon,
        s.users.clone(),
        personality,
    )))
}

/// The POP3 service of a run.
pub struct Pop3Service {
    pub daemon: Arc<Pop3Daemon>,
    pub users: Arc<Users>,
    pub personality: Arc<Pop3Personality>,
}

impl Pop3Service {
    pub fn new(daemon: Arc<Pop3Daemon>, users: Arc<Users>, personality: Pop3Personality) -> Self {
        Pop3Service {
            daemon,
            users,
            personality: Arc::new(personality),
        }
    }
}

impl Service for Pop3Service {
    fn handler(&self, _conn: &ConnInfo) -> Box<dyn Handler> {
        Box::new(Pop3Handler::new(
            self.daemon.clone(),
            self.users.clone(),
            self.personality.clone(),
        ))
    }

    /// `{"maildrops": {"alice": [{"uid": "00000001", "size": 123}, ...]}}`
    fn state(&self) -> serde_json::Value {
        let mut drops = serde_json::Map::new();
        for user in self.daemon.users() {
            let msgs: Vec<serde_json::Value> = self
                .daemon
                .messages(&user)
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "uid": m.uid,
                        "size": m.size(),
                        "data": String::from_utf8_lossy(&m.data),
                    })
                })
                .collect();
            drops.insert(user, serde_json::Value::Array(msgs));
        }
        serde_json::json!({ "maildrops": drops })
    }

    fn reset(&self) {
        self.daemon.reset();
    }

    /// Append to `mailbox`'s maildrop (a user name); the id is the new UIDL.
    fn deliver(&self, mailbox: &str, message: &[u8]) -> Result<String> {
        if mailbox.is_empty() {
            anyhow::bail!("a POP3 delivery needs a user name");
        }
        Ok(self.daemon.add_message(mailbox, message))
    }
}
