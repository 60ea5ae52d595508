//! The TLS side of `client-gnutls` / `client-ssl` / `client-anytls`, on rustls (ring).
//!
//! Behaviour mirrors Exim's test client built with GnuTLS: TLS 1.2 only (client.c asks
//! GnuTLS for no extensions, hence no TLS 1.3) unless `-ocsp` is given, the server
//! certificate is not verified (with `-ocsp CAFILE` it is, and reported after the handshake),
//! no SNI is sent, no sessions are resumed, a client certificate is sent only when the
//! server asks for one and names an acceptable issuer that the certificate chain has (as
//! GnuTLS filters), and errors are reported with GnuTLS's `gnutls_strerror` texts because
//! those appear in the saved outputs. Records are read from the socket one at a time so
//! that clear text following a failed handshake stays readable.
//!
//! The OpenSSL build (`client-ssl`, `TlsSettings::openssl`) differs where client.c's
//! OpenSSL code does: TLS 1.3 is always offered (`SSLv23_method`), the configured client
//! certificate is sent whenever the server asks, the server certificate is never verified,
//! `-ocsp` checks only the response's signature (see `tls_ocsp`) and a failed check aborts
//! the handshake, and what the handshake did is kept (`PeerReport`) so that `ssl_info` can
//! print the lines of client.c's info callback.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use socket2::Socket;

use crate::net::{self, Deadline, NetError, RecordReader};
use crate::tls_priority::{Cipher, Group, Kx, Priority, Version};

/// How long to wait, after a TLS 1.3 handshake in which the server asked for a client
/// certificate, for the server to reject it (see `TlsClient::handshake`).
const CERT_VERDICT_WAIT: std::time::Duration = std::time::Duration::from_millis(1000);

/// What the command line says about TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// GnuTLS priority string (`-p`).
    pub priority: Option<String>,
    /// Client certificate chain (PEM).
    pub certfile: Option<String>,
    /// Client private key (PEM; may be the same file as the certificate).
    pub keyfile: Option<String>,
    /// CA file for `-ocsp`: verify the server certificate and its stapled OCSP response.
    pub ocsp_ca: Option<String>,
    /// Behave as client.c built with OpenSSL (`client-ssl`) rather than GnuTLS.
    pub openssl: bool,
}

/// Setting up TLS failed before any connection attempt (client.c's `gnutls_error`,
/// which prints `GnuTLS connection error: <what>: <text>` on stderr and exits 98).
#[derive(Debug, thiserror::Error)]
#[error("GnuTLS connection error: {what}: {text}")]
pub struct SetupError {
    pub what: &'static str,
    pub text: String,
}

fn setup_err(what: &'static str, text: impl Into<String>) -> SetupError {
    SetupError {
        what,
        text: text.into(),
    }
}

/// A TLS operation on an established or establishing session failed.
#[derive(Debug)]
pub enum TlsError {
    /// The deadline passed (client.c's SIGALRM).
    Timeout,
    /// Any other failure, with the GnuTLS text for it.
    Failed(&'static str),
}

/// What the server did that the client reports after the handshake.
#[derive(Debug, Default, Clone)]
pub struct PeerReport {
    /// The server sent a CertificateRequest.
    pub cert_requested: bool,
    /// A client certificate was sent in answer.
    pub cert_sent: bool,
    /// The server stapled an OCSP response.
    pub ocsp_stapled: bool,
    /// GnuTLS build with `-ocsp`: whether the server chain verified against the CA file.
    pub chain_verified: Option<bool>,
    /// GnuTLS build with `-ocsp`: the verdict on the stapled response.
    pub gnutls_ocsp: Option<crate::tls_ocsp::GnutlsVerdict>,
    /// OpenSSL build with `-ocsp`: what the status callback found (`None` if it never ran).
    pub openssl_ocsp: Option<crate::tls_ocsp::OpensslVerdict>,
    /// OpenSSL build with `-ocsp`: the CA file could not be opened ("error in cert setup").
    pub ocsp_ca_unreadable: bool,
    /// Why the last handshake failed, in OpenSSL's terms.
    pub failure: Option<HandshakeFailure>,
    /// TLS 1.3 was negotiated (known once the ServerHello is read, so also on failure).
    pub tls13: bool,
}

/// How a handshake failed, as far as the OpenSSL wording needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The server sent a fatal alert (its description code).
    Alert(u8),
    /// What came back was not TLS (a clear-text reply).
    NotTls,
    /// The server closed the connection.
    Eof,
    /// The `-ocsp` status callback rejected the response.
    StatusCallback,
    /// Anything else.
    Other,
}

#[derive(Debug, Default)]
struct Shared {
    cert_requested: AtomicBool,
    cert_sent: AtomicBool,
    ocsp_stapled: AtomicBool,
    /// TLS 1.3 session tickets received and not yet reported.
    tickets: std::sync::atomic::AtomicUsize,
    verify: Mutex<PeerReport>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The OpenSSL build keeps no sessions either (a new SSL per connection, no session
/// set), but OpenSSL processes session tickets and its info callback reports each one;
/// this store only counts them, so that those lines can be printed.
#[derive(Debug)]
struct TicketCounter(Arc<Shared>);

impl rustls::client::ClientSessionStore for TicketCounter {
    fn set_kx_hint(&self, _: ServerName<'static>, _: rustls::NamedGroup) {}
    fn kx_hint(&self, _: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }
    fn set_tls12_session(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls12ClientSessionValue,
    ) {
    }
    fn tls12_session(&self, _: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &ServerName<'static>) {}
    fn insert_tls13_ticket(
        &self,
        _: ServerName<'static>,
        _: rustls::client::Tls13ClientSessionValue,
    ) {
        self.0.tickets.fetch_add(1, Ordering::SeqCst);
    }
    fn take_tls13_ticket(
        &self,
        _: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        None
    }
}

/// Everything needed to start TLS sessions (built once, like client.c's `tls_init`).
pub struct TlsClient {
    config: Arc<ClientConfig>,
    shared: Arc<Shared>,
    openssl: bool,
}

fn provider_for(p: &Priority) -> CryptoProvider {
    use rustls::crypto::ring::cipher_suite as cs;
    let base = ring::default_provider();
    let mut suites = Vec::new();
    for c in p.ciphers() {
        match c {
            Cipher::Aes256Gcm => suites.push(cs::TLS13_AES_256_GCM_SHA384),
            Cipher::Aes128Gcm => suites.push(cs::TLS13_AES_128_GCM_SHA256),
            Cipher::Chacha20Poly1305 => suites.push(cs::TLS13_CHACHA20_POLY1305_SHA256),
        }
    }
    for kx in p.kx() {
        for c in p.ciphers() {
            suites.push(match (kx, c) {
                (Kx::EcdheEcdsa, Cipher::Aes256Gcm) => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                (Kx::EcdheEcdsa, Cipher::Aes128Gcm) => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                (Kx::EcdheEcdsa, Cipher::Chacha20Poly1305) => {
                    cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                }
                (Kx::EcdheRsa, Cipher::Aes256Gcm) => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                (Kx::EcdheRsa, Cipher::Aes128Gcm) => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                (Kx::EcdheRsa, Cipher::Chacha20Poly1305) => {
                    cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
                }
            });
        }
    }
    let groups = p
        .groups()
        .iter()
        .map(|g| match g {
            Group::X25519 => ring::kx_group::X25519,
            Group::Secp256r1 => ring::kx_group::SECP256R1,
            Group::Secp384r1 => ring::kx_group::SECP384R1,
        })
        .collect();
    CryptoProvider {
        cipher_suites: suites,
        kx_groups: groups,
        ..base
    }
}

fn read_pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(_) => "Error while reading file.".to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => {
            "The requested data were not available.".to_string()
        }
        _ => "Base64 decoding error.".to_string(),
    }
}

impl TlsClient {
    /// Load certificates and build the rustls configuration.
    pub fn new(settings: &TlsSettings) -> Result<TlsClient, SetupError> {
        let priority = settings
            .priority
            .as_deref()
            .map(Priority::parse)
            .unwrap_or_else(Priority::everything);
        let provider = Arc::new(provider_for(&priority));
        // client.c starts GnuTLS sessions with GNUTLS_NO_EXTENSIONS unless OCSP is
        // wanted, and without extensions there is no TLS 1.3. The saved outputs depend
        // on it: a rejected client certificate fails the TLS 1.2 handshake itself, and
        // Exim logs "The peer did not send any certificate." rather than TLS 1.3's
        // "Certificate is required.".
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = priority
            .versions()
            .iter()
            .filter(|v| settings.openssl || settings.ocsp_ca.is_some() || **v != Version::Tls13)
            .map(|v| match v {
                Version::Tls12 => &rustls::version::TLS12,
                Version::Tls13 => &rustls::version::TLS13,
            })
            .collect();
        let versions = if versions.is_empty() {
            vec![&rustls::version::TLS12]
        } else {
            versions
        };
        let shared = Arc::new(Shared::default());

        let trust = match &settings.ocsp_ca {
            None => None,
            // OpenSSL's callback reads the file only when a response is to be checked.
            Some(path) if settings.openssl => Some(Trust::Lazy(path.clone())),
            Some(path) => {
                let what = "gnutls_certificate_set_x509_trust_file";
                let ca: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .map_err(|e| setup_err(what, read_pem_error(e)))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| setup_err(what, read_pem_error(e)))?;
                let mut store = RootCertStore::empty();
                // Certificates webpki cannot use as anchors are skipped, as GnuTLS
                // skips what it cannot parse.
                let _ = store.add_parsable_certificates(ca.iter().cloned());
                Some(Trust::Loaded {
                    roots: Arc::new(store),
                    ca,
                })
            }
        };
        let verifier = Arc::new(LaxVerifier {
            schemes: priority.sign().to_vec(),
            algs: provider.signature_verification_algorithms,
            trust,
            shared: shared.clone(),
        });

        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| setup_err("gnutls_priority_set", e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);

        let mut config = match &settings.certfile {
            // The OpenSSL build notes a certificate request even without a certificate.
            None if settings.openssl => {
                builder.with_client_cert_resolver(Arc::new(ClientCert::none(shared.clone())))
            }
            None => builder.with_no_client_auth(),
            Some(certfile) => {
                let keyfile = settings.keyfile.as_deref().unwrap_or(certfile);
                let mut resolver = ClientCert::load(certfile, keyfile, &provider, shared.clone())?;
                // OpenSSL sends the configured certificate whatever issuers the server names.
                resolver.filter_by_issuer = !settings.openssl;
                builder.with_client_cert_resolver(Arc::new(resolver))
            }
        };
        config.enable_sni = false;
        config.resumption = if settings.openssl {
            Resumption::store(Arc::new(TicketCounter(shared.clone())))
                .tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly)
        } else {
            Resumption::disabled()
        };
        Ok(TlsClient {
            config: Arc::new(config),
            shared,
            openssl: settings.openssl,
        })
    }

    /// Run a handshake on `sock`. The socket stays usable in clear after a failure.
    pub fn handshake(
        &self,
        sock: &Socket,
        peer: std::net::IpAddr,
        deadline: Deadline,
    ) -> Result<TlsSession, TlsError> {
        self.shared.cert_requested.store(false, Ordering::SeqCst);
        self.shared.cert_sent.store(false, Ordering::SeqCst);
        self.shared.ocsp_stapled.store(false, Ordering::SeqCst);
        self.shared.tickets.store(0, Ordering::SeqCst);
        *lock(&self.shared.verify) = PeerReport::default();
        let mut conn =
            ClientConnection::new(self.config.clone(), ServerName::IpAddress(peer.into()))
                .map_err(|_| TlsError::Failed("The request is invalid."))?;
        loop {
            flush_tls(&mut conn, sock, deadline)?;
            if !conn.is_handshaking() {
                break;
            }
            if let Err(e) = read_record(&mut conn, sock, deadline) {
                if matches!(e, TlsError::Failed(_)) {
                    lock(&self.shared.verify).failure = Some(HandshakeFailure::Eof);
                }
                return Err(e);
            }
            if let Err(e) = conn.process_new_packets() {
                let mut r = lock(&self.shared.verify);
                r.failure = Some(failure_kind(&e));
                r.tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
                drop(r);
                // Send our alert, as GnuTLS would, before giving up.
                let _ = flush_tls(&mut conn, sock, deadline);
                return Err(TlsError::Failed(gnutls_text(&e)));
            }
        }
        // In TLS 1.3 the client is done before the server has judged its certificate;
        // a rejection arrives as an alert just after. The GnuTLS client reports that as
        // a failed handshake (the saved outputs show it so), so when the server asked
        // for a certificate, give its verdict a moment to arrive.
        if !self.openssl
            && conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && self.shared.cert_requested.load(Ordering::SeqCst)
            && net::wait_readable(sock, CERT_VERDICT_WAIT, deadline)
        {
            read_record(&mut conn, sock, deadline)?;
            if let Err(e) = conn.process_new_packets() {
                let _ = flush_tls(&mut conn, sock, deadline);
                return Err(TlsError::Failed(gnutls_text(&e)));
            }
        }
        lock(&self.shared.verify).tls13 =
            conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
        Ok(TlsSession { conn })
    }

    /// What the last handshake learnt about the server.
    pub fn report(&self) -> PeerReport {
        let mut r = lock(&self.shared.verify).clone();
        r.cert_requested = self.shared.cert_requested.load(Ordering::SeqCst);
        r.cert_sent = self.shared.cert_sent.load(Ordering::SeqCst);
        r.ocsp_stapled = self.shared.ocsp_stapled.load(Ordering::SeqCst);
        r
    }

    /// TLS 1.3 session tickets received since the last call.
    pub fn take_new_tickets(&self) -> usize {
        self.shared.tickets.swap(0, Ordering::SeqCst)
    }
}

/// An established TLS session over a socket the caller keeps.
pub struct TlsSession {
    conn: ClientConnection,
}

impl TlsSession {
    /// Read application data: `Ok(0)` when the server closed the session properly.
    pub fn read(
        &mut self,
        sock: &Socket,
        buf: &mut [u8],
        deadline: Deadline,
    ) -> Result<usize, TlsError> {
        loop {
            match io::Read::read(&mut self.conn.reader(), buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(TlsError::Failed(
                        "The TLS connection was non-properly terminated.",
                    ))
                }
                Err(_) => return Err(TlsError::Failed("Error in the pull function.")),
            }
            flush_tls(&mut self.conn, sock, deadline)?;
            read_record(&mut self.conn, sock, deadline)?;
            if let Err(e) = self.conn.process_new_packets() {
                let _ = flush_tls(&mut self.conn, sock, deadline);
                return Err(TlsError::Failed(gnutls_text(&e)));
            }
        }
    }

    /// Send application data.
    pub fn write_all(
        &mut self,
        sock: &Socket,
        data: &[u8],
        deadline: Deadline,
    ) -> Result<(), TlsError> {
        self.conn
            .writer()
            .write_all(data)
            .map_err(|_| TlsError::Failed("Error in the push function."))?;
        flush_tls(&mut self.conn, sock, deadline)
    }

    /// `gnutls_bye(GNUTLS_SHUT_WR)`: send close_notify, keep the socket.
    pub fn bye(mut self, sock: &Socket, deadline: Deadline) {
        self.conn.send_close_notify();
        let _ = flush_tls(&mut self.conn, sock, deadline);
    }

    /// Protocol version negotiated (for tests and debugging).
    pub fn version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }
}

struct SockWriter<'a> {
    sock: &'a Socket,
    deadline: Deadline,
    error: Option<NetError>,
}

impl Write for SockWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match net::write_all(self.sock, buf, self.deadline) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.error = Some(e);
                Err(io::Error::other("TLS transport write failed"))
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn flush_tls(
    conn: &mut ClientConnection,
    sock: &Socket,
    deadline: Deadline,
) -> Result<(), TlsError> {
    let mut w = SockWriter {
        sock,
        deadline,
        error: None,
    };
    while conn.wants_write() {
        if conn.write_tls(&mut w).is_err() {
            return Err(match w.error {
                Some(NetError::Timeout) => TlsError::Timeout,
                _ => TlsError::Failed("Error in the push function."),
            });
        }
    }
    Ok(())
}

fn read_record(
    conn: &mut ClientConnection,
    sock: &Socket,
    deadline: Deadline,
) -> Result<(), TlsError> {
    let mut r = RecordReader::new(sock, deadline);
    loop {
        match conn.read_tls(&mut r) {
            // EOF: rustls notes it; the caller's next step reports it.
            Ok(0) if conn.is_handshaking() => {
                return Err(TlsError::Failed(
                    "The TLS connection was non-properly terminated.",
                ))
            }
            Ok(_) if r.is_drained() => return Ok(()),
            // Part of a record is still pending (rustls takes a big one in chunks).
            Ok(_) => {}
            Err(_) => {
                return Err(match r.last_error {
                    Some(NetError::Timeout) => TlsError::Timeout,
                    _ => TlsError::Failed("Error in the pull function."),
                })
            }
        }
    }
}

/// The failure as OpenSSL would see it (for the `client-ssl` error lines).
fn failure_kind(e: &rustls::Error) -> HandshakeFailure {
    use rustls::Error as E;
    match e {
        E::AlertReceived(a) => HandshakeFailure::Alert(u8::from(*a)),
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        | E::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => {
            HandshakeFailure::NotTls
        }
        E::General(g) if g == STATUS_CALLBACK_FAILED => HandshakeFailure::StatusCallback,
        _ => HandshakeFailure::Other,
    }
}

/// The error the verifier returns when the OpenSSL status callback fails the handshake.
const STATUS_CALLBACK_FAILED: &str = "invalid status response";

/// `gnutls_strerror` for the rustls error that stands for the same failure.
pub fn gnutls_text(e: &rustls::Error) -> &'static str {
    use rustls::Error as E;
    match e {
        E::AlertReceived(_) => "A TLS fatal alert has been received.",
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "An unexpected TLS packet was received."
        }
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        | E::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => {
            "A packet with illegal or unsupported version was received."
        }
        E::InvalidMessage(_) => "Error decoding the received TLS packet.",
        E::DecryptError => "Decryption has failed.",
        E::PeerIncompatible(_) => "Could not negotiate a supported cipher suite.",
        E::PeerMisbehaved(_) => "An illegal parameter has been received.",
        E::NoCertificatesPresented => "No certificate was found.",
        E::InvalidCertificate(_) => "Error in the certificate.",
        E::PeerSentOversizedRecord => "A record packet with illegal version was received.",
        _ => "The request is invalid.",
    }
}

/// Accepts any server certificate, as client.c does; with `-ocsp` it also records
/// whether the chain verifies against the CA file and whether a good OCSP response was
/// stapled, for the messages printed after the handshake.
#[derive(Debug)]
struct LaxVerifier {
    schemes: Vec<SignatureScheme>,
    algs: WebPkiSupportedAlgorithms,
    trust: Option<Trust>,
    shared: Arc<Shared>,
}

/// The CA file of `-ocsp`: as webpki trust anchors, and as certificates that may have
/// signed an OCSP response.
#[derive(Debug)]
enum Trust {
    /// GnuTLS: loaded at start (`gnutls_certificate_set_x509_trust_file`).
    Loaded {
        roots: Arc<RootCertStore>,
        ca: Vec<CertificateDer<'static>>,
    },
    /// OpenSSL: the file, read by the status callback when a handshake needs it.
    Lazy(String),
}

/// The certificates of a PEM file, as OpenSSL's `PEM_read_bio_X509` loop reads them:
/// whatever parses until the first failure. `None` if the file cannot be opened.
fn pem_certs_prefix(path: &str) -> Option<Vec<Vec<u8>>> {
    let data = std::fs::read(path).ok()?;
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(&data) {
        match item {
            Ok(c) => out.push(c.as_ref().to_vec()),
            Err(_) => break,
        }
    }
    Some(out)
}

impl ServerCertVerifier for LaxVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !ocsp_response.is_empty() {
            self.shared.ocsp_stapled.store(true, Ordering::SeqCst);
        }
        if let Some(Trust::Lazy(path)) = &self.trust {
            use crate::tls_ocsp::OpensslVerdict as V;
            let Some(ca) = pem_certs_prefix(path) else {
                // "error in cert setup": the callback fails the handshake.
                let mut r = lock(&self.shared.verify);
                r.ocsp_ca_unreadable = true;
                return Err(rustls::Error::General(STATUS_CALLBACK_FAILED.into()));
            };
            let verdict = crate::tls_ocsp::openssl_check(ocsp_response, &ca, &self.algs);
            lock(&self.shared.verify).openssl_ocsp = Some(verdict);
            return match verdict {
                V::NoResponse | V::Verified => Ok(ServerCertVerified::assertion()),
                _ => Err(rustls::Error::General(STATUS_CALLBACK_FAILED.into())),
            };
        }
        if let Some(Trust::Loaded { roots, ca }) = &self.trust {
            let chain_ok = rustls::server::ParsedCertificate::try_from(end_entity)
                .and_then(|parsed| {
                    rustls::client::verify_server_cert_signed_by_trust_anchor(
                        &parsed,
                        roots,
                        intermediates,
                        now,
                        self.algs.all,
                    )
                })
                .is_ok();
            let verdict = crate::tls_ocsp::gnutls_check(
                ocsp_response,
                end_entity,
                intermediates,
                ca,
                now,
                &self.algs,
            );
            let mut r = lock(&self.shared.verify);
            r.chain_verified = Some(chain_ok);
            r.gnutls_ocsp = Some(verdict);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        lax_signature(rustls::crypto::verify_tls12_signature(
            message, cert, dss, &self.algs,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        lax_signature(rustls::crypto::verify_tls13_signature(
            message, cert, dss, &self.algs,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// Signatures ring can check are checked; those it cannot (P-521, SHA-1 mixes) are
/// accepted, which weakens nothing since the certificate itself is not verified.
fn lax_signature(
    r: Result<HandshakeSignatureValid, rustls::Error>,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    match r {
        Ok(v) => Ok(v),
        // A signature that ring could check and that is wrong fails the handshake.
        Err(e @ rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)) => {
            Err(e)
        }
        // Unsupported scheme or key type: nothing to check it with.
        Err(rustls::Error::PeerMisbehaved(_)) | Err(rustls::Error::InvalidCertificate(_)) => {
            Ok(HandshakeSignatureValid::assertion())
        }
        Err(e) => Err(e),
    }
}

/// The client certificate, offered like GnuTLS does: only if the server asks, and only
/// if one of the server's acceptable issuers (when it names any) issued a certificate in
/// the chain.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    issuers: Vec<Vec<u8>>,
    /// GnuTLS withholds a certificate no acceptable issuer named by the server issued.
    filter_by_issuer: bool,
    shared: Arc<Shared>,
}

impl ClientCert {
    fn load(
        certfile: &str,
        keyfile: &str,
        provider: &CryptoProvider,
        shared: Arc<Shared>,
    ) -> Result<ClientCert, SetupError> {
        let what = "gnutls_certificate";
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
            .map_err(|e| setup_err(what, read_pem_error(e)))?
            .collect::<Result<_, _>>()
            .map_err(|e| setup_err(what, read_pem_error(e)))?;
        if chain.is_empty() {
            return Err(setup_err(what, "The requested data were not available."));
        }
        let key = PrivateKeyDer::from_pem_file(keyfile)
            .map_err(|e| setup_err(what, read_pem_error(e)))?;
        let signer = provider
            .key_provider
            .load_private_key(key)
            .map_err(|_| setup_err(what, "The certificate and the given key do not match."))?;
        let issuers = chain
            .iter()
            .filter_map(|c| {
                x509_parser::parse_x509_certificate(c.as_ref())
                    .ok()
                    .map(|(_, x)| x.tbs_certificate.issuer.as_raw().to_vec())
            })
            .collect();
        Ok(ClientCert {
            key: Some(Arc::new(CertifiedKey::new(chain, signer))),
            issuers,
            filter_by_issuer: true,
            shared,
        })
    }

    /// No certificate: only notes that one was asked for.
    fn none(shared: Arc<Shared>) -> ClientCert {
        ClientCert {
            key: None,
            issuers: Vec::new(),
            filter_by_issuer: false,
            shared,
        }
    }
}

/// Strip the outer SEQUENCE header of a DER Name, if present.
fn name_body(der: &[u8]) -> &[u8] {
    if der.first() != Some(&0x30) || der.len() < 2 {
        return der;
    }
    let (hdr, len) = match der[1] {
        l if l < 0x80 => (2, usize::from(l)),
        0x81 if der.len() > 2 => (3, usize::from(der[2])),
        0x82 if der.len() > 3 => (4, usize::from(u16::from_be_bytes([der[2], der[3]]))),
        _ => return der,
    };
    if hdr + len == der.len() {
        &der[hdr..]
    } else {
        der
    }
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.shared.cert_requested.store(true, Ordering::SeqCst);
        let key = self.key.as_ref()?;
        key.key.choose_scheme(sigschemes)?;
        if self.filter_by_issuer && !root_hint_subjects.is_empty() {
            let acceptable = root_hint_subjects.iter().any(|hint| {
                self.issuers
                    .iter()
                    .any(|iss| name_body(iss) == name_body(hint))
            });
            if !acceptable {
                return None;
            }
        }
        self.shared.cert_sent.store(true, Ordering::SeqCst);
        Some(key.clone())
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_maps_to_gnutls_text() {
        let e = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert_eq!(gnutls_text(&e), "A TLS fatal alert has been received.");
        assert_eq!(
            gnutls_text(&rustls::Error::DecryptError),
            "Decryption has failed."
        );
    }

    #[test]
    fn name_body_strips_sequence_header() {
        assert_eq!(name_body(&[0x30, 0x02, 0x31, 0x00]), &[0x31, 0x00]);
        assert_eq!(name_body(&[0x31, 0x00]), &[0x31, 0x00]);
        // Length disagreeing with the buffer: left alone.
        assert_eq!(
            name_body(&[0x30, 0x05, 0x31, 0x00]),
            &[0x30, 0x05, 0x31, 0x00]
        );
    }

    #[test]
    fn provider_honours_priority() {
        let p = Priority::parse("NONE:+VERS-TLS1.2:+ECDHE-RSA:+AES-256-GCM:+SIGN-RSA-SHA256");
        let prov = provider_for(&p);
        let names: Vec<String> = prov
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert!(
            names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_string()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("ECDSA")), "{names:?}");
    }
}
