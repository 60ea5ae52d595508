//! Real Exim loads the library through `${dlfunc}`. Skipped (with a message) when no Exim
//! binary with dlfunc support is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn exim() -> Option<PathBuf> {
    ["/usr/sbin/exim4", "/usr/sbin/exim", "/usr/exim/bin/exim"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("deps folder").join("libloaded.so")
}

fn expand(exim: &Path, config: &Path, text: &str) -> (bool, String) {
    let out = Command::new(exim)
        .arg("-C")
        .arg(config)
        .arg("-be")
        .arg(text)
        .output()
        .expect("run exim");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s.trim_end().to_string())
}

#[test]
fn exim_dlfunc_calls_dltest() {
    let Some(exim) = exim() else {
        eprintln!("SKIPPED: no Exim binary installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conf");
    std::fs::write(
        &config,
        format!(
            "spool_directory = {0}/spool\nlog_file_path = {0}/%slog\nprimary_hostname = test.ex\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let lib = library();
    let (ok, out) = expand(&exim, &config, "x");
    if !ok {
        eprintln!("SKIPPED: this Exim cannot expand with a private config: {out}");
        return;
    }
    let call = |args: &str| format!("[${{dlfunc{{{}}}{{dltest}}{args}}}]", lib.display());
    let (ok, out) = expand(&exim, &config, &call(""));
    if out.contains("not supported") || out.contains("dlfunc") && !ok {
        eprintln!("SKIPPED: this Exim has no dlfunc support: {out}");
        return;
    }
    assert_eq!((ok, out.as_str()), (true, "[]"));
    assert_eq!(
        expand(&exim, &config, &call("{echo me}")),
        (true, "[echo me]".to_string())
    );
    // -be reports a failed expansion on its output, not in its exit status.
    let (_, out) = expand(&exim, &config, &call("{a}{the message}"));
    assert_eq!(out, "Failed: the message");
}
