//! Daily-digest mode: one e-mail per conversation and day, holding every
//! message of that day in time order, for sources set to
//! [`Delivery::Digest`](crate::convert::Delivery::Digest).
//!
//! Convert writes each item's own e-mail as in per-message mode, and
//! instead of its jobs records the item under
//! `digest/<item-day>/<conversation>/items/` ([`DigestItem`]). The digest
//! step ([`digest_due`]) closes every conversation's day that is over (its
//! end, UTC, plus [`GRACE`]):
//!
//! 1. it writes, create-only, a part record ([`DigestPart`],
//!    `digest/<day>/<conversation>/parts/<n>`) listing the items no
//!    earlier part holds, in time order: part 0 is the day's digest, a
//!    later one a supplement of the items that arrived after it (a late
//!    export); a part once written never changes, so nothing is rewritten;
//! 2. it renders the part from exactly that list
//!    ([`prepare_digest`](crate::render::prepare_digest)), one
//!    e-mail per set of mailboxes its items map to (a mailbox gets only
//!    the messages it would have got one by one), each written
//!    create-only under `eml/<day>/digest-…`;
//! 3. it writes the part's delivery jobs, `jobs/digest/<day>/<conversation>-<n>.jsonl`,
//!    and hands them to the [`JobQueue`], as convert does a batch's: the
//!    ledger delivers each copy once.
//!
//! Once every part is finished, an empty mark (`closed/<count>`) says how
//! many items they hold: a later step that lists no more items than that
//! reads nothing of the conversation's day again.
//!
//! A step stopped anywhere is finished by the next: a part whose job file
//! is missing is rendered again from its record (the same bytes: the
//! rendering is a pure function of the record and the items' stored
//! e-mails, and every write is create-only), and items not in a part are
//! only ever put into a new one.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::convert::{self, ConvertOptions};
use crate::item::Item;
use crate::jobs::{self, DeliveryJob, JobQueue, QueueError};
use crate::json_error;
use crate::layout::{
    self, DIGEST_PREFIX, DigestItem, DigestKey, DigestObject, DigestPart, Fingerprint, ItemDay,
};
use crate::render::{self, DigestEntry, DigestInput, Rendered};
use crate::report::Report;
use crate::store::{Created, ObjectStore, StoreError};

/// How long after a day's end (UTC) its digests are made: items of the
/// day still on their way by then go into a supplement.
pub const GRACE: Duration = Duration::hours(1);

/// Why the digest step stopped (a rerun resumes it: every write is
/// create-only).
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The archive could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A digest record is not what convert or this step wrote.
    #[error("{key}: {reason}")]
    Record {
        /// The record's key.
        key: String,
        /// What is wrong with it (never its content).
        reason: String,
    },
    /// A part could not be rendered.
    #[error("{key}: {source}")]
    Render {
        /// The part's record.
        key: String,
        /// Why.
        source: render::RenderError,
    },
    /// A part's delivery jobs could not be queued.
    #[error("{key}: {source}")]
    Queue {
        /// The part's job file.
        key: String,
        /// What the queue answered.
        source: QueueError,
    },
}

/// Whether a day's digests are due at `now`: its end (UTC) plus [`GRACE`]
/// has passed.
pub fn is_due(day: ItemDay, now: DateTime<Utc>) -> bool {
    day.0
        .checked_add_days(Days::new(1))
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .is_some_and(|end| now >= end.and_utc() + GRACE)
}

/// What the store holds of one conversation's day.
#[derive(Debug, Default)]
struct Recorded {
    /// Item ids recorded by convert.
    items: BTreeSet<String>,
    /// Part numbers written.
    parts: BTreeSet<u32>,
    /// The most items a closed mark says were all in finished parts.
    closed: usize,
}

/// Makes every digest part that is due at `now`, and finishes every part
/// an earlier step began: its e-mails, job file and queued jobs. A
/// conversation's day whose records are unreadable, or whose part cannot
/// be rendered or queued, is reported and left for the next step; the
/// others go on.
///
/// # Errors
///
/// [`StoreError`] when the store cannot be read or written.
pub async fn digest_due<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    now: DateTime<Utc>,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut days: BTreeMap<DigestKey, Recorded> = BTreeMap::new();
    for key in store.list(DIGEST_PREFIX).await? {
        let Some((digest, object)) = DigestKey::parse(&key) else {
            continue;
        };
        let recorded = days.entry(digest).or_default();
        match object {
            DigestObject::Item(id) => {
                recorded.items.insert(id);
            }
            DigestObject::Part(part) => {
                recorded.parts.insert(part);
            }
            DigestObject::Closed(count) => recorded.closed = recorded.closed.max(count),
        }
    }
    let finished: BTreeSet<String> = store
        .list(&format!("{}{}/", layout::JOBS_PREFIX, layout::DIGEST_JOBS))
        .await?
        .into_iter()
        .collect();
    for (digest, recorded) in days {
        // No item since its last part was finished: nothing to read.
        if !is_due(digest.day, now) || recorded.closed == recorded.items.len() {
            continue;
        }
        match close(store, queue, &digest, &recorded, &finished, opts, report).await {
            Ok(()) => {}
            Err(DigestError::Store(e)) => return Err(e),
            // The conversation's day waits for the next step; the others
            // go on.
            Err(e) => report.error(e),
        }
    }
    Ok(())
}

/// Finishes a conversation's day's parts begun before, and makes a part
/// of its items no part holds yet.
async fn close<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    digest: &DigestKey,
    recorded: &Recorded,
    finished: &BTreeSet<String>,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), DigestError> {
    let mut covered = BTreeSet::new();
    let mut next = 0;
    for &number in &recorded.parts {
        let part = read_part(store, digest, number).await?;
        covered.extend(part.items.iter().cloned());
        if !finished.contains(&digest.batch(number).jobs_key()) {
            finish(store, queue, digest, &part, opts, report).await?;
        }
        next = number + 1;
    }
    let pending = pending(&recorded.items, &covered);
    if pending.is_empty() {
        return mark_closed(store, digest, covered.len()).await;
    }
    let mut records = Vec::with_capacity(pending.len());
    for id in &pending {
        let (_, record) = read_item(store, digest, id).await?;
        records.push(record);
    }
    let part = DigestPart {
        part: next,
        items: in_order(records),
    };
    let key = digest.part_key(next);
    let part = match store.put_new(&key, &layout::record(&part)).await? {
        Created::New => part,
        // Another step wrote it first: its list is the part.
        Created::Exists => read_part(store, digest, next).await?,
    };
    finish(store, queue, digest, &part, opts, report).await?;
    covered.extend(part.items);
    mark_closed(store, digest, covered.len()).await
}

/// Marks a conversation's day as holding `count` items, all in finished
/// parts.
async fn mark_closed<S: ObjectStore>(
    store: &S,
    digest: &DigestKey,
    count: usize,
) -> Result<(), DigestError> {
    store.put_new(&digest.closed_key(count), b"").await?;
    Ok(())
}

/// The items a new part holds: those recorded that no part holds yet.
fn pending(recorded: &BTreeSet<String>, covered: &BTreeSet<String>) -> Vec<String> {
    recorded.difference(covered).cloned().collect()
}

/// The ids of the items of `day` that reached `mailbox` inside a digest:
/// those a part holds that map to the mailbox, whose part the ledger
/// records in it (an export bundle's "delivered to this mailbox", for
/// items that have no ledger entry of their own).
///
/// # Errors
///
/// [`DigestError`] when the store cannot be read or a record is
/// unreadable.
pub async fn delivered_in_digests<S: ObjectStore>(
    store: &S,
    day: ItemDay,
    mailbox: &str,
) -> Result<BTreeSet<String>, DigestError> {
    let mut delivered = BTreeSet::new();
    for key in store.list(&format!("{DIGEST_PREFIX}{day}/")).await? {
        let Some((digest, DigestObject::Part(number))) = DigestKey::parse(&key) else {
            continue;
        };
        // The part's copy for this mailbox, as its job file names it.
        let jobs_key = digest.batch(number).jobs_key();
        let Some(bytes) = store.get(&jobs_key).await? else {
            continue;
        };
        let mut part_jobs = Vec::new();
        jobs::read_lines(&bytes, &jobs_key, &mut part_jobs, &mut Report::default());
        let mut ledgered = false;
        for job in part_jobs.iter().filter(|job| job.mailbox == mailbox) {
            ledgered |= store
                .get(&layout::ledger_key(mailbox, &job.message_id))
                .await?
                .is_some();
        }
        if !ledgered {
            continue;
        }
        for id in read_part(store, &digest, number).await?.items {
            let (_, record) = read_item(store, &digest, &id).await?;
            if record.mailboxes.iter().any(|m| m == mailbox) {
                delivered.insert(id);
            }
        }
    }
    Ok(delivered)
}

/// Item ids in the order a digest shows them: by time, then by raw batch
/// and line (an export's order for messages of the same second).
fn in_order(mut records: Vec<DigestItem>) -> Vec<String> {
    records.sort_by(|a, b| {
        let time = |r: &DigestItem| DateTime::parse_from_rfc3339(&r.timestamp).ok();
        (time(a), &a.raw_key, a.line, &a.item_id).cmp(&(time(b), &b.raw_key, b.line, &b.item_id))
    });
    records.into_iter().map(|r| r.item_id).collect()
}

/// Reads a part record.
async fn read_part<S: ObjectStore>(
    store: &S,
    digest: &DigestKey,
    number: u32,
) -> Result<DigestPart, DigestError> {
    let key = digest.part_key(number);
    let bytes = store
        .get(&key)
        .await?
        .ok_or_else(|| StoreError::Missing(key.clone()))?;
    let part: DigestPart = serde_json::from_slice(&bytes).map_err(|e| DigestError::Record {
        key: key.clone(),
        reason: json_error::describe(&e),
    })?;
    if part.items.is_empty() {
        return Err(DigestError::Record {
            key,
            reason: "a part lists no item".to_owned(),
        });
    }
    Ok(part)
}

/// Reads an item's record; its key too.
async fn read_item<S: ObjectStore>(
    store: &S,
    digest: &DigestKey,
    id: &str,
) -> Result<(String, DigestItem), DigestError> {
    let key = digest.item_key(id);
    let bytes = store
        .get(&key)
        .await?
        .ok_or_else(|| StoreError::Missing(key.clone()))?;
    let record = serde_json::from_slice(&bytes).map_err(|e| DigestError::Record {
        key: key.clone(),
        reason: json_error::describe(&e),
    })?;
    Ok((key, record))
}

/// Renders a part's e-mails, writes its job file and queues its jobs.
async fn finish<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    digest: &DigestKey,
    part: &DigestPart,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), DigestError> {
    let part_key = digest.part_key(part.part);
    let mut records = Vec::with_capacity(part.items.len());
    for id in &part.items {
        records.push(read_item(store, digest, id).await?);
    }
    let mut items = Vec::with_capacity(records.len());
    for (key, record) in &records {
        let item: Item<'_> =
            serde_json::from_str(&record.item).map_err(|e| DigestError::Record {
                key: key.clone(),
                reason: json_error::describe(&e),
            })?;
        items.push(item);
    }
    let mut files = Vec::with_capacity(records.len());
    for (_, record) in &records {
        let file = store
            .get_file(&record.eml_key)
            .await?
            .ok_or_else(|| StoreError::Missing(record.eml_key.clone()))?;
        files.push(file);
    }
    // Each mailbox gets the part's messages that map to it: one e-mail per
    // distinct set of messages.
    let mut of_mailbox: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, (_, record)) in records.iter().enumerate() {
        for mailbox in &record.mailboxes {
            of_mailbox.entry(mailbox).or_default().push(index);
        }
    }
    let mut audiences: BTreeMap<Vec<usize>, Vec<&str>> = BTreeMap::new();
    for (mailbox, indices) in of_mailbox {
        audiences.entry(indices).or_default().push(mailbox);
    }
    // One set of mailboxes: the part's Message-ID alone; several: each
    // e-mail's names its set, so that different contents never share one.
    let split = audiences.len() > 1;
    // A supplement replies to the day's digest as each mailbox got it.
    let mut digest_of: BTreeMap<String, String> = BTreeMap::new();
    if part.part > 0 {
        let first = digest.batch(0).jobs_key();
        if let Some(bytes) = store.get(&first).await? {
            let mut first_jobs = Vec::new();
            jobs::read_lines(&bytes, &first, &mut first_jobs, &mut Report::default());
            digest_of.extend(
                first_jobs
                    .into_iter()
                    .map(|job| (job.mailbox, job.message_id)),
            );
        }
    }
    let mut jobs = Vec::new();
    for (indices, mailboxes) in audiences {
        let audience = audience_name(&mailboxes);
        let eml_key = digest.eml_key(part.part, &audience);
        let audience = split.then_some(audience.as_str());
        let message_id =
            render::digest_message_id(&digest.conversation, digest.day.0, part.part, audience);
        let entries: Vec<DigestEntry<'_>> = indices
            .iter()
            .map(|&i| DigestEntry {
                item: &items[i],
                addresses: &records[i].1.addresses,
                eml: Some(&files[i]),
                eml_key: &records[i].1.eml_key,
            })
            .collect();
        let input = DigestInput {
            conversation: &digest.conversation,
            day: digest.day.0,
            part: part.part,
            audience,
            replying_to: mailboxes
                .iter()
                .find_map(|mailbox| digest_of.get(*mailbox))
                .map(String::as_str),
            entries: &entries,
        };
        let (rendered, stubbed) =
            render_fitting(&input, opts).map_err(|source| DigestError::Render {
                key: part_key.clone(),
                source,
            })?;
        let fingerprint = write(store, &eml_key, &rendered, report).await?;
        let last = &records[*indices.last().expect("an audience has a message")].1;
        jobs.extend(mailboxes.iter().map(|mailbox| DeliveryJob {
            mailbox: (*mailbox).to_owned(),
            folder: last.folder.clone(),
            eml_key: eml_key.clone(),
            message_id: message_id.clone(),
            timestamp: last.timestamp.clone(),
            eml: Some(fingerprint.clone()),
            stubbed,
        }));
    }
    let batch = digest.batch(part.part);
    let jobs_key = batch.jobs_key();
    store.put_new(&jobs_key, &jobs::to_lines(&jobs)).await?;
    queue
        .send(&jobs)
        .await
        .map_err(|source| DigestError::Queue {
            key: jobs_key,
            source,
        })
}

/// The name of a set of mailboxes in a digest's key: the first 8 hex
/// digits of the SHA-256 of their addresses, one per line, sorted.
fn audience_name(mailboxes: &[&str]) -> String {
    let mut sorted = mailboxes.to_vec();
    sorted.sort_unstable();
    let digest = Sha256::digest(sorted.join("\n").as_bytes());
    hex::encode(&digest[..4])
}

/// Renders a part; when the target has a size limit the part exceeds,
/// again with its messages' e-mails attached only as far as they fit, in
/// order (the rest as stubs naming their archive keys): the most that
/// fit, found by bisection (each more attached makes the message larger).
/// True beside it when some are stubs.
fn render_fitting<'i>(
    input: &DigestInput<'_, 'i>,
    opts: &ConvertOptions,
) -> Result<(Rendered<'i>, bool), render::RenderError> {
    let rendered = render::prepare_digest(input, &opts.render)?;
    let Some(limit) = opts.max_message_bytes else {
        return Ok((rendered, false));
    };
    if rendered.len() <= limit {
        return Ok((rendered, false));
    }
    let with_first = |attached: usize| -> Result<Rendered<'i>, render::RenderError> {
        let entries: Vec<DigestEntry<'i>> = input
            .entries
            .iter()
            .enumerate()
            .map(|(n, entry)| DigestEntry {
                eml: entry.eml.filter(|_| n < attached),
                ..*entry
            })
            .collect();
        render::prepare_digest(
            &DigestInput {
                entries: &entries,
                ..*input
            },
            &opts.render,
        )
    };
    // The most attached that fit lies in [fits, fits + too_many).
    let (mut fits, mut too_many) = (0, input.entries.len());
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        if with_first(middle)?.len() <= limit {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    Ok((with_first(fits)?, true))
}

/// Writes a digest e-mail create-only (through a temporary file: a digest
/// can be large); returns the fingerprint of what is stored.
async fn write<S: ObjectStore>(
    store: &S,
    key: &str,
    rendered: &Rendered<'_>,
    report: &mut Report,
) -> Result<Fingerprint, StoreError> {
    let (file, fingerprint) = convert::spool_eml(rendered, key)?;
    match store.put_new_file(key, &file).await? {
        Created::New => {
            report.digests_written += 1;
            Ok(fingerprint)
        }
        // Written by a step that stopped before its job file: the same
        // bytes, but the stored ones are what is delivered.
        Created::Exists => {
            report.emails_existing += 1;
            let stored = store
                .sha256(key)
                .await?
                .ok_or_else(|| StoreError::Missing(key.to_owned()))?;
            Ok(Fingerprint::from_digest(stored))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn record(id: &str, timestamp: &str, raw_key: &str, line: usize) -> DigestItem {
        DigestItem {
            item_id: id.to_owned(),
            timestamp: timestamp.to_owned(),
            raw_key: raw_key.to_owned(),
            line,
            eml_key: format!("eml/2026-12-01/{id}.eml"),
            item: String::new(),
            addresses: Vec::new(),
            mailboxes: vec!["a@corp.example".to_owned()],
            folder: "WhatsApp Archiver".to_owned(),
        }
    }

    #[test]
    fn a_part_lists_items_by_time_then_by_their_place_in_the_export() {
        let records = vec![
            record("c", "2026-12-01T10:00:00Z", "raw/a.jsonl", 1),
            record("b", "2026-12-01T09:00:00Z", "raw/a.jsonl", 7),
            record("a", "2026-12-01T09:00:00Z", "raw/a.jsonl", 3),
            // Another zone, the same instant as b and a, from a later batch.
            record("d", "2026-12-01T10:00:00+01:00", "raw/b.jsonl", 1),
        ];
        assert_eq!(in_order(records), ["a", "b", "d", "c"]);
    }

    #[test]
    fn a_new_part_holds_only_items_no_earlier_part_holds() {
        let ids = |list: &[&str]| -> BTreeSet<String> {
            list.iter().map(|id| (*id).to_owned()).collect()
        };
        let recorded = ids(&["a", "b", "c", "late"]);
        assert_eq!(pending(&recorded, &ids(&["a", "b", "c"])), ["late"]);
        assert!(pending(&recorded, &recorded).is_empty());
        assert_eq!(pending(&recorded, &ids(&[])).len(), 4);
    }

    #[test]
    fn a_days_digests_are_due_an_hour_after_it_ends_in_utc() {
        let day = ItemDay(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        assert!(!is_due(day, at("2026-12-01T23:59:59Z")));
        assert!(!is_due(day, at("2026-12-02T00:59:59Z")));
        assert!(is_due(day, at("2026-12-02T01:00:00Z")));
        assert!(is_due(day, at("2027-01-01T00:00:00Z")));
    }

    #[test]
    fn a_set_of_mailboxes_is_named_whatever_its_order() {
        let name = audience_name(&["b@corp.example", "a@corp.example"]);
        assert_eq!(name, audience_name(&["a@corp.example", "b@corp.example"]));
        assert_eq!(name.len(), 8);
        assert_ne!(name, audience_name(&["a@corp.example"]));
    }
}
