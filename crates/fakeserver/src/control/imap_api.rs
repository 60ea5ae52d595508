//! The control API's IMAP part: delivery into any mailbox of a user, the mailbox tree, each
//! mailbox's messages, their flags, and expunges, a user's quota and subscriptions, all acting
//! on the running IMAP daemon (sessions see the changes as EXISTS, FETCH FLAGS and EXPUNGE,
//! IDLE at once; NOTIFY sessions hear of subscription changes).
//!
//! Paths name `{user}/{mailbox…}`: the mailbox's levels are path segments (`Work/Reports`),
//! each percent-decoded; a trailing `messages`, `messages/{uid}`, `messages/{uid}/flags` or
//! `messages/{uid}/raw` names a part of the mailbox. A level that is itself called `messages`
//! is written with `%2F` before it (`Archive%2Fmessages`). Decoding the path ([`resource`],
//! [`deliver_target`]) and the query ([`DeliverQuery::decode`]) is pure; the handlers only
//! call the daemon ([`crate::imap::admin`]).

use super::Target;
use crate::imap::admin::{AdminError, FlagChange};
use crate::imap::ImapDaemon;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// What a `/api/mailboxes/{user}/{mailbox…}[/…]` path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Mailbox,
    Messages,
    Message(u32),
    Flags(u32),
    Raw(u32),
}

/// A decoded resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub user: String,
    pub mailbox: String,
    pub part: Part,
}

/// One path segment, percent-decoded (UTF-8 required).
pub fn percent_decode(seg: &str) -> Result<String, String> {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {seg:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{seg:?} is not UTF-8"))
}

/// The raw segments of `rest` (the path after the route's prefix); empty ones are refused.
fn segments(rest: &str) -> Result<Vec<&str>, String> {
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(format!("empty level in path {rest:?}"));
    }
    Ok(segs)
}

/// The mailbox name from raw segments: each decoded, joined with the delimiter.
fn join(segs: &[&str]) -> Result<String, String> {
    let parts = segs
        .iter()
        .map(|s| percent_decode(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(&crate::imap::daemon::DELIM.to_string()))
}

/// `{user}/{mailbox…}[/messages[/{uid}[/flags|/raw]]]` → what it names.
pub fn resource(rest: &str) -> Result<Resource, String> {
    let segs = segments(rest)?;
    let n = segs.len();
    let uid_at = |i: usize| segs[i].parse::<u32>().ok().filter(|u| *u > 0);
    let (part, boxes) = match segs.as_slice() {
        [.., "messages", _, "flags"] if n >= 5 && uid_at(n - 2).is_some() => {
            (Part::Flags(uid_at(n - 2).unwrap_or(0)), n - 3)
        }
        [.., "messages", _, "raw"] if n >= 5 && uid_at(n - 2).is_some() => {
            (Part::Raw(uid_at(n - 2).unwrap_or(0)), n - 3)
        }
        [.., "messages", _] if n >= 4 && uid_at(n - 1).is_some() => {
            (Part::Message(uid_at(n - 1).unwrap_or(0)), n - 2)
        }
        [.., "messages", last] if n >= 4 && last.bytes().all(|c| c.is_ascii_digit()) => {
            return Err(format!("invalid UID {last:?}"))
        }
        [.., "messages"] if n >= 3 => (Part::Messages, n - 1),
        _ => (Part::Mailbox, n),
    };
    if boxes < 2 {
        return Err(format!("expected {{user}}/{{mailbox}} in {rest:?}"));
    }
    Ok(Resource {
        user: percent_decode(segs[0])?,
        mailbox: join(&segs[1..boxes])?,
        part,
    })
}

/// `/api/deliver/{user}[/{mailbox…}]` → (user, mailbox); INBOX when no mailbox is named.
pub fn deliver_target(rest: &str) -> Result<(String, String), String> {
    let segs = segments(rest)?;
    let user = percent_decode(segs[0])?;
    let mailbox = if segs.len() == 1 {
        "INBOX".to_string()
    } else {
        join(&segs[1..])?
    };
    Ok((user, mailbox))
}

/// The query of a delivery: `flags` (separated by commas or spaces) and `internaldate`
/// (RFC 3501 `17-Jul-1996 02:44:25 -0700`, a `+` zone also written as a space, or epoch
/// seconds). Unknown parameters are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverQuery {
    pub flags: Option<String>,
    pub internaldate: Option<String>,
}

/// A decoded delivery query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub flags: Vec<String>,
    /// None: now.
    pub internaldate: Option<(i64, i32)>,
}

impl DeliverQuery {
    pub fn decode(&self) -> Result<Delivery, String> {
        let flags = self
            .flags
            .as_deref()
            .unwrap_or("")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        let internaldate = match self.internaldate.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(internaldate(s).ok_or_else(|| format!("invalid internaldate {s:?}"))?),
        };
        Ok(Delivery {
            flags,
            internaldate,
        })
    }
}

fn internaldate(s: &str) -> Option<(i64, i32)> {
    if let Ok(secs) = s.parse::<i64>() {
        return Some((secs, 0));
    }
    crate::imap::parse::parse_date_time(s).or_else(|| {
        // `+0200` arrives as ` 0200` when the client did not escape the `+`.
        let (head, zone) = s.rsplit_once(' ')?;
        let zone = zone.trim();
        (zone.len() == 4 && zone.bytes().all(|c| c.is_ascii_digit()))
            .then(|| crate::imap::parse::parse_date_time(&format!("{} +{zone}", head.trim_end())))
            .flatten()
    })
}

/// The body of a flags request: `{"flags":[…]}` replaces, `{"add":[…],"remove":[…]}` changes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsBody {
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Decode a flags request body.
pub fn flags_body(body: &[u8]) -> Result<FlagChange, String> {
    let b: FlagsBody = serde_json::from_slice(body).map_err(|e| {
        format!("expected {{\"flags\":[…]}} or {{\"add\":[…],\"remove\":[…]}}: {e}")
    })?;
    if b.flags.is_none() && b.add.is_empty() && b.remove.is_empty() {
        return Err("nothing to do: give \"flags\", \"add\" or \"remove\"".into());
    }
    Ok(FlagChange {
        set: b.flags,
        add: b.add,
        remove: b.remove,
    })
}

/// The body of a quota request: the limits of the user's quota root, each a number or
/// `null` (no limit); a resource left out has no limit, as SETQUOTA's list says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaBody {
    #[serde(default)]
    pub storage: Option<u64>,
    #[serde(default)]
    pub message: Option<u64>,
}

/// Decode a quota request body (`{"storage": KiB, "message": count}`).
pub fn quota_body(body: &[u8]) -> Result<crate::imap::daemon::Quota, String> {
    let expected = "expected {\"storage\": KiB|null, \"message\": count|null}";
    // serde would take a struct from an array too: only an object is a quota.
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{expected}: {e}"))?;
    if !v.is_object() {
        return Err(format!("{expected}, not {v}"));
    }
    let b: QuotaBody = serde_json::from_value(v).map_err(|e| format!("{expected}: {e}"))?;
    Ok(crate::imap::daemon::Quota {
        storage_kb: b.storage,
        messages: b.message,
    })
}

/// A refused request: its status and the JSON error naming what is wrong.
#[derive(Debug)]
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<AdminError> for Refusal {
    fn from(e: AdminError) -> Self {
        let code = match &e {
            e if e.is_not_found() => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        Refusal(code, e.to_string())
    }
}

fn bad_request(msg: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, msg.into())
}

type Reply = Result<Response, Refusal>;

/// The IMAP daemon, or a 404 naming the protocol that has none.
fn daemon(t: &Target) -> Result<Arc<ImapDaemon>, Refusal> {
    t.service.imap_daemon().ok_or_else(|| {
        Refusal(
            StatusCode::NOT_FOUND,
            format!("the {} server has no mailboxes (IMAP only)", t.protocol),
        )
    })
}

/// Whether `user` may be acted on: the daemon has an account, or the strict user list names
/// them (their account is opened now), or (`creating`, open authentication) any name.
fn known_user(t: &Target, d: &ImapDaemon, user: &str, creating: bool) -> Result<(), Refusal> {
    if d.has_user(user) {
        return Ok(());
    }
    if t.users.is_strict() {
        if t.users.password(user).is_some() {
            d.open_account(user);
            return Ok(());
        }
    } else if creating && !user.is_empty() {
        return Ok(());
    }
    Err(AdminError::NoUser(user.to_string()).into())
}

fn canonical(mailbox: &str) -> String {
    crate::imap::daemon::Account::canonical(mailbox)
}

/// `POST /api/deliver/{user}[/{mailbox…}]` on an IMAP server.
pub(super) fn deliver(
    t: &Target,
    rest: &str,
    query: Result<Query<DeliverQuery>, QueryRejection>,
    body: &[u8],
) -> Reply {
    let d = daemon(t)?;
    let (user, mailbox) = deliver_target(rest).map_err(bad_request)?;
    append(t, &d, &user, &mailbox, query, body)
}

fn append(
    t: &Target,
    d: &ImapDaemon,
    user: &str,
    mailbox: &str,
    query: Result<Query<DeliverQuery>, QueryRejection>,
    body: &[u8],
) -> Reply {
    let opts = query
        .map_err(|e| e.body_text())
        .and_then(|q| q.decode())
        .map_err(bad_request)?;
    if body.is_empty() {
        return Err(bad_request("the request body (the message) is empty"));
    }
    known_user(t, d, user, true)?;
    let date = opts.internaldate.unwrap_or_else(crate::imap::now);
    let (uidvalidity, uid) =
        d.append_message(user, mailbox, crate::imap::crlf(body), &opts.flags, date)?;
    let v = json!({"user": user, "mailbox": canonical(mailbox), "uidvalidity": uidvalidity,
        "uid": uid, "id": uid.to_string()});
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    user: Option<String>,
}

/// `GET /api/mailboxes[?user=]`.
pub(super) async fn list(
    State(t): State<Arc<Target>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    let d = daemon(&t)?;
    let Query(q) = q.map_err(|e| bad_request(e.body_text()))?;
    if let Some(u) = &q.user {
        known_user(&t, &d, u, false)?;
    }
    Ok(Json(d.mailboxes(q.user.as_deref())?).into_response())
}

/// Everything under `/api/mailboxes/`.
pub(super) async fn mailbox(
    State(t): State<Arc<Target>>,
    method: Method,
    uri: Uri,
    query: Result<Query<DeliverQuery>, QueryRejection>,
    body: Bytes,
) -> Reply {
    let d = daemon(&t)?;
    let rest = uri.path().strip_prefix("/api/mailboxes/").unwrap_or("");
    let r = resource(rest).map_err(bad_request)?;
    let (u, m) = (r.user.as_str(), r.mailbox.as_str());
    let creating = matches!(
        (&r.part, &method),
        (Part::Mailbox | Part::Messages, &Method::POST)
    );
    known_user(&t, &d, u, creating)?;
    let v = match (&r.part, method) {
        (Part::Mailbox, Method::GET) => d.mailbox(u, m)?,
        (Part::Mailbox, Method::POST) => {
            let created = d.create_mailbox(u, m)?;
            let v = json!({"user": u, "mailbox": canonical(m), "created": created});
            return Ok((StatusCode::CREATED, Json(v)).into_response());
        }
        (Part::Mailbox, Method::DELETE) => {
            d.delete_mailbox(u, m)?;
            json!({"user": u, "deleted": canonical(m)})
        }
        (Part::Messages, Method::GET) => d.messages(u, m)?,
        (Part::Messages, Method::POST) => return append(&t, &d, u, m, query, &body),
        (Part::Message(uid), Method::GET) => d.message(u, m, *uid)?.0,
        (Part::Message(uid), Method::DELETE) => {
            d.expunge_message(u, m, *uid)?;
            json!({"expunged": uid})
        }
        (Part::Raw(uid), Method::GET) => {
            let data = d.message(u, m, *uid)?.1;
            let headers = [(header::CONTENT_TYPE, "message/rfc822")];
            return Ok((headers, data.as_ref().clone()).into_response());
        }
        (Part::Flags(uid), Method::GET) => json!({"flags": d.message(u, m, *uid)?.0["flags"]}),
        (Part::Flags(uid), Method::PUT | Method::POST) => {
            let change = flags_body(&body).map_err(bad_request)?;
            d.change_flags(u, m, *uid, &change)?
        }
        (part, method) => {
            return Err(Refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not defined on {part:?} ({rest})"),
            ))
        }
    };
    Ok(Json(v).into_response())
}

/// `GET /api/quota/{user}` (usage and limits) and `PUT|POST` (set the limits).
pub(super) async fn quota(
    State(t): State<Arc<Target>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Reply {
    let d = daemon(&t)?;
    let rest = uri.path().strip_prefix("/api/quota/").unwrap_or("");
    let user = match segments(rest).map_err(bad_request)?.as_slice() {
        [u] => percent_decode(u).map_err(bad_request)?,
        _ => {
            return Err(bad_request(format!(
                "expected /api/quota/{{user}}, not {rest:?}"
            )))
        }
    };
    known_user(&t, &d, &user, false)?;
    let v = match method {
        Method::GET => d.quota(&user)?,
        Method::PUT | Method::POST => {
            d.set_quota(&user, quota_body(&body).map_err(bad_request)?)?
        }
        m => return Err(not_allowed(&m, rest)),
    };
    Ok(Json(v).into_response())
}

/// `GET /api/subscriptions/{user}` (the list), `PUT|POST|DELETE
/// /api/subscriptions/{user}/{mailbox…}` (SUBSCRIBE, UNSUBSCRIBE).
pub(super) async fn subscriptions(State(t): State<Arc<Target>>, method: Method, uri: Uri) -> Reply {
    let d = daemon(&t)?;
    let rest = uri.path().strip_prefix("/api/subscriptions/").unwrap_or("");
    let segs = segments(rest).map_err(bad_request)?;
    let user = percent_decode(segs[0]).map_err(bad_request)?;
    known_user(&t, &d, &user, false)?;
    let v = match (segs.len(), method) {
        (1, Method::GET) => d.subscriptions(&user)?,
        (n, m @ (Method::PUT | Method::POST | Method::DELETE)) if n > 1 => {
            let mailbox = join(&segs[1..]).map_err(bad_request)?;
            d.subscribe(&user, &mailbox, m != Method::DELETE)?
        }
        (_, m) => return Err(not_allowed(&m, rest)),
    };
    Ok(Json(v).into_response())
}

fn not_allowed(method: &Method, rest: &str) -> Refusal {
    Refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not defined on {rest:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(user: &str, mailbox: &str, part: Part) -> Resource {
        Resource {
            user: user.into(),
            mailbox: mailbox.into(),
            part,
        }
    }

    #[test]
    fn resource_paths() {
        assert_eq!(
            resource("alice/INBOX"),
            Ok(res("alice", "INBOX", Part::Mailbox))
        );
        assert_eq!(
            resource("alice/Work/Reports/messages"),
            Ok(res("alice", "Work/Reports", Part::Messages))
        );
        assert_eq!(
            resource("alice/Work%2FReports/messages/7"),
            Ok(res("alice", "Work/Reports", Part::Message(7)))
        );
        assert_eq!(
            resource("a%40b.test/Sent%20Items/messages/12/flags"),
            Ok(res("a@b.test", "Sent Items", Part::Flags(12)))
        );
        assert_eq!(
            resource("alice/INBOX/messages/3/raw"),
            Ok(res("alice", "INBOX", Part::Raw(3)))
        );
        // A level called `messages` is a mailbox when escaped, or when nothing follows it
        // that makes it a part.
        assert_eq!(
            resource("alice/Archive%2Fmessages"),
            Ok(res("alice", "Archive/messages", Part::Mailbox))
        );
        assert_eq!(
            resource("alice/messages/messages"),
            Ok(res("alice", "messages", Part::Messages))
        );
        assert_eq!(
            resource("alice/messages"),
            Ok(res("alice", "messages", Part::Mailbox))
        );
        assert_eq!(
            resource("alice/INBOX/messages/flags"),
            Ok(res("alice", "INBOX/messages/flags", Part::Mailbox))
        );
        for bad in [
            "alice",
            "alice/",
            "alice//x",
            "alice/INBOX/messages/0",
            "alice/INBOX/messages/99999999999",
            "alice/%zz",
            "alice/%ff",
        ] {
            assert!(resource(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deliver_paths() {
        assert_eq!(deliver_target("bob"), Ok(("bob".into(), "INBOX".into())));
        assert_eq!(
            deliver_target("bob/Work/Reports"),
            Ok(("bob".into(), "Work/Reports".into()))
        );
        assert!(deliver_target("bob/").is_err());
    }

    #[test]
    fn delivery_query() {
        let q = |f: Option<&str>, d: Option<&str>| DeliverQuery {
            flags: f.map(Into::into),
            internaldate: d.map(Into::into),
        };
        assert_eq!(q(None, None).decode(), Ok(Delivery::default()));
        assert_eq!(
            q(Some("\\Seen, $Work \\Flagged"), Some("86400")).decode(),
            Ok(Delivery {
                flags: vec!["\\Seen".into(), "$Work".into(), "\\Flagged".into()],
                internaldate: Some((86400, 0))
            })
        );
        let want = Some((86400 - 7200, 120));
        for d in ["02-Jan-1970 00:00:00 +0200", "02-Jan-1970 00:00:00  0200"] {
            assert_eq!(
                q(None, Some(d)).decode().map(|x| x.internaldate),
                Ok(want),
                "{d}"
            );
        }
        assert!(q(None, Some("yesterday")).decode().is_err());
    }

    #[test]
    fn quota_bodies() {
        let q = quota_body(br#"{"storage":100,"message":null}"#).unwrap();
        assert_eq!((q.storage_kb, q.messages), (Some(100), None));
        let q = quota_body(br#"{"message":3}"#).unwrap();
        assert_eq!((q.storage_kb, q.messages), (None, Some(3)));
        for bad in [&b""[..], b"{\"storage\":-1}", b"{\"bytes\":1}", b"[1]"] {
            assert!(quota_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn flag_bodies() {
        assert_eq!(
            flags_body(br#"{"flags":["\\Seen"]}"#),
            Ok(FlagChange {
                set: Some(vec!["\\Seen".into()]),
                ..FlagChange::default()
            })
        );
        assert_eq!(
            flags_body(br#"{"add":["a"],"remove":["b"]}"#),
            Ok(FlagChange {
                set: None,
                add: vec!["a".into()],
                remove: vec!["b".into()]
            })
        );
        for bad in [
            &b"{}"[..],
            b"{\"flag\":[]}",
            b"[\"x\"]",
            b"",
            b"{\"add\":\"x\"}",
        ] {
            assert!(flags_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
