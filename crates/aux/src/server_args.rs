//! Command line of `server`, parsed the way server.c does (options with separate values:
//! `-t 10`, `-i 2`, `-oP file`; then a port number or a socket path; then a count).

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP port, on IPv6 and/or IPv4 wildcard addresses.
    Port(u16),
    /// A Unix-domain socket path (any argument starting with `/`).
    Unix(String),
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    pub debug: bool,
    /// Seconds to wait for a connection or for input.
    pub timeout: u64,
    /// A negative `-t`: a timeout ends the program with status 0.
    pub tmo_noerror: bool,
    /// `-i`: seconds to sleep before creating the listening sockets.
    pub initial_pause: u64,
    pub use_ipv4: bool,
    pub use_ipv6: bool,
    /// `-oP`: write our pid here.
    pub pidfile: Option<String>,
    pub listen: Listen,
    /// Number of connections to handle, one after the other.
    pub connections: u32,
}

/// Help or a bad command line: print `message` (on stdout, as server.c does) and exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsExit {
    pub code: i32,
    pub message: String,
}

/// Usage text.
pub fn help(argv0: &str) -> String {
    format!(
        "Usage: {argv0} [options] port|socket [connection count]\n\
         Options\n\
         \t-d       debug\n\
         \t-i n     n seconds initial delay\n\
         \t-noipv4  disable ipv4\n\
         \t-noipv6  disable ipv6\n\
         \t-oP file write PID to file\n\
         \t-t n     n seconds timeout (negative: a timeout is not an error)\n\
         \t-tfo     enable TCP Fast Open (accepted, ignored)\n"
    )
}

fn fail(message: String) -> ArgsExit {
    ArgsExit { code: 1, message }
}

fn number(opt: &str, v: Option<&String>) -> Result<i64, ArgsExit> {
    let Some(v) = v else {
        return Err(fail(format!("server: option {opt} needs a value\n")));
    };
    v.trim()
        .parse::<i64>()
        .map_err(|_| fail(format!("server: bad number for {opt}: {v}\n")))
}

/// Parse `args` (without argv[0]).
pub fn parse(argv0: &str, args: &[String]) -> Result<ServerArgs, ArgsExit> {
    if matches!(args.first().map(String::as_str), Some("--help" | "-h")) {
        return Err(ArgsExit {
            code: 0,
            message: help(argv0),
        });
    }
    let mut a = ServerArgs {
        debug: false,
        timeout: 5,
        tmo_noerror: false,
        initial_pause: 0,
        use_ipv4: true,
        use_ipv6: true,
        pidfile: None,
        listen: Listen::Port(0),
        connections: 1,
    };
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        match args[i].as_str() {
            "-d" => a.debug = true,
            "-tfo" => {}
            "-t" => {
                i += 1;
                let t = number("-t", args.get(i))?;
                a.tmo_noerror = t < 0;
                a.timeout = t.unsigned_abs();
            }
            "-i" => {
                i += 1;
                a.initial_pause = u64::try_from(number("-i", args.get(i))?).unwrap_or(0);
            }
            "-noipv4" => a.use_ipv4 = false,
            "-noipv6" => a.use_ipv6 = false,
            "-oP" => {
                i += 1;
                let Some(f) = args.get(i) else {
                    return Err(fail("server: option -oP needs a value\n".into()));
                };
                a.pidfile = Some(f.clone());
            }
            other => {
                return Err(fail(format!(
                    "server: unknown option {other}, try -h or --help\n"
                )))
            }
        }
        i += 1;
    }
    if !a.use_ipv4 && !a.use_ipv6 {
        return Err(fail(
            "server: -noipv4 and -noipv6 cannot both be given\n".into(),
        ));
    }
    let Some(target) = args.get(i) else {
        return Err(fail("server: no port number or socket name given\n".into()));
    };
    a.listen = if target.starts_with('/') {
        Listen::Unix(target.clone())
    } else {
        match target.parse::<u16>() {
            Ok(p) if p > 0 => Listen::Port(p),
            _ => {
                return Err(fail(format!(
                    "server: bad port number or socket name: {target}\n"
                )))
            }
        }
    };
    i += 1;
    if let Some(c) = args.get(i) {
        a.connections = c
            .trim()
            .parse::<u32>()
            .map_err(|_| fail(format!("server: bad connection count: {c}\n")))?;
        i += 1;
    }
    if let Some(extra) = args.get(i) {
        return Err(fail(format!("server: unexpected argument {extra}\n")));
    }
    Ok(a)
}

/// Where `server ARGS` will listen, read with the server's own grammar: options first
/// (`-t`, `-i` and `-oP` take the next word as their value), then the port or socket,
/// then the connection count. So `server 1224 100` listens on 1224 (100 is the count) and
/// `server -t 100 1224` on 1224 too. `None` when the command line is bad (the server
/// then exits at once with its usage error).
pub fn listen_target(args: &str) -> Option<Listen> {
    let words: Vec<String> = args.split_whitespace().map(String::from).collect();
    parse("server", &words).ok().map(|a| a.listen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn port_and_count() {
        let a = parse("server", &v("-t 10 -noipv6 1224 3")).unwrap();
        assert_eq!(a.timeout, 10);
        assert!(!a.use_ipv6 && a.use_ipv4);
        assert_eq!(a.listen, Listen::Port(1224));
        assert_eq!(a.connections, 3);
    }

    #[test]
    fn negative_timeout_and_socket() {
        let a = parse("server", &v("-t -2 -i 1 /tmp/sock")).unwrap();
        assert!(a.tmo_noerror);
        assert_eq!(a.timeout, 2);
        assert_eq!(a.initial_pause, 1);
        assert_eq!(a.listen, Listen::Unix("/tmp/sock".into()));
    }

    #[test]
    fn listen_target_is_the_first_word_after_the_options() {
        assert_eq!(listen_target("1224 100"), Some(Listen::Port(1224)));
        assert_eq!(listen_target("-t 100 1224"), Some(Listen::Port(1224)));
        assert_eq!(
            listen_target("-noipv6 -i 70 -oP /tmp/pid 1225 2"),
            Some(Listen::Port(1225))
        );
        assert_eq!(
            listen_target("-t 5 /tmp/sock 3"),
            Some(Listen::Unix("/tmp/sock".into()))
        );
        assert_eq!(listen_target("-t 5"), None);
        assert_eq!(listen_target("1224 100 7"), None);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse("server", &v("-noipv4 -noipv6 1"))
                .unwrap_err()
                .message,
            "server: -noipv4 and -noipv6 cannot both be given\n"
        );
        assert_eq!(
            parse("server", &v("-x 1")).unwrap_err().message,
            "server: unknown option -x, try -h or --help\n"
        );
        assert_eq!(
            parse("server", &v("")).unwrap_err().message,
            "server: no port number or socket name given\n"
        );
        assert_eq!(parse("server", &v("-t")).unwrap_err().code, 1);
        assert_eq!(parse("server", &v("-h")).unwrap_err().code, 0);
        assert!(parse("server", &v("notaport")).is_err());
    }
}
