//! IMAP delivery: any IMAP4rev1 server (Exchange Online, Gmail, Dovecot).
//!
//! One authenticated connection per mailbox, reused across a batch. Every
//! network step has a timeout. A lost connection (BYE, reset, garbage,
//! silence) is dropped and reopened; NO answers that say "try later"
//! (throttling, unavailable) are retried with exponential backoff; other
//! refusals fail the job with the server's words. After any failed attempt
//! the folder is searched for the Message-ID before appending again, because
//! the server may have stored the message before the connection broke.

mod connection;
pub mod oauth;
mod settings;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tracing::warn;

use self::connection::Connection;
pub(crate) use self::connection::tls_connector;
pub use self::oauth::{ClientCredential, TokenSource};
pub use self::settings::{AuthMethod, ImapSettings, SettingsError};
pub(crate) use self::settings::{Login, default_login};
use super::{Appended, Envelope, Mailbox, MailboxError};
use crate::redact;
use crate::secrets::Secret;

/// Sessions one target keeps open at most; the oldest is closed first.
const MAX_OPEN_CONNECTIONS: usize = 16;

/// Exchange Online's message size limit, the default for every server.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 35 * 1024 * 1024;

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps://`, port 993).
    Tls,
    /// Plain TCP (`imap://`): only allowed to a loopback address, for tests.
    PlainLoopback,
}

/// The server and the limits of talking to it.
#[derive(Debug, Clone)]
pub struct ImapServer {
    /// Host name (checked against the TLS certificate).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS or loopback plain TCP.
    pub security: Security,
    /// Limit on connecting (TCP + TLS + greeting).
    pub connect_timeout: Duration,
    /// Limit on every command's answer.
    pub command_timeout: Duration,
    /// Attempts per message before the job fails (at least 1).
    pub attempts: u32,
    /// First pause between attempts; doubled each time.
    pub backoff: Duration,
    /// Largest message the server accepts (Exchange Online: 35 MB).
    pub max_message_bytes: u64,
}

/// Why an IMAP URL cannot be used. Each names the URL as given, with its
/// credentials redacted ([`redact::url`]).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not `imaps://host[:port]` or `imap://loopback[:port]`.
    #[error(
        "IMAP server URL {0:?}: expected imaps://host[:port] (or imap://127.0.0.1:port for tests)"
    )]
    Invalid(String),
    /// Plain IMAP to a host that is not loopback.
    #[error(
        "IMAP server URL {0:?}: plain imap:// is only allowed to a loopback address; use imaps://"
    )]
    PlainRemote(String),
}

impl ImapServer {
    /// A server from its URL, with default limits: 30 s to connect, 60 s per
    /// command, 5 attempts from 1 s backoff, 35 MB messages.
    pub fn from_url(url: &str) -> Result<ImapServer, UrlError> {
        // A rejected URL is named without the password it may carry.
        let invalid = || UrlError::Invalid(redact::url(url));
        let (parsed, host) = server_url(url).ok_or_else(invalid)?;
        let (security, default_port) = match parsed.scheme() {
            "imaps" => (Security::Tls, 993),
            "imap" if is_loopback(&host) => (Security::PlainLoopback, 143),
            "imap" => return Err(UrlError::PlainRemote(redact::url(url))),
            _ => return Err(invalid()),
        };
        Ok(ImapServer {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(60),
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A mail server URL's parts, when it names a host and nothing else (no
/// path, user, password or query): the parsed URL and the host, IPv6
/// brackets removed. Shared by the IMAP and SMTP targets.
pub(crate) fn server_url(url: &str) -> Option<(url::Url, String)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let clean = parsed.path().trim_matches('/').is_empty()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none();
    clean.then_some((parsed, host))
}

/// Whether a host name or address is this machine's (plain text is
/// allowed only there, for tests).
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How the archiver logs in to each mailbox.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// LOGIN with a password. `login` is the user name template:
    /// `{mailbox}` is replaced by the mailbox address (e.g.
    /// `{mailbox}*archiver` for a Dovecot master user).
    Password {
        /// User name template.
        login: String,
        /// The password, from the secret store.
        password: Secret,
    },
    /// SASL XOAUTH2 with an OAuth 2.0 client-credentials token (Exchange
    /// Online application access); the user is the mailbox address.
    XOAuth2(TokenSource),
}

/// IMAP delivery target: connections per mailbox, created folders remembered.
pub struct Imap {
    server: ImapServer,
    credentials: Credentials,
    connections: HashMap<String, Connection>,
    /// Mailboxes in the order their connections were opened.
    opened: Vec<String>,
    folders: HashSet<(String, String)>,
}

impl Imap {
    /// A target; no connection is opened until the first message.
    pub fn new(server: ImapServer, credentials: Credentials) -> Self {
        Imap {
            server,
            credentials,
            connections: HashMap::new(),
            opened: Vec::new(),
            folders: HashSet::new(),
        }
    }

    /// The server this target delivers to.
    pub fn server(&self) -> &ImapServer {
        &self.server
    }

    /// How many sessions are open now.
    pub fn open_connections(&self) -> usize {
        self.connections.len()
    }

    /// Logs out of every open connection.
    pub async fn close(&mut self) {
        self.opened.clear();
        for (_, connection) in self.connections.drain() {
            connection.logout().await;
        }
    }

    /// Takes a mailbox's connection out of the pool.
    fn forget(&mut self, mailbox: &str) -> Option<Connection> {
        self.opened.retain(|opened| opened != mailbox);
        self.connections.remove(mailbox)
    }

    async fn connection(&mut self, mailbox: &str) -> Result<&mut Connection, MailboxError> {
        if !self.connections.contains_key(mailbox) {
            // Keep the number of open sessions bounded: servers limit
            // connections per client, and file handles are finite.
            if self.connections.len() >= MAX_OPEN_CONNECTIONS {
                let oldest = self.opened[0].clone();
                if let Some(connection) = self.forget(&oldest) {
                    connection.logout().await;
                }
            }
            let connection = Connection::open(&self.server, &self.credentials, mailbox).await?;
            self.opened.push(mailbox.to_owned());
            self.connections.insert(mailbox.to_owned(), connection);
        }
        Ok(self.connections.get_mut(mailbox).expect("inserted above"))
    }

    /// One attempt: connect if needed, make sure the folder exists, search
    /// first when an earlier attempt may have stored the message, append.
    async fn try_append(
        &mut self,
        mailbox: &str,
        folder: &str,
        message: &Envelope<'_>,
        search_first: bool,
    ) -> Result<Appended, MailboxError> {
        let key = (mailbox.to_owned(), folder.to_owned());
        let known = self.folders.contains(&key);
        let connection = self.connection(mailbox).await?;
        if !known {
            connection.ensure_folder(folder).await?;
        }
        if search_first && let Some(found) = connection.find(folder, message.message_id).await? {
            return Ok(found);
        }
        let appended = connection.append(folder, message).await?;
        self.folders.insert(key);
        Ok(appended)
    }

    /// Runs `step` until it succeeds, fails for good or runs out of attempts;
    /// a failed attempt drops the mailbox's connection.
    async fn with_retries<T>(
        &mut self,
        mailbox: &str,
        mut step: impl AsyncFnMut(&mut Self, u32) -> Result<T, MailboxError>,
    ) -> Result<T, MailboxError> {
        let attempts = self.server.attempts.max(1);
        let mut pause = self.server.backoff;
        for attempt in 1.. {
            match step(self, attempt).await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_transient() && attempt < attempts => {
                    warn!(%mailbox, attempt, error = %e, "IMAP attempt failed; retrying");
                    if let Some(connection) = self.forget(mailbox) {
                        connection.abandon();
                    }
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                }
                Err(e) => {
                    if let Some(connection) = self.forget(mailbox) {
                        connection.abandon();
                    }
                    return Err(e);
                }
            }
        }
        unreachable!("the loop returns")
    }
}

impl Mailbox for Imap {
    async fn append(
        &mut self,
        mailbox: &str,
        folder: &str,
        message: &Envelope<'_>,
    ) -> Result<Appended, MailboxError> {
        let size = message.message.len();
        if size > self.server.max_message_bytes {
            return Err(MailboxError::TooLarge {
                size,
                limit: self.server.max_message_bytes,
            });
        }
        self.with_retries(mailbox, async |imap: &mut Imap, attempt| {
            imap.try_append(mailbox, folder, message, attempt > 1).await
        })
        .await
    }

    async fn find(
        &mut self,
        mailbox: &str,
        folder: &str,
        message_id: &str,
    ) -> Result<Option<Appended>, MailboxError> {
        self.with_retries(mailbox, async |imap: &mut Imap, _| {
            imap.connection(mailbox)
                .await?
                .find(folder, message_id)
                .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let tls = ImapServer::from_url("imaps://outlook.office365.com").unwrap();
        assert_eq!(
            (tls.host.as_str(), tls.port),
            ("outlook.office365.com", 993)
        );
        assert_eq!(tls.security, Security::Tls);
        let local = ImapServer::from_url("imap://127.0.0.1:1143").unwrap();
        assert_eq!(local.security, Security::PlainLoopback);
        assert_eq!(local.address(), "127.0.0.1:1143");
        assert!(matches!(
            ImapServer::from_url("imap://mail.example.com"),
            Err(UrlError::PlainRemote(_))
        ));
        for bad in [
            "https://x",
            "imaps://",
            "imaps://u:p@host",
            "imaps://host/INBOX",
            "nonsense",
        ] {
            assert!(ImapServer::from_url(bad).is_err(), "{bad}");
        }
    }
}
