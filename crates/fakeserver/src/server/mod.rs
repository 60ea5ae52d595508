//! The server: one listening socket, its connections, and the handle a test holds.
//!
//! [`start`] binds (port 0: the OS picks), runs the accept loop and every connection on a
//! private tokio runtime in its own thread, and returns a [`ServerHandle`]: the address,
//! the transcripts ([`Recorder`]), the fault engine, `perform_test`-style waits, daemon
//! notifications (for IMAP's unsolicited replies) and shutdown. Dropping the handle stops the
//! server and joins every connection, so nothing outlives a test that panics.
//!
//! A protocol plugs in as a [`Service`]: it makes one [`Handler`] per connection (the pure
//! state machine of [`crate::handler`]) and may show its daemon's state to the control API.
//! A connection's bytes go through one transport for every protocol (`transport`: TCP, TLS
//! after STARTTLS or implicit, DEFLATE after COMPRESS), so handlers and transcripts see only
//! the protocol.

mod conn;
pub mod frame;
mod transport;

use crate::faults::{FaultEngine, FaultPlan};
use crate::handler::{ConnInfo, Handler};
use crate::record::Recorder;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A protocol as the server sees it.
pub trait Service: Send + Sync + 'static {
    /// A fresh handler for a new connection.
    fn handler(&self, conn: &ConnInfo) -> Box<dyn Handler>;
    /// Wait until the daemon holds at least `n` items (messages, articles); false on
    /// timeout or when the protocol has nothing to wait for.
    fn wait_for(&self, _n: usize, _timeout: Duration) -> bool {
        false
    }
    /// The daemon's state for the control API (`/api/messages`, …).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Forget what the daemon received (control API `/api/reset`).
    fn reset(&self) {}
    /// Add a message to `mailbox` while the server runs (control API `POST
    /// /api/deliver/{mailbox}`): a POP3 user's maildrop, an NNTP newsgroup, later an IMAP
    /// mailbox. Returns the id it got (UIDL, Message-ID). Default: no such thing.
    fn deliver(&self, _mailbox: &str, _message: &[u8]) -> anyhow::Result<String> {
        anyhow::bail!("this protocol takes no deliveries")
    }
    /// The server's notifier, given once at start: the daemon calls it when something changed
    /// that other connections may have to announce ([`Handler::on_notify`], IMAP IDLE).
    fn set_notifier(&self, _notifier: Notifier) {}
    /// The IMAP daemon, for the control API's mailbox and flag endpoints (IMAP only).
    fn imap_daemon(&self) -> Option<Arc<crate::imap::ImapDaemon>> {
        None
    }
}

/// Wakes every connection of a server ([`Handler::on_notify`]); cheap to clone.
#[derive(Clone)]
pub struct Notifier(Arc<watch::Sender<u64>>);

impl Notifier {
    pub fn notify(&self) {
        self.0.send_modify(|n| *n += 1);
    }
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

/// How a server listens and treats its connections.
#[derive(Clone)]
pub struct ServerConfig {
    /// Protocol name, for transcripts ("smtp", "lmtp", "pop3", "nntp", "imap").
    pub protocol: String,
    pub bind: SocketAddr,
    /// Close a connection after this long without input (or with a client that never reads).
    pub idle_timeout: Duration,
    /// Longest command line accepted (longer ones reach [`Handler::on_line_too_long`]).
    pub max_line: usize,
    /// Largest data block kept (longer ones are drained and reported).
    pub max_block: usize,
    /// A certificate: STARTTLS/STLS available, or implicit TLS with `implicit_tls`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub implicit_tls: bool,
    /// Bare `\n` in reply lines becomes CRLF (switch off for literals).
    pub normalize_lf: bool,
    /// Debug level 0–3 (echo to stderr).
    pub debug: u8,
    /// Write each finished transcript here (JSON lines for `.json`/`.jsonl`, else text).
    pub record_file: Option<PathBuf>,
    /// Ended connections whose transcripts stay in memory (None: all; the record file
    /// always gets every one).
    pub keep_transcripts: Option<usize>,
    /// Bytes of events kept per connection (None: all); past it events are counted only.
    pub transcript_limit: Option<usize>,
    /// Bytes of events of ended connections kept in memory (None: no limit); the oldest
    /// are forgotten first (the record file has them all).
    pub keep_transcript_bytes: Option<usize>,
    pub faults: FaultPlan,
    /// Runtime worker threads.
    pub threads: usize,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("protocol", &self.protocol)
            .field("bind", &self.bind)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .finish_non_exhaustive()
    }
}

/// Bytes of one connection's transcript kept by default: far more than a client's test
/// needs, and a bound for a client that stays connected under load.
pub const DEFAULT_TRANSCRIPT_LIMIT: usize = 64 * 1024 * 1024;

/// Bytes of ended connections' transcripts kept in memory by default (the newest ones).
pub const DEFAULT_KEEP_TRANSCRIPT_BYTES: usize = 256 * 1024 * 1024;

impl ServerConfig {
    /// Defaults: 127.0.0.1 port 0, 60 s idle timeout, 64 KiB lines, 64 MiB blocks, 64 MiB
    /// of transcript per connection, 256 MiB of ended connections' transcripts.
    pub fn new(protocol: &str) -> Self {
        ServerConfig {
            protocol: protocol.to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            idle_timeout: Duration::from_secs(60),
            max_line: 64 * 1024,
            max_block: 64 * 1024 * 1024,
            tls: None,
            implicit_tls: false,
            normalize_lf: true,
            debug: 0,
            record_file: None,
            keep_transcripts: None,
            transcript_limit: Some(DEFAULT_TRANSCRIPT_LIMIT),
            keep_transcript_bytes: Some(DEFAULT_KEEP_TRANSCRIPT_BYTES),
            faults: FaultPlan::default(),
            threads: 2,
        }
    }
    pub fn port(mut self, port: u16) -> Self {
        self.bind.set_port(port);
        self
    }
    pub fn tls(mut self, tls: Arc<rustls::ServerConfig>, implicit: bool) -> Self {
        self.tls = Some(tls);
        self.implicit_tls = implicit;
        self
    }
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
    pub fn max_line(mut self, n: usize) -> Self {
        self.max_line = n;
        self
    }
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }
    pub fn debug(mut self, level: u8) -> Self {
        self.debug = level;
        self
    }
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub service: Arc<dyn Service>,
    pub recorder: Recorder,
    pub faults: Arc<FaultEngine>,
    pub active: AtomicUsize,
}

/// A running server. Drop stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    notify: Notifier,
    thread: Option<std::thread::JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Bind and start serving `service`.
pub fn start(config: ServerConfig, service: Arc<dyn Service>) -> Result<ServerHandle> {
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads.max(1))
        .thread_name(format!("fakeserver-{}", config.protocol))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let std_listener = std::net::TcpListener::bind(config.bind)
        .with_context(|| format!("binding {}", config.bind))?;
    std_listener
        .set_nonblocking(true)
        .context("listener non-blocking")?;
    let addr = std_listener.local_addr().context("listener address")?;
    let recorder = Recorder::new(config.debug);
    recorder.keep_closed(config.keep_transcripts);
    recorder.limit_per_connection(config.transcript_limit);
    recorder.keep_closed_bytes(config.keep_transcript_bytes);
    if let Some(path) = &config.record_file {
        recorder.write_to(path)?;
    }
    let shared = Arc::new(Shared {
        faults: Arc::new(FaultEngine::new(config.faults.clone())),
        config,
        service,
        recorder,
        active: AtomicUsize::new(0),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (notify, notify_rx) = watch::channel(0u64);
    let notify = Notifier(Arc::new(notify));
    shared.service.set_notifier(notify.clone());
    let handle = runtime.handle().clone();
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).context("listener")?
    };
    let sh = shared.clone();
    let thread = std::thread::Builder::new()
        .name("fakeserver-accept".into())
        .spawn(move || {
            runtime.block_on(accept_loop(listener, sh, shutdown_rx, notify_rx));
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .context("spawning the server thread")?;
    Ok(ServerHandle {
        addr,
        shared,
        shutdown,
        notify,
        thread: Some(thread),
        runtime: handle,
    })
}

/// Many simultaneous connections need descriptors: lift the soft limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    notify: watch::Receiver<u64>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tasks.spawn(conn::serve(tcp, shared.clone(), shutdown.clone(), notify.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("fakeserver: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    // Connections see the shutdown and end; give them a moment to flush, then abort.
    let all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(2), all)
        .await
        .is_err()
    {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

impl ServerHandle {
    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
    pub fn faults(&self) -> &Arc<FaultEngine> {
        &self.shared.faults
    }
    pub fn service(&self) -> &Arc<dyn Service> {
        &self.shared.service
    }
    /// Connections currently open.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }
    /// The runtime the server runs on (to run the control API beside it).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
    /// `perform_test(watchWord)`: wait until a client sent a command starting with `verb`.
    pub fn wait_for_command(&self, verb: &str, timeout: Duration) -> Result<()> {
        if self.shared.recorder.wait_for_command(verb, timeout) {
            Ok(())
        } else {
            anyhow::bail!("no {verb} command within {timeout:?}")
        }
    }
    /// `perform_test()`: wait until `n` connections were made and all have ended.
    pub fn wait_for_connections_closed(&self, n: usize, timeout: Duration) -> Result<()> {
        if self.shared.recorder.wait_for_closed(n, timeout) {
            Ok(())
        } else {
            anyhow::bail!("{n} connection(s) not all ended within {timeout:?}")
        }
    }
    /// Tell every connection that the daemon changed ([`Handler::on_notify`]).
    pub fn notify(&self) {
        self.notify.notify();
    }
    /// `resetTest()`: forget transcripts and the daemon's received state, restart fault
    /// counters.
    pub fn reset(&self) {
        self.shared.recorder.reset();
        self.shared.service.reset();
        self.shared.faults.set(self.shared.faults.plan());
    }
    /// Stop accepting, end every connection and wait for them.
    pub fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
