//! The proof of a day: reconciling what was collected on a collection day
//! with what was converted and delivered, and the day's manifest, chained
//! to the day before.
//!
//! [`check`] reads the day's raw batches and job files and finds what is
//! open:
//! - a batch with no job file (never converted: an S3 notification lost);
//! - an item with neither an e-mail nor an `unmapped/` or `failed/` record
//!   (and a line that is no item without its `failed/lines/` record): lost
//!   after conversion, which nothing can redo;
//! - a delivery job with no ledger entry (a copy not delivered: a DLQ
//!   message expired, a mailbox unreachable for days, an entry deleted).
//!
//! The first and the last can be repaired (the CLI's `archiver reconcile
//! --repair` converts the batch and delivers the copies, each folder
//! searched first so that nothing arrives twice); the second is reported.
//! A day whose check finds nothing open gets its manifest ([`Manifest`],
//! `manifest/<day>.json`, create-only): counts, the SHA-256 and size of
//! every object of the day, its ledger entries, and the SHA-256 of the
//! manifest before it, so that the manifests form a chain from the first
//! day. [`verify`] re-reads the objects and the chain and lists every
//! object or manifest that does not match.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::item::Item;
use crate::jobs::{self, DeliveryJob};
use crate::json_error;
use crate::layout::{
    self, ItemDay, RAW_PREFIX, RawBatch, eml_key, failed_item_key, failed_line_key, ledger_key,
    unmapped_key,
};
use crate::report::Report;
use crate::store::{ObjectStore, StoreError};

/// The prefix of the daily manifests.
pub const MANIFEST_PREFIX: &str = "manifest/";

/// The manifest's format name.
pub const FORMAT: &str = "mobile-archiver-manifest/1";

/// Why a day cannot be reconciled or verified.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store cannot be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A manifest is not what this module writes.
    #[error("{key} is unreadable: {reason}")]
    Corrupt {
        /// The manifest's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// What the check of a day found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayCheck {
    /// The collection day.
    pub day: Option<NaiveDate>,
    /// Raw batches of the day.
    pub batches: u64,
    /// Items in them.
    pub items: u64,
    /// Delivery jobs (copies) of the day.
    pub copies: u64,
    /// Batches with no job file: never converted (repairable).
    pub unconverted: Vec<String>,
    /// Items (or lines) with neither e-mail nor record: lost after
    /// conversion (reported, not repairable).
    pub unaccounted: Vec<String>,
    /// Jobs with no ledger entry: copies not delivered (repairable).
    pub undelivered: Vec<DeliveryJob>,
}

impl DayCheck {
    /// Whether nothing is open: the day can be closed with its manifest.
    pub fn is_complete(&self) -> bool {
        self.unconverted.is_empty() && self.unaccounted.is_empty() && self.undelivered.is_empty()
    }

    /// What is open, one line each (object keys, item ids, mailboxes;
    /// never content).
    pub fn open_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for key in &self.unconverted {
            lines.push(format!("{key}: not converted (no job file)"));
        }
        for what in &self.unaccounted {
            lines.push(format!(
                "{what}: no e-mail and no unmapped or failed record"
            ));
        }
        for job in &self.undelivered {
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
        day: Some(day),
        ..DayCheck::default()
    };
    let mut listed = Listed::default();
    for batch in batches(store, day).await? {
        check.batches += 1;
        let raw_key = batch.key();
        let Some(raw) = store.get(&raw_key).await? else {
            continue;
        };
        if store.get(&batch.jobs_key()).await?.is_none() {
            check.unconverted.push(raw_key);
            continue;
        }
        for (index, line) in raw.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            check.items += 1;
            let unaccounted = match serde_json::from_slice::<Item>(line) {
                Ok(item) => {
                    let item_day = ItemDay::of(&item);
                    let mut filed = false;
                    for key in [
                        eml_key(item_day, &item.id),
                        failed_item_key(item_day, &item.id),
                        unmapped_key(item_day, &item.id),
                    ] {
                        filed |= listed.contains(store, &key).await?;
                    }
                    (!filed).then(|| format!("item {} ({raw_key})", item.id))
                }
                Err(_) => {
                    let key = failed_line_key(&raw_key, index + 1);
                    (!listed.contains(store, &key).await?)
                        .then(|| format!("line {} of {raw_key}", index + 1))
                }
            };
            check.unaccounted.extend(unaccounted);
        }
        for job in day_jobs(store, &batch).await? {
            check.copies += 1;
            let key = ledger_key(&job.mailbox, &job.message_id);
            if !listed.contains(store, &key).await? {
                check.undelivered.push(job);
            }
        }
    }
    Ok(check)
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
        let folder = match key.rfind('/') {
            Some(at) => &key[..=at],
            None => "",
        };
        if !self.folders.contains_key(folder) {
            let keys = store.list(folder).await?.into_iter().collect();
            self.folders.insert(folder.to_owned(), keys);
        }
        Ok(self.folders[folder].contains(key))
    }
}

/// The manifest of a closed day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The collection day.
    pub day: NaiveDate,
    /// The manifest before it in the chain (none for the first day).
    pub previous: Option<Link>,
    /// Per source: batches and items.
    pub sources: BTreeMap<String, SourceCounts>,
    /// Per mailbox: copies delivered (ledger entries).
    pub mailboxes: BTreeMap<String, u64>,
    /// Every object of the day with its size and SHA-256: raw batches and
    /// originals, e-mails and records of its items, media they attach,
    /// job files, ledger entries.
    pub objects: Vec<ObjectEntry>,
}

/// A link of the chain: the manifest before, by day and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its day.
    pub day: NaiveDate,
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
    /// The manifest was written now under this key.
    Written(String),
    /// The day had its manifest already.
    Already(String),
}

/// Writes the manifest of `day`, which [`check`] found complete, chained
/// to the newest manifest of an earlier day.
///
/// # Errors
///
/// [`ReconcileError`] when the store fails or an earlier manifest is
/// unreadable.
pub async fn close<S: ObjectStore>(store: &S, day: NaiveDate) -> Result<Closed, ReconcileError> {
    let key = manifest_key(day);
    if store.get(&key).await?.is_some() {
        return Ok(Closed::Already(key));
    }
    let previous = match store
        .list(MANIFEST_PREFIX)
        .await?
        .into_iter()
        .filter_map(|key| manifest_day(&key).map(|day| (day, key)))
        .filter(|(earlier, _)| *earlier < day)
        .max()
    {
        Some((earlier, previous_key)) => {
            let bytes = store
                .get(&previous_key)
                .await?
                .ok_or_else(|| StoreError::Missing(previous_key.clone()))?;
            Some(Link {
                day: earlier,
                sha256: hex::encode(Sha256::digest(&bytes)),
            })
        }
        None => None,
    };
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        day,
        previous,
        sources: BTreeMap::new(),
        mailboxes: BTreeMap::new(),
        objects: Vec::new(),
    };
    let mut keys = BTreeSet::new();
    for batch in batches(store, day).await? {
        let counts = manifest.sources.entry(batch.source.clone()).or_default();
        counts.batches += 1;
        let raw_key = batch.key();
        let prefix = raw_key
            .trim_end_matches(layout::RAW_BATCH_SUFFIX)
            .to_owned()
            + "/";
        keys.extend(store.list(&prefix).await?);
        keys.insert(raw_key.clone());
        keys.insert(batch.jobs_key());
        if let Some(raw) = store.get(&raw_key).await? {
            for (index, line) in raw.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                counts.items += 1;
                match serde_json::from_slice::<Item>(line) {
                    Ok(item) => {
                        let item_day = ItemDay::of(&item);
                        for key in [
                            eml_key(item_day, &item.id),
                            failed_item_key(item_day, &item.id),
                            unmapped_key(item_day, &item.id),
                        ] {
                            keys.insert(key);
                        }
                        for attachment in &item.attachments {
                            if let Some(key) = &attachment.object_key {
                                keys.insert(key.clone());
                            }
                        }
                    }
                    Err(_) => {
                        keys.insert(failed_line_key(&raw_key, index + 1));
                    }
                }
            }
        }
        for job in day_jobs(store, &batch).await? {
            *manifest.mailboxes.entry(job.mailbox.clone()).or_default() += 1;
            keys.insert(ledger_key(&job.mailbox, &job.message_id));
        }
    }
    for key in keys {
        if let Some((size, sha256)) = hash_object(store, &key).await? {
            manifest.objects.push(ObjectEntry { key, size, sha256 });
        }
    }
    let bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    store.put_new(&key, &bytes).await?;
    Ok(Closed::Written(key))
}

/// What [`verify`] found wrong, one line each.
pub type Findings = Vec<String>;

/// Re-reads every manifest of the days `from..=to` (all, when `None`),
/// every object they list and the chain's links; lists what does not
/// match: an object altered or missing, an object of a day's raw folder
/// that its manifest does not list, a manifest whose link to the one
/// before is broken.
///
/// # Errors
///
/// [`ReconcileError`] when the store cannot be read.
pub async fn verify<S: ObjectStore>(
    store: &S,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(usize, Findings), ReconcileError> {
    let mut findings = Vec::new();
    let manifests: BTreeMap<NaiveDate, String> = store
        .list(MANIFEST_PREFIX)
        .await?
        .into_iter()
        .filter_map(|key| manifest_day(&key).map(|day| (day, key)))
        .collect();
    let mut verified = 0;
    let mut before: Option<(NaiveDate, String)> = None;
    for (day, key) in &manifests {
        let Some(bytes) = store.get(key).await? else {
            continue;
        };
        let digest = hex::encode(Sha256::digest(&bytes));
        let in_range = from.is_none_or(|from| *day >= from) && to.is_none_or(|to| *day <= to);
        if in_range {
            verified += 1;
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(manifest) => {
                    let expected = before.as_ref().map(|(day, sha256)| Link {
                        day: *day,
                        sha256: sha256.clone(),
                    });
                    if manifest.previous != expected {
                        findings.push(format!(
                            "{key}: the link to the manifest before is broken (it names {}, the chain has {})",
                            describe_link(manifest.previous.as_ref()),
                            describe_link(expected.as_ref())
                        ));
                    }
                    verify_objects(store, &manifest, &mut findings).await?;
                }
                Err(e) => {
                    findings.push(format!("{key}: unreadable ({})", json_error::describe(&e)))
                }
            }
        }
        before = Some((*day, digest));
    }
    Ok((verified, findings))
}

/// Checks the objects a manifest lists, and that its day's raw folder
/// holds no object it does not list.
async fn verify_objects<S: ObjectStore>(
    store: &S,
    manifest: &Manifest,
    findings: &mut Findings,
) -> Result<(), ReconcileError> {
    let mut listed = BTreeSet::new();
    for object in &manifest.objects {
        listed.insert(object.key.as_str());
        match hash_object(store, &object.key).await? {
            None => findings.push(format!("{}: missing", object.key)),
            Some((size, sha256)) => {
                if sha256 != object.sha256 || size != object.size {
                    findings.push(format!(
                        "{}: altered (SHA-256 {sha256}; the manifest of {} says {})",
                        object.key, manifest.day, object.sha256
                    ));
                }
            }
        }
    }
    for source in manifest.sources.keys() {
        let prefix = format!("{RAW_PREFIX}{source}/{}/", manifest.day);
        for key in store.list(&prefix).await? {
            if !listed.contains(key.as_str()) {
                findings.push(format!("{key}: not in the manifest of {}", manifest.day));
            }
        }
    }
    Ok(())
}

fn describe_link(link: Option<&Link>) -> String {
    match link {
        Some(link) => format!("{} {}", link.day, link.sha256),
        None => "none".to_owned(),
    }
}

/// `manifest/<day>.json`.
pub fn manifest_key(day: NaiveDate) -> String {
    format!("{MANIFEST_PREFIX}{day}.json")
}

/// The day of a manifest key.
fn manifest_day(key: &str) -> Option<NaiveDate> {
    key.strip_prefix(MANIFEST_PREFIX)?
        .strip_suffix(".json")?
        .parse()
        .ok()
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

/// A batch's delivery jobs (none when it has no job file).
async fn day_jobs<S: ObjectStore>(
    store: &S,
    batch: &RawBatch,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let key = batch.jobs_key();
    let mut out = Vec::new();
    if let Some(bytes) = store.get(&key).await? {
        jobs::read_lines(&bytes, &key, &mut out, &mut Report::default());
    }
    Ok(out)
}

/// An object's size and SHA-256 (hex), read as a stream; `None` when it
/// is not there.
async fn hash_object<S: ObjectStore>(
    store: &S,
    key: &str,
) -> Result<Option<(u64, String)>, StoreError> {
    let Some(file) = store.get_file(key).await? else {
        return Ok(None);
    };
    let mut reader = file.reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0;
    loop {
        let n = std::io::Read::read(&mut reader, &mut buffer).map_err(|source| StoreError::Io {
            key: key.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_keys_name_their_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(manifest_key(day), "manifest/2026-11-21.json");
        assert_eq!(manifest_day(&manifest_key(day)), Some(day));
        assert_eq!(manifest_day("manifest/notes.txt"), None);
    }
}
