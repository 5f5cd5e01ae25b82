//! Progress of the long stages (collect, convert, deliver) for whoever
//! shows it: the `archiver` command draws progress bars on a terminal.
//!
//! A process installs at most one [`Watcher`] ([`watch`]); the stages tell
//! it what they do as they go. Without one (the Lambda functions, tests,
//! benchmarks) telling costs one atomic load. Events carry counts only,
//! never names or content.

use std::sync::OnceLock;

/// A stage whose progress is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Units (drops, pages, bodies) pulled into raw batches.
    Collect,
    /// Raw batches converted.
    Convert,
    /// Copies delivered (or found delivered already).
    Deliver,
}

impl Stage {
    /// The stage's name as a progress bar shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Collect => "collect",
            Stage::Convert => "convert",
            Stage::Deliver => "deliver",
        }
    }
}

/// What a stage did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The stage started; `total` when the work is known in advance.
    Started {
        /// The stage.
        stage: Stage,
        /// How many units of work, when known.
        total: Option<u64>,
    },
    /// More work was found (`by` units): the total grows.
    Found {
        /// The stage.
        stage: Stage,
        /// How many units.
        by: u64,
    },
    /// `by` units of work are done.
    Advanced {
        /// The stage.
        stage: Stage,
        /// How many units.
        by: u64,
    },
    /// The stage is over.
    Finished {
        /// The stage.
        stage: Stage,
    },
}

/// Shows progress (a terminal's progress bars).
pub trait Watcher: Send + Sync {
    /// Takes one event; called from the stages as they go, so it must be
    /// quick and must not block.
    fn event(&self, event: Event);
}

static WATCHER: OnceLock<Box<dyn Watcher>> = OnceLock::new();

/// Installs the process's watcher; false when one is installed already
/// (it stays).
pub fn watch(watcher: Box<dyn Watcher>) -> bool {
    WATCHER.set(watcher).is_ok()
}

/// Tells the watcher, if any.
pub(crate) fn tell(event: Event) {
    if let Some(watcher) = WATCHER.get() {
        watcher.event(event);
    }
}
