//! A local directory as an object store: each key is a file path under the root.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Created, ObjectStore, StoreError, check_key};

/// Name prefix of files being written; listings skip them (and every other
/// dot-file).
const TMP_PREFIX: &str = ".tmp-";

/// An object store rooted at a local directory, with the S3 key layout.
///
/// Create-only writes go through a temporary file and a no-clobber rename, so a
/// reader never sees a half-written object and an existing one is never
/// replaced.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the temporary files (`.tmp-*`) that writes killed halfway
    /// left anywhere in the store, and returns how many it removed.
    /// Objects, the lock and other dot-files are left alone.
    ///
    /// Call it only while nothing else writes to the store (the `archiver`
    /// command holds `<store>/.lock`): a write in progress would lose its
    /// temporary file and fail.
    pub fn sweep_temporary(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        sweep_into(&self.root, &self.root, &mut removed)?;
        Ok(removed)
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn io_err(key: &str) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        key: key.to_owned(),
        source,
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<Created> {
    let dir = path.parent().expect("object paths have a parent");
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(Created::New),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Created::Exists),
        Err(e) => Err(e.error),
    }
}

/// Removes the temporary files under `dir`, counting them in `removed`;
/// an error names the file or directory by its path in the store.
fn sweep_into(root: &Path, dir: &Path, removed: &mut usize) -> Result<(), StoreError> {
    let failed = |path: &Path| {
        let rel = path.strip_prefix(root).expect("walked under root");
        let key = if rel.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            rel.to_string_lossy().into_owned()
        };
        move |source| StoreError::Io { key, source }
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(failed(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(failed(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(failed(&path))?;
        if kind.is_dir() {
            sweep_into(root, &path, removed)?;
        } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            match fs::remove_file(&path) {
                Ok(()) => *removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(failed(&path)(e)),
            }
        }
    }
    Ok(())
}

fn list_into(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        // Dot-files are ours (temporary files, the run lock), not objects.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_into(root, &path, prefix, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("walked under root");
            let key = rel
                .components()
                // A name that is not UTF-8 is listed lossily: reading it
                // then fails with an error naming it, rather than it being
                // skipped without a word.
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) {
                out.push(key);
            }
        }
    }
    Ok(())
}

impl ObjectStore for LocalDir {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(key)(e)),
        }
    }

    async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<Created, StoreError> {
        let path = self.path(key)?;
        // The write ends in an fsync: run it off the async thread so that
        // concurrent deliveries overlap their waits on the disk.
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_new(&path, &bytes))
            .await
            .map_err(|e| io_err(key)(std::io::Error::other(e)))?
            .map_err(io_err(key))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // Walk only the directory part of the prefix.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        if !dir_part.is_empty() {
            check_key(dir_part)?;
        }
        let mut out = Vec::new();
        list_into(&self.root, &self.root.join(dir_part), prefix, &mut out)
            .map_err(io_err(prefix))?;
        out.sort();
        Ok(out)
    }
}
