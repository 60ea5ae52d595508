//! Checking a stapled OCSP response for `-ocsp CAFILE`, the way each TLS library that
//! client.c can be built with does it:
//!
//! * GnuTLS (`client-gnutls`, `client-anytls`): `gnutls_certificate_verify_peers2` checks
//!   the response (`check_ocsp_response` in GnuTLS 3.7): it must parse, be about the
//!   server certificate (serial number and issuer-name hash of its CertID), be signed by
//!   the certificate's issuer or by a responder certificate that the issuer signed and
//!   that carries the OCSP-signing EKU, say "good", and not be superseded (nextUpdate in
//!   the past, or no nextUpdate and thisUpdate older than three days). Any failure sets
//!   GNUTLS_CERT_INVALID (measured: a response signed by a foreign responder gives status
//!   0x100002, INVALID|INVALID_OCSP_STATUS), which client.c reports as "Bad certificate";
//!   no response at all only leaves the status unchecked ("Failed to verify certificate
//!   status").
//! * OpenSSL (`client-ssl`): client.c's `tls_client_stapling_cb` calls
//!   `OCSP_basic_verify(bs, certs-of-CAFILE, NULL, OCSP_NOVERIFY)`, which only finds the
//!   signer (by responder ID, in the CA file first, then in the response) and checks the
//!   signature: neither the certificate status nor the times are looked at, so a
//!   "revoked" response passes.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::SignatureScheme;

/// One DER TLV: tag, the whole encoding, and the contents.
struct Tlv<'a> {
    tag: u8,
    raw: &'a [u8],
    body: &'a [u8],
}

/// Split the first TLV off `input`.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (hdr, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (2 + n, len)
    };
    let end = hdr.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            raw: &input[..end],
            body: &input[hdr..end],
        },
        &input[end..],
    ))
}

/// All TLVs inside a constructed value.
fn children(body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        out.push(t);
        rest = r;
    }
    Some(out)
}

const OID_OCSP_BASIC: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

/// The TLS signature scheme matching an AlgorithmIdentifier OID (contents bytes); its
/// entry in rustls' algorithm table gives the verification algorithms to try.
fn scheme_for(oid: &[u8]) -> Option<SignatureScheme> {
    Some(match oid {
        // sha1/sha256/sha384/sha512 WithRSAEncryption
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05] => SignatureScheme::RSA_PKCS1_SHA1,
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b] => SignatureScheme::RSA_PKCS1_SHA256,
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c] => SignatureScheme::RSA_PKCS1_SHA384,
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d] => SignatureScheme::RSA_PKCS1_SHA512,
        // ecdsa-with-SHA256 / SHA384 / SHA512
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => SignatureScheme::ECDSA_NISTP256_SHA256,
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => SignatureScheme::ECDSA_NISTP384_SHA384,
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04] => SignatureScheme::ECDSA_NISTP521_SHA512,
        // id-Ed25519
        [0x2b, 0x65, 0x70] => SignatureScheme::ED25519,
        _ => return None,
    })
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` to seconds since the epoch.
fn generalized_time(body: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(body).ok()?;
    if s.len() < 14 {
        return None;
    }
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<u8>().ok();
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month = time::Month::try_from(num(4, 6)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(6, 8)?).ok()?;
    let clock = time::Time::from_hms(num(8, 10)?, num(10, 12)?, num(12, 14)?).ok()?;
    u64::try_from(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
    .ok()
}

const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
/// How long GnuTLS trusts a response without nextUpdate (MAX_OCSP_VALIDITY_SECS).
const MAX_OCSP_VALIDITY_SECS: u64 = 3 * 24 * 60 * 60;

/// The digest named by a CertID hash-algorithm OID.
fn digest(oid: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use ring::digest as d;
    let alg = match oid {
        OID_SHA1 => &d::SHA1_FOR_LEGACY_USE_ONLY,
        OID_SHA256 => &d::SHA256,
        OID_SHA384 => &d::SHA384,
        OID_SHA512 => &d::SHA512,
        _ => return None,
    };
    Some(d::digest(alg, data).as_ref().to_vec())
}

/// Who signed the response, as the response itself says (ResponderID).
enum Responder<'a> {
    /// byName: the whole DER Name.
    Name(&'a [u8]),
    /// byKey: SHA-1 of the responder's public key bits.
    KeyHash(&'a [u8]),
}

impl Responder<'_> {
    fn matches(&self, c: &Cert<'_>) -> bool {
        match self {
            Responder::Name(n) => c.x.tbs_certificate.subject.as_raw() == *n,
            Responder::KeyHash(h) => digest(OID_SHA1, c.key()).is_some_and(|k| k == *h),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Good,
    Revoked,
    Unknown,
}

/// One SingleResponse.
struct Single<'a> {
    hash_alg: &'a [u8],
    name_hash: &'a [u8],
    serial: &'a [u8],
    status: Status,
    this_update: u64,
    next_update: Option<u64>,
}

/// A BasicOCSPResponse, borrowed from the DER.
struct Basic<'a> {
    tbs: &'a [u8],
    sig_alg: &'a [u8],
    sig: &'a [u8],
    certs: Vec<Cert<'a>>,
    responder: Responder<'a>,
    singles: Vec<Single<'a>>,
}

/// Why a response could not be read (OpenSSL's two wordings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    /// `d2i_OCSP_RESPONSE` fails: not an OCSPResponse at all.
    NotResponse,
    /// `OCSP_response_get1_basic` fails: unsuccessful status, not basic, or a broken body.
    NotBasic,
}

fn parse(response: &[u8]) -> Result<Basic<'_>, Unreadable> {
    let (outer, _) = tlv(response)
        .filter(|(t, _)| t.tag == 0x30)
        .ok_or(Unreadable::NotResponse)?;
    let top = children(outer.body).ok_or(Unreadable::NotResponse)?;
    let status = top
        .first()
        .filter(|t| t.tag == 0x0a)
        .ok_or(Unreadable::NotResponse)?;
    if status.body != [0] {
        return Err(Unreadable::NotBasic);
    }
    parse_basic(&top).ok_or(Unreadable::NotBasic)
}

fn parse_basic<'a>(top: &[Tlv<'a>]) -> Option<Basic<'a>> {
    let bytes = children(top.get(1)?.body)?; // [0] EXPLICIT ResponseBytes
    let rb = children(bytes.first()?.body)?;
    if rb.first()?.body != OID_OCSP_BASIC {
        return None;
    }
    let (basic, _) = tlv(rb.get(1)?.body)?;
    let basic = children(basic.body)?;
    let tbs = basic.first()?;
    let sig_alg = children(basic.get(1)?.body)?.first()?.body;
    let sig = basic.get(2)?.body.get(1..)?; // BIT STRING: skip the unused-bits byte
    let mut certs = Vec::new();
    if let Some(list) = basic
        .get(3)
        .and_then(|t| children(t.body))
        .and_then(|s| children(s.first()?.body))
    {
        certs.extend(list.iter().filter_map(|c| Cert::parse(c.raw)));
    }
    let data = children(tbs.body)?;
    let mut rest = data.iter().skip_while(|t| t.tag == 0xa0); // optional [0] version
    let rid = rest.next()?;
    let responder = match rid.tag {
        0xa1 => Responder::Name(tlv(rid.body)?.0.raw),
        0xa2 => Responder::KeyHash(tlv(rid.body)?.0.body),
        _ => return None,
    };
    let _produced_at = rest.next()?;
    let mut singles = Vec::new();
    for single in children(rest.next()?.body)? {
        let parts = children(single.body)?;
        let cert_id = children(parts.first()?.body)?;
        let status = match parts.get(1)?.tag {
            0x80 => Status::Good,
            0xa1 => Status::Revoked,
            _ => Status::Unknown,
        };
        let next_update = match parts.iter().find(|t| t.tag == 0xa0) {
            Some(next) => Some(generalized_time(tlv(next.body)?.0.body)?),
            None => None,
        };
        singles.push(Single {
            hash_alg: children(cert_id.first()?.body)?.first()?.body,
            name_hash: cert_id.get(1)?.body,
            serial: cert_id.get(3)?.body,
            status,
            this_update: generalized_time(parts.get(2)?.body)?,
            next_update,
        });
    }
    Some(Basic {
        tbs: tbs.raw,
        sig_alg,
        sig,
        certs,
        responder,
        singles,
    })
}

/// A certificate, parsed, with its DER.
struct Cert<'a> {
    der: &'a [u8],
    x: x509_parser::certificate::X509Certificate<'a>,
}

impl<'a> Cert<'a> {
    fn parse(der: &'a [u8]) -> Option<Cert<'a>> {
        let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(Cert { der, x })
    }

    /// The subjectPublicKey bits (what the verification algorithms take).
    fn key(&self) -> &[u8] {
        &self.x.tbs_certificate.subject_pki.subject_public_key.data
    }

    /// Whether this certificate's key made `sig` over `message` with algorithm `alg_oid`.
    fn signed(
        &self,
        message: &[u8],
        alg_oid: &[u8],
        sig: &[u8],
        algs: &WebPkiSupportedAlgorithms,
    ) -> bool {
        let Some(scheme) = scheme_for(alg_oid) else {
            return false;
        };
        let Some((_, candidates)) = algs.mapping.iter().find(|(s, _)| *s == scheme) else {
            return false;
        };
        candidates
            .iter()
            .any(|alg| alg.verify_signature(self.key(), message, sig).is_ok())
    }

    /// Whether `issuer` signed this certificate.
    fn issued_by(&self, issuer: &Cert<'_>, algs: &WebPkiSupportedAlgorithms) -> bool {
        self.x.tbs_certificate.issuer.as_raw() == issuer.x.tbs_certificate.subject.as_raw()
            && issuer.signed(
                self.x.tbs_certificate.as_ref(),
                self.x.signature_algorithm.algorithm.as_bytes(),
                &self.x.signature_value.data,
                algs,
            )
    }

    fn valid_at(&self, now: u64) -> bool {
        let v = self.x.validity();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        v.not_before.timestamp() <= now && now <= v.not_after.timestamp()
    }

    fn ocsp_signing(&self) -> bool {
        matches!(self.x.extended_key_usage(), Ok(Some(e)) if e.value.ocsp_signing)
    }
}

impl Single<'_> {
    /// `gnutls_ocsp_resp_check_crt`: the CertID names this certificate (serial number and
    /// the hash of its issuer's name).
    fn about(&self, c: &Cert<'_>) -> bool {
        self.serial == c.x.tbs_certificate.raw_serial()
            && digest(self.hash_alg, c.x.tbs_certificate.issuer.as_raw())
                .is_some_and(|h| h == self.name_hash)
    }
}

/// GnuTLS's verdict on the stapled response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GnutlsVerdict {
    /// Nothing was stapled: the status stays unchecked.
    Absent,
    /// Checked and good: `gnutls_ocsp_status_request_is_checked` says yes.
    Good,
    /// Stapled but unusable, revoked or stale: the certificate is INVALID.
    Bad(&'static str),
}

/// Check `response` as GnuTLS does for the end-entity certificate `end_entity`; `ca`
/// holds the certificates of the CA file, `intermediates` the rest of the server's chain.
pub fn gnutls_check(
    response: &[u8],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca: &[CertificateDer<'static>],
    now: UnixTime,
    algs: &WebPkiSupportedAlgorithms,
) -> GnutlsVerdict {
    if response.is_empty() {
        return GnutlsVerdict::Absent;
    }
    match gnutls_inner(response, end_entity, intermediates, ca, now.as_secs(), algs) {
        Ok(()) => GnutlsVerdict::Good,
        Err(why) => GnutlsVerdict::Bad(why),
    }
}

fn gnutls_inner(
    response: &[u8],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca: &[CertificateDer<'static>],
    now: u64,
    algs: &WebPkiSupportedAlgorithms,
) -> Result<(), &'static str> {
    let basic = parse(response).map_err(|_| "the OCSP response does not parse")?;
    let ee = Cert::parse(end_entity.as_ref()).ok_or("the server certificate does not parse")?;
    let single = basic
        .singles
        .iter()
        .find(|s| s.about(&ee))
        .ok_or("the OCSP response is about another certificate")?;
    let trusted: Vec<Cert<'_>> = ca.iter().filter_map(|c| Cert::parse(c.as_ref())).collect();
    let chain: Vec<Cert<'_>> = intermediates
        .iter()
        .filter_map(|c| Cert::parse(c.as_ref()))
        .collect();
    // The issuer comes from the trust list first, then from the chain the server sent.
    let signed = trusted
        .iter()
        .chain(chain.iter())
        .filter(|issuer| ee.issued_by(issuer, algs))
        .any(|issuer| signer_ok(&basic, issuer, &trusted, now, algs));
    if !signed {
        return Err("the OCSP response is not signed by the issuer or its responder");
    }
    match single.status {
        Status::Good => {}
        Status::Revoked => return Err("the certificate is revoked"),
        Status::Unknown => return Err("the certificate status is unknown"),
    }
    let stale = match single.next_update {
        Some(next) => next < now,
        None => now.saturating_sub(single.this_update) > MAX_OCSP_VALIDITY_SECS,
    };
    if stale {
        return Err("the OCSP response is superseded");
    }
    Ok(())
}

/// `gnutls_ocsp_resp_verify_direct` with `issuer`: the signer is the response's own
/// certificate named by the responder ID, else the issuer; a signer other than the issuer
/// (or a trusted certificate) must be signed by the issuer, be valid now and carry the
/// OCSP-signing EKU.
fn signer_ok(
    basic: &Basic<'_>,
    issuer: &Cert<'_>,
    trusted: &[Cert<'_>],
    now: u64,
    algs: &WebPkiSupportedAlgorithms,
) -> bool {
    let signer = match basic.certs.iter().find(|c| basic.responder.matches(c)) {
        Some(s) => s,
        None if basic.responder.matches(issuer) => issuer,
        None => return false,
    };
    let vouched = signer.der == issuer.der || trusted.iter().any(|t| t.der == signer.der);
    let delegated = signer.issued_by(issuer, algs) && signer.valid_at(now) && signer.ocsp_signing();
    if !vouched && !delegated {
        return false;
    }
    signer.signed(basic.tbs, basic.sig_alg, basic.sig, algs)
}

/// What client.c's OpenSSL status callback finds (`OCSP_basic_verify` with
/// `OCSP_NOVERIFY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpensslVerdict {
    /// Nothing stapled: "no response received", the handshake goes on.
    NoResponse,
    /// "response parse error".
    ParseError,
    /// "error parsing response".
    NotBasic,
    /// No signer certificate, by responder ID, in the CA file or the response.
    SignerNotFound,
    /// The signer's key does not verify the signature; `rsa` tells which library lines
    /// OpenSSL stacks below it.
    SignatureFailure { rsa: bool },
    /// "Response verify OK".
    Verified,
}

/// Check `response` as client.c's `tls_client_stapling_cb` does; `ca_file` holds the
/// DER certificates read from the `-ocsp` file.
pub fn openssl_check(
    response: &[u8],
    ca_file: &[Vec<u8>],
    algs: &WebPkiSupportedAlgorithms,
) -> OpensslVerdict {
    if response.is_empty() {
        return OpensslVerdict::NoResponse;
    }
    let basic = match parse(response) {
        Ok(b) => b,
        Err(Unreadable::NotResponse) => return OpensslVerdict::ParseError,
        Err(Unreadable::NotBasic) => return OpensslVerdict::NotBasic,
    };
    let from_file: Vec<Cert<'_>> = ca_file.iter().filter_map(|c| Cert::parse(c)).collect();
    // OpenSSL looks in the certificates passed in first, then in the response's own.
    let Some(signer) = from_file
        .iter()
        .chain(basic.certs.iter())
        .find(|c| basic.responder.matches(c))
    else {
        return OpensslVerdict::SignerNotFound;
    };
    if signer.signed(basic.tbs, basic.sig_alg, basic.sig, algs) {
        OpensslVerdict::Verified
    } else {
        let rsa = basic
            .sig_alg
            .starts_with(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]);
        OpensslVerdict::SignatureFailure { rsa }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walk() {
        let (t, rest) = tlv(&[0x30, 0x03, 0x02, 0x01, 0x05, 0xff]).unwrap();
        assert_eq!(t.tag, 0x30);
        assert_eq!(rest, &[0xff]);
        let kids = children(t.body).unwrap();
        assert_eq!(kids[0].body, &[5]);
        assert!(tlv(&[0x30, 0x05, 0x00]).is_none());
    }

    #[test]
    fn times() {
        assert_eq!(generalized_time(b"19700101000000Z"), Some(0));
        assert_eq!(generalized_time(b"20000301000000Z"), Some(951868800));
    }

    #[test]
    fn garbage_and_absence() {
        let ee = CertificateDer::from(vec![0x30, 0x00]);
        let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        assert!(matches!(
            gnutls_check(b"junk", &ee, &[], &[], UnixTime::now(), &algs),
            GnutlsVerdict::Bad(_)
        ));
        assert_eq!(
            gnutls_check(&[], &ee, &[], &[], UnixTime::now(), &algs),
            GnutlsVerdict::Absent
        );
        assert_eq!(openssl_check(&[], &[], &algs), OpensslVerdict::NoResponse);
        assert_eq!(
            openssl_check(b"junk", &[], &algs),
            OpensslVerdict::ParseError
        );
        // A well-formed OCSPResponse with status tryLater(3) and no body.
        assert_eq!(
            openssl_check(&[0x30, 0x03, 0x0a, 0x01, 0x03], &[], &algs),
            OpensslVerdict::NotBasic
        );
    }
}
