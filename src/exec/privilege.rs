//! Who a command runs as. The tests' commands run as the caller (a normal login in the Exim
//! group); `sudo` commands run as root or as the named user. When runtest is root it
//! switches identity in the child before exec; otherwise it goes through `sudo`.

use std::ffi::CString;

/// The identity a child process takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Stay as runtest is (root when runtest is root).
    Root,
    /// A user id with its primary and supplementary groups.
    User { name: String, uid: u32, gid: u32, groups: Vec<u32> },
}

impl Identity {
    /// Resolve a user name (for `sudo -u NAME`).
    pub fn from_name(name: &str) -> anyhow::Result<Identity> {
        let a = crate::probe::account::lookup(name)?
            .ok_or_else(|| anyhow::anyhow!("sudo -u {name}: no such user"))?;
        Ok(Identity::User { name: a.name, uid: a.uid, gid: a.gid, groups: a.groups })
    }

    pub fn name(&self) -> &str {
        match self {
            Identity::Root => "root",
            Identity::User { name, .. } => name,
        }
    }
}

/// Switch to `id` in a freshly forked child. Only async-signal-safe calls: this runs between
/// fork and exec.
///
/// # Safety
/// Must only be called in the child between fork and exec.
pub unsafe fn become_identity(id: &Identity) -> std::io::Result<()> {
    if let Identity::User { uid, gid, groups, .. } = id {
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
