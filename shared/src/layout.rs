//! The archive store's layout: every object key and every record the
//! stages write, built and parsed here and nowhere else.
//!
//! A local directory and an S3 bucket hold the same tree:
//!
//! | key | written by | what it holds |
//! |---|---|---|
//! | `raw/<source>/<collection-day>/<batch>.jsonl` | collect | one item per line (the batch) |
//! | `raw/<source>/<collection-day>/<batch>/<file>` | collect | the originals the batch was (or was to be) read from |
//! | `media/<sha256>` | collect, media | one attachment, named by its content |
//! | `media/<source>/<media-id>.json` | media | a media id fetched: its file's SHA-256 and size ([`MediaFetched`]) |
//! | `media/<source>/<media-id>.failed.json` | media | a media id that could not be fetched, and why ([`MediaFailed`]) |
//! | `inbox/<source>/<receipt-day>/<sha256>.json` | capture | a webhook body exactly as received (WhatsApp Cloud API) |
//! | `failed/drops/<batch>.json` | collect | a drop that could not be read ([`RefusedDrop`]) |
//! | `collected/<source>/<position>` | collect | a source's checkpoint ([`Collected`]) |
//! | `collected/runs/<window>` | collect (Lambda) | the claim of a scheduled run ([`Claim`]) |
//! | `fingerprints/<collection-day>/collected/<source>/<batch>.json` | collect | what collect wrote of a batch or refused drop, fingerprinted as written, before its checkpoint ([`Written`]) |
//! | `fingerprints/<collection-day>/converted/<source>/<batch>.json` | convert | every e-mail made of a batch's items, fingerprinted as stored, before its job file ([`Written`]) |
//! | `collected/reports/<collection-day>/<finished-at>.json` | collect | what one run of collect noticed: per-source counts, WhatsApp Cloud delivery statuses and their errors, `seq` gaps, problems ([`CollectRun`]) |
//! | `eml/<item-day>/<item-id>.eml` | convert | the item's e-mail |
//! | `eml/<item-day>/digest-<conversation>-<part>-<mailboxes>.eml` | digest | a conversation's daily digest (part 0) or a supplement (1, 2, …), for the mailboxes its items map to ([`DigestKey`]) |
//! | `digest/<item-day>/<conversation>/items/<item-id>.json` | convert | an item of a digest source waiting for its day's digest ([`DigestItem`]) |
//! | `digest/<item-day>/<conversation>/parts/<part>.json` | digest | the items a digest part holds, fixed before it is rendered ([`DigestPart`]) |
//! | `digest/<item-day>/<conversation>/closed/<count>` | digest | empty: every part finished, holding the `count` items recorded then ([`DigestKey::closed_key`]) |
//! | `jobs/digest/<item-day>/<conversation>-<part>.jsonl` | digest | the part's delivery jobs, one per line |
//! | `unmapped/<item-day>/<item-id>.json` | convert | an item no mailbox maps to ([`Unmapped`]) |
//! | `remapped/<item-day>/<item-id>.json` | remap | an unmapped item a later mapping maps: its mailboxes and job file ([`Remapped`]) |
//! | `mapping/applied/<mapping-hash>` | remap | every unmapped item was re-resolved with this mapping ([`MappingApplied`]) |
//! | `mapping/remapped/<mapping-hash>/<sha256(raw key)>` | remap | the unmapped items of that raw batch were re-resolved with this mapping (holds the raw key) |
//! | `failed/<item-day>/<item-id>.json` | convert | an item that could not be rendered ([`Failed`]) |
//! | `failed/lines/<sha256(raw key)>-<line>.json` | convert | a raw line that is no item ([`FailedLine`]) |
//! | `jobs/<source>/<collection-day>/<batch>.jsonl` | convert | the batch's delivery jobs, one per line |
//! | `jobs/remap/<collection-day>/<mapping-hash>-<content>.jsonl` | remap | delivery jobs of items recovered by a mapping, filed under the collection day of their raw batch ([`RawBatch::remap`]; `started/` and `done/` as for a batch) |
//! | `started/<source>/<collection-day>/<batch>.jsonl` | deliver (embedded) | delivery of the batch's jobs began |
//! | `done/<source>/<collection-day>/<batch>.jsonl` | deliver (embedded) | every job of the batch is delivered |
//! | `delivered/<mailbox>/<sha256(Message-ID)>` | deliver | the ledger: the [`LedgerEntry`] of the message in that mailbox, among those of the other copies committed with it ([`ledger_record`]) |
//! | `sending/<mailbox>/<sha256(Message-ID)>` | deliver (SMTP) | a copy is being sent (durable, before the transaction; holds the store's [`unsynced_epoch`](crate::store::ObjectStore::unsynced_epoch) then) |
//! | `sending/<mailbox>/<sha256(Message-ID)>.sent` | deliver (SMTP) | a flag ([`ObjectStore::flag`](crate::store::ObjectStore::flag)), set the instant before the end of the message went out (a local directory: one byte, `0` or `1`, unsynced; S3: an empty object once set): set with no ledger entry, the copy may have been taken ([`crate::ledger`]) |
//! | `manifest/<sequence>.json` | reconcile | a closed day's manifest, chained to the one before ([`crate::reconcile::Manifest`]) |
//! | `reports/<collection-day>/<made-at>.{json,html}` | report | the daily report ([`crate::day_report`]) |
//! | `reports/<collection-day>/<made-at>.delivered.json` | report | where that report was delivered |
//! | `reports/<collection-day>/<made-at>.eml` | reconcile (Lambda) | that report as the e-mail a delivery job carries to the admin mailbox |
//! | `reports/<collection-day>/sent-{open,closed}.json` | reconcile (Lambda) | the day's report was queued for the admin mailbox while the day was open, or once it closed ([`ReportSent`]) |
//!
//! Two meanings of "day", never mixed:
//! - the **collection day** ([`CollectionDay`]) is the day, in the
//!   archive's time zone, of the run that pulled a batch (the scheduled
//!   time, or the day asked for by a backfill). It files what a run pulled:
//!   `raw/`, and so `jobs/`, `started/`, `done/` (a remap's job files too:
//!   under the day of the batches their items came from; but not a digest
//!   part's, filed under `jobs/digest/` by its item day: a digest belongs
//!   to the day it covers, and its key must not depend on when it was
//!   made).
//! - the **item day** ([`ItemDay`]) is the UTC date of the item's own
//!   timestamp, when the message was sent. It files what belongs to one
//!   item: `eml/`, `unmapped/`, `remapped/`, `failed/`, `digest/`. An export collected today files
//!   its messages of last year under last year's days.
//!
//! Every write is create-only ([`crate::store::ObjectStore::put_new`]):
//! each key is recomputed the same way on a retry, so a retry finds what
//! the first attempt wrote and adds nothing.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::item::{Item, ItemId};
use crate::report::{SeqGap, SourceCounts};

/// The prefix of raw batches; S3 notifications for keys under it with the
/// suffix [`RAW_BATCH_SUFFIX`] start convert (template.yaml).
pub const RAW_PREFIX: &str = "raw/";

/// The suffix of a raw batch's key.
pub const RAW_BATCH_SUFFIX: &str = ".jsonl";

/// The prefix of delivery job files.
pub const JOBS_PREFIX: &str = "jobs/";

/// The prefix of the embedded deliver's `done/` markers.
pub const DONE_PREFIX: &str = "done/";

/// The prefix of the sources' checkpoints (and of run claims).
pub const COLLECTED_PREFIX: &str = "collected/";

/// The prefix of the items' e-mails.
pub const EML_PREFIX: &str = "eml/";

/// The prefix of unmapped items' records.
pub const UNMAPPED_PREFIX: &str = "unmapped/";

/// The prefix of the records of unmapped items a later mapping maps.
pub const REMAPPED_PREFIX: &str = "remapped/";

/// The prefix of the records of mappings applied to every unmapped item.
pub const MAPPING_APPLIED_PREFIX: &str = "mapping/applied/";

/// The prefix of the raw batches each mapping re-resolved the unmapped
/// items of.
pub const MAPPING_REMAPPED_PREFIX: &str = "mapping/remapped/";

/// The name remap's job files are filed under in `jobs/`, `started/` and
/// `done/`, where a raw batch's source name stands: no source may be
/// called so ([`is_source_name`]).
pub const REMAP: &str = "remap";

/// The prefix of failure records: items (`failed/<item-day>/`), raw lines
/// ([`FAILED_LINES_PREFIX`]) and refused drops ([`REFUSED_DROPS_PREFIX`]).
pub const FAILED_PREFIX: &str = "failed/";

/// The prefix of raw lines that are no item.
pub const FAILED_LINES_PREFIX: &str = "failed/lines/";

/// The prefix of refused drops' records.
pub const REFUSED_DROPS_PREFIX: &str = "failed/drops/";

/// The prefix of the delivery ledger.
pub const LEDGER_PREFIX: &str = "delivered/";

/// The prefix of the daily manifests.
pub const MANIFEST_PREFIX: &str = "manifest/";

/// The prefix of the fingerprint records ([`Written`]):
/// `fingerprints/<collection-day>/<stage>/<source>/<batch>.json`.
pub const FINGERPRINTS_PREFIX: &str = "fingerprints/";

/// The day, in the archive's time zone, of the run that collected a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionDay(pub NaiveDate);

impl fmt::Display for CollectionDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The UTC date of an item's own timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemDay(pub NaiveDate);

impl ItemDay {
    /// The day of an item.
    pub fn of(item: &Item<'_>) -> ItemDay {
        ItemDay(item.timestamp.0.date_naive())
    }
}

impl fmt::Display for ItemDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The prefix of digest records (items waiting, parts made).
pub const DIGEST_PREFIX: &str = "digest/";

/// The folder under `jobs/` (and `started/`, `done/`) of digest parts'
/// delivery jobs; no source may take its name.
pub const DIGEST_JOBS: &str = "digest";

/// One conversation's day in digest mode: `digest/<item-day>/<conversation>/`,
/// the conversation named by the first 16 bytes of the SHA-256 of its id
/// (hex; the GUID of its `Thread-Index` too).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DigestKey {
    /// The item day the digest covers.
    pub day: ItemDay,
    /// The conversation's hash (32 hex digits).
    pub conversation: String,
}

/// What a key under [`DIGEST_PREFIX`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestObject {
    /// An item waiting for its digest, by item id.
    Item(String),
    /// A part made, by number.
    Part(u32),
    /// The mark that this many items were all in finished parts.
    Closed(usize),
}

impl DigestKey {
    /// The digest an item belongs to.
    pub fn of(item: &Item<'_>) -> DigestKey {
        let digest = Sha256::digest(item.conversation.id.as_bytes());
        DigestKey {
            day: ItemDay::of(item),
            conversation: hex::encode(&digest[..16]),
        }
    }

    /// `digest/<item-day>/<conversation>/`.
    pub fn prefix(&self) -> String {
        format!("{DIGEST_PREFIX}{}/{}/", self.day, self.conversation)
    }

    /// `digest/<item-day>/<conversation>/items/<item-id>.json` (an
    /// [`ItemId`], or its text as a part record lists it).
    pub fn item_key(&self, id: impl fmt::Display) -> String {
        format!("{}items/{id}.json", self.prefix())
    }

    /// `digest/<item-day>/<conversation>/parts/<part>.json` (zero-padded,
    /// so keys sort in part order).
    pub fn part_key(&self, part: u32) -> String {
        format!("{}parts/{part:04}.json", self.prefix())
    }

    /// `digest/<item-day>/<conversation>/closed/<count>`: an empty mark,
    /// written once every part is finished and `count` items, all those
    /// recorded then, are in them; a later step finding as many items
    /// recorded reads none of the parts again.
    pub fn closed_key(&self, count: usize) -> String {
        format!("{}closed/{count}", self.prefix())
    }

    /// `eml/<item-day>/digest-<conversation>-<part>-<mailboxes>.eml`: the
    /// part's e-mail for one set of mailboxes, named by the first 8 hex
    /// digits of its hash.
    pub fn eml_key(&self, part: u32, mailboxes: &str) -> String {
        format!(
            "{EML_PREFIX}{}/digest-{}-{part}-{mailboxes}.eml",
            self.day, self.conversation
        )
    }

    /// Whether an `eml/` key is a digest's e-mail (not an item's own).
    pub fn is_digest_eml(key: &str) -> bool {
        key.strip_prefix(EML_PREFIX)
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, name)| name.starts_with("digest-"))
    }

    /// The part's place in the job machinery: a batch of source
    /// [`DIGEST_JOBS`], filed under the item day, named
    /// `<conversation>-<part>` (its jobs are `jobs/digest/<item-day>/<conversation>-<part>.jsonl`).
    pub fn batch(&self, part: u32) -> RawBatch {
        RawBatch {
            source: DIGEST_JOBS.to_owned(),
            day: CollectionDay(self.day.0),
            id: format!("{}-{part}", self.conversation),
        }
    }

    /// Reads a key under [`DIGEST_PREFIX`]; `None` for any other key.
    pub fn parse(key: &str) -> Option<(DigestKey, DigestObject)> {
        let mut segments = key.strip_prefix(DIGEST_PREFIX)?.split('/');
        let day = ItemDay(segments.next()?.parse().ok()?);
        let conversation = segments.next()?;
        let (kind, name) = (segments.next()?, segments.next()?);
        if segments.next().is_some()
            || conversation.len() != 32
            || !conversation.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let object = match kind {
            "items" => DigestObject::Item(ItemId::parse(name.strip_suffix(".json")?)?.to_string()),
            "parts" => DigestObject::Part(name.strip_suffix(".json")?.parse().ok()?),
            "closed" => DigestObject::Closed(name.parse().ok()?),
            _ => return None,
        };
        let key = DigestKey {
            day,
            conversation: conversation.to_owned(),
        };
        Some((key, object))
    }
}

/// An item of a digest source, recorded by convert for its day's digest:
/// what the digest needs to show it and to whom it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestItem {
    /// The item id.
    pub item_id: String,
    /// The item's time (RFC 3339): digests list items in time order.
    pub timestamp: String,
    /// The raw batch the item came from.
    pub raw_key: String,
    /// Its line in that batch, from 1 (orders items of the same second).
    pub line: usize,
    /// The item's own e-mail, attached to the digest.
    pub eml_key: String,
    /// The item as its raw line holds it (JSON).
    pub item: String,
    /// Mailbox address per participant, as the item's own e-mail names
    /// them (`None` = unmapped).
    pub addresses: Vec<Option<String>>,
    /// The mailboxes that get a copy.
    pub mailboxes: Vec<String>,
    /// The folder the copies go in.
    pub folder: String,
}

/// A digest part, written before it is rendered: the items it holds, in
/// the order it shows them. Part 0 is the day's digest; each later part,
/// a supplement, holds only items no earlier part holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPart {
    /// The part's number.
    pub part: u32,
    /// Item ids, in time order.
    pub items: Vec<String>,
}

/// A raw batch: `raw/<source>/<collection-day>/<batch>.jsonl`; or, of
/// the source [`REMAP`], a remap's job file, which has no raw object
/// ([`RawBatch::remap`]): everything that reads job files (deliver,
/// reconcile, the reports) reads both alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch {
    /// The source's name (its folder under `raw/` and `collected/`).
    pub source: String,
    /// The day of the run that collected it.
    pub day: CollectionDay,
    /// The batch id (see [`crate::sources::Source`] for its contract).
    pub id: String,
}

impl RawBatch {
    /// The batch's key.
    pub fn key(&self) -> String {
        format!(
            "{RAW_PREFIX}{}/{}/{}{RAW_BATCH_SUFFIX}",
            self.source, self.day, self.id
        )
    }

    /// The key of an original the batch was read from, kept beside it.
    /// The name is one segment: see [`key_segment`].
    pub fn original_key(&self, file_name: &str) -> String {
        format!("{}{}", self.originals_prefix(), key_segment(file_name))
    }

    /// `raw/<source>/<day>/<batch>/`: the folder of the batch's originals.
    pub fn originals_prefix(&self) -> String {
        format!("{}{}/", raw_day_prefix(&self.source, self.day.0), self.id)
    }

    /// Reads a raw batch key; `None` for any other key (an original, a
    /// key of another prefix, a malformed day).
    pub fn parse(key: &str) -> Option<RawBatch> {
        let rest = key
            .strip_prefix(RAW_PREFIX)?
            .strip_suffix(RAW_BATCH_SUFFIX)?;
        let mut parts = rest.split('/');
        let (source, day, id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || source.is_empty() || id.is_empty() {
            return None;
        }
        let day = CollectionDay(day.parse().ok()?);
        Some(RawBatch {
            source: source.to_owned(),
            day,
            id: id.to_owned(),
        })
    }

    /// The batch's name in the `jobs/`, `started/` and `done/` folders
    /// (its key without `raw/`).
    fn name(&self) -> String {
        self.key()[RAW_PREFIX.len()..].to_owned()
    }

    /// `jobs/<...>`: the batch's delivery jobs.
    pub fn jobs_key(&self) -> String {
        format!("{JOBS_PREFIX}{}", self.name())
    }

    /// `started/<...>`: delivery of the batch's jobs began.
    pub fn started_key(&self) -> String {
        format!("started/{}", self.name())
    }

    /// `done/<...>`: every job of the batch is delivered.
    pub fn done_key(&self) -> String {
        format!("{DONE_PREFIX}{}", self.name())
    }

    /// The job file of a remap, `jobs/remap/<collection-day>/<name>.jsonl`:
    /// a batch of no source ([`REMAP`]), with no raw object, whose jobs
    /// deliver items recovered by a mapping; the deliver stage, reconcile
    /// and the reports read it as any batch's (its `started/` and `done/`
    /// markers likewise). `day` is the collection day of the raw batches
    /// its items came from; `name` a plain segment.
    pub fn remap(day: CollectionDay, name: String) -> RawBatch {
        RawBatch {
            source: REMAP.to_owned(),
            day,
            id: name,
        }
    }

    /// Whether this is a remap's job file ([`RawBatch::remap`]) rather than
    /// a raw batch.
    pub fn is_remap(&self) -> bool {
        self.source == REMAP
    }

    /// `jobs/remap/<collection-day>/`: the folder of a day's remap job
    /// files.
    pub fn remap_jobs_prefix(day: NaiveDate) -> String {
        format!("{JOBS_PREFIX}{REMAP}/{day}/")
    }

    /// `fingerprints/<day>/collected/<source>/<batch>.json`: what collect
    /// wrote of the batch (or refused drop) of this id ([`Written`]).
    pub fn collected_fingerprints_key(&self) -> String {
        self.fingerprints_key(COLLECTED_STAGE)
    }

    /// `fingerprints/<day>/converted/<source>/<batch>.json`: the e-mails
    /// convert made of the batch's items ([`Written`]).
    pub fn converted_fingerprints_key(&self) -> String {
        self.fingerprints_key(CONVERTED_STAGE)
    }

    /// The batch (or refused drop) whose collect record
    /// ([`RawBatch::collected_fingerprints_key`]) `key` is.
    pub fn of_collected_fingerprints_key(key: &str) -> Option<RawBatch> {
        let rest = key.strip_prefix(FINGERPRINTS_PREFIX)?;
        let (day, rest) = rest.split_once('/')?;
        let (source, id) = rest
            .strip_prefix(COLLECTED_STAGE)?
            .strip_prefix('/')?
            .strip_suffix(".json")?
            .split_once('/')?;
        if id.contains('/') || !is_plain_segment(source) || !is_plain_segment(id) {
            return None;
        }
        Some(RawBatch {
            source: source.to_owned(),
            day: CollectionDay(day.parse().ok()?),
            id: id.to_owned(),
        })
    }

    fn fingerprints_key(&self, stage: &str) -> String {
        format!(
            "{}{stage}/{}/{}.json",
            fingerprints_day_prefix(self.day.0),
            self.source,
            self.id
        )
    }

    /// The batch whose jobs a `jobs/` key holds.
    pub fn of_jobs_key(key: &str) -> Option<RawBatch> {
        let name = key.strip_prefix(JOBS_PREFIX)?;
        RawBatch::parse(&format!("{RAW_PREFIX}{name}"))
    }
}

impl fmt::Display for RawBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Whether `name` can be one segment of a key: not empty, not `.` or `..`,
/// no `/`, `\` or control character. Source names, batch ids and
/// checkpoint positions must be.
pub fn is_plain_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Whether a source may be called `name`: a plain segment that is not a
/// folder collect uses itself (`collected/runs/`, `collected/reports/`),
/// remap's name in `jobs/` ([`REMAP`]) or digest parts' (`jobs/digest/`).
pub fn is_source_name(name: &str) -> bool {
    is_plain_segment(name)
        && name != RUNS
        && name != RUN_REPORTS
        && name != REMAP
        && name != DIGEST_JOBS
}

/// The folder of run claims under `collected/`.
const RUNS: &str = "runs";

/// The folder of collect runs' own reports under `collected/`.
const RUN_REPORTS: &str = "reports";

/// A name from outside (a dropped file's) as one key segment: control
/// characters, the line and paragraph separators and the direction marks
/// (which break or disguise a name where keys are listed, as they would a
/// printed line: see [`crate::escape`]), `%`, `/` and `\\` percent-encoded
/// (UTF-8 bytes, `%0A`, `%E2%80%AE`), and `.` and `..` as `%2E` and
/// `%2E%2E`; every other character, non-ASCII letters included, kept. A
/// name without those is its own segment.
pub fn key_segment(name: &str) -> String {
    match name {
        "" => "%00".to_owned(),
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        name => {
            let mut segment = String::with_capacity(name.len());
            for c in name.chars() {
                if crate::escape::needs_escape(c) || matches!(c, '%' | '/' | '\\') {
                    for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                        segment.push_str(&format!("%{byte:02X}"));
                    }
                } else {
                    segment.push(c);
                }
            }
            segment
        }
    }
}

/// `failed/drops/<batch>.json`: a drop that could not be read, under the
/// id its batch would have had.
pub fn refused_drop_key(batch_id: &str) -> String {
    format!("failed/drops/{batch_id}.json")
}

/// The prefix of webhook bodies as received (`capture` writes only here).
pub const INBOX_PREFIX: &str = "inbox/";

/// `inbox/<source>/`: the folder of a source's webhook bodies.
pub fn inbox_prefix(source: &str) -> String {
    format!("{INBOX_PREFIX}{source}/")
}

/// `inbox/<source>/<receipt-day>/<sha256>.json`: a webhook body, named by
/// its content (a redelivery of the same bytes is the same object) and
/// filed by the UTC day it was received.
pub fn inbox_key(source: &str, day: NaiveDate, sha256: &str) -> String {
    format!("{}{day}/{sha256}.json", inbox_prefix(source))
}

/// The SHA-256 an inbox key names; `None` for any other key.
pub fn inbox_body_sha256<'k>(source: &str, key: &'k str) -> Option<&'k str> {
    let rest = key.strip_prefix(INBOX_PREFIX)?.strip_prefix(source)?;
    let (day, name) = rest.strip_prefix('/')?.split_once('/')?;
    day.parse::<NaiveDate>().ok()?;
    let sha256 = name.strip_suffix(".json")?;
    (sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then_some(sha256)
}

/// The prefix of attachments ([`media_key`]) and of the media step's
/// records.
pub const MEDIA_PREFIX: &str = "media/";

/// `media/<sha256>`: an attachment, named by its content.
pub fn media_key(sha256: &str) -> String {
    format!("{MEDIA_PREFIX}{sha256}")
}

/// `media/<source>/<media-id>.json`: what the media step fetched for a
/// media id (a source's own id of a file; one key segment).
pub fn media_fetched_key(source: &str, media_id: &str) -> String {
    format!("media/{source}/{}.json", key_segment(media_id))
}

/// `media/<source>/<media-id>.failed.json`: why a media id could not be
/// fetched (apart from [`media_fetched_key`], so that a later success is
/// still written create-only).
pub fn media_failed_key(source: &str, media_id: &str) -> String {
    format!("media/{source}/{}.failed.json", key_segment(media_id))
}

/// `collected/<source>/`: the folder of a source's checkpoints.
pub fn checkpoints_prefix(source: &str) -> String {
    format!("{COLLECTED_PREFIX}{source}/")
}

/// `collected/<source>/<position>`: a source's checkpoint.
pub fn checkpoint_key(source: &str, position: &str) -> String {
    format!("{}{position}", checkpoints_prefix(source))
}

/// `collected/runs/<window>`: the claim of a scheduled collect run.
pub fn run_claim_key(window: &str) -> String {
    format!("{}{window}", run_claims_prefix())
}

/// `collected/runs/`: the folder of scheduled collect runs' claims.
pub fn run_claims_prefix() -> String {
    format!("{COLLECTED_PREFIX}{RUNS}/")
}

/// `collected/reports/`: the reports of every collect run.
pub fn collect_runs_prefix_all() -> String {
    format!("{COLLECTED_PREFIX}{RUN_REPORTS}/")
}

/// `collected/reports/<collection-day>/`: the reports of the collect runs
/// of a day.
pub fn collect_runs_prefix(day: NaiveDate) -> String {
    format!("{COLLECTED_PREFIX}{RUN_REPORTS}/{day}/")
}

/// `collected/reports/<collection-day>/<finished-at>.json`: one collect
/// run's report; `finished_at` is RFC 3339 without colons.
pub fn collect_run_key(day: NaiveDate, finished_at: &str) -> String {
    format!(
        "{}{}.json",
        collect_runs_prefix(day),
        finished_at.replace(':', "")
    )
}

/// `manifest/<sequence>.json`: the manifest with this place in the chain
/// (zero-padded, so keys sort in chain order).
pub fn manifest_key(sequence: u64) -> String {
    format!("{MANIFEST_PREFIX}{sequence:08}.json")
}

/// The sequence number of a manifest's key.
pub fn manifest_sequence(key: &str) -> Option<u64> {
    key.strip_prefix(MANIFEST_PREFIX)?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// `reports/<collection-day>/<made-at>`: the stem of a daily report's
/// objects (`.json`, `.html`, `.delivered.json`); `made_at` is RFC 3339
/// without colons.
pub fn report_stem(day: NaiveDate, made_at: &str) -> String {
    format!("{REPORTS_PREFIX}{day}/{}", made_at.replace(':', ""))
}

/// Whether `key` is under `reports/` (a daily report's object).
pub fn is_report_key(key: &str) -> bool {
    key.starts_with(REPORTS_PREFIX)
}

/// The prefix of the daily reports.
pub const REPORTS_PREFIX: &str = "reports/";

/// `reports/<collection-day>/sent-open.json` or `sent-closed.json`: the
/// day's report was queued for the admin mailbox in that state of the day.
pub fn report_sent_key(day: NaiveDate, closed: bool) -> String {
    let state = if closed { "closed" } else { "open" };
    format!("{REPORTS_PREFIX}{day}/sent-{state}.json")
}

/// The collection day of a key under `raw/<source>/<day>/`, and its source.
pub fn raw_day(key: &str) -> Option<(&str, NaiveDate)> {
    let mut segments = key.strip_prefix(RAW_PREFIX)?.splitn(3, '/');
    let source = segments.next()?;
    let day = segments.next()?.parse().ok()?;
    segments.next()?;
    Some((source, day))
}

/// `eml/<item-day>/<item-id>.eml`.
pub fn eml_key(day: ItemDay, id: &ItemId) -> String {
    format!("eml/{day}/{id}.eml")
}

/// `unmapped/<item-day>/<item-id>.json`.
pub fn unmapped_key(day: ItemDay, id: &ItemId) -> String {
    format!("unmapped/{day}/{id}.json")
}

/// `remapped/<item-day>/<item-id>.json`.
pub fn remapped_key(day: ItemDay, id: &ItemId) -> String {
    format!("{REMAPPED_PREFIX}{day}/{id}.json")
}

/// The `remapped/` key of the item an `unmapped/` key names (the same
/// item day and id); `None` for any other key.
pub fn remapped_key_of(unmapped_key: &str) -> Option<String> {
    let rest = unmapped_key.strip_prefix(UNMAPPED_PREFIX)?;
    Some(format!("{REMAPPED_PREFIX}{rest}"))
}

/// `mapping/applied/<mapping-hash>`: every unmapped item was re-resolved
/// with the mapping of this [`crate::mapping::Mapper::hash`].
pub fn mapping_applied_key(hash: &str) -> String {
    format!("{MAPPING_APPLIED_PREFIX}{hash}")
}

/// `mapping/remapped/<mapping-hash>/`: the raw batches whose unmapped
/// items the mapping of this hash re-resolved.
pub fn remapped_batches_prefix(hash: &str) -> String {
    format!("{MAPPING_REMAPPED_PREFIX}{hash}/")
}

/// `mapping/remapped/<mapping-hash>/<sha256 of the raw key>`: the
/// unmapped items of the raw batch were re-resolved with the mapping of
/// this hash (those that map are recovered, the others need not be read
/// again with it).
pub fn remapped_batch_key(hash: &str, raw_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(raw_key.as_bytes()));
    format!("{}{digest}", remapped_batches_prefix(hash))
}

/// `failed/<item-day>/<item-id>.json`.
pub fn failed_item_key(day: ItemDay, id: &ItemId) -> String {
    format!("failed/{day}/{id}.json")
}

/// `failed/lines/<sha256 of the raw key>-<line>.json`.
pub fn failed_line_key(raw_key: &str, line: usize) -> String {
    let digest = hex::encode(Sha256::digest(raw_key.as_bytes()));
    format!("failed/lines/{digest}-{line}.json")
}

/// `delivered/<mailbox>/<sha256 of the Message-ID>`: the ledger entry of a
/// message in a mailbox.
pub fn ledger_key(mailbox: &str, message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("delivered/{}/{}", mailbox, hex::encode(digest))
}

/// `sending/<mailbox>/<sha256 of the Message-ID>`: written durably before
/// a copy is sent to a target that cannot be searched (SMTP); see
/// [`crate::ledger`].
pub fn sending_key(mailbox: &str, message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("sending/{}/{}", mailbox, hex::encode(digest))
}

/// `sending/<mailbox>/<sha256 of the Message-ID>.sent`: a flag set the
/// instant before the end of the message goes out; set with no ledger
/// entry beside it, the server may have taken the copy.
pub fn sent_key(mailbox: &str, message_id: &str) -> String {
    format!("{}.sent", sending_key(mailbox, message_id))
}

/// A ledger object's bytes: entries committed together, one compact JSON
/// per line, in (Message-ID, mailbox) order. The same bytes are stored
/// under each entry's [`ledger_key`], so a local store keeps them as one
/// file with a name per copy (one inode per record, not per copy); each
/// key's own entry is the line of its mailbox and message
/// ([`ledger_entry_in`]). A record holds one message's copies, or in a
/// local store those of several messages (see [`crate::ledger`]).
pub fn ledger_record(entries: &[&LedgerEntry]) -> Vec<u8> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| (&a.message_id, &a.mailbox).cmp(&(&b.message_id, &b.mailbox)));
    let mut bytes = Vec::new();
    for entry in sorted {
        bytes.extend(record(entry));
        bytes.push(b'\n');
    }
    bytes
}

/// The entry of `message_id` in `mailbox` in a ledger object (see
/// [`ledger_record`]; an object of a single entry, as written before
/// entries were shared, reads too); `None` when no line is that copy's.
///
/// # Errors
/// A line that is no [`LedgerEntry`].
pub fn ledger_entry_in(
    bytes: &[u8],
    mailbox: &str,
    message_id: &str,
) -> Result<Option<LedgerEntry>, serde_json::Error> {
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: LedgerEntry = serde_json::from_slice(line)?;
        if entry.mailbox == mailbox && entry.message_id == message_id {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// A record as stored: compact JSON.
pub fn record<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("store records serialize")
}

/// A media id the media step fetched: its file is `media/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFetched {
    /// The source's media id.
    pub media_id: String,
    /// SHA-256 of the file (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its MIME type, as the source gave it.
    pub content_type: Option<String>,
    /// Which hash the source gave matched (`webhook base64`, `lookup hex`,
    /// …), or `none given`.
    pub matched: String,
}

/// A media id the media step could not fetch, after its last try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFailed {
    /// The source's media id.
    pub media_id: String,
    /// Why (an HTTP status, a hash that did not match, a timeout).
    pub reason: String,
    /// Tries made.
    pub attempts: u32,
}

/// An object's size and SHA-256, computed by the stage that wrote it from
/// the bytes it wrote: what a day's manifest lists for the object without
/// reading it again (`verify` is what reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

impl Fingerprint {
    /// The fingerprint of an object's size and SHA-256 as a store or a
    /// hasher gives them ([`crate::store::ObjectStore::sha256`]).
    pub fn from_digest((size, sha256): (u64, [u8; 32])) -> Self {
        Fingerprint {
            size,
            sha256: hex::encode(sha256),
        }
    }

    /// The fingerprint of bytes in memory.
    pub fn of(bytes: &[u8]) -> Self {
        Fingerprint {
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

/// `raw/<source>/<day>/`: a source's raw batches of a collection day and
/// the folders of their originals.
pub fn raw_day_prefix(source: &str, day: NaiveDate) -> String {
    format!("{RAW_PREFIX}{source}/{day}/")
}

/// The folder of collect's fingerprint records under a day's
/// `fingerprints/`.
const COLLECTED_STAGE: &str = "collected";

/// The folder of convert's fingerprint records under a day's
/// `fingerprints/`.
const CONVERTED_STAGE: &str = "converted";

/// `fingerprints/<day>/`: the fingerprint records of a collection day's
/// batches and refused drops.
pub fn fingerprints_day_prefix(day: NaiveDate) -> String {
    format!("{FINGERPRINTS_PREFIX}{day}/")
}

/// The objects a stage wrote for one raw batch or refused drop, with the
/// fingerprints it computed from the bytes as it wrote them: what a day's
/// manifest lists for them without reading them again. Collect's
/// ([`RawBatch::collected_fingerprints_key`]) holds the batch's lines and
/// originals, or a refused drop's original and refusal record, and is
/// written before the checkpoint; convert's
/// ([`RawBatch::converted_fingerprints_key`]) holds every e-mail made of
/// the batch's items (unmapped and digest items' too; an e-mail stored
/// before, as convert read it back), and is written before the job file.
/// Media are named by their SHA-256 and fingerprinted in the items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The raw batch the objects belong to; left out for a refused drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_key: Option<String>,
    /// Each object's key and fingerprint.
    pub objects: BTreeMap<String, Fingerprint>,
    /// Objects whose key a crashed attempt had taken already: what is
    /// stored may not be these bytes, and collect may not read the
    /// archive, so they are read when the day closes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored_before: Vec<String>,
}

/// A source's checkpoint, written once its batch (or refusal) is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// Where the batch came from: a drop's key, a position range
    /// (`drop_key` in the record, its name from when drops were the only
    /// source).
    #[serde(rename = "drop_key")]
    pub origin: String,
    /// The raw batch written from it; left out for a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_key: Option<String>,
    /// Items in the batch.
    pub items: u64,
    /// The refusal record (`failed/drops/…`) when it could not be read;
    /// left out for a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_key: Option<String>,
}

/// A drop that could not be read: its original is kept, and this says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedDrop {
    /// The drop's key in the drop store.
    pub drop_key: String,
    /// The employee it was dropped for, when its key names one.
    pub custodian: Option<String>,
    /// The drop's file name.
    pub file_name: String,
    /// Where the original is kept (`raw/<source>/<day>/<batch>/<file>`).
    pub original_key: String,
    /// Why it could not be read (names, never content).
    pub reason: String,
}

/// What one collect run noticed beyond the batches it wrote (which have
/// their checkpoints): kept so that the daily report can count what no
/// other record holds. Names and codes only, never content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectRun {
    /// When the run finished (RFC 3339, UTC).
    pub finished_at: String,
    /// Per source: batches and items collected, batches seen before.
    pub sources: BTreeMap<String, SourceCounts>,
    /// WhatsApp Cloud delivery statuses, by the status's UTC day and status.
    #[serde(default)]
    pub delivery_statuses: BTreeMap<String, BTreeMap<String, u64>>,
    /// Meta's errors with failed statuses, by error.
    #[serde(default)]
    pub status_errors: BTreeMap<String, u64>,
    /// Sequence numbers that never came.
    #[serde(default)]
    pub seq_gaps: Vec<SeqGap>,
    /// The problems the run reported.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The warnings the run reported.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A daily report queued for the administrators' mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSent {
    /// The report's e-mail (`reports/<day>/<made-at>.eml`).
    pub eml_key: String,
    /// Its Message-ID.
    pub message_id: String,
    /// The mailbox it was queued for.
    pub mailbox: String,
}

/// The claim a scheduled collect run writes for its window, so that a
/// second invocation for the same run does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The invocation (Lambda request id) that holds the window.
    pub run: String,
    /// When it claimed it (RFC 3339, UTC).
    pub claimed_at: String,
}

/// An item that maps to no mailbox; its EML is still written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmapped {
    /// The item id.
    pub item_id: String,
    /// Why no mailbox was found (the identities tried).
    pub reason: String,
    /// The rendered EML, kept in the archive.
    pub eml_key: String,
    /// The raw batch the item came from.
    pub raw_key: String,
    /// The [`crate::mapping::Mapper::hash`] of the mapping it mapped to no
    /// one with: remap skips it while that mapping is in use. Absent in
    /// records written before (those are always re-resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
}

/// An unmapped item that a later mapping maps: it is delivered by the
/// jobs of `jobs_key`, and no longer counted as unmapped. Written
/// create-only once those jobs are durable, so an item is recovered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remapped {
    /// The item id.
    pub item_id: String,
    /// The [`crate::mapping::Mapper::hash`] of the mapping that maps it.
    pub mapping: String,
    /// The mailboxes it is delivered to.
    pub mailboxes: Vec<String>,
    /// The remap job file holding its delivery jobs ([`RawBatch::remap`]).
    pub jobs_key: String,
}

/// A mapping every unmapped item was re-resolved with (the
/// `mapping/applied/<hash>` record; its key is what counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingApplied {
    /// The [`crate::mapping::Mapper::hash`].
    pub mapping: String,
    /// Items it recovered when it was applied.
    pub recovered: u64,
    /// Items it left unmapped.
    pub still_unmapped: u64,
}

/// An item that could not be rendered (its raw line stays in the batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// The item id.
    pub item_id: String,
    /// Why it could not be rendered.
    pub reason: String,
    /// The raw batch the item came from.
    pub raw_key: String,
}

/// A raw line that is not a valid item (it stays in the raw batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedLine {
    /// The raw batch.
    pub raw_key: String,
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it (never its content).
    pub reason: String,
}

/// What the ledger records of one delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The message's Message-ID.
    pub message_id: String,
    /// The mailbox address.
    pub mailbox: String,
    /// The folder it was put in.
    pub folder: String,
    /// The server's id of the message (APPENDUID), when known.
    pub uid: Option<String>,
    /// SHA-256 (hex) of the delivered bytes.
    pub sha256: String,
    /// When the delivery was recorded (RFC 3339, UTC).
    pub recorded_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mailbox: &str) -> LedgerEntry {
        LedgerEntry {
            message_id: "m@x".to_owned(),
            mailbox: mailbox.to_owned(),
            folder: "F".to_owned(),
            uid: None,
            sha256: "00".repeat(32),
            recorded_at: "2026-11-21T09:00:00Z".to_owned(),
        }
    }

    #[test]
    fn a_ledger_record_gives_each_copy_its_own_entry() {
        let (b, a) = (entry("b@x"), entry("a@x"));
        let other = LedgerEntry {
            message_id: "0-other@x".to_owned(),
            ..entry("b@x")
        };
        let shared = ledger_record(&[&b, &a, &other]);
        // Message-ID first ("0-other@x" sorts before "m@x"), then mailbox.
        let expected: Vec<u8> = [&other, &a, &b]
            .into_iter()
            .flat_map(|entry| [record(entry), b"\n".to_vec()].concat())
            .collect();
        assert_eq!(shared, expected);
        let id = b.message_id.clone();
        assert_eq!(ledger_entry_in(&shared, "b@x", &id).unwrap(), Some(b));
        assert_eq!(
            ledger_entry_in(&shared, "a@x", &id).unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            ledger_entry_in(&shared, "b@x", "0-other@x").unwrap(),
            Some(other)
        );
        assert_eq!(ledger_entry_in(&shared, "a@x", "0-other@x").unwrap(), None);
        assert_eq!(ledger_entry_in(&shared, "c@x", &id).unwrap(), None);
        // An object of one entry as written before records were shared:
        // no newline at the end.
        assert_eq!(ledger_entry_in(&record(&a), "a@x", &id).unwrap(), Some(a));
        assert!(ledger_entry_in(b"{\"message_id\":1}\n", "a@x", &id).is_err());
    }

    fn batch() -> RawBatch {
        RawBatch {
            source: "whatsapp-export".to_owned(),
            day: CollectionDay(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()),
            id: "ab12".to_owned(),
        }
    }

    #[test]
    fn raw_batch_keys_round_trip_and_name_their_jobs() {
        let batch = batch();
        assert_eq!(batch.key(), "raw/whatsapp-export/2026-11-21/ab12.jsonl");
        assert_eq!(RawBatch::parse(&batch.key()), Some(batch.clone()));
        assert_eq!(
            batch.jobs_key(),
            "jobs/whatsapp-export/2026-11-21/ab12.jsonl"
        );
        assert_eq!(
            RawBatch::of_jobs_key(&batch.jobs_key()),
            Some(batch.clone())
        );
        assert_eq!(
            batch.done_key(),
            "done/whatsapp-export/2026-11-21/ab12.jsonl"
        );
        assert_eq!(
            batch.started_key(),
            "started/whatsapp-export/2026-11-21/ab12.jsonl"
        );
    }

    #[test]
    fn an_unmapped_record_of_before_mapping_hashes_reads_and_remaps() {
        let old = br#"{"item_id":"0123456789abcdef0123456789abcdef","reason":"no mapping","eml_key":"eml/2025-03-04/0123456789abcdef0123456789abcdef.eml","raw_key":"raw/whatsapp-export/2026-11-21/ab12.jsonl"}"#;
        let record: Unmapped = serde_json::from_slice(old).unwrap();
        assert_eq!(record.mapping, None);
        // Written again, it is the same bytes: no field added.
        assert_eq!(super::record(&record), old.to_vec());
        let new = Unmapped {
            mapping: Some("ab".repeat(32)),
            ..record
        };
        let text = String::from_utf8(super::record(&new)).unwrap();
        assert!(
            text.ends_with(&format!(",\"mapping\":\"{}\"}}", "ab".repeat(32))),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Unmapped>(&text).unwrap(), new);
    }

    #[test]
    fn remap_job_files_are_batches_of_no_source() {
        let remap = RawBatch::remap(batch().day, "ab-cd".to_owned());
        assert_eq!(remap.jobs_key(), "jobs/remap/2026-11-21/ab-cd.jsonl");
        assert_eq!(remap.done_key(), "done/remap/2026-11-21/ab-cd.jsonl");
        assert_eq!(
            RawBatch::of_jobs_key(&remap.jobs_key()),
            Some(remap.clone())
        );
        assert!(remap.is_remap() && !batch().is_remap());
        assert!(
            remap
                .jobs_key()
                .starts_with(&RawBatch::remap_jobs_prefix(batch().day.0))
        );
        assert!(!is_source_name(REMAP));
        let id = ItemId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let day = ItemDay(NaiveDate::from_ymd_opt(2025, 3, 4).unwrap());
        assert_eq!(
            remapped_key_of(&unmapped_key(day, &id)),
            Some(remapped_key(day, &id))
        );
        assert_eq!(remapped_key_of(&eml_key(day, &id)), None);
        assert_eq!(mapping_applied_key("ab"), "mapping/applied/ab");
    }

    #[test]
    fn digest_keys_parse_back_and_name_their_part_jobs() {
        let digest = DigestKey {
            day: ItemDay(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            conversation: "0123456789abcdef0123456789abcdef".to_owned(),
        };
        let id = ItemId::parse("fedcba9876543210fedcba9876543210").unwrap();
        let item = digest.item_key(id);
        assert_eq!(
            item,
            "digest/2026-12-01/0123456789abcdef0123456789abcdef/items/fedcba9876543210fedcba9876543210.json"
        );
        assert_eq!(
            DigestKey::parse(&item),
            Some((digest.clone(), DigestObject::Item(id.to_string())))
        );
        let part = digest.part_key(2);
        assert!(part.ends_with("/parts/0002.json"), "{part}");
        assert_eq!(
            DigestKey::parse(&part),
            Some((digest.clone(), DigestObject::Part(2)))
        );
        assert!(DigestKey::is_digest_eml(&digest.eml_key(0, "89abcdef")));
        assert!(!DigestKey::is_digest_eml(&eml_key(digest.day, &id)));
        assert_eq!(
            DigestKey::parse(&digest.closed_key(110)),
            Some((digest.clone(), DigestObject::Closed(110)))
        );
        assert_eq!(
            digest.batch(1).jobs_key(),
            "jobs/digest/2026-12-01/0123456789abcdef0123456789abcdef-1.jsonl"
        );
        assert_eq!(
            digest.eml_key(0, "89abcdef"),
            "eml/2026-12-01/digest-0123456789abcdef0123456789abcdef-0-89abcdef.eml"
        );
        for other in [
            "digest/2026-12-01/0123/items/x.json".to_owned(),
            "digest/2026-12-01/0123456789abcdef0123456789abcdef/other/0001.json".to_owned(),
            "digest/2026-12-01/0123456789abcdef0123456789abcdef/items/x.json".to_owned(),
            "digest/today/0123456789abcdef0123456789abcdef/parts/0001.json".to_owned(),
            eml_key(digest.day, &id),
        ] {
            assert_eq!(DigestKey::parse(&other), None, "{other}");
        }
    }

    #[test]
    fn names_that_are_no_plain_segment_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", "\u{0}"] {
            assert!(!is_plain_segment(bad), "{bad:?}");
        }
        assert!(is_plain_segment("0000001000-0000002000"));
        assert!(!is_source_name("runs"));
        assert!(!is_source_name("reports"));
        assert!(!is_source_name("digest"));
        assert!(is_source_name("whatsapp-export"));
    }

    #[test]
    fn original_names_are_one_plain_segment() {
        let batch = batch();
        assert_eq!(
            batch.original_key("WhatsApp Chat with Luis García.txt"),
            "raw/whatsapp-export/2026-11-21/ab12/WhatsApp Chat with Luis García.txt"
        );
        for (name, segment) in [
            ("a\nerrors: 0.txt", "a%0Aerrors: 0.txt"),
            ("50%.txt", "50%25.txt"),
            ("a/b\\c", "a%2Fb%5Cc"),
            ("\u{85}x", "%C2%85x"),
            ("fdp\u{202e}.exe\u{2028}", "fdp%E2%80%AE.exe%E2%80%A8"),
            ("..", "%2E%2E"),
            (".", "%2E"),
            ("", "%00"),
        ] {
            assert_eq!(key_segment(name), segment, "{name:?}");
        }
        assert_eq!(refused_drop_key("ab12"), "failed/drops/ab12.json");
    }

    #[test]
    fn inbox_keys_name_their_body_and_parse_back() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let sha = "ab".repeat(32);
        let key = inbox_key("whatsapp-cloud", day, &sha);
        assert_eq!(key, format!("inbox/whatsapp-cloud/2026-12-01/{sha}.json"));
        assert_eq!(
            inbox_body_sha256("whatsapp-cloud", &key),
            Some(sha.as_str())
        );
        for other in [
            format!("inbox/whatsapp-cloud/2026-12-01/{sha}.txt"),
            format!("inbox/whatsapp-cloud/today/{sha}.json"),
            format!("inbox/whatsapp-cloud/2026-12-01/x/{sha}.json"),
            "inbox/whatsapp-cloud/2026-12-01/AB.json".to_owned(),
            format!("inbox/wecom/2026-12-01/{sha}.json"),
        ] {
            assert_eq!(inbox_body_sha256("whatsapp-cloud", &other), None, "{other}");
        }
    }

    #[test]
    fn only_batch_keys_parse_as_batches() {
        let batch = batch();
        for key in [
            batch.original_key("chat.jsonl"),
            batch.original_key("WhatsApp Chat with Bob.txt"),
            "raw/whatsapp-export/yesterday/ab12.jsonl".to_owned(),
            "raw/whatsapp-export/2026-11-21/.jsonl".to_owned(),
            "eml/2026-11-21/ab12.eml".to_owned(),
            media_key("ab12"),
        ] {
            assert_eq!(RawBatch::parse(&key), None, "{key}");
        }
    }

    /// The S3 notification that starts convert (template.yaml) must match
    /// exactly the raw batch keys built here.
    #[test]
    fn the_templates_notification_filter_matches_raw_batch_keys() {
        let template = include_str!("../../template.yaml");
        let (mut prefix, mut suffix) = (None, None);
        let mut name = None;
        for line in template.lines().map(str::trim) {
            if let Some(n) = line.strip_prefix("- Name: ") {
                name = Some(n.trim());
            } else if let Some(value) = line.strip_prefix("Value: ") {
                match name.take() {
                    Some("prefix") => prefix = Some(value.trim()),
                    Some("suffix") => suffix = Some(value.trim()),
                    _ => {}
                }
            }
        }
        assert_eq!(prefix, Some(RAW_PREFIX));
        assert_eq!(suffix, Some(RAW_BATCH_SUFFIX));
        let key = batch().key();
        assert!(key.starts_with(RAW_PREFIX) && key.ends_with(RAW_BATCH_SUFFIX));
        for other in [
            media_key("ab"),
            batch().jobs_key(),
            checkpoint_key("x", "y"),
        ] {
            assert!(!other.starts_with(RAW_PREFIX), "{other}");
        }
    }
}
