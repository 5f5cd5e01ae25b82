//! The embedded mode: collect, convert and deliver in one process over any
//! object store and mailbox target (a local directory and Maildir or IMAP
//! for local runs), with the store standing in for the queues.
//!
//! Convert writes each raw batch's delivery jobs to `jobs/<batch>` (one
//! JSON job per line) instead of a queue; deliver marks a batch
//! `started/<batch>` before its first append and `done/<batch>` once every
//! copy is in place. A run that stopped half-way picks up where it was: the
//! ledger is checked for every job, and the jobs of a batch that had
//! started are also searched for in the folders, so nothing is delivered
//! twice.

use chrono::NaiveDate;

use crate::collect::{self, ExportOptions};
use crate::convert::{self, ConvertOptions, DeliveryJob};
use crate::deliver;
use crate::mailbox::Mailbox;
use crate::mapping::Mapper;
use crate::report::Report;
use crate::store::{Created, ObjectStore, StoreError};

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
    for jobs_key in store.list("jobs/").await? {
        let batch = jobs_key.strip_prefix("jobs/").expect("listed under jobs/");
        let done_key = format!("done/{batch}");
        if store.get(&done_key).await?.is_some() {
            continue;
        }
        let Some(bytes) = store.get(&jobs_key).await? else {
            continue;
        };
        let mut jobs = Vec::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<DeliveryJob>(line) {
                Ok(job) => jobs.push(job),
                Err(e) => report.error(format!("{jobs_key} line {}: {e}", index + 1)),
            }
        }
        // A batch started before (an interrupted run) may have messages in
        // the folders without ledger entries: only then search before appending.
        let started = store.put_new(&format!("started/{batch}"), b"").await?;
        let may_have_run = started == Created::Exists;
        let failed = deliver::deliver_jobs(store, targets, &jobs, may_have_run, report).await;
        if failed.is_empty() {
            store.put_new(&done_key, b"").await?;
        }
    }
    Ok(())
}
