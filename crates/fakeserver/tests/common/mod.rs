//! The one set-up module of fakeserver's integration tests: a server of any protocol started
//! through the library API on port 0 (TLS preset, implicit TLS, fault plan, limits), real
//! client programs run with a deadline (killed by pid when they overrun, which fails the
//! test), and the check for a client program a test needs. Per protocol: `smtp`, `imap`,
//! `popnntp` (fixtures and helpers of their own); `readme` runs the README's examples.
#![allow(dead_code)] // each test binary uses its own part of it

pub mod imap;
pub mod popnntp;
pub mod readme;
pub mod smtp;

use fakeserver::faults::FaultPlan;
use fakeserver::server::{self, ServerConfig, ServerHandle, Service};
use fakeserver::tls::{Certs, Preset};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the listener of a test server is set up.
#[derive(Clone)]
pub struct Net {
    /// STARTTLS (or implicit TLS) with this certificate preset.
    pub tls: Option<Preset>,
    pub implicit: bool,
    pub faults: FaultPlan,
    pub idle: Duration,
    pub max_line: Option<usize>,
    pub max_block: Option<usize>,
}

impl Default for Net {
    fn default() -> Self {
        Net {
            tls: None,
            implicit: false,
            faults: FaultPlan::default(),
            idle: Duration::from_secs(20),
            max_line: None,
            max_block: None,
        }
    }
}

/// A fault plan from TOML (the tests' own, so a mistake in one is a panic).
pub fn faults(toml: &str) -> FaultPlan {
    FaultPlan::parse(toml, "test").expect("fault plan")
}

/// A running server, its service (to look at the daemon behind it) and the CA file (PEM)
/// clients should trust when it has TLS.
pub struct Fake<S> {
    pub server: ServerHandle,
    pub svc: S,
    pub ca: Option<tempfile::NamedTempFile>,
}

impl<S> Fake<S> {
    pub fn port(&self) -> String {
        self.server.port().to_string()
    }
    /// The CA file's path; panics when the server has no TLS.
    pub fn ca_path(&self) -> String {
        self.ca.as_ref().unwrap().path().display().to_string()
    }
    /// The transcript of every connection so far.
    pub fn text(&self) -> String {
        self.server.recorder().to_text()
    }
    /// Wait until `n` connections have ended (clients may exit before the server has read
    /// their QUIT, or the server closed first).
    pub fn settle(&self, n: usize) {
        self.server
            .wait_for_connections_closed(n, Duration::from_secs(10))
            .unwrap();
    }
}

/// Start `svc` for `protocol` on a port the OS picks.
pub fn serve<S: Service>(protocol: &str, svc: Arc<S>, net: &Net) -> Fake<Arc<S>> {
    let mut cfg = ServerConfig::new(protocol)
        .port(0)
        .faults(net.faults.clone())
        .idle_timeout(net.idle);
    if let Some(n) = net.max_line {
        cfg = cfg.max_line(n);
    }
    if let Some(n) = net.max_block {
        cfg.max_block = n;
    }
    let mut ca = None;
    if let Some(p) = net.tls {
        let certs = Certs::preset(p).expect("certificate preset");
        cfg = cfg.tls(certs.server_config().expect("rustls config"), net.implicit);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &certs.ca_pem).unwrap();
        ca = Some(f);
    }
    let server =
        server::start(cfg, svc.clone()).unwrap_or_else(|e| panic!("start {protocol}: {e:#}"));
    Fake { server, svc, ca }
}

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run a program with `stdin`; stdout and stderr are read while it runs. One that has not
/// finished after `limit` is killed (by its pid) and fails the test: no test expects a hang.
pub fn run(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish within {limit:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A finished program's exit status, stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether a program is on PATH; when it is not, the test is skipped with a note (tools/ensure-deps
/// installs them for ./run-tests); under CI=true a missing program fails the test.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{tool} missing in CI (tools/ensure-deps installs it)"
        );
        eprintln!("skipped: needs {tool} (tools/ensure-deps installs it)");
    }
    found
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}
