//! Command line of `client` and its TLS variants, parsed exactly as client.c does
//! (`-t5` glued, single-dash long options, positional address/port/interface/cert/key).
//! Hand-written rather than clap: the C conventions (`-t5`, `-tls-on-connect`, an
//! optional interface recognised by its first character) do not fit a clap grammar.

/// Which build of client.c the program stands for (chosen by argv[0]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `client`: no TLS; "starttls" is just a line to send.
    Plain,
    /// `client-gnutls`, `client-anytls`: STARTTLS handling, `-p`, `-ocsp`, GnuTLS wording.
    /// (`client-anytls` is the GnuTLS build here, as with Debian's GnuTLS-built Exim.)
    Tls,
    /// `client-ssl`: the same, with what client.c's OpenSSL build prints.
    Ssl,
}

impl Flavour {
    /// `client` is plain; `client-ssl` the OpenSSL build; any other `client-…` the GnuTLS one.
    pub fn from_argv0(argv0: &str) -> Flavour {
        let base = argv0.rsplit('/').next().unwrap_or(argv0);
        if base == "client-ssl" {
            Flavour::Ssl
        } else if base.starts_with("client-") {
            Flavour::Tls
        } else {
            Flavour::Plain
        }
    }

    /// Whether this build speaks TLS.
    pub fn is_tls(self) -> bool {
        self != Flavour::Plain
    }
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientArgs {
    pub tls_on_connect: bool,
    pub ocsp: Option<String>,
    pub priority: Option<String>,
    /// Seconds for each wait (connect, a response, a handshake, a write).
    pub timeout: u64,
    /// A negative `-t` value: a timeout exits 0 instead of 99.
    pub tmo_noerror: bool,
    pub address: String,
    pub port: u16,
    pub interface: Option<String>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
}

/// The command line asks for something other than a run: help, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsExit {
    pub code: i32,
    /// Text for stdout (help) or stderr (errors).
    pub message: String,
    pub to_stdout: bool,
}

fn fail(code: i32, message: String) -> ArgsExit {
    ArgsExit {
        code,
        message,
        to_stdout: false,
    }
}

/// Usage text (client.c's HELP_MESSAGE).
pub fn help(flavour: Flavour) -> String {
    let mut s = String::from("\nUsage: client\n");
    if flavour.is_tls() {
        s.push_str("          [-tls-on-connect]\n          [-ocsp CAFILE]\n          [-p priority-string]\n");
    }
    s.push_str(
        "          [-tn] n seconds timeout (negative: a timeout is not an error)\n\
         \x20         <IP address>\n\
         \x20         <port>\n\
         \x20         [<outgoing interface>]\n\
         \x20         [<cert file>]\n\
         \x20         [<key file>]\n",
    );
    s
}

/// Parse `args` (without argv[0]).
pub fn parse(flavour: Flavour, args: &[String]) -> Result<ClientArgs, ArgsExit> {
    let mut i = 0;
    let mut tls_on_connect = false;
    let mut ocsp = None;
    let mut priority = None;
    let mut timeout: u64 = 5;
    let mut tmo_noerror = false;

    while i < args.len() && args[i].starts_with('-') {
        let a = args[i].as_str();
        if matches!(a, "-help" | "--help" | "-h") {
            return Err(ArgsExit {
                code: 0,
                message: help(flavour),
                to_stdout: true,
            });
        }
        if a == "-tls-on-connect" {
            tls_on_connect = true;
            i += 1;
        } else if flavour.is_tls() && a == "-ocsp" {
            let Some(f) = args.get(i + 1) else {
                return Err(fail(
                    96,
                    "Missing required certificate file for ocsp option\n".into(),
                ));
            };
            ocsp = Some(f.clone());
            i += 2;
        } else if flavour.is_tls() && a == "-p" {
            let Some(p) = args.get(i + 1) else {
                return Err(fail(96, "Missing priority string\n".into()));
            };
            priority = Some(p.clone());
            i += 2;
        } else if let Some(v) = a.strip_prefix("-t").filter(|v| {
            v.starts_with(|c: char| c.is_ascii_digit()) || (v.starts_with('-') && v.len() > 1)
        }) {
            match v.parse::<i64>() {
                Ok(t) => {
                    tmo_noerror = t < 0;
                    // unsigned_abs: `-t-9223372036854775808` has no i64 magnitude.
                    timeout = t.unsigned_abs();
                }
                Err(_) => return Err(fail(95, format!("Failed to parse timeout value: {a}\n"))),
            }
            i += 1;
        } else {
            return Err(fail(1, format!("Unrecognized option {a}\n")));
        }
    }

    let Some(address) = args.get(i) else {
        return Err(fail(1, "No IP address given\n".into()));
    };
    i += 1;
    let Some(port) = args.get(i) else {
        return Err(fail(1, "No port number given\n".into()));
    };
    i += 1;
    let port = match port.parse::<u16>() {
        Ok(p) => p,
        Err(_) => return Err(fail(1, format!("Bad port number: {port}\n"))),
    };
    let interface = match args.get(i) {
        Some(s) if s.starts_with(|c: char| c.is_ascii_digit() || c == ':') => {
            i += 1;
            Some(s.clone())
        }
        _ => None,
    };
    let certfile = args.get(i).cloned();
    let keyfile = args.get(i + 1).cloned();
    if args.len() > i + 2 {
        return Err(fail(1, format!("Unexpected argument {}\n", args[i + 2])));
    }

    Ok(ClientArgs {
        tls_on_connect,
        ocsp,
        priority,
        timeout,
        tmo_noerror,
        address: address.clone(),
        port,
        interface,
        certfile,
        keyfile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flavour_by_name() {
        assert_eq!(Flavour::from_argv0("/x/bin/client"), Flavour::Plain);
        assert_eq!(Flavour::from_argv0("bin/client-gnutls"), Flavour::Tls);
        assert_eq!(Flavour::from_argv0("client-anytls"), Flavour::Tls);
        assert_eq!(Flavour::from_argv0("/x/client-ssl"), Flavour::Ssl);
        assert!(Flavour::Ssl.is_tls() && !Flavour::Plain.is_tls());
    }

    #[test]
    fn plain_with_timeout_and_interface() {
        let a = parse(Flavour::Plain, &v("-t5 127.0.0.1 1225 127.0.0.2")).unwrap();
        assert_eq!(a.timeout, 5);
        assert_eq!(a.port, 1225);
        assert_eq!(a.interface.as_deref(), Some("127.0.0.2"));
        assert!(a.certfile.is_none());
    }

    #[test]
    fn negative_timeout_is_nonfailure() {
        let a = parse(Flavour::Plain, &v("-t-3 ::1 25")).unwrap();
        assert_eq!(a.timeout, 3);
        assert!(a.tmo_noerror);
    }

    #[test]
    fn most_negative_timeout_does_not_overflow() {
        let a = parse(Flavour::Plain, &v("-t-9223372036854775808 ::1 25")).unwrap();
        assert_eq!(a.timeout, 1 << 63);
        assert!(a.tmo_noerror);
        assert_eq!(
            parse(Flavour::Plain, &v("-t-9223372036854775809 ::1 25"))
                .unwrap_err()
                .code,
            95
        );
    }

    #[test]
    fn tls_cert_and_key_after_port() {
        let a = parse(
            Flavour::Tls,
            &v("-p NONE:+VERS-TLS1.2 1.2.3.4 1225 aux/cert aux/key"),
        )
        .unwrap();
        assert_eq!(a.priority.as_deref(), Some("NONE:+VERS-TLS1.2"));
        assert!(a.interface.is_none());
        assert_eq!(a.certfile.as_deref(), Some("aux/cert"));
        assert_eq!(a.keyfile.as_deref(), Some("aux/key"));
    }

    #[test]
    fn errors_have_c_codes() {
        assert_eq!(
            parse(Flavour::Plain, &v("-x 1.2.3.4 25")).unwrap_err().code,
            1
        );
        assert_eq!(
            parse(Flavour::Plain, &v("-t5x 1.2.3.4 25"))
                .unwrap_err()
                .code,
            95
        );
        assert_eq!(parse(Flavour::Tls, &v("-ocsp")).unwrap_err().code, 96);
        assert_eq!(
            parse(Flavour::Plain, &v("1.2.3.4")).unwrap_err().message,
            "No port number given\n"
        );
        // -p is a TLS-only option.
        assert_eq!(
            parse(Flavour::Plain, &v("-p X 1.2.3.4 25"))
                .unwrap_err()
                .code,
            1
        );
        assert_eq!(parse(Flavour::Plain, &v("--help")).unwrap_err().code, 0);
    }
}
