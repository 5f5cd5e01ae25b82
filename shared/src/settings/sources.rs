//! Each source kind's own settings, and the list of configured sources.
//! A kind is one field of [`Sources`], one reader and one entry in
//! [`Sources::configured`]; its keys are its own, so adding a source touches
//! nothing else here.

use chrono_tz::Tz;

use super::SettingError;
use super::reader::{Name, Reader};
use super::wecom::WecomSettings;
use crate::sources::Source;
use crate::sources::whatsapp_cloud::CloudInbox;
use crate::sources::whatsapp_export::{
    CustodianNames, DateOrder, ExportDrops, ExportOptions, ZipLimits,
};
use crate::store::ObjectStore;

/// The configured sources, one field per source kind. WhatsApp export is
/// required (it was the first kind). A kind a deployment may leave out
/// is an `Option` here, read when any of its settings is set.
#[derive(Debug, Clone)]
pub struct Sources<P> {
    /// WhatsApp "Export chat" files dropped by employees.
    pub whatsapp_export: WhatsAppExportSettings<P>,
    /// WhatsApp Business Platform webhook bodies kept by `capture`; `None`
    /// when the deployment does not capture them.
    pub whatsapp_cloud: Option<WhatsAppCloudSettings<P>>,
    /// The WeCom Session Content Archive, when configured. Its source needs
    /// its secrets read first, so it is not in [`Sources::configured`]: it
    /// is made by [`WecomSettings::source`].
    pub wecom: Option<WecomSettings<P>>,
}

impl<P> Sources<P> {
    /// The configured sources, in the order collect pulls them; `open`
    /// gives the store a place names (a directory, a bucket).
    pub fn configured<D: ObjectStore + 'static>(
        &self,
        open: impl Fn(&P) -> D,
    ) -> Vec<Box<dyn Source>> {
        let export = &self.whatsapp_export;
        let mut sources: Vec<Box<dyn Source>> = vec![Box::new(
            ExportDrops::new(open(&export.drops), export.export_options())
                .with_custodian_names(export.custodian_names.clone()),
        )];
        if let Some(cloud) = &self.whatsapp_cloud {
            // A body waits up to a day for the media step (it takes
            // seconds); the clock only bounds that wait.
            let inbox = CloudInbox::new(open(&cloud.inbox))
                .media_wait(chrono::Utc::now(), chrono::Duration::days(1));
            sources.push(Box::new(inbox));
        }
        sources
    }

    /// Every configured source's settings.
    pub(super) fn read<R: Reader<Place = P>>(reader: &R) -> Result<Self, SettingError> {
        Ok(Sources {
            whatsapp_export: WhatsAppExportSettings::read(reader)?,
            whatsapp_cloud: WhatsAppCloudSettings::read(reader)?,
            wecom: WecomSettings::read(reader)?,
        })
    }
}

/// Where WhatsApp export files are dropped and how they are read.
#[derive(Debug, Clone)]
pub struct WhatsAppExportSettings<P> {
    /// `[drops] path` (a directory) or `DROP_BUCKET`: where export files are
    /// dropped, as `drop/whatsapp-export/<custodian>/<file>`. Required.
    pub drops: P,
    /// `time_zone` or `TIME_ZONE`: the IANA time zone of the phones that
    /// made the exports (export times are device-local). Required.
    pub time_zone: Tz,
    /// `date_order` or `DATE_ORDER`: `day-first`, `month-first` or
    /// `year-first` forces the order of numeric dates; by default it is
    /// inferred per file.
    pub date_order: Option<DateOrder>,
    /// `[zip] max_entries`, `max_total_bytes`, `max_ratio` (file only):
    /// bounds on export zips (defaults 10,000 entries, 2 GiB, 200:1).
    pub zip_limits: ZipLimits,
    /// `[custodians]` (file only): the author names each custodian appears
    /// under in their exports, for exports that do not tell which author
    /// is the custodian (`"+44 7700 900123" = ["Carol", "Carol M."]`).
    pub custodian_names: CustodianNames,
}

impl<P> WhatsAppExportSettings<P> {
    fn read<R: Reader<Place = P>>(reader: &R) -> Result<Self, SettingError> {
        let defaults = ZipLimits::default();
        Ok(WhatsAppExportSettings {
            drops: reader.required_place(Name::new("drops.path", "DROP_BUCKET"))?,
            time_zone: reader.required(Name::new("time_zone", "TIME_ZONE"))?,
            date_order: reader.value(Name::new("date_order", "DATE_ORDER"))?,
            zip_limits: ZipLimits {
                max_entries: reader
                    .file_value("zip.max_entries")?
                    .unwrap_or(defaults.max_entries),
                max_total_bytes: reader
                    .file_value("zip.max_total_bytes")?
                    .unwrap_or(defaults.max_total_bytes),
                max_ratio: reader
                    .file_value("zip.max_ratio")?
                    .unwrap_or(defaults.max_ratio),
            },
            custodian_names: reader.file_value("custodians")?.unwrap_or_default(),
        })
    }

    /// How the collect stage reads these drops.
    pub fn export_options(&self) -> ExportOptions {
        ExportOptions {
            tz: self.time_zone,
            date_order: self.date_order,
            zip_limits: self.zip_limits,
        }
    }
}

/// Where the WhatsApp Business Platform webhook bodies are.
#[derive(Debug, Clone)]
pub struct WhatsAppCloudSettings<P> {
    /// `[whatsapp_cloud] inbox` (a directory) or
    /// `WHATSAPP_CLOUD_INBOX_BUCKET`: the store whose
    /// `inbox/whatsapp-cloud/` `capture` writes (the archive store, in a
    /// deployment). Setting it turns the source on.
    pub inbox: P,
}

impl<P> WhatsAppCloudSettings<P> {
    fn read<R: Reader<Place = P>>(reader: &R) -> Result<Option<Self>, SettingError> {
        let inbox = reader.place(Name::new(
            "whatsapp_cloud.inbox",
            "WHATSAPP_CLOUD_INBOX_BUCKET",
        ))?;
        Ok(inbox.map(|inbox| WhatsAppCloudSettings { inbox }))
    }
}
