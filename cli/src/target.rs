//! The delivery target of a local run, built from the config.

use std::path::Path;
use std::time::Duration;

use shared::mailbox::imap::{ClientCredential, Credentials, ImapServer, TokenSource, oauth};
use shared::mailbox::{Imap, Maildir};
use shared::secrets::{SecretFiles, SecretStore};

use crate::config::{AuthMethod, ImapEntry};

/// Mailboxes delivered to at once when `[imap] connections` is not set.
const DEFAULT_LANES: usize = 4;

/// Why the IMAP target cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A required `[imap]` key is missing.
    #[error("[imap] auth = {auth} needs {key}")]
    Missing {
        /// The auth method.
        auth: &'static str,
        /// The missing key.
        key: &'static str,
    },
    /// The URL is unusable.
    #[error(transparent)]
    Url(#[from] shared::mailbox::imap::UrlError),
    /// A secret could not be read.
    #[error(transparent)]
    Secret(#[from] shared::secrets::SecretError),
    /// The token endpoint settings are unusable.
    #[error(transparent)]
    OAuth(#[from] oauth::OAuthError),
}

/// The two local targets.
pub enum Target {
    /// Maildir++ directories.
    Maildir(Maildir),
    /// An IMAP server, one target per parallel lane (each with its own
    /// connections).
    Imap(Vec<Imap>),
}

/// Builds a Maildir target.
pub fn maildir(path: &Path) -> Target {
    Target::Maildir(Maildir::new(path))
}

/// Builds the IMAP target, reading its secrets from the secret directory.
pub async fn imap(entry: &ImapEntry, secrets_dir: &Path) -> Result<Target, TargetError> {
    let mut server = ImapServer::from_url(&entry.url)?;
    if let Some(limit) = entry.max_message_bytes {
        server.max_message_bytes = limit;
    }
    if let Some(secs) = entry.connect_timeout_secs {
        server.connect_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = entry.command_timeout_secs {
        server.command_timeout = Duration::from_secs(secs);
    }
    if let Some(attempts) = entry.attempts {
        server.attempts = attempts;
    }
    if let Some(ms) = entry.backoff_ms {
        server.backoff = Duration::from_millis(ms);
    }
    let secrets = SecretFiles::new(secrets_dir);
    let credentials = match entry.auth {
        AuthMethod::Password => {
            let name = required("password", "password_secret", &entry.password_secret)?;
            Credentials::Password {
                login: entry.login.clone(),
                password: secrets.secret(name).await?,
            }
        }
        AuthMethod::Xoauth2 => {
            let client_id = required("xoauth2", "client_id", &entry.client_id)?;
            let endpoint = match (&entry.token_url, &entry.tenant) {
                (Some(url), _) => url.clone(),
                (None, Some(tenant)) => TokenSource::entra_endpoint(tenant),
                (None, None) => {
                    return Err(TargetError::Missing {
                        auth: "xoauth2",
                        key: "token_url or tenant",
                    });
                }
            };
            let credential = match (&entry.client_secret_secret, &entry.certificate_key_secret) {
                (Some(name), _) => ClientCredential::Secret(secrets.secret(name).await?),
                (None, Some(name)) => ClientCredential::Certificate {
                    private_key_pem: secrets.secret(name).await?,
                    thumbprint: required(
                        "xoauth2",
                        "certificate_thumbprint",
                        &entry.certificate_thumbprint,
                    )?
                    .to_owned(),
                },
                (None, None) => {
                    return Err(TargetError::Missing {
                        auth: "xoauth2",
                        key: "client_secret_secret or certificate_key_secret",
                    });
                }
            };
            let scope = entry.scope.as_deref().unwrap_or(oauth::EXCHANGE_SCOPE);
            Credentials::XOAuth2(TokenSource::new(&endpoint, client_id, credential, scope)?)
        }
    };
    let lanes = entry.connections.unwrap_or(DEFAULT_LANES).max(1);
    let targets = (0..lanes)
        .map(|_| Imap::new(server.clone(), credentials.clone()))
        .collect();
    Ok(Target::Imap(targets))
}

fn required<'a>(
    auth: &'static str,
    key: &'static str,
    value: &'a Option<String>,
) -> Result<&'a str, TargetError> {
    value.as_deref().ok_or(TargetError::Missing { auth, key })
}
