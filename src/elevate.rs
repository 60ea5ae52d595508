//! Running runtest as a normal user, as the Perl runtest is run: a maintainer with sudo
//! rights types `./runtest` as themselves. runtest then restarts itself through `sudo -n`
//! (root does the work that needs root: the setuid copy of Exim, the trusted configs, the
//! private host name, killing what a test left), with that user as the caller of the tests
//! (`--caller`, unless given), and gives the files it writes into the user's suite (summary
//! logs, reports, saved files, timings) back to them.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// The environment variable that carries the invoking user (`uid:gid:name`) across sudo.
pub const INVOKER_ENV: &str = "MAILRIG_INVOKER";

/// The user who ran runtest, when it restarted itself through sudo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
}

/// Parse the [`INVOKER_ENV`] value.
pub fn parse_invoker(v: &str) -> Option<Invoker> {
    let mut it = v.splitn(3, ':');
    let uid = it.next()?.parse().ok()?;
    let gid = it.next()?.parse().ok()?;
    let name = it.next()?.to_string();
    (!name.is_empty() && uid != 0).then_some(Invoker { uid, gid, name })
}

/// Who ran runtest, if it is root now by way of [`restart_under_sudo`].
pub fn invoker() -> Option<Invoker> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    parse_invoker(&std::env::var(INVOKER_ENV).ok()?)
}

/// The command line of the restart: `sudo -n env MAILRIG_INVOKER=… [TERM=…] [EXIM_TEST_*=…]
/// RUNTEST [--caller NAME] ARGS`.
pub fn sudo_command_line(
    exe: &Path,
    args: &[OsString],
    inv: &Invoker,
    env: &[(String, String)],
) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "-n".into(),
        "/usr/bin/env".into(),
        format!("{INVOKER_ENV}={}:{}:{}", inv.uid, inv.gid, inv.name).into(),
    ];
    for (k, val) in env {
        if k == "TERM" || k.starts_with("EXIM_TEST_") {
            v.push(format!("{k}={val}").into());
        }
    }
    v.push(exe.into());
    let mut args = args.to_vec();
    let has_caller = args
        .iter()
        .any(|a| a == "--caller" || a.to_string_lossy().starts_with("--caller="));
    if !has_caller {
        // After the binary, which must come first.
        let at = usize::from(
            args.first()
                .is_some_and(|a| !a.to_string_lossy().starts_with('-')),
        );
        args.splice(
            at..at,
            [OsString::from("--caller"), OsString::from(inv.name.clone())],
        );
    }
    v.extend(args);
    v
}

/// As a normal user: restart runtest as root through `sudo -n` (never a password prompt:
/// a maintainer's sudo must let them run it without one). Returns only on failure.
pub fn restart_under_sudo(args: &[OsString]) -> Result<std::convert::Infallible> {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .with_context(|| format!("uid {uid} has no passwd entry"))?;
    let Some(sudo) = which::which("sudo").ok() else {
        bail!("runtest needs root for its setup: run it as root, or install sudo and give {name} sudo rights");
    };
    let ok = std::process::Command::new(&sudo)
        .args(["-n", "true"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!("runtest needs root for its setup, through `sudo -n` (no password prompt): {name} may not (add a NOPASSWD sudoers rule, or run it as root)");
    }
    let exe = std::env::current_exe().context("finding runtest's own path")?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let line = sudo_command_line(&exe, args, &Invoker { uid, gid, name }, &env);
    let e = std::process::Command::new(sudo).args(line).exec();
    Err(e).context("running sudo")
}

/// Give a file runtest wrote into the suite back to the user who ran it (no-op otherwise).
pub fn give_back(path: &Path) {
    if let Some(inv) = invoker() {
        let _ = std::os::unix::fs::lchown(path, Some(inv.uid), Some(inv.gid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoker_values() {
        assert_eq!(
            parse_invoker("1000:1000:ann"),
            Some(Invoker {
                uid: 1000,
                gid: 1000,
                name: "ann".into()
            })
        );
        assert_eq!(parse_invoker("0:0:root"), None);
        assert_eq!(parse_invoker("x:1:ann"), None);
        assert_eq!(parse_invoker("1000:1000:"), None);
        assert_eq!(parse_invoker("1000"), None);
    }

    #[test]
    fn restart_line() {
        let inv = Invoker {
            uid: 1000,
            gid: 100,
            name: "ann".into(),
        };
        let env = vec![
            ("TERM".to_string(), "xterm".to_string()),
            ("HOME".to_string(), "/h".to_string()),
            ("EXIM_TEST_X".to_string(), "1".to_string()),
        ];
        let args: Vec<OsString> = vec!["-CONTINUE".into(), "1".into()];
        let l = sudo_command_line(Path::new("/t/runtest"), &args, &inv, &env);
        let l: Vec<String> = l.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(
            l,
            [
                "-n",
                "/usr/bin/env",
                "MAILRIG_INVOKER=1000:100:ann",
                "TERM=xterm",
                "EXIM_TEST_X=1",
                "/t/runtest",
                "--caller",
                "ann",
                "-CONTINUE",
                "1"
            ]
        );
        let args: Vec<OsString> = vec!["/usr/sbin/exim4".into(), "-CONTINUE".into()];
        let l = sudo_command_line(Path::new("/t/runtest"), &args, &inv, &[]);
        let l: Vec<String> = l.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(
            l[3..],
            [
                "/t/runtest",
                "/usr/sbin/exim4",
                "--caller",
                "ann",
                "-CONTINUE"
            ]
        );
        let args: Vec<OsString> = vec!["--caller=bob".into()];
        let l = sudo_command_line(Path::new("/t/runtest"), &args, &inv, &[]);
        assert_eq!(l.last().unwrap(), "--caller=bob");
        assert!(!l.iter().any(|a| a == "ann"));
    }
}
