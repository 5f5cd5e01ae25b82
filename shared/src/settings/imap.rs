//! Reading the IMAP target's settings (documented on [`ImapSettings`]):
//! the `[imap]` table of a local config, the `IMAP_*` variables of the
//! deliver function.

use super::SettingError;
use super::reader::{Name, Reader};
use crate::mailbox::imap::{ImapSettings, default_login};

/// The target's message size limit; the convert function reads it too.
pub(super) const MAX_MESSAGE_BYTES: Name = Name::new("imap.max_message_bytes", "MAX_MESSAGE_BYTES");

/// The IMAP settings. The names of secrets are file settings; the
/// environment's secret store has fixed names (see `DeliverSettings`).
pub(super) fn read(reader: &impl Reader) -> Result<ImapSettings, SettingError> {
    Ok(ImapSettings {
        url: reader.required(Name::new("imap.url", "IMAP_URL"))?,
        auth: reader.required(Name::new("imap.auth", "IMAP_AUTH"))?,
        login: reader
            .value(Name::new("imap.login", "IMAP_LOGIN"))?
            .unwrap_or_else(default_login),
        password_secret: reader.file_value("imap.password_secret")?,
        token_url: reader.value(Name::new("imap.token_url", "IMAP_TOKEN_URL"))?,
        tenant: reader.value(Name::new("imap.tenant", "IMAP_TENANT"))?,
        client_id: reader.value(Name::new("imap.client_id", "IMAP_CLIENT_ID"))?,
        client_secret_secret: reader.file_value("imap.client_secret_secret")?,
        certificate_key_secret: reader.file_value("imap.certificate_key_secret")?,
        certificate_thumbprint: reader.value(Name::new(
            "imap.certificate_thumbprint",
            "IMAP_CERTIFICATE_THUMBPRINT",
        ))?,
        scope: reader.value(Name::new("imap.scope", "IMAP_SCOPE"))?,
        max_message_bytes: reader.value(MAX_MESSAGE_BYTES)?,
        connect_timeout_secs: reader.value(Name::new(
            "imap.connect_timeout_secs",
            "IMAP_CONNECT_TIMEOUT_SECS",
        ))?,
        command_timeout_secs: reader.value(Name::new(
            "imap.command_timeout_secs",
            "IMAP_COMMAND_TIMEOUT_SECS",
        ))?,
        attempts: reader.value(Name::new("imap.attempts", "IMAP_ATTEMPTS"))?,
        backoff_ms: reader.value(Name::new("imap.backoff_ms", "IMAP_BACKOFF_MS"))?,
        connections: reader.value(Name::new("imap.connections", "IMAP_CONNECTIONS"))?,
    })
}
