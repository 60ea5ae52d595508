//! What the Dovecot integration tests share: the repository root, and a private Dovecot
//! (tools/dovecot: Debian's packages on loopback with its own config) on three free ports,
//! stopped when dropped, even when the test fails.
#![allow(dead_code)] // each test binary uses its own part of it
pub mod tiny_server;
pub mod tls_server;

#[allow(unused_imports)] // as dead_code above: not every test binary uses it
pub use tiny_server::{serve_each, tiny_server};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The counts of a stress or profile run's `Totals:` row (the line after its header), in
/// column order; panics with the whole output when there is none.
pub fn totals(out: &str) -> Vec<u64> {
    out.split("Totals:\n")
        .nth(1)
        .and_then(|t| t.lines().nth(1))
        .unwrap_or_else(|| panic!("no Totals row: {out}"))
        .split_whitespace()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("not a count {v:?}: {out}"))
        })
        .collect()
}

/// What a finished imaptest printed: its stdout, then its stderr.
pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// `dir/test.mbox` with 20 small messages, Message-IDs `<{id}{i}@imaptest.example>`, each
/// body starting with `first_line` (when not empty); returns its path.
pub fn mbox20(dir: &Path, id: &str, first_line: &str) -> String {
    let p = dir.join("test.mbox");
    let mut s = String::new();
    for i in 0..20 {
        s += &format!(
            "From s{i}@example.com  Sat Mar 24 23:00:00 2007\nFrom: s{i}@example.com\nTo: r@example.com\nSubject: message {i}\nMessage-ID: <{id}{i}@imaptest.example>\n\n"
        );
        if !first_line.is_empty() {
            s += first_line;
            s += "\n";
        }
        s += &format!("body of {i}\n\n");
    }
    std::fs::write(&p, s).unwrap();
    p.display().to_string()
}

/// A TCP port nobody listens on now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    /// The IMAP port (POP3 and LMTP listen on two more).
    pub port: u16,
    pub pop3_port: u16,
    pub lmtp_port: u16,
}

impl Dovecot {
    /// Starts a private Dovecot on three free ports; its files under a temporary folder
    /// named after `prefix`.
    pub fn start(prefix: &str) -> Dovecot {
        Dovecot::start_with(prefix, "")
    }

    /// Like [`Dovecot::start`], with `extra` appended to its config (DOVECOT_EXTRA_CONF).
    pub fn start_with(prefix: &str, extra: &str) -> Dovecot {
        let ports = [free_port(), free_port(), free_port()];
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let extra_file = dir.path().join("extra.conf");
        std::fs::write(&extra_file, extra).unwrap();
        let out = Command::new(repo().join("tools/dovecot"))
            .env("DOVECOT_EXTRA_CONF", &extra_file)
            .arg("start")
            .arg(dir.path())
            .args(ports.iter().map(|p| p.to_string()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tools/dovecot start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Dovecot {
            dir,
            port: ports[0],
            pop3_port: ports[1],
            lmtp_port: ports[2],
        }
    }

    /// imaptest with this server's port and the test account, run in `cwd`.
    pub fn command(&self, cwd: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imaptest"));
        c.current_dir(cwd).args([
            format!("port={}", self.port),
            "user=testuser".into(),
            "pass=testpass".into(),
        ]);
        c
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tools/dovecot"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
