//! The munging engine of mailrig's runtest.
//!
//! Exim's test outputs contain things that change from run to run (dates, message ids,
//! pids, ports, host names, paths…). Before comparing them with the saved outputs, the runner
//! rewrites them to fixed forms. The rewriting rules are data, in `munge.toml` (see that file
//! for the format); this crate loads them ([`RuleSet`]) and applies them to the outputs of one
//! test ([`Munger`]), with message ids and ports renumbered consistently across the test.

mod context;
mod dates;
mod error;
mod kind;
mod munger;
mod ruleset;
mod sequence;
mod spec;

pub use context::Context;
pub use error::RuleError;
pub use kind::OutputKind;
pub use munger::{is_port_position, Munger};
pub use ruleset::{placeholders, RuleSet};
