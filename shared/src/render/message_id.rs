//! Message-IDs: derived from item ids alone, so that an item's message, and
//! every message that refers to it, name it the same way in any run.

use crate::item::ItemId;

/// The right-hand side of every Message-ID this crate writes.
pub const MESSAGE_ID_DOMAIN: &str = "mobile-archiver";

/// The deterministic Message-ID of an item, without angle brackets:
/// `<32 hex digits of the id>@mobile-archiver`.
pub fn message_id(id: &ItemId) -> String {
    let mut out = String::with_capacity(32 + 1 + MESSAGE_ID_DOMAIN.len());
    out.push_str(id.to_hex().as_str());
    out.push('@');
    out.push_str(MESSAGE_ID_DOMAIN);
    out
}
