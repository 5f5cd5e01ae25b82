//! The object store: where raw batches, media, EMLs, unmapped items, the
//! delivery ledger and checkpoints live.
//!
//! Keys use the same layout everywhere (every key is built in
//! [`crate::layout`]), so a local directory and an S3 bucket hold the same
//! tree.
//!
//! A store filled by others (the drops: a synced folder, a bucket people
//! upload to) can hold things that are no object: a symbolic link, a name
//! that is not UTF-8. [`ObjectStore::scan`] lists them beside the objects,
//! so that whoever reads such a store can report them instead of passing
//! over them in silence.

mod file;
mod local;
mod s3;

use std::future::Future;

use futures::{StreamExt, TryStreamExt};

pub use file::{ObjectFile, ObjectReader, Spool, SpoolFile, sha256_of};
pub use local::LocalDir;
pub use s3::{S3Location, S3LocationError, S3Store};

/// Objects [`ObjectStore::put_all`] writes at once by default (a remote
/// store's requests in flight).
const PUTS_IN_FLIGHT: usize = 16;

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

/// The object tag that marks a drop collected ([`ObjectStore::mark_collected`]),
/// with the value [`COLLECTED_TAG_VALUE`]: the drop bucket's lifecycle
/// expires only objects that carry it.
pub const COLLECTED_TAG: &str = "archiver-collected";

/// The value of [`COLLECTED_TAG`] on a collected drop.
pub const COLLECTED_TAG_VALUE: &str = "true";

/// What listing a prefix found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects' keys, sorted.
    pub keys: Vec<String>,
    /// What is under the prefix but is no object, sorted by name.
    pub unlisted: Vec<Unlisted>,
}

/// Something under a listed prefix that is no object (only a local
/// directory has them: S3 holds objects only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum Unlisted {
    /// A name that is not UTF-8, so no key can name it; shown with U+FFFD
    /// for the bytes that are not.
    #[error("{}: the name is not UTF-8, so it cannot be read as an object", crate::escape::escaped(.0))]
    NotUtf8(String),
    /// A symbolic link: links are not followed.
    #[error("{}: a symbolic link, not followed", crate::escape::escaped(.0))]
    Symlink(String),
    /// A socket, a pipe, a device.
    #[error("{}: not a regular file", crate::escape::escaped(.0))]
    NotAFile(String),
}

/// A flat key -> bytes store with create-only writes.
///
/// **Durability.** A write that returns `Ok` is durable: it survives a
/// crash of the process and, for a local directory, a power cut (the
/// file and its directory are synced). [`ObjectStore::put_all`] makes a
/// group of objects durable together, which is much cheaper than one by
/// one; whatever depends on them (a checkpoint, a ledger entry, a job
/// file) is written after it returns. An object is never visible under its
/// key before it is complete.
pub trait ObjectStore: Send + Sync {
    /// Reads an object; `None` when there is none under the key. A key
    /// read may hold control characters (a drop's name can), a key written
    /// may not.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Writes an object only if the key is free (S3 `If-None-Match: *`).
    fn put_new(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Reads an object as a local file, without holding it in memory (see
    /// [`ObjectFile`]); `None` when there is none under the key.
    fn get_file(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectFile>, StoreError>> + Send;

    /// An object's size and SHA-256, read as a stream and never held
    /// whole, in memory or on disk; `None` when there is none under the
    /// key. By default read through [`ObjectStore::get_file`] (a local
    /// directory's own file); S3 hashes the body as it arrives, so that
    /// an object larger than `/tmp` can be hashed too.
    fn sha256(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(u64, [u8; 32])>, StoreError>> + Send {
        async move {
            let Some(file) = self.get_file(key).await? else {
                return Ok(None);
            };
            let hashed = file.sha256().map_err(|source| StoreError::Io {
                key: key.to_owned(),
                source,
            })?;
            Ok(Some(hashed))
        }
    }

    /// Writes an object from a local file only if the key is free,
    /// streaming it (S3: a multipart upload completed with
    /// `If-None-Match: *`).
    fn put_new_file(
        &self,
        key: &str,
        content: &ObjectFile,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Whether objects of one [`ObjectStore::put_all`] given in a row with
    /// the same bytes are kept as one file (a local directory's hard
    /// links), so that the same bytes under many keys cost one file, not
    /// one each.
    fn shares_equal_objects(&self) -> bool {
        false
    }

    /// Writes several objects create-only and returns, in the order given,
    /// whether each was created, once all of them are durable (group
    /// commit: a local directory syncs its file system once for the group
    /// instead of once per object). On an error some may be stored and
    /// others not; a retry finds the stored ones.
    fn put_all(
        &self,
        objects: Vec<(String, Vec<u8>)>,
    ) -> impl Future<Output = Result<Vec<Created>, StoreError>> + Send {
        async move {
            futures::stream::iter(objects)
                .map(|(key, bytes)| async move { self.put_new(&key, &bytes).await })
                .buffered(PUTS_IN_FLIGHT)
                .try_collect()
                .await
        }
    }

    /// Marks an object (a drop) collected: it is in the archive, read or
    /// refused, so the store may let it go. S3 tags it
    /// [`COLLECTED_TAG`]`=`[`COLLECTED_TAG_VALUE`], keeping its other tags,
    /// for the drop bucket's lifecycle rule; a local directory has no
    /// expiry and does nothing. Marking a marked object again changes
    /// nothing.
    fn mark_collected(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lists the objects whose keys start with `prefix`, and what else is
    /// there ([`Listing::unlisted`]).
    fn scan(&self, prefix: &str) -> impl Future<Output = Result<Listing, StoreError>> + Send;

    /// Whether an object is stored under the key, without reading it: by
    /// default a listing of the key itself as prefix (one request in S3);
    /// a local directory looks at the file.
    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move { Ok(self.list(key).await?.iter().any(|listed| listed == key)) }
    }

    /// Whether something is stored under each of `keys`, in the order
    /// given: by default [`ObjectStore::exists`] for each, several at once;
    /// a local directory reads a folder's listing once instead where that
    /// is cheaper than looking up each of its keys, and counts whatever is
    /// under a key, object or not (a read of the key says what is wrong).
    fn exist_all(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send {
        async move {
            futures::stream::iter(0..keys.len())
                .map(|index| async move { self.exists(&keys[index]).await })
                .buffered(PUTS_IN_FLIGHT)
                .try_collect()
                .await
        }
    }

    /// Opens the flag under `key`, made unset when there is none, and says
    /// whether it was set already. A flag is set by
    /// [`ObjectStore::set_flag`] at an instant, without a disk flush:
    /// a later reader sees it, in this process or the next after a crash,
    /// but a power cut may lose it. For a mark that must be in place the
    /// instant before the act it records, with no system call between the
    /// two that could wait on the disk (the SMTP `.sent` marks of
    /// [`crate::ledger`]). By default the flag is an object that exists
    /// once set (S3, where the write is durable at once).
    fn flag(&self, key: &str) -> impl Future<Output = Result<(bool, Flag), StoreError>> + Send {
        async move {
            let set = self.exists(key).await?;
            Ok((set, Flag(FlagState::Object(key.to_owned()))))
        }
    }

    /// Sets a flag opened by [`ObjectStore::flag`] (see there); says
    /// whether it was set already (by an earlier call, or by another
    /// writer since it was opened). Setting a set flag changes nothing.
    fn set_flag(&self, flag: &mut Flag) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move {
            match &mut flag.0 {
                FlagState::Object(key) => Ok(self.put_new(key, b"").await? == Created::Exists),
                FlagState::Mapped(map) => {
                    let was = map[0] == FLAG_SET;
                    map[0] = FLAG_SET;
                    Ok(was)
                }
            }
        }
    }

    /// The span over which a flag set by [`ObjectStore::set_flag`] is
    /// kept: for a local directory, the machine's boot (one set in an
    /// earlier boot may be lost); `None` where it is durable at once.
    fn unsynced_epoch(&self) -> Option<String> {
        None
    }

    /// Lists the keys that start with `prefix`, sorted: [`ObjectStore::scan`]
    /// without what is no object. For the archive store, which only the
    /// pipeline writes; read a store others fill with `scan`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        async move { Ok(self.scan(prefix).await?.keys) }
    }
}

/// A flag of the store ([`ObjectStore::flag`]).
pub struct Flag(pub(crate) FlagState);

/// How a flag is kept.
pub(crate) enum FlagState {
    /// An object under this key, created when the flag is set.
    Object(String),
    /// A one-byte file mapped into memory: setting it is one store to
    /// memory, no system call, and the page it is in is the file's own
    /// (a later reader sees it once this process is gone).
    Mapped(memmap2::MmapMut),
}

/// The byte of a set flag in a mapped flag file (unset: [`FLAG_UNSET`]).
pub(crate) const FLAG_SET: u8 = b'1';

/// The byte of an unset flag in a mapped flag file.
pub(crate) const FLAG_UNSET: u8 = b'0';

impl std::fmt::Debug for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            FlagState::Object(key) => write!(f, "Flag({key})"),
            FlagState::Mapped(_) => f.write_str("Flag(mapped)"),
        }
    }
}

/// Checks that a key to write is a relative path of plain segments, with
/// no control characters.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    check_read_key(key)?;
    if key.chars().any(char::is_control) {
        return Err(StoreError::InvalidKey(key.to_owned()));
    }
    Ok(())
}

/// Checks that a key to read is a relative path of plain segments. Unlike
/// a key written, it may hold control characters other than NUL: a file
/// dropped as `a\nb.txt` is listed under that key and must be readable.
pub(crate) fn check_read_key(key: &str) -> Result<(), StoreError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains(['\\', '\0'])
        || key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        Err(StoreError::InvalidKey(key.to_owned()))
    } else {
        Ok(())
    }
}
