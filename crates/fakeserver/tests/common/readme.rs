//! The README's fakeserver examples, for the tests that check them: the fenced block that
//! follows a `<!-- fakeserver-example: NAME ... -->` marker, and a shell example run as
//! written against the built program.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The workspace README.
pub fn readme() -> String {
    std::fs::read_to_string(super::manifest().join("../../README.md")).unwrap()
}

/// The fenced block following `<!-- fakeserver-example: NAME ... -->`.
pub fn block(name: &str) -> String {
    let r = readme();
    let marker = format!("<!-- fakeserver-example: {name}");
    let at = r
        .find(&marker)
        .unwrap_or_else(|| panic!("README lacks the {name} example"));
    let body = &r[at..];
    let body = &body[body.find("```").unwrap()..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// Run the shell example `name` with bash (`set -eu`, its background jobs killed on exit) in
/// a fresh directory holding `files` and a `crates` link to this repository's crates (the
/// examples name files relative to the repository root), with the built `fakeserver` first
/// on PATH. It must contain each of `needles` (so the test runs what it says it does) and
/// exit 0 within a minute. Skipped (see `have`) when one of `tools` is missing.
pub fn run_shell_example(name: &str, tools: &[&str], needles: &[&str], files: &[(&str, String)]) {
    if !tools.iter().all(|t| super::have(t)) {
        return;
    }
    let code = block(name);
    for n in needles {
        assert!(code.contains(n), "the {name} example lacks {n:?}:\n{code}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(super::manifest().join(".."), dir.path().join("crates")).unwrap();
    for (file, text) in files {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_fakeserver"))
        .parent()
        .unwrap();
    let script = format!("set -eu\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{code}");
    let o = super::run(
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            ),
        b"",
        Duration::from_secs(60),
    );
    assert!(
        o.status.success(),
        "the README's {name} example failed: {}",
        super::text(&o)
    );
}
