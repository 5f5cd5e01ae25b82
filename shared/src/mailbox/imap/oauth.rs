//! OAuth 2.0 client-credentials tokens for XOAUTH2 (Microsoft Entra ID for
//! Exchange Online, or any token endpoint that speaks RFC 6749 §4.4).
//!
//! The client authenticates with a client secret or with a certificate (a
//! JWT client assertion signed with its private key, RFC 7523). Tokens are
//! cached until five minutes before they expire. Neither the credential nor
//! the token is ever logged or put in an error message.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::redact;
use crate::secrets::Secret;

/// The Exchange Online scope for application access over IMAP.
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Longest lifetime believed from a token answer.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Why no token could be had. An endpoint is named with its credentials
/// redacted ([`redact::url`]).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The endpoint URL is not https (or loopback http for tests).
    #[error("token endpoint {0:?} must be an https:// URL (http:// only to loopback)")]
    Endpoint(String),
    /// The certificate's private key or thumbprint is unusable.
    #[error("client certificate: {0}")]
    Certificate(String),
    /// The endpoint could not be reached or answered something unreadable.
    #[error("token endpoint {endpoint}: {reason}")]
    Unreachable {
        /// The endpoint URL.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The endpoint refused the client (wrong secret, unknown client…).
    #[error("token endpoint refused the client: {error}: {description}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// The endpoint's description.
        description: String,
    },
}

/// How the client proves itself to the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    /// A client secret.
    Secret(Secret),
    /// A certificate: its private key (PEM, RSA) and its SHA-1 thumbprint
    /// (hex, as the Entra portal shows it).
    Certificate {
        /// The RSA private key in PEM form.
        private_key_pem: Secret,
        /// The certificate's SHA-1 thumbprint, hex.
        thumbprint: String,
    },
}

/// A cached source of access tokens for one client.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    client_id: String,
    scope: String,
    credential: ClientCredential,
    http: reqwest::Client,
    cached: Mutex<Option<(Secret, Instant)>>,
}

/// The endpoint with its credentials redacted; the client credential and
/// the cached token show as `Secret(***)`.
impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            endpoint,
            client_id,
            scope,
            credential,
            http: _,
            cached: _,
        } = &*self.inner;
        f.debug_struct("TokenSource")
            .field("endpoint", &redact::url(endpoint))
            .field("client_id", client_id)
            .field("scope", scope)
            .field("credential", credential)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    exp: u64,
}

impl TokenSource {
    /// The Entra ID token endpoint of a tenant.
    pub fn entra_endpoint(tenant: &str) -> String {
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
    }

    /// A token source for `client_id` at `endpoint`, asking for `scope`.
    pub fn new(
        endpoint: &str,
        client_id: &str,
        credential: ClientCredential,
        scope: &str,
    ) -> Result<TokenSource, OAuthError> {
        let refused = || OAuthError::Endpoint(redact::url(endpoint));
        let url = url::Url::parse(endpoint).map_err(|_| refused())?;
        let loopback = url.host_str().is_some_and(|h| {
            h == "localhost"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        let allowed = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !allowed {
            return Err(refused());
        }
        if let ClientCredential::Certificate { thumbprint, .. } = &credential {
            hex::decode(thumbprint)
                .ok()
                .filter(|bytes| bytes.len() == 20)
                .ok_or_else(|| {
                    OAuthError::Certificate("thumbprint must be 40 hex digits (SHA-1)".to_owned())
                })?;
        }
        // No redirects: the form carries the client's credential.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OAuthError::Unreachable {
                endpoint: redact::url(endpoint),
                reason: e.to_string(),
            })?;
        Ok(TokenSource {
            inner: Arc::new(Inner {
                endpoint: endpoint.to_owned(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                credential,
                http,
                cached: Mutex::new(None),
            }),
        })
    }

    /// A valid access token: the cached one, or a new one from the endpoint.
    pub async fn token(&self) -> Result<Secret, OAuthError> {
        let mut cached = self.inner.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + REFRESH_MARGIN < *expires
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        // Tokens live about an hour; a shorter one is kept for half its life.
        let keep = lifetime
            .min(MAX_LIFETIME)
            .saturating_sub(REFRESH_MARGIN)
            .max(lifetime.min(MAX_LIFETIME) / 2);
        *cached = Some((token.clone(), Instant::now() + keep + REFRESH_MARGIN));
        Ok(token)
    }

    async fn fetch(&self) -> Result<(Secret, Duration), OAuthError> {
        let inner = &self.inner;
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", inner.client_id.clone()),
            ("scope", inner.scope.clone()),
        ];
        match &inner.credential {
            ClientCredential::Secret(secret) => {
                form.push(("client_secret", secret.expose().to_owned()));
            }
            ClientCredential::Certificate {
                private_key_pem,
                thumbprint,
            } => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push((
                    "client_assertion",
                    self.assertion(private_key_pem, thumbprint)?,
                ));
            }
        }
        let unreachable = |reason: String| OAuthError::Unreachable {
            endpoint: redact::url(&inner.endpoint),
            reason,
        };
        let response = inner
            .http
            .post(&inner.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unreachable(e.without_url().to_string()))?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            unreachable(format!(
                "HTTP {status} with a body that is not a token answer"
            ))
        })?;
        match answer {
            TokenAnswer {
                access_token: Some(token),
                expires_in,
                ..
            } if status.is_success() => Ok((
                Secret::new(token),
                Duration::from_secs(expires_in.unwrap_or(3600)),
            )),
            TokenAnswer {
                error,
                error_description,
                ..
            } => Err(OAuthError::Refused {
                error: error.unwrap_or_else(|| format!("HTTP {status}")),
                description: error_description.unwrap_or_default(),
            }),
        }
    }

    /// A signed client assertion (RS256, `x5t` = certificate thumbprint).
    fn assertion(&self, key_pem: &Secret, thumbprint: &str) -> Result<String, OAuthError> {
        let inner = &self.inner;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose().as_bytes())
            .map_err(|e| OAuthError::Certificate(format!("private key: {e}")))?;
        let thumb = hex::decode(thumbprint)
            .map_err(|_| OAuthError::Certificate("thumbprint is not hex".to_owned()))?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.x5t = Some(URL_SAFE_NO_PAD.encode(thumb));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nonce = Sha256::digest(format!(
            "{}:{}:{}",
            inner.client_id,
            now.as_nanos(),
            std::process::id()
        ));
        let claims = AssertionClaims {
            aud: &inner.endpoint,
            iss: &inner.client_id,
            sub: &inner.client_id,
            jti: hex::encode(&nonce[..16]),
            nbf: now.as_secs(),
            exp: now.as_secs() + 600,
        };
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| OAuthError::Certificate(format!("signing the assertion: {e}")))
    }
}
