//! The scripted server (Exim's test/src/server.c): listen on a port (IPv6 and/or IPv4)
//! or a Unix socket, accept connections one after another and play the script read from
//! stdin: lines starting with `>` or a digit are sent, `*sleep N` pauses, `*data N`
//! swallows N bytes, `*eof` expects the client to close, `.` swallows a message body,
//! anything else (optionally after `<` / `<<`) is the start of a line the client must
//! send. Output wording and exit codes are server.c's.
//!
//! Like server.c, a script containing a `>>` line switches the whole run to unbuffered
//! reads (exact byte counts, non-printing bytes shown as `\xNN`); otherwise input is read
//! line by line through a stdio-like buffer, and what is sent is buffered until the
//! server next waits for input, sleeps or closes (so several responses leave in one
//! packet, which pipelining tests rely on).

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::net::{self, Deadline, NetError, SockReader};
use crate::script::{atoi, cstr, printable, read_line_bounded, trim_end_c, unescape_server};
use crate::server_args::{Listen, ServerArgs};

/// server.c reads script and input lines with a 10240-byte buffer.
const BUFSIZE: usize = 10240;

/// The script, as server.c keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Lines after escape processing and trailing-whitespace trimming.
    pub lines: Vec<Vec<u8>>,
    /// False when some line starts with `>>`: then input is read unbuffered.
    pub linebuf: bool,
}

/// Read the script: up to end of input or a line `++++`.
pub fn load_script<R: BufRead + ?Sized>(input: &mut R) -> std::io::Result<Script> {
    let mut script = Script {
        lines: Vec::new(),
        linebuf: true,
    };
    while let Some(raw) = read_line_bounded(input, BUFSIZE - 1)? {
        if raw.starts_with(b">>") {
            script.linebuf = false;
        }
        let line = trim_end_c(&raw);
        if line == b"++++" {
            break;
        }
        script.lines.push(unescape_server(line));
    }
    Ok(script)
}

use crate::transcript;
pub use crate::transcript::Exit;

/// Run the server: returns the exit status.
pub fn run(args: &ServerArgs, script: &Script, out: &mut dyn Write) -> i32 {
    let mut s = Server { args, script, out };
    match s.run() {
        Ok(()) => 0,
        Err(Exit(code)) => code,
    }
}

/// Play `script` over one connection that is already accepted (no listening): the
/// conversation part of [`run`] alone, for the fuzz targets and tests that drive the
/// server through a socket pair. Returns the exit status.
pub fn run_connection(
    args: &ServerArgs,
    script: &Script,
    conn: &Socket,
    out: &mut dyn Write,
) -> i32 {
    let mut s = Server { args, script, out };
    match s.converse(conn, 0) {
        Ok(_) => 0,
        Err(Exit(code)) => code,
    }
}

struct Server<'a> {
    args: &'a ServerArgs,
    script: &'a Script,
    out: &'a mut dyn Write,
}

/// How one conversation ended.
enum Conversation {
    /// Went on to the next script line (`END_OFF` in server.c).
    Next(usize),
    /// Stopped at this line after a comparison failure (or ran out of script).
    Stopped(usize),
}

fn format_peer(addr: &SockAddr) -> String {
    match addr.as_socket() {
        Some(SocketAddr::V4(a)) => a.ip().to_string(),
        Some(SocketAddr::V6(a)) => {
            let s = a.ip().to_string();
            // host_ntoa() shows a mapped IPv4 address in IPv4 form.
            match s.strip_prefix("::ffff:") {
                Some(v4) if v4.contains('.') => v4.to_string(),
                _ => s,
            }
        }
        None => String::new(),
    }
}

impl Server<'_> {
    fn say(&mut self, bytes: &[u8]) {
        transcript::say(self.out, bytes);
    }

    fn sayln(&mut self, s: &str) {
        self.say(format!("{s}\n").as_bytes());
    }

    fn timed_out(&mut self) -> Exit {
        transcript::timed_out(self.out, "Server", self.args.tmo_noerror)
    }

    fn fatal(&mut self, msg: String) -> Exit {
        self.sayln(&msg);
        Exit(1)
    }

    fn deadline(&self) -> Deadline {
        Deadline::after_secs(self.args.timeout)
    }

    fn run(&mut self) -> Result<(), Exit> {
        let a = self.args;
        if a.initial_pause > 0 {
            self.sayln(&format!("Inital pause of {} seconds", a.initial_pause));
            std::thread::sleep(Duration::from_secs(a.initial_pause));
        }
        let listeners = self.listen()?;
        if let Some(pf) = &a.pidfile {
            if let Err(e) = std::fs::write(pf, format!("{}\n", std::process::id())) {
                eprintln!("pidfile create failed: {}", net::strerror(&e));
                return Err(Exit(1));
            }
        }

        let mut pos = 0usize;
        for _ in 0..a.connections {
            match &a.listen {
                Listen::Unix(path) => self.say(format!("Listening on {path} ... ").as_bytes()),
                Listen::Port(p) => self.say(format!("Listening on port {p} ... ").as_bytes()),
            }
            let (conn, peer) = self.accept(&listeners)?;
            match &a.listen {
                Listen::Port(_) => self.sayln(&format!(
                    "\nConnection request from [{}]",
                    format_peer(&peer)
                )),
                Listen::Unix(_) => self.sayln("\nConnection request"),
            }
            pos = match self.converse(&conn, pos)? {
                Conversation::Next(p) | Conversation::Stopped(p) => p,
            };
            drop(conn);
        }
        if pos >= self.script.lines.len() {
            self.sayln("End of script");
        }
        if let Listen::Unix(path) = &a.listen {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    fn listen(&mut self) -> Result<Vec<Socket>, Exit> {
        let a = self.args;
        let debug = a.debug;
        let mut socks = Vec::new();
        match &a.listen {
            Listen::Unix(path) => {
                let _ = std::fs::remove_file(path);
                if debug {
                    self.sayln("Creating Unix domain socket");
                }
                let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| {
                    self.fatal(format!(
                        "Unix domain socket creation failed: {}",
                        net::strerror(&e)
                    ))
                })?;
                if debug {
                    self.sayln("Binding Unix domain socket");
                }
                let addr = SockAddr::unix(path).map_err(|e| {
                    self.fatal(format!(
                        "Unix domain socket bind() failed: {}",
                        net::strerror(&e)
                    ))
                })?;
                s.bind(&addr).map_err(|e| {
                    self.fatal(format!(
                        "Unix domain socket bind() failed: {}",
                        net::strerror(&e)
                    ))
                })?;
                // Anyone may connect (Exim runs as the exim user).
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0);
                if debug {
                    self.sayln(&format!(
                        "Setting Unix domain socket mode: {:0x}",
                        mode | 0o777
                    ));
                }
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o777))
                    .map_err(|e| {
                        self.fatal(format!(
                            "Unix domain socket chmod() failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                s.listen(5).map_err(|e| {
                    self.fatal(format!(
                        "Unix domain socket listen() failed: {}",
                        net::strerror(&e)
                    ))
                })?;
                socks.push(s);
            }
            Listen::Port(port) => {
                let port = *port;
                let mut v6ok = false;
                if a.use_ipv6 {
                    if debug {
                        self.sayln("Creating IPv6 socket");
                    }
                    let s = Socket::new(Domain::IPV6, Type::STREAM, None).map_err(|e| {
                        self.fatal(format!(
                            "IPv6 socket creation failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    if let Err(e) = s.set_only_v6(true) {
                        self.sayln(&format!(
                            "Setting IPV6_V6ONLY on IPv6 wildcard socket failed ({}): carrying on without it",
                            net::strerror(&e)
                        ));
                    }
                    s.set_reuse_address(true).map_err(|e| {
                        self.fatal(format!(
                            "setting SO_REUSEADDR on socket failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    s.bind(&SockAddr::from(SocketAddr::new(
                        Ipv6Addr::UNSPECIFIED.into(),
                        port,
                    )))
                    .map_err(|e| {
                        self.fatal(format!(
                            "IPv6 socket bind(port {port}) failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    s.listen(5).map_err(|e| {
                        self.fatal(format!(
                            "IPv6 socket listen() failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    socks.push(s);
                    v6ok = true;
                }
                if a.use_ipv4 {
                    if debug {
                        self.sayln("Creating IPv4 socket");
                    }
                    let s = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| {
                        self.fatal(format!(
                            "IPv4 socket creation failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    s.set_reuse_address(true).map_err(|e| {
                        self.fatal(format!(
                            "setting SO_REUSEADDR on socket failed: {}",
                            net::strerror(&e)
                        ))
                    })?;
                    match s.bind(&SockAddr::from(SocketAddr::new(
                        Ipv4Addr::UNSPECIFIED.into(),
                        port,
                    ))) {
                        Ok(()) => {
                            s.listen(5).map_err(|e| {
                                self.fatal(format!(
                                    "IPv4 socket listen() failed: {}",
                                    net::strerror(&e)
                                ))
                            })?;
                            socks.push(s);
                        }
                        // The IPv6 socket takes IPv4 connections too on such systems.
                        Err(e) if v6ok && e.raw_os_error() == Some(libc::EADDRINUSE) => {}
                        Err(e) => {
                            return Err(self.fatal(format!(
                                "IPv4 socket bind(port {port}) failed: {}",
                                net::strerror(&e)
                            )))
                        }
                    }
                }
            }
        }
        Ok(socks)
    }

    fn accept(&mut self, listeners: &[Socket]) -> Result<(Socket, SockAddr), Exit> {
        let deadline = self.deadline();
        loop {
            let wait = match deadline.remaining() {
                Ok(w) => w,
                Err(_) => return Err(self.timed_out()),
            };
            let mut fds: Vec<libc::pollfd> = listeners
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let ms = wait.map_or(-1, |d| net::poll_millis(d).max(1));
            // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                self.sayln("Select failed");
                continue;
            }
            if rc == 0 {
                continue; // the deadline check above decides
            }
            for (i, pfd) in fds.iter().enumerate() {
                if pfd.revents & libc::POLLIN != 0 {
                    return match listeners[i].accept() {
                        Ok(pair) => Ok(pair),
                        Err(e) => {
                            Err(self.fatal(format!("accept() failed: {}", net::strerror(&e))))
                        }
                    };
                }
            }
        }
    }

    /// Send buffered output. server.c's stdio stream; a broken connection is ignored
    /// here (server.c would die of SIGPIPE, which the binary keeps as default action).
    fn flush_out(&mut self, conn: &Socket, pending: &mut Vec<u8>) -> Result<(), Exit> {
        if pending.is_empty() {
            return Ok(());
        }
        let res = net::write_all(conn, pending, self.deadline());
        pending.clear();
        match res {
            Err(NetError::Timeout) => Err(self.timed_out()),
            _ => Ok(()),
        }
    }

    fn eof_message(&mut self, line: &[u8]) {
        if line.starts_with(b"*eof") {
            self.sayln("Expected EOF read from client");
        } else {
            self.sayln("Unexpected EOF read from client");
        }
    }

    fn converse(&mut self, conn: &Socket, mut pos: usize) -> Result<Conversation, Exit> {
        let script = self.script;
        let linebuf = script.linebuf;
        let mut reader = SockReader::new(conn);
        let mut pending: Vec<u8> = Vec::new();
        let timeout_err = |s: &mut Self| s.timed_out();

        while pos < script.lines.len() {
            let ss: &[u8] = &script.lines[pos];

            if ss.first() == Some(&b'>') {
                // Unbuffered runs show what is sent with non-printing bytes as \xNN, as
                // server.c does (test 0259 sends a CR inside an ident reply).
                if script.linebuf {
                    // Control bytes still show as \xNN (saved outputs of test 0259).
                    let shown: Vec<u8> = cstr(ss)
                        .iter()
                        .flat_map(|&c| {
                            if c < b' ' && c != b'\t' {
                                format!("\\x{c:02x}").into_bytes()
                            } else {
                                vec![c]
                            }
                        })
                        .collect();
                    self.say(&shown);
                } else {
                    self.say(printable(cstr(ss)).as_bytes());
                }
                self.say(b"\n");
                let mut rest = &ss[1..];
                if rest.starts_with(b"*eof") {
                    self.flush_out(conn, &mut pending)?;
                    return Ok(Conversation::Next(pos + 1));
                }
                let end: &[u8] = if let Some(r) = rest.strip_prefix(b">") {
                    rest = r;
                    b""
                } else if let Some(r) = rest.strip_prefix(b"CR>") {
                    rest = r;
                    b"\r"
                } else if let Some(r) = rest.strip_prefix(b"LF>") {
                    rest = r;
                    b"\n"
                } else {
                    b"\r\n"
                };
                pending.extend_from_slice(rest);
                pending.extend_from_slice(end);
            } else if ss.first().is_some_and(u8::is_ascii_digit) {
                self.say(cstr(ss));
                self.say(b"\n");
                pending.extend_from_slice(cstr(ss));
                pending.extend_from_slice(b"\r\n");
            } else if ss.starts_with(b"*sleep ") {
                self.say(cstr(ss));
                self.say(b"\n");
                self.flush_out(conn, &mut pending)?;
                let secs = u64::try_from(atoi(&ss[7..])).unwrap_or(0);
                std::thread::sleep(Duration::from_secs(secs));
            } else if ss.starts_with(b"*data ") {
                self.flush_out(conn, &mut pending)?;
                let mut dlen = usize::try_from(atoi(&ss[6..])).unwrap_or(0);
                let deadline = self.deadline();
                let mut buf = vec![0u8; BUFSIZE];
                while dlen > 0 {
                    let got = if linebuf {
                        match reader.getc(deadline) {
                            Ok(Some(_)) => 1,
                            Ok(None) => 0,
                            Err(_) => return Err(timeout_err(self)),
                        }
                    } else {
                        let want = dlen.min(BUFSIZE);
                        match reader.read_raw(&mut buf[..want], deadline) {
                            Ok(n) => n,
                            Err(NetError::Timeout) => return Err(timeout_err(self)),
                            Err(NetError::Io(_)) => 0,
                        }
                    };
                    if got == 0 {
                        self.sayln("Unexpected EOF read from client");
                        return Ok(Conversation::Next(pos + 1));
                    }
                    dlen -= got;
                }
            } else {
                self.flush_out(conn, &mut pending)?;
                let data = ss == b".";
                let offset = if ss.starts_with(b"<<") {
                    2
                } else if ss.starts_with(b"<") {
                    1
                } else {
                    0
                };
                let deadline = self.deadline();
                if !linebuf {
                    // Unbuffered: read as many bytes as the script line has, then (unless
                    // `<<`) on to the end of the line.
                    let mut buffer: Vec<u8> = vec![b'<'; offset];
                    let mut chunk = vec![0u8; ss.len().saturating_sub(offset).max(1)];
                    let n = match reader.read_raw(&mut chunk, deadline) {
                        Ok(n) => n,
                        Err(NetError::Timeout) => return Err(timeout_err(self)),
                        Err(NetError::Io(_)) => 0,
                    };
                    if n == 0 {
                        self.eof_message(ss);
                        return Ok(Conversation::Next(pos + 1));
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if offset != 2 {
                        let mut one = [0u8; 1];
                        loop {
                            match reader.read_raw(&mut one, deadline) {
                                Ok(1) if one[0] == b'\n' => break,
                                Ok(1) => buffer.push(one[0]),
                                Ok(_) | Err(NetError::Io(_)) => break,
                                Err(NetError::Timeout) => return Err(timeout_err(self)),
                            }
                        }
                    }
                    // The line's CR goes, as its LF did (test 0259: an ident query
                    // "999 , 25\r\n" shows and compares as "999 , 25").
                    if offset != 2 && buffer.last() == Some(&b'\r') {
                        buffer.pop();
                    }
                    self.say(printable(&buffer).as_bytes());
                    self.say(b"\n");
                    if data {
                        // Swallow lines until one starting with a dot.
                        let mut one = [0u8; 1];
                        'body: loop {
                            let mut first = true;
                            let mut is_dot = false;
                            loop {
                                match reader.read_raw(&mut one, deadline) {
                                    Ok(1) => {}
                                    Ok(_) | Err(NetError::Io(_)) => break 'body,
                                    Err(NetError::Timeout) => return Err(timeout_err(self)),
                                }
                                if first {
                                    is_dot = one[0] == b'.';
                                    first = false;
                                }
                                if one[0] == b'\n' {
                                    break;
                                }
                            }
                            if is_dot {
                                break;
                            }
                        }
                    } else {
                        let mut expected = ss.to_vec();
                        expected.push(0);
                        let n = buffer.len();
                        if n > expected.len() || expected[..n] != buffer[..] {
                            self.say(b"Comparison failed - bailing out\nExpected: ");
                            let shown: Vec<u8> = (0..n)
                                .map(|i| expected.get(i).copied().unwrap_or(0))
                                .collect();
                            self.say(printable(&shown).as_bytes());
                            self.say(b"\n");
                            return Ok(Conversation::Stopped(pos));
                        }
                    }
                } else {
                    let mut last;
                    loop {
                        let line = match reader.read_line(BUFSIZE - offset - 1, deadline) {
                            Ok(Some(l)) => l,
                            Ok(None) => {
                                self.eof_message(ss);
                                return Ok(Conversation::Next(pos + 1));
                            }
                            Err(_) => return Err(timeout_err(self)),
                        };
                        let mut buffer: Vec<u8> = vec![b'<'; offset];
                        buffer.extend_from_slice(&line);
                        let shown = trim_end_c(cstr(&buffer)).to_vec();
                        self.say(&shown);
                        self.say(b"\n");
                        last = shown;
                        if !data || last == b"." {
                            break;
                        }
                    }
                    let want = cstr(ss);
                    if !last.starts_with(want) {
                        self.say(b"Comparison failed - bailing out\n");
                        self.say(b"Expected: ");
                        self.say(want);
                        self.say(b"\n");
                        return Ok(Conversation::Stopped(pos));
                    }
                }
            }
            pos += 1;
        }
        self.flush_out(conn, &mut pending)?;
        Ok(Conversation::Stopped(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_loading() {
        let mut input: &[u8] = b"220 hi \\x41\r\nEHLO  \n>>raw\n++++\nnot read\n";
        let s = load_script(&mut input).unwrap();
        assert_eq!(
            s.lines,
            vec![b"220 hi A".to_vec(), b"EHLO".to_vec(), b">>raw".to_vec()]
        );
        assert!(!s.linebuf);
        let mut input: &[u8] = b"220 hi\n.\n";
        assert!(load_script(&mut input).unwrap().linebuf);
    }

    #[test]
    fn peer_formatting() {
        let v4: SocketAddr = "127.0.0.1:5".parse().unwrap();
        assert_eq!(format_peer(&SockAddr::from(v4)), "127.0.0.1");
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:5".parse().unwrap();
        assert_eq!(format_peer(&SockAddr::from(mapped)), "10.1.2.3");
        let v6: SocketAddr = "[::1]:5".parse().unwrap();
        assert_eq!(format_peer(&SockAddr::from(v6)), "::1");
    }
}
