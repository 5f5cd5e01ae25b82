//! Where the daily report is delivered (`[report]`).

use super::SettingError;
use super::reader::{Name, Reader};

/// The default folder of the daily report in the admin mailbox.
pub const DEFAULT_REPORT_FOLDER: &str = "Archiver Reports";

/// Where the daily report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    /// `[report] mailbox` or `REPORT_MAILBOX`: the administrators' mailbox
    /// the daily report is delivered to; none: the report is only stored.
    pub mailbox: Option<String>,
    /// `[report] folder` or `REPORT_FOLDER`: its folder there (default
    /// `Archiver Reports`).
    pub folder: String,
}

impl ReportSettings {
    pub(super) fn read(reader: &impl Reader) -> Result<Self, SettingError> {
        let name = Name::new("report.mailbox", "REPORT_MAILBOX");
        let mailbox: Option<String> = reader.value(name)?;
        if let Some(address) = &mailbox
            && !crate::address::is_address(address)
        {
            return Err(SettingError::Invalid {
                setting: reader.setting(name),
                reason: format!("{address:?} is not an e-mail address"),
            });
        }
        Ok(ReportSettings {
            mailbox: mailbox.map(|address| address.to_lowercase()),
            folder: reader
                .value(Name::new("report.folder", "REPORT_FOLDER"))?
                .unwrap_or_else(|| DEFAULT_REPORT_FOLDER.to_owned()),
        })
    }
}
