//! TLS on the client side (rustls): the configuration (the system's web roots, a CA file, or
//! any certificate) and the handshake on an established stream, for TLS from the start as well
//! as after STARTTLS (IMAP) or STLS (POP3).
use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Accepts every certificate (`ssl=any-cert`); signatures are still checked so the handshake
/// is a real one.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Builds the client configuration once per run; connections share it.
pub fn client_config(any_cert: bool, ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let config = if any_cert {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                for cert in CertificateDer::pem_file_iter(path)
                    .with_context(|| format!("ssl_ca_file {}", path.display()))?
                {
                    let cert =
                        cert.with_context(|| format!("ssl_ca_file {}: bad PEM", path.display()))?;
                    roots.add(cert).with_context(|| {
                        format!("ssl_ca_file {}: bad certificate", path.display())
                    })?;
                }
                if roots.is_empty() {
                    anyhow::bail!("ssl_ca_file {}: no certificates in it", path.display());
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The TLS handshake as client of `host` on `io`, within `timeout`. A bad server name, a
/// timeout and a refused certificate are all `io::Error`s saying so.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    cfg: &Arc<rustls::ClientConfig>,
    host: &str,
    io: S,
    timeout: Duration,
) -> std::io::Result<tokio_rustls::client::TlsStream<S>> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("server name {host:?}: {e}"),
        )
    })?;
    tokio::time::timeout(
        timeout,
        tokio_rustls::TlsConnector::from(cfg.clone()).connect(name, io),
    )
    .await
    .map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("timed out after {} s", timeout.as_secs()),
        )
    })?
}
