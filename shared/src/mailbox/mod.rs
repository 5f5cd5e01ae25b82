//! Mailboxes: where rendered items are delivered, one folder per messenger.
//!
//! A [`Mailbox`] puts a message into a folder of a user's mailbox. The
//! exactly-once rule (ledger first, then a search, then the append) lives in
//! [`crate::ledger`]; implementations only append and search. SMTP cannot
//! search: it marks each copy just before the server takes it, so that a
//! crash's possible duplicates can be counted (see [`smtp`]).

pub mod imap;
mod maildir;
mod message;
pub mod smtp;

use std::future::Future;

use chrono::{DateTime, Utc};

pub use imap::Imap;
pub use maildir::Maildir;
pub use message::{Chunks, Message};
pub use smtp::Smtp;

/// Errors of a mailbox target.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// The mailbox address cannot name a mailbox (empty, path characters).
    #[error("invalid mailbox address {0:?}")]
    InvalidAddress(String),
    /// The folder name cannot be used (empty, path or control characters).
    #[error("invalid folder name {0:?}")]
    InvalidFolder(String),
    /// Writing to the mailbox failed.
    #[error("mailbox {mailbox}: {source}")]
    Io {
        /// The mailbox address.
        mailbox: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server could not be reached.
    #[error("cannot connect to {server}: {reason}")]
    Connect {
        /// `host:port`.
        server: String,
        /// What failed (DNS, TCP, TLS).
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{server} did not answer {step} within {secs} s")]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was waited for (connect, greeting, LOGIN, APPEND…).
        step: &'static str,
        /// The timeout.
        secs: u64,
    },
    /// The server refused the credentials.
    #[error("login to mailbox {mailbox} refused: {reason}")]
    Auth {
        /// The mailbox address.
        mailbox: String,
        /// The server's answer or the token endpoint's error.
        reason: String,
    },
    /// The server answered NO or BAD to a command.
    #[error("mailbox {mailbox}: {command} refused: {answer}")]
    Refused {
        /// The mailbox address.
        mailbox: String,
        /// The command.
        command: &'static str,
        /// The server's answer.
        answer: String,
        /// A throttling or temporary answer: worth retrying after a pause.
        temporary: bool,
    },
    /// The connection was closed (BYE, reset) or the server sent something
    /// that is not IMAP.
    #[error("mailbox {mailbox}: connection lost: {reason}")]
    Lost {
        /// The mailbox address.
        mailbox: String,
        /// What happened.
        reason: String,
    },
    /// The mark that a copy is being sent (see [`Mailbox::append_marked`])
    /// could not be written; the copy was not sent.
    #[error("cannot mark the copy for {mailbox} as being sent: {reason}")]
    Mark {
        /// The mailbox address.
        mailbox: String,
        /// The store's error.
        reason: String,
    },
    /// The message is larger than the target accepts.
    #[error("message of {size} bytes exceeds the target's limit of {limit} bytes")]
    TooLarge {
        /// Message size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl MailboxError {
    /// Whether the server itself could not be reached (connect, TLS or
    /// greeting failed or timed out), as opposed to one mailbox's trouble.
    pub fn is_server_unreachable(&self) -> bool {
        match self {
            MailboxError::Connect { .. } => true,
            MailboxError::Timeout { step, .. } => {
                matches!(*step, "connect" | "TLS handshake" | "greeting")
            }
            _ => false,
        }
    }

    /// Whether trying again later (on a new connection) may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            MailboxError::Connect { .. }
            | MailboxError::Timeout { .. }
            | MailboxError::Lost { .. }
            | MailboxError::Io { .. }
            | MailboxError::Mark { .. } => true,
            MailboxError::Refused { temporary, .. } => *temporary,
            MailboxError::InvalidAddress(_)
            | MailboxError::InvalidFolder(_)
            | MailboxError::Auth { .. }
            | MailboxError::TooLarge { .. } => false,
        }
    }
}

/// One message to deliver.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The message's Message-ID, without angle brackets.
    pub message_id: &'a str,
    /// The RFC 5322 message.
    pub message: Message<'a>,
    /// The time the mailbox shows as received: the item's source time.
    pub internal_date: DateTime<Utc>,
}

/// What the server said about an appended message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The server's id of the stored message (IMAP APPENDUID, Maildir file name), if it gives one.
    pub uid: Option<String>,
}

/// A delivery target holding many users' mailboxes.
pub trait Mailbox {
    /// Appends a message to `folder` of `mailbox`, creating the folder when
    /// missing; the message is marked seen. It is durable (and, for a
    /// writer that stages messages, in place) after the next
    /// [`Mailbox::commit`].
    fn append(
        &mut self,
        mailbox: &str,
        folder: &str,
        message: &Envelope<'_>,
    ) -> impl Future<Output = Result<Appended, MailboxError>>;

    /// Makes every message appended since the last commit durable and puts
    /// it in place; the ledger entries for them are written only after this
    /// returns. A Maildir syncs its file system once for all of them; an
    /// IMAP server stored each message before it answered the APPEND, so
    /// there is nothing left to do.
    fn commit(&mut self) -> impl Future<Output = Result<(), MailboxError>> {
        std::future::ready(Ok(()))
    }

    /// Whether appending and committing keep the calling thread busy with
    /// file-system calls (Maildir) rather than await a server: several
    /// such targets' lanes are run on threads of their own (see
    /// [`crate::deliver::deliver_jobs`]).
    fn blocks(&self) -> bool {
        false
    }

    /// Whether [`Mailbox::find`] can search the folders (IMAP, Maildir).
    /// A target that cannot (SMTP) has every copy recorded in the ledger
    /// as soon as the server took it, and is appended to with
    /// [`Mailbox::append_marked`].
    fn searchable(&self) -> bool {
        true
    }

    /// [`Mailbox::append`] for a target that cannot be searched: `mark` is
    /// awaited at the last moment before the server may take the message
    /// (SMTP: the message sent but for its end, the final dot), with
    /// nothing between it and that moment, so that a crash after it may
    /// have delivered a copy the ledger does not know, and a crash before
    /// it did not.
    /// A searchable target needs no mark: it only appends.
    fn append_marked(
        &mut self,
        mailbox: &str,
        folder: &str,
        message: &Envelope<'_>,
        mark: impl AsyncFnMut() -> Result<(), MailboxError>,
    ) -> impl Future<Output = Result<Appended, MailboxError>> {
        drop(mark);
        self.append(mailbox, folder, message)
    }

    /// The instant by which the current invocation must end (a Lambda's
    /// deadline), or `None`: a target that waits long on its server (SMTP's
    /// final reply) waits no longer than that. Others ignore it.
    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        let _ = deadline;
    }

    /// Finds a message with this Message-ID in `folder` of `mailbox`
    /// (always `None` for a target that cannot be searched).
    fn find(
        &mut self,
        mailbox: &str,
        folder: &str,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<Appended>, MailboxError>>;
}
