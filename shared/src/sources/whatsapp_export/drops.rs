//! Export drops: export files an administrator (or a phone's share sheet,
//! through a synced folder) puts under
//! `drop/whatsapp-export/<custodian>/<file>`, where `<custodian>` names the
//! employee whose phone made the export.
//!
//! Each drop is one batch. Its id and checkpoint position are the SHA-256
//! of the custodian and the file's bytes, so the same file dropped twice,
//! or a re-run, collects nothing twice, and the same file dropped for two
//! custodians makes two batches (their items differ).

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::open::{OpenError, ReadError, ReadOptions, open};
use super::{DateOrder, ZipLimits};
use crate::item::SourceKind;
use crate::report::Report;
use crate::sources::{Batch, Checkpoints, Media, Original, Source};
use crate::store::{ObjectStore, StoreError};

/// The prefix export files are dropped under.
pub const DROP_PREFIX: &str = "drop/whatsapp-export/";

/// How export drops are read.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Time zone of the exporting devices.
    pub tz: chrono_tz::Tz,
    /// Forces the date order instead of inferring it per file.
    pub date_order: Option<DateOrder>,
    /// Bounds on export zips.
    pub zip_limits: ZipLimits,
}

/// The export drops in a store (a local directory, the drop bucket).
#[derive(Debug)]
pub struct ExportDrops<D> {
    drops: D,
    opts: ExportOptions,
    /// The drops of the pull under way, not yet looked at.
    listed: Option<std::vec::IntoIter<String>>,
}

impl<D: ObjectStore> ExportDrops<D> {
    /// The drops under [`DROP_PREFIX`] in `drops`.
    pub fn new(drops: D, opts: ExportOptions) -> Self {
        ExportDrops {
            drops,
            opts,
            listed: None,
        }
    }

    async fn next(
        &mut self,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<Option<Batch>, StoreError> {
        if self.listed.is_none() {
            let listing = self.drops.scan(DROP_PREFIX).await?;
            // Not an object, so not a drop: never read, never archived.
            for unlisted in listing.unlisted {
                report.error(format!("drop folder: {unlisted}; not collected"));
            }
            self.listed = Some(listing.keys.into_iter());
        }
        let listed = self.listed.as_mut().expect("listed above");
        for drop_key in listed.by_ref() {
            let Some((custodian, file_name)) = split_drop_key(&drop_key) else {
                report.error(format!(
                    "drop {drop_key}: expected {DROP_PREFIX}<custodian>/<file>"
                ));
                continue;
            };
            let bytes = match self.drops.get(&drop_key).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => {
                    report.error(format!(
                        "drop {drop_key}: listed, but gone before it could be read; not collected"
                    ));
                    continue;
                }
                Err(e) => {
                    report.error(format!("drop {drop_key}: cannot be read: {e}"));
                    continue;
                }
            };
            let id = batch_id(custodian, &bytes);
            if checkpoints.contains(&id) {
                report.already_collected(SourceKind::WhatsappExport.as_str());
                continue;
            }
            let opts = ReadOptions {
                custodian,
                tz: self.opts.tz,
                date_order: self.opts.date_order,
            };
            let read = match read_drop(&bytes, file_name, &self.opts.zip_limits, &opts) {
                Ok(read) => read,
                Err(problem) => {
                    report.error(format!("drop {drop_key}: {problem}"));
                    continue;
                }
            };
            if read.skipped_lines > 0 {
                report.warning(format!(
                    "drop {drop_key}: {} lines before the first message or under an impossible date were kept in the raw file only",
                    read.skipped_lines
                ));
            }
            let original = Original {
                name: file_name.to_owned(),
                bytes,
            };
            return Ok(Some(Batch {
                position: id.clone(),
                id,
                origin: drop_key,
                lines: read.lines,
                items: read.items,
                originals: vec![original],
                media: read.media,
            }));
        }
        self.listed = None;
        Ok(None)
    }
}

impl<D: ObjectStore> Source for ExportDrops<D> {
    fn name(&self) -> &str {
        SourceKind::WhatsappExport.as_str()
    }

    fn next_batch<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Batch>, StoreError>> {
        Box::pin(self.next(checkpoints, report))
    }
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
    let rest = key.strip_prefix(DROP_PREFIX)?;
    let (custodian, file) = rest.split_once('/')?;
    let valid = !custodian.is_empty() && !file.is_empty() && !file.contains('/');
    valid.then_some((custodian, file))
}

/// A drop read into JSON lines.
struct Read {
    lines: Vec<u8>,
    items: u64,
    media: Vec<Media>,
    /// Lines that became no item (before the first header, impossible dates).
    skipped_lines: u64,
}

/// Why a drop could not be read.
#[derive(Debug, thiserror::Error)]
enum DropError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

fn read_drop(
    bytes: &[u8],
    file_name: &str,
    limits: &ZipLimits,
    opts: &ReadOptions<'_>,
) -> Result<Read, DropError> {
    let export = open(bytes, file_name, limits)?;
    let out = Vec::with_capacity(export.text_len() * 2);
    let (summary, lines) = export.write_items(opts, out)?;
    let media = export
        .into_files()
        .into_iter()
        .map(|file| Media {
            sha256: file.sha256,
            bytes: file.bytes,
        })
        .collect();
    Ok(Read {
        lines,
        items: summary.items,
        media,
        skipped_lines: summary.rejected_headers + summary.unattributed_lines,
    })
}
