//! Whether a process sits idle in its main loop, waiting for input in `poll` or `select`,
//! as /proc tells it: how the executor knows that a daemon it started has finished starting
//! up, not only that it has logged so. Deciding from /proc's text is pure and tested here;
//! reading /proc is the small function at the end.

/// What /proc says one process is doing: its scheduler state (`R`, `S`, `D` …) and the
/// kernel function it waits in (`poll_schedule_timeout.constprop.0`; `0` while it runs, or
/// when runtest may not look).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub state: char,
    pub wchan: String,
}

/// The fields of a `/proc/PID/stat` line after the command name (which may hold spaces and
/// parentheses): the state, the parent's pid, ….
pub fn fields_after_comm(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat[stat.rfind(')')? + 1..].split_whitespace())
}

/// The state field of a `/proc/PID/stat` line.
pub fn parse_state(stat: &str) -> Option<char> {
    fields_after_comm(stat)?.next()?.chars().next()
}

/// The command name of a `/proc/PID/stat` line.
pub fn parse_comm(stat: &str) -> Option<&str> {
    Some(&stat[stat.find('(')? + 1..stat.rfind(')')?])
}

/// Whether a process is idle, waiting for input: asleep in poll or select (or asleep where
/// runtest may not see in what: another user's process hides its wait channel, and then
/// sleeping is all there is to go by). A process that computes (`R`), or waits for a disk
/// or a child, is not.
pub fn waits_for_input(a: &Activity) -> bool {
    let w = a.wchan.trim();
    a.state == 'S' && (w == "0" || w.is_empty() || w.contains("poll") || w.contains("select"))
}

/// Whether a process is still busy starting up: neither idle ([`waits_for_input`]) nor
/// ended (a zombie, `Z`, or dead, `X`: a daemon's first process forks it and exits).
pub fn is_busy(a: &Activity) -> bool {
    !waits_for_input(a) && !matches!(a.state, 'Z' | 'X')
}

/// What `pid` is doing now; None when it is gone.
pub fn activity(pid: i32) -> Option<Activity> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(Activity {
        state: parse_state(&stat)?,
        wchan: std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(state: char, wchan: &str) -> Activity {
        Activity {
            state,
            wchan: wchan.into(),
        }
    }

    #[test]
    fn reads_stat_lines() {
        let line = "5786 (exim) S 5770 5786 5704 0 -1 4194560 1203 0 0 0 81 2 0 0 20 0 1 0";
        assert_eq!(parse_state(line), Some('S'));
        assert_eq!(parse_comm(line), Some("exim"));
        // A name with spaces and a parenthesis.
        let odd = "12 (a) b (c) R 1 12 12";
        assert_eq!(parse_state(odd), Some('R'));
        assert_eq!(parse_comm(odd), Some("a) b (c"));
        assert_eq!(parse_state("garbage"), None);
        assert_eq!(parse_comm(""), None);
    }

    #[test]
    fn idle_means_asleep_in_poll_or_select() {
        assert!(waits_for_input(&a(
            'S',
            "poll_schedule_timeout.constprop.0"
        )));
        assert!(waits_for_input(&a('S', "do_select")));
        assert!(waits_for_input(&a('S', "do_epoll_wait")));
        // Generating its TLS key, or waiting for a child or a disk: not yet.
        assert!(!waits_for_input(&a('R', "0")));
        assert!(!waits_for_input(&a('S', "do_wait")));
        assert!(!waits_for_input(&a('D', "folio_wait_bit_common")));
        // Hidden (another user's process): asleep is all there is.
        assert!(waits_for_input(&a('S', "0")));
    }

    #[test]
    fn busy_until_idle_or_ended() {
        assert!(is_busy(&a('R', "0")));
        assert!(is_busy(&a('D', "folio_wait_bit_common")));
        assert!(!is_busy(&a('S', "do_select")));
        // The first process of a daemon that forked and exited, not yet reaped.
        assert!(!is_busy(&a('Z', "0")));
        assert!(!is_busy(&a('X', "0")));
    }

    #[test]
    fn sees_a_real_process_wait_in_poll() {
        // A child blocked in poll() on a pipe that never gets data.
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "exec python3 -c 'import select,sys; select.select([sys.stdin],[],[])'",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut idle = false;
        while std::time::Instant::now() < deadline && !idle {
            idle = activity(pid).is_some_and(|a| waits_for_input(&a) && a.wchan.trim() != "0");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(idle, "a process blocked in select() is seen as idle");
        assert!(activity(pid).is_none() || activity(pid).is_some_and(|a| !is_busy(&a)));
    }
}
