//! End-to-end tests of the small aux programs: showids, iefbr14, fd and checkaccess.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn showids_prints_the_four_ids() {
    let out = Command::new(env!("CARGO_BIN_EXE_showids"))
        .output()
        .unwrap();
    assert!(out.status.success());
    // SAFETY: the id getters have no preconditions.
    let (uid, gid, euid, egid) = unsafe {
        (
            libc::getuid(),
            libc::getgid(),
            libc::geteuid(),
            libc::getegid(),
        )
    };
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("uid={uid} gid={gid} euid={euid} egid={egid}\n")
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_showids"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn iefbr14_does_nothing_successfully() {
    let out = Command::new(env!("CARGO_BIN_EXE_iefbr14"))
        .args(["any", "-x", "args"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let help = Command::new(env!("CARGO_BIN_EXE_iefbr14"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Does nothing"));
}

fn fd_lines(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}

#[test]
fn fd_reports_the_standard_descriptors() {
    // stdin, stdout and stderr are pipes. Whatever else the test process inherited may be
    // listed too, but only in the same format.
    let out = Command::new(env!("CARGO_BIN_EXE_fd"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = fd_lines(&String::from_utf8(out.stdout).unwrap());
    assert!(lines.len() >= 4, "{lines:?}");
    assert!(lines[0].starts_with("max fd = "), "{lines:?}");
    let max: i64 = lines[0]["max fd = ".len()..].parse().unwrap();
    assert!(max >= 2);
    assert!(
        lines[1].starts_with("  0 opt=0 status=") && lines[1].ends_with(" RDONLY"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("  1 opt=0 status=") && lines[2].ends_with(" WRONLY"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("  2 opt=0 status=") && lines[3].ends_with(" WRONLY"),
        "{lines:?}"
    );
    for line in &lines[4..] {
        let (fd, rest) = line.trim_start().split_once(' ').unwrap();
        assert!(
            fd.parse::<i64>().unwrap() > 2 && rest.starts_with("opt="),
            "{line:?}"
        );
    }
}

#[test]
fn fd_as_a_filter_and_for_queryprogram() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fd"))
        .arg("-f")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Test message\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Test message\nmax fd = "), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_fd"))
        .args(["-q", "-s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("ACCEPT DATA=\"max fd = ") && text.ends_with("\"\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains(" mode="), "-s adds fstat details: {text}");

    let bad = Command::new(env!("CARGO_BIN_EXE_fd"))
        .arg("-z")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "fd: unexpected argument '-z' found (see --help)\n"
    );
}

fn checkaccess(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_checkaccess"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn checkaccess_bad_arguments() {
    let (code, _) = checkaccess(&["/tmp"]);
    assert_eq!(code, Some(1));
    let (code, text) = checkaccess(&["/tmp", "no-such-user-xyz", "0"]);
    assert_eq!(
        (code, text.as_str()),
        (Some(1), "checkaccess: no such user: no-such-user-xyz\n")
    );
}

#[test]
fn checkaccess_as_root_tests_the_other_users_access() {
    if !is_root() {
        eprintln!("SKIPPED: checkaccess needs root to change user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let shut = dir.path().join("shut");
    std::fs::create_dir(&shut).unwrap();
    std::fs::set_permissions(&shut, std::fs::Permissions::from_mode(0o700)).unwrap();

    let nobody = "65534";
    let (code, text) = checkaccess(&[open.to_str().unwrap(), nobody, nobody]);
    assert_eq!((code, text.as_str()), (Some(0), ""));
    let (code, text) = checkaccess(&[shut.to_str().unwrap(), nobody, nobody]);
    assert_eq!(code, Some(1));
    assert!(
        text.starts_with("checkaccess: uid 65534 gid 65534 cannot open")
            && text.contains("Permission denied"),
        "{text}"
    );
    // Root itself can open it, proving the failure came from the switch.
    let (code, _) = checkaccess(&[shut.to_str().unwrap(), "root", "root"]);
    assert_eq!(code, Some(0));
}
