//! Date arithmetic for the `date_increment` action: the seconds between two time stamps in
//! the `DD-Mon-YYYY HH:MM:SS` form of exim_dumpdb (as Perl runtest's date_seconds() did), or
//! given as plain seconds since the epoch (retry debug output).

/// Seconds since the epoch (time zone ignored, as both stamps share it) of
/// `DD-Mon-YYYY HH:MM:SS` or of a plain number; `None` when the text has another shape.
pub(crate) fn dumpdb_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (date, time) = text.split_once(char::is_whitespace)?;
    let mut d = date.split('-');
    let day: i64 = d.next()?.parse().ok()?;
    let month = month_number(d.next()?)?;
    let year: i64 = d.next()?.parse().ok()?;
    let mut t = time.trim().split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let m: i64 = t.next()?.parse().ok()?;
    let s: i64 = t.next()?.parse().ok()?;
    if d.next().is_some() || t.next().is_some() || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    MONTHS.iter().position(|m| *m == name).map(|i| i as i64 + 1)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_differences() {
        assert_eq!(dumpdb_seconds("01-Jan-1970 00:00:00"), Some(0));
        assert_eq!(dumpdb_seconds("02-Mar-1999 09:44:33"), Some(920_367_873));
        assert_eq!(dumpdb_seconds("1795324870"), Some(1_795_324_870));
        let a = dumpdb_seconds("28-Feb-2024 23:50:00").unwrap();
        let b = dumpdb_seconds("01-Mar-2024 00:10:00").unwrap();
        assert_eq!(b - a, 86_400 + 1200);
    }

    #[test]
    fn other_shapes_are_refused() {
        assert_eq!(dumpdb_seconds("1999-03-02 09:44:33"), None);
        assert_eq!(dumpdb_seconds("02-Foo-1999 09:44:33"), None);
        assert_eq!(dumpdb_seconds("02-Mar-1999"), None);
    }
}
