//! The `X-Hub-Signature-256` check: Meta signs every notification with
//! HMAC-SHA256 over the raw body bytes, keyed with the app secret, and
//! sends `sha256=<hex>`.
//!
//! Decisions (issue 12):
//! - Only `sha256=` is accepted. The legacy `X-Hub-Signature: sha1=…` (or a
//!   `sha1=` value in this header) is refused like a wrong signature: SHA-1
//!   is not what we check, and accepting it would let a downgrade through.
//! - The hex digits may be upper or lower case. Meta writes lowercase, but
//!   the value is the same 32 bytes either way: the digits are decoded and
//!   the bytes compared, in constant time ([`aws_lc_rs::hmac::verify`]), so
//!   case changes nothing about what an attacker must know.
//! - Anything else (no header, another prefix, not 64 hex digits, a wrong
//!   MAC) is refused. The body is never re-serialised: the MAC is over the
//!   bytes exactly as received.

use aws_lc_rs::hmac;

use crate::secrets::Secret;

/// The header Meta sends the signature in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The prefix of the header's value.
const PREFIX: &str = "sha256=";

/// Why a notification's signature is refused (all answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// There is no `X-Hub-Signature-256` header.
    #[error("no X-Hub-Signature-256 header")]
    Missing,
    /// The header holds a SHA-1 signature (`sha1=`), which is not accepted.
    #[error("X-Hub-Signature-256 holds a sha1= signature; only sha256= is accepted")]
    Sha1,
    /// The header is not `sha256=` and 64 hex digits.
    #[error("X-Hub-Signature-256 is not sha256=<64 hex digits>")]
    Malformed,
    /// The MAC does not match the body and the app secret.
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// Checks `header` (the value of `X-Hub-Signature-256`, if any) against
/// the raw `body`, keyed with the app secret.
pub fn check_signature(
    app_secret: &Secret,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let value = header.ok_or(SignatureError::Missing)?.trim();
    let digits = match value.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &value[PREFIX.len()..],
        _ if value.to_ascii_lowercase().starts_with("sha1=") => {
            return Err(SignatureError::Sha1);
        }
        _ => return Err(SignatureError::Malformed),
    };
    let mut tag = [0u8; 32];
    hex::decode_to_slice(digits, &mut tag).map_err(|_| SignatureError::Malformed)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.expose().as_bytes());
    hmac::verify(&key, body, &tag).map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: `sha256=<lowercase hex>`.
/// For tests and the local tools that sign sample bodies.
pub fn sign(app_secret: &Secret, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.expose().as_bytes());
    format!("{PREFIX}{}", hex::encode(hmac::sign(&key, body).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("app-secret-for-tests")
    }

    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

    #[test]
    fn a_valid_signature_is_accepted() {
        let header = sign(&secret(), BODY);
        assert_eq!(check_signature(&secret(), Some(&header), BODY), Ok(()));
    }

    #[test]
    fn the_signature_matches_a_known_hmac() {
        // echo -n 'hello' | openssl dgst -sha256 -hmac key
        let header = sign(&Secret::new("key"), b"hello");
        assert_eq!(
            header,
            "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"
        );
    }

    #[test]
    fn a_signature_with_another_secret_is_a_mismatch() {
        let header = sign(&Secret::new("another secret"), BODY);
        assert_eq!(
            check_signature(&secret(), Some(&header), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_missing_signature_is_refused() {
        assert_eq!(
            check_signature(&secret(), None, BODY),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_sha1_signature_is_refused() {
        let sha256 = sign(&secret(), BODY);
        let sha1 = format!("sha1={}", &sha256[PREFIX.len()..PREFIX.len() + 40]);
        assert_eq!(
            check_signature(&secret(), Some(&sha1), BODY),
            Err(SignatureError::Sha1)
        );
        // Even with the right digits behind it.
        let relabelled = sha256.replacen("sha256=", "sha1=", 1);
        assert_eq!(
            check_signature(&secret(), Some(&relabelled), BODY),
            Err(SignatureError::Sha1)
        );
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        let header = sign(&secret(), BODY);
        let upper = format!("sha256={}", header[PREFIX.len()..].to_ascii_uppercase());
        assert_eq!(check_signature(&secret(), Some(&upper), BODY), Ok(()));
    }

    #[test]
    fn a_body_altered_by_one_byte_is_a_mismatch() {
        let header = sign(&secret(), BODY);
        for at in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut altered = BODY.to_vec();
            altered[at] ^= 1;
            assert_eq!(
                check_signature(&secret(), Some(&header), &altered),
                Err(SignatureError::Mismatch),
                "byte {at}"
            );
        }
        let mut longer = BODY.to_vec();
        longer.push(b' ');
        assert_eq!(
            check_signature(&secret(), Some(&header), &longer),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_empty_body_is_checked_like_any_other() {
        let header = sign(&secret(), b"");
        assert_eq!(check_signature(&secret(), Some(&header), b""), Ok(()));
        let other = sign(&secret(), BODY);
        assert_eq!(
            check_signature(&secret(), Some(&other), b""),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = sign(&secret(), BODY);
        for bad in [
            "",
            "sha256=",
            "sha256",
            &good[PREFIX.len()..],
            &good[..good.len() - 1],
            &format!("{good}0"),
            &good.replace("sha256=", "sha512="),
            &format!("sha256={}", "zz".repeat(32)),
        ] {
            assert_eq!(
                check_signature(&secret(), Some(bad), BODY),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }
}
