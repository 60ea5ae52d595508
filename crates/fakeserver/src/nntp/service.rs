//! NNTP as the server runs it: a [`Service`] making one [`NntpHandler`] per connection over
//! the run's newsgroups, users and personality, and showing the groups to the control API.

use super::{NntpDaemon, NntpHandler, NntpPersonality};
use crate::auth::Users;
use crate::handler::{ConnInfo, Handler};
use crate::protocols::Setup;
use crate::server::Service;
use anyhow::{Context, Result};
use std::sync::Arc;

/// The registry's builder: the `[nntp]` section of the personality, the run's users, and
/// `--load DIR` (newsgroups, one entry per newsgroup).
pub fn build(s: &Setup) -> Result<Arc<dyn Service>> {
    let personality = NntpPersonality::from_section(&s.personality.section("nntp"))
        .with_context(|| format!("personality {}", s.personality.name))?;
    let daemon = NntpDaemon::new();
    if let Some(dir) = &s.load {
        daemon.load_dir(dir)?;
    }
    Ok(Arc::new(NntpService::new(
        daemon,
        s.users.clone(),
        personality,
    )))
}

/// The NNTP service of a run.
pub struct NntpService {
    pub daemon: Arc<NntpDaemon>,
    pub users: Arc<Users>,
    pub personality: Arc<NntpPersonality>,
}

impl NntpService {
    pub fn new(daemon: Arc<NntpDaemon>, users: Arc<Users>, personality: NntpPersonality) -> Self {
        NntpService {
            daemon,
            users,
            personality: Arc::new(personality),
        }
    }
}

impl Service for NntpService {
    fn handler(&self, _conn: &ConnInfo) -> Box<dyn Handler> {
        Box::new(NntpHandler::new(
            self.daemon.clone(),
            self.users.clone(),
            self.personality.clone(),
        ))
    }

    /// `{"groups": {"misc.test": {"status": "y", "low": 1, "high": 2, "articles":
    /// {"1": "<id>", ...}}}}`
    fn state(&self) -> serde_json::Value {
        let mut groups = serde_json::Map::new();
        for g in self.daemon.groups() {
            let (count, low, high) = g.stats();
            let arts: serde_json::Map<String, serde_json::Value> = g
                .articles
                .iter()
                .map(|(n, a)| (n.to_string(), a.message_id.clone().into()))
                .collect();
            groups.insert(
                g.name.clone(),
                serde_json::json!({
                    "status": g.status.flag().to_string(),
                    "description": g.description,
                    "count": count, "low": low, "high": high,
                    "articles": arts,
                }),
            );
        }
        serde_json::json!({ "groups": groups })
    }

    fn reset(&self) {
        self.daemon.reset();
    }

    /// File an article in the newsgroup `mailbox` (created postable if missing; a Message-ID
    /// is added when the article has none); the id is its Message-ID.
    fn deliver(&self, mailbox: &str, message: &[u8]) -> Result<String> {
        self.daemon.file_in(mailbox, message).map(|(id, _)| id)
    }
}
