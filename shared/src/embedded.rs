//! The embedded mode: collect, convert and deliver in one process over any
//! object store and mailbox target (a local directory and Maildir or IMAP
//! for local runs), with the store standing in for the queues.
//!
//! Convert persists each raw batch's delivery jobs in `jobs/<batch>` (one
//! JSON job per line), as in every mode, and the store itself is the queue
//! ([`StoreQueue`]); deliver marks a batch `started/<batch>` before its
//! first append and `done/<batch>` once every copy is in place. A run that stopped half-way picks up where it was: the
//! ledger is checked for every job, and while any batch is started but not
//! done, every job is also searched for in its folder before appending, so
//! nothing is delivered twice.
//!
//! A run whose mapping was never applied to the unmapped items before
//! (its [hash](crate::mapping::Mapper::hash) has no `mapping/applied/`
//! record) remaps them once converting is done ([`remap::if_not_applied`]):
//! after, so that a batch converted again after an interrupted run, whose
//! older unmapped records its own conversion does not replace, is
//! remapped too, and the items this run left unmapped are skipped without
//! being read (their records name this very mapping). The copies it
//! recovers are delivered with the others.
//!
//! Between convert and deliver, the digest step ([`crate::digest`]) makes
//! the digests of sources in digest mode whose day is over at
//! [`RunOptions::now`]; their jobs are delivered with the batches'.

use chrono::{DateTime, Utc};

use crate::collect;
use crate::convert::{self, ConvertError, ConvertOptions};
use crate::deliver;
use crate::digest;
use crate::jobs::{self, DeliveryJob, StoreQueue};
use crate::layout::{CollectionDay, RAW_PREFIX, RawBatch};
use crate::mailbox::Mailbox;
use crate::mapping::Mapper;
use crate::progress::{self, Event, Stage};
use crate::remap::{self, RemapError, RemapOptions};
use crate::report::Report;
use crate::sources::Source;
use crate::store::{ObjectStore, StoreError};

/// Everything a run needs besides the sources, the store and the target.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How items are rendered and filed.
    pub convert: ConvertOptions,
    /// The collection day (names the raw batch folder).
    pub day: CollectionDay,
    /// The run's time: digests of days over by then are made.
    pub now: DateTime<Utc>,
}

/// Runs every stage once; problems with single files, lines or items are in
/// the report, store failures end the run (a re-run resumes it).
pub async fn run<S: ObjectStore + Sync, M: Mailbox + Send>(
    sources: &mut [Box<dyn Source + '_>],
    store: &S,
    targets: &mut [M],
    mapper: &Mapper,
    opts: &RunOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    collect::collect(sources, store, opts.day, report).await?;
    let collected = start.elapsed();
    convert_pending(store, mapper, &opts.convert, report).await?;
    remap_if_not_applied(store, mapper, &opts.convert, report).await?;
    digest::digest_due(store, &StoreQueue, opts.now, &opts.convert, report).await?;
    let converted = start.elapsed();
    deliver_pending(store, targets, report).await?;
    tracing::info!(
        collect_ms = collected.as_millis() as u64,
        convert_ms = (converted - collected).as_millis() as u64,
        deliver_ms = (start.elapsed() - converted).as_millis() as u64,
        "run finished"
    );
    Ok(())
}

/// Remaps every unmapped item when the mapping was not applied to them
/// yet (see the module's documentation); its jobs wait in the store for
/// [`deliver_pending`].
pub async fn remap_if_not_applied<S: ObjectStore>(
    store: &S,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    let opts = RemapOptions {
        day: None,
        folders: opts.folders.clone(),
        batches_at_most: None,
    };
    match remap::if_not_applied(store, &StoreQueue, mapper, &opts, report).await {
        Ok(_) => Ok(()),
        Err(RemapError::Store(e)) => Err(e),
        // The store queue refuses nothing; were it to, the job file is
        // stored and deliver reads it all the same.
        Err(e @ RemapError::Queue { .. }) => {
            report.error(e);
            Ok(())
        }
    }
}

/// Converts every raw batch that has no job file yet.
pub async fn convert_pending<S: ObjectStore>(
    store: &S,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut pending = Vec::new();
    for raw_key in store.list(RAW_PREFIX).await? {
        let Some(batch) = RawBatch::parse(&raw_key) else {
            continue;
        };
        if store.get(&batch.jobs_key()).await?.is_none() {
            pending.push(batch);
        }
    }
    let stage = Stage::Convert;
    progress::tell(Event::Started {
        stage,
        total: Some(pending.len() as u64),
    });
    for batch in &pending {
        match convert::convert_batch(store, &StoreQueue, batch, mapper, opts, report).await {
            Ok(()) => {}
            Err(ConvertError::Store(e)) => return Err(e),
            // The store queue refuses nothing; were it to, the job file
            // is stored and deliver reads it all the same.
            Err(e @ ConvertError::Queue { .. }) => report.error(e),
        }
        progress::tell(Event::Advanced { stage, by: 1 });
    }
    progress::tell(Event::Finished { stage });
    Ok(())
}

/// Delivers every job file not yet marked done, over one lane per target.
pub async fn deliver_pending<S: ObjectStore + Sync, M: Mailbox + Send>(
    store: &S,
    targets: &mut [M],
    report: &mut Report,
) -> Result<(), StoreError> {
    let pending = StoreQueue::pending(store).await?;
    let stage = Stage::Deliver;
    progress::tell(Event::Started { stage, total: None });
    // A batch that started and never finished (a crash, a failed copy) may
    // have left copies in the folders without ledger entries, and the same
    // message can sit in several batches (overlapping exports). So if any
    // such batch exists, or a copy fails during this run, every job is
    // searched for before it is appended.
    let mut may_have_run = false;
    for batch in &pending {
        may_have_run |= store.get(&batch.started_key()).await?.is_some();
    }
    // Batches are delivered in groups so that the lanes work on several
    // batches' mailboxes at once (one export is usually one mailbox).
    let mut group: Vec<(RawBatch, std::ops::Range<usize>, bool)> = Vec::new();
    let mut jobs: Vec<DeliveryJob> = Vec::new();
    for batch in &pending {
        let key = batch.jobs_key();
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        let first = jobs.len();
        let unreadable = jobs::read_lines(&bytes, &key, &mut jobs, report);
        progress::tell(Event::Found {
            stage,
            by: (jobs.len() - first) as u64,
        });
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
    progress::tell(Event::Finished { stage });
    Ok(())
}

/// Jobs delivered together at most (a group always holds whole batches).
const GROUP_JOBS: usize = 20_000;

/// Delivers a group of batches and marks the complete ones done; true when
/// some copy failed.
async fn deliver_group<S: ObjectStore + Sync, M: Mailbox + Send>(
    store: &S,
    targets: &mut [M],
    group: &[(RawBatch, std::ops::Range<usize>, bool)],
    jobs: &[DeliveryJob],
    may_have_run: bool,
    report: &mut Report,
) -> Result<bool, StoreError> {
    for (batch, _, _) in group {
        store.put_new(&batch.started_key(), b"").await?;
    }
    let failed = deliver::deliver_jobs(store, targets, jobs, |_| may_have_run, None, report).await;
    let mut any_failed = false;
    for (batch, range, unreadable) in group {
        let complete = !unreadable && !failed.iter().any(|index| range.contains(index));
        if complete {
            store.put_new(&batch.done_key(), b"").await?;
        }
        any_failed |= !complete;
    }
    Ok(any_failed)
}
