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
/// list, preferring anything to loopback, and never a link-local IPv6 address. An address on
/// a loopback interface (a local resolver's `10.255.255.53` on `lo`) counts as loopback: no
/// other host could reach it, and the tests' host address must be the machine's own.
pub fn addresses() -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let mut found: Vec<(std::net::IpAddr, bool)> = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            let Some(sa) = ifa.address else { continue };
            let on_lo = ifa
                .flags
                .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK);
            if let Some(s) = sa.as_sockaddr_in() {
                found.push((s.ip().into(), on_lo));
            } else if let Some(s) = sa.as_sockaddr_in6() {
                found.push((s.ip().into(), on_lo));
            }
        }
    }
    pick_addresses(&found)
}

/// The choice of [`addresses`] among (address, is on a loopback interface) pairs, in the
/// order the interfaces list them.
pub fn pick_addresses(found: &[(std::net::IpAddr, bool)]) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    use std::net::IpAddr;
    let mut v4: Vec<(Ipv4Addr, bool)> = Vec::new();
    let mut v6: Vec<(Ipv6Addr, bool)> = Vec::new();
    for (ip, on_lo) in found {
        match ip {
            IpAddr::V4(a) => v4.push((*a, *on_lo || a.is_loopback())),
            IpAddr::V6(a) if (a.segments()[0] & 0xffc0) != 0xfe80 => {
                v6.push((*a, *on_lo || a.is_loopback()))
            }
            IpAddr::V6(_) => {}
        }
    }
    let pick4 = v4
        .iter()
        .find(|(_, lo)| !lo)
        .or(v4.first())
        .map(|(a, _)| *a);
    let pick6 = v6
        .iter()
        .find(|(_, lo)| !lo)
        .or(v6.first())
        .map(|(a, _)| *a);
    (pick4, pick6)
}

/// The full, zero-padded nibble form of an IPv6 address, e.g. `fd00:0000:…:0002`.
pub fn expand_ipv6(ip: &Ipv6Addr) -> String {
    ip.segments()
        .iter()
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_on_lo_is_not_the_hosts() {
        let a = |s: &str, lo: bool| (s.parse::<std::net::IpAddr>().unwrap(), lo);
        let found = [
            a("127.0.0.1", true),
            a("10.255.255.53", true),
            a("::1", true),
            a("192.0.2.2", false),
            a("fe80::1", false),
            a("fd00::2", false),
        ];
        assert_eq!(
            pick_addresses(&found),
            (
                Some("192.0.2.2".parse().unwrap()),
                Some("fd00::2".parse().unwrap())
            )
        );
        // Loopback only: loopback it is.
        assert_eq!(
            pick_addresses(&found[..3]),
            (
                Some("127.0.0.1".parse().unwrap()),
                Some("::1".parse().unwrap())
            )
        );
        assert_eq!(pick_addresses(&[a("fe80::1", false)]), (None, None));
    }

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
