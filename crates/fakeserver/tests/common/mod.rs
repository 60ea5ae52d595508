//! Helpers shared by fakeserver's integration tests: start an SMTP/LMTP fake through the
//! library API, run real client programs with a deadline.
#![allow(dead_code)]

use fakeserver::auth::Users;
use fakeserver::faults::FaultPlan;
use fakeserver::personality::Section;
use fakeserver::server::{self, ServerConfig, ServerHandle};
use fakeserver::smtp::SmtpService;
use fakeserver::tls::{Certs, Preset};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Fake {
    pub server: ServerHandle,
    pub svc: SmtpService,
    pub ca: Option<tempfile::NamedTempFile>,
}

pub struct Opts {
    pub lmtp: bool,
    pub tls: Option<Preset>,
    pub implicit: bool,
    pub faults: &'static str,
    pub users: Option<Users>,
    pub section: Section,
    pub idle: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            lmtp: false,
            tls: None,
            implicit: false,
            faults: "",
            users: None,
            section: Section::default(),
            idle: Duration::from_secs(20),
        }
    }
}

pub fn start(o: Opts) -> Fake {
    let svc = SmtpService::new(
        o.lmtp,
        o.section,
        Arc::new(o.users.unwrap_or_else(Users::open)),
    );
    let mut cfg = ServerConfig::new(if o.lmtp { "lmtp" } else { "smtp" })
        .faults(FaultPlan::parse(o.faults, "test").unwrap())
        .idle_timeout(o.idle);
    let mut ca = None;
    if let Some(p) = o.tls {
        let certs = Certs::preset(p).unwrap();
        cfg = cfg.tls(certs.server_config().unwrap(), o.implicit);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &certs.ca_pem).unwrap();
        ca = Some(f);
    }
    let server = server::start(cfg, Arc::new(svc.clone())).unwrap();
    Fake { server, svc, ca }
}

impl Fake {
    pub fn port(&self) -> String {
        self.server.port().to_string()
    }
    pub fn ca_path(&self) -> String {
        self.ca.as_ref().unwrap().path().display().to_string()
    }
    pub fn text(&self) -> String {
        self.server.recorder().to_text()
    }
    /// Wait until every connection so far has ended (clients may exit before the server
    /// has read their QUIT... or the server closed first).
    pub fn settle(&self, n: usize) {
        self.server
            .wait_for_connections_closed(n, Duration::from_secs(10))
            .unwrap();
    }
}

/// Run a program with stdin, killing it after `limit`.
pub fn run(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
