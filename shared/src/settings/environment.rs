//! The functions' settings, read from their environment (set by
//! template.yaml). Each function reads only what it uses, and a missing or
//! bad variable stops it at init with an error naming the variable. Secrets
//! are not settings: only the ARN of the Secrets Manager secret is.

use chrono_tz::Tz;

use super::imap::{self, MAX_MESSAGE_BYTES};
use super::reader::{Name, Reader, Value};
use super::smtp;
use super::{
    ARCHIVE, MappingSettings, RenderSettings, ReportSettings, Setting, SettingError, Sources,
};
use crate::convert::ConvertOptions;
use crate::mailbox::imap::{AuthMethod, DEFAULT_MAX_MESSAGE_BYTES, ImapSettings};
use crate::mailbox::smtp::{SmtpAuth, SmtpSettings};
use crate::metrics::Namespace;

/// Variables through a lookup (the process environment in the functions, a
/// map in tests). A variable set to blanks is not set.
struct Environment<F>(F);

impl<F: Fn(&str) -> Option<String>> Environment<F> {
    fn text(&self, var: &'static str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    fn var<T: Value>(&self, var: &'static str) -> Result<Option<T>, SettingError> {
        self.text(var)
            .map(|text| {
                T::from_text(&text).map_err(|reason| SettingError::Invalid {
                    setting: Setting::Var(var),
                    reason,
                })
            })
            .transpose()
    }

    fn required_var<T: Value>(&self, var: &'static str) -> Result<T, SettingError> {
        self.var(var)?
            .ok_or(SettingError::Missing(Setting::Var(var)))
    }
}

impl<F: Fn(&str) -> Option<String>> Reader for Environment<F> {
    type Place = String;

    fn value<T: Value>(&self, name: Name) -> Result<Option<T>, SettingError> {
        self.var(name.var)
    }

    fn file_value<T: Value>(&self, _key: &'static str) -> Result<Option<T>, SettingError> {
        Ok(None)
    }

    fn place(&self, name: Name) -> Result<Option<String>, SettingError> {
        Ok(self.text(name.var))
    }

    fn setting(&self, name: Name) -> Setting {
        Setting::Var(name.var)
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variable naming the CloudWatch namespace of a function's metrics.
const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// `METRICS_NAMESPACE`, else [`crate::metrics::DEFAULT_NAMESPACE`].
fn metrics_namespace<F: Fn(&str) -> Option<String>>(
    env: &Environment<F>,
) -> Result<Namespace, SettingError> {
    Ok(env.var(METRICS_NAMESPACE)?.unwrap_or_default())
}

/// The collect function's settings.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// `ARCHIVE_BUCKET`: the archive store (raw batches, media,
    /// checkpoints).
    pub archive_bucket: String,
    /// Each source kind's settings; places are bucket names.
    pub sources: Sources<String>,
    /// `ARCHIVE_TIME_ZONE`: the zone the archive day (of the schedule) is
    /// reckoned in; default: the WhatsApp export `TIME_ZONE`.
    pub archive_time_zone: Tz,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of its metrics
    /// (default `MobileArchiver`).
    pub metrics_namespace: Namespace,
}

impl CollectSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        let archive_bucket = env.required_place(ARCHIVE)?;
        let sources = Sources::read(&env)?;
        let archive_time_zone = env
            .var("ARCHIVE_TIME_ZONE")?
            .unwrap_or(sources.whatsapp_export.time_zone);
        Ok(CollectSettings {
            archive_bucket,
            sources,
            archive_time_zone,
            metrics_namespace: metrics_namespace(&env)?,
        })
    }
}

/// The convert function's settings.
#[derive(Debug, Clone)]
pub struct ConvertSettings {
    /// `ARCHIVE_BUCKET`: the archive store (raw batches in, EMLs out).
    pub archive_bucket: String,
    /// `CONFIG_BUCKET`: holds the mapping CSV.
    pub config_bucket: String,
    /// `DELIVER_QUEUE_URL`: where delivery jobs go.
    pub deliver_queue_url: String,
    /// How items map to mailboxes; the CSV is a key in `CONFIG_BUCKET`.
    pub mapping: MappingSettings<String>,
    /// How items are rendered and filed.
    pub render: RenderSettings,
    /// `MAX_MESSAGE_BYTES`: the deliver function's IMAP or SMTP limit (see
    /// [`ImapSettings::max_message_bytes`]), which EMLs are rendered to fit.
    pub max_message_bytes: Option<u64>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of its metrics
    /// (default `MobileArchiver`).
    pub metrics_namespace: Namespace,
}

impl ConvertSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        Ok(ConvertSettings {
            archive_bucket: env.required_place(ARCHIVE)?,
            config_bucket: env.required_var("CONFIG_BUCKET")?,
            deliver_queue_url: env.required_var("DELIVER_QUEUE_URL")?,
            mapping: MappingSettings::read(&env)?,
            render: RenderSettings::read(&env)?,
            max_message_bytes: env.value(MAX_MESSAGE_BYTES)?,
            metrics_namespace: metrics_namespace(&env)?,
        })
    }

    /// How items are rendered and filed, to fit the IMAP target's limit.
    pub fn convert_options(&self) -> ConvertOptions {
        let limit = self.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        self.render.convert_options(Some(limit))
    }
}

/// The deliver function's settings.
#[derive(Debug, Clone)]
pub struct DeliverSettings {
    /// `ARCHIVE_BUCKET`: the archive store (EMLs and the ledger).
    pub archive_bucket: String,
    /// `IMAP_SECRET_ARN` or `SMTP_SECRET_ARN`: the Secrets Manager secret
    /// with the target's credentials, a JSON object with `password`,
    /// `client_secret` or `certificate_key` (the secret names the
    /// settings use here). SMTP without AUTH needs none.
    pub secret_arn: Option<String>,
    /// The target: IMAP when `IMAP_URL` is set, SMTP when `SMTP_URL` is.
    pub target: DeliverTarget,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of its metrics
    /// (default `MobileArchiver`).
    pub metrics_namespace: Namespace,
}

/// The deliver function's target, chosen by which URL variable is set.
#[derive(Debug, Clone)]
pub enum DeliverTarget {
    /// The `IMAP_*` variables.
    Imap(ImapSettings),
    /// The `SMTP_*` variables.
    Smtp(SmtpSettings),
}

impl DeliverSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        let archive_bucket = env.required_place(ARCHIVE)?;
        let metrics_namespace = metrics_namespace(&env)?;
        let secret = |name: &str| Some(name.to_owned());
        match (env.text("IMAP_URL"), env.text("SMTP_URL")) {
            (Some(_), None) => {
                let secret_arn = env.required_var("IMAP_SECRET_ARN")?;
                let mut imap = imap::read(&env)?;
                match (imap.auth, &imap.certificate_thumbprint) {
                    (AuthMethod::Password, _) => imap.password_secret = secret("password"),
                    (AuthMethod::Xoauth2, None) => {
                        imap.client_secret_secret = secret("client_secret");
                    }
                    (AuthMethod::Xoauth2, Some(_)) => {
                        imap.certificate_key_secret = secret("certificate_key");
                    }
                }
                Ok(DeliverSettings {
                    archive_bucket,
                    secret_arn: Some(secret_arn),
                    target: DeliverTarget::Imap(imap),
                    metrics_namespace,
                })
            }
            (None, Some(_)) => {
                let mut smtp = smtp::read(&env)?;
                let secret_arn = match smtp.auth {
                    SmtpAuth::None => None,
                    SmtpAuth::Password | SmtpAuth::Xoauth2 => {
                        Some(env.required_var("SMTP_SECRET_ARN")?)
                    }
                };
                match (smtp.auth, &smtp.certificate_thumbprint) {
                    (SmtpAuth::None, _) => {}
                    (SmtpAuth::Password, _) => smtp.password_secret = secret("password"),
                    (SmtpAuth::Xoauth2, None) => {
                        smtp.client_secret_secret = secret("client_secret");
                    }
                    (SmtpAuth::Xoauth2, Some(_)) => {
                        smtp.certificate_key_secret = secret("certificate_key");
                    }
                }
                Ok(DeliverSettings {
                    archive_bucket,
                    secret_arn,
                    target: DeliverTarget::Smtp(smtp),
                    metrics_namespace,
                })
            }
            (None, None) => Err(SettingError::Missing(Setting::Var("IMAP_URL or SMTP_URL"))),
            (Some(_), Some(_)) => Err(SettingError::BothUrls),
        }
    }
}

/// The reconcile function's settings.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// `ARCHIVE_BUCKET`: the archive store (read; manifests written).
    pub archive_bucket: String,
    /// `CONVERT_QUEUE_URL`: where notifications of batches never converted
    /// go again.
    pub convert_queue_url: String,
    /// `DELIVER_QUEUE_URL`: where jobs of copies not delivered go again; a
    /// FIFO queue (`.fifo`), whose message groups keep two copies of a job
    /// from being delivered at once.
    pub deliver_queue_url: String,
    /// `ARCHIVE_TIME_ZONE`: the zone collection days are reckoned in (as
    /// collect's).
    pub archive_time_zone: Tz,
    /// `RECONCILE_DAYS`: how many days up to yesterday a scheduled run
    /// reconciles (default 3), so that a day repaired by one run is closed
    /// by the next, and a day still open is reported again; at least 1.
    pub recent_days: u64,
    /// `REPORT_MAILBOX`, `REPORT_FOLDER`: where the daily report of the
    /// newest day reconciled is sent (through the deliver queue); no
    /// mailbox: reports are not made by the function.
    pub report: ReportSettings,
    /// How digests are rendered (the digest step runs before the days are
    /// reconciled: [`crate::digest`]); the delivery modes are convert's.
    pub render: RenderSettings,
    /// `MAX_MESSAGE_BYTES`: the deliver function's IMAP or SMTP limit,
    /// which digests are rendered to fit.
    pub max_message_bytes: Option<u64>,
    /// `METRICS_NAMESPACE`: the CloudWatch namespace of its metrics
    /// (default `MobileArchiver`).
    pub metrics_namespace: Namespace,
}

impl ReconcileSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        let deliver_queue_url: String = env.required_var("DELIVER_QUEUE_URL")?;
        if !deliver_queue_url.ends_with(".fifo") {
            return Err(SettingError::Invalid {
                setting: Setting::Var("DELIVER_QUEUE_URL"),
                reason: "not a FIFO queue (its URL must end .fifo): reconcile sends jobs \
                         again only to the FIFO deliver queue, whose message groups keep a \
                         job sent again from being delivered beside its first copy"
                    .to_owned(),
            });
        }
        let recent_days = env.var("RECONCILE_DAYS")?.unwrap_or(3);
        if recent_days == 0 {
            return Err(SettingError::Invalid {
                setting: Setting::Var("RECONCILE_DAYS"),
                reason: "must be at least 1 (the days up to yesterday a scheduled run checks)"
                    .to_owned(),
            });
        }
        Ok(ReconcileSettings {
            archive_bucket: env.required_place(ARCHIVE)?,
            convert_queue_url: env.required_var("CONVERT_QUEUE_URL")?,
            deliver_queue_url,
            archive_time_zone: env.required_var("ARCHIVE_TIME_ZONE")?,
            recent_days,
            report: ReportSettings::read(&env)?,
            render: RenderSettings::read(&env)?,
            max_message_bytes: env.value(MAX_MESSAGE_BYTES)?,
            metrics_namespace: metrics_namespace(&env)?,
        })
    }

    /// How digests are rendered, to fit the delivery target's limit.
    pub fn digest_options(&self) -> ConvertOptions {
        let limit = self.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        self.render.convert_options(Some(limit))
    }
}

/// The capture function's settings (WhatsApp Cloud API webhooks).
#[derive(Debug, Clone)]
pub struct CaptureSettings {
    /// `ARCHIVE_BUCKET`: where bodies are kept (`inbox/whatsapp-cloud/`).
    pub archive_bucket: String,
    /// `WHATSAPP_WEBHOOK_SECRET_ARN`: the Secrets Manager secret holding
    /// `app_secret` (signatures) and `verify_token` (handshake).
    pub webhook_secret_arn: String,
    /// `MEDIA_QUEUE_URL`: where media ids go.
    pub media_queue_url: String,
    /// `MAX_WEBHOOK_BODY_BYTES`: larger bodies are refused with 413
    /// (default 5 MiB).
    pub max_body_bytes: u64,
}

impl CaptureSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        Ok(CaptureSettings {
            archive_bucket: env.required_place(ARCHIVE)?,
            webhook_secret_arn: env.required_var("WHATSAPP_WEBHOOK_SECRET_ARN")?,
            media_queue_url: env.required_var("MEDIA_QUEUE_URL")?,
            max_body_bytes: env
                .var("MAX_WEBHOOK_BODY_BYTES")?
                .unwrap_or(crate::sources::whatsapp_cloud::DEFAULT_MAX_BODY_BYTES),
        })
    }
}

/// The media function's settings (WhatsApp Cloud API media).
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// `ARCHIVE_BUCKET`: where files go (`media/`).
    pub archive_bucket: String,
    /// `WHATSAPP_ACCESS_SECRET_ARN`: the Secrets Manager secret holding
    /// `access_token` (the Graph API bearer token).
    pub access_secret_arn: String,
    /// `GRAPH_API_BASE` (default `https://graph.facebook.com`; https
    /// only), `MEDIA_DOWNLOAD_HOSTS` (download hosts allowed besides Meta's
    /// CDN, comma-separated),
    /// `GRAPH_API_VERSION` (default `v25.0`), `MEDIA_ATTEMPTS` (default 3):
    /// how media are fetched.
    pub media: crate::sources::whatsapp_cloud::MediaOptions,
}

impl MediaSettings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_lookup(process_env)
    }

    /// From a lookup of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let env = Environment(lookup);
        let base = env
            .text("GRAPH_API_BASE")
            .unwrap_or_else(|| "https://graph.facebook.com".to_owned());
        let api_base = url::Url::parse(&base)
            .ok()
            .filter(|u| u.scheme() == "https" && u.has_host())
            .ok_or(SettingError::Invalid {
                setting: Setting::Var("GRAPH_API_BASE"),
                reason: format!("{base:?} is not an https URL"),
            })?;
        let mut media = crate::sources::whatsapp_cloud::MediaOptions::new(api_base);
        if let Some(hosts) = env.text("MEDIA_DOWNLOAD_HOSTS") {
            media.download_hosts = hosts
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect();
        }
        if let Some(version) = env.text("GRAPH_API_VERSION") {
            media.version = version;
        }
        if let Some(attempts) = env.var("MEDIA_ATTEMPTS")? {
            media.attempts = attempts;
        }
        Ok(MediaSettings {
            archive_bucket: env.required_place(ARCHIVE)?,
            access_secret_arn: env.required_var("WHATSAPP_ACCESS_SECRET_ARN")?,
            media,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::convert::Delivery;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn capture_and_media_read_their_variables() {
        let capture = CaptureSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("WHATSAPP_WEBHOOK_SECRET_ARN", "arn:w"),
            ("MEDIA_QUEUE_URL", "https://sqs/q"),
        ]))
        .unwrap();
        assert_eq!(capture.max_body_bytes, 5 << 20);
        let err = MediaSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("WHATSAPP_ACCESS_SECRET_ARN", "arn:a"),
            ("GRAPH_API_BASE", "graph"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable GRAPH_API_BASE"),
            "{err}"
        );
        let err = MediaSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("WHATSAPP_ACCESS_SECRET_ARN", "arn:a"),
            ("GRAPH_API_BASE", "http://127.0.0.1:9"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        let media = MediaSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("WHATSAPP_ACCESS_SECRET_ARN", "arn:a"),
            ("MEDIA_ATTEMPTS", "5"),
        ]))
        .unwrap();
        assert_eq!(media.media.api_base.as_str(), "https://graph.facebook.com/");
        assert_eq!(
            (media.media.version.as_str(), media.media.attempts),
            ("v25.0", 5)
        );
    }

    #[test]
    fn the_whatsapp_cloud_inbox_turns_its_source_on() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Europe/London"),
        ];
        let off = CollectSettings::from_lookup(lookup(&base)).unwrap();
        assert!(off.sources.whatsapp_cloud.is_none());
        assert_eq!(
            off.sources
                .configured(|_| crate::store::LocalDir::new("/x"))
                .len(),
            1
        );
        let mut vars = base.to_vec();
        vars.push(("WHATSAPP_CLOUD_INBOX_BUCKET", "a"));
        let on = CollectSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(on.sources.whatsapp_cloud.unwrap().inbox, "a");
        let names: Vec<String> = CollectSettings::from_lookup(lookup(&vars))
            .unwrap()
            .sources
            .configured(|_| crate::store::LocalDir::new("/x"))
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        assert_eq!(names, ["whatsapp-export", "whatsapp-cloud"]);
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
        assert_eq!(
            err.to_string(),
            "environment variable TIME_ZONE: unknown time zone \"Mars/Olympus\" \
             (use an IANA name such as Europe/London)"
        );
        let err = DeliverSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("IMAP_SECRET_ARN", "arn"),
            ("IMAP_URL", "imaps://outlook.office365.com"),
            ("IMAP_AUTH", "xoauth2"),
            ("IMAP_CONNECTIONS", "many"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable IMAP_CONNECTIONS: \"many\": invalid digit found in string"
        );
    }

    #[test]
    fn every_function_names_its_own_missing_and_invalid_variables() {
        let convert = [
            ("ARCHIVE_BUCKET", "a"),
            ("CONFIG_BUCKET", "c"),
            ("DELIVER_QUEUE_URL", "http://q"),
            ("DEFAULT_REGION", "GB"),
        ];
        let err = ConvertSettings::from_lookup(lookup(&convert[..3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable DEFAULT_REGION is not set"
        );
        let mut bad = convert.to_vec();
        bad.extend([("ATTACHMENT_LIMIT", "25MB")]);
        let err = ConvertSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(
            matches!(
                &err,
                SettingError::Invalid {
                    setting: Setting::Var("ATTACHMENT_LIMIT"),
                    ..
                }
            ),
            "{err}"
        );
        let mut bad = convert.to_vec();
        bad[3] = ("DEFAULT_REGION", "UK");
        let err = ConvertSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable DEFAULT_REGION: unknown region \"UK\""),
            "{err}"
        );
        let err = DeliverSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("IMAP_SECRET_ARN", "arn"),
            ("IMAP_URL", "imaps://outlook.office365.com"),
            ("IMAP_AUTH", "kerberos"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable IMAP_AUTH: unknown variant `kerberos`"),
            "{err}"
        );
        let err = CollectSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Europe/London"),
            ("DATE_ORDER", "sideways"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable DATE_ORDER: unknown variant `sideways`"),
            "{err}"
        );
        // A blank variable is not set.
        let err = CollectSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", " "),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Europe/London"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ARCHIVE_BUCKET is not set"
        );
    }

    #[test]
    fn the_archive_day_zone_defaults_to_the_export_zone() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Europe/London"),
        ];
        let collect = CollectSettings::from_lookup(lookup(&base)).unwrap();
        assert_eq!(collect.archive_time_zone, chrono_tz::Europe::London);
        assert_eq!(collect.sources.whatsapp_export.drops, "d");
        let export = collect.sources.whatsapp_export.export_options();
        assert_eq!(
            (export.tz, export.date_order),
            (chrono_tz::Europe::London, None)
        );
        let mut with_zone = base.to_vec();
        with_zone.push(("ARCHIVE_TIME_ZONE", "Asia/Singapore"));
        let collect = CollectSettings::from_lookup(lookup(&with_zone)).unwrap();
        assert_eq!(collect.archive_time_zone, chrono_tz::Asia::Singapore);
    }

    #[test]
    fn the_metrics_namespace_defaults_and_a_bad_one_is_named() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("DROP_BUCKET", "d"),
            ("TIME_ZONE", "Europe/London"),
        ];
        let collect = CollectSettings::from_lookup(lookup(&base)).unwrap();
        assert_eq!(collect.metrics_namespace.as_str(), "MobileArchiver");
        let mut set = base.to_vec();
        set.push(("METRICS_NAMESPACE", "MobileArchiver/prod"));
        let collect = CollectSettings::from_lookup(lookup(&set)).unwrap();
        assert_eq!(collect.metrics_namespace.as_str(), "MobileArchiver/prod");
        let mut bad = base.to_vec();
        bad.push(("METRICS_NAMESPACE", "AWS/Lambda"));
        let err = CollectSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable METRICS_NAMESPACE"),
            "{err}"
        );
    }

    #[test]
    fn delivery_modes_are_read_per_source_and_a_bad_one_is_named() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("CONVERT_QUEUE_URL", "http://q/convert"),
            ("DELIVER_QUEUE_URL", "http://q/deliver.fifo"),
            ("ARCHIVE_TIME_ZONE", "UTC"),
        ];
        let defaults = ReconcileSettings::from_lookup(lookup(&base)).unwrap();
        assert_eq!(
            defaults.digest_options().deliveries,
            crate::convert::Deliveries::default()
        );
        let mut digest = base.to_vec();
        digest.push(("WHATSAPP_CLOUD_DELIVERY", "digest"));
        digest.push(("WECOM_DELIVERY", "message"));
        let deliveries = ReconcileSettings::from_lookup(lookup(&digest))
            .unwrap()
            .digest_options()
            .deliveries;
        assert_eq!(deliveries.whatsapp_cloud, Delivery::Digest);
        assert_eq!(deliveries.whatsapp_export, Delivery::Message);
        assert_eq!(deliveries.wecom, Delivery::Message);
        let mut bad = base.to_vec();
        bad.push(("WHATSAPP_EXPORT_DELIVERY", "daily"));
        let err = ReconcileSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "environment variable WHATSAPP_EXPORT_DELIVERY: unknown variant `daily`"
            ),
            "{err}"
        );
    }

    #[test]
    fn reconcile_reads_its_queues_zone_and_days() {
        let base = [
            ("ARCHIVE_BUCKET", "a"),
            ("CONVERT_QUEUE_URL", "http://q/convert"),
            ("DELIVER_QUEUE_URL", "http://q/deliver.fifo"),
            ("ARCHIVE_TIME_ZONE", "Asia/Tokyo"),
        ];
        let settings = ReconcileSettings::from_lookup(lookup(&base)).unwrap();
        assert_eq!(settings.archive_time_zone, chrono_tz::Asia::Tokyo);
        assert_eq!(settings.recent_days, 3);
        assert_eq!(
            settings.digest_options().max_message_bytes,
            Some(DEFAULT_MAX_MESSAGE_BYTES)
        );
        let err = ReconcileSettings::from_lookup(lookup(&base[..3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ARCHIVE_TIME_ZONE is not set"
        );
        let mut bad = base.to_vec();
        bad.push(("RECONCILE_DAYS", "a week"));
        let err = ReconcileSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable RECONCILE_DAYS"),
            "{err}"
        );
        let mut none = base.to_vec();
        none.push(("RECONCILE_DAYS", "0"));
        let err = ReconcileSettings::from_lookup(lookup(&none)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable RECONCILE_DAYS: must be at least 1"),
            "{err}"
        );
        let mut standard = base.to_vec();
        standard[2] = ("DELIVER_QUEUE_URL", "http://q/deliver");
        let err = ReconcileSettings::from_lookup(lookup(&standard)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable DELIVER_QUEUE_URL: not a FIFO queue"),
            "{err}"
        );
    }

    #[test]
    fn the_url_variable_chooses_the_target() {
        let smtp = [
            ("ARCHIVE_BUCKET", "a"),
            ("SMTP_URL", "smtps://journal.archive.example"),
            ("SMTP_AUTH", "password"),
            ("SMTP_SECRET_ARN", "arn"),
            ("SMTP_SENDER", "archiver@corp.example"),
            ("SMTP_RECIPIENT", "journal@archive.example"),
            ("SMTP_FORMAT", "journal"),
        ];
        let settings = DeliverSettings::from_lookup(lookup(&smtp)).unwrap();
        let DeliverTarget::Smtp(target) = &settings.target else {
            panic!("SMTP_URL chooses SMTP");
        };
        assert_eq!(target.password_secret.as_deref(), Some("password"));
        assert_eq!(target.format, crate::mailbox::smtp::Format::Journal);
        assert_eq!(settings.secret_arn.as_deref(), Some("arn"));
        let mut both = smtp.to_vec();
        both.push(("IMAP_URL", "imaps://outlook.office365.com"));
        let err = DeliverSettings::from_lookup(lookup(&both)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "set one delivery target, IMAP_URL or SMTP_URL, not both"
        );
        let mut bad = smtp.to_vec();
        bad[6] = ("SMTP_FORMAT", "wrapped");
        let err = DeliverSettings::from_lookup(lookup(&bad)).unwrap_err();
        assert!(err.to_string().contains("SMTP_FORMAT"), "{err}");
        let err = DeliverSettings::from_lookup(lookup(&smtp[..1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable IMAP_URL or SMTP_URL is not set"
        );
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
        let imap = |vars: &[(&str, &str)]| match DeliverSettings::from_lookup(lookup(vars))
            .unwrap()
            .target
        {
            DeliverTarget::Imap(imap) => imap,
            DeliverTarget::Smtp(_) => panic!("IMAP_URL chooses IMAP"),
        };
        let secret = imap(&base);
        assert_eq!(
            secret.client_secret_secret.as_deref(),
            Some("client_secret")
        );
        let mut with_cert = base.to_vec();
        with_cert.push(("IMAP_CERTIFICATE_THUMBPRINT", "ab12"));
        let cert = imap(&with_cert);
        assert_eq!(
            cert.certificate_key_secret.as_deref(),
            Some("certificate_key")
        );
        assert_eq!(cert.client_secret_secret, None);
        let convert = ConvertSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("CONFIG_BUCKET", "c"),
            ("DELIVER_QUEUE_URL", "http://q"),
            ("DEFAULT_REGION", "GB"),
            ("WHATSAPP_FOLDER", "WA"),
            ("DISPLAY_TIME_ZONE", "Asia/Shanghai"),
        ]))
        .unwrap();
        let opts = convert.convert_options();
        assert_eq!(opts.render.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(opts.folders.whatsapp, "WA");
        assert_eq!(opts.folders.wechat, "WeChat Archiver");
        assert_eq!(opts.max_message_bytes, Some(DEFAULT_MAX_MESSAGE_BYTES));
        assert_eq!(convert.mapping.csv, None);
        assert!(convert.mapping.custodian_domains.is_empty());
        let convert = ConvertSettings::from_lookup(lookup(&[
            ("ARCHIVE_BUCKET", "a"),
            ("CONFIG_BUCKET", "c"),
            ("DELIVER_QUEUE_URL", "http://q"),
            ("DEFAULT_REGION", "GB"),
            ("CUSTODIAN_DOMAINS", " corp.example, Other.Example ,, "),
        ]))
        .unwrap();
        assert_eq!(
            convert.mapping.custodian_domains,
            ["corp.example", "Other.Example"]
        );
    }
}
