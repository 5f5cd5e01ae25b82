//! The convert stage: a raw batch in, one EML per item and one delivery job
//! per (item, mailbox) out.
//!
//! EMLs are written create-only to `eml/<item-day>/<item-id>.eml`;
//! rendering is deterministic, so a replayed batch finds the same bytes
//! already there. They are written in groups made durable together
//! ([`ObjectStore::put_all`]), and the job file only after the last group. Items that map to nobody are recorded in
//! `unmapped/<item-day>/<item-id>.json` with the reason, and their EML is
//! still written. The batch's delivery jobs are persisted in
//! `jobs/<batch>`, then handed to the [`JobQueue`]. A custodian that maps to
//! no mailbox while its items go to other participants is reported once
//! per batch (its own mailbox misses them).

use std::collections::BTreeSet;

use futures::StreamExt;
use futures::stream;
use tokio::sync::Semaphore;

use crate::item::{Item, Network};
use crate::jobs::{self, DeliveryJob, JobQueue, QueueError};
use crate::json_error;
use crate::layout::{self, Failed, FailedLine, ItemDay, RawBatch, Unmapped};
use crate::mapping::Mapper;
use crate::render::{self, RenderInput, RenderOptions};
use crate::report::Report;
use crate::store::{Created, ObjectStore, StoreError};

/// Items of one batch converted at once.
const ITEMS_AT_ONCE: usize = 32;

/// MiB of attachments the items being converted at once may hold together
/// (an item with bigger files waits until it can run alone).
const ATTACHMENT_BUDGET_MIB: u32 = 192;

/// Objects (EMLs, records) written together at most.
const GROUP_OBJECTS: usize = 2_048;

/// Bytes of objects written together at most.
const GROUP_BYTES: usize = 64 << 20;

/// An object an item's conversion writes.
struct ToWrite {
    key: String,
    bytes: Vec<u8>,
    /// Whether it is the item's EML (counted in the report).
    eml: bool,
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
            let jobs = render_batch(store, &raw_key, mapper, opts, report).await?;
            store.put_new(&jobs_key, &jobs::to_lines(&jobs)).await?;
            jobs
        }
    };
    queue
        .send(batch, &jobs)
        .await
        .map_err(|source| ConvertError::Queue {
            key: raw_key,
            source,
        })
}

/// Renders and files every item of a raw batch; returns its delivery jobs.
async fn render_batch<S: ObjectStore>(
    store: &S,
    raw_key: &str,
    mapper: &Mapper,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let batch = store
        .get(raw_key)
        .await?
        .ok_or_else(|| StoreError::Missing(raw_key.to_owned()))?;
    let budget = Semaphore::new(ATTACHMENT_BUDGET_MIB as usize);
    let budget = &budget;
    let lines = batch
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
                custodian = convert_item(raw_key, &item, &files, mapper, opts, converted);
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
                    bytes: layout::record(&record),
                    eml: false,
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
    let mut group_bytes = 0;
    while let Some(result) = converted.next().await {
        let (item_report, item_jobs, writes, custodian) = result?;
        report.merge(item_report);
        jobs.extend(item_jobs);
        custodians.extend(custodian);
        for write in writes {
            group_bytes += write.bytes.len();
            group.push(write);
        }
        if group.len() >= GROUP_OBJECTS || group_bytes >= GROUP_BYTES {
            write_group(store, std::mem::take(&mut group), report).await?;
            group_bytes = 0;
        }
    }
    write_group(store, group, report).await?;
    for custodian in custodians {
        report.error(format!(
            "raw batch {raw_key}: {custodian}; its items are delivered to their other \
             participants only"
        ));
    }
    report.batches_converted += 1;
    Ok(jobs)
}

/// Writes a group of objects durably, counting the EMLs in the report.
async fn write_group<S: ObjectStore>(
    store: &S,
    group: Vec<ToWrite>,
    report: &mut Report,
) -> Result<(), StoreError> {
    let eml: Vec<bool> = group.iter().map(|write| write.eml).collect();
    let objects = group
        .into_iter()
        .map(|write| (write.key, write.bytes))
        .collect();
    let created = store.put_all(objects).await?;
    for (created, eml) in created.into_iter().zip(eml) {
        match (eml, created) {
            (true, Created::New) => report.emails_written += 1,
            (true, Created::Exists) => report.emails_existing += 1,
            (false, _) => {}
        }
    }
    Ok(())
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
/// maps to no one is recorded under `unmapped/` instead).
fn convert_item(
    raw_key: &str,
    item: &Item<'_>,
    files: &[Option<Vec<u8>>],
    mapper: &Mapper,
    opts: &ConvertOptions,
    out: Converted<'_>,
) -> Option<String> {
    let resolution = mapper.resolve(item);
    let file_refs: Vec<Option<&[u8]>> = files.iter().map(Option::as_deref).collect();
    let input = RenderInput {
        item,
        addresses: &resolution.addresses,
        files: &file_refs,
        raw_object: Some(raw_key),
    };
    let day = ItemDay::of(item);
    let eml = match render_within_limit(&input, opts, out.report) {
        Ok(eml) => eml,
        Err(e) => {
            // Kept visible in the store for the operator, not only in this report.
            let record = Failed {
                item_id: item.id.to_string(),
                reason: e.to_string(),
                raw_key: raw_key.to_owned(),
            };
            out.writes.push(ToWrite {
                key: layout::failed_item_key(day, &item.id),
                bytes: layout::record(&record),
                eml: false,
            });
            out.report
                .error(format!("item {} of {raw_key}: {e}", item.id));
            return None;
        }
    };
    let eml_key = layout::eml_key(day, &item.id);
    out.writes.push(ToWrite {
        key: eml_key.clone(),
        bytes: eml,
        eml: true,
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
        };
        out.writes.push(ToWrite {
            key: layout::unmapped_key(day, &item.id),
            bytes: layout::record(&record),
            eml: false,
        });
        out.report.unmapped += 1;
    }
    let folder = opts.folders.for_network(item.source.network());
    let message_id = render::message_id(&item.id);
    let timestamp = item.timestamp.to_rfc3339();
    out.jobs
        .extend(resolution.mailboxes.into_iter().map(|mailbox| DeliveryJob {
            mailbox,
            folder: folder.to_owned(),
            eml_key: eml_key.clone(),
            message_id: message_id.clone(),
            timestamp: timestamp.clone(),
        }));
    custodian
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

/// Renders the item; when the result exceeds the target's size limit,
/// renders it again with every attachment replaced by its stub.
fn render_within_limit(
    input: &RenderInput<'_, '_>,
    opts: &ConvertOptions,
    report: &mut Report,
) -> Result<Vec<u8>, render::RenderError> {
    let eml = render::render(input, &opts.render)?;
    match opts.max_message_bytes {
        Some(limit) if eml.len() as u64 > limit => {
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
            render::render(&smaller, &stubs_only)
        }
        _ => Ok(eml),
    }
}

/// Loads each stored attachment that fits the limit; `None` for the others.
async fn load_files<S: ObjectStore>(
    store: &S,
    item: &Item<'_>,
    limit: u64,
) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    let mut files = Vec::with_capacity(item.attachments.len());
    for attachment in &item.attachments {
        let fits = attachment.size.is_some_and(|size| size <= limit);
        let bytes = match (&attachment.object_key, fits) {
            (Some(key), true) => store.get(key).await?,
            _ => None,
        };
        files.push(bytes);
    }
    Ok(files)
}
