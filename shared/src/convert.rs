//! The convert stage: a raw batch in, one EML per item and one delivery job
//! per (item, mailbox) out.
//!
//! EMLs are written create-only to `eml/<item-day>/<item-id>.eml`;
//! rendering is deterministic, so a replayed batch finds the same bytes
//! already there. They are written in groups made durable together
//! ([`ObjectStore::put_all`]), and the job file only after the last group. Items that map to nobody are recorded in
//! `unmapped/<item-day>/<item-id>.json` with the reason and the hash of
//! the mapping (a later mapping re-resolves them: [`crate::remap`]), and
//! their EML is still written. The fingerprints of the batch's EMLs are
//! recorded ([`Written`], `fingerprints/<day>/converted/…`) once the last
//! group is durable; its delivery jobs are then persisted in
//! `jobs/<batch>`, and handed to the [`JobQueue`]. A custodian that maps to
//! no mailbox while its items go to other participants is reported once
//! per batch (its own mailbox misses them).
//!
//! Items of a source in digest mode ([`Delivery::Digest`]) get their EML
//! too, but no job: each mapped one is recorded under
//! `digest/<item-day>/<conversation>/items/` for its day's digest
//! ([`crate::digest`]), which makes the jobs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::future::FusedFuture;
use futures::stream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use crate::item::{Attachment, Item, Network, SourceKind};
use crate::jobs::{self, DeliveryJob, JobQueue, QueueError};
use crate::json_error;
use crate::layout::{
    self, DigestItem, DigestKey, Failed, FailedLine, Fingerprint, ItemDay, RawBatch, Unmapped,
    Written,
};
use crate::mapping::Mapper;
use crate::render::{self, FileContent, RenderInput, RenderOptions, Rendered};
use crate::report::Report;
use crate::store::{Created, ObjectFile, ObjectStore, Spool, SpoolFile, StoreError};

/// Items of one batch converted at once.
const ITEMS_AT_ONCE: usize = 32;

/// MiB of attachments the items being converted at once may hold together
/// in temporary files (an item with bigger files waits until it can run
/// alone): a local directory hands out its own files, S3 downloads them.
const ATTACHMENT_BUDGET_MIB: u32 = 192;

/// Objects (EMLs, records) written together at most.
const GROUP_OBJECTS: usize = 2_048;

/// Bytes of objects written together at most.
const GROUP_BYTES: u64 = 64 << 20;

/// An EML larger than this is written to a temporary file and streamed
/// into the store on its own; smaller ones are written in groups.
const INLINE_EML_BYTES: u64 = 1 << 20;

/// An object an item's conversion writes.
struct ToWrite {
    key: String,
    content: Content,
    /// The fingerprint of its bytes when it is the item's EML (counted in
    /// the report, listed in the batch's [`Written`] record).
    eml: Option<Fingerprint>,
}

/// What an object written holds.
enum Content {
    /// Small: written with its group.
    Bytes(Vec<u8>),
    /// Large (an EML with big files): streamed from a temporary file.
    File(ObjectFile),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::File(file) => file.len(),
        }
    }
}

/// Mailbox folder names per messenger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// Folder for WhatsApp items.
    pub whatsapp: String,
    /// Folder for WeChat / WeCom items.
    pub wechat: String,
}

impl Default for Folders {
    fn default() -> Self {
        Folders {
            whatsapp: "WhatsApp Archiver".to_owned(),
            wechat: "WeChat Archiver".to_owned(),
        }
    }
}

impl Folders {
    /// The folder for a messenger's items.
    pub fn for_network(&self, network: Network) -> &str {
        match network {
            Network::WhatsApp => &self.whatsapp,
            Network::WeChat => &self.wechat,
        }
    }
}

/// How a source's items reach the mailboxes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// One e-mail per item (the default).
    #[default]
    Message,
    /// One e-mail per conversation and day, made by [`crate::digest`] once
    /// the day is over; convert still writes each item's own e-mail.
    Digest,
}

/// The delivery mode of each source kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// WhatsApp export items.
    pub whatsapp_export: Delivery,
    /// WhatsApp Business Platform items.
    pub whatsapp_cloud: Delivery,
    /// WeCom items.
    pub wecom: Delivery,
}

impl Deliveries {
    /// The mode of a source kind's items.
    pub fn of(&self, source: SourceKind) -> Delivery {
        match source {
            SourceKind::WhatsappExport => self.whatsapp_export,
            SourceKind::WhatsappCloud => self.whatsapp_cloud,
            SourceKind::Wecom => self.wecom,
        }
    }
}

/// Why a batch could not be converted (the caller retries it; every write
/// is create-only, so a retry redoes nothing twice).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The archive could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch's delivery jobs could not be queued.
    #[error("{key}: {source}")]
    Queue {
        /// The raw batch whose jobs they were.
        key: String,
        /// What the queue answered.
        source: QueueError,
    },
}

/// How items are rendered and filed.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Rendering options (attachment size limit, unmapped domain).
    pub render: RenderOptions,
    /// Folder names.
    pub folders: Folders,
    /// The delivery target's message size limit: an EML larger than this is
    /// rendered again with every attachment as a stub (the files stay in
    /// the archive), so that it is delivered rather than refused.
    pub max_message_bytes: Option<u64>,
    /// Per source: one e-mail per item, or a daily digest.
    pub deliveries: Deliveries,
}

/// Converts every item of a raw batch, persists its delivery jobs in
/// `jobs/<batch>` and hands them to `queue`.
///
/// A line that is not a valid item, or an item that cannot be rendered, is
/// reported with its line number, recorded under `failed/`, and the rest of
/// the batch goes on. A batch that does not exist is
/// [`StoreError::Missing`]. Only store and queue failures stop the batch.
/// A batch converted again (a replay) finds its job file stored and
/// queues those jobs again without rendering anything; the deliver stage's
/// ledger makes that a no-op. (A convert killed before the job file was
/// written renders again and finds its EMLs stored.)
pub async fn convert_batch<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    batch: &RawBatch,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<(), ConvertError> {
    let raw_key = batch.key();
    let jobs_key = batch.jobs_key();
    let jobs = match store.get(&jobs_key).await? {
        // A replay: the job file is written once every item is rendered and
        // filed, and it is the record of what must be delivered, so it is
        // what is queued again, even if the mapping changed since.
        Some(stored) => {
            let mut jobs = Vec::new();
            jobs::read_lines(&stored, &jobs_key, &mut jobs, report);
            jobs
        }
        None => {
            let jobs = render_batch(store, batch, mapper, opts, report).await?;
            store.put_new(&jobs_key, &jobs::to_lines(&jobs)).await?;
            jobs
        }
    };
    queue
        .send(&jobs)
        .await
        .map_err(|source| ConvertError::Queue {
            key: raw_key,
            source,
        })
}

/// Renders and files every item of a raw batch, then records the
/// fingerprints of the e-mails it made ([`Written`]); returns its delivery
/// jobs.
async fn render_batch<S: ObjectStore>(
    store: &S,
    batch: &RawBatch,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let raw_key = &batch.key();
    let raw = store
        .get(raw_key)
        .await?
        .ok_or_else(|| StoreError::Missing(raw_key.to_owned()))?;
    let budget = Semaphore::new(ATTACHMENT_BUDGET_MIB as usize);
    let budget = &budget;
    let lines = raw
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace));
    // Items are independent: several are rendered and stored at once (S3
    // writes take milliseconds each), their results kept in line order.
    let converted = stream::iter(lines.map(|(index, line)| async move {
        let mut report = Report::default();
        let mut jobs = Vec::new();
        let mut writes = Vec::new();
        let mut custodian = None;
        match serde_json::from_slice::<Item>(line) {
            Ok(item) => {
                let _held = budget
                    .acquire_many(attachment_mib(&item, opts))
                    .await
                    .expect("the budget is never closed");
                let files = load_files(store, &item, opts.render.attachment_limit).await?;
                let converted = Converted {
                    report: &mut report,
                    jobs: &mut jobs,
                    writes: &mut writes,
                };
                let line = Line {
                    raw_key,
                    number: index + 1,
                    bytes: line,
                };
                custodian = convert_item(line, &item, &files, mapper, opts, converted)?;
            }
            Err(e) => {
                let record = FailedLine {
                    raw_key: raw_key.to_owned(),
                    line: index + 1,
                    reason: json_error::describe(&e),
                };
                let key = layout::failed_line_key(raw_key, record.line);
                report.error(format!(
                    "raw batch {raw_key} line {}: {} (recorded in {key})",
                    record.line, record.reason
                ));
                writes.push(ToWrite {
                    key,
                    content: Content::Bytes(layout::record(&record)),
                    eml: None,
                });
            }
        }
        Ok::<_, StoreError>((report, jobs, writes, custodian))
    }))
    .buffered(ITEMS_AT_ONCE);
    futures::pin_mut!(converted);
    let mut jobs = Vec::new();
    let mut custodians = BTreeSet::new();
    let mut group = Vec::new();
    let mut group_bytes = 0u64;
    let mut existing = Vec::new();
    let mut emails = BTreeMap::new();
    // One group is written while the next is rendered: the write (a local
    // directory's threads, S3 requests) proceeds while this task renders,
    // so two groups are held at most. A failed render drops the write in
    // flight (a local directory's may still finish: create-only, so a
    // retry finds what it stored).
    let writing = futures::future::Fuse::terminated();
    futures::pin_mut!(writing);
    let mut rendered_all = false;
    loop {
        let full = group.len() >= GROUP_OBJECTS || group_bytes >= GROUP_BYTES;
        if writing.is_terminated() && (full || (rendered_all && !group.is_empty())) {
            writing.set(write_group(store, std::mem::take(&mut group)).fuse());
            group_bytes = 0;
            continue;
        }
        tokio::select! {
            written = writing.as_mut(), if !writing.is_terminated() => {
                let written = written?;
                report.emails_written += written.new_emails;
                report.emails_existing += written.existing.len() as u64;
                existing.extend(written.existing);
            }
            next = converted.next(), if !rendered_all && !full => match next {
                None => rendered_all = true,
                Some(result) => {
                    let (item_report, item_jobs, writes, custodian) = result?;
                    report.merge(item_report);
                    jobs.extend(item_jobs);
                    custodians.extend(custodian);
                    for write in writes {
                        group_bytes += write.content.len();
                        if let Some(fingerprint) = &write.eml {
                            emails.insert(write.key.clone(), fingerprint.clone());
                        }
                        group.push(write);
                    }
                }
            },
            else => break,
        }
    }
    // An e-mail stored before (a replayed batch, the same message in an
    // earlier one, rendered then with its own raw object named) is what
    // its jobs deliver: they carry its stored fingerprint, not this one's.
    let mut jobs_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, job) in jobs.iter().enumerate() {
        jobs_of.entry(job.eml_key.as_str()).or_default().push(index);
    }
    let existing: BTreeSet<String> = existing.into_iter().collect();
    let stored: Vec<(String, Fingerprint)> = stream::iter(existing)
        .map(|key| async move {
            let stored = store
                .sha256(&key)
                .await?
                .ok_or_else(|| StoreError::Missing(key.clone()))?;
            Ok::<_, StoreError>((key, Fingerprint::from_digest(stored)))
        })
        .buffer_unordered(ITEMS_AT_ONCE)
        .try_collect()
        .await?;
    let mut patches = Vec::new();
    for (key, fingerprint) in stored {
        for &index in jobs_of.get(key.as_str()).into_iter().flatten() {
            patches.push((index, fingerprint.clone()));
        }
        emails.insert(key, fingerprint);
    }
    for (index, fingerprint) in patches {
        jobs[index].eml = Some(fingerprint);
    }
    let written = Written {
        raw_key: Some(raw_key.to_owned()),
        objects: emails,
        stored_before: Vec::new(),
    };
    store
        .put_new(
            &batch.converted_fingerprints_key(),
            &layout::record(&written),
        )
        .await?;
    for custodian in custodians {
        report.error(format!(
            "raw batch {raw_key}: {custodian}; its items are delivered to their other \
             participants only"
        ));
    }
    report.batches_converted += 1;
    Ok(jobs)
}

/// The EMLs of a group written: how many are new, and the keys of those
/// that were there already.
#[derive(Default)]
struct GroupWritten {
    new_emails: u64,
    existing: Vec<String>,
}

/// Writes a group of objects durably (large ones streamed one by one,
/// the others together); says which of its EMLs are new.
async fn write_group<S: ObjectStore>(
    store: &S,
    group: Vec<ToWrite>,
) -> Result<GroupWritten, StoreError> {
    let mut written = GroupWritten::default();
    let mut count = |key: String, eml: bool, created: Created| match (eml, created) {
        (true, Created::New) => written.new_emails += 1,
        (true, Created::Exists) => written.existing.push(key),
        (false, _) => {}
    };
    let mut small = Vec::with_capacity(group.len());
    let mut eml = Vec::with_capacity(group.len());
    for write in group {
        match write.content {
            Content::Bytes(bytes) => {
                eml.push((write.key.clone(), write.eml.is_some()));
                small.push((write.key, bytes));
            }
            Content::File(file) => {
                let created = store.put_new_file(&write.key, &file).await?;
                count(write.key, write.eml.is_some(), created);
            }
        }
    }
    for (created, (key, eml)) in store.put_all(small).await?.into_iter().zip(eml) {
        count(key, eml, created);
    }
    Ok(written)
}

/// An item's line in its raw batch.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// The raw batch.
    raw_key: &'a str,
    /// The line number, from 1.
    number: usize,
    /// The line as read.
    bytes: &'a [u8],
}

/// Where one item's conversion puts what it makes.
struct Converted<'a> {
    report: &'a mut Report,
    jobs: &'a mut Vec<DeliveryJob>,
    writes: &'a mut Vec<ToWrite>,
}

/// Renders and files one item and makes its jobs; what it writes is
/// added to `out.writes` (the caller writes it before the job file).
/// Returns why its custodian gets no copy when others do (an item that
/// maps to no one is recorded under `unmapped/` instead). A stored file
/// that cannot be read, or a temporary file that cannot be written, is a
/// store error: the batch is retried.
fn convert_item(
    line: Line<'_>,
    item: &Item<'_>,
    files: &[Option<ObjectFile>],
    mapper: &Mapper,
    opts: &ConvertOptions,
    out: Converted<'_>,
) -> Result<Option<String>, StoreError> {
    let raw_key = line.raw_key;
    let resolution = mapper.resolve(item);
    let contents: Vec<Option<FileContent<'_>>> = files
        .iter()
        .map(|file| file.as_ref().map(FileContent::Stored))
        .collect();
    let input = RenderInput {
        item,
        addresses: &resolution.addresses,
        files: &contents,
        raw_object: Some(raw_key),
    };
    let day = ItemDay::of(item);
    let stubbed_before = out.report.stubbed_for_size;
    let (eml, fingerprint) =
        match render_eml(&input, opts, &layout::eml_key(day, &item.id), out.report) {
            Ok(eml) => eml,
            Err(EmlError::Store(e)) => return Err(e),
            Err(EmlError::Render(e)) => {
                // Kept visible in the store for the operator, not only in this report.
                let record = Failed {
                    item_id: item.id.to_string(),
                    reason: e.to_string(),
                    raw_key: raw_key.to_owned(),
                };
                out.writes.push(ToWrite {
                    key: layout::failed_item_key(day, &item.id),
                    content: Content::Bytes(layout::record(&record)),
                    eml: None,
                });
                out.report
                    .error(format!("item {} of {raw_key}: {e}", item.id));
                return Ok(None);
            }
        };
    let stubbed = out.report.stubbed_for_size > stubbed_before;
    let eml_key = layout::eml_key(day, &item.id);
    out.writes.push(ToWrite {
        key: eml_key.clone(),
        content: eml,
        eml: Some(fingerprint.clone()),
    });
    let custodian = if resolution.unmapped_reason.is_none() {
        resolution.custodian_unmapped
    } else {
        None
    };
    if let Some(reason) = resolution.unmapped_reason {
        let record = Unmapped {
            item_id: item.id.to_string(),
            reason,
            eml_key: eml_key.clone(),
            raw_key: raw_key.to_owned(),
            mapping: Some(mapper.hash().to_owned()),
        };
        out.writes.push(ToWrite {
            key: layout::unmapped_key(day, &item.id),
            content: Content::Bytes(layout::record(&record)),
            eml: None,
        });
        out.report.unmapped += 1;
    }
    let folder = opts.folders.for_network(item.source.network());
    if opts.deliveries.of(item.source) == Delivery::Digest {
        // Its copies go out in its day's digest ([`crate::digest`]).
        if !resolution.mailboxes.is_empty() {
            let digest = DigestKey::of(item);
            let record = DigestItem {
                item_id: item.id.to_string(),
                timestamp: item.timestamp.to_rfc3339(),
                raw_key: raw_key.to_owned(),
                line: line.number,
                eml_key,
                item: String::from_utf8_lossy(line.bytes).into_owned(),
                addresses: resolution.addresses,
                mailboxes: resolution.mailboxes,
                folder: folder.to_owned(),
            };
            out.writes.push(ToWrite {
                key: digest.item_key(item.id),
                content: Content::Bytes(layout::record(&record)),
                eml: None,
            });
        }
        return Ok(custodian);
    }
    let message_id = render::message_id(&item.id);
    let timestamp = item.timestamp.to_rfc3339();
    out.jobs
        .extend(resolution.mailboxes.into_iter().map(|mailbox| DeliveryJob {
            mailbox,
            folder: folder.to_owned(),
            eml_key: eml_key.clone(),
            message_id: message_id.clone(),
            timestamp: timestamp.clone(),
            eml: Some(fingerprint.clone()),
            stubbed,
        }));
    Ok(custodian)
}

/// Writes a rendered EML: in memory when small, else into a temporary
/// file, its attached files streamed in.
/// Its fingerprint is computed from the bytes as they are written.
fn write_eml(rendered: &Rendered<'_>, key: &str) -> Result<(Content, Fingerprint), StoreError> {
    let failed = |source| StoreError::Io {
        key: key.to_owned(),
        source,
    };
    if rendered.len() <= INLINE_EML_BYTES {
        let mut bytes = Vec::with_capacity(usize::try_from(rendered.len()).unwrap_or(0));
        rendered.write_to(&mut bytes).map_err(failed)?;
        let fingerprint = Fingerprint::of(&bytes);
        return Ok((Content::Bytes(bytes), fingerprint));
    }
    let (file, fingerprint) = spool_eml(rendered, key)?;
    Ok((Content::File(file), fingerprint))
}

/// Writes a rendered e-mail into a temporary file, its attached files
/// streamed in, and computes its fingerprint as it is written (`key`
/// names it in errors).
pub(crate) fn spool_eml(
    rendered: &Rendered<'_>,
    key: &str,
) -> Result<(ObjectFile, Fingerprint), StoreError> {
    let failed = |source| StoreError::Io {
        key: key.to_owned(),
        source,
    };
    let mut spool = std::io::BufWriter::with_capacity(1 << 16, Spool::new().map_err(failed)?);
    rendered.write_to(&mut spool).map_err(failed)?;
    let (file, sha256) = spool
        .into_inner()
        .map_err(|e| failed(e.into_error()))?
        .finish();
    let fingerprint = Fingerprint {
        size: file.len(),
        sha256,
    };
    Ok((file, fingerprint))
}

/// The attachment MiB an item will load, as budget permits (at least 1,
/// at most the whole budget).
fn attachment_mib(item: &Item<'_>, opts: &ConvertOptions) -> u32 {
    let bytes: u64 = item
        .attachments
        .iter()
        .filter_map(|a| a.size)
        .filter(|&size| size <= opts.render.attachment_limit)
        .sum();
    let mib = bytes.div_ceil(1 << 20).max(1);
    mib.min(u64::from(ATTACHMENT_BUDGET_MIB)) as u32
}

/// Why an item's EML was not made.
enum EmlError {
    /// The item cannot be rendered (recorded under `failed/`).
    Render(render::RenderError),
    /// A file could not be read or written (the batch is retried).
    Store(StoreError),
}

/// Renders the item's EML; when it exceeds the target's size limit,
/// renders it again with every attachment replaced by its stub.
fn render_eml(
    input: &RenderInput<'_, '_>,
    opts: &ConvertOptions,
    key: &str,
    report: &mut Report,
) -> Result<(Content, Fingerprint), EmlError> {
    let rendered = render::prepare(input, &opts.render).map_err(EmlError::Render)?;
    match opts.max_message_bytes {
        Some(limit) if rendered.len() > limit => {
            let stubs_only = RenderOptions {
                attachment_limit: 0,
                ..opts.render.clone()
            };
            let no_files = vec![None; input.files.len()];
            let smaller = RenderInput {
                files: &no_files,
                ..*input
            };
            report.stubbed_for_size += 1;
            let rendered = render::prepare(&smaller, &stubs_only).map_err(EmlError::Render)?;
            write_eml(&rendered, key).map_err(EmlError::Store)
        }
        _ => write_eml(&rendered, key).map_err(EmlError::Store),
    }
}

/// Attachments of one item held open as files of their own, at most. An
/// item with more (the files of an export no message refers to, which
/// may be thousands) has them copied, one by one as they are opened, into
/// one temporary file ([`SpoolFile`]): the [`ITEMS_AT_ONCE`] items
/// converted together then hold a few hundred file descriptors at most,
/// well within the limit on open files (1,024 in AWS Lambda).
const OPEN_FILES_PER_ITEM: usize = 8;

/// Opens each stored attachment that fits the limit as a local file;
/// `None` for the others.
async fn load_files<S: ObjectStore>(
    store: &S,
    item: &Item<'_>,
    limit: u64,
) -> Result<Vec<Option<ObjectFile>>, StoreError> {
    let stored = |attachment| stored_key(attachment, limit);
    let many = item.attachments.iter().filter_map(stored).count() > OPEN_FILES_PER_ITEM;
    let mut spools = None;
    let mut files = Vec::with_capacity(item.attachments.len());
    for attachment in &item.attachments {
        let Some(key) = stored(attachment) else {
            files.push(None);
            continue;
        };
        let file = match store.get_file(key).await? {
            Some(file) if many => {
                let copy = copy_into(&mut spools, &file).map_err(|source| StoreError::Io {
                    key: key.to_owned(),
                    source,
                })?;
                Some(copy)
            }
            file => file,
        };
        files.push(file);
    }
    Ok(files)
}

/// The archive key of an attachment's file, when it is stored and fits
/// the limit (is attached, not stubbed).
fn stored_key<'a>(attachment: &'a Attachment<'_>, limit: u64) -> Option<&'a str> {
    let fits = attachment.size.is_some_and(|size| size <= limit);
    attachment.object_key.as_deref().filter(|_| fits)
}

/// Copies a file into `spools` (made at the first copy); its file is
/// closed when the caller drops it.
fn copy_into(spools: &mut Option<SpoolFile>, file: &ObjectFile) -> std::io::Result<ObjectFile> {
    if spools.is_none() {
        *spools = Some(SpoolFile::new()?);
    }
    let spools = spools.as_mut().expect("made above");
    let mut spool = spools.spool();
    std::io::copy(&mut file.reader(), &mut spool)?;
    Ok(spools.finish(spool).0)
}
