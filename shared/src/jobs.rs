//! Delivery jobs, and the queue that carries them from convert to deliver.
//!
//! Convert makes one [`DeliveryJob`] per (item, mailbox) and always
//! persists a batch's jobs in the store first (`jobs/<batch>`, one JSON job
//! per line), in every mode: the store is the record of what must be
//! delivered, for a re-run, a reconciler, an auditor. Only then does it hand
//! them to a [`JobQueue`], which merely carries them: an SQS FIFO queue in
//! AWS (`crate::lambda::SqsQueue`), or the store itself in embedded mode
//! ([`StoreQueue`]), where deliver reads the job files without a `done/`
//! marker.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::json_error;
use crate::layout::{Fingerprint, JOBS_PREFIX, RawBatch};
use crate::report::Report;
use crate::store::{ObjectStore, StoreError};

/// One copy of one item for one mailbox: the message the deliver stage appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    /// The mailbox address.
    pub mailbox: String,
    /// The folder in that mailbox.
    pub folder: String,
    /// Key of the EML in the archive store.
    pub eml_key: String,
    /// The EML's Message-ID.
    pub message_id: String,
    /// The item's source time (RFC 3339), the message's INTERNALDATE.
    pub timestamp: String,
    /// The EML as convert stored it (or found it stored) when it made the
    /// job; absent in jobs made before. Deliver refuses an EML that no
    /// longer matches, and a day's manifest lists it without reading it
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eml: Option<Fingerprint>,
    /// Whether the EML has its attachments as stubs, to fit the target's
    /// size limit (the files stay in the archive); counted by the daily
    /// report. Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stubbed: bool,
}

/// Why jobs could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue refused the call.
    #[error("deliver queue: {0}")]
    Send(String),
    /// Some jobs were refused every time.
    #[error("deliver queue: {count} jobs refused ({reason})")]
    Refused {
        /// How many jobs.
        count: usize,
        /// The queue's reason for the first of them.
        reason: String,
    },
}

/// Carries delivery jobs, already persisted (a batch's under
/// [`RawBatch::jobs_key`]), to the deliver stage.
pub trait JobQueue: Send + Sync {
    /// Hands over `jobs`.
    fn send(&self, jobs: &[DeliveryJob]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The store as the queue (embedded mode): the job file convert wrote is
/// the message; [`StoreQueue::pending`] finds the batches not yet
/// delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreQueue;

impl JobQueue for StoreQueue {
    async fn send(&self, _jobs: &[DeliveryJob]) -> Result<(), QueueError> {
        Ok(())
    }
}

impl StoreQueue {
    /// The batches whose job file has no `done/` marker (a remap's job
    /// files among them: [`RawBatch::remap`]).
    pub async fn pending<S: ObjectStore>(store: &S) -> Result<Vec<RawBatch>, StoreError> {
        let mut pending = Vec::new();
        for key in store.list(JOBS_PREFIX).await? {
            let Some(batch) = RawBatch::of_jobs_key(&key) else {
                continue;
            };
            if store.get(&batch.done_key()).await?.is_none() {
                pending.push(batch);
            }
        }
        Ok(pending)
    }
}

/// A job file's bytes: one JSON job per line.
pub fn to_lines(jobs: &[DeliveryJob]) -> Vec<u8> {
    let mut lines = Vec::new();
    for job in jobs {
        serde_json::to_writer(&mut lines, job).expect("jobs serialize");
        lines.push(b'\n');
    }
    lines
}

/// Parses a job file into `jobs`; an unreadable line is reported with its
/// number (never its content). True when some line was unreadable.
pub fn read_lines(
    bytes: &[u8],
    key: &str,
    jobs: &mut Vec<DeliveryJob>,
    report: &mut Report,
) -> bool {
    let mut unreadable = false;
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<DeliveryJob>(line) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                report.error(format!(
                    "{key} line {}: {}",
                    index + 1,
                    json_error::describe(&e)
                ));
                unreadable = true;
            }
        }
    }
    unreadable
}
