//! A validated, compiled rules file: the ordered rules, the renumbering sequences, the
//! named munges and the `sortlog` pattern. Regexes without placeholders are compiled once
//! here; those with `{PLACEHOLDER}`s are checked here and compiled by `Munger` the first
//! time a test needs them with its values, then kept here (`RuleSet::compiled`) for every
//! later test with the same values (a workspace's tests all have the same ones).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use regex::Regex;

use crate::context::{split_placeholders, Piece, PLACEHOLDERS};
use crate::error::RuleError;
use crate::kind::KindSet;
use crate::sequence::{Counter, SequenceDef};
use crate::spec::{FileSpec, RuleSpec};

/// Switches the runner turns on for a test by script commands other than `munge NAME`.
pub(crate) const FLAGS: &[&str] = &["rmfiltertest", "ipv6test"];

/// A regex that may still need placeholder values.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// Shared by every `Munger` (a clone of a `Regex` would start its search caches anew
    /// in every test).
    Fixed(Arc<Regex>),
    Templated(Vec<Piece>),
}

impl Pattern {
    /// The same pattern with a regex (and so search caches) of its own.
    fn unshared(&self) -> Pattern {
        match self {
            Pattern::Fixed(re) => Pattern::Fixed(Arc::new(Regex::clone(re))),
            Pattern::Templated(p) => Pattern::Templated(p.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Substitute `with` (regex crate syntax: `$1`, `${name}`, `$$`) for the first match,
    /// or for every match when `global`.
    Replace { with: String, global: bool },
    /// Drop the line, plus `following` lines, plus every line up to the first line matching
    /// `until` (that line too unless `keep_until_line`).
    Drop {
        following: usize,
        until: Option<Pattern>,
        keep_until_line: bool,
    },
    /// Replace capture group `group` of the match by the sequence's value for its text.
    Renumber {
        sequence: String,
        group: usize,
        global: bool,
    },
    /// Append the following lines that match `next` to this one (at most `max` of them),
    /// separated by `sep`, so later rules see one line.
    Join {
        next: Pattern,
        sep: String,
        max: usize,
    },
    /// Put a line of text before this one (Perl runtest printed notes such as
    /// "MUNGED: ::1 will be omitted in what follows" into the munged output).
    InsertBefore { text: String },
    /// Replace the match by `with` (regex crate syntax) in which `${sign}` and `${secs}` are
    /// the sign and size of the seconds from the time stamp of group `from` to that of
    /// group `to` (`DD-Mon-YYYY HH:MM:SS` or seconds since the epoch): retry times, of
    /// which only the interval is stable. Lines whose stamps do not parse are left alone.
    DateIncrement { with: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: String,
    pub(crate) kinds: KindSet,
    pub(crate) named: Option<String>,
    pub(crate) flag: Option<String>,
    pub(crate) when: Option<Pattern>,
    pub(crate) unless: Option<Pattern>,
    /// The rule applies only where the line before, as munged so far (what the saved file
    /// has above this line), matches this.
    pub(crate) after: Option<Pattern>,
    pub(crate) pattern: Pattern,
    pub(crate) action: Action,
    pub(crate) stop: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Sortlog {
    pub(crate) pattern: Regex,
    pub(crate) kinds: KindSet,
    pub(crate) note: Option<String>,
}

/// The munging rules of a rules file, ready to be used by any number of `Munger`s.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) sequences: BTreeMap<String, SequenceDef>,
    pub(crate) named: BTreeMap<String, String>,
    pub(crate) sortlog: Option<Sortlog>,
    /// The templated patterns compiled so far, by their filled-in text.
    compiled: Arc<Mutex<HashMap<String, Arc<Regex>>>>,
}

impl RuleSet {
    /// A copy for one thread: the same rules with regexes of its own. Every thread but the
    /// first to use a shared regex takes its search caches from a common pool, under a lock;
    /// a worker that munges with its own copy never waits for the others.
    pub fn for_one_thread(&self) -> RuleSet {
        let own = |p: &Pattern| p.unshared();
        let own_opt = |p: &Option<Pattern>| p.as_ref().map(own);
        let rules = self
            .rules
            .iter()
            .map(|r| Rule {
                when: own_opt(&r.when),
                unless: own_opt(&r.unless),
                after: own_opt(&r.after),
                pattern: own(&r.pattern),
                action: match &r.action {
                    Action::Drop {
                        following,
                        until,
                        keep_until_line,
                    } => Action::Drop {
                        following: *following,
                        until: own_opt(until),
                        keep_until_line: *keep_until_line,
                    },
                    Action::Join { next, sep, max } => Action::Join {
                        next: own(next),
                        sep: sep.clone(),
                        max: *max,
                    },
                    other => other.clone(),
                },
                ..r.clone()
            })
            .collect();
        RuleSet {
            rules,
            sequences: self.sequences.clone(),
            named: self.named.clone(),
            sortlog: self.sortlog.clone(),
            compiled: Arc::default(),
        }
    }

    /// The regex of a filled-in templated pattern, compiled once per distinct text. None
    /// when it does not compile (a filled-in value made it too big).
    pub(crate) fn compiled(&self, text: &str) -> Option<Arc<Regex>> {
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(re) = cache.get(text) {
            return Some(re.clone());
        }
        let re = Arc::new(Regex::new(text).ok()?);
        cache.insert(text.to_string(), re.clone());
        Some(re)
    }

    /// Reads and compiles a rules file. Errors name the file and the faulty rule.
    pub fn load(path: &Path) -> anyhow::Result<RuleSet> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read munge rules {}", path.display()))?;
        RuleSet::parse(&text, &path.display().to_string())
    }

    /// Compiles rules from text; `origin` names the text in error messages.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<RuleSet> {
        Ok(compile(text, origin)?)
    }

    /// Whether `munge NAME` names a known named munge.
    pub fn has_named(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// The names of all named munges, sorted.
    pub fn named(&self) -> Vec<String> {
        self.named.keys().cloned().collect()
    }

    /// The names of the rules in order (for diagnostics and listings).
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name.as_str()).collect()
    }

    /// The number of rules (for diagnostics).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn compile(text: &str, origin: &str) -> Result<RuleSet, RuleError> {
    let spec: FileSpec = toml::from_str(text).map_err(|source| RuleError::Toml {
        origin: origin.to_string(),
        source,
    })?;
    let file_err = |message: String| RuleError::File {
        origin: origin.to_string(),
        message,
    };

    let mut sequences = BTreeMap::new();
    for (name, s) in spec.sequences {
        let start = match &s.start {
            toml::Value::String(v) if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()) => {
                Counter::Alpha(v.clone())
            }
            toml::Value::Integer(n) if *n >= 0 => Counter::Number(*n as u64),
            other => {
                return Err(file_err(format!(
                    "sequence `{name}`: start must be a non-negative integer or an alphanumeric string, not {other}"
                )))
            }
        };
        if !s.format.contains("{}") {
            return Err(file_err(format!(
                "sequence `{name}`: format has no `{{}}` for the counter"
            )));
        }
        sequences.insert(
            name,
            SequenceDef {
                start,
                format: s.format,
            },
        );
    }

    let named: BTreeMap<String, String> = spec.named.into_iter().map(|(k, v)| (k, v.doc)).collect();

    let sortlog = match spec.sortlog {
        None => None,
        Some(s) => {
            let pattern =
                Regex::new(&s.pattern).map_err(|e| file_err(format!("sortlog: bad regex: {e}")))?;
            let kinds = match &s.kinds {
                Some(k) => KindSet::parse(k).map_err(|e| file_err(format!("sortlog: {e}")))?,
                None => KindSet::parse(&["mainlog".to_string()]).expect("valid kind"),
            };
            Some(Sortlog {
                pattern,
                kinds,
                note: s.note,
            })
        }
    };

    let mut rules = Vec::with_capacity(spec.rules.len());
    for (i, r) in spec.rules.into_iter().enumerate() {
        let index = i + 1;
        let name = r.name.clone();
        let rule = compile_rule(r, &sequences, &named).map_err(|message| RuleError::Rule {
            origin: origin.to_string(),
            index,
            name,
            message,
        })?;
        rules.push(rule);
    }
    Ok(RuleSet {
        rules,
        sequences,
        named,
        sortlog,
        compiled: Arc::default(),
    })
}

fn compile_rule(
    r: RuleSpec,
    sequences: &BTreeMap<String, SequenceDef>,
    named: &BTreeMap<String, String>,
) -> Result<Rule, String> {
    let kinds = match &r.kinds {
        Some(k) => KindSet::parse(k)?,
        None => KindSet::outputs(),
    };
    if let Some(n) = &r.named {
        if !named.contains_key(n) {
            return Err(format!(
                "named munge `{n}` is not declared in a [named.{n}] table"
            ));
        }
    }
    if let Some(f) = &r.flag {
        if !FLAGS.contains(&f.strip_prefix('!').unwrap_or(f)) {
            return Err(format!("unknown flag `{f}` (known: {})", FLAGS.join(", ")));
        }
    }
    let pattern = pattern(&r.pattern).map_err(|e| format!("match: {e}"))?;
    let when = r.when.as_deref().map(pattern_opt("when")).transpose()?;
    let unless = r.unless.as_deref().map(pattern_opt("unless")).transpose()?;
    let after = r.after.as_deref().map(pattern_opt("after")).transpose()?;

    let is_drop = r.drop || r.drop_following.is_some() || r.drop_until.is_some();
    let chosen = [
        r.replace.is_some(),
        is_drop,
        r.renumber.is_some(),
        r.join_next.is_some(),
        r.insert_before.is_some(),
        r.date_increment.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err("give exactly one action: replace, drop (drop_following/drop_until), renumber, join_next, insert_before or date_increment".into());
    }
    let stray = |field: &str, set: bool, allowed: bool| -> Result<(), String> {
        if set && !allowed {
            Err(format!("`{field}` does not go with this action"))
        } else {
            Ok(())
        }
    };
    stray(
        "global",
        r.global,
        r.replace.is_some() || r.renumber.is_some(),
    )?;
    stray("group", r.group.is_some(), r.renumber.is_some())?;
    stray("keep_until_line", r.keep_until_line, r.drop_until.is_some())?;
    stray("join_sep", r.join_sep.is_some(), r.join_next.is_some())?;
    stray("join_max", r.join_max.is_some(), r.join_next.is_some())?;

    let action = if let Some(with) = r.replace {
        check_replacement(&with)?;
        Action::Replace {
            with,
            global: r.global,
        }
    } else if is_drop {
        let until = r
            .drop_until
            .as_deref()
            .map(pattern_opt("drop_until"))
            .transpose()?;
        Action::Drop {
            following: r.drop_following.unwrap_or(0),
            until,
            keep_until_line: r.keep_until_line,
        }
    } else if let Some(sequence) = r.renumber {
        if !sequences.contains_key(&sequence) {
            return Err(format!("renumber: no sequence `{sequence}` in [sequences]"));
        }
        let group = r.group.unwrap_or(1);
        let groups = match &pattern {
            Pattern::Fixed(re) => re.captures_len(),
            Pattern::Templated(p) => Regex::new(&dummy_fill(p)).map_or(0, |re| re.captures_len()),
        };
        if group >= groups {
            return Err(format!("renumber: the match has no capture group {group}"));
        }
        Action::Renumber {
            sequence,
            group,
            global: r.global,
        }
    } else if let Some(text) = r.insert_before {
        Action::InsertBefore { text }
    } else if let Some(with) = r.date_increment {
        check_replacement(&with)?;
        let names: Vec<String> = match &pattern {
            Pattern::Fixed(re) => re.capture_names().flatten().map(str::to_string).collect(),
            Pattern::Templated(p) => Regex::new(&dummy_fill(p))
                .map(|re| re.capture_names().flatten().map(str::to_string).collect())
                .unwrap_or_default(),
        };
        for needed in ["from", "to"] {
            if !names.iter().any(|n| n == needed) {
                return Err(format!(
                    "date_increment: the match has no group named `{needed}`"
                ));
            }
        }
        Action::DateIncrement { with }
    } else {
        let next = pattern_opt("join_next")(r.join_next.as_deref().unwrap_or_default())?;
        Action::Join {
            next,
            sep: r.join_sep.unwrap_or_default(),
            max: r.join_max.unwrap_or(usize::MAX),
        }
    };

    Ok(Rule {
        name: r.name,
        kinds,
        named: r.named,
        flag: r.flag,
        when,
        unless,
        after,
        pattern,
        action,
        stop: r.stop,
    })
}

fn pattern_opt(field: &'static str) -> impl Fn(&str) -> Result<Pattern, String> {
    move |s| pattern(s).map_err(|e| format!("{field}: {e}"))
}

/// Compiles a pattern now, or checks it with stand-in values when it has placeholders.
fn pattern(text: &str) -> Result<Pattern, String> {
    let pieces = split_placeholders(text)?;
    if pieces.iter().all(|p| matches!(p, Piece::Regex(_))) {
        return Regex::new(text)
            .map(|re| Pattern::Fixed(Arc::new(re)))
            .map_err(|e| format!("bad regex: {e}"));
    }
    Regex::new(&dummy_fill(&pieces)).map_err(|e| format!("bad regex: {e}"))?;
    Ok(Pattern::Templated(pieces))
}

fn dummy_fill(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Regex(s) => s.clone(),
            Piece::Placeholder(_) => "x".to_string(),
        })
        .collect()
}

/// Catches the classic slip of the regex crate's replacement syntax: `$1a` means the group
/// named `1a` (which never exists), so the digits must be braced as `${1}a`.
fn check_replacement(with: &str) -> Result<(), String> {
    let b = with.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            if b.get(i + 1) == Some(&b'$') {
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 && j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
                return Err(format!(
                    "replace: `{}` is read as a group name; write `${{{}}}` instead",
                    &with[i..=j],
                    &with[i + 1..j]
                ));
            }
        }
        i += 1;
    }
    Ok(())
}

/// The placeholder names and meanings, for documentation and `--help`-style listings.
pub fn placeholders() -> &'static [(&'static str, &'static str)] {
    PLACEHOLDERS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        RuleSet::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn filled_patterns_are_compiled_once_per_text() {
        let rs = RuleSet::parse("", "t.toml").unwrap();
        let a = rs.compiled(r"^/a/b\.c$").unwrap();
        let again = rs.compiled(r"^/a/b\.c$").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(a.is_match("/a/b.c") && !a.is_match("/a/bxc"));
        let other = rs.compiled(r"^/d$").unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        // A clone of the set shares what was compiled.
        assert!(Arc::ptr_eq(&rs.clone().compiled(r"^/d$").unwrap(), &other));
        assert!(rs.compiled("(").is_none());
        // A copy for another thread has regexes (and a cache) of its own, the same rules.
        let rs = RuleSet::parse(
            "[[rule]]\nname = \"r\"\nmatch = \"a+\"\nreplace = \"b\"\n",
            "t.toml",
        )
        .unwrap();
        let copy = rs.for_one_thread();
        let (Pattern::Fixed(x), Pattern::Fixed(y)) = (&rs.rules[0].pattern, &copy.rules[0].pattern)
        else {
            panic!("a fixed pattern")
        };
        assert!(!Arc::ptr_eq(x, y) && x.as_str() == y.as_str());
        assert_eq!(copy.rules[0].name, "r");
        assert!(!Arc::ptr_eq(&copy.compiled, &rs.compiled));
    }

    #[test]
    fn errors_name_file_and_rule() {
        let e = err("[[rule]]\nname = \"ok\"\nmatch = \"a\"\nreplace = \"b\"\n[[rule]]\nname = \"broken\"\nmatch = \"(\"\nreplace = \"b\"\n");
        assert!(
            e.starts_with("t.toml: rule #2 `broken`: match: bad regex"),
            "{e}"
        );
    }

    #[test]
    fn exactly_one_action() {
        assert!(err("[[rule]]\nname = \"x\"\nmatch = \"a\"\n").contains("exactly one action"));
        assert!(
            err("[[rule]]\nname = \"x\"\nmatch = \"a\"\nreplace = \"b\"\ndrop = true\n")
                .contains("exactly one action")
        );
    }

    #[test]
    fn undeclared_named_sequence_and_flag_are_errors() {
        assert!(
            err("[[rule]]\nname = \"x\"\nnamed = \"nope\"\nmatch = \"a\"\ndrop = true\n")
                .contains("named munge `nope`")
        );
        assert!(
            err("[[rule]]\nname = \"x\"\nmatch = \"(a)\"\nrenumber = \"nope\"\n")
                .contains("no sequence `nope`")
        );
        assert!(
            err("[[rule]]\nname = \"x\"\nflag = \"nope\"\nmatch = \"a\"\ndrop = true\n")
                .contains("unknown flag")
        );
    }

    #[test]
    fn ambiguous_group_reference_is_rejected() {
        assert!(
            err("[[rule]]\nname = \"x\"\nmatch = \"(a)\"\nreplace = \"$1b\"\n")
                .contains("write `${1}`")
        );
        assert!(RuleSet::parse(
            "[[rule]]\nname = \"x\"\nmatch = \"(a)\"\nreplace = \"${1}b $$1 $1 \"\n",
            "t"
        )
        .is_ok());
    }

    #[test]
    fn renumber_group_must_exist() {
        let t = "[sequences.s]\nstart = 1\nformat = \"{}\"\n[[rule]]\nname = \"x\"\nmatch = \"a\"\nrenumber = \"s\"\n";
        assert!(err(t).contains("no capture group 1"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(
            err("[[rule]]\nname = \"x\"\nmatch = \"a\"\nreplace = \"b\"\nglobl = true\n")
                .contains("globl")
        );
    }

    #[test]
    fn named_munges_are_listed() {
        let rs = RuleSet::parse("[named.b]\ndoc = \"x\"\n[named.a]\n", "t").unwrap();
        assert_eq!(rs.named(), vec!["a".to_string(), "b".to_string()]);
        assert!(rs.has_named("a"));
        assert!(!rs.has_named("c"));
    }
}
