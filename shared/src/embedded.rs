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
    // Batches are delivered in groups so that the lanes work on several
    // batches' mailboxes at once (one export is usually one mailbox).
    let mut group: Vec<(String, std::ops::Range<usize>, bool)> = Vec::new();
    let mut jobs: Vec<DeliveryJob> = Vec::new();
    for batch in &pending {
        let Some(bytes) = store.get(&format!("jobs/{batch}")).await? else {
            continue;
        };
        let first = jobs.len();
        let unreadable = read_jobs(&bytes, batch, &mut jobs, report);
        group.push((batch.clone(), first..jobs.len(), unreadable));
        if jobs.len() >= GROUP_JOBS {
            may_have_run |=
                deliver_group(store, targets, &group, &jobs, may_have_run, report).await?;
            group.clear();
            jobs.clear();
        }
    }
    if !group.is_empty() {
        deliver_group(store, targets, &group, &jobs, may_have_run, report).await?;
    }
    Ok(())
}

/// Jobs delivered together at most (a group always holds whole batches).
const GROUP_JOBS: usize = 20_000;

/// Parses a job file into `jobs`; true when some line was unreadable.
fn read_jobs(bytes: &[u8], batch: &str, jobs: &mut Vec<DeliveryJob>, report: &mut Report) -> bool {
    let mut unreadable = false;
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
                    crate::json_error::describe(&e)
                ));
                unreadable = true;
            }
        }
    }
    unreadable
}

/// Delivers a group of batches and marks the complete ones done; true when
/// some copy failed.
async fn deliver_group<S: ObjectStore, M: Mailbox>(
    store: &S,
    targets: &mut [M],
    group: &[(String, std::ops::Range<usize>, bool)],
    jobs: &[DeliveryJob],
    may_have_run: bool,
    report: &mut Report,
) -> Result<bool, StoreError> {
    for (batch, _, _) in group {
        store.put_new(&format!("started/{batch}"), b"").await?;
    }
    let failed = deliver::deliver_jobs(store, targets, jobs, |_| may_have_run, None, report).await;
    let mut any_failed = false;
    for (batch, range, unreadable) in group {
        let complete = !unreadable && !failed.iter().any(|index| range.contains(index));
        if complete {
            store.put_new(&format!("done/{batch}"), b"").await?;
        }
        any_failed |= !complete;
    }
    Ok(any_failed)
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
