//! Seeded, deterministic fault schedules, applied by the server between the handler and the
//! socket, for every protocol alike.
//!
//! A [`FaultPlan`] is data (TOML or JSON; CLI `--faults FILE`, control API `/api/faults`):
//!
//! ```toml
//! seed = 7
//! [[fault]]
//! on = "reply"            # reply | connect | data | tls
//! verb = "RCPT"           # reply: the command the reply answers (omit: any)
//! nth = 2                 # the Nth match (1-based); omit: every match
//! scope = "connection"    # count matches per connection (default) or "global"
//! connection = 1          # only on this connection number (omit: all)
//! probability = 0.5       # seeded: the same seed gives the same choices
//! action = "reply"        # reply | drop | delay | garbage
//! reply = "451 4.3.0 Try again later"
//! ```
//!
//! The reply to a data block counts under the command that started it: for SMTP the 354
//! and the final reply to DATA are the first and second `DATA` replies (so `nth = 2` is the
//! final one), and the reply to each BDAT chunk is a `BDAT` reply.
//!
//! `on = "data"` with `after_bytes = N` drops the connection once N bytes of a data block
//! (DATA, BDAT, POST, literal) have arrived; `on = "tls"` closes during the TLS handshake;
//! `on = "connect"` acts on the greeting. [`FaultEngine`] decides (pure apart from its
//! counters); the server only performs the [`Action`]s.

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// When a rule is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// A reply to a command (matched by `verb`).
    #[default]
    Reply,
    /// The greeting.
    Connect,
    /// Bytes of a data block arriving (`after_bytes`).
    Data,
    /// A TLS handshake (implicit or STARTTLS).
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Connection,
    Global,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Send `reply` instead of the handler's reply.
    #[default]
    Reply,
    /// Close the connection instead of replying.
    Drop,
    /// Wait `delay_ms` before sending the reply.
    Delay,
    /// Send `garbage_bytes` seeded random bytes before the reply.
    Garbage,
}

/// One rule of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub on: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default)]
    pub action: ActionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garbage_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_bytes: Option<u64>,
}

/// A schedule of faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default, rename = "fault")]
    pub rules: Vec<Rule>,
}

impl FaultPlan {
    /// Parse TOML or JSON (JSON when the text starts with `{`); `origin` names the source.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let plan: FaultPlan = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).with_context(|| format!("{origin}: invalid fault plan"))?
        } else {
            toml::from_str(text).with_context(|| format!("{origin}: invalid fault plan"))?
        };
        plan.validate()
            .with_context(|| format!("{origin}: invalid fault plan"))?;
        Ok(plan)
    }

    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading fault plan {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn validate(&self) -> Result<()> {
        for (i, r) in self.rules.iter().enumerate() {
            let n = i + 1;
            if r.on == Trigger::Data && r.after_bytes.is_none() {
                anyhow::bail!("fault {n}: on = \"data\" needs after_bytes");
            }
            if r.action == ActionKind::Reply
                && r.reply.is_none()
                && matches!(r.on, Trigger::Reply | Trigger::Connect)
            {
                anyhow::bail!("fault {n}: action = \"reply\" needs reply");
            }
            if r.action == ActionKind::Delay && r.delay_ms.is_none() {
                anyhow::bail!("fault {n}: action = \"delay\" needs delay_ms");
            }
            if let Some(p) = r.probability {
                if !(0.0..=1.0).contains(&p) {
                    anyhow::bail!("fault {n}: probability must be within 0..1");
                }
            }
            if r.nth == Some(0) {
                anyhow::bail!("fault {n}: nth counts from 1");
            }
        }
        Ok(())
    }
}

/// What the server must do to one reply (or at one point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Replace(String),
    Drop,
    Delay(std::time::Duration),
    Garbage(Vec<u8>),
}

/// Per-connection counters ([`Scope::Connection`]).
#[derive(Debug, Clone, Default)]
pub struct ConnFaults {
    pub conn: u64,
    counts: Vec<u64>,
}

/// A plan with its global counters. Shared by every connection of a server.
#[derive(Debug, Default)]
pub struct FaultEngine {
    state: Mutex<(FaultPlan, Vec<u64>)>,
    /// No rules: every question is answered without taking the lock.
    empty: std::sync::atomic::AtomicBool,
}

impl FaultEngine {
    pub fn new(plan: FaultPlan) -> Self {
        let n = plan.rules.len();
        FaultEngine {
            empty: std::sync::atomic::AtomicBool::new(n == 0),
            state: Mutex::new((plan, vec![0; n])),
        }
    }

    /// Replace the plan (and restart every counter of the new plan).
    pub fn set(&self, plan: FaultPlan) {
        let n = plan.rules.len();
        let mut st = self.lock();
        *st = (plan, vec![0; n]);
        self.empty
            .store(n == 0, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn plan(&self) -> FaultPlan {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultPlan, Vec<u64>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.empty.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counters for a new connection.
    pub fn connection(&self, conn: u64) -> ConnFaults {
        ConnFaults {
            conn,
            counts: Vec::new(),
        }
    }

    /// The actions for a reply to `verb` (None: the greeting, for [`Trigger::Connect`]).
    pub fn on_reply(
        &self,
        cf: &mut ConnFaults,
        trigger: Trigger,
        verb: Option<&str>,
    ) -> Vec<Action> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut st = self.lock();
        let (plan, global) = &mut *st;
        if plan.rules.is_empty() {
            return Vec::new();
        }
        if cf.counts.len() < plan.rules.len() {
            cf.counts.resize(plan.rules.len(), 0);
        }
        let mut out = Vec::new();
        for (i, r) in plan.rules.iter().enumerate() {
            if r.on != trigger || r.connection.is_some_and(|c| c != cf.conn) {
                continue;
            }
            if trigger == Trigger::Reply {
                match (&r.verb, verb) {
                    (Some(want), Some(v)) if !want.eq_ignore_ascii_case(v) => continue,
                    (Some(_), None) => continue,
                    _ => {}
                }
            }
            let counter = match r.scope {
                Scope::Connection => &mut cf.counts[i],
                Scope::Global => &mut global[i],
            };
            *counter += 1;
            let count = *counter;
            if r.nth.is_some_and(|n| n != count) {
                continue;
            }
            let mut rng = rng_for(plan.seed, i, cf.conn, count);
            if let Some(p) = r.probability {
                if rng.gen::<f64>() >= p {
                    continue;
                }
            }
            out.push(match r.action {
                ActionKind::Reply => Action::Replace(r.reply.clone().unwrap_or_default()),
                ActionKind::Drop => Action::Drop,
                ActionKind::Delay => {
                    Action::Delay(std::time::Duration::from_millis(r.delay_ms.unwrap_or(0)))
                }
                ActionKind::Garbage => {
                    let n = r.garbage_bytes.unwrap_or(32);
                    Action::Garbage((0..n).map(|_| rng.gen::<u8>()).collect())
                }
            });
        }
        out
    }

    /// Should a TLS handshake on this connection be cut?
    pub fn cut_tls(&self, cf: &mut ConnFaults) -> bool {
        self.on_reply(cf, Trigger::Tls, None)
            .iter()
            .any(|a| matches!(a, Action::Drop))
    }

    /// The data-byte limit for this connection: drop once a block has this many bytes.
    pub fn data_limit(&self, cf: &ConnFaults) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let st = self.lock();
        st.0.rules
            .iter()
            .filter(|r| r.on == Trigger::Data && r.connection.is_none_or(|c| c == cf.conn))
            .filter_map(|r| r.after_bytes)
            .min()
    }
}

fn rng_for(seed: u64, rule: usize, conn: u64, count: u64) -> rand_chacha::ChaCha8Rng {
    // A stable mix: the same (seed, rule, connection, count) always gives the same stream.
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    for v in [rule as u64, conn, count] {
        x = (x ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 31;
    }
    rand_chacha::ChaCha8Rng::seed_from_u64(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(t: &str) -> FaultPlan {
        FaultPlan::parse(t, "test.toml").unwrap()
    }

    #[test]
    fn nth_rcpt_per_connection() {
        let e = FaultEngine::new(plan(
            "[[fault]]\nverb = \"RCPT\"\nnth = 2\nreply = \"451 4.3.0 later\"\n",
        ));
        let mut c = e.connection(1);
        assert!(e.on_reply(&mut c, Trigger::Reply, Some("RCPT")).is_empty());
        assert!(e.on_reply(&mut c, Trigger::Reply, Some("MAIL")).is_empty());
        assert_eq!(
            e.on_reply(&mut c, Trigger::Reply, Some("rcpt")),
            vec![Action::Replace("451 4.3.0 later".into())]
        );
        assert!(e.on_reply(&mut c, Trigger::Reply, Some("RCPT")).is_empty());
        let mut c2 = e.connection(2);
        e.on_reply(&mut c2, Trigger::Reply, Some("RCPT"));
        assert_eq!(e.on_reply(&mut c2, Trigger::Reply, Some("RCPT")).len(), 1);
    }

    #[test]
    fn global_scope_counts_across_connections() {
        let e = FaultEngine::new(plan(
            "[[fault]]\nscope = \"global\"\nnth = 3\naction = \"drop\"\n",
        ));
        let (mut a, mut b) = (e.connection(1), e.connection(2));
        assert!(e.on_reply(&mut a, Trigger::Reply, Some("X")).is_empty());
        assert!(e.on_reply(&mut b, Trigger::Reply, Some("Y")).is_empty());
        assert_eq!(
            e.on_reply(&mut a, Trigger::Reply, Some("Z")),
            vec![Action::Drop]
        );
    }

    #[test]
    fn probability_is_reproducible_by_seed() {
        let t =
            "seed = 42\n[[fault]]\nprobability = 0.5\naction = \"garbage\"\ngarbage_bytes = 4\n";
        let run = || {
            let e = FaultEngine::new(plan(t));
            let mut c = e.connection(1);
            (0..50)
                .map(|_| e.on_reply(&mut c, Trigger::Reply, Some("NOOP")))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|v| !v.is_empty()).count();
        assert!(hits > 10 && hits < 40, "{hits}");
    }

    #[test]
    fn bad_plans_name_the_file_and_rule() {
        let e = FaultPlan::parse("[[fault]]\non = \"data\"\n", "f.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("f.toml") && format!("{e:#}").contains("fault 1"),
            "{e:#}"
        );
        assert!(FaultPlan::parse("[[fault]]\nbogus = 1\n", "f.toml").is_err());
        let j = FaultPlan::parse(
            r#"{"seed":1,"fault":[{"on":"tls","action":"drop"}]}"#,
            "api",
        )
        .unwrap();
        assert_eq!(j.rules[0].on, Trigger::Tls);
    }

    #[test]
    fn data_limit_and_tls_cut() {
        let e = FaultEngine::new(plan(
            "[[fault]]\non = \"data\"\nafter_bytes = 100\naction = \"drop\"\n[[fault]]\non = \"tls\"\naction = \"drop\"\nconnection = 2\n",
        ));
        let mut c1 = e.connection(1);
        assert_eq!(e.data_limit(&c1), Some(100));
        assert!(!e.cut_tls(&mut c1));
        assert!(e.cut_tls(&mut e.connection(2)));
    }
}
