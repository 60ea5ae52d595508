//! Counting and printing: the per-state counters every session bumps ([`Counters`], lock-free),
//! and the console lines built from them, in the original's format ([`header`], [`row`],
//! [`averages`], [`totals`]) plus the per-second TSV of `output=FILE` ([`tsv_header`],
//! [`tsv_row`]). The formatting is pure.
use super::states::{Plan, StateId};
use crate::args::STATES;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters shared by every session.
pub struct Counters {
    /// Tagged OK replies in the current second, per state.
    pub second: Vec<AtomicU64>,
    /// Sum of command latencies (µs) and their number in the current 10-row window, per state.
    pub lat_sum: Vec<AtomicU64>,
    pub lat_n: Vec<AtomicU64>,
}

impl Default for Counters {
    fn default() -> Self {
        let v = || (0..STATES.len()).map(|_| AtomicU64::new(0)).collect();
        Counters {
            second: v(),
            lat_sum: v(),
            lat_n: v(),
        }
    }
}

impl Counters {
    /// One tagged OK for `state`, `micros` after the command was sent.
    pub fn done(&self, state: StateId, micros: u64) {
        self.second[state].fetch_add(1, Relaxed);
        self.lat_sum[state].fetch_add(micros, Relaxed);
        self.lat_n[state].fetch_add(1, Relaxed);
    }

    /// Takes (and zeroes) the counts of the second that ended.
    pub fn take_second(&self) -> Vec<u64> {
        self.second.iter().map(|c| c.swap(0, Relaxed)).collect()
    }

    /// Takes (and zeroes) the latency window: (sum µs, count) per state.
    pub fn take_window(&self) -> Vec<(u64, u64)> {
        self.lat_sum
            .iter()
            .zip(&self.lat_n)
            .map(|(s, n)| (s.swap(0, Relaxed), n.swap(0, Relaxed)))
            .collect()
    }
}

/// The header: short names of the shown states, then (unless `names_only`) a row of `%3d%%`
/// probabilities and, when any is set, a row of "again" probabilities.
pub fn header(plan: &Plan, names_only: bool) -> String {
    let cols = plan.columns();
    let mut s = String::new();
    for &c in &cols {
        let _ = write!(s, "{} ", STATES[c].1);
    }
    s.push('\n');
    if names_only {
        return s;
    }
    for &c in &cols {
        let _ = write!(s, "{:3}% ", plan.p[c].0);
    }
    s.push('\n');
    if plan.has_again() {
        for &c in &cols {
            match plan.p[c].1 {
                0 => s.push_str("     "),
                a => {
                    let _ = write!(s, "{a:3}% ");
                }
            }
        }
        s.push('\n');
    }
    s
}

/// What the per-second row says about the clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientLine {
    /// Clients that got the banner.
    pub banner: u32,
    /// Clients that exist.
    pub exist: u32,
    /// Clients waiting for a reply for over 3 s.
    pub stalled: u32,
    /// While ramping up: the share of `clients` that exist, in %.
    pub ramp: Option<u32>,
}

/// One per-second row: `%4d ` per shown state, `%3d/%3d`, the stalled note, the ramp-up.
pub fn row(plan: &Plan, counts: &[u64], c: ClientLine) -> String {
    let mut s = String::new();
    for col in plan.columns() {
        let _ = write!(s, "{:4} ", counts[col]);
    }
    let _ = write!(s, "{:3}/{:3}", c.banner, c.exist);
    if c.stalled > 0 {
        let _ = write!(s, " ({} stalled >3s)", c.stalled);
    }
    if let Some(p) = c.ramp {
        let _ = write!(s, " [{p}%]");
    }
    s.push('\n');
    s
}

/// The averages row: the mean latency of each shown state over the window (`%4d` ms, or with
/// `precise` `%4.1f` ms so sub-millisecond figures show), then `ms/cmd avg`.
pub fn averages(plan: &Plan, window: &[(u64, u64)], precise: bool) -> String {
    let mut s = String::new();
    for col in plan.columns() {
        let (sum, n) = window[col];
        let ms = if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1000.0
        };
        if precise {
            let _ = write!(s, "{ms:4.1} ");
        } else {
            let _ = write!(s, "{:4} ", ms as u64);
        }
    }
    s.push_str("ms/cmd avg\n");
    s
}

/// `Totals:`, the names and a row of totals.
pub fn totals(plan: &Plan, totals: &[u64]) -> String {
    let mut s = String::from("Totals:\n");
    s.push_str(&header(plan, true));
    for col in plan.columns() {
        let _ = write!(s, "{:4} ", totals[col]);
    }
    s.push('\n');
    s
}

/// The first line of `output=FILE`: `secs`, the shown states' short names, `clients`.
pub fn tsv_header(plan: &Plan) -> String {
    let mut s = String::from("secs");
    for c in plan.columns() {
        s.push('\t');
        s.push_str(STATES[c].1);
    }
    s.push_str("\tbanner\tclients\n");
    s
}

/// One line of `output=FILE` per second.
pub fn tsv_row(plan: &Plan, secs: u64, counts: &[u64], c: ClientLine) -> String {
    let mut s = secs.to_string();
    for col in plan.columns() {
        let _ = write!(s, "\t{}", counts[col]);
    }
    let _ = writeln!(s, "\t{}\t{}", c.banner, c.exist);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;
    use crate::stress::states::id;

    fn plan(a: &[&str]) -> Plan {
        Plan::from_config(&parse(a.iter().map(|s| s.to_string())).unwrap()).unwrap()
    }

    #[test]
    fn header_rows_as_the_original() {
        let p = plan(&[]);
        assert_eq!(
            header(&p, false),
            "Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo \n\
             100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% \n\
             \x20                         30%                  5%      \n"
        );
        let p = plan(&["-", "select=0"]);
        assert_eq!(header(&p, false), "Logi Logo \n100% 100% \n");
        assert_eq!(header(&p, true), "Logi Logo \n");
    }

    #[test]
    fn per_second_rows() {
        let p = plan(&["-", "select=0"]);
        let mut counts = vec![0; STATES.len()];
        counts[id("LOGIN")] = 117;
        counts[id("LOGOUT")] = 5;
        let c = ClientLine {
            banner: 9,
            exist: 10,
            stalled: 0,
            ramp: None,
        };
        assert_eq!(row(&p, &counts, c), " 117    5   9/ 10\n");
        let c = ClientLine {
            stalled: 2,
            ramp: Some(40),
            ..c
        };
        assert_eq!(
            row(&p, &counts, c),
            " 117    5   9/ 10 (2 stalled >3s) [40%]\n"
        );
        assert_eq!(tsv_header(&p), "secs\tLogi\tLogo\tbanner\tclients\n");
        assert_eq!(tsv_row(&p, 3, &counts, c), "3\t117\t5\t9\t10\n");
    }

    #[test]
    fn averages_and_totals() {
        let p = plan(&["-", "select=0"]);
        let mut w = vec![(0, 0); STATES.len()];
        w[id("LOGIN")] = (25_000, 10);
        w[id("LOGOUT")] = (400, 2);
        assert_eq!(averages(&p, &w, false), "   2    0 ms/cmd avg\n");
        assert_eq!(averages(&p, &w, true), " 2.5  0.2 ms/cmd avg\n");
        let mut t = vec![0; STATES.len()];
        t[id("LOGIN")] = 1519;
        assert_eq!(totals(&p, &t), "Totals:\nLogi Logo \n1519    0 \n");
        let c = Counters::default();
        c.done(id("LOGIN"), 10);
        c.done(id("LOGIN"), 30);
        assert_eq!(c.take_second()[id("LOGIN")], 2);
        assert_eq!(c.take_second()[id("LOGIN")], 0);
        assert_eq!(c.take_window()[id("LOGIN")], (40, 2));
    }
}
