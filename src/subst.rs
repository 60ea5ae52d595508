//! The standard substitutions (README.exim-test-suite, "STANDARD SUBSTITUTIONS"): one table,
//! built once per run (and per workspace), applied to confs, scripts, aux-var-src and
//! dnszones-src exactly as the Perl runtest's `do_substitute` does, word boundaries included.

use regex::{Captures, Regex};
use std::sync::OnceLock;

/// The canonical port numbers of the Perl runtest. Saved outputs show these.
pub const PORT_N: u16 = 1223;
pub const PORT_S: u16 = 1224;
pub const PORT_D: u16 = 1225;
pub const PORT_D2: u16 = 1226;
pub const PORT_D3: u16 = 1227;
pub const PORT_D4: u16 = 1228;

/// The ports one workspace uses for the `PORT_*` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub d: u16,
    pub d2: u16,
    pub d3: u16,
    pub d4: u16,
    pub n: u16,
    pub s: u16,
}

impl Ports {
    /// The Perl runtest's fixed ports (serial runs use these).
    pub const CANONICAL: Ports = Ports {
        d: PORT_D,
        d2: PORT_D2,
        d3: PORT_D3,
        d4: PORT_D4,
        n: PORT_N,
        s: PORT_S,
    };

    /// The canonical block shifted by `offset` (for parallel workspaces). PORT_N stays: Exim
    /// in test-harness mode sends its ident (RFC 1413) queries to that fixed port, so a test
    /// that runs `server PORT_N` must get the real one (and runs alone, see the scheduler).
    pub fn shifted(offset: u16) -> Ports {
        let c = Self::CANONICAL;
        Ports {
            d: c.d + offset,
            d2: c.d2 + offset,
            d3: c.d3 + offset,
            d4: c.d4 + offset,
            n: c.n,
            s: c.s + offset,
        }
    }

    /// The shifted ports (PORT_N is shared and fixed).
    pub fn own(&self) -> [u16; 5] {
        [self.s, self.d, self.d2, self.d3, self.d4]
    }

    /// (actual, canonical) pairs, for munging back.
    pub fn mapping(&self) -> Vec<(u16, u16)> {
        let c = Self::CANONICAL;
        vec![
            (self.d, c.d),
            (self.d2, c.d2),
            (self.d3, c.d3),
            (self.d4, c.d4),
            (self.n, c.n),
            (self.s, c.s),
        ]
    }
}

/// The values substituted for the standard names.
#[derive(Debug, Clone)]
pub struct Table {
    pub caller: String,
    pub caller_group: String,
    pub caller_uid: u32,
    pub caller_gid: u32,
    /// The suite (or workspace) directory, substituted for `DIR/`.
    pub dir: String,
    pub exim_user: String,
    pub exim_group: String,
    /// The system's mail group (`mail`), for MAILGROUP.
    pub mail_group: String,
    pub hostipv4: String,
    pub hostipv6: String,
    pub hostname: String,
    pub ports: Ports,
    /// Port found free at start for inetd-style tests (`PORT_DYNAMIC`).
    pub port_dynamic: u16,
    pub v4net: String,
    pub v6net: String,
}

pub const NO_IPV4: &str = "<no IPv4 address found>";
pub const NO_IPV6: &str = "<no IPv6 address found>";

struct Patterns {
    words: Regex,
    v4net: Regex,
    v6net: Regex,
    dir: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        // One alternation is one pass: a name that a substitution produces is never
        // substituted again (the Perl runs its s///g in sequence, but no value contains
        // another name, so the result is the same).
        words: Regex::new(
            r"\b(MAILGROUP|CALLERGROUP|CALLER_UID|CALLER_GID|CALLER|EXIMGROUP|EXIMUSER|HOSTIPV4|HOSTIPV6|HOSTNAME|PORT_DYNAMIC|PORT_D2|PORT_D3|PORT_D4|PORT_D|PORT_N|PORT_S|TESTNUM)\b",
        )
        .unwrap(),
        v4net: Regex::new(r"(\b|_)V4NET([._])").unwrap(),
        v6net: Regex::new(r"\bV6NET:").unwrap(),
        dir: Regex::new(r"\bDIR/").unwrap(),
    })
}

impl Table {
    /// Apply the substitutions to one line (or a whole text). `testnum` is `None` where no
    /// test is running (TESTNUM becomes empty, as in the Perl runtest).
    pub fn apply(&self, text: &str, testnum: Option<u32>) -> String {
        let p = patterns();
        let dir_slash = format!("{}/", self.dir);
        let s = p.dir.replace_all(text, regex::NoExpand(&dir_slash));
        let s = p.words.replace_all(&s, |c: &Captures| -> String {
            match &c[1] {
                "CALLER" => self.caller.clone(),
                "CALLERGROUP" => self.caller_group.clone(),
                "CALLER_UID" => self.caller_uid.to_string(),
                "CALLER_GID" => self.caller_gid.to_string(),
                "EXIMGROUP" => self.exim_group.clone(),
                "MAILGROUP" => self.mail_group.clone(),
                "EXIMUSER" => self.exim_user.clone(),
                "HOSTIPV4" => self.hostipv4.clone(),
                "HOSTIPV6" => self.hostipv6.clone(),
                "HOSTNAME" => self.hostname.clone(),
                "PORT_D" => self.ports.d.to_string(),
                "PORT_D2" => self.ports.d2.to_string(),
                "PORT_D3" => self.ports.d3.to_string(),
                "PORT_D4" => self.ports.d4.to_string(),
                "PORT_N" => self.ports.n.to_string(),
                "PORT_S" => self.ports.s.to_string(),
                "PORT_DYNAMIC" => self.port_dynamic.to_string(),
                "TESTNUM" => testnum.map(|n| format!("{n:04}")).unwrap_or_default(),
                other => other.to_string(),
            }
        });
        let s = p.v4net.replace_all(&s, |c: &Captures| {
            format!("{}{}{}", &c[1], self.v4net, &c[2])
        });
        let v6 = format!("{}:", self.v6net);
        let s = p.v6net.replace_all(&s, regex::NoExpand(&v6));
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            caller: "mailrig".into(),
            caller_group: "mailrig".into(),
            caller_uid: 1001,
            caller_gid: 1002,
            dir: "/suite".into(),
            exim_user: "Debian-exim".into(),
            exim_group: "Debian-exim".into(),
            mail_group: "mail".into(),
            hostipv4: "192.0.2.2".into(),
            hostipv6: "fd00::2".into(),
            hostname: "vm.mailrig.test".into(),
            ports: Ports::CANONICAL,
            port_dynamic: 40000,
            v4net: "224".into(),
            v6net: "ff00".into(),
        }
    }

    #[test]
    fn every_name() {
        let t = table();
        let got = t.apply(
            "MAILGROUP CALLER CALLERGROUP CALLER_UID CALLER_GID DIR/x EXIMUSER EXIMGROUP HOSTIPV4 HOSTIPV6 HOSTNAME PORT_D PORT_D2 PORT_D3 PORT_D4 PORT_N PORT_S PORT_DYNAMIC TESTNUM",
            Some(42),
        );
        assert_eq!(got, "mail mailrig mailrig 1001 1002 /suite/x Debian-exim Debian-exim 192.0.2.2 fd00::2 vm.mailrig.test 1225 1226 1227 1228 1223 1224 40000 0042");
    }

    #[test]
    fn word_boundaries() {
        let t = table();
        assert_eq!(
            t.apply("XCALLER CALLERX CALLER@HOSTNAME", None),
            "XCALLER CALLERX mailrig@vm.mailrig.test"
        );
        // DIR only with its slash; TESTNUM empty outside a test.
        assert_eq!(
            t.apply("DIR DIRX/ DIR/a TESTNUM.x", None),
            "DIR DIRX/ /suite/a .x"
        );
    }

    #[test]
    fn test_networks() {
        let t = table();
        assert_eq!(
            t.apply("V4NET.0.0.1 db.ip4.V4NET_x V4NET", None),
            "224.0.0.1 db.ip4.224_x V4NET"
        );
        assert_eq!(t.apply("V6NET:1::2 V6NET", None), "ff00:1::2 V6NET");
    }

    #[test]
    fn shifted_ports_map_back() {
        let p = Ports::shifted(100);
        assert_eq!(p.d, 1325);
        assert_eq!(p.n, PORT_N);
        assert!(p.mapping().contains(&(1324, 1224)));
    }
}
