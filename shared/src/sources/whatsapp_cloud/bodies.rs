//! Reading webhook bodies into items, the same way for collect (one body
//! per batch, see `inbox`) and for `archiver inspect` (many at once): the
//! contact book first, then one item per wamid.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::contacts::ContactBook;
use super::content::Fetched;
use super::items::{Reading, read_body};
use super::payload::Body;
use crate::item::{Item, ItemId};

/// The `object` of a WhatsApp Business Account webhook.
const OBJECT: &str = "whatsapp_business_account";

/// Why a body cannot be read (it is kept all the same).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Not JSON, or not shaped like a webhook body.
    #[error("not a webhook body: {0}")]
    Json(String),
    /// A webhook of another kind of object (a Page, an Instagram account).
    #[error("a webhook for {0:?}, not {OBJECT}")]
    Object(String),
}

/// Parses a body, refusing what is no WhatsApp Business Account webhook.
pub(crate) fn parse(bytes: &[u8]) -> Result<Body, BodyError> {
    let body = Body::parse(bytes).map_err(|e| BodyError::Json(crate::json_error::describe(&e)))?;
    match body.object.as_deref() {
        Some(OBJECT) => Ok(body),
        Some(other) => Err(BodyError::Object(other.to_owned())),
        None => Err(BodyError::Json(format!("no \"object\": {OBJECT:?}"))),
    }
}

/// Whether `bytes` hold webhook bodies: one, or a JSON array of them.
pub fn is_webhook(bytes: &[u8]) -> bool {
    if parse(bytes).is_ok() {
        return true;
    }
    serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(bytes).is_ok_and(|bodies| {
        !bodies.is_empty() && bodies.iter().all(|b| parse(b.get().as_bytes()).is_ok())
    })
}

/// Whether a body carries contact-book entries (`smb_app_state_sync`).
pub(crate) fn has_contacts(body: &Body) -> bool {
    body.entry
        .iter()
        .flat_map(|e| &e.changes)
        .any(|c| !c.value.state_sync.is_empty())
}

/// Adds a body's contact-book entries to the book.
pub(crate) fn learn_contacts(body: &Body, book: &mut ContactBook) {
    for change in body.entry.iter().flat_map(|e| &e.changes) {
        book.apply(&change.value.state_sync);
    }
}

/// One item per id: a live copy of a message is preferred to its history
/// copy, then the first read; in time order (then by id).
pub(crate) fn one_per_id(readings: impl IntoIterator<Item = Reading>) -> Vec<Item<'static>> {
    let mut chosen: BTreeMap<ItemId, (bool, Item<'static>)> = BTreeMap::new();
    for reading in readings {
        for (item, from_history) in reading.items.into_iter().zip(reading.from_history) {
            match chosen.get(&item.id) {
                Some((true, _)) if !from_history => {
                    chosen.insert(item.id, (from_history, item));
                }
                Some(_) => {}
                None => {
                    chosen.insert(item.id, (from_history, item));
                }
            }
        }
    }
    let mut items: Vec<Item<'static>> = chosen.into_values().map(|(_, item)| item).collect();
    items.sort_by_key(|item| (item.timestamp, item.id));
    items
}

/// What `archiver inspect` shows of a set of bodies.
#[derive(Debug, Default)]
pub struct Inspection {
    /// One item per wamid (per call event), in time order.
    pub items: Vec<Item<'static>>,
    /// Delivery statuses per UTC day and status (not items).
    pub statuses: BTreeMap<String, BTreeMap<String, u64>>,
    /// Bodies that could not be read, and what the bodies report (errors,
    /// failed deliveries), by the name given with the body.
    pub notes: Vec<String>,
}

/// Reads named bodies as collect would, all at once: the contact book from
/// all of them first. Media are not looked up (no store).
pub fn inspect(bodies: &[(String, Vec<u8>)], received: DateTime<Utc>) -> Inspection {
    let mut inspection = Inspection::default();
    let mut parsed = Vec::new();
    for (name, bytes) in bodies {
        match parse(bytes) {
            Ok(body) => parsed.push((name, body)),
            Err(e) => inspection.notes.push(format!("{name}: {e}")),
        }
    }
    let mut book = ContactBook::default();
    for (_, body) in &parsed {
        learn_contacts(body, &mut book);
    }
    let no_media = |_: &str| -> Option<Fetched> { None };
    let mut readings = Vec::new();
    for (name, body) in &parsed {
        let reading = read_body(body, &book, &no_media, received);
        for status in &reading.statuses {
            *inspection
                .statuses
                .entry(status.day.to_string())
                .or_default()
                .entry(status.status.clone())
                .or_default() += 1;
            if !status.errors.is_empty() {
                inspection.notes.push(format!(
                    "{name}: message {} {} on {}: {}",
                    status.wamid,
                    status.status,
                    status.day,
                    status.errors.join(", ")
                ));
            }
        }
        inspection
            .notes
            .extend(reading.notes.iter().map(|note| format!("{name}: {note}")));
        readings.push(reading);
    }
    inspection.items = one_per_id(readings);
    inspection
}
