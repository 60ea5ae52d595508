//! Checking SEARCH results: the part of a query this tester can evaluate itself (sequence
//! sets, SMALLER, LARGER, with AND by juxtaposition, OR and parentheses) against the sizes a
//! session knows. Queries with other keys, or messages of unknown size, are not judged. Pure.

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Seq(Vec<(u32, u32)>),
    Smaller(u64),
    Larger(u64),
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

fn matches(k: &Key, seq: u32, size: u64) -> bool {
    match k {
        Key::Seq(r) => r.iter().any(|(a, b)| (*a..=*b).contains(&seq)),
        Key::Smaller(n) => size < *n,
        Key::Larger(n) => size > *n,
        Key::Or(a, b) => matches(a, seq, size) || matches(b, seq, size),
        Key::And(v) => v.iter().all(|k| matches(k, seq, size)),
    }
}

/// The sequence numbers `query` (the text after `SEARCH `) must return, given each message's
/// size (`None` unknown); `None` when this cannot be told.
pub fn expected(query: &str, sizes: &[Option<u64>]) -> Option<Vec<u32>> {
    let k = parse(query)?;
    let mut out = Vec::new();
    for (i, s) in sizes.iter().enumerate() {
        if matches(&k, i as u32 + 1, (*s)?) {
            out.push(i as u32 + 1);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_what_it_can() {
        let sizes = [Some(100), Some(2000), Some(50), Some(900)];
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
        assert_eq!(expected("SMALLER 10", &[Some(1), None]), None);
    }
}
