//! The README's fakeserver examples are tests: the library example is this crate's
//! examples/readme.rs (compared with the README and run), the fault and personality files
//! are parsed, and the shell example runs against the built program with swaks and curl.

#[path = "../examples/readme.rs"]
mod readme_example;

mod readmeblock;

use readmeblock::block;
use std::path::Path;

#[test]
fn library_example_is_the_compiled_one_and_runs() {
    let file =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/readme.rs"))
            .unwrap();
    let code = file.split_once('\n').unwrap().1;
    assert_eq!(
        block("library"),
        code,
        "README's library example differs from examples/readme.rs"
    );
    readme_example::main().unwrap();
}

#[test]
fn fault_and_personality_examples_parse() {
    let plan =
        fakeserver::faults::FaultPlan::parse(&block("faults.toml"), "README faults.toml").unwrap();
    assert_eq!(plan.rules.len(), 2);
    let p = fakeserver::personality::Personality::parse(
        &block("personality.toml"),
        "README personality.toml",
    )
    .unwrap();
    assert!(p.section("smtp").auth_required);
}

#[test]
fn program_example_runs() {
    if !Path::new("/usr/bin/swaks").exists() {
        eprintln!("needs swaks (tools/ensure-deps installs it): skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("faults.toml"), block("faults.toml")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_fakeserver"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\nexport PATH={bin}:$PATH\n{}",
        block("program")
    );
    let out = std::process::Command::new("timeout")
        .args(["60", "bash", "-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
