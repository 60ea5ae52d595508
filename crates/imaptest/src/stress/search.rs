//! Checking SEARCH results: the part of a query this tester can evaluate itself (sequence
//! sets, SMALLER, LARGER, BEFORE, ON, SINCE, with AND by juxtaposition, OR and parentheses)
//! against the sizes and INTERNALDATEs a session knows. Evaluation is three-valued: a message
//! whose size or date is unknown (or whose INTERNALDATE falls on another day in UTC than in
//! its own zone, where servers differ) is judged only when the rest of the query decides it.
//! Queries with other keys are not judged. Pure.

/// What a session knows of one message for SEARCH.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub size: Option<u64>,
    /// INTERNALDATE as day numbers: (the day in its own zone, the day in UTC).
    pub day: Option<(i64, i64)>,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Seq(Vec<(u32, u32)>),
    Smaller(u64),
    Larger(u64),
    Before(i64),
    On(i64),
    Since(i64),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

fn seqset(t: &str) -> Option<Vec<(u32, u32)>> {
    t.split(',')
        .map(|r| match r.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                Some((a.min(b), a.max(b)))
            }
            None => r.parse().ok().map(|n| (n, n)),
        })
        .collect()
}

fn tokens(q: &str) -> Vec<String> {
    q.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn one(t: &[String], i: &mut usize) -> Option<Key> {
    let w = t.get(*i)?.to_ascii_uppercase();
    *i += 1;
    Some(match w.as_str() {
        "SMALLER" | "LARGER" => {
            let n = t.get(*i)?.parse().ok()?;
            *i += 1;
            if w == "SMALLER" {
                Key::Smaller(n)
            } else {
                Key::Larger(n)
            }
        }
        "BEFORE" | "ON" | "SINCE" => {
            let d = search_day(t.get(*i)?)?;
            *i += 1;
            match w.as_str() {
                "BEFORE" => Key::Before(d),
                "ON" => Key::On(d),
                _ => Key::Since(d),
            }
        }
        "OR" => {
            let a = one(t, i)?;
            let b = one(t, i)?;
            Key::Or(Box::new(a), Box::new(b))
        }
        "(" => {
            let mut v = Vec::new();
            while t.get(*i).map(String::as_str) != Some(")") {
                v.push(one(t, i)?);
            }
            *i += 1;
            Key::And(v)
        }
        _ if w.starts_with(|c: char| c.is_ascii_digit()) => Key::Seq(seqset(&w)?),
        _ => return None,
    })
}

fn parse(q: &str) -> Option<Key> {
    let t = tokens(q);
    let mut i = 0;
    let mut v = Vec::new();
    while i < t.len() {
        v.push(one(&t, &mut i)?);
    }
    Some(Key::And(v))
}

fn all(v: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut known = true;
    for x in v {
        match x {
            Some(false) => return Some(false),
            None => known = false,
            Some(true) => {}
        }
    }
    known.then_some(true)
}

fn on_day(day: Option<(i64, i64)>, test: impl Fn(i64) -> bool) -> Option<bool> {
    let (own, utc) = day?;
    let (a, b) = (test(own), test(utc));
    (a == b).then_some(a)
}

/// Whether message `seq` matches; `None` when what is known does not tell.
fn matches(k: &Key, seq: u32, f: &Facts) -> Option<bool> {
    match k {
        Key::Seq(r) => Some(r.iter().any(|(a, b)| (*a..=*b).contains(&seq))),
        Key::Smaller(n) => f.size.map(|s| s < *n),
        Key::Larger(n) => f.size.map(|s| s > *n),
        Key::Before(d) => on_day(f.day, |x| x < *d),
        Key::On(d) => on_day(f.day, |x| x == *d),
        Key::Since(d) => on_day(f.day, |x| x >= *d),
        Key::Or(a, b) => match (matches(a, seq, f), matches(b, seq, f)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Key::And(v) => all(v.iter().map(|k| matches(k, seq, f))),
    }
}

/// The sequence numbers `query` (the text after `SEARCH `) must return, given what is known
/// of each message; `None` when this cannot be told.
pub fn expected(query: &str, msgs: &[Facts]) -> Option<Vec<u32>> {
    let k = parse(query)?;
    let mut out = Vec::new();
    for (i, f) in msgs.iter().enumerate() {
        if matches(&k, i as u32 + 1, f)? {
            out.push(i as u32 + 1);
        }
    }
    Some(out)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `d-Mon-yyyy` (RFC 3501 date, possibly quoted) as a day number.
fn search_day(t: &str) -> Option<i64> {
    let t = t.trim_matches('"');
    let mut p = t.splitn(3, '-');
    let d: i64 = p.next()?.trim().parse().ok()?;
    let m = p.next()?.to_ascii_lowercase();
    let m = MONTHS.iter().position(|x| *x == m)? as i64 + 1;
    let y: i64 = p.next()?.parse().ok()?;
    ((1..=31).contains(&d) && y > 0).then(|| days(y, m, d))
}

/// An INTERNALDATE (`dd-Mon-yyyy hh:mm:ss +zzzz`) as (day in its own zone, day in UTC).
pub fn internaldate_days(t: &str) -> Option<(i64, i64)> {
    let t = t.trim_matches('"').trim();
    let (date, rest) = t.split_once(' ')?;
    let own = search_day(date)?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let mut hms = time.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (hms.next()??, hms.next()??, hms.next()??);
    let zone = zone.trim();
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let z: i64 = zone.get(1..5)?.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    let secs = own * 86400 + h * 3600 + mi * 60 + se - offset;
    Some((own, secs.div_euclid(86400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(v: &[Option<u64>]) -> Vec<Facts> {
        v.iter()
            .map(|s| Facts {
                size: *s,
                day: None,
            })
            .collect()
    }

    #[test]
    fn evaluates_what_it_can() {
        let sizes = sized(&[Some(100), Some(2000), Some(50), Some(900)]);
        assert_eq!(expected("SMALLER 1000", &sizes), Some(vec![1, 3, 4]));
        assert_eq!(expected("2:3 LARGER 60", &sizes), Some(vec![2]));
        assert_eq!(
            expected("OR SMALLER 60 LARGER 1000", &sizes),
            Some(vec![2, 3])
        );
        assert_eq!(
            expected("(LARGER 60 SMALLER 1000) 1,4", &sizes),
            Some(vec![1, 4])
        );
        assert_eq!(expected("1:* LARGER 0", &sizes), None, "* is not evaluated");
        assert_eq!(expected("SUBJECT re", &sizes), None);
        assert_eq!(expected("SMALLER 10", &sized(&[Some(1), None])), None);
        // an unknown size outside the sequence set does not matter
        assert_eq!(
            expected("1 SMALLER 10", &sized(&[Some(1), None])),
            Some(vec![1])
        );
    }

    #[test]
    fn dates() {
        assert_eq!(search_day("1-Jan-1970"), Some(0));
        assert_eq!(search_day("\"2-jan-1970\""), Some(1));
        assert_eq!(search_day("1-Mar-2000"), Some(11017));
        assert_eq!(search_day("31-Foo-2000"), None);
        let d = search_day("24-Mar-2007").unwrap();
        assert_eq!(
            internaldate_days("\"24-Mar-2007 23:00:00 +0200\""),
            Some((d, d))
        );
        assert_eq!(
            internaldate_days("24-Mar-2007 01:00:00 +0200"),
            Some((d, d - 1))
        );
        assert_eq!(internaldate_days(" 4-Mar-2007 23:30:00 -0100"), {
            let e = search_day("4-Mar-2007").unwrap();
            Some((e, e + 1))
        });
        assert_eq!(internaldate_days("garbage"), None);
        let msgs = [
            Facts {
                size: Some(10),
                day: Some((d, d)),
            },
            Facts {
                size: Some(10),
                day: Some((d + 1, d + 1)),
            },
            Facts {
                size: None,
                day: Some((d - 3, d - 3)),
            },
        ];
        assert_eq!(expected("SINCE 25-Mar-2007", &msgs), Some(vec![2]));
        assert_eq!(expected("BEFORE 24-Mar-2007", &msgs), Some(vec![3]));
        assert_eq!(expected("ON 24-Mar-2007", &msgs), Some(vec![1]));
        assert_eq!(expected("OR ON 24-Mar-2007 LARGER 5", &msgs), None);
        assert_eq!(
            expected("OR ON 21-Mar-2007 LARGER 5", &msgs),
            Some(vec![1, 2, 3])
        );
        // a day that differs in UTC decides nothing where the two answers differ
        let edge = [Facts {
            size: None,
            day: Some((d, d - 1)),
        }];
        assert_eq!(expected("ON 24-Mar-2007", &edge), None);
        assert_eq!(expected("SINCE 1-Jan-2007", &edge), Some(vec![1]));
    }
}
