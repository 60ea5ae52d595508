//! checkaccess: can the Exim user read things in the test-suite folder?
//!
//! The runner runs `checkaccess PATH USER GROUP` as root before the tests, as the Perl
//! runtest does with checkaccess.c: it drops every supplementary group, becomes GROUP and
//! then USER (names or numeric ids), and opens PATH (a file or a folder) for reading. A
//! suite under a home folder the Exim user cannot enter fails here with a clear message
//! instead of in dozens of tests later.

use std::path::Path;

use nix::unistd::{setgid, setgroups, setuid, Gid, Group, Uid, User};

/// Exit status when the check cannot be done or fails (checkaccess.c exits non-zero too).
pub const FAILED: u8 = 1;

/// Why the check failed; the message is printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no such user: {0}")]
    NoUser(String),
    #[error("no such group: {0}")]
    NoGroup(String),
    #[error("cannot look up {what} {name}: {source}")]
    Lookup {
        what: &'static str,
        name: String,
        source: nix::Error,
    },
    #[error("cannot switch to uid {uid} gid {gid}: {step} failed: {source}")]
    Switch {
        uid: u32,
        gid: u32,
        step: &'static str,
        source: nix::Error,
    },
    #[error("uid {uid} gid {gid} cannot open {path}: {source}")]
    Open {
        uid: u32,
        gid: u32,
        path: String,
        source: std::io::Error,
    },
}

/// A user given by name or number.
pub fn resolve_user(spec: &str) -> Result<Uid, CheckError> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(Uid::from_raw(n));
    }
    match User::from_name(spec) {
        Ok(Some(user)) => Ok(user.uid),
        Ok(None) => Err(CheckError::NoUser(spec.to_string())),
        Err(source) => Err(CheckError::Lookup {
            what: "user",
            name: spec.to_string(),
            source,
        }),
    }
}

/// A group given by name or number.
pub fn resolve_group(spec: &str) -> Result<Gid, CheckError> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    match Group::from_name(spec) {
        Ok(Some(group)) => Ok(group.gid),
        Ok(None) => Err(CheckError::NoGroup(spec.to_string())),
        Err(source) => Err(CheckError::Lookup {
            what: "group",
            name: spec.to_string(),
            source,
        }),
    }
}

/// Becomes `uid`/`gid` with no supplementary groups (irreversible: the process stays so).
pub fn become_user(uid: Uid, gid: Gid) -> Result<(), CheckError> {
    let fail = |step, source| CheckError::Switch {
        uid: uid.as_raw(),
        gid: gid.as_raw(),
        step,
        source,
    };
    // Groups first: after setuid a non-root process may no longer change them.
    setgroups(&[gid]).map_err(|e| fail("setgroups", e))?;
    setgid(gid).map_err(|e| fail("setgid", e))?;
    setuid(uid).map_err(|e| fail("setuid", e))?;
    Ok(())
}

/// Opens `path` (file or folder) for reading, as the current user.
pub fn check_readable(path: &Path) -> Result<(), CheckError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|source| CheckError::Open {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            path: path.display().to_string(),
            source,
        })
}

/// The whole check: resolve, switch, open.
pub fn run(path: &Path, user: &str, group: &str) -> Result<(), CheckError> {
    let uid = resolve_user(user)?;
    let gid = resolve_group(group)?;
    become_user(uid, gid)?;
    check_readable(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups_by_name_or_number() {
        assert_eq!(resolve_user("root").unwrap(), Uid::from_raw(0));
        assert_eq!(resolve_user("1234").unwrap(), Uid::from_raw(1234));
        assert_eq!(resolve_group("root").unwrap(), Gid::from_raw(0));
        assert_eq!(resolve_group("42").unwrap(), Gid::from_raw(42));
        assert!(matches!(
            resolve_user("no-such-user-xyz"),
            Err(CheckError::NoUser(_))
        ));
        assert!(matches!(
            resolve_group("no-such-group-xyz"),
            Err(CheckError::NoGroup(_))
        ));
    }

    #[test]
    fn readability_of_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_readable(dir.path()).is_ok());
        let missing = dir.path().join("missing");
        let e = check_readable(&missing).unwrap_err().to_string();
        assert!(e.contains("cannot open") && e.contains("missing"), "{e}");
    }
}
