//! Shared by the integration tests: whether the machine can run runtest for real (root and
//! Debian's exim4), and small throw-away suites built in /tmp.

#![allow(dead_code)]

use std::path::Path;

/// A config enough for `exim -be` and simple deliveries.
pub const MINIMAL_CONF: &str = "exim_path = EXIM_PATH\nspool_directory = DIR/spool\nlog_file_path = DIR/spool/log/%slog\nkeep_environment = PATH\nprimary_hostname = myhost.test.ex\n";

/// True when runtest can run for real here; otherwise says why the test is skipped.
pub fn ready() -> bool {
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/exim4").exists() {
        eprintln!("skipped: needs root and /usr/sbin/exim4");
        return false;
    }
    true
}

/// A suite in /tmp (readable by the Exim user) with the given files, relative to its root,
/// and mailrig's munge rules.
pub fn suite(prefix: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/munge.toml"),
        d.path().join("munge.toml"),
    )
    .unwrap();
    d
}

/// A file a run wrote into the suite `p` (run-summary.log, failed-summary.log …), whole.
pub fn read(p: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(p.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The run's report.json in the suite `p`, parsed.
pub fn report_json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(read(p, "report.json").as_bytes()).unwrap()
}

/// runtest with Debian's Exim on the suite in `p` (the rest of its arguments to add).
#[allow(dead_code)]
pub fn runtest(p: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_runtest"));
    c.args(["/usr/sbin/exim4", "--suite"]).arg(p);
    c
}
