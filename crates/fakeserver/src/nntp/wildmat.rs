//! Wildmat matching (RFC 3977 §4, with the `[set]` and `\` escapes of INN's wildmat that
//! RFC 2980's XPAT and LIST arguments use). Pure; works on Unicode scalar values so `?`
//! matches one character of a UTF-8 group name or header.
//!
//! A wildmat is a comma-separated list of patterns, each optionally preceded by `!`; the
//! *last* pattern that matches decides (a match of a `!` pattern means "no"). Inside a
//! pattern `*` matches any run, `?` one character, `[...]` a set (`^` or `!` first negates,
//! `a-z` ranges, `]` first is literal) and `\` makes the next character literal.

/// Does `text` match the wildmat `wildmat`?
pub fn matches(wildmat: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let mut verdict = false;
    for part in split_list(wildmat) {
        let (negated, pat) = match part.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, part.as_str()),
        };
        let pat: Vec<char> = pat.chars().collect();
        if match_here(&pat, &text) {
            verdict = !negated;
        }
    }
    verdict
}

/// Split on commas that are not escaped or inside a `[set]`.
fn split_list(w: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = w.chars().peekable();
    let mut in_set = false;
    let mut set_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                set_start = false;
            }
            '[' if !in_set => {
                in_set = true;
                set_start = true;
                cur.push(c);
            }
            ']' if in_set && !set_start => {
                in_set = false;
                cur.push(c);
            }
            ',' if !in_set => parts.push(std::mem::take(&mut cur)),
            _ => {
                // `^`/`!` right after `[` keeps us at the set's start (a `]` there is literal).
                set_start = set_start && (c == '^' || c == '!') && cur.ends_with('[');
                cur.push(c);
            }
        }
    }
    parts.push(cur);
    parts
}

/// Iterative glob match with backtracking on the last `*` (linear in practice, no recursion
/// blow-up on hostile patterns).
fn match_here(pat: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            match pat[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = match_set(&pat[p..], text[t]) {
                        if ok {
                            p += len;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        // An unterminated set is a literal '['.
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                '\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == text[t] {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if c == text[t] {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|c| *c == '*')
}

/// Match one character against the set at the start of `pat` (which begins with `[`).
/// Returns (matched, length of the set in `pat`), or `None` when the set is not closed.
fn match_set(pat: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let mut lo = *pat.get(i)?;
        if lo == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if lo == '\\' {
            i += 1;
            lo = *pat.get(i)?;
        }
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|h| *h != ']') {
            let mut hi_at = i + 2;
            if pat[hi_at] == '\\' {
                hi_at += 1;
            }
            let hi = *pat.get(hi_at)?;
            if lo <= c && c <= hi {
                found = true;
            }
            i = hi_at + 1;
        } else {
            if lo == c {
                found = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn basics() {
        assert!(matches("*", "comp.lang.rust"));
        assert!(matches("comp.*", "comp.lang.rust"));
        assert!(!matches("comp.*", "alt.comp"));
        assert!(matches("comp.lang.?ust", "comp.lang.rust"));
        assert!(matches("*rust", "comp.lang.rust"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn lists_last_match_wins() {
        assert!(matches("comp.*,!comp.lang.*", "comp.os.linux"));
        assert!(!matches("comp.*,!comp.lang.*", "comp.lang.c"));
        assert!(matches(
            "comp.*,!comp.lang.*,comp.lang.rust",
            "comp.lang.rust"
        ));
        assert!(!matches("!comp.*", "comp.x"));
        assert!(!matches("!comp.*", "alt.x"));
    }

    #[test]
    fn sets_and_escapes() {
        assert!(matches("[abc]x", "bx"));
        assert!(!matches("[^abc]x", "bx"));
        assert!(matches("[a-c]*", "cat"));
        assert!(matches("[]]", "]"));
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "x"));
        assert!(matches("[,]", ","));
        assert!(matches("[", "["));
        assert!(matches("ü?", "üß"));
    }

    #[test]
    fn hostile_patterns_terminate() {
        let pat = "*a".repeat(200);
        let text = "a".repeat(199) + "b";
        assert!(!matches(&pat, &text));
    }
}
