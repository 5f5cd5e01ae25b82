//! Reading the SMTP target's settings (documented on [`SmtpSettings`]):
//! the `[smtp]` table of a local config, the `SMTP_*` variables of the
//! deliver function.

use super::SettingError;
use super::reader::{Name, Reader};
use crate::mailbox::imap::default_login;
use crate::mailbox::smtp::{Format, SmtpSettings};

/// The target's message size limit: one variable for both targets, which
/// the convert function reads too.
const MAX_MESSAGE_BYTES: Name = Name::new("smtp.max_message_bytes", "MAX_MESSAGE_BYTES");

/// The SMTP settings. The names of secrets are file settings; the
/// environment's secret store has fixed names (see `DeliverSettings`).
pub(super) fn read(reader: &impl Reader) -> Result<SmtpSettings, SettingError> {
    Ok(SmtpSettings {
        url: reader.required(Name::new("smtp.url", "SMTP_URL"))?,
        auth: reader.required(Name::new("smtp.auth", "SMTP_AUTH"))?,
        login: reader
            .value(Name::new("smtp.login", "SMTP_LOGIN"))?
            .unwrap_or_else(default_login),
        password_secret: reader.file_value("smtp.password_secret")?,
        token_url: reader.value(Name::new("smtp.token_url", "SMTP_TOKEN_URL"))?,
        tenant: reader.value(Name::new("smtp.tenant", "SMTP_TENANT"))?,
        client_id: reader.value(Name::new("smtp.client_id", "SMTP_CLIENT_ID"))?,
        client_secret_secret: reader.file_value("smtp.client_secret_secret")?,
        certificate_key_secret: reader.file_value("smtp.certificate_key_secret")?,
        certificate_thumbprint: reader.value(Name::new(
            "smtp.certificate_thumbprint",
            "SMTP_CERTIFICATE_THUMBPRINT",
        ))?,
        scope: reader.value(Name::new("smtp.scope", "SMTP_SCOPE"))?,
        sender: reader.required(Name::new("smtp.sender", "SMTP_SENDER"))?,
        recipient: reader
            .value(Name::new("smtp.recipient", "SMTP_RECIPIENT"))?
            .unwrap_or_else(default_login),
        helo: reader.value(Name::new("smtp.helo", "SMTP_HELO"))?,
        format: reader
            .value(Name::new("smtp.format", "SMTP_FORMAT"))?
            .unwrap_or(Format::Plain),
        max_message_bytes: reader.value(MAX_MESSAGE_BYTES)?,
        connect_timeout_secs: reader.value(Name::new(
            "smtp.connect_timeout_secs",
            "SMTP_CONNECT_TIMEOUT_SECS",
        ))?,
        command_timeout_secs: reader.value(Name::new(
            "smtp.command_timeout_secs",
            "SMTP_COMMAND_TIMEOUT_SECS",
        ))?,
        attempts: reader.value(Name::new("smtp.attempts", "SMTP_ATTEMPTS"))?,
        backoff_ms: reader.value(Name::new("smtp.backoff_ms", "SMTP_BACKOFF_MS"))?,
        connections: reader.value(Name::new("smtp.connections", "SMTP_CONNECTIONS"))?,
    })
}
