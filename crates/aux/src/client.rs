//! The scripted SMTP client (Exim's test/src/client.c): connect, then follow the script
//! on stdin: `??? ` expect, `???*` expect EOF, `????` optional responses, `+++ N` sleep,
//! `<<< file` include, `>>> ` send without CRLF, anything else send with CRLF; the TLS
//! flavour adds `starttls`, `starttls_wait`, `stoptls` and `-tls-on-connect`.
//! `client-ssl` prints what client.c built with OpenSSL prints (its callbacks' lines come
//! from `ssl_info`); the other TLS names print what the GnuTLS build prints.
//!
//! Output wording and exit codes are client.c's: they are compared with saved files and
//! checked by test scripts. Buffering follows client.c's too (one input buffer consumed
//! line by line, quirks included), because what a test sees depends on it.

use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::client_args::{ClientArgs, Flavour};
use crate::net::{self, Deadline, NetError};
use crate::script::{atoi, cstr, read_line_bounded, unescape_client};
use crate::ssl_info;
use crate::tls::{TlsClient, TlsError, TlsSession, TlsSettings};

/// Size of client.c's input buffer; a response line longer than this is an error.
const INBUF_SIZE: usize = 100 * 1024;
/// Size of client.c's script line buffer (`fgets` splits longer lines).
const SCRIPT_LINE_MAX: usize = 20 * 1024 - 1;
/// How deep `<<<` includes may nest (client.c has no limit and recurses until it runs
/// out of file descriptors or stack when a file includes itself).
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// What one script line (without its newline) asks for, in client.c's order of tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptLine<'a> {
    /// `??? text`, `???*` (expect EOF) or `???? text` (optional responses).
    Expect,
    /// `+++ N`: print the line and sleep N seconds (a bad or negative N is 0, as atoi).
    Sleep(u64),
    /// `<<< file`: play the named file, then go on.
    Include(&'a [u8]),
    /// Anything else: send the line (`>>> text` without CRLF; TLS words handled there).
    Send,
}

/// Classify a script line.
pub fn classify(line: &[u8]) -> ScriptLine<'_> {
    if line.len() >= 4 && line.starts_with(b"???") && matches!(line[3], b' ' | b'*' | b'?') {
        ScriptLine::Expect
    } else if let Some(n) = line.strip_prefix(b"+++ ") {
        ScriptLine::Sleep(u64::try_from(atoi(n)).unwrap_or(0))
    } else if let Some(name) = line.strip_prefix(b"<<< ") {
        ScriptLine::Include(name)
    } else {
        ScriptLine::Send
    }
}

/// How a refill of the input buffer ended.
enum Refill {
    /// Data holding a newline (or a full buffer's worth) arrived.
    Data,
    /// The server closed the connection (or the TLS session, properly).
    Eof,
    /// read() failed.
    Error(std::io::Error),
    /// The TLS session failed; it has been dropped and reading goes on in clear.
    TlsFailed,
}

use crate::transcript;
pub use crate::transcript::Exit;

/// Everything the client does, writing its report to `out` (stdout) and `err` (stderr).
pub fn run(
    flavour: Flavour,
    args: &ClientArgs,
    script: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut c = Client {
        flavour,
        args,
        out,
        err,
        sock: None,
        tls_client: None,
        tls: None,
        inbuf: Vec::new(),
        inptr: 0,
        sent_starttls: false,
    };
    match c.run(script) {
        Ok(()) => 0,
        Err(Exit(code)) => code,
    }
}

/// Play `script` over a socket that is already connected (no `Connecting to …` line,
/// no TLS set-up): the script part of [`run`] alone, for the fuzz targets and tests that
/// drive the client through a socket pair. Plain flavour only.
pub fn run_connected(
    args: &ClientArgs,
    sock: Socket,
    script: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut c = Client {
        flavour: Flavour::Plain,
        args,
        out,
        err,
        sock: Some(sock),
        tls_client: None,
        tls: None,
        inbuf: Vec::new(),
        inptr: 0,
        sent_starttls: false,
    };
    match c.do_file(script, "stdin", 0) {
        Ok(()) => 0,
        Err(Exit(code)) => code,
    }
}

struct Client<'a> {
    flavour: Flavour,
    args: &'a ClientArgs,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    sock: Option<Socket>,
    tls_client: Option<TlsClient>,
    tls: Option<TlsSession>,
    /// Received data not yet consumed; a NUL at `inptr` (or the end) means empty, as
    /// in client.c's C-string buffer.
    inbuf: Vec<u8>,
    inptr: usize,
    sent_starttls: bool,
}

/// Where a parsed address points.
fn parse_ip(s: &str, v6: bool) -> Option<IpAddr> {
    if v6 {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// `strncmp(a, b, n) == 0` with both sides read as C strings.
fn strncmp_eq(a: &[u8], b: &[u8], n: usize) -> bool {
    for i in 0..n {
        let ca = a.get(i).copied().unwrap_or(0);
        let cb = b.get(i).copied().unwrap_or(0);
        if ca != cb {
            return false;
        }
        if ca == 0 {
            return true;
        }
    }
    true
}

impl Client<'_> {
    fn say(&mut self, bytes: &[u8]) {
        transcript::say(self.out, bytes);
    }

    fn sayln(&mut self, s: &str) {
        self.say(format!("{s}\n").as_bytes());
    }

    /// client.c's SIGALRM handler.
    fn timed_out(&mut self) -> Exit {
        transcript::timed_out(self.out, "Client", self.args.tmo_noerror)
    }

    fn sock(&self) -> &Socket {
        // Only called after connect() succeeded.
        self.sock
            .as_ref()
            .expect("socket is connected before the script runs")
    }

    fn deadline(&self) -> Deadline {
        Deadline::after_secs(self.args.timeout)
    }

    fn run(&mut self, script: &mut dyn BufRead) -> Result<(), Exit> {
        self.connect()?;

        if self.flavour == Flavour::Ssl {
            self.load_openssl_files()?;
        }
        if self.flavour == Flavour::Tls {
            if let Some(f) = &self.args.certfile {
                self.sayln(&format!("Certificate file = {f}"));
            }
            if let Some(f) = &self.args.keyfile {
                self.sayln(&format!("Key file = {f}"));
            }
        }
        if self.flavour.is_tls() {
            let settings = TlsSettings {
                priority: self.args.priority.clone(),
                certfile: self.args.certfile.clone(),
                keyfile: self.args.keyfile.clone(),
                ocsp_ca: self.args.ocsp.clone(),
                openssl: self.flavour == Flavour::Ssl,
            };
            match TlsClient::new(&settings) {
                Ok(t) => self.tls_client = Some(t),
                Err(_) if self.flavour == Flavour::Ssl => {
                    // A key that does not match the certificate: OpenSSL's
                    // SSL_CTX_use_PrivateKey_file refuses it.
                    self.sayln("SSL_CTX_use_PrivateKey_file failed");
                    return Err(Exit(84));
                }
                Err(e) => {
                    let _ = writeln!(self.err, "{e}");
                    return Err(Exit(98));
                }
            }
            if self.args.tls_on_connect {
                self.sayln("Attempting to start TLS");
                self.start_tls(false)?;
            }
        }

        self.do_file(script, "stdin", 0)?;

        self.sayln("End of script");
        let sock = self.sock();
        let _ = sock.shutdown(std::net::Shutdown::Write);
        // Drain until the server closes, but never wait longer than the timeout.
        let deadline = self.deadline();
        let mut buf = [0u8; 4096];
        while let Ok(n) = net::read_some(sock, &mut buf, deadline) {
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    fn connect(&mut self) -> Result<(), Exit> {
        let a = self.args;
        self.say(format!("Connecting to {} port {} ... ", a.address, a.port).as_bytes());
        let v6 = a.address.contains(':');
        let Some(ip) = parse_ip(&a.address, v6) else {
            self.say(format!("Unable to parse \"{}\"\n", a.address).as_bytes());
            return Err(Exit(2));
        };
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let sock = match Socket::new(domain, Type::STREAM, Some(Protocol::TCP)) {
            Ok(s) => s,
            Err(e) => {
                self.sayln(&format!("socket creation failed: {}", net::strerror(&e)));
                return Err(Exit(1));
            }
        };
        if let Some(iface) = &a.interface {
            // As in client.c, an interface of the other family is silently ignored.
            if iface.contains(':') == v6 {
                let Some(local) = parse_ip(iface, v6) else {
                    self.say(format!("Unable to parse \"{iface}\"\n").as_bytes());
                    return Err(Exit(2));
                };
                if let Err(e) = sock.bind(&SockAddr::from(SocketAddr::new(local, 0))) {
                    self.sayln(&format!(
                        "Unable to bind outgoing SMTP call to {iface}: {}",
                        net::strerror(&e)
                    ));
                    return Err(Exit(1));
                }
            }
        }
        let target = SockAddr::from(SocketAddr::new(ip, a.port));
        let res = if a.timeout == 0 {
            sock.connect(&target)
        } else {
            sock.connect_timeout(&target, Duration::from_secs(a.timeout))
        };
        match res {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                return Err(self.timed_out())
            }
            Err(e) => {
                // client.c: a refused or failed connect() is status 85.
                self.sayln(&format!("connect failed: {}", net::strerror(&e)));
                return Err(Exit(85));
            }
        }
        self.sayln("connected");
        self.sock = Some(sock);
        Ok(())
    }

    /// client.c's OpenSSL set-up: `SSL_CTX_use_certificate_file` then
    /// `SSL_CTX_use_PrivateKey_file`, each reported on stdout, each fatal when it fails.
    fn load_openssl_files(&mut self) -> Result<(), Exit> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        if let Some(f) = self.args.certfile.clone() {
            if !CertificateDer::pem_file_iter(&f)
                .is_ok_and(|mut it| matches!(it.next(), Some(Ok(_))))
            {
                self.sayln("SSL_CTX_use_certificate_file failed");
                return Err(Exit(83));
            }
            self.sayln(&format!("Certificate file = {f}"));
        }
        if let Some(f) = self.args.keyfile.clone() {
            if PrivateKeyDer::from_pem_file(&f).is_err() {
                self.sayln("SSL_CTX_use_PrivateKey_file failed");
                return Err(Exit(84));
            }
            self.sayln(&format!("Key file = {f}"));
        }
        Ok(())
    }

    /// Handshake and report, as client.c does after `-tls-on-connect` or a 2xx reply to
    /// STARTTLS (`after_starttls` selects the fuller certificate checks of that path).
    /// The server's address (for the certificate's IP SANs), unspecified on a unix socket.
    fn peer_ip(&self) -> IpAddr {
        match self.sock().peer_addr().ok().and_then(|a| a.as_socket()) {
            Some(a) => a.ip(),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    fn start_tls(&mut self, after_starttls: bool) -> Result<(), Exit> {
        if self.flavour == Flavour::Ssl {
            return self.start_tls_openssl();
        }
        let Some(tc) = self.tls_client.as_ref() else {
            return Ok(());
        };
        let peer = self.peer_ip();
        let result = tc.handshake(self.sock(), peer, self.deadline());
        let report = tc.report();
        match result {
            Err(TlsError::Timeout) => return Err(self.timed_out()),
            Err(TlsError::Failed(text)) => {
                self.sayln(text);
                self.sayln("Failed to start TLS");
            }
            Ok(session) => {
                use crate::tls_ocsp::GnutlsVerdict as V;
                self.tls = Some(session);
                if self.args.ocsp.is_none() {
                    self.sayln("Succeeded in starting TLS");
                } else if !after_starttls {
                    // The -tls-on-connect path asks gnutls_ocsp_status_request_is_checked()
                    // without calling gnutls_certificate_verify_peers2() first, and GnuTLS
                    // checks a stapled response only there (measured with GnuTLS 3.7.9:
                    // 0 before the verify call, 1 after it, for a good response).
                    self.sayln("Failed to verify certificate status");
                } else if report.chain_verified == Some(false)
                    || matches!(report.gnutls_ocsp, Some(V::Bad(_)))
                {
                    // GnuTLS sets GNUTLS_CERT_INVALID for any unusable, revoked or stale
                    // response, as for a chain that does not verify.
                    self.sayln("Bad certificate");
                } else if report.gnutls_ocsp != Some(V::Good) {
                    self.sayln("Failed to verify certificate status");
                    // client.c then tries to print the response on stderr; with none
                    // stapled, gnutls_ocsp_status_request_get() fails.
                    let _ = write!(
                        self.err,
                        "ocsp decode: The requested data were not available."
                    );
                    let _ = self.err.flush();
                } else {
                    self.sayln("Succeeded in starting TLS");
                }
            }
        }
        Ok(())
    }

    /// client.c's `tls_start` for OpenSSL, with its callbacks' lines.
    fn start_tls_openssl(&mut self) -> Result<(), Exit> {
        let Some(tc) = self.tls_client.as_ref() else {
            return Ok(());
        };
        let peer = self.peer_ip();
        let result = tc.handshake(self.sock(), peer, self.deadline());
        let report = tc.report();
        let trace = ssl_info::Trace {
            tls13: report.tls13,
            report,
            ocsp: self.args.ocsp.is_some(),
        };
        match result {
            Err(TlsError::Timeout) => {
                // client.c's own alarm around SSL_connect: not fatal.
                self.sayln("SSL_connect timed out");
                self.sayln("Failed to start TLS");
            }
            Err(TlsError::Failed(_)) => {
                for l in ssl_info::failure_lines(&trace) {
                    self.sayln(&l);
                }
                self.sayln("Failed to start TLS");
            }
            Ok(session) => {
                self.tls = Some(session);
                for l in ssl_info::success_lines(&trace) {
                    self.sayln(&l);
                }
                self.sayln("Succeeded in starting TLS");
            }
        }
        Ok(())
    }

    /// Play one script file: `source` names it in messages (`stdin` for the top level),
    /// `depth` counts the `<<<` includes that led here.
    fn do_file(
        &mut self,
        script: &mut dyn BufRead,
        source: &str,
        depth: usize,
    ) -> Result<(), Exit> {
        let mut lineno = 0usize;
        loop {
            let mut line = match read_line_bounded(script, SCRIPT_LINE_MAX) {
                Ok(Some(l)) => l,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.sayln(&format!("Script read error: {}", net::strerror(&e)));
                    return Err(Exit(1));
                }
            };
            lineno += 1;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            match classify(&line) {
                ScriptLine::Expect => self.expect(&line)?,
                ScriptLine::Sleep(secs) => {
                    self.say(&line);
                    self.say(b"\n");
                    std::thread::sleep(Duration::from_secs(secs));
                }
                ScriptLine::Include(name) => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    if depth >= MAX_INCLUDE_DEPTH {
                        self.sayln(&format!(
                            "{source}:{lineno}: '<<< {name}' nests includes more than {MAX_INCLUDE_DEPTH} deep \
                             (does the file include itself?)"
                        ));
                        return Err(Exit(74));
                    }
                    match std::fs::File::open(&name) {
                        Ok(f) => self.do_file(&mut std::io::BufReader::new(f), &name, depth + 1)?,
                        Err(e) => {
                            self.sayln(&format!("Unable to open '{name}': {}", net::strerror(&e)));
                            return Err(Exit(74));
                        }
                    }
                }
                ScriptLine::Send => self.send(&line)?,
            }
        }
    }

    fn input_empty(&self) -> bool {
        self.inbuf.get(self.inptr).is_none_or(|&b| b == 0)
    }

    /// Read until a chunk holding a newline arrives (client.c's refill loop).
    fn refill(&mut self) -> Result<Refill, Exit> {
        let deadline = self.deadline();
        self.inbuf.clear();
        self.inptr = 0;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let room = (INBUF_SIZE - 1).saturating_sub(self.inbuf.len());
            if room == 0 {
                self.sayln(&format!(
                    "Input buffer overrun, need more than {INBUF_SIZE} bytes input buffer"
                ));
                return Err(Exit(73));
            }
            let want = room.min(chunk.len());
            let n = if let Some(tls) = self.tls.as_mut() {
                let sock = self.sock.as_ref().expect("connected");
                let r = tls.read(sock, &mut chunk[..want], deadline);
                if self.flavour == Flavour::Ssl {
                    // OpenSSL's info callback reports tickets and a close_notify read
                    // inside SSL_read, before the data is returned.
                    let tickets = self.tls_client.as_ref().map_or(0, |t| t.take_new_tickets());
                    for l in ssl_info::ticket_lines(tickets) {
                        self.sayln(&l);
                    }
                    if matches!(r, Ok(0)) {
                        self.sayln(&ssl_info::close_notify_line());
                    }
                }
                match r {
                    Ok(n) => n,
                    Err(TlsError::Timeout) => return Err(self.timed_out()),
                    Err(TlsError::Failed(text)) => {
                        // client.c prints the library's error, drops TLS and reads again
                        // from the socket in clear.
                        let text = if self.flavour == Flavour::Ssl {
                            ssl_info::read_error_text(text)
                        } else {
                            text.to_string()
                        };
                        self.sayln(&text);
                        self.tls = None;
                        self.inbuf.clear();
                        self.inptr = 0;
                        return Ok(Refill::TlsFailed);
                    }
                }
            } else {
                match net::read_some(self.sock(), &mut chunk[..want], deadline) {
                    Ok(n) => n,
                    Err(NetError::Timeout) => return Err(self.timed_out()),
                    Err(NetError::Io(e)) => return Ok(Refill::Error(e)),
                }
            };
            if n == 0 {
                return Ok(Refill::Eof);
            }
            let got = &chunk[..n];
            self.inbuf.extend_from_slice(got);
            // client.c looks for the newline with strchr(), which stops at a NUL.
            if cstr(got).contains(&b'\n') {
                return Ok(Refill::Data);
            }
        }
    }

    fn expect(&mut self, line: &[u8]) -> Result<(), Exit> {
        let exp_eof = line[3] == b'*';
        let optional = line[3] == b'?';
        self.say(line);
        self.say(b"\n");
        let pattern = unescape_client(line);
        let pattern = &pattern[4.min(pattern.len())..];

        loop {
            // nextinput:
            if self.input_empty() {
                match self.refill()? {
                    // Start over, reading in clear (client.c's "goto nextinput").
                    Refill::TlsFailed => continue,
                    Refill::Error(e) => {
                        self.sayln(&format!("Read error: {}", net::strerror(&e)));
                        return Err(Exit(81));
                    }
                    Refill::Eof => {
                        self.inbuf.clear();
                        self.inptr = 0;
                        if exp_eof {
                            self.sayln("Expected EOF read");
                            return Ok(());
                        } else if optional {
                            return Ok(());
                        } else {
                            self.sayln("Unexpected EOF read");
                            return Err(Exit(80));
                        }
                    }
                    Refill::Data if exp_eof => {
                        self.sayln("Expected EOF not read");
                        return Err(Exit(74));
                    }
                    Refill::Data => self.inptr = 0,
                }
            }

            // Find the end of the line; a CR, LF or CRLF ends it.
            let start = self.inptr;
            let mut p = start;
            while p < self.inbuf.len() && !matches!(self.inbuf[p], 0 | b'\r' | b'\n') {
                p += 1;
            }
            let text_end = p;
            if p < self.inbuf.len() && self.inbuf[p] != 0 {
                self.inbuf[p] = 0;
                p += 1;
                if self.inbuf.get(p) == Some(&b'\n') {
                    p += 1;
                }
            }
            self.inptr = p;
            let received = self.inbuf[start..text_end].to_vec();
            let matched = strncmp_eq(&received, pattern, pattern.len());

            if optional {
                // A `????` line is silent about what it reads: a matching line is
                // consumed (and the next one tried while input is buffered), a line that
                // does not match is left for the next script line (it now ends at the NUL
                // that replaced its terminator, as in client.c).
                if !matched {
                    self.inptr = start;
                    return Ok(());
                }
                if !self.input_empty() {
                    continue;
                }
                return Ok(());
            }

            self.say(b"<<< ");
            self.say(&received);
            self.say(b"\n");
            if !matched {
                self.say(b"\n******** Input mismatch ********\n");
                return Err(Exit(79));
            }

            if self.flavour.is_tls() && self.sent_starttls {
                if received.first() == Some(&b'2') {
                    self.sayln("Attempting to start TLS");
                    self.start_tls(true)?;
                } else {
                    self.sayln("Abandoning TLS start attempt");
                }
            }
            self.sent_starttls = false;
            return Ok(());
        }
    }

    fn send(&mut self, line: &[u8]) -> Result<(), Exit> {
        let (mut text, crlf) = match line.strip_prefix(b">>> ") {
            Some(rest) => (rest.to_vec(), false),
            None => (line.to_vec(), true),
        };

        if !self.input_empty() {
            let rest = cstr(&self.inbuf[self.inptr..]).to_vec();
            self.say(b"Unconsumed input: ");
            self.say(&rest);
            self.say(b"   About to send: ");
            self.say(&text);
            self.say(b"\n");
            return Err(Exit(78));
        }

        if self.flavour.is_tls() {
            let word = cstr(&text);
            if word == b"stoptls" || word == b"STOPTLS" {
                let Some(session) = self.tls.take() else {
                    self.sayln("STOPTLS read when TLS not active");
                    return Err(Exit(77));
                };
                self.sayln("Shutting down TLS encryption");
                session.bye(self.sock(), self.deadline());
                if self.flavour == Flavour::Ssl {
                    // SSL_shutdown's close_notify goes through the info callback.
                    self.sayln(&ssl_info::close_notify_line());
                }
                return Ok(());
            }
            self.sent_starttls = word == b"starttls" || word == b"STARTTLS";
            if word == b"starttls_wait" {
                text.truncate(8);
            }
        }

        self.say(b">>> ");
        self.say(cstr(&text));
        self.say(b"\n");
        if crlf {
            text.extend_from_slice(b"\r\n");
        }
        let data = unescape_client(&text);
        let deadline = self.deadline();
        if let Some(tls) = self.tls.as_mut() {
            let sock = self.sock.as_ref().expect("connected");
            match tls.write_all(sock, &data, deadline) {
                Ok(()) => Ok(()),
                Err(TlsError::Timeout) => Err(self.timed_out()),
                Err(TlsError::Failed(t)) => {
                    self.sayln(&format!("GnuTLS write error: {t}"));
                    Err(Exit(76))
                }
            }
        } else {
            match net::write_all(self.sock(), &data, deadline) {
                Ok(()) => Ok(()),
                Err(NetError::Timeout) => Err(self.timed_out()),
                Err(NetError::Io(e)) => {
                    self.sayln(&format!("Write error: {}", net::strerror(&e)));
                    Err(Exit(75))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines() {
        assert_eq!(classify(b"??? 250"), ScriptLine::Expect);
        assert_eq!(classify(b"???*"), ScriptLine::Expect);
        assert_eq!(classify(b"????250-"), ScriptLine::Expect);
        assert_eq!(classify(b"???"), ScriptLine::Send);
        assert_eq!(classify(b"+++ 2"), ScriptLine::Sleep(2));
        assert_eq!(classify(b"+++ -2"), ScriptLine::Sleep(0));
        assert_eq!(
            classify(b"+++ 99999999999999999999999"),
            ScriptLine::Sleep(i64::MAX as u64)
        );
        assert_eq!(classify(b"<<< file"), ScriptLine::Include(b"file"));
        assert_eq!(classify(b">>> x"), ScriptLine::Send);
        assert_eq!(classify(b""), ScriptLine::Send);
    }

    /// Play `script` against a peer that has already sent `data` and closed.
    fn play_against(data: &[u8], script: &str) -> (i32, String) {
        use std::io::Write as _;
        let (ours, mut theirs) = Socket::pair(Domain::UNIX, Type::STREAM, None).unwrap();
        theirs.write_all(data).unwrap();
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        let args = crate::client_args::parse(
            Flavour::Plain,
            &["-t2".into(), "127.0.0.1".into(), "25".into()],
        )
        .unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_connected(&args, ours, &mut script.as_bytes(), &mut out, &mut err);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn optional_lines_are_read_silently() {
        // Matching lines are consumed without a `<<<` line; the first that does not match
        // is left for the next script line.
        let (code, out) = play_against(b"250-a\r\n250 b\r\n220 go\r\n", "????250\n??? 220\n");
        assert_eq!((code, out.as_str()), (0, "????250\n??? 220\n<<< 220 go\n"));
        // At EOF a `????` line is satisfied; a plain `???` is not.
        let (code, out) = play_against(b"", "????250\n");
        assert_eq!((code, out.as_str()), (0, "????250\n"));
        let (code, out) = play_against(b"", "??? 250\n");
        assert_eq!((code, out.as_str()), (80, "??? 250\nUnexpected EOF read\n"));
    }

    #[test]
    fn refused_connection_is_status_85() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        drop(listener);
        let args =
            crate::client_args::parse(Flavour::Plain, &["127.0.0.1".into(), port.clone()]).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            Flavour::Plain,
            &args,
            &mut "??? 220\n".as_bytes(),
            &mut out,
            &mut err,
        );
        assert_eq!(code, 85);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("Connecting to 127.0.0.1 port {port} ... connect failed: Connection refused\n")
        );
    }

    #[test]
    fn strncmp_semantics() {
        assert!(strncmp_eq(b"250-OK there", b"250-", 4));
        assert!(!strncmp_eq(b"250 OK", b"250-", 4));
        assert!(strncmp_eq(b"anything", b"", 0));
        // The received line is shorter than the pattern: mismatch.
        assert!(!strncmp_eq(b"25", b"250", 3));
        // A NUL in the pattern ends the comparison.
        assert!(strncmp_eq(b"ab", b"ab\0zz", 5));
    }
}
