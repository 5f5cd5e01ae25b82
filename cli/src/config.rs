//! The TOML configuration of a local (embedded) run.
//!
//! Relative paths are taken from the config file's directory, so a config
//! works wherever the command is started from.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use shared::convert::Folders;
use shared::render::RenderOptions;
use shared::sources::whatsapp_export::{DateOrder, ZipLimits};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The config path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("config {}: {source}", path.display())]
    Parse {
        /// The config path.
        path: PathBuf,
        /// What is wrong, with its position.
        source: toml::de::Error,
    },
    /// Neither or both of `[maildir]` and `[imap]` are configured.
    #[error("config {}: configure exactly one delivery target, [maildir] or [imap]", .0.display())]
    Target(PathBuf),
    /// IMAP is configured without the secret store it needs.
    #[error("config {}: [imap] needs [secrets] path = <directory of secret files>", .0.display())]
    Secrets(PathBuf),
    /// A time zone name is not in the IANA database.
    #[error("config {}: unknown time zone {zone:?} (use an IANA name such as Europe/London)", path.display())]
    TimeZone {
        /// The config path.
        path: PathBuf,
        /// The name given.
        zone: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    time_zone: String,
    default_region: String,
    date_order: Option<DateOrder>,
    store: PathEntry,
    drops: PathEntry,
    maildir: Option<PathEntry>,
    imap: Option<ImapEntry>,
    secrets: Option<PathEntry>,
    mapping: MappingEntry,
    #[serde(default)]
    render: RenderEntry,
    #[serde(default)]
    folders: Folders,
    #[serde(default)]
    zip: ZipLimits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathEntry {
    path: PathBuf,
}

/// The `[imap]` table: server, limits and how to log in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapEntry {
    /// `imaps://host[:port]`, or `imap://127.0.0.1:port` for tests.
    pub url: String,
    /// `password` or `xoauth2`.
    pub auth: AuthMethod,
    /// LOGIN user name template (`{mailbox}` = the mailbox address).
    #[serde(default = "default_login")]
    pub login: String,
    /// Name of the secret holding the password (password auth).
    pub password_secret: Option<String>,
    /// Token endpoint URL (xoauth2); default: Entra ID's for `tenant`.
    pub token_url: Option<String>,
    /// Entra ID tenant id or domain (xoauth2).
    pub tenant: Option<String>,
    /// OAuth client (application) id (xoauth2).
    pub client_id: Option<String>,
    /// Name of the secret holding the client secret (xoauth2).
    pub client_secret_secret: Option<String>,
    /// Name of the secret holding the certificate's RSA private key, PEM (xoauth2).
    pub certificate_key_secret: Option<String>,
    /// The certificate's SHA-1 thumbprint, hex (xoauth2).
    pub certificate_thumbprint: Option<String>,
    /// OAuth scope (default: Exchange Online's).
    pub scope: Option<String>,
    /// Largest message the server accepts, bytes (default 35 MiB).
    pub max_message_bytes: Option<u64>,
    /// Seconds to connect (default 30).
    pub connect_timeout_secs: Option<u64>,
    /// Seconds per command (default 60).
    pub command_timeout_secs: Option<u64>,
    /// Attempts per message (default 5).
    pub attempts: Option<u32>,
    /// First pause between attempts in milliseconds, doubled each time (default 1000).
    pub backoff_ms: Option<u64>,
    /// Mailboxes delivered to at once, one connection each (default 4).
    pub connections: Option<usize>,
}

fn default_login() -> String {
    "{mailbox}".to_owned()
}

/// How the archiver logs in to IMAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// LOGIN with a password from the secret store.
    Password,
    /// SASL XOAUTH2 with a client-credentials token.
    Xoauth2,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingEntry {
    csv: Option<PathBuf>,
    id_domain: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderEntry {
    attachment_limit: Option<u64>,
    unmapped_domain: Option<String>,
}

/// The delivery target.
#[derive(Debug)]
pub enum Target {
    /// A Maildir++ tree: one directory per mailbox address.
    Maildir(PathBuf),
    /// An IMAP server.
    Imap(Box<ImapEntry>),
}

/// A loaded configuration, paths resolved.
#[derive(Debug)]
pub struct Config {
    /// Time zone of the exporting devices.
    pub tz: Tz,
    /// Region for national phone numbers (ISO 3166 code).
    pub default_region: String,
    /// Forced date order for exports, if any.
    pub date_order: Option<DateOrder>,
    /// The archive store directory.
    pub store: PathBuf,
    /// The directory holding `drop/whatsapp-export/<custodian>/<file>`.
    pub drops: PathBuf,
    /// Where mailboxes are.
    pub target: Target,
    /// The local secret store (a directory of secret files).
    pub secrets: Option<PathBuf>,
    /// The mapping CSV, if any.
    pub mapping_csv: Option<PathBuf>,
    /// Domain for automatic mapping of ids.
    pub id_domain: Option<String>,
    /// Rendering options.
    pub render: RenderOptions,
    /// Folder names.
    pub folders: Folders,
    /// Bounds on export zips.
    pub zip: ZipLimits,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let tz = file.time_zone.parse().map_err(|_| ConfigError::TimeZone {
            path: path.to_owned(),
            zone: file.time_zone.clone(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let target = match (file.maildir, file.imap) {
            (Some(maildir), None) => Target::Maildir(base.join(maildir.path)),
            (None, Some(imap)) => Target::Imap(Box::new(imap)),
            _ => return Err(ConfigError::Target(path.to_owned())),
        };
        let secrets = file.secrets.map(|s| base.join(s.path));
        if matches!(target, Target::Imap(_)) && secrets.is_none() {
            return Err(ConfigError::Secrets(path.to_owned()));
        }
        let mut render = RenderOptions::default();
        if let Some(limit) = file.render.attachment_limit {
            render.attachment_limit = limit;
        }
        if let Some(domain) = file.render.unmapped_domain {
            render.unmapped_domain = domain;
        }
        Ok(Config {
            tz,
            default_region: file.default_region,
            date_order: file.date_order,
            store: base.join(file.store.path),
            drops: base.join(file.drops.path),
            target,
            secrets,
            mapping_csv: file.mapping.csv.map(|csv| base.join(csv)),
            id_domain: file.mapping.id_domain,
            render,
            folders: file.folders,
            zip: file.zip,
        })
    }
}
