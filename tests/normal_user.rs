//! As a normal user, as the Perl runtest is run: a maintainer account with passwordless sudo
//! (made here, and removed at the end) runs runtest as itself. runtest restarts itself
//! through sudo, the tests run with that account as their caller, the test passes, and the
//! summary logs runtest writes into the suite belong to the maintainer. Needs root, sudo
//! (tools/ensure-deps installs it) and Debian's exim4.

mod common;

use common::ready;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

const MAINTAINER: &str = "rtmaint";
const SUDOERS: &str = "/etc/sudoers.d/mailrig-rtmaint";

/// The maintainer account and its sudo rule, removed when dropped (even on failure).
struct Maintainer {
    uid: u32,
}

impl Maintainer {
    fn create() -> Maintainer {
        let _ = Command::new("userdel")
            .args(["--remove", MAINTAINER])
            .stderr(Stdio::null())
            .status();
        let ok = Command::new("useradd")
            .args([
                "--user-group",
                "--create-home",
                "--shell",
                "/bin/sh",
                "--groups",
                "Debian-exim",
                MAINTAINER,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "useradd {MAINTAINER}");
        std::fs::write(
            SUDOERS,
            format!("{MAINTAINER} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(SUDOERS, std::fs::Permissions::from_mode(0o440)).unwrap();
        let uid = nix::unistd::User::from_name(MAINTAINER)
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        Maintainer { uid }
    }
}

impl Drop for Maintainer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(SUDOERS);
        let _ = Command::new("userdel")
            .args(["--remove", MAINTAINER])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_maintainer_with_sudo_runs_it_as_themselves() {
    if !ready() {
        return;
    }
    assert!(
        which::which("sudo").is_ok(),
        "sudo is missing: tools/ensure-deps installs it"
    );
    let m = Maintainer::create();
    let conf = common::MINIMAL_CONF;
    let d = common::suite(
        "mailrig-normal-user",
        &[
            ("confs/0001", conf),
            (
                "scripts/0000-Basic/0001",
                "# Caller\nexim -be\n${length_2:abc}\n****\ntouch DIR/made-by-the-caller\n",
            ),
            ("stdout/0001", "> ab\n> \n"),
        ],
    );
    let p = d.path();
    let out = Command::new("runuser")
        .args(["-u", MAINTAINER, "--"])
        .arg(env!("CARGO_BIN_EXE_runtest"))
        .args(["/usr/sbin/exim4", "--suite"])
        .arg(p)
        .args(["-CONTINUE", "-KEEP", "--port-offset", "920", "1", "+"])
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("Caller:      {MAINTAINER} (uid {}", m.uid)),
        "{stdout}"
    );
    let summary = p.join("run-summary.log");
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        "0001 P\n",
        "{stdout}"
    );
    assert_eq!(
        std::fs::metadata(&summary).unwrap().uid(),
        m.uid,
        "run-summary.log belongs to the maintainer"
    );
    assert_eq!(
        std::fs::metadata(p.join("failed-summary.log"))
            .unwrap()
            .uid(),
        m.uid
    );
    // The test's commands ran as the maintainer.
    let made = std::fs::metadata(p.join("workspace/0/made-by-the-caller")).unwrap();
    assert_eq!(made.uid(), m.uid);
}
