//! How to reach and log in to an IMAP server: the `[imap]` table of a local
//! config, or the deliver function's environment (both read by
//! `crate::settings`).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::oauth::{self, ClientCredential, TokenSource};
use super::{Credentials, Imap, ImapServer, UrlError};
use crate::redact;
use crate::secrets::{SecretError, SecretStore};

/// Mailboxes delivered to at once when `connections` is not set.
const DEFAULT_LANES: usize = 4;

/// Server, limits and login of an IMAP target: the `[imap]` table of a
/// local config (`url` is `imap.url`) or the deliver function's `IMAP_*`
/// variables, as each field names them. Secrets are named here and read
/// from a [`SecretStore`]; their values are never part of the settings.
/// Its `Debug` form shows the URLs with their credentials redacted.
#[derive(Clone)]
pub struct ImapSettings {
    /// `url`, `IMAP_URL`: `imaps://host[:port]`, or
    /// `imap://127.0.0.1:port` for tests. Required.
    pub url: String,
    /// `auth`, `IMAP_AUTH`: `password` or `xoauth2`. Required.
    pub auth: AuthMethod,
    /// `login`, `IMAP_LOGIN`: LOGIN user name template (`{mailbox}` = the
    /// mailbox address, the default).
    pub login: String,
    /// `password_secret`: name of the secret holding the password
    /// (password auth; the deliver function's is `password`).
    pub password_secret: Option<String>,
    /// `token_url`, `IMAP_TOKEN_URL`: token endpoint URL (xoauth2);
    /// default: Entra ID's for `tenant`.
    pub token_url: Option<String>,
    /// `tenant`, `IMAP_TENANT`: Entra ID tenant id or domain (xoauth2).
    pub tenant: Option<String>,
    /// `client_id`, `IMAP_CLIENT_ID`: OAuth client (application) id
    /// (xoauth2).
    pub client_id: Option<String>,
    /// `client_secret_secret`: name of the secret holding the client secret
    /// (xoauth2; the deliver function's is `client_secret`).
    pub client_secret_secret: Option<String>,
    /// `certificate_key_secret`: name of the secret holding the
    /// certificate's RSA private key, PEM (xoauth2; the deliver function's
    /// is `certificate_key`).
    pub certificate_key_secret: Option<String>,
    /// `certificate_thumbprint`, `IMAP_CERTIFICATE_THUMBPRINT`: the
    /// certificate's SHA-1 thumbprint, hex (xoauth2; with it the deliver
    /// function uses the certificate instead of a client secret).
    pub certificate_thumbprint: Option<String>,
    /// `scope`, `IMAP_SCOPE`: OAuth scope (default: Exchange Online's).
    pub scope: Option<String>,
    /// `max_message_bytes`, `MAX_MESSAGE_BYTES`: largest message the server
    /// accepts, bytes (default 35 MiB); larger items are rendered with
    /// their attachments as stubs.
    pub max_message_bytes: Option<u64>,
    /// `connect_timeout_secs`, `IMAP_CONNECT_TIMEOUT_SECS`: seconds to
    /// connect (default 30).
    pub connect_timeout_secs: Option<u64>,
    /// `command_timeout_secs`, `IMAP_COMMAND_TIMEOUT_SECS`: seconds per
    /// command (default 60).
    pub command_timeout_secs: Option<u64>,
    /// `attempts`, `IMAP_ATTEMPTS`: attempts per message (default 5).
    pub attempts: Option<u32>,
    /// `backoff_ms`, `IMAP_BACKOFF_MS`: first pause between attempts in
    /// milliseconds, doubled each time (default 1000).
    pub backoff_ms: Option<u64>,
    /// `connections`, `IMAP_CONNECTIONS`: mailboxes delivered to at once,
    /// one connection each (default 4).
    pub connections: Option<usize>,
}

impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field, so that a new one cannot be left out unseen.
        let ImapSettings {
            url,
            auth,
            login,
            password_secret,
            token_url,
            tenant,
            client_id,
            client_secret_secret,
            certificate_key_secret,
            certificate_thumbprint,
            scope,
            max_message_bytes,
            connect_timeout_secs,
            command_timeout_secs,
            attempts,
            backoff_ms,
            connections,
        } = self;
        f.debug_struct("ImapSettings")
            .field("url", &redact::url(url))
            .field("auth", auth)
            .field("login", login)
            .field("password_secret", password_secret)
            .field("token_url", &token_url.as_deref().map(redact::url))
            .field("tenant", tenant)
            .field("client_id", client_id)
            .field("client_secret_secret", client_secret_secret)
            .field("certificate_key_secret", certificate_key_secret)
            .field("certificate_thumbprint", certificate_thumbprint)
            .field("scope", scope)
            .field("max_message_bytes", max_message_bytes)
            .field("connect_timeout_secs", connect_timeout_secs)
            .field("command_timeout_secs", command_timeout_secs)
            .field("attempts", attempts)
            .field("backoff_ms", backoff_ms)
            .field("connections", connections)
            .finish()
    }
}

/// The LOGIN user name template when none is configured: the mailbox address.
pub(crate) fn default_login() -> String {
    "{mailbox}".to_owned()
}

/// How the archiver logs in to IMAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// LOGIN with a password from the secret store.
    Password,
    /// SASL XOAUTH2 with a client-credentials token.
    Xoauth2,
}

/// Why an IMAP target cannot be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A setting the auth method needs is missing.
    #[error("{section} auth = {auth} needs {key}")]
    Missing {
        /// The settings table (`imap`, `smtp`).
        section: &'static str,
        /// The auth method.
        auth: &'static str,
        /// The missing setting.
        key: &'static str,
    },
    /// The URL is unusable.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The secret a setting names could not be read.
    #[error("[{section}] {key}: {source}")]
    SecretOf {
        /// The settings table (`imap`, `smtp`).
        section: &'static str,
        /// The setting naming the secret (`password_secret`).
        key: &'static str,
        /// Why it could not be read.
        source: SecretError,
    },
    /// The token endpoint settings are unusable.
    #[error(transparent)]
    OAuth(#[from] oauth::OAuthError),
}

impl ImapSettings {
    /// The server with the configured limits.
    fn server(&self) -> Result<ImapServer, SettingsError> {
        let mut server = ImapServer::from_url(&self.url)?;
        if let Some(limit) = self.max_message_bytes {
            server.max_message_bytes = limit;
        }
        if let Some(secs) = self.connect_timeout_secs {
            server.connect_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = self.command_timeout_secs {
            server.command_timeout = Duration::from_secs(secs);
        }
        if let Some(attempts) = self.attempts {
            server.attempts = attempts;
        }
        if let Some(ms) = self.backoff_ms {
            server.backoff = Duration::from_millis(ms);
        }
        Ok(server)
    }

    /// One target per delivery lane (`connections` of them, each with its
    /// own IMAP connections), logging in with secrets read from `secrets`.
    pub async fn lanes<S: SecretStore>(&self, secrets: &S) -> Result<Vec<Imap>, SettingsError> {
        let server = self.server()?;
        let credentials = self.credentials(secrets).await?;
        let lanes = self.connections.unwrap_or(DEFAULT_LANES).max(1);
        Ok((0..lanes)
            .map(|_| Imap::new(server.clone(), credentials.clone()))
            .collect())
    }

    async fn credentials<S: SecretStore>(&self, secrets: &S) -> Result<Credentials, SettingsError> {
        Login {
            section: "imap",
            auth: self.auth,
            login: &self.login,
            password_secret: &self.password_secret,
            token_url: &self.token_url,
            tenant: &self.tenant,
            client_id: &self.client_id,
            client_secret_secret: &self.client_secret_secret,
            certificate_key_secret: &self.certificate_key_secret,
            certificate_thumbprint: &self.certificate_thumbprint,
            scope: &self.scope,
        }
        .credentials(secrets)
        .await
    }
}

/// The login settings a mail target (IMAP, SMTP) has, as its settings
/// name them: turned into [`Credentials`] in this one place.
pub(crate) struct Login<'a> {
    /// The settings table, for errors (`imap`, `smtp`).
    pub section: &'static str,
    pub auth: AuthMethod,
    pub login: &'a str,
    pub password_secret: &'a Option<String>,
    pub token_url: &'a Option<String>,
    pub tenant: &'a Option<String>,
    pub client_id: &'a Option<String>,
    pub client_secret_secret: &'a Option<String>,
    pub certificate_key_secret: &'a Option<String>,
    pub certificate_thumbprint: &'a Option<String>,
    pub scope: &'a Option<String>,
}

impl Login<'_> {
    /// The credentials, with the secrets they name read from `secrets`.
    pub(crate) async fn credentials<S: SecretStore>(
        &self,
        secrets: &S,
    ) -> Result<Credentials, SettingsError> {
        let section = self.section;
        let required = |auth, key, value| required(section, auth, key, value);
        let read = |key: &'static str, name: &str| {
            let name = name.to_owned();
            async move {
                secrets
                    .secret(&name)
                    .await
                    .map_err(|source| SettingsError::SecretOf {
                        section,
                        key,
                        source,
                    })
            }
        };
        Ok(match self.auth {
            AuthMethod::Password => {
                let name = required("password", "password_secret", self.password_secret)?;
                Credentials::Password {
                    login: self.login.to_owned(),
                    password: read("password_secret", name).await?,
                }
            }
            AuthMethod::Xoauth2 => {
                let client_id = required("xoauth2", "client_id", self.client_id)?;
                let endpoint = match (self.token_url, self.tenant) {
                    (Some(url), _) => url.clone(),
                    (None, Some(tenant)) => TokenSource::entra_endpoint(tenant),
                    (None, None) => {
                        return Err(SettingsError::Missing {
                            section,
                            auth: "xoauth2",
                            key: "token_url or tenant",
                        });
                    }
                };
                let credential = match (self.client_secret_secret, self.certificate_key_secret) {
                    (Some(name), _) => {
                        ClientCredential::Secret(read("client_secret_secret", name).await?)
                    }
                    (None, Some(name)) => ClientCredential::Certificate {
                        private_key_pem: read("certificate_key_secret", name).await?,
                        thumbprint: required(
                            "xoauth2",
                            "certificate_thumbprint",
                            self.certificate_thumbprint,
                        )?
                        .to_owned(),
                    },
                    (None, None) => {
                        return Err(SettingsError::Missing {
                            section,
                            auth: "xoauth2",
                            key: "client_secret_secret or certificate_key_secret",
                        });
                    }
                };
                let scope = self.scope.as_deref().unwrap_or(oauth::EXCHANGE_SCOPE);
                Credentials::XOAuth2(TokenSource::new(&endpoint, client_id, credential, scope)?)
            }
        })
    }
}

fn required<'a>(
    section: &'static str,
    auth: &'static str,
    key: &'static str,
    value: &'a Option<String>,
) -> Result<&'a str, SettingsError> {
    value
        .as_deref()
        .ok_or(SettingsError::Missing { section, auth, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{Secret, SecretFiles};

    fn settings(url: &str, token_url: &str) -> ImapSettings {
        ImapSettings {
            url: url.to_owned(),
            auth: AuthMethod::Xoauth2,
            login: default_login(),
            password_secret: None,
            token_url: Some(token_url.to_owned()),
            tenant: None,
            client_id: Some("archiver".to_owned()),
            client_secret_secret: Some("client-secret".to_owned()),
            certificate_key_secret: None,
            certificate_thumbprint: None,
            scope: None,
            max_message_bytes: None,
            connect_timeout_secs: None,
            command_timeout_secs: None,
            attempts: None,
            backoff_ms: None,
            connections: None,
        }
    }

    #[tokio::test]
    async fn rejected_urls_never_show_their_password() {
        let good = "https://login.corp.example/token";
        for url in [
            "imaps://archiver:hunter2@mail.corp.example",
            "imaps://archiver:hunter2@mail.corp.example:99999",
            "imaps://archiver:hunter2/x@mail.corp.example",
            "imap://archiver:hunter2@mail.corp.example",
            "https://archiver:hunter2@mail.corp.example",
            "imaps://mail.corp.example/?password=hunter2",
            "archiver:hunter2@mail.corp.example",
        ] {
            let settings = settings(url, good);
            let Err(err) = settings.lanes(&SecretFiles::new("/nonexistent")).await else {
                panic!("{url} is accepted");
            };
            let shown = format!("{err} {err:?} {settings:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("mail.corp.example"),
                "the server is still named: {shown}"
            );
        }
        for endpoint in [
            "ftp://archiver:hunter2@login.corp.example/token",
            "http://archiver:hunter2@login.corp.example/token",
        ] {
            let credential = ClientCredential::Secret(Secret::new("client"));
            let err = TokenSource::new(endpoint, "archiver", credential, "scope").unwrap_err();
            let shown = format!("{err} {err:?} {:?}", settings("imaps://x", endpoint));
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("login.corp.example"), "{shown}");
        }
        let credential = ClientCredential::Secret(Secret::new("client"));
        let endpoint = "https://archiver:hunter2@login.corp.example/token";
        let tokens = TokenSource::new(endpoint, "archiver", credential, "scope").unwrap();
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
