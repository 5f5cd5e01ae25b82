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

/// One change: a `field` and its `value`. Read leniently: a change whose
/// `value` has a field of an unexpected shape is refused alone (`refused`
/// says why), never the whole body; a `null` or missing value is empty.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// `messages`, `smb_message_echoes`, `history`, `smb_app_state_sync`,
    /// `calls`, or another.
    pub field: String,
    /// What changed.
    pub value: Changed,
    /// Why the change could not be read, if it could not.
    pub refused: Option<String>,
}

/// A change as sent, before its value is read.
#[derive(Deserialize)]
struct ChangeWire {
    #[serde(default)]
    field: Option<Value>,
    #[serde(default)]
    value: Option<Box<RawValue>>,
}

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Change, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let wire: ChangeWire = match serde_json::from_str(raw.get()) {
            Ok(wire) => wire,
            Err(e) => {
                return Ok(Change {
                    refused: Some(crate::json_error::describe(&e)),
                    ..Change::default()
                });
            }
        };
        let field = match wire.field {
            Some(Value::String(field)) => field,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let (value, refused) = match wire.value {
            None => (Changed::default(), None),
            Some(value) => match serde_json::from_str::<Option<Changed>>(value.get()) {
                Ok(value) => (value.unwrap_or_default(), None),
                Err(e) => (Changed::default(), Some(crate::json_error::describe(&e))),
            },
        };
        Ok(Change {
            field,
            value,
            refused,
        })
    }
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
    /// The number as shown (digits, sometimes with `+` or spaces; a
    /// number is read as its digits).
    #[serde(default, deserialize_with = "string_or_number")]
    pub display_phone_number: Option<String>,
    /// The Cloud API's id of the number.
    #[serde(default, deserialize_with = "string_or_number")]
    pub phone_number_id: Option<String>,
}

/// A string, or a number read as its digits; anything else as absent.
fn string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
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

    #[test]
    fn an_odd_change_is_refused_alone() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
          {"field":"messages","value":{"metadata":{"display_phone_number":15550783881,"phone_number_id":106540352242922},
            "messages":[{"id":"wamid.1","type":"image","image":{"id":"m1"}}]}},
          {"field":"messages","value":null},
          {"field":"messages"},
          {"field":"messages","value":{"messages":"not a list"}},
          7]}]}"#;
        let parsed = Body::parse(body).unwrap();
        let changes = &parsed.entry[0].changes;
        let metadata = changes[0].value.metadata.as_ref().unwrap();
        assert_eq!(
            metadata.display_phone_number.as_deref(),
            Some("15550783881")
        );
        assert_eq!(changes[0].refused, None);
        assert_eq!(
            (changes[1].refused.as_ref(), changes[2].refused.as_ref()),
            (None, None)
        );
        assert!(changes[3].refused.is_some());
        assert!(changes[4].refused.is_some());
        let ids: Vec<String> = media_refs(body).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["m1"]);
    }
}
