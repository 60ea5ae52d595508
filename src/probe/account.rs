//! The accounts the tests run under: the caller (a non-root login in the Exim group, whose
//! name is also a group it belongs to, with a gecos name) and the Exim user and group.
//!
//! runtest (as root) creates the caller account if it is absent (`useradd`), because the
//! tests must run Exim as a normal user.

use anyhow::{bail, Context, Result};
use nix::unistd::{Group, User};

/// A user account as the tests need it.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub group: String,
    pub gecos: String,
    pub home: std::path::PathBuf,
    /// Supplementary groups (including the primary one).
    pub groups: Vec<u32>,
}

/// Look up an account by name.
pub fn lookup(name: &str) -> Result<Option<Account>> {
    let Some(u) = User::from_name(name).with_context(|| format!("getpwnam({name})"))? else {
        return Ok(None);
    };
    let group = Group::from_gid(u.gid)
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| u.gid.to_string());
    let cname = std::ffi::CString::new(name).context("user name with a NUL")?;
    let groups = nix::unistd::getgrouplist(&cname, u.gid)
        .map(|v| v.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![u.gid.as_raw()]);
    Ok(Some(Account {
        name: u.name.clone(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        group,
        gecos: u
            .gecos
            .to_string_lossy()
            .split(',')
            .next()
            .unwrap_or("")
            .to_string(),
        home: u.dir,
        groups,
    }))
}

/// The group's gid by name.
pub fn group_gid(name: &str) -> Result<Option<u32>> {
    Ok(Group::from_name(name)
        .with_context(|| format!("getgrnam({name})"))?
        .map(|g| g.gid.as_raw()))
}

/// Names the suite itself uses as local parts; a caller with one of these names would make
/// tests pass or fail for the wrong reasons.
const RESERVED: &[&str] = &["userx", "usery", "userz", "abcd", "xyz", "root"];

/// Check the rules of README.exim-test-suite for the caller.
pub fn validate_caller(a: &Account, exim_gid: u32) -> Result<()> {
    if a.uid == 0 {
        bail!("the caller must not be root (use --caller USER)");
    }
    if a.name.contains('-')
        || a.name.contains('=')
        || a.name.len() < 2
        || RESERVED.contains(&a.name.as_str())
    {
        bail!(
            "caller `{}`: the login must not contain - or =, nor be a name the tests use",
            a.name
        );
    }
    if !a.groups.contains(&exim_gid) {
        bail!(
            "caller `{}` is not in the Exim group (gid {exim_gid}): add it as a secondary group",
            a.name
        );
    }
    Ok(())
}

/// As root: make sure `name` exists with a same-named primary group, a gecos name and the
/// Exim group as a secondary group. Returns the account.
pub fn ensure_caller(name: &str, exim_group: &str) -> Result<Account> {
    if lookup(name)?.is_none() {
        let status = std::process::Command::new("useradd")
            .args([
                "--user-group",
                "--create-home",
                "--shell",
                "/bin/sh",
                "--comment",
                "Mailrig Test Caller",
            ])
            .args(["--groups", exim_group, name])
            .status()
            .context("running useradd to create the caller account")?;
        if !status.success() {
            bail!("useradd {name} failed ({status})");
        }
    } else {
        let a = lookup(name)?.context("caller vanished")?;
        let exim_gid = group_gid(exim_group)?.context("no Exim group")?;
        if !a.groups.contains(&exim_gid) {
            let status = std::process::Command::new("usermod")
                .args(["--append", "--groups", exim_group, name])
                .status()
                .context("running usermod to add the caller to the Exim group")?;
            if !status.success() {
                bail!("usermod -a -G {exim_group} {name} failed ({status})");
            }
        }
    }
    lookup(name)?.with_context(|| format!("account {name} not found after creating it"))
}
