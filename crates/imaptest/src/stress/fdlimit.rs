//! Raising the open-file limit for many clients (one socket each, plus rawlogs): the soft limit
//! goes up to what is needed, within the hard limit; when even that is too low, a warning says so.
/// File descriptors needed besides the clients' sockets.
const SPARE: u64 = 64;

/// Makes room for `clients` connections (twice that with rawlog files); returns a warning
/// when the hard limit is too low.
pub fn raise(clients: u64, rawlog: bool) -> Option<String> {
    let need: libc::rlim_t = (clients * if rawlog { 2 } else { 1 } + SPARE) as libc::rlim_t;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Some("imaptest: cannot read the open-file limit".into());
    }
    if lim.rlim_cur >= need {
        return None;
    }
    let want = need.min(lim.rlim_max);
    let new = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0;
    if !ok || want < need {
        return Some(format!(
            "imaptest: clients={clients} needs about {need} open files, the limit is {} (hard {}); raise it (ulimit -n)",
            if ok { want } else { lim.rlim_cur },
            lim.rlim_max
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_need_changes_nothing() {
        assert_eq!(super::raise(1, false), None);
    }
}
