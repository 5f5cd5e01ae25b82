//! The WeCom Session Content Archive (会话内容存档): WeChat and WeCom
//! conversations pulled through the vendor's C SDK (sources-deep.md Part A).
//!
//! - `sdk`: the binding to the SDK's 17 exports, loaded at run time.
//! - `keys`: the RSA step, message keys from the private key of each
//!   message's key version.
//! - `message`: a decrypted message and the item it becomes.
//! - `media`: files downloaded chunk by chunk into a spool.
//! - `directory`: group titles and names from WeCom's web APIs.
//!
//! [`WecomSource`] pulls from the checkpointed `seq` in pages of up to
//! 1,000 until a short page says it is caught up. Each page is handed to
//! collect as it was received (`chatdata.json`, encrypted) before anything
//! is read from it, then as a batch of items whose id is its exact `seq`
//! range (`<first>-<last>`, 20 digits each) and whose position is
//! `s<last>`; its media go with it, so the checkpoint follows them.
//!
//! A message that cannot be decrypted is never dropped: it is handed over
//! on its own, still encrypted, and refused with the reason (position
//! `a-<seq>-v<version>` when its key version is missing, `x-<seq>`
//! otherwise). A later run that holds the missing key finds those
//! positions, reads the message back from the archive, and collects it
//! then (position `d-<seq>`). The pull goes on after the greatest page
//! position (`s<seq>`), whatever positions of the other sorts say.
//!
//! What may mean lost data goes into the report as an error: data expired
//! (10010), a gap in `seq`, a pull reaching messages near WeCom's retention
//! limit. A type never seen before is a warning (its item is kept, rendered
//! generically with its raw JSON).

pub mod directory;
pub mod keys;
pub mod media;
pub mod message;
pub mod sdk;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;

use self::directory::Directory;
use self::keys::{KeyError, PrivateKeys};
use self::media::{Retry, download};
use self::message::{Fetched, Message, sniff};
use self::sdk::{Library, Network, Sdk, SdkError};
use super::{Batch, Checkpoints, Media, Original, Originals, Pulled, Refused, Source};
use crate::item::JsonLines;
use crate::layout::{self, RefusedDrop};
use crate::report::Report;
use crate::secrets::Secret;
use crate::store::{ObjectFile, ObjectStore, StoreError};

/// The source's name (`raw/wecom/`, `collected/wecom/`).
pub const NAME: &str = "wecom";

/// The most messages `GetChatData` gives at once.
pub const MAX_PAGE: u32 = 1000;

/// The media a batch gathers (in the spool, `/tmp` in AWS) before it is
/// closed and handed to collect, the rest of the page pulled again after
/// it: 256 MiB.
pub const BATCH_MEDIA_BYTES: u64 = 256 << 20;

/// JSON `errcode`s after which the same page is asked for again: system
/// busy.
const BUSY: i64 = -1;

/// JSON `errcode` asking for a smaller page (301058).
const TOO_BIG: i64 = 301_058;

/// How the source reaches WeCom.
#[derive(Debug, Clone)]
pub struct WecomOptions {
    /// The SDK library (`libWeWorkFinanceSdk_C.so`, in `/opt/lib` from a
    /// Lambda layer).
    pub library: PathBuf,
    /// The enterprise's corp id.
    pub corp_id: String,
    /// Proxy and timeouts of the SDK's calls.
    pub network: Network,
    /// Messages asked for per page (at most [`MAX_PAGE`]).
    pub page_limit: u32,
    /// Retries of transient failures.
    pub retry: Retry,
    /// A pull that reaches messages older than this is reported: WeCom
    /// keeps them 3 to 5 days.
    pub retention_alarm: TimeDelta,
    /// The time of the run (for the retention alarm).
    pub now: DateTime<Utc>,
    /// WeCom's web API ([`directory::DEFAULT_API`]), for group titles and
    /// names; `None` to show ids only.
    pub api: Option<String>,
    /// A batch is closed once its media reach this many bytes
    /// ([`BATCH_MEDIA_BYTES`]), so that a page full of large files is
    /// collected a part at a time, each within the disk and the run's time,
    /// rather than never.
    pub batch_media_bytes: u64,
}

/// What the source reads from the secret store.
#[derive(Debug)]
pub struct WecomSecrets {
    /// The Session Content Archive secret (会话内容存档 Secret).
    pub archive_secret: Secret,
    /// The private keys by version.
    pub keys: PrivateKeys,
}

/// The SDK, loaded on the first pull.
enum Loaded {
    Not,
    Ready(Sdk),
    Failed,
}

/// The WeCom archive as a source; `archive` is the archive store, read
/// (never written) for messages kept encrypted by an earlier run.
pub struct WecomSource<S> {
    archive: S,
    options: WecomOptions,
    secrets: WecomSecrets,
    sdk: Loaded,
    queue: VecDeque<Pulled>,
    late_done: bool,
    caught_up: bool,
    limit: u32,
    retention_reported: bool,
    directory: Option<Directory>,
}

/// One entry of `GetChatData`'s `chatdata`.
#[derive(Debug, Deserialize)]
struct Entry {
    seq: u64,
    #[serde(default)]
    publickey_ver: u32,
    #[serde(default)]
    encrypt_random_key: String,
    #[serde(default)]
    encrypt_chat_msg: String,
}

/// `GetChatData`'s JSON.
#[derive(Debug, Deserialize)]
struct Listing {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    chatdata: Vec<Box<RawValue>>,
}

/// Why one message is not collected now.
enum Undecrypted {
    /// Its key version is missing: retried once the key is added.
    NoKey(u32),
    /// Anything else.
    Failed(String),
}

impl<S: ObjectStore> WecomSource<S> {
    /// A source over the SDK at `options.library`, loaded at the first pull.
    pub fn new(archive: S, options: WecomOptions, secrets: WecomSecrets) -> Self {
        let limit = options.page_limit.clamp(1, MAX_PAGE);
        let directory = options
            .api
            .as_deref()
            .map(|api| Directory::new(api, &options.corp_id, secrets.archive_secret.clone()));
        WecomSource {
            directory,
            archive,
            options,
            secrets,
            sdk: Loaded::Not,
            queue: VecDeque::new(),
            late_done: false,
            caught_up: false,
            limit,
            retention_reported: false,
        }
    }

    /// Starts another run at `now` with the same SDK instance (one per
    /// environment, initialised once): the pull begins again from the
    /// checkpoints collect shows it.
    pub fn start_run(&mut self, now: DateTime<Utc>) {
        self.options.now = now;
        // A library that failed to load or initialise is tried (and
        // reported) again.
        if let Loaded::Failed = self.sdk {
            self.sdk = Loaded::Not;
        }
        self.queue.clear();
        self.late_done = false;
        self.caught_up = false;
        self.limit = self.options.page_limit.clamp(1, MAX_PAGE);
        self.retention_reported = false;
        if let Some(directory) = &mut self.directory {
            directory.clear();
        }
    }

    /// Sets [`WecomOptions::batch_media_bytes`].
    pub fn set_batch_media_bytes(&mut self, bytes: u64) {
        self.options.batch_media_bytes = bytes;
    }

    async fn next(
        &mut self,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<Option<Pulled>, StoreError> {
        if let Some(pulled) = self.queue.pop_front() {
            return Ok(Some(pulled));
        }
        if self.caught_up {
            return Ok(None);
        }
        if let Loaded::Not = self.sdk {
            self.sdk = match Library::load(&self.options.library).and_then(|library| {
                Sdk::new(library, &self.options.corp_id, &self.secrets.archive_secret)
            }) {
                Ok(sdk) => Loaded::Ready(sdk),
                Err(e) => {
                    report.error(format!("{NAME}: {e}; nothing collected"));
                    Loaded::Failed
                }
            };
        }
        // Out of `self` while in use, so that `self` can change meanwhile.
        let Loaded::Ready(mut sdk) = std::mem::replace(&mut self.sdk, Loaded::Failed) else {
            self.caught_up = true;
            return Ok(None);
        };
        let pulled = self.pull_with(&mut sdk, checkpoints, report).await;
        self.sdk = Loaded::Ready(sdk);
        pulled
    }

    async fn pull_with(
        &mut self,
        sdk: &mut Sdk,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<Option<Pulled>, StoreError> {
        if !self.late_done {
            self.late_done = true;
            for problem in self.secrets.keys.unreadable() {
                report.error(format!("{NAME}: {problem}"));
            }
            self.late(sdk, checkpoints, report).await?;
        }
        if self.queue.is_empty() {
            self.page(sdk, checkpoints, report).await?;
        }
        if self.queue.is_empty() {
            self.caught_up = true;
        }
        Ok(self.queue.pop_front())
    }

    /// Messages kept encrypted for a missing key whose key is there now.
    async fn late(
        &mut self,
        sdk: &mut Sdk,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let waiting: Vec<(u64, u32, String)> = checkpoints
            .iter()
            .filter_map(|position| {
                let (seq, version) = position.strip_prefix("a-")?.split_once("-v")?;
                Some((
                    seq.parse().ok()?,
                    version.parse().ok()?,
                    position.to_owned(),
                ))
            })
            .filter(|(seq, version, _)| {
                self.secrets.keys.has(*version) && !checkpoints.contains(&late_position(*seq))
            })
            .collect();
        for (seq, _, position) in waiting {
            let record_key = layout::refused_drop_key(&position);
            let record: Option<RefusedDrop> = self
                .archive
                .get(&record_key)
                .await?
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let Some(record) = record else {
                report.error(format!("{NAME}: seq {seq}: its record {record_key} is missing or unreadable; not decrypted"));
                continue;
            };
            let Some(entry) = self.archive.get(&record.original_key).await? else {
                report.error(format!(
                    "{NAME}: seq {seq}: {} is missing; not decrypted",
                    record.original_key
                ));
                continue;
            };
            let Ok(entry) = serde_json::from_slice::<Entry>(&entry) else {
                report.error(format!(
                    "{NAME}: seq {seq}: {} is not a chatdata entry; not decrypted",
                    record.original_key
                ));
                continue;
            };
            let mut batch = BatchBuilder::default();
            match decrypt(sdk, &self.secrets.keys, &entry) {
                Ok(plain) => {
                    if !add_message(
                        &mut Context {
                            sdk: &mut *sdk,
                            options: &self.options,
                            directory: self.directory.as_mut(),
                        },
                        &plain,
                        &entry,
                        &mut batch,
                        report,
                    )
                    .await?
                    {
                        return Ok(());
                    }
                }
                Err(Undecrypted::NoKey(_)) => continue,
                Err(Undecrypted::Failed(reason)) => {
                    report.error(format!(
                        "{NAME}: seq {seq}: still not decrypted ({reason}); kept as {}",
                        record.original_key
                    ));
                    continue;
                }
            }
            let position = late_position(seq);
            self.queue.push_back(batch.finish(
                position.clone(),
                position,
                format!(
                    "{NAME} seq {seq}, decrypted late (kept as {})",
                    record.original_key
                ),
            ));
        }
        Ok(())
    }

    /// The next page after the last checkpointed `seq`, queued as its
    /// units; nothing when caught up or stopped by an error.
    async fn page(
        &mut self,
        sdk: &mut Sdk,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let after = last_page(checkpoints);
        let Some((bytes, mut entries)) = self.listing(sdk, after.unwrap_or(0), report).await else {
            return Ok(());
        };
        // Only what comes after the checkpoint (a listing from the oldest
        // message WeCom keeps, after 10010, may hold older ones).
        entries.retain(|(entry, _)| after.is_none_or(|after| entry.seq > after));
        let Some(first) = entries.first().map(|(e, _)| e.seq) else {
            return Ok(());
        };
        let mut expected = after.map(|seq| seq + 1);
        let mut units = Vec::new();
        let mut batch = BatchBuilder::default();
        let mut last = first;
        let mut cut = false;
        for (entry, raw) in &entries {
            if cut {
                // The batch is full: the rest is pulled again after it.
                break;
            }
            if let Some(want) = expected
                && entry.seq > want
            {
                report.seq_gap(
                    NAME,
                    want,
                    entry.seq - 1,
                    format!(
                        "{NAME}: gap in seq: {want} to {} never came from WeCom (data may be lost)",
                        entry.seq - 1
                    ),
                );
            }
            expected = Some(entry.seq + 1);
            last = entry.seq;
            let plain = match decrypt(sdk, &self.secrets.keys, entry) {
                Ok(plain) => plain,
                Err(why) => {
                    units.extend(refusal(entry, raw, why)?);
                    continue;
                }
            };
            if let Err(e) = Message::parse(&plain) {
                units.extend(refusal(entry, raw, Undecrypted::Failed(e.to_string()))?);
                continue;
            }
            if !add_message(
                &mut Context {
                    sdk: &mut *sdk,
                    options: &self.options,
                    directory: self.directory.as_mut(),
                },
                &plain,
                entry,
                &mut batch,
                report,
            )
            .await?
            {
                // A file could not be fetched now: the page is collected
                // by a later run, not without it.
                return Ok(());
            }
            cut = batch.media_bytes >= self.options.batch_media_bytes;
        }
        let id = format!("{first:020}-{last:020}");
        units.insert(
            0,
            Pulled::Originals(Originals {
                id: id.clone(),
                originals: vec![original("chatdata.json", &bytes)?],
            }),
        );
        if let Some(oldest) = batch.oldest
            && !self.retention_reported
            && self.options.now - oldest > self.options.retention_alarm
        {
            self.retention_reported = true;
            report.error(format!(
                "{NAME}: the pull reached messages from {} ({} hours old), near WeCom's retention limit of 3 to 5 days: collect more often",
                oldest.format("%Y-%m-%d %H:%M UTC"),
                (self.options.now - oldest).num_hours()
            ));
        }
        units.push(batch.finish(
            id,
            format!("s{last:020}"),
            format!("{NAME} seq {first}-{last}"),
        ));
        let whole = entries.last().is_some_and(|(e, _)| e.seq == last);
        if whole && entries.len() < self.limit as usize {
            self.caught_up = true;
        }
        self.queue.extend(units);
        Ok(())
    }

    /// `GetChatData` after `seq`, with the return code and the JSON
    /// `errcode` checked and transient failures retried; `None` (and a
    /// report line) when there is nothing to read now.
    async fn listing(
        &mut self,
        sdk: &mut Sdk,
        mut seq: u64,
        report: &mut Report,
    ) -> Option<(Vec<u8>, Vec<(Entry, Box<RawValue>)>)> {
        let retry = self.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let again = attempt < retry.attempts;
            let bytes = match sdk.chat_data(seq, self.limit, &self.options.network) {
                Ok(bytes) => bytes,
                Err(e) if e.is_transient() && again => {
                    tokio::time::sleep(retry.delay(attempt)).await;
                    continue;
                }
                Err(e @ SdkError::Code { code: 10010, .. }) if seq > 0 => {
                    // Asked again after the same seq, WeCom would answer
                    // the same for ever, and every newer message expire in
                    // turn: go on from the oldest message it still keeps
                    // (the gap is then reported by its exact seq range).
                    report.error(format!(
                        "{NAME}: {e} after seq {seq}: messages WeCom no longer keeps are lost (a gap); going on from the oldest it keeps; collect more often"
                    ));
                    seq = 0;
                    attempt = 0;
                    continue;
                }
                Err(e @ SdkError::Code { code: 10010, .. }) => {
                    report.error(format!(
                        "{NAME}: {e} after seq {seq}: messages WeCom no longer keeps are lost (a gap); collect more often"
                    ));
                    return None;
                }
                Err(e) => {
                    report.error(format!(
                        "{NAME}: {e} after seq {seq}; collected up to there"
                    ));
                    return None;
                }
            };
            let listing: Listing = match serde_json::from_slice(&bytes) {
                Ok(listing) => listing,
                Err(e) => {
                    report.error(format!(
                        "{NAME}: GetChatData after seq {seq} answered no listing ({}); collected up to there",
                        crate::json_error::describe(&e)
                    ));
                    return None;
                }
            };
            match listing.errcode {
                0 => {}
                BUSY if again => {
                    tokio::time::sleep(retry.delay(attempt)).await;
                    continue;
                }
                TOO_BIG if self.limit > 1 => {
                    self.limit /= 2;
                    continue;
                }
                code => {
                    report.error(format!(
                        "{NAME}: GetChatData after seq {seq} answered errcode {code} ({}); collected up to there",
                        crate::escape::escaped(&listing.errmsg)
                    ));
                    return None;
                }
            }
            let mut entries = Vec::with_capacity(listing.chatdata.len());
            for raw in listing.chatdata {
                match serde_json::from_str::<Entry>(raw.get()) {
                    Ok(entry) => entries.push((entry, raw)),
                    Err(e) => report.error(format!(
                        "{NAME}: a chatdata entry after seq {seq} is unreadable ({}); it is kept in the page's chatdata.json",
                        crate::json_error::describe(&e)
                    )),
                }
            }
            entries.sort_by_key(|(entry, _)| entry.seq);
            return Some((bytes, entries));
        }
    }
}

impl<S: ObjectStore> Source for WecomSource<S> {
    fn name(&self) -> &str {
        NAME
    }

    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        Box::pin(self.next(checkpoints, report))
    }
}

/// The last `seq` of the last page collected. Only the pages' positions
/// (`s<seq>`) count: a message kept encrypted for good (`x-<seq>`) sorts
/// after them, and taken for the last position it would send the pull back
/// to seq 0 (everything WeCom still keeps, collected again).
fn last_page(checkpoints: &Checkpoints) -> Option<u64> {
    checkpoints
        .iter()
        .filter_map(|p| p.strip_prefix('s')?.parse::<u64>().ok())
        .max()
}

/// The WeCom source when it could not be set up (its secrets unreadable):
/// each run reports why and collects nothing from WeCom, and the other
/// sources go on.
#[derive(Debug, Clone)]
pub struct Unavailable {
    /// Why, without secret values.
    pub reason: String,
}

impl Source for Unavailable {
    fn name(&self) -> &str {
        NAME
    }

    fn pull<'a>(
        &'a mut self,
        _checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        report.error(format!(
            "{NAME}: not set up ({}); nothing collected from WeCom",
            self.reason
        ));
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// The position of a message collected late.
fn late_position(seq: u64) -> String {
    format!("d-{seq:020}")
}

/// The RSA step and `DecryptData`.
fn decrypt(sdk: &Sdk, keys: &PrivateKeys, entry: &Entry) -> Result<Vec<u8>, Undecrypted> {
    let key = match keys.message_key(entry.publickey_ver, &entry.encrypt_random_key) {
        Ok(key) => key,
        Err(KeyError::Missing(version)) => return Err(Undecrypted::NoKey(version)),
        Err(e) => return Err(Undecrypted::Failed(e.to_string())),
    };
    sdk.library()
        .decrypt(&key, &entry.encrypt_chat_msg)
        .map_err(|e| Undecrypted::Failed(e.to_string()))
}

/// The units of a message kept encrypted: its entry, then its refusal.
fn refusal(entry: &Entry, raw: &RawValue, why: Undecrypted) -> Result<[Pulled; 2], StoreError> {
    let seq = entry.seq;
    let (id, reason) = match why {
        Undecrypted::NoKey(version) => (
            format!("a-{seq:020}-v{version}"),
            format!(
                "no private key of version {version} (publickey_ver): kept encrypted, decrypted by the first run after the key is added"
            ),
        ),
        Undecrypted::Failed(reason) => {
            (format!("x-{seq:020}"), format!("kept encrypted: {reason}"))
        }
    };
    let file_name = "chatdata.json".to_owned();
    Ok([
        Pulled::Originals(Originals {
            id: id.clone(),
            originals: vec![original(&file_name, raw.get().as_bytes())?],
        }),
        Pulled::Refused(Refused {
            position: id.clone(),
            id,
            origin: format!("{NAME} seq {seq}"),
            custodian: None,
            file_name,
            reason,
        }),
    ])
}

fn original(name: &str, bytes: &[u8]) -> Result<Original, StoreError> {
    let content = ObjectFile::from_bytes(bytes).map_err(|source| StoreError::Io {
        key: name.to_owned(),
        source,
    })?;
    Ok(Original {
        name: name.to_owned(),
        content: Arc::new(content),
    })
}

/// A batch being made.
#[derive(Default)]
struct BatchBuilder {
    lines: Vec<u8>,
    items: u64,
    media: Vec<Media>,
    media_bytes: u64,
    oldest: Option<DateTime<Utc>>,
}

impl BatchBuilder {
    fn finish(self, id: String, position: String, origin: String) -> Pulled {
        Pulled::Batch(Batch {
            id,
            position,
            origin,
            lines: self.lines,
            items: self.items,
            media: self.media,
        })
    }
}

/// Adds a decrypted message (already known to parse) and its media to
/// `batch`. `false` when a file failed for a reason that may pass: the
/// batch is then not to be collected now.
/// What reading a message needs besides the message.
struct Context<'s> {
    sdk: &'s mut Sdk,
    options: &'s WecomOptions,
    directory: Option<&'s mut Directory>,
}

async fn add_message(
    cx: &mut Context<'_>,
    plain: &[u8],
    entry: &Entry,
    batch: &mut BatchBuilder,
    report: &mut Report,
) -> Result<bool, StoreError> {
    let seq = entry.seq;
    let message = match Message::parse(plain) {
        Ok(message) => message,
        Err(e) => {
            report.error(format!("{NAME}: seq {seq}: {e}"));
            return Ok(true);
        }
    };
    if !message.is_recognised() {
        report.warning(format!(
            "{NAME}: seq {seq}: msgtype {:?} never seen before; archived with its raw JSON",
            message.msgtype().unwrap_or("")
        ));
    }
    let mut files = Vec::with_capacity(message.media().len());
    for media in message.media() {
        match download(
            cx.sdk,
            &cx.options.network,
            &cx.options.retry,
            &media.sdkfileid,
            media.md5sum.as_deref(),
        )
        .await
        {
            Ok(file) => {
                if !file.md5_matches {
                    // The archived file may not be what was sent: an
                    // integrity failure, raised like a lost file.
                    report.error(format!(
                        "{NAME}: seq {seq}: {} does not match the message's MD5 after two downloads; kept as downloaded (SHA-256 {})",
                        media.name, file.sha256
                    ));
                }
                files.push(Some(Fetched {
                    sha256: file.sha256.clone(),
                    size: file.content.len(),
                    extension: sniff(&file.head),
                }));
                batch.media_bytes += file.content.len();
                batch.media.push(Media {
                    sha256: file.sha256,
                    content: file.content,
                });
            }
            Err(e) if e.is_transient() => {
                report.error(format!("{NAME}: seq {seq}: {} not downloaded ({e}); the page is collected again by the next run", media.name));
                return Ok(false);
            }
            Err(e) => {
                report.error(format!(
                    "{NAME}: seq {seq}: {} not downloaded ({e}); the item is archived without it",
                    media.name
                ));
                files.push(None);
            }
        }
    }
    let mut item = match message.item(&files) {
        Ok(item) => item,
        Err(e) => {
            report.error(format!(
                "{NAME}: seq {seq}: {e}; kept in the page's chatdata.json"
            ));
            return Ok(true);
        }
    };
    if let Some(directory) = cx.directory.as_deref_mut()
        && let Some(problem) = directory.name(&mut item).await
    {
        report.warning(format!("{NAME}: {problem}"));
    }
    batch.oldest = Some(
        batch
            .oldest
            .map_or(item.timestamp.0, |t| t.min(item.timestamp.0)),
    );
    let mut lines = JsonLines::new(&mut batch.lines);
    lines.write(&item).map_err(|source| StoreError::Io {
        key: format!("{NAME} seq {seq}"),
        source,
    })?;
    lines.into_inner().map_err(|source| StoreError::Io {
        key: format!("{NAME} seq {seq}"),
        source,
    })?;
    batch.items += 1;
    Ok(true)
}
