//! The delivery target of a local run, built from the config.

use std::path::Path;

use shared::mailbox::imap::{ImapSettings, SettingsError};
use shared::mailbox::smtp::{SmtpSettings, SmtpSettingsError};
use shared::mailbox::{Imap, Maildir, Smtp};
use shared::secrets::SecretFiles;

/// The local targets.
pub enum Target {
    /// Maildir++ directories (boxed: the writer keeps its staged messages).
    Maildir(Box<Maildir>),
    /// An IMAP server, one target per parallel lane (each with its own
    /// connections).
    Imap(Vec<Imap>),
    /// An SMTP server, one target per parallel lane (each with its own
    /// connection).
    Smtp(Vec<Smtp>),
}

/// Builds a Maildir target.
pub fn maildir(path: &Path) -> Target {
    Target::Maildir(Box::new(Maildir::new(path)))
}

/// Builds the IMAP target, reading its secrets from the secret directory.
pub async fn imap(settings: &ImapSettings, secrets_dir: &Path) -> Result<Target, SettingsError> {
    let lanes = settings.lanes(&SecretFiles::new(secrets_dir)).await?;
    Ok(Target::Imap(lanes))
}

/// Builds the SMTP target, reading its secrets (if it authenticates) from
/// the secret directory.
pub async fn smtp(
    settings: &SmtpSettings,
    secrets_dir: Option<&Path>,
) -> Result<Target, SmtpSettingsError> {
    // Without AUTH no secret is read: an empty directory name stands in.
    let secrets = SecretFiles::new(secrets_dir.unwrap_or(Path::new("")));
    Ok(Target::Smtp(settings.lanes(&secrets).await?))
}
