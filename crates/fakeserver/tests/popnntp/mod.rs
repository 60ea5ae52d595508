//! Helpers shared by the POP3 and NNTP client tests (the SMTP tests have `common`): fixtures on disk, starting a server on
//! port 0 with an optional TLS preset and fault plan, and running a real client program with
//! a time limit (killed and reported if it hangs).
#![allow(dead_code)]

use fakeserver::auth::Users;
use fakeserver::faults::FaultPlan;
use fakeserver::nntp::service::NntpService;
use fakeserver::nntp::{NntpDaemon, NntpPersonality};
use fakeserver::pop3::service::Pop3Service;
use fakeserver::pop3::{Pop3Daemon, Pop3Personality};
use fakeserver::server::{self, ServerConfig, ServerHandle};
use fakeserver::tls::{Certs, Preset};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MSG1: &str = "From: bob@example.test\nTo: alice@example.test\nSubject: first\nMessage-ID: <m1@example.test>\n\nhello\n.dot line\nlast line\n";
pub const MSG2: &str = "From: carol@example.test\nTo: alice@example.test\nSubject: second\nMessage-ID: <m2@example.test>\n\nsecond body\n";

/// A `--load` tree: alice has two messages (a folder of .eml), bob an empty maildir.
pub fn pop3_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    let alice = t.path().join("alice");
    std::fs::create_dir(&alice).unwrap();
    std::fs::write(alice.join("1.eml"), MSG1).unwrap();
    std::fs::write(alice.join("2.eml"), MSG2).unwrap();
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(t.path().join("bob").join(d)).unwrap();
    }
    t
}

/// A `--load` tree for NNTP: misc.test with two articles, alt.empty with none.
pub fn nntp_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    let g = t.path().join("misc.test");
    std::fs::create_dir(&g).unwrap();
    std::fs::write(
        g.join("01"),
        "From: a@test\nNewsgroups: misc.test\nSubject: hello\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <a1@test>\n\nfirst body\n",
    )
    .unwrap();
    std::fs::write(
        g.join("02"),
        "From: b@test\nNewsgroups: misc.test\nSubject: Re: hello\nDate: Mon, 01 Jan 2024 01:00:00 +0000\nMessage-ID: <a2@test>\nReferences: <a1@test>\n\n.starts with a dot\nsecond line\n",
    )
    .unwrap();
    std::fs::create_dir(t.path().join("alt.empty")).unwrap();
    t
}

pub fn users() -> Arc<Users> {
    Arc::new(Users::strict([
        ("alice", "secret"),
        ("bob", "hunter2"),
        ("fred", "pw"),
    ]))
}

/// How to start a test server.
#[derive(Default)]
pub struct Opts {
    pub tls: Option<Preset>,
    pub implicit_tls: bool,
    pub faults: FaultPlan,
    pub idle: Option<Duration>,
    pub max_line: Option<usize>,
    pub max_block: Option<usize>,
}

impl Opts {
    /// STARTTLS (STLS) with a certificate preset.
    pub fn tls(p: Preset) -> Opts {
        Opts {
            tls: Some(p),
            ..Opts::default()
        }
    }
    /// Implicit TLS (pop3s, nntps) with a certificate preset.
    pub fn implicit_tls(p: Preset) -> Opts {
        Opts {
            implicit_tls: true,
            ..Opts::tls(p)
        }
    }
    /// Plain text with a fault plan.
    pub fn faults(plan: FaultPlan) -> Opts {
        Opts {
            faults: plan,
            ..Opts::default()
        }
    }
}

/// A running server, the CA file clients should trust (when TLS is on) and the temp dir
/// holding it.
pub struct Running {
    pub server: ServerHandle,
    pub ca: Option<PathBuf>,
    pub dir: tempfile::TempDir,
}

fn config(protocol: &str, o: &Opts, dir: &Path) -> (ServerConfig, Option<PathBuf>) {
    let mut c = ServerConfig::new(protocol).port(0);
    let mut ca = None;
    if let Some(p) = o.tls {
        let certs = Certs::preset(p).expect("certificate preset");
        let path = dir.join("ca.pem");
        std::fs::write(&path, &certs.ca_pem).unwrap();
        ca = Some(path);
        c = c.tls(
            certs.server_config().expect("rustls config"),
            o.implicit_tls,
        );
    }
    c = c
        .faults(o.faults.clone())
        .idle_timeout(o.idle.unwrap_or(Duration::from_secs(20)));
    if let Some(n) = o.max_line {
        c = c.max_line(n);
    }
    if let Some(n) = o.max_block {
        c.max_block = n;
    }
    (c, ca)
}

pub fn start_pop3(daemon: Arc<Pop3Daemon>, personality: Pop3Personality, o: Opts) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (c, ca) = config("pop3", &o, dir.path());
    let server = server::start(c, Arc::new(Pop3Service::new(daemon, users(), personality)))
        .expect("start pop3");
    Running { server, ca, dir }
}

pub fn start_nntp(daemon: Arc<NntpDaemon>, personality: NntpPersonality, o: Opts) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let (c, ca) = config("nntp", &o, dir.path());
    let server = server::start(c, Arc::new(NntpService::new(daemon, users(), personality)))
        .expect("start nntp");
    Running { server, ca, dir }
}

pub fn faults(toml: &str) -> FaultPlan {
    FaultPlan::parse(toml, "test").expect("fault plan")
}

/// What a client run gave.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
    /// Fail the test, showing the run, unless the client exited 0.
    #[track_caller]
    pub fn expect_ok(&self) {
        assert!(self.ok(), "{}", self.show());
    }
    /// Fail the test, showing the run, unless the client printed `needle`.
    #[track_caller]
    pub fn expect_out(&self, needle: &str) {
        assert!(self.stdout.contains(needle), "{}", self.show());
    }
}

/// Run a client; kill it after `limit` (then `code` is `None`).
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let code = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st.code(),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Ran {
        code,
        stdout,
        stderr,
    }
}

/// `python3 tests/clients/NAME args...`
pub fn python(script: &str, args: &[&str]) -> Ran {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    python3(&[path.as_os_str()], args)
}

/// `python3 -c CODE args...` (for short fault scenarios).
pub fn python_code(code: &str, args: &[&str]) -> Ran {
    python3(&["-c".as_ref(), code.as_ref()], args)
}

/// `python3 -W ignore WHAT... args...`, killed after a minute.
fn python3(what: &[&std::ffi::OsStr], args: &[&str]) -> Ran {
    run(
        Command::new("python3")
            .args(["-W", "ignore"])
            .args(what)
            .args(args),
        Duration::from_secs(60),
    )
}

/// Skip (with a note on stderr) when a client program is missing and we are not in CI;
/// in CI (CI=true) a missing client is a failure, since tools/ensure-deps installs them.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{program} is not installed (tools/ensure-deps installs it)");
        }
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// A raw TCP client for protocol-violation tests: write bytes, read reply lines.
pub struct Raw {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw {
            writer: s.try_clone().unwrap(),
            reader: std::io::BufReader::new(s),
        }
    }
    pub fn send(&mut self, b: &[u8]) {
        use std::io::Write;
        self.writer.write_all(b).expect("write");
    }
    /// Send `b` and read one reply line.
    pub fn ask(&mut self, b: &[u8]) -> String {
        self.send(b);
        self.line()
    }
    /// One reply line without its CRLF; "" at end of stream.
    pub fn line(&mut self) -> String {
        self.next_line().unwrap_or_default()
    }
    fn next_line(&mut self) -> Option<String> {
        use std::io::BufRead;
        let mut v = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut v)
            .expect("read (timed out?)");
        (n > 0).then(|| {
            String::from_utf8_lossy(&v)
                .trim_end_matches(['\r', '\n'])
                .to_string()
        })
    }
    /// Lines up to and including a lone "." (or the end of the stream).
    pub fn multiline(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = self.next_line() {
            let end = l == ".";
            out.push(l);
            if end {
                break;
            }
        }
        out
    }
    pub fn close(self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}
