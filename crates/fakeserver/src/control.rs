//! The HTTP/JSON control API (as GreenMail's and mailpit's), so a test in any language can
//! drive a running fakeserver:
//!
//! | Method and path            | Does |
//! |----------------------------|------|
//! | `GET /api/ready`           | `{"ready":true,"protocol":…,"address":…}` |
//! | `POST /api/reset`          | forget messages and transcripts, restart fault counters |
//! | `GET /api/users`           | `{"strict":…,"users":[{"user":…,"password":…}]}` |
//! | `POST /api/users`          | add or change `{"user":…,"password":…}` (makes auth strict) |
//! | `DELETE /api/users/{name}` | remove a user |
//! | `GET /api/messages`        | the daemon's state (SMTP/LMTP: accepted messages with envelope) |
//! | `POST /api/deliver/{box}`  | add the body (a message) to a POP3 maildrop or NNTP group: `{"id":…}` |
//! | `POST /api/deliver/{user}[/{mailbox…}]?flags=&internaldate=` | IMAP: append to a user's mailbox (INBOX by default; created with its parents): `{"uid":…,"uidvalidity":…}` |
//! | `GET /api/mailboxes[?user=U]` | IMAP: every user's mailbox tree (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, counts) |
//! | `GET\|POST\|DELETE /api/mailboxes/{user}/{mailbox…}` | IMAP: one mailbox; create (with parents); delete |
//! | `GET\|POST /api/mailboxes/{user}/{mailbox…}/messages` | IMAP: its messages (UID, flags, size, INTERNALDATE, MODSEQ); append |
//! | `GET\|DELETE …/messages/{uid}`, `GET …/{uid}/raw` | IMAP: one message's metadata; expunge it; its bytes |
//! | `GET\|PUT\|POST …/messages/{uid}/flags` | IMAP: `{"flags":[…]}` replaces, `{"add":[…],"remove":[…]}` changes |
//! | `GET /api/transcripts`     | every connection's transcript (JSON) |
//! | `GET /api/transcripts.txt` | the same as text, for saved-output comparison |
//! | `GET /api/faults`          | the fault plan |
//! | `PUT /api/faults`          | replace it (JSON or TOML body) |
//! | `GET /api/messages/wait?n=N&timeout=S` | wait (at most S seconds, default 10) until N messages arrived, then as `/api/messages`; 408 if they do not |
//!
//! Errors are JSON `{"error":…}` naming what is wrong: 404 for an unknown user, mailbox or
//! UID, 400 for a bad path, query or body, 409 for a state conflict (the IMAP part:
//! [`imap_api`]).
//!
//! It runs beside the server, on the server's runtime; [`ControlHandle`] stops it on drop.

use crate::auth::Users;
use crate::faults::{FaultEngine, FaultPlan};
use crate::record::Recorder;
use crate::server::{ServerHandle, Service};
use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub mod imap_api;

/// What the API acts on.
#[derive(Clone)]
pub struct Target {
    pub protocol: String,
    pub address: SocketAddr,
    pub recorder: Recorder,
    pub faults: Arc<FaultEngine>,
    pub service: Arc<dyn Service>,
    pub users: Arc<Users>,
}

impl Target {
    pub fn of(server: &ServerHandle, protocol: &str, users: Arc<Users>) -> Self {
        Target {
            protocol: protocol.to_string(),
            address: server.addr(),
            recorder: server.recorder().clone(),
            faults: server.faults().clone(),
            service: server.service().clone(),
            users,
        }
    }
}

/// The running API. Drop stops it.
pub struct ControlHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ControlHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ControlHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Serve the API on `bind` (port 0: the OS picks) on `runtime`.
pub fn start(
    bind: SocketAddr,
    target: Target,
    runtime: &tokio::runtime::Handle,
) -> Result<ControlHandle> {
    let std_listener = std::net::TcpListener::bind(bind)
        .with_context(|| format!("binding the control API on {bind}"))?;
    std_listener
        .set_nonblocking(true)
        .context("control listener")?;
    let addr = std_listener.local_addr().context("control address")?;
    let listener = {
        let _g = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).context("control listener")?
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(target);
    runtime.spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(ControlHandle {
        addr,
        stop: Some(tx),
    })
}

/// The routes (public for tests that drive it without a socket).
pub fn router(target: Target) -> Router {
    Router::new()
        .route("/api/ready", get(ready))
        .route("/api/reset", post(reset))
        .route("/api/users", get(users).post(add_user))
        .route("/api/users/:name", delete(remove_user))
        .route("/api/messages", get(messages))
        .route("/api/deliver/*path", post(deliver))
        .route("/api/mailboxes", get(imap_api::list))
        .route("/api/mailboxes/*path", any(imap_api::mailbox))
        .route("/api/quota/*path", any(imap_api::quota))
        .route("/api/subscriptions/*path", any(imap_api::subscriptions))
        .route("/api/transcripts", get(transcripts))
        .route("/api/transcripts.txt", get(transcripts_text))
        .route("/api/faults", get(faults).put(set_faults).post(set_faults))
        .route("/api/messages/wait", get(wait_messages))
        // Messages as large as an IMAP literal may be (axum's default is 2 MB).
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(Arc::new(target))
}

type St = State<Arc<Target>>;

async fn ready(State(t): St) -> Json<serde_json::Value> {
    Json(json!({"ready": true, "protocol": t.protocol, "address": t.address.to_string()}))
}

async fn reset(State(t): St) -> Json<serde_json::Value> {
    t.recorder.reset();
    t.service.reset();
    t.faults.set(t.faults.plan());
    Json(json!({"reset": true}))
}

async fn users(State(t): St) -> Json<serde_json::Value> {
    let list: Vec<_> = t
        .users
        .list()
        .into_iter()
        .map(|(u, p)| json!({"user": u, "password": p}))
        .collect();
    Json(json!({"strict": t.users.is_strict(), "users": list}))
}

#[derive(Deserialize)]
struct NewUser {
    user: String,
    password: String,
}

async fn add_user(
    State(t): St,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(u)) if !u.user.is_empty() => {
            t.users.set(&u.user, &u.password);
            (StatusCode::CREATED, Json(json!({"user": u.user}))).into_response()
        }
        Ok(_) => bad("user must not be empty"),
        Err(e) => bad(&format!("expected {{\"user\":…,\"password\":…}}: {e}")),
    }
}

async fn remove_user(State(t): St, Path(name): Path<String>) -> Response {
    if t.users.remove(&name) {
        Json(json!({"removed": name})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no user {name}")})),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
struct WaitQuery {
    n: Option<usize>,
    timeout: Option<f64>,
}

/// GreenMail's `waitForIncomingEmail`: no polling needed.
async fn wait_messages(
    State(t): St,
    axum::extract::Query(q): axum::extract::Query<WaitQuery>,
) -> Response {
    let n = q.n.unwrap_or(1);
    let secs = q.timeout.unwrap_or(10.0).clamp(0.0, 3600.0);
    let svc = t.service.clone();
    let ok = tokio::task::spawn_blocking(move || {
        svc.wait_for(n, std::time::Duration::from_secs_f64(secs))
    })
    .await
    .unwrap_or(false);
    if !ok {
        return (
            StatusCode::REQUEST_TIMEOUT,
            Json(json!({"error": format!("fewer than {n} after {secs} s")})),
        )
            .into_response();
    }
    Json(t.service.state()).into_response()
}

async fn messages(State(t): St) -> Json<serde_json::Value> {
    Json(t.service.state())
}

async fn deliver(
    State(t): St,
    uri: axum::http::Uri,
    query: Result<
        axum::extract::Query<imap_api::DeliverQuery>,
        axum::extract::rejection::QueryRejection,
    >,
    body: axum::body::Bytes,
) -> Response {
    let rest = uri.path().strip_prefix("/api/deliver/").unwrap_or("");
    if t.service.imap_daemon().is_some() {
        return imap_api::deliver(&t, rest, query, &body).unwrap_or_else(|r| r.into_response());
    }
    let mailbox = match imap_api::percent_decode(rest) {
        Ok(m) if !m.contains('/') => m,
        Ok(m) => return bad(&format!("{m:?}: a {} mailbox has no levels", t.protocol)),
        Err(e) => return bad(&e),
    };
    match t.service.deliver(&mailbox, &body) {
        Ok(id) => (
            StatusCode::CREATED,
            Json(json!({"mailbox": mailbox, "id": id})),
        )
            .into_response(),
        Err(e) => bad(&format!("{e:#}")),
    }
}

async fn transcripts(State(t): St) -> Json<serde_json::Value> {
    Json(serde_json::to_value(t.recorder.transcripts()).unwrap_or_default())
}

async fn transcripts_text(State(t): St) -> String {
    t.recorder.to_text()
}

async fn faults(State(t): St) -> Json<FaultPlan> {
    Json(t.faults.plan())
}

async fn set_faults(State(t): St, body: String) -> Response {
    match FaultPlan::parse(&body, "request body") {
        Ok(plan) => {
            t.faults.set(plan.clone());
            Json(plan).into_response()
        }
        Err(e) => bad(&format!("{e:#}")),
    }
}

fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}
