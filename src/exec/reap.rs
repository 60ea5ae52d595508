//! Leaving no process behind. runtest makes itself a child subreaper, so every process a
//! test starts — including daemons that detach with setsid — stays its descendant and can be
//! found in /proc and killed at the end of a test, on Ctrl-C and on panic.

use std::collections::{HashMap, HashSet};

/// Become the reaper of orphaned descendants (Linux). Harmless if it fails.
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// The parent of every process, read from /proc.
fn parents() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return map;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(mut f) = super::idle::fields_after_comm(&stat) else {
            continue;
        };
        let _state = f.next();
        if let Some(ppid) = f.next().and_then(|p| p.parse().ok()) {
            map.insert(pid, ppid);
        }
    }
    map
}

/// The direct children of `pid`, from each of its threads' `children` list. None when the
/// kernel has no such lists; an empty list for a process that is gone.
fn children_lists(pid: i32) -> Option<Vec<i32>> {
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(t) => t,
        Err(_) => return Some(Vec::new()),
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        match std::fs::read_to_string(t.path().join("children")) {
            Ok(text) => out.extend(parse_pid_list(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && t.path().exists() => return None,
            Err(_) => {}
        }
    }
    Some(out)
}

/// The pids of a `children` list ("12 345 6789 ").
fn parse_pid_list(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.split_whitespace().filter_map(|p| p.parse().ok())
}

/// Parent to children, for `root` and everything under it. None when the kernel keeps no
/// children lists.
fn own_subtree(root: i32) -> Option<HashMap<i32, Vec<i32>>> {
    let mut map = HashMap::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        let kids = children_lists(p)?;
        for k in &kids {
            if seen.insert(*k) {
                stack.push(*k);
            }
        }
        if !kids.is_empty() {
            map.insert(p, kids);
        }
    }
    Some(map)
}

/// The process tree, read from /proc once: a round of clean-up asks it many questions
/// (everything under runtest, under each workspace process, under each kept daemon), and
/// reading /proc once per question was most of runtest's own system time.
struct Tree {
    children: HashMap<i32, Vec<i32>>,
}

impl Tree {
    /// runtest's own subtree (every process a clean-up asks about is in it: runtest is
    /// their subreaper), walked through the kernel's lists of each thread's children rather
    /// than by reading every process's stat on the machine; the whole table where those
    /// lists are missing (a kernel without CONFIG_PROC_CHILDREN).
    fn read() -> Tree {
        let me = std::process::id() as i32;
        match own_subtree(me) {
            Some(children) => Tree { children },
            None => {
                let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
                for (pid, ppid) in parents() {
                    children.entry(ppid).or_default().push(pid);
                }
                Tree { children }
            }
        }
    }

    /// The part of the tree a clean-up of the workspace `dir` looks at: the processes
    /// runtest started or adopted (its threads' children) that belong to it (asked through
    /// `memo`), and everything under them — without reading the subtrees of the other
    /// workspaces' processes, which was most of a clean-up's cost with many workers. (A
    /// workspace's processes all descend from such a child: runtest starts each in the
    /// workspace, and adopts every orphan.) The whole tree where the kernel keeps no
    /// children lists.
    fn read_workspace(dir: &str, memo: &mut Membership) -> Tree {
        let me = std::process::id() as i32;
        let Some(top) = children_lists(me) else {
            return Tree::read();
        };
        let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
        let mut mine = Vec::new();
        let mut seen = HashSet::new();
        for p in top {
            if !seen.insert(p) || !memo.is_member(p, me, dir) {
                continue;
            }
            mine.push(p);
            match own_subtree(p) {
                Some(sub) => children.extend(sub),
                None => return Tree::read(),
            }
        }
        if !mine.is_empty() {
            children.insert(me, mine);
        }
        Tree { children }
    }

    /// The parent of `pid` in the tree (0 when it is not in it).
    fn parent_of(&self, pid: i32) -> i32 {
        self.children
            .iter()
            .find_map(|(p, kids)| kids.contains(&pid).then_some(*p))
            .unwrap_or(0)
    }

    /// All descendants of `root` (not `root` itself).
    fn descendants(&self, root: i32) -> Vec<i32> {
        descendants_in(&self.children, root)
    }
}

/// All descendants of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    Tree::read().descendants(root)
}

/// The descendants of each of `roots`, from one reading of /proc.
pub fn descendants_of(roots: &[i32]) -> HashMap<i32, Vec<i32>> {
    let tree = Tree::read();
    roots.iter().map(|r| (*r, tree.descendants(*r))).collect()
}

/// The direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    Tree::read().children.remove(&pid).unwrap_or_default()
}

fn descendants_in(children: &HashMap<i32, Vec<i32>>, root: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for c in children.get(&p).into_iter().flatten() {
            if seen.insert(*c) {
                out.push(*c);
                stack.push(*c);
            }
        }
    }
    out
}

/// Reap exited direct children among `pids` without blocking. Callers never pass a child
/// runtest holds a handle for (those are waited through their handle).
/// Their CPU time counts for the thread that reaps them (see `cpu`).
fn reap(pids: &[i32]) {
    for p in pids {
        let _ = super::cpu::wait4(*p, false);
    }
}

/// Kill every descendant of this process: SIGTERM, a short grace, then SIGKILL, and reap
/// them. Only for when runtest holds no handle to a child any more (serial runs between
/// tests, and the end of a run). Returns how many were alive at first.
pub fn kill_all_descendants() -> usize {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let me = std::process::id() as i32;
    let live = || {
        descendants(me)
            .into_iter()
            .filter(|p| !is_zombie(*p))
            .collect::<Vec<_>>()
    };
    let first = live();
    let n = first.len();
    for p in &first {
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let mut rounds = 0;
    loop {
        let all = descendants(me);
        reap(&all);
        let remaining = live();
        if remaining.is_empty() {
            break;
        }
        rounds += 1;
        if rounds == 50 {
            for p in &remaining {
                let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
            }
        }
        if rounds > 300 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    reap(&descendants(me));
    n
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Whether a process belongs to the workspace `dir`: its command line or its current folder
/// names the workspace (every exim has `-C DIR/test-config`, every aux program is
/// `DIR/bin/…`, every shell runtest starts runs in DIR).
fn in_workspace(pid: i32, dir: &str) -> bool {
    let with_slash = format!("{dir}/");
    let cwd_ok = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .map(|p| {
            let p = p.to_string_lossy().into_owned();
            p == dir || p.starts_with(&with_slash)
        })
        .unwrap_or(false);
    cwd_ok
        || std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(&with_slash))
            .unwrap_or(false)
}

/// Which processes belong to one workspace, remembered for the rounds of one clean-up: a
/// process of another workspace (the other workers' tests) never moves into this one, and
/// asking /proc again about each of them every few milliseconds was most of a wait's cost.
/// Only "no" is remembered: a process that is a member stays one until it ends.
/// A process is known by its pid and its parent's, so that a pid used again by a new
/// process (of this workspace) during the clean-up is asked about afresh.
#[derive(Default)]
struct Membership {
    outside: HashSet<(i32, i32)>,
}

impl Membership {
    fn in_workspace(&mut self, tree: &Tree, pid: i32, dir: &str) -> bool {
        self.is_member(pid, tree.parent_of(pid), dir)
    }

    fn is_member(&mut self, pid: i32, parent: i32, dir: &str) -> bool {
        let key = (pid, parent);
        if self.outside.contains(&key) {
            return false;
        }
        let inside = in_workspace(pid, dir);
        if !inside {
            self.outside.insert(key);
        }
        inside
    }
}

/// Kill and reap every descendant of runtest that belongs to the workspace `dir` (and their
/// own descendants), leaving other workspaces' processes alone.
pub fn kill_workspace(dir: &std::path::Path) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let dir = dir.display().to_string();
    let me = std::process::id() as i32;
    let mut memo = Membership::default();
    let mut members = || {
        let tree = Tree::read_workspace(&dir, &mut memo);
        let all = tree.descendants(me);
        let mut set: HashSet<i32> = all
            .iter()
            .copied()
            .filter(|p| memo.in_workspace(&tree, *p, &dir))
            .collect();
        // Add the descendants of members.
        for p in set.clone() {
            set.extend(tree.descendants(p));
        }
        set.into_iter().collect::<Vec<i32>>()
    };
    let start = std::time::Instant::now();
    let mut killed = false;
    for round in 0.. {
        let all = members();
        // Only this workspace's zombies are reaped: the other workers wait for their own
        // children through their handles.
        reap(&all);
        let live: Vec<i32> = all.into_iter().filter(|p| !is_zombie(*p)).collect();
        let elapsed = start.elapsed();
        if live.is_empty() || elapsed >= KILL_GIVE_UP {
            break;
        }
        if round == 0 || (!killed && elapsed >= KILL_GRACE) {
            let sig = if round == 0 {
                Signal::SIGTERM
            } else {
                Signal::SIGKILL
            };
            killed = round > 0;
            for p in &live {
                let _ = kill(Pid::from_raw(*p), sig);
            }
        }
        // Until one of them ends (or, for a SIGTERM ignored, the grace is over).
        let until = if killed { KILL_GIVE_UP } else { KILL_GRACE };
        wait_any_exit(
            &live,
            until.saturating_sub(start.elapsed()).min(EXIT_WAIT_CAP),
        );
    }
}

/// How long a workspace's processes get after SIGTERM before SIGKILL, and how long the
/// clean-up waits for them at most.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_millis(500);
const KILL_GIVE_UP: std::time::Duration = std::time::Duration::from_secs(3);
/// The longest one wait for an exit lasts before /proc is read again: new processes can
/// only come from the ones waited for (each wakes the wait when it ends), so this only
/// bounds the cost of a missed wake-up.
const EXIT_WAIT_CAP: std::time::Duration = std::time::Duration::from_millis(100);

/// Sleep until one of `pids` ends, at most `max`: the processes' pidfds are polled, so the
/// wait costs one wake-up per exit instead of one reading of /proc every few milliseconds.
/// A process already gone ends the wait at once; where the kernel has no pidfds it is a
/// plain sleep of at most 10 ms.
pub fn wait_any_exit(pids: &[i32], max: std::time::Duration) {
    let mut fds = Vec::with_capacity(pids.len());
    for p in pids {
        match super::process::exit_notifier(*p as u32) {
            Some(fd) => fds.push(fd),
            None if std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) => return,
            None => {
                std::thread::sleep(max.min(std::time::Duration::from_millis(10)));
                return;
            }
        }
    }
    if fds.is_empty() {
        std::thread::sleep(max);
        return;
    }
    super::process::wait_for_exits(&fds, max);
}

/// Wait (at most `max`) until the workspace `dir` has no process left but those in `keep`
/// (and their descendants), reaping the ones that became runtest's children. Used after
/// killdaemon: a daemon's connection and delivery processes outlive it and finish their
/// work, as they do under the Perl runtest.
pub fn wait_quiet(dir: &std::path::Path, keep: &[i32], max: std::time::Duration) {
    let dir = dir.display().to_string();
    let me = std::process::id() as i32;
    let start = std::time::Instant::now();
    let mut memo = Membership::default();
    loop {
        let tree = Tree::read_workspace(&dir, &mut memo);
        let mut kept: HashSet<i32> = keep.iter().copied().collect();
        for k in keep {
            kept.extend(tree.descendants(*k));
        }
        let all: Vec<i32> = tree
            .descendants(me)
            .into_iter()
            .filter(|p| !kept.contains(p))
            .collect();
        let mine: Vec<i32> = all
            .iter()
            .copied()
            .filter(|p| memo.in_workspace(&tree, *p, &dir))
            .collect();
        reap(&mine);
        let busy: Vec<i32> = mine.into_iter().filter(|p| !is_zombie(*p)).collect();
        if busy.is_empty() || start.elapsed() >= max {
            return;
        }
        // A new process of the workspace can only come from a busy one: woken when one of
        // them ends, the next reading of /proc sees whatever it left behind.
        wait_any_exit(
            &busy,
            max.saturating_sub(start.elapsed()).min(EXIT_WAIT_CAP),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_ends_the_wait() {
        use std::time::{Duration, Instant};
        // quiet: a child holding the test's stdout outlives the test (nextest: "leaky")
        let sleeper = |secs: &str| {
            std::process::Command::new("/bin/sh")
                .args(["-c", &format!("sleep {secs}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut quick = sleeper("0.2");
        let mut slow = sleeper("30");
        let pids = [quick.id() as i32, slow.id() as i32];
        let t = Instant::now();
        wait_any_exit(&pids, Duration::from_secs(20));
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
        quick.wait().unwrap();
        // Nobody ends: the whole time.
        let t = Instant::now();
        wait_any_exit(&[slow.id() as i32], Duration::from_millis(300));
        assert!(
            t.elapsed() >= Duration::from_millis(290),
            "{:?}",
            t.elapsed()
        );
        let _ = slow.kill();
        slow.wait().unwrap();
        // A process that is gone: at once.
        let t = Instant::now();
        wait_any_exit(&[quick.id() as i32], Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_workspace_tree_holds_its_processes_only() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let start = |dir: &std::path::Path| {
            let mut c = std::process::Command::new("/bin/sh")
                .args(["-c", "cd / && sleep 30 & echo $!; wait"])
                .current_dir(dir)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(c.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            (c, line.trim().parse::<i32>().unwrap())
        };
        let (mut ca, ga) = start(a.path());
        let (mut cb, gb) = start(b.path());
        let me = std::process::id() as i32;
        let dir = a.path().display().to_string();
        let tree = Tree::read_workspace(&dir, &mut Membership::default());
        let mine = tree.descendants(me);
        // The grandchild left the workspace folder, and is still the workspace's.
        assert!(
            mine.contains(&(ca.id() as i32)) && mine.contains(&ga),
            "{mine:?}"
        );
        assert!(
            !mine.contains(&(cb.id() as i32)) && !mine.contains(&gb),
            "{mine:?}"
        );
        for g in [ga, gb] {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(g),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        ca.wait().unwrap();
        cb.wait().unwrap();
    }

    #[test]
    fn pid_lists() {
        assert_eq!(
            parse_pid_list("12 345 6789 ").collect::<Vec<_>>(),
            [12, 345, 6789]
        );
        assert_eq!(parse_pid_list("").count(), 0);
    }

    #[test]
    fn the_subtree_holds_a_grandchild() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        let me = std::process::id() as i32;
        let tree = Tree::read();
        let mine = tree.descendants(me);
        assert!(
            mine.contains(&(child.id() as i32)) && mine.contains(&grandchild),
            "{mine:?}"
        );
        assert_eq!(tree.descendants(child.id() as i32), [grandchild]);
        // The same as the whole table says.
        let mut whole: HashMap<i32, Vec<i32>> = HashMap::new();
        for (pid, ppid) in parents() {
            whole.entry(ppid).or_default().push(pid);
        }
        assert!(descendants_in(&whole, me).contains(&grandchild));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(grandchild),
            nix::sys::signal::Signal::SIGKILL,
        );
        child.wait().unwrap();
    }
}
