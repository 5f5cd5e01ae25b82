//! The functions' settings, read from their environment (set by
//! template.yaml). Secrets are not settings: only the ARN of the Secrets
//! Manager secret is.

use std::str::FromStr;

use chrono_tz::Tz;

use crate::convert::{ConvertOptions, Folders};
use crate::mailbox::imap::{AuthMethod, ImapSettings};
use crate::mapping::{MappingOptions, parse_region};
use crate::render::RenderOptions;
use crate::sources::whatsapp_export::ExportOptions;
use crate::sources::whatsapp_export::{DateOrder, ZipLimits};

/// A missing or unusable environment variable.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable's value is not usable.
    #[error("environment variable {name}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads variables through a lookup (the process environment in the
/// functions, a map in tests).
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, EnvError> {
        self.optional(name).ok_or(EnvError::Missing(name))
    }

    fn parsed<T: FromStr>(&self, name: &'static str) -> Result<Option<T>, EnvError>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(name)
            .map(|v| {
                v.trim().parse().map_err(|e: T::Err| EnvError::Invalid {
                    name,
                    reason: format!("{v:?}: {e}"),
                })
            })
            .transpose()
    }

    fn time_zone(&self, name: &'static str) -> Result<Tz, EnvError> {
        let zone = self.required(name)?;
        zone.parse().map_err(|_| EnvError::Invalid {
            name,
            reason: format!("unknown time zone {zone:?} (use an IANA name such as Europe/London)"),
        })
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The collect function's settings.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// `ARCHIVE_BUCKET`: raw batches, media, checkpoints.
    pub archive_bucket: String,
    /// `DROP_BUCKET`: where export files are dropped (`drop/whatsapp-export/<custodian>/`).
    pub drop_bucket: String,
    /// `TIME_ZONE` (the exporting devices), `DATE_ORDER` (`day-first`,
    /// `month-first`, `year-first`; default: inferred per file).
    pub export: ExportOptions,
    /// `ARCHIVE_TIME_ZONE`: the zone the archive day (of the schedule) is
    /// reckoned in; default `TIME_ZONE`.
    pub archive_tz: Tz,
}

impl CollectSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = Env(lookup);
        let date_order = match env.optional("DATE_ORDER").as_deref() {
            None => None,
            Some("day-first") => Some(DateOrder::DayFirst),
            Some("month-first") => Some(DateOrder::MonthFirst),
            Some("year-first") => Some(DateOrder::YearFirst),
            Some(other) => {
                return Err(EnvError::Invalid {
                    name: "DATE_ORDER",
                    reason: format!("{other:?}: use day-first, month-first or year-first"),
                });
            }
        };
        let tz = env.time_zone("TIME_ZONE")?;
        let archive_tz = match env.optional("ARCHIVE_TIME_ZONE") {
            Some(_) => env.time_zone("ARCHIVE_TIME_ZONE")?,
            None => tz,
        };
        Ok(CollectSettings {
            archive_bucket: env.required("ARCHIVE_BUCKET")?,
            drop_bucket: env.required("DROP_BUCKET")?,
            archive_tz,
            export: ExportOptions {
                tz,
                date_order,
                zip_limits: ZipLimits::default(),
            },
        })
    }
}

/// The convert function's settings.
#[derive(Debug, Clone)]
pub struct ConvertSettings {
    /// `ARCHIVE_BUCKET`.
    pub archive_bucket: String,
    /// `CONFIG_BUCKET`: holds the mapping CSV.
    pub config_bucket: String,
    /// `MAPPING_KEY`: the mapping CSV's key (none: automatic mapping only).
    pub mapping_key: Option<String>,
    /// `DELIVER_QUEUE_URL`: where delivery jobs go.
    pub deliver_queue_url: String,
    /// `DEFAULT_REGION` (national phone numbers), `ID_DOMAIN` (WeCom ids).
    pub mapping: MappingOptions,
    /// `WHATSAPP_FOLDER`, `WECHAT_FOLDER`, `ATTACHMENT_LIMIT` (bytes),
    /// `UNMAPPED_DOMAIN`, `MAX_MESSAGE_BYTES` (the IMAP server's limit).
    pub convert: ConvertOptions,
}

impl ConvertSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = Env(lookup);
        let region = env.required("DEFAULT_REGION")?;
        let default_region = parse_region(&region).map_err(|e| EnvError::Invalid {
            name: "DEFAULT_REGION",
            reason: e.to_string(),
        })?;
        let defaults = Folders::default();
        let mut render = RenderOptions::default();
        if let Some(limit) = env.parsed("ATTACHMENT_LIMIT")? {
            render.attachment_limit = limit;
        }
        if let Some(domain) = env.optional("UNMAPPED_DOMAIN") {
            render.unmapped_domain = domain;
        }
        Ok(ConvertSettings {
            archive_bucket: env.required("ARCHIVE_BUCKET")?,
            config_bucket: env.required("CONFIG_BUCKET")?,
            mapping_key: env.optional("MAPPING_KEY"),
            deliver_queue_url: env.required("DELIVER_QUEUE_URL")?,
            mapping: MappingOptions {
                default_region,
                id_domain: env.optional("ID_DOMAIN"),
            },
            convert: ConvertOptions {
                render,
                folders: Folders {
                    whatsapp: env.optional("WHATSAPP_FOLDER").unwrap_or(defaults.whatsapp),
                    wechat: env.optional("WECHAT_FOLDER").unwrap_or(defaults.wechat),
                },
                max_message_bytes: Some(
                    env.parsed("MAX_MESSAGE_BYTES")?
                        .unwrap_or(crate::mailbox::imap::DEFAULT_MAX_MESSAGE_BYTES),
                ),
            },
        })
    }
}

/// The deliver function's settings.
#[derive(Debug, Clone)]
pub struct DeliverSettings {
    /// `ARCHIVE_BUCKET`: EMLs and the ledger.
    pub archive_bucket: String,
    /// `IMAP_SECRET_ARN`: the Secrets Manager secret with the IMAP
    /// credentials, a JSON object with `password`, `client_secret` or
    /// `certificate_key`.
    pub secret_arn: String,
    /// `IMAP_URL`, `IMAP_AUTH` (`password` or `xoauth2`), `IMAP_LOGIN`,
    /// `IMAP_TENANT`, `IMAP_TOKEN_URL`, `IMAP_CLIENT_ID`,
    /// `IMAP_CERTIFICATE_THUMBPRINT` (certificate instead of client secret),
    /// `IMAP_SCOPE`, `MAX_MESSAGE_BYTES`, `IMAP_CONNECTIONS`.
    pub imap: ImapSettings,
}

impl DeliverSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = Env(lookup);
        let auth = match env.required("IMAP_AUTH")?.as_str() {
            "password" => AuthMethod::Password,
            "xoauth2" => AuthMethod::Xoauth2,
            other => {
                return Err(EnvError::Invalid {
                    name: "IMAP_AUTH",
                    reason: format!("{other:?}: use password or xoauth2"),
                });
            }
        };
        let thumbprint = env.optional("IMAP_CERTIFICATE_THUMBPRINT");
        let (password, client_secret, certificate_key) = match (auth, &thumbprint) {
            (AuthMethod::Password, _) => (Some("password"), None, None),
            (AuthMethod::Xoauth2, None) => (None, Some("client_secret"), None),
            (AuthMethod::Xoauth2, Some(_)) => (None, None, Some("certificate_key")),
        };
        let imap = ImapSettings {
            url: env.required("IMAP_URL")?,
            auth,
            login: env
                .optional("IMAP_LOGIN")
                .unwrap_or_else(crate::mailbox::imap::default_login),
            password_secret: password.map(str::to_owned),
            token_url: env.optional("IMAP_TOKEN_URL"),
            tenant: env.optional("IMAP_TENANT"),
            client_id: env.optional("IMAP_CLIENT_ID"),
            client_secret_secret: client_secret.map(str::to_owned),
            certificate_key_secret: certificate_key.map(str::to_owned),
            certificate_thumbprint: thumbprint,
            scope: env.optional("IMAP_SCOPE"),
            max_message_bytes: env.parsed("MAX_MESSAGE_BYTES")?,
            connect_timeout_secs: env.parsed("IMAP_CONNECT_TIMEOUT_SECS")?,
            command_timeout_secs: env.parsed("IMAP_COMMAND_TIMEOUT_SECS")?,
            attempts: env.parsed("IMAP_ATTEMPTS")?,
            backoff_ms: env.parsed("IMAP_BACKOFF_MS")?,
            connections: env.parsed("IMAP_CONNECTIONS")?,
        };
        Ok(DeliverSettings {
            archive_bucket: env.required("ARCHIVE_BUCKET")?,
            secret_arn: env.required("IMAP_SECRET_ARN")?,
            imap,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let err = CollectSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("TIME_ZONE", "Europe/London"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DROP_BUCKET is not set"
        );
        let err = CollectSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Mars/Olympus"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("TIME_ZONE"), "{err}");
        let err = DeliverSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("IMAP_SECRET_ARN", "arn"),
            ("IMAP_URL", "imaps://outlook.office365.com"),
            ("IMAP_AUTH", "xoauth2"),
            ("IMAP_CONNECTIONS", "many"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("IMAP_CONNECTIONS"), "{err}");
    }

    #[test]
    fn secret_names_follow_the_auth_method() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("IMAP_SECRET_ARN", "arn"),
            ("IMAP_URL", "imaps://outlook.office365.com"),
            ("IMAP_AUTH", "xoauth2"),
            ("IMAP_TENANT", "corp.example"),
            ("IMAP_CLIENT_ID", "app"),
        ];
        let secret = DeliverSettings::from_lookup(lookup(&base)).unwrap();
        assert_eq!(
            secret.imap.client_secret_secret.as_deref(),
            Some("client_secret")
        );
        let mut with_cert = base.to_vec();
        with_cert.push(("IMAP_CERTIFICATE_THUMBPRINT", "ab12"));
        let cert = DeliverSettings::from_lookup(lookup(&with_cert)).unwrap();
        assert_eq!(
            cert.imap.certificate_key_secret.as_deref(),
            Some("certificate_key")
        );
        assert_eq!(cert.imap.client_secret_secret, None);
        let convert = ConvertSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("CONFIG_BUCKET", "c"),
            ("DELIVER_QUEUE_URL", "http://q"),
            ("DEFAULT_REGION", "GB"),
            ("WHATSAPP_FOLDER", "WA"),
        ]))
        .unwrap();
        assert_eq!(convert.convert.folders.whatsapp, "WA");
        assert_eq!(convert.convert.folders.wechat, "WeChat Archiver");
    }
}
