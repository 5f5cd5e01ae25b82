//! One authenticated IMAP connection to one mailbox, on `async-imap`.
//!
//! APPEND is sent here rather than through `async-imap`'s helper because
//! that helper drops the tagged answer, and with it the `APPENDUID` the
//! ledger records.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_imap::imap_proto::rfc4315::UidSetMember;
use async_imap::imap_proto::{RequestId, Response, ResponseCode, Status};
use async_imap::{Authenticator, Client, Session};
use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::{Credentials, ImapServer, Security};
use crate::mailbox::{Appended, Envelope, MailboxError};

/// A byte stream IMAP can run over: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

type Stream = Box<dyn Io>;

/// An open, logged-in session for one mailbox.
pub(super) struct Connection {
    session: Session<Stream>,
    ctx: Ctx,
}

/// What errors and time limits of a connection need.
struct Ctx {
    mailbox: String,
    server: String,
    timeout: Duration,
}

impl Ctx {
    async fn timed<T>(
        &self,
        step: &'static str,
        future: impl Future<Output = T>,
    ) -> Result<T, MailboxError> {
        timed(&self.server, step, self.timeout, future).await
    }

    fn lost(&self, reason: impl ToString) -> MailboxError {
        MailboxError::Lost {
            mailbox: self.mailbox.clone(),
            reason: reason.to_string(),
        }
    }
}

/// What one server response means for a command in flight.
enum Event {
    /// `+`: send the literal.
    Continue,
    /// The tagged answer to our command.
    Done {
        /// OK (else NO or BAD).
        ok: bool,
        /// NO (a refusal that may be temporary), as opposed to BAD.
        no: bool,
        answer: String,
        append_uid: Option<String>,
    },
    /// `* BYE`: the server is closing the connection.
    Bye(String),
    /// Anything else (untagged data the command does not need).
    Other,
}

/// Runs a network step under a time limit.
async fn timed<T>(
    server: &str,
    step: &'static str,
    limit: Duration,
    future: impl Future<Output = T>,
) -> Result<T, MailboxError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| timeout_error(server, step, limit))
}

/// A step that took longer than `limit`. Seconds are rounded up, so that a
/// sub-second limit never reads "within 0 s".
fn timeout_error(server: &str, step: &'static str, limit: Duration) -> MailboxError {
    MailboxError::Timeout {
        server: server.to_owned(),
        step,
        secs: limit.as_secs() + u64::from(limit.subsec_nanos() > 0),
    }
}

/// The TLS client of every mail target: the web's root certificates.
pub(crate) fn tls_connector() -> TlsConnector {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    TlsConnector::from(Arc::clone(config))
}

/// SASL XOAUTH2: the first answer carries user and token; a later challenge
/// is the server's error report, answered with an empty line so that the
/// server ends the exchange with NO.
struct XOAuth2<'a> {
    user: &'a str,
    token: &'a str,
    sent: bool,
}

impl Authenticator for XOAuth2<'_> {
    type Response = Vec<u8>;

    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        if std::mem::replace(&mut self.sent, true) {
            Vec::new()
        } else {
            format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token).into_bytes()
        }
    }
}

/// Maps `async-imap` errors to ours: NO and BAD are refusals (NO may be
/// temporary), everything else means the connection is unusable.
fn classify(mailbox: &str, command: &'static str, error: async_imap::error::Error) -> MailboxError {
    use async_imap::error::Error;
    match error {
        Error::No(answer) => refused(mailbox, command, answer, true),
        Error::Bad(answer) => refused(mailbox, command, answer, false),
        Error::Validate(e) => refused(mailbox, command, e.to_string(), false),
        other => MailboxError::Lost {
            mailbox: mailbox.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// A NO/BAD answer; `no` says it was NO, which is temporary when the server
/// says so (throttling, unavailable, in use).
fn refused(mailbox: &str, command: &'static str, answer: String, no: bool) -> MailboxError {
    let upper = answer.to_ascii_uppercase();
    let temporary = no
        && [
            "[UNAVAILABLE]",
            "[INUSE]",
            "[LIMIT]",
            "THROTTL",
            "SERVER UNAVAILABLE",
            "TRY AGAIN",
            "TEMPORARY",
        ]
        .iter()
        .any(|hint| upper.contains(hint));
    MailboxError::Refused {
        mailbox: mailbox.to_owned(),
        command,
        answer: answer.trim().to_owned(),
        temporary,
    }
}

/// The mailbox name as IMAP wants it: modified UTF-7 (not yet quoted).
fn folder_name(folder: &str) -> Result<String, MailboxError> {
    if folder.trim().is_empty() || folder.chars().any(char::is_control) {
        return Err(MailboxError::InvalidFolder(folder.to_owned()));
    }
    Ok(utf7_imap::encode_utf7_imap(folder.to_owned()))
}

/// The mailbox name as an argument of a command we write ourselves.
fn folder_arg(folder: &str) -> Result<String, MailboxError> {
    folder_name(folder).map(|name| quote(&name))
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// INTERNALDATE: `"dd-Mon-yyyy hh:mm:ss +0000"`.
fn internal_date(time: DateTime<Utc>) -> String {
    time.format("\"%d-%b-%Y %H:%M:%S +0000\"").to_string()
}

impl Connection {
    /// Connects, reads the greeting and logs in as `mailbox`.
    pub(super) async fn open(
        server: &ImapServer,
        credentials: &Credentials,
        mailbox: &str,
    ) -> Result<Connection, MailboxError> {
        let address = server.address();
        let limit = server.connect_timeout;
        let connect_err = |reason: String| MailboxError::Connect {
            server: address.clone(),
            reason,
        };
        let tcp = timed(
            &address,
            "connect",
            limit,
            TcpStream::connect((server.host.as_str(), server.port)),
        )
        .await?
        .map_err(|e| connect_err(e.to_string()))?;
        tcp.set_nodelay(true)
            .map_err(|e| connect_err(e.to_string()))?;
        let stream: Stream = match server.security {
            Security::PlainLoopback => Box::new(tcp),
            Security::Tls => {
                let name = ServerName::try_from(server.host.clone())
                    .map_err(|e| connect_err(format!("invalid host name: {e}")))?;
                let tls = timed(
                    &address,
                    "TLS handshake",
                    limit,
                    tls_connector().connect(name, tcp),
                )
                .await?
                .map_err(|e| connect_err(format!("TLS: {e}")))?;
                Box::new(tls)
            }
        };
        let mut client = Client::new(stream);
        let greeting = timed(&address, "greeting", limit, client.read_response())
            .await?
            .map_err(|e| connect_err(e.to_string()))?
            .ok_or_else(|| connect_err("closed before the greeting".to_owned()))?;
        match greeting.parsed() {
            Response::Data {
                status: Status::Ok | Status::PreAuth,
                ..
            } => {}
            other => return Err(connect_err(format!("unexpected greeting {other:?}"))),
        }
        let session = login(
            client,
            credentials,
            mailbox,
            &address,
            server.command_timeout,
        )
        .await?;
        Ok(Connection {
            session,
            ctx: Ctx {
                mailbox: mailbox.to_owned(),
                server: address,
                timeout: server.command_timeout,
            },
        })
    }

    /// Creates the folder unless it exists.
    pub(super) async fn ensure_folder(&mut self, folder: &str) -> Result<(), MailboxError> {
        let name = folder_arg(folder)?;
        let ctx = &self.ctx;
        let create = format!("CREATE {name}");
        let created = ctx
            .timed("CREATE", self.session.run_command_and_check_ok(&create))
            .await?;
        match created {
            Ok(()) => Ok(()),
            // Servers answer NO when it exists ([ALREADYEXISTS] or plain words):
            // check with STATUS rather than trusting the wording.
            Err(async_imap::error::Error::No(answer)) => {
                let status = format!("STATUS {name} (MESSAGES)");
                match ctx
                    .timed("STATUS", self.session.run_command_and_check_ok(&status))
                    .await?
                {
                    Ok(()) => Ok(()),
                    Err(async_imap::error::Error::No(_)) => {
                        Err(refused(&ctx.mailbox, "CREATE", answer, true))
                    }
                    // A lost connection or garbage is not a refusal.
                    Err(e) => Err(classify(&ctx.mailbox, "STATUS", e)),
                }
            }
            Err(e) => Err(classify(&ctx.mailbox, "CREATE", e)),
        }
    }

    /// Searches the folder for a Message-ID; `None` when absent (or no folder).
    pub(super) async fn find(
        &mut self,
        folder: &str,
        message_id: &str,
    ) -> Result<Option<Appended>, MailboxError> {
        // async-imap quotes the name itself.
        let name = folder_name(folder)?;
        let ctx = &self.ctx;
        let validity = match ctx.timed("SELECT", self.session.select(&name)).await? {
            Ok(selected) => selected.uid_validity,
            // NO means no such folder, unless the server says "try later":
            // then the message may be there, and guessing "absent" could
            // append it twice.
            Err(async_imap::error::Error::No(answer)) => {
                let error = refused(&ctx.mailbox, "SELECT", answer, true);
                return if error.is_transient() {
                    Err(error)
                } else {
                    Ok(None)
                };
            }
            Err(e) => return Err(classify(&ctx.mailbox, "SELECT", e)),
        };
        let query = format!("HEADER Message-ID {}", quote(message_id));
        let found = ctx
            .timed("SEARCH", self.session.uid_search(&query))
            .await?
            .map_err(|e| classify(&ctx.mailbox, "SEARCH", e))?;
        // The same `<uidvalidity>:<uid>` form as APPENDUID gives.
        Ok(found.into_iter().min().map(|uid| Appended {
            uid: Some(match validity {
                Some(validity) => format!("{validity}:{uid}"),
                None => uid.to_string(),
            }),
        }))
    }

    /// APPENDs the message with `\Seen` and its INTERNALDATE; returns the
    /// APPENDUID (`<uidvalidity>:<uid>`) when the server gives one.
    pub(super) async fn append(
        &mut self,
        folder: &str,
        message: &Envelope<'_>,
    ) -> Result<Appended, MailboxError> {
        let command = format!(
            "APPEND {} (\\Seen) {} {{{}}}",
            folder_arg(folder)?,
            internal_date(message.internal_date),
            message.message.len()
        );
        let tag = self
            .ctx
            .timed("APPEND", self.session.run_command(&command))
            .await?
            .map_err(|e| classify(&self.ctx.mailbox, "APPEND", e))?;
        // The server either asks for the literal or refuses at once. Untagged
        // lines ("* OK still here") do not extend the time limit.
        let deadline = Instant::now() + self.ctx.timeout;
        loop {
            match self.next_event(&tag, deadline).await? {
                Event::Continue => break,
                Event::Done { no, answer, .. } => {
                    return Err(refused(&self.ctx.mailbox, "APPEND", answer, no));
                }
                Event::Bye(text) => return Err(self.ctx.lost(format!("BYE {text}"))),
                Event::Other => {}
            }
        }
        // The literal is sent a chunk at a time, read from the stored
        // message, each chunk within the time limit.
        let mut chunks = message.message.chunks();
        let mut chunk = Vec::new();
        loop {
            let more = chunks.next_into(&mut chunk).map_err(|e| MailboxError::Io {
                mailbox: self.ctx.mailbox.clone(),
                source: e,
            })?;
            if !more {
                break;
            }
            let stream = self.session.get_mut();
            self.ctx
                .timed("APPEND literal", stream.write_all(&chunk))
                .await?
                .map_err(|e| self.ctx.lost(e))?;
        }
        let stream = self.session.get_mut();
        let end = async {
            stream.write_all(b"\r\n").await?;
            stream.flush().await
        };
        self.ctx
            .timed("APPEND literal", end)
            .await?
            .map_err(|e| self.ctx.lost(e))?;
        let deadline = Instant::now() + self.ctx.timeout;
        loop {
            match self.next_event(&tag, deadline).await? {
                Event::Done {
                    ok: true,
                    append_uid,
                    ..
                } => return Ok(Appended { uid: append_uid }),
                Event::Done { no, answer, .. } => {
                    return Err(refused(&self.ctx.mailbox, "APPEND", answer, no));
                }
                Event::Bye(text) => return Err(self.ctx.lost(format!("BYE {text}"))),
                Event::Continue | Event::Other => {}
            }
        }
    }

    /// Reads one response to APPEND `tag`, by `deadline`, and says what it
    /// means.
    async fn next_event(
        &mut self,
        tag: &RequestId,
        deadline: Instant,
    ) -> Result<Event, MailboxError> {
        let ctx = &self.ctx;
        let response = tokio::time::timeout_at(deadline, self.session.read_response())
            .await
            .map_err(|_| timeout_error(&ctx.server, "APPEND", ctx.timeout))?
            .map_err(|e| ctx.lost(e))?
            .ok_or_else(|| ctx.lost("connection closed"))?;
        Ok(match response.parsed() {
            Response::Continue(_) => Event::Continue,
            Response::Done {
                tag: done,
                status,
                outcome,
            } if done == tag => Event::Done {
                ok: *status == Status::Ok,
                no: *status == Status::No,
                answer: outcome
                    .information
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
                append_uid: match &outcome.code {
                    Some(ResponseCode::AppendUid(validity, uids)) => {
                        uids.first().map(|member| match member {
                            UidSetMember::Uid(uid) => format!("{validity}:{uid}"),
                            UidSetMember::UidRange(range) => {
                                format!("{validity}:{}", range.start())
                            }
                        })
                    }
                    _ => None,
                },
            },
            Response::Data {
                status: Status::Bye,
                outcome,
            } => Event::Bye(outcome.information.as_deref().unwrap_or("").to_owned()),
            _ => Event::Other,
        })
    }

    /// Logs out politely (bounded by the command timeout).
    pub(super) async fn logout(mut self) {
        let _ = tokio::time::timeout(self.ctx.timeout, self.session.logout()).await;
    }

    /// Drops a connection that is broken or in an unknown state.
    pub(super) fn abandon(self) {}
}

/// Logs in with the configured credentials.
async fn login(
    client: Client<Stream>,
    credentials: &Credentials,
    mailbox: &str,
    server: &str,
    limit: Duration,
) -> Result<Session<Stream>, MailboxError> {
    let auth_err = |e: async_imap::error::Error| match e {
        async_imap::error::Error::No(answer) | async_imap::error::Error::Bad(answer) => {
            MailboxError::Auth {
                mailbox: mailbox.to_owned(),
                reason: answer.trim().to_owned(),
            }
        }
        other => MailboxError::Lost {
            mailbox: mailbox.to_owned(),
            reason: other.to_string(),
        },
    };
    match credentials {
        Credentials::Password { login, password } => {
            let user = login.replace("{mailbox}", mailbox);
            timed(
                server,
                "LOGIN",
                limit,
                client.login(user, password.expose()),
            )
            .await?
            .map_err(|(e, _)| auth_err(e))
        }
        Credentials::XOAuth2(tokens) => {
            let token = tokens.token().await.map_err(|e| MailboxError::Auth {
                mailbox: mailbox.to_owned(),
                reason: e.to_string(),
            })?;
            let authenticator = XOAuth2 {
                user: mailbox,
                token: token.expose(),
                sent: false,
            };
            timed(
                server,
                "AUTHENTICATE XOAUTH2",
                limit,
                client.authenticate("XOAUTH2", authenticator),
            )
            .await?
            .map_err(|(e, _)| auth_err(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn folder_names_are_modified_utf7_and_quoted() {
        assert_eq!(
            folder_arg("WhatsApp Archiver").unwrap(),
            "\"WhatsApp Archiver\""
        );
        assert_eq!(folder_arg("微信存档").unwrap(), "\"&X65P4VtYaGM-\"");
        assert_eq!(folder_arg("R&D").unwrap(), "\"R&-D\"");
        assert_eq!(folder_arg("a\"b").unwrap(), "\"a\\\"b\"");
        assert!(folder_arg("a\r\nb").is_err());
        assert!(folder_arg(" ").is_err());
    }

    #[test]
    fn internal_date_is_imap_date_time() {
        let time = Utc.with_ymd_and_hms(2026, 3, 5, 7, 8, 9).unwrap();
        assert_eq!(internal_date(time), "\"05-Mar-2026 07:08:09 +0000\"");
    }

    #[test]
    fn only_throttling_answers_are_temporary() {
        let temporary = |answer: &str| match refused("m", "APPEND", answer.to_owned(), true) {
            MailboxError::Refused { temporary, .. } => temporary,
            _ => unreachable!(),
        };
        assert!(temporary("[UNAVAILABLE] Server busy"));
        assert!(temporary(
            "Request is throttled. Suggested Backoff Time: 2000 milliseconds"
        ));
        assert!(!temporary("[OVERQUOTA] Quota exceeded"));
        assert!(!temporary("[CANNOT] Invalid mailbox name"));
        match refused("m", "APPEND", "[UNAVAILABLE]".to_owned(), false) {
            MailboxError::Refused { temporary, .. } => {
                assert!(!temporary, "BAD is never temporary")
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn xoauth2_sends_the_token_once_then_an_empty_answer() {
        let mut auth = XOAuth2 {
            user: "alice@corp.example",
            token: "tok",
            sent: false,
        };
        assert_eq!(
            auth.process(b""),
            b"user=alice@corp.example\x01auth=Bearer tok\x01\x01".to_vec()
        );
        assert!(auth.process(b"{\"status\":\"401\"}").is_empty());
    }
}
