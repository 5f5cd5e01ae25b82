//! The `whatsapp-cloud` source for collect: the bodies `capture` kept under
//! `inbox/whatsapp-cloud/` and not yet collected, each read into one batch.
//!
//! **Ids, and why redeliveries are free.** A body's batch id and
//! checkpoint position are its SHA-256 (the name capture gave it), so the
//! same bytes delivered again are the same object, collected once. A
//! message that arrives in several bodies (a redelivery with other bytes,
//! the live webhook and a history chunk) gives the same item id in each,
//! derived from its wamid alone: its EML (`eml/<day>/<item-id>.eml`) is
//! written create-only and its Message-ID is the ledger's key, so the
//! mailbox gets it once whichever body is read first. Edits, revokes and
//! reactions have wamids of their own, and `refers_to` the original's id,
//! which is known without the original: they link to it in any order.
//!
//! **The contact book.** A body with `smb_app_state_sync` entries is
//! checkpointed under `contacts-<sha256>` instead, so that each pull finds
//! those bodies again among the checkpoints and rebuilds the book from
//! them (they stay in the inbox: kept in the store), before the new bodies,
//! whose contact-book entries are read first too. Names then apply to the
//! items read after them.
//!
//! Each body is handed to collect as the batch's original
//! (`raw/whatsapp-cloud/<day>/<sha256>/<sha256>.json`) before it is read,
//! like an export drop; one that is no webhook body is refused with the
//! reason. Delivery statuses and Meta's errors are counted in the report
//! (per day and status), failures listed with their codes; they are not
//! items.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;

use super::bodies::{has_contacts, learn_contacts, one_per_id, parse};
use super::contacts::ContactBook;
use super::content::Fetched;
use super::items::read_body;
use super::payload::media_refs;
use crate::item::{JsonLines, SourceKind};
use crate::layout::{self, MediaFailed, MediaFetched};
use crate::report::Report;
use crate::sources::{Batch, Checkpoints, Original, Originals, Pulled, Refused, Source};
use crate::store::{ObjectFile, ObjectStore, StoreError};

/// The prefix of the positions of contact-book bodies.
const CONTACTS: &str = "contacts-";

/// The webhook bodies in the inbox of an archive store.
#[derive(Debug)]
pub struct CloudInbox<S> {
    store: S,
    /// Listed and the contact book built for the pull under way.
    prepared: bool,
    /// Bodies not yet collected: key and SHA-256.
    pending: VecDeque<(String, String)>,
    /// The body whose original was handed over last: read next.
    kept: Option<Kept>,
    book: ContactBook,
    /// Statuses counted in this pull (wamid and status): a status
    /// delivered again in another body is counted once.
    statuses: HashSet<(String, String)>,
    /// Bodies received on or after this day whose media the media step has
    /// not recorded yet wait for a later pull (see [`CloudInbox::media_wait`]).
    wait_from: Option<NaiveDate>,
}

#[derive(Debug)]
struct Kept {
    key: String,
    sha256: String,
    content: Arc<ObjectFile>,
}

const NAME: &str = "whatsapp-cloud";

impl<S: ObjectStore> CloudInbox<S> {
    /// The inbox of `store` (the archive: capture writes there).
    pub fn new(store: S) -> Self {
        CloudInbox {
            store,
            prepared: false,
            pending: VecDeque::new(),
            kept: None,
            book: ContactBook::default(),
            statuses: HashSet::new(),
            wait_from: None,
        }
    }

    /// Leaves a body received less than `wait` before `now` (by its UTC
    /// receipt day) for a later pull while the media step has recorded
    /// none of the outcome of one of its media ids: its items are then
    /// written with their files, not with files "not attached" because
    /// collect came first. Older bodies are collected as they are.
    pub fn media_wait(mut self, now: DateTime<Utc>, wait: chrono::Duration) -> Self {
        self.wait_from = Some((now - wait).date_naive());
        self
    }

    /// Whether a body must wait for its media (see [`CloudInbox::media_wait`]).
    async fn waits_for_media(&self, key: &str, content: &ObjectFile) -> Result<bool, StoreError> {
        let young = self
            .wait_from
            .is_some_and(|from| receipt_time(key).date_naive() >= from);
        if !young {
            return Ok(false);
        }
        let bytes = content.read_all().map_err(|source| StoreError::Io {
            key: key.to_owned(),
            source,
        })?;
        let pending = media_refs(&bytes).len() - self.media_records(&bytes).await?.len();
        Ok(pending > 0)
    }

    async fn read_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(file) = self.store.get_file(key).await? else {
            return Ok(None);
        };
        file.read_all().map(Some).map_err(|source| StoreError::Io {
            key: key.to_owned(),
            source,
        })
    }

    /// Lists the inbox, and builds the contact book from the bodies
    /// collected before and those about to be.
    async fn prepare(
        &mut self,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let mut contact_keys = Vec::new();
        let mut listed = HashSet::new();
        for key in self.store.list(&layout::inbox_prefix(NAME)).await? {
            let Some(sha256) = layout::inbox_body_sha256(NAME, &key).map(str::to_owned) else {
                report.error(format!(
                    "inbox object {key}: not named <day>/<sha256>.json; not collected"
                ));
                continue;
            };
            if checkpoints.contains(&format!("{CONTACTS}{sha256}")) {
                contact_keys.push(key);
            } else if !checkpoints.contains(&sha256) && listed.insert(sha256.clone()) {
                self.pending.push_back((key, sha256));
            }
        }
        let new_keys: Vec<String> = self.pending.iter().map(|(key, _)| key.clone()).collect();
        for key in contact_keys.iter().chain(&new_keys) {
            let Some(bytes) = self.read_bytes(key).await? else {
                continue;
            };
            if memchr::memmem::find(&bytes, b"state_sync").is_none() {
                continue;
            }
            if let Ok(body) = parse(&bytes) {
                learn_contacts(&body, &mut self.book);
            }
        }
        self.prepared = true;
        Ok(())
    }

    async fn next(
        &mut self,
        checkpoints: &Checkpoints,
        report: &mut Report,
    ) -> Result<Option<Pulled>, StoreError> {
        if let Some(kept) = self.kept.take() {
            return self.read(kept, report).await.map(Some);
        }
        if !self.prepared {
            self.prepare(checkpoints, report).await?;
        }
        while let Some((key, sha256)) = self.pending.pop_front() {
            let Some(content) = self.store.get_file(&key).await? else {
                report.error(format!(
                    "inbox body {key}: listed, but gone before it could be read; not collected"
                ));
                continue;
            };
            if self.waits_for_media(&key, &content).await? {
                report.warning(format!(
                    "{NAME} {key}: its media are not fetched yet; collected on a later run"
                ));
                continue;
            }
            let content = Arc::new(content);
            let original = Original {
                name: format!("{sha256}.json"),
                content: Arc::clone(&content),
            };
            self.kept = Some(Kept {
                key,
                sha256: sha256.clone(),
                content,
            });
            return Ok(Some(Pulled::Originals(Originals {
                id: sha256,
                originals: vec![original],
            })));
        }
        self.prepared = false;
        Ok(None)
    }

    /// What the media step recorded of each media id of a body.
    async fn media_records(&self, bytes: &[u8]) -> Result<HashMap<String, Fetched>, StoreError> {
        let mut records = HashMap::new();
        for media in media_refs(bytes) {
            let fetched = self
                .store
                .get(&layout::media_fetched_key(NAME, &media.id))
                .await?
                .and_then(|b| serde_json::from_slice::<MediaFetched>(&b).ok());
            let record = match fetched {
                Some(f) => Some(Fetched::Stored {
                    sha256: f.sha256,
                    size: f.size,
                }),
                None => self
                    .store
                    .get(&layout::media_failed_key(NAME, &media.id))
                    .await?
                    .and_then(|b| serde_json::from_slice::<MediaFailed>(&b).ok())
                    .map(|f| Fetched::Failed(f.reason)),
            };
            if let Some(record) = record {
                records.insert(media.id, record);
            }
        }
        Ok(records)
    }

    /// Reads a body whose original collect has stored.
    async fn read(&mut self, kept: Kept, report: &mut Report) -> Result<Pulled, StoreError> {
        let bytes = kept.content.read_all().map_err(|source| StoreError::Io {
            key: kept.key.clone(),
            source,
        })?;
        let body = match parse(&bytes) {
            Ok(body) => body,
            Err(e) => {
                return Ok(Pulled::Refused(Refused {
                    id: kept.sha256.clone(),
                    position: kept.sha256.clone(),
                    origin: kept.key,
                    custodian: None,
                    file_name: format!("{}.json", kept.sha256),
                    reason: e.to_string(),
                }));
            }
        };
        let received = receipt_time(&kept.key);
        let records = self.media_records(&bytes).await?;
        let media = |id: &str| records.get(id).cloned();
        let reading = read_body(&body, &self.book, &media, received);
        for status in &reading.statuses {
            if !self
                .statuses
                .insert((status.wamid.clone(), status.status.clone()))
            {
                continue;
            }
            report.delivery_status(&status.day.to_string(), &status.status);
            for error in &status.errors {
                report.status_error(error);
            }
            if !status.errors.is_empty() {
                report.warning(format!(
                    "{NAME}: message {} {} on {}: {}",
                    status.wamid,
                    status.status,
                    status.day,
                    status.errors.join(", ")
                ));
            }
        }
        for note in &reading.notes {
            report.warning(format!("{NAME} {}: {note}", kept.key));
        }
        let items = one_per_id([reading]);
        let io = |source| StoreError::Io {
            key: kept.key.clone(),
            source,
        };
        let mut writer = JsonLines::new(Vec::with_capacity(items.len() * 1024));
        for item in &items {
            writer.write(item).map_err(io)?;
        }
        let lines = writer.into_inner().map_err(io)?;
        let position = if has_contacts(&body) {
            format!("{CONTACTS}{}", kept.sha256)
        } else {
            kept.sha256.clone()
        };
        Ok(Pulled::Batch(Batch {
            id: kept.sha256,
            position,
            origin: kept.key,
            lines,
            items: items.len() as u64,
            media: Vec::new(),
        }))
    }
}

/// The start of the day an inbox key files its body under: the time given
/// to a message without a readable one.
fn receipt_time(key: &str) -> DateTime<Utc> {
    key.split('/')
        .nth(2)
        .and_then(|day| day.parse::<chrono::NaiveDate>().ok())
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_default()
}

impl<S: ObjectStore> Source for CloudInbox<S> {
    fn name(&self) -> &str {
        SourceKind::WhatsappCloud.as_str()
    }

    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        Box::pin(self.next(checkpoints, report))
    }
}
