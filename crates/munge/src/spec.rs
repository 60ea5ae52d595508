//! The shape of `munge.toml` as written by people (serde types), before validation.
//! See `ruleset` for what each field means once compiled.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSpec {
    #[serde(default)]
    pub(crate) sequences: BTreeMap<String, SequenceSpec>,
    #[serde(default)]
    pub(crate) named: BTreeMap<String, NamedSpec>,
    #[serde(default)]
    pub(crate) sortlog: Option<SortlogSpec>,
    #[serde(default, rename = "rule")]
    pub(crate) rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SequenceSpec {
    /// A string counts like Perl's `$s++` on strings; an integer counts 1, 2, 3.
    pub(crate) start: toml::Value,
    pub(crate) format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedSpec {
    #[serde(default)]
    pub(crate) doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SortlogSpec {
    #[serde(rename = "match")]
    pub(crate) pattern: String,
    #[serde(default)]
    pub(crate) kinds: Option<Vec<String>>,
    /// A line put at the top of a sorted file (once per kind and test).
    #[serde(default)]
    pub(crate) note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) kinds: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) named: Option<String>,
    #[serde(default)]
    pub(crate) flag: Option<String>,
    #[serde(default)]
    pub(crate) when: Option<String>,
    #[serde(default)]
    pub(crate) unless: Option<String>,
    #[serde(default)]
    pub(crate) after: Option<String>,
    #[serde(rename = "match")]
    pub(crate) pattern: String,
    #[serde(default)]
    pub(crate) replace: Option<String>,
    #[serde(default)]
    pub(crate) global: bool,
    #[serde(default)]
    pub(crate) drop: bool,
    #[serde(default)]
    pub(crate) drop_following: Option<usize>,
    #[serde(default)]
    pub(crate) drop_until: Option<String>,
    #[serde(default)]
    pub(crate) keep_until_line: bool,
    #[serde(default)]
    pub(crate) renumber: Option<String>,
    #[serde(default)]
    pub(crate) group: Option<usize>,
    #[serde(default)]
    pub(crate) join_next: Option<String>,
    #[serde(default)]
    pub(crate) join_sep: Option<String>,
    #[serde(default)]
    pub(crate) join_max: Option<usize>,
    #[serde(default)]
    pub(crate) insert_before: Option<String>,
    #[serde(default)]
    pub(crate) date_increment: Option<String>,
    #[serde(default)]
    pub(crate) stop: bool,
}
