//! The embedded mode: collect, convert and deliver in one process over any
//! object store and mailbox target (a local directory and Maildir or IMAP
//! for local runs), with the store standing in for the queues.
//!
//! Convert writes each raw batch's delivery jobs to `jobs/<batch>` (one
//! JSON job per line) instead of a queue; deliver marks a batch
//! `started/<batch>` before its first append and `done/<batch>` once every
//! copy is in place. A run that stopped half-way picks up where it was: the
//! ledger is checked for every job, and while any batch is started but not
//! done, every job is also searched for in its folder before appending, so
//! nothing is delivered twice.

use chrono::NaiveDate;

use crate::collect::{self, ExportOptions};
use crate::convert::{self, ConvertOptions, DeliveryJob};
use crate::deliver;
use crate::mailbox::Mailbox;
use crate::mapping::Mapper;
use crate::report::Report;
use crate::store::{ObjectStore, StoreError};

/// Everything a run needs besides the stores and the target.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How export drops are read.
    pub export: ExportOptions,
    /// How items are rendered and filed.
    pub convert: ConvertOptions,
    /// The collection day (names the raw batch folder).
    pub day: NaiveDate,
}

/// Runs every stage once; problems with single files, lines or items are in
/// the report, store failures end the run (a re-run resumes it).
pub async fn run<D: ObjectStore, S: ObjectStore, M: Mailbox>(
    drops: &D,
    store: &S,
    targets: &mut [M],
    mapper: &Mapper,
    opts: &RunOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    collect::collect_export_drops(drops, store, &opts.export, opts.day, report).await?;
    convert_pending(store, mapper, &opts.convert, report).await?;
    deliver_pending(store, targets, report).await
}

/// Converts every raw batch that has no job file yet.
pub async fn convert_pending<S: ObjectStore>(
    store: &S,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    for raw_key in store.list("raw/").await? {
        let Some(batch) = raw_key
            .strip_prefix("raw/")
            .filter(|b| b.ends_with(".jsonl"))
        else {
            continue;
        };
        let jobs_key = format!("jobs/{batch}");
        if store.get(&jobs_key).await?.is_some() {
            continue;
        }
        let jobs = convert::convert_batch(store, &raw_key, mapper, opts, report).await?;
        let mut lines = Vec::new();
        for job in &jobs {
            serde_json::to_writer(&mut lines, job).expect("jobs serialize");
            lines.push(b'\n');
        }
        store.put_new(&jobs_key, &lines).await?;
    }
    Ok(())
}

/// Delivers every job file not yet marked done, over one lane per target.
pub async fn deliver_pending<S: ObjectStore, M: Mailbox>(
    store: &S,
    targets: &mut [M],
    report: &mut Report,
) -> Result<(), StoreError> {
    let pending = pending_batches(store).await?;
    // A batch that started and never finished (a crash, a failed copy) may
    // have left copies in the folders without ledger entries, and the same
    // message can sit in several batches (overlapping exports). So if any
    // such batch exists, or a copy fails during this run, every job is
    // searched for before it is appended.
    let mut may_have_run = false;
    for batch in &pending {
        may_have_run |= store.get(&format!("started/{batch}")).await?.is_some();
    }
    for batch in pending {
        let Some(bytes) = store.get(&format!("jobs/{batch}")).await? else {
            continue;
        };
        let mut unreadable = false;
        let mut jobs = Vec::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<DeliveryJob>(line) {
                Ok(job) => jobs.push(job),
                Err(e) => {
                    report.error(format!(
                        "jobs/{batch} line {}: {}",
                        index + 1,
                        json_problem(&e)
                    ));
                    unreadable = true;
                }
            }
        }
        store.put_new(&format!("started/{batch}"), b"").await?;
        let failed = deliver::deliver_jobs(store, targets, &jobs, may_have_run, report).await;
        if failed.is_empty() && !unreadable {
            store.put_new(&format!("done/{batch}"), b"").await?;
        } else {
            may_have_run = true;
        }
    }
    Ok(())
}

/// Job files without a `done/` marker, by batch name.
async fn pending_batches<S: ObjectStore>(store: &S) -> Result<Vec<String>, StoreError> {
    let mut pending = Vec::new();
    for jobs_key in store.list("jobs/").await? {
        let batch = jobs_key.strip_prefix("jobs/").expect("listed under jobs/");
        if store.get(&format!("done/{batch}")).await?.is_none() {
            pending.push(batch.to_owned());
        }
    }
    Ok(pending)
}

/// Where a JSON line is broken, without repeating any of its content.
pub(crate) fn json_problem(e: &serde_json::Error) -> String {
    format!("{:?} error at column {}", e.classify(), e.column())
}
