//! Renumbering sequences: the values that replace run-dependent ids (message ids, ports…)
//! consistently within one test, as Perl runtest's `new_value()` did.

use std::collections::HashMap;

/// How a sequence counts: Perl's "magic" string increment (`aX`, `aY`, `aZ`, `bA`, …) or
/// plain integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Counter {
    Alpha(String),
    Number(u64),
}

impl Counter {
    fn value(&self) -> String {
        match self {
            Counter::Alpha(s) => s.clone(),
            Counter::Number(n) => n.to_string(),
        }
    }

    fn advance(&mut self) {
        match self {
            Counter::Alpha(s) => *s = perl_increment(s),
            Counter::Number(n) => *n += 1,
        }
    }
}

/// The definition of a sequence in `munge.toml`.
#[derive(Debug, Clone)]
pub(crate) struct SequenceDef {
    pub(crate) start: Counter,
    /// Output format; `{}` stands for the counter.
    pub(crate) format: String,
}

/// Perl's magic string increment: `az` → `ba`, `Zz` → `AAa`, `a9` → `b0`.
pub(crate) fn perl_increment(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let mut i = chars.len();
    loop {
        if i == 0 {
            // Carried off the left end: prepend the "one" of the first char's class.
            let first = chars.first().copied().unwrap_or('a');
            let one = if first.is_ascii_digit() {
                '1'
            } else if first.is_ascii_uppercase() {
                'A'
            } else {
                'a'
            };
            chars.insert(0, one);
            break;
        }
        i -= 1;
        match chars[i] {
            'z' => chars[i] = 'a',
            'Z' => chars[i] = 'A',
            '9' => chars[i] = '0',
            c => {
                chars[i] = (c as u8 + 1) as char;
                break;
            }
        }
    }
    chars.into_iter().collect()
}

/// The renumbering state of one test, shared by all its files.
#[derive(Debug, Default, Clone)]
pub(crate) struct Renumberer {
    counters: HashMap<String, Counter>,
    seen: HashMap<(String, String), String>,
}

impl Renumberer {
    /// The replacement for `old` in sequence `name`: the same one every time `old` is seen
    /// again within the test, the next value of the sequence otherwise.
    pub(crate) fn value(&mut self, name: &str, def: &SequenceDef, old: &str) -> String {
        let key = (name.to_string(), old.to_string());
        if let Some(v) = self.seen.get(&key) {
            return v.clone();
        }
        let counter = self
            .counters
            .entry(name.to_string())
            .or_insert_with(|| def.start.clone());
        let new = def.format.replace("{}", &counter.value());
        counter.advance();
        self.seen.insert(key, new.clone());
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_increment_matches_perl() {
        assert_eq!(perl_increment("aX"), "aY");
        assert_eq!(perl_increment("aZ"), "bA");
        assert_eq!(perl_increment("zZ"), "aaA");
        assert_eq!(perl_increment("Az"), "Ba");
        assert_eq!(perl_increment("a9"), "b0");
        assert_eq!(perl_increment("99"), "100");
    }

    #[test]
    fn values_are_stable_and_sequential() {
        let def = SequenceDef {
            start: Counter::Alpha("aX".into()),
            format: "10Hm{}-0005vi-00".into(),
        };
        let mut r = Renumberer::default();
        assert_eq!(r.value("msgid", &def, "one"), "10HmaX-0005vi-00");
        assert_eq!(r.value("msgid", &def, "two"), "10HmaY-0005vi-00");
        assert_eq!(r.value("msgid", &def, "one"), "10HmaX-0005vi-00");
        assert_eq!(r.value("msgid", &def, "three"), "10HmaZ-0005vi-00");
        assert_eq!(r.value("msgid", &def, "four"), "10HmbA-0005vi-00");
        let ports = SequenceDef {
            start: Counter::Number(1111),
            format: "{}".into(),
        };
        // Another sequence has its own counter and its own memory.
        assert_eq!(r.value("port", &ports, "one"), "1111");
        assert_eq!(r.value("port", &ports, "40000"), "1112");
    }
}
