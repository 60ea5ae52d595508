//! SASL client mechanisms, pure: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256
//! (RFC 4616, draft-murchison-sasl-login, RFC 2195, RFC 5802/7677). Each is a small state machine
//! from the server's decoded challenge to our raw response; base64 is the caller's job.
use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Credentials for one login.
#[derive(Debug, Clone)]
pub struct Creds {
    /// The user to log in as.
    pub user: String,
    /// The user whose password is given (a master user), if not `user`.
    pub authc: Option<String>,
    pub pass: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
}

/// A mechanism in progress.
#[derive(Debug)]
pub enum Mech {
    Plain {
        done: bool,
    },
    Login {
        step: u8,
    },
    CramMd5 {
        done: bool,
    },
    Scram {
        hash: Hash,
        nonce: String,
        first_bare: String,
        server_sig: Option<Vec<u8>>,
        step: u8,
    },
}

fn hmac<H: Hash2>(key: &[u8], data: &[u8]) -> Vec<u8> {
    H::hmac(key, data)
}

trait Hash2 {
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8>;
}
struct S1;
struct S256;
impl Hash2 for S1 {
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("hmac takes any key");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
}
impl Hash2 for S256 {
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac takes any key");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => hmac::<S1>(key, data),
            Hash::Sha256 => hmac::<S256>(key, data),
        }
    }
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }
    fn pbkdf2(self, pass: &[u8], salt: &[u8], iter: u32) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(pass, salt, iter, &mut out);
                out.to_vec()
            }
            Hash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(pass, salt, iter, &mut out);
                out.to_vec()
            }
        }
    }
}

fn scram_name(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

impl Mech {
    /// The mechanism named `name` (upper case); `nonce` is the SCRAM client nonce.
    pub fn new(name: &str, nonce: &str) -> Result<Mech> {
        Ok(match name {
            "PLAIN" => Mech::Plain { done: false },
            "LOGIN" => Mech::Login { step: 0 },
            "CRAM-MD5" => Mech::CramMd5 { done: false },
            "SCRAM-SHA-1" | "SCRAM-SHA-256" => Mech::Scram {
                hash: if name == "SCRAM-SHA-1" {
                    Hash::Sha1
                } else {
                    Hash::Sha256
                },
                nonce: nonce.to_string(),
                first_bare: String::new(),
                server_sig: None,
                step: 0,
            },
            other => bail!(
                "mech={other}: not supported (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256)"
            ),
        })
    }

    /// Whether the mechanism sends a first response before any challenge (SASL-IR).
    pub fn client_first(&self) -> bool {
        matches!(self, Mech::Plain { .. } | Mech::Scram { .. })
    }

    /// Our response to the server's (decoded) challenge.
    pub fn step(&mut self, creds: &Creds, challenge: &[u8]) -> Result<Vec<u8>> {
        match self {
            Mech::Plain { done } => {
                if *done {
                    bail!("PLAIN: unexpected second challenge");
                }
                *done = true;
                let (authz, authc) = match &creds.authc {
                    Some(m) => (creds.user.as_str(), m.as_str()),
                    None => ("", creds.user.as_str()),
                };
                Ok(format!("{authz}\0{authc}\0{}", creds.pass).into_bytes())
            }
            Mech::Login { step } => {
                *step += 1;
                match *step {
                    1 => Ok(creds.user.clone().into_bytes()),
                    2 => Ok(creds.pass.clone().into_bytes()),
                    _ => bail!("LOGIN: unexpected third challenge"),
                }
            }
            Mech::CramMd5 { done } => {
                if *done {
                    bail!("CRAM-MD5: unexpected second challenge");
                }
                *done = true;
                let mut m = <Hmac<md5::Md5> as Mac>::new_from_slice(creds.pass.as_bytes())
                    .expect("hmac takes any key");
                m.update(challenge);
                let hex: String = m
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Ok(format!("{} {hex}", creds.user).into_bytes())
            }
            Mech::Scram {
                hash,
                nonce,
                first_bare,
                server_sig,
                step,
            } => {
                *step += 1;
                match *step {
                    1 => {
                        let authz = creds
                            .authc
                            .as_ref()
                            .map(|_| format!("a={}", scram_name(&creds.user)))
                            .unwrap_or_default();
                        let authc = creds.authc.as_deref().unwrap_or(&creds.user);
                        *first_bare = format!("n={},r={nonce}", scram_name(authc));
                        Ok(format!("n,{authz},{first_bare}").into_bytes())
                    }
                    2 => {
                        let server_first = std::str::from_utf8(challenge)
                            .context("SCRAM: server-first is not UTF-8")?;
                        let mut r = None;
                        let mut s = None;
                        let mut i = None;
                        for part in server_first.split(',') {
                            match part.split_at_checked(2) {
                                Some(("r=", v)) => r = Some(v),
                                Some(("s=", v)) => s = Some(v),
                                Some(("i=", v)) => i = Some(v),
                                _ => {}
                            }
                        }
                        let (Some(r), Some(s), Some(i)) = (r, s, i) else {
                            bail!("SCRAM: bad server-first message {server_first:?}");
                        };
                        if !r.starts_with(nonce.as_str()) {
                            bail!("SCRAM: server nonce does not extend ours");
                        }
                        let salt = B64.decode(s).context("SCRAM: bad salt")?;
                        let iter: u32 = i.parse().context("SCRAM: bad iteration count")?;
                        if iter == 0 || iter > 1_000_000 {
                            bail!("SCRAM: iteration count {iter} out of range");
                        }
                        let gs2 = match &creds.authc {
                            Some(_) => format!("n,a={},", scram_name(&creds.user)),
                            None => "n,,".to_string(),
                        };
                        let without_proof = format!("c={},r={r}", B64.encode(gs2));
                        let auth_message = format!("{first_bare},{server_first},{without_proof}");
                        let salted = hash.pbkdf2(creds.pass.as_bytes(), &salt, iter);
                        let client_key = hash.hmac(&salted, b"Client Key");
                        let stored = hash.digest(&client_key);
                        let sig = hash.hmac(&stored, auth_message.as_bytes());
                        let proof: Vec<u8> =
                            client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
                        let server_key = hash.hmac(&salted, b"Server Key");
                        *server_sig = Some(hash.hmac(&server_key, auth_message.as_bytes()));
                        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
                    }
                    3 => {
                        let fin = std::str::from_utf8(challenge).unwrap_or("");
                        let v = fin
                            .strip_prefix("v=")
                            .with_context(|| format!("SCRAM: server-final {fin:?}"))?;
                        let got = B64.decode(v).context("SCRAM: bad server signature")?;
                        if Some(&got) != server_sig.as_ref() {
                            bail!("SCRAM: the server's signature is wrong");
                        }
                        Ok(Vec::new())
                    }
                    _ => bail!("SCRAM: unexpected challenge"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, pass: &str) -> Creds {
        Creds {
            user: user.into(),
            authc: None,
            pass: pass.into(),
        }
    }

    #[test]
    fn scram_sha1_rfc5802_vector() {
        let c = creds("user", "pencil");
        let mut m = Mech::new("SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL").unwrap();
        assert_eq!(
            m.step(&c, b"").unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let fin = m
            .step(
                &c,
                b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(fin).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert!(m.step(&c, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").is_ok());
    }

    #[test]
    fn scram_sha256_rfc7677_vector() {
        let c = creds("user", "pencil");
        let mut m = Mech::new("SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO").unwrap();
        m.step(&c, b"").unwrap();
        let fin = m.step(&c, b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").unwrap();
        assert_eq!(String::from_utf8(fin).unwrap(), "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert!(m
            .step(&c, b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_ok());
        let mut bad = Mech::new("SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO").unwrap();
        bad.step(&c, b"").unwrap();
        assert!(bad
            .step(&c, b"r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .is_err());
    }

    #[test]
    fn plain_login_cram() {
        let c = creds("tim", "tanstaaftanstaaf");
        assert_eq!(
            Mech::new("PLAIN", "").unwrap().step(&c, b"").unwrap(),
            b"\0tim\0tanstaaftanstaaf"
        );
        let master = Creds {
            authc: Some("admin".into()),
            ..c.clone()
        };
        assert_eq!(
            Mech::new("PLAIN", "").unwrap().step(&master, b"").unwrap(),
            b"tim\0admin\0tanstaaftanstaaf"
        );
        let mut l = Mech::new("LOGIN", "").unwrap();
        assert_eq!(l.step(&c, b"Username:").unwrap(), b"tim");
        assert_eq!(l.step(&c, b"Password:").unwrap(), b"tanstaaftanstaaf");
        // RFC 2195's example
        let r = Mech::new("CRAM-MD5", "")
            .unwrap()
            .step(&c, b"<1896.697170952@postoffice.reston.mci.net>")
            .unwrap();
        assert_eq!(r, b"tim b913a602c7eda7a495b4e6e7334d3890");
        assert!(Mech::new("DIGEST-MD5", "").is_err());
    }
}
