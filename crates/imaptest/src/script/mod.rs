//! Scripted tests (`test=DIR|FILE`): [`parse`] reads a test file into steps, [`vars`] holds
//! variables and expands them, [`matching`] compares replies with expected lines (list
//! directives, `$N` sequences, `$modseqN`), [`run`] executes groups against a server and
//! [`report`] prints and writes the results. Only `run` touches connections.
pub mod matching;
pub mod parse;
pub mod report;
pub mod run;
pub mod vars;
