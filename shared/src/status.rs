//! What the archive holds, counted from the store itself: per source, what
//! was collected and when; what was converted, left unmapped or failed;
//! what was delivered to each mailbox, and what still waits. The
//! administrator's `archiver status`, on a local store or a bucket.
//!
//! Everything is read from keys and the small records the stages write
//! (checkpoints, job files); no message is read.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::json_error;
use crate::layout::{
    self, COLLECTED_PREFIX, CollectRun, Collected, DONE_PREFIX, EML_PREFIX, FAILED_LINES_PREFIX,
    FAILED_PREFIX, Failed, FailedLine, JOBS_PREFIX, LEDGER_PREFIX, RAW_PREFIX,
    REFUSED_DROPS_PREFIX, REMAPPED_PREFIX, UNMAPPED_PREFIX, Unmapped,
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
    /// Job files (of batches, remaps, digest parts) with a copy the
    /// ledger does not record yet.
    pub batches_pending_delivery: u64,
    /// Copies not delivered yet: jobs without their ledger entry (those of
    /// remaps and digest parts are in this total, under no source).
    pub jobs_pending: u64,
    /// When the newest collect run finished (its record's time, RFC 3339
    /// without colons as in its key), if any run left one.
    pub last_collect_run: Option<String>,
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
    /// The greatest checkpoint position: where a source that pulls in
    /// order goes on from (WeCom: `s<seq>`; an export's is a content hash).
    pub checkpoint: Option<String>,
    /// When the newest collect run that collected from it (or found its
    /// units collected) finished.
    pub last_run: Option<String>,
    /// Its items no mailbox maps to (less those recovered).
    pub unmapped: u64,
    /// Its items or lines that could not be rendered.
    pub failed: u64,
    /// Copies of its batches not delivered yet.
    pub jobs_pending: u64,
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
            let position = &key[layout::checkpoints_prefix(source).len()..];
            if entry.checkpoint.as_deref() < Some(position) {
                entry.checkpoint = Some(position.to_owned());
            }
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
        status.read_collect_runs(store).await?;
        status.emails_written = store.list(EML_PREFIX).await?.len() as u64;
        let remapped: HashSet<String> = store.list(REMAPPED_PREFIX).await?.into_iter().collect();
        status.remapped_items = remapped.len() as u64;
        for key in store.list(UNMAPPED_PREFIX).await? {
            if layout::remapped_key_of(&key).is_some_and(|key| remapped.contains(&key)) {
                continue;
            }
            status.unmapped_items += 1;
            if let Some(record) = counted_record::<_, Unmapped>(store, &key).await? {
                status.count_for(&record.raw_key, |source| source.unmapped += 1);
            }
        }
        for key in store.list(FAILED_PREFIX).await? {
            if key.starts_with(REFUSED_DROPS_PREFIX) {
                continue;
            }
            let raw_key = if key.starts_with(FAILED_LINES_PREFIX) {
                status.failed_lines += 1;
                counted_record::<_, FailedLine>(store, &key)
                    .await?
                    .map(|r| r.raw_key)
            } else {
                status.failed_items += 1;
                counted_record::<_, Failed>(store, &key)
                    .await?
                    .map(|r| r.raw_key)
            };
            if let Some(raw_key) = raw_key {
                status.count_for(&raw_key, |source| source.failed += 1);
            }
        }
        let ledger: HashSet<String> = store.list(LEDGER_PREFIX).await?.into_iter().collect();
        for key in &ledger {
            if let Some((mailbox, _)) = key[LEDGER_PREFIX.len()..].split_once('/') {
                *status.delivered.entry(mailbox.to_owned()).or_default() += 1;
                status.copies_delivered += 1;
            }
        }
        status.read_backlog(store, &ledger).await?;
        Ok(status)
    }

    /// The collect runs' records: the newest run, and each source's.
    async fn read_collect_runs<S: ObjectStore>(&mut self, store: &S) -> Result<(), StatusError> {
        let prefix = layout::collect_runs_prefix_all();
        for key in store.list(&prefix).await? {
            let Some(run) = counted_record::<_, CollectRun>(store, &key).await? else {
                continue;
            };
            let finished = run.finished_at.replace(':', "");
            if self.last_collect_run.as_deref() < Some(finished.as_str()) {
                self.last_collect_run = Some(finished.clone());
            }
            for source in run.sources.keys() {
                if let Some(entry) = self.sources.get_mut(source)
                    && entry.last_run.as_deref() < Some(finished.as_str())
                {
                    entry.last_run = Some(finished.clone());
                }
            }
        }
        Ok(())
    }

    /// The copies not delivered yet: every job file's jobs whose ledger
    /// entry is missing (a batch marked `done/` by the embedded deliver is
    /// skipped unread; the deliver function marks none, so in AWS every
    /// job file is read).
    async fn read_backlog<S: ObjectStore>(
        &mut self,
        store: &S,
        ledger: &HashSet<String>,
    ) -> Result<(), StatusError> {
        let done: HashSet<String> = store.list(DONE_PREFIX).await?.into_iter().collect();
        for key in store.list(JOBS_PREFIX).await? {
            let Some(batch) = layout::RawBatch::of_jobs_key(&key) else {
                continue;
            };
            if done.contains(&batch.done_key()) {
                continue;
            }
            let Some(bytes) = store.get(&key).await? else {
                continue;
            };
            let mut jobs = Vec::new();
            crate::jobs::read_lines(&bytes, &key, &mut jobs, &mut Default::default());
            let waiting = jobs
                .iter()
                .filter(|job| !ledger.contains(&layout::ledger_key(&job.mailbox, &job.message_id)))
                .count() as u64;
            if waiting == 0 {
                continue;
            }
            self.batches_pending_delivery += 1;
            self.jobs_pending += waiting;
            if let Some(source) = self.sources.get_mut(&batch.source) {
                source.jobs_pending += waiting;
            }
        }
        Ok(())
    }

    /// Applies `count` to the source of the raw batch `raw_key`, if known.
    fn count_for(&mut self, raw_key: &str, count: impl FnOnce(&mut SourceStatus)) {
        if let Some(source) =
            layout::RawBatch::parse(raw_key).and_then(|batch| self.sources.get_mut(&batch.source))
        {
            count(source);
        }
    }
}

/// A record counted by its key that also says which source it is of;
/// `None` when it went meanwhile or cannot be read (it is counted all the
/// same, under no source: the daily report names unreadable records).
async fn counted_record<S: ObjectStore, T: serde::de::DeserializeOwned>(
    store: &S,
    key: &str,
) -> Result<Option<T>, StatusError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&bytes).ok())
}
