//! The WeCom source's settings: where its SDK and secrets are, and how it
//! pulls. The source is configured when its secrets are (`[wecom] secrets`,
//! a directory of secret files, or `WECOM_SECRET_ARN`, a Secrets Manager
//! secret); its other settings have defaults.
//!
//! The secrets are three names in that store: `wecom_corp_id`,
//! `wecom_archive_secret` (the Session Content Archive secret) and
//! `wecom_private_keys` (a JSON object of key version to PEM private key).

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};

use super::SettingError;
use super::reader::{Name, Reader};
use crate::secrets::{SecretError, SecretStore};
use crate::sources::wecom::directory::DEFAULT_API;
use crate::sources::wecom::keys::{KeyError, PrivateKeys};
use crate::sources::wecom::media::Retry;
use crate::sources::wecom::sdk::Network;
use crate::sources::wecom::{MAX_PAGE, WecomOptions, WecomSecrets, WecomSource};
use crate::store::ObjectStore;

/// Where the SDK is in AWS: the layer's `lib/`, on the loader's path.
pub const DEFAULT_LIBRARY: &str = "/opt/lib/libWeWorkFinanceSdk_C.so";

const SECRETS: Name = Name::new("wecom.secrets", "WECOM_SECRET_ARN");
const LIBRARY: Name = Name::new("wecom.library", "WECOM_SDK_LIBRARY");
const PAGE_LIMIT: Name = Name::new("wecom.page_limit", "WECOM_PAGE_LIMIT");
const TIMEOUT: Name = Name::new("wecom.timeout_secs", "WECOM_TIMEOUT_SECS");
const PROXY: Name = Name::new("wecom.proxy", "WECOM_PROXY");
const API: Name = Name::new("wecom.api_base_url", "WECOM_API_BASE_URL");
const RETENTION_ALARM: Name =
    Name::new("wecom.retention_alarm_hours", "WECOM_RETENTION_ALARM_HOURS");

/// The secret names (see the module doc).
const CORP_ID: &str = "wecom_corp_id";
const ARCHIVE_SECRET: &str = "wecom_archive_secret";
const PRIVATE_KEYS: &str = "wecom_private_keys";

/// The WeCom Session Content Archive source's settings.
#[derive(Debug, Clone)]
pub struct WecomSettings<P> {
    /// `[wecom] secrets` (a directory of secret files) or
    /// `WECOM_SECRET_ARN`: where the corp id, archive secret and private
    /// keys are. Required when any WeCom setting is set.
    pub secrets: P,
    /// `[wecom] library` or `WECOM_SDK_LIBRARY`: the SDK library (default
    /// [`DEFAULT_LIBRARY`]).
    pub library: PathBuf,
    /// `[wecom] page_limit` or `WECOM_PAGE_LIMIT`: messages per page, 1 to
    /// 1,000 (default 1,000).
    pub page_limit: u32,
    /// `[wecom] timeout_secs` or `WECOM_TIMEOUT_SECS`: the SDK calls'
    /// timeout (default 5 s, as the vendor's demo advises).
    pub timeout_secs: u32,
    /// `[wecom] proxy` or `WECOM_PROXY`: a proxy for the SDK
    /// (`socks5://…`, `http://…`); none by default.
    pub proxy: Option<String>,
    /// `[wecom] retention_alarm_hours` or `WECOM_RETENTION_ALARM_HOURS`: a
    /// pull reaching messages older than this is reported (default 48).
    pub retention_alarm_hours: u32,
    /// `[wecom] api_base_url` or `WECOM_API_BASE_URL`: WeCom's web API,
    /// for group titles and names (default `https://qyapi.weixin.qq.com`;
    /// empty: ids only).
    pub api_base_url: String,
}

/// Why the WeCom source cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum WecomSetupError {
    /// A secret cannot be read.
    #[error("WeCom: {0}")]
    Secret(#[from] SecretError),
    /// The private keys cannot be read.
    #[error("WeCom: {0}")]
    Keys(#[from] KeyError),
}

/// The web API's base URL is where the archive secret (`gettoken`) and its
/// access token are sent: `https` with a host and nothing else (no user
/// name, query or fragment, no path), or `http` to a loopback host (tests
/// and the local stack).
fn check_api_base_url(base: &str) -> Result<(), String> {
    let url = url::Url::parse(base).map_err(|e| format!("{base:?} is not a URL ({e})"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("{base:?} names no host"))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        scheme => {
            return Err(format!(
                "{base:?}: the archive secret and its token go there, so it must be https (http only to a loopback host), not {scheme}"
            ));
        }
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !matches!(url.path(), "" | "/")
    {
        return Err(format!(
            "{base:?}: only a scheme, a host and a port (no user, path, query or fragment)"
        ));
    }
    Ok(())
}

impl<P> WecomSettings<P> {
    /// The settings, when the source is configured.
    pub(super) fn read<R: Reader<Place = P>>(reader: &R) -> Result<Option<Self>, SettingError> {
        let library: Option<String> = reader.value(LIBRARY)?;
        let page_limit: Option<u32> = reader.value(PAGE_LIMIT)?;
        let timeout_secs: Option<u32> = reader.value(TIMEOUT)?;
        let proxy: Option<String> = reader.value(PROXY)?;
        let retention: Option<u32> = reader.value(RETENTION_ALARM)?;
        let api: Option<String> = reader.value(API)?;
        let any = library.is_some()
            || page_limit.is_some()
            || timeout_secs.is_some()
            || proxy.is_some()
            || retention.is_some()
            || api.is_some();
        let secrets = match reader.place(SECRETS)? {
            Some(secrets) => secrets,
            None if any => return Err(SettingError::Missing(reader.setting(SECRETS))),
            None => return Ok(None),
        };
        let page_limit = page_limit.unwrap_or(MAX_PAGE);
        if !(1..=MAX_PAGE).contains(&page_limit) {
            return Err(SettingError::Invalid {
                setting: reader.setting(PAGE_LIMIT),
                reason: format!("{page_limit} is not between 1 and {MAX_PAGE}"),
            });
        }
        let api_base_url = api
            .unwrap_or_else(|| DEFAULT_API.to_owned())
            .trim()
            .to_owned();
        if !api_base_url.is_empty()
            && let Err(reason) = check_api_base_url(&api_base_url)
        {
            return Err(SettingError::Invalid {
                setting: reader.setting(API),
                reason,
            });
        }
        Ok(Some(WecomSettings {
            secrets,
            library: PathBuf::from(library.unwrap_or_else(|| DEFAULT_LIBRARY.to_owned())),
            page_limit,
            timeout_secs: timeout_secs.unwrap_or(5),
            proxy: proxy.filter(|p| !p.trim().is_empty()),
            retention_alarm_hours: retention.unwrap_or(48),
            api_base_url,
        }))
    }

    /// The source, with its secrets read from `secrets` (the store
    /// [`WecomSettings::secrets`] names); `now` is the run's time.
    pub async fn source<S: ObjectStore, T: SecretStore>(
        &self,
        archive: S,
        secrets: &T,
        now: DateTime<Utc>,
    ) -> Result<WecomSource<S>, WecomSetupError> {
        let corp_id = secrets.secret(CORP_ID).await?;
        let archive_secret = secrets.secret(ARCHIVE_SECRET).await?;
        let keys = PrivateKeys::from_secret(&secrets.secret(PRIVATE_KEYS).await?)?;
        let options = WecomOptions {
            library: self.library.clone(),
            corp_id: corp_id.expose().to_owned(),
            network: Network {
                proxy: self.proxy.clone().unwrap_or_default(),
                timeout_secs: self.timeout_secs,
                ..Network::default()
            },
            page_limit: self.page_limit,
            retry: Retry::default(),
            retention_alarm: TimeDelta::hours(i64::from(self.retention_alarm_hours)),
            now,
            api: Some(self.api_base_url.clone()).filter(|api| !api.is_empty()),
            batch_media_bytes: crate::sources::wecom::BATCH_MEDIA_BYTES,
        };
        Ok(WecomSource::new(
            archive,
            options,
            WecomSecrets {
                archive_secret,
                keys,
            },
        ))
    }
}
