//! Message-IDs: derived from item ids alone, so that an item's message, and
//! every message that refers to it, name it the same way in any run; a
//! digest's from its conversation, day and part alone.

use chrono::NaiveDate;

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

/// The deterministic Message-ID of a conversation's digest of a day
/// (`part` 0) or of a supplement (1, 2, …), without angle brackets:
/// `digest-<conversation hash>-<yyyymmdd>@mobile-archiver`, and
/// `…-<yyyymmdd>-<part>@…` for a supplement. `conversation` is the
/// conversation's hash as the store names it
/// ([`crate::layout::DigestKey::conversation`]). When the part's messages
/// go to more than one set of mailboxes, each set gets its own e-mail,
/// named by its `audience` (`…-<audience>@…`, 8 hex digits): e-mails of
/// different content never share a Message-ID, so an archive that removes
/// duplicates by Message-ID (journaling archives do) keeps every one.
pub fn digest_message_id(
    conversation: &str,
    day: NaiveDate,
    part: u32,
    audience: Option<&str>,
) -> String {
    let day = day.format("%Y%m%d");
    let part = if part == 0 {
        String::new()
    } else {
        format!("-{part}")
    };
    let audience = audience.map_or_else(String::new, |audience| format!("-{audience}"));
    format!("digest-{conversation}-{day}{part}{audience}@{MESSAGE_ID_DOMAIN}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_named_by_conversation_day_and_part_alone() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let conversation = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            digest_message_id(conversation, day, 0, None),
            "digest-0123456789abcdef0123456789abcdef-20261201@mobile-archiver"
        );
        assert_eq!(
            digest_message_id(conversation, day, 2, None),
            "digest-0123456789abcdef0123456789abcdef-20261201-2@mobile-archiver"
        );
        let next = day.succ_opt().unwrap();
        assert_ne!(
            digest_message_id(conversation, day, 0, None),
            digest_message_id(conversation, next, 0, None)
        );
        assert_ne!(
            digest_message_id(conversation, day, 0, None),
            digest_message_id("f123456789abcdef0123456789abcdef", day, 0, None)
        );
        assert_eq!(
            digest_message_id(conversation, day, 1, Some("89abcdef")),
            "digest-0123456789abcdef0123456789abcdef-20261201-1-89abcdef@mobile-archiver"
        );
    }
}
