use super::*;

fn parse(text: &str) -> Result<Script, ParseError> {
    parse_str(text, Path::new("scripts/0000-Basic/0042"))
}

fn steps(text: &str) -> Vec<Step> {
    parse(text).unwrap().steps
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn heading_and_comments() {
    let s = parse("# A heading\n# plain comment\n\nkilldaemon\n").unwrap();
    assert_eq!(s.heading, "A heading");
    assert_eq!(s.steps.len(), 1);
    assert_eq!(s.steps[0].span.line, 4);
    assert_eq!(s.steps[0].command, Command::KillDaemon);
}

#[test]
fn missing_heading_is_an_error() {
    assert_eq!(
        err("exim -bV\n****\n"),
        "scripts/0000-Basic/0042:1: the first line must be a heading comment starting with #"
    );
}

#[test]
fn echo_comment() {
    let s = steps("# h\n### Some words\n####not echo\n");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].command, Command::Comment("Some words".into()));
}

#[test]
fn exim_with_all_prefixes_and_data() {
    let s = steps("# h\n1\nLDAPTLS_REQCERT=never A=b 3 sudo -u EXIMUSER exim -bs -odi\nhelo x\n:noeol:quit\n:eval:\\x41\n:sleep:2\n****\n");
    assert_eq!(s[0].expect_rc, 1);
    match &s[0].command {
        Command::Exim {
            env,
            wait_secs,
            sudo,
            variant,
            args,
            data,
        } => {
            assert_eq!(
                env,
                &vec![
                    ("LDAPTLS_REQCERT".into(), "never".into()),
                    ("A".into(), "b".into())
                ]
            );
            assert_eq!(*wait_secs, 3);
            assert_eq!(sudo, &Some(Sudo::User("EXIMUSER".into())));
            assert_eq!(variant, "");
            assert_eq!(args, "-bs -odi");
            assert_eq!(data.len(), 4);
            assert_eq!(
                data[0],
                DataLine {
                    prefix: DataPrefix::None,
                    text: "helo x".into()
                }
            );
            assert_eq!(data[1].prefix, DataPrefix::NoEol);
            assert_eq!(data[2].prefix, DataPrefix::Eval);
            assert_eq!(
                data[3],
                DataLine {
                    prefix: DataPrefix::Sleep,
                    text: "2".into()
                }
            );
        }
        other => panic!("not exim: {other:?}"),
    }
}

#[test]
fn exim_exim_and_sudo_exim() {
    let s = steps("# h\nexim_exim -bs\n****\nsudo exim -q\n****\n");
    assert!(
        matches!(&s[0].command, Command::Exim { variant, sudo: None, .. } if variant == "_exim")
    );
    assert!(matches!(
        &s[1].command,
        Command::Exim {
            sudo: Some(Sudo::Root),
            ..
        }
    ));
}

#[test]
fn unknown_exim_variant() {
    assert!(err("# h\nexim_foo -bs\n****\n").contains("unknown command `exim_foo`"));
}

#[test]
fn continuation_lines_join() {
    let s = steps("# h\nexim -bP a \\\n  b \\\n\tc\n****\nkilldaemon\n");
    assert!(matches!(&s[0].command, Command::Exim { args, .. } if args == "-bP a b c"));
    assert_eq!(s[1].span.line, 6);
}

#[test]
fn continuation_joins_values_exactly() {
    let s = steps("# h\nexim -DQWM='From: p@q\\n\\\n       To: a@b' -odi\n****\n");
    assert!(
        matches!(&s[0].command, Command::Exim { args, .. } if args == "-DQWM='From: p@q\\nTo: a@b' -odi"),
        "{:?}",
        s[0].command
    );
}

#[test]
fn continuation_at_eof() {
    assert!(
        err("# h\nexim -bP a \\").contains(":2: the last line ends with a continuation backslash")
    );
}

#[test]
fn data_may_end_at_end_of_file() {
    let s = steps("# h\n\nexim -bs\nhelo\n");
    assert!(matches!(&s[0].command, Command::Exim { data, .. } if data.len() == 1));
}

#[test]
fn backslash_then_blank_continues() {
    let s = steps("# h\nexim -bP a \\ \n b\n****\n");
    assert!(matches!(&s[0].command, Command::Exim { args, .. } if args == "-bP a b"));
}

#[test]
fn return_code_without_command() {
    assert!(err("# h\n2\n").contains(":2: a return code line is not followed by a command"));
    assert!(err("# h\n2\n3\nkilldaemon\n").contains(":3: a second return code line"));
}

#[test]
fn unknown_command() {
    assert_eq!(
        err("# h\nfrobnicate now\n"),
        "scripts/0000-Basic/0042:2: unknown command: frobnicate now"
    );
}

#[test]
fn simple_commands() {
    let s = steps("# h\nsleep 3\nmillisleep 500\necho hi there\nmunge dnssec\nsortlog\nrmfiltertest\ngnutls\nno_message_check\nno_msglog_check\nno_stderr_check\nno_stdout_check\nneed_ipv4\nneed_ipv6\nneed_largefiles\nneed_move_frozen_messages\ndump retry\ndbmbuild a b\nexim_lock -v test-mail/userx\nexinext x@y\nexigrep abc\nexiqgrep -z\neximstats\n");
    let got: Vec<Command> = s.into_iter().map(|s| s.command).collect();
    assert_eq!(
        got,
        vec![
            Command::Sleep(3),
            Command::MilliSleep(500),
            Command::Echo("hi there".into()),
            Command::Munge("dnssec".into()),
            Command::SortLog,
            Command::RmFilterTest,
            Command::Gnutls,
            Command::NoCheck(NoCheck::Message),
            Command::NoCheck(NoCheck::Msglog),
            Command::NoCheck(NoCheck::Stderr),
            Command::NoCheck(NoCheck::Stdout),
            Command::Need(NeedKind::Ipv4),
            Command::Need(NeedKind::Ipv6),
            Command::Need(NeedKind::LargeFiles),
            Command::Need(NeedKind::MoveFrozenMessages),
            Command::Dump("retry".into()),
            Command::DbmBuild("a b".into()),
            Command::EximLock("-v test-mail/userx".into()),
            Command::Exinext("x@y".into()),
            Command::Exigrep("abc".into()),
            Command::Exiqgrep("-z".into()),
            Command::Eximstats(String::new()),
        ]
    );
}

#[test]
fn argument_errors() {
    assert!(err("# h\nsleep x\n").contains("`sleep` needs a number of seconds, not `x`"));
    assert!(err("# h\nmillisleep\n").contains("`millisleep` needs a number of milliseconds"));
    assert!(err("# h\nkilldaemon now\n").contains("`killdaemon` takes no arguments"));
    assert!(err("# h\nmunge a b\n").contains("`munge` takes one name"));
    assert!(err("# h\ndump\n").contains("`dump` needs a database name"));
    assert!(err("# h\nserver\n****\n").contains("`server` needs a port or socket"));
    assert!(err("# h\nclient\n****\n").contains("`client` needs an address and a port"));
    assert!(err("# h\nclient-foo 1 2\n****\n").contains("unknown command `client-foo`"));
}

#[test]
fn client_and_server() {
    let s = steps("# h\nserver -t 10 PORT_S 2\n220 hi\n****\nsudo client-gnutls 127.0.0.1 PORT_D\n??? 220\n****\n");
    assert_eq!(
        s[0].command,
        Command::Server {
            args: "-t 10 PORT_S 2".into(),
            data: vec![data_line("220 hi")]
        }
    );
    assert!(
        matches!(&s[1].command, Command::Client { program, sudo: Some(Sudo::Root), args, data }
        if program == "client-gnutls" && args == "127.0.0.1 PORT_D" && data.len() == 1)
    );
}

#[test]
fn write_and_catwrite() {
    let s = steps(
        "# h\nwrite test-data 3x30=AB_ 1x50\npre\n++++\npost\n****\ncatwrite f\nline\n****\n",
    );
    assert_eq!(
        s[0].command,
        Command::Write {
            catwrite: false,
            spec: WriteSpec {
                file: "test-data".into(),
                specs: vec![
                    LineSpec {
                        count: 3,
                        length: 30,
                        start: Some("AB ".into())
                    },
                    LineSpec {
                        count: 1,
                        length: 50,
                        start: None
                    }
                ],
                before: vec!["pre".into()],
                after: vec!["post".into()],
            }
        }
    );
    assert!(
        matches!(&s[1].command, Command::Write { catwrite: true, spec } if spec.before == vec!["line".to_string()])
    );
    assert!(err("# h\nwrite f 3y4\n****\n").contains("bad line specification `3y4`"));
    assert!(err("# h\nwrite f 3x2=abc\n****\n").contains("too small"));
}

#[test]
fn perl_and_file_commands() {
    let s = steps(
        "# h\nsudo perl\nprint 1;\n****\nsudo rm DIR/spool/db/*\nls -l test-mail\nmkdir -p x\n",
    );
    assert!(
        matches!(&s[0].command, Command::Perl { sudo: Some(Sudo::Root), args, data } if data.len() == 1 && args.is_empty())
    );
    assert_eq!(
        s[1].command,
        Command::File(FileCommand {
            sudo: Some(Sudo::Root),
            line: "rm DIR/spool/db/*".into()
        })
    );
    assert_eq!(
        s[2].command,
        Command::File(FileCommand {
            sudo: None,
            line: "ls -l test-mail".into()
        })
    );
    assert_eq!(
        s[3].command,
        Command::File(FileCommand {
            sudo: None,
            line: "mkdir -p x".into()
        })
    );
}

#[test]
fn perl_with_arguments() {
    // The forms Exim's scripts use: a script file with its own arguments, and `-e` code.
    let s = steps("# h\nsudo perl DIR/aux-fixed/setrt 1 -86400\n****\nperl -e 'print \"\\n\";'  \n****\nsudo -u EXIMUSER perl aux-fixed/x\n****\n");
    assert!(
        matches!(&s[0].command, Command::Perl { sudo: Some(Sudo::Root), args, data } if args == "DIR/aux-fixed/setrt 1 -86400" && data.is_empty())
    );
    assert!(
        matches!(&s[1].command, Command::Perl { sudo: None, args, .. } if args == r#"-e 'print "\n";'"#)
    );
    assert!(
        matches!(&s[2].command, Command::Perl { sudo: Some(Sudo::User(u)), args, .. } if u == "EXIMUSER" && args == "aux-fixed/x")
    );
    // A word that merely starts with perl is no perl command.
    assert!(err("# h\nperlish x\n").contains("unknown command: perlish x"));
}

#[test]
fn background() {
    let s = steps("# h\nbackground\nexim -bd\n****\n");
    assert!(matches!(&s[0].command, Command::Background(b) if matches!(**b, Command::Exim { .. })));
    assert!(err("# h\nbackground\n").contains("`background` is not followed by a command"));
    assert!(err("# h\nbackground\nbackground\nkilldaemon\n").contains("cannot be nested"));
}

#[test]
fn crlf_script() {
    let s = steps("# h\r\nkilldaemon\r\n");
    assert_eq!(s[0].command, Command::KillDaemon);
}

#[test]
fn needs_and_no_checks() {
    let s = parse("# h\nneed_ipv4\nno_stdout_check\n").unwrap();
    assert_eq!(s.needs().collect::<Vec<_>>(), vec![NeedKind::Ipv4]);
    assert!(s.has_no_check(NoCheck::Stdout));
    assert!(!s.has_no_check(NoCheck::Stderr));
}

#[test]
fn carriage_return_inside_a_data_line_is_kept() {
    let s = steps("# h\nserver PORT_N\n>ab\rcd\n****\n");
    assert!(
        matches!(&s[0].command, Command::Server { data, .. } if data[0].text == ">ab\rcd"),
        "{:?}",
        s[0].command
    );
}

#[test]
fn leading_blanks_before_a_command() {
    // Once a panic (byte slicing at the wrong offset); an ASCII line was cut in the wrong place.
    let latin1 = crate::script::decode("# h\n café -bV\n****\n".as_bytes());
    assert_eq!(
        err(&latin1),
        "scripts/0000-Basic/0042:2: unknown command: café -bV"
    );
    let s = steps("# h\n   echo  hello there\n");
    assert_eq!(s[0].command, Command::Echo("hello there".into()));
    let s = steps("# h\n  sleep 2\n");
    assert_eq!(s[0].command, Command::Sleep(2));
}

#[test]
fn bad_sleep_data_line_is_an_error() {
    assert_eq!(
        err("# h\nexim -bs\nhelo x\n:sleep:two\n****\n"),
        "scripts/0000-Basic/0042:4: `:sleep:` needs a whole number of seconds, not `two`"
    );
    assert!(err("# h\nclient 127.0.0.1 PORT_D\n:sleep:\n****\n").contains("0042:3: `:sleep:`"));
    assert!(err("# h\nserver PORT_S\n:sleep:-1\n****\n").contains("0042:3:"));
    let s = steps("# h\nexim -bs\n:sleep: 3 \n****\n");
    assert!(
        matches!(&s[0].command, Command::Exim { data, .. } if data[0].prefix == DataPrefix::Sleep)
    );
}

#[test]
fn write_size_is_bounded() {
    let e = err("# h\nwrite test-data 99999999999x99999999999\n****\n");
    assert!(
        e.starts_with("scripts/0000-Basic/0042:2: `write` would write more than"),
        "{e}"
    );
    assert!(err("# h\ncatwrite f 1073741824x2\n****\n")
        .contains("0042:2: `catwrite` would write more than"));
    // Two items that each fit but together do not.
    assert!(err("# h\nwrite f 1024x1048576 1x2\n****\n").contains("would write more than"));
    // Exim's largest (0000-Basic/0525) is fine.
    assert!(matches!(
        &steps("# h\nwrite test-data 200000x80\n****\n")[0].command,
        Command::Write { .. }
    ));
}

#[test]
fn leading_blank_before_a_command() {
    // Found by the fuzz target `script`: the arguments were cut at the first word's length
    // from the start of the line, inside a multi-byte char (a panic) or inside the word.
    let _ = parse("##\n\t#\u{a3}\n");
    let _ = parse("# h\n café -bV\n");
    assert_eq!(steps("# h\n killdaemon\n")[0].command, Command::KillDaemon);
    assert_eq!(steps("# h\n  sleep 2\n")[0].command, Command::Sleep(2));
}
