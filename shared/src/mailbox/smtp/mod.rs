//! SMTP delivery: each copy sent to a journal address or to the mapped
//! mailbox, for archives that ingest mail by SMTP journaling (Global Relay,
//! Smarsh, Mimecast, Proofpoint, Veritas) or any mail server.
//!
//! The client is `mail-send`. TLS is required: implicit TLS (`smtps://`) or
//! STARTTLS (`smtp://`), and a server that does not offer STARTTLS is
//! refused, never written to in plain text; plain SMTP (`smtp+plain://`) is
//! allowed only to a loopback address, for tests. One authenticated
//! connection is kept open and reused for every copy (a new one when the
//! login, a `{mailbox}` template, changes). Every step has a time limit:
//! connecting (greeting, EHLO, AUTH included), each command, writing the
//! message (more for a larger one), and the server's final reply, which
//! RFC 5321 lets take up to 10 minutes (less when the Lambda invocation
//! ends sooner, [`Mailbox::set_deadline`]). A 4xx answer (AUTH's too) is
//! retried with exponential backoff; a 5xx answer fails that copy only,
//! and the connection goes on with the next. A login the server refused
//! is not tried again for a while: the later copies for it fail at once.
//!
//! SMTP cannot be searched, so the exactly-once rule of [`crate::ledger`]
//! has a window here: the message goes out whole but for its end (the
//! final dot, before which the server cannot take it), the copy is marked
//! as sent, the end goes out, and its ledger entry is written as soon as
//! the server answers 250. A crash between the mark and the ledger entry
//! sends the copy again on the next attempt, which counts it as possibly
//! duplicated. For the same reason a copy whose message went out without a
//! definite answer (a lost connection, a timeout) is not retried here: the
//! job fails and its next attempt, which counts it, sends it again.
//!
//! `mail-send` takes the message as one slice: a copy is held in memory
//! while it is sent, twice (as stored, and as it goes on the wire, so that
//! its end can go out on its own), bounded by the target's message size
//! limit.

mod journal;
mod settings;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use mail_send::smtp::message::Parameters;
use mail_send::{SmtpClient, SmtpClientBuilder};
use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{EXT_PIPELINING, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::warn;

pub use self::settings::{Format, SmtpAuth, SmtpSettings, SmtpSettingsError};
use super::imap::{Credentials, DEFAULT_MAX_MESSAGE_BYTES, is_loopback, server_url, tls_connector};
use super::{Appended, Envelope, Mailbox, MailboxError};
use crate::redact;

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`, port 465).
    ImplicitTls,
    /// STARTTLS after the greeting (`smtp://`, port 587); refused when the
    /// server does not offer it.
    StartTls,
    /// Plain TCP (`smtp+plain://`): only to a loopback address, for tests.
    PlainLoopback,
}

/// The server and the limits of talking to it.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// Host name (checked against the TLS certificate).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS, STARTTLS or loopback plain TCP.
    pub security: Security,
    /// The name this client gives in EHLO: a fully qualified domain name
    /// (servers may refuse others).
    pub helo: String,
    /// Limit on connecting (TCP, TLS, greeting, EHLO, AUTH).
    pub connect_timeout: Duration,
    /// Limit on every command's answer; writing a message may take this
    /// plus a second per MiB ([`DATA_RATE`]).
    pub command_timeout: Duration,
    /// Limit on the server's reply once the whole message was sent (RFC
    /// 5321 § 4.5.3.2.6: 10 minutes).
    pub final_reply_timeout: Duration,
    /// Attempts per copy before the job fails (at least 1).
    pub attempts: u32,
    /// First pause between attempts; doubled each time.
    pub backoff: Duration,
    /// Largest message the server accepts.
    pub max_message_bytes: u64,
}

/// The EHLO name when none is configured and the sender gives no domain: a
/// syntactically fully qualified name that claims no real host.
pub const DEFAULT_HELO: &str = "mobile-archiver.invalid";

/// The slowest upload rate a message is allowed, bytes per second: writing
/// a message may take the command timeout plus its size at this rate.
pub const DATA_RATE: u64 = 1 << 20;

/// How long a login the server refused is not tried again.
const REFUSED_LOGIN_KEPT: Duration = Duration::from_secs(300);

/// Why an SMTP URL cannot be used. Each names the URL as given, with its
/// credentials redacted ([`redact::url`]).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not `smtps://host[:port]`, `smtp://host[:port]` or
    /// `smtp+plain://loopback[:port]`.
    #[error(
        "SMTP server URL {0:?}: expected smtps://host[:port] (implicit TLS), smtp://host[:port] \
         (STARTTLS) or smtp+plain://127.0.0.1:port (tests only)"
    )]
    Invalid(String),
    /// Plain SMTP to a host that is not loopback.
    #[error(
        "SMTP server URL {0:?}: plain smtp+plain:// is only allowed to a loopback address; \
         use smtps:// or smtp:// (STARTTLS)"
    )]
    PlainRemote(String),
}

impl SmtpServer {
    /// A server from its URL, with default limits: 30 s to connect, 60 s per
    /// command, 10 minutes for the final reply, 5 attempts from 1 s backoff,
    /// 35 MB messages; EHLO as [`DEFAULT_HELO`].
    pub fn from_url(url: &str) -> Result<SmtpServer, UrlError> {
        let invalid = || UrlError::Invalid(redact::url(url));
        let (parsed, host) = server_url(url).ok_or_else(invalid)?;
        let (security, default_port) = match parsed.scheme() {
            "smtps" => (Security::ImplicitTls, 465),
            "smtp" => (Security::StartTls, 587),
            "smtp+plain" if is_loopback(&host) => (Security::PlainLoopback, 25),
            "smtp+plain" => return Err(UrlError::PlainRemote(redact::url(url))),
            _ => return Err(invalid()),
        };
        Ok(SmtpServer {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            helo: DEFAULT_HELO.to_owned(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(60),
            final_reply_timeout: Duration::from_secs(600),
            attempts: 5,
            backoff: Duration::from_secs(1),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The limit on writing a message of `size` bytes: the command timeout
    /// plus the size at [`DATA_RATE`].
    pub fn data_timeout(&self, size: usize) -> Duration {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.command_timeout
            .saturating_add(Duration::from_secs(size.div_ceil(DATA_RATE)))
    }
}

/// Who a copy is sent from and to, and in what form.
#[derive(Debug, Clone)]
pub struct Routing {
    /// The envelope sender (MAIL FROM) and a journal report's `From`;
    /// `{mailbox}` is replaced by the mailbox the copy is for. Never empty
    /// (the null sender is not used).
    pub sender: String,
    /// The envelope recipient (RCPT TO): a journal address, or a template
    /// such as `{mailbox}` (the mailbox itself).
    pub recipient: String,
    /// The original as it is, or wrapped in a journal report.
    pub format: Format,
}

/// A byte stream SMTP can run over: TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Client = SmtpClient<Box<dyn Io>>;

/// An open, authenticated connection and the login it was opened with.
struct Session {
    login: Option<String>,
    client: Client,
    /// The server offers PIPELINING: MAIL FROM, RCPT TO and DATA go out
    /// together, one round trip instead of three.
    pipelining: bool,
}

/// How an attempt at one copy failed.
struct Failed {
    error: MailboxError,
    /// The message went out and no definite answer came back: the server
    /// may have taken it, so sending it again may make a duplicate.
    uncertain: bool,
    /// The connection cannot be reset for the next copy (a refusal came
    /// with a transaction left open): it is dropped.
    broken: bool,
}

impl From<MailboxError> for Failed {
    fn from(error: MailboxError) -> Self {
        Failed {
            error,
            uncertain: false,
            broken: false,
        }
    }
}

/// SMTP delivery target: one connection, reused.
pub struct Smtp {
    server: SmtpServer,
    /// `None`: the server takes mail without AUTH (a relay that trusts the
    /// sender's network).
    credentials: Option<Credentials>,
    routing: Routing,
    session: Option<Session>,
    /// Logins the server refused (5xx), with when and why: their copies
    /// fail at once for [`REFUSED_LOGIN_KEPT`] instead of logging in again.
    refused_logins: HashMap<String, (Instant, String)>,
    /// When the current invocation must end ([`Mailbox::set_deadline`]).
    deadline: Option<Instant>,
}

impl Smtp {
    /// A target; no connection is opened until the first copy.
    pub fn new(server: SmtpServer, credentials: Option<Credentials>, routing: Routing) -> Self {
        Smtp {
            server,
            credentials,
            routing,
            session: None,
            refused_logins: HashMap::new(),
            deadline: None,
        }
    }

    /// This target (same server, login and sender) sending each message as
    /// it is to the mailbox it is for, never journal-wrapped nor to the
    /// journal address: for the day report, which is for the
    /// administrators' mailbox, not the archive.
    pub fn to_the_mailbox_itself(mut self) -> Smtp {
        self.routing.recipient = "{mailbox}".to_owned();
        self.routing.format = Format::Plain;
        self
    }

    /// A new target (no connection yet) with this one's server, login and
    /// sender that sends to the mailbox itself
    /// ([`Smtp::to_the_mailbox_itself`]): the deliver function's lane for
    /// daily reports.
    pub fn for_reports(&self) -> Smtp {
        Smtp::new(
            self.server.clone(),
            self.credentials.clone(),
            self.routing.clone(),
        )
        .to_the_mailbox_itself()
    }

    /// The server this target delivers to.
    pub fn server(&self) -> &SmtpServer {
        &self.server
    }

    /// Says QUIT on the open connection, if any.
    pub async fn close(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = tokio::time::timeout(self.server.command_timeout, session.client.quit()).await;
        }
    }

    /// The login for a mailbox, when the target authenticates.
    fn login(&self, mailbox: &str) -> Option<String> {
        self.credentials
            .as_ref()
            .map(|credentials| match credentials {
                Credentials::Password { login, .. } => login.replace("{mailbox}", mailbox),
                Credentials::XOAuth2(_) => mailbox.to_owned(),
            })
    }

    /// A limit, shortened to the time left before the deadline, if any.
    fn capped(&self, limit: Duration) -> Duration {
        match self.deadline {
            Some(deadline) => limit.min(deadline.saturating_duration_since(Instant::now())),
            None => limit,
        }
    }

    /// The open connection, opened (or reopened for another login) first
    /// when needed. A login refused lately fails at once.
    async fn session(&mut self, mailbox: &str) -> Result<&mut Session, MailboxError> {
        let login = self.login(mailbox);
        if self.session.as_ref().is_some_and(|s| s.login != login) {
            self.close().await;
        }
        if self.session.is_none() {
            if let Some(login) = &login {
                self.refused_logins
                    .retain(|_, (when, _)| when.elapsed() < REFUSED_LOGIN_KEPT);
                if let Some((_, reason)) = self.refused_logins.get(login) {
                    return Err(MailboxError::Auth {
                        mailbox: mailbox.to_owned(),
                        reason: format!("{reason} (refused lately; not tried again yet)"),
                    });
                }
            }
            let (client, pipelining) = match self.connect(mailbox, login.as_deref()).await {
                Ok(connected) => connected,
                Err((error, refused)) => {
                    if let (true, Some(login), MailboxError::Auth { reason, .. }) =
                        (refused, &login, &error)
                    {
                        self.refused_logins
                            .insert(login.clone(), (Instant::now(), reason.clone()));
                    }
                    return Err(error);
                }
            };
            self.session = Some(Session {
                login,
                client,
                pipelining,
            });
        }
        Ok(self.session.as_mut().expect("opened above"))
    }

    /// Connects, says EHLO (after STARTTLS unless TLS is implicit) and
    /// authenticates, all within the connect timeout (the greeting of a
    /// plain loopback connection too); returns the connection and whether
    /// the server offers PIPELINING. An error says whether the server
    /// refused the login for good (a 5xx answer to AUTH, no mechanism).
    async fn connect(
        &self,
        mailbox: &str,
        login: Option<&str>,
    ) -> Result<(Client, bool), (MailboxError, bool)> {
        let server = &self.server;
        let address = server.address();
        // The builder connects (STARTTLS included); EHLO and AUTH are said
        // here, so that the extensions the server offers are kept.
        let builder = SmtpClientBuilder::new_with_tls_connector(
            server.host.clone(),
            server.port,
            tls_connector(),
        )
        .timeout(server.connect_timeout)
        .helo_host(server.helo.clone())
        .implicit_tls(server.security == Security::ImplicitTls)
        .say_ehlo(false);
        let mut credentials = None;
        if let (Some(configured), Some(user)) = (&self.credentials, login) {
            credentials = Some(match configured {
                Credentials::Password { password, .. } => mail_send::Credentials::Plain {
                    username: user.to_owned(),
                    secret: password.expose().to_owned(),
                },
                Credentials::XOAuth2(tokens) => {
                    let token = tokens.token().await.map_err(|e| {
                        let error = MailboxError::Auth {
                            mailbox: mailbox.to_owned(),
                            reason: e.to_string(),
                        };
                        (error, false)
                    })?;
                    mail_send::Credentials::XOauth2 {
                        username: user.to_owned(),
                        secret: token.expose().to_owned(),
                    }
                }
            });
        }
        let connecting = async {
            let mut client = match server.security {
                Security::PlainLoopback => {
                    let client = builder.connect_plain().await?;
                    no_delay(&client.stream);
                    Client {
                        stream: Box::new(client.stream),
                        timeout: client.timeout,
                    }
                }
                Security::ImplicitTls | Security::StartTls => {
                    let client = builder.connect().await?;
                    no_delay(client.stream.get_ref().0);
                    Client {
                        stream: Box::new(client.stream),
                        timeout: client.timeout,
                    }
                }
            };
            let offered = client.capabilities(&server.helo, false).await?;
            if let Some(credentials) = &credentials {
                client.authenticate(credentials, &offered).await?;
            }
            Ok((client, offered.has_capability(EXT_PIPELINING)))
        };
        let connected = tokio::time::timeout(server.connect_timeout, connecting)
            .await
            .unwrap_or(Err(mail_send::Error::Timeout));
        let (mut client, pipelining) = connected.map_err(|e| {
            let refused = match &e {
                mail_send::Error::AuthenticationFailed(reply) => reply.code() >= 500,
                mail_send::Error::UnsupportedAuthMechanism => true,
                _ => false,
            };
            (connect_error(&address, mailbox, server, e), refused)
        })?;
        client.timeout = server.command_timeout;
        Ok((client, pipelining))
    }

    /// Sends one copy, retrying what may be retried; `mark` is awaited once
    /// the message went out, before its end.
    async fn send(
        &mut self,
        mailbox: &str,
        message: &Envelope<'_>,
        mut mark: impl AsyncFnMut() -> Result<(), MailboxError>,
    ) -> Result<Appended, MailboxError> {
        let size = message.message.len();
        if size > self.server.max_message_bytes {
            return Err(MailboxError::TooLarge {
                size,
                limit: self.server.max_message_bytes,
            });
        }
        let sender = expand(&self.routing.sender, mailbox)?;
        let recipient = expand(&self.routing.recipient, mailbox)?;
        let original = read_message(mailbox, message)?;
        let body: Cow<'_, [u8]> = match self.routing.format {
            Format::Plain => original,
            Format::Journal => Cow::Owned(journal::wrap(
                &journal::Report {
                    sender: &sender,
                    journal_recipient: &recipient,
                    recipients: &[mailbox],
                    message_id: message.message_id,
                    date: message.internal_date,
                },
                &original,
            )),
        };
        // What is sent is what must fit: the journal report is larger.
        let sent = u64::try_from(body.len()).unwrap_or(u64::MAX);
        if sent > self.server.max_message_bytes {
            return Err(MailboxError::TooLarge {
                size: sent,
                limit: self.server.max_message_bytes,
            });
        }
        let attempts = self.server.attempts.max(1);
        let mut pause = self.server.backoff;
        for attempt in 1.. {
            match self
                .try_send(mailbox, &sender, &recipient, &body, &mut mark)
                .await
            {
                Ok(appended) => return Ok(appended),
                Err(failed)
                    if failed.error.is_transient() && !failed.uncertain && attempt < attempts =>
                {
                    warn!(%mailbox, attempt, error = %failed.error, "SMTP attempt failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                }
                Err(failed) => return Err(failed.error),
            }
        }
        unreachable!("the loop returns")
    }

    /// One attempt: MAIL FROM, RCPT TO, DATA, the message, the mark, the
    /// end of the message. A
    /// refused command leaves the connection usable (after RSET); anything
    /// else drops it.
    async fn try_send(
        &mut self,
        mailbox: &str,
        sender: &str,
        recipient: &str,
        body: &[u8],
        mark: &mut impl AsyncFnMut() -> Result<(), MailboxError>,
    ) -> Result<Appended, Failed> {
        let ctx = Ctx {
            mailbox,
            server: self.server.address(),
            timeout: self.server.command_timeout,
            data_timeout: self.capped(self.server.data_timeout(body.len())),
            final_reply_timeout: self.capped(self.server.final_reply_timeout),
        };
        let session = self.session(mailbox).await?;
        let (client, pipelining) = (&mut session.client, session.pipelining);
        let result = transaction(client, pipelining, &ctx, sender, recipient, body, mark).await;
        if let Err(failed) = &result {
            let keep = !failed.broken
                && matches!(failed.error, MailboxError::Refused { .. })
                && tokio::time::timeout(ctx.timeout, client.rset())
                    .await
                    .is_ok_and(|reset| reset.is_ok());
            if !keep {
                self.session = None;
            }
        }
        result
    }
}

/// Sends each write at once (`TCP_NODELAY`). Otherwise the end of a
/// message, a few bytes written after the rest, waits for the server to
/// acknowledge the rest, which a server with nothing to answer yet delays
/// (40 ms on Linux): each copy would take that long, and a crash in that
/// time would leave the server taking a copy the ledger does not know.
/// Best effort: a socket that refuses it only sends more slowly.
fn no_delay(stream: &tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        warn!(%error, "cannot turn off the delay of small writes (TCP_NODELAY)");
    }
}

/// What errors and time limits of an attempt need.
struct Ctx<'a> {
    mailbox: &'a str,
    server: String,
    /// Each command's answer.
    timeout: Duration,
    /// Writing the message ([`SmtpServer::data_timeout`]).
    data_timeout: Duration,
    /// The reply once the message was sent.
    final_reply_timeout: Duration,
}

impl Ctx<'_> {
    /// `step` did not finish within `limit`.
    fn timed_out(&self, step: &'static str, limit: Duration) -> MailboxError {
        MailboxError::Timeout {
            server: self.server.clone(),
            step,
            secs: seconds(limit),
        }
    }

    /// Maps a `mail-send` error of `command`: a 4xx or 5xx answer is a
    /// refusal (4xx temporary), a timeout is one, the rest a lost
    /// connection.
    fn error(&self, command: &'static str, error: mail_send::Error) -> MailboxError {
        match error {
            mail_send::Error::UnexpectedReply(reply) => refused(self.mailbox, command, &reply),
            mail_send::Error::Timeout => self.timed_out(command, self.timeout),
            other => MailboxError::Lost {
                mailbox: self.mailbox.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// The SMTP transaction of one copy on an open connection; MAIL FROM,
/// RCPT TO and DATA in one round trip when the server offers PIPELINING
/// (RFC 2920: DATA last of the group).
async fn transaction(
    client: &mut Client,
    pipelining: bool,
    ctx: &Ctx<'_>,
    sender: &str,
    recipient: &str,
    body: &[u8],
    mark: &mut impl AsyncFnMut() -> Result<(), MailboxError>,
) -> Result<Appended, Failed> {
    let reply = if pipelining {
        pipelined(client, ctx, sender, recipient).await?
    } else {
        let none = Parameters::default();
        client
            .mail_from(sender, &none)
            .await
            .map_err(|e| ctx.error("MAIL FROM", e))?;
        client
            .rcpt_to(recipient, &none)
            .await
            .map_err(|e| ctx.error("RCPT TO", e))?;
        client
            .cmd(b"DATA\r\n")
            .await
            .map_err(|e| ctx.error("DATA", e))?
    };
    if reply.code() != 354 {
        return Err(refused(ctx.mailbox, "DATA", &reply).into());
    }
    // The message as it goes on the wire (mail-send's transparency: a line
    // starting with a dot gets another), ended by CRLF . CRLF: the
    // message's own last line break is that CRLF, or the copy would gain
    // an empty line.
    let body = body
        .strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
        .unwrap_or(body);
    let mut wire = SmtpClient {
        stream: std::io::Cursor::new(Vec::with_capacity(body.len() + body.len() / 64 + 8)),
        timeout: ctx.timeout,
    };
    wire.write_message(body)
        .await
        .expect("writing to memory does not fail");
    let wire = wire.stream.into_inner();
    let (message, end) = wire.split_at(wire.len() - b".\r\n".len());
    // Writes within a time limit; the error names the step.
    let mut write = async |bytes: &[u8], step: &'static str, limit: Duration| {
        use tokio::io::AsyncWriteExt;
        let written = async {
            client.stream.write_all(bytes).await?;
            client.stream.flush().await
        };
        match tokio::time::timeout(limit, written).await {
            Err(_) => Err(ctx.timed_out(step, limit)),
            Ok(Err(e)) => Err(ctx.error(step, e.into())),
            Ok(Ok(())) => Ok(()),
        }
    };
    // All but the end: the server cannot take the message yet, so a
    // failure here is certain not to have delivered it.
    let broken = |error| Failed {
        error,
        uncertain: false,
        broken: true,
    };
    write(message, "message", ctx.data_timeout)
        .await
        .map_err(broken)?;
    if let Err(error) = mark().await {
        // The server waits for an end it will not get: the connection is
        // dropped, which abandons the transaction.
        return Err(broken(error));
    }
    // From here on the server may take the message.
    let uncertain = |error| Failed {
        error,
        uncertain: true,
        broken: true,
    };
    write(end, "end of data", ctx.timeout)
        .await
        .map_err(uncertain)?;
    let reply = match tokio::time::timeout(ctx.final_reply_timeout, client.read()).await {
        Err(_) => {
            return Err(uncertain(
                ctx.timed_out("end of data", ctx.final_reply_timeout),
            ));
        }
        Ok(Err(e)) => return Err(uncertain(ctx.error("end of data", e))),
        Ok(Ok(reply)) => reply,
    };
    match reply.code() {
        200..=299 => Ok(Appended {
            uid: Some(reply.message().trim().to_owned()).filter(|m| !m.is_empty()),
        }),
        // A definite refusal: the server did not take the message.
        _ => Err(refused(ctx.mailbox, "end of data", &reply).into()),
    }
}

/// MAIL FROM, RCPT TO and DATA written at once (RFC 2920), their
/// answers read in order, each within the command timeout; returns the
/// answer to DATA once the other two were positive. A refusal is that
/// command's, kept when the connection ends before the later answers.
/// DATA taken after a refused RCPT TO (which RFC 2920 lets a server do)
/// is ended by the lone dot, a message to no recipient; after a refused
/// MAIL FROM the connection is dropped instead, for a recipient may have
/// been taken.
async fn pipelined(
    client: &mut Client,
    ctx: &Ctx<'_>,
    sender: &str,
    recipient: &str,
) -> Result<Response<String>, Failed> {
    use tokio::io::AsyncWriteExt;

    let group = format!("MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n");
    let written = async {
        client.stream.write_all(group.as_bytes()).await?;
        client.stream.flush().await
    };
    match tokio::time::timeout(ctx.timeout, written).await {
        Err(_) => return Err(ctx.timed_out("MAIL FROM", ctx.timeout).into()),
        Ok(Err(e)) => return Err(ctx.error("MAIL FROM", e.into()).into()),
        Ok(Ok(())) => {}
    }
    let (replies, failure) = read_replies(client, ctx, &["MAIL FROM", "RCPT TO", "DATA"]).await;
    let refusal = replies
        .iter()
        .zip(["MAIL FROM", "RCPT TO"])
        .find(|(reply, _)| !(200..300).contains(&reply.code()));
    match (refusal, replies.get(2), failure) {
        (Some((reply, command)), data, failure) => {
            let taken = data.is_some_and(|data| data.code() == 354);
            let broken = failure.is_some()
                || (taken
                    && (command == "MAIL FROM" || end_empty_message(client, ctx).await.is_err()));
            Err(Failed {
                error: refused(ctx.mailbox, command, reply),
                uncertain: false,
                broken,
            })
        }
        (None, Some(data), None) => Ok(data.clone()),
        (None, _, failure) => Err(failure
            .unwrap_or_else(|| ctx.error("DATA", mail_send::Error::UnparseableReply))
            .into()),
    }
}

/// Reads the answers to `commands`, sent at once, in order; returns those
/// read and, when not all came, why (named for the first missing one).
async fn read_replies(
    client: &mut Client,
    ctx: &Ctx<'_>,
    commands: &[&'static str],
) -> (Vec<Response<String>>, Option<MailboxError>) {
    use tokio::io::AsyncReadExt;

    let mut replies = Vec::with_capacity(commands.len());
    let mut parser = ResponseReceiver::default();
    let mut buf = vec![0u8; 1024];
    while let Some(&command) = commands.get(replies.len()) {
        let read = match tokio::time::timeout(ctx.timeout, client.stream.read(&mut buf)).await {
            Err(_) => return (replies, Some(ctx.timed_out(command, ctx.timeout))),
            Ok(Err(e)) => return (replies, Some(ctx.error(command, e.into()))),
            Ok(Ok(0)) => {
                let lost = MailboxError::Lost {
                    mailbox: ctx.mailbox.to_owned(),
                    reason: format!("the server closed the connection before answering {command}"),
                };
                return (replies, Some(lost));
            }
            Ok(Ok(read)) => read,
        };
        let mut bytes = buf[..read].iter();
        while replies.len() < commands.len() {
            match parser.parse(&mut bytes) {
                Ok(reply) => {
                    replies.push(reply);
                    parser.reset();
                }
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(_) => {
                    let error = ctx.error(command, mail_send::Error::UnparseableReply);
                    return (replies, Some(error));
                }
            }
        }
    }
    (replies, None)
}

/// Ends a message nobody will get (DATA taken after every recipient was
/// refused) with the lone dot, and reads the answer; a 2xx (the server
/// took a message to no one) is logged.
async fn end_empty_message(client: &mut Client, ctx: &Ctx<'_>) -> Result<(), MailboxError> {
    use tokio::io::AsyncWriteExt;

    let ended = async {
        client.stream.write_all(b".\r\n").await?;
        client.stream.flush().await?;
        client.read().await
    };
    match tokio::time::timeout(ctx.timeout, ended).await {
        Ok(Ok(reply)) => {
            if (200..300).contains(&reply.code()) {
                warn!(
                    mailbox = ctx.mailbox,
                    "the server took an empty message after refusing its recipient"
                );
            }
            Ok(())
        }
        Ok(Err(e)) => Err(ctx.error("end of data", e)),
        Err(_) => Err(ctx.timed_out("end of data", ctx.timeout)),
    }
}

/// A 4xx (temporary) or 5xx answer: its code and text.
fn refused(mailbox: &str, command: &'static str, reply: &Response<String>) -> MailboxError {
    let code = reply.code();
    // The enhanced status code (RFC 3463), which the parser takes out of
    // the text, is put back: `550 5.1.1 <…>: …` as the server said it.
    let status = match reply.esc {
        [0, 0, 0] => String::new(),
        [class, subject, detail] => format!(" {class}.{subject}.{detail}"),
    };
    MailboxError::Refused {
        mailbox: mailbox.to_owned(),
        command,
        answer: format!("{code}{status} {}", reply.message().trim()),
        temporary: (400..500).contains(&code),
    }
}

/// Maps a failure to connect: a refused login is an authentication error
/// (a 4xx answer to AUTH a temporary refusal, retried), the rest says the
/// server could not be used (a missing STARTTLS among them: never a
/// downgrade to plain text).
fn connect_error(
    address: &str,
    mailbox: &str,
    server: &SmtpServer,
    error: mail_send::Error,
) -> MailboxError {
    use mail_send::Error;
    let connect = |reason: String| MailboxError::Connect {
        server: address.to_owned(),
        reason,
    };
    match error {
        Error::Timeout => MailboxError::Timeout {
            server: address.to_owned(),
            step: "connect",
            secs: seconds(server.connect_timeout),
        },
        Error::MissingStartTls => {
            connect("the server does not offer STARTTLS; refusing to send in plain text".to_owned())
        }
        Error::AuthenticationFailed(reply) if (400..500).contains(&reply.code()) => {
            refused(mailbox, "AUTH", &reply)
        }
        Error::AuthenticationFailed(reply) => MailboxError::Auth {
            mailbox: mailbox.to_owned(),
            reason: format!("{} {}", reply.code(), reply.message().trim()),
        },
        Error::UnsupportedAuthMechanism => MailboxError::Auth {
            mailbox: mailbox.to_owned(),
            reason: "the server offers no AUTH mechanism for these credentials".to_owned(),
        },
        Error::Auth(e) => MailboxError::Auth {
            mailbox: mailbox.to_owned(),
            reason: e.to_string(),
        },
        other => connect(other.to_string()),
    }
}

/// Seconds rounded up, so that a sub-second limit never reads "within 0 s".
fn seconds(limit: Duration) -> u64 {
    limit.as_secs() + u64::from(limit.subsec_nanos() > 0)
}

/// A sender or recipient template with `{mailbox}` replaced; refused when
/// the result could not be an address in a MAIL FROM or RCPT TO command.
fn expand(template: &str, mailbox: &str) -> Result<String, MailboxError> {
    let address = template.replace("{mailbox}", mailbox);
    let usable = address.contains('@')
        && !address
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'));
    if usable {
        Ok(address)
    } else {
        Err(MailboxError::InvalidAddress(address))
    }
}

/// The message's bytes: borrowed when in memory, read from its file else.
fn read_message<'a>(mailbox: &str, message: &Envelope<'a>) -> Result<Cow<'a, [u8]>, MailboxError> {
    if let Some(bytes) = message.message.as_bytes() {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(message.message.len()).unwrap_or(0));
    message
        .message
        .copy_to(&mut bytes)
        .map_err(|source| MailboxError::Io {
            mailbox: mailbox.to_owned(),
            source,
        })?;
    Ok(Cow::Owned(bytes))
}

impl Mailbox for Smtp {
    async fn append(
        &mut self,
        mailbox: &str,
        _folder: &str,
        message: &Envelope<'_>,
    ) -> Result<Appended, MailboxError> {
        self.send(mailbox, message, async || Ok(())).await
    }

    fn searchable(&self) -> bool {
        false
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    async fn append_marked(
        &mut self,
        mailbox: &str,
        _folder: &str,
        message: &Envelope<'_>,
        mark: impl AsyncFnMut() -> Result<(), MailboxError>,
    ) -> Result<Appended, MailboxError> {
        self.send(mailbox, message, mark).await
    }

    /// SMTP cannot be searched: nothing is ever found.
    async fn find(
        &mut self,
        _mailbox: &str,
        _folder: &str,
        _message_id: &str,
    ) -> Result<Option<Appended>, MailboxError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_required_except_to_loopback() {
        let implicit = SmtpServer::from_url("smtps://smtp.corp.example").unwrap();
        assert_eq!(
            (implicit.security, implicit.port),
            (Security::ImplicitTls, 465)
        );
        let starttls = SmtpServer::from_url("smtp://journal.archive.example").unwrap();
        assert_eq!(
            (starttls.security, starttls.port),
            (Security::StartTls, 587)
        );
        let local = SmtpServer::from_url("smtp+plain://127.0.0.1:2525").unwrap();
        assert_eq!(local.security, Security::PlainLoopback);
        assert_eq!(local.address(), "127.0.0.1:2525");
        for remote in [
            "smtp+plain://journal.archive.example",
            "smtp+plain://10.0.0.5:25",
            "smtp+plain://[2001:db8::1]:25",
        ] {
            assert!(
                matches!(SmtpServer::from_url(remote), Err(UrlError::PlainRemote(_))),
                "{remote}"
            );
        }
        for bad in [
            "https://x",
            "smtps://",
            "smtps://u:p@host",
            "smtp://host/x",
            "nonsense",
        ] {
            assert!(SmtpServer::from_url(bad).is_err(), "{bad}");
        }
        let err = SmtpServer::from_url("smtp+plain://archiver:hunter2@mail.example").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    /// A stand-in SMTP server on loopback (the real wire format) that
    /// offers PIPELINING, answers nothing of a transaction until MAIL
    /// FROM, RCPT TO and DATA have all arrived, and refuses the RCPT TO
    /// of `refused@corp.example` (then DATA, as RFC 2920 has it) and of
    /// `late@corp.example` (taking DATA all the same), and for
    /// `closes@corp.example` refuses MAIL FROM and hangs up: a client that
    /// waited for each answer would hang. Returns its port and the
    /// commands it saw, in order.
    async fn pipelining_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 stand-in ESMTP\r\n").await.unwrap();
            let mut group = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                log.lock().unwrap().push(line.clone());
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-stand-in\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                    "MAIL" | "RCPT" => {
                        group.push(line);
                        continue;
                    }
                    "DATA" => {
                        let refused = group.iter().any(|l| l.contains("refused@"));
                        let late = group.iter().any(|l| l.contains("late@"));
                        let closes = group.iter().any(|l| l.contains("closes@"));
                        group.clear();
                        if closes {
                            // A policy refusal of MAIL FROM, then gone.
                            write
                                .write_all(b"554 5.7.1 not from you\r\n")
                                .await
                                .unwrap();
                            break;
                        } else if late {
                            // Not as RFC 2920 has it: DATA taken after the
                            // recipient was refused.
                            write
                                .write_all(b"250 ok\r\n550 no such user\r\n354 go on\r\n")
                                .await
                                .unwrap();
                            let end = lines.next_line().await.unwrap().unwrap();
                            log.lock().unwrap().push(end);
                            b"554 no valid recipients\r\n"
                        } else if refused {
                            b"250 ok\r\n550 no such user\r\n554 no valid recipients\r\n"
                        } else {
                            write
                                .write_all(b"250 ok\r\n250 ok\r\n354 go on\r\n")
                                .await
                                .unwrap();
                            while let Ok(Some(body)) = lines.next_line().await {
                                if body == "." {
                                    break;
                                }
                            }
                            b"250 2.0.0 queued as X1\r\n"
                        }
                    }
                    "RSET" => b"250 ok\r\n",
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => b"502 not here\r\n",
                };
                write.write_all(answer).await.unwrap();
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn a_server_offering_pipelining_gets_mail_rcpt_and_data_in_one_round_trip() {
        let (port, seen) = pipelining_server().await;
        let mut server = SmtpServer::from_url(&format!("smtp+plain://127.0.0.1:{port}")).unwrap();
        server.command_timeout = Duration::from_secs(5);
        server.attempts = 1;
        let mut smtp = Smtp::new(
            server,
            None,
            Routing {
                sender: "archiver@corp.example".to_owned(),
                recipient: "{mailbox}".to_owned(),
                format: Format::Plain,
            },
        );
        let bytes = b"Message-ID: <p1@mobile-archiver>\r\nSubject: hi\r\n\r\nbody\r\n";
        let envelope = |id| Envelope {
            message_id: id,
            message: crate::mailbox::Message::from_bytes(bytes),
            internal_date: chrono::Utc::now(),
        };
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            smtp.append("alice@corp.example", "F", &envelope("p1@mobile-archiver")),
        )
        .await
        .expect("the stand-in answers only once all three commands arrived")
        .unwrap();
        assert_eq!(sent.uid.as_deref(), Some("queued as X1"));
        // A refused recipient in the group is that copy's refusal, and the
        // connection goes on after RSET.
        let refused = smtp
            .append("refused@corp.example", "F", &envelope("p2@mobile-archiver"))
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("RCPT TO") && refused.to_string().contains("550"),
            "{refused}"
        );
        // A server that takes DATA all the same gets an empty message (the
        // lone dot), and the connection goes on too.
        let late = smtp
            .append("late@corp.example", "F", &envelope("p4@mobile-archiver"))
            .await
            .unwrap_err();
        assert!(late.to_string().contains("RCPT TO"), "{late}");
        smtp.append("bob@corp.example", "F", &envelope("p3@mobile-archiver"))
            .await
            .unwrap();
        // MAIL FROM refused and the connection closed before the other
        // answers: the refusal is kept, for good (a 5xx), not retried.
        let gone = smtp
            .append("closes@corp.example", "F", &envelope("p5@mobile-archiver"))
            .await
            .unwrap_err();
        assert!(
            gone.to_string().contains("MAIL FROM") && gone.to_string().contains("554"),
            "{gone}"
        );
        assert!(!gone.is_transient(), "{gone}");
        smtp.close().await;
        let seen = seen.lock().unwrap().clone();
        let verbs: Vec<&str> = seen
            .iter()
            .map(|l| l.split([' ', ':']).next().unwrap())
            .collect();
        assert_eq!(
            verbs,
            [
                "EHLO", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT",
                "DATA", ".", "RSET", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA"
            ],
            "{seen:?}"
        );
        assert_eq!(seen[1], "MAIL FROM:<archiver@corp.example>");
        assert_eq!(seen[2], "RCPT TO:<alice@corp.example>");
    }

    #[test]
    fn templates_make_addresses_and_refuse_injection() {
        assert_eq!(
            expand("{mailbox}", "alice@corp.example").unwrap(),
            "alice@corp.example"
        );
        assert_eq!(
            expand("journal@archive.example", "alice@corp.example").unwrap(),
            "journal@archive.example"
        );
        assert!(expand("", "a@b").is_err());
        assert!(expand("{mailbox}", "a@b>\r\nRCPT TO:<x@y").is_err());
        assert!(expand("no-at-sign", "a@b").is_err());
    }
}
