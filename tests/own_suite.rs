//! The project's own Exim suite (the repository root): every saved file belongs to a test that
//! produces it, the whole suite passes against Debian's exim4, and deliberately broken copies
//! (a wrong saved output, a wrong exit code, a hanging command) are reported as such. The runs
//! need root and /usr/sbin/exim4; the static check runs anywhere.

mod common;

use common::ready;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The folders of saved outputs, and whether their files are `NNNN.<name>` (one per file the
/// test leaves) rather than `NNNN`.
const SAVED: &[(&str, bool)] = &[
    ("stdout", false),
    ("stderr", false),
    ("log", false),
    ("paniclog", false),
    ("rejectlog", false),
    ("mail", true),
    ("msglog", true),
];

/// Every test script of the suite: number → path.
fn scripts(root: &Path) -> BTreeMap<u32, PathBuf> {
    let mut tests = BTreeMap::new();
    for folder in std::fs::read_dir(root.join("scripts")).unwrap().flatten() {
        for f in std::fs::read_dir(folder.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit()) {
                let n: u32 = name.parse().unwrap();
                assert!(
                    tests.insert(n, f.path()).is_none(),
                    "test {name} is in two folders"
                );
            }
        }
    }
    tests
}

#[test]
fn every_saved_file_belongs_to_a_test_that_checks_it() {
    let root = Path::new(ROOT);
    let tests = scripts(root);
    assert!(tests.len() >= 80, "the suite has {} tests", tests.len());
    let mut orphans = Vec::new();
    for (dir, per_file) in SAVED {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let (num, rest) = name.split_at(name.len().min(4));
            let well_formed = num.bytes().all(|b| b.is_ascii_digit())
                && if *per_file {
                    rest.len() > 1 && rest.starts_with('.')
                } else {
                    rest.is_empty()
                };
            let Some(script) = well_formed
                .then(|| num.parse::<u32>().ok())
                .flatten()
                .and_then(|n| tests.get(&n))
            else {
                orphans.push(format!(
                    "{dir}/{name}: no test {num} (or a name runtest never compares)"
                ));
                continue;
            };
            // A saved stdout or stderr is never compared when the script says not to.
            let text = std::fs::read_to_string(script).unwrap();
            let unchecked = |cmd: &str| text.lines().any(|l| l.trim() == cmd);
            if (*dir == "stdout" && unchecked("no_stdout_check"))
                || (*dir == "stderr" && unchecked("no_stderr_check"))
                || (*dir == "mail" && unchecked("no_message_check"))
                || (*dir == "msglog" && unchecked("no_msglog_check"))
            {
                orphans.push(format!("{dir}/{name}: test {num} says it is not compared"));
            }
        }
    }
    assert!(
        orphans.is_empty(),
        "orphaned saved files:\n{}",
        orphans.join("\n")
    );
}

/// A copy of the suite in /tmp (readable by the caller and the Exim user).
fn copy_suite(prefix: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = Path::new(ROOT);
    let dirs = [
        "scripts",
        "confs",
        "aux-fixed",
        "aux-var-src",
        "dnszones-src",
    ]
    .into_iter()
    .chain(SAVED.iter().map(|(s, _)| *s));
    for dir in dirs {
        let from = root.join(dir);
        for e in walkdir::WalkDir::new(&from).into_iter().flatten() {
            let to = d
                .path()
                .join(dir)
                .join(e.path().strip_prefix(&from).unwrap());
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else if e.file_type().is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &to).unwrap();
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    }
    std::fs::copy(root.join("munge.toml"), d.path().join("munge.toml")).unwrap();
    d
}

fn runtest(suite: &Path, args: &[&str]) -> (Option<i32>, String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_runtest"))
        .args(["/usr/sbin/exim4", "--suite"])
        .arg(suite)
        .args(["-CONTINUE", "--json"])
        .arg(suite.join("report.json"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json =
        serde_json::from_slice(&std::fs::read(suite.join("report.json")).unwrap_or_default())
            .unwrap_or_default();
    (out.status.code(), stdout, json)
}

#[test]
fn the_whole_suite_passes() {
    if !ready() {
        return;
    }
    let d = copy_suite("mailrig-own-suite");
    let (code, stdout, json) = runtest(d.path(), &["--fail-exit", "--port-offset", "1500"]);
    assert_eq!(code, Some(0), "{stdout}");
    let count = scripts(Path::new(ROOT)).len() as u64;
    assert_eq!(
        json["passed"].as_u64(),
        Some(count),
        "every test passes on Debian's exim4 4.96:\n{stdout}"
    );
    assert_eq!(json["failed"].as_u64(), Some(0));
}

#[test]
fn broken_copies_are_reported() {
    if !ready() {
        return;
    }
    let d = copy_suite("mailrig-broken-suite");
    let p = d.path();
    // 0003: a saved output that no longer matches.
    let mut saved = std::fs::read_to_string(p.join("stdout/0003")).unwrap();
    saved.push_str("a line the test never prints\n");
    std::fs::write(p.join("stdout/0003"), saved).unwrap();
    // 0004: an exit code the command will not give.
    let script = p.join("scripts/0000-Basic/0004");
    let text = std::fs::read_to_string(&script)
        .unwrap()
        .replacen("exim -bh", "2\nexim -bh", 1);
    std::fs::write(&script, text).unwrap();
    // 0005: a command that never ends.
    let script = p.join("scripts/0000-Basic/0005");
    let text = std::fs::read_to_string(&script).unwrap();
    let (heading, rest) = text.split_once('\n').unwrap();
    std::fs::write(
        &script,
        format!("{heading}\nperl\nsleep 600;\n****\n{rest}"),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let (code, stdout, json) = runtest(
        p,
        &[
            "--fail-exit",
            "--timeout",
            "5",
            "--port-offset",
            "1600",
            "1",
            "5",
        ],
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "the hanging command was not ended"
    );
    assert_eq!(code, Some(1), "{stdout}");
    let tests = json["tests"].as_array().unwrap();
    let by_number = |n: u64| {
        tests
            .iter()
            .find(|t| t["number"].as_u64() == Some(n))
            .unwrap()
    };
    for n in [1, 2] {
        assert_eq!(by_number(n)["verdict"], "P", "{stdout}");
    }
    let t3 = by_number(3);
    assert_eq!(
        (t3["verdict"].as_str(), t3["failures"][0].as_str()),
        (Some("F"), Some("stdout/0003")),
        "{stdout}"
    );
    assert!(
        t3["output"]
            .as_str()
            .unwrap()
            .contains("a line the test never prints"),
        "{t3}"
    );
    let t4 = by_number(4);
    assert_eq!(
        (t4["verdict"].as_str(), t4["failures"][0].as_str()),
        (Some("F"), Some("exit code unexpected")),
        "{stdout}"
    );
    assert!(
        t4["output"]
            .as_str()
            .unwrap()
            .contains("** Return code 0 (expected 2)"),
        "{t4}"
    );
    let t5 = by_number(5);
    assert_eq!(
        (t5["verdict"].as_str(), t5["failures"][0].as_str()),
        (Some("F"), Some("exit code unexpected")),
        "{stdout}"
    );
    assert!(
        t5["output"]
            .as_str()
            .unwrap()
            .contains("timed out after 5 seconds"),
        "{t5}"
    );
    let summary = std::fs::read_to_string(p.join("run-summary.log")).unwrap();
    assert_eq!(summary, "0001 P\n0002 P\n0003 F\n0004 F\n0005 F\n");
    let failed = std::fs::read_to_string(p.join("failed-summary.log")).unwrap();
    for line in [
        "Test 0003 stdout/0003 failed",
        "Test 0004 exit code unexpected failed",
        "Test 0005 exit code unexpected failed",
    ] {
        assert!(failed.contains(line), "{failed}");
    }
    // Nothing the tests started is left, and the failures' files are kept.
    let leftovers = Command::new("pgrep")
        .args(["-f", &p.display().to_string()])
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
    assert!(std::fs::read_dir(p.join("workspace"))
        .unwrap()
        .flatten()
        .any(|w| w.path().join("test-stdout").exists()));
}

/// The suite is also the harness's showcase: every script command and every kind of saved
/// output is used by at least one test.
#[test]
fn every_command_and_output_kind_is_used() {
    use mailrig::script::Command as C;
    let root = Path::new(ROOT);
    let mut used = std::collections::BTreeSet::new();
    let mut sudo = false;
    for path in scripts(root).values() {
        let script = mailrig::script::parse_script(path).unwrap();
        for step in &script.steps {
            let mut cmd = &step.command;
            if let C::Background(inner) = cmd {
                used.insert("background");
                cmd = inner;
            }
            used.insert(cmd.name());
            if let C::Client { program, .. } = cmd {
                used.insert(if program == "client" {
                    "client"
                } else {
                    "client (TLS)"
                });
            }
            sudo |= matches!(
                cmd,
                C::Perl { sudo: Some(_), .. }
                    | C::File(mailrig::script::FileCommand { sudo: Some(_), .. })
            );
            sudo |= matches!(cmd, C::Exim { sudo: Some(_), .. });
        }
    }
    let all = [
        "###",
        "exim",
        "exim_exim",
        "client",
        "client (TLS)",
        "server",
        "killdaemon",
        "sleep",
        "millisleep",
        "gnutls",
        "echo",
        "munge",
        "sortlog",
        "rmfiltertest",
        "no_check",
        "need",
        "dump",
        "dbmbuild",
        "exim_lock",
        "exinext",
        "exigrep",
        "exiqgrep",
        "eximstats",
        "perl",
        "background",
        "write",
        "catwrite",
        "file",
    ];
    let missing: Vec<&str> = all.iter().copied().filter(|c| !used.contains(c)).collect();
    assert!(missing.is_empty(), "no test uses: {missing:?}");
    assert!(sudo, "no test uses sudo");
    for (dir, _) in SAVED {
        let any = std::fs::read_dir(root.join(dir))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        assert!(any, "no test saves {dir} output");
    }
}
