//! The host's name and addresses as the tests see them.
//!
//! The tests need a fully qualified host name (test 0036). When runtest is root it gives
//! itself and its children a private UTS namespace with an FQDN instead of touching the
//! machine's name; otherwise it uses the machine's name as it is (and warns if unqualified).

use anyhow::{Context, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The host facts the substitutions and munging need.
#[derive(Debug, Clone)]
pub struct Host {
    pub hostname: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

impl Host {
    pub fn short_name(&self) -> &str {
        self.hostname.split('.').next().unwrap_or(&self.hostname)
    }
}

/// The current host name (uname nodename).
pub fn uname_hostname() -> Result<String> {
    Ok(nix::unistd::gethostname()
        .context("gethostname")?
        .to_string_lossy()
        .into_owned())
}

/// When root: enter a private UTS namespace and, if the machine's name has no dot, name the
/// host `<name>.mailrig.test` there. Must be called before any thread or child is started.
/// Returns the name the tests will see.
pub fn ensure_fqdn(is_root: bool) -> Result<String> {
    let name = uname_hostname()?;
    if name.contains('.') || !is_root {
        return Ok(name.to_lowercase());
    }
    let fqdn = format!("{}.mailrig.test", name.to_lowercase());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS)
        .context("unshare(CLONE_NEWUTS) for a private host name")?;
    nix::unistd::sethostname(&fqdn).with_context(|| format!("sethostname({fqdn})"))?;
    Ok(fqdn)
}

/// Pick the addresses as the Perl runtest does: the first of each family that the interfaces
/// list, preferring anything to loopback, and never a link-local IPv6 address.
pub fn addresses() -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let mut v4: Vec<Ipv4Addr> = Vec::new();
    let mut v6: Vec<Ipv6Addr> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            let Some(sa) = ifa.address else { continue };
            if let Some(s) = sa.as_sockaddr_in() {
                v4.push(s.ip());
            } else if let Some(s) = sa.as_sockaddr_in6() {
                let ip = s.ip();
                if (ip.segments()[0] & 0xffc0) != 0xfe80 {
                    v6.push(ip);
                }
            }
        }
    }
    let pick4 = v4.iter().find(|a| !a.is_loopback()).or(v4.first()).copied();
    let pick6 = v6.iter().find(|a| !a.is_loopback()).or(v6.first()).copied();
    (pick4, pick6)
}

/// The full, zero-padded nibble form of an IPv6 address, e.g. `fd00:0000:…:0002`.
pub fn expand_ipv6(ip: &Ipv6Addr) -> String {
    ip.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":")
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ipv6() {
        assert_eq!(
            expand_ipv6(&"fd00::2".parse().unwrap()),
            "fd00:0000:0000:0000:0000:0000:0000:0002"
        );
    }

    #[test]
    fn picks_some_address() {
        // Every machine that runs the tests has loopback at least.
        let (v4, _) = addresses();
        assert!(v4.is_some());
    }
}
