//! runtest-as, the helper through which runtest (as root) starts a test's commands as the
//! caller: it takes exactly the identity it is given (user, group, supplementary groups)
//! and runs the program with its arguments, or fails with status 127 and a message. Needs
//! root (anyone else cannot change identity: the test then checks only the errors).

use std::process::Command;

fn helper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runtest-as"))
}

#[test]
fn takes_the_identity_and_runs_the_program() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: identity change not tested");
        return;
    }
    let out = helper()
        .args([
            "65534",
            "65533",
            "65533,4",
            "/bin/sh",
            "-c",
            "echo $(id -u) $(id -g) $(id -G)",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(&words[..2], ["65534", "65533"], "{text}");
    let mut groups = words[2..].to_vec();
    groups.sort();
    assert_eq!(groups, ["4", "65533"], "{text}");
    // No supplementary groups at all.
    let out = helper()
        .args(["65534", "65534", "", "/bin/sh", "-c", "id -G"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65534");
}

#[test]
fn bad_arguments_and_programs_fail_with_127() {
    for args in [
        &["65534"][..],
        &["x", "1", "", "/bin/true"],
        &["0", "0", "", "/no/such/program"],
    ] {
        let out = helper().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(127), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("runtest-as: "),
            "{args:?}"
        );
    }
}
