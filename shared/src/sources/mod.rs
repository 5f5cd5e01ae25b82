//! Sources: where archive items come from, and the one contract they all
//! keep with the collect stage.
//!
//! A source reads what it is given (export files dropped by an
//! administrator, webhook bodies, the WeCom archive) and hands collect
//! [`Batch`]es: items as JSON lines, the originals they were read from and
//! their media. Collect ([`crate::collect`]) is the one loop over every
//! configured source: it stores a batch's media, originals and lines
//! create-only, and only then its checkpoint. A source never writes to the
//! archive itself, and never keeps its own checkpoints: collect owns them
//! (`collected/<source>/<position>`) and shows them to the source as
//! [`Checkpoints`] when a pull starts.
//!
//! Adding a source: a folder under `sources/` (declared with `pub mod`
//! here) with a type that implements [`Source`], its settings as one field
//! of [`crate::settings::Sources`], and one entry in
//! [`crate::settings::Sources::configured`]. Its name, batch ids and
//! positions are plain key segments (collect refuses others, see
//! [`crate::layout::is_plain_segment`]).

pub mod whatsapp_export;

use std::collections::BTreeSet;

use futures::future::BoxFuture;

use crate::report::Report;
use crate::store::StoreError;

/// A place items come from.
///
/// Collect calls [`Source::next_batch`] until it answers `None`, storing
/// each batch (media, originals, lines) and then its checkpoint before it
/// asks for the next. A source that fails half-way is asked again on the
/// next run from the same checkpoints, so it must be able to produce the
/// same batch again.
///
/// **The batch-id contract.** A batch's id ([`Batch::id`]) is derived from
/// the batch's content (a hash of the file it was read from) or from its
/// exact position range (`seq` 1001 to 2000). So a retried pull never
/// reuses an id for different lines: either it produces the very same
/// batch under the same id (the create-only writes then find it stored),
/// or it produces other lines under another id.
pub trait Source: Send {
    /// The source's name: its folder under `raw/` and `collected/`, and its
    /// name in the report (`whatsapp-export`).
    fn name(&self) -> &str;

    /// The next batch not yet collected, or `None` when there is nothing
    /// more now.
    ///
    /// What the source cannot read (a file that is no export, a payload
    /// that does not parse) goes into the report with its reason, and the
    /// pull goes on. Only a store that cannot be read ends it.
    fn next_batch<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Batch>, StoreError>>;
}

/// One batch of items, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The batch id (see the contract on [`Source`]); names
    /// `raw/<source>/<day>/<id>.jsonl`.
    pub id: String,
    /// The checkpoint this batch completes: once the batch is stored,
    /// collect writes `collected/<source>/<position>`. Positions of a
    /// source sort in the order it pulls them (see [`Checkpoints::last`]).
    pub position: String,
    /// Where the batch came from, for the checkpoint record and the report
    /// (a drop's key, a `seq` range).
    pub origin: String,
    /// The items, one JSON line each (see [`crate::item::JsonLines`]).
    pub lines: Vec<u8>,
    /// How many items `lines` holds.
    pub items: u64,
    /// The originals the batch was read from, kept beside it.
    pub originals: Vec<Original>,
    /// Attachments the items refer to, stored under `media/<sha256>`.
    pub media: Vec<Media>,
}

/// A file a batch was read from, kept as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// Its name (a plain file name, no `/`).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// An attachment, stored under its content's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// SHA-256 of `bytes`, hex.
    pub sha256: String,
    /// The content.
    pub bytes: Vec<u8>,
}

/// The positions a source has completed: those in `collected/<source>/`
/// when the pull started, and those collect stored since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoints {
    positions: BTreeSet<String>,
}

impl Checkpoints {
    /// The completed positions.
    pub fn new(positions: impl IntoIterator<Item = String>) -> Self {
        Checkpoints {
            positions: positions.into_iter().collect(),
        }
    }

    /// Whether a position was completed (a drop already collected).
    pub fn contains(&self, position: &str) -> bool {
        self.positions.contains(position)
    }

    /// Records a position completed during the pull.
    pub(crate) fn insert(&mut self, position: String) {
        self.positions.insert(position);
    }

    /// The greatest position completed: where a source that pulls in order
    /// (by `seq`, by time) goes on from. Such a source writes positions
    /// that sort in pull order (zero-padded numbers, RFC 3339 times).
    pub fn last(&self) -> Option<&str> {
        self.positions.last().map(String::as_str)
    }
}
