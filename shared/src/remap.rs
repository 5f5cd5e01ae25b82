//! Remap: items a mapping sent to `unmapped/` resolved again with a later
//! mapping, and delivered once to the mailboxes they now map to.
//!
//! A mapping CSV that misses a participant files that participant's
//! chats under `unmapped/`; fixing the CSV must bring them back, once.
//! Every unmapped record names the raw batch its item came from and the
//! [hash](crate::mapping::Mapper::hash) of the mapping it mapped to no one
//! with. [`remap`] reads each record not yet recovered whose mapping is
//! not the current one, reads its item again from the raw batch (the
//! record holds no identities: the raw batch is the item's one account,
//! and a record written before hashes were recorded remaps the same way),
//! and resolves it with the current mapper. The e-mail is not rendered
//! again: the archive is write-once, so the stored EML is delivered as it
//! is (its address headers show what the mapping knew when it was
//! rendered).
//!
//! What a remap writes, in this order, each create-only:
//! 1. per collection day of the items' raw batches, one job file
//!    `jobs/remap/<day>/<mapping-hash>-<content>.jsonl`
//!    ([`RawBatch::remap`]), named by its own content, then handed to the
//!    [`JobQueue`] (in embedded mode, deliver finds it like a batch's);
//! 2. per item, `remapped/<item-day>/<item-id>.json`
//!    ([`layout::Remapped`]): the item is recovered, and no longer counted
//!    as unmapped.
//!
//! So a remap killed after the job file and before the records finds the
//! same items unrecovered when it runs again, makes the same jobs, and
//! their file is already there: nothing is added. A remap that finds
//! more items than that (a record written meanwhile) writes another file,
//! and a copy listed in both is still appended once: the deliver stage's
//! ledger ([`crate::ledger`]) keeps one copy per mailbox and Message-ID.
//!
//! A record is resolved again unless it already was with the current
//! mapping: it was made with it, or its raw batch is recorded remapped
//! with it (`mapping/remapped/<hash>/<sha256(raw key)>`, written once the
//! jobs and records of the batch's items are). So a bounded remap (a
//! Lambda invocation's share) gets further each time, even when the items
//! it read stay unmapped.
//!
//! [`if_not_applied`] runs a remap of every day once per mapping: when
//! `mapping/applied/<hash>` is absent, it remaps, then records it (not
//! when a bound left records for later: the next call goes on).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::convert::Folders;
use crate::item::Item;
use crate::jobs::{self, DeliveryJob, JobQueue, QueueError};
use crate::json_error;
use crate::layout::{
    self, CollectionDay, Fingerprint, MappingApplied, REMAPPED_PREFIX, RawBatch, UNMAPPED_PREFIX,
    Unmapped, Written,
};
use crate::mapping::Mapper;
use crate::render;
use crate::report::Report;
use crate::store::{ObjectStore, StoreError};

/// Hex digits of the job file's SHA-256 in its name (64 bits: two files of
/// one day and mapping never share a name by chance).
const CONTENT_DIGITS: usize = 16;

/// Why a remap stopped (a rerun resumes it: every write is create-only).
#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    /// The archive could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A remap job file's jobs could not be queued.
    #[error("{key}: {source}")]
    Queue {
        /// The job file.
        key: String,
        /// What the queue answered.
        source: QueueError,
    },
}

/// What to remap, and how recovered items are filed.
#[derive(Debug, Clone, Default)]
pub struct RemapOptions {
    /// Only the items of raw batches of this collection day; all when
    /// `None`.
    pub day: Option<NaiveDate>,
    /// The folders copies go to, per messenger (as convert files them).
    pub folders: Folders,
    /// Raw batches read at most (a Lambda invocation's share); the records
    /// of the others are left for the next remap. `None`: all.
    pub batches_at_most: Option<usize>,
}

/// What a remap did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The hash of the mapping applied.
    pub mapping: String,
    /// Items that map now, each delivered by its remap job file.
    pub recovered: Vec<Recovered>,
    /// Items that still map to no one, with the reason.
    pub still_unmapped: Vec<StillUnmapped>,
    /// Unmapped records left for a later remap by
    /// [`RemapOptions::batches_at_most`].
    pub left_for_later: u64,
}

impl Outcome {
    /// Copies planned per mailbox for the recovered items.
    pub fn mailboxes(&self) -> BTreeMap<&str, u64> {
        let mut counts = BTreeMap::new();
        for item in &self.recovered {
            for mailbox in &item.mailboxes {
                *counts.entry(mailbox.as_str()).or_default() += 1;
            }
        }
        counts
    }
}

/// An unmapped item the mapping maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// The item id.
    pub item_id: String,
    /// The collection day of its raw batch.
    pub day: NaiveDate,
    /// The mailboxes it goes to.
    pub mailboxes: Vec<String>,
    /// The job file of its copies.
    pub jobs_key: String,
}

/// An unmapped item the mapping still maps to no one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StillUnmapped {
    /// The item id.
    pub item_id: String,
    /// Why (the identities tried; never content).
    pub reason: String,
}

/// What resolving one raw batch's unmapped items found.
struct Resolved {
    /// Items that map now.
    found: Vec<Found>,
    /// Items that still do not.
    still_unmapped: Vec<StillUnmapped>,
    /// Whether every item was in the batch.
    whole: bool,
}

/// An item found mapped, before its jobs are written.
struct Found {
    /// Its `unmapped/` key (the order jobs are written in).
    unmapped_key: String,
    /// Its raw batch.
    raw_key: String,
    remapped_key: String,
    day: CollectionDay,
    item_id: String,
    eml_key: String,
    mailboxes: Vec<String>,
    folder: String,
    message_id: String,
    timestamp: String,
}

/// Resolves again, with `mapper`, every unmapped item not yet recovered
/// (of `opts.day`'s raw batches, if given) whose record names another
/// mapping; writes and queues the delivery jobs of those that map now and
/// records them recovered (see the module's documentation for the order).
/// Problems of single items (a record or raw batch unreadable or gone, an
/// item not in its batch, its e-mail missing) are in `report`'s errors and
/// the rest goes on; `report.remapped` counts the items recovered.
///
/// # Errors
///
/// [`RemapError`] when the store fails or the queue refuses jobs.
pub async fn remap<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    mapper: &Mapper,
    opts: &RemapOptions,
    report: &mut Report,
) -> Result<Outcome, RemapError> {
    let mapping = mapper.hash();
    let mut outcome = Outcome {
        mapping: mapping.to_owned(),
        ..Outcome::default()
    };
    let recovered: HashSet<String> = store.list(REMAPPED_PREFIX).await?.into_iter().collect();
    let seen: HashSet<String> = store
        .list(&layout::remapped_batches_prefix(mapping))
        .await?
        .into_iter()
        .collect();
    let mut by_batch: BTreeMap<String, Vec<(String, Unmapped)>> = BTreeMap::new();
    for key in store.list(UNMAPPED_PREFIX).await? {
        if layout::remapped_key_of(&key).is_none_or(|done| recovered.contains(&done)) {
            continue;
        }
        let Some(record) = unmapped(store, &key, report).await? else {
            continue;
        };
        let Some(batch) = RawBatch::parse(&record.raw_key) else {
            report.error(format!(
                "{key}: names {} as its raw batch, which is no raw batch key",
                record.raw_key
            ));
            continue;
        };
        if opts.day.is_some_and(|day| batch.day.0 != day) {
            continue;
        }
        let resolved = record.mapping.as_deref() == Some(mapping)
            || seen.contains(&layout::remapped_batch_key(mapping, &record.raw_key));
        if resolved {
            outcome.still_unmapped.push(StillUnmapped {
                item_id: record.item_id,
                reason: record.reason,
            });
            continue;
        }
        by_batch
            .entry(record.raw_key.clone())
            .or_default()
            .push((key, record));
    }
    let limit = opts.batches_at_most.unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let (mut read, mut whole) = (0, BTreeSet::new());
    for (raw_key, records) in by_batch {
        if read >= limit {
            outcome.left_for_later += records.len() as u64;
            continue;
        }
        read += 1;
        let Some(resolved) = resolve_batch(store, mapper, opts, &raw_key, records, report).await?
        else {
            continue;
        };
        found.extend(resolved.found);
        outcome.still_unmapped.extend(resolved.still_unmapped);
        if resolved.whole {
            whole.insert(raw_key);
        }
    }
    let mut by_day: BTreeMap<CollectionDay, Vec<Found>> = BTreeMap::new();
    for item in found {
        by_day.entry(item.day).or_default().push(item);
    }
    for (day, mut items) in by_day {
        items.sort_by(|a, b| a.unmapped_key.cmp(&b.unmapped_key));
        for skipped in write_day(store, queue, mapping, day, items, &mut outcome, report).await? {
            whole.remove(&skipped);
        }
    }
    // Last, for the batches whose every item is now recovered or still
    // unmapped (one with a problem is read again by the next remap).
    let marks = whole
        .into_iter()
        .map(|raw_key| {
            (
                layout::remapped_batch_key(mapping, &raw_key),
                raw_key.into_bytes(),
            )
        })
        .collect();
    store.put_all(marks).await?;
    Ok(outcome)
}

/// Remaps every day's unmapped items once per mapping: does nothing when
/// `mapping/applied/<hash>` is there; else runs [`remap`] (`opts.day`
/// should be `None`) and records the hash applied, unless records were
/// left for later. `None` when the mapping was applied before.
///
/// # Errors
///
/// As [`remap`].
pub async fn if_not_applied<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    mapper: &Mapper,
    opts: &RemapOptions,
    report: &mut Report,
) -> Result<Option<Outcome>, RemapError> {
    let key = layout::mapping_applied_key(mapper.hash());
    if store.exists(&key).await? {
        return Ok(None);
    }
    let outcome = remap(store, queue, mapper, opts, report).await?;
    if outcome.left_for_later == 0 && opts.day.is_none() {
        record_applied(store, &outcome).await?;
    }
    Ok(Some(outcome))
}

/// Records that every unmapped item was re-resolved with the outcome's
/// mapping (`mapping/applied/<hash>`, create-only).
///
/// # Errors
///
/// The store cannot be written.
pub async fn record_applied<S: ObjectStore>(
    store: &S,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let record = MappingApplied {
        mapping: outcome.mapping.clone(),
        recovered: outcome.recovered.len() as u64,
        still_unmapped: outcome.still_unmapped.len() as u64,
    };
    store
        .put_new(
            &layout::mapping_applied_key(&outcome.mapping),
            &layout::record(&record),
        )
        .await?;
    Ok(())
}

/// An unmapped record; `None`, reported, when it is gone or unreadable.
async fn unmapped<S: ObjectStore>(
    store: &S,
    key: &str,
    report: &mut Report,
) -> Result<Option<Unmapped>, StoreError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(record) => Ok(Some(record)),
        Err(e) => {
            report.error(format!(
                "{key}: unreadable ({}); its item is not remapped",
                json_error::describe(&e)
            ));
            Ok(None)
        }
    }
}

/// Reads a raw batch once and resolves the items of its unmapped
/// `records` again: those that map now, and those that still do not;
/// `None`, reported, when the batch is gone.
async fn resolve_batch<S: ObjectStore>(
    store: &S,
    mapper: &Mapper,
    opts: &RemapOptions,
    raw_key: &str,
    records: Vec<(String, Unmapped)>,
    report: &mut Report,
) -> Result<Option<Resolved>, StoreError> {
    let (mut found, mut still_unmapped) = (Vec::new(), Vec::new());
    let Some(raw) = store.get(raw_key).await? else {
        report.error(format!(
            "raw batch {raw_key} is missing: its {} unmapped item(s) cannot be remapped",
            records.len()
        ));
        return Ok(None);
    };
    let day = RawBatch::parse(raw_key)
        .expect("records are grouped by parsed batch keys")
        .day;
    let mut wanted: HashMap<String, (String, Unmapped)> = records
        .into_iter()
        .map(|(key, record)| (record.item_id.clone(), (key, record)))
        .collect();
    for line in raw.split(|&b| b == b'\n') {
        if wanted.is_empty() {
            break;
        }
        let Ok(item) = serde_json::from_slice::<Item>(line) else {
            continue;
        };
        let Some((unmapped_key, record)) = wanted.remove(&item.id.to_string()) else {
            continue;
        };
        let resolution = mapper.resolve(&item);
        if let Some(reason) = resolution.unmapped_reason {
            still_unmapped.push(StillUnmapped {
                item_id: record.item_id,
                reason,
            });
            continue;
        }
        let Some(remapped_key) = layout::remapped_key_of(&unmapped_key) else {
            continue;
        };
        found.push(Found {
            unmapped_key,
            raw_key: raw_key.to_owned(),
            remapped_key,
            day,
            item_id: record.item_id,
            eml_key: record.eml_key,
            mailboxes: resolution.mailboxes,
            folder: opts.folders.for_network(item.source.network()).to_owned(),
            message_id: render::message_id(&item.id),
            timestamp: item.timestamp.to_rfc3339(),
        });
    }
    let mut missing: Vec<&String> = wanted.keys().collect();
    missing.sort();
    for item_id in missing {
        report.error(format!(
            "item {item_id}: not found in its raw batch {raw_key}; not remapped"
        ));
    }
    Ok(Some(Resolved {
        whole: wanted.is_empty(),
        found,
        still_unmapped,
    }))
}

/// The fingerprint of `item`'s e-mail: as convert recorded it in its
/// batch's [`Written`] record (read once per batch into `converted`), else
/// of the stored e-mail; `None` when neither is there.
async fn convert_fingerprint<S: ObjectStore>(
    store: &S,
    converted: &mut HashMap<String, Written>,
    item: &Found,
) -> Result<Option<Fingerprint>, StoreError> {
    if !converted.contains_key(&item.raw_key) {
        let record = match RawBatch::parse(&item.raw_key) {
            Some(batch) => store
                .get(&batch.converted_fingerprints_key())
                .await?
                .and_then(|bytes| serde_json::from_slice(&bytes).ok()),
            None => None,
        };
        converted.insert(item.raw_key.clone(), record.unwrap_or_default());
    }
    if let Some(recorded) = converted[&item.raw_key].objects.get(&item.eml_key) {
        return Ok(store.exists(&item.eml_key).await?.then(|| recorded.clone()));
    }
    Ok(store
        .sha256(&item.eml_key)
        .await?
        .map(Fingerprint::from_digest))
}

/// Writes one collection day's remap job file, queues its jobs and
/// records its items recovered, in that order; returns the raw batches
/// of the items it left out (their e-mail is missing).
async fn write_day<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    mapping: &str,
    day: CollectionDay,
    items: Vec<Found>,
    outcome: &mut Outcome,
    report: &mut Report,
) -> Result<Vec<String>, RemapError> {
    let mut jobs = Vec::new();
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    let mut converted: HashMap<String, Written> = HashMap::new();
    for item in items {
        // The e-mail as convert recorded it (deliver refuses one that
        // changed since); as it is stored where convert recorded none (a
        // batch converted before it did).
        let Some(eml) = convert_fingerprint(store, &mut converted, &item).await? else {
            report.error(format!(
                "item {}: its e-mail {} is missing; not remapped",
                item.item_id, item.eml_key
            ));
            skipped.push(item.raw_key);
            continue;
        };
        jobs.extend(item.mailboxes.iter().map(|mailbox| DeliveryJob {
            mailbox: mailbox.clone(),
            folder: item.folder.clone(),
            eml_key: item.eml_key.clone(),
            message_id: item.message_id.clone(),
            timestamp: item.timestamp.clone(),
            eml: Some(eml.clone()),
            // Not known from the unmapped record; the day report counts
            // stubs of convert's jobs only.
            stubbed: false,
        }));
        kept.push(item);
    }
    if kept.is_empty() {
        return Ok(skipped);
    }
    let lines = jobs::to_lines(&jobs);
    let content = hex::encode(Sha256::digest(&lines));
    let batch = RawBatch::remap(day, format!("{mapping}-{}", &content[..CONTENT_DIGITS]));
    let jobs_key = batch.jobs_key();
    // Exists: this very remap ran before and stopped after its job file.
    store.put_new(&jobs_key, &lines).await?;
    queue
        .send(&jobs)
        .await
        .map_err(|source| RemapError::Queue {
            key: jobs_key.clone(),
            source,
        })?;
    let records = kept
        .iter()
        .map(|item| {
            let record = layout::Remapped {
                item_id: item.item_id.clone(),
                mapping: mapping.to_owned(),
                mailboxes: item.mailboxes.clone(),
                jobs_key: jobs_key.clone(),
            };
            (item.remapped_key.clone(), layout::record(&record))
        })
        .collect();
    store.put_all(records).await?;
    report.remapped += kept.len() as u64;
    outcome
        .recovered
        .extend(kept.into_iter().map(|item| Recovered {
            item_id: item.item_id,
            day: day.0,
            mailboxes: item.mailboxes,
            jobs_key: jobs_key.clone(),
        }));
    Ok(skipped)
}
