//! Who a command runs as. The tests' commands run as the caller (a normal login in the Exim
//! group); `sudo` commands run as root or as the named user. When runtest is root it
//! switches identity through its small helper program `runtest-as` (started with
//! posix_spawn, it sets the groups and ids and execs the command), or — when the helper is not
//! installed beside runtest — in the forked child before exec; otherwise it goes through `sudo`.
//!
//! Why a helper: a change of identity between fork and exec makes the standard library fork
//! the whole of runtest (a big address space with many threads) for every command, and that
//! copy was most of runtest's own CPU time; posix_spawn (a vfork-like clone) of a tiny
//! program that then changes identity costs one more small exec instead. A hand-made vfork
//! was not chosen: glibc's setuid in a child that shares the parent's memory would signal the
//! parent's threads (its set-id broadcast), so it would need raw system calls throughout.

use std::ffi::{CString, OsString};
use std::path::{Path, PathBuf};

/// The identity a child process takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Stay as runtest is (root when runtest is root).
    Root,
    /// A user id with its primary and supplementary groups.
    User {
        name: String,
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
    },
}

impl Identity {
    /// Resolve a user name (for `sudo -u NAME`).
    pub fn from_name(name: &str) -> anyhow::Result<Identity> {
        let a = crate::probe::account::lookup(name)?
            .ok_or_else(|| anyhow::anyhow!("sudo -u {name}: no such user"))?;
        Ok(Identity::User {
            name: a.name,
            uid: a.uid,
            gid: a.gid,
            groups: a.groups,
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Identity::Root => "root",
            Identity::User { name, .. } => name,
        }
    }
}

/// Switch to `id`, in a freshly forked child or in the one-threaded helper. Only
/// async-signal-safe calls: this may run between fork and exec.
///
/// # Safety
/// Must only be called in a child between fork and exec, or in a process with one thread
/// that execs right after.
pub unsafe fn become_identity(id: &Identity) -> std::io::Result<()> {
    if let Identity::User {
        uid, gid, groups, ..
    } = id
    {
        let gids: Vec<libc::gid_t> = groups.iter().map(|g| *g as libc::gid_t).collect();
        if libc::setgroups(gids.len(), gids.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setgid(*gid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setuid(*uid) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The file name of the identity helper (installed beside runtest).
pub const HELPER: &str = "runtest-as";

/// The identity helper beside the running runtest, if it is there.
pub fn helper_path() -> Option<&'static Path> {
    static PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let p = exe.parent()?.join(HELPER);
        p.is_file().then_some(p)
    })
    .as_deref()
}

/// The helper's arguments that give `id`: UID GID GROUPS (a comma-separated list, maybe
/// empty); the program and its arguments follow. None for [`Identity::Root`] (no change).
pub fn helper_args(id: &Identity) -> Option<[String; 3]> {
    match id {
        Identity::Root => None,
        Identity::User {
            uid, gid, groups, ..
        } => Some([
            uid.to_string(),
            gid.to_string(),
            groups
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ]),
    }
}

/// Read the helper's command line (without its own name): the identity, and the program
/// with its arguments.
pub fn parse_helper_args(args: &[OsString]) -> Result<(Identity, Vec<OsString>), String> {
    let usage = || format!("usage: {HELPER} UID GID GROUP,GROUP,... PROGRAM [ARG...]");
    if args.len() < 4 {
        return Err(usage());
    }
    let num = |what: &str, a: &OsString| -> Result<u32, String> {
        a.to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| {
                format!(
                    "{what} `{}` is not a number; {}",
                    a.to_string_lossy(),
                    usage()
                )
            })
    };
    let uid = num("uid", &args[0])?;
    let gid = num("gid", &args[1])?;
    let list = args[2].to_str().ok_or_else(usage)?;
    let groups = if list.is_empty() {
        Vec::new()
    } else {
        list.split(',')
            .map(|g| {
                g.parse::<u32>()
                    .map_err(|_| format!("group `{g}` is not a number; {}", usage()))
            })
            .collect::<Result<Vec<u32>, String>>()?
    };
    Ok((
        Identity::User {
            name: String::new(),
            uid,
            gid,
            groups,
        },
        args[3..].to_vec(),
    ))
}

/// The `sudo` words that give a non-root runtest the identity `id`.
pub fn sudo_words(id: &Identity, runtest_uid: u32) -> Vec<String> {
    if runtest_uid == 0 {
        // Root switches identity itself, in the child (become_identity).
        return Vec::new();
    }
    match id {
        Identity::Root if runtest_uid != 0 => vec!["sudo".into()],
        Identity::User { uid, name, .. } if *uid != runtest_uid => {
            vec!["sudo".into(), "-u".into(), name.clone()]
        }
        _ => Vec::new(),
    }
}

/// A C string for an environment pair (never fails: NULs are dropped).
pub fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_arguments_round_trip() {
        let id = Identity::User {
            name: "u".into(),
            uid: 1001,
            gid: 1002,
            groups: vec![1002, 7, 8],
        };
        let mut args: Vec<OsString> = helper_args(&id)
            .unwrap()
            .iter()
            .map(OsString::from)
            .collect();
        args.extend(["/bin/sh", "-c", "echo hi"].map(OsString::from));
        let (back, prog) = parse_helper_args(&args).unwrap();
        assert_eq!(
            back,
            Identity::User {
                name: String::new(),
                uid: 1001,
                gid: 1002,
                groups: vec![1002, 7, 8]
            }
        );
        assert_eq!(prog, ["/bin/sh", "-c", "echo hi"].map(OsString::from));
        assert_eq!(helper_args(&Identity::Root), None);
    }

    #[test]
    fn helper_arguments_with_no_groups_and_bad_ones() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let (id, _) = parse_helper_args(&a(&["5", "6", "", "/bin/true"])).unwrap();
        assert_eq!(
            id,
            Identity::User {
                name: String::new(),
                uid: 5,
                gid: 6,
                groups: vec![]
            }
        );
        assert!(parse_helper_args(&a(&["5", "6", ""]))
            .unwrap_err()
            .contains("usage"));
        assert!(parse_helper_args(&a(&["x", "6", "", "/bin/true"]))
            .unwrap_err()
            .contains("uid `x`"));
        assert!(parse_helper_args(&a(&["5", "6", "1,,2", "/bin/true"]))
            .unwrap_err()
            .contains("group ``"));
        assert!(parse_helper_args(&a(&["5", "-6", "", "/bin/true"])).is_err());
    }
}
