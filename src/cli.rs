//! The command line of `runtest`: Exim's conventions (`[binary] [RUNTEST OPTIONS] [exim
//! options] [first [last|+]]`) plus mailrig's long options, normalised into [`Options`].
//!
//! The Exim part is positional and order-sensitive, which no derive parser expresses, so it is
//! parsed here by hand; the long options are few and plain.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

pub const USAGE: &str = "\
Usage: runtest [BINARY] [RUNTEST OPTIONS] [EXIM OPTIONS] [FIRST [LAST | +]]

Runs the Exim-style regression suite in the current directory (or --suite DIR):
scripts/NNNN-Name/NNNN with confs/, stdout/, stderr/, log/, mail/, msglog/, ...

BINARY          the Exim binary to test (default: a sibling Exim source tree's build-*/exim,
                else exim4 or exim on PATH or in /usr/sbin)
FIRST LAST      test number range (default 1 8999); `+` means to the end (8999, or 9999 when
                FIRST is 9000 or more); one number runs that test only

Runtest options (Exim's, upper case):
  -CONTINUE     never prompt: answer Continue everywhere, write failed-summary.log and
                run-summary.log
  -UPDATE       accept every difference: replace (or delete) the saved file and rerun
  -KEEP         keep spool, test-* files and eximdir after the tests
  -DIFF         show differences as `diff -u` instead of the cf format
  -DEBUG        trace what runtest does
  -NOIPV4       pretend there is no IPv4 interface
  -NOIPV6       pretend there is no IPv6 interface
  -SLOW         wait a little before comparing outputs
  -FLAVOUR F    prefer saved files named N.F (also -FLAVOR)

Exim options: any other option starting with `-` is passed to every exim command (e.g. -d).

mailrig options:
  --suite DIR        the suite directory (default: the current directory)
  --caller USER      when root, run the tests' commands as USER (created if absent;
                     default: mailrig)
  --timeout SECS     end a command that runs longer than SECS (default 300)
  --fail-exit        exit with status 1 when any test failed (for CI)
  -j N, --jobs N     run N tests side by side, each in its own workspace with its own
                     ports (default: 16 per CPU, at most 32; -j 1 is the serial run of the
                     Perl runtest); tests that fail are rerun alone afterwards, in test
                     order, and reviewed on the terminal unless -CONTINUE
  --junit FILE       write a JUnit XML report (one test suite per folder)
  --json FILE        write a JSON report (every test: verdict, seconds, failures, output)
  --shard K/N        run only the K-th of N deterministic slices of the selected tests
                     (for splitting a suite across CI machines)
  --save-pending     when an output differs, write it beside the saved file as FILE.new
                     (e.g. stdout/0042.new) for a later --review
  --review           review pending FILE.new outputs of the selected tests (Continue or
                     Update each) instead of running tests
  --port-offset N    add N to every PORT_* number (to run several runtests side by side);
                     outputs are munged back to the canonical ports
  -h, --help         show this help
  -V, --version      show the version

Exit status: 0 when the run completed (failures are reported, not fatal) or, with
--fail-exit, when every test passed; 1 when a test failed under --fail-exit; 2 for a usage
or set-up error; 130 when interrupted.";

/// Everything the command line decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub binary: Option<PathBuf>,
    pub suite: Option<PathBuf>,
    pub continue_: bool,
    pub update: bool,
    pub keep: bool,
    pub diff: bool,
    pub debug: bool,
    pub no_ipv4: bool,
    pub no_ipv6: bool,
    pub slow: bool,
    pub flavour: Option<String>,
    /// Options passed to every exim command.
    pub exim_options: Vec<String>,
    pub first: u32,
    pub last: u32,
    pub caller: Option<String>,
    pub timeout_secs: u64,
    pub fail_exit: bool,
    pub port_offset: u16,
    /// Tests run side by side (`-j N`); None: chosen from the machine.
    pub jobs: Option<usize>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// `--shard K/N`: run the K-th of N deterministic slices of the selected tests.
    pub shard: Option<(usize, usize)>,
    /// Write differing outputs beside the saved files as `*.new`.
    pub save_pending: bool,
    /// Review pending `*.new` files instead of running tests.
    pub review: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Box<Options>),
    Help,
    Version,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            binary: None,
            suite: None,
            continue_: false,
            update: false,
            keep: false,
            diff: false,
            debug: false,
            no_ipv4: false,
            no_ipv6: false,
            slow: false,
            flavour: None,
            exim_options: Vec::new(),
            first: 1,
            last: 8999,
            caller: None,
            timeout_secs: 300,
            fail_exit: false,
            port_offset: 0,
            jobs: None,
            junit: None,
            json: None,
            shard: None,
            save_pending: false,
            review: false,
        }
    }
}

/// `K/N` with 1 <= K <= N.
fn parse_shard(v: &str) -> Result<(usize, usize)> {
    let bad = || anyhow::anyhow!("--shard needs K/N with 1 <= K <= N, not `{v}`");
    let (k, n) = v.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parse the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Invocation> {
    let mut o = Options::default();
    let mut args: std::collections::VecDeque<String> = args.into_iter().collect();
    let mut positional: Vec<String> = Vec::new();
    let mut first_arg = true;
    while let Some(a) = args.pop_front() {
        let mut value = |name: &str| -> Result<String> {
            args.pop_front()
                .with_context(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "-CONTINUE" => o.continue_ = true,
            "-UPDATE" => o.update = true,
            "-KEEP" => o.keep = true,
            "-DIFF" => o.diff = true,
            "-DEBUG" => o.debug = true,
            "-NOIPV4" => o.no_ipv4 = true,
            "-NOIPV6" => o.no_ipv6 = true,
            "-SLOW" => o.slow = true,
            "-FLAVOUR" | "-FLAVOR" => o.flavour = Some(value(&a)?),
            "--suite" => o.suite = Some(PathBuf::from(value(&a)?)),
            "--caller" => o.caller = Some(value(&a)?),
            "--timeout" => {
                let v = value(&a)?;
                o.timeout_secs = v.parse().ok().filter(|n| *n > 0).with_context(|| {
                    format!("--timeout needs a positive number of seconds, not `{v}`")
                })?;
            }
            "--fail-exit" => o.fail_exit = true,
            "--junit" => o.junit = Some(PathBuf::from(value(&a)?)),
            "--json" => o.json = Some(PathBuf::from(value(&a)?)),
            "--save-pending" => o.save_pending = true,
            "--review" => o.review = true,
            "--shard" => {
                let v = value(&a)?;
                o.shard = Some(parse_shard(&v)?);
            }
            "-j" | "--jobs" => {
                let v = value(&a)?;
                o.jobs = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .map(Some)
                    .with_context(|| {
                        format!("-j needs a number of workers from 1 to 64, not `{v}`")
                    })?;
            }
            s if s.starts_with("-j") && s.len() > 2 && is_number(&s[2..]) => {
                args.push_front(s[2..].to_string());
                args.push_front("-j".to_string());
                continue;
            }
            "--port-offset" => {
                let v = value(&a)?;
                o.port_offset =
                    v.parse()
                        .ok()
                        .filter(|n: &u16| *n <= 60000)
                        .with_context(|| {
                            format!("--port-offset needs a number from 0 to 60000, not `{v}`")
                        })?;
            }
            s if s.starts_with("--") => {
                if let Some((k, v)) = s.split_once('=') {
                    args.push_front(v.to_string());
                    args.push_front(k.to_string());
                    continue;
                }
                bail!("unknown option {s} (see runtest --help)");
            }
            s if s.starts_with('-') && s.len() > 1 => {
                if !positional.is_empty() {
                    bail!("option {s} after the test numbers (options come first)");
                }
                o.exim_options.push(s.to_string())
            }
            s if is_number(s) || s == "+" => positional.push(s.to_string()),
            s if first_arg => o.binary = Some(PathBuf::from(s)),
            s => bail!("unexpected argument `{s}` (the binary comes first; see runtest --help)"),
        }
        first_arg = false;
    }
    match positional.as_slice() {
        [] => {}
        [one] if one == "+" => bail!("`+` needs a first test number before it"),
        [one] => {
            o.first = one.parse().context("test number out of range")?;
            o.last = o.first;
        }
        [first, last] => {
            o.first = first.parse().context("test number out of range")?;
            o.last = if last == "+" {
                if o.first >= 9000 {
                    9999
                } else {
                    8999
                }
            } else {
                last.parse().context("test number out of range")?
            };
        }
        more => bail!("at most two test numbers, got {}", more.join(" ")),
    }
    if o.first > 9999 || o.last > 9999 {
        bail!("test numbers lie in the range 1 to 9999");
    }
    if o.first > o.last {
        bail!(
            "the first test number ({}) is greater than the last ({})",
            o.first,
            o.last
        );
    }
    Ok(Invocation::Run(Box::new(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Invocation::Run(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        parse(args.iter().map(|s| s.to_string()))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!((o.first, o.last), (1, 8999));
        assert!(o.binary.is_none() && !o.continue_);
    }

    #[test]
    fn exim_style_line() {
        let o = run(&[
            "/usr/sbin/exim4",
            "-CONTINUE",
            "-UPDATE",
            "-DIFF",
            "-d",
            "-v",
            "1400",
            "1699",
        ]);
        assert_eq!(o.binary, Some(PathBuf::from("/usr/sbin/exim4")));
        assert!(o.continue_ && o.update && o.diff);
        assert_eq!(o.exim_options, vec!["-d", "-v"]);
        assert_eq!((o.first, o.last), (1400, 1699));
    }

    #[test]
    fn ranges() {
        assert_eq!((run(&["1300"]).first, run(&["1300"]).last), (1300, 1300));
        assert_eq!(run(&["5000", "+"]).last, 8999);
        assert_eq!(run(&["9001", "+"]).last, 9999);
        assert!(error(&["20", "10"]).contains("greater than the last"));
        assert!(error(&["1", "2", "3"]).contains("at most two"));
        assert!(error(&["+"]).contains("needs a first"));
        assert!(error(&["10000"]).contains("1 to 9999"));
    }

    #[test]
    fn long_options() {
        let o = run(&[
            "--suite",
            "/s",
            "--caller=bob",
            "--timeout",
            "9",
            "--fail-exit",
            "-KEEP",
            "12",
        ]);
        assert_eq!(o.suite, Some(PathBuf::from("/s")));
        assert_eq!(o.caller.as_deref(), Some("bob"));
        assert_eq!(o.timeout_secs, 9);
        assert!(o.fail_exit && o.keep);
        assert_eq!(run(&["--port-offset", "100"]).port_offset, 100);
        assert_eq!(run(&["-j", "8"]).jobs, Some(8));
        assert_eq!(run(&["--shard", "2/3"]).shard, Some((2, 3)));
        assert!(error(&["--shard", "4/3"]).contains("K/N"));
        assert!(error(&["--shard", "0/3"]).contains("K/N"));
        assert!(error(&["--shard", "x"]).contains("K/N"));
        let o = run(&[
            "--junit",
            "j.xml",
            "--json",
            "r.json",
            "--save-pending",
            "--review",
        ]);
        assert!(o.save_pending && o.review && o.junit.is_some() && o.json.is_some());
        assert_eq!(run(&["-j4", "1", "2"]).jobs, Some(4));
        assert!(error(&["-j", "0"]).contains("1 to 64"));
        assert!(error(&["--port-offset", "x"]).contains("0 to 60000"));
        assert!(error(&["--timeout", "0"]).contains("positive"));
        assert!(error(&["--bogus"]).contains("unknown option --bogus"));
        assert!(error(&["--suite"]).contains("needs a value"));
    }

    #[test]
    fn binary_only_first() {
        assert!(error(&["-KEEP", "exim"]).contains("unexpected argument `exim`"));
        assert!(error(&["1", "-d"]).contains("after the test numbers"));
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(
            parse(vec!["--help".to_string()]).unwrap(),
            Invocation::Help
        ));
        assert!(matches!(
            parse(vec!["-V".to_string()]).unwrap(),
            Invocation::Version
        ));
    }
}
