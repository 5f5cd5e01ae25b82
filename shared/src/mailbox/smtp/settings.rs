//! How to reach, log in to and address an SMTP server: the `[smtp]` table
//! of a local config, or the deliver function's `SMTP_*` variables (both
//! read by `crate::settings`).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{DEFAULT_HELO, Routing, Smtp, SmtpServer, UrlError, expand};
use crate::mailbox::imap::{AuthMethod, Login, SettingsError};
use crate::redact;
use crate::secrets::SecretStore;

/// Connections (lanes) when `connections` is not set.
const DEFAULT_LANES: usize = 2;

/// Server, limits, login and addressing of an SMTP target: the `[smtp]`
/// table of a local config (`url` is `smtp.url`) or the deliver function's
/// `SMTP_*` variables, as each field names them. Secrets are named here and
/// read from a [`SecretStore`]; their values are never part of the
/// settings. Its `Debug` form shows the URLs with credentials redacted.
#[derive(Clone)]
pub struct SmtpSettings {
    /// `url`, `SMTP_URL`: `smtps://host[:465]` (implicit TLS),
    /// `smtp://host[:587]` (STARTTLS, required), or
    /// `smtp+plain://127.0.0.1:port` for tests. Required.
    pub url: String,
    /// `auth`, `SMTP_AUTH`: `password`, `xoauth2` or `none` (a relay that
    /// trusts the sender's network). Required.
    pub auth: SmtpAuth,
    /// `login`, `SMTP_LOGIN`: AUTH user name template (`{mailbox}` = the
    /// mailbox address, the default).
    pub login: String,
    /// `password_secret`: name of the secret holding the password
    /// (password auth; the deliver function's is `password`).
    pub password_secret: Option<String>,
    /// `token_url`, `SMTP_TOKEN_URL`: token endpoint URL (xoauth2);
    /// default: Entra ID's for `tenant`.
    pub token_url: Option<String>,
    /// `tenant`, `SMTP_TENANT`: Entra ID tenant id or domain (xoauth2).
    pub tenant: Option<String>,
    /// `client_id`, `SMTP_CLIENT_ID`: OAuth client id (xoauth2).
    pub client_id: Option<String>,
    /// `client_secret_secret`: name of the secret holding the client secret
    /// (xoauth2; the deliver function's is `client_secret`).
    pub client_secret_secret: Option<String>,
    /// `certificate_key_secret`: name of the secret holding the
    /// certificate's private key, PEM (xoauth2; the deliver function's is
    /// `certificate_key`).
    pub certificate_key_secret: Option<String>,
    /// `certificate_thumbprint`, `SMTP_CERTIFICATE_THUMBPRINT`: the
    /// certificate's SHA-1 thumbprint, hex (xoauth2).
    pub certificate_thumbprint: Option<String>,
    /// `scope`, `SMTP_SCOPE`: OAuth scope (default: Exchange Online's).
    pub scope: Option<String>,
    /// `sender`, `SMTP_SENDER`: the envelope sender (MAIL FROM) and a
    /// journal report's `From`, an address or a template (`{mailbox}`).
    /// Required; the null sender is not used.
    pub sender: String,
    /// `recipient`, `SMTP_RECIPIENT`: the envelope recipient (RCPT TO): a
    /// journal address, or a template such as `{mailbox}` (the default:
    /// each copy to its mailbox).
    pub recipient: String,
    /// `helo`, `SMTP_HELO`: the fully qualified domain name given in EHLO
    /// (default: the sender's domain when the sender is a fixed address,
    /// else [`DEFAULT_HELO`]).
    pub helo: Option<String>,
    /// `format`, `SMTP_FORMAT`: `plain` (the original as it is, the
    /// default) or `journal` (wrapped in a journal report).
    pub format: Format,
    /// `max_message_bytes`, `MAX_MESSAGE_BYTES`: largest message the server
    /// accepts, bytes (default 35 MiB).
    pub max_message_bytes: Option<u64>,
    /// `connect_timeout_secs`, `SMTP_CONNECT_TIMEOUT_SECS`: seconds to
    /// connect, including TLS and AUTH (default 30).
    pub connect_timeout_secs: Option<u64>,
    /// `command_timeout_secs`, `SMTP_COMMAND_TIMEOUT_SECS`: seconds per
    /// command and for sending a message (default 60).
    pub command_timeout_secs: Option<u64>,
    /// `attempts`, `SMTP_ATTEMPTS`: attempts per copy (default 5).
    pub attempts: Option<u32>,
    /// `backoff_ms`, `SMTP_BACKOFF_MS`: first pause between attempts in
    /// milliseconds, doubled each time (default 1000).
    pub backoff_ms: Option<u64>,
    /// `connections`, `SMTP_CONNECTIONS`: connections sending at once
    /// (default 2).
    pub connections: Option<usize>,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every field, so that a new one cannot be left out unseen.
        let SmtpSettings {
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
            sender,
            recipient,
            helo,
            format,
            max_message_bytes,
            connect_timeout_secs,
            command_timeout_secs,
            attempts,
            backoff_ms,
            connections,
        } = self;
        f.debug_struct("SmtpSettings")
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
            .field("sender", sender)
            .field("recipient", recipient)
            .field("helo", helo)
            .field("format", format)
            .field("max_message_bytes", max_message_bytes)
            .field("connect_timeout_secs", connect_timeout_secs)
            .field("command_timeout_secs", command_timeout_secs)
            .field("attempts", attempts)
            .field("backoff_ms", backoff_ms)
            .field("connections", connections)
            .finish()
    }
}

/// How the archiver authenticates to the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpAuth {
    /// No AUTH: the server trusts the sender's network.
    None,
    /// AUTH PLAIN or LOGIN with a password from the secret store.
    Password,
    /// AUTH XOAUTH2 with a client-credentials token.
    Xoauth2,
}

/// What is sent: the original, or a journal report around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The original message as it is (forwarding).
    Plain,
    /// A journal report naming the recipients, with the original attached
    /// as `message/rfc822`.
    Journal,
}

/// Why an SMTP target cannot be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSettingsError {
    /// The login settings are incomplete or a secret is unreadable.
    #[error(transparent)]
    Login(#[from] SettingsError),
    /// The URL is unusable.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The EHLO name is not a fully qualified domain name.
    #[error("smtp helo = {0:?} is not a fully qualified domain name")]
    Helo(String),
    /// A sender or recipient template does not make an address.
    #[error("smtp {key} = {value:?} does not make an e-mail address")]
    Address {
        /// `sender` or `recipient`.
        key: &'static str,
        /// The template.
        value: String,
    },
}

impl SmtpSettings {
    /// The server with the configured limits.
    fn server(&self) -> Result<SmtpServer, SmtpSettingsError> {
        let mut server = SmtpServer::from_url(&self.url)?;
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
        server.helo = match &self.helo {
            Some(helo) if is_fqdn(helo) => helo.clone(),
            Some(helo) => return Err(SmtpSettingsError::Helo(helo.clone())),
            None => self
                .sender
                .rsplit_once('@')
                .map(|(_, domain)| domain)
                .filter(|domain| is_fqdn(domain))
                .unwrap_or(DEFAULT_HELO)
                .to_owned(),
        };
        Ok(server)
    }

    /// The addressing, its templates checked.
    fn routing(&self) -> Result<Routing, SmtpSettingsError> {
        let example = "someone@corp.example";
        if expand(&self.sender, example).is_err() {
            return Err(SmtpSettingsError::Address {
                key: "sender",
                value: self.sender.clone(),
            });
        }
        if expand(&self.recipient, example).is_err() {
            return Err(SmtpSettingsError::Address {
                key: "recipient",
                value: self.recipient.clone(),
            });
        }
        Ok(Routing {
            sender: self.sender.clone(),
            recipient: self.recipient.clone(),
            format: self.format,
        })
    }

    /// One target per delivery lane (`connections` of them, each with its
    /// own connection), authenticating with secrets read from `secrets`.
    pub async fn lanes<S: SecretStore>(&self, secrets: &S) -> Result<Vec<Smtp>, SmtpSettingsError> {
        let server = self.server()?;
        let routing = self.routing()?;
        let auth = match self.auth {
            SmtpAuth::None => None,
            SmtpAuth::Password => Some(AuthMethod::Password),
            SmtpAuth::Xoauth2 => Some(AuthMethod::Xoauth2),
        };
        let credentials = match auth {
            None => None,
            Some(auth) => Some(
                Login {
                    section: "smtp",
                    auth,
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
                .await?,
            ),
        };
        let lanes = self.connections.unwrap_or(DEFAULT_LANES).max(1);
        Ok((0..lanes)
            .map(|_| Smtp::new(server.clone(), credentials.clone(), routing.clone()))
            .collect())
    }
}

/// Whether a name is a fully qualified domain name: dot-separated labels
/// of letters, digits and hyphens (not at a label's ends), two at least.
fn is_fqdn(name: &str) -> bool {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    labels.len() >= 2
        && name.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sender: &str, helo: Option<&str>) -> SmtpSettings {
        SmtpSettings {
            url: "smtps://smtp.corp.example".to_owned(),
            auth: SmtpAuth::None,
            login: "{mailbox}".to_owned(),
            password_secret: None,
            token_url: None,
            tenant: None,
            client_id: None,
            client_secret_secret: None,
            certificate_key_secret: None,
            certificate_thumbprint: None,
            scope: None,
            sender: sender.to_owned(),
            recipient: "{mailbox}".to_owned(),
            helo: helo.map(str::to_owned),
            format: Format::Plain,
            max_message_bytes: None,
            connect_timeout_secs: None,
            command_timeout_secs: None,
            attempts: None,
            backoff_ms: None,
            connections: None,
        }
    }

    #[test]
    fn helo_is_configured_or_the_senders_domain_or_a_default_fqdn() {
        let helo = |sender, helo| settings(sender, helo).server().map(|s| s.helo);
        assert_eq!(helo("archiver@corp.example", None).unwrap(), "corp.example");
        assert_eq!(
            helo("archiver@corp.example", Some("mx1.corp.example")).unwrap(),
            "mx1.corp.example"
        );
        assert_eq!(helo("{mailbox}", None).unwrap(), DEFAULT_HELO);
        assert_eq!(helo("archiver@{mailbox}", None).unwrap(), DEFAULT_HELO);
        assert_eq!(helo("archiver@localhost", None).unwrap(), DEFAULT_HELO);
        for bad in [
            "mobile-archiver",
            "a b.example",
            "x.example\r\nRSET",
            "-a.example",
        ] {
            assert!(
                matches!(
                    helo("a@corp.example", Some(bad)),
                    Err(SmtpSettingsError::Helo(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sender_may_not_be_empty() {
        assert!(matches!(
            settings("", None).routing(),
            Err(SmtpSettingsError::Address { key: "sender", .. })
        ));
    }
}
