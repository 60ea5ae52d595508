//! What the IMAP real-client tests share: an IMAP fake started through the library API (TLS
//! preset, implicit TLS, users, personality, faults), real client programs run with a
//! deadline (killed by pid when they overrun), and the imaptest binary.
#![allow(dead_code)] // each test binary uses its own part of it

use fakeserver::auth::Users;
use fakeserver::faults::FaultPlan;
use fakeserver::imap::ImapService;
use fakeserver::personality::{Personality, Section};
use fakeserver::server::{self, ServerConfig, ServerHandle};
use fakeserver::tls::{Certs, Preset};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// One stored message as the tests look at it: UID, flags, the raw bytes.
pub type Stored = (u32, Vec<String>, Vec<u8>);

pub struct Fake {
    pub server: ServerHandle,
    pub svc: ImapService,
    /// The CA clients should trust (PEM), when the fake has TLS.
    pub ca: Option<tempfile::NamedTempFile>,
}

pub struct Opts {
    pub tls: Option<Preset>,
    pub implicit: bool,
    pub users: Option<Users>,
    /// A personality file under crates/fakeserver/personalities (its `[imap]` section).
    pub personality: Option<&'static str>,
    pub faults: &'static str,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            tls: Some(Preset::Valid),
            implicit: false,
            users: None,
            personality: None,
            faults: "",
        }
    }
}

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn start(o: Opts) -> Fake {
    let section = match o.personality {
        None => Section::default(),
        Some(name) => {
            let path = manifest().join("personalities").join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            Personality::parse(&text, &path.display().to_string())
                .unwrap()
                .section("imap")
        }
    };
    let svc = ImapService::new(section, Arc::new(o.users.unwrap_or_else(Users::open)));
    let mut cfg = ServerConfig::new("imap")
        .faults(FaultPlan::parse(o.faults, "test").unwrap())
        .idle_timeout(Duration::from_secs(30));
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
    /// The transcript of every connection so far.
    pub fn text(&self) -> String {
        self.server.recorder().to_text()
    }
    /// A user's mailbox from the daemon: (uid, flags, raw message) of each message.
    pub fn mailbox(&self, user: &str, mailbox: &str) -> Option<Vec<Stored>> {
        let mut l = self.svc.daemon().lock();
        let a = l.account(user);
        a.mailboxes.get(mailbox).map(|m| {
            m.messages
                .iter()
                .map(|x| (x.uid, x.flags.iter().cloned().collect(), x.data.to_vec()))
                .collect()
        })
    }
    /// Remove a message from a mailbox, as another client's EXPUNGE would.
    pub fn expunge(&self, user: &str, mailbox: &str, uid: u32) {
        {
            let mut l = self.svc.daemon().lock();
            let m = l.account(user).mailboxes.get_mut(mailbox).unwrap();
            m.expunge(&[uid].into_iter().collect());
        }
        self.svc.daemon().changed();
    }
    /// Set a message's flags, as another client's STORE would.
    pub fn set_flags(&self, user: &str, mailbox: &str, uid: u32, flags: &[&str]) {
        {
            let mut l = self.svc.daemon().lock();
            let m = l.account(user).mailboxes.get_mut(mailbox).unwrap();
            let i = m.index_of(uid).unwrap();
            m.set_flags(i, flags.iter().map(|s| s.to_string()).collect());
        }
        self.svc.daemon().changed();
    }
    /// The names of a user's mailboxes.
    pub fn mailbox_names(&self, user: &str) -> Vec<String> {
        let mut l = self.svc.daemon().lock();
        l.account(user).mailboxes.keys().cloned().collect()
    }
}

/// Whether a program is on PATH; when it is not, the test is skipped with a note (tools/ensure-deps
/// installs them for ./run-tests; under CI=true a missing program fails the test).
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{tool} missing in CI"
        );
        eprintln!("skipped: needs {tool} (tools/ensure-deps installs it)");
    }
    found
}

/// Run a program with no stdin, killed (by its pid) after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(o) => o.expect("wait"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of the child spawned above.
            unsafe { libc::kill(id as i32, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within {limit:?}");
        }
    }
}

/// stdout then stderr of a finished program.
pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The imaptest binary of this target directory, built when missing.
pub fn imaptest_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let bin = dir.join("imaptest");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.args(["build", "-q", "-p", "mailrig-imaptest"]);
        if dir.ends_with("release") {
            c.arg("--release");
        }
        assert!(c.status().unwrap().success(), "building imaptest");
    }
    bin
}

/// A small mbox of `n` messages with unique Message-IDs, for imaptest's APPENDs.
pub fn small_mbox(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("test.mbox");
    let mut s = String::new();
    for i in 0..n {
        s += &format!(
            "From s{i}@example.com  Sat Mar 24 23:00:{:02} 2007 +0200\nFrom: s{i}@example.com\nTo: r@example.com\nSubject: message {i}\nMessage-ID: <m{i}@fakeserver.test>\nDate: Sat, 24 Mar 2007 23:00:00 +0200\n\n",
            i % 60
        );
        for j in 0..(i % 7 + 1) {
            s += &format!("body line {j} of {i}\n");
        }
        s += "\n";
    }
    std::fs::write(&p, s).unwrap();
    p
}
