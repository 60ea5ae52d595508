//! A GnuTLS priority string (`client-gnutls -p NONE:+VERS-TLS1.2:+ECDHE-RSA:…`) mapped
//! onto what rustls can express: protocol versions, the signature schemes the client
//! advertises, TLS 1.2 key-exchange/authentication families, bulk ciphers and groups.
//!
//! Exim's tests use priority strings to steer which certificate the server picks (RSA or
//! ECDSA) and to pin TLS 1.2; that is what has to work. Algorithms rustls does not have
//! (DHE, static RSA, CBC, TLS 1.0/1.1) are accepted and ignored. A category left empty
//! after parsing falls back to "everything", so a string never makes the client unusable.

use rustls::SignatureScheme;

/// TLS protocol versions rustls can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// Bulk ciphers rustls (ring) offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20Poly1305,
}

/// TLS 1.2 key exchange + server authentication families rustls offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kx {
    EcdheRsa,
    EcdheEcdsa,
}

/// Key-exchange groups rustls (ring) offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    X25519,
    Secp256r1,
    Secp384r1,
}

/// The parsed policy; empty vectors mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Priority {
    pub versions: Vec<Version>,
    pub sign: Vec<SignatureScheme>,
    pub kx: Vec<Kx>,
    pub ciphers: Vec<Cipher>,
    pub groups: Vec<Group>,
}

const ALL_VERSIONS: &[Version] = &[Version::Tls13, Version::Tls12];
const ALL_KX: &[Kx] = &[Kx::EcdheEcdsa, Kx::EcdheRsa];
const ALL_CIPHERS: &[Cipher] = &[
    Cipher::Aes256Gcm,
    Cipher::Aes128Gcm,
    Cipher::Chacha20Poly1305,
];
const ALL_GROUPS: &[Group] = &[Group::X25519, Group::Secp256r1, Group::Secp384r1];

/// Every signature scheme the client is willing to advertise, in preference order.
pub const ALL_SIGN: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA1,
    SignatureScheme::ECDSA_SHA1_Legacy,
];

/// What one GnuTLS keyword stands for.
enum Item {
    Versions(&'static [Version]),
    Sign(Vec<SignatureScheme>),
    Kx(&'static [Kx]),
    Ciphers(&'static [Cipher]),
    Groups(&'static [Group]),
    /// Known to GnuTLS but nothing rustls offers (or irrelevant here).
    Nothing,
}

fn sign_item(name: &str) -> Option<Vec<SignatureScheme>> {
    use SignatureScheme as S;
    let v = match name {
        "ALL" => ALL_SIGN.to_vec(),
        "RSA-SHA1" => vec![S::RSA_PKCS1_SHA1],
        "RSA-SHA256" => vec![S::RSA_PKCS1_SHA256],
        "RSA-SHA384" => vec![S::RSA_PKCS1_SHA384],
        "RSA-SHA512" => vec![S::RSA_PKCS1_SHA512],
        "RSA-PSS-SHA256" | "RSA-PSS-RSAE-SHA256" => vec![S::RSA_PSS_SHA256],
        "RSA-PSS-SHA384" | "RSA-PSS-RSAE-SHA384" => vec![S::RSA_PSS_SHA384],
        "RSA-PSS-SHA512" | "RSA-PSS-RSAE-SHA512" => vec![S::RSA_PSS_SHA512],
        "ECDSA-SHA1" => vec![S::ECDSA_SHA1_Legacy],
        "ECDSA-SHA256" | "ECDSA-SECP256R1-SHA256" => vec![S::ECDSA_NISTP256_SHA256],
        "ECDSA-SHA384" | "ECDSA-SECP384R1-SHA384" => vec![S::ECDSA_NISTP384_SHA384],
        "ECDSA-SHA512" | "ECDSA-SECP521R1-SHA512" => vec![S::ECDSA_NISTP521_SHA512],
        "EDDSA-ED25519" => vec![S::ED25519],
        _ => return None,
    };
    Some(v)
}

fn item(name: &str) -> Item {
    if let Some(rest) = name.strip_prefix("SIGN-") {
        return sign_item(rest).map_or(Item::Nothing, Item::Sign);
    }
    match name {
        "VERS-TLS1.2" => Item::Versions(&[Version::Tls12]),
        "VERS-TLS1.3" => Item::Versions(&[Version::Tls13]),
        "VERS-ALL" | "VERS-TLS-ALL" => Item::Versions(ALL_VERSIONS),
        "ECDHE-RSA" => Item::Kx(&[Kx::EcdheRsa]),
        "ECDHE-ECDSA" => Item::Kx(&[Kx::EcdheEcdsa]),
        "KX-ALL" => Item::Kx(ALL_KX),
        "CIPHER-ALL" => Item::Ciphers(ALL_CIPHERS),
        "AES-128-GCM" => Item::Ciphers(&[Cipher::Aes128Gcm]),
        "AES-256-GCM" => Item::Ciphers(&[Cipher::Aes256Gcm]),
        "CHACHA20-POLY1305" => Item::Ciphers(&[Cipher::Chacha20Poly1305]),
        "CURVE-ALL" | "GROUP-ALL" => Item::Groups(ALL_GROUPS),
        "CURVE-X25519" | "GROUP-X25519" => Item::Groups(&[Group::X25519]),
        "CURVE-SECP256R1" | "GROUP-SECP256R1" => Item::Groups(&[Group::Secp256r1]),
        "CURVE-SECP384R1" | "GROUP-SECP384R1" => Item::Groups(&[Group::Secp384r1]),
        _ => Item::Nothing,
    }
}

fn add<T: PartialEq + Clone>(set: &mut Vec<T>, items: &[T]) {
    for i in items {
        if !set.contains(i) {
            set.push(i.clone());
        }
    }
}

fn remove<T: PartialEq>(set: &mut Vec<T>, items: &[T]) {
    set.retain(|x| !items.contains(x));
}

impl Priority {
    /// Parse a GnuTLS priority string. Never fails: unknown keywords are ignored, as
    /// far as this client is concerned they name nothing it could offer.
    pub fn parse(s: &str) -> Priority {
        let mut p = Priority::default();
        let mut tokens = s
            .split(':')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .peekable();
        // The string starts with a base keyword: NONE starts empty, anything else
        // (NORMAL, SECURE128, PERFORMANCE, @SYSTEM…) starts with everything.
        if let Some(&first) = tokens.peek() {
            if !first.starts_with(['+', '-', '!', '%']) {
                tokens.next();
                if first != "NONE" {
                    p = Priority::everything();
                }
            }
        }
        for t in tokens {
            let (adding, name) = match t.as_bytes()[0] {
                b'+' => (true, &t[1..]),
                b'-' | b'!' => (false, &t[1..]),
                _ => continue, // %COMPAT and friends
            };
            match (item(name), adding) {
                (Item::Versions(v), true) => add(&mut p.versions, v),
                (Item::Versions(v), false) => remove(&mut p.versions, v),
                (Item::Sign(v), true) => add(&mut p.sign, &v),
                (Item::Sign(v), false) => remove(&mut p.sign, &v),
                (Item::Kx(v), true) => add(&mut p.kx, v),
                (Item::Kx(v), false) => remove(&mut p.kx, v),
                (Item::Ciphers(v), true) => add(&mut p.ciphers, v),
                (Item::Ciphers(v), false) => remove(&mut p.ciphers, v),
                (Item::Groups(v), true) => add(&mut p.groups, v),
                (Item::Groups(v), false) => remove(&mut p.groups, v),
                (Item::Nothing, _) => {}
            }
        }
        p
    }

    /// No restriction at all (what the client uses without `-p`).
    pub fn everything() -> Priority {
        Priority {
            versions: ALL_VERSIONS.to_vec(),
            sign: ALL_SIGN.to_vec(),
            kx: ALL_KX.to_vec(),
            ciphers: ALL_CIPHERS.to_vec(),
            groups: ALL_GROUPS.to_vec(),
        }
    }

    /// Versions to offer (all if the string left none).
    pub fn versions(&self) -> &[Version] {
        if self.versions.is_empty() {
            ALL_VERSIONS
        } else {
            &self.versions
        }
    }

    /// Signature schemes to advertise (all if the string left none).
    pub fn sign(&self) -> &[SignatureScheme] {
        if self.sign.is_empty() {
            ALL_SIGN
        } else {
            &self.sign
        }
    }

    /// TLS 1.2 families allowed (all if none).
    pub fn kx(&self) -> &[Kx] {
        if self.kx.is_empty() {
            ALL_KX
        } else {
            &self.kx
        }
    }

    /// Ciphers allowed (all if none).
    pub fn ciphers(&self) -> &[Cipher] {
        if self.ciphers.is_empty() {
            ALL_CIPHERS
        } else {
            &self.ciphers
        }
    }

    /// Groups allowed (all if none).
    pub fn groups(&self) -> &[Group] {
        if self.groups.is_empty() {
            ALL_GROUPS
        } else {
            &self.groups
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_only_tls12() {
        let p = Priority::parse(
            "NONE:+SIGN-RSA-SHA256:+VERS-TLS1.2:+ECDHE-RSA:+DHE-RSA:+RSA:+CIPHER-ALL:+MAC-ALL:+COMP-NULL:+CURVE-ALL:+CTYPE-X509",
        );
        assert_eq!(p.versions(), &[Version::Tls12]);
        assert_eq!(p.sign(), &[SignatureScheme::RSA_PKCS1_SHA256]);
        assert_eq!(p.kx(), &[Kx::EcdheRsa]);
        assert_eq!(p.ciphers().len(), 3);
    }

    #[test]
    fn ecdsa_preferred() {
        let p = Priority::parse(
            "NONE:+SIGN-ECDSA-SHA512:+VERS-TLS1.2:+KX-ALL:+CIPHER-ALL:+MAC-ALL:+COMP-NULL:+CURVE-ALL:+CTYPE-X509",
        );
        assert_eq!(p.sign(), &[SignatureScheme::ECDSA_NISTP521_SHA512]);
        assert_eq!(p.kx().len(), 2);
    }

    #[test]
    fn normal_minus_tls13() {
        let p = Priority::parse("NORMAL:-VERS-TLS1.3");
        assert_eq!(p.versions(), &[Version::Tls12]);
        assert_eq!(p.sign().len(), ALL_SIGN.len());
    }

    #[test]
    fn empty_categories_fall_back_to_all() {
        let p = Priority::parse("NONE:+VERS-TLS1.3");
        assert_eq!(p.versions(), &[Version::Tls13]);
        assert_eq!(p.sign().len(), ALL_SIGN.len());
        assert_eq!(p.groups().len(), 3);
    }
}
