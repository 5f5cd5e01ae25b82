//! Sources: where archive items come from, and the one contract they all
//! keep with the collect stage.
//!
//! A source reads what it is given (export files dropped by an
//! administrator, webhook bodies, the WeCom archive) and hands collect what
//! it pulled ([`Pulled`]): first the originals it is about to read, so that
//! they are in the archive whatever the reading does (fails, panics, runs
//! out of time); then either a [`Batch`] (items as JSON lines and their
//! media) or, when the originals cannot be read, a [`Refused`] unit with
//! the reason. Collect ([`crate::collect`]) is the one loop over every
//! configured source: it stores originals, a batch's media and lines or a
//! refusal's record create-only, and only then the checkpoint. A source
//! never writes to the archive itself, and never keeps its own checkpoints:
//! collect owns them (`collected/<source>/<position>`) and shows them to
//! the source as [`Checkpoints`] when a pull starts.
//!
//! Adding a source: a folder under `sources/` (declared with `pub mod`
//! here) with a type that implements [`Source`], its settings as one field
//! of [`crate::settings::Sources`], and one entry in
//! [`crate::settings::Sources::configured`]. Its name, batch ids and
//! positions are plain key segments (collect refuses others, see
//! [`crate::layout::is_plain_segment`]).

pub mod wecom;
pub mod whatsapp_cloud;
pub mod whatsapp_export;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::report::Report;
use crate::store::{ObjectFile, StoreError};

/// A place items come from.
///
/// Collect calls [`Source::pull`] until it answers `None`. It stores
/// [`Pulled::Originals`] at once; it stores a [`Pulled::Batch`] (media,
/// lines) or a [`Pulled::Refused`] (its record) and then its checkpoint,
/// and tells the source with [`Source::checkpointed`], before it asks for
/// more. A source that fails half-way is asked again on the next run from
/// the same checkpoints, so it must be able to produce the same batch (or
/// refusal) again.
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

    /// What comes next: the originals of a unit not yet collected, then
    /// its batch or its refusal; `None` when there is nothing more now.
    ///
    /// What the source has but cannot read (a file that is no export, a
    /// payload that does not parse) is [`Pulled::Refused`], after its
    /// originals, so that it is kept in the archive with its reason; what
    /// it cannot even get (an object that vanished) goes into the report.
    /// Either way the pull goes on. Only a store that cannot be read ends
    /// it.
    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>>;

    /// Collect stored the checkpoint at `position`: the batch or refusal
    /// pulled last is in the archive for good. A source whose inputs can
    /// be let go of then says so where they come from (the export drops
    /// mark the drop collected in the drop store); a problem doing it goes
    /// into the report. Does nothing unless the source needs it.
    fn checkpointed<'a>(
        &'a mut self,
        position: &'a str,
        report: &'a mut Report,
    ) -> BoxFuture<'a, ()> {
        let _ = (position, report);
        Box::pin(std::future::ready(()))
    }
}

/// A source lent for one run: one that outlives runs (the WeCom source of
/// a Lambda environment keeps its SDK instance across invocations).
impl<T: Source + ?Sized> Source for &mut T {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        (**self).pull(checkpoints, report)
    }

    fn checkpointed<'a>(
        &'a mut self,
        position: &'a str,
        report: &'a mut Report,
    ) -> BoxFuture<'a, ()> {
        (**self).checkpointed(position, report)
    }
}

/// What a source hands collect (see [`Source::pull`]).
#[derive(Debug)]
pub enum Pulled {
    /// Originals to keep before the source reads them: collect stores them
    /// beside the batch they are read into (`raw/<source>/<day>/<id>/`).
    Originals(Originals),
    /// A batch read from the originals handed over before.
    Batch(Batch),
    /// A unit that cannot be read: collect stores its record under
    /// `failed/drops/` and checkpoints it like a batch.
    Refused(Refused),
}

/// The originals of one unit, handed over before it is read.
#[derive(Debug)]
pub struct Originals {
    /// The id of the batch they are read into (or of its refusal).
    pub id: String,
    /// The files.
    pub originals: Vec<Original>,
}

/// One batch of items, ready to be stored. Its originals, if any, were
/// handed over before it ([`Pulled::Originals`]).
#[derive(Debug)]
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
    /// Attachments the items refer to, stored under `media/<sha256>`.
    pub media: Vec<Media>,
}

/// A unit the source could not read: its originals are kept (handed over
/// before it), and collect records why under `failed/drops/<id>.json`.
///
/// It is checkpointed like a batch, so it is refused once, not on every
/// run: the same bytes would be refused again for the same reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The id it would have had as a batch (the batch-id contract holds).
    pub id: String,
    /// The checkpoint it completes.
    pub position: String,
    /// Where it came from (a drop's key).
    pub origin: String,
    /// The employee it was dropped for, when the origin names one.
    pub custodian: Option<String>,
    /// The name of the original it was (handed over under this name).
    pub file_name: String,
    /// Why it cannot be read; names, never content.
    pub reason: String,
}

/// A file a batch was read from, kept as it was received.
#[derive(Debug)]
pub struct Original {
    /// Its name: a file name, stored as one key segment (see
    /// [`crate::layout::RawBatch::original_key`]).
    pub name: String,
    /// Its content, in a local file (the drop itself, or its download),
    /// shared with the source that reads it after collect stored it.
    pub content: Arc<ObjectFile>,
}

/// An attachment, stored under its content's SHA-256.
#[derive(Debug)]
pub struct Media {
    /// SHA-256 of `content`, hex.
    pub sha256: String,
    /// The content, in a local file (a temporary file the source inflated
    /// it into): collect streams it into the archive.
    pub content: ObjectFile,
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

    /// Every completed position, sorted (a source that keeps positions of
    /// more than one sort looks through them).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.positions.iter().map(String::as_str)
    }

    /// The greatest position completed: where a source that pulls in order
    /// (by `seq`, by time) goes on from. Such a source writes positions
    /// that sort in pull order (zero-padded numbers, RFC 3339 times).
    pub fn last(&self) -> Option<&str> {
        self.positions.last().map(String::as_str)
    }
}
