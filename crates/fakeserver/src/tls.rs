//! Certificates for the server's TLS, made with rcgen, as presets after Mozilla's
//! ServerTestUtils: a valid chain (a CA and a leaf for localhost/127.0.0.1; the CA exported
//! as PEM for clients to trust), expired, not yet valid, self-signed, and wrong host; or a
//! certificate and key loaded from PEM files.

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Which certificate the server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Leaf for localhost and 127.0.0.1 signed by a CA ([`Certs::ca_pem`]).
    Valid,
    /// As `Valid`, but its validity ended yesterday.
    Expired,
    /// As `Valid`, but valid only from tomorrow.
    NotYetValid,
    /// A self-signed leaf for localhost (no CA).
    SelfSigned,
    /// Signed by the CA, but for `wrong.host.invalid`.
    WrongHost,
}

impl Preset {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "valid" => Some(Preset::Valid),
            "expired" => Some(Preset::Expired),
            "not-yet-valid" => Some(Preset::NotYetValid),
            "self-signed" => Some(Preset::SelfSigned),
            "wrong-host" => Some(Preset::WrongHost),
            _ => None,
        }
    }
    pub const NAMES: &'static str = "valid, expired, not-yet-valid, self-signed, wrong-host";
}

/// A certificate chain and its key, ready for rustls; plus the CA that signed it.
#[derive(Debug)]
pub struct Certs {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// PEM of the CA clients should trust (for self-signed: the leaf itself).
    pub ca_pem: String,
    /// PEM of the leaf certificate.
    pub cert_pem: String,
    /// PEM of the leaf key.
    pub key_pem: String,
}

impl Certs {
    /// Make the certificate of a preset (a fresh key pair each time).
    pub fn preset(p: Preset) -> Result<Self> {
        let now = OffsetDateTime::now_utc();
        let (ca_params, ca_key) = ca()?;
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .context("self-signing the CA")?;
        let hosts = match p {
            Preset::WrongHost => vec!["wrong.host.invalid".to_string()],
            _ => vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ],
        };
        let mut params = CertificateParams::new(hosts).context("certificate parameters")?;
        params
            .distinguished_name
            .push(DnType::CommonName, "fakeserver");
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365);
        match p {
            Preset::Expired => {
                params.not_before = now - Duration::days(30);
                params.not_after = now - Duration::days(1);
            }
            Preset::NotYetValid => {
                params.not_before = now + Duration::days(1);
                params.not_after = now + Duration::days(30);
            }
            _ => {}
        }
        let key = KeyPair::generate().context("generating a key")?;
        let key_pem = key.serialize_pem();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        if p == Preset::SelfSigned {
            let cert = params.self_signed(&key).context("self-signing")?;
            return Ok(Certs {
                chain: vec![cert.der().clone()],
                key: key_der,
                ca_pem: cert.pem(),
                cert_pem: cert.pem(),
                key_pem,
            });
        }
        let cert = params
            .signed_by(&key, &ca_cert, &ca_key)
            .context("signing the leaf")?;
        Ok(Certs {
            chain: vec![cert.der().clone(), ca_cert.der().clone()],
            key: key_der,
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// Load a PEM certificate chain and a PEM private key.
    pub fn load(cert: &std::path::Path, key: &std::path::Path) -> Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("reading certificate {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing certificate {}", cert.display()))?;
        if chain.is_empty() {
            anyhow::bail!("{}: no certificate in the file", cert.display());
        }
        let key_der = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("reading private key {}", key.display()))?;
        let cert_pem = std::fs::read_to_string(cert).unwrap_or_default();
        let key_pem = std::fs::read_to_string(key).unwrap_or_default();
        Ok(Certs {
            chain,
            key: key_der,
            ca_pem: cert_pem.clone(),
            cert_pem,
            key_pem,
        })
    }

    /// A rustls server configuration presenting this certificate (TLS 1.2 and 1.3).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("certificate and key do not match")?;
        Ok(Arc::new(cfg))
    }
}

fn ca() -> Result<(CertificateParams, KeyPair)> {
    let now = OffsetDateTime::now_utc();
    let mut p = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    p.distinguished_name
        .push(DnType::CommonName, "fakeserver test CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = now - Duration::days(2);
    p.not_after = now + Duration::days(3650);
    let key = KeyPair::generate().context("generating the CA key")?;
    Ok((p, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_a_server_config() {
        for p in [
            Preset::Valid,
            Preset::Expired,
            Preset::NotYetValid,
            Preset::SelfSigned,
            Preset::WrongHost,
        ] {
            let c = Certs::preset(p).unwrap();
            c.server_config().unwrap();
            assert!(c.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        }
    }

    #[test]
    fn load_round_trips_and_reports_files() {
        let d = tempfile::tempdir().unwrap();
        let c = Certs::preset(Preset::Valid).unwrap();
        std::fs::write(d.path().join("c.pem"), &c.cert_pem).unwrap();
        std::fs::write(d.path().join("k.pem"), &c.key_pem).unwrap();
        let l = Certs::load(&d.path().join("c.pem"), &d.path().join("k.pem")).unwrap();
        l.server_config().unwrap();
        let e = Certs::load(&d.path().join("nope.pem"), &d.path().join("k.pem")).unwrap_err();
        assert!(format!("{e:#}").contains("nope.pem"));
    }
}
