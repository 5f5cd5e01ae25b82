//! What the archive holds, counted from the store itself: per source, what
//! was collected and when; what was converted, left unmapped or failed;
//! what was delivered to each mailbox, and what still waits. The
//! administrator's `archiver status`, on a local store or a bucket.
//!
//! Everything is read from keys and the small records the stages write
//! (checkpoints, job files); no message is read.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::json_error;
use crate::layout::{
    self, COLLECTED_PREFIX, Collected, EML_PREFIX, FAILED_LINES_PREFIX, FAILED_PREFIX, JOBS_PREFIX,
    LEDGER_PREFIX, RAW_PREFIX, REFUSED_DROPS_PREFIX, REMAPPED_PREFIX, UNMAPPED_PREFIX,
};
use crate::store::{ObjectStore, StoreError};

/// Why the status cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The store cannot be listed or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A checkpoint record is not what collect writes.
    #[error("checkpoint {key} is unreadable: {reason}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// What is wrong with it (see [`crate::json_error`]).
        reason: String,
    },
}

/// The archive's state, as counted from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Per source that has collected anything, by name.
    pub sources: BTreeMap<String, SourceStatus>,
    /// E-mails written (`eml/`).
    pub emails_written: u64,
    /// Items no mailbox maps to (`unmapped/`, less those recovered).
    pub unmapped_items: u64,
    /// Items once unmapped that a later mapping maps (`remapped/`).
    pub remapped_items: u64,
    /// Items that could not be rendered (`failed/<day>/`).
    pub failed_items: u64,
    /// Raw lines that are no item (`failed/lines/`).
    pub failed_lines: u64,
    /// Copies delivered, in all.
    pub copies_delivered: u64,
    /// Copies delivered per mailbox (`delivered/<mailbox>/`).
    pub delivered: BTreeMap<String, u64>,
    /// Batches converted whose delivery has not finished (a `jobs/` file
    /// without its `done/` marker).
    pub batches_pending_delivery: u64,
    /// Delivery jobs in those batches (each one copy for one mailbox;
    /// some may be delivered already, the batch is done when all are).
    pub jobs_pending: u64,
}

/// What one source collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// Units collected (drops, pages): its checkpoints.
    pub collected: u64,
    /// Of those, units refused (kept with their reason under
    /// `failed/drops/`).
    pub refused: u64,
    /// Items collected.
    pub items: u64,
    /// The latest collection day with a raw batch (`raw/<source>/<day>/`).
    pub last_collection_day: Option<String>,
}

impl Status {
    /// Counts the store's content.
    ///
    /// # Errors
    ///
    /// [`StatusError`] when the store cannot be read or a checkpoint record
    /// is unreadable (named by its key).
    pub async fn read<S: ObjectStore>(store: &S) -> Result<Status, StatusError> {
        let mut status = Status::default();
        for key in store.list(COLLECTED_PREFIX).await? {
            let Some((source, _)) = key
                .strip_prefix(COLLECTED_PREFIX)
                .and_then(|rest| rest.split_once('/'))
            else {
                continue;
            };
            if !layout::is_source_name(source) {
                continue;
            }
            let Some(bytes) = store.get(&key).await? else {
                continue;
            };
            let record: Collected =
                serde_json::from_slice(&bytes).map_err(|e| StatusError::Corrupt {
                    key: key.clone(),
                    reason: json_error::describe(&e),
                })?;
            let entry = status.sources.entry(source.to_owned()).or_default();
            entry.collected += 1;
            entry.items += record.items;
            if record.refused_key.is_some() {
                entry.refused += 1;
            }
        }
        for key in store.list(RAW_PREFIX).await? {
            if let Some((source, day)) = layout::raw_day(&key) {
                let day = day.to_string();
                let entry = status.sources.entry(source.to_owned()).or_default();
                if entry.last_collection_day.as_deref() < Some(day.as_str()) {
                    entry.last_collection_day = Some(day);
                }
            }
        }
        status.emails_written = store.list(EML_PREFIX).await?.len() as u64;
        let remapped: std::collections::HashSet<String> =
            store.list(REMAPPED_PREFIX).await?.into_iter().collect();
        status.remapped_items = remapped.len() as u64;
        status.unmapped_items = store
            .list(UNMAPPED_PREFIX)
            .await?
            .iter()
            .filter(|key| layout::remapped_key_of(key).is_none_or(|key| !remapped.contains(&key)))
            .count() as u64;
        for key in store.list(FAILED_PREFIX).await? {
            if key.starts_with(FAILED_LINES_PREFIX) {
                status.failed_lines += 1;
            } else if !key.starts_with(REFUSED_DROPS_PREFIX) {
                status.failed_items += 1;
            }
        }
        for key in store.list(LEDGER_PREFIX).await? {
            if let Some((mailbox, _)) = key[LEDGER_PREFIX.len()..].split_once('/') {
                *status.delivered.entry(mailbox.to_owned()).or_default() += 1;
                status.copies_delivered += 1;
            }
        }
        for key in store.list(JOBS_PREFIX).await? {
            let Some(batch) = layout::RawBatch::of_jobs_key(&key) else {
                continue;
            };
            if store.get(&batch.done_key()).await?.is_some() {
                continue;
            }
            status.batches_pending_delivery += 1;
            if let Some(jobs) = store.get(&key).await? {
                status.jobs_pending += jobs
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count() as u64;
            }
        }
        Ok(status)
    }
}
