//! The webhook body as Meta sends it (sources-deep.md B.1–B.8): the
//! envelope (`entry[].changes[]`, routed on `field`) and, in each change's
//! `value`, the arrays we read. Message objects, statuses and calls are kept
//! as raw JSON (each item's `raw` is the object exactly as received) and
//! read through [`serde_json::Value`], so that an unknown type or field is
//! never lost to a model that did not expect it.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// A webhook body.
#[derive(Debug, Deserialize)]
pub(crate) struct Body {
    /// `whatsapp_business_account`.
    #[serde(default)]
    pub object: Option<String>,
    /// One per WhatsApp Business Account.
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// One account's changes.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry {
    /// The changes, each with its `field`.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One change: a `field` and its `value`.
#[derive(Debug, Deserialize)]
pub(crate) struct Change {
    /// `messages`, `smb_message_echoes`, `history`, `smb_app_state_sync`,
    /// `calls`, or another.
    #[serde(default)]
    pub field: String,
    /// What changed.
    #[serde(default)]
    pub value: Changed,
}

/// The value of a change: whichever arrays it holds.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Changed {
    /// The business number the change is about.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The WhatsApp users of the messages (profile, phone, BSUID).
    #[serde(default)]
    pub contacts: Vec<Value>,
    /// Messages from customers (and their edits and revokes).
    #[serde(default)]
    pub messages: Vec<Box<RawValue>>,
    /// Messages the business sent from the Business app (Coexistence).
    #[serde(default)]
    pub message_echoes: Vec<Box<RawValue>>,
    /// Delivery statuses of messages the business sent through the API.
    #[serde(default)]
    pub statuses: Vec<Value>,
    /// Change-level errors.
    #[serde(default)]
    pub errors: Vec<Value>,
    /// History chunks (Coexistence backfill).
    #[serde(default)]
    pub history: Vec<History>,
    /// The Business app's contact book (Coexistence).
    #[serde(default)]
    pub state_sync: Vec<Value>,
    /// Business Calling API events.
    #[serde(default)]
    pub calls: Vec<Box<RawValue>>,
}

/// The business number: the employee side of every message.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Metadata {
    /// The number as shown (digits, sometimes with `+` or spaces).
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The Cloud API's id of the number.
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

/// One history chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct History {
    /// One per chat.
    #[serde(default)]
    pub threads: Vec<Thread>,
    /// Set when the business declined the sync (code 2593109).
    #[serde(default)]
    pub errors: Vec<Value>,
}

/// One chat of a history chunk.
#[derive(Debug, Deserialize)]
pub(crate) struct Thread {
    /// The WhatsApp user's phone number.
    #[serde(default)]
    pub id: Option<String>,
    /// Its messages; those with `to` were sent by the business.
    #[serde(default)]
    pub messages: Vec<Box<RawValue>>,
}

/// The message types that carry a media object (`{id, sha256, mime_type}`).
pub(crate) const MEDIA_TYPES: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

/// A media object of a message, as the webhook gave it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct MediaRef {
    /// The media id, for `GET /<version>/<media-id>` (valid 7 days).
    pub id: String,
    /// The content's SHA-256 as the webhook gave it (base64, sometimes hex).
    pub sha256: Option<String>,
    /// The MIME type the webhook gave.
    pub mime_type: Option<String>,
}

impl MediaRef {
    /// The media object of a message (or of the new version an edit
    /// carries), if it has one with an id.
    pub(crate) fn of_message(message: &Value) -> Option<MediaRef> {
        let kind = message.get("type")?.as_str()?;
        if kind == "edit" {
            return MediaRef::of_message(message.get("edit")?.get("message")?);
        }
        if !MEDIA_TYPES.contains(&kind) {
            return None;
        }
        let media = message.get(kind)?;
        let text = |name: &str| media.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(MediaRef {
            id: text("id")?,
            sha256: text("sha256"),
            mime_type: text("mime_type"),
        })
    }
}

impl Body {
    /// Reads a body.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Body, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Every message object of the body, from every field and history
    /// chunk, in the order they appear.
    pub(crate) fn messages(&self) -> impl Iterator<Item = &RawValue> {
        self.entry
            .iter()
            .flat_map(|entry| &entry.changes)
            .flat_map(|change| {
                let value = &change.value;
                let history = value
                    .history
                    .iter()
                    .flat_map(|chunk| &chunk.threads)
                    .flat_map(|thread| &thread.messages);
                value
                    .messages
                    .iter()
                    .chain(&value.message_echoes)
                    .chain(history)
                    .map(Box::as_ref)
            })
    }
}

/// The media ids a body holds, for the media step: each once, in order.
/// A body that is no webhook body holds none (collect refuses it, with the
/// reason, later).
pub fn media_refs(body: &[u8]) -> Vec<MediaRef> {
    let Ok(body) = Body::parse(body) else {
        return Vec::new();
    };
    let mut refs: Vec<MediaRef> = Vec::new();
    for message in body.messages() {
        let Ok(message) = serde_json::from_str::<Value>(message.get()) else {
            continue;
        };
        if let Some(media) = MediaRef::of_message(&message)
            && !refs.iter().any(|r| r.id == media.id)
        {
            refs.push(media);
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ids_are_found_in_messages_echoes_history_and_edits() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
          {"field":"messages","value":{"messages":[
            {"id":"wamid.1","type":"image","image":{"id":"m1","sha256":"4654+8g=","mime_type":"image/jpeg"}},
            {"id":"wamid.2","type":"text","text":{"body":"hi"}},
            {"id":"wamid.3","type":"edit","edit":{"original_message_id":"wamid.1","message":{"type":"image","image":{"id":"m2","mime_type":"image/jpeg"}}}},
            {"id":"wamid.4","type":"image","image":{"id":"m1","sha256":"4654+8g=","mime_type":"image/jpeg"}}]}},
          {"field":"smb_message_echoes","value":{"message_echoes":[
            {"id":"wamid.5","type":"document","document":{"id":"m3","filename":"a.pdf"}}]}},
          {"field":"history","value":{"history":[{"threads":[{"id":"1","messages":[
            {"id":"wamid.6","type":"audio","audio":{"id":"m4","voice":true}},
            {"id":"wamid.7","type":"media_placeholder"}]}]}]}}]}]}"#;
        let ids: Vec<String> = media_refs(body).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn a_body_that_is_no_webhook_holds_no_media() {
        assert!(media_refs(b"").is_empty());
        assert!(media_refs(b"[1,2]").is_empty());
        assert!(media_refs(b"{\"entry\":[]}").is_empty());
    }
}
