//! *What* to launch for a script command, decided without running anything: from the parsed
//! command, the substitutions and the workspace's facts to the shell command line (as the
//! Perl runtest's `run_command` builds it), who runs it, its stdin and its lifetime (waited
//! for, a daemon, the scripted server, in the background, or exim_lock's held shell).
//! *Launching* it is the executor's job (`exec::Executor`); commands that run inside runtest
//! (`sleep`, `write`, `munge` …) have no plan.

use crate::exec::{Feed, Ready};
use crate::script::{encode, perl_unescape, Command, DataLine, DataPrefix, Sudo};
use anyhow::{bail, Result};
use std::time::Duration;

/// Who runs a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The caller account (the default).
    Caller,
    Root,
    /// `sudo -u NAME` (substituted).
    User(String),
}

/// How long a launched command lives, and who waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifetime {
    /// Run to its end (at most --timeout); stdin is closed `close_after` after the data.
    Wait { close_after: Duration },
    /// An Exim daemon: runs until `killdaemon`, stdin held open; ready once it logs
    /// "daemon started" (or ends).
    Daemon,
    /// The scripted server: runs until the next non-daemon exim waits for it; ready once it
    /// listens on `ready` (None: it pauses first with `-i`, or the target is unknown).
    Server { ready: Option<Ready> },
    /// An Exim daemon in inetd wait mode (`-DSERVER=wait:PORT -bw`): runtest listens on
    /// 127.0.0.1 PORT itself and hands the listening socket over as the daemon's stdin;
    /// it runs until `killdaemon`. (Connections wait in the socket's backlog, so it is
    /// ready at once.)
    WaitDaemon { port: u16 },
    /// `background`: runs on; killed at the end of the test.
    Background,
    /// exim_lock's shell: holds the lock until its stdin is closed after the next exim.
    Lock,
}

/// One command to launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// For `/bin/sh -c`, in the workspace.
    pub line: String,
    pub who: Who,
    pub feed: Vec<Feed>,
    pub lifetime: Lifetime,
    /// Write `test-config` from the test's conf first.
    pub needs_config: bool,
    /// Output files the caller must own before the command appends to them.
    pub caller_files: Vec<&'static str>,
    /// An exim command (counts for the scripted server and exim_lock).
    pub is_exim: bool,
}

/// The run-time facts a plan needs.
pub struct Context<'a> {
    /// The workspace folder (DIR).
    pub dir: &'a str,
    /// runtest's extra options for every exim command (`-d+all` …).
    pub exim_options: &'a [String],
    pub have_ipv4: bool,
    pub have_ipv6: bool,
    /// The standard substitutions (DIR, CALLER, PORT_D …).
    pub subst: &'a dyn Fn(&str) -> String,
    /// The ids on the queue, oldest first, for `$msgN` (asked only when an exim command
    /// holds `$msg`).
    pub msg_ids: &'a dyn Fn(&str) -> Result<Vec<String>>,
}

/// The files a `### text` line is copied to: the client and the server sides alike, as the
/// Perl runtest does, so that the server's output is framed by the same comment lines (a
/// test whose `###` lines come before any server or daemon still has a server part).
pub const COMMENT_FILES: [&str; 4] = [
    "test-stdout",
    "test-stderr",
    "test-stdout-server",
    "test-stderr-server",
];

/// `(DIR/eximdir/UTIL ARGS INPUT; echo UTIL exit code = $?) >>test-stdout`.
fn utility_line(dir: &str, util: &str, args: &str, input: &str) -> String {
    format!("({dir}/eximdir/{util} {args}{input}; echo {util} exit code = $?) >>test-stdout")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Put the queue's ids for `$msg1` … `$msgN` (1-based, oldest first); a `$msgN` with no
/// such message is left as written. `$msg10` is never read as `$msg1` followed by `0`.
pub fn substitute_msg_ids(args: &str, ids: &[String]) -> String {
    let re = regex::Regex::new(r"\$msg(\d+)").expect("a valid regex");
    re.replace_all(args, |c: &regex::Captures| {
        c[1].parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| ids.get(i))
            .cloned()
            .unwrap_or_else(|| c[0].to_string())
    })
    .into_owned()
}

/// Data lines as stdin, with substitutions, the `:eval:`/`:noeol:`/`:sleep:` prefixes and
/// `\NONL\` endings. A `:sleep:` that is not a number of seconds is an error.
pub fn feed(data: &[DataLine], subst: &dyn Fn(&str) -> String) -> Result<Vec<Feed>> {
    data.iter()
        .map(|d| {
            let text = subst(&d.text);
            Ok(match d.prefix {
                DataPrefix::Sleep => match text.trim().parse::<u64>() {
                    Ok(n) => Feed::Sleep(Duration::from_secs(n)),
                    Err(_) => bail!("`:sleep:{text}`: not a number of seconds"),
                },
                DataPrefix::Eval => Feed::Bytes(perl_unescape(&text)),
                DataPrefix::NoEol => Feed::Bytes(encode(&text)),
                DataPrefix::None => match text.strip_suffix("\\NONL\\") {
                    Some(t) => Feed::Bytes(encode(t)),
                    None => Feed::Bytes(encode(&format!("{text}\n"))),
                },
            })
        })
        .collect()
}

/// Where `server ARGS` listens, read with the server's own argument grammar (so that
/// `server 1224 100` is port 1224 with 100 connections): a port number or a socket path,
/// and None when it pauses first (`-i`, so nobody waits for it to listen) or when its
/// command line is one the server itself would refuse.
pub fn server_target(args: &str) -> Option<Ready> {
    use mailrig_aux::server_args::{listen_target, Listen};
    if args.split_whitespace().any(|w| w == "-i") {
        return None;
    }
    Some(match listen_target(args)? {
        Listen::Port(p) => Ready::Port(p),
        Listen::Unix(path) => Ready::Socket(path),
    })
}

fn who(sudo: &Option<Sudo>, subst: &dyn Fn(&str) -> String) -> Who {
    match sudo {
        None => Who::Caller,
        Some(Sudo::Root) => Who::Root,
        Some(Sudo::User(u)) => Who::User(subst(u)),
    }
}

fn launch(line: String, who: Who, feed: Vec<Feed>, lifetime: Lifetime) -> Launch {
    Launch {
        line,
        who,
        feed,
        lifetime,
        needs_config: false,
        caller_files: Vec::new(),
        is_exim: false,
    }
}

const WAIT: Lifetime = Lifetime::Wait {
    close_after: Duration::ZERO,
};

/// The plan for `cmd`, or None when it runs inside runtest.
pub fn plan(cmd: &Command, cx: &Context) -> Result<Option<Launch>> {
    let dir = cx.dir;
    let s = cx.subst;
    Ok(Some(match cmd {
        Command::Exim { .. } => exim(cmd, cx, false)?,
        // The Exim utilities run as the Perl runtest runs them: their output and a line
        // "<utility> exit code = N" go to test-stdout, so the exit code is part of the
        // compared output rather than checked.
        Command::DbmBuild(args) => {
            let files: Vec<String> = s(args)
                .split_whitespace()
                .map(|f| format!("{dir}/{f}"))
                .collect();
            launch(
                utility_line(dir, "exim_dbmbuild", &files.join(" "), ""),
                Who::Caller,
                vec![],
                WAIT,
            )
        }
        Command::Exinext(args) => {
            let pre = format!("-DEXIM_PATH={dir}/eximdir/exim -C {dir}/test-config ");
            launch(
                utility_line(dir, "exinext", &format!("{pre}{}", s(args)), ""),
                Who::Caller,
                vec![],
                WAIT,
            )
        }
        Command::Exigrep(args) => {
            let line = utility_line(
                dir,
                "exigrep",
                &s(args),
                &format!(" < {dir}/spool/log/mainlog"),
            );
            launch(line, Who::Caller, vec![], WAIT)
        }
        Command::Eximstats(args) => {
            let line = utility_line(
                dir,
                "eximstats",
                &s(args),
                &format!(" < {dir}/spool/log/mainlog"),
            );
            launch(line, Who::Caller, vec![], WAIT)
        }
        Command::Exiqgrep(args) => {
            let exim =
                format!("{dir}/eximdir/exim -DEXIM_PATH={dir}/eximdir/exim -C {dir}/test-config");
            let line = utility_line(
                dir,
                "exiqgrep",
                &format!("-E {} {}", shell_quote(&exim), s(args)),
                "",
            );
            Launch {
                needs_config: true,
                ..launch(line, Who::Caller, vec![], WAIT)
            }
        }
        Command::EximLock(args) => {
            // exim_lock with no command runs a shell ($SHELL, /bin/sh in the tests'
            // environment) on its stdin: the lock is held until that stdin is closed.
            let line = format!(
                "{dir}/eximdir/exim_lock {} >>test-stdout 2>>test-stderr",
                s(args)
            );
            launch(line, Who::Caller, vec![], Lifetime::Lock)
        }
        // As the Perl runtest: perl on the command line as written (substituted, through
        // the shell, so quoting is the shell's), the data lines as its stdin.
        Command::Perl { sudo, args, data } => {
            let args = s(args);
            let sep = if args.is_empty() { "" } else { " " };
            launch(
                format!("perl{sep}{args} >>test-stdout 2>>test-stderr"),
                who(sudo, s),
                feed(data, s)?,
                WAIT,
            )
        }
        Command::File(f) => launch(
            format!("{} >>test-stdout 2>>test-stderr", s(&f.line)),
            who(&f.sudo, s),
            vec![],
            WAIT,
        ),
        Command::Client {
            sudo,
            program,
            args,
            data,
        } => {
            let line = format!("{dir}/bin/{program} {} >>test-stdout 2>&1", s(args));
            launch(line, who(sudo, s), feed(data, s)?, WAIT)
        }
        Command::Server { args, data } => {
            let mut args = s(args);
            if !cx.have_ipv6 && !args.contains("-noipv6") {
                args = format!("-noipv6 {args}");
            }
            if !cx.have_ipv4 && !args.contains("-noipv4") {
                args = format!("-noipv4 {args}");
            }
            let line = format!("{dir}/bin/server {args} >>test-stdout-server 2>&1");
            let ready = server_target(&args);
            Launch {
                caller_files: vec!["test-stdout-server"],
                ..launch(
                    line,
                    Who::Caller,
                    feed(data, s)?,
                    Lifetime::Server { ready },
                )
            }
        }
        Command::Background(inner) => match inner.as_ref() {
            Command::Exim { .. } => exim(inner, cx, true)?,
            Command::File(_) | Command::Perl { .. } | Command::Client { .. } => {
                let Some(l) = plan(inner, cx)? else {
                    bail!("`{}` cannot run in the background", inner.name())
                };
                Launch {
                    lifetime: Lifetime::Background,
                    ..l
                }
            }
            other => bail!("`{}` cannot run in the background", other.name()),
        },
        _ => return Ok(None),
    }))
}

/// An exim command line: `[VAR=val …] DIR/eximdir/exim[_exim] [runtest's options]
/// -DEXIM_PATH=… -C DIR/test-config ARGS >>test-stdout 2>>test-stderr`; with
/// `-DSERVER=server` and no `-DNOTDAEMON` it is a daemon (`-bd` becomes `-bdf` with a pid
/// file in the spool, stderr to test-stderr-server).
fn exim(cmd: &Command, cx: &Context, background: bool) -> Result<Launch> {
    let Command::Exim {
        env,
        wait_secs,
        sudo,
        variant,
        args,
        data,
    } = cmd
    else {
        bail!("not an exim command")
    };
    let (dir, s) = (cx.dir, cx.subst);
    let mut args = s(args);
    if !background && args.contains("$msg") {
        let qspec = regex::Regex::new(r"-qG\w+")
            .expect("a valid regex")
            .find(&args)
            .map(|m| m.as_str().to_string());
        let ids = (cx.msg_ids)(&qspec.unwrap_or_default())?;
        // As the Perl runtest: the ids it has are put in; a `$msgN` beyond the queue stays
        // as written, for Exim to reject.
        args = substitute_msg_ids(&args, &ids);
    }
    let envs: String = env.iter().map(|(k, v)| format!("{k}={} ", s(v))).collect();
    if background {
        let line = format!(
            "{envs}{dir}/eximdir/exim{variant} -DEXIM_PATH={dir}/eximdir/exim{variant} -C {dir}/test-config {args} >>test-stdout 2>>test-stderr"
        );
        return Ok(Launch {
            needs_config: true,
            is_exim: true,
            ..launch(line, who(sudo, s), feed(data, s)?, Lifetime::Background)
        });
    }
    let optargs: String = cx.exim_options.iter().map(|o| format!(" {o}")).collect();
    if cx.exim_options.iter().any(|o| o.starts_with("-d")) {
        args = regex::Regex::new(r"(^|\s)-d\S*")
            .expect("a valid regex")
            .replace_all(&args, "")
            .trim_start()
            .to_string();
    }
    let mut line = format!(
        "{envs}{dir}/eximdir/exim{variant}{optargs} -DEXIM_PATH={dir}/eximdir/exim{variant} -C {dir}/test-config {args} >>test-stdout 2>>test-stderr"
    );
    let is_server = line.contains(" -DSERVER=server ");
    let mut l = Launch {
        needs_config: true,
        is_exim: true,
        ..launch(
            String::new(),
            who(sudo, s),
            vec![],
            Lifetime::Wait {
                close_after: Duration::from_secs(*wait_secs),
            },
        )
    };
    if let Some(c) = regex::Regex::new(r"\s-DSERVER=wait:(\d+)\s")
        .expect("a valid regex")
        .captures(&line)
    {
        let Ok(port) = c[1].parse::<u16>() else {
            bail!("-DSERVER=wait:{}: not a port number", &c[1])
        };
        // As the Perl runtest: its stderr is the server's, its data lines are ignored.
        line.push_str("-server");
        l.caller_files.push("test-stderr-server");
        l.lifetime = Lifetime::WaitDaemon { port };
        l.line = line;
        return Ok(l);
    }
    if is_server {
        line.push_str("-server");
        l.caller_files.push("test-stderr-server");
    }
    if is_server && !line.contains(" -DNOTDAEMON ") {
        line = line.replacen(" -bd ", " -bdf ", 1);
        if line.contains(" -bdf ") && !line.contains(" -oP ") {
            line = line.replacen(
                " -bdf ",
                &format!(" -bdf -oP {dir}/spool/exim-daemon.pid "),
                1,
            );
        }
        l.lifetime = Lifetime::Daemon;
    } else {
        l.feed = feed(data, s)?;
    }
    l.line = line;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse_str;
    use std::path::Path;

    fn plan_of(script_line: &str, opts: &[String], ids: &[&str]) -> Result<Option<Launch>> {
        let script = parse_str(
            &format!("# t\n{script_line}\n"),
            Path::new("scripts/0000-Basic/0001"),
        )
        .unwrap();
        let subst = |t: &str| {
            t.replace("DIR", "/w")
                .replace("PORT_D", "1225")
                .replace("CALLER", "mailrig")
        };
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let msg_ids = move |_: &str| Ok(ids.clone());
        let cx = Context {
            dir: "/w",
            exim_options: opts,
            have_ipv4: true,
            have_ipv6: false,
            subst: &subst,
            msg_ids: &msg_ids,
        };
        plan(&script.steps[0].command, &cx)
    }

    fn one(script_line: &str) -> Launch {
        plan_of(script_line, &[], &[]).unwrap().unwrap()
    }

    #[test]
    fn exim_waits_with_its_data() {
        let l = one("exim -odi userx\nSubject: x\n****");
        assert_eq!(l.line, "/w/eximdir/exim -DEXIM_PATH=/w/eximdir/exim -C /w/test-config -odi userx >>test-stdout 2>>test-stderr");
        assert_eq!(
            (l.who.clone(), l.lifetime.clone(), l.needs_config, l.is_exim),
            (Who::Caller, WAIT, true, true)
        );
        assert_eq!(l.feed, vec![Feed::Bytes(b"Subject: x\n".to_vec())]);
        let l = one("sudo exim_exim -bV\n****");
        assert_eq!(l.who, Who::Root);
        assert!(l
            .line
            .starts_with("/w/eximdir/exim_exim -DEXIM_PATH=/w/eximdir/exim_exim "));
    }

    #[test]
    fn exim_daemon() {
        let l = one("exim -DSERVER=server -bd -oX PORT_D\n****");
        assert_eq!(l.lifetime, Lifetime::Daemon);
        assert_eq!(
            l.line,
            "/w/eximdir/exim -DEXIM_PATH=/w/eximdir/exim -C /w/test-config -DSERVER=server -bdf -oP /w/spool/exim-daemon.pid -oX 1225 >>test-stdout 2>>test-stderr-server"
        );
        assert_eq!(l.caller_files, vec!["test-stderr-server"]);
        let l = one("exim -DSERVER=server -DNOTDAEMON -bs\n****");
        assert_eq!(l.lifetime, WAIT);
        assert!(l.line.ends_with("2>>test-stderr-server"));
    }

    #[test]
    fn inetd_wait_mode_daemon() {
        let l = one("exim -DSERVER=wait:PORT_D -bw\nignored\n****");
        assert_eq!(l.lifetime, Lifetime::WaitDaemon { port: 1225 });
        assert_eq!(
            l.line,
            "/w/eximdir/exim -DEXIM_PATH=/w/eximdir/exim -C /w/test-config -DSERVER=wait:1225 -bw >>test-stdout 2>>test-stderr-server"
        );
        assert_eq!(
            (l.feed.len(), l.caller_files.clone()),
            (0, vec!["test-stderr-server"])
        );
        assert!(plan_of("exim -DSERVER=wait:99999 -bw\n****", &[], &[]).is_err());
        // Only the whole word: a macro value that merely starts so is an ordinary command.
        assert_eq!(one("exim -DSERVER=waitress -bV\n****").lifetime, WAIT);
    }

    #[test]
    fn runtest_options_replace_the_scripts_debug() {
        let l = plan_of("exim -d+route -bt x\n****", &["-d+all".to_string()], &[])
            .unwrap()
            .unwrap();
        assert_eq!(l.line, "/w/eximdir/exim -d+all -DEXIM_PATH=/w/eximdir/exim -C /w/test-config -bt x >>test-stdout 2>>test-stderr");
    }

    #[test]
    fn message_ids() {
        let l = plan_of("exim -Mrm $msg1 $msg2\n****", &[], &["10HmaX-0005vi-00"])
            .unwrap()
            .unwrap();
        assert!(
            l.line.contains(" -Mrm 10HmaX-0005vi-00 $msg2 "),
            "{}",
            l.line
        );
        let ids = vec!["a".to_string()];
        assert_eq!(substitute_msg_ids("$msg0 $msg", &ids), "$msg0 $msg");
        let many: Vec<String> = (1..=10).map(|i| format!("id{i}")).collect();
        assert_eq!(
            substitute_msg_ids("$msg10 $msg1 $msg99999999999999999999", &many),
            "id10 id1 $msg99999999999999999999"
        );
    }

    #[test]
    fn server_and_its_target() {
        let l = one("server PORT_D 100\n220 hi\n****");
        assert_eq!(
            l.line,
            "/w/bin/server -noipv6 1225 100 >>test-stdout-server 2>&1"
        );
        assert_eq!(
            l.lifetime,
            Lifetime::Server {
                ready: Some(Ready::Port(1225))
            }
        );
        assert_eq!(
            server_target("-t 10 -oP /x/pid /w/sock 2"),
            Some(Ready::Socket("/w/sock".into()))
        );
        assert_eq!(server_target("-i 2 1225"), None);
        assert_eq!(server_target("-noipv4 -t 5 1225"), Some(Ready::Port(1225)));
        assert_eq!(server_target("-t 5"), None);
    }

    #[test]
    fn utilities_and_files() {
        assert_eq!(one("exigrep x").line, "(/w/eximdir/exigrep x < /w/spool/log/mainlog; echo exigrep exit code = $?) >>test-stdout");
        assert_eq!(one("dbmbuild aux-fixed/a aux-var/b").line, "(/w/eximdir/exim_dbmbuild /w/aux-fixed/a /w/aux-var/b; echo exim_dbmbuild exit code = $?) >>test-stdout");
        assert!(one("exiqgrep -c")
            .line
            .contains("-E '/w/eximdir/exim -DEXIM_PATH="));
        let l = one("sudo -u CALLER rm DIR/x");
        assert_eq!(
            (l.line.as_str(), l.who),
            (
                "rm /w/x >>test-stdout 2>>test-stderr",
                Who::User("mailrig".into())
            )
        );
        assert_eq!(one("exim_lock -v DIR/mbox").lifetime, Lifetime::Lock);
        assert_eq!(
            one("client 127.0.0.1 PORT_D\n??? 220\n****").line,
            "/w/bin/client 127.0.0.1 1225 >>test-stdout 2>&1"
        );
    }

    #[test]
    fn perl_with_and_without_arguments() {
        let l = one("sudo perl\nprint 1;\n****");
        assert_eq!(
            (l.line.as_str(), l.who.clone()),
            ("perl >>test-stdout 2>>test-stderr", Who::Root)
        );
        assert_eq!(l.feed, vec![Feed::Bytes(b"print 1;\n".to_vec())]);
        let l = one("sudo perl DIR/aux-fixed/TESTNUM.fudge 1 -86400\n****");
        assert_eq!(
            l.line,
            "perl /w/aux-fixed/TESTNUM.fudge 1 -86400 >>test-stdout 2>>test-stderr"
        );
        assert_eq!((l.who, l.lifetime, l.feed.len()), (Who::Root, WAIT, 0));
        let l = one("perl -e 'print \"\\n\";'\n****");
        assert_eq!(
            l.line,
            r#"perl -e 'print "\n";' >>test-stdout 2>>test-stderr"#
        );
        assert_eq!(l.who, Who::Caller);
    }

    #[test]
    fn background_and_inline() {
        let l = one("background\nexim -odq x\n****");
        assert_eq!(l.lifetime, Lifetime::Background);
        assert!(l.line.starts_with("/w/eximdir/exim -DEXIM_PATH="));
        assert_eq!(
            one("background\nrm -f DIR/x").lifetime,
            Lifetime::Background
        );
        assert!(plan_of("sleep 1", &[], &[]).unwrap().is_none());
        assert!(plan_of("killdaemon", &[], &[]).unwrap().is_none());
    }

    #[test]
    fn sleep_in_data_is_fed_as_a_pause() {
        // A bad `:sleep:` never gets here: the script parser refuses it with file:line.
        assert!(parse_str("# t\nexim -bs\n:sleep:soon\n****\n", Path::new("s/1")).is_err());
        let l = one("exim -bs\n:sleep:2\nquit\n****");
        assert_eq!(
            l.feed,
            vec![
                Feed::Sleep(Duration::from_secs(2)),
                Feed::Bytes(b"quit\n".to_vec())
            ]
        );
    }
}
