//! Errors found while loading a rules file. Each one names the file and, when it is about
//! one rule, the rule's position and name, so a bad edit of `munge.toml` is easy to find.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuleError {
    #[error("{origin}: {source}")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{origin}: rule #{index} `{name}`: {message}")]
    Rule {
        origin: String,
        index: usize,
        name: String,
        message: String,
    },
    #[error("{origin}: {message}")]
    File { origin: String, message: String },
}
