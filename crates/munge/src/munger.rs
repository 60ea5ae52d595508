//! The engine: applies a `RuleSet` to the outputs of one test, keeping the renumbering
//! state (message ids, ports…) shared across all the files of that test.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex::Regex;

use crate::context::{fill, Context};
use crate::kind::OutputKind;
use crate::ruleset::{Action, Pattern, Rule, RuleSet};
use crate::sequence::Renumberer;

/// The regexes of one rule for this test's context (placeholders filled in).
#[derive(Debug, Clone)]
struct Active {
    pattern: Arc<Regex>,
    when: Option<Arc<Regex>>,
    unless: Option<Arc<Regex>>,
    after: Option<Arc<Regex>>,
    /// `drop_until` or `join_next`, whichever the action has.
    aux: Option<Arc<Regex>>,
}

/// Munges the outputs of one test. Create one per test, and munge its files in the order
/// Perl's runtest did (paniclog, rejectlog, mainlog, server mainlog, stdout, stderr, mail
/// files, msglogs) so that renumbered values come out the same.
#[derive(Debug, Clone)]
pub struct Munger<'r> {
    rules: &'r RuleSet,
    /// One entry per rule; `None` when the context lacks a value the rule needs.
    active: Vec<Option<Active>>,
    named_on: HashSet<String>,
    rmfiltertest: bool,
    sortlog: bool,
    /// Flags set by the runner (`set_flag`).
    flags: HashSet<String>,
    /// Kinds whose sorted-file note has been written in this test.
    sort_noted: HashSet<OutputKind>,
    renum: Renumberer,
    /// Maps this workspace's actual ports back to the canonical ones.
    ports: Option<(Regex, HashMap<String, String>)>,
}

impl<'r> Munger<'r> {
    pub fn new(rules: &'r RuleSet, ctx: Context) -> Munger<'r> {
        let values = ctx.placeholder_values();
        let resolve = |p: &Pattern| -> Option<Arc<Regex>> {
            match p {
                Pattern::Fixed(re) => Some(re.clone()),
                // Checked at load time with stand-in values; a filled-in value is escaped,
                // so compiling cannot fail unless the value makes the regex too big.
                Pattern::Templated(pieces) => rules.compiled(&fill(pieces, &values)?),
            }
        };
        let active = rules
            .rules
            .iter()
            .map(|rule| {
                let opt = |p: &Option<Pattern>| match p {
                    None => Some(None),
                    Some(p) => resolve(p).map(Some),
                };
                let aux_pat = match &rule.action {
                    Action::Drop { until, .. } => until.clone(),
                    Action::Join { next, .. } => Some(next.clone()),
                    _ => None,
                };
                Some(Active {
                    pattern: resolve(&rule.pattern)?,
                    when: opt(&rule.when)?,
                    unless: opt(&rule.unless)?,
                    after: opt(&rule.after)?,
                    aux: opt(&aux_pat)?,
                })
            })
            .collect();
        let port_map: HashMap<String, String> = ctx
            .ports
            .iter()
            .filter(|(actual, canonical)| actual != canonical)
            .map(|(a, c)| (a.to_string(), c.to_string()))
            .collect();
        let ports = if port_map.is_empty() {
            None
        } else {
            let mut keys: Vec<&String> = port_map.keys().collect();
            keys.sort();
            let alt = keys
                .iter()
                .map(|k| regex::escape(k))
                .collect::<Vec<_>>()
                .join("|");
            // Digits only ever match whole numbers, never part of a longer one.
            let re = Regex::new(&format!(r"(?:^|\b)({alt})\b"))
                .expect("escaped digits form a valid regex");
            Some((re, port_map))
        };
        Munger {
            rules,
            active,
            named_on: HashSet::new(),
            rmfiltertest: false,
            sortlog: false,
            flags: HashSet::new(),
            sort_noted: HashSet::new(),
            renum: Renumberer::default(),
            ports,
        }
    }

    /// Turns on a named munge (the script command `munge NAME`) for the rest of the test.
    pub fn enable_named(&mut self, name: &str) -> anyhow::Result<()> {
        if !self.rules.has_named(name) {
            anyhow::bail!(
                "unknown munge name `{name}` (known: {})",
                self.rules.named().join(", ")
            );
        }
        self.named_on.insert(name.to_string());
        Ok(())
    }

    /// The `rmfiltertest` script command: drop the noise of `exim -bf`/`-bF` from stdout.
    pub fn set_rmfiltertest(&mut self, on: bool) {
        self.rmfiltertest = on;
    }

    /// The `sortlog` script command: sort each run of contiguous delivery lines in logs.
    pub fn set_sortlog(&mut self, on: bool) {
        self.sortlog = on;
    }

    /// Sets a flag the runner knows about the test (e.g. `ipv6test`: the test's folder
    /// requires IPv6 support). Rules with `flag = "NAME"` apply when it is set, rules with
    /// `flag = "!NAME"` when it is not.
    pub fn set_flag(&mut self, name: &str, on: bool) {
        if on {
            self.flags.insert(name.to_string());
        } else {
            self.flags.remove(name);
        }
    }

    fn flag_on(&self, name: &str) -> bool {
        match name {
            "rmfiltertest" => self.rmfiltertest,
            _ => self.flags.contains(name),
        }
    }

    fn applies(&self, rule: &Rule) -> bool {
        if let Some(n) = &rule.named {
            if !self.named_on.contains(n) {
                return false;
            }
        }
        match rule.flag.as_deref() {
            Some(f) => match f.strip_prefix('!') {
                Some(name) => !self.flag_on(name),
                None => self.flag_on(f),
            },
            None => true,
        }
    }

    /// Munges one output file. Lines are split on `\n`; a final newline is kept.
    pub fn munge(&mut self, kind: OutputKind, text: &str) -> String {
        let selected: Vec<usize> = (0..self.rules.rules.len())
            .filter(|&i| {
                let rule = &self.rules.rules[i];
                rule.kinds.contains(kind) && self.active[i].is_some() && self.applies(rule)
            })
            .collect();

        let trailing_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let raw: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n').collect()
        };

        let mut out: Vec<String> = Vec::with_capacity(raw.len());
        let mut i = 0;
        'line: while i < raw.len() {
            let mut line = self.map_ports(raw[i]).into_owned();
            i += 1;
            for &r in &selected {
                let rule = &self.rules.rules[r];
                let act = self.active[r].as_ref().expect("selected rules are active");
                if act.when.as_ref().is_some_and(|w| !w.is_match(&line))
                    || act.unless.as_ref().is_some_and(|u| u.is_match(&line))
                    || act
                        .after
                        .as_ref()
                        .is_some_and(|a| !out.last().is_some_and(|prev| a.is_match(prev)))
                {
                    continue;
                }
                let hit = match &rule.action {
                    Action::Replace { with, global } => {
                        let new = if *global {
                            act.pattern.replace_all(&line, with.as_str())
                        } else {
                            act.pattern.replace(&line, with.as_str())
                        };
                        match new {
                            Cow::Owned(s) => {
                                line = s;
                                true
                            }
                            Cow::Borrowed(_) => false,
                        }
                    }
                    Action::Drop {
                        following,
                        keep_until_line,
                        ..
                    } => {
                        if !act.pattern.is_match(&line) {
                            continue;
                        }
                        i = (i + following).min(raw.len());
                        if let Some(until) = &act.aux {
                            while i < raw.len() {
                                if until.is_match(raw[i]) {
                                    if !keep_until_line {
                                        i += 1;
                                    }
                                    break;
                                }
                                i += 1;
                            }
                        }
                        continue 'line;
                    }
                    Action::Renumber {
                        sequence,
                        group,
                        global,
                    } => {
                        let def = &self.rules.sequences[sequence];
                        match renumber(&act.pattern, &line, *group, *global, |old| {
                            self.renum.value(sequence, def, old)
                        }) {
                            Some(s) => {
                                line = s;
                                true
                            }
                            None => false,
                        }
                    }
                    Action::InsertBefore { text } => {
                        if !act.pattern.is_match(&line) {
                            continue;
                        }
                        out.push(text.clone());
                        true
                    }
                    Action::DateIncrement { with } => {
                        match date_increment(&act.pattern, &line, with) {
                            Some(s) => {
                                line = s;
                                true
                            }
                            None => false,
                        }
                    }
                    Action::Join { sep, max, .. } => {
                        if !act.pattern.is_match(&line) {
                            continue;
                        }
                        let next = act.aux.as_ref().expect("join rules have a next pattern");
                        let mut joined = 0;
                        while i < raw.len() && joined < *max && next.is_match(raw[i]) {
                            joined += 1;
                            line.push_str(sep);
                            line.push_str(&self.map_ports(raw[i]));
                            i += 1;
                        }
                        true
                    }
                };
                if hit && rule.stop {
                    break;
                }
            }
            out.push(line);
        }

        if self.sortlog {
            if let Some(sl) = &self.rules.sortlog {
                if sl.kinds.contains(kind) {
                    sort_runs(&mut out, &sl.pattern);
                    if let Some(note) = &sl.note {
                        if !out.is_empty() && self.sort_noted.insert(kind) {
                            out.insert(0, note.clone());
                        }
                    }
                }
            }
        }

        let mut result = out.join("\n");
        if trailing_newline && !out.is_empty() {
            result.push('\n');
        }
        result
    }

    /// Munges a file name: the rules of kind `filename` (message ids in msglog names, the
    /// caller's name in mail folder names).
    pub fn munge_file_name(&mut self, name: &str) -> String {
        let mut name = name.to_string();
        for (r, rule) in self.rules.rules.iter().enumerate() {
            if !rule.kinds.has_filename() || !self.applies(rule) {
                continue;
            }
            let Some(act) = self.active[r].as_ref() else {
                continue;
            };
            if act.when.as_ref().is_some_and(|w| !w.is_match(&name))
                || act.unless.as_ref().is_some_and(|u| u.is_match(&name))
            {
                continue;
            }
            match &rule.action {
                Action::Replace { with, global } => {
                    name = if *global {
                        act.pattern.replace_all(&name, with.as_str()).into_owned()
                    } else {
                        act.pattern.replace(&name, with.as_str()).into_owned()
                    };
                }
                Action::Renumber {
                    sequence,
                    group,
                    global,
                } => {
                    let def = &self.rules.sequences[sequence];
                    if let Some(s) = renumber(&act.pattern, &name, *group, *global, |old| {
                        self.renum.value(sequence, def, old)
                    }) {
                        name = s;
                    }
                }
                // A file name is one line: there is nothing to drop or join.
                Action::Drop { .. }
                | Action::Join { .. }
                | Action::InsertBefore { .. }
                | Action::DateIncrement { .. } => {}
            }
        }
        name
    }

    /// A workspace's port numbers back to the canonical ones, except where
    /// [`is_port_position`] says a number is some other value.
    fn map_ports<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let Some((re, map)) = &self.ports else {
            return Cow::Borrowed(line);
        };
        let mut out = String::new();
        let mut last = 0;
        for m in re.captures_iter(line).filter_map(|c| c.get(1)) {
            if !is_port_position(&line[..m.start()]) {
                continue;
            }
            out.push_str(&line[last..m.start()]);
            out.push_str(&map[m.as_str()]);
            last = m.end();
        }
        if last == 0 {
            return Cow::Borrowed(line);
        }
        out.push_str(&line[last..]);
        Cow::Owned(out)
    }
}

/// Whether a number that follows `before` on its line can be a port: not right after `=`,
/// where a number is a value (`S=1625` and `read=1625` in a log line are sizes), unless the
/// name before the `=` is a port's (`port=1224` in a debug line, `daemon_smtp_port=1225`).
pub fn is_port_position(before: &str) -> bool {
    let Some(name) = before.strip_suffix('=') else {
        return true;
    };
    let word = name
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    word == "port" || word.ends_with("_port")
}

/// Replaces capture group `group` of the first (or every) match by `value(old text)`.
fn renumber(
    re: &Regex,
    line: &str,
    group: usize,
    global: bool,
    mut value: impl FnMut(&str) -> String,
) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    let mut any = false;
    for caps in re.captures_iter(line) {
        if let Some(g) = caps.get(group) {
            out.push_str(&line[last..g.start()]);
            out.push_str(&value(g.as_str()));
            last = g.end();
            any = true;
        }
        if !global {
            break;
        }
    }
    if !any {
        return None;
    }
    out.push_str(&line[last..]);
    Some(out)
}

/// The `date_increment` action: the first match replaced by `with`, where `${sign}` and
/// `${secs}` are the sign and size of the seconds from group `from` to group `to`, and
/// `${even_secs}` that size rounded up to an even number (as the Perl runtest prints the
/// increment of an exim_dumpdb retry record: `((d + 1) >> 1) << 1`).
fn date_increment(re: &Regex, line: &str, with: &str) -> Option<String> {
    let caps = re.captures(line)?;
    let from = crate::dates::dumpdb_seconds(caps.name("from")?.as_str())?;
    let to = crate::dates::dumpdb_seconds(caps.name("to")?.as_str())?;
    let inc = to - from;
    let sign = if inc < 0 { "-" } else { "+" };
    let even = ((inc + 1) >> 1) << 1;
    let template = with
        .replace("${sign}", sign)
        .replace("${even_secs}", &even.abs().to_string())
        .replace("${secs}", &inc.abs().to_string());
    let mut replacement = String::new();
    caps.expand(&template, &mut replacement);
    let m = caps.get(0)?;
    Some(format!(
        "{}{}{}",
        &line[..m.start()],
        replacement,
        &line[m.end()..]
    ))
}

/// Sorts, in place, every run of consecutive lines that match `pattern`.
fn sort_runs(lines: &mut [String], pattern: &Regex) {
    let mut start = 0;
    while start < lines.len() {
        if !pattern.is_match(&lines[start]) {
            start += 1;
            continue;
        }
        let mut end = start + 1;
        while end < lines.len() && pattern.is_match(&lines[end]) {
            end += 1;
        }
        lines[start..end].sort();
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
[sequences.msgid]
start = "aX"
format = "10Hm{}-0005vi-00"

[sequences.port]
start = 1111
format = "{}"

[named.shout]
doc = "test only"

[sortlog]
match = '^\d+ (=>|->) '

[[rule]]
name = "shout"
named = "shout"
match = "quiet"
replace = "LOUD"

[[rule]]
name = "host"
match = "{HOSTNAME}"
replace = "the.local.host.name"
global = true

[[rule]]
name = "ids"
match = '\b([a-zA-Z0-9]{6}-[a-zA-Z0-9]{6}-[a-zA-Z0-9]{2})\b'
renumber = "msgid"
global = true

[[rule]]
name = "ids in names"
kinds = ["filename"]
match = '([a-zA-Z0-9]{6}-[a-zA-Z0-9]{6}-[a-zA-Z0-9]{2})'
renumber = "msgid"

[[rule]]
name = "client port"
kinds = ["log"]
unless = "listening"
match = '\[127\.0\.0\.1\]:(\d+)'
renumber = "port"

[[rule]]
name = "drop noise"
kinds = ["stderr"]
match = "^noise"
drop_following = 1

[[rule]]
name = "drop block"
match = "^BEGIN"
drop_until = "^END"

[[rule]]
name = "drop block but keep end"
match = "^START"
drop_until = "^STOP"
keep_until_line = true

[[rule]]
name = "join"
match = "^Joined:"
join_next = '^\s'
join_sep = ""

[[rule]]
name = "join one"
match = "^Once:"
join_next = '^\s'
join_sep = "/"
join_max = 1

[[rule]]
name = "note"
match = "^looked up"
insert_before = "NOTE: something"

[[rule]]
name = "filter"
flag = "rmfiltertest"
kinds = ["stdout"]
match = "^Filtering"
drop = true

[[rule]]
name = "first only then stop"
match = "^stop-a$"
replace = "stop-b"
stop = true

[[rule]]
name = "after stop"
match = "^stop-b$"
replace = "stop-c"

[[rule]]
name = "marked after a header"
after = "^HEADER$"
match = "^item"
replace = "first item"

[[rule]]
name = "after a marked line, as munged"
after = "^first item$"
match = "^item"
replace = "second item"
"#;

    fn ctx() -> Context {
        Context {
            hostname: "box.example.org".into(),
            ..Default::default()
        }
    }

    fn rules() -> RuleSet {
        RuleSet::parse(RULES, "test").unwrap()
    }

    #[test]
    fn message_ids_are_renumbered_across_files_and_names() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        let log = m.munge(
            OutputKind::Mainlog,
            "1kQ3xy-000Abc-Zz <= x\n1kQ3zz-000Abc-Zz => y 1kQ3xy-000Abc-Zz\n",
        );
        assert_eq!(
            log,
            "10HmaX-0005vi-00 <= x\n10HmaY-0005vi-00 => y 10HmaX-0005vi-00\n"
        );
        assert_eq!(m.munge_file_name("1kQ3zz-000Abc-Zz"), "10HmaY-0005vi-00");
        assert_eq!(m.munge_file_name("1kQ4zz-000Abc-Zz"), "10HmaZ-0005vi-00");
        // A new Munger (a new test) starts again from aX.
        let mut m2 = Munger::new(&rs, ctx());
        assert_eq!(
            m2.munge(OutputKind::Stdout, "1kQ4zz-000Abc-Zz"),
            "10HmaX-0005vi-00"
        );
    }

    #[test]
    fn placeholders_come_from_the_context() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(
                OutputKind::Stdout,
                "at box.example.org or boxXexample.org\n"
            ),
            "at the.local.host.name or boxXexample.org\n"
        );
    }

    #[test]
    fn kinds_and_unless_restrict_rules() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        let line = "from [127.0.0.1]:40001\n";
        assert_eq!(m.munge(OutputKind::Stdout, line), line);
        assert_eq!(m.munge(OutputKind::Msglog, line), "from [127.0.0.1]:1111\n");
        assert_eq!(
            m.munge(OutputKind::Mainlog, "listening [127.0.0.1]:40001"),
            "listening [127.0.0.1]:40001"
        );
        assert_eq!(
            m.munge(OutputKind::Mainlog, "[127.0.0.1]:40002 [127.0.0.1]:40001"),
            "[127.0.0.1]:1112 [127.0.0.1]:40001"
        );
    }

    #[test]
    fn multi_line_drops_and_joins() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(m.munge(OutputKind::Stderr, "x\nnoise\ny\nz\n"), "x\nz\n");
        assert_eq!(m.munge(OutputKind::Stdout, "noise\ny\n"), "noise\ny\n");
        assert_eq!(
            m.munge(OutputKind::Stdout, "1\nBEGIN\n2\n3\nEND\n4\n"),
            "1\n4\n"
        );
        assert_eq!(
            m.munge(OutputKind::Stdout, "1\nSTART\n2\nSTOP\n4\n"),
            "1\nSTOP\n4\n"
        );
        assert_eq!(
            m.munge(OutputKind::Stdout, "Joined: x\n  y\n  z\nw\n"),
            "Joined: x  y  z\nw\n"
        );
        assert_eq!(
            m.munge(OutputKind::Stdout, "Once: x\n  y\n  z\n"),
            "Once: x/  y\n  z\n"
        );
        // An unterminated block runs to the end of the file.
        assert_eq!(m.munge(OutputKind::Stdout, "1\nBEGIN\n2\n"), "1\n");
    }

    #[test]
    fn named_and_flags_switch_rules_on() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(OutputKind::Stdout, "quiet\nFiltering x\n"),
            "quiet\nFiltering x\n"
        );
        assert!(m.enable_named("nosuch").is_err());
        m.enable_named("shout").unwrap();
        m.set_rmfiltertest(true);
        assert_eq!(
            m.munge(OutputKind::Stdout, "quiet\nFiltering x\n"),
            "LOUD\n"
        );
    }

    #[test]
    fn insert_before_adds_a_line() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(OutputKind::Stderr, "x\nlooked up y\n"),
            "x\nNOTE: something\nlooked up y\n"
        );
    }

    #[test]
    fn date_increment_can_round_up_to_even_as_perl_does_for_dumpdb() {
        let rs = RuleSet::parse(
            "[[rule]]\nname = \"retry\"\nmatch = '^(?P<from>\\S+ \\S+)  (?P<to>\\S+ \\S+)$'\ndate_increment = \"+${even_secs} (${secs})\"\n",
            "t",
        )
        .unwrap();
        let mut m = Munger::new(&rs, ctx());
        let out = m.munge(OutputKind::Stdout, "01-Jan-2000 00:00:00  01-Jan-2000 00:00:29\n01-Jan-2000 00:00:00  01-Jan-2000 00:00:30\n");
        assert_eq!(out, "+30 (29)\n+30 (30)\n");
    }

    #[test]
    fn date_increment_keeps_only_the_interval() {
        let rs = RuleSet::parse(
            "[[rule]]\nname = \"retry\"\nmatch = '^(?P<a>\\S+ \\S+)  (?P<from>\\S+ \\S+)  (?P<to>\\S+ \\S+)(?P<x> \\*)?$'\ndate_increment = \"next = ${sign}${secs}${x}\"\n",
            "t",
        )
        .unwrap();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(
                OutputKind::Stdout,
                "22-Nov-2026 05:01:10  22-Nov-2026 05:01:12  22-Nov-2026 05:21:12 *\n"
            ),
            "next = +1200 *\n"
        );
        assert_eq!(
            m.munge(
                OutputKind::Stdout,
                "22-Nov-2026 05:01:10  22-Nov-2026 05:01:12  22-Nov-2026 05:01:02"
            ),
            "next = -10"
        );
        // Unparsable stamps leave the line alone.
        assert_eq!(
            m.munge(OutputKind::Stdout, "a b  c d  e f"),
            "a b  c d  e f"
        );
        assert!(RuleSet::parse(
            "[[rule]]\nname = \"x\"\nmatch = '(?P<from>a)'\ndate_increment = \"y\"\n",
            "t"
        )
        .unwrap_err()
        .to_string()
        .contains("no group named `to`"));
    }

    #[test]
    fn after_looks_at_the_line_before_as_munged() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(OutputKind::Stdout, "HEADER\nitem\nitem\nitem\n"),
            "HEADER\nfirst item\nsecond item\nitem\n"
        );
        // nothing before the first line: `after` cannot match there
        assert_eq!(m.munge(OutputKind::Stdout, "item\n"), "item\n");
        let bad = "[[rule]]\nname = \"x\"\nafter = \"(\"\nmatch = \"a\"\nreplace = \"b\"\n";
        let e = RuleSet::parse(bad, "bad.toml").unwrap_err().to_string();
        assert!(e.contains("after") && e.contains("bad.toml"), "{e}");
    }

    #[test]
    fn stop_ends_the_rules_for_the_line() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(
            m.munge(OutputKind::Stdout, "stop-a\nstop-b\n"),
            "stop-b\nstop-c\n"
        );
    }

    #[test]
    fn sortlog_sorts_runs_of_delivery_lines_only_when_asked() {
        let rs = rules();
        let text = "1 <= a\n3 => z\n2 -> b\n1 => c\n5 <= d\n4 => y\n4 => x\n";
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(m.munge(OutputKind::Mainlog, text), text);
        m.set_sortlog(true);
        assert_eq!(
            m.munge(OutputKind::Mainlog, text),
            "1 <= a\n1 => c\n2 -> b\n3 => z\n5 <= d\n4 => x\n4 => y\n"
        );
        assert_eq!(m.munge(OutputKind::Stdout, text), text);
    }

    #[test]
    fn actual_ports_map_to_canonical_ones_first() {
        let rs = RuleSet::parse(
            "[[rule]]\nname = \"d\"\nmatch = 'port 1225\\b'\nreplace = \"port PORT_D\"\n",
            "t",
        )
        .unwrap();
        let c = Context {
            ports: vec![(31225, 1225), (1224, 1224)],
            ..Default::default()
        };
        let mut m = Munger::new(&rs, c);
        assert_eq!(
            m.munge(OutputKind::Mainlog, "port 31225 port 312250 port 1224"),
            "port PORT_D port 312250 port 1224"
        );
    }

    #[test]
    fn a_value_after_equals_is_not_a_port() {
        // A message size that happens to equal a parallel workspace's PORT_D (Exim's 0503
        // of the project's suite, in workspace 4).
        let c = Context {
            ports: vec![(1625, 1225)],
            ..Default::default()
        };
        let rs = RuleSet::parse("", "t").unwrap();
        let mut m = Munger::new(&rs, c);
        assert_eq!(
            m.munge(
                OutputKind::Mainlog,
                "read=1625 max=1024 [127.0.0.1]:1625 port 1625"
            ),
            "read=1625 max=1024 [127.0.0.1]:1225 port 1225"
        );
        // A value named as a port is one.
        assert_eq!(
            m.munge(
                OutputKind::Stderr,
                "interface=NULL port=1625 -DPORT=daemon_smtp_port=1625:1625 sport=1625 S=1625"
            ),
            "interface=NULL port=1225 -DPORT=daemon_smtp_port=1225:1225 sport=1625 S=1625"
        );
    }

    #[test]
    fn port_positions() {
        assert!(is_port_position(""));
        assert!(is_port_position("port "));
        assert!(is_port_position("[127.0.0.1]:"));
        assert!(!is_port_position("S="));
        assert!(!is_port_position("x read="));
        assert!(is_port_position("interface=NULL port="));
        assert!(is_port_position("daemon_smtp_PORT="));
        assert!(!is_port_position("report="));
        assert!(!is_port_position("="));
    }

    #[test]
    fn missing_context_value_disables_rule() {
        let rs = RuleSet::parse(
            "[[rule]]\nname = \"v6\"\nmatch = '{HOSTIPV6}'\nreplace = \"ip6\"\n",
            "t",
        )
        .unwrap();
        let mut m = Munger::new(&rs, Context::default());
        assert_eq!(m.munge(OutputKind::Stdout, "::1\n"), "::1\n");
        let mut m = Munger::new(
            &rs,
            Context {
                hostipv6: Some("::1".into()),
                ..Default::default()
            },
        );
        assert_eq!(m.munge(OutputKind::Stdout, "::1\n"), "ip6\n");
    }

    #[test]
    fn empty_and_unterminated_text() {
        let rs = rules();
        let mut m = Munger::new(&rs, ctx());
        assert_eq!(m.munge(OutputKind::Stdout, ""), "");
        assert_eq!(m.munge(OutputKind::Stdout, "x"), "x");
        assert_eq!(m.munge(OutputKind::Stdout, "\n"), "\n");
        assert_eq!(m.munge(OutputKind::Stderr, "noise\n"), "");
    }
}
