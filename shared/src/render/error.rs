//! Why an item could not be rendered: faults of the caller or of the
//! configuration, kept apart so that every part of the renderer can report
//! them without depending on the renderer's entry point.

/// Why an item could not be rendered. Each is a fault of the caller or the
/// configuration, never of the item's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// `addresses` does not have one entry per participant.
    #[error("{given} mailbox addresses given for {expected} participants")]
    AddressCount {
        /// Participants of the item.
        expected: usize,
        /// Entries in `addresses`.
        given: usize,
    },
    /// `files` does not have one entry per attachment.
    #[error("{given} file entries given for {expected} attachments")]
    FileCount {
        /// Attachments of the item.
        expected: usize,
        /// Entries in `files`.
        given: usize,
    },
    /// A mapped mailbox address is not a plain `local@domain` addr-spec.
    #[error("participant {index} maps to an invalid mailbox address {address:?}")]
    InvalidAddress {
        /// Position of the participant in [`Item::participants`](crate::item::Item::participants) order.
        index: usize,
        /// The address as given.
        address: String,
    },
    /// A stored file could not be read while it was written into the
    /// message.
    #[error("attachment {name:?}: reading the stored file failed: {reason}")]
    Read {
        /// The attachment's file name.
        name: String,
        /// What failed.
        reason: String,
    },
    /// [`RenderOptions::unmapped_domain`](super::RenderOptions::unmapped_domain) is not a domain under `.invalid`.
    #[error("unmapped domain {0:?} is not a valid domain ending in .invalid")]
    UnmappedDomain(String),
}
