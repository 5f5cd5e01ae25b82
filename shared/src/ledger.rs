//! The delivery ledger: one create-only object per delivered message per
//! mailbox (`delivered/<mailbox>/<message-id-hash>`), and the exactly-once
//! delivery rule built on it.
//!
//! The entry is written after a successful append. Before appending, the
//! ledger is checked; a job that may have run before (a retry) also searches
//! the folder for the Message-ID, so a crash between the append and the
//! ledger write never makes a duplicate.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::mailbox::{Envelope, Mailbox, MailboxError};
use crate::store::{ObjectStore, StoreError};

/// Errors of ledgered delivery.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The mailbox refused or failed.
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    /// The ledger could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ledger object is not valid JSON of the expected shape.
    #[error("ledger entry {key} is unreadable: {source}")]
    Corrupt {
        /// The ledger object key.
        key: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// What the ledger records of one delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The message's Message-ID.
    pub message_id: String,
    /// The mailbox address.
    pub mailbox: String,
    /// The folder it was put in.
    pub folder: String,
    /// The server's id of the message (APPENDUID), when known.
    pub uid: Option<String>,
    /// SHA-256 (hex) of the delivered bytes.
    pub sha256: String,
    /// When the delivery was recorded (RFC 3339, UTC).
    pub recorded_at: String,
}

/// The ledger key of a message in a mailbox.
pub fn ledger_key(mailbox: &str, message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("delivered/{}/{}", mailbox, hex::encode(digest))
}

/// How a delivery job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The message was appended now.
    Delivered,
    /// The ledger already had it: nothing was done.
    AlreadyDelivered,
    /// The folder already had it (an earlier attempt crashed before the
    /// ledger write): the ledger entry was written, nothing appended.
    Recovered,
}

/// One message for one mailbox.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The mailbox address.
    pub mailbox: &'a str,
    /// The folder in the mailbox.
    pub folder: &'a str,
    /// The message.
    pub message: Envelope<'a>,
}

/// Delivers a message at most once per mailbox, recording it in the ledger.
///
/// `may_have_run` says the job may have been attempted before (a retry, a
/// replay, a resumed run); only then is the folder searched before appending.
pub async fn deliver_once<S: ObjectStore, M: Mailbox>(
    store: &S,
    target: &mut M,
    job: &Job<'_>,
    may_have_run: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, LedgerError> {
    let key = ledger_key(job.mailbox, job.message.message_id);
    if store.get(&key).await?.is_some() {
        return Ok(Outcome::AlreadyDelivered);
    }
    let (uid, outcome) = match may_have_run {
        true => match target
            .find(job.mailbox, job.folder, job.message.message_id)
            .await?
        {
            Some(found) => (found.uid, Outcome::Recovered),
            None => (append(target, job).await?, Outcome::Delivered),
        },
        false => (append(target, job).await?, Outcome::Delivered),
    };
    let entry = LedgerEntry {
        message_id: job.message.message_id.to_owned(),
        mailbox: job.mailbox.to_owned(),
        folder: job.folder.to_owned(),
        uid,
        sha256: hex::encode(Sha256::digest(job.message.bytes)),
        recorded_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    let body = serde_json::to_vec(&entry).expect("ledger entries serialize");
    store.put_new(&key, &body).await?;
    Ok(outcome)
}

async fn append<M: Mailbox>(target: &mut M, job: &Job<'_>) -> Result<Option<String>, MailboxError> {
    Ok(target
        .append(job.mailbox, job.folder, &job.message)
        .await?
        .uid)
}

/// Reads a ledger entry, if the message was delivered to the mailbox.
pub async fn entry<S: ObjectStore>(
    store: &S,
    mailbox: &str,
    message_id: &str,
) -> Result<Option<LedgerEntry>, LedgerError> {
    let key = ledger_key(mailbox, message_id);
    match store.get(&key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| LedgerError::Corrupt { key, source }),
    }
}
