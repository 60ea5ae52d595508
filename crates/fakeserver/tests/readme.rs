//! The README's fakeserver examples are tests: the library examples are this crate's
//! examples/readme.rs and the doctests of the `pop3` and `nntp` modules (compared with the
//! README; the example run here, the doctests by `cargo test --doc`), the fault and
//! personality files are parsed, and each shell example runs as written against the built
//! program with its clients (swaks, curl, Python's imaplib and nntplib).

#[path = "../examples/readme.rs"]
mod readme_example;

mod common;

use common::readme::{block, run_shell_example};
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
    run_shell_example(
        "program",
        &["swaks", "curl"],
        &["fakeserver smtp", "swaks"],
        &[("faults.toml", block("faults.toml"))],
    );
}

/// The ```` ``` ```` block of a module's doc comment, without the `//! ` prefixes.
fn doctest(module: &str) -> String {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(module)).unwrap();
    let lines: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let start = lines.iter().position(|l| l.starts_with("```")).unwrap() + 1;
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.starts_with("```"))
            .unwrap();
    lines[start..end].iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn pop3_and_nntp_library_examples_are_the_doctests() {
    assert_eq!(block("pop3-library"), doctest("src/pop3/mod.rs"));
    assert_eq!(block("nntp-library"), doctest("src/nntp/mod.rs"));
}

#[test]
fn pop3_program_example_runs() {
    run_shell_example(
        "pop3-program",
        &["curl", "python3"],
        &["fakeserver pop3"],
        &[],
    );
}

#[test]
fn nntp_program_example_runs() {
    run_shell_example(
        "nntp-program",
        &["curl", "python3"],
        &["fakeserver nntp"],
        &[],
    );
}

/// The program with `--load`, `--users`, STARTTLS and the Dovecot personality, driven by
/// Python's imaplib.
#[test]
fn imap_program_example_runs() {
    run_shell_example(
        "imap-program",
        &["python3"],
        &["imaplib", "fakeserver imap"],
        &[],
    );
}

/// The IMAP control API: the program, curl, and Python's imaplib seeing the FETCH and
/// EXPUNGE after NOOP.
#[test]
fn imap_control_example_runs() {
    run_shell_example(
        "imap-control",
        &["python3", "curl"],
        &["imaplib", "/api/deliver/"],
        &[],
    );
}
