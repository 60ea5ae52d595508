//! The states of stress mode: their order, short names and default probabilities, and the
//! [`Plan`] a command line makes of them (`-`, `<state>=p[,again]`, `checkpoint`). Pure.
use crate::args::{Config, STATES};
use anyhow::Result;

/// Index of a state in [`STATES`] (the order they run in).
pub type StateId = usize;

/// Looks a state up by its long name (at compile time in [`ids`]).
pub const fn id(name: &str) -> StateId {
    let mut i = 0;
    while i < STATES.len() {
        let (l, n) = (STATES[i].0.as_bytes(), name.as_bytes());
        if l.len() == n.len() {
            let mut j = 0;
            while j < l.len() && l[j] == n[j] {
                j += 1;
            }
            if j == l.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such state")
}

/// The states the sessions name, as constants (no look-up per command).
pub mod ids {
    use super::{id, StateId};
    pub const AUTHENTICATE: StateId = id("AUTHENTICATE");
    pub const LOGIN: StateId = id("LOGIN");
    pub const COMPRESS: StateId = id("COMPRESS");
    pub const SELECT: StateId = id("SELECT");
    pub const UIDFETCH: StateId = id("UIDFETCH");
    pub const SEARCH: StateId = id("SEARCH");
    pub const APPEND: StateId = id("APPEND");
    pub const NOOP: StateId = id("NOOP");
    pub const EXPUNGE: StateId = id("EXPUNGE");
    pub const CHECK: StateId = id("CHECK");
    pub const IDLE: StateId = id("IDLE");
    pub const LOGOUT: StateId = id("LOGOUT");
    pub const DISCONNECT: StateId = id("DISCONNECT");
    pub const DELAY: StateId = id("DELAY");
    pub const MOVE: StateId = id("MOVE");
    pub const CHECKPOINT: StateId = id("CHECKPOINT!");
    pub const LMTP: StateId = id("LMTP");
}

/// Default (probability, again) of every state, in [`STATES`] order.
fn default_of(name: &str) -> (u32, u32) {
    match name {
        "LOGIN" | "SELECT" | "FETCH" | "DELETE" | "EXPUNGE" | "LOGOUT" => (100, 0),
        "LIST" | "STATUS" | "STORE" => (50, 0),
        "FETCH2" => (100, 30),
        "COPY" => (33, 5),
        "APPEND" => (100, 5),
        _ => (0, 0),
    }
}

/// States that `-` leaves alone.
const KEPT_BY_DASH: &[&str] = &["LOGIN", "SELECT", "LOGOUT"];

/// Probabilities of every state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// (probability %, again %) per state, in [`STATES`] order.
    pub p: Vec<(u32, u32)>,
}

impl Plan {
    /// The plan of a command line.
    pub fn from_config(cfg: &Config) -> Result<Plan> {
        let mut p: Vec<(u32, u32)> = STATES.iter().map(|(l, _)| default_of(l)).collect();
        if cfg.clear_states {
            for (i, (l, _)) in STATES.iter().enumerate() {
                if !KEPT_BY_DASH.contains(l) {
                    p[i].0 = 0;
                }
            }
        }
        for (name, prob, again) in &cfg.states {
            let i = id(name);
            p[i].0 = *prob;
            if let Some(a) = again {
                p[i].1 = *a;
            }
        }
        // LMTP is a column when mail is delivered (profile mode, lmtp_port=)
        p[id("LMTP")] = if cfg.lmtp_port.is_some() || cfg.profile.is_some() {
            (100, 0)
        } else {
            (0, 0)
        };
        let chk = id("CHECKPOINT!");
        p[chk].0 = if cfg.checkpoint.is_some() { 100 } else { 0 };
        if cfg.copybox.is_none() {
            p[id("COPY")].0 = 0;
            p[id("MOVE")].0 = 0;
        }
        // If LOGIN is below 100, AUTHENTICATE gets the rest.
        let login = p[id("LOGIN")].0;
        if login < 100 {
            p[id("AUTHENTICATE")].0 = 100 - login;
        } else {
            p[id("AUTHENTICATE")].0 = p[id("AUTHENTICATE")].0.min(100);
            if p[id("AUTHENTICATE")].0 == 100 {
                p[id("LOGIN")].0 = 0;
            }
        }
        Ok(Plan { p })
    }

    /// Whether a state is on (probability above 0).
    pub fn on(&self, s: StateId) -> bool {
        self.p[s].0 > 0
    }

    /// The states shown as columns: those with a non-zero probability.
    pub fn columns(&self) -> Vec<StateId> {
        (0..STATES.len()).filter(|&s| self.on(s)).collect()
    }

    /// Whether any shown state has an "again" probability.
    pub fn has_again(&self) -> bool {
        self.columns().iter().any(|&s| self.p[s].1 > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn plan(a: &[&str]) -> Plan {
        Plan::from_config(&parse(a.iter().map(|s| s.to_string())).unwrap()).unwrap()
    }

    fn names(p: &Plan) -> Vec<&'static str> {
        p.columns().into_iter().map(|s| STATES[s].1).collect()
    }

    #[test]
    fn defaults_without_copybox() {
        let p = plan(&[]);
        assert_eq!(
            names(&p),
            [
                "Logi", "List", "Stat", "Sele", "Fetc", "Fet2", "Stor", "Dele", "Expu", "Appe",
                "Logo"
            ]
        );
        assert_eq!(p.p[id("FETCH2")], (100, 30));
        assert!(p.has_again());
        assert_eq!(plan(&["copybox=Trash"]).p[id("COPY")], (33, 5));
    }

    #[test]
    fn dash_and_overrides() {
        let p = plan(&["-", "append=100,0", "logout=0"]);
        assert_eq!(names(&p), ["Logi", "Sele", "Appe"]);
        assert!(!p.has_again());
        let p = plan(&["-", "select=0"]);
        assert_eq!(names(&p), ["Logi", "Logo"]);
        let p = plan(&["login=30"]);
        assert_eq!(p.p[id("AUTHENTICATE")].0, 70);
        let p = plan(&["auth=100"]);
        assert_eq!((p.p[id("AUTHENTICATE")].0, p.p[id("LOGIN")].0), (100, 0));
        assert_eq!(plan(&["checkpoint=1"]).p[id("CHECKPOINT!")].0, 100);
    }

    #[test]
    fn compress_is_a_column_when_asked_for() {
        let p = plan(&["compress=100"]);
        assert_eq!(p.p[id("COMPRESS")], (100, 0));
        assert_eq!(names(&p)[..2], ["Logi", "Comp"]);
        assert!(!plan(&[]).on(id("COMPRESS")));
    }
}
