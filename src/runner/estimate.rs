//! A first guess at how long a test takes, from its parsed script, for a run with no
//! timings yet (the longest tests start first). What makes a test long is its waiting: the
//! seconds it sleeps (`sleep`, `millisleep`, `:sleep:` data), the seconds an exim command
//! keeps its stdin open (`3 exim -bs`: Exim then waits out its own timeouts), the pauses of
//! the scripted client and server (`+++ N`, `*sleep N`), the timeouts they may wait out
//! (`-t N`), and the harness pauses of daemons and queue runs; every command costs a little.

use crate::script::{Command, DataLine, DataPrefix, Script};

/// Seconds every test costs (set-up, comparing).
const BASE: f64 = 0.2;
/// An exim (or utility) command.
const COMMAND: f64 = 0.1;
/// A daemon start, a killdaemon, a queue run: the pauses of Exim's test harness.
const HARNESS_PAUSE: f64 = 0.5;
/// A client or server start.
const PEER: f64 = 0.3;
/// The longest client/server timeout counted (half of it: most are not waited out).
const TIMEOUT_CAP: f64 = 60.0;

/// The estimated seconds of `script`.
pub fn estimate(script: &Script) -> f64 {
    BASE + script
        .steps
        .iter()
        .map(|s| command_seconds(&s.command))
        .sum::<f64>()
}

fn command_seconds(cmd: &Command) -> f64 {
    match cmd {
        Command::Sleep(n) => *n as f64,
        Command::MilliSleep(n) => *n as f64 / 1000.0,
        Command::KillDaemon => HARNESS_PAUSE,
        Command::Exim {
            wait_secs,
            args,
            data,
            ..
        } => {
            let words: Vec<&str> = args.split_whitespace().collect();
            let daemon = words
                .iter()
                .any(|w| *w == "-DSERVER=server" || w.starts_with("-bd"));
            let queue_run = words
                .iter()
                .any(|w| w.starts_with("-q") && !w.starts_with("-qG"));
            COMMAND
                + *wait_secs as f64
                + data_sleeps(data)
                + if daemon { HARNESS_PAUSE } else { 0.0 }
                + if queue_run { HARNESS_PAUSE } else { 0.0 }
        }
        Command::Client { args, data, .. } | Command::Server { args, data } => {
            PEER + timeout(args).min(TIMEOUT_CAP) / 2.0 + data_sleeps(data) + peer_pauses(data)
        }
        Command::Perl { data, .. } => COMMAND + data_sleeps(data),
        Command::Background(inner) => command_seconds(inner).min(COMMAND),
        Command::Comment(_)
        | Command::Echo(_)
        | Command::Munge(_)
        | Command::SortLog
        | Command::RmFilterTest
        | Command::NoCheck(_)
        | Command::Need(_)
        | Command::Write { .. } => 0.0,
        _ => COMMAND,
    }
}

/// The `:sleep:N` lines of a command's data.
fn data_sleeps(data: &[DataLine]) -> f64 {
    data.iter()
        .filter(|d| d.prefix == DataPrefix::Sleep)
        .filter_map(|d| d.text.trim().parse::<f64>().ok())
        .sum()
}

/// The pauses in a client's or server's script: `+++ N` (client) and `*sleep N` (server).
fn peer_pauses(data: &[DataLine]) -> f64 {
    data.iter()
        .filter_map(|d| {
            let mut w = d.text.split_whitespace();
            match w.next() {
                Some("+++") | Some("*sleep") => w.next()?.parse::<f64>().ok(),
                _ => None,
            }
        })
        .sum()
}

/// The `-t N` or `-tN` timeout of a client or server command line (0 when none).
fn timeout(args: &str) -> f64 {
    let words: Vec<&str> = args.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if *w == "-t" {
            return words.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0.0);
        }
        if let Some(n) = w.strip_prefix("-t").and_then(|n| n.parse::<f64>().ok()) {
            return n;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parse_str;
    use std::path::Path;

    fn est(text: &str) -> f64 {
        estimate(&parse_str(text, Path::new("scripts/0000-Basic/0001")).unwrap())
    }

    #[test]
    fn waiting_makes_a_test_long() {
        let quick = est("# t\nexim -bt x\n****\n");
        assert!(quick < 1.0, "{quick}");
        assert!(est("# t\nexim -bt x\n****\nsleep 3\nmillisleep 500\n") > quick + 3.4);
        // stdin held open 3 s, twice.
        assert!(est("# t\n1\n3 exim -bs\n****\n1\n3 exim -bs\nhelo x\n****\n") > quick + 5.9);
        let daemon = est("# t\nexim -DSERVER=server -bd -oX PORT_D\n****\nclient 127.0.0.1 PORT_D\n??? 220\n****\nkilldaemon\n");
        assert!(daemon > quick + 1.0, "{daemon}");
        assert!(est("# t\nserver -t 20 PORT_S\n****\n") > 10.0);
        assert!(est("# t\nclient -t5 127.0.0.1 PORT_D\n??? 220\n****\n") > 2.5);
        // Pauses inside client and server scripts.
        let paused = est("# t\nserver PORT_S\n220 hi\n*sleep 4\n****\nclient 127.0.0.1 PORT_S\n??? 220\n+++ 2\nquit\n****\n");
        assert!(paused > 6.0, "{paused}");
        assert!(est("# t\nexim -q\n****\n") > quick + 0.4);
    }

    #[test]
    fn timeouts_in_both_forms() {
        assert_eq!(timeout("-t 20 PORT_S"), 20.0);
        assert_eq!(timeout("-t5 127.0.0.1 PORT_D"), 5.0);
        assert_eq!(timeout("-tls-on-connect 127.0.0.1"), 0.0);
        assert_eq!(timeout("127.0.0.1 PORT_D"), 0.0);
    }
}
