//! The command each state sends, from the session's random generator and what it knows of the
//! mailbox (pure): random ranges, FETCH items, STORE flags, SEARCH queries, mailbox names.
//! APPEND's message data is added by the session (it comes from the shared mbox).
use super::states::StateId;
use crate::client::login::astring;
use rand::seq::SliceRandom;
use rand::Rng;

/// What a command may need from the session.
pub struct Ctx<'a> {
    pub mailbox: &'a str,
    pub copybox: Option<&'a str>,
    /// Messages in the selected mailbox (0 when none is selected).
    pub exists: u32,
    pub selected: bool,
    /// Server capabilities the states depend on.
    pub has_sort: bool,
    pub has_thread: bool,
    pub has_move: bool,
    /// STORE answers with FETCH (no .SILENT) so the flags are tracked.
    pub loud_store: bool,
    /// `own_msgs`/`own_flags`: STORE and DELETE go by UID to these messages only.
    pub store_uids: Option<&'a [u32]>,
    /// `own_flags`: the one keyword this client stores (added or removed, never replaced).
    pub own_flag: Option<&'a str>,
}

/// Up to three of `uids` at random, as a UID set listing each.
fn some_uids(rng: &mut impl Rng, uids: &[u32]) -> String {
    let n = rng.gen_range(1..=uids.len().min(3));
    let mut pick: Vec<u32> = uids.choose_multiple(rng, n).copied().collect();
    pick.sort_unstable();
    pick.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

const FETCH_ITEMS: &[&str] = &[
    "UID",
    "FLAGS",
    "ENVELOPE",
    "INTERNALDATE",
    "BODY",
    "BODYSTRUCTURE",
    "RFC822.SIZE",
];
const HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Delivered-To",
];
const FLAGS: &[&str] = &[
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Draft",
    "$Label1",
    "$Label2",
    "$Label3",
    "$Label4",
    "$Label5",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `n:m` over up to 100 messages with a random start (all of them when fewer).
pub fn range100(rng: &mut impl Rng, exists: u32) -> String {
    if exists <= 100 {
        return if exists == 1 {
            "1".into()
        } else {
            format!("1:{exists}")
        };
    }
    let start = rng.gen_range(1..=exists - 99);
    format!("{start}:{}", start + 99)
}

/// A short random range inside `1..=exists` (exists > 0).
pub fn small_range(rng: &mut impl Rng, exists: u32) -> String {
    let a = rng.gen_range(1..=exists);
    let b = (a + rng.gen_range(0..5)).min(exists);
    if a == b {
        a.to_string()
    } else {
        format!("{a}:{b}")
    }
}

/// `(item item …)`: each of [`FETCH_ITEMS`] with 40%, and 30% of the time the header fields
/// (each of [`HEADERS`] with 40%), written into one string (no list of pieces to join).
fn fetch_items(rng: &mut impl Rng) -> String {
    let mut out = String::with_capacity(128);
    out.push('(');
    for item in FETCH_ITEMS {
        if rng.gen_bool(0.4) {
            if out.len() > 1 {
                out.push(' ');
            }
            out.push_str(item);
        }
    }
    if rng.gen_bool(0.3) {
        let before = out.len();
        if out.len() > 1 {
            out.push(' ');
        }
        out.push_str("BODY.PEEK[HEADER.FIELDS (");
        let first = out.len();
        for h in HEADERS {
            if rng.gen_bool(0.4) {
                if out.len() > first {
                    out.push(' ');
                }
                out.push_str(h);
            }
        }
        if out.len() == first {
            out.truncate(before);
        } else {
            out.push_str(")]");
        }
    }
    if out.len() == 1 {
        out.push_str("UID");
    }
    out.push(')');
    out
}

fn search_key(rng: &mut impl Rng, depth: u32) -> String {
    let date = |rng: &mut dyn rand::RngCore| {
        format!(
            "{}-{}-{}",
            rng.gen_range(1..=28),
            MONTHS[rng.gen_range(0..12)],
            rng.gen_range(2000..=2026)
        )
    };
    match rng.gen_range(0..if depth < 2 { 13 } else { 11 }) {
        0 => format!("SMALLER {}", rng.gen_range(1..20000)),
        1 => format!("LARGER {}", rng.gen_range(1..20000)),
        2 => format!("BEFORE {}", date(rng)),
        3 => format!("ON {}", date(rng)),
        4 => format!("SINCE {}", date(rng)),
        5 => format!("SENTBEFORE {}", date(rng)),
        6 => format!("SENTON {}", date(rng)),
        7 => format!("SENTSINCE {}", date(rng)),
        8 => format!(
            "SUBJECT {}",
            ["re", "test", "dovecot", "a"][rng.gen_range(0..4)]
        ),
        9 => format!("TEXT {}", ["hello", "imap", "the"][rng.gen_range(0..3)]),
        10 => format!("BODY {}", ["hello", "imap", "the"][rng.gen_range(0..3)]),
        11 => format!(
            "OR {} {}",
            search_key(rng, depth + 1),
            search_key(rng, depth + 1)
        ),
        _ => format!(
            "({} {})",
            search_key(rng, depth + 1),
            search_key(rng, depth + 1)
        ),
    }
}

fn test_box(rng: &mut impl Rng) -> String {
    format!("\"test/{}/{}\"", rng.gen_range(1..=3), rng.gen_range(1..=3))
}

/// The command text (without tag) for `state`, or `None` when it cannot run now (not
/// selected, an empty mailbox, a missing capability). APPEND, the login states, IDLE, DELAY
/// and DISCONNECT are driven by the session and give `None` here.
pub fn command(state: StateId, rng: &mut impl Rng, c: &Ctx) -> Option<String> {
    let name = crate::args::STATES[state].0;
    let needs_msgs = matches!(
        name,
        "FETCH" | "FETCH2" | "COPY" | "MOVE" | "STORE" | "DELETE"
    );
    let needs_selected = needs_msgs
        || matches!(
            name,
            "UIDFETCH" | "SEARCH" | "SORT" | "THREAD" | "EXPUNGE" | "CHECK"
        );
    if (needs_selected && !c.selected) || (needs_msgs && c.exists == 0) {
        return None;
    }
    let mb = String::from_utf8_lossy(&astring(c.mailbox)).into_owned();
    Some(match name {
        "LISTROOT" => "LIST \"\" %".into(),
        "LIST" => "LIST \"\" *".into(),
        "MCREATE" => format!("CREATE {}", test_box(rng)),
        "MDELETE" => format!("DELETE {}", test_box(rng)),
        "MRENAME" => format!("RENAME {} {}", test_box(rng), test_box(rng)),
        "MSUBS" => {
            let verb = if rng.gen_bool(0.5) {
                "SUBSCRIBE"
            } else {
                "UNSUBSCRIBE"
            };
            format!("{verb} {}", test_box(rng))
        }
        "STATUS" => format!("STATUS {mb} (MESSAGES UNSEEN RECENT)"),
        "SELECT" => format!("SELECT {mb}"),
        "UIDFETCH" => "UID FETCH 1:* FLAGS".into(),
        "FETCH" => format!("FETCH {} {}", range100(rng, c.exists), fetch_items(rng)),
        "FETCH2" => format!("FETCH {} (BODY.PEEK[])", rng.gen_range(1..=c.exists)),
        "SEARCH" => {
            let mut q = search_key(rng, 0);
            if c.exists > 0 && rng.gen_bool(0.3) {
                q = format!("{} {q}", small_range(rng, c.exists));
            }
            format!("SEARCH {q}")
        }
        "SORT" if c.has_sort => format!(
            "SORT (SUBJECT) US-ASCII {}",
            if rng.gen_bool(0.5) { "ALL" } else { "FLAGGED" }
        ),
        "THREAD" if c.has_thread => "THREAD REFERENCES US-ASCII ALL".into(),
        "COPY" => format!(
            "COPY {} {}",
            small_range(rng, c.exists),
            String::from_utf8_lossy(&astring(c.copybox?))
        ),
        "MOVE" if c.has_move => format!(
            "MOVE {} {}",
            small_range(rng, c.exists),
            String::from_utf8_lossy(&astring(c.copybox?))
        ),
        "STORE" if c.store_uids.is_some() => {
            let uids = c.store_uids.unwrap_or_default();
            if uids.is_empty() {
                return None;
            }
            let set = some_uids(rng, uids);
            let (how, flags) = match c.own_flag {
                Some(k) => (["+", "-"][rng.gen_range(0..2)], k.to_string()),
                None => {
                    let how = ["+", "-", ""][rng.gen_range(0..3)];
                    let mut f: Vec<&str> = FLAGS
                        .iter()
                        .filter(|_| rng.gen_bool(0.25))
                        .copied()
                        .collect();
                    if f.is_empty() {
                        f.push(FLAGS.choose(rng).copied().unwrap_or("\\Seen"));
                    }
                    (how, f.join(" "))
                }
            };
            format!(
                "UID STORE {set} {how}FLAGS{} ({flags})",
                if c.loud_store { "" } else { ".SILENT" }
            )
        }
        "STORE" => {
            let how = ["+", "-", ""][rng.gen_range(0..3)];
            let mut flags: Vec<&str> = FLAGS
                .iter()
                .filter(|_| rng.gen_bool(0.25))
                .copied()
                .collect();
            if flags.is_empty() {
                flags.push(FLAGS.choose(rng).copied().unwrap_or("\\Seen"));
            }
            format!(
                "STORE {} {how}FLAGS{} ({})",
                small_range(rng, c.exists),
                if c.loud_store { "" } else { ".SILENT" },
                flags.join(" ")
            )
        }
        "DELETE" => format!(
            "STORE {} +FLAGS{} \\Deleted",
            small_range(rng, c.exists),
            if c.loud_store { "" } else { ".SILENT" }
        ),
        "EXPUNGE" => "EXPUNGE".into(),
        "NOOP" => "NOOP".into(),
        "CHECK" => "CHECK".into(),
        "LOGOUT" => "LOGOUT".into(),
        _ => return None,
    })
}

/// The sequence range `a:b` (or `a`) of a `STORE a:b …FLAGS.SILENT …` this module made, as
/// (first, last); `None` for any other command.
pub fn silent_store_range(cmd: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(cmd).ok()?.strip_prefix("STORE ")?;
    let (set, rest) = s.split_once(' ')?;
    if !rest.split(' ').next()?.ends_with("FLAGS.SILENT") {
        return None;
    }
    let (a, b) = set.split_once(':').unwrap_or((set, set));
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a >= 1 && a <= b).then_some((a, b))
}

/// Whether a state's command changes the session's state but may end a pipelined batch: it
/// goes last, and what follows waits for its reply. Only SELECT (after LIST/STATUS, which do
/// not need it) and LOGOUT: EXPUNGE, MOVE, NOOP and CHECK wait for the commands before them,
/// as Dovecot runs pipelined commands in parallel (an EXPUNGE sent right after a STORE
/// \Deleted may run before it).
pub fn is_terminal(state: StateId) -> bool {
    use super::states::ids::*;
    matches!(state, SELECT | LOGOUT)
}

/// Whether a state's command may change sequence numbers or the session's state, so nothing
/// is pipelined after it until its reply.
pub fn is_barrier(state: StateId) -> bool {
    use super::states::ids::*;
    matches!(
        state,
        SELECT | EXPUNGE | NOOP | CHECK | IDLE | LOGOUT | DISCONNECT | DELAY | MOVE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stress::states::id;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ctx(exists: u32, selected: bool) -> Ctx<'static> {
        Ctx {
            mailbox: "INBOX",
            copybox: Some("Trash"),
            exists,
            selected,
            has_sort: true,
            has_thread: true,
            has_move: true,
            loud_store: false,
            store_uids: None,
            own_flag: None,
        }
    }

    #[test]
    fn silent_stores_name_their_range() {
        assert_eq!(
            silent_store_range(b"STORE 3:7 +FLAGS.SILENT \\Deleted"),
            Some((3, 7))
        );
        assert_eq!(
            silent_store_range(b"STORE 4 FLAGS.SILENT ($Label1)"),
            Some((4, 4))
        );
        assert_eq!(silent_store_range(b"STORE 3:7 +FLAGS \\Deleted"), None);
        assert_eq!(silent_store_range(b"UID STORE 3 +FLAGS.SILENT (x)"), None);
        let mut r = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let s = command(id("STORE"), &mut r, &ctx(9, true)).unwrap();
            let (a, b) = silent_store_range(s.as_bytes()).unwrap();
            assert!(1 <= a && a <= b && b <= 9, "{s}");
        }
    }

    #[test]
    fn own_modes_store_by_uid() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        let uids = [4, 8, 15];
        let mut c = ctx(5, true);
        c.store_uids = Some(&uids);
        c.own_flag = Some("$Own2");
        for _ in 0..50 {
            let s = command(id("STORE"), &mut r, &c).unwrap();
            let p = super::super::own::parse_store(&s).unwrap();
            assert!(p.uids.iter().all(|u| uids.contains(u)), "{s}");
            assert_eq!(p.flags, ["$own2"], "{s}");
            assert_ne!(p.op, super::super::own::Op::Replace, "{s}");
        }
        // \\Deleted is anyone's: DELETE stays by sequence
        let d = command(id("DELETE"), &mut r, &c).unwrap();
        assert!(d.starts_with("STORE "), "{d}");
        c.store_uids = Some(&[]);
        assert_eq!(command(id("STORE"), &mut r, &c), None);
    }

    #[test]
    fn ranges_stay_inside_the_mailbox() {
        let mut r = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(range100(&mut r, 1), "1");
        assert_eq!(range100(&mut r, 30), "1:30");
        for _ in 0..200 {
            let s = range100(&mut r, 250);
            let (a, b) = s.split_once(':').unwrap();
            let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(a >= 1 && b <= 250 && b - a == 99, "{s}");
            let s = small_range(&mut r, 3);
            for n in s.split(':') {
                assert!((1..=3).contains(&n.parse::<u32>().unwrap()), "{s}");
            }
        }
    }

    #[test]
    fn commands_need_their_state() {
        let mut r = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(command(id("FETCH"), &mut r, &ctx(0, true)), None);
        assert_eq!(command(id("EXPUNGE"), &mut r, &ctx(0, false)), None);
        assert_eq!(
            command(id("EXPUNGE"), &mut r, &ctx(0, true)).as_deref(),
            Some("EXPUNGE")
        );
        assert_eq!(
            command(id("STATUS"), &mut r, &ctx(0, false)).as_deref(),
            Some("STATUS \"INBOX\" (MESSAGES UNSEEN RECENT)")
        );
        let d = command(id("DELETE"), &mut r, &ctx(5, true)).unwrap();
        assert!(
            d.starts_with("STORE ") && d.ends_with(" +FLAGS.SILENT \\Deleted"),
            "{d}"
        );
        let c = command(id("COPY"), &mut r, &ctx(5, true)).unwrap();
        assert!(c.ends_with(" \"Trash\""), "{c}");
        let mut no_sort = ctx(5, true);
        no_sort.has_sort = false;
        assert_eq!(command(id("SORT"), &mut r, &no_sort), None);
        for _ in 0..100 {
            let s = command(id("SEARCH"), &mut r, &ctx(5, true)).unwrap();
            assert!(s.starts_with("SEARCH ") && s.matches('(').count() == s.matches(')').count());
            let f = command(id("FETCH"), &mut r, &ctx(5, true)).unwrap();
            assert!(f.starts_with("FETCH 1:5 ("), "{f}");
        }
    }

    #[test]
    fn same_seed_same_commands() {
        let run = |seed| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .filter_map(|i| command(i % 27, &mut r, &ctx(40, true)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(123), run(123));
        assert_ne!(run(123), run(124));
    }
}
