//! Whether a folder's `REQUIRES` lines are met on this host with this binary. The decision
//! is pure ([`unmet`]) over what the probes found; the two questions that need a process
//! (`feature X`: `exim -bP macro X`; `running X`: is the program installed) are asked
//! through [`Probes`].

use super::exim::Features;
use crate::suite::{Kind, Requirement};
use std::net::Ipv6Addr;

/// What the host offers the tests, as the run decided it (`-NOIPV4`/`-NOIPV6` included).
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub have_ipv4: bool,
    pub have_ipv6: bool,
    /// The host's IPv6 address the tests use.
    pub ipv6: Option<Ipv6Addr>,
}

/// The questions a requirement may need a process for.
pub trait Probes {
    /// Does the binary know the macro (`feature _HAVE_TLS`)?
    fn has_macro(&mut self, name: &str) -> bool;
    /// Is the service installed (`running spamd`)?
    fn has_program(&mut self, name: &str) -> bool;
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

/// Why `reqs` are not met, naming the first that is not (with its line), or None.
pub fn unmet(
    reqs: &[Requirement],
    features: &Features,
    net: &Network,
    probes: &mut dyn Probes,
) -> Option<String> {
    for r in reqs {
        let ok = match r.kind {
            Kind::Running => match r.what.to_lowercase().as_str() {
                "ipv4" => net.have_ipv4,
                "ipv6" => net.have_ipv6,
                "redis" => probes.has_program("redis-server"),
                other => probes.has_program(other),
            },
            Kind::Ipv6NonLinkLocal => {
                net.have_ipv6 && net.ipv6.is_some_and(|ip| !is_link_local(&ip))
            }
            Kind::Feature => probes.has_macro(&r.what),
            kind => features.has(kind, &r.what).unwrap_or(false),
        };
        if !ok {
            return Some(format!("no {r}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::parse_requires;
    use std::path::Path;

    struct Fixed;
    impl Probes for Fixed {
        fn has_macro(&mut self, name: &str) -> bool {
            name == "_HAVE_TLS"
        }
        fn has_program(&mut self, name: &str) -> bool {
            name == "clamd"
        }
    }

    fn check(text: &str, net: &Network) -> Option<String> {
        let bv = "Exim version 4.96 #2\nSupport for: IPv6 GnuTLS\nTransports: appendfile/maildir/mailstore/mbx smtp\nMalware: clamd cmdline\n";
        let f = super::super::exim::parse_bv(bv).unwrap();
        let reqs = parse_requires(text, Path::new("REQUIRES")).unwrap();
        unmet(&reqs, &f, net, &mut Fixed)
    }

    #[test]
    fn decides_every_kind() {
        let v6 = Network {
            have_ipv4: true,
            have_ipv6: true,
            ipv6: Some("fd00::2".parse().unwrap()),
        };
        assert_eq!(check("support IPv6\ntransport appendfile/maildir\nmalware cmdline\nfeature _HAVE_TLS\nrunning IPv4\nrunning clamd\nipv6-non-linklocal\n", &v6), None);
        assert_eq!(
            check("transport appendfile/maildir\nsupport OpenSSL\n", &v6).as_deref(),
            Some("no support OpenSSL")
        );
        assert_eq!(
            check("malware sophie\n", &v6).as_deref(),
            Some("no malware sophie")
        );
        assert_eq!(
            check("feature _HAVE_TLS_ALPN\n", &v6).as_deref(),
            Some("no feature _HAVE_TLS_ALPN")
        );
        assert_eq!(
            check("running spamd\n", &v6).as_deref(),
            Some("no running spamd")
        );
        let ll = Network {
            ipv6: Some("fe80::1".parse().unwrap()),
            ..v6.clone()
        };
        assert_eq!(
            check("ipv6-non-linklocal\n", &ll).as_deref(),
            Some("no ipv6-non-linklocal")
        );
        let none = Network {
            have_ipv4: true,
            ..Default::default()
        };
        assert_eq!(
            check("ipv6-non-linklocal\n", &none).as_deref(),
            Some("no ipv6-non-linklocal")
        );
        assert_eq!(
            check("running IPv6\n", &none).as_deref(),
            Some("no running IPv6")
        );
    }
}
