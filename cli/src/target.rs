//! The delivery target of a local run, built from the config.

use std::path::Path;

use shared::mailbox::imap::{ImapSettings, SettingsError};
use shared::mailbox::smtp::{SmtpSettings, SmtpSettingsError};
use shared::mailbox::{Imap, Maildir, Smtp};
use shared::secrets::SecretFiles;

/// The local targets.
pub enum Target {
    /// Maildir++ directories, one writer per parallel lane (each lane a
    /// thread of its own: a Maildir writer waits on the file system).
    Maildir(Vec<Maildir>),
    /// An IMAP server, one target per parallel lane (each with its own
    /// connections).
    Imap(Vec<Imap>),
    /// An SMTP server, one target per parallel lane (each with its own
    /// connection).
    Smtp(Vec<Smtp>),
}

/// Builds a Maildir target: a lane per core and one more, so that a
/// lane waiting on the disk leaves the cores busy, but no more than one
/// per 1,024 files the process may open (each lane holds a few hundred
/// stored e-mails open while it links them).
pub fn maildir(path: &Path) -> Target {
    use nix::sys::resource::{Resource, getrlimit};
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let open_files = getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft);
    let by_files = usize::try_from(open_files / 1_024).unwrap_or(usize::MAX);
    let lanes = (cores + 1).min(by_files).max(1);
    Target::Maildir(vec![Maildir::new(path); lanes])
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
