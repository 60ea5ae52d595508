//! Checking a stapled OCSP response for `client-gnutls -ocsp CAFILE`, standing in for
//! GnuTLS's `gnutls_ocsp_status_request_is_checked`: the response must be a successful
//! basic response, name the server certificate's serial number with status "good", not be
//! past its nextUpdate, and carry a signature that verifies with the key of a certificate
//! from the CA file, the chain the server sent, or the response's own certificates.
//!
//! Not checked (left for later): that a delegated responder certificate carries the
//! OCSP-signing EKU and chains to the CA, and the CertID issuer hashes.

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
    Some((Tlv { tag, raw: &input[..end], body: &input[hdr..end] }, &input[end..]))
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

/// The serial number (INTEGER contents) of a certificate.
fn serial_of(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, x) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(x.tbs_certificate.raw_serial().to_vec())
}

/// The SubjectPublicKeyInfo's key bits of a certificate.
fn public_key_of(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, x) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(x.tbs_certificate.subject_pki.subject_public_key.data.to_vec())
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` to seconds since the epoch.
fn generalized_time(body: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(body).ok()?;
    if s.len() < 14 {
        return None;
    }
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0, 4)?, num(4, 6)?, num(6, 8)?, num(8, 10)?, num(10, 12)?, num(12, 14)?);
    // Days from civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    u64::try_from(days * 86400 + h * 3600 + mi * 60 + se).ok()
}

/// Whether `response` is a valid "good" OCSP response for `end_entity`; `ca` are the
/// certificates of the CA file, `algs` the verification algorithms available.
pub fn response_is_good(
    response: &[u8],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca: &[CertificateDer<'static>],
    now: UnixTime,
    algs: &WebPkiSupportedAlgorithms,
) -> bool {
    check(response, end_entity, intermediates, ca, now, algs).unwrap_or(false)
}

fn check(
    response: &[u8],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca: &[CertificateDer<'static>],
    now: UnixTime,
    algs: &WebPkiSupportedAlgorithms,
) -> Option<bool> {
    let (outer, _) = tlv(response)?;
    let top = children(outer.body)?;
    // responseStatus ENUMERATED successful(0)
    if top.first()?.tag != 0x0a || top[0].body != [0] {
        return Some(false);
    }
    let bytes = children(top.get(1)?.body)?; // [0] EXPLICIT ResponseBytes
    let rb = children(bytes.first()?.body)?;
    if rb.first()?.body != OID_OCSP_BASIC {
        return Some(false);
    }
    let (basic, _) = tlv(rb.get(1)?.body)?;
    let basic = children(basic.body)?;
    let tbs = basic.first()?;
    let sig_alg = children(basic.get(1)?.body)?;
    let sig = basic.get(2)?.body.get(1..)?; // BIT STRING: skip unused-bits byte
    let mut signers: Vec<Vec<u8>> = ca.iter().map(|c| c.as_ref().to_vec()).collect();
    signers.extend(intermediates.iter().map(|c| c.as_ref().to_vec()));
    if let Some(certs) = basic.get(3) {
        if let Some(seq) = children(certs.body) {
            if let Some(list) = seq.first().and_then(|s| children(s.body)) {
                signers.extend(list.iter().map(|c| c.raw.to_vec()));
            }
        }
    }
    let scheme = scheme_for(sig_alg.first()?.body)?;
    let candidates = algs.mapping.iter().find(|(s, _)| *s == scheme)?.1;
    let signed = signers
        .iter()
        .filter_map(|c| public_key_of(c))
        .any(|key| candidates.iter().any(|alg| alg.verify_signature(&key, tbs.raw, sig).is_ok()));
    if !signed {
        return Some(false);
    }

    let serial = serial_of(end_entity.as_ref())?;
    let data = children(tbs.body)?;
    // Skip the optional [0] version, the responderID and producedAt.
    let responses = data.iter().find(|t| t.tag == 0x30)?;
    for single in children(responses.body)? {
        let parts = children(single.body)?;
        let cert_id = children(parts.first()?.body)?;
        if cert_id.get(3)?.body != serial.as_slice() {
            continue;
        }
        let good = parts.get(1)?.tag == 0x80;
        let fresh = match parts.iter().find(|t| t.tag == 0xa0) {
            Some(next) => generalized_time(tlv(next.body)?.0.body)? > now.as_secs(),
            None => true,
        };
        return Some(good && fresh);
    }
    Some(false)
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
    fn garbage_is_not_good() {
        let ee = CertificateDer::from(vec![0x30, 0x00]);
        let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        assert!(!response_is_good(b"junk", &ee, &[], &[], UnixTime::now(), &algs));
        assert!(!response_is_good(&[], &ee, &[], &[], UnixTime::now(), &algs));
    }
}
