//! Running scripted test groups against a server: connect and log in every connection, skip
//! when capabilities are missing, prepare the state (delete the test mailboxes, create, append,
//! select), then run the steps, matching replies as they arrive (so memory stays bounded
//! whatever the server sends) and recording failures with the script line.
use super::matching::{Matcher, SeqMap};
use super::parse::{Command, Expect, State, Step, TestFile};
use super::vars::{expand_command, Vars};
use crate::client::login::{astring, login};
use crate::client::sasl::Creds;
use crate::client::{Conn, ConnError, Endpoint};
use crate::mbox::Message;
use imapwire::{Response, Status};
use std::time::{Duration, Instant};

/// What the runner needs besides the test.
#[derive(Clone)]
pub struct Settings {
    pub endpoint: Endpoint,
    pub user: String,
    pub user2: Option<String>,
    pub pass: String,
    pub master: Option<String>,
    pub mech: String,
    pub mailbox: String,
    pub no_pipelining: bool,
}

/// One failed command (or a group-level error when `line` is 0).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub line: usize,
    /// `N/M`: which command of the group.
    pub index: String,
    pub reason: String,
    pub command: String,
    pub expected: Vec<String>,
    pub got: Vec<String>,
}

/// How a group ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Skipped,
}

/// The result of one group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupResult {
    pub name: String,
    pub verdict: Verdict,
    /// Required capabilities the server lacks (skipped groups).
    pub missing: Vec<String>,
    /// Whether it tests extensions (has a `capabilities:` header).
    pub extension: bool,
    pub commands: usize,
    pub failed_commands: usize,
    pub failures: Vec<Failure>,
    /// A connection-level problem (setup failed, the server went away).
    pub error: Option<String>,
    /// The connection was lost at setup (connect, greeting or login).
    #[serde(skip)]
    pub setup_lost: bool,
    pub seconds: f64,
}

fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push_str("...");
    }
    out.replace("\r\n", "\\r\\n")
}

fn mailbox_url(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Session {
    conn: Option<Conn>,
    tags: u32,
    id: usize,
}

impl Session {
    fn tag(&mut self) -> String {
        self.tags += 1;
        format!("{}.{}", self.id + 1, self.tags)
    }
    fn conn(&mut self) -> Result<&mut Conn, ConnError> {
        self.conn
            .as_mut()
            .ok_or(ConnError::Closed { partial: None })
    }
}

/// Sends one command and reads to its tagged reply; untagged replies are returned.
async fn simple(
    s: &mut Session,
    cmd: &[u8],
) -> Result<(Status, Response, Vec<Response>), ConnError> {
    let tag = s.tag();
    let conn = s.conn()?;
    let mut untagged = conn.send_command(&tag, cmd).await?;
    loop {
        let r = match untagged
            .iter()
            .position(|r| matches!(r, Response::Tagged { .. }))
        {
            Some(i) => untagged.remove(i),
            None => conn.read().await?,
        };
        match &r {
            Response::Tagged { tag: t, status, .. } if *t == tag => {
                return Ok((*status, r.clone(), untagged))
            }
            _ => untagged.push(r),
        }
    }
}

fn user_of(settings: &Settings, test: &TestFile, i: usize) -> String {
    if let Some(u) = test.header.users.get(&(i + 1)) {
        return u.clone();
    }
    if i == 1 {
        if let Some(u) = &settings.user2 {
            return u.clone();
        }
    }
    settings.user.clone()
}

fn predefined(settings: &Settings, test: &TestFile) -> Vars {
    let mut v = Vars::default();
    for i in 0..test.header.connections.max(2) {
        let user = user_of(settings, test, i);
        let (name, domain) = user
            .split_once('@')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap_or((user.clone(), String::new()));
        let suffix = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        v.set(&format!("user{suffix}"), user.clone().into_bytes());
        v.set(&format!("username{suffix}"), name.into_bytes());
        v.set(&format!("domain{suffix}"), domain.into_bytes());
        v.set(
            &format!("password{suffix}"),
            settings.pass.clone().into_bytes(),
        );
    }
    v.set("mailbox", settings.mailbox.clone().into_bytes());
    v.set("mailbox_url", mailbox_url(&settings.mailbox).into_bytes());
    v
}

/// An APPEND command for the next mbox message: `append_args` are the command's own
/// arguments (mailbox and flags), the mailbox defaulting to the test mailbox.
fn append_message(args: &[u8], mailbox: &str, msg: &Message) -> Vec<u8> {
    let mut cmd = b"APPEND ".to_vec();
    let args = args.trim_ascii();
    if args.is_empty() {
        cmd.extend(astring(mailbox));
        if let Some(d) = &msg.internaldate {
            cmd.extend_from_slice(format!(" \"{d}\"").as_bytes());
        }
    } else {
        cmd.extend_from_slice(args);
    }
    cmd.extend_from_slice(format!(" {{{}}}\r\n", msg.data.len()).as_bytes());
    cmd.extend_from_slice(&msg.data);
    cmd
}

/// Whether a command is APPEND without message data of its own; returns its arguments.
fn bare_append(cmd: &[u8]) -> Option<&[u8]> {
    let t = cmd.trim_ascii();
    let (w, rest) = match t.iter().position(|&b| b == b' ') {
        Some(p) => (&t[..p], &t[p + 1..]),
        None => (t, &b""[..]),
    };
    if !w.eq_ignore_ascii_case(b"append") {
        return None;
    }
    if imapwire::frame::trailing_literal(rest).is_some()
        || rest.windows(3).any(|w| w == b"}\r\n")
        || rest
            .to_ascii_lowercase()
            .windows(8)
            .any(|w| w == b"catenate")
    {
        return None;
    }
    Some(rest)
}

struct Cursor<'a> {
    msgs: &'a [Message],
    next: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<&Message> {
        if self.msgs.is_empty() {
            return None;
        }
        let m = &self.msgs[self.next % self.msgs.len()];
        self.next += 1;
        Some(m)
    }
}

/// Runs one group. `msgs` is its mbox (may be empty when it appends nothing).
pub async fn run_group(settings: &Settings, test: &TestFile, msgs: &[Message]) -> GroupResult {
    let start = Instant::now();
    let commands: usize = test.steps.iter().map(|s| s.commands.len()).sum();
    let mut res = GroupResult {
        name: test.name.clone(),
        verdict: Verdict::Passed,
        missing: vec![],
        extension: !test.header.capabilities.is_empty(),
        commands,
        failed_commands: 0,
        failures: vec![],
        error: None,
        setup_lost: false,
        seconds: 0.0,
    };
    let mut sessions: Vec<Session> = (0..test.header.connections)
        .map(|id| Session {
            conn: None,
            tags: 0,
            id,
        })
        .collect();
    let mut cursor = Cursor { msgs, next: 0 };
    if let Err(e) = setup(settings, test, &mut sessions, &mut cursor, &mut res).await {
        if res.verdict != Verdict::Skipped {
            res.verdict = Verdict::Failed;
            res.error = Some(e);
            res.failed_commands = commands;
        }
        res.seconds = start.elapsed().as_secs_f64();
        return res;
    }
    if res.verdict == Verdict::Skipped {
        res.seconds = start.elapsed().as_secs_f64();
        return res;
    }
    let mut vars = predefined(settings, test);
    let total = commands;
    let mut done = 0usize;
    for step in &test.steps {
        let failed_before = res.failures.len();
        let outcome = run_step(
            settings,
            test,
            step,
            &mut sessions,
            &mut vars,
            &mut cursor,
            done,
            total,
            &mut res,
        )
        .await;
        done += step.commands.len();
        let failed_here: std::collections::BTreeSet<usize> = res.failures[failed_before..]
            .iter()
            .map(|f| f.line)
            .collect();
        res.failed_commands += failed_here.len();
        if let Err(e) = outcome {
            // the connection is gone: the rest of the group cannot run
            res.error = Some(format!("connection {}: {e}", step.conn + 1));
            res.failed_commands += total - done;
            break;
        }
    }
    if !res.failures.is_empty() || res.error.is_some() {
        res.verdict = Verdict::Failed;
    }
    // close politely, without waiting long
    for s in &mut sessions {
        if let Some(c) = s.conn.as_mut() {
            let _ =
                tokio::time::timeout(Duration::from_millis(200), c.write(b"ZZ LOGOUT\r\n")).await;
        }
    }
    res.seconds = start.elapsed().as_secs_f64();
    res
}

async fn setup(
    settings: &Settings,
    test: &TestFile,
    sessions: &mut [Session],
    cursor: &mut Cursor<'_>,
    res: &mut GroupResult,
) -> Result<(), String> {
    let h = &test.header;
    for (i, s) in sessions.iter_mut().enumerate() {
        let id = format!("{}.{}", test.name, i + 1);
        let mut conn = Conn::connect(&settings.endpoint, &id).await.map_err(|e| {
            res.setup_lost = true;
            format!("connection {}: {e}", i + 1)
        })?;
        if let Some(r) = &conn.greeting {
            match r.status_code() {
                Some((Status::Ok | Status::Preauth, _)) => {}
                _ => {
                    res.setup_lost = true;
                    return Err(format!("connection {}: unexpected greeting: {r}", i + 1));
                }
            }
        }
        if h.state != State::Nonauth {
            let tag = format!("{}.0", i + 1);
            let creds = Creds {
                user: user_of(settings, test, i),
                authc: settings.master.clone(),
                pass: settings.pass.clone(),
            };
            let nonce = format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            );
            if let Err(e) = login(&mut conn, &tag, &settings.mech, &creds, &nonce).await {
                res.setup_lost = e
                    .downcast_ref::<ConnError>()
                    .is_some_and(ConnError::is_lost);
                return Err(format!("connection {}: {e:#}", i + 1));
            }
        }
        s.conn = Some(conn);
        if i == 0 {
            // the capabilities the group needs
            let needs_caps = s.conn.as_ref().is_some_and(|c| c.capabilities.is_empty())
                || h.state != State::Nonauth;
            if needs_caps {
                simple(s, b"CAPABILITY")
                    .await
                    .map_err(|e| lost(res, i, e))?;
            }
            let conn = s.conn.as_ref().expect("set above");
            let missing: Vec<String> = h
                .capabilities
                .iter()
                .filter(|c| !conn.has(c))
                .cloned()
                .collect();
            if !missing.is_empty() {
                res.verdict = Verdict::Skipped;
                res.missing = missing;
                return Ok(());
            }
        }
    }
    if h.state == State::Nonauth {
        return Ok(());
    }
    let s = &mut sessions[0];
    // delete the test mailboxes (children first)
    let pattern = format!("{}*", settings.mailbox);
    let mut list = b"LIST \"\" ".to_vec();
    list.extend(astring(&pattern));
    let (_, _, untagged) = simple(s, &list).await.map_err(|e| lost(res, 0, e))?;
    let mut names: Vec<Vec<u8>> = untagged
        .iter()
        .filter_map(|r| match r {
            Response::Untagged(v) if v.first().is_some_and(|a| a.is_atom("LIST")) => {
                v.get(3).and_then(|n| n.bytes()).map(<[u8]>::to_vec)
            }
            _ => None,
        })
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        let mut cmd = b"DELETE ".to_vec();
        cmd.extend(astring(&String::from_utf8_lossy(&n)));
        simple(s, &cmd).await.map_err(|e| lost(res, 0, e))?;
    }
    if h.state >= State::Created {
        let mut cmd = b"CREATE ".to_vec();
        cmd.extend(astring(&settings.mailbox));
        let (st, r, _) = simple(s, &cmd).await.map_err(|e| lost(res, 0, e))?;
        if st != Status::Ok {
            return Err(format!("setup: CREATE {} failed: {r}", settings.mailbox));
        }
    }
    if h.state >= State::Appended {
        let n = h.messages.unwrap_or(cursor.msgs.len());
        if n > 0 && cursor.msgs.is_empty() {
            return Err(format!("setup: {n} messages wanted but the mbox has none"));
        }
        for _ in 0..n {
            let cmd = append_message(
                b"",
                &settings.mailbox,
                cursor.next().expect("mbox not empty"),
            );
            let (st, r, _) = simple(s, &cmd).await.map_err(|e| lost(res, 0, e))?;
            if st != Status::Ok {
                return Err(format!("setup: APPEND to {} failed: {r}", settings.mailbox));
            }
        }
    }
    if h.state >= State::Selected {
        for (i, s) in sessions.iter_mut().enumerate() {
            let mut cmd = b"SELECT ".to_vec();
            cmd.extend(astring(&settings.mailbox));
            let (st, r, _) = simple(s, &cmd).await.map_err(|e| lost(res, i, e))?;
            if st != Status::Ok {
                return Err(format!("setup: SELECT {} failed: {r}", settings.mailbox));
            }
        }
    }
    Ok(())
}

fn lost(res: &mut GroupResult, i: usize, e: ConnError) -> String {
    res.setup_lost = e.is_lost();
    format!("connection {}: {e}", i + 1)
}

fn status_matches(expect: Expect, status: Status) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Ok => status == Status::Ok,
        Expect::No => status == Status::No,
        Expect::Bad => status == Status::Bad,
    }
}

/// Runs one step; an `Err` means the connection is unusable.
#[allow(clippy::too_many_arguments)]
async fn run_step(
    settings: &Settings,
    test: &TestFile,
    step: &Step,
    sessions: &mut [Session],
    vars: &mut Vars,
    cursor: &mut Cursor<'_>,
    done: usize,
    total: usize,
    res: &mut GroupResult,
) -> Result<(), ConnError> {
    let s = &mut sessions[step.conn];
    let mut tags: Vec<String> = Vec::new();
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for cmd in &step.commands {
        let tag = s.tag();
        let text = match expand_command(&cmd.text, vars) {
            Ok(t) => t,
            Err(e) => {
                res.failures.push(unsent(cmd, done, total, e));
                return Ok(());
            }
        };
        let text = match bare_append(&text) {
            Some(args) => match cursor.next() {
                Some(m) => append_message(args, &settings.mailbox, m),
                None => {
                    res.failures.push(unsent(
                        cmd,
                        done,
                        total,
                        "append: the mbox has no messages".into(),
                    ));
                    return Ok(());
                }
            },
            None => text,
        };
        tags.push(tag);
        texts.push(text);
    }
    vars.set("tag", tags[0].clone().into_bytes());
    let shown = tags
        .iter()
        .zip(&texts)
        .map(|(t, x)| format!("{t} {}", lossy(x)))
        .collect::<Vec<_>>()
        .join(" / ");
    let shown = shown.as_str();
    // a failure of the step as a whole is reported against its first command
    let step_failure = |reason: String, expected: Vec<String>, got: Vec<String>| {
        failure(&step.commands[0], done, total, shown, reason, expected, got)
    };
    let mut seq = SeqMap::default();
    let mut matched = vec![false; step.expected.len()];
    let mut tagged: Vec<Option<Response>> = vec![None; tags.len()];
    let mut extra: Vec<String> = Vec::new();
    let mut unmatched_seen: Vec<String> = Vec::new();
    let mut pending: Vec<Response> = Vec::new();
    let pipelined = !settings.no_pipelining;
    let mut sent = 0usize;
    let conn = s.conn()?;
    while sent < tags.len() {
        pending.extend(conn.send_command(&tags[sent], &texts[sent]).await?);
        sent += 1;
        if !pipelined {
            break;
        }
    }
    let mut queue: std::collections::VecDeque<Response> = pending.into();
    // the whole step has one deadline, so an endless stream of untagged replies ends too
    let limit = settings.endpoint.timeout;
    let deadline = Instant::now() + limit;
    while tagged.iter().any(Option::is_none) {
        let r = match queue.pop_front() {
            Some(r) => r,
            None => conn.read().await?,
        };
        if Instant::now() > deadline {
            return Err(ConnError::Timeout {
                secs: limit.as_secs(),
                last: Some(lossy(r.to_string().as_bytes())),
            });
        }
        match &r {
            Response::Tagged { tag, .. } => match tags.iter().position(|t| t == tag) {
                Some(i) if tagged[i].is_none() => {
                    tagged[i] = Some(r.clone());
                    if !pipelined && sent < tags.len() {
                        queue.extend(conn.send_command(&tags[sent], &texts[sent]).await?);
                        sent += 1;
                    }
                }
                _ => extra.push(format!("unexpected tagged reply: {r}")),
            },
            Response::Continuation(_) => extra.push(format!("unexpected continuation: {r}")),
            Response::Untagged(values) => {
                let mut any = false;
                for (k, exp) in step.expected.iter().enumerate() {
                    if matched[k] {
                        continue;
                    }
                    let mut m = Matcher::new(vars, &seq);
                    if m.line(&exp.values, values) {
                        *vars = m.vars;
                        matched[k] = true;
                        any = true;
                    } else if let Some(reason) = m.reason {
                        extra.push(format!("{reason} (line {}: {r})", exp.line));
                    }
                }
                for ban in &step.banned {
                    let mut m = Matcher::new(vars, &seq);
                    if m.line(&ban.values, values) {
                        res.failures.push(step_failure(
                            format!("banned reply (line {})", ban.line),
                            vec![format!("! {}", lossy(&ban.text))],
                            vec![r.to_string()],
                        ));
                        any = true;
                    }
                }
                if !any {
                    if !test.header.ignore_extra_untagged {
                        extra.push(format!("unexpected untagged reply: {r}"));
                    } else if unmatched_seen.len() < 10 {
                        unmatched_seen.push(r.to_string());
                    }
                }
                if values.get(1).is_some_and(|v| v.is_atom("EXPUNGE")) {
                    if let Some(n) = values[0].number() {
                        seq.expunge(n as u32);
                    }
                }
            }
        }
    }
    // tagged replies
    for (i, cmd) in step.commands.iter().enumerate() {
        let Some(Response::Tagged { status, text, .. }) = &tagged[i] else {
            continue;
        };
        let want = cmd.expect.unwrap_or(Expect::Any);
        let mut ok = status_matches(want, *status);
        if ok && !cmd.prefix_values.is_empty() {
            let mut m = Matcher::new(vars, &seq);
            ok = m.prefix(&cmd.prefix_values, text);
            if ok {
                *vars = m.vars;
            }
        }
        if !ok {
            let mut expected = want.as_str().to_string();
            if !cmd.prefix.is_empty() {
                expected = format!("{expected} {}", lossy(&cmd.prefix));
            }
            let got = tagged[i]
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default();
            res.failures.push(failure(
                cmd,
                done + i,
                total,
                shown,
                "tagged reply mismatch".into(),
                vec![expected],
                vec![got],
            ));
        }
    }
    let missing: Vec<String> = step
        .expected
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| format!("* {} (line {})", lossy(&e.text), e.line))
        .collect();
    if !missing.is_empty() {
        res.failures.push(step_failure(
            format!("missing {} untagged replies", missing.len()),
            missing,
            unmatched_seen,
        ));
    }
    if !extra.is_empty() {
        res.failures
            .push(step_failure("unexpected replies".into(), vec![], extra));
    }
    // the server said BYE and closed: later commands on this connection will report it
    Ok(())
}

/// A command that could not be sent (its text is shown as written in the script).
fn unsent(cmd: &Command, index: usize, total: usize, reason: String) -> Failure {
    failure(cmd, index, total, &lossy(&cmd.text), reason, vec![], vec![])
}

fn failure(
    cmd: &Command,
    index: usize,
    total: usize,
    shown: &str,
    reason: String,
    expected: Vec<String>,
    got: Vec<String>,
) -> Failure {
    let command = shown.to_string();
    Failure {
        line: cmd.line,
        index: format!("{}/{}", index + 1, total),
        reason,
        command,
        expected,
        got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_appends_get_the_next_message() {
        assert_eq!(bare_append(b"append"), Some(&b""[..]));
        assert_eq!(
            bare_append(b"APPEND box (\\seen)"),
            Some(&b"box (\\seen)"[..])
        );
        assert_eq!(bare_append(b"append box {3}\r\nabc"), None);
        assert_eq!(bare_append(b"append box catenate (text {1}\r\nx)"), None);
        assert_eq!(bare_append(b"appendx"), None);
        let m = Message {
            internaldate: Some("01-Jan-2015 00:00:00 +0000".into()),
            data: b"a\r\n".to_vec(),
        };
        assert_eq!(
            append_message(b"", "imaptest", &m),
            b"APPEND \"imaptest\" \"01-Jan-2015 00:00:00 +0000\" {3}\r\na\r\n"
        );
        assert_eq!(
            append_message(b"x (\\seen)", "imaptest", &m),
            b"APPEND x (\\seen) {3}\r\na\r\n"
        );
        let msgs = vec![
            m.clone(),
            Message {
                internaldate: None,
                data: b"b".to_vec(),
            },
        ];
        let mut c = Cursor {
            msgs: &msgs,
            next: 0,
        };
        let order: Vec<u8> = (0..3).map(|_| c.next().unwrap().data[0]).collect();
        assert_eq!(order, b"aba", "the mbox wraps");
    }

    #[test]
    fn predefined_variables() {
        let ep = Endpoint {
            host: "h".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            tls: None,
            starttls: false,
            timeout: Duration::from_secs(1),
            limits: Default::default(),
            rawlog_dir: None,
        };
        let settings = Settings {
            endpoint: ep,
            user: "u1@d.org".into(),
            user2: Some("u2@e.org".into()),
            pass: "pw".into(),
            master: None,
            mech: "LOGIN".into(),
            mailbox: "my box".into(),
            no_pipelining: false,
        };
        let t = super::super::parse::parse(
            "t",
            "t",
            b"connections: 3\nuser 3: third\n\n1 ok noop\n",
            &|_| false,
        )
        .unwrap();
        let v = predefined(&settings, &t);
        let get = |k: &str| String::from_utf8(v.get(k).unwrap().to_vec()).unwrap();
        assert_eq!(
            (get("user"), get("username"), get("domain"), get("password")),
            ("u1@d.org".into(), "u1".into(), "d.org".into(), "pw".into())
        );
        assert_eq!(
            (get("user2"), get("domain2"), get("user3"), get("domain3")),
            ("u2@e.org".into(), "e.org".into(), "third".into(), "".into())
        );
        assert_eq!(
            (get("mailbox"), get("mailbox_url")),
            ("my box".into(), "my%20box".into())
        );
    }
}
