//! The media step: a webhook's media ids are looked up and downloaded at
//! once (a webhook media id lives 7 days, the download URL about 5
//! minutes; sources-deep.md B.10), never in the request path of capture.
//!
//! For one media id: `GET <api base>/<version>/<media-id>` with the access
//! token as bearer gives the download URL (and the file's hash); `GET <url>`
//! with the same token streams the file into a temporary file (memory does
//! not grow with the file: a document can be 100 MB), hashing it as it
//! flows; the SHA-256 must match the webhook's or the lookup's (each given
//! as base64 or hex: every rendering is tried, the one that matched is
//! recorded). The file is stored create-only as `media/<sha256>` and the
//! fetch recorded as `media/whatsapp-cloud/<media-id>.json`, which collect
//! reads to attach it.
//!
//! A failure is tried again, with a fresh lookup (the URL may have
//! expired) after a backoff that doubles; a lookup answered 400 or 404
//! (the id is unknown or expired) is not. After the last try the reason is
//! recorded as `media/whatsapp-cloud/<media-id>.failed.json`, so that the
//! item says the media could not be fetched instead of losing it. Only a
//! store failure is an error (the queue delivers the id again). Neither
//! the token nor a URL (it carries a signature) is ever logged.

use std::io::Write as _;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::content::sha256_hex;
use super::payload::MediaRef;
use crate::item::SourceKind;
use crate::layout::{self, MediaFailed, MediaFetched};
use crate::secrets::Secret;
use crate::store::{ObjectFile, ObjectStore, Spool, StoreError};

/// The Graph API version pinned for lookups (sources-deep.md B.12).
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// The largest file fetched: the Cloud API's limit is 100 MB.
pub const MAX_MEDIA_BYTES: u64 = 110 * 1000 * 1000;

/// How the media step reaches the Graph API and how hard it tries.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// `https://graph.facebook.com`, or a stand-in.
    pub api_base: Url,
    /// The Graph API version of the lookup (`v25.0`).
    pub version: String,
    /// Tries per media id (lookup and download each time).
    pub attempts: u32,
    /// The wait after the first failed try; doubled after each.
    pub backoff: Duration,
    /// The longest wait for a connection or for the next bytes.
    pub timeout: Duration,
}

impl MediaOptions {
    /// The Graph API at `api_base`, 3 tries from 2 s apart, 30 s timeouts.
    pub fn new(api_base: Url) -> MediaOptions {
        MediaOptions {
            api_base,
            version: DEFAULT_GRAPH_VERSION.to_owned(),
            attempts: 3,
            backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What became of a media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// Downloaded, checked and stored now.
    Stored(MediaFetched),
    /// Fetched before (its record is there): nothing done.
    AlreadyFetched,
    /// Not fetched after the last try; the reason is recorded.
    Failed(MediaFailed),
}

/// Why one try failed (never naming the URL or the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TryError {
    /// The lookup was refused.
    #[error("media lookup answered HTTP {0}")]
    Lookup(u16),
    /// The lookup's answer had no download URL.
    #[error("media lookup answer has no usable url")]
    NoUrl,
    /// The download was refused (an expired URL, a token refused).
    #[error("media download answered HTTP {0}")]
    Download(u16),
    /// The file's hash is none the webhook or the lookup gave.
    #[error("SHA-256 of the {size} bytes downloaded matches neither hash given")]
    Hash {
        /// Bytes downloaded.
        size: u64,
    },
    /// The file is larger than any the Cloud API sends.
    #[error("the file exceeds {MAX_MEDIA_BYTES} bytes")]
    TooLarge,
    /// The request failed or timed out.
    #[error("media request failed: {0}")]
    Http(String),
    /// A temporary file could not be written.
    #[error("temporary file: {0}")]
    Spool(String),
}

impl TryError {
    /// Whether trying again cannot help: the id is unknown or expired.
    fn is_final(&self) -> bool {
        matches!(self, TryError::Lookup(400 | 404 | 410))
    }
}

/// The lookup's answer (`file_size` may be a number or a string).
#[derive(Debug, Deserialize)]
struct Lookup {
    url: Option<String>,
    sha256: Option<String>,
    mime_type: Option<String>,
}

/// A file downloaded and checked, in a temporary file.
struct Downloaded {
    content: ObjectFile,
    sha256: String,
    content_type: Option<String>,
    matched: String,
}

/// The media step over the Graph API.
#[derive(Debug, Clone)]
pub struct GraphMedia {
    client: reqwest::Client,
    token: Secret,
    opts: MediaOptions,
}

/// Describes a reqwest error without its URL (it may carry a signature).
fn http_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the body was cut short"
    } else {
        "failed"
    };
    kind.to_owned()
}

impl GraphMedia {
    /// The media step with the access token (from Secrets Manager).
    pub fn new(token: Secret, opts: MediaOptions) -> Result<GraphMedia, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .read_timeout(opts.timeout)
            .build()
            .map_err(|e| format!("HTTP client: {}", http_error(&e)))?;
        Ok(GraphMedia {
            client,
            token,
            opts,
        })
    }

    /// Fetches one media id into `store`, unless it was fetched before.
    pub async fn fetch<S: ObjectStore>(
        &self,
        store: &S,
        media: &MediaRef,
    ) -> Result<Fetch, StoreError> {
        let source = SourceKind::WhatsappCloud.as_str();
        let record_key = layout::media_fetched_key(source, &media.id);
        if store.get(&record_key).await?.is_some() {
            return Ok(Fetch::AlreadyFetched);
        }
        let mut attempts = 0;
        let mut last = None;
        while attempts < self.opts.attempts.max(1) {
            if attempts > 0 {
                tokio::time::sleep(self.opts.backoff * 2u32.pow(attempts - 1)).await;
            }
            attempts += 1;
            match self.try_once(media).await {
                Ok(downloaded) => {
                    let Downloaded {
                        content,
                        sha256,
                        content_type,
                        matched,
                    } = downloaded;
                    store
                        .put_new_file(&layout::media_key(&sha256), &content)
                        .await?;
                    let record = MediaFetched {
                        media_id: media.id.clone(),
                        sha256,
                        size: content.len(),
                        content_type: content_type.or_else(|| media.mime_type.clone()),
                        matched,
                    };
                    store.put_new(&record_key, &layout::record(&record)).await?;
                    tracing::info!(
                        media_id = %media.id,
                        bytes = record.size,
                        matched = %record.matched,
                        "media fetched"
                    );
                    return Ok(Fetch::Stored(record));
                }
                Err(e) => {
                    tracing::warn!(media_id = %media.id, attempt = attempts, "media not fetched: {e}");
                    let done = e.is_final();
                    last = Some(e);
                    if done {
                        break;
                    }
                }
            }
        }
        let failed = MediaFailed {
            media_id: media.id.clone(),
            reason: last.map_or_else(|| "not tried".to_owned(), |e| e.to_string()),
            attempts,
        };
        store
            .put_new(
                &layout::media_failed_key(source, &media.id),
                &layout::record(&failed),
            )
            .await?;
        Ok(Fetch::Failed(failed))
    }

    /// One lookup and download.
    async fn try_once(&self, media: &MediaRef) -> Result<Downloaded, TryError> {
        let mut lookup_url = self.opts.api_base.clone();
        lookup_url
            .path_segments_mut()
            .map_err(|_| TryError::NoUrl)?
            .pop_if_empty()
            .push(&self.opts.version)
            .push(&media.id);
        let response = self
            .client
            .get(lookup_url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| TryError::Http(http_error(&e)))?;
        if !response.status().is_success() {
            return Err(TryError::Lookup(response.status().as_u16()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TryError::Http(http_error(&e)))?;
        let lookup: Lookup = serde_json::from_slice(&bytes).map_err(|_| TryError::NoUrl)?;
        let url = lookup
            .url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or(TryError::NoUrl)?;
        let mut response = self
            .client
            .get(url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| TryError::Http(http_error(&e)))?;
        if !response.status().is_success() {
            return Err(TryError::Download(response.status().as_u16()));
        }
        let mut spool = Spool::new().map_err(|e| TryError::Spool(e.to_string()))?;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| TryError::Http(http_error(&e)))?
        {
            if spool.len() + chunk.len() as u64 > MAX_MEDIA_BYTES {
                return Err(TryError::TooLarge);
            }
            spool
                .write_all(&chunk)
                .map_err(|e| TryError::Spool(e.to_string()))?;
        }
        let size = spool.len();
        let (content, sha256) = spool.finish();
        let matched = matched_hash(&sha256, media.sha256.as_deref(), lookup.sha256.as_deref())
            .ok_or(TryError::Hash { size })?;
        Ok(Downloaded {
            content,
            sha256,
            content_type: lookup.mime_type,
            matched,
        })
    }
}

/// Which given hash the file's SHA-256 (hex) matches: the webhook's or the
/// lookup's, each read as base64 or hex; `none given` when neither gave
/// one; `None` when one was given and none matches.
fn matched_hash(computed: &str, webhook: Option<&str>, lookup: Option<&str>) -> Option<String> {
    let given = [("webhook", webhook), ("lookup", lookup)];
    if given.iter().all(|(_, hash)| hash.is_none()) {
        return Some("none given".to_owned());
    }
    given.iter().find_map(|(from, hash)| {
        let hash = (*hash)?.trim();
        let form = if hash.len() == 64 { "hex" } else { "base64" };
        (sha256_hex(hash).as_deref() == Some(computed)).then(|| format!("{from} {form}"))
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn either_hash_in_either_form_may_match() {
        let hex = "ab".repeat(32);
        let b64 = base64::engine::general_purpose::STANDARD.encode([0xab; 32]);
        assert_eq!(
            matched_hash(&hex, Some(&b64), None).as_deref(),
            Some("webhook base64")
        );
        assert_eq!(
            matched_hash(&hex, Some("x"), Some(&hex)).as_deref(),
            Some("lookup hex")
        );
        assert_eq!(
            matched_hash(&hex, None, None).as_deref(),
            Some("none given")
        );
        assert_eq!(matched_hash(&hex, Some("4654+8g="), None), None);
    }
}
