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
///
/// Several runtests may start at once on a machine that lacks the account (the integration
/// tests do, on a fresh CI machine): the check and the change are made under one exclusive
/// lock (`ACCOUNTS_LOCK`), so that only the first creates it and the others find it made.
/// A `useradd` or `usermod` that fails anyway (another program holding /etc/passwd's own
/// lock) is tried again a few times before the error is given.
pub fn ensure_caller(name: &str, exim_group: &str) -> Result<Account> {
    if let Some(a) = lookup(name)? {
        if in_group(&a, exim_group)? {
            return Ok(a);
        }
    }
    let _lock = lock_accounts()?;
    let mut tries = 0;
    loop {
        tries += 1;
        let result = match lookup(name)? {
            None => run_account_tool(
                "useradd",
                &[
                    "--user-group",
                    "--create-home",
                    "--shell",
                    "/bin/sh",
                    "--comment",
                    "Mailrig Test Caller",
                    "--groups",
                    exim_group,
                    name,
                ],
            ),
            Some(a) if !in_group(&a, exim_group)? => {
                run_account_tool("usermod", &["--append", "--groups", exim_group, name])
            }
            Some(a) => return Ok(a),
        };
        match result {
            Ok(()) => {}
            Err(e) if tries >= 5 => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(200 * tries)),
        }
    }
}

/// Where runtests serialise their account changes (`/run/lock` where there is one).
const ACCOUNTS_LOCK: &str = "mailrig-accounts.lock";

fn lock_accounts() -> Result<nix::fcntl::Flock<std::fs::File>> {
    let dir = std::path::Path::new("/run/lock");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(ACCOUNTS_LOCK);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))
}

fn in_group(a: &Account, group: &str) -> Result<bool> {
    let gid = group_gid(group)?.with_context(|| format!("no group {group}"))?;
    Ok(a.groups.contains(&gid))
}

fn run_account_tool(tool: &str, args: &[&str]) -> Result<()> {
    let status = std::process::Command::new(tool)
        .args(args)
        .status()
        .with_context(|| format!("running {tool} for the caller account"))?;
    if !status.success() {
        bail!("{tool} {} failed ({status})", args.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several runtests creating the same missing caller at once: every one gets the account
    /// (before the lock, all but one failed in useradd and their runs died at start).
    #[test]
    fn concurrent_callers_all_get_the_account() {
        if !nix::unistd::geteuid().is_root() || which::which("useradd").is_err() {
            return;
        }
        let name = format!("mrrace{}", std::process::id() % 100_000);
        let group = "mail";
        if group_gid(group).unwrap().is_none() {
            return;
        }
        let results: Vec<Result<Account>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| ensure_caller(&name, group)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let _ = std::process::Command::new("userdel")
            .args(["--remove", &name])
            .stderr(std::process::Stdio::null())
            .status();
        for r in results {
            let a = r.unwrap();
            assert_eq!(a.name, name);
            assert!(a.groups.contains(&group_gid(group).unwrap().unwrap()));
        }
    }
}
