//! mailrig: a toolkit for regression-testing mail software. This library holds `runtest`,
//! the Exim-compatible regression runner; each module owns one stage (README.md, "Layout"):
//! `cli` → `probe` → `subst` → `suite` → `script` → `exec` (in a `workspace`) → munge
//! (crate `mailrig-munge`) → `compare` → `review` → `report`, tied together by `runner`.

pub mod cli;
pub mod compare;
pub mod elevate;
pub mod exec;
pub mod probe;
pub mod report;
pub mod review;
pub mod runner;
pub mod script;
pub mod subst;
pub mod suite;
pub mod workspace;
