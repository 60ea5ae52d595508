//! Saved output against munged output: whether they match, and the two renderings users know
//! from Exim's suite — the `cf` format (default) and `diff -u` (`-DIFF`). Built on `similar`.

use similar::{DiffOp, TextDiff};

/// Split into lines without their newlines (a final newline makes no extra line).
fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.split('\n').collect();
    if v.last() == Some(&"") {
        v.pop();
    }
    v
}

fn range_text(word: &str, start: usize, len: usize) -> String {
    if len == 1 {
        format!("{} {}", word, start + 1)
    } else {
        format!("{}s {}-{}", word, start + 1, start + len)
    }
}

/// Whether `a` and `b` hold the same lines, only in another order (a race between two
/// processes writing one file, typically): they differ, and every line is in both as often.
pub fn only_reordered(a: &str, b: &str) -> bool {
    let (mut al, mut bl) = (lines(a), lines(b));
    if al == bl {
        return false;
    }
    al.sort_unstable();
    bl.sort_unstable();
    al == bl
}

/// The `cf` rendering of the differences between `a` (named `a_name`) and `b`.
/// Returns None when they are the same.
pub fn cf(a_name: &str, a: &str, b_name: &str, b: &str) -> Option<String> {
    let al = lines(a);
    let bl = lines(b);
    if al == bl {
        return None;
    }
    let diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .diff_slices(&al, &bl);
    let mut out = String::new();
    let mut count = 0;
    let cap = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    for op in diff.ops() {
        let (a_start, a_len, b_start, b_len) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        count += 1;
        out.push_str("===============\n");
        // Lines on one side only: "Lines 2-3 of "y" are not present in "x" (before line 2)."
        let not_present = |start: usize, len: usize, name: &str, other: &str, before: usize| {
            format!(
                "{} of \"{name}\" {} not present in \"{other}\" (before line {}).\n",
                cap(&range_text("line", start, len)),
                if len == 1 { "is" } else { "are" },
                before + 1
            )
        };
        out.push_str(&match (a_len, b_len) {
            (0, _) => not_present(b_start, b_len, b_name, a_name, a_start),
            (_, 0) => not_present(a_start, a_len, a_name, b_name, b_start),
            _ => format!(
                "{} of \"{}\" {} not match {} of \"{}\".\n",
                cap(&range_text("line", a_start, a_len)),
                a_name,
                if a_len == 1 { "does" } else { "do" },
                range_text("line", b_start, b_len),
                b_name
            ),
        });
        out.push_str("----------\n");
        for l in &al[a_start..a_start + a_len] {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str("----------\n");
        for l in &bl[b_start..b_start + b_len] {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("===============\n");
    out.push_str(&format!(
        "{} difference{} found.\n",
        count,
        if count == 1 { "" } else { "s" }
    ));
    out.push_str(&format!(
        "\"{}\" contains {} line{}; \"{}\" contains {} line{}.\n",
        a_name,
        al.len(),
        if al.len() == 1 { "" } else { "s" },
        b_name,
        bl.len(),
        if bl.len() == 1 { "" } else { "s" }
    ));
    Some(out)
}

/// The `diff -u` rendering (saved file first, as `diff -u saved new` would show it).
pub fn unified(a_name: &str, a: &str, b_name: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let d = TextDiff::from_lines(a, b);
    Some(
        d.unified_diff()
            .context_radius(3)
            .header(a_name, b_name)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_is_none() {
        assert!(cf("a", "x\ny\n", "b", "x\ny\n").is_none());
        assert!(unified("a", "x\n", "b", "x\n").is_none());
    }

    #[test]
    fn replace_block() {
        let a = "1\n2\nexit 1\nmore\nexit 1\n9\n";
        let b = "1\n2\nabandoned\nexit 2\nmore\nabandoned\nexit 2\n9\n";
        let out = cf("test-stdout-munged", a, "stdout/1300", b).unwrap();
        assert!(out.starts_with("===============\nLine"), "{out}");
        assert!(
            out.ends_with(
                "\"test-stdout-munged\" contains 6 lines; \"stdout/1300\" contains 8 lines.\n"
            ),
            "{out}"
        );
        assert!(out.contains("differences found.") || out.contains("1 difference found."));
    }

    #[test]
    fn single_line_wording() {
        let out = cf("x", "a\nb\nc\n", "y", "a\nB\nc\n").unwrap();
        assert_eq!(
            out,
            "===============\nLine 2 of \"x\" does not match line 2 of \"y\".\n----------\nb\n----------\nB\n===============\n1 difference found.\n\"x\" contains 3 lines; \"y\" contains 3 lines.\n"
        );
    }

    #[test]
    fn extra_and_missing_lines() {
        let out = cf("x", "a\nc\n", "y", "a\nb1\nb2\nc\n").unwrap();
        assert!(
            out.contains("Lines 2-3 of \"y\" are not present in \"x\" (before line 2).\n"),
            "{out}"
        );
        let out = cf("x", "a\nb\nc\n", "y", "a\nc\n").unwrap();
        assert!(
            out.contains("Line 2 of \"x\" is not present in \"y\" (before line 2).\n"),
            "{out}"
        );
    }

    #[test]
    fn unified_has_headers() {
        let out = unified("stdout/1", "a\nb\n", "test-stdout-munged", "a\nc\n").unwrap();
        assert!(
            out.starts_with("--- stdout/1\n+++ test-stdout-munged\n@@"),
            "{out}"
        );
        assert!(out.contains("-b\n+c\n"));
    }

    #[test]
    fn reordered_lines() {
        assert!(only_reordered("a\nb\nc\n", "a\nc\nb\n"));
        assert!(!only_reordered("a\nb\n", "a\nb\n"));
        assert!(!only_reordered("a\nb\n", "a\nb\nb\n"));
        assert!(!only_reordered("a\nb\n", "a\nc\n"));
    }
}
