//! The TOML file of a local run. Relative paths are taken from the file's
//! directory, so a config works wherever the command is started from; a key
//! that is no setting is refused, so a typo does not silently fall back to
//! a default.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::reader::{Name, Reader, Value};
use super::{
    ARCHIVE, MappingSettings, RenderSettings, ReportSettings, Setting, SettingError, Sources, imap,
    smtp,
};
use crate::convert::ConvertOptions;
use crate::embedded::RunOptions;
use crate::layout::CollectionDay;
use crate::mailbox::imap::{DEFAULT_MAX_MESSAGE_BYTES, ImapSettings};
use crate::mailbox::smtp::{SmtpAuth, SmtpSettings};
use crate::mapping::{Mapper, MappingError, Severity};
use crate::report::Report;

/// Why a config file cannot be used.
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
    /// The file is not valid TOML. Only the position and the parser's
    /// message are kept: the parser's own display quotes the broken line,
    /// which may hold a credential (`url = "imaps://user:secret@…`).
    #[error("config {}: line {line}: {reason}", path.display())]
    Parse {
        /// The config path.
        path: PathBuf,
        /// The line where the parser stopped, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A setting is missing, invalid or unknown.
    #[error("config {}: {source}", path.display())]
    Setting {
        /// The config path.
        path: PathBuf,
        /// Which setting, and what is wrong.
        source: SettingError,
    },
}

/// Why the mapping CSV of a local run cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingCsvError {
    /// The file could not be read.
    #[error("cannot read mapping CSV {}: {source}", path.display())]
    Read {
        /// The CSV path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CSV (or the mapping settings) are unusable as a whole.
    #[error("mapping CSV {}: {source}", path.display())]
    Invalid {
        /// The CSV path.
        path: PathBuf,
        /// What is wrong.
        source: MappingError,
    },
    /// The mapping settings are unusable (there is no CSV).
    #[error(transparent)]
    Settings(MappingError),
}

/// Where a local run's mailboxes are.
#[derive(Debug, Clone)]
pub enum Target {
    /// `[maildir] path`: a Maildir++ tree, one directory per mailbox
    /// address.
    Maildir(PathBuf),
    /// `[imap]`: an IMAP server (see [`ImapSettings`] for its keys).
    Imap {
        /// The server, limits and login.
        imap: Box<ImapSettings>,
        /// `[secrets] path`: the local secret store, a directory of secret
        /// files readable by their owner only (required with `[imap]`).
        secrets: PathBuf,
    },
    /// `[smtp]`: an SMTP server (see [`SmtpSettings`] for its keys).
    Smtp {
        /// The server, login and addressing.
        smtp: Box<SmtpSettings>,
        /// `[secrets] path`: the local secret store (required unless
        /// `auth = "none"`).
        secrets: Option<PathBuf>,
    },
}

impl Target {
    /// The target's message size limit: an IMAP or SMTP server's
    /// `max_message_bytes` (default 35 MiB); none for Maildir.
    pub fn max_message_bytes(&self) -> Option<u64> {
        match self {
            Target::Maildir(_) => None,
            Target::Imap { imap, .. } => {
                Some(imap.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES))
            }
            Target::Smtp { smtp, .. } => {
                Some(smtp.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES))
            }
        }
    }
}

/// A local run's settings, from its TOML file (`examples/archiver.toml` is
/// a complete, commented example).
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// `[store] path`: the archive store directory (the same key layout as
    /// the S3 bucket).
    pub store: PathBuf,
    /// Each source kind's settings; places are directories.
    pub sources: Sources<PathBuf>,
    /// How items map to mailboxes; the CSV is a file.
    pub mapping: MappingSettings<PathBuf>,
    /// How items are rendered and filed.
    pub render: RenderSettings,
    /// Where the daily report goes (`[report]`).
    pub report: ReportSettings,
    /// Where the mailboxes are.
    pub target: Target,
}

impl LocalSettings {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<LocalSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            line: e
                .span()
                .map_or(1, |span| text[..span.start].matches('\n').count() + 1),
            reason: e.message().to_owned(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::read(table, base).map_err(|source| ConfigError::Setting {
            path: path.to_owned(),
            source,
        })
    }

    /// The settings in a parsed file whose relative paths are from `base`.
    fn read(table: toml::Table, base: &Path) -> Result<LocalSettings, SettingError> {
        let file = File {
            table,
            base,
            seen: RefCell::default(),
        };
        let store = file.required_place(ARCHIVE)?;
        let sources = Sources::read(&file)?;
        if !file.has("mapping") {
            return Err(SettingError::Missing(Setting::Key("mapping".to_owned())));
        }
        let mapping = MappingSettings::read(&file)?;
        let render = RenderSettings::read(&file)?;
        let report = ReportSettings::read(&file)?;
        let maildir = file.path("maildir.path")?;
        let secrets = file.path("secrets.path")?;
        let target = match (maildir, file.has("imap"), file.has("smtp")) {
            (Some(path), false, false) => Target::Maildir(path),
            (None, true, false) => Target::Imap {
                imap: Box::new(imap::read(&file)?),
                secrets: secrets.ok_or(SettingError::Secrets("[imap]"))?,
            },
            (None, false, true) => {
                let smtp = smtp::read(&file)?;
                if smtp.auth != SmtpAuth::None && secrets.is_none() {
                    return Err(SettingError::Secrets("[smtp] with auth"));
                }
                Target::Smtp {
                    smtp: Box::new(smtp),
                    secrets,
                }
            }
            _ => return Err(SettingError::Target),
        };
        file.refuse_unknown_keys()?;
        Ok(LocalSettings {
            store,
            sources,
            mapping,
            render,
            report,
            target,
        })
    }

    /// How items are rendered and filed, for this run's target.
    pub fn convert_options(&self) -> ConvertOptions {
        self.render.convert_options(self.target.max_message_bytes())
    }

    /// Everything a run needs besides its stores and target, collecting
    /// into the raw batch folder of `day`, at `now` (digests of days over
    /// by then are made).
    pub fn run_options(&self, day: NaiveDate, now: DateTime<Utc>) -> RunOptions {
        RunOptions {
            convert: self.convert_options(),
            day: CollectionDay(day),
            now,
        }
    }

    /// The mapper: the mapping CSV file, if any, read and parsed; its row
    /// problems go into `report` (errors and warnings) with their line
    /// numbers.
    pub fn mapper(&self, report: &mut Report) -> Result<Mapper, MappingCsvError> {
        let csv = self.mapping.csv.as_deref();
        let bytes = csv
            .map(|path| {
                std::fs::read(path).map_err(|source| MappingCsvError::Read {
                    path: path.to_owned(),
                    source,
                })
            })
            .transpose()?;
        // Row problems come only with a CSV, so `shown` names it.
        let shown = csv
            .map(|path| path.display().to_string())
            .unwrap_or_default();
        self.mapping
            .mapper(bytes.as_deref(), |issue| {
                let note = format!("mapping CSV {shown}: {issue}");
                match issue.severity() {
                    Severity::Error => report.error(note),
                    Severity::Warning => report.warning(note),
                }
            })
            .map_err(|source| match csv {
                Some(path) => MappingCsvError::Invalid {
                    path: path.to_owned(),
                    source,
                },
                None => MappingCsvError::Settings(source),
            })
    }
}

/// A parsed config file being read: the keys read so far are remembered,
/// so that the rest can be refused.
struct File<'a> {
    table: toml::Table,
    base: &'a Path,
    seen: RefCell<BTreeSet<String>>,
}

impl File<'_> {
    /// Whether the file has a table (or key) named `key`.
    fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// The value at a dotted key path; the path and the tables on the way
    /// count as read.
    fn lookup(&self, key: &str) -> Result<Option<toml::Value>, SettingError> {
        let mut seen = self.seen.borrow_mut();
        let mut table = &self.table;
        let mut path = String::new();
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(part);
            seen.insert(path.clone());
            let Some(value) = table.get(part) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                // A table read whole is read with every key in it.
                let mut inner = vec![(path.clone(), value)];
                while let Some((prefix, value)) = inner.pop() {
                    for (key, value) in value.as_table().into_iter().flatten() {
                        let path = format!("{prefix}.{key}");
                        seen.insert(path.clone());
                        inner.push((path, value));
                    }
                }
                return Ok(Some(value.clone()));
            }
            table = value.as_table().ok_or_else(|| SettingError::Invalid {
                setting: Setting::Key(path.clone()),
                reason: format!("expected a table, found {}", value.type_str()),
            })?;
        }
        Ok(None)
    }

    /// A path setting only the file has, from the file's directory.
    fn path(&self, key: &'static str) -> Result<Option<PathBuf>, SettingError> {
        Ok(self
            .file_value::<String>(key)?
            .map(|path| self.base.join(path)))
    }

    /// Refuses any key that no setting read.
    fn refuse_unknown_keys(&self) -> Result<(), SettingError> {
        let seen = self.seen.borrow();
        let mut tables = vec![(String::new(), &self.table)];
        while let Some((prefix, table)) = tables.pop() {
            for (key, value) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                if !seen.contains(&path) {
                    return Err(SettingError::Unknown(path));
                }
                if let Some(inner) = value.as_table() {
                    tables.push((path, inner));
                }
            }
        }
        Ok(())
    }
}

impl Reader for File<'_> {
    type Place = PathBuf;

    fn value<T: Value>(&self, name: Name) -> Result<Option<T>, SettingError> {
        self.file_value(name.key)
    }

    fn file_value<T: Value>(&self, key: &'static str) -> Result<Option<T>, SettingError> {
        self.lookup(key)?
            .map(|value| {
                T::from_toml(value).map_err(|reason| SettingError::Invalid {
                    setting: Setting::Key(key.to_owned()),
                    reason,
                })
            })
            .transpose()
    }

    fn place(&self, name: Name) -> Result<Option<PathBuf>, SettingError> {
        self.path(name.key)
    }

    fn setting(&self, name: Name) -> Setting {
        Setting::Key(name.key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest complete config.
    const MINIMAL: &str = r#"
time_zone = "Europe/London"
default_region = "GB"
[store]
path = "archive"
[drops]
path = "drops"
[maildir]
path = "mail"
[mapping]
"#;

    fn read(text: &str) -> Result<LocalSettings, SettingError> {
        LocalSettings::read(toml::from_str(text).unwrap(), Path::new("/etc/archiver"))
    }

    /// The error for `MINIMAL` with `line` replaced by `by`.
    fn error(line: &str, by: &str) -> String {
        assert!(MINIMAL.contains(line), "{line}");
        read(&MINIMAL.replace(line, by)).unwrap_err().to_string()
    }

    #[test]
    fn wecom_is_configured_by_its_secrets_with_defaults_for_the_rest() {
        let settings = read(MINIMAL).unwrap();
        assert!(settings.sources.wecom.is_none());
        let settings = read(&format!(
            "{MINIMAL}[wecom]\nsecrets = \"secrets\"\npage_limit = 500\n"
        ))
        .unwrap();
        let wecom = settings.sources.wecom.unwrap();
        assert_eq!(wecom.secrets, Path::new("/etc/archiver/secrets"));
        assert_eq!(
            wecom.library,
            Path::new("/opt/lib/libWeWorkFinanceSdk_C.so")
        );
        assert_eq!((wecom.page_limit, wecom.timeout_secs), (500, 5));
        let err = read(&format!("{MINIMAL}[wecom]\nlibrary = \"/x.so\"\n")).unwrap_err();
        assert_eq!(err.to_string(), "wecom.secrets is not set");
        let err = read(&format!(
            "{MINIMAL}[wecom]\nsecrets = \"s\"\npage_limit = 1001\n"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wecom.page_limit: 1001 is not between 1 and 1000"
        );
    }

    #[test]
    fn the_wecom_api_base_url_is_https_to_a_host_or_http_to_loopback() {
        let api = |url: &str| {
            read(&format!(
                "{MINIMAL}[wecom]\nsecrets = \"s\"\napi_base_url = \"{url}\"\n"
            ))
            .map(|settings| settings.sources.wecom.unwrap().api_base_url)
            .map_err(|e| e.to_string())
        };
        for good in [
            "https://qyapi.weixin.qq.com",
            "https://qyapi.weixin.qq.com/",
            "http://127.0.0.1:8080",
            "http://localhost:9000",
            "http://[::1]:9000",
            "",
        ] {
            assert_eq!(api(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "http://qyapi.weixin.qq.com",
            "http://10.0.0.5",
            "ftp://qyapi.weixin.qq.com",
            "https://user@qyapi.weixin.qq.com",
            "https://qyapi.weixin.qq.com/x?y=1",
            "https://qyapi.weixin.qq.com/#f",
            "qyapi.weixin.qq.com",
        ] {
            let err = api(bad).unwrap_err();
            assert!(err.starts_with("wecom.api_base_url: "), "{bad}: {err}");
        }
    }

    #[test]
    fn the_example_config_reads_as_the_defaults_with_paths_from_its_directory() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let settings = LocalSettings::load(&dir.join("archiver.toml")).unwrap();
        assert_eq!(settings.store, dir.join("../example-output/archive"));
        assert_eq!(settings.sources.whatsapp_export.drops, dir.join("."));
        assert_eq!(settings.mapping.csv, Some(dir.join("mapping.csv")));
        assert_eq!(settings.mapping.custodian_domains, ["corp.example"]);
        assert!(
            matches!(&settings.target, Target::Maildir(path) if *path == dir.join("../example-output/maildir"))
        );
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let export = settings.sources.whatsapp_export.export_options();
        assert_eq!(export.tz, chrono_tz::Europe::London);
        assert_eq!(export.date_order, None);
        assert_eq!(export.zip_limits, Default::default());
        let opts = settings.run_options(day, Utc::now());
        assert_eq!(opts.day.0, day);
        let defaults = ConvertOptions::default();
        // The example shows times in the phones' zone too.
        assert_eq!(
            opts.convert.render,
            crate::render::RenderOptions {
                time_zone: chrono_tz::Europe::London,
                ..defaults.render
            }
        );
        assert_eq!(opts.convert.folders, defaults.folders);
        assert_eq!(opts.convert.max_message_bytes, None);
        let mut report = Report::default();
        settings.mapper(&mut report).unwrap();
        // The example CSV checks clean (`archiver mapping check`).
        assert_eq!(report, Report::default());
    }

    #[test]
    fn delivery_is_per_message_unless_a_source_is_set_to_digest() {
        let defaults = read(MINIMAL).unwrap().convert_options().deliveries;
        assert_eq!(defaults, crate::convert::Deliveries::default());
        assert_eq!(defaults.whatsapp_export, crate::convert::Delivery::Message);
        let text = format!("{MINIMAL}[delivery]\nwhatsapp_export = \"digest\"\n");
        let deliveries = read(&text).unwrap().convert_options().deliveries;
        assert_eq!(deliveries.whatsapp_export, crate::convert::Delivery::Digest);
        assert_eq!(deliveries.wecom, crate::convert::Delivery::Message);
        let bad = format!("{MINIMAL}[delivery]\nwecom = \"daily\"\n");
        let err = read(&bad).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "delivery.wecom: unknown variant `daily`, expected `message` or `digest`"
            ),
            "{err}"
        );
        let typo = format!("{MINIMAL}[delivery]\nwhatsap_export = \"digest\"\n");
        assert_eq!(
            read(&typo).unwrap_err().to_string(),
            "unknown key delivery.whatsap_export"
        );
    }

    #[test]
    fn the_whatsapp_cloud_inbox_is_a_path_from_the_files_directory() {
        assert!(read(MINIMAL).unwrap().sources.whatsapp_cloud.is_none());
        let text = format!("{MINIMAL}[whatsapp_cloud]\ninbox = \"archive\"\n");
        let cloud = read(&text).unwrap().sources.whatsapp_cloud.unwrap();
        assert_eq!(cloud.inbox, Path::new("/etc/archiver/archive"));
    }

    #[test]
    fn custodians_name_the_authors_they_appear_under() {
        let text = format!(
            "{MINIMAL}[custodians]\n\"+44 7700 900123\" = [\"Carol\", \"Carol M.\"]\n\
             \"Dan@Corp.example\" = \"Dan\"\n"
        );
        let settings = read(&text).unwrap();
        let names = &settings.sources.whatsapp_export.custodian_names;
        assert_eq!(names.of("447700900123"), ["Carol", "Carol M."]);
        assert_eq!(names.of("dan@corp.example"), ["Dan"]);
        assert!(names.of("+447700900999").is_empty());
        let defaults = read(MINIMAL).unwrap();
        assert!(
            defaults
                .sources
                .whatsapp_export
                .custodian_names
                .of("x")
                .is_empty()
        );
        assert_eq!(
            error("[mapping]", "[mapping]\n[custodians]\n\"x\" = 3"),
            "custodians: x: expected an array of strings, found integer"
        );
    }

    #[test]
    fn missing_settings_are_named_by_their_key() {
        assert_eq!(
            error("time_zone = \"Europe/London\"", ""),
            "time_zone is not set"
        );
        assert_eq!(error("path = \"archive\"", ""), "store.path is not set");
        assert_eq!(error("[mapping]", ""), "mapping is not set");
        assert_eq!(
            error("[maildir]\npath = \"mail\"", ""),
            "configure exactly one delivery target, [maildir], [imap] or [smtp]"
        );
        let imap = "[imap]\nurl = \"imaps://mail.corp.example\"\nauth = \"password\"";
        assert_eq!(
            error("[maildir]\npath = \"mail\"", imap),
            "[imap] needs [secrets] path = <directory of secret files>"
        );
        assert_eq!(
            error("[maildir]\npath = \"mail\"", "[imap]\nurl = \"imaps://x\""),
            "imap.auth is not set"
        );
    }

    #[test]
    fn invalid_settings_are_named_by_their_key() {
        assert_eq!(
            error("\"Europe/London\"", "\"Mars/Olympus\""),
            "time_zone: unknown time zone \"Mars/Olympus\" (use an IANA name such as Europe/London)"
        );
        assert!(
            error("\"GB\"", "\"UK\"").starts_with("default_region: unknown region \"UK\""),
            "{}",
            error("\"GB\"", "\"UK\"")
        );
        assert_eq!(
            error(
                "[mapping]",
                "[mapping]\n[render]\nattachment_limit = \"big\""
            ),
            "render.attachment_limit: expected an integer, found string"
        );
        assert_eq!(
            error("[mapping]", "[mapping]\n[zip]\nmax_ratio = -1"),
            "zip.max_ratio: -1 is out of range"
        );
        assert!(
            error(
                "default_region",
                "date_order = \"sideways\"\ndefault_region"
            )
            .starts_with("date_order: unknown variant `sideways`"),
        );
        assert_eq!(
            error("[store]\npath = \"archive\"", "store = \"archive\""),
            "store: expected a table, found string"
        );
        assert_eq!(
            error("[mapping]", "[mapping]\nid_domain = 7"),
            "mapping.id_domain: expected a string, found integer"
        );
        assert_eq!(
            error(
                "[mapping]",
                "[mapping]\ncustodian_domains = \"corp.example\""
            ),
            "mapping.custodian_domains: expected an array of strings, found string"
        );
        assert_eq!(
            error(
                "[mapping]",
                "[mapping]\ncustodian_domains = [\"a.example\", 1]"
            ),
            "mapping.custodian_domains: expected an array of strings, found an array \
             holding integer"
        );
    }

    #[test]
    fn a_broken_line_is_not_quoted_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archiver.toml");
        let text = "time_zone = \"UTC\"\n[imap]\nurl = \"imaps://alice:s3cret@mail.example\n";
        std::fs::write(&path, text).unwrap();
        let err = LocalSettings::load(&path).unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert_eq!(
            error("[mapping]", "[mapping]\n[render]\natachment_limit = 1"),
            "unknown key render.atachment_limit"
        );
        assert_eq!(
            error("[mapping]", "[mapping]\n[colour]"),
            "unknown key colour"
        );
        assert_eq!(
            error("[mapping]", "[mapping]\ncsv_file = \"m.csv\""),
            "unknown key mapping.csv_file"
        );
    }

    #[test]
    fn an_imap_target_has_its_secrets_and_size_limit() {
        let text = MINIMAL.replace(
            "[maildir]\npath = \"mail\"",
            "[secrets]\npath = \"secrets\"\n[imap]\nurl = \"imaps://mail.corp.example\"\n\
             auth = \"xoauth2\"\nconnections = 2",
        );
        let settings = read(&text).unwrap();
        let Target::Imap { imap, secrets } = &settings.target else {
            panic!("{:?}", settings.target);
        };
        assert_eq!(*secrets, Path::new("/etc/archiver/secrets"));
        assert_eq!(
            (imap.connections, imap.login.as_str()),
            (Some(2), "{mailbox}")
        );
        assert_eq!(
            settings.convert_options().max_message_bytes,
            Some(DEFAULT_MAX_MESSAGE_BYTES)
        );
    }

    #[test]
    fn an_smtp_target_is_one_of_the_three_and_checks_its_values() {
        let smtp = "[smtp]\nurl = \"smtps://journal.archive.example\"\nauth = \"none\"\n\
                    sender = \"archiver@corp.example\"\nrecipient = \"journal@archive.example\"\n\
                    format = \"journal\"";
        let settings = read(&MINIMAL.replace("[maildir]\npath = \"mail\"", smtp)).unwrap();
        let Target::Smtp {
            smtp: target,
            secrets,
        } = &settings.target
        else {
            panic!("{:?}", settings.target);
        };
        assert_eq!(*secrets, None, "no AUTH, no secret store needed");
        assert_eq!(target.format, crate::mailbox::smtp::Format::Journal);
        assert_eq!(
            settings.convert_options().max_message_bytes,
            Some(DEFAULT_MAX_MESSAGE_BYTES)
        );
        let imap = "[imap]\nurl = \"imaps://x\"\nauth = \"password\"\n";
        assert_eq!(
            error("[maildir]\npath = \"mail\"", &format!("{imap}{smtp}")),
            "configure exactly one delivery target, [maildir], [imap] or [smtp]"
        );
        assert!(
            error(
                "[maildir]\npath = \"mail\"",
                &smtp.replace("format = \"journal\"", "format = \"wrapped\"")
            )
            .contains("smtp.format"),
            "a bad value names its key"
        );
        assert_eq!(
            error(
                "[maildir]\npath = \"mail\"",
                &smtp.replace("auth = \"none\"", "auth = \"password\"")
            ),
            "[smtp] with auth needs [secrets] path = <directory of secret files>"
        );
    }

    #[test]
    fn errors_name_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archiver.toml");
        std::fs::write(&path, MINIMAL.replace("default_region = \"GB\"", "")).unwrap();
        let err = LocalSettings::load(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("config {}: default_region is not set", path.display())
        );
        assert!(matches!(
            err,
            ConfigError::Setting {
                source: SettingError::Missing(Setting::Key(key)),
                ..
            } if key == "default_region"
        ));
    }
}
