//! The protocol registry: one line per protocol, mapping its name to the function that builds
//! its [`Service`] from the program's common setup. The program and the control API know
//! protocols only through this table.

use crate::auth::Users;
use crate::personality::Personality;
use crate::server::Service;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// What every protocol's service is built from (the program's common options).
#[derive(Debug, Default)]
pub struct Setup {
    pub personality: Personality,
    pub users: Arc<Users>,
    /// `--load DIR`: one folder of messages per user (per newsgroup for NNTP).
    pub load: Option<PathBuf>,
}

/// Builds a protocol's service.
pub type Builder = fn(&Setup) -> Result<Arc<dyn Service>>;

/// Every protocol the program serves: (name, builder), one line each.
#[rustfmt::skip]
pub const PROTOCOLS: &[(&str, Builder)] = &[
    ("smtp", |s| smtp(s, false)),
    ("lmtp", |s| smtp(s, true)),
    ("pop3", crate::pop3::service::build),
    ("nntp", crate::nntp::service::build),
    ("imap", imap),
];

fn imap(s: &Setup) -> Result<Arc<dyn Service>> {
    let svc = crate::imap::ImapService::new(s.personality.section("imap"), s.users.clone());
    if let Some(dir) = &s.load {
        crate::imap::load(svc.daemon(), dir)?;
    }
    Ok(Arc::new(svc))
}

fn smtp(s: &Setup, lmtp: bool) -> Result<Arc<dyn Service>> {
    if let Some(dir) = &s.load {
        anyhow::bail!(
            "--load {}: SMTP and LMTP have nothing to preload",
            dir.display()
        );
    }
    let name = if lmtp { "lmtp" } else { "smtp" };
    Ok(Arc::new(crate::smtp::SmtpService::new(
        lmtp,
        s.personality.section(name),
        s.users.clone(),
    )))
}

/// The builder of a protocol by name.
pub fn find(name: &str) -> Option<Builder> {
    PROTOCOLS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The protocol names, for help and errors.
pub fn names() -> Vec<&'static str> {
    PROTOCOLS.iter().map(|(n, _)| *n).collect()
}
