//! What a message object says (sources-deep.md B.2, B.3, B.7): its kind,
//! text, attachments and the message it refers to, for every type of the
//! catalogue; any other type is kept as unrecognised (rendered generically
//! with the raw JSON attached).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::payload::MEDIA_TYPES;
use crate::item::{Attachment, ItemId, ItemKind, SourceKind};
use crate::layout;

/// The id of the item of a message: from its wamid alone, so that the same
/// message read from a live webhook, a redelivery or a history chunk is one
/// item (and one Message-ID).
pub fn message_item_id(wamid: &str) -> ItemId {
    ItemId::derive(&[
        SourceKind::WhatsappCloud.as_str().as_bytes(),
        wamid.as_bytes(),
    ])
}

/// Epoch seconds as the webhooks write them: a string of digits or a number.
pub(crate) fn epoch_seconds(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// What the media step recorded of a media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Stored as `media/<sha256>`.
    Stored {
        /// The content's SHA-256, hex.
        sha256: String,
        /// Its size.
        size: u64,
    },
    /// Not fetched after the last try, for this reason.
    Failed(String),
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Content {
    pub kind: ItemKind,
    pub text: Option<String>,
    pub attachments: Vec<Attachment<'static>>,
    pub refers_to: Option<ItemId>,
    pub unrecognised: bool,
    /// Media ids of the attachments, in order (for the media records).
    pub media_ids: Vec<Option<String>>,
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str()
}

/// The webhook's SHA-256 (base64, or hex) as hex; `None` when it is neither.
pub(crate) fn sha256_hex(given: &str) -> Option<String> {
    sha256_read(given).map(|(hex, _)| hex)
}

/// A SHA-256 given as hex or base64 (padded or not, standard or URL-safe)
/// as hex, with the form it was in; `None` when it is none of them.
pub(crate) fn sha256_read(given: &str) -> Option<(String, &'static str)> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let given = given.trim();
    if given.len() == 64 && given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some((given.to_ascii_lowercase(), "hex"));
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .into_iter()
        .find_map(|engine| engine.decode(given).ok())
        .filter(|bytes| bytes.len() == 32)
        .map(|bytes| (hex::encode(bytes), "base64"))
}

impl Content {
    fn new(kind: ItemKind) -> Content {
        Content {
            kind,
            text: None,
            attachments: Vec::new(),
            refers_to: None,
            unrecognised: false,
            media_ids: Vec::new(),
        }
    }

    /// Reads a message object (from `messages`, `message_echoes` or a
    /// history thread).
    pub(crate) fn of(message: &Value) -> Content {
        let kind = message.get("type").and_then(Value::as_str).unwrap_or("");
        let mut content = Content::of_type(kind, message);
        // A known type that renders to nothing (no text, no file) is shown
        // with its raw JSON rather than as an empty message.
        let empty = content.text.as_deref().is_none_or(|t| t.trim().is_empty());
        if empty
            && content.attachments.is_empty()
            && !matches!(content.kind, ItemKind::Recall | ItemKind::Reaction)
        {
            content.unrecognised = true;
        }
        let mut notes = Vec::new();
        if let Some(context) = message.get("context") {
            if context.get("frequently_forwarded").and_then(Value::as_bool) == Some(true) {
                notes.push("Forwarded many times".to_owned());
            } else if context.get("forwarded").and_then(Value::as_bool) == Some(true) {
                notes.push("Forwarded".to_owned());
            }
            if let Some(product) = context.get("referred_product") {
                notes.push(format!(
                    "About product {} of catalog {}",
                    str_at(product, &["product_retailer_id"]).unwrap_or("?"),
                    str_at(product, &["catalog_id"]).unwrap_or("?")
                ));
            }
            if content.refers_to.is_none()
                && let Some(id) = str_at(context, &["id"])
            {
                content.refers_to = Some(message_item_id(id));
            }
        }
        if let Some(referral) = message.get("referral") {
            let parts: Vec<&str> = ["headline", "body", "source_url"]
                .iter()
                .filter_map(|key| str_at(referral, &[key]))
                .collect();
            notes.push(format!("From an ad: {}", parts.join(" – ")));
        }
        if !notes.is_empty() {
            let mut text = notes.join("\n");
            if let Some(body) = content.text.take() {
                text.push_str("\n\n");
                text.push_str(&body);
            }
            content.text = Some(text);
        }
        content
    }

    fn of_type(kind: &str, message: &Value) -> Content {
        let payload = message.get(kind);
        let text_of = |path: &[&str]| str_at(message, path).map(str::to_owned);
        let mut content = Content::new(ItemKind::Message);
        match kind {
            "text" => content.text = text_of(&["text", "body"]),
            _ if MEDIA_TYPES.contains(&kind) => {
                let media = payload.unwrap_or(&Value::Null);
                content.text = str_at(media, &["caption"]).map(str::to_owned);
                content.attachments.push(attachment(kind, media));
                content
                    .media_ids
                    .push(str_at(media, &["id"]).map(str::to_owned));
            }
            "media_placeholder" => {
                // History: media older than 14 days, sent without an id.
                content.attachments.push(Attachment {
                    name: "media".into(),
                    content_type: "application/octet-stream".into(),
                    size: None,
                    sha256: None,
                    object_key: None,
                    omitted: true,
                });
                content.media_ids.push(None);
            }
            "location" => content.text = payload.map(location),
            "contacts" => content.text = message.get("contacts").map(shared_contacts),
            "interactive" => {
                // Replies of a subtype not in the catalogue (a
                // `call_permission_reply`, say) keep their raw JSON.
                let subtype = payload.and_then(|p| str_at(p, &["type"]));
                let known = matches!(subtype, Some("button_reply" | "list_reply" | "nfm_reply"));
                content.text = payload.and_then(interactive);
                content.unrecognised = !known;
            }
            "button" => content.text = text_of(&["button", "text"]),
            "reaction" => {
                content.kind = ItemKind::Reaction;
                content.refers_to =
                    str_at(message, &["reaction", "message_id"]).map(message_item_id);
                content.text = Some(
                    match str_at(message, &["reaction", "emoji"]).filter(|e| !e.is_empty()) {
                        Some(emoji) => emoji.to_owned(),
                        None => "(reaction removed)".to_owned(),
                    },
                );
            }
            "order" => content.text = payload.map(order),
            "system" => {
                content.kind = ItemKind::System;
                content.text = text_of(&["system", "body"]);
            }
            "edit" => {
                let new = message.get("edit").and_then(|e| e.get("message"));
                let mut edited = new
                    .map(Content::of)
                    .unwrap_or_else(|| Content::new(ItemKind::Message));
                edited.kind = ItemKind::Edit;
                edited.refers_to =
                    str_at(message, &["edit", "original_message_id"]).map(message_item_id);
                return edited;
            }
            "revoke" => {
                content.kind = ItemKind::Recall;
                content.refers_to =
                    str_at(message, &["revoke", "original_message_id"]).map(message_item_id);
            }
            // `unsupported` and every type not (yet) in the catalogue: kept
            // whole, with whatever text it seems to carry.
            _ => {
                content.unrecognised = true;
                content.text = payload
                    .and_then(|p| str_at(p, &["body"]).or_else(|| str_at(p, &["text"])))
                    .map(str::to_owned);
            }
        }
        content
    }
}

/// An attachment of a media message; its file is the media step's
/// (`media/<sha256>`), so `size` and `object_key` are filled in from its
/// record when there is one.
fn attachment(kind: &str, media: &Value) -> Attachment<'static> {
    let content_type = str_at(media, &["mime_type"])
        .unwrap_or("application/octet-stream")
        .to_owned();
    let id = str_at(media, &["id"]).unwrap_or("unknown");
    let name = match str_at(media, &["filename"]).filter(|n| !n.trim().is_empty()) {
        Some(name) => name.to_owned(),
        None => {
            let base = match kind {
                "audio" if media.get("voice").and_then(Value::as_bool) == Some(true) => "voice",
                other => other,
            };
            let essence = content_type.split(';').next().unwrap_or("").trim();
            let usual = match essence {
                "image/jpeg" => Some("jpg"),
                "audio/ogg" => Some("ogg"),
                "audio/mpeg" => Some("mp3"),
                "audio/mp4" => Some("m4a"),
                _ => mime_guess::get_mime_extensions_str(essence)
                    .and_then(|e| e.first())
                    .copied(),
            };
            match usual {
                Some(ext) => format!("{base}-{id}.{ext}"),
                None => format!("{base}-{id}"),
            }
        }
    };
    Attachment {
        name: name.into(),
        content_type: content_type.into(),
        size: None,
        sha256: str_at(media, &["sha256"]).and_then(sha256_hex),
        object_key: None,
        omitted: false,
    }
}

impl Content {
    /// Fills in the attachments the media step stored (by media id): their
    /// size and archive key; one it could not fetch is said so in the text.
    pub(crate) fn with_media(mut self, fetched: impl Fn(&str) -> Option<Fetched>) -> Content {
        let mut failures = Vec::new();
        for (attachment, id) in self.attachments.iter_mut().zip(&self.media_ids) {
            match id.as_deref().and_then(&fetched) {
                Some(Fetched::Stored { sha256, size }) => {
                    attachment.object_key = Some(layout::media_key(&sha256));
                    attachment.size = Some(size);
                    attachment.sha256 = Some(sha256);
                }
                Some(Fetched::Failed(reason)) => failures.push(format!(
                    "The media {} could not be fetched: {reason}.",
                    attachment.name
                )),
                None => {}
            }
        }
        if !failures.is_empty() {
            let mut text = self.text.take().unwrap_or_default();
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&failures.join("\n"));
            self.text = Some(text);
        }
        self
    }
}

fn location(location: &Value) -> String {
    let mut lines = Vec::new();
    for key in ["name", "address"] {
        if let Some(value) = str_at(location, &[key]) {
            lines.push(value.to_owned());
        }
    }
    let coordinate = |key: &str| location.get(key).map(|v| v.to_string()).unwrap_or_default();
    lines.push(format!(
        "Location: {}, {}",
        coordinate("latitude"),
        coordinate("longitude")
    ));
    if let Some(url) = str_at(location, &["url"]) {
        lines.push(url.to_owned());
    }
    lines.join("\n")
}

fn shared_contacts(contacts: &Value) -> String {
    let mut lines = Vec::new();
    for contact in contacts.as_array().into_iter().flatten() {
        let name = str_at(contact, &["name", "formatted_name"])
            .or_else(|| str_at(contact, &["name", "first_name"]))
            .unwrap_or("(no name)");
        lines.push(format!("Contact: {name}"));
        for (list, key) in [("phones", "phone"), ("emails", "email"), ("urls", "url")] {
            for entry in contact
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(value) = str_at(entry, &[key]) {
                    lines.push(format!("  {key}: {value}"));
                }
            }
        }
        if let Some(org) = str_at(contact, &["org", "company"]) {
            lines.push(format!("  company: {org}"));
        }
    }
    lines.join("\n")
}

fn interactive(interactive: &Value) -> Option<String> {
    let kind = str_at(interactive, &["type"])?;
    let reply = interactive.get(kind)?;
    Some(match kind {
        "nfm_reply" => {
            let mut text = str_at(reply, &["body"]).unwrap_or("").to_owned();
            if let Some(json) = str_at(reply, &["response_json"]) {
                text.push_str("\nFlow response: ");
                text.push_str(json);
            }
            text
        }
        _ => {
            let mut text = str_at(reply, &["title"]).unwrap_or("").to_owned();
            if let Some(description) = str_at(reply, &["description"]) {
                text.push('\n');
                text.push_str(description);
            }
            text
        }
    })
}

fn order(order: &Value) -> String {
    let mut lines = vec![format!(
        "Order from catalog {}",
        str_at(order, &["catalog_id"]).unwrap_or("?")
    )];
    if let Some(text) = str_at(order, &["text"]).filter(|t| !t.is_empty()) {
        lines.push(text.to_owned());
    }
    for item in order
        .get("product_items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |key: &str| {
            item.get(key)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        lines.push(format!(
            "- {} × {} at {} {}",
            field("product_retailer_id"),
            field("quantity"),
            field("item_price"),
            field("currency")
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_renders_and_unknown_interactive_replies_keep_their_raw_json() {
        let read = |json: &str| Content::of(&serde_json::from_str(json).unwrap());
        let permission = read(
            r#"{"type":"interactive","interactive":{"type":"call_permission_reply","call_permission_reply":{"response":"accept","expiration_timestamp":1796029200,"response_source":"user_action"}}}"#,
        );
        assert!(permission.unrecognised);
        let empty_text = read(r#"{"type":"text","text":{"body":""}}"#);
        assert!(empty_text.unrecognised);
        let empty_button = read(
            r#"{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b1"}}}"#,
        );
        assert!(empty_button.unrecognised);
        let empty_edit = read(r#"{"type":"edit","edit":{"original_message_id":"wamid.1"}}"#);
        assert!(empty_edit.unrecognised);
        for json in [
            r#"{"type":"text","text":{"body":"hi"}}"#,
            r#"{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b1","title":"Yes"}}}"#,
            r#"{"type":"image","image":{"id":"m1"}}"#,
            r#"{"type":"revoke","revoke":{"original_message_id":"wamid.1"}}"#,
            r#"{"type":"reaction","reaction":{"message_id":"wamid.1"}}"#,
        ] {
            assert!(!read(json).unrecognised, "{json}");
        }
    }

    #[test]
    fn webhook_hashes_are_read_as_hex_from_base64_or_hex() {
        let hex = "ab".repeat(32);
        let b64 = STANDARD.encode([0xab; 32]);
        assert_eq!(sha256_hex(&b64), Some(hex.clone()));
        assert_eq!(sha256_hex(&hex.to_ascii_uppercase()), Some(hex));
        assert_eq!(sha256_hex("4654+8g="), None);
        let bytes = [0xfb; 32];
        for engine in [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            assert_eq!(sha256_hex(&engine.encode(bytes)), Some(hex::encode(bytes)));
        }
    }
}
