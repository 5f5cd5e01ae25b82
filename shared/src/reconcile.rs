//! The proof of a day: reconciling what was collected on a collection day
//! with what was converted and delivered, and the manifests that close
//! days, each chained to the one written before it.
//!
//! [`check`] reads the day's raw batches and job files and finds what is
//! open:
//! - a batch with no job file (never converted: an S3 notification lost);
//! - an item with neither its e-mail nor a `failed/` record (convert writes
//!   the e-mail of every item it renders, unmapped ones included), or a
//!   line that is no item without its `failed/lines/` record: lost after
//!   conversion, which nothing can redo;
//! - a job file line that cannot be read;
//! - a delivery job with no ledger entry, in a batch's job file or in a
//!   remap's of the day (the copies of unmapped items a later mapping
//!   recovered: [`crate::remap`]), (a copy not delivered: a DLQ
//!   message expired, a mailbox unreachable for days, an entry deleted),
//!   or with neither a ledger entry nor its e-mail (lost, not
//!   repairable);
//! - an item of a source in digest mode that no digest part holds yet,
//!   or whose part has no job file yet: it waits for the digest step
//!   ([`crate::digest`]), which makes it once the item's day is over. The
//!   jobs of the digest parts holding the day's items are checked as a
//!   batch's are, and [`close`] lists the parts' objects with the day's.
//!
//! Batches never converted and copies not delivered can be repaired (by
//! the CLI's `archiver reconcile --repair`, and by the reconcile function,
//! which sends them back to convert and deliver:
//! [`crate::lambda::reconcile_days`]); the rest is reported. A day whose
//! check finds nothing open, and that is over, is closed by [`close`]: a
//! manifest ([`Manifest`], `manifest/<sequence>.json`, create-only) lists
//! the size and SHA-256 of every object of the day not listed by an
//! earlier manifest of that day (raw batches, originals, refused drops'
//! records, e-mails and media as their writers fingerprinted them, in the
//! day's [`Written`] records, the delivery jobs and the items: not read
//! again, so an object altered before the day closes is listed as it was
//! written; the other objects — job files, records, ledger entries — are
//! read), its counts and
//! ledger entries, and the
//! SHA-256 of the manifest written before it, whatever its day: the
//! manifests form one chain in the order they were written. Data
//! collected into a day after it was closed (a backfill) is closed by a
//! further manifest of that day. [`verify`] re-reads the objects and the
//! chain and lists every object or manifest that does not match; the
//! chain's newest hash, printed when a day closes, is what shows an edit
//! of the newest manifest itself.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::item::{Item, SourceKind};
use crate::jobs::{self, DeliveryJob};
use crate::json_error;
use crate::layout::{
    DIGEST_PREFIX, DigestKey, DigestPart, EML_PREFIX, FAILED_LINES_PREFIX, FAILED_PREFIX,
    FINGERPRINTS_PREFIX, Fingerprint, ItemDay, JOBS_PREFIX, LEDGER_PREFIX, MANIFEST_PREFIX,
    MEDIA_PREFIX, RAW_PREFIX, REFUSED_DROPS_PREFIX, REMAPPED_PREFIX, RawBatch, UNMAPPED_PREFIX,
    Written, eml_key, failed_item_key, failed_line_key, fingerprints_day_prefix, ledger_key,
    manifest_key, manifest_sequence, media_key, raw_day, raw_day_prefix, remapped_key,
    run_claims_prefix, unmapped_key,
};
use crate::report::Report;
use crate::store::{Created, ObjectStore, StoreError};

/// The manifest's format name.
pub const FORMAT: &str = "mobile-archiver-manifest/2";

/// Attempts to write a day's manifest when another writer takes the
/// sequence number first (two runs closing days at once): each attempt
/// reads the chain again.
const CLOSE_ATTEMPTS: u32 = 3;

/// Objects looked up or hashed at once when a day closes.
const CLOSE_READS_IN_FLIGHT: usize = 16;

/// Why a day cannot be reconciled, closed or verified.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store cannot be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The day is not over: what it holds may still grow.
    #[error(
        "day {0} is not over yet: a day is closed once it has ended (in the zone collection days are reckoned in)"
    )]
    NotOver(NaiveDate),
    /// Other writers took the next manifest's key at every attempt.
    #[error(
        "day {day}: its manifest could not be written, another writer took the next sequence number {attempts} times"
    )]
    Contended {
        /// The day being closed.
        day: NaiveDate,
        /// The attempts made.
        attempts: u32,
    },
}

/// What the check of a day found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCheck {
    /// The collection day.
    pub day: NaiveDate,
    /// Raw batches of the day.
    pub batches: u64,
    /// Those batches, as listed by the check: what [`close`] lists.
    pub raw: Vec<RawBatch>,
    /// The day's remap job files ([`RawBatch::remap`]), as listed by the
    /// check: their jobs are checked and closed as a batch's.
    pub remaps: Vec<RawBatch>,
    /// Items in them.
    pub items: u64,
    /// Delivery jobs (copies) of the day.
    pub copies: u64,
    /// Batches with no job file: never converted (repairable).
    pub unconverted: Vec<RawBatch>,
    /// Items or lines with neither e-mail nor failure record, job lines
    /// that cannot be read, and jobs with neither ledger entry nor e-mail:
    /// lost (reported, not repairable).
    pub unaccounted: Vec<String>,
    /// Jobs with no ledger entry, with their batch: copies not delivered
    /// (repairable). A digest part's jobs are under its batch
    /// ([`DigestKey::batch`]).
    pub undelivered: Vec<(RawBatch, DeliveryJob)>,
    /// The digest parts (conversation's day, part number) holding items
    /// of the day.
    pub digests: Vec<(DigestKey, u32)>,
    /// Items waiting for their digest, and digest parts not finished: the
    /// digest step makes them (not repairable by a reconcile run; the
    /// reconcile function runs the step first).
    pub awaiting_digest: Vec<String>,
}

impl DayCheck {
    /// Whether nothing is open.
    pub fn is_complete(&self) -> bool {
        self.unconverted.is_empty()
            && self.unaccounted.is_empty()
            && self.undelivered.is_empty()
            && self.awaiting_digest.is_empty()
    }

    /// What is open, one line each (object keys, item ids, mailboxes;
    /// never content).
    pub fn open_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for batch in &self.unconverted {
            lines.push(format!("{}: not converted (no job file)", batch.key()));
        }
        lines.extend(self.unaccounted.iter().cloned());
        lines.extend(self.awaiting_digest.iter().cloned());
        for (_, job) in &self.undelivered {
            lines.push(format!(
                "{} to {}: not delivered (no ledger entry)",
                job.eml_key, job.mailbox
            ));
        }
        lines
    }
}

/// Checks collection day `day`: every batch converted, every item filed,
/// every copy ledgered.
///
/// # Errors
///
/// [`ReconcileError`] when the store cannot be read.
pub async fn check<S: ObjectStore>(store: &S, day: NaiveDate) -> Result<DayCheck, ReconcileError> {
    let mut check = DayCheck {
        day,
        batches: 0,
        raw: Vec::new(),
        remaps: Vec::new(),
        items: 0,
        copies: 0,
        unconverted: Vec::new(),
        unaccounted: Vec::new(),
        undelivered: Vec::new(),
        digests: Vec::new(),
        awaiting_digest: Vec::new(),
    };
    let mut listed = Listed::default();
    let mut digests = Digests::read(store).await?;
    let mut parts = BTreeSet::new();
    for batch in batches(store, day).await? {
        check.batches += 1;
        check.raw.push(batch.clone());
        let raw_key = batch.key();
        let Some(raw) = store.get(&raw_key).await? else {
            continue;
        };
        let Some(jobs) = day_jobs(store, &batch, &mut check.unaccounted).await? else {
            check.unconverted.push(batch);
            continue;
        };
        for (line, item) in items(&raw) {
            check.items += 1;
            let lost = match item {
                Some(item) => {
                    let day = ItemDay::of(&item);
                    let filed = listed.contains(store, &eml_key(day, &item.id)).await?
                        || listed
                            .contains(store, &failed_item_key(day, &item.id))
                            .await?;
                    if let Some(waiting) = digests.part_of(store, &item, &mut parts).await? {
                        check
                            .awaiting_digest
                            .push(format!("item {} ({raw_key}): {waiting}", item.id));
                    }
                    (!filed).then(|| {
                        format!(
                            "item {} ({raw_key}): no e-mail and no failure record",
                            item.id
                        )
                    })
                }
                None => {
                    let key = failed_line_key(&raw_key, line);
                    (!listed.contains(store, &key).await?).then(|| {
                        format!("line {line} of {raw_key}: not an item and no failure record")
                    })
                }
            };
            check.unaccounted.extend(lost);
        }
        check_jobs(store, &mut listed, &batch, jobs, &mut check).await?;
    }
    for batch in remaps(store, day).await? {
        check.remaps.push(batch.clone());
        let jobs = day_jobs(store, &batch, &mut check.unaccounted)
            .await?
            .unwrap_or_default();
        check_jobs(store, &mut listed, &batch, jobs, &mut check).await?;
    }
    for (digest, part) in parts {
        let batch = digest.batch(part);
        match day_jobs(store, &batch, &mut check.unaccounted).await? {
            Some(jobs) => check_jobs(store, &mut listed, &batch, jobs, &mut check).await?,
            None => check.awaiting_digest.push(format!(
                "{}: digest part begun, its e-mails and jobs not made yet",
                digest.part_key(part)
            )),
        }
        check.digests.push((digest, part));
    }
    Ok(check)
}

/// Counts a job file's (a batch's, a remap's or a digest part's) jobs in
/// `check`: those with no ledger entry are undelivered, or unaccounted
/// for when their e-mail is gone too.
async fn check_jobs<S: ObjectStore>(
    store: &S,
    listed: &mut Listed,
    batch: &RawBatch,
    jobs: Vec<DeliveryJob>,
    check: &mut DayCheck,
) -> Result<(), StoreError> {
    for job in jobs {
        check.copies += 1;
        let key = ledger_key(&job.mailbox, &job.message_id);
        if listed.contains(store, &key).await? {
            continue;
        }
        // Sent again without its e-mail, a job would only fail in
        // deliver, holding up its mailbox's queue: it is reported.
        if listed.contains(store, &job.eml_key).await? {
            check.undelivered.push((batch.clone(), job));
        } else {
            check.unaccounted.push(format!(
                "{} to {}: not delivered, and its e-mail is missing",
                job.eml_key, job.mailbox
            ));
        }
    }
    Ok(())
}

/// The digest records, listed once per check, and the parts read.
struct Digests {
    /// Every key under `digest/`.
    keys: HashSet<String>,
    /// The parts of each conversation's day, read when first needed.
    parts: HashMap<DigestKey, Vec<DigestPart>>,
}

impl Digests {
    async fn read<S: ObjectStore>(store: &S) -> Result<Self, StoreError> {
        Ok(Digests {
            keys: store.list(DIGEST_PREFIX).await?.into_iter().collect(),
            parts: HashMap::new(),
        })
    }

    /// For an item of a digest source: the part holding it goes into
    /// `parts`, or why it waits is returned. `None` for an item that is
    /// no digest's (per-message mode, or mapped to no one).
    async fn part_of<S: ObjectStore>(
        &mut self,
        store: &S,
        item: &Item<'_>,
        parts: &mut BTreeSet<(DigestKey, u32)>,
    ) -> Result<Option<String>, StoreError> {
        let digest = DigestKey::of(item);
        if !self.keys.contains(&digest.item_key(item.id)) {
            return Ok(None);
        }
        if !self.parts.contains_key(&digest) {
            let mut read = Vec::new();
            let mut number = 0;
            while self.keys.contains(&digest.part_key(number)) {
                let key = digest.part_key(number);
                let bytes = store
                    .get(&key)
                    .await?
                    .ok_or_else(|| StoreError::Missing(key.clone()))?;
                // An unreadable part holds nothing: its items show as
                // waiting, and the digest step reports it.
                if let Ok(part) = serde_json::from_slice::<DigestPart>(&bytes) {
                    read.push(part);
                }
                number += 1;
            }
            self.parts.insert(digest.clone(), read);
        }
        let id = item.id.to_string();
        let holding = self.parts[&digest]
            .iter()
            .find(|part| part.items.contains(&id));
        Ok(match holding {
            Some(part) => {
                parts.insert((digest, part.part));
                None
            }
            None => Some(format!("waiting for the digest of {}", digest.day)),
        })
    }
}

/// What searching the mailboxes for a day's ledgered copies found
/// ([`search_delivered`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Searched {
    /// Copies the ledger records as delivered.
    pub ledgered: u64,
    /// Of those, the copies searched for.
    pub searched: u64,
    /// Copies the ledger records that their folder does not hold (deleted
    /// there since, or never there), one line each: e-mail key, mailbox,
    /// folder. Not repairable by a run: the ledger says delivered.
    pub missing: Vec<String>,
}

/// Errors of [`search_delivered`].
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The store cannot be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mailbox server failed or refused a search.
    #[error(transparent)]
    Mailbox(#[from] crate::mailbox::MailboxError),
    /// The target cannot be searched (SMTP).
    #[error(
        "the delivery target cannot be searched (SMTP): what it took is known from the ledger only"
    )]
    NotSearchable,
}

/// Searches the mailboxes for the copies of collection day `day` that the
/// ledger records as delivered: every `every`-th of them in job order (1:
/// all; a sample spread over the day otherwise), each by its Message-ID in
/// its folder ([`Mailbox::find`]).
///
/// # Errors
///
/// [`SearchError`] when the store cannot be read, the server fails, or the
/// target cannot be searched.
pub async fn search_delivered<S: ObjectStore, M: crate::mailbox::Mailbox>(
    store: &S,
    target: &mut M,
    day: NaiveDate,
    every: u64,
) -> Result<Searched, SearchError> {
    if !target.searchable() {
        return Err(SearchError::NotSearchable);
    }
    let every = every.max(1);
    let mut out = Searched::default();
    let mut listed = Listed::default();
    let mut seen = HashSet::new();
    let mut unreadable = Vec::new();
    let mut job_files = batches(store, day).await?;
    job_files.extend(remaps(store, day).await?);
    for batch in job_files {
        for job in day_jobs(store, &batch, &mut unreadable)
            .await?
            .unwrap_or_default()
        {
            let key = ledger_key(&job.mailbox, &job.message_id);
            // The same copy in two batches (overlapping exports) once.
            if !seen.insert(key.clone()) || !listed.contains(store, &key).await? {
                continue;
            }
            out.ledgered += 1;
            if (out.ledgered - 1) % every != 0 {
                continue;
            }
            out.searched += 1;
            let found = target
                .find(&job.mailbox, &job.folder, &job.message_id)
                .await?;
            if found.is_none() {
                out.missing.push(format!(
                    "{} to {} ({}): ledgered as delivered, not in the folder",
                    job.eml_key,
                    job.mailbox,
                    crate::escape::escaped(&job.folder)
                ));
            }
        }
    }
    Ok(out)
}

/// A manifest: the objects of one day not listed before, in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Its place in the chain, from 1 (its key's number).
    pub sequence: u64,
    /// The collection day it closes.
    pub day: NaiveDate,
    /// The manifest written before it (none for the first).
    pub previous: Option<Link>,
    /// Per source: batches and items of the day.
    pub sources: BTreeMap<String, SourceCounts>,
    /// Per mailbox: copies of the day delivered (ledger entries).
    pub mailboxes: BTreeMap<String, u64>,
    /// Per stage: the objects this manifest lists of each kind (raw
    /// batches, originals, e-mails, unmapped, failed,
    /// job files, ledger entries, …). Absent in manifests written before.
    #[serde(default)]
    pub stages: BTreeMap<String, u64>,
    /// The day's objects not in an earlier manifest of the day, with size
    /// and SHA-256: raw batches and originals, refused drops' originals
    /// and records, the fingerprint records, e-mails and records of its
    /// items, media they attach, job files, ledger entries.
    pub objects: Vec<ObjectEntry>,
}

/// A link of the chain: the manifest before, by sequence and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its sequence number.
    pub sequence: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// Batches and items of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCounts {
    /// Raw batches.
    pub batches: u64,
    /// Items.
    pub items: u64,
}

/// One object of a day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// How closing a day ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// A manifest was written now: its key and the chain's newest hash
    /// (its own SHA-256), to keep outside the archive.
    Written {
        /// The manifest's key.
        key: String,
        /// Its SHA-256.
        head: String,
    },
    /// Every object of the day is in its manifests already.
    Already,
}

/// Closes the day `check` found complete: writes a manifest of its
/// objects not yet in one, chained to the newest manifest. Only the raw
/// batches the check saw are listed (a batch backfilled since is left to
/// the next check and close). `today` is the current day in the zone
/// collection days are reckoned in: a day is closed only once it is over.
///
/// Another writer taking the manifest's sequence number first (two runs
/// closing days at once) makes this read the chain again and write the
/// next one, up to [`CLOSE_ATTEMPTS`] times; the objects it listed
/// meanwhile for this day are not listed again.
///
/// # Errors
///
/// [`ReconcileError::NotOver`] for today or a later day;
/// [`ReconcileError::Contended`] when every attempt lost its sequence
/// number; store failures.
pub async fn close<S: ObjectStore>(
    store: &S,
    check: &DayCheck,
    today: NaiveDate,
) -> Result<Closed, ReconcileError> {
    let day = check.day;
    if day >= today {
        return Err(ReconcileError::NotOver(day));
    }
    let (sources, mailboxes, keys, recorded) = day_objects(store, check).await?;
    let mut hashed: HashMap<String, Option<(u64, String)>> = HashMap::new();
    for _ in 0..CLOSE_ATTEMPTS {
        let chain = chain(store).await?;
        let of_day = || {
            chain
                .iter()
                .filter_map(|(_, _, manifest)| manifest.as_ref().ok())
                .filter(|m| m.day == day)
        };
        let earlier: HashSet<&str> = of_day()
            .flat_map(|m| &m.objects)
            .map(|object| object.key.as_str())
            .collect();
        let listed: Vec<&String> = keys
            .iter()
            .filter(|key| !earlier.contains(key.as_str()))
            .collect();
        // What its writer fingerprinted is listed as recorded, if it is
        // there; the rest is read. Several at once: a day holds an object
        // per copy and per item.
        let found: Vec<(String, Option<(u64, String)>)> = futures::stream::iter(
            listed
                .iter()
                .filter(|key| !hashed.contains_key(key.as_str())),
        )
        .map(|key| {
            let recorded = recorded.get(key.as_str());
            async move {
                let entry = match recorded {
                    // Looked up one by one: a listing of `media/` would
                    // grow with the archive.
                    Some(written) => store
                        .exists(key)
                        .await?
                        .then(|| (written.size, written.sha256.clone())),
                    None => hash_object(store, key).await?,
                };
                Ok::<_, StoreError>(((*key).clone(), entry))
            }
        })
        .buffer_unordered(CLOSE_READS_IN_FLIGHT)
        .try_collect()
        .await?;
        hashed.extend(found);
        let mut objects = Vec::new();
        for key in listed {
            if let Some((size, sha256)) = &hashed[key] {
                objects.push(ObjectEntry {
                    key: key.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                });
            }
        }
        if of_day().next().is_some() && objects.is_empty() {
            return Ok(Closed::Already);
        }
        let mut stages: BTreeMap<String, u64> = BTreeMap::new();
        for object in &objects {
            *stages.entry(stage_of(&object.key).to_owned()).or_default() += 1;
        }
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            stages,
            sequence: chain.last().map_or(1, |(sequence, _, _)| sequence + 1),
            day,
            previous: chain.last().map(|(sequence, sha256, _)| Link {
                sequence: *sequence,
                sha256: sha256.clone(),
            }),
            sources: sources.clone(),
            mailboxes: mailboxes.clone(),
            objects,
        };
        let key = manifest_key(manifest.sequence);
        let bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        if store.put_new(&key, &bytes).await? == Created::New {
            return Ok(Closed::Written {
                key,
                head: hex::encode(Sha256::digest(&bytes)),
            });
        }
    }
    Err(ReconcileError::Contended {
        day,
        attempts: CLOSE_ATTEMPTS,
    })
}

/// The counts and object keys of the day `check` saw: per source its
/// batches and items, per mailbox its copies, and the keys of its batches
/// and originals, its refused drops' originals and records, the
/// fingerprint records, job files (its remaps' too), the e-mails and
/// records of its items (a `remapped/` record among them), the media they
/// attach and the ledger entries (some may not exist: only those that do
/// are listed in a manifest); and the fingerprints their writers
/// recorded: of the batches, originals, refusal records and e-mails (in
/// the [`Written`] records), of each digest e-mail delivered (in its
/// delivery jobs) and each medium (in the item that attaches it).
async fn day_objects<S: ObjectStore>(
    store: &S,
    check: &DayCheck,
) -> Result<DayObjects, StoreError> {
    let mut sources: BTreeMap<String, SourceCounts> = BTreeMap::new();
    let mut mailboxes: BTreeMap<String, u64> = BTreeMap::new();
    let mut recorded: HashMap<String, Fingerprint> = HashMap::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    // What collect and convert recorded writing the day's batches and
    // refused drops: their lines, originals, refusal records and e-mails.
    // What a record holds first is what is listed (a later job's
    // fingerprint, a remap's, never replaces it).
    let raw_keys: HashSet<String> = check.raw.iter().map(RawBatch::key).collect();
    // The sources whose raw folder of the day is listed for originals
    // (each known kind's, those of the day's batches and records): an
    // original no record names (stored before collect recorded
    // fingerprints, the same drop again under another name, a unit
    // collected again under another id) is read at close.
    let mut raw_sources: BTreeSet<String> = SourceKind::ALL
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .chain(check.raw.iter().map(|batch| batch.source.clone()))
        .collect();
    let records: Vec<(String, Option<Vec<u8>>)> =
        futures::stream::iter(store.list(&fingerprints_day_prefix(check.day)).await?)
            .map(|key| async move {
                let bytes = store.get(&key).await?;
                Ok::<_, StoreError>((key, bytes))
            })
            // In the listing's order: the first record of an object wins.
            .buffered(CLOSE_READS_IN_FLIGHT)
            .try_collect()
            .await?;
    for (key, bytes) in records {
        let Some(bytes) = bytes else {
            continue;
        };
        // A refused drop's too (it has no batch the check saw).
        raw_sources.extend(RawBatch::of_collected_fingerprints_key(&key).map(|unit| unit.source));
        let Ok(written) = serde_json::from_slice::<Written>(&bytes) else {
            // Listed and read as any other object of the day.
            keys.insert(key);
            continue;
        };
        // A batch written since the check is left to the next close.
        if written
            .raw_key
            .as_ref()
            .is_some_and(|raw_key| !raw_keys.contains(raw_key))
        {
            continue;
        }
        keys.insert(key);
        keys.extend(written.stored_before);
        for (object, fingerprint) in written.objects {
            keys.insert(object.clone());
            recorded.entry(object).or_insert(fingerprint);
        }
    }
    for source in raw_sources {
        let listed = store.list(&raw_day_prefix(&source, check.day)).await?;
        // The originals of a batch written since the check wait for it.
        let later: Vec<String> = listed
            .iter()
            .filter(|key| !raw_keys.contains(key.as_str()))
            .filter_map(|key| RawBatch::parse(key))
            .map(|batch| batch.originals_prefix())
            .collect();
        keys.extend(listed.into_iter().filter(|key| {
            RawBatch::parse(key).is_none() && !later.iter().any(|prefix| key.starts_with(prefix))
        }));
    }
    for batch in &check.raw {
        let counts = sources.entry(batch.source.clone()).or_default();
        counts.batches += 1;
        keys.insert(batch.key());
        if let Some(raw) = store.get(&batch.key()).await? {
            for (line, item) in items(&raw) {
                counts.items += 1;
                match item {
                    Some(item) => {
                        let item_day = ItemDay::of(&item);
                        keys.insert(eml_key(item_day, &item.id));
                        keys.insert(failed_item_key(item_day, &item.id));
                        keys.insert(unmapped_key(item_day, &item.id));
                        keys.insert(remapped_key(item_day, &item.id));
                        for attachment in &item.attachments {
                            let Some(key) = &attachment.object_key else {
                                continue;
                            };
                            if let (Some(size), Some(sha256)) =
                                (attachment.size, &attachment.sha256)
                                && *key == media_key(sha256)
                            {
                                let sha256 = sha256.clone();
                                recorded.insert(key.clone(), Fingerprint { size, sha256 });
                            }
                            keys.insert(key.clone());
                        }
                    }
                    None => {
                        keys.insert(failed_line_key(&batch.key(), line));
                    }
                }
            }
        }
    }
    // The jobs of the day's batches and of its remaps alike.
    for batch in check.raw.iter().chain(&check.remaps) {
        keys.insert(batch.jobs_key());
        let mut unreadable = Vec::new();
        for job in day_jobs(store, batch, &mut unreadable)
            .await?
            .unwrap_or_default()
        {
            *mailboxes.entry(job.mailbox.clone()).or_default() += 1;
            keys.insert(ledger_key(&job.mailbox, &job.message_id));
            if let Some(eml) = job.eml {
                recorded.entry(job.eml_key).or_insert(eml);
            }
        }
    }
    // The digest parts holding the day's items: their records, e-mails,
    // job files and ledger entries.
    for (digest, number) in &check.digests {
        let part_key = digest.part_key(*number);
        if let Some(bytes) = store.get(&part_key).await?
            && let Ok(part) = serde_json::from_slice::<DigestPart>(&bytes)
        {
            keys.extend(part.items.iter().map(|id| digest.item_key(id)));
        }
        keys.insert(part_key);
        let batch = digest.batch(*number);
        keys.insert(batch.jobs_key());
        let mut unreadable = Vec::new();
        for job in day_jobs(store, &batch, &mut unreadable)
            .await?
            .unwrap_or_default()
        {
            *mailboxes.entry(job.mailbox.clone()).or_default() += 1;
            keys.insert(ledger_key(&job.mailbox, &job.message_id));
            keys.insert(job.eml_key.clone());
            if let Some(eml) = job.eml {
                recorded.entry(job.eml_key).or_insert(eml);
            }
        }
    }
    Ok((sources, mailboxes, keys, recorded))
}

/// The stage a day's object belongs to, for a manifest's counts: what
/// wrote it and what it is.
fn stage_of(key: &str) -> &'static str {
    let kinds = [
        (REFUSED_DROPS_PREFIX, "refused drops"),
        (FAILED_LINES_PREFIX, "failed lines"),
        (FAILED_PREFIX, "failed items"),
        (UNMAPPED_PREFIX, "unmapped"),
        (REMAPPED_PREFIX, "remapped"),
        (EML_PREFIX, "e-mails"),
        (MEDIA_PREFIX, "media"),
        (JOBS_PREFIX, "job files"),
        (LEDGER_PREFIX, "ledger entries"),
        (FINGERPRINTS_PREFIX, "fingerprint records"),
        (DIGEST_PREFIX, "digest records"),
    ];
    if key.starts_with(RAW_PREFIX) {
        return if RawBatch::parse(key).is_some() {
            "raw batches"
        } else {
            "originals"
        };
    }
    kinds
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map_or("other", |(_, stage)| stage)
}

/// What [`day_objects`] finds: counts per source and per mailbox, the
/// keys of the day's objects, and the fingerprints recorded of some.
type DayObjects = (
    BTreeMap<String, SourceCounts>,
    BTreeMap<String, u64>,
    BTreeSet<String>,
    HashMap<String, Fingerprint>,
);

/// The collection days a readable manifest closes (none where reconcile
/// never ran).
///
/// # Errors
///
/// [`StoreError`] when the store cannot be read.
pub async fn closed_days<S: ObjectStore>(store: &S) -> Result<HashSet<NaiveDate>, StoreError> {
    Ok(chain(store)
        .await?
        .into_iter()
        .filter_map(|(_, _, manifest)| manifest.ok().map(|m| m.day))
        .collect())
}

/// The collection days that have raw batches but no manifest, oldest
/// first: days never closed, whatever their age (one listing of `raw/`
/// and the chain read).
///
/// # Errors
///
/// [`ReconcileError`] when the store cannot be read.
pub async fn unclosed_days<S: ObjectStore>(store: &S) -> Result<Vec<NaiveDate>, ReconcileError> {
    let closed = closed_days(store).await?;
    let days: BTreeSet<NaiveDate> = store
        .list(RAW_PREFIX)
        .await?
        .iter()
        .filter_map(|key| RawBatch::parse(key))
        .map(|batch| batch.day.0)
        .filter(|day| !closed.contains(day))
        .collect();
    Ok(days.into_iter().collect())
}

/// Whether a scheduled collect run claimed a window on collection day
/// `day` (its scheduled time's date in `tz`, the zone collection days are
/// reckoned in): the evidence that collect ran for a day with no batch,
/// rather than failed before it claimed or never ran.
///
/// # Errors
///
/// [`ReconcileError`] when the store cannot be read.
pub async fn collect_claimed<S: ObjectStore>(
    store: &S,
    day: NaiveDate,
    tz: Tz,
) -> Result<bool, ReconcileError> {
    let prefix = run_claims_prefix();
    Ok(store.list(&prefix).await?.iter().any(|key| {
        key.strip_prefix(&prefix)
            .and_then(|window| DateTime::parse_from_rfc3339(window).ok())
            .is_some_and(|at| at.with_timezone(&tz).date_naive() == day)
    }))
}

/// Something [`verify`] found that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// An object a manifest lists is not there.
    Missing {
        /// The object's key.
        key: String,
    },
    /// An object's bytes differ from what a manifest recorded.
    Altered {
        /// The object's key.
        key: String,
        /// The manifest that recorded it.
        manifest: String,
    },
    /// An object in a closed day's raw folder that no manifest lists.
    Unlisted {
        /// The object's key.
        key: String,
        /// The day.
        day: NaiveDate,
    },
    /// A manifest's link does not match the manifest before it (which was
    /// edited, removed, or this one was).
    BrokenLink {
        /// The manifest whose link is broken.
        manifest: String,
    },
    /// A manifest cannot be read as one.
    Unreadable {
        /// The manifest.
        manifest: String,
        /// What is wrong.
        reason: String,
    },
    /// The newest manifest's hash is not the one given.
    Head {
        /// The newest manifest (none: there is none).
        manifest: Option<String>,
        /// Its SHA-256.
        sha256: Option<String>,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Missing { key } => write!(f, "{key}: missing"),
            Finding::Altered { key, manifest } => {
                write!(
                    f,
                    "{key}: altered (its SHA-256 is not the one {manifest} recorded)"
                )
            }
            Finding::Unlisted { key, day } => {
                write!(f, "{key}: not in any manifest of {day}")
            }
            Finding::BrokenLink { manifest } => write!(
                f,
                "{manifest}: the link to the manifest before is broken (one of them was edited or removed)"
            ),
            Finding::Unreadable { manifest, reason } => {
                write!(f, "{manifest}: unreadable ({reason})")
            }
            Finding::Head { manifest, sha256 } => match (manifest, sha256) {
                (Some(manifest), Some(sha256)) => write!(
                    f,
                    "{manifest}: the newest manifest's SHA-256 is {sha256}, not the one given (it was edited, or manifests were removed or added)"
                ),
                _ => write!(f, "there is no manifest, but a newest hash was given"),
            },
        }
    }
}

/// Re-reads every manifest, in chain order, and the objects of those
/// closing the days `from..=to` (all, when `None`); lists what does not
/// match. `head`, when given, is the SHA-256 the newest manifest must have
/// (as printed when it was written): without it, an edit of the newest
/// manifest together with the objects it lists cannot be seen. In a local
/// store, the ledger keys of the copies committed together (up to 16, of
/// any messages) name one file, and a Maildir copy of an EML may be the
/// stored EML itself: an edit of such a file in place shows under each of
/// its names.
///
/// # Errors
///
/// [`ReconcileError`] when the store cannot be read.
pub async fn verify<S: ObjectStore>(
    store: &S,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    head: Option<&str>,
) -> Result<(usize, Vec<Finding>), ReconcileError> {
    let mut findings = Vec::new();
    let chain = chain(store).await?;
    let mut verified = 0;
    let mut previous: Option<Link> = None;
    let mut listed: BTreeMap<NaiveDate, BTreeSet<String>> = BTreeMap::new();
    for (sequence, sha256, manifest) in &chain {
        let key = manifest_key(*sequence);
        match manifest {
            Ok(manifest) => {
                if manifest.previous != previous || manifest.sequence != *sequence {
                    findings.push(Finding::BrokenLink {
                        manifest: key.clone(),
                    });
                }
                let in_range = from.is_none_or(|from| manifest.day >= from)
                    && to.is_none_or(|to| manifest.day <= to);
                if in_range {
                    verified += 1;
                    verify_objects(store, &key, manifest, &mut findings).await?;
                    listed
                        .entry(manifest.day)
                        .or_default()
                        .extend(manifest.objects.iter().map(|o| o.key.clone()));
                }
            }
            Err(reason) => findings.push(Finding::Unreadable {
                manifest: key.clone(),
                reason: reason.clone(),
            }),
        }
        previous = Some(Link {
            sequence: *sequence,
            sha256: sha256.clone(),
        });
    }
    for key in store.list(RAW_PREFIX).await? {
        if let Some((_, day)) = raw_day(&key)
            && let Some(keys) = listed.get(&day)
            && !keys.contains(&key)
        {
            findings.push(Finding::Unlisted { key, day });
        }
    }
    if let Some(expected) = head {
        let newest = chain.last();
        if newest.is_none_or(|(_, sha256, _)| !sha256.eq_ignore_ascii_case(expected.trim())) {
            findings.push(Finding::Head {
                manifest: newest.map(|(sequence, _, _)| manifest_key(*sequence)),
                sha256: newest.map(|(_, sha256, _)| sha256.clone()),
            });
        }
    }
    Ok((verified, findings))
}

/// Checks the objects a manifest lists.
async fn verify_objects<S: ObjectStore>(
    store: &S,
    key: &str,
    manifest: &Manifest,
    findings: &mut Vec<Finding>,
) -> Result<(), ReconcileError> {
    for object in &manifest.objects {
        match hash_object(store, &object.key).await? {
            None => findings.push(Finding::Missing {
                key: object.key.clone(),
            }),
            Some((size, sha256)) if sha256 != object.sha256 || size != object.size => {
                findings.push(Finding::Altered {
                    key: object.key.clone(),
                    manifest: key.to_owned(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every manifest in chain order: (sequence, SHA-256 of its bytes, the
/// manifest or why it cannot be read).
async fn chain<S: ObjectStore>(
    store: &S,
) -> Result<Vec<(u64, String, Result<Manifest, String>)>, StoreError> {
    let mut out = Vec::new();
    for key in store.list(MANIFEST_PREFIX).await? {
        let Some(sequence) = manifest_sequence(&key) else {
            continue;
        };
        let Some(bytes) = store.get(&key).await? else {
            continue;
        };
        let manifest =
            serde_json::from_slice::<Manifest>(&bytes).map_err(|e| json_error::describe(&e));
        out.push((sequence, hex::encode(Sha256::digest(&bytes)), manifest));
    }
    out.sort_by_key(|(sequence, _, _)| *sequence);
    Ok(out)
}

/// Which keys exist, learnt by listing each folder once (a folder of
/// e-mails of one item day, of one mailbox's ledger): cheaper than reading
/// every object, in a directory and in a bucket alike.
#[derive(Default)]
struct Listed {
    folders: HashMap<String, HashSet<String>>,
}

impl Listed {
    async fn contains<S: ObjectStore>(&mut self, store: &S, key: &str) -> Result<bool, StoreError> {
        let folder = key.rfind('/').map_or("", |at| &key[..=at]);
        if !self.folders.contains_key(folder) {
            let keys = store.list(folder).await?.into_iter().collect();
            self.folders.insert(folder.to_owned(), keys);
        }
        Ok(self.folders[folder].contains(key))
    }
}

/// The raw batches of a collection day, all sources.
async fn batches<S: ObjectStore>(store: &S, day: NaiveDate) -> Result<Vec<RawBatch>, StoreError> {
    Ok(store
        .list(RAW_PREFIX)
        .await?
        .iter()
        .filter_map(|key| RawBatch::parse(key))
        .filter(|batch| batch.day.0 == day)
        .collect())
}

/// The remap job files of a collection day ([`RawBatch::remap`]).
async fn remaps<S: ObjectStore>(store: &S, day: NaiveDate) -> Result<Vec<RawBatch>, StoreError> {
    Ok(store
        .list(&RawBatch::remap_jobs_prefix(day))
        .await?
        .iter()
        .filter_map(|key| RawBatch::of_jobs_key(key))
        .filter(RawBatch::is_remap)
        .collect())
}

/// The items of a raw batch as convert reads them: (line number from 1,
/// the item, or `None` for a line that is no item); blank lines skipped.
fn items(raw: &[u8]) -> impl Iterator<Item = (usize, Option<Item<'_>>)> {
    raw.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(index, line)| (index + 1, serde_json::from_slice::<Item>(line).ok()))
}

/// A batch's delivery jobs (`None` when it has no job file); a line that
/// cannot be read goes into `unreadable`.
async fn day_jobs<S: ObjectStore>(
    store: &S,
    batch: &RawBatch,
    unreadable: &mut Vec<String>,
) -> Result<Option<Vec<DeliveryJob>>, StoreError> {
    let key = batch.jobs_key();
    let Some(bytes) = store.get(&key).await? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    let mut report = Report::default();
    jobs::read_lines(&bytes, &key, &mut out, &mut report);
    unreadable.extend(report.errors);
    Ok(Some(out))
}

/// An object's size and SHA-256 (hex), read as a stream
/// ([`ObjectStore::sha256`]); `None` when it is not there.
async fn hash_object<S: ObjectStore>(
    store: &S,
    key: &str,
) -> Result<Option<(u64, String)>, StoreError> {
    Ok(store
        .sha256(key)
        .await?
        .map(|(size, sha256)| (size, hex::encode(sha256))))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::layout::CollectionDay;
    use crate::store::{Listing, LocalDir, ObjectFile};

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn batch(id: &str) -> RawBatch {
        RawBatch {
            source: "whatsapp-export".to_owned(),
            day: CollectionDay(day()),
            id: id.to_owned(),
        }
    }

    /// A store where another run writes the first manifest just before
    /// this one tries to (two runs closing days at once).
    struct Racing {
        dir: LocalDir,
        raced: AtomicBool,
    }

    impl ObjectStore for Racing {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.dir.get(key).await
        }

        async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<Created, StoreError> {
            if key.starts_with(MANIFEST_PREFIX) && !self.raced.swap(true, Ordering::SeqCst) {
                let other = Manifest {
                    format: FORMAT.to_owned(),
                    sequence: 1,
                    day: day().pred_opt().unwrap(),
                    previous: None,
                    sources: BTreeMap::new(),
                    mailboxes: BTreeMap::new(),
                    stages: BTreeMap::new(),
                    objects: Vec::new(),
                };
                let bytes = serde_json::to_vec_pretty(&other).unwrap();
                self.dir.put_new(&manifest_key(1), &bytes).await?;
            }
            self.dir.put_new(key, bytes).await
        }

        async fn get_file(&self, key: &str) -> Result<Option<ObjectFile>, StoreError> {
            self.dir.get_file(key).await
        }

        async fn put_new_file(
            &self,
            key: &str,
            content: &ObjectFile,
        ) -> Result<Created, StoreError> {
            self.dir.put_new_file(key, content).await
        }

        async fn mark_collected(&self, key: &str) -> Result<(), StoreError> {
            self.dir.mark_collected(key).await
        }

        async fn scan(&self, prefix: &str) -> Result<Listing, StoreError> {
            self.dir.scan(prefix).await
        }
    }

    #[tokio::test]
    async fn a_manifest_whose_sequence_is_taken_meanwhile_is_written_next_in_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = Racing {
            dir: LocalDir::new(dir.path()),
            raced: AtomicBool::new(false),
        };
        store.put_new(&batch("a").key(), b"\n").await.unwrap();
        store.put_new(&batch("a").jobs_key(), b"").await.unwrap();
        let check = check(&store, day()).await.unwrap();
        assert!(check.is_complete());
        let today = day().succ_opt().unwrap();
        let Closed::Written { key, head } = close(&store, &check, today).await.unwrap() else {
            panic!("not written");
        };
        assert_eq!(key, "manifest/00000002.json");
        let (verified, findings) = verify(&store, None, None, Some(&head)).await.unwrap();
        assert_eq!((verified, findings), (2, Vec::new()));
        let chain = chain(&store).await.unwrap();
        let ours = chain[1].2.as_ref().unwrap();
        assert_eq!(ours.day, day());
        assert_eq!(ours.previous.as_ref().map(|l| l.sequence), Some(1));
    }

    #[tokio::test]
    async fn a_batch_added_after_the_check_is_left_to_the_next_close() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let (a, b) = (batch("a"), batch("b"));
        store.put_new(&a.key(), b"\n").await.unwrap();
        store
            .put_new(&a.original_key("chat.txt"), b"x")
            .await
            .unwrap();
        store.put_new(&a.jobs_key(), b"").await.unwrap();
        let checked = check(&store, day()).await.unwrap();
        // A backfill between the check and the close, not converted yet.
        store.put_new(&b.key(), b"\n").await.unwrap();
        store
            .put_new(&b.original_key("chat.txt"), b"y")
            .await
            .unwrap();
        let today = day().succ_opt().unwrap();
        close(&store, &checked, today).await.unwrap();
        let manifest: Manifest =
            serde_json::from_slice(&store.get(&manifest_key(1)).await.unwrap().unwrap()).unwrap();
        let keys: Vec<&str> = manifest.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                a.jobs_key().as_str(),
                a.key().as_str(),
                a.original_key("chat.txt").as_str()
            ]
        );
        assert_eq!(manifest.sources["whatsapp-export"].batches, 1);
        // The next check sees it open.
        assert_eq!(check(&store, day()).await.unwrap().unconverted, [b]);
    }

    /// Checks and closes `day()`, the first day closed in `store`: its
    /// manifest and the chain's head.
    async fn close_first(store: &LocalDir) -> (Manifest, String) {
        let checked = check(store, day()).await.unwrap();
        let today = day().succ_opt().unwrap();
        let Closed::Written { key, head } = close(store, &checked, today).await.unwrap() else {
            panic!("not written");
        };
        assert_eq!(key, manifest_key(1));
        let manifest = serde_json::from_slice(&store.get(&key).await.unwrap().unwrap()).unwrap();
        (manifest, head)
    }

    /// What collect found stored already when it retried a refused drop
    /// (its record names the keys only) is read at close and listed.
    #[tokio::test]
    async fn keys_a_crashed_collect_had_taken_are_read_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let (a, refused) = (batch("a"), batch("refused"));
        store.put_new(&a.key(), b"\n").await.unwrap();
        store.put_new(&a.jobs_key(), b"").await.unwrap();
        let original = refused.original_key("chat.zip");
        let record = crate::layout::refused_drop_key(&refused.id);
        store.put_new(&original, b"not a zip").await.unwrap();
        store.put_new(&record, b"{}").await.unwrap();
        let written = Written {
            raw_key: None,
            objects: BTreeMap::new(),
            stored_before: vec![original.clone(), record.clone()],
        };
        store
            .put_new(
                &refused.collected_fingerprints_key(),
                &crate::layout::record(&written),
            )
            .await
            .unwrap();
        let (manifest, head) = close_first(&store).await;
        for (key, bytes) in [(&original, &b"not a zip"[..]), (&record, &b"{}"[..])] {
            let listed = manifest.objects.iter().find(|o| &o.key == key);
            assert_eq!(
                listed.map(|o| o.sha256.clone()),
                Some(hex::encode(Sha256::digest(bytes))),
                "{key}"
            );
        }
        let (_, findings) = verify(&store, None, None, Some(&head)).await.unwrap();
        assert_eq!(findings, Vec::new());
    }

    /// An original whose unit has no batch (read again later under
    /// another id) is in its day's manifest, so that `verify` does not
    /// report it as in none.
    #[tokio::test]
    async fn an_original_of_a_unit_without_a_batch_is_listed_with_its_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let (a, orphan) = (batch("a"), batch("orphan"));
        store.put_new(&a.key(), b"\n").await.unwrap();
        store.put_new(&a.jobs_key(), b"").await.unwrap();
        store
            .put_new(&orphan.original_key("chat.txt"), b"x")
            .await
            .unwrap();
        let (manifest, head) = close_first(&store).await;
        assert!(
            manifest
                .objects
                .iter()
                .any(|o| o.key == orphan.original_key("chat.txt")),
            "{manifest:?}"
        );
        let (_, findings) = verify(&store, None, None, Some(&head)).await.unwrap();
        assert_eq!(findings, Vec::new());
    }
}
