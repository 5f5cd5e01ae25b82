//! The capture endpoint's logic (the `capture` function is glue around
//! it): answer the verification handshake, and for each notification check
//! its signature, keep its body exactly as received, and name the media it
//! holds for the media step.
//!
//! Answers (decided for issue 12, see sources-deep.md B.9):
//! - `GET` with the right `hub.verify_token`: 200 and the challenge; with a
//!   wrong one or another mode: 403.
//! - `POST` over the size limit: 413, before anything is hashed.
//! - `POST` with a missing, `sha1=`, malformed or wrong signature: 401 and
//!   nothing stored. Authentication is the HMAC alone (the function URL is
//!   open), so nothing unsigned ever reaches the archive.
//! - `POST` signed but empty: 400 (there is nothing to keep).
//! - `POST` signed: the body is stored create-only under
//!   `inbox/whatsapp-cloud/<day>/<sha256>.json` (`day` the UTC day of
//!   receipt), then 200. A redelivery of the same bytes finds it stored and
//!   is answered 200 as well. A signed body that is not a webhook body is
//!   kept all the same: collect refuses it with the reason.
//! - The store failing: 500, so that Meta delivers it again.
//! - Any other method: 405.
//!
//! Nothing here logs a body or a header's value.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::handshake::{HandshakeError, answer_handshake};
use super::payload::{MediaRef, media_refs};
use super::signature::{SignatureError, check_signature};
use crate::item::SourceKind;
use crate::layout;
use crate::secrets::Secret;
use crate::store::{Created, ObjectStore, StoreError};

/// The default limit on a body's size: Meta sends up to 3 MB; a function
/// URL accepts 6 MB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 5 << 20;

/// The capture endpoint: where bodies go and the secrets that guard it.
#[derive(Debug)]
pub struct Capture<S> {
    inbox: S,
    app_secret: Secret,
    verify_token: Secret,
    max_body_bytes: u64,
}

/// A request to the endpoint, as the function URL hands it over.
#[derive(Debug, Clone, Copy)]
pub enum Request<'r> {
    /// `GET`: the verification handshake, with its decoded query.
    Verify(&'r [(String, String)]),
    /// `POST`: a notification.
    Notify {
        /// The `X-Hub-Signature-256` header's value, if any.
        signature: Option<&'r str>,
        /// The body's bytes, exactly as received (base64 decoded if the
        /// function URL encoded it).
        body: &'r [u8],
    },
    /// Any other method.
    Other,
}

/// The endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body (`text/plain`): the challenge, `ok`, or why it is refused
    /// (never anything of the request's body).
    pub body: String,
    /// The body stored, when the request was an accepted notification.
    pub stored: Option<Stored>,
}

/// An accepted notification's body, in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its key (`inbox/whatsapp-cloud/<day>/<sha256>.json`).
    pub key: String,
    /// Whether it was new, or a redelivery of a body stored before.
    pub created: Created,
    /// The media it holds, for the media step (sent again on a redelivery:
    /// the first attempt may have stored the body and failed before
    /// handing them on).
    pub media: Vec<MediaRef>,
}

impl Reply {
    fn new(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            stored: None,
        }
    }
}

impl<S: ObjectStore> Capture<S> {
    /// The endpoint over `inbox` (the archive store), with the app secret
    /// (signatures) and the verify token (handshake).
    pub fn new(inbox: S, app_secret: Secret, verify_token: Secret) -> Self {
        Capture {
            inbox,
            app_secret,
            verify_token,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// With another limit on a body's size.
    pub fn with_max_body_bytes(mut self, max: u64) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The limit on a body's size.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Answers a request received at `now`.
    pub async fn receive(&self, request: Request<'_>, now: DateTime<Utc>) -> Reply {
        match request {
            Request::Verify(query) => {
                let query = query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match answer_handshake(&self.verify_token, query) {
                    Ok(challenge) => Reply::new(200, challenge),
                    Err(e @ (HandshakeError::Mode | HandshakeError::Token)) => {
                        tracing::warn!("verification refused: {e}");
                        Reply::new(403, "forbidden")
                    }
                    Err(e @ HandshakeError::Challenge) => {
                        tracing::warn!("verification refused: {e}");
                        Reply::new(400, e.to_string())
                    }
                }
            }
            Request::Notify { signature, body } => self.notify(signature, body, now).await,
            Request::Other => Reply::new(405, "method not allowed"),
        }
    }

    async fn notify(&self, signature: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Reply {
        if body.len() as u64 > self.max_body_bytes {
            tracing::warn!(
                bytes = body.len(),
                limit = self.max_body_bytes,
                "notification refused: body over the limit"
            );
            return Reply::new(413, "body too large");
        }
        if let Err(e) = check_signature(&self.app_secret, signature, body) {
            tracing::warn!("notification refused: {e}");
            let kind = match e {
                SignatureError::Missing => "missing signature",
                SignatureError::Sha1 | SignatureError::Malformed => "malformed signature",
                SignatureError::Mismatch => "invalid signature",
            };
            return Reply::new(401, kind);
        }
        if body.is_empty() {
            tracing::warn!("notification refused: empty body");
            return Reply::new(400, "empty body");
        }
        match self.store(body, now).await {
            Ok(stored) => {
                tracing::info!(
                    key = %stored.key,
                    new = stored.created == Created::New,
                    media = stored.media.len(),
                    "notification stored"
                );
                Reply {
                    status: 200,
                    body: "ok".to_owned(),
                    stored: Some(stored),
                }
            }
            Err(e) => {
                tracing::error!("notification not stored: {e}");
                Reply::new(500, "not stored; deliver again")
            }
        }
    }

    async fn store(&self, body: &[u8], now: DateTime<Utc>) -> Result<Stored, StoreError> {
        let sha256 = hex::encode(Sha256::digest(body));
        let key = layout::inbox_key(
            SourceKind::WhatsappCloud.as_str(),
            now.date_naive(),
            &sha256,
        );
        let created = self.inbox.put_new(&key, body).await?;
        Ok(Stored {
            key,
            created,
            media: media_refs(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::signature::sign;
    use super::*;
    use crate::store::LocalDir;

    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"image","image":{"id":"777","sha256":"4654+8g=","mime_type":"image/jpeg"}}]}}]}]}"#;

    fn capture(dir: &std::path::Path) -> Capture<LocalDir> {
        Capture::new(
            LocalDir::new(dir),
            Secret::new("app-secret"),
            Secret::new("verify-token"),
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap()
    }

    async fn stored_keys(dir: &std::path::Path) -> Vec<String> {
        LocalDir::new(dir).list("inbox/").await.unwrap()
    }

    async fn post(dir: &std::path::Path, signature: Option<&str>, body: &[u8]) -> Reply {
        capture(dir)
            .receive(Request::Notify { signature, body }, now())
            .await
    }

    #[tokio::test]
    async fn a_signed_body_is_stored_untouched_once_and_its_media_named() {
        let dir = tempfile::tempdir().unwrap();
        let signature = sign(&Secret::new("app-secret"), BODY);
        let first = post(dir.path(), Some(&signature), BODY).await;
        assert_eq!((first.status, first.body.as_str()), (200, "ok"));
        let stored = first.stored.unwrap();
        let sha = hex::encode(Sha256::digest(BODY));
        assert_eq!(
            stored.key,
            format!("inbox/whatsapp-cloud/2026-12-01/{sha}.json")
        );
        assert_eq!(stored.created, Created::New);
        assert_eq!(stored.media.len(), 1);
        assert_eq!(stored.media[0].id, "777");
        let kept = LocalDir::new(dir.path()).get(&stored.key).await.unwrap();
        assert_eq!(kept.as_deref(), Some(BODY));

        let again = post(dir.path(), Some(&signature), BODY).await;
        assert_eq!(again.status, 200);
        let again = again.stored.unwrap();
        assert_eq!(again.created, Created::Exists);
        assert_eq!(again.media, stored.media);
        assert_eq!(stored_keys(dir.path()).await, [stored.key]);
    }

    #[tokio::test]
    async fn every_bad_signature_is_401_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let good = sign(&Secret::new("app-secret"), BODY);
        let mut altered = BODY.to_vec();
        altered[40] ^= 0x20;
        let cases: [(&str, Option<String>, &[u8]); 5] = [
            ("missing", None, BODY),
            (
                "wrong secret",
                Some(sign(&Secret::new("other"), BODY)),
                BODY,
            ),
            ("sha1", Some(good.replace("sha256=", "sha1=")), BODY),
            ("altered body", Some(good.clone()), &altered),
            (
                "empty body, another body's signature",
                Some(good.clone()),
                b"",
            ),
        ];
        for (case, signature, body) in cases {
            let reply = post(dir.path(), signature.as_deref(), body).await;
            assert_eq!(reply.status, 401, "{case}");
            assert!(reply.stored.is_none(), "{case}");
        }
        assert!(stored_keys(dir.path()).await.is_empty());
        // Uppercase hex is the same signature (see `signature`).
        let upper = format!("sha256={}", good[7..].to_ascii_uppercase());
        assert_eq!(post(dir.path(), Some(&upper), BODY).await.status, 200);
    }

    #[tokio::test]
    async fn a_signed_empty_body_is_400_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let signature = sign(&Secret::new("app-secret"), b"");
        let reply = post(dir.path(), Some(&signature), b"").await;
        assert_eq!(reply.status, 400);
        assert!(stored_keys(dir.path()).await.is_empty());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let capture = capture(dir.path()).with_max_body_bytes(BODY.len() as u64 - 1);
        let signature = sign(&Secret::new("app-secret"), BODY);
        let reply = capture
            .receive(
                Request::Notify {
                    signature: Some(&signature),
                    body: BODY,
                },
                now(),
            )
            .await;
        assert_eq!(reply.status, 413);
        assert!(stored_keys(dir.path()).await.is_empty());
    }

    #[tokio::test]
    async fn a_signed_body_that_is_no_webhook_is_kept_for_collect_to_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"not json at all";
        let signature = sign(&Secret::new("app-secret"), body);
        let reply = post(dir.path(), Some(&signature), body).await;
        assert_eq!(reply.status, 200);
        assert!(reply.stored.unwrap().media.is_empty());
        assert_eq!(stored_keys(dir.path()).await.len(), 1);
    }

    #[tokio::test]
    async fn the_handshake_echoes_the_challenge_for_the_right_token_only() {
        let dir = tempfile::tempdir().unwrap();
        let query = |token: &str| {
            vec![
                ("hub.mode".to_owned(), "subscribe".to_owned()),
                ("hub.challenge".to_owned(), "1158201444".to_owned()),
                ("hub.verify_token".to_owned(), token.to_owned()),
            ]
        };
        let capture = capture(dir.path());
        let right = capture
            .receive(Request::Verify(&query("verify-token")), now())
            .await;
        assert_eq!((right.status, right.body.as_str()), (200, "1158201444"));
        let wrong = capture
            .receive(Request::Verify(&query("guess")), now())
            .await;
        assert_eq!(wrong.status, 403);
        assert!(!wrong.body.contains("1158201444"));
        assert_eq!(capture.receive(Request::Other, now()).await.status, 405);
        assert!(stored_keys(dir.path()).await.is_empty());
    }
}
