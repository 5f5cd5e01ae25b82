//! The settings schema: every setting of the archiver, read from the TOML
//! file of a local run (`archiver run --config`) or from the environment of
//! a Lambda function (set by template.yaml).
//!
//! The schema is one set of types, each setting a field documented once
//! with its two names: its key in the TOML file and its environment
//! variable. The parts both modes share are read by one function each, over
//! either reader (the file, the environment), so the modes cannot drift
//! apart:
//!
//! - [`Sources`]: each source kind's own settings, one field per kind
//!   (WhatsApp export: drop location, time zone, date order, zip bounds;
//!   WeCom: SDK library, secrets, page size).
//! - [`MappingSettings`]: the mapping CSV, default region and id domain.
//! - [`RenderSettings`]: attachment limit, unmapped domain, folder names.
//! - [`ImapSettings`](crate::mailbox::imap::ImapSettings): the IMAP target.
//! - [`SmtpSettings`](crate::mailbox::smtp::SmtpSettings): the SMTP target.
//!
//! Each mode then adds what only it has: [`LocalSettings`] (store
//! directory, Maildir, IMAP or SMTP target, secret directory) from the file;
//! [`CollectSettings`], [`ConvertSettings`], [`DeliverSettings`] and
//! [`ReconcileSettings`] (buckets, queues, secret ARN) from each function's
//! environment. A place (where
//! drops, the archive or the mapping CSV are) is a path in the file,
//! relative to the file's directory, and a bucket name or object key in the
//! environment. The options the stages take (`ExportOptions`,
//! `ConvertOptions`, `MappingOptions`, `RunOptions`) are built from these
//! types only, by their `*_options` methods, and a mapping CSV becomes a
//! mapper only through [`MappingSettings::mapper`].
//!
//! Why not a layered configuration library (figment, config): the two
//! modes never merge — a local run has no environment settings and a
//! function no file — and the variable names are not derived from the keys
//! (`[folders] whatsapp` is `WHATSAPP_FOLDER`, `[store] path` is
//! `ARCHIVE_BUCKET`), so such a library would still need the table of names
//! kept here, and its errors would name key paths, not the variables the
//! template sets. The TOML file is read with `toml` into a table, so an
//! error names the key path and unknown keys are still refused.

mod environment;
mod file;
mod imap;
mod mapping;
mod reader;
mod render;
mod report;
mod smtp;
mod sources;
mod wecom;

use std::fmt;

use self::reader::Name;

pub use self::environment::{
    CaptureSettings, CollectSettings, ConvertSettings, DeliverSettings, DeliverTarget,
    MediaSettings, ReconcileSettings,
};
pub use self::file::{ConfigError, LocalSettings, MappingCsvError, Target};
pub use self::mapping::MappingSettings;
pub use self::render::RenderSettings;
pub use self::report::{DEFAULT_REPORT_FOLDER, ReportSettings};
pub use self::sources::{Sources, WhatsAppCloudSettings, WhatsAppExportSettings};
pub use self::wecom::{WecomSettings, WecomSetupError};

/// The archive store: `[store] path`, a directory with the same key layout
/// as the S3 bucket, or `ARCHIVE_BUCKET`, the bucket.
const ARCHIVE: Name = Name::new("store.path", "ARCHIVE_BUCKET");

/// A setting as an error names it: the name the mode it was read in uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// A key of the TOML file, as a dotted path (`store.path`).
    Key(String),
    /// An environment variable.
    Var(&'static str),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Key(key) => f.write_str(key),
            Setting::Var(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// Why the settings cannot be used; each names the setting it is about.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// A required setting is not set (an empty variable is not set).
    #[error("{0} is not set")]
    Missing(Setting),
    /// A setting's value is not usable.
    #[error("{setting}: {reason}")]
    Invalid {
        /// The setting.
        setting: Setting,
        /// What is wrong with its value.
        reason: String,
    },
    /// The TOML file has a key that is no setting (a typo, most likely).
    #[error("unknown key {0}")]
    Unknown(String),
    /// None or more than one of `[maildir]`, `[imap]` and `[smtp]` are
    /// configured.
    #[error("configure exactly one delivery target, [maildir], [imap] or [smtp]")]
    Target,
    /// The deliver function has both `IMAP_URL` and `SMTP_URL`.
    #[error("set one delivery target, IMAP_URL or SMTP_URL, not both")]
    BothUrls,
    /// IMAP, or SMTP with authentication, is configured without the secret
    /// store it needs (the table named).
    #[error("{0} needs [secrets] path = <directory of secret files>")]
    Secrets(&'static str),
}
