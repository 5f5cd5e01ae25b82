//! The TOML configuration of a local (embedded) run.
//!
//! Relative paths are taken from the config file's directory, so a config
//! works wherever the command is started from.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use shared::convert::Folders;
use shared::mailbox::imap::ImapSettings;
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
    imap: Option<ImapSettings>,
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
    Imap(Box<ImapSettings>),
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
