//! The embedded mode: collect, convert and deliver in one process over any
//! object store and mailbox target (a local directory and Maildir for local
//! runs), with no queues.
//!
//! A raw batch is marked `converted/<raw key>` once all its copies are
//! delivered, so a run that stopped half-way picks up the batches it had not
//! finished, and their deliveries are checked against the ledger and the
//! folders (nothing twice).

use chrono::NaiveDate;

use crate::collect::{self, ExportOptions};
use crate::convert::{self, ConvertOptions};
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
    target: &mut M,
    mapper: &Mapper,
    opts: &RunOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    collect::collect_export_drops(drops, store, &opts.export, opts.day, report).await?;
    for raw_key in store.list("raw/").await? {
        if !raw_key.ends_with(".jsonl") {
            continue;
        }
        let marker = format!("converted/{raw_key}");
        if store.get(&marker).await?.is_some() {
            continue;
        }
        let jobs = convert::convert_batch(store, &raw_key, mapper, &opts.convert, report).await?;
        let failed = deliver::deliver_jobs(store, target, &jobs, true, report).await;
        if failed.is_empty() {
            store.put_new(&marker, b"").await?;
        }
    }
    Ok(())
}
