//! THREAD=REFERENCES (RFC 5256 section 3), pure: containers linked by Message-ID,
//! References and In-Reply-To, empty containers pruned, roots merged by base subject,
//! siblings ordered by sent date.

use super::daemon::Message;
use super::mime;
use super::sort::{base_subject, is_reply, sent_time};
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn new_node(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }
    fn is_ancestor(&self, a: usize, mut b: usize) -> bool {
        // Is `a` an ancestor of (or equal to) `b`?
        loop {
            if a == b {
                return true;
            }
            match self.nodes[b].parent {
                Some(p) => b = p,
                None => return false,
            }
        }
    }
    fn unlink(&mut self, c: usize) {
        if let Some(p) = self.nodes[c].parent.take() {
            self.nodes[p].children.retain(|&x| x != c);
        }
    }
    fn link(&mut self, parent: usize, c: usize) {
        self.unlink(c);
        self.nodes[c].parent = Some(parent);
        self.nodes[parent].children.push(c);
    }
}

fn msg_ids(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(s) = rest.find('<') {
        let Some(e) = rest[s..].find('>') else { break };
        let id = rest[s + 1..s + e].trim().to_string();
        if !id.is_empty() {
            out.push(id);
        }
        rest = &rest[s + e + 1..];
    }
    out
}

/// The THREAD reply body for these messages; numbers are 1-based positions in `msgs`.
pub fn references(msgs: &[&Message]) -> String {
    let mut t = Tree { nodes: Vec::new() };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut dates = Vec::new();
    let mut subjects = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let p = mime::parse(&m.data);
        let f = mime::header_fields(&m.data[p.header.clone()]);
        dates.push((sent_time(&f).unwrap_or(m.internal.0), i));
        let raw_subject = mime::field(&f, "subject").unwrap_or_default();
        subjects.push((base_subject(&raw_subject), is_reply(&raw_subject)));
        let own = mime::field(&f, "message-id").and_then(|v| msg_ids(&v).into_iter().next());
        let node = match own.as_ref().and_then(|id| by_id.get(id).copied()) {
            Some(n) if t.nodes[n].msg.is_none() => n,
            _ => {
                let n = t.new_node();
                if let Some(id) = &own {
                    by_id.entry(id.clone()).or_insert(n);
                }
                n
            }
        };
        t.nodes[node].msg = Some(i);
        let mut refs = mime::field(&f, "references")
            .map(|v| msg_ids(&v))
            .unwrap_or_default();
        if refs.is_empty() {
            refs = mime::field(&f, "in-reply-to")
                .map(|v| msg_ids(&v))
                .unwrap_or_default()
                .into_iter()
                .take(1)
                .collect();
        }
        let mut prev: Option<usize> = None;
        for r in &refs {
            let c = match by_id.get(r) {
                Some(&c) => c,
                None => {
                    let c = t.new_node();
                    by_id.insert(r.clone(), c);
                    c
                }
            };
            if let Some(p) = prev {
                if t.nodes[c].parent.is_none() && !t.is_ancestor(c, p) {
                    t.link(p, c);
                }
            }
            prev = Some(c);
        }
        match prev {
            Some(p) if !t.is_ancestor(node, p) => t.link(p, node),
            _ => t.unlink(node),
        }
    }
    let date_of = |i: usize| dates[i];
    // Roots, pruned.
    let roots: Vec<usize> = (0..t.nodes.len())
        .filter(|&n| t.nodes[n].parent.is_none())
        .collect();
    let mut roots = prune(&mut t, roots, true);
    let key = |t: &Tree, n: usize| -> (i64, usize) {
        match t.nodes[n].msg {
            Some(m) => date_of(m),
            None => t.nodes[n]
                .children
                .first()
                .and_then(|&c| t.nodes[c].msg)
                .map(date_of)
                .unwrap_or((i64::MAX, usize::MAX)),
        }
    };
    sort_all(&mut t, &mut roots, &key);
    // Merge roots by base subject.
    let subj_of = |t: &Tree, n: usize| -> Option<(String, bool)> {
        let m = t.nodes[n]
            .msg
            .or_else(|| t.nodes[n].children.first().and_then(|&c| t.nodes[c].msg))?;
        let (s, r) = subjects[m].clone();
        (!s.is_empty()).then_some((s, r))
    };
    let mut table: HashMap<String, usize> = HashMap::new();
    for &r in &roots {
        let Some((s, reply)) = subj_of(&t, r) else {
            continue;
        };
        match table.get(&s) {
            None => {
                table.insert(s, r);
            }
            Some(&old) => {
                let old_dummy = t.nodes[old].msg.is_none();
                let old_reply = subj_of(&t, old).map(|x| x.1).unwrap_or(false);
                if (t.nodes[r].msg.is_none() && !old_dummy)
                    || (old_reply && !reply && t.nodes[r].msg.is_some())
                {
                    table.insert(s, r);
                }
            }
        }
    }
    let mut out_roots: Vec<usize> = Vec::new();
    for &r in &roots {
        let target = subj_of(&t, r).and_then(|(s, _)| table.get(&s).copied());
        let Some(tg) = target.filter(|&tg| tg != r) else {
            if !out_roots.contains(&r) {
                out_roots.push(r);
            }
            continue;
        };
        let tg = *out_roots
            .iter()
            .find(|&&x| x == tg || t.nodes[x].children.contains(&tg) && t.nodes[x].msg.is_none())
            .unwrap_or(&tg);
        let t_dummy = t.nodes[tg].msg.is_none();
        let r_dummy = t.nodes[r].msg.is_none();
        let r_reply = subj_of(&t, r).map(|x| x.1).unwrap_or(false);
        let t_reply = subj_of(&t, tg).map(|x| x.1).unwrap_or(false);
        if t_dummy && r_dummy {
            let kids = t.nodes[r].children.clone();
            for k in kids {
                t.link(tg, k);
            }
        } else if t_dummy || (r_reply && !t_reply) {
            // Into the dummy, or a reply under the original.
            t.link(tg, r);
        } else {
            let d = t.new_node();
            let pos = out_roots.iter().position(|&x| x == tg);
            t.link(d, tg);
            t.link(d, r);
            match pos {
                Some(p) => out_roots[p] = d,
                None => out_roots.push(d),
            }
            for v in table.values_mut() {
                if *v == tg {
                    *v = d;
                }
            }
        }
        if !out_roots.contains(&tg) && t.nodes[tg].parent.is_none() {
            out_roots.push(tg);
        }
    }
    let mut roots: Vec<usize> = out_roots
        .into_iter()
        .filter(|&r| t.nodes[r].parent.is_none())
        .collect();
    sort_all(&mut t, &mut roots, &key);
    roots
        .iter()
        .map(|&r| format!("({})", render(&t, r)))
        .collect()
}

/// Drop empty leaves; replace empty containers by their children (except a root with
/// several children). Returns the new list for `level`.
fn prune(t: &mut Tree, level: Vec<usize>, is_root: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for n in level {
        let kids = t.nodes[n].children.clone();
        let kids = prune(t, kids, false);
        t.nodes[n].children = kids.clone();
        for &k in &kids {
            t.nodes[k].parent = Some(n);
        }
        if t.nodes[n].msg.is_some() {
            out.push(n);
        } else if kids.is_empty() {
            continue;
        } else if is_root && kids.len() > 1 {
            out.push(n);
        } else {
            let parent = t.nodes[n].parent;
            for &k in &kids {
                t.nodes[k].parent = parent;
            }
            t.nodes[n].children.clear();
            out.extend(kids);
        }
    }
    out
}

fn sort_all(t: &mut Tree, level: &mut [usize], key: &dyn Fn(&Tree, usize) -> (i64, usize)) {
    for &n in level.iter() {
        let mut kids = t.nodes[n].children.clone();
        sort_all(t, &mut kids, key);
        t.nodes[n].children = kids;
    }
    let keys: Vec<(i64, usize)> = level.iter().map(|&n| key(t, n)).collect();
    let mut idx: Vec<usize> = (0..level.len()).collect();
    idx.sort_by_key(|&i| keys[i]);
    let sorted: Vec<usize> = idx.iter().map(|&i| level[i]).collect();
    level.copy_from_slice(&sorted);
}

fn render(t: &Tree, n: usize) -> String {
    let node = &t.nodes[n];
    let mut s = node.msg.map(|m| (m + 1).to_string()).unwrap_or_default();
    match node.children.len() {
        0 => {}
        1 => {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&render(t, node.children[0]));
        }
        _ => {
            if !s.is_empty() {
                s.push(' ');
            }
            for &c in &node.children {
                s.push('(');
                s.push_str(&render(t, c));
                s.push(')');
            }
        }
    }
    s
}
