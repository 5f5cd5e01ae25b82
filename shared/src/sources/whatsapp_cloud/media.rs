//! The media step: a webhook's media ids are looked up and downloaded at
//! once (a webhook media id lives 7 days, the download URL about 5
//! minutes; sources-deep.md B.10), never in the request path of capture.
//!
//! For one media id: `GET <api base>/<version>/<media-id>` with the access
//! token as bearer gives the download URL (and the file's hash); `GET <url>`
//! with the same token streams the file into a temporary file (memory does
//! not grow with the file: a document can be 100 MB), hashing it as it
//! flows; the SHA-256 must match the webhook's when the webhook gave one
//! (base64, padded or not, standard or URL-safe, or hex), else the
//! lookup's; which one matched, and a lookup hash that disagrees with the
//! webhook's, are recorded. The file is stored create-only as `media/<sha256>` and the
//! fetch recorded as `media/whatsapp-cloud/<media-id>.json`, which collect
//! reads to attach it.
//!
//! A failure is tried again, with a fresh lookup (the URL may have
//! expired) after a backoff that doubles. Only a lookup the Graph API
//! answers "no such object" (`error.code` 100, or a 404/410 without an
//! error code) is not: an expired or invalid token (HTTP 400, code 190)
//! and throttling (codes 4, 17, 32, 613, 80007, 130429, …) are retried. After the last try the reason is
//! recorded as `media/whatsapp-cloud/<media-id>.failed.json`, so that the
//! item says the media could not be fetched instead of losing it. Only a
//! store failure is an error (the queue delivers the id again). Neither
//! the token nor a URL (it carries a signature) is ever logged.
//!
//! Where requests go is fixed, not taken from the answers: the lookup only
//! to the configured Graph API base (https); downloads only over https to
//! Meta's CDN (`lookaside.fbsbx.com`, hosts under `fbsbx.com` and
//! `fbcdn.net`) or a host configured in `download_hosts`; no IP literals,
//! no name resolving to a loopback, link-local or private address; no
//! redirects. The token goes to the Graph API host and to Meta's CDN
//! (whose download needs it, sources-deep.md B.10), never elsewhere.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::content::sha256_read;
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
    /// The longest a whole try (lookup and download) may take: a body
    /// that drips never ends otherwise. Tries and backoffs together stay
    /// within the media function's 300 s.
    pub try_timeout: Duration,
    /// Download hosts allowed besides Meta's CDN (exact names; https, no
    /// token sent).
    pub download_hosts: Vec<String>,
    /// Tests only (the environment reader never sets it): a loopback
    /// `api_base` may be plain http and serve the downloads too.
    pub insecure_loopback_for_tests: bool,
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
            try_timeout: Duration::from_secs(90),
            download_hosts: Vec::new(),
            insecure_loopback_for_tests: false,
        }
    }

    /// Whether `url` is the loopback stand-in the tests may allow.
    fn is_test_loopback(&self, url: &Url) -> bool {
        self.insecure_loopback_for_tests
            && url.host() == self.api_base.host()
            && url.port_or_known_default() == self.api_base.port_or_known_default()
            && host_ip(&self.api_base).is_some_and(|ip| ip.is_loopback())
    }

    /// Why the lookup may not go to `api_base`, if it may not.
    fn refuse_lookup(&self) -> Option<String> {
        if self.is_test_loopback(&self.api_base) {
            return None;
        }
        refuse_url(&self.api_base)
    }

    /// Why a download may not go to `url`, if it may not; else whether the
    /// token goes with it.
    fn download_policy(&self, url: &Url) -> Result<bool, String> {
        if self.is_test_loopback(url) {
            return Ok(true);
        }
        if let Some(reason) = refuse_url(url) {
            return Err(reason);
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if is_meta_cdn(&host) {
            return Ok(true);
        }
        if self
            .download_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
        {
            return Ok(false);
        }
        Err(format!("download host {host:?} is not allowed"))
    }
}

/// Meta's CDN hosts (sources-deep.md B.10).
fn is_meta_cdn(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "lookaside.fbsbx.com" || host.ends_with(".fbsbx.com") || host.ends_with(".fbcdn.net")
}

/// The host of `url` when it is an IP literal.
fn host_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Why a request may not go to `url` (not https, an IP literal, no host).
fn refuse_url(url: &Url) -> Option<String> {
    if url.scheme() != "https" {
        return Some(format!("{}:// refused, https only", url.scheme()));
    }
    if host_ip(url).is_some() {
        return Some("an IP address as host refused".to_owned());
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Some("no host".to_owned());
    }
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Some("a loopback host refused".to_owned());
    }
    None
}

/// Whether `ip` is an address no request may go to: loopback, link-local
/// (169.254.169.254 is the instance metadata service), private, unique
/// local, unspecified, broadcast, documentation, shared (CGNAT) or
/// multicast.
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_private()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves names as usual but refuses any that give an internal address
/// (a CDN name pointed at the metadata service, say).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() || addrs.iter().any(|a| is_internal(a.ip())) {
                return Err("the host resolves to an internal address".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
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
    /// The lookup was refused (the Graph API's `error.code`, if given).
    #[error("media lookup answered HTTP {status}{}", code.map(|c| format!(" (Graph error code {c})")).unwrap_or_default())]
    Lookup {
        /// The HTTP status.
        status: u16,
        /// The body's `error.code`.
        code: Option<i64>,
    },
    /// The lookup's answer had no download URL.
    #[error("media lookup answer has no usable url")]
    NoUrl,
    /// A request was not sent: its host or scheme is not allowed.
    #[error("media request refused: {0}")]
    Refused(String),
    /// The download was refused (an expired URL, a token refused).
    #[error("media download answered HTTP {0}")]
    Download(u16),
    /// The file's hash is not the one that decides.
    #[error("SHA-256 of the {size} bytes downloaded does not match the {against}'s")]
    Hash {
        /// Bytes downloaded.
        size: u64,
        /// `webhook` or `lookup`.
        against: &'static str,
    },
    /// The file is larger than any the Cloud API sends.
    #[error("the file exceeds {MAX_MEDIA_BYTES} bytes")]
    TooLarge,
    /// The whole try took too long (a body that drips, say).
    #[error("the try did not finish within {} s", .0.as_secs_f64())]
    TryTimedOut(Duration),
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
        match self {
            TryError::Refused(_) => true,
            TryError::Lookup {
                code: Some(code), ..
            } => *code == GRAPH_NO_SUCH_OBJECT,
            TryError::Lookup { status, code: None } => matches!(status, 404 | 410),
            _ => false,
        }
    }
}

/// The Graph API's `error.code` for an unknown object or a parameter it
/// refuses (an unknown or expired media id): trying again cannot help.
const GRAPH_NO_SUCH_OBJECT: i64 = 100;

/// The `error.code` of a Graph API error body, if it has one.
fn graph_error_code(body: &[u8]) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.get("code")?;
    code.as_i64()
        .or_else(|| code.as_str().and_then(|c| c.trim().parse().ok()))
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
        let mut builder = reqwest::Client::builder()
            .connect_timeout(opts.timeout)
            .read_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none());
        if !opts.insecure_loopback_for_tests {
            builder = builder.dns_resolver(PublicOnly);
        }
        let client = builder
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
            let tried = tokio::time::timeout(self.opts.try_timeout, self.try_once(media))
                .await
                .unwrap_or(Err(TryError::TryTimedOut(self.opts.try_timeout)));
            match tried {
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
        if let Some(reason) = self.opts.refuse_lookup() {
            return Err(TryError::Refused(format!("Graph API base: {reason}")));
        }
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
        if response.status().is_redirection() {
            return Err(TryError::Refused(
                "the lookup answered a redirect".to_owned(),
            ));
        }
        if !response.status().is_success() {
            let status = response.status().as_u16();
            // The error body is small; a cut-short one simply has no code.
            let body = response.bytes().await.unwrap_or_default();
            return Err(TryError::Lookup {
                status,
                code: graph_error_code(&body),
            });
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
            .ok_or(TryError::NoUrl)?;
        let with_token = self
            .opts
            .download_policy(&url)
            .map_err(|reason| TryError::Refused(format!("download URL: {reason}")))?;
        let mut request = self.client.get(url);
        if with_token {
            request = request.bearer_auth(self.token.expose());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| TryError::Http(http_error(&e)))?;
        if response.status().is_redirection() {
            return Err(TryError::Refused(
                "the download answered a redirect (not followed)".to_owned(),
            ));
        }
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
            .map_err(|against| TryError::Hash { size, against })?;
        if matched.contains("differs") {
            tracing::warn!(media_id = %media.id, "the lookup's SHA-256 differs from the webhook's");
        }
        Ok(Downloaded {
            content,
            sha256,
            content_type: lookup.mime_type,
            matched,
        })
    }
}

/// Checks the file's SHA-256 (hex): the webhook's hash decides when it
/// gave a readable one; the lookup's only when it did not. `Ok` says which
/// matched (and notes a lookup hash that disagrees, or a webhook hash that
/// cannot be read); `Err` names the hash that did not match.
fn matched_hash(
    computed: &str,
    webhook: Option<&str>,
    lookup: Option<&str>,
) -> Result<String, &'static str> {
    let from_webhook = webhook.and_then(sha256_read);
    let from_lookup = lookup.and_then(sha256_read);
    match (from_webhook, from_lookup) {
        (Some((hash, form)), other) => {
            if hash != computed {
                return Err("webhook");
            }
            let mut matched = format!("webhook {form}");
            if other.is_some_and(|(l, _)| l != hash) {
                matched.push_str("; the lookup's hash differs");
            }
            Ok(matched)
        }
        (None, Some((hash, form))) => {
            if hash != computed {
                return Err("lookup");
            }
            let mut matched = format!("lookup {form}");
            if webhook.is_some() {
                matched.push_str("; the webhook's hash is unreadable");
            }
            Ok(matched)
        }
        (None, None) if webhook.is_some() || lookup.is_some() => {
            Ok("none given readable".to_owned())
        }
        (None, None) => Ok("none given".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn the_webhook_hash_decides_when_it_gave_one() {
        let hex = "ab".repeat(32);
        let other = "cd".repeat(32);
        let b64 = base64::engine::general_purpose::STANDARD.encode([0xab; 32]);
        let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xab; 32]);
        assert_eq!(
            matched_hash(&hex, Some(&b64), None).as_deref(),
            Ok("webhook base64")
        );
        assert_eq!(
            matched_hash(&hex, Some(&b64_url), Some(&hex)).as_deref(),
            Ok("webhook base64")
        );
        // The lookup's hash cannot save a file the webhook's does not match.
        assert_eq!(matched_hash(&hex, Some(&other), Some(&hex)), Err("webhook"));
        // A lookup that disagrees with a matching webhook hash is noted.
        assert_eq!(
            matched_hash(&hex, Some(&hex), Some(&other)).as_deref(),
            Ok("webhook hex; the lookup's hash differs")
        );
        assert_eq!(
            matched_hash(&hex, Some("x"), Some(&hex)).as_deref(),
            Ok("lookup hex; the webhook's hash is unreadable")
        );
        assert_eq!(matched_hash(&hex, None, Some(&other)), Err("lookup"));
        assert_eq!(matched_hash(&hex, None, None).as_deref(), Ok("none given"));
        assert_eq!(
            matched_hash(&hex, Some("4654+8g="), None),
            Ok("none given readable".to_owned())
        );
    }

    #[test]
    fn only_no_such_object_is_final() {
        let lookup = |status, body: &str| TryError::Lookup {
            status,
            code: graph_error_code(body.as_bytes()),
        };
        assert!(lookup(400, r#"{"error":{"code":100,"error_subcode":33}}"#).is_final());
        assert!(lookup(404, "not json").is_final());
        for (status, body) in [
            (
                400,
                r#"{"error":{"code":190,"message":"Error validating access token"}}"#,
            ),
            (400, r#"{"error":{"code":"80007"}}"#),
            (400, r#"{"error":{"code":4}}"#),
            (429, r#"{"error":{"code":130429}}"#),
            (400, "{}"),
            (500, ""),
        ] {
            assert!(!lookup(status, body).is_final(), "{status} {body}");
        }
    }

    #[test]
    fn downloads_only_to_meta_cdn_or_configured_hosts() {
        let mut opts = MediaOptions::new("https://graph.facebook.com".parse().unwrap());
        opts.download_hosts = vec!["media.proxy.example".to_owned()];
        let policy = |url: &str| opts.download_policy(&url.parse().unwrap());
        assert_eq!(
            policy("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"),
            Ok(true)
        );
        assert_eq!(policy("https://scontent.xx.fbcdn.net/v/x.jpg"), Ok(true));
        assert_eq!(policy("https://media.proxy.example/x"), Ok(false));
        for refused in [
            "http://lookaside.fbsbx.com/x",
            "https://fbcdn.net.attacker.example/x",
            "https://notfbcdn.net/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/x",
            "https://127.0.0.1/x",
            "https://localhost/x",
            "ftp://lookaside.fbsbx.com/x",
        ] {
            assert!(policy(refused).is_err(), "{refused}");
        }
        assert_eq!(opts.refuse_lookup(), None);
        let mut loopback = MediaOptions::new("http://127.0.0.1:8080".parse().unwrap());
        assert!(loopback.refuse_lookup().is_some());
        loopback.insecure_loopback_for_tests = true;
        assert_eq!(loopback.refuse_lookup(), None);
        let other_port = loopback.download_policy(&"http://127.0.0.1:9/x".parse().unwrap());
        assert!(other_port.is_err());
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["157.240.1.1", "2a03:2880:f003::1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
