//! Which shell command lines need no shell. runtest builds every command as a line for
//! `/bin/sh -c` (as the Perl runtest does), but most of them — an exim with its options, an
//! aux program, `rm DIR/x` — are plain words with output redirections. For those, starting a
//! shell that forks and waits only adds two processes (and, as root, the cost of an exec of
//! a shell) to every command of every test. This decides, without running anything, whether
//! a line is such a line, and what its words and redirections are; a line with anything the
//! shell would interpret (quotes, `$`, globs, `;`, a builtin, an assignment …) is left to the
//! shell.

/// Where a redirected stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// `>>FILE`: appended to this file (relative to the command's folder, or absolute).
    Append(String),
    /// `2>&1`: where stdout goes.
    Stdout,
}

/// A line that can be run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direct {
    /// The program (as written: a path, or a name looked up in PATH) and its arguments.
    pub argv: Vec<String>,
    /// None: inherited.
    pub stdout: Option<Sink>,
    pub stderr: Option<Sink>,
}

/// Characters that mean something to the shell anywhere in a word (after the trailing
/// redirections are taken off). Conservative: `#`, `~`, `{`, `}` and `!` only matter at the
/// start of a word, `=` only in the first one, but any of them sends the line to the shell.
const SPECIAL: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
    '{', '}', '!', '\n', '\r',
];

/// The words dash reads as a builtin or a reserved word when they come first: these behave
/// differently from (or do not exist as) programs of the same name (`echo -e`, `cd`).
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "alias", "bg", "break", "case", "cd", "chdir", "command", "continue", "do",
    "done", "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg",
    "fi", "for", "getopts", "hash", "if", "in", "jobs", "kill", "local", "printf", "pwd", "read",
    "readonly", "return", "set", "shift", "test", "then", "times", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// A file name in a redirection: nothing the shell would expand or split.
fn plain_file(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+' | ',' | '@' | ':')
        })
}

/// The line as words and redirections when the shell would do nothing but split it into
/// words on blanks and apply `>>FILE`, `2>>FILE` and `2>&1` at its end; None otherwise.
pub fn direct(line: &str) -> Option<Direct> {
    let mut words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    // The redirections at the end, in the order written.
    let mut tail = Vec::new();
    while let Some(w) = words.last() {
        if w.starts_with(">>") || w.starts_with("2>") {
            tail.push(*w);
            words.pop();
        } else {
            break;
        }
    }
    tail.reverse();
    let (mut stdout, mut stderr) = (None, None);
    for r in tail {
        if let Some(f) = r.strip_prefix("2>>") {
            if stderr.is_some() || !plain_file(f) {
                return None;
            }
            stderr = Some(Sink::Append(f.to_string()));
        } else if r == "2>&1" {
            // Only after stdout is redirected (else it is runtest's own stdout).
            if stderr.is_some() || stdout.is_none() {
                return None;
            }
            stderr = Some(Sink::Stdout);
        } else if let Some(f) = r.strip_prefix(">>") {
            // A stdout redirection after `2>&1` would leave stderr where stdout was.
            if stdout.is_some() || stderr.is_some() || !plain_file(f) {
                return None;
            }
            stdout = Some(Sink::Append(f.to_string()));
        } else {
            return None;
        }
    }
    let first = *words.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first) {
        return None;
    }
    if words.iter().any(|w| w.contains(SPECIAL)) {
        return None;
    }
    Some(Direct {
        argv: words.iter().map(|w| w.to_string()).collect(),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(d: &Direct) -> Vec<&str> {
        d.argv.iter().map(String::as_str).collect()
    }

    #[test]
    fn an_exim_line_needs_no_shell() {
        let d = direct("/w/eximdir/exim -DEXIM_PATH=/w/eximdir/exim -C /w/test-config -odi userx@test.ex >>test-stdout 2>>test-stderr").unwrap();
        assert_eq!(
            words(&d),
            [
                "/w/eximdir/exim",
                "-DEXIM_PATH=/w/eximdir/exim",
                "-C",
                "/w/test-config",
                "-odi",
                "userx@test.ex"
            ]
        );
        assert_eq!(d.stdout, Some(Sink::Append("test-stdout".into())));
        assert_eq!(d.stderr, Some(Sink::Append("test-stderr".into())));
        let d = direct("/w/bin/client 127.0.0.1 1225 >>test-stdout 2>&1").unwrap();
        assert_eq!((words(&d).len(), d.stderr.clone()), (3, Some(Sink::Stdout)));
        let d = direct("rm  -f\t/w/x").unwrap();
        assert_eq!(
            (words(&d), d.stdout.clone(), d.stderr.clone()),
            (vec!["rm", "-f", "/w/x"], None, None)
        );
    }

    #[test]
    fn anything_the_shell_interprets_stays_with_it() {
        for line in [
            "/w/eximdir/exim -F 'Julius Caesar' x >>test-stdout",
            "/w/eximdir/exim -Mrm $msg2 >>test-stdout",
            "(/w/eximdir/exigrep x < /w/spool/log/mainlog; echo exigrep exit code = $?) >>test-stdout",
            "ls -l /w/test-mail/* >>test-stdout",
            "TZ=GB /w/eximdir/exim -bV >>test-stdout",
            "echo -e hi >>test-stdout",
            "cd /w >>test-stdout",
            "rm /w/x; ls >>test-stdout",
            "perl -e print\\ 1 >>test-stdout",
            "cat ~/x",
            "ls [ab] >>test-stdout",
            "a\nb",
            "",
            "  ",
            ">>test-stdout",
        ] {
            assert_eq!(direct(line), None, "{line:?}");
        }
    }

    #[test]
    fn only_plain_redirections_at_the_end() {
        // 2>&1 before stdout is redirected, two stdouts, a redirection in the middle.
        assert_eq!(direct("/bin/x 2>&1 >>f"), None);
        assert_eq!(direct("/bin/x 2>&1"), None);
        assert_eq!(direct("/bin/x >>f >>g"), None);
        assert_eq!(direct("/bin/x >>f 2>>g 2>&1"), None);
        assert_eq!(direct("/bin/x >>f y"), None);
        assert_eq!(direct("/bin/x >f"), None);
        assert_eq!(direct("/bin/x 2>f"), None);
        assert_eq!(direct("/bin/x >>$f"), None);
        assert_eq!(direct("/bin/x >>"), None);
        let d = direct("/bin/x -a=b 2>>test-stderr-server").unwrap();
        assert_eq!(
            (d.stdout, d.stderr),
            (None, Some(Sink::Append("test-stderr-server".into())))
        );
        // Non-ASCII text is only text to the shell.
        assert_eq!(words(&direct("/bin/x café").unwrap()), ["/bin/x", "café"]);
    }
}
