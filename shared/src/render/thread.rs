//! Outlook threading: `Thread-Topic` and `Thread-Index`, the same for every
//! message of a conversation.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::sanitize::header_text;
use crate::item::Item;

/// The first six bytes of the Thread-Index header block: the reserved byte
/// (always 0x01) and the five high-order bytes of a FILETIME. The FILETIME is
/// fixed at the Unix epoch (0x019DB1DED53E8000), whose top byte happens to be
/// that reserved 0x01, so the block never depends on when it was rendered.
const HEADER_BLOCK_TIME: [u8; 6] = [0x01, 0x9D, 0xB1, 0xDE, 0xD5, 0x3E];

/// Bytes of the GUID that follows the time in the header block.
const GUID_LEN: usize = 16;

/// The conversation's name: its title, or else the sorted labels of its
/// participants (so both directions of a direct chat agree), or else its id.
pub(super) fn topic<'x>(item: &'x Item<'_>) -> Cow<'x, str> {
    if let Some(title) = item.conversation.title.as_deref().map(header_text)
        && !title.is_empty()
    {
        return title;
    }
    let mut labels: Vec<Cow<'x, str>> = item
        .participants()
        .map(|p| header_text(p.label()))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        return header_text(&item.conversation.id);
    }
    Cow::Owned(labels.join(", "))
}

/// The `Thread-Index` value: base64 of Outlook's 22-byte header block, the
/// fixed [`HEADER_BLOCK_TIME`] then a GUID made of the first 16 bytes of the
/// SHA-256 of the conversation id.
pub(super) fn index(conversation_id: &str) -> String {
    let digest = Sha256::digest(conversation_id.as_bytes());
    let mut block = [0u8; HEADER_BLOCK_TIME.len() + GUID_LEN];
    block[..HEADER_BLOCK_TIME.len()].copy_from_slice(&HEADER_BLOCK_TIME);
    block[HEADER_BLOCK_TIME.len()..].copy_from_slice(&digest[..GUID_LEN]);
    STANDARD.encode(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_time_is_the_unix_epoch_filetime() {
        let epoch_filetime: u64 = 116_444_736_000_000_000;
        assert_eq!(epoch_filetime.to_be_bytes()[..6], HEADER_BLOCK_TIME);
    }
}
