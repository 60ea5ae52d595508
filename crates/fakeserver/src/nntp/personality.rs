//! What a personality can change in NNTP: the `[nntp]` section of a personality file
//! ([`crate::personality`]) read into a typed [`NntpPersonality`]. Defaults are an RFC 3977
//! reader server that allows posting, so a file names only what differs.
//!
//! How the common keys apply to NNTP:
//! - `greeting`: the greeting line; its code says whether posting is allowed (200) or not
//!   (201), unless `quirks.posting` says otherwise.
//! - `capabilities`: the CAPABILITIES lines. `POST`, `IHAVE`, `NEWNEWS`, `AUTHINFO`,
//!   `STARTTLS`, `MODE-READER` switch those on (absent: off); `IMPLEMENTATION x` sets that
//!   line; `VERSION`, `READER`, `HDR`, `OVER`, `LIST` are always sent; other lines are sent
//!   as written.
//! - `auth_required` (480 before AUTHINFO), `auth_requires_tls` (483), `drop_on_auth_failure`,
//!   `max_size` (POST/IHAVE of a larger article: 441/437).
//! - `replies`: whole reply lines by key (see [`REPLY_KEYS`]; `{host}`, `{id}`, `{reason}`).
//! - `quirks`: `overview_fmt` (`"rfc3977"` or `"rfc2980"`), `xref_in_overview` (bool),
//!   `hdr_fields` (restrict HDR/XHDR/XPAT to these headers; `[]`: all), `post_required`
//!   (headers POST needs), `posting` (bool).
//!
//! ```toml
//! [nntp]
//! greeting = "200 news.example.test InterNetNews NNRP server INN 2.7.1 ready (posting ok)"
//! [nntp.quirks]
//! overview_fmt = "rfc2980"
//! xref_in_overview = true
//! ```

use crate::personality::Section;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

/// The overview format LIST OVERVIEW.FMT advertises and OVER follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverviewFmt {
    /// `:bytes` and `:lines` (RFC 3977 §8.4).
    Rfc3977,
    /// `Bytes:` and `Lines:` (RFC 2980, what older servers list).
    Rfc2980,
}

/// The NNTP part of a personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NntpPersonality {
    /// The greeting line (`None`: `200`/`201` by `posting`, then a default text).
    pub greeting: Option<String>,
    /// Posting allowed (greeting 200, POST answered 340) or not (201, 440).
    pub posting: bool,
    /// IHAVE accepted (a transit feed) or answered 502.
    pub ihave: bool,
    /// NEWNEWS allowed (INN's `allownewnews`) or 502.
    pub newnews: bool,
    /// Offer AUTHINFO USER/PASS.
    pub authinfo: bool,
    /// Reader commands need AUTHINFO first (480).
    pub auth_required: bool,
    /// Offer STARTTLS when the server has a certificate.
    pub starttls: bool,
    /// AUTHINFO is refused before TLS (483), as RFC 4643 advises.
    pub auth_requires_tls: bool,
    /// Advertise `MODE-READER` and require MODE READER before reader commands.
    pub mode_reader_required: bool,
    pub overview_fmt: OverviewFmt,
    /// Append `Xref:full` to LIST OVERVIEW.FMT and an Xref field to OVER lines (INN does).
    pub xref_in_overview: bool,
    /// Headers XHDR/HDR answer for; others get 503 (a Giganews-like restriction). Empty: all.
    pub hdr_fields: Vec<String>,
    /// Headers POST requires.
    pub post_required: Vec<String>,
    /// CAPABILITIES' IMPLEMENTATION line, if any.
    pub implementation: Option<String>,
    /// Host for generated Message-IDs and Path, and for the HELP/DATE wording.
    pub hostname: String,
    /// Extra lines of CAPABILITIES, as sent.
    pub capabilities: Vec<String>,
    /// Close the connection after a failed AUTHINFO PASS.
    pub drop_on_auth_failure: bool,
    /// Lines of HELP's text.
    pub help: Vec<String>,
    /// Largest article POST and IHAVE take (`None`: the server's block limit only).
    pub max_size: Option<u64>,
    /// Reworded replies by key ([`REPLY_KEYS`]).
    pub replies: BTreeMap<String, String>,
}

/// The reply keys a `[nntp.replies]` table may use (with the placeholders each fills in).
pub const REPLY_KEYS: &[&str] = &[
    "quit",
    "mode_reader",
    "no_such_group",
    "no_group",
    "no_such_number",
    "no_such_id",
    "post_send",
    "post_ok",     // {id}
    "post_failed", // {reason}
    "posting_not_allowed",
    "ihave_send",
    "ihave_ok",
    "ihave_unwanted",
    "ihave_rejected", // {reason}
    "auth_password",
    "auth_ok",
    "auth_failed",
    "auth_required",
    "starttls",
    "unknown",
];

impl NntpPersonality {
    /// The wording for `key` or `default`, with `{host}` and the given placeholders filled in.
    pub fn reply(&self, key: &str, default: &str, vars: &[(&str, &str)]) -> String {
        let mut s = self
            .replies
            .get(key)
            .map_or(default, String::as_str)
            .replace("{host}", &self.hostname);
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    /// Read a personality's `[nntp]` section; unknown reply keys or quirks, and ill-typed
    /// quirks, are errors naming them.
    pub fn from_section(s: &Section) -> Result<Self> {
        let mut p = NntpPersonality::default();
        if let Some(h) = &s.hostname {
            p.hostname = h.clone();
        }
        if let Some(g) = &s.greeting {
            let g = g.replace("{host}", &p.hostname);
            p.posting = !g.starts_with("201");
            p.greeting = Some(g);
        }
        if s.capabilities.is_some() {
            let has = |w: &str| s.has_capability(w);
            p.posting = has("POST");
            p.ihave = has("IHAVE");
            p.newnews = has("NEWNEWS");
            p.authinfo = has("AUTHINFO");
            p.starttls = has("STARTTLS");
            p.mode_reader_required = has("MODE-READER");
            p.implementation = s.implementation();
            const BUILT: &[&str] = &[
                "VERSION",
                "READER",
                "HDR",
                "OVER",
                "LIST",
                "POST",
                "IHAVE",
                "NEWNEWS",
                "AUTHINFO",
                "STARTTLS",
                "MODE-READER",
                "IMPLEMENTATION",
            ];
            p.capabilities = s.other_capabilities(BUILT);
        }
        p.auth_required = s.auth_required;
        p.auth_requires_tls = s.auth_requires_tls;
        p.drop_on_auth_failure = s.drop_on_auth_failure;
        p.max_size = s.max_size;
        for (key, line) in &s.replies {
            if !REPLY_KEYS.contains(&key.as_str()) {
                bail!(
                    "[nntp.replies] unknown key {key:?} (known: {})",
                    REPLY_KEYS.join(", ")
                );
            }
            p.replies.insert(key.clone(), line.clone());
        }
        let strings = |name: &str, v: &toml::Value| -> Result<Vec<String>> {
            v.as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| anyhow!("[nntp.quirks] {name} must be a list of strings"))
        };
        for (name, v) in &s.quirks {
            match name.as_str() {
                "overview_fmt" => {
                    p.overview_fmt = match v.as_str() {
                        Some("rfc3977") => OverviewFmt::Rfc3977,
                        Some("rfc2980") => OverviewFmt::Rfc2980,
                        _ => bail!("[nntp.quirks] overview_fmt must be \"rfc3977\" or \"rfc2980\""),
                    }
                }
                "xref_in_overview" => {
                    p.xref_in_overview = v.as_bool().ok_or_else(|| anyhow!("[nntp.quirks] xref_in_overview must be true or false"))?
                }
                "posting" => p.posting = v.as_bool().ok_or_else(|| anyhow!("[nntp.quirks] posting must be true or false"))?,
                "hdr_fields" => p.hdr_fields = strings(name, v)?,
                "post_required" => p.post_required = strings(name, v)?,
                _ => bail!(
                    "[nntp.quirks] unknown quirk {name:?} (known: overview_fmt, xref_in_overview, hdr_fields, post_required, posting)"
                ),
            }
        }
        Ok(p)
    }
}

impl Default for NntpPersonality {
    fn default() -> Self {
        NntpPersonality {
            greeting: None,
            posting: true,
            ihave: true,
            newnews: true,
            authinfo: true,
            auth_required: false,
            starttls: true,
            auth_requires_tls: false,
            mode_reader_required: false,
            overview_fmt: OverviewFmt::Rfc3977,
            xref_in_overview: false,
            hdr_fields: Vec::new(),
            post_required: vec!["From".into(), "Subject".into(), "Newsgroups".into()],
            implementation: Some("mailrig-fakeserver".into()),
            hostname: "fakeserver.test".into(),
            capabilities: Vec::new(),
            drop_on_auth_failure: false,
            help: vec![
                "ARTICLE [message-id|number]".into(),
                "AUTHINFO USER name|PASS password".into(),
                "BODY [message-id|number]".into(),
                "CAPABILITIES [keyword]".into(),
                "DATE".into(),
                "GROUP newsgroup".into(),
                "HDR header [range|message-id]".into(),
                "HEAD [message-id|number]".into(),
                "HELP".into(),
                "IHAVE message-id".into(),
                "LAST".into(),
                "LIST [ACTIVE|ACTIVE.TIMES|NEWSGROUPS|OVERVIEW.FMT|HEADERS] [wildmat]".into(),
                "LISTGROUP [newsgroup [range]]".into(),
                "MODE READER".into(),
                "NEWGROUPS [yy]yymmdd hhmmss [GMT]".into(),
                "NEWNEWS wildmat [yy]yymmdd hhmmss [GMT]".into(),
                "NEXT".into(),
                "OVER [range|message-id]".into(),
                "POST".into(),
                "QUIT".into(),
                "STARTTLS".into(),
                "STAT [message-id|number]".into(),
                "XHDR header [range|message-id]".into(),
                "XOVER [range]".into(),
                "XPAT header range|message-id pattern...".into(),
            ],
            max_size: None,
            replies: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personality::Personality;

    fn section(text: &str) -> Section {
        Personality::parse(text, "t.toml").unwrap().section("nntp")
    }

    #[test]
    fn sections_map_onto_the_knobs() {
        let p = NntpPersonality::from_section(&section(
            "[nntp]\ngreeting = \"201 {host} no posting\"\nhostname = \"n.test\"\ncapabilities = [\"VERSION 2\", \"READER\", \"XPAT\", \"IMPLEMENTATION INN 2.7\"]\n\
             max_size = 100\n[nntp.replies]\nquit = \"205 bye\"\n[nntp.quirks]\noverview_fmt = \"rfc2980\"\nhdr_fields = [\"Subject\"]\n",
        ))
        .unwrap();
        assert_eq!(p.greeting.as_deref(), Some("201 n.test no posting"));
        assert!(!p.posting && !p.ihave && !p.authinfo && !p.starttls && !p.newnews);
        assert_eq!(p.capabilities, vec!["XPAT"]);
        assert_eq!(p.implementation.as_deref(), Some("INN 2.7"));
        assert_eq!(p.overview_fmt, OverviewFmt::Rfc2980);
        assert_eq!(p.hdr_fields, vec!["Subject"]);
        assert_eq!(p.max_size, Some(100));
        assert_eq!(p.reply("quit", "205 closing", &[]), "205 bye");
        assert_eq!(
            p.reply("post_ok", "240 ok {id}", &[("id", "<x>")]),
            "240 ok <x>"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, needle) in [
            ("[nntp.replies]\nquitt = \"x\"\n", "quitt"),
            ("[nntp.quirks]\nxref = true\n", "xref"),
            ("[nntp.quirks]\noverview_fmt = \"other\"\n", "overview_fmt"),
            ("[nntp.quirks]\nhdr_fields = [1]\n", "hdr_fields"),
        ] {
            let e = NntpPersonality::from_section(&section(text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn shipped_inn_personality() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/personalities/inn-nntp.toml");
        let p = Personality::load(std::path::Path::new(path)).unwrap();
        let p = NntpPersonality::from_section(&p.section("nntp")).unwrap();
        assert!(p.xref_in_overview && p.posting && !p.ihave && p.authinfo && p.starttls);
        assert!(p.greeting.as_deref().is_some_and(|g| g.contains("INN")));
    }
}
