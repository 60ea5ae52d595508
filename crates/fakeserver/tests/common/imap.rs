//! IMAP test servers: an `ImapService` with a personality file and users on the shared
//! listener set-up (STARTTLS with the valid preset unless asked otherwise), the daemon's
//! state as the tests look at it, real clients with a deadline, and the imaptest binary.

use super::{faults, serve, Net};
#[allow(unused_imports)] // each test binary uses its own part
pub use super::{have, manifest, text};
use fakeserver::auth::Users;
use fakeserver::imap::ImapService;
use fakeserver::personality::{Personality, Section};
use fakeserver::tls::Preset;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// One stored message as the tests look at it: UID, flags, the raw bytes.
pub type Stored = (u32, Vec<String>, Vec<u8>);

pub type Fake = super::Fake<std::sync::Arc<ImapService>>;

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
    let svc = ImapService::new(
        section,
        std::sync::Arc::new(o.users.unwrap_or_else(Users::open)),
    );
    let net = Net {
        tls: o.tls,
        implicit: o.implicit,
        faults: faults(o.faults),
        idle: Duration::from_secs(30),
        ..Net::default()
    };
    serve("imap", std::sync::Arc::new(svc), &net)
}

impl Fake {
    /// Deliver `raw` into a user's mailbox (created when missing) with no flags, dated at
    /// the epoch, as a test's set-up does.
    pub fn deliver(&self, user: &str, mailbox: &str, raw: &[u8]) {
        self.svc
            .daemon()
            .deliver(user, mailbox, raw.to_vec(), &[], (0, 0));
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

/// Run a program with no stdin, killed (by its pid) and failing the test after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    super::run(cmd, b"", limit)
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
