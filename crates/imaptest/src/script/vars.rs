//! Script variables: the table (`$name` bound on first match, predefined ones) and the lexer of
//! `$` forms shared by command expansion and reply matching: `$$` (a dollar), `$` alone (any
//! value), `$!directive`, `$N` (a sequence number that shifts with expunges), `$name`,
//! `${name}`, `${case:TEXT}`.
use std::collections::HashMap;

/// One piece of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(Vec<u8>),
    /// `${case:...}`: compared case-sensitively.
    CaseText(Vec<u8>),
    Var(String),
    Seq(u32),
}

/// Splits a token into pieces. `$` not followed by a name is text.
pub fn pieces(tok: &[u8]) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut text = Vec::new();
    let mut i = 0;
    let flush = |text: &mut Vec<u8>, out: &mut Vec<Piece>| {
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(text)));
        }
    };
    while i < tok.len() {
        let c = tok[i];
        if c != b'$' {
            text.push(c);
            i += 1;
            continue;
        }
        match tok.get(i + 1) {
            Some(b'$') => {
                text.push(b'$');
                i += 2;
            }
            Some(b'{') => match tok[i + 2..].iter().position(|&b| b == b'}') {
                Some(end) => {
                    let inner = &tok[i + 2..i + 2 + end];
                    flush(&mut text, &mut out);
                    if let Some(t) = inner.strip_prefix(b"case:") {
                        out.push(Piece::CaseText(t.to_vec()));
                    } else {
                        out.push(Piece::Var(String::from_utf8_lossy(inner).into_owned()));
                    }
                    i += 3 + end;
                }
                None => {
                    text.push(b'$');
                    i += 1;
                }
            },
            Some(d) if d.is_ascii_digit() => {
                let end = tok[i + 1..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map(|p| i + 1 + p)
                    .unwrap_or(tok.len());
                flush(&mut text, &mut out);
                let n = std::str::from_utf8(&tok[i + 1..end])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(u32::MAX);
                out.push(Piece::Seq(n));
                i = end;
            }
            Some(a) if a.is_ascii_alphabetic() || *a == b'_' => {
                let end = tok[i + 1..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map(|p| i + 1 + p)
                    .unwrap_or(tok.len());
                flush(&mut text, &mut out);
                out.push(Piece::Var(
                    String::from_utf8_lossy(&tok[i + 1..end]).into_owned(),
                ));
                i = end;
            }
            _ => {
                text.push(b'$');
                i += 1;
            }
        }
    }
    flush(&mut text, &mut out);
    out
}

/// The variables of one test group.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: HashMap<String, Vec<u8>>,
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.map.get(&name.to_ascii_lowercase()).map(Vec::as_slice)
    }
    pub fn set(&mut self, name: &str, value: Vec<u8>) {
        self.map.insert(name.to_ascii_lowercase(), value);
    }
    pub fn remove(&mut self, name: &str) {
        self.map.remove(&name.to_ascii_lowercase());
    }
    /// All `modseqN` values bound so far.
    pub fn modseqs(&self) -> Vec<(u64, u64)> {
        self.map
            .iter()
            .filter_map(|(k, v)| {
                let n: u64 = k.strip_prefix("modseq")?.parse().ok()?;
                let val: u64 = std::str::from_utf8(v).ok()?.parse().ok()?;
                Some((n, val))
            })
            .collect()
    }
}

/// Whether binding `$modseq<n>` to `value` keeps the modseqs growing (each at least its index,
/// and at least the index gap above any lower one, below any higher one). Returns the reason
/// when not.
pub fn modseq_ok(vars: &Vars, n: u64, value: u64) -> Result<(), String> {
    if value < n {
        return Err(format!("$modseq{n} must be at least {n}, got {value}"));
    }
    for (m, v) in vars.modseqs() {
        if m < n && value < v.saturating_add(n - m) {
            return Err(format!(
                "$modseq{n} must be at least {} ($modseq{m} is {v}), got {value}",
                v + (n - m)
            ));
        }
        if m > n && v < value.saturating_add(m - n) {
            return Err(format!(
                "$modseq{n}={value} leaves no room below $modseq{m}={v}"
            ));
        }
    }
    Ok(())
}

/// Expands variables in a command (literal data is left alone; literal sizes stay right).
/// `seq` maps `$N`. An unbound variable is an error naming it.
pub fn expand_command(cmd: &[u8], vars: &Vars) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(cmd.len());
    let mut i = 0;
    while i < cmd.len() {
        // copy literal payloads verbatim
        if cmd[i] == b'\n' && i > 0 && cmd[i - 1] == b'\r' {
            if let Some(size) = imapwire::frame::trailing_literal(&cmd[..i - 1]) {
                out.push(b'\n');
                let end = (i + 1 + size as usize).min(cmd.len());
                out.extend_from_slice(&cmd[i + 1..end]);
                i = end;
                continue;
            }
        }
        // a run of non-space bytes is a token
        if cmd[i] == b'$' {
            let end = token_end(cmd, i);
            for p in pieces(&cmd[i..end]) {
                match p {
                    Piece::Text(t) | Piece::CaseText(t) => out.extend_from_slice(&t),
                    Piece::Var(name) => match vars.get(&name) {
                        Some(v) => out.extend_from_slice(v),
                        None => return Err(format!("variable ${name} has no value")),
                    },
                    Piece::Seq(n) => out.extend_from_slice(n.to_string().as_bytes()),
                }
            }
            i = end;
            continue;
        }
        out.push(cmd[i]);
        i += 1;
    }
    Ok(out)
}

/// Where a `$` form starting at `i` ends: the `${...}` brace, or the name characters.
fn token_end(cmd: &[u8], i: usize) -> usize {
    match cmd.get(i + 1) {
        Some(b'{') => cmd[i..]
            .iter()
            .position(|&b| b == b'}')
            .map(|p| i + p + 1)
            .unwrap_or(i + 1),
        Some(b'$') => i + 2,
        _ => cmd[i + 1..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .map(|p| i + 1 + p)
            .unwrap_or(cmd.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexing() {
        assert_eq!(pieces(b"$"), vec![Piece::Text(b"$".to_vec())]);
        assert_eq!(pieces(b"$$x"), vec![Piece::Text(b"$x".to_vec())]);
        assert_eq!(
            pieces(b"$mailbox${sep}test"),
            vec![
                Piece::Var("mailbox".into()),
                Piece::Var("sep".into()),
                Piece::Text(b"test".to_vec())
            ]
        );
        assert_eq!(
            pieces(b"$uid1:$uid3,5"),
            vec![
                Piece::Var("uid1".into()),
                Piece::Text(b":".to_vec()),
                Piece::Var("uid3".into()),
                Piece::Text(b",5".to_vec())
            ]
        );
        assert_eq!(pieces(b"$3"), vec![Piece::Seq(3)]);
        assert_eq!(
            pieces(b"${case:INBOX/Inbox}"),
            vec![Piece::CaseText(b"INBOX/Inbox".to_vec())]
        );
    }

    #[test]
    fn command_expansion() {
        let mut v = Vars::default();
        v.set("mailbox", b"imaptest".to_vec());
        v.set("sep", b".".to_vec());
        assert_eq!(
            expand_command(b"create $mailbox${sep}x $$y", &v).unwrap(),
            b"create imaptest.x $y"
        );
        // literal payloads are not expanded
        assert_eq!(
            expand_command(b"append $mailbox {2}\r\n$a", &v).unwrap(),
            b"append imaptest {2}\r\n$a"
        );
        assert!(expand_command(b"fetch $uid1", &v)
            .unwrap_err()
            .contains("$uid1"));
        assert_eq!(expand_command(b"x !#$$&'", &v).unwrap(), b"x !#$&'");
    }

    #[test]
    fn modseq_rules_from_the_documentation() {
        let check = |a: u64, b: u64| {
            let mut v = Vars::default();
            modseq_ok(&v, 2, a).and_then(|_| {
                v.set("modseq2", a.to_string().into_bytes());
                modseq_ok(&v, 5, b)
            })
        };
        for (a, b) in [(2, 5), (2, 6), (10, 13), (10, 100)] {
            assert!(check(a, b).is_ok(), "{a} {b}");
        }
        for (a, b) in [(1, 5), (2, 4), (10, 12)] {
            assert!(check(a, b).is_err(), "{a} {b}");
        }
    }
}
