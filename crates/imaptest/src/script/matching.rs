//! Matching one server reply against one expected line, pure.
//!
//! The expected line is parsed with the same wire parser as the reply; `$` forms are resolved
//! here. Lists use their directives (`$!ordered`, `$!unordered[=n]`, `$!noextra`, `$!extra`,
//! `$!ignore=x`, `$!ban=x`) or, when a list has none, the defaults: a FETCH list
//! `$!unordered=2`, FLAGS inside it `$!unordered $!noextra $!ignore=\recent`, LIST/LSUB
//! attributes `$!unordered`, a STATUS list `$!unordered=2`; any other list is ordered and exact.
//! Status replies (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`) match when the expected words are a
//! prefix of the reply's text.
use super::vars::{modseq_ok, pieces, Piece, Vars};
use imapwire::{Status, Value};

/// Sequence numbers at the start of a command, shifted by the expunges seen since.
#[derive(Debug, Clone, Default)]
pub struct SeqMap {
    expunged: Vec<u32>,
}

impl SeqMap {
    /// Notes `* n EXPUNGE`.
    pub fn expunge(&mut self, n: u32) {
        self.expunged.push(n);
    }
    /// Where the message that was `n` at the start is now; `None` once expunged.
    pub fn current(&self, n: u32) -> Option<u32> {
        let mut cur = n;
        for &e in &self.expunged {
            if e == cur {
                return None;
            }
            if e < cur {
                cur -= 1;
            }
        }
        Some(cur)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Fetch,
    Flags,
    ListAttrs,
    Status,
}

#[derive(Debug, Clone)]
struct Dirs {
    unordered: Option<usize>,
    extra: bool,
    ignore: Vec<Vec<u8>>,
    ban: Vec<Vec<u8>>,
}

impl Dirs {
    fn default_for(kind: Kind) -> Dirs {
        let d = |u, extra| Dirs {
            unordered: u,
            extra,
            ignore: vec![],
            ban: vec![],
        };
        match kind {
            Kind::Plain => d(None, false),
            Kind::Fetch | Kind::Status => d(Some(2), true),
            Kind::ListAttrs => d(Some(1), true),
            Kind::Flags => Dirs {
                ignore: vec![b"\\recent".to_vec()],
                ..d(Some(1), false)
            },
        }
    }
}

fn text_of(v: &Value) -> Vec<u8> {
    match v.bytes() {
        Some(b) => b.to_vec(),
        None => {
            let mut out = Vec::new();
            v.write_wire(&mut out);
            out
        }
    }
}

fn directive(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Atom(a) => a.strip_prefix(b"$!"),
        _ => None,
    }
}

/// The matcher: a working copy of the variables, committed by the caller on success.
pub struct Matcher<'a> {
    pub vars: Vars,
    seq: &'a SeqMap,
    /// Why the last match failed, when there is more to say than "differs".
    pub reason: Option<String>,
}

impl<'a> Matcher<'a> {
    pub fn new(vars: &Vars, seq: &'a SeqMap) -> Self {
        Matcher {
            vars: vars.clone(),
            seq,
            reason: None,
        }
    }

    /// Matches a whole untagged reply (the values after `*`).
    pub fn line(&mut self, exp: &[Value], got: &[Value]) -> bool {
        let is_status = |v: &[Value]| {
            v.first()
                .and_then(|a| a.bytes())
                .and_then(Status::from_word)
                .is_some()
        };
        let dirs = Dirs {
            extra: is_status(exp) && is_status(got),
            ..Dirs::default_for(Kind::Plain)
        };
        self.ordered(exp, got, &dirs, &|i| top_kind(exp, i))
    }

    /// Matches the start of a tagged reply's text (`[code] words`).
    pub fn prefix(&mut self, exp: &[Value], got: &[Value]) -> bool {
        let dirs = Dirs {
            extra: true,
            ..Dirs::default_for(Kind::Plain)
        };
        self.ordered(exp, got, &dirs, &|_| Kind::Plain)
    }

    fn ordered(
        &mut self,
        exp: &[Value],
        got: &[Value],
        dirs: &Dirs,
        kind_of: &dyn Fn(usize) -> Kind,
    ) -> bool {
        if got.len() < exp.len() || (!dirs.extra && got.len() != exp.len()) {
            return false;
        }
        exp.iter()
            .zip(got)
            .enumerate()
            .all(|(i, (e, g))| self.value(e, g, kind_of(i)))
    }

    fn list(&mut self, exp: &[Value], got: &[Value], kind: Kind) -> bool {
        let n_dirs = exp.iter().take_while(|v| directive(v).is_some()).count();
        let dirs = if n_dirs == 0 {
            Dirs::default_for(kind)
        } else {
            let mut d = Dirs::default_for(Kind::Plain);
            let mut extra: Option<bool> = None;
            for v in &exp[..n_dirs] {
                let dir = directive(v).unwrap_or_default();
                let lower = dir.to_ascii_lowercase();
                if lower == b"ordered" {
                    d.unordered = None;
                } else if lower == b"unordered" {
                    d.unordered = Some(1);
                } else if let Some(n) = lower.strip_prefix(b"unordered=") {
                    d.unordered = Some(
                        std::str::from_utf8(n)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .filter(|&n| n > 0)
                            .unwrap_or(1),
                    );
                } else if lower == b"noextra" {
                    extra = Some(false);
                } else if lower == b"extra" {
                    extra = Some(true);
                } else if let Some(x) = lower.strip_prefix(b"ignore=") {
                    d.ignore.push(x.to_vec());
                } else if let Some(x) = lower.strip_prefix(b"ban=") {
                    d.ban.push(x.to_vec());
                }
            }
            d.extra = extra.unwrap_or(d.unordered.is_some());
            d
        };
        let exp = &exp[n_dirs..];
        let child = |parent: &[Value], i: usize| -> Kind {
            if kind == Kind::Fetch && i > 0 && parent[i - 1].is_atom("FLAGS") {
                Kind::Flags
            } else {
                Kind::Plain
            }
        };
        match dirs.unordered {
            None => {
                if !self.ordered(exp, got, &dirs, &|i| child(exp, i)) {
                    return false;
                }
                got[exp.len()..].iter().all(|g| !self.banned(&dirs, g))
            }
            Some(n) => self.unordered(exp, got, n, &dirs, &child),
        }
    }

    fn banned(&self, dirs: &Dirs, g: &Value) -> bool {
        let t = text_of(g);
        dirs.ban.iter().any(|b| b.eq_ignore_ascii_case(&t))
    }

    fn unordered(
        &mut self,
        exp: &[Value],
        got: &[Value],
        n: usize,
        dirs: &Dirs,
        child: &dyn Fn(&[Value], usize) -> Kind,
    ) -> bool {
        let mut used = vec![false; got.len().div_ceil(n)];
        for ec in exp.chunks(n) {
            let mut found = false;
            for (ci, gc) in got.chunks(n).enumerate() {
                if used[ci] || gc.len() != ec.len() {
                    continue;
                }
                let saved = self.vars.clone();
                let base = ci * n;
                let ok = ec
                    .iter()
                    .zip(gc)
                    .enumerate()
                    .all(|(j, (e, g))| self.value(e, g, child(got, base + j)));
                if ok {
                    used[ci] = true;
                    found = true;
                    break;
                }
                self.vars = saved;
            }
            if !found {
                return false;
            }
        }
        for (ci, gc) in got.chunks(n).enumerate() {
            if used[ci] {
                continue;
            }
            let first = text_of(&gc[0]);
            if !dirs.extra && !dirs.ignore.iter().any(|x| x.eq_ignore_ascii_case(&first)) {
                return false;
            }
            if dirs.extra && dirs.ban.iter().any(|x| x.eq_ignore_ascii_case(&first)) {
                return false;
            }
        }
        true
    }

    fn value(&mut self, exp: &Value, got: &Value, kind: Kind) -> bool {
        match exp {
            Value::List(e) => match got {
                Value::List(g) => self.list(e, g, kind),
                _ => false,
            },
            Value::Code(e) => match got {
                Value::Code(g) => self.list(e, g, Kind::Plain),
                _ => false,
            },
            // The line break before `}}}` cannot be told from the data in the script format, so
            // literals compare equal up to trailing LFs (and, like all strings, ASCII case).
            Value::Literal { data, .. } => got
                .bytes()
                .is_some_and(|g| trim_lf(g).eq_ignore_ascii_case(trim_lf(data))),
            Value::Nil => got.bytes().is_some_and(|g| g.eq_ignore_ascii_case(b"NIL")),
            Value::Atom(a) if a == b"$" => true,
            Value::Atom(t) | Value::Quoted(t) => self.token(t, got),
        }
    }

    fn token(&mut self, tok: &[u8], got: &Value) -> bool {
        let ps = pieces(tok);
        if let [Piece::Var(name)] = ps.as_slice() {
            if self.vars.get(name).is_none() {
                let v = text_of(got);
                if let Some(n) = name
                    .to_ascii_lowercase()
                    .strip_prefix("modseq")
                    .and_then(|d| d.parse::<u64>().ok())
                {
                    let Some(value) = std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                    else {
                        self.reason = Some(format!(
                            "${name}: {:?} is not a number",
                            String::from_utf8_lossy(&v)
                        ));
                        return false;
                    };
                    if let Err(e) = modseq_ok(&self.vars, n, value) {
                        self.reason = Some(e);
                        return false;
                    }
                }
                self.vars.set(name, v);
                return true;
            }
        }
        let Some(g) = got.bytes() else { return false };
        let g = g.to_vec();
        self.glob(&ps, 0, &g)
    }

    /// Matches pieces against text; unbound variables inside a token capture (non-empty).
    fn glob(&mut self, ps: &[Piece], from: usize, text: &[u8]) -> bool {
        let Some(p) = ps.first() else {
            return from == text.len();
        };
        let rest = &text[from..];
        let lit: Option<(Vec<u8>, bool)> = match p {
            Piece::Text(t) => Some((t.clone(), false)),
            Piece::CaseText(t) => Some((t.clone(), true)),
            Piece::Seq(n) => match self.seq.current(*n) {
                Some(c) => Some((c.to_string().into_bytes(), false)),
                None => return false,
            },
            Piece::Var(name) => self.vars.get(name).map(|v| (v.to_vec(), false)),
        };
        match lit {
            Some((t, case)) => {
                let ok = rest.len() >= t.len()
                    && if case {
                        rest[..t.len()] == t[..]
                    } else {
                        rest[..t.len()].eq_ignore_ascii_case(&t)
                    };
                ok && self.glob(&ps[1..], from + t.len(), text)
            }
            None => {
                let Piece::Var(name) = p else { return false };
                for end in (from + 1..=text.len()).rev() {
                    let saved = self.vars.clone();
                    self.vars.set(name, text[from..end].to_vec());
                    if self.glob(&ps[1..], end, text) {
                        return true;
                    }
                    self.vars = saved;
                }
                false
            }
        }
    }
}

fn trim_lf(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|&c| c != b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    &b[..end]
}

fn top_kind(line: &[Value], i: usize) -> Kind {
    let w = |k: usize, s: &str| line.get(k).is_some_and(|v| v.is_atom(s));
    if i == 2 && w(1, "FETCH") {
        Kind::Fetch
    } else if i == 1 && (w(0, "LIST") || w(0, "LSUB")) {
        Kind::ListAttrs
    } else if i == 2 && w(0, "STATUS") {
        Kind::Status
    } else {
        Kind::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapwire::parse_line;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("mailbox", b"imaptest".to_vec());
        v
    }

    fn m(exp: &str, got: &str, v: &mut Vars) -> bool {
        let e = parse_line(exp.as_bytes()).unwrap();
        let g = parse_line(got.as_bytes()).unwrap();
        let seq = SeqMap::default();
        let mut mt = Matcher::new(v, &seq);
        let ok = mt.line(&e, &g);
        if ok {
            *v = mt.vars;
        }
        ok
    }

    fn yes(exp: &str, got: &str) -> bool {
        m(exp, got, &mut vars())
    }

    #[test]
    fn case_insensitive_and_prefix_for_status() {
        assert!(yes("1 exists", "1 EXISTS"));
        assert!(!yes("2 exists", "1 EXISTS"));
        assert!(yes("ok [unseen 1]", "OK [UNSEEN 1] First unseen."));
        assert!(!yes("ok [unseen 2]", "OK [UNSEEN 1] First unseen."));
        assert!(!yes("search 1 2", "SEARCH 1 2 3"));
        assert!(yes("list () \"/\" ${case:INBOX}", "LIST () \"/\" INBOX"));
        assert!(!yes("list () \"/\" ${case:INBOX}", "LIST () \"/\" inbox"));
        assert!(yes(
            "status $mailbox (messages 0)",
            "STATUS \"imaptest\" (MESSAGES 0)"
        ));
    }

    #[test]
    fn variables_bind_then_must_equal() {
        let mut v = vars();
        assert!(m("1 fetch (uid $uid1)", "1 FETCH (UID 7)", &mut v));
        assert_eq!(v.get("uid1"), Some(&b"7"[..]));
        assert!(m("2 fetch (uid $uid1)", "2 FETCH (UID 7)", &mut v));
        assert!(!m("2 fetch (uid $uid1)", "2 FETCH (UID 8)", &mut v));
        assert!(m("search $uid1:$last", "SEARCH 7:9", &mut v));
        assert_eq!(v.get("last"), Some(&b"9"[..]));
        assert!(yes(
            "1 fetch (uid $ flags $)",
            "1 FETCH (UID 1 FLAGS (\\Seen))"
        ));
        // a failed line binds nothing
        let mut w = vars();
        assert!(!m(
            "1 fetch (uid $u flags (\\seen))",
            "1 FETCH (UID 3 FLAGS ())",
            &mut w
        ));
        assert!(w.get("u").is_none());
    }

    #[test]
    fn default_directives() {
        // FETCH: pairs in any order, extra pairs allowed
        assert!(yes(
            "1 fetch (flags (\\seen) uid 4)",
            "1 FETCH (UID 4 MODSEQ (3) FLAGS (\\Seen))"
        ));
        // FLAGS: any order, no extra but \Recent
        assert!(yes(
            "1 fetch (flags (\\seen \\flagged))",
            "1 FETCH (FLAGS (\\Flagged \\Recent \\Seen))"
        ));
        assert!(!yes(
            "1 fetch (flags (\\seen))",
            "1 FETCH (FLAGS (\\Flagged \\Seen))"
        ));
        assert!(yes("1 fetch (flags ())", "1 FETCH (FLAGS (\\Recent))"));
        // LIST attributes: unordered with extra
        assert!(yes(
            "list (\\noselect) \"/\" x",
            "LIST (\\HasChildren \\Noselect) \"/\" x"
        ));
        // STATUS: pairs
        assert!(yes(
            "status x (unseen 1 messages 2)",
            "STATUS x (MESSAGES 2 UNSEEN 1 RECENT 0)"
        ));
        // any other list: ordered, exact
        assert!(!yes("thread (1 2)", "THREAD (2 1)"));
        assert!(!yes("thread (1)", "THREAD (1 2)"));
    }

    #[test]
    fn explicit_directives() {
        assert!(yes("x ($!unordered 1 2)", "X (2 3 1)"));
        assert!(!yes("x ($!unordered $!noextra 1 2)", "X (2 3 1)"));
        assert!(yes("x ($!unordered $!noextra $!ignore=3 1 2)", "X (2 3 1)"));
        assert!(!yes("x ($!unordered $!ban=3 1 2)", "X (2 3 1)"));
        assert!(yes("x ($!unordered=2 a 1 b 2)", "X (B 2 A 1)"));
        assert!(!yes("x ($!unordered=2 a 1 b 2)", "X (B 1 A 2)"));
        assert!(yes("x ($!ordered $!extra 1 2)", "X (1 2 3)"));
        assert!(!yes("x ($!ordered 1 2)", "X (2 1)"));
        // directives replace the defaults of that list only
        assert!(yes(
            "1 fetch (flags ($!extra))",
            "1 FETCH (FLAGS (\\Seen \\Draft))"
        ));
        assert!(!yes(
            "1 fetch (flags ($!unordered $!noextra \\seen))",
            "1 FETCH (FLAGS (\\Seen \\Recent))"
        ));
    }

    #[test]
    fn seq_variables_follow_expunges() {
        let mut seq = SeqMap::default();
        let e = parse_line(b"$4 expunge").unwrap();
        let g = parse_line(b"3 EXPUNGE").unwrap();
        assert!(!Matcher::new(&vars(), &seq).line(&e, &g));
        seq.expunge(3);
        assert_eq!(
            (seq.current(3), seq.current(4), seq.current(2)),
            (None, Some(3), Some(2))
        );
        assert!(Matcher::new(&vars(), &seq).line(&e, &g));
    }

    #[test]
    fn modseq_must_grow() {
        let mut v = vars();
        assert!(m(
            "1 fetch (modseq ($modseq1))",
            "1 FETCH (MODSEQ (5))",
            &mut v
        ));
        assert!(m(
            "1 fetch (modseq ($modseq2))",
            "1 FETCH (MODSEQ (9))",
            &mut v
        ));
        let e = parse_line(b"1 fetch (modseq ($modseq3))").unwrap();
        let g = parse_line(b"1 FETCH (MODSEQ (4))").unwrap();
        let seq = SeqMap::default();
        let mut mt = Matcher::new(&v, &seq);
        assert!(!mt.line(&e, &g));
        assert!(mt.reason.unwrap().contains("$modseq3"));
    }

    #[test]
    fn literals_compare_up_to_trailing_lfs() {
        assert!(yes("1 fetch (body[] {2}\r\nab)", "1 FETCH (BODY[] \"ab\")"));
        // like all strings, case-insensitive
        assert!(yes(
            "1 fetch (body[] {2}\r\nab)",
            "1 FETCH (BODY[] {2}\r\nAB)"
        ));
        assert!(!yes(
            "1 fetch (body[] {2}\r\nab)",
            "1 FETCH (BODY[] {2}\r\nac)"
        ));
        assert!(yes(
            "1 fetch (body[text]<5> ~{1}\r\n3)",
            "1 FETCH (BODY[TEXT]<5> {1}\r\n3)"
        ));
        assert!(yes(
            "1 fetch (binary[1] ~{3}\r\nx\r\n)",
            "1 FETCH (BINARY[1] ~{4}\r\nx\r\n\n)"
        ));
        assert!(!yes(
            "1 fetch (binary[1] ~{2}\r\nx\r)",
            "1 FETCH (BINARY[1] ~{3}\r\nx\r\r)"
        ));
    }
}
