//! showids: the one line Exim's test suite prints to see which ids a process runs with.
//!
//! Exim's tests run it from pipe transports (test 0283) and compare the munged line,
//! e.g. `uid=EXIM_UID gid=EXIM_GID euid=EXIM_UID egid=EXIM_GID`, so the format is
//! exactly showids.c's: `uid=%d gid=%d euid=%d egid=%d` and a newline.

use nix::unistd::{getegid, geteuid, getgid, getuid};

/// The ids of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
}

impl Ids {
    /// The ids of the calling process.
    pub fn current() -> Self {
        Ids {
            uid: getuid().as_raw(),
            gid: getgid().as_raw(),
            euid: geteuid().as_raw(),
            egid: getegid().as_raw(),
        }
    }

    /// showids.c's output line, newline included.
    pub fn line(&self) -> String {
        format!(
            "uid={} gid={} euid={} egid={}\n",
            self.uid, self.gid, self.euid, self.egid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_showids_c() {
        let ids = Ids {
            uid: 1000,
            gid: 100,
            euid: 0,
            egid: 7,
        };
        assert_eq!(ids.line(), "uid=1000 gid=100 euid=0 egid=7\n");
    }

    #[test]
    fn current_ids_are_the_process_ids() {
        let ids = Ids::current();
        assert_eq!(ids.uid, unsafe { libc::getuid() });
        assert_eq!(ids.egid, unsafe { libc::getegid() });
    }
}
