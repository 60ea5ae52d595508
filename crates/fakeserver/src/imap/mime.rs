//! MIME structure of a stored message for FETCH, pure: header/body byte ranges of every part
//! (IMAP section numbers need exact raw offsets and undecoded header text), the section
//! resolver (`1.2.HEADER`, `3.MIME`, …), ENVELOPE and BODY/BODYSTRUCTURE in wire form.

use std::ops::Range;

/// One MIME part: its header and body ranges in the message bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Header block including the blank line that ends it.
    pub header: Range<usize>,
    pub body: Range<usize>,
    /// Lower-case type and subtype.
    pub ctype: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
    pub children: Vec<Part>,
    /// For message/rfc822: the encapsulated message.
    pub message: Option<Box<Part>>,
}

const MAX_DEPTH: usize = 50;

/// Parse the structure of `data` (a whole message).
pub fn parse(data: &[u8]) -> Part {
    parse_part(data, 0..data.len(), ("text", "plain"), 0)
}

fn parse_part(data: &[u8], range: Range<usize>, default: (&str, &str), depth: usize) -> Part {
    let hdr_end = header_end(data, range.clone());
    let header = range.start..hdr_end;
    let fields = header_fields(&data[header.clone()]);
    let (mut ctype, mut subtype, params) = match field(&fields, "content-type") {
        Some(v) => content_type(&v),
        None => (default.0.to_string(), default.1.to_string(), Vec::new()),
    };
    if ctype.is_empty() {
        (ctype, subtype) = (default.0.to_string(), default.1.to_string());
    }
    let body = hdr_end..range.end;
    let mut part = Part {
        header,
        body: body.clone(),
        ctype,
        subtype,
        params,
        children: Vec::new(),
        message: None,
    };
    if depth >= MAX_DEPTH {
        return part;
    }
    if part.ctype == "multipart" {
        let boundary = part
            .params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.clone());
        if let Some(b) = boundary {
            let child_default = if part.subtype == "digest" {
                ("message", "rfc822")
            } else {
                ("text", "plain")
            };
            for r in split_multipart(data, body, b.as_bytes()) {
                part.children
                    .push(parse_part(data, r, child_default, depth + 1));
            }
        }
    } else if part.ctype == "message" && part.subtype == "rfc822" {
        part.message = Some(Box::new(parse_part(
            data,
            body,
            ("text", "plain"),
            depth + 1,
        )));
    }
    part
}

/// End of the header block (after the blank line), or the range end when there is none.
fn header_end(data: &[u8], r: Range<usize>) -> usize {
    let s = &data[r.clone()];
    if s.starts_with(b"\r\n") {
        return r.start + 2;
    }
    if s.starts_with(b"\n") {
        return r.start + 1;
    }
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\n' {
            if s[i + 1..].starts_with(b"\r\n") {
                return r.start + i + 3;
            }
            if s[i + 1..].starts_with(b"\n") {
                return r.start + i + 2;
            }
        }
        i += 1;
    }
    r.end
}

/// The lines of `b` (each with its LF; the last may lack one), with the offset each starts at.
fn lines_at(b: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    b.split_inclusive(|&c| c == b'\n').map(move |line| {
        let start = at;
        at += line.len();
        (start, line)
    })
}

/// The body ranges between `--boundary` lines (without the CRLF before a delimiter).
fn split_multipart(data: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut delims = Vec::new(); // (line start, line end incl LF, is_close)
    for (at, line) in lines_at(data.get(body.clone()).unwrap_or_default()) {
        let pos = body.start + at;
        let line_end = pos + line.len();
        if line.starts_with(b"--") && line[2..].starts_with(boundary) {
            let rest = &line[2 + boundary.len()..];
            let close = rest.starts_with(b"--");
            let rest = if close { &rest[2..] } else { rest };
            if rest.iter().all(|c| c.is_ascii_whitespace()) {
                delims.push((pos, line_end, close));
                if close {
                    break;
                }
            }
        }
    }
    let mut out = Vec::new();
    for w in delims.windows(2) {
        let (_, start, close) = w[0];
        if close {
            break;
        }
        let mut end = w[1].0;
        if end > start && data[end - 1] == b'\n' {
            end -= 1;
            if end > start && data[end - 1] == b'\r' {
                end -= 1;
            }
        }
        out.push(start..end.max(start));
    }
    if let Some(&(_, start, false)) = delims.last() {
        out.push(start..body.end);
    }
    out
}

/// Header fields, unfolded: (lower-case name, raw value without leading space).
pub fn header_fields(h: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in h.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                last.1.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&c| c == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            let value = String::from_utf8_lossy(&line[colon + 1..]);
            out.push((name, value.trim_start().to_string()));
        }
    }
    out
}

/// The first field of that (lower-case) name.
pub fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim_end().to_string())
}

/// Split a header value at `;` outside quotes, returning the main value and parameters.
fn params_of(v: &str) -> (String, Vec<(String, String)>) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut esc = false;
    for c in strip_comments(v).chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                esc = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    let main = parts
        .first()
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mut params = Vec::new();
    for p in parts.iter().skip(1) {
        if let Some((k, v)) = p.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            params.push((k.trim().to_ascii_lowercase(), v.to_string()));
        }
    }
    (main, params)
}

fn strip_comments(v: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c)
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn content_type(v: &str) -> (String, String, Vec<(String, String)>) {
    let (main, params) = params_of(v);
    let main = main.to_ascii_lowercase();
    match main.split_once('/') {
        Some((t, s)) if !t.trim().is_empty() && !s.trim().is_empty() => {
            (t.trim().to_string(), s.trim().to_string(), params)
        }
        _ => ("text".into(), "plain".into(), params),
    }
}

/// A section spec after the part path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// The whole part (or message).
    All,
    Header,
    HeaderFields {
        not: bool,
        names: Vec<String>,
    },
    Text,
    Mime,
}

/// The bytes of `BODY[path.spec]`, or None for a path that does not exist.
pub fn section(data: &[u8], root: &Part, path: &[u32], spec: &Spec) -> Option<Vec<u8>> {
    let part = resolve(root, path)?;
    // HEADER/TEXT of a message/rfc822 part are those of the encapsulated message.
    let msg = if path.is_empty() {
        Some(part)
    } else {
        part.message.as_deref()
    };
    Some(match spec {
        Spec::All => {
            if path.is_empty() {
                data.to_vec()
            } else {
                data[part.body.clone()].to_vec()
            }
        }
        Spec::Mime => {
            if path.is_empty() {
                return None;
            }
            data[part.header.clone()].to_vec()
        }
        Spec::Header => data[msg?.header.clone()].to_vec(),
        Spec::Text => data[msg?.body.clone()].to_vec(),
        Spec::HeaderFields { not, names } => {
            let h = &data[msg?.header.clone()];
            filter_header(h, names, *not)
        }
    })
}

/// The part at a section path (the message itself for an empty path).
pub fn resolve<'a>(root: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let mut cur = root;
    for (i, &n) in path.iter().enumerate() {
        if i > 0 {
            if let Some(m) = &cur.message {
                cur = m;
            }
        } else if n == 0 {
            return None;
        }
        if cur.ctype == "multipart" {
            cur = cur.children.get((n as usize).checked_sub(1)?)?;
        } else if n != 1 {
            return None;
        }
    }
    Some(cur)
}

/// The header lines named (or not named) in `names`, then the blank line.
fn filter_header(h: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for (_, line) in lines_at(h) {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        if line[0] != b' ' && line[0] != b'\t' {
            let name = match bare.iter().position(|&c| c == b':') {
                Some(c) => String::from_utf8_lossy(&bare[..c]).trim().to_string(),
                None => String::new(),
            };
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
            keep = !name.is_empty() && listed != not;
        }
        if keep {
            out.extend_from_slice(bare);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// BINARY[path]: the part's body with its Content-Transfer-Encoding undone (the whole
/// message for an empty path). `Err` names an encoding fakeserver cannot undo.
pub fn binary(data: &[u8], root: &Part, path: &[u32]) -> Option<Result<Vec<u8>, String>> {
    let part = resolve(root, path)?;
    if path.is_empty() {
        return Some(Ok(data.to_vec()));
    }
    let body = &data[part.body.clone()];
    if part.ctype == "multipart" || part.message.is_some() {
        return Some(Ok(body.to_vec()));
    }
    let fields = header_fields(&data[part.header.clone()]);
    let cte = field(&fields, "content-transfer-encoding")
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    Some(match cte.as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
        "base64" => Ok(decode_base64(body)),
        "quoted-printable" => Ok(decode_qp(body)),
        other => Err(other.to_string()),
    })
}

/// Every leaf part's body with its transfer encoding undone (base64, quoted-printable; as is
/// otherwise), depth first, for SEARCH BODY/TEXT.
pub fn decoded_leaves(data: &[u8], root: &Part) -> Vec<Vec<u8>> {
    fn walk(data: &[u8], p: &Part, out: &mut Vec<Vec<u8>>) {
        if let Some(m) = &p.message {
            return walk(data, m, out);
        }
        if p.ctype == "multipart" {
            for c in &p.children {
                walk(data, c, out);
            }
            return;
        }
        let body = &data[p.body.clone()];
        let fields = header_fields(&data[p.header.clone()]);
        let cte = field(&fields, "content-transfer-encoding")
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        out.push(match cte.as_str() {
            "base64" => decode_base64(body),
            "quoted-printable" => decode_qp(body),
            _ => body.to_vec(),
        });
    }
    let mut out = Vec::new();
    walk(data, root, &mut out);
    out
}

/// A message whose `Content-Transfer-Encoding: binary` parts hold NUL bytes, rewritten with
/// those parts in base64 (as Dovecot stores them), so BODY[] never carries a NUL; BINARY[]
/// still gives the original bytes. `None` when nothing needs rewriting.
pub fn encode_binary_parts(data: &[u8]) -> Option<Vec<u8>> {
    fn leaves<'a>(p: &'a Part, out: &mut Vec<&'a Part>) {
        if let Some(m) = &p.message {
            leaves(m, out);
        } else if p.ctype == "multipart" {
            for c in &p.children {
                leaves(c, out);
            }
        } else {
            out.push(p);
        }
    }
    let root = parse(data);
    let mut parts = Vec::new();
    leaves(&root, &mut parts);
    let mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
    for p in parts {
        let body = &data[p.body.clone()];
        let fields = header_fields(&data[p.header.clone()]);
        let cte =
            field(&fields, "content-transfer-encoding").map(|c| c.trim().to_ascii_lowercase());
        if cte.as_deref() != Some("binary") || !body.contains(&0) {
            continue;
        }
        // The CTE line inside the header block.
        let h = &data[p.header.clone()];
        for (pos, line) in lines_at(h) {
            if line
                .to_ascii_lowercase()
                .starts_with(b"content-transfer-encoding:")
            {
                let start = p.header.start + pos;
                edits.push((
                    start..start + line.len(),
                    b"Content-Transfer-Encoding: base64\r\n".to_vec(),
                ));
                break;
            }
        }
        let mut b64 = Vec::new();
        for chunk in body.chunks(57) {
            b64.extend_from_slice(encode_base64(chunk).as_bytes());
            b64.extend_from_slice(b"\r\n");
        }
        edits.push((p.body.clone(), b64));
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0.start));
    let mut out = data.to_vec();
    for (r, bytes) in edits {
        out.splice(r, bytes);
    }
    Some(out)
}

fn encode_base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_base64(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in b {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn decode_qp(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// An IMAP nstring: NIL, a quoted string, or a literal for text a quoted string cannot hold.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => string(out, s),
    }
}

pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if s.iter()
        .any(|&c| c == b'\r' || c == b'\n' || c == 0 || c >= 0x80)
    {
        out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
        out.extend_from_slice(s);
        return;
    }
    imapwire::write_quoted(s, out);
}

fn nstr_opt(out: &mut Vec<u8>, s: &Option<String>) {
    nstring(out, s.as_deref().map(str::as_bytes));
}

/// ENVELOPE of the message whose header is `h`.
pub fn envelope(out: &mut Vec<u8>, h: &[u8]) {
    let f = header_fields(h);
    let get = |n: &str| field(&f, n).map(|v| unfold(&v));
    out.push(b'(');
    nstr_opt(out, &get("date"));
    out.push(b' ');
    nstr_opt(out, &get("subject"));
    let from = get("from");
    for (name, fallback) in [
        ("from", None),
        ("sender", from.clone()),
        ("reply-to", from.clone()),
        ("to", None),
        ("cc", None),
        ("bcc", None),
    ] {
        out.push(b' ');
        let v = get(name).filter(|v| !v.trim().is_empty()).or(fallback);
        addresses(out, v.as_deref());
    }
    out.push(b' ');
    nstr_opt(out, &get("in-reply-to"));
    out.push(b' ');
    nstr_opt(out, &get("message-id"));
    out.push(b')');
}

fn unfold(v: &str) -> String {
    v.replace("\r\n", "").replace('\n', "")
}

/// One parsed address: (name, mailbox, host) or a group marker.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Addr {
    Mailbox {
        name: Option<String>,
        adl: Option<String>,
        local: String,
        host: Option<String>,
    },
    GroupStart(String),
    GroupEnd,
}

fn addresses(out: &mut Vec<u8>, v: Option<&str>) {
    let list = v.map(parse_addresses).unwrap_or_default();
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        match a {
            Addr::Mailbox {
                name,
                adl,
                local,
                host,
            } => {
                nstr_opt(out, &name);
                out.push(b' ');
                nstr_opt(out, &adl);
                out.push(b' ');
                string(out, local.as_bytes());
                out.push(b' ');
                nstr_opt(out, &host);
            }
            Addr::GroupStart(g) => {
                out.extend_from_slice(b"NIL NIL ");
                string(out, g.as_bytes());
                out.extend_from_slice(b" NIL");
            }
            Addr::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

/// RFC 5322 address lists, tolerantly: `a@b`, `Name <a@b>`, `"Q" <a@b>`, groups, comments.
fn parse_addresses(v: &str) -> Vec<Addr> {
    let mut out = Vec::new();
    let chars: Vec<char> = v.chars().collect();
    let mut i = 0;
    let mut phrase = String::new();
    let mut in_group = false;
    let mut raw = String::new(); // addr-spec text outside <>
    let mut comment = String::new();
    let flush =
        |phrase: &mut String, raw: &mut String, comment: &mut String, out: &mut Vec<Addr>| {
            let spec = raw.trim().to_string();
            if !spec.is_empty() {
                let (local, host) = split_spec(&spec);
                let c = comment.trim().to_string();
                out.push(Addr::Mailbox {
                    name: (!c.is_empty()).then_some(c),
                    adl: None,
                    local,
                    host,
                });
            }
            phrase.clear();
            raw.clear();
            comment.clear();
        };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let mut q = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    q.push(chars[i]);
                    i += 1;
                }
                phrase.push_str(&q);
                raw.push('"');
                raw.push_str(&q);
                raw.push('"');
            }
            '(' => {
                let mut depth = 1;
                i += 1;
                let start = i;
                while i < chars.len() && depth > 0 {
                    match chars[i] {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                comment = chars[start..i.saturating_sub(1).max(start)]
                    .iter()
                    .collect();
                continue;
            }
            '<' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '>')
                    .map(|p| i + p)
                    .unwrap_or(chars.len());
                let spec: String = chars[i + 1..close].iter().collect();
                let (adl, spec) = match spec.split_once(':') {
                    Some((r, s)) if r.trim().starts_with('@') => {
                        (Some(r.trim().to_string()), s.trim().to_string())
                    }
                    _ => (None, spec.trim().to_string()),
                };
                let (local, host) = split_spec(&spec);
                let name = phrase.trim().to_string();
                out.push(Addr::Mailbox {
                    name: (!name.is_empty()).then_some(name),
                    adl,
                    local,
                    host,
                });
                phrase.clear();
                raw.clear();
                comment.clear();
                i = close;
            }
            ':' if !in_group => {
                out.push(Addr::GroupStart(phrase.trim().to_string()));
                phrase.clear();
                raw.clear();
                comment.clear();
                in_group = true;
            }
            ';' if in_group => {
                flush(&mut phrase, &mut raw, &mut comment, &mut out);
                out.push(Addr::GroupEnd);
                in_group = false;
            }
            ',' => flush(&mut phrase, &mut raw, &mut comment, &mut out),
            _ => {
                if c.is_whitespace() && !phrase.is_empty() && !phrase.ends_with(' ') {
                    phrase.push(' ');
                } else if !c.is_whitespace() {
                    phrase.push(c);
                }
                if !c.is_whitespace() {
                    raw.push(c);
                }
            }
        }
        i += 1;
    }
    flush(&mut phrase, &mut raw, &mut comment, &mut out);
    if in_group {
        out.push(Addr::GroupEnd);
    }
    out
}

/// The first address of a header value: (display name, mailbox, host); a group gives its
/// name as the mailbox.
pub fn first_address(v: &str) -> Option<(Option<String>, String, Option<String>)> {
    match parse_addresses(v).into_iter().next()? {
        Addr::Mailbox {
            name, local, host, ..
        } => Some((name, local, host)),
        Addr::GroupStart(g) => Some((None, g, None)),
        Addr::GroupEnd => None,
    }
}

fn split_spec(spec: &str) -> (String, Option<String>) {
    match spec.rsplit_once('@') {
        Some((l, h)) => (l.trim_matches('"').to_string(), Some(h.to_string())),
        None => (spec.trim_matches('"').to_string(), None),
    }
}

/// BODY (`ext` false) or BODYSTRUCTURE (`ext` true) of a part.
pub fn body_structure(out: &mut Vec<u8>, data: &[u8], p: &Part, ext: bool) {
    structure(out, data, p, ext, None)
}

/// BODYSTRUCTURE of a leaf part as URLFETCH … BINARY BODYPARTSTRUCTURE shows it (RFC 5524):
/// describing `decoded`, the content with its transfer encoding undone: 7bit, 8bit or binary,
/// the decoded size, and (as Dovecot reports it) no line count for decoded content.
pub fn decoded_structure(out: &mut Vec<u8>, data: &[u8], p: &Part, decoded: &[u8]) {
    let enc = if decoded.contains(&0) {
        "binary"
    } else if decoded.iter().any(|&c| c >= 0x80) {
        "8bit"
    } else {
        "7bit"
    };
    structure(out, data, p, true, Some((enc, decoded.len(), 0)))
}

/// `decoded`: the encoding, size and line count to show instead of the part's own.
fn structure(
    out: &mut Vec<u8>,
    data: &[u8],
    p: &Part,
    ext: bool,
    decoded: Option<(&str, usize, usize)>,
) {
    let fields = header_fields(&data[p.header.clone()]);
    out.push(b'(');
    if p.ctype == "multipart" {
        if p.children.is_empty() {
            // A multipart without parts: show it as an empty text part, as servers do.
            out.extend_from_slice(b"\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0");
        }
        for c in &p.children {
            body_structure(out, data, c, ext);
        }
        out.push(b' ');
        string(out, p.subtype.as_bytes());
        if ext {
            out.push(b' ');
            param_list(out, &p.params);
            extension(out, &fields);
        }
        out.push(b')');
        return;
    }
    string(out, p.ctype.as_bytes());
    out.push(b' ');
    string(out, p.subtype.as_bytes());
    out.push(b' ');
    let mut params = p.params.clone();
    if p.ctype == "text" && !params.iter().any(|(k, _)| k == "charset") {
        params.push(("charset".into(), "us-ascii".into()));
    }
    param_list(out, &params);
    out.push(b' ');
    nstr_opt(out, &field(&fields, "content-id"));
    out.push(b' ');
    nstr_opt(
        out,
        &field(&fields, "content-description").map(|v| unfold(&v)),
    );
    out.push(b' ');
    let mut enc = field(&fields, "content-transfer-encoding")
        .map(|e| e.trim().to_string())
        .unwrap_or_else(|| "7bit".into());
    let body = &data[p.body.clone()];
    let mut size = body.len();
    let mut lines = body.iter().filter(|&&c| c == b'\n').count()
        + usize::from(!body.is_empty() && !body.ends_with(b"\n"));
    if let Some((e, s, l)) = decoded {
        (enc, size, lines) = (e.to_string(), s, l);
    }
    string(out, enc.as_bytes());
    out.extend_from_slice(format!(" {size}").as_bytes());
    if let Some(m) = &p.message {
        out.push(b' ');
        envelope(out, &data[m.header.clone()]);
        out.push(b' ');
        body_structure(out, data, m, ext);
        out.extend_from_slice(format!(" {lines}").as_bytes());
    } else if p.ctype == "text" {
        out.extend_from_slice(format!(" {lines}").as_bytes());
    }
    if ext {
        out.push(b' ');
        nstr_opt(out, &field(&fields, "content-md5"));
        extension(out, &fields);
    }
    out.push(b')');
}

fn param_list(out: &mut Vec<u8>, params: &[(String, String)]) {
    let params: Vec<_> = params.iter().filter(|(k, _)| !k.is_empty()).collect();
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k.as_bytes());
        out.push(b' ');
        string(out, v.as_bytes());
    }
    out.push(b')');
}

/// Disposition, language, location.
fn extension(out: &mut Vec<u8>, fields: &[(String, String)]) {
    out.push(b' ');
    match field(fields, "content-disposition") {
        Some(d) => {
            let (main, params) = params_of(&d);
            out.push(b'(');
            string(out, main.as_bytes());
            out.push(b' ');
            param_list(out, &params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match field(fields, "content-language") {
        Some(l) => {
            let langs: Vec<String> = strip_comments(&l)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if langs.len() == 1 {
                string(out, langs[0].as_bytes());
            } else if langs.is_empty() {
                out.extend_from_slice(b"NIL");
            } else {
                out.push(b'(');
                for (i, l) in langs.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    string(out, l.as_bytes());
                }
                out.push(b')');
            }
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstr_opt(out, &field(fields, "content-location"));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: A <a@b.c>\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\npre\r\n--X\r\nContent-Type: text/plain\r\n\r\none\r\n--X\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--X--\r\n";

    #[test]
    fn sections_resolve() {
        let p = parse(MSG);
        assert_eq!(p.children.len(), 2);
        assert_eq!(section(MSG, &p, &[1], &Spec::All).unwrap(), b"one");
        assert_eq!(
            section(MSG, &p, &[1], &Spec::Mime).unwrap(),
            b"Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            section(MSG, &p, &[2], &Spec::Header).unwrap(),
            b"Subject: in\r\n\r\n"
        );
        assert_eq!(section(MSG, &p, &[2, 1], &Spec::All).unwrap(), b"inner");
        assert_eq!(section(MSG, &p, &[3], &Spec::All), None);
        let hf = Spec::HeaderFields {
            not: false,
            names: vec!["subject".into()],
        };
        assert_eq!(section(MSG, &p, &[], &hf).unwrap(), b"Subject: hi\r\n\r\n");
    }

    #[test]
    fn binary_parts_become_base64_and_decode_back() {
        let m = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\0-\xe4\r\n";
        let enc = encode_binary_parts(m).unwrap();
        assert!(!enc.contains(&0));
        assert!(enc.starts_with(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        let p = parse(&enc);
        assert_eq!(binary(&enc, &p, &[1]).unwrap().unwrap(), b"\0-\xe4\r\n");
        assert_eq!(encode_binary_parts(b"Subject: x\r\n\r\nplain\r\n"), None);
    }

    #[test]
    fn envelope_and_structure() {
        let mut out = Vec::new();
        envelope(
            &mut out,
            b"From: \"A B\" <a@b.c>, d@e\r\nTo: g: x@y;\r\n\r\n",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(NIL NIL ((\"A B\" NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e\")) ((\"A B\" NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e\")) ((\"A B\" NIL \"a\" \"b.c\")(NIL NIL \"d\" \"e\")) ((NIL NIL \"g\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
        let mut out = Vec::new();
        body_structure(
            &mut out,
            b"Subject: x\r\n\r\nab\r\ncd\r\n",
            &parse(b"Subject: x\r\n\r\nab\r\ncd\r\n"),
            false,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)"
        );
    }
}
