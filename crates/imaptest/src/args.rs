//! The command line: the original's `key=value` arguments and bare flags, plus `--junit FILE`,
//! `--json FILE` and `-h`/`--help`. Pure: a list of strings in, a [`Config`] out.
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Every state name of stress mode with its short name (used to accept `<state>=p[,again]`).
pub const STATES: &[(&str, &str)] = &[
    ("AUTHENTICATE", "Auth"),
    ("LOGIN", "Logi"),
    ("COMPRESS", "Comp"),
    ("LISTROOT", "Root"),
    ("LIST", "List"),
    ("MCREATE", "MCre"),
    ("MDELETE", "MDel"),
    ("MRENAME", "MRen"),
    ("MSUBS", "MSub"),
    ("STATUS", "Stat"),
    ("SELECT", "Sele"),
    ("UIDFETCH", "UIDF"),
    ("FETCH", "Fetc"),
    ("FETCH2", "Fet2"),
    ("SEARCH", "Sear"),
    ("SORT", "Sort"),
    ("THREAD", "Thre"),
    ("COPY", "Copy"),
    ("MOVE", "Move"),
    ("STORE", "Stor"),
    ("DELETE", "Dele"),
    ("EXPUNGE", "Expu"),
    ("APPEND", "Appe"),
    ("NOOP", "Noop"),
    ("IDLE", "Idle"),
    ("CHECK", "Chec"),
    ("LOGOUT", "Logo"),
    ("DISCONNECT", "Disc"),
    ("DELAY", "Dela"),
    ("CHECKPOINT!", "ChkP"),
    ("LMTP", "LMTP"),
];

/// How to check the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    None,
    Verify,
    AnyCert,
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub hostip: Option<String>,
    pub port: u16,
    pub tls: Tls,
    /// TLS after STARTTLS (IMAP) / STLS (POP3) on a plain connection instead of from the
    /// start; `tls` says how the certificate is checked.
    pub starttls: bool,
    pub ssl_ca_file: Option<PathBuf>,
    pub user: String,
    pub user2: Option<String>,
    pub userfile: Option<PathBuf>,
    pub users: (u32, u32),
    pub domains: u32,
    pub pass: String,
    pub master: Option<String>,
    pub mech: String,
    pub clients: u32,
    pub mbox: Option<PathBuf>,
    pub random_msg_size: u64,
    pub box_name: Option<String>,
    pub copybox: Option<String>,
    pub msgs: u32,
    pub secs: Option<(u64, Option<u64>)>,
    pub seed: Option<u64>,
    pub checkpoint: Option<u64>,
    pub stalled_disconnect_timeout: u64,
    pub output: Option<PathBuf>,
    pub test: Option<PathBuf>,
    pub profile: Option<PathBuf>,
    /// POP3 stress mode (without a profile).
    pub pop3: bool,
    /// The POP3 port of profile mode's POP3 clients (110).
    pub pop3_port: u16,
    /// LMTP deliveries: the port (profile mode: overrides the profile's), the host (`host`).
    pub lmtp_port: Option<u16>,
    pub lmtp_host: Option<String>,
    /// Deliveries per second of stress mode's LMTP feed (10).
    pub lmtp_rate: u32,
    pub random: bool,
    pub no_pipelining: bool,
    pub no_tracking: bool,
    pub disconnect_quit: bool,
    pub error_quit: bool,
    pub rawlog: bool,
    pub own_msgs: bool,
    pub own_flags: bool,
    pub qresync: bool,
    pub imap4rev2: bool,
    /// Averages of ms/cmd with one decimal (the original truncates to whole ms).
    pub precise_ms: bool,
    /// The login states' latency counts from the connect (TCP, TLS and banner included).
    pub connect_ms: bool,
    /// `-` was given (every state 0 but LOGIN, SELECT, LOGOUT).
    pub clear_states: bool,
    /// `<state>=p[,again]` settings, in order.
    pub states: Vec<(String, u32, Option<u32>)>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// Seconds to wait for any one reply in scripted tests.
    pub timeout: u64,
    pub help: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            hostip: None,
            port: 0,
            tls: Tls::None,
            starttls: false,
            ssl_ca_file: None,
            user: std::env::var("USER").unwrap_or_default(),
            user2: None,
            userfile: None,
            users: (1, 99),
            domains: 100,
            pass: "pass".into(),
            master: None,
            mech: "LOGIN".into(),
            clients: 10,
            mbox: None,
            random_msg_size: 0,
            box_name: None,
            copybox: None,
            msgs: 30,
            secs: None,
            seed: None,
            checkpoint: None,
            stalled_disconnect_timeout: 0,
            output: None,
            test: None,
            profile: None,
            pop3: false,
            pop3_port: 110,
            lmtp_port: None,
            lmtp_host: None,
            lmtp_rate: 10,
            random: false,
            no_pipelining: false,
            no_tracking: false,
            disconnect_quit: false,
            error_quit: false,
            rawlog: false,
            own_msgs: false,
            own_flags: false,
            qresync: false,
            imap4rev2: false,
            precise_ms: false,
            connect_ms: false,
            clear_states: false,
            states: Vec::new(),
            junit: None,
            json: None,
            timeout: 30,
            help: false,
        }
    }
}

pub const HELP: &str = "\
usage: imaptest [key=value ...] [flags ...]
Connection:  host=H (127.0.0.1) hostip=IP port=N (143) ssl | ssl=any-cert  ssl_ca_file=FILE
             starttls | starttls=any-cert (TLS after STARTTLS / POP3's STLS, checked as ssl's)
Users:       user=TEMPLATE ($USER; %d/%i: random user, then domain number) users=N|A-B (1-99)
             domains=N (100) user2=NAME userfile=FILE (user[:pass] lines) pass=P (pass)
             master=USER mech=LOGIN (the LOGIN command) | PLAIN | CRAM-MD5 | SCRAM-SHA-1 | SCRAM-SHA-256
Scripted:    test=DIR|FILE  box=NAME (imaptest)  timeout=SECS (30, per reply)
             --junit FILE  --json FILE (one test case per group)
Stress:      clients=N mbox=FILE random_msg_size=N box=NAME copybox=NAME msgs=N secs=N[,F]
             seed=N checkpoint=N stalled_disconnect_timeout=N output=FILE profile=FILE
POP3/LMTP:   pop3 (POP3 stress; port 110) pop3_port=N (profile mode's POP3 clients, 110)
             lmtp_port=N (deliveries over LMTP; overrides the profile's) lmtp_host=H
             lmtp_rate=N (stress mode's deliveries per second, 10)
             -  <state>=p[,again] (e.g. append=100,5)
Flags:       random no_pipelining no_tracking disconnect_quit error_quit rawlog own_msgs
             own_flags qresync imap4rev2
             precise_ms (ms/cmd with a decimal)  connect_ms (login latency includes connect+banner)
  -h, --help  this text
";

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{key}={v}: not a number"))
}

fn state_name(key: &str) -> Option<&'static str> {
    STATES
        .iter()
        .find(|(long, short)| long.eq_ignore_ascii_case(key) || short.eq_ignore_ascii_case(key))
        .map(|(long, _)| *long)
        .or_else(|| {
            STATES
                .iter()
                .map(|(l, _)| *l)
                .find(|l| l.trim_end_matches('!').eq_ignore_ascii_case(key))
        })
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Config> {
    let mut c = Config::default();
    let mut args_have_ssl = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let need = || {
            value
                .clone()
                .with_context(|| format!("{key}: needs a value ({key}=...)"))
        };
        match key.as_str() {
            "-h" | "--help" | "help" => c.help = true,
            "--junit" | "--json" => {
                let v = match value.clone() {
                    Some(v) => v,
                    None => it
                        .next()
                        .with_context(|| format!("{key}: needs a file name"))?,
                };
                if key == "--junit" {
                    c.junit = Some(v.into())
                } else {
                    c.json = Some(v.into())
                }
            }
            "-" => c.clear_states = true,
            "host" => c.host = need()?,
            "hostip" => c.hostip = Some(need()?),
            "port" => c.port = num(&key, &need()?)?,
            "ssl" => {
                args_have_ssl = true;
                match value.as_deref() {
                    None | Some("") | Some("yes") | Some("1") => c.tls = Tls::Verify,
                    Some("any-cert") => c.tls = Tls::AnyCert,
                    Some(v) => bail!("ssl={v}: expected ssl or ssl=any-cert"),
                }
            }
            "starttls" => {
                match value.as_deref() {
                    None | Some("") | Some("yes") | Some("1") => {
                        if c.tls == Tls::None {
                            c.tls = Tls::Verify
                        }
                    }
                    Some("any-cert") => c.tls = Tls::AnyCert,
                    Some(v) => bail!("starttls={v}: expected starttls or starttls=any-cert"),
                }
                c.starttls = true;
            }
            "ssl_ca_file" => {
                c.ssl_ca_file = Some(need()?.into());
                if c.tls == Tls::None {
                    c.tls = Tls::Verify;
                }
            }
            "user" => c.user = need()?,
            "user2" => c.user2 = Some(need()?),
            "userfile" => c.userfile = Some(need()?.into()),
            "users" => {
                let v = need()?;
                c.users = match v.split_once('-') {
                    Some((a, b)) => (num(&key, a)?, num(&key, b)?),
                    None => (1, num(&key, &v)?),
                };
                if c.users.0 > c.users.1 {
                    bail!("users={v}: the range is empty");
                }
            }
            "domains" => c.domains = num(&key, &need()?)?,
            "pass" => c.pass = need()?,
            "master" => c.master = Some(need()?),
            "mech" => c.mech = need()?.to_ascii_uppercase(),
            "clients" => c.clients = num(&key, &need()?)?,
            "mbox" => c.mbox = Some(need()?.into()),
            "random_msg_size" => c.random_msg_size = num(&key, &need()?)?,
            "box" => c.box_name = Some(need()?),
            "copybox" => c.copybox = Some(need()?),
            "msgs" => c.msgs = num(&key, &need()?)?,
            "secs" => {
                let v = need()?;
                c.secs = Some(match v.split_once(',') {
                    Some((a, b)) => (num(&key, a)?, Some(num(&key, b)?)),
                    None => (num(&key, &v)?, None),
                });
            }
            "seed" => c.seed = Some(num(&key, &need()?)?),
            "checkpoint" => c.checkpoint = Some(num(&key, &need()?)?),
            "stalled_disconnect_timeout" => c.stalled_disconnect_timeout = num(&key, &need()?)?,
            "output" => c.output = Some(need()?.into()),
            "test" => c.test = Some(need()?.into()),
            "profile" => c.profile = Some(need()?.into()),
            "pop3_port" => c.pop3_port = num(&key, &need()?)?,
            "lmtp_port" => c.lmtp_port = Some(num(&key, &need()?)?),
            "lmtp_host" => c.lmtp_host = Some(need()?),
            "lmtp_rate" => c.lmtp_rate = num(&key, &need()?)?,
            "timeout" => c.timeout = num(&key, &need()?)?,
            "random" | "no_pipelining" | "no_tracking" | "disconnect_quit" | "error_quit"
            | "rawlog" | "own_msgs" | "own_flags" | "qresync" | "imap4rev2" | "precise_ms"
            | "connect_ms" | "pop3" => {
                let on = !matches!(value.as_deref(), Some("0") | Some("no"));
                let slot = match key.as_str() {
                    "random" => &mut c.random,
                    "no_pipelining" => &mut c.no_pipelining,
                    "no_tracking" => &mut c.no_tracking,
                    "disconnect_quit" => &mut c.disconnect_quit,
                    "error_quit" => &mut c.error_quit,
                    "rawlog" => &mut c.rawlog,
                    "own_msgs" => &mut c.own_msgs,
                    "own_flags" => &mut c.own_flags,
                    "qresync" => &mut c.qresync,
                    "precise_ms" => &mut c.precise_ms,
                    "connect_ms" => &mut c.connect_ms,
                    "pop3" => &mut c.pop3,
                    _ => &mut c.imap4rev2,
                };
                *slot = on;
            }
            // `auth=100` in the usage examples is the AUTHENTICATE state's short name.
            other => match state_name(other) {
                Some(state) => {
                    let (p, again) = match value.as_deref() {
                        None => (100, None),
                        Some(v) => match v.split_once(',') {
                            Some((a, b)) => (num(&key, a)?, Some(num(&key, b)?)),
                            None => (num(&key, v)?, None),
                        },
                    };
                    if p > 100 || again.is_some_and(|a| a > 100) {
                        bail!("{arg}: probabilities are 0..100");
                    }
                    c.states.push((state.to_string(), p, again));
                }
                None => bail!("unknown argument: {arg} (imaptest -h lists them)"),
            },
        }
    }
    if c.port == 0 {
        c.port = if c.pop3 { 110 } else { 143 };
    }
    if c.pop3 && (c.test.is_some() || c.profile.is_some()) {
        bail!("pop3 is a stress mode of its own (profiles say protocol = pop3 per client)");
    }
    if c.starttls && args_have_ssl {
        bail!("ssl and starttls exclude each other (TLS from the start, or after STARTTLS)");
    }
    if c.test.is_some() && c.profile.is_some() {
        bail!("test= and profile= cannot be used together");
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Config> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn key_values_and_flags() {
        let c = p(&[
            "host=::1",
            "port=10143",
            "user=u%d@d%d",
            "users=5-9",
            "pass=x",
            "mech=scram-sha-1",
            "ssl=any-cert",
            "rawlog",
            "no_pipelining",
            "secs=20,5",
            "test=tests",
            "--junit",
            "j.xml",
            "--json=r.json",
        ])
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.users, c.mech.as_str()),
            ("::1", 10143, (5, 9), "SCRAM-SHA-1")
        );
        assert_eq!(c.tls, Tls::AnyCert);
        assert!(c.rawlog && c.no_pipelining);
        assert_eq!(c.secs, Some((20, Some(5))));
        assert_eq!(c.junit.unwrap().to_str(), Some("j.xml"));
        assert_eq!(c.json.unwrap().to_str(), Some("r.json"));
        assert_eq!(p(&[]).unwrap().port, 143);
        let c = p(&["starttls=any-cert"]).unwrap();
        assert!(c.starttls && c.tls == Tls::AnyCert);
        let c = p(&["ssl_ca_file=ca.pem", "starttls"]).unwrap();
        assert!(c.starttls && c.tls == Tls::Verify && c.ssl_ca_file.is_some());
        let c = p(&["precise_ms", "connect_ms"]).unwrap();
        assert!(c.precise_ms && c.connect_ms);
    }

    #[test]
    fn states_by_long_and_short_name() {
        let c = p(&[
            "-",
            "append=100,0",
            "Fet2=50",
            "logout",
            "checkpoint!=1",
            "auth=100",
        ])
        .unwrap();
        assert!(c.clear_states);
        assert_eq!(c.states[0], ("APPEND".into(), 100, Some(0)));
        assert_eq!(c.states[1], ("FETCH2".into(), 50, None));
        assert_eq!(c.states[2], ("LOGOUT".into(), 100, None));
        assert_eq!(c.states[3].0, "CHECKPOINT!");
        assert_eq!(c.states[4].0, "AUTHENTICATE");
    }

    #[test]
    fn bad_arguments_are_fatal_and_named() {
        assert!(p(&["hots=x"])
            .unwrap_err()
            .to_string()
            .contains("unknown argument: hots=x"));
        assert!(p(&["port=abc"])
            .unwrap_err()
            .to_string()
            .contains("port=abc"));
        assert!(p(&["append=101"]).is_err());
        assert!(p(&["users=9-1"]).is_err());
        assert!(p(&["ssl=maybe"]).is_err());
        assert!(p(&["ssl", "starttls"]).is_err());
        assert!(p(&["starttls=maybe"]).is_err());
        assert!(p(&["host"])
            .unwrap_err()
            .to_string()
            .contains("needs a value"));
    }
}
