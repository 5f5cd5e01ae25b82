//! The collect stage: pull what the sources have into raw batches.
//!
//! For now the source is WhatsApp export drops: files put under
//! `drop/whatsapp-export/<custodian>/<file>`. Each new drop becomes one raw
//! batch `raw/whatsapp-export/<day>/<sha256>.jsonl` (one item per line), its
//! original file is kept beside it, and its media go to `media/<sha256>`.
//! A drop is checkpointed by content hash under `collected/`, so the same
//! file dropped twice, or a re-run, collects nothing twice.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::item::{JsonLines, SourceKind};
use crate::report::Report;
use crate::sources::whatsapp_export::{
    Chat, DateOrder, ExportContext, ZipLimits, media_key, read_zip,
};
use crate::store::{Created, ObjectStore, StoreError};

/// The prefix export files are dropped under.
pub const EXPORT_DROP_PREFIX: &str = "drop/whatsapp-export/";

/// How export drops are read.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Time zone of the exporting devices.
    pub tz: Tz,
    /// Forces the date order instead of inferring it per file.
    pub date_order: Option<DateOrder>,
    /// Bounds on export zips.
    pub zip_limits: ZipLimits,
}

/// The checkpoint written once a drop is collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// The drop's key when it was collected.
    pub drop_key: String,
    /// The raw batch written from it.
    pub raw_key: String,
    /// Items in the batch.
    pub items: u64,
}

/// Collects every export drop not collected before; returns the raw batch keys written.
///
/// A drop that cannot be read is reported and left for the next run; the
/// other drops are collected. Only store failures stop the stage.
pub async fn collect_export_drops<D: ObjectStore, S: ObjectStore>(
    drops: &D,
    archive: &S,
    opts: &ExportOptions,
    day: NaiveDate,
    report: &mut Report,
) -> Result<Vec<String>, StoreError> {
    let mut written = Vec::new();
    for drop_key in drops.list(EXPORT_DROP_PREFIX).await? {
        let Some((custodian, file_name)) = split_drop_key(&drop_key) else {
            report.error(format!(
                "drop {drop_key}: expected {EXPORT_DROP_PREFIX}<custodian>/<file>"
            ));
            continue;
        };
        let bytes = match drops.get(&drop_key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue, // removed since the listing
            Err(e) => {
                report.error(format!("drop {drop_key}: cannot be read: {e}"));
                continue;
            }
        };
        let hash = batch_id(custodian, &bytes);
        let checkpoint = format!("collected/whatsapp-export/{hash}");
        if archive.get(&checkpoint).await?.is_some() {
            report.already_collected(SourceKind::WhatsappExport.as_str());
            continue;
        }
        let batch = match read_drop(archive, &bytes, custodian, file_name, opts).await {
            Ok(batch) => {
                if batch.skipped_lines > 0 {
                    report.warning(format!(
                        "drop {drop_key}: {} lines before the first message or under an impossible date were kept in the raw file only",
                        batch.skipped_lines
                    ));
                }
                batch
            }
            Err(DropError::Store(e)) => return Err(e),
            Err(DropError::Unreadable(problem)) => {
                report.error(format!("drop {drop_key}: {problem}"));
                continue;
            }
        };
        let base = format!("raw/whatsapp-export/{day}/{hash}");
        archive
            .put_new(&format!("{base}/{file_name}"), &bytes)
            .await?;
        let raw_key = format!("{base}.jsonl");
        archive.put_new(&raw_key, &batch.lines).await?;
        let record = Collected {
            drop_key: drop_key.clone(),
            raw_key: raw_key.clone(),
            items: batch.items,
        };
        let record = serde_json::to_vec(&record).expect("checkpoints serialize");
        if archive.put_new(&checkpoint, &record).await? == Created::New {
            report.collected(SourceKind::WhatsappExport.as_str(), batch.items);
            written.push(raw_key);
        }
    }
    Ok(written)
}

/// A drop's batch id: SHA-256 over the custodian and the file, so the same
/// file dropped for two custodians makes two batches (their items differ).
fn batch_id(custodian: &str, bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update((custodian.len() as u64).to_le_bytes());
    hasher.update(custodian.as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

/// `drop/whatsapp-export/<custodian>/<file>` -> (custodian, file).
fn split_drop_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(EXPORT_DROP_PREFIX)?;
    let (custodian, file) = rest.split_once('/')?;
    let valid = !custodian.is_empty() && !file.is_empty() && !file.contains('/');
    valid.then_some((custodian, file))
}

enum DropError {
    Store(StoreError),
    Unreadable(String),
}

impl From<StoreError> for DropError {
    fn from(e: StoreError) -> Self {
        DropError::Store(e)
    }
}

struct Batch {
    lines: Vec<u8>,
    items: u64,
    /// Lines that became no item (before the first header, impossible dates).
    skipped_lines: u64,
}

/// Reads one drop into JSON lines, storing its media.
async fn read_drop<S: ObjectStore>(
    archive: &S,
    bytes: &[u8],
    custodian: &str,
    file_name: &str,
    opts: &ExportOptions,
) -> Result<Batch, DropError> {
    let lower = file_name.to_ascii_lowercase();
    let (text, chat_name, media) = if lower.ends_with(".zip") {
        let bundle =
            read_zip(bytes, &opts.zip_limits).map_err(|e| DropError::Unreadable(e.to_string()))?;
        for file in &bundle.media {
            archive
                .put_new(&media_key(&file.sha256), &file.bytes)
                .await?;
        }
        let media = bundle.media_refs();
        let chat_name = bundle.title_name(file_name).to_owned();
        let bundle_text = bundle.chat_text;
        (Cow::Owned(bundle_text), chat_name, media)
    } else if lower.ends_with(".txt") {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| DropError::Unreadable(format!("not UTF-8 text: {e}")))?;
        (Cow::Borrowed(text), file_name.to_owned(), HashMap::new())
    } else {
        return Err(DropError::Unreadable(
            "not an export (.txt or .zip)".to_owned(),
        ));
    };
    let ctx = ExportContext {
        custodian,
        file_name: &chat_name,
        tz: opts.tz,
        date_order: opts.date_order,
    };
    let chat = Chat::prepare(&text, &ctx).map_err(|e| DropError::Unreadable(e.to_string()))?;
    let mut out = JsonLines::new(Vec::with_capacity(text.len() * 2));
    let lookup = |name: &str| media.get(name).cloned();
    let summary = chat.visit_items(&lookup, |item| {
        out.write_lent(item).expect("writing to memory cannot fail");
    });
    let items = summary.items;
    Ok(Batch {
        lines: out.into_inner().expect("writing to memory cannot fail"),
        items,
        skipped_lines: summary.rejected_headers + summary.unattributed_lines,
    })
}
