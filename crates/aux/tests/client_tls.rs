//! The TLS builds of `client` against real peers with real OCSP responses: Debian's Exim
//! daemon (GnuTLS) stapling responses made by `openssl ocsp`, and a rustls STARTTLS server
//! for what Exim will not staple (GnuTLS refuses to load a "revoked" response). Also the
//! peer failures of a TLS session: an endless line, an early close, a bad script.
//!
//! Needs the `openssl` command (package openssl; tools/ensure-deps installs it); the Exim
//! tests also need root and /usr/sbin/exim4 (exim4-daemon-heavy), as in tests/client.rs.

mod server_common;

use server_common::read_plain_line;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use server_common::*;

/// Run a command that must succeed (PKI set-up).
fn must(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is the openssl package installed? tools/ensure-deps installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate, an OCSP responder it delegated to, a foreign responder,
/// and the responses: good, revoked, signed by the foreign responder (its certificate
/// included: "wrongkey"), and signed by it without its certificate ("nocerts").
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ossl = || {
            let mut c = Command::new("openssl");
            c.current_dir(d).stdin(Stdio::null());
            c
        };
        std::fs::write(
            d.join("ext.cnf"),
            "[srv]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:server.test.ex\nextendedKeyUsage=serverAuth\n\
             [resp]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning\n",
        )
        .unwrap();
        must(ossl().args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]));
        for (name, cn, serial, ext) in [
            ("srv", "server.test.ex", "0x1001", "srv"),
            ("resp", "OCSP signer", "0x2001", "resp"),
        ] {
            must(ossl().args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ]));
            must(ossl().args([
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                serial,
                "-days",
                "30",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                &format!("{name}.pem"),
            ]));
        }
        must(ossl().args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rogue.key",
            "-out",
            "rogue.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Rogue signer",
            "-addext",
            "extendedKeyUsage=OCSPSigning",
        ]));
        // openssl ocsp's index format: status, expiry, revocation time, serial, file, subject.
        std::fs::write(
            d.join("good.idx"),
            "V\t491231235959Z\t\t1001\tunknown\t/CN=server.test.ex\n",
        )
        .unwrap();
        std::fs::write(
            d.join("revoked.idx"),
            "R\t491231235959Z\t200101000000Z\t1001\tunknown\t/CN=server.test.ex\n",
        )
        .unwrap();
        for (out, idx, signer, extra) in [
            ("good.der", "good.idx", "resp", None),
            ("revoked.der", "revoked.idx", "resp", None),
            ("wrongkey.der", "good.idx", "rogue", None),
            ("nocerts.der", "good.idx", "rogue", Some("-resp_no_certs")),
        ] {
            let mut c = ossl();
            c.args([
                "ocsp",
                "-index",
                idx,
                "-rsigner",
                &format!("{signer}.pem"),
                "-rkey",
                &format!("{signer}.key"),
                "-CA",
                "ca.pem",
                "-issuer",
                "ca.pem",
                "-cert",
                "srv.pem",
                "-respout",
                out,
                "-ndays",
                "7",
            ]);
            if let Some(x) = extra {
                c.arg(x);
            }
            must(&mut c);
        }
        // Exim reads the key after dropping privilege.
        must(Command::new("chmod").arg("644").arg(d.join("srv.key")));
        must(Command::new("chmod").arg("755").arg(d));
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn root_with_exim() -> bool {
    // SAFETY: geteuid has no preconditions.
    Path::new("/usr/sbin/exim4").exists() && unsafe { libc::geteuid() } == 0
}

/// Debian's Exim as a daemon on a free loopback port, stapling `ocsp` (none if `None`).
struct Exim {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Exim {
    fn start(pki: &Pki, ocsp: Option<&str>) -> Exim {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let spool = d.join("spool");
        std::fs::create_dir(&spool).unwrap();
        must(Command::new("chown").arg("Debian-exim:").arg(&spool));
        must(Command::new("chmod").arg("755").arg(d));
        let port = free_port();
        let ocsp_line = ocsp
            .map(|f| format!("tls_ocsp_file = {}\n", pki.s(f)))
            .unwrap_or_default();
        let config = d.join("exim.conf");
        std::fs::write(
            &config,
            format!(
                "primary_hostname = mailrig.test\nspool_directory = {spool}\nlog_file_path = {spool}/%slog\n\
                 notifier_socket =\nqueue_only\ntls_advertise_hosts = *\ntls_certificate = {cert}\n\
                 tls_privatekey = {key}\n{ocsp_line}acl_smtp_rcpt = rcpt\nbegin acl\nrcpt:\n  accept\n",
                spool = spool.display(),
                cert = pki.s("srv.pem"),
                key = pki.s("srv.key"),
            ),
        )
        .unwrap();
        let pidfile = d.join("exim.pid");
        let child = Command::new("/usr/sbin/exim4")
            .arg("-C")
            .arg(&config)
            .args(["-bdf", "-oX", &port.to_string(), "-oP"])
            .arg(&pidfile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start exim daemon");
        wait_for_file(&pidfile);
        Exim {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const STARTTLS_SCRIPT: &str = "??? 220\nEHLO x\n????250-\n??? 250 \nSTARTTLS\n??? 220\nEHLO y\n????250-\n??? 250 \nQUIT\n??? 221\n";

/// What follows "Attempting to start TLS" up to the first script line after it.
fn tls_part(text: &str) -> String {
    let start = text
        .find("Attempting to start TLS\n")
        .expect("no TLS attempt")
        + "Attempting to start TLS\n".len();
    let rest = &text[start..];
    let end = rest.find(">>> ").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Replace OpenSSL's thread id at the start of error lines by `TID`.
fn tid_free(s: &str) -> String {
    s.lines()
        .map(|l| match l.split_once(":error:") {
            Some((tid, rest)) if tid.len() == 16 && tid.chars().all(|c| c.is_ascii_hexdigit()) => {
                format!("TID:error:{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

const SSL_HELLO: &str = "SSL info: before SSL initialization\nSSL info: before SSL initialization\n\
    SSL info: SSLv3/TLS write client hello\nSSL info: SSLv3/TLS write client hello\nSSL info: SSLv3/TLS read server hello\n";
const SSL_13_SERVER: &str =
    "SSL info: TLSv1.3 read encrypted extensions\nSSL info: SSLv3/TLS read server certificate\n\
    SSL info: TLSv1.3 read server certificate verify\n";
const SSL_13_FINISH: &str =
    "SSL info: SSLv3/TLS read finished\nSSL info: SSLv3/TLS write change cipher spec\n\
    SSL info: SSLv3/TLS write finished\nSSL info: SSL negotiation finished successfully\n\
    SSL info: SSL negotiation finished successfully\n";

#[test]
fn ocsp_against_real_exim() {
    if !root_with_exim() {
        eprintln!("needs root and /usr/sbin/exim4 (exim4-daemon-heavy): skipped");
        return;
    }
    let pki = Pki::new();
    let bin = tempfile::tempdir().unwrap();
    let gnutls = client_as("client-gnutls", bin.path());
    let ssl = client_as("client-ssl", bin.path());
    let ca = pki.s("ca.pem");

    // (stapled file, client-gnutls's verdict, client-ssl's status-callback lines, whether
    // client-ssl's handshake succeeds). The C client-gnutls reports with its own lines and
    // goes on; the expected texts were measured with GnuTLS 3.7.9 and OpenSSL 3.0 programs
    // using client.c's calls against this same daemon.
    let cases: [(Option<&str>, &str, &str, bool); 4] = [
        (Some("good.der"), "Succeeded in starting TLS\n", "Response verify OK\n", true),
        // A responder the CA never delegated to, its certificate in the response: GnuTLS
        // rejects it (INVALID|INVALID_OCSP_STATUS); OpenSSL's OCSP_NOVERIFY trusts it.
        (Some("wrongkey.der"), "Bad certificate\n", "Response verify OK\n", true),
        // The same without the certificate: OpenSSL cannot find the signer either.
        (
            Some("nocerts.der"),
            "Bad certificate\n",
            "Response Verify Failure\n\
             TID:error:0480006C:PEM routines:get_name:no start line:../crypto/pem/pem_lib.c:760:Expecting: CERTIFICATE\n\
             TID:error:13800076:OCSP routines:OCSP_basic_verify:signer certificate not found:../crypto/ocsp/ocsp_vfy.c:107:\n",
            false,
        ),
        (None, "Failed to verify certificate status\n", "no response received\n", true),
    ];
    for (file, gnutls_verdict, ssl_status, ssl_ok) in cases {
        let exim = Exim::start(&pki, file);
        let port = exim.port.to_string();
        let out = run_with_input(
            &gnutls,
            &["-ocsp", &ca, "127.0.0.1", &port],
            STARTTLS_SCRIPT,
        );
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(0), "{file:?}: {text}");
        assert_eq!(tls_part(&text), gnutls_verdict, "{file:?}: {text}");
        assert!(
            text.ends_with("<<< 221 mailrig.test closing connection\nEnd of script\n"),
            "{text}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if file.is_none() {
            assert_eq!(
                stderr,
                "ocsp decode: The requested data were not available."
            );
        } else {
            assert_eq!(stderr, "");
        }

        let out = run_with_input(&ssl, &["-ocsp", &ca, "127.0.0.1", &port], STARTTLS_SCRIPT);
        let text = stdout_of(&out);
        let got = tid_free(&tls_part(&text));
        if ssl_ok {
            assert_eq!(out.status.code(), Some(0), "{file:?}: {text}");
            assert_eq!(got, format!("{SSL_HELLO}{SSL_13_SERVER}{ssl_status}{SSL_13_FINISH}Succeeded in starting TLS\n"), "{file:?}");
        } else {
            // Exim drops the connection after the failed handshake.
            assert_eq!(out.status.code(), Some(80), "{file:?}: {text}");
            assert_eq!(
                got,
                format!(
                    "{SSL_HELLO}{SSL_13_SERVER}{ssl_status}SSL info: error\nSSL info: error\n\
                     TID:error:0A000148:SSL routines:tls_process_initial_server_flight:invalid status response:../ssl/statem/statem_clnt.c:2703:\n\
                     Failed to start TLS\n"
                ),
                "{file:?}"
            );
        }
    }
}

/// A one-shot rustls SMTP server: greeting, EHLO, STARTTLS (unless `on_connect`), then TLS,
/// stapling `ocsp`, answering every line with 250 until QUIT.
fn stapling_server(pki: &Pki, ocsp: Vec<u8>, on_connect: bool, tls12: bool) -> u16 {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(pki.path("srv.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.path("srv.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        rustls::ALL_VERSIONS
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert_with_ocsp(certs, key, ocsp)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
        if !on_connect {
            let _ = sock.write_all(b"220 plain ready\r\n");
            let _ = read_plain_line(&mut sock);
            let _ = sock.write_all(b"250-test.ex\r\n250 STARTTLS\r\n");
            let _ = read_plain_line(&mut sock);
            let _ = sock.write_all(b"220 TLS go ahead\r\n");
        }
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        if on_connect {
            let _ = tls.write_all(b"220 tls ready\r\n");
        }
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while let Ok(1) = tls.read(&mut b) {
            line.push(b[0]);
            if b[0] == b'\n' {
                let quit = line.starts_with(b"QUIT");
                line.clear();
                let _ = tls.write_all(if quit { b"221 bye\r\n" } else { b"250 ok\r\n" });
                if quit {
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    break;
                }
            }
        }
    });
    port
}

const SHORT_SCRIPT: &str =
    "??? 220\nEHLO x\n??? 250-\n??? 250\nSTARTTLS\n??? 220\nNOOP\n??? 250\nQUIT\n??? 221\n";

#[test]
fn ocsp_revoked_and_tls_on_connect() {
    let pki = Pki::new();
    let bin = tempfile::tempdir().unwrap();
    let gnutls = client_as("client-gnutls", bin.path());
    let ssl = client_as("client-ssl", bin.path());
    let ca = pki.s("ca.pem");
    let der = |n: &str| std::fs::read(pki.path(n)).unwrap();

    // Revoked: GnuTLS sets GNUTLS_CERT_REVOKED ("Bad certificate"); OpenSSL's callback
    // checks the signature only.
    let port = stapling_server(&pki, der("revoked.der"), false, false).to_string();
    let out = run_with_input(&gnutls, &["-ocsp", &ca, "127.0.0.1", &port], SHORT_SCRIPT);
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert_eq!(tls_part(&stdout_of(&out)), "Bad certificate\n");
    let port = stapling_server(&pki, der("revoked.der"), false, false).to_string();
    let out = run_with_input(&ssl, &["-ocsp", &ca, "127.0.0.1", &port], SHORT_SCRIPT);
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(tls_part(&stdout_of(&out))
        .contains("SSL info: TLSv1.3 read server certificate verify\nResponse verify OK\n"));

    // A CA file that does not exist: GnuTLS ignores the failure to load it (the chain
    // then fails: "Bad certificate"), OpenSSL's callback cannot set up.
    let port = stapling_server(&pki, der("good.der"), false, false).to_string();
    let out = run_with_input(
        &gnutls,
        &["-ocsp", "/nonexistent/ca.pem", "127.0.0.1", &port],
        SHORT_SCRIPT,
    );
    let text = stdout_of(&out);
    assert!(
        text.contains("Bad certificate\n") || out.status.code() == Some(98),
        "{text}"
    );

    // TLS 1.2: the response comes in its own CertificateStatus message.
    let port = stapling_server(&pki, der("good.der"), false, true).to_string();
    let out = run_with_input(&ssl, &["-ocsp", &ca, "127.0.0.1", &port], SHORT_SCRIPT);
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        tls_part(&text),
        format!(
            "{SSL_HELLO}SSL info: SSLv3/TLS read server certificate\nSSL info: SSLv3/TLS read certificate status\n\
             SSL info: SSLv3/TLS read server key exchange\nResponse verify OK\nSSL info: SSLv3/TLS read server done\n\
             SSL info: SSLv3/TLS write client key exchange\nSSL info: SSLv3/TLS write change cipher spec\n\
             SSL info: SSLv3/TLS write finished\nSSL info: SSLv3/TLS write finished\nSSL info: SSLv3/TLS read change cipher spec\n\
             SSL info: SSLv3/TLS read finished\nSSL info: SSL negotiation finished successfully\n\
             SSL info: SSL negotiation finished successfully\nSucceeded in starting TLS\n"
        )
    );
    let port = stapling_server(&pki, der("good.der"), false, true).to_string();
    let out = run_with_input(&gnutls, &["-ocsp", &ca, "127.0.0.1", &port], SHORT_SCRIPT);
    assert_eq!(
        tls_part(&stdout_of(&out)),
        "Succeeded in starting TLS\n",
        "{}",
        stdout_of(&out)
    );

    // -tls-on-connect: client.c asks GnuTLS whether the status was checked without having
    // verified the peer, so even a good response is reported unchecked.
    let port = stapling_server(&pki, der("good.der"), true, false).to_string();
    let out = run_with_input(
        &gnutls,
        &["-tls-on-connect", "-ocsp", &ca, "127.0.0.1", &port],
        "??? 220\nQUIT\n??? 221\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("connected\nAttempting to start TLS\nFailed to verify certificate status\n??? 220\n<<< 220 tls ready\n"), "{text}");
}

#[test]
fn client_ssl_session_lines() {
    // Without -ocsp there is no status line even though the server staples; tickets sent
    // after a TLS 1.3 handshake and the server's close_notify give info lines mid-script;
    // stoptls gives one for the close_notify sent.
    let pki = Pki::new();
    let bin = tempfile::tempdir().unwrap();
    let ssl = client_as("client-ssl", bin.path());
    let port = stapling_server(
        &pki,
        std::fs::read(pki.path("good.der")).unwrap(),
        false,
        false,
    )
    .to_string();
    let out = run_with_input(&ssl, &["127.0.0.1", &port], "??? 220\nEHLO x\n??? 250-\n??? 250\nSTARTTLS\n??? 220\nNOOP\n??? 250\nQUIT\n??? 221\n???*\n");
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        tls_part(&text),
        format!("{SSL_HELLO}{SSL_13_SERVER}{SSL_13_FINISH}Succeeded in starting TLS\n")
    );
    // rustls sends two tickets after the handshake by default.
    let tickets = "SSL info: SSL negotiation finished successfully\nSSL info: SSL negotiation finished successfully\n\
                   SSL info: SSLv3/TLS read server session ticket\nSSL info: SSL negotiation finished successfully\n";
    assert!(
        text.contains(&format!(
            ">>> NOOP\n??? 250\n{tickets}{tickets}<<< 250 ok\n"
        )),
        "{text}"
    );
    assert!(text.ends_with("???*\nSSL info: SSL negotiation finished successfully\nExpected EOF read\nEnd of script\n"), "{text}");

    // Certificate and key files: reported as OpenSSL loads them; a bad key is fatal (84).
    let port = stapling_server(&pki, Vec::new(), false, false).to_string();
    let out = run_with_input(
        &ssl,
        &["127.0.0.1", &port, &pki.s("srv.pem"), &pki.s("ca.pem")],
        "??? 220\n",
    );
    assert_eq!(out.status.code(), Some(84));
    assert!(stdout_of(&out).ends_with(&format!(
        "connected\nCertificate file = {}\nSSL_CTX_use_PrivateKey_file failed\n",
        pki.s("srv.pem")
    )));
    let port = stapling_server(&pki, Vec::new(), false, false).to_string();
    let out = run_with_input(
        &ssl,
        &["127.0.0.1", &port, &pki.s("ext.cnf"), &pki.s("srv.key")],
        "??? 220\n",
    );
    assert_eq!(out.status.code(), Some(83));
    assert!(stdout_of(&out).ends_with("connected\nSSL_CTX_use_certificate_file failed\n"));
}

#[test]
fn client_ssl_against_real_exim() {
    if !root_with_exim() {
        eprintln!("needs root and /usr/sbin/exim4 (exim4-daemon-heavy): skipped");
        return;
    }
    let pki = Pki::new();
    let bin = tempfile::tempdir().unwrap();
    let ssl = client_as("client-ssl", bin.path());
    let exim = Exim::start(&pki, None);
    let port = exim.port.to_string();
    let out = run_with_input(
        &ssl,
        &["127.0.0.1", &port],
        "??? 220\nEHLO x\n????250-\n??? 250 \nSTARTTLS\n??? 220\nEHLO y\n????250-\n??? 250 \nMAIL FROM:<a@mailrig.test>\n??? 250\nQUIT\n??? 221\n",
    );
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        tls_part(&text),
        format!("{SSL_HELLO}{SSL_13_SERVER}{SSL_13_FINISH}Succeeded in starting TLS\n")
    );
    assert!(
        text.ends_with("<<< 221 mailrig.test closing connection\nEnd of script\n"),
        "{text}"
    );
}

// ---------------------------------------------------------------- peer failures under TLS

/// A rustls server after STARTTLS that runs `act` on the TLS stream instead of answering.
fn misbehaving_server(
    pki: &Pki,
    act: fn(&mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>),
) -> u16 {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(pki.path("srv.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(pki.path("srv.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = sock.write_all(b"220 hi\r\n");
        let _ = read_plain_line(&mut sock);
        let _ = sock.write_all(b"220 go ahead\r\n");
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        // Finish the handshake by reading the client's first line.
        let mut b = [0u8; 1];
        while let Ok(1) = tls.read(&mut b) {
            if b[0] == b'\n' {
                break;
            }
        }
        act(&mut tls);
    });
    port
}

#[test]
fn tls_peer_failures_end_in_one_line_and_a_status() {
    let pki = Pki::new();
    let bin = tempfile::tempdir().unwrap();
    let script = "??? 220\nSTARTTLS\n??? 220\nNOOP\n??? 250\n";

    for name in ["client-gnutls", "client-ssl"] {
        let client = client_as(name, bin.path());

        // 10 MB without a newline: the input buffer limit, status 73.
        let port = misbehaving_server(&pki, |tls| {
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..160 {
                if tls.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let out = run_with_input(&client, &["-t5", "127.0.0.1", &port.to_string()], script);
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(73), "{name}: {text}");
        // (client-ssl prints the session tickets' info lines first.)
        assert!(
            text.ends_with("\nInput buffer overrun, need more than 102400 bytes input buffer\n"),
            "{name}: {text}"
        );

        // The peer closes without close_notify: the library's one-line complaint, TLS is
        // dropped (as client.c does), and the clear-text read finds EOF: status 80.
        let port = misbehaving_server(&pki, |tls| {
            let _ = tls.sock.shutdown(std::net::Shutdown::Both);
        });
        let out = run_with_input(&client, &["-t5", "127.0.0.1", &port.to_string()], script);
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(80), "{name}: {text}");
        let complaint = if name == "client-ssl" {
            "error:0A000126:SSL routines::unexpected eof while reading"
        } else {
            "The TLS connection was non-properly terminated."
        };
        assert!(
            text.ends_with(&format!("\n{complaint}\nUnexpected EOF read\n")),
            "{name}: {text}"
        );

        // A script that includes a file that is not there: status 74, one line, over TLS.
        let port = misbehaving_server(&pki, |tls| {
            let _ = tls.write_all(b"250 ok\r\n");
            thread::sleep(Duration::from_millis(500));
        });
        let out = run_with_input(
            &client,
            &["-t5", "127.0.0.1", &port.to_string()],
            "??? 220\nSTARTTLS\n??? 220\nNOOP\n??? 250\n<<< /nonexistent/script\n",
        );
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(74), "{name}: {text}");
        assert!(
            text.ends_with(
                "<<< 250 ok\nUnable to open '/nonexistent/script': No such file or directory\n"
            ),
            "{name}: {text}"
        );

        // stoptls twice: the second has no TLS to stop (77).
        let port = misbehaving_server(&pki, |tls| {
            let _ = tls.write_all(b"250 ok\r\n");
            thread::sleep(Duration::from_millis(500));
        });
        let out = run_with_input(
            &client,
            &["-t5", "127.0.0.1", &port.to_string()],
            "??? 220\nSTARTTLS\n??? 220\nNOOP\n??? 250\nstoptls\nstoptls\n",
        );
        let text = stdout_of(&out);
        assert_eq!(out.status.code(), Some(77), "{name}: {text}");
        assert!(
            text.ends_with("STOPTLS read when TLS not active\n"),
            "{name}: {text}"
        );
    }
}
