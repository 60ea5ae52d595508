//! Personalities: how a fake server presents itself, as data (TOML), one file for all five
//! protocols. A file has a name and one optional section per protocol (`[smtp]`, `[lmtp]`,
//! `[pop3]`, `[nntp]`, `[imap]`), each a [`Section`] with the same keys:
//!
//! ```toml
//! name = "postfix-like"
//! description = "Postfix 3.7 defaults"
//! [smtp]
//! hostname = "mx.example.test"
//! greeting = "220 {host} ESMTP Postfix (Debian/GNU)"
//! capabilities = ["PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES",
//!                 "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]
//! auth_mechanisms = ["PLAIN", "LOGIN"]
//! auth_required = false          # MAIL needs AUTH first
//! auth_requires_tls = false      # AUTH only offered and accepted under TLS
//! drop_on_auth_failure = false   # close the connection after a failed AUTH
//! max_size = 10240000
//! [smtp.replies]                 # wording, by reply key (see each protocol's handler)
//! mail_ok = "250 2.1.0 Ok"
//! [smtp.quirks]                  # protocol-specific deviations, by name
//! rcpt_replies = { "nobody@example.test" = "550 5.1.1 <nobody@example.test>: Recipient address rejected" }
//! ```
//!
//! Unknown keys are errors (with the file and the key named), so a typo never silently
//! changes nothing. `{host}` in replies is the section's hostname. Each protocol handler
//! documents its reply keys and quirks; absent keys keep the handler's defaults.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One protocol's presentation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// EHLO keywords (SMTP/LMTP), CAPA lines (POP3), CAPABILITIES (NNTP), CAPABILITY (IMAP).
    /// `None`: the handler's full default list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// SASL mechanisms offered (`None`: all fakeserver knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_mechanisms: Option<Vec<String>>,
    #[serde(default)]
    pub auth_required: bool,
    #[serde(default)]
    pub auth_requires_tls: bool,
    #[serde(default)]
    pub drop_on_auth_failure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quirks: BTreeMap<String, toml::Value>,
}

impl Section {
    /// The hostname, or `default`.
    pub fn host<'a>(&'a self, default: &'a str) -> &'a str {
        self.hostname.as_deref().unwrap_or(default)
    }

    /// The wording for `key` (or `default`), with `{host}` filled in.
    pub fn reply(&self, key: &str, default: &str, host: &str) -> String {
        self.replies
            .get(key)
            .map(String::as_str)
            .unwrap_or(default)
            .replace("{host}", host)
    }

    /// A boolean quirk (absent: false).
    pub fn quirk_bool(&self, name: &str) -> bool {
        self.quirks
            .get(name)
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    }

    /// An integer quirk.
    pub fn quirk_int(&self, name: &str) -> Option<i64> {
        self.quirks.get(name).and_then(toml::Value::as_integer)
    }

    /// A string quirk.
    pub fn quirk_str(&self, name: &str) -> Option<&str> {
        self.quirks.get(name).and_then(toml::Value::as_str)
    }

    /// A table quirk of strings (`{ key = "value" }`), keys lower-cased.
    pub fn quirk_map(&self, name: &str) -> BTreeMap<String, String> {
        self.quirks
            .get(name)
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Is a capability keyword (first word, case-insensitive) in the list? `None` list: yes.
    pub fn has_capability(&self, word: &str) -> bool {
        match &self.capabilities {
            None => true,
            Some(list) => list.iter().any(|c| {
                c.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case(word))
            }),
        }
    }

    /// The text after `IMPLEMENTATION ` in the first capability line that has it (POP3 CAPA
    /// and NNTP CAPABILITIES both send it as its own line).
    pub fn implementation(&self) -> Option<String> {
        self.capabilities
            .iter()
            .flatten()
            .find_map(|c| c.strip_prefix("IMPLEMENTATION ").map(str::to_string))
    }

    /// The capability lines whose keyword (first word, case-insensitive) is not in `built`
    /// (upper-case keywords the handler builds itself from other knobs): sent as written.
    pub fn other_capabilities(&self, built: &[&str]) -> Vec<String> {
        self.capabilities
            .iter()
            .flatten()
            .filter(|c| {
                let w = c
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                !built.contains(&w.as_str())
            })
            .cloned()
            .collect()
    }
}

/// A whole personality file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub smtp: Option<Section>,
    #[serde(default)]
    pub lmtp: Option<Section>,
    #[serde(default)]
    pub pop3: Option<Section>,
    #[serde(default)]
    pub nntp: Option<Section>,
    #[serde(default)]
    pub imap: Option<Section>,
}

impl Personality {
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).with_context(|| format!("{origin}: invalid personality"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading personality {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The section for a protocol ("smtp", "lmtp", "pop3", "nntp", "imap"); LMTP falls back
    /// to the SMTP section. Absent: all defaults.
    pub fn section(&self, protocol: &str) -> Section {
        let s = match protocol {
            "smtp" => &self.smtp,
            "lmtp" => {
                if self.lmtp.is_some() {
                    &self.lmtp
                } else {
                    &self.smtp
                }
            }
            "pop3" => &self.pop3,
            "nntp" => &self.nntp,
            "imap" => &self.imap,
            _ => &None,
        };
        s.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_quirks() {
        let p = Personality::parse(
            "name = \"x\"\n[smtp]\nhostname = \"h\"\ncapabilities = [\"SIZE 100\", \"PIPELINING\"]\n\
             [smtp.replies]\nquit = \"221 {host} bye\"\n[smtp.quirks]\nflag = true\n\
             rcpt_replies = { \"A@x\" = \"550 no\" }\n[pop3]\ngreeting = \"+OK hi\"\n",
            "p.toml",
        )
        .unwrap();
        let s = p.section("smtp");
        assert_eq!(s.reply("quit", "221 bye", s.host("d")), "221 h bye");
        assert!(s.has_capability("size") && !s.has_capability("DSN"));
        assert!(s.quirk_bool("flag") && !s.quirk_bool("other"));
        assert_eq!(
            s.quirk_map("rcpt_replies").get("a@x").map(String::as_str),
            Some("550 no")
        );
        assert_eq!(p.section("lmtp"), s);
        assert_eq!(p.section("pop3").greeting.as_deref(), Some("+OK hi"));
        assert_eq!(p.section("nntp"), Section::default());
    }

    #[test]
    fn typos_are_errors_naming_the_file() {
        let e = Personality::parse("[smtp]\ngreetng = \"x\"\n", "typo.toml").unwrap_err();
        let m = format!("{e:#}");
        assert!(m.contains("typo.toml") && m.contains("greetng"), "{m}");
    }

    #[test]
    fn shipped_personalities_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("personalities");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Personality::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 3);
    }
}
