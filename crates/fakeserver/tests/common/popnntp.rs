//! POP3 and NNTP test servers: fixtures on disk, a server on the shared listener set-up
//! (`Opts` is the shared `Net`), a client run's result as the tests read it, Python clients,
//! and a raw TCP client for protocol violations.

#[allow(unused_imports)] // each test binary uses its own part
pub use super::{faults, have, Net as Opts};
use fakeserver::auth::Users;
use fakeserver::faults::FaultPlan;
use fakeserver::nntp::service::NntpService;
use fakeserver::nntp::{NntpDaemon, NntpPersonality};
use fakeserver::pop3::service::Pop3Service;
use fakeserver::pop3::{Pop3Daemon, Pop3Personality};
use fakeserver::server::ServerHandle;
use fakeserver::tls::Preset;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

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
            implicit: true,
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

/// A running server and the CA file clients should trust (when TLS is on).
pub struct Running {
    pub server: ServerHandle,
    pub ca: Option<PathBuf>,
    _ca_file: Option<tempfile::NamedTempFile>,
}

fn running<S>(f: super::Fake<S>) -> Running {
    Running {
        server: f.server,
        ca: f.ca.as_ref().map(|c| c.path().to_path_buf()),
        _ca_file: f.ca,
    }
}

pub fn start_pop3(daemon: Arc<Pop3Daemon>, personality: Pop3Personality, o: Opts) -> Running {
    let svc = Pop3Service::new(daemon, users(), personality);
    running(super::serve("pop3", Arc::new(svc), &o))
}

pub fn start_nntp(daemon: Arc<NntpDaemon>, personality: NntpPersonality, o: Opts) -> Running {
    let svc = NntpService::new(daemon, users(), personality);
    running(super::serve("nntp", Arc::new(svc), &o))
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

/// Run a client, failing the test if it has not finished after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    let o = super::run(cmd, b"", limit);
    Ran {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
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
