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
    let day: u8 = d.next()?.parse().ok()?;
    let month = month_named(d.next()?)?;
    let year: i32 = d.next()?.parse().ok()?;
    let mut t = time.trim().split(':');
    let h: u8 = t.next()?.parse().ok()?;
    let m: u8 = t.next()?.parse().ok()?;
    let s: u8 = t.next()?.parse().ok()?;
    if d.next().is_some() || t.next().is_some() {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(h, m, s).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn month_named(name: &str) -> Option<time::Month> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|m| *m == name)?;
    time::Month::try_from(u8::try_from(index + 1).ok()?).ok()
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
        assert_eq!(dumpdb_seconds("31-Feb-1999 09:44:33"), None);
        assert_eq!(dumpdb_seconds("02-Mar-1999 24:00:00"), None);
    }
}
