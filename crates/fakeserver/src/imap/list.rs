//! LIST-EXTENDED (RFC 5258) with SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819), pure:
//! the command's selection options, patterns and return options → the mailboxes to list with
//! their attributes and CHILDINFO. The handler renders the lines (and the STATUS replies).

use super::daemon::DELIM;
use super::parse::astring;
use imapwire::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The special-use attributes RFC 6154 defines.
pub const SPECIAL_USES: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// The canonical spelling of a special-use attribute, if it is one.
pub fn special_use(word: &str) -> Option<&'static str> {
    SPECIAL_USES
        .iter()
        .copied()
        .find(|u| u.eq_ignore_ascii_case(word))
}

/// A parsed extended LIST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub reference: String,
    pub patterns: Vec<String>,
    pub sel_subscribed: bool,
    pub sel_special_use: bool,
    pub recursive: bool,
    pub ret_subscribed: bool,
    pub ret_children: bool,
    pub ret_special_use: bool,
    /// RETURN (STATUS (items)): the STATUS items, upper case.
    pub status: Option<Vec<String>>,
}

/// Whether LIST's arguments use the extended syntax (selection options, a pattern list,
/// or RETURN).
pub fn is_extended(a: &[Value]) -> bool {
    matches!(a.first(), Some(Value::List(_)))
        || matches!(a.get(1), Some(Value::List(_)))
        || a.get(2).is_some()
}

/// Parse `LIST [(selection)] reference patterns [RETURN (options)]`.
pub fn parse(a: &[Value]) -> Result<Query, String> {
    let mut q = Query::default();
    let mut i = 0;
    if let Some(Value::List(sel)) = a.first() {
        for o in sel {
            match o.text().unwrap_or_default().to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => q.sel_subscribed = true,
                "SPECIAL-USE" => q.sel_special_use = true,
                "RECURSIVEMATCH" => q.recursive = true,
                "REMOTE" => {}
                other => return Err(format!("Unknown LIST selection option {other}")),
            }
        }
        i = 1;
    }
    if q.recursive && !(q.sel_subscribed || q.sel_special_use) {
        return Err("RECURSIVEMATCH needs another selection option".into());
    }
    q.reference = a.get(i).and_then(astring).ok_or("LIST needs a reference")?;
    q.patterns = match a.get(i + 1) {
        Some(Value::List(ps)) => ps.iter().filter_map(astring).collect(),
        Some(v) => astring(v).into_iter().collect(),
        None => Vec::new(),
    };
    if q.patterns.is_empty() {
        return Err("LIST needs a pattern".into());
    }
    match (a.get(i + 2), a.get(i + 3)) {
        (None, _) => {}
        (Some(r), Some(Value::List(opts))) if r.is_atom("RETURN") => {
            let mut k = 0;
            while k < opts.len() {
                match opts[k]
                    .text()
                    .unwrap_or_default()
                    .to_ascii_uppercase()
                    .as_str()
                {
                    "SUBSCRIBED" => q.ret_subscribed = true,
                    "CHILDREN" => q.ret_children = true,
                    "SPECIAL-USE" => q.ret_special_use = true,
                    "STATUS" => {
                        let items = opts
                            .get(k + 1)
                            .and_then(Value::items)
                            .ok_or("STATUS needs a list of items")?;
                        q.status = Some(
                            items
                                .iter()
                                .filter_map(astring)
                                .map(|s| s.to_ascii_uppercase())
                                .collect(),
                        );
                        k += 1;
                    }
                    other => return Err(format!("Unknown LIST return option {other}")),
                }
                k += 1;
            }
        }
        _ => return Err("Invalid LIST arguments".into()),
    }
    if a.len() > i + 4 {
        return Err("Invalid LIST arguments".into());
    }
    Ok(q)
}

/// One line to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub attrs: Vec<String>,
    /// CHILDINFO ("SUBSCRIBED"): a descendant matches the selection but not the pattern.
    pub childinfo: bool,
    /// The mailbox exists (STATUS may follow).
    pub exists: bool,
}

/// The mailboxes (name → special-use attributes) and subscriptions of an account, a query,
/// and `matches(pattern, name)` → what to list, by name.
pub fn select(
    mailboxes: &BTreeMap<String, Vec<String>>,
    subscribed: &BTreeSet<String>,
    q: &Query,
    matches: &dyn Fn(&str, &str) -> bool,
) -> Vec<Entry> {
    let full: Vec<String> = q
        .patterns
        .iter()
        .map(|p| format!("{}{p}", q.reference))
        .collect();
    let hit = |n: &str| full.iter().any(|p| matches(p, n));
    let selected = |n: &str| {
        (!q.sel_subscribed || subscribed.contains(n))
            && (!q.sel_special_use || mailboxes.get(n).is_some_and(|u| !u.is_empty()))
            && (q.sel_subscribed || mailboxes.contains_key(n))
    };
    let mut names: BTreeSet<String> = mailboxes.keys().cloned().collect();
    names.extend(subscribed.iter().cloned());
    let mut out = Vec::new();
    for n in &names {
        let chosen = selected(n) && hit(n);
        let child = format!("{n}{DELIM}");
        let childinfo = q.recursive
            && q.sel_subscribed
            && hit(n)
            && names
                .iter()
                .any(|d| d.starts_with(&child) && selected(d) && !hit(d));
        if !chosen && !childinfo {
            continue;
        }
        let exists = mailboxes.contains_key(n);
        let mut attrs = Vec::new();
        if !exists {
            attrs.push("\\NonExistent".to_string());
        } else {
            let kids = mailboxes.keys().any(|k| k.starts_with(&child));
            attrs.push(
                if kids {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                }
                .to_string(),
            );
        }
        if (q.sel_subscribed || q.ret_subscribed) && subscribed.contains(n) {
            attrs.push("\\Subscribed".into());
        }
        if let Some(uses) = mailboxes.get(n) {
            attrs.extend(uses.iter().cloned());
        }
        out.push(Entry {
            name: n.clone(),
            attrs,
            childinfo,
            exists,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<Query, String> {
        parse(
            &super::super::parse::request(format!("a LIST {s}").as_bytes())
                .expect("parses")
                .args,
        )
    }

    #[test]
    fn options_parse() {
        let x = q(
            "(SUBSCRIBED RECURSIVEMATCH) \"\" (a% b) RETURN (CHILDREN STATUS (MESSAGES unseen))",
        )
        .unwrap();
        assert!(x.sel_subscribed && x.recursive && x.ret_children);
        assert_eq!(x.patterns, vec!["a%", "b"]);
        assert_eq!(x.status, Some(vec!["MESSAGES".into(), "UNSEEN".into()]));
        assert!(q("(RECURSIVEMATCH) \"\" *").is_err());
        assert!(q("(FOO) \"\" *").is_err());
        assert!(q("\"\" * RETURN (BAR)").is_err());
        assert!(is_extended(
            &super::super::parse::request(b"a LIST \"\" * RETURN ()")
                .unwrap()
                .args
        ));
        assert!(!is_extended(
            &super::super::parse::request(b"a LIST \"\" *").unwrap().args
        ));
    }

    #[test]
    fn recursive_match_gives_childinfo() {
        // RFC 5258's example: Fruit is not subscribed but Fruit/Banana is.
        let boxes: BTreeMap<String, Vec<String>> = [
            ("Fruit", vec![]),
            ("Fruit/Banana", vec![]),
            ("Tofu", vec![]),
            ("Vegetable", vec![]),
            ("Vegetable/Broccoli", vec![]),
            ("Trash", vec!["\\Trash".to_string()]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let subs: BTreeSet<String> = [
            "Fruit/Banana",
            "Tofu",
            "Vegetable",
            "Vegetable/Broccoli",
            "Gone",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let m = |p: &str, n: &str| p == "%" && !n.contains('/') || p == "*";
        let r = select(
            &boxes,
            &subs,
            &q("(SUBSCRIBED RECURSIVEMATCH) \"\" %").unwrap(),
            &m,
        );
        let v: Vec<(&str, bool)> = r.iter().map(|e| (e.name.as_str(), e.childinfo)).collect();
        assert_eq!(
            v,
            vec![
                ("Fruit", true),
                ("Gone", false),
                ("Tofu", false),
                ("Vegetable", true)
            ]
        );
        assert_eq!(r[0].attrs, vec!["\\HasChildren"]);
        assert_eq!(r[1].attrs, vec!["\\NonExistent", "\\Subscribed"]);
        let r = select(&boxes, &subs, &q("(SPECIAL-USE) \"\" *").unwrap(), &m);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].attrs, vec!["\\HasNoChildren", "\\Trash"]);
        assert_eq!(special_use("\\drafts"), Some("\\Drafts"));
        assert_eq!(special_use("\\Important"), None);
    }
}
