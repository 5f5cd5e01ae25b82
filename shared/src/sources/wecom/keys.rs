//! The RSA step (sources-deep.md §A.7): each message's `encrypt_random_key`
//! (base64) is decrypted with RSA PKCS#1 v1.5 by the private key of the
//! message's `publickey_ver`; the plaintext is the `encrypt_key` that
//! `DecryptData` takes.
//!
//! Every key version ever set in the WeCom console is kept (a message
//! names the version it was encrypted for), in one secret: a JSON object
//! from version to PEM private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
//! PKCS#8 (`BEGIN PRIVATE KEY`). Message keys are zeroized once used;
//! the private keys zeroize themselves when dropped.
//!
//! PKCS#1 v1.5 decryption is open to padding-oracle timing attacks
//! (RUSTSEC-2023-0071, the Marvin attack); see the README for why it does
//! not apply here.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use zeroize::{Zeroize, Zeroizing};

use crate::secrets::Secret;

/// What is wrong with the key secret or with one message's key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret is not a JSON object of version -> PEM text.
    #[error("the WeCom private key secret is not a JSON object of key version to PEM private key")]
    NotAMap,
    /// A version is not a number.
    #[error("the WeCom private key secret has a key version {0:?} that is not a number")]
    Version(String),
    /// A PEM is neither PKCS#1 nor PKCS#8 RSA.
    #[error(
        "the WeCom private key of version {0} is neither a PKCS#1 nor a PKCS#8 PEM RSA private key"
    )]
    Pem(u32),
    /// No key of the message's version.
    #[error("no private key of version {0} (publickey_ver): add it to the key secret")]
    Missing(u32),
    /// The message key is not base64.
    #[error("encrypt_random_key is not base64")]
    Base64,
    /// RSA decryption failed (a damaged message key). A key of the right
    /// version that is not the one WeCom encrypted for mostly gives other
    /// bytes instead (implicit rejection), which `DecryptData` refuses.
    #[error("encrypt_random_key does not decrypt with the private key of version {0}")]
    Decrypt(u32),
}

/// The private keys by `publickey_ver`.
#[derive(Default)]
pub struct PrivateKeys {
    keys: BTreeMap<u32, PrivateKey>,
    /// Versions whose PEM is not a private key: left out (their messages
    /// are kept encrypted as for a missing key) and reported by each run.
    unreadable: Vec<u32>,
}

impl std::fmt::Debug for PrivateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKeys")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("unreadable", &self.unreadable)
            .finish()
    }
}

impl PrivateKeys {
    /// The keys in a secret: `{"1": "-----BEGIN RSA PRIVATE KEY-----…", "2": …}`.
    ///
    /// A version whose PEM does not parse is left out and listed by
    /// [`PrivateKeys::unreadable`], rather than failing the whole secret:
    /// one mistyped new key must not stop the collection of every message
    /// (and, in AWS, of every source) while WeCom's few days run out.
    pub fn from_secret(secret: &Secret) -> Result<Self, KeyError> {
        let mut map: BTreeMap<String, String> =
            serde_json::from_str(secret.expose()).map_err(|_| KeyError::NotAMap)?;
        let mut unreadable = Vec::new();
        let result = map
            .iter()
            .filter_map(|(version, pem)| {
                let version: u32 = match version.trim().parse() {
                    Ok(version) => version,
                    Err(_) => return Some(Err(KeyError::Version(version.clone()))),
                };
                match parse_pem(version, pem) {
                    Ok(key) => Some(Ok((version, key))),
                    Err(_) => {
                        unreadable.push(version);
                        None
                    }
                }
            })
            .collect::<Result<BTreeMap<_, _>, KeyError>>();
        for pem in map.values_mut() {
            pem.zeroize();
        }
        Ok(PrivateKeys {
            keys: result?,
            unreadable,
        })
    }

    /// What is wrong with versions left out of the secret, one line each.
    pub fn unreadable(&self) -> Vec<String> {
        self.unreadable
            .iter()
            .map(|version| {
                format!(
                    "{}; messages of that version are kept encrypted until it is fixed",
                    KeyError::Pem(*version)
                )
            })
            .collect()
    }

    /// Whether a key of this version is held.
    pub fn has(&self, version: u32) -> bool {
        self.keys.contains_key(&version)
    }

    /// The message key (`encrypt_key` for `DecryptData`) of a message
    /// encrypted for `version`; zeroized when dropped.
    pub fn message_key(
        &self,
        version: u32,
        encrypt_random_key: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = self.keys.get(&version).ok_or(KeyError::Missing(version))?;
        let sealed = STANDARD
            .decode(encrypt_random_key.trim())
            .map_err(|_| KeyError::Base64)?;
        key.pkcs1v15_decrypt(&sealed)
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Decrypt(version))
    }
}

/// A PEM private key, PKCS#1 first, then PKCS#8.
fn parse_pem(version: u32, pem: &str) -> Result<PrivateKey, KeyError> {
    let pem = pem.trim();
    PrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| PrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| KeyError::Pem(version))
}

#[cfg(test)]
mod tests {
    use rsa::Generate;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    use super::*;

    #[test]
    fn message_keys_decrypt_by_version_from_pkcs1_and_pkcs8_pems() {
        let one = PrivateKey::generate();
        let two = PrivateKey::generate();
        let secret = serde_json::json!({
            "1": one.to_pkcs1_pem(LineEnding::LF).unwrap().as_str(),
            "2": two.to_pkcs8_pem(LineEnding::LF).unwrap().as_str(),
        });
        let keys = PrivateKeys::from_secret(&Secret::new(secret.to_string())).unwrap();
        assert!(keys.has(1) && keys.has(2) && !keys.has(3));
        let seal = |key: &PrivateKey, plain: &[u8]| {
            STANDARD.encode(key.to_public_key().pkcs1v15_encrypt(plain).unwrap())
        };
        let for_two = seal(&two, b"message key 2");
        assert_eq!(
            keys.message_key(2, &for_two).unwrap().as_slice(),
            b"message key 2"
        );
        // The wrong key gives no error but other bytes (implicit
        // rejection): DecryptData then refuses them (10006).
        let wrong = keys.message_key(1, &for_two);
        assert!(wrong.is_err() || wrong.unwrap().as_slice() != b"message key 2");
        assert!(matches!(
            keys.message_key(3, &for_two),
            Err(KeyError::Missing(3))
        ));
        assert!(matches!(
            keys.message_key(2, "not base64!"),
            Err(KeyError::Base64)
        ));
        assert_eq!(
            format!("{keys:?}"),
            "PrivateKeys { versions: [1, 2], unreadable: [] }",
            "no key material in Debug"
        );
    }

    #[test]
    fn a_bad_secret_names_what_is_wrong_without_quoting_keys() {
        let bad = |text: &str| {
            PrivateKeys::from_secret(&Secret::new(text))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("-----BEGIN RSA PRIVATE KEY-----").contains("not a JSON object"));
        assert!(bad(r#"{"v1": "x"}"#).contains("\"v1\""));
        // A version that does not parse is left out and named, the others
        // kept.
        let good = PrivateKey::generate().to_pkcs1_pem(LineEnding::LF).unwrap();
        let secret = serde_json::json!({
            "1": good.as_str(),
            "3": "-----BEGIN PRIVATE KEY-----\nAAAA\n",
        });
        let keys = PrivateKeys::from_secret(&Secret::new(secret.to_string())).unwrap();
        assert!(keys.has(1) && !keys.has(3));
        let problems = keys.unreadable();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("version 3"), "{}", problems[0]);
        assert!(!problems[0].contains("AAAA"));
    }
}
