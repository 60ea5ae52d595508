//! One test's world: its DIR (the folder substituted for `DIR`), with the suite's fixed aux
//! files, the generated aux-var and dnszones, the aux programs in `bin/`, the patched Exim in
//! `eximdir/`, its ports (blocks of free ports are found here) and its substitution table. Never global: several workspaces can live
//! side by side, each in its own folder with its own block of ports.

use crate::probe::host::{expand_ipv6, Host};
use crate::subst::{Ports, Table};
use anyhow::{Context, Result};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The facts a workspace is built from (shared by all workspaces of a run).
#[derive(Debug, Clone)]
pub struct Facts {
    pub suite: PathBuf,
    pub binary: PathBuf,
    pub host: Host,
    pub caller: crate::probe::account::Account,
    pub exim_user: String,
    pub exim_uid: u32,
    pub exim_group: String,
    pub exim_gid: u32,
    /// Where the aux programs (client, server, fakens …) were built.
    pub aux_dir: PathBuf,
    pub trusted_list: Option<PathBuf>,
    pub is_root: bool,
    pub have_ipv4: bool,
    pub have_ipv6: bool,
}

/// One workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub dir: PathBuf,
    pub ports: Ports,
    pub table: Table,
}

/// The aux programs installed into `DIR/bin`, and the name each is installed as.
/// The aux programs runtest installs that are not in `dir` (where runtest itself is), by name.
pub fn missing_aux_programs(dir: &Path) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = AUX_PROGRAMS.iter().map(|(from, _)| *from).collect();
    names.dedup();
    names.retain(|n| !dir.join(n).is_file());
    names
}

const AUX_PROGRAMS: &[(&str, &str)] = &[
    ("client", "client"),
    ("client", "client-ssl"),
    ("client", "client-gnutls"),
    ("client", "client-anytls"),
    ("server", "server"),
    ("mtpscript", "mtpscript"),
    ("fakens", "fakens"),
    ("checkaccess", "checkaccess"),
    ("fd", "fd"),
    ("iefbr14", "iefbr14"),
    ("showids", "showids"),
    ("cf", "cf"),
    ("libloaded.so", "loaded"),
    ("fakeserver", "fakeserver"),
];

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

/// Make `to` a copy of the tree `from`, copying only what differs from the last copy (size,
/// modification time, mode or owner) and removing what `from` no longer has: every workspace
/// of a large suite (Exim's aux-fixed has some 1600 files) is then rebuilt in moments on the
/// next run, while whatever a test changed in its copy is restored.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dst = to.join(rel);
        let ft = entry.file_type();
        let meta = entry.metadata()?;
        // Modes as a git checkout has them (0644, or 0755 when executable), whatever the
        // source copy has: a read-only copy of a suite (0444) must not change what Exim
        // reports about files the tests copy from aux-fixed (Exim's 0268).
        let normal = if ft.is_dir() || meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        let old = std::fs::symlink_metadata(&dst).ok();
        if ft.is_dir() {
            match old.filter(|o| o.is_dir()) {
                Some(o) if o.permissions().mode() & 0o7777 == normal => continue,
                Some(_) => {}
                None => {
                    remove_any(&dst)?;
                    std::fs::create_dir_all(&dst)
                        .with_context(|| format!("mkdir {}", dst.display()))?;
                }
            }
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            if std::fs::read_link(&dst).ok().as_ref() != Some(&target) {
                remove_any(&dst)?;
                std::os::unix::fs::symlink(target, &dst)
                    .with_context(|| format!("symlink {}", dst.display()))?;
            }
            continue;
        } else {
            let same = old.as_ref().is_some_and(|o| {
                o.is_file()
                    && o.len() == meta.len()
                    && o.modified().ok() == meta.modified().ok()
                    && o.permissions().mode() & 0o7777 == normal
                    && o.uid() == me
            });
            if same {
                continue;
            }
            remove_any(&dst)?;
            std::fs::copy(entry.path(), &dst)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            if let Ok(t) = meta.modified() {
                std::fs::File::options()
                    .write(true)
                    .open(&dst)
                    .and_then(|f| f.set_modified(t))
                    .ok();
            }
        }
        // A directory made or with another mode, or a file just copied with the source's mode.
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(normal))?;
    }
    // What the source no longer has (or a test added) goes.
    remove_extra(from, to)
}

/// Make `to` the tree `from` (a master copy made by [`copy_tree`]) again, as hard links to
/// its files: 16 workspaces then cost the links of one tree each, not 16 copies of every
/// byte. Whatever `to` has that the master lacks goes; a file already linked stays.
/// (Linking is sound because no test writes to these files: scripts and configurations
/// only read the aux files and copy them elsewhere, and the aux programs are only run.)
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dst = to.join(rel);
        let ft = entry.file_type();
        let meta = entry.metadata()?;
        let old = std::fs::symlink_metadata(&dst).ok();
        if ft.is_dir() {
            if !old.as_ref().is_some_and(|o| o.is_dir()) {
                remove_any(&dst)?;
                std::fs::create_dir_all(&dst)
                    .with_context(|| format!("mkdir {}", dst.display()))?;
            }
            let mode = meta.permissions().mode() & 0o7777;
            if !old.is_some_and(|o| o.is_dir() && o.permissions().mode() & 0o7777 == mode) {
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))?;
            }
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            if std::fs::read_link(&dst).ok().as_ref() != Some(&target) {
                remove_any(&dst)?;
                std::os::unix::fs::symlink(target, &dst)
                    .with_context(|| format!("symlink {}", dst.display()))?;
            }
        } else if !old.is_some_and(|o| o.dev() == meta.dev() && o.ino() == meta.ino()) {
            remove_any(&dst)?;
            if std::fs::hard_link(entry.path(), &dst).is_err() {
                // Another file system: a copy, with the master's mode.
                std::fs::copy(entry.path(), &dst)
                    .with_context(|| format!("copying {}", entry.path().display()))?;
            }
        }
    }
    remove_extra(from, to)
}

/// Remove from the tree `to` whatever the tree `from` does not have.
fn remove_extra(from: &Path, to: &Path) -> Result<()> {
    let mut extra = Vec::new();
    for entry in walkdir::WalkDir::new(to).min_depth(1).follow_links(false) {
        let Ok(entry) = entry else { continue };
        let rel = entry.path().strip_prefix(to).unwrap_or(entry.path());
        if std::fs::symlink_metadata(from.join(rel)).is_err() {
            extra.push(entry.path().to_path_buf());
        }
    }
    for p in extra {
        remove_any(&p)?;
    }
    Ok(())
}

/// The master copies that every workspace of a run links to (see [`link_tree`]): the
/// suite's aux-fixed and the aux programs, in `DIR/../shared` (the suite's
/// `workspace/shared`). Made (or brought up to date) once per run, before the workspaces.
pub fn prepare_shared(facts: &Facts, shared: &Path) -> Result<()> {
    std::fs::create_dir_all(shared).with_context(|| format!("mkdir {}", shared.display()))?;
    std::fs::set_permissions(shared, std::fs::Permissions::from_mode(0o755))?;
    let aux = shared.join("aux-fixed");
    if facts.suite.join("aux-fixed").is_dir() {
        copy_tree(&facts.suite.join("aux-fixed"), &aux)?;
    } else {
        remove_any(&aux)?;
    }
    install_aux_programs(facts, &shared.join("bin"))
}

/// Copy the aux programs found beside runtest into `bin` (copies, not links: Exim runs them
/// as other users and the build folder may not be reachable for them; the ones missing
/// were named once at start, see `missing_aux_programs`).
fn install_aux_programs(facts: &Facts, bin: &Path) -> Result<()> {
    std::fs::create_dir_all(bin)?;
    std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755))?;
    for (from, to) in AUX_PROGRAMS {
        let src = facts.aux_dir.join(from);
        if !src.is_file() {
            continue;
        }
        let dst = bin.join(to);
        let fresh = match (std::fs::metadata(&src), std::fs::metadata(&dst)) {
            (Ok(s), Ok(d)) => s.len() == d.len() && s.modified().ok() <= d.modified().ok(),
            _ => false,
        };
        if !fresh {
            let tmp = bin.join(format!(".{to}.new"));
            std::fs::copy(&src, &tmp).with_context(|| format!("copying {}", src.display()))?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&tmp, &dst)?;
        }
    }
    Ok(())
}

/// Make `DIR/NAME` a symbolic link to the suite's folder NAME: in the Perl runtest DIR is
/// the suite itself, and configurations name files relative to it (Exim's 0577 has
/// `.include confs/TESTNUM./aaa`). Read-only folders are linked, never copied.
fn link_suite_folder(suite: &Path, dir: &Path, name: &str) -> Result<()> {
    let target = suite.join(name);
    let link = dir.join(name);
    if std::fs::read_link(&link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    remove_any(&link)?;
    if target.is_dir() {
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("linking {} to {}", link.display(), target.display()))?;
    }
    Ok(())
}

/// Remove a file, symlink or whole directory, if there is one.
fn remove_any(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
        }
        Ok(_) => std::fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        Err(_) => Ok(()),
    }
}

impl Workspace {
    /// The substitution table for a workspace in `dir` with `ports`.
    pub fn table(facts: &Facts, dir: &Path, ports: Ports) -> Table {
        Table {
            caller: facts.caller.name.clone(),
            caller_group: facts.caller.group.clone(),
            caller_uid: facts.caller.uid,
            caller_gid: facts.caller.gid,
            dir: dir.display().to_string(),
            exim_user: facts.exim_user.clone(),
            exim_group: facts.exim_group.clone(),
            mail_group: "mail".into(),
            hostipv4: facts
                .host
                .ipv4
                .map(|a| a.to_string())
                .unwrap_or_else(|| crate::subst::NO_IPV4.into()),
            hostipv6: facts
                .host
                .ipv6
                .map(|a| a.to_string())
                .unwrap_or_else(|| crate::subst::NO_IPV6.into()),
            hostname: facts.host.hostname.clone(),
            ports,
            port_dynamic: free_port().unwrap_or(ports.d + 100),
            v4net: "224".into(),
            v6net: "ff00".into(),
        }
    }

    /// Build (or refresh) the workspace in `dir`, its aux files and programs linked to the
    /// master copies in `shared` (made by [`prepare_shared`]).
    pub fn create(facts: &Facts, dir: &Path, ports: Ports, shared: &Path) -> Result<Workspace> {
        std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{}", dir.display()))?;
        let ws = Workspace {
            table: Self::table(facts, &dir, ports),
            dir,
            ports,
        };
        let in_suite = ws.dir == facts.suite;
        if facts.is_root {
            chown(&ws.dir, facts.caller.uid, facts.caller.gid)?;
            std::fs::set_permissions(&ws.dir, std::fs::Permissions::from_mode(0o755))?;
        }
        if !in_suite {
            let aux = ws.dir.join("aux-fixed");
            if shared.join("aux-fixed").is_dir() {
                link_tree(&shared.join("aux-fixed"), &aux)?;
            } else {
                remove_any(&aux)?;
            }
        }
        if !in_suite {
            link_suite_folder(&facts.suite, &ws.dir, "confs")?;
        }
        ws.make_aux_var(facts)?;
        ws.make_dnszones(facts)?;
        link_tree(&shared.join("bin"), &ws.dir.join("bin"))?;
        if facts.is_root {
            crate::probe::patch::make_eximdir(
                &facts.binary,
                &ws.dir,
                &crate::probe::patch::Owners {
                    caller_uid: facts.caller.uid,
                    exim_uid: facts.exim_uid,
                    exim_gid: facts.exim_gid,
                },
            )?;
            ws.trust_config(facts)?;
        }
        Ok(ws)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `aux-var` from `aux-var-src` with the standard substitutions (TESTNUM empty).
    fn make_aux_var(&self, facts: &Facts) -> Result<()> {
        let src = facts.suite.join("aux-var-src");
        let dst = self.dir.join("aux-var");
        if dst.exists() {
            std::fs::remove_dir_all(&dst).with_context(|| format!("removing {}", dst.display()))?;
        }
        std::fs::create_dir_all(&dst)?;
        if src.is_dir() {
            for e in walkdir::WalkDir::new(&src).min_depth(1) {
                let e = e?;
                let rel = e.path().strip_prefix(&src).unwrap_or(e.path());
                let out = dst.join(rel);
                if e.file_type().is_dir() {
                    std::fs::create_dir_all(&out)?;
                    continue;
                }
                let bytes = std::fs::read(e.path())
                    .with_context(|| format!("reading {}", e.path().display()))?;
                let text = latin1_or_utf8(&bytes);
                std::fs::write(&out, encode_like(&bytes, &self.table.apply(&text, None)))
                    .with_context(|| format!("writing {}", out.display()))?;
            }
        }
        if facts.is_root {
            for e in walkdir::WalkDir::new(&dst) {
                let e = e?;
                chown(e.path(), facts.caller.uid, facts.caller.gid)?;
            }
        }
        Ok(())
    }

    /// `dnszones` from `dnszones-src` (names and contents substituted) plus the zones for the
    /// host's own name and addresses, as the Perl runtest makes them.
    fn make_dnszones(&self, facts: &Facts) -> Result<()> {
        let src = facts.suite.join("dnszones-src");
        let dst = self.dir.join("dnszones");
        if dst.exists() {
            std::fs::remove_dir_all(&dst)?;
        }
        std::fs::create_dir_all(&dst)?;
        if src.is_dir() {
            for e in std::fs::read_dir(&src)? {
                let e = e?;
                if !e.file_type()?.is_file() {
                    continue;
                }
                let name = e
                    .file_name()
                    .to_string_lossy()
                    .replace("V4NET", &self.table.v4net)
                    .replace("V6NET", &self.table.v6net);
                let bytes = std::fs::read(e.path())?;
                let text = self.table.apply(&latin1_or_utf8(&bytes), None);
                std::fs::write(dst.join(name), encode_like(&bytes, &text))?;
            }
        }
        let host = &facts.host;
        let pass_on = "; This is a dynamically constructed fake zone file.\n\
; The following line causes fakens to return PASS_ON\n\
; for queries that it cannot answer\n\nPASS ON NOT FOUND\n\n";
        if let Some((short, domain)) = host.hostname.split_once('.') {
            let mut z = String::from(pass_on);
            if let Some(v4) = host.ipv4.filter(|_| facts.have_ipv4) {
                z.push_str(&format!("{short}    A    {v4}\n"));
            }
            if let Some(v6) = host.ipv6.filter(|_| facts.have_ipv6) {
                z.push_str(&format!("{short}    AAAA {v6}\n"));
            }
            z.push_str("\n; End\n");
            let f = dst.join(format!("db.{domain}"));
            if !f.exists() {
                std::fs::write(f, z)?;
            }
        }
        if let Some(v4) = host.ipv4.filter(|a| !a.is_loopback() && facts.have_ipv4) {
            let o = v4.octets();
            let f = dst.join(format!("db.ip4.{}", o[0]));
            if !f.exists() {
                std::fs::write(
                    f,
                    format!(
                        "{pass_on}{}.{}.{}    PTR    {}.\n\n; End\n",
                        o[3], o[2], o[1], host.hostname
                    ),
                )?;
            }
        }
        if let Some(v6) = host.ipv6.filter(|a| !a.is_loopback() && facts.have_ipv6) {
            let full = expand_ipv6(&v6);
            let first = &full[..4];
            let nibbles: Vec<char> = full[5..].chars().filter(|c| *c != ':').collect();
            let name: Vec<String> = nibbles.iter().rev().map(|c| c.to_string()).collect();
            let f = dst.join(format!("db.ip6.{first}"));
            if !f.exists() {
                std::fs::write(
                    f,
                    format!(
                        "{pass_on}{}    PTR    {}.\n\n; End\n",
                        name.join("."),
                        host.hostname
                    ),
                )?;
            }
        }
        Ok(())
    }

    /// Debian's Exim wants `-C` files listed in its TRUSTED_CONFIG_LIST (else every re-exec
    /// panics with "wrong owner"): add this workspace's test-config there.
    fn trust_config(&self, facts: &Facts) -> Result<()> {
        use std::io::{Read, Seek, Write};
        let Some(list) = &facts.trusted_list else {
            return Ok(());
        };
        let entry = self.dir.join("test-config").display().to_string();
        if let Some(parent) = list.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Several runtests may add their workspaces at once: append under an exclusive lock
        // on the list itself, so that no entry is lost and no reader sees a partial file.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(list)
            .with_context(|| format!("opening {}", list.display()))?;
        let mut file = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", list.display()))?;
        let mut current = String::new();
        file.rewind()?;
        file.read_to_string(&mut current)
            .with_context(|| format!("reading {}", list.display()))?;
        if current.lines().any(|l| l.trim() == entry) {
            return Ok(());
        }
        let sep = if !current.is_empty() && !current.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        writeln!(file, "{sep}{entry}").with_context(|| format!("updating {}", list.display()))?;
        // Exim wants the list owned by root (or CONFIGURE_OWNER) and not writable by others.
        chown(list, 0, 0)?;
        std::fs::set_permissions(list, std::fs::Permissions::from_mode(0o644))?;
        Ok(())
    }

    /// Remove what the previous test left (`spool` and every `test-*` file), make an empty
    /// `test-mail` for the caller and a fresh spool owned by the Exim user: an Exim that runs as the caller first (`-be`) would
    /// otherwise create it as the caller, and the Exim user could not enter it later.
    pub fn reset(&self, facts: &Facts) -> Result<()> {
        self.clean()?;
        let spool = self.dir.join("spool");
        std::fs::create_dir(&spool).with_context(|| format!("mkdir {}", spool.display()))?;
        std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o750))?;
        if facts.is_root {
            chown(&spool, facts.exim_uid, facts.exim_gid)?;
        }
        // Scripts use test-mail before anything is delivered (e.g. `ln -s … test-mail/link`).
        let mail = self.dir.join("test-mail");
        std::fs::create_dir(&mail).with_context(|| format!("mkdir {}", mail.display()))?;
        if facts.is_root {
            chown(&mail, facts.caller.uid, facts.caller.gid)?;
        }
        Ok(())
    }

    /// Remove what the tests left: `spool` and every `test-*` file.
    pub fn clean(&self) -> Result<()> {
        let spool = self.dir.join("spool");
        if spool.exists() {
            std::fs::remove_dir_all(&spool)
                .with_context(|| format!("removing {}", spool.display()))?;
        }
        for e in std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?
        {
            let e = e?;
            if e.file_name().to_string_lossy().starts_with("test-") {
                let p = e.path();
                let r = if e.file_type()?.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                r.with_context(|| format!("removing {}", p.display()))?;
            }
        }
        Ok(())
    }

    /// Write `test-config` from `confs/NNNN` with the substitutions, owned by root (Debian's
    /// CONFIGURE_OWNER) — unlinked first so that no old owner survives. Every exim command
    /// of a test asks for it: when the file already holds exactly this text, belongs to
    /// the owner it must have and has its mode, it stays (a new file each time cost a new
    /// inode, and ext4's search for a free one among the many just deleted was most of
    /// runtest's system time).
    pub fn write_config(&self, facts: &Facts, testnum: u32) -> Result<()> {
        let conf = facts.suite.join("confs").join(format!("{testnum:04}"));
        let out = self.dir.join("test-config");
        // No conf for a test that runs exim: the Perl runtest stops there; this test fails.
        let bytes = std::fs::read(&conf).map_err(|e| {
            crate::suite::Fault(format!(
                "{}: cannot read the test's configuration: {e}",
                conf.display()
            ))
        })?;
        let bytes = follow_link_text(&facts.suite.join("confs"), bytes)
            .with_context(|| conf.display().to_string())?;
        let text = self.table.apply(&latin1_or_utf8(&bytes), Some(testnum));
        let wanted = encode_like(&bytes, &text);
        let owner = if facts.is_root { Some(0) } else { None };
        if config_is_current(&out, &wanted, owner) {
            return Ok(());
        }
        let _ = std::fs::remove_file(&out);
        std::fs::write(&out, &wanted).with_context(|| format!("writing {}", out.display()))?;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644))?;
        if facts.is_root {
            chown(&out, 0, 0)?;
        }
        Ok(())
    }
}

/// Whether `path` is a regular file (not a link) holding exactly `wanted`, with mode 0644 and,
/// when given, that owner.
fn config_is_current(path: &Path, wanted: &[u8], owner: Option<u32>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return false;
    };
    m.is_file()
        && m.mode() & 0o7777 == 0o644
        && match owner {
            Some(u) => m.uid() == u && m.gid() == u,
            None => true,
        }
        && m.len() == wanted.len() as u64
        && std::fs::read(path).is_ok_and(|b| b == wanted)
}

/// Some confs are symbolic links to another test's (Exim's 2036 → 2035). A copy made
/// without symlink support (git with core.symlinks off, some archivers) holds the link's
/// target as the file's only text: follow it, once.
fn follow_link_text(confs: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let target = std::str::from_utf8(&bytes).unwrap_or("").trim();
    let is_name = !target.is_empty()
        && !bytes.contains(&b'\n')
        && target.len() <= 64
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if is_name && confs.join(target).is_file() {
        let p = confs.join(target);
        return std::fs::read(&p).with_context(|| format!("reading {}", p.display()));
    }
    // A test number alone (`0900`) is a link to a conf the suite lacks (a partial copy of
    // Exim's suite): say so, rather than have Exim call its line 1 a syntax error.
    if is_name && target.len() == 4 && target.bytes().all(|b| b.is_ascii_digit()) {
        let missing = confs.join(target);
        return Err(crate::suite::Fault(format!(
            "the conf is a link to {target}, and the suite has no {}",
            missing.display()
        ))
        .into());
    }
    Ok(bytes)
}

/// Files in the suite may be Latin-1: decode as UTF-8 when valid, else byte for char.
pub fn latin1_or_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| *b as char).collect(),
    }
}

/// Encode text the way its source was decoded by [`latin1_or_utf8`].
pub fn encode_like(original: &[u8], text: &str) -> Vec<u8> {
    if std::str::from_utf8(original).is_ok() {
        text.as_bytes().to_vec()
    } else {
        text.chars()
            .map(|c| {
                if (c as u32) < 256 {
                    c as u32 as u8
                } else {
                    b'?'
                }
            })
            .collect()
    }
}

/// A port nothing listens on now (for PORT_DYNAMIC).
pub fn free_port() -> Option<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .ok()?
        .local_addr()
        .ok()
        .map(|a| a.port())
}

/// Whether nothing else listens on or holds any of the shifted ports: a service of the
/// machine on one of them (this VM has one on 2024, the PORT_S of the ninth block) would
/// take the connections a test means for its own server.
fn ports_are_free(ports: &Ports) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
    ports.own().iter().all(|&p| {
        let v4 = TcpListener::bind((Ipv4Addr::UNSPECIFIED, p)).is_ok();
        // No IPv6 on the host is not "in use".
        let v6 = match TcpListener::bind((Ipv6Addr::UNSPECIFIED, p)) {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::AddrInUse,
        };
        v4 && v6
    })
}

/// The first `count` blocks of ports (each the canonical block shifted by `base` plus a
/// multiple of 100) whose ports are free, with the blocks skipped because they were not.
pub fn free_port_blocks(base: u16, count: usize) -> anyhow::Result<(Vec<Ports>, Vec<Ports>)> {
    let (mut free, mut busy) = (Vec::new(), Vec::new());
    let mut offset = base as u32;
    while free.len() < count {
        if offset + Ports::CANONICAL.d4 as u32 > u16::MAX as u32 {
            anyhow::bail!(
                "no free block of ports for {count} workspace(s) from --port-offset {base}"
            );
        }
        let ports = Ports::shifted(offset as u16);
        if ports_are_free(&ports) {
            free.push(ports)
        } else {
            busy.push(ports)
        }
        offset += 100;
    }
    Ok((free, busy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_aux_programs_are_named_once_each() {
        let d = tempfile::tempdir().unwrap();
        let all = missing_aux_programs(d.path());
        assert_eq!(all.iter().filter(|n| **n == "client").count(), 1, "{all:?}");
        assert!(
            all.contains(&"fakens") && all.contains(&"server"),
            "{all:?}"
        );
        std::fs::write(d.path().join("fakens"), "").unwrap();
        assert!(!missing_aux_programs(d.path()).contains(&"fakens"));
    }

    #[test]
    fn workspaces_link_to_one_master_copy() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let (src, master, ws) = (
            d.path().join("src"),
            d.path().join("master"),
            d.path().join("ws"),
        );
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a"), "A").unwrap();
        std::fs::write(src.join("sub/b"), "B").unwrap();
        std::os::unix::fs::symlink("a", src.join("l")).unwrap();
        copy_tree(&src, &master).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join("stale"), "x").unwrap();
        for _ in 0..2 {
            link_tree(&master, &ws).unwrap();
            let (m, w) = (
                std::fs::metadata(master.join("sub/b")).unwrap(),
                std::fs::metadata(ws.join("sub/b")).unwrap(),
            );
            assert_eq!((m.ino(), w.ino()), (m.ino(), m.ino()));
            assert_eq!(std::fs::read_link(ws.join("l")).unwrap(), Path::new("a"));
            assert!(!ws.join("stale").exists());
        }
        // A file the master changed (a new copy) is linked afresh.
        std::fs::write(src.join("a"), "AA").unwrap();
        copy_tree(&src, &master).unwrap();
        link_tree(&master, &ws).unwrap();
        assert_eq!(std::fs::read_to_string(ws.join("a")).unwrap(), "AA");
    }

    #[test]
    fn conf_link_text_is_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("2035"), "real conf\n").unwrap();
        assert_eq!(
            follow_link_text(d.path(), b"2035".to_vec()).unwrap(),
            b"real conf\n".to_vec()
        );
        // A one-line conf that names nothing, or text with a newline, stays as it is.
        assert_eq!(
            follow_link_text(d.path(), b"99999".to_vec()).unwrap(),
            b"99999".to_vec()
        );
        // A test number whose conf is missing is named as such.
        let e = follow_link_text(d.path(), b"0900".to_vec())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the conf is a link to 0900, and the suite has no"),
            "{e}"
        );
        assert_eq!(
            follow_link_text(d.path(), b"2035\n".to_vec()).unwrap(),
            b"2035\n".to_vec()
        );
    }

    #[test]
    fn suite_folders_are_linked_into_a_workspace() {
        let d = tempfile::tempdir().unwrap();
        let (suite, ws) = (d.path().join("suite"), d.path().join("ws"));
        std::fs::create_dir_all(suite.join("confs/0577.")).unwrap();
        std::fs::write(suite.join("confs/0577./aaa"), "x = 1\n").unwrap();
        std::fs::create_dir_all(ws.join("confs")).unwrap();
        // A stale folder in its place goes; a second call keeps the link.
        for _ in 0..2 {
            link_suite_folder(&suite, &ws, "confs").unwrap();
            assert_eq!(
                std::fs::read_to_string(ws.join("confs/0577./aaa")).unwrap(),
                "x = 1\n"
            );
        }
        // A suite without the folder gets no link.
        link_suite_folder(&suite, &ws, "none").unwrap();
        assert!(std::fs::symlink_metadata(ws.join("none")).is_err());
    }

    #[test]
    fn a_current_config_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("test-config");
        assert!(!config_is_current(&p, b"x\n", None));
        std::fs::write(&p, "x\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(config_is_current(&p, b"x\n", None));
        assert!(!config_is_current(&p, b"y\n", None));
        assert!(!config_is_current(&p, b"x\nz\n", None));
        let me = nix::unistd::getuid().as_raw();
        assert_eq!(
            config_is_current(&p, b"x\n", Some(me)),
            nix::unistd::getgid().as_raw() == me
        );
        assert!(!config_is_current(&p, b"x\n", Some(me + 1)));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(!config_is_current(&p, b"x\n", None));
    }

    #[test]
    fn latin1_round_trip() {
        let b = b"caf\xe9 DIR/x";
        let t = latin1_or_utf8(b);
        assert_eq!(t, "caf\u{e9} DIR/x");
        assert_eq!(encode_like(b, &t), b.to_vec());
        assert_eq!(encode_like(b"ok", "ok"), b"ok".to_vec());
    }
}
