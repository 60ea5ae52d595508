//! Helpers shared by the client/server integration tests: free ports, running the
//! `server` binary in the background with a script, running `client` with a script.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago (high range, chosen by the kernel).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// The `server` program running in the background.
pub struct BgServer {
    pub child: Child,
    pub port: u16,
    /// Collects stdout as it comes, so a chatty server never blocks on a full pipe.
    stdout: std::thread::JoinHandle<Vec<u8>>,
    _dir: tempfile::TempDir,
}

impl BgServer {
    /// Start `server [extra…] -noipv6 -oP pidfile PORT [count]` with `script` on stdin and
    /// wait until it listens.
    pub fn start(extra: &[&str], script: &str, count: Option<u32>) -> BgServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("server.pid");
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.args(extra)
            .arg("-noipv6")
            .arg("-oP")
            .arg(&pidfile)
            .arg(port.to_string());
        if let Some(c) = count {
            cmd.arg(c.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn server");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write server script");
        let mut pipe = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut pipe, &mut v);
            v
        });
        wait_for_file(&pidfile);
        BgServer {
            child,
            port,
            stdout,
            _dir: dir,
        }
    }

    /// Wait for the server to finish: (exit code, stdout).
    pub fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().expect("wait for server");
        let out = self.stdout.join().expect("stdout reader");
        (
            status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out).into_owned(),
        )
    }
}

/// Poll for a file to appear (a pid file written once the server listens).
pub fn wait_for_file(p: &Path) {
    let start = Instant::now();
    while !p.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run a program with `script` on stdin; stdout and stderr are captured.
pub fn run_with_input(program: &Path, args: &[&str], script: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn program");
    // A program that gives up before reading its script (connection refused, bad
    // arguments) closes the pipe: that is its business, not a test failure.
    match child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write script: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("wait")
}

/// The `client` binary under another name (the TLS builds are chosen by argv[0]).
pub fn client_as(name: &str, dir: &Path) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_client"), &link).expect("symlink client");
    }
    link
}

/// Stdout of an Output as text.
pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One line (up to and including its LF) read byte by byte from a plain connection, so that
/// nothing after it (a TLS handshake) is consumed.
pub fn read_plain_line(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap_or(0) == 1 {
        line.push(b[0]);
        if b[0] == b'\n' {
            break;
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}
