//! What an NNTP personality can change, as data: the `[nntp]` table of a personality TOML
//! file. Every field has a default (an RFC 3977 reader server that allows posting), so a
//! file names only what differs.
//!
//! ```toml
//! [nntp]
//! greeting = "news.example.com InterNetNews NNRP server INN 2.7.1 ready (posting ok)"
//! overview_fmt = "rfc2980"
//! xref_in_overview = true
//! ```

use serde::Deserialize;

/// The overview format LIST OVERVIEW.FMT advertises and OVER follows.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OverviewFmt {
    /// `:bytes` and `:lines` (RFC 3977 §8.4).
    Rfc3977,
    /// `Bytes:` and `Lines:` (RFC 2980, what older servers list).
    Rfc2980,
}

/// The NNTP part of a personality.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct NntpPersonality {
    /// Text after `200 `/`201 ` in the greeting.
    pub greeting: String,
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
}

impl Default for NntpPersonality {
    fn default() -> Self {
        NntpPersonality {
            greeting: "fakeserver NNTP ready (posting ok)".into(),
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let p: NntpPersonality = toml::from_str("overview_fmt = \"rfc2980\"\nposting = false\n").unwrap();
        assert_eq!(p.overview_fmt, OverviewFmt::Rfc2980);
        assert!(!p.posting);
        assert!(p.ihave);
        assert!(toml::from_str::<NntpPersonality>("overview_fmt = \"other\"").is_err());
    }
}

#[cfg(test)]
mod shipped {
    #[test]
    fn shipped_nntp_personalities_parse() {
        let path = format!("{}/personalities/inn-nntp.toml", env!("CARGO_MANIFEST_DIR"));
        let v: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let p: super::NntpPersonality = v["nntp"].clone().try_into().unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(p.xref_in_overview);
    }
}
