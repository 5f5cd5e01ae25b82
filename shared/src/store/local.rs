//! A local directory as an object store: each key is a file path under the root.
//!
//! A listing walks the directory without following symbolic links. Every
//! regular file with a UTF-8 name is an object, dot-files included (an S3
//! bucket lists them too); a link, a name that is not UTF-8 or anything
//! else that is no regular file is listed as [`Unlisted`], for the reader
//! to report. Only the files the store and the `archiver` command write
//! themselves stay out of every listing: a write's temporary file and the
//! run lock `<root>/.lock`.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::{Created, Listing, ObjectStore, StoreError, Unlisted, check_key, check_read_key};

/// Name prefix of files being written, followed by [`TMP_RANDOM`] random
/// letters and digits; listings leave them out.
const TMP_PREFIX: &str = ".tmp-";

/// Random characters after [`TMP_PREFIX`] in a temporary file's name.
const TMP_RANDOM: usize = 6;

/// The run lock the `archiver` command holds at the root of a store.
const LOCK_FILE: &str = ".lock";

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

    fn read_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_read_key(key)?;
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
        .rand_bytes(TMP_RANDOM)
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

/// Whether a file is the store's own: a write's temporary file anywhere,
/// the run lock at the root.
fn is_own_file(name: &OsStr, at_root: bool) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let temporary = name.strip_prefix(TMP_PREFIX).is_some_and(|random| {
        random.len() == TMP_RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    temporary || (at_root && name == LOCK_FILE)
}

/// Whether anything under the directory `dir_key` (a key prefix ending in
/// `/`, empty for the root) can start with `prefix`.
fn may_hold(dir_key: &str, prefix: &str) -> bool {
    dir_key.starts_with(prefix) || prefix.starts_with(dir_key)
}

/// Walks `dir` (whose keys start with `dir_key`) for what starts with
/// `prefix`, without following links.
fn scan_into(dir: &Path, dir_key: &str, prefix: &str, out: &mut Listing) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if is_own_file(&name, dir_key.is_empty()) {
            continue;
        }
        let kind = entry.file_type()?;
        let Some(utf8) = name.to_str() else {
            let shown = format!("{dir_key}{}", name.to_string_lossy());
            if may_hold(&shown, prefix) {
                out.unlisted.push(Unlisted::NotUtf8(shown));
            }
            continue;
        };
        let key = format!("{dir_key}{utf8}");
        if kind.is_dir() {
            let dir_key = format!("{key}/");
            if may_hold(&dir_key, prefix) {
                scan_into(&entry.path(), &dir_key, prefix, out)?;
            }
            continue;
        }
        if !key.starts_with(prefix) {
            continue;
        }
        match kind {
            kind if kind.is_file() => out.keys.push(key),
            kind if kind.is_symlink() => out.unlisted.push(Unlisted::Symlink(key)),
            _ => out.unlisted.push(Unlisted::NotAFile(key)),
        }
    }
    Ok(())
}

impl ObjectStore for LocalDir {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.read_path(key)?;
        // A listed file swapped for a symbolic link before it is read (a
        // drop folder others write to) is refused, not followed: the link
        // could name any file the process may read.
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path);
        let mut file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(Errno::ELOOP as i32) => {
                let e = io::Error::other("a symbolic link, not followed");
                return Err(io_err(key)(e));
            }
            Err(e) => return Err(io_err(key)(e)),
        };
        if !file.metadata().map_err(io_err(key))?.is_file() {
            return Err(io_err(key)(io::Error::other("not a regular file")));
        }
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut file, &mut bytes).map_err(io_err(key))?;
        Ok(Some(bytes))
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

    /// Nothing to mark: a local directory expires nothing (the key is
    /// still checked).
    async fn mark_collected(&self, key: &str) -> Result<(), StoreError> {
        self.read_path(key).map(drop)
    }

    async fn scan(&self, prefix: &str) -> Result<Listing, StoreError> {
        // Walk only the directory part of the prefix.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let dir_key = match dir_part {
            "" => String::new(),
            dir => {
                check_read_key(dir)?;
                format!("{dir}/")
            }
        };
        let mut out = Listing::default();
        scan_into(&self.root.join(dir_part), &dir_key, prefix, &mut out).map_err(io_err(prefix))?;
        out.keys.sort();
        out.unlisted.sort();
        Ok(out)
    }
}
