//! The test-harness copy of the binary (what Exim's `patchexim` does): `DIR/eximdir/exim`
//! with `>>>running<<<` patched to `<<<testing>>>` and the version to `x.yz`, setuid root;
//! `exim_exim` setuid and setgid to the Exim user; and the utilities beside them.

use anyhow::{bail, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The utilities the scripts call, copied from the binary's folder when present.
pub const UTILITIES: &[&str] = &[
    "exim_dbmbuild",
    "exim_dumpdb",
    "exim_fixdb",
    "exim_tidydb",
    "exim_lock",
    "exinext",
    "exigrep",
    "eximstats",
    "exiqgrep",
    "exim_checkaccess",
];

/// Patch the binary image in memory.
pub fn patch_image(image: &mut [u8]) -> Result<()> {
    let running = b">>>running<<<";
    let testing = b"<<<testing>>>";
    let Some(pos) = find(image, running) else {
        bail!("the binary has no `>>>running<<<` marker: not an Exim binary, or one built without the test-harness hook");
    };
    image[pos..pos + running.len()].copy_from_slice(testing);
    // The version: "<digits>.<digits>[...]\0<<eximversion>>" becomes "x.yz" padded with '*'.
    let marker = b"\0<<eximversion>>";
    if let Some(m) = find(image, marker) {
        let start = image[..m]
            .iter()
            .rposition(|b| *b == 0)
            .map(|p| p + 1)
            .unwrap_or(0);
        let len = m - start;
        if len >= 4 {
            let mut v = b"x.yz".to_vec();
            v.resize(len, b'*');
            image[start..m].copy_from_slice(&v);
        }
    }
    Ok(())
}

/// Debian's exinext reads `-C FILE` but never passes it on to the exim it runs, which then
/// reads the system configuration and rejects the `-D` macros. Pass it on (only where the
/// script has exactly Debian's lines; any other exinext is left as it is).
pub fn patch_exinext(script: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(script) else {
        return script.to_vec();
    };
    text.replace("`$exim_path $eximmacdef -bP ", "`$exim_path ${config:+-C $config} $eximmacdef -bP ")
        .replace("open(LIST, \"$exim -v -bt $address |\")", "open(LIST, \"$exim \" . ($config ne '' ? \"-C $config \" : '') . \"$eximmacdef -v -bt $address |\")")
        .into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Ownership and mode for a file, as root.
fn own(path: &Path, uid: u32, gid: u32, mode: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {:o} {}", mode, path.display()))
}

/// The ids the eximdir is made with.
pub struct Owners {
    pub caller_uid: u32,
    pub exim_uid: u32,
    pub exim_gid: u32,
}

/// Make `eximdir` in `dir` (as root). Returns nothing; the paths are fixed.
pub fn make_eximdir(binary: &Path, dir: &Path, owners: &Owners) -> Result<()> {
    let eximdir = dir.join("eximdir");
    if eximdir.exists() {
        std::fs::remove_dir_all(&eximdir)
            .with_context(|| format!("removing old {}", eximdir.display()))?;
    }
    std::fs::create_dir(&eximdir).with_context(|| format!("mkdir {}", eximdir.display()))?;
    let mut image =
        std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    patch_image(&mut image).with_context(|| binary.display().to_string())?;
    let exim = eximdir.join("exim");
    let exim_exim = eximdir.join("exim_exim");
    std::fs::write(&exim, &image).with_context(|| format!("writing {}", exim.display()))?;
    std::fs::write(&exim_exim, &image)
        .with_context(|| format!("writing {}", exim_exim.display()))?;
    own(&exim, 0, 0, 0o4755)?;
    own(&exim_exim, owners.exim_uid, owners.exim_gid, 0o6755)?;
    let bindir = binary.parent().unwrap_or(Path::new("/"));
    for u in UTILITIES {
        let src = bindir.join(u);
        if src.is_file() {
            let dst = eximdir.join(u);
            let bytes =
                std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            let bytes = if *u == "exinext" {
                patch_exinext(&bytes)
            } else {
                bytes
            };
            std::fs::write(&dst, bytes).with_context(|| format!("writing {}", dst.display()))?;
            own(&dst, 0, 0, 0o755)?;
        }
    }
    own(&eximdir, owners.caller_uid, owners.exim_gid, 0o710)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_marker_and_version() {
        let mut img = b"xx>>>running<<<yy\x004.96\x00<<eximversion>>zz\x004.96.1\x00".to_vec();
        patch_image(&mut img).unwrap();
        assert_eq!(
            &img[..],
            &b"xx<<<testing>>>yy\x00x.yz\x00<<eximversion>>zz\x004.96.1\x00"[..]
        );
        let mut longer = b">>>running<<<\x004.96.1\x00<<eximversion>>".to_vec();
        patch_image(&mut longer).unwrap();
        assert!(find(&longer, b"\x00x.yz**\x00<<eximversion>>").is_some());
    }

    #[test]
    fn exinext_passes_the_config_on() {
        let debian = b"spool_directory=`$exim_path $eximmacdef -bP spool_directory | sed x`\n  open(LIST, \"$exim -v -bt $address |\") ||\n";
        let out = String::from_utf8(patch_exinext(debian)).unwrap();
        assert!(
            out.contains("`$exim_path ${config:+-C $config} $eximmacdef -bP spool_directory"),
            "{out}"
        );
        assert!(out.contains("\"-C $config \""), "{out}");
        assert_eq!(patch_exinext(b"other script\n"), b"other script\n".to_vec());
    }

    #[test]
    fn refuses_non_exim() {
        let mut img = b"ELF something else".to_vec();
        assert!(patch_image(&mut img)
            .unwrap_err()
            .to_string()
            .contains("not an Exim binary"));
    }
}
