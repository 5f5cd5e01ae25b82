//! The delivery ledger: one create-only object per delivered message per
//! mailbox (`delivered/<mailbox>/<message-id-hash>`), and the exactly-once
//! delivery rule built on it.
//!
//! The entry is written after a successful append. Before appending, the
//! ledger is checked; a job that may have run before (a retry) also searches
//! the folder for the Message-ID, so a crash between the append and the
//! ledger write never makes a duplicate.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::json_error;
use crate::layout::{self, LedgerEntry, ledger_key};
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
    #[error("ledger entry {key} is unreadable: {reason}")]
    Corrupt {
        /// The ledger object key.
        key: String,
        /// What is wrong with it (see [`crate::json_error`]).
        reason: String,
    },
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
    store.put_new(&key, &layout::record(&entry)).await?;
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
            .map_err(|e| LedgerError::Corrupt {
                key,
                reason: json_error::describe(&e),
            }),
    }
}
