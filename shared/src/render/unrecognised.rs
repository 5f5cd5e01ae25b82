//! Items of a type with no specific rendering: the source said so
//! ([`Item::unrecognised`](crate::item::Item::unrecognised)), or its
//! `source_type` is not one the renderer knows for that source
//! ([`SourceKind::recognises`](crate::item::SourceKind::recognises)). Unknown
//! content is never dropped: such an item gets the generic message of any
//! other, and says what it is (an `X-Archiver-Unrecognised` header naming
//! the source's type, a note in the body) and carries the source payload as
//! it was received, in a `raw.json` part, so that nothing the source sent
//! is lost to the archive's reader.
//!
//! The payload is attached in full, whatever the attachment limit: it is
//! the only faithful rendering of the item, and it is small (media travel
//! apart from it, by reference). It is not one of the item's attachments:
//! the files given to the renderer, their stubs and their summary lines
//! are the same as for a recognised item.

use std::borrow::Cow;

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};

use super::sanitize::header_text;
use crate::item::{Item, Raw};

/// The file name of the part that holds the raw payload.
const RAW_PART_NAME: &str = "raw.json";

/// The content type of that part.
const RAW_PART_TYPE: &str = "application/json";

/// What is said of the type when the source did not name it.
const UNKNOWN_TYPE: &str = "unknown";

/// Whether the item is rendered as unrecognised.
fn is_unrecognised(item: &Item<'_>) -> bool {
    item.unrecognised || !item.source.recognises(item.source_type.as_deref())
}

/// For an unrecognised item, the source's name for its type, safe for a
/// header, or `unknown`; `None` for every other item.
pub(super) fn source_type<'x>(item: &'x Item<'_>) -> Option<Cow<'x, str>> {
    if !is_unrecognised(item) {
        return None;
    }
    let named = item
        .source_type
        .as_deref()
        .map(header_text)
        .filter(|name| !name.is_empty());
    Some(named.unwrap_or(Cow::Borrowed(UNKNOWN_TYPE)))
}

/// For an unrecognised item, the body's note saying so.
pub(super) fn note(item: &Item<'_>) -> Option<String> {
    source_type(item).map(|name| {
        format!(
            "The source's type \"{name}\" is not recognised; \
             the source payload is attached as {RAW_PART_NAME}."
        )
    })
}

/// For an unrecognised item, the `raw.json` part: the JSON document as
/// received for a JSON payload, the JSON string of a text payload.
pub(super) fn raw_part<'x>(item: &'x Item<'_>) -> Option<MimePart<'x>> {
    if !is_unrecognised(item) {
        return None;
    }
    let json = match &item.raw {
        Raw::Json(json) => Cow::Borrowed(json.get().as_bytes()),
        Raw::Text(text) => Cow::Owned(serde_json::to_vec(text).expect("a string serializes")),
    };
    Some(
        MimePart::new(
            ContentType::new(RAW_PART_TYPE).attribute("name", RAW_PART_NAME),
            BodyPart::Binary(json),
        )
        .attachment(RAW_PART_NAME),
    )
}
