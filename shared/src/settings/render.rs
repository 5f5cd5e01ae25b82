//! How items are rendered, filed and delivered (one e-mail per item, or a
//! daily digest per source): the same settings in both modes.

use chrono_tz::Tz;

use super::SettingError;
use super::reader::{Name, Reader};
use crate::convert::{ConvertOptions, Deliveries, Delivery, Folders};
use crate::render::RenderOptions;

/// Rendering, folder and delivery-mode settings (`[render]`, `[folders]`,
/// `[delivery]`).
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// `[render] attachment_limit` or `ATTACHMENT_LIMIT`: attachments larger
    /// than this many bytes become a stub naming their archive key
    /// (default 25 MiB).
    pub attachment_limit: Option<u64>,
    /// `[render] unmapped_domain` or `UNMAPPED_DOMAIN`: the `.invalid`
    /// domain of participants that map to no mailbox.
    pub unmapped_domain: Option<String>,
    /// `[render] time_zone` or `DISPLAY_TIME_ZONE`: the IANA zone the
    /// e-mail shows each item's time in beside UTC (default UTC: the time
    /// is shown once, in UTC).
    pub time_zone: Option<Tz>,
    /// `[folders] whatsapp` or `WHATSAPP_FOLDER`: the folder of WhatsApp
    /// items (default `WhatsApp Archiver`).
    pub whatsapp_folder: Option<String>,
    /// `[folders] wechat` or `WECHAT_FOLDER`: the folder of WeChat / WeCom
    /// items (default `WeChat Archiver`).
    pub wechat_folder: Option<String>,
    /// `[delivery] whatsapp_export` or `WHATSAPP_EXPORT_DELIVERY`:
    /// `message` (one e-mail per item, the default) or `digest` (one
    /// e-mail per conversation and day).
    pub whatsapp_export_delivery: Option<Delivery>,
    /// `[delivery] whatsapp_cloud` or `WHATSAPP_CLOUD_DELIVERY`: as
    /// [`RenderSettings::whatsapp_export_delivery`], for WhatsApp
    /// Business Platform items.
    pub whatsapp_cloud_delivery: Option<Delivery>,
    /// `[delivery] wecom` or `WECOM_DELIVERY`: as
    /// [`RenderSettings::whatsapp_export_delivery`], for WeCom items.
    pub wecom_delivery: Option<Delivery>,
}

impl RenderSettings {
    pub(super) fn read(reader: &impl Reader) -> Result<Self, SettingError> {
        Ok(RenderSettings {
            attachment_limit: reader
                .value(Name::new("render.attachment_limit", "ATTACHMENT_LIMIT"))?,
            unmapped_domain: reader
                .value(Name::new("render.unmapped_domain", "UNMAPPED_DOMAIN"))?,
            time_zone: reader.value(Name::new("render.time_zone", "DISPLAY_TIME_ZONE"))?,
            whatsapp_folder: reader.value(Name::new("folders.whatsapp", "WHATSAPP_FOLDER"))?,
            wechat_folder: reader.value(Name::new("folders.wechat", "WECHAT_FOLDER"))?,
            whatsapp_export_delivery: reader.value(Name::new(
                "delivery.whatsapp_export",
                "WHATSAPP_EXPORT_DELIVERY",
            ))?,
            whatsapp_cloud_delivery: reader.value(Name::new(
                "delivery.whatsapp_cloud",
                "WHATSAPP_CLOUD_DELIVERY",
            ))?,
            wecom_delivery: reader.value(Name::new("delivery.wecom", "WECOM_DELIVERY"))?,
        })
    }

    /// How the convert stage renders and files items for a target whose
    /// message size limit is `max_message_bytes` (none: no limit).
    pub fn convert_options(&self, max_message_bytes: Option<u64>) -> ConvertOptions {
        let mut render = RenderOptions::default();
        if let Some(limit) = self.attachment_limit {
            render.attachment_limit = limit;
        }
        if let Some(domain) = &self.unmapped_domain {
            render.unmapped_domain = domain.clone();
        }
        if let Some(zone) = self.time_zone {
            render.time_zone = zone;
        }
        let mut folders = Folders::default();
        if let Some(folder) = &self.whatsapp_folder {
            folders.whatsapp = folder.clone();
        }
        if let Some(folder) = &self.wechat_folder {
            folders.wechat = folder.clone();
        }
        ConvertOptions {
            render,
            folders,
            max_message_bytes,
            deliveries: Deliveries {
                whatsapp_export: self.whatsapp_export_delivery.unwrap_or_default(),
                whatsapp_cloud: self.whatsapp_cloud_delivery.unwrap_or_default(),
                wecom: self.wecom_delivery.unwrap_or_default(),
            },
        }
    }
}
