//! The object store: where raw batches, media, EMLs, unmapped items, the
//! delivery ledger and checkpoints live.
//!
//! Keys use the same layout everywhere (`raw/`, `media/`, `eml/`,
//! `unmapped/`, `delivered/`, `collected/`), so a local directory and an S3
//! bucket hold the same tree.

mod local;
mod s3;

use std::future::Future;

pub use local::LocalDir;
pub use s3::S3Store;

/// Errors of an object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is not a safe relative path (empty, `..`, absolute, control characters).
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    /// Reading or writing failed.
    #[error("object {}: {source}", crate::escape::escaped(.key))]
    Io {
        /// The object key.
        key: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An object that must exist does not (e.g. the raw batch a
    /// notification names).
    #[error("object {} not found", crate::escape::escaped(.0))]
    Missing(String),
    /// A remote store (S3) refused or failed.
    #[error("object {}: {reason}", crate::escape::escaped(.key))]
    Remote {
        /// The object key (or the prefix listed).
        key: String,
        /// What the store answered.
        reason: String,
    },
}

/// Whether a create-only write stored the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The object did not exist and now holds the bytes written.
    New,
    /// An object already existed under the key; it was left as it was.
    Exists,
}

/// A flat key -> bytes store with create-only writes.
pub trait ObjectStore: Send + Sync {
    /// Reads an object; `None` when there is none under the key.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes an object only if the key is free (S3 `If-None-Match: *`).
    fn put_new(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Lists the keys that start with `prefix`, sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// Checks that a key is a relative path of plain segments.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.chars().any(|c| c.is_control() || c == '\\')
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        Err(StoreError::InvalidKey(key.to_owned()))
    } else {
        Ok(())
    }
}
