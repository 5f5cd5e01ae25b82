//! Export drops: export files an administrator (or a phone's share sheet,
//! through a synced folder) puts under
//! `drop/whatsapp-export/<custodian>/<file>`, where `<custodian>` names the
//! employee whose phone made the export.
//!
//! Each drop is one batch. Its id and checkpoint position are the SHA-256
//! of the custodian and the file's bytes, so the same file dropped twice,
//! or a re-run, collects nothing twice, and the same file dropped for two
//! custodians makes two batches (their items differ).
//!
//! A drop is read from a local file ([`ObjectStore::get_file`]: the file
//! itself in a local directory, a download into a temporary file from S3),
//! never whole into memory; its media go to temporary files as the zip is
//! inflated (see `archive`), and collect streams both into the archive.
//! A failure of this machine's (a temporary file that cannot be written)
//! ends the pull like a store failure, to be retried; it never refuses the
//! drop.
//!
//! Every drop is kept: its file is handed to collect as an original
//! before it is read, and a drop that cannot be read (no chat text, not
//! UTF-8, an unsafe or oversized zip, a key that names no custodian) is
//! refused with its reason rather than passed over. A refusal is
//! checkpointed like a batch: the same bytes would be refused again for the
//! same reason, so it is reported once. Once collect has checkpointed a
//! drop, or finds it checkpointed by an earlier run, the drop is marked
//! collected in the drop store ([`ObjectStore::mark_collected`]): the drop
//! bucket expires only drops so marked. What is in the drop folder but is
//! no object (a symbolic link, a name that is not UTF-8) and a drop gone
//! before it could be read are errors in the report.

use std::io::{self, Read as _};
use std::sync::Arc;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::open::{ExportSummary, OpenError, ReadError, ReadOptions, open_file};
use super::{CustodianAuthor, CustodianNames, DateOrder, ZipLimits};
use crate::item::SourceKind;
use crate::report::Report;
use crate::sources::{Batch, Checkpoints, Media, Original, Originals, Pulled, Refused, Source};
use crate::store::{ObjectFile, ObjectStore, StoreError};

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
    custodian_names: CustodianNames,
    /// The drops of the pull under way, not yet looked at.
    listed: Option<std::vec::IntoIter<String>>,
    /// The drop whose original was handed over last: read next.
    kept: Option<Kept>,
    /// The position and key of the drop read or refused last: marked
    /// collected once collect has checkpointed it.
    handed: Option<(String, String)>,
}

/// A drop whose original collect is storing, to be read next.
#[derive(Debug)]
struct Kept {
    drop_key: String,
    id: String,
    content: Arc<ObjectFile>,
}

impl<D: ObjectStore> ExportDrops<D> {
    /// The drops under [`DROP_PREFIX`] in `drops`.
    pub fn new(drops: D, opts: ExportOptions) -> Self {
        ExportDrops {
            drops,
            opts,
            custodian_names: CustodianNames::default(),
            listed: None,
            kept: None,
            handed: None,
        }
    }

    /// With the author names custodians appear under in their exports
    /// (`[custodians]`), for exports that do not tell.
    pub fn with_custodian_names(mut self, names: CustodianNames) -> Self {
        self.custodian_names = names;
        self
    }

    async fn next(
        &mut self,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<Option<Pulled>, StoreError> {
        if let Some(kept) = self.kept.take() {
            return self.read(kept, report).map(Some);
        }
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
            // A folder marker (the S3 console's "Create folder" writes an
            // object whose key ends in `/`): a folder, not a drop.
            if drop_key.ends_with('/') {
                continue;
            }
            let content = match self.drops.get_file(&drop_key).await {
                Ok(Some(content)) => content,
                Ok(None) => {
                    report.error(format!(
                        "drop {drop_key}: listed, but gone before it could be read; not collected"
                    ));
                    continue;
                }
                Err(e) => {
                    report.error(format!(
                        "drop {drop_key}: cannot be read: {e}; not collected"
                    ));
                    continue;
                }
            };
            let place = Place::of(&drop_key);
            let id = match batch_id(place.folder, &content) {
                Ok(id) => id,
                Err(e) => {
                    report.error(format!(
                        "drop {drop_key}: cannot be read: {e}; not collected"
                    ));
                    continue;
                }
            };
            if checkpoints.contains(&id) {
                report.already_collected(SourceKind::WhatsappExport.as_str());
                mark_collected(&self.drops, &drop_key, report).await;
                continue;
            }
            let content = Arc::new(content);
            let original = Original {
                name: place.file.to_owned(),
                content: Arc::clone(&content),
            };
            self.kept = Some(Kept {
                drop_key,
                id: id.clone(),
                content,
            });
            return Ok(Some(Pulled::Originals(Originals {
                id,
                originals: vec![original],
            })));
        }
        self.listed = None;
        Ok(None)
    }

    /// Reads a drop whose original collect has stored: its batch, or its
    /// refusal; an error when this machine failed reading it (see the
    /// module docs).
    fn read(&mut self, kept: Kept, report: &mut Report) -> Result<Pulled, StoreError> {
        let place = Place::of(&kept.drop_key);
        self.handed = Some((kept.id.clone(), kept.drop_key.clone()));
        let read = match place.custodian() {
            None => Err(format!(
                "not where exports are dropped ({DROP_PREFIX}<custodian>/<file>)"
            )),
            Some(custodian) => {
                let opts = ReadOptions {
                    custodian,
                    tz: self.opts.tz,
                    date_order: self.opts.date_order,
                    custodian_names: self.custodian_names.of(custodian),
                };
                match read_drop(&kept.content, place.file, &self.opts.zip_limits, &opts) {
                    Err(problem) if problem.is_local() => {
                        return Err(StoreError::Io {
                            key: kept.drop_key,
                            source: io::Error::other(problem),
                        });
                    }
                    read => read.map_err(|problem| problem.to_string()),
                }
            }
        };
        let read = match read {
            Ok(read) => read,
            Err(reason) => {
                return Ok(Pulled::Refused(Refused {
                    position: kept.id.clone(),
                    id: kept.id,
                    custodian: place.custodian().map(str::to_owned),
                    file_name: place.file.to_owned(),
                    origin: kept.drop_key,
                    reason,
                }));
            }
        };
        read.report(&kept.drop_key, report);
        Ok(Pulled::Batch(Batch {
            position: kept.id.clone(),
            id: kept.id,
            origin: kept.drop_key,
            lines: read.lines,
            items: read.summary.items,
            media: read.media,
        }))
    }

    async fn checkpointed(&mut self, position: &str, report: &mut Report) {
        match self.handed.take() {
            Some((handed, drop_key)) if handed == position => {
                mark_collected(&self.drops, &drop_key, report).await;
            }
            other => self.handed = other,
        }
    }
}

impl<D: ObjectStore> Source for ExportDrops<D> {
    fn name(&self) -> &str {
        SourceKind::WhatsappExport.as_str()
    }

    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        Box::pin(self.next(checkpoints, report))
    }

    fn checkpointed<'a>(
        &'a mut self,
        position: &'a str,
        report: &'a mut Report,
    ) -> BoxFuture<'a, ()> {
        Box::pin(ExportDrops::checkpointed(self, position, report))
    }
}

/// Marks a drop collected in the drop store; a failure is a warning (the
/// drop is in the archive, and a later run, finding it collected, marks it
/// again).
async fn mark_collected<D: ObjectStore>(drops: &D, drop_key: &str, report: &mut Report) {
    if let Err(e) = drops.mark_collected(drop_key).await {
        report.warning(format!(
            "drop {drop_key}: collected, but not marked collected in the drop store ({e}); a later run marks it"
        ));
    }
}

/// A drop's batch id: SHA-256 over the custodian and the file, so the same
/// file dropped for two custodians makes two batches (their items differ).
/// The file is hashed as it is read, a buffer at a time.
fn batch_id(custodian: &str, content: &ObjectFile) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hasher.update((custodian.len() as u64).to_le_bytes());
    hasher.update(custodian.as_bytes());
    let mut reader = content.reader();
    let mut buffer = vec![0; HASH_BUFFER];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The buffer a drop is hashed through.
const HASH_BUFFER: usize = 256 << 10;

/// Where a drop is: `drop/whatsapp-export/<folder>/<file>`.
#[derive(Debug, Clone, Copy)]
struct Place<'k> {
    /// Between the prefix and the file: the custodian, when it is one
    /// segment (empty for a file right under the prefix).
    folder: &'k str,
    /// The file's name.
    file: &'k str,
}

impl<'k> Place<'k> {
    fn of(drop_key: &'k str) -> Self {
        let rest = drop_key.strip_prefix(DROP_PREFIX).unwrap_or(drop_key);
        let (folder, file) = rest.rsplit_once('/').unwrap_or(("", rest));
        Place { folder, file }
    }

    /// The custodian, when the drop is at `<custodian>/<file>`.
    fn custodian(&self) -> Option<&'k str> {
        (!self.folder.is_empty() && !self.folder.contains('/')).then_some(self.folder)
    }
}

/// A drop read into JSON lines.
struct Read {
    lines: Vec<u8>,
    media: Vec<Media>,
    summary: ExportSummary,
}

impl Read {
    /// Lines that became no item (before the first header, impossible
    /// dates), in every chat text.
    fn skipped_lines(&self) -> u64 {
        let chats = self.summary.chats.iter();
        chats
            .map(|chat| chat.rejected_headers + chat.unattributed_lines)
            .sum()
    }

    /// Reports what the reading found in the drop: chat texts it could not
    /// read, ambiguous file names, files no message refers to, lines kept
    /// in the raw file only. Names, never content.
    fn report(&self, drop_key: &str, report: &mut Report) {
        let summary = &self.summary;
        for chat in &summary.unread_chats {
            report.error(format!(
                "drop {drop_key}: chat text {} could not be read ({}); it is attached as a file of the export",
                chat.path, chat.reason
            ));
        }
        for ambiguous in &summary.ambiguous {
            report.warning(format!(
                "drop {drop_key}: file name {} matches {} entries ({}); linked to none, attached as files of the export",
                ambiguous.name,
                ambiguous.paths.len(),
                ambiguous.paths.join(", ")
            ));
        }
        if !summary.unreferenced.is_empty() {
            let count = match summary.unreferenced.len() {
                1 => "1 file".to_owned(),
                n => format!("{n} files"),
            };
            report.warning(format!(
                "drop {drop_key}: {count} in the export not referred to by any message, attached to one more item of the chat: {}",
                summary.unreferenced.join(", ")
            ));
        }
        for chat in &summary.chats {
            if chat.custodian_author == CustodianAuthor::Unknown {
                report.warning(format!(
                    "drop {drop_key}: chat {}: which author is the custodian cannot be told \
                     (no \"You deleted this message\" line or the like); their own messages \
                     show an unmapped sender; name the author under [custodians] in the config",
                    chat.title.as_deref().unwrap_or("without a title")
                ));
            }
            for warning in chat.warnings.iter().take(REPORTED_WARNINGS) {
                report.warning(format!("drop {drop_key}: {warning}"));
            }
            let more = chat.warning_count.saturating_sub(REPORTED_WARNINGS as u64);
            if more > 0 {
                report.warning(format!(
                    "drop {drop_key}: {more} more doubtful lines (see `archiver inspect`)"
                ));
            }
        }
        let skipped = self.skipped_lines();
        if skipped > 0 {
            report.warning(format!(
                "drop {drop_key}: {skipped} lines before the first message or under an impossible date were kept in the raw file only"
            ));
        }
    }
}

/// Doubtful lines of one chat named in the report, at most (`archiver
/// inspect` lists them all).
const REPORTED_WARNINGS: usize = 20;

/// Why a drop could not be read.
#[derive(Debug, thiserror::Error)]
enum DropError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl DropError {
    /// Whether this machine failed, not the drop (see the module docs).
    fn is_local(&self) -> bool {
        match self {
            DropError::Open(e) => e.is_local(),
            DropError::Read(e) => e.is_local(),
        }
    }
}

fn read_drop(
    content: &ObjectFile,
    file_name: &str,
    limits: &ZipLimits,
    opts: &ReadOptions<'_>,
) -> Result<Read, DropError> {
    let export = open_file(content, file_name, limits)?;
    let out = Vec::with_capacity(export.text_len() * 2);
    let written = export.write_items(opts, out)?;
    let media = written
        .files
        .into_iter()
        .map(|file| Media {
            sha256: file.sha256,
            content: file.content,
        })
        .collect();
    Ok(Read {
        lines: written.out,
        media,
        summary: written.summary,
    })
}
