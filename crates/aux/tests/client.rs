//! `client` against real peers: our `server`, a rustls STARTTLS server made here with
//! rcgen certificates, and (when run as root) a real Exim daemon.

mod server_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use server_common::*;

fn client_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_client"))
}

#[test]
fn smtp_dialogue_with_server() {
    let srv = BgServer::start(
        &["-t", "10"],
        "220 Greetings\nEHLO\n250-Hello there\n250 HELP\nMAIL FROM\n250 OK\nDATA\n354 Send it\n.\n250 OK\nQUIT\n221 Bye\n",
        None,
    );
    let port = srv.port.to_string();
    let out = run_with_input(
        client_bin(),
        &["-t5", "127.0.0.1", &port],
        "??? 220\nEHLO test.ex\n??? 250-\n??? 250 HELP\nMAIL FROM:<a@b.c>\n??? 250\nDATA\n??? 354\nSubject: \\x41\\x42\n\n.\n??? 250\nQUIT\n??? 221\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text,
        format!(
            "Connecting to 127.0.0.1 port {port} ... connected\n??? 220\n<<< 220 Greetings\n>>> EHLO test.ex\n\
             ??? 250-\n<<< 250-Hello there\n??? 250 HELP\n<<< 250 HELP\n>>> MAIL FROM:<a@b.c>\n??? 250\n<<< 250 OK\n\
             >>> DATA\n??? 354\n<<< 354 Send it\n>>> Subject: \\x41\\x42\n>>> \n>>> .\n??? 250\n<<< 250 OK\n\
             >>> QUIT\n??? 221\n<<< 221 Bye\nEnd of script\n"
        )
    );
    let (rc, server_out) = srv.finish();
    assert_eq!(rc, 0);
    assert_eq!(
        server_out,
        format!(
            "Listening on port {port} ... \nConnection request from [127.0.0.1]\n220 Greetings\nEHLO test.ex\n\
             250-Hello there\n250 HELP\nMAIL FROM:<a@b.c>\n250 OK\nDATA\n354 Send it\nSubject: AB\n\n.\n250 OK\n\
             QUIT\n221 Bye\nEnd of script\n"
        )
    );
}

#[test]
fn mismatch_eof_and_optional_lines() {
    // Mismatch: exit 79 with client.c's banner.
    let srv = BgServer::start(&[], "220 Hi\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "??? 250\n",
    );
    assert_eq!(out.status.code(), Some(79));
    assert!(stdout_of(&out).ends_with("??? 250\n<<< 220 Hi\n\n******** Input mismatch ********\n"));
    srv.finish();

    // The server goes away: unexpected EOF is 80, an expected one is fine.
    let srv = BgServer::start(&[], "220 Hi\n>*eof\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "??? 220\n??? 250\n",
    );
    assert_eq!(out.status.code(), Some(80));
    assert!(stdout_of(&out).ends_with("??? 250\nUnexpected EOF read\n"));
    srv.finish();

    let srv = BgServer::start(&[], "220 Hi\n>*eof\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "??? 220\n???*\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout_of(&out).ends_with("???*\nExpected EOF read\nEnd of script\n"));
    srv.finish();

    // ????: any number of matching lines, read silently, then on with the rest unconsumed.
    let srv = BgServer::start(&[], "220-one\n220-two\n220 three\nQUIT\n221 bye\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "????220-\n??? 220 three\nQUIT\n??? 221\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("????220-\n??? 220 three\n<<< 220 three\n"),
        "{text}"
    );
    srv.finish();
}

#[test]
fn unconsumed_input_and_no_crlf_send() {
    let srv = BgServer::start(&[], "220-a\n220 b\n<<PART\n250 ok\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "??? 220-\nnoop\n",
    );
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stdout_of(&out).ends_with("Unconsumed input: 220 b\r\n   About to send: noop\n"),
        "{}",
        stdout_of(&out)
    );
    srv.finish();
}

#[test]
fn timeouts_and_connect_failures() {
    // Nobody answers: client.c's SIGALRM message and status 99; -t-N makes it 0.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = run_with_input(client_bin(), &["-t1", "127.0.0.1", &port], "??? 220\n");
    assert_eq!(out.status.code(), Some(99));
    assert!(stdout_of(&out).ends_with("??? 220\n\nClient timed out\n"));
    let out = run_with_input(client_bin(), &["-t-1", "127.0.0.1", &port], "??? 220\n");
    assert_eq!(out.status.code(), Some(0));
    drop(listener);

    // Connection refused: status 85.
    let out = run_with_input(client_bin(), &["127.0.0.1", &port], "??? 220\n");
    assert_eq!(out.status.code(), Some(85));
    assert_eq!(
        stdout_of(&out),
        format!("Connecting to 127.0.0.1 port {port} ... connect failed: Connection refused\n")
    );

    // Bad command lines.
    let out = run_with_input(client_bin(), &["-zz", "127.0.0.1", "25"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Unrecognized option -zz\n"
    );
    let out = run_with_input(client_bin(), &["--help"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout_of(&out).contains("Usage: client"));
}

#[test]
fn self_including_script_stops_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("loop");
    std::fs::write(&f, format!("noop\n<<< {}\n", f.display())).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sink = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
    });
    let out = run_with_input(
        client_bin(),
        &["-t5", "127.0.0.1", &port],
        &format!("<<< {}\n", f.display()),
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(74), "{text}");
    assert_eq!(text.matches(">>> noop\n").count(), 32, "{text}");
    assert!(
        text.ends_with(&format!(
            "{}:2: '<<< {}' nests includes more than 32 deep (does the file include itself?)\n",
            f.display(),
            f.display()
        )),
        "{text}"
    );
    sink.join().unwrap();
}

#[test]
fn most_negative_timeout_is_no_timeout_error() {
    // -t with i64::MIN: a magnitude that only fits u64; a timeout is then not an error.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let peer = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"220 hi\r\n").unwrap();
    });
    let out = run_with_input(
        client_bin(),
        &["-t-9223372036854775808", "127.0.0.1", &port],
        "??? 220\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(stdout_of(&out).ends_with("<<< 220 hi\nEnd of script\n"));
    peer.join().unwrap();
}

#[test]
fn endless_line_from_server_is_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let feeder = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..160 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = run_with_input(client_bin(), &["-t5", "127.0.0.1", &port], "??? 220\n");
    assert_eq!(out.status.code(), Some(73));
    assert!(stdout_of(&out)
        .ends_with("Input buffer overrun, need more than 102400 bytes input buffer\n"));
    feeder.join().unwrap();
}

// ---------------------------------------------------------------- TLS

struct Pki {
    ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&ca_key).unwrap();
        Pki { ca_cert, ca_key }
    }

    fn leaf(&self, name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        (cert, key)
    }
}

/// What the test TLS server saw.
#[derive(Debug)]
struct Seen {
    version: Option<rustls::ProtocolVersion>,
    client_cert: bool,
}

/// A one-shot SMTP server: greeting, EHLO, STARTTLS (unless `on_connect`), then TLS with
/// a line echo until QUIT. Client certificates are requested and checked against `ca`.
fn tls_server(
    pki: &Pki,
    on_connect: bool,
    versions: &'static [&'static rustls::SupportedProtocolVersion],
) -> (u16, mpsc::Receiver<Seen>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (cert, key) = pki.leaf("server.test.ex");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone(), pki.ca_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if !on_connect {
            sock.write_all(b"220 plain ready\r\n").unwrap();
            let _ehlo = read_plain_line(&mut sock);
            sock.write_all(b"250-test.ex\r\n250 STARTTLS\r\n").unwrap();
            let _starttls = read_plain_line(&mut sock);
            sock.write_all(b"220 TLS go ahead\r\n").unwrap();
        }
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        if on_connect {
            let _ = tls.write_all(b"220 tls ready\r\n");
        }
        let mut buf = Vec::new();
        let mut b = [0u8; 1];
        while let Ok(1) = tls.read(&mut b) {
            buf.push(b[0]);
            if b[0] == b'\n' {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                buf.clear();
                if line.eq_ignore_ascii_case("QUIT") {
                    let _ = tls.write_all(b"221 bye\r\n");
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    break;
                }
                let _ = tls.write_all(format!("250 echo {line}\r\n").as_bytes());
            }
        }
        let _ = tx.send(Seen {
            version: tls.conn.protocol_version(),
            client_cert: tls.conn.peer_certificates().is_some_and(|c| !c.is_empty()),
        });
    });
    (port, rx)
}

static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn write_pem(dir: &Path, name: &str, pem: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    p.display().to_string()
}

#[test]
fn starttls_with_and_without_client_cert() {
    let dir = tempfile::tempdir().unwrap();
    let gnutls = client_as("client-gnutls", dir.path());
    let pki = Pki::new("Test CA");
    let script = "??? 220\nEHLO x\n??? 250-\n??? 250\nstarttls\n??? 220\nhelo y\n??? 250 echo helo y\nQUIT\n??? 221\n???*\n";

    // No client certificate.
    let (port, seen) = tls_server(&pki, false, rustls::ALL_VERSIONS);
    let out = run_with_input(&gnutls, &["127.0.0.1", &port.to_string()], script);
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(">>> starttls\n??? 220\n<<< 220 TLS go ahead\nAttempting to start TLS\nSucceeded in starting TLS\n>>> helo y\n"), "{text}");
    assert!(
        text.ends_with("???*\nExpected EOF read\nEnd of script\n"),
        "{text}"
    );
    let s = seen.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(!s.client_cert);

    // A certificate from the CA the server names: sent. Cert and key in one file works.
    let (cert, key) = pki.leaf("client.test.ex");
    let both = write_pem(
        dir.path(),
        "both.pem",
        &format!("{}{}", cert.pem(), key.serialize_pem()),
    );
    let (port, seen) = tls_server(&pki, false, TLS12_ONLY);
    let out = run_with_input(
        &gnutls,
        &["127.0.0.1", &port.to_string(), &both, &both],
        script,
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("Certificate file = {both}\nKey file = {both}\n")),
        "{text}"
    );
    let s = seen.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(s.client_cert);
    assert_eq!(s.version, Some(rustls::ProtocolVersion::TLSv1_2));

    // A certificate from another CA: withheld, as GnuTLS does.
    let other = Pki::new("Other CA");
    let (cert, key) = other.leaf("client.other");
    let c = write_pem(dir.path(), "other.crt", &cert.pem());
    let k = write_pem(dir.path(), "other.key", &key.serialize_pem());
    let (port, seen) = tls_server(&pki, false, rustls::ALL_VERSIONS);
    let out = run_with_input(&gnutls, &["127.0.0.1", &port.to_string(), &c, &k], script);
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(
        !seen
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .client_cert
    );
}

#[test]
fn priority_string_pins_tls12_and_tls_on_connect_works() {
    let dir = tempfile::tempdir().unwrap();
    let anytls = client_as("client-anytls", dir.path());
    let pki = Pki::new("Test CA");
    let (port, seen) = tls_server(&pki, true, rustls::ALL_VERSIONS);
    let out = run_with_input(
        &anytls,
        &[
            "-tls-on-connect",
            "-p",
            "NONE:+VERS-TLS1.2:+ECDHE-ECDSA:+CIPHER-ALL:+SIGN-ALL:+CURVE-ALL",
            "127.0.0.1",
            &port.to_string(),
        ],
        "??? 220 tls\nQUIT\n??? 221\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with(&format!(
        "Connecting to 127.0.0.1 port {port} ... connected\nAttempting to start TLS\nSucceeded in starting TLS\n??? 220 tls\n"
    )), "{text}");
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(10)).unwrap().version,
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn failed_handshake_falls_back_to_clear_text() {
    // A "server" that answers the ClientHello with a fatal alert and clear text: the
    // GnuTLS error text, "Failed to start TLS", and the clear text is still readable.
    let dir = tempfile::tempdir().unwrap();
    let gnutls = client_as("client-gnutls", dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"220 hi\r\n").unwrap();
        let _ = read_plain_line(&mut s);
        s.write_all(b"220 go ahead\r\n").unwrap();
        let mut hello = [0u8; 5];
        s.read_exact(&mut hello).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([hello[3], hello[4]]))];
        s.read_exact(&mut body).unwrap();
        // A fatal handshake_failure alert, then Exim's clear-text reply.
        s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
            .unwrap();
        s.write_all(b"554 Security failure\r\n").unwrap();
        thread::sleep(Duration::from_millis(500));
    });
    let out = run_with_input(
        &gnutls,
        &["127.0.0.1", &port.to_string()],
        "??? 220\nSTARTTLS\n??? 220\n??? 554\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Attempting to start TLS\nA TLS fatal alert has been received.\nFailed to start TLS\n??? 554\n<<< 554 Security failure\n"), "{text}");
    t.join().unwrap();

    // The plain client does not know STARTTLS: it is just a line.
    let srv = BgServer::start(&[], "220 hi\nstarttls\n220 go\n", None);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &srv.port.to_string()],
        "??? 220\nstarttls\n??? 220\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!stdout_of(&out).contains("Attempting"));
    srv.finish();

    // stoptls without TLS is an error in the TLS builds.
    let srv = BgServer::start(&[], "220 hi\n", None);
    let out = run_with_input(
        &gnutls,
        &["127.0.0.1", &srv.port.to_string()],
        "??? 220\nstoptls\n",
    );
    assert_eq!(out.status.code(), Some(77));
    assert!(stdout_of(&out).ends_with("STOPTLS read when TLS not active\n"));
    srv.finish();
}

// ---------------------------------------------------------------- real Exim

/// The client against Debian's exim4 daemon with a minimal queue-only config. Needs
/// root (Exim keeps privilege for -C only for root) and /usr/sbin/exim4; skipped otherwise.
#[test]
fn client_against_real_exim_daemon() {
    let exim = Path::new("/usr/sbin/exim4");
    // SAFETY: geteuid has no preconditions.
    if !exim.exists() || unsafe { libc::geteuid() } != 0 {
        eprintln!("needs root and /usr/sbin/exim4: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spool = d.join("spool");
    std::fs::create_dir(&spool).unwrap();
    let status = std::process::Command::new("chown")
        .arg("Debian-exim:")
        .arg(&spool)
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let config = d.join("exim.conf");
    std::fs::write(
        &config,
        format!(
            "primary_hostname = mailrig.test\nspool_directory = {spool}\nlog_file_path = {spool}/%slog\n\
             notifier_socket =\nqueue_only\nacl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  accept\n",
            spool = spool.display()
        ),
    )
    .unwrap();
    let pidfile = d.join("exim.pid");
    let mut daemon = std::process::Command::new(exim)
        .arg("-C")
        .arg(&config)
        .args(["-bdf", "-oX", &port.to_string(), "-oP"])
        .arg(&pidfile)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start exim daemon");
    wait_for_file(&pidfile);
    let out = run_with_input(
        client_bin(),
        &["127.0.0.1", &port.to_string()],
        "??? 220\nEHLO client.test\n????250-\n??? 250 \nMAIL FROM:<a@mailrig.test>\n??? 250\n\
         RCPT TO:<b@mailrig.test>\n??? 250\nDATA\n??? 354\nSubject: hi\n\nbody\n.\n??? 250 OK id=\nQUIT\n??? 221\n",
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("<<< 220 mailrig.test ESMTP Exim"), "{text}");
    assert!(text.contains("??? 250 OK id=\n<<< 250 OK id="), "{text}");
    assert!(
        text.ends_with("<<< 221 mailrig.test closing connection\nEnd of script\n"),
        "{text}"
    );
}
