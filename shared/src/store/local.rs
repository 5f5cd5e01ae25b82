//! A local directory as an object store: each key is a file path under the root.
//!
//! A listing walks the directory without following symbolic links. Every
//! regular file with a UTF-8 name is an object, dot-files included (an S3
//! bucket lists them too); a link, a name that is not UTF-8 or anything
//! else that is no regular file is listed as [`Unlisted`], for the reader
//! to report. Only the files the store and the `archiver` command write
//! themselves stay out of every listing: a write's temporary file and the
//! run lock `<root>/.lock`.
//!
//! **Durability order.** A single write ([`ObjectStore::put_new`],
//! [`ObjectStore::put_new_file`]) writes a temporary file beside the key,
//! syncs its data, renames it into place without replacing anything, and
//! syncs the directory (and the parent of every directory it created), so
//! the object survives a power cut once the call returns. A group
//! ([`ObjectStore::put_all`]) writes every file without a name
//! (`O_TMPFILE`; a temporary file where the file system cannot), syncs the
//! file system once (`syncfs`), names them all (a hard link per key, or
//! the temporary file's rename; objects of the group with the same bytes,
//! given in a row, are one file, hard-linked under each key),
//! and syncs the file system again: no key ever names a file whose data
//! may be lost, and the whole group is durable when the call returns. A
//! small group (a few files and keys) is written like single writes
//! instead, each file synced before it is named and each directory after:
//! the same order, without flushing what else the file system holds.
//! A flag ([`ObjectStore::flag`]) is the exception, by design: a one-byte
//! file made unsynced and set in place through a memory map, trusted only
//! within the boot that wrote it ([`ObjectStore::unsynced_epoch`]). The
//! store is taken to be one file system (a mount point inside it would not
//! be synced by `syncfs` of the root).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use tempfile::TempPath;

use super::{
    Created, FLAG_SET, FLAG_UNSET, Flag, FlagState, Listing, ObjectFile, ObjectStore, StoreError,
    Unlisted, check_key, check_read_key,
};

/// Name prefix of files being written, followed by [`TMP_RANDOM`] random
/// letters and digits; listings leave them out.
const TMP_PREFIX: &str = ".tmp-";

/// Random characters after [`TMP_PREFIX`] in a temporary file's name.
const TMP_RANDOM: usize = 6;

/// Objects of a group one thread writes at least (smaller groups are
/// written by one thread).
const GROUP_PER_THREAD: usize = 256;

/// Keys of a group that share one file at most (ext4 allows 65,000 links
/// to a file).
const LINKS_PER_FILE: usize = 1_000;

/// Files and keys of a group written and synced one by one rather than
/// with two syncs of the file system ([`LocalDir::write_small_group`]).
const SMALL_GROUP: usize = 8;

/// Bytes of a directory taken for one name in it, to tell from its size
/// about how many names it holds (ext4: 72 bytes for a ledger key's name,
/// in blocks kept partly free).
const DIR_BYTES_PER_NAME: u64 = 64;

/// Names in a directory read per key looked up, at most, for
/// [`ObjectStore::exist_all`] to read the directory's listing rather than
/// look each key up (a name read costs a small share of a lookup).
const LISTED_PER_KEY: u64 = 16;

/// The run lock the `archiver` command holds at the root of a store.
const LOCK_FILE: &str = ".lock";

/// An object store rooted at a local directory, with the S3 key layout.
///
/// Create-only writes go through a temporary file and a no-clobber rename
/// (or hard link, for objects of a group with the same bytes in a row), so a reader
/// never sees a half-written object and an existing one is never replaced.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
    /// The directories this process made or found, so that each is
    /// created (and its entry synced) once, not on every write.
    made: Arc<Mutex<HashSet<PathBuf>>>,
    /// The SHA-256 of files with several names (a record stored under
    /// many keys), by file, so that each is read once
    /// ([`ObjectStore::sha256`]).
    hashed: Arc<Mutex<HashMap<FileId, Hashed>>>,
}

/// A file: its device and inode numbers.
type FileId = (u64, u64);

/// A file's SHA-256, with its length and its status change and
/// modification times (a write to it changes them) when it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hashed {
    changed: [i64; 4],
    len: u64,
    sha256: [u8; 32],
}

impl LocalDir {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir {
            root: root.into(),
            made: Arc::default(),
            hashed: Arc::default(),
        }
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the temporary files (`.tmp-*`) that writes killed halfway
    /// left anywhere in the store, and returns how many it removed.
    /// Objects, the lock and other dot-files are left alone (a temporary
    /// name may be a link to objects already stored: only the name goes).
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

    /// Makes sure the directory `dir` exists; returns the directories it
    /// had to create, outermost first (their entries still need a sync).
    fn ensure_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        if self.known(dir) {
            return Ok(Vec::new());
        }
        let mut missing = Vec::new();
        let mut at = dir;
        loop {
            match fs::symlink_metadata(at) {
                Ok(metadata) if metadata.is_dir() => break,
                Ok(_) => {
                    return Err(io::Error::other(format!(
                        "{} is not a directory",
                        at.display()
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    missing.push(at.to_owned());
                    match at.parent() {
                        Some(parent) => at = parent,
                        None => break,
                    }
                }
                Err(e) => return Err(e),
            }
        }
        missing.reverse();
        for made in &missing {
            match fs::create_dir(made) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(missing)
    }

    /// Records a directory as made for good: its entry is synced.
    fn mark_made(&self, dir: &Path) {
        self.made
            .lock()
            .expect("no panic while held")
            .insert(dir.to_owned());
    }

    fn known(&self, dir: &Path) -> bool {
        self.made.lock().expect("no panic while held").contains(dir)
    }

    /// Writes one object durably: temporary file, data sync, no-clobber
    /// rename, directory sync.
    fn write_one(
        &self,
        path: &Path,
        write: impl FnOnce(&mut fs::File) -> io::Result<()>,
    ) -> io::Result<Created> {
        let dir = path.parent().expect("object paths have a parent");
        let made = self.ensure_dir(dir)?;
        let mut tmp = temporary_in(dir)?;
        write(tmp.as_file_mut())?;
        tmp.as_file().sync_data()?;
        let created = persist(tmp.into_temp_path(), path)?;
        // Synced when found there too: a run killed before its sync may
        // have left the name unsynced.
        sync_dir(dir)?;
        sync_made(&made)?;
        self.mark_made(dir);
        Ok(created)
    }

    /// Writes a group of objects, durable together (see the module docs).
    /// Objects in a row with the same bytes share one file, a hard link per key
    /// (at most [`LINKS_PER_FILE`] each): creating a file costs the file
    /// system far more than a name for it. The temporary files are written
    /// by a few threads at once.
    fn write_group(&self, objects: &[(PathBuf, Vec<u8>)]) -> io::Result<Vec<Created>> {
        let files = shared_files(objects);
        if files.len() + objects.len() <= SMALL_GROUP {
            return self.write_small_group(objects, &files);
        }
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let per_thread = files.len().div_ceil(threads).max(GROUP_PER_THREAD);
        let staged: Vec<Staged> = std::thread::scope(|scope| {
            let writers: Vec<_> = files
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || self.stage(objects, chunk)))
                .collect();
            let mut staged = Vec::with_capacity(files.len());
            for writer in writers {
                staged.extend(writer.join().expect("a writer does not panic")?);
            }
            Ok::<_, io::Error>(staged)
        })?;
        self.sync_all()?;
        for (path, _) in objects {
            self.mark_made(path.parent().expect("object paths have a parent"));
        }
        let mut created: Vec<Option<Created>> = vec![None; objects.len()];
        let mut pairs = staged.into_iter().zip(&files);
        std::thread::scope(|scope| {
            let mut namers = Vec::new();
            loop {
                let chunk: Vec<(Staged, &Vec<usize>)> = pairs.by_ref().take(per_thread).collect();
                if chunk.is_empty() {
                    break;
                }
                namers.push(scope.spawn(move || {
                    let mut named = Vec::new();
                    for (staged, keys) in chunk {
                        match (staged, keys.as_slice()) {
                            (Staged::Named(tmp), [only]) => {
                                named.push((*only, persist(tmp, &objects[*only].0)?));
                            }
                            (Staged::Named(tmp), keys) => {
                                for &index in keys {
                                    named.push((index, link(&tmp, &objects[index].0)?));
                                }
                            }
                            (Staged::Unnamed(unnamed), keys) => {
                                for &index in keys {
                                    named.push((index, unnamed.name(&objects[index].0)?));
                                }
                            }
                        }
                    }
                    Ok::<_, io::Error>(named)
                }));
            }
            for namer in namers {
                for (index, outcome) in namer.join().expect("a namer does not panic")? {
                    created[index] = Some(outcome);
                }
            }
            Ok::<_, io::Error>(())
        })?;
        self.sync_all()?;
        Ok(created
            .into_iter()
            .map(|created| created.expect("every object is in one file"))
            .collect())
    }

    /// A small group, durable the way single writes are: each file synced
    /// before it is named, then each directory that gained a name. Two
    /// syncs of the whole file system cost more than these when the file
    /// system holds other unwritten data (an SMTP delivery commits each
    /// copy's ledger entry alone, at once).
    fn write_small_group(
        &self,
        objects: &[(PathBuf, Vec<u8>)],
        files: &[Vec<usize>],
    ) -> io::Result<Vec<Created>> {
        let parent = |index: usize| {
            objects[index]
                .0
                .parent()
                .expect("object paths have a parent")
        };
        let mut created = vec![Created::New; objects.len()];
        let mut dirs = HashSet::new();
        let mut made = Vec::new();
        for keys in files {
            for &index in keys {
                made.extend(self.ensure_dir(parent(index))?);
                dirs.insert(parent(index));
            }
            let mut tmp = temporary_in(parent(keys[0]))?;
            tmp.write_all(&objects[keys[0]].1)?;
            tmp.as_file().sync_data()?;
            let tmp = tmp.into_temp_path();
            match keys.as_slice() {
                [only] => created[*only] = persist(tmp, &objects[*only].0)?,
                keys => {
                    for &index in keys {
                        created[index] = link(&tmp, &objects[index].0)?;
                    }
                }
            }
        }
        for dir in &dirs {
            sync_dir(dir)?;
        }
        sync_made(&made)?;
        for dir in dirs {
            self.mark_made(dir);
        }
        Ok(created)
    }

    /// Writes the files of part of a group, not synced: one per file, in
    /// its first key's directory, with every key's directory made.
    fn stage(
        &self,
        objects: &[(PathBuf, Vec<u8>)],
        files: &[Vec<usize>],
    ) -> io::Result<Vec<Staged>> {
        let mut staged = Vec::with_capacity(files.len());
        for keys in files {
            for &index in keys {
                self.ensure_dir(
                    objects[index]
                        .0
                        .parent()
                        .expect("object paths have a parent"),
                )?;
            }
            let (path, bytes) = &objects[keys[0]];
            let dir = path.parent().expect("object paths have a parent");
            staged.push(match Unnamed::create_in(dir) {
                Some(mut unnamed) => {
                    unnamed.file.write_all(bytes)?;
                    Staged::Unnamed(unnamed)
                }
                None => {
                    let mut tmp = temporary_in(dir)?;
                    tmp.write_all(bytes)?;
                    Staged::Named(tmp.into_temp_path())
                }
            });
        }
        Ok(staged)
    }

    /// Syncs the store's whole file system (data and metadata).
    fn sync_all(&self) -> io::Result<()> {
        let root = fs::File::open(&self.root)?;
        nix::unistd::syncfs(&root).map_err(io::Error::from)
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

/// A file of a group written and not named yet.
enum Staged {
    /// A file with no name at all (see [`Unnamed`]).
    Unnamed(Unnamed),
    /// A temporary file beside its first key, where an unnamed one could
    /// not be made.
    Named(TempPath),
}

/// A file made with no name in a directory (`O_TMPFILE`) and given its
/// keys as names once its data is synced: one directory entry per key,
/// where a temporary file costs two more (its own name made, then removed
/// by the rename), and nothing left behind by a crash. Each holds a file
/// descriptor until it is named: at most [`Unnamed::most_open`] are open
/// at once, the others are temporary files.
struct Unnamed {
    file: fs::File,
}

/// Unnamed files open now in this process.
static UNNAMED_OPEN: AtomicUsize = AtomicUsize::new(0);

impl Unnamed {
    /// A new unnamed file in `dir`, mode 0600; `None` when the file system
    /// cannot make one or too many are open.
    fn create_in(dir: &Path) -> Option<Unnamed> {
        if UNNAMED_OPEN.fetch_add(1, Ordering::Relaxed) >= Self::most_open() {
            UNNAMED_OPEN.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let opened = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(OFlag::O_TMPFILE.bits())
            .open(dir);
        match opened {
            Ok(file) => Some(Unnamed { file }),
            Err(_) => {
                UNNAMED_OPEN.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// A quarter of the file descriptors the process may open, so that
    /// every other open (a lane's, a socket) still finds one.
    fn most_open() -> usize {
        static MOST: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *MOST.get_or_init(|| {
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_or(0, |(soft, _)| {
                    usize::try_from(soft / 4).unwrap_or(usize::MAX)
                })
        })
    }

    /// Gives the file the name `path` (through `/proc/self/fd`), unless
    /// something is there already. A file system that refuses the link
    /// gets a copy of its own, synced before it is named.
    fn name(&self, path: &Path) -> io::Result<Created> {
        let fd = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        let linked = nix::unistd::linkat(
            nix::fcntl::AT_FDCWD,
            fd.as_str(),
            nix::fcntl::AT_FDCWD,
            path,
            nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
        );
        match linked {
            Ok(()) => Ok(Created::New),
            Err(Errno::EEXIST) => Ok(Created::Exists),
            // No link to be had here (too many links, no `/proc`, a file
            // system without hard links): a copy. Other errors (no space,
            // I/O) are the write's.
            Err(Errno::EMLINK | Errno::ENOENT | Errno::EPERM | Errno::EOPNOTSUPP) => {
                let mut copy = temporary_in(path.parent().expect("object paths have a parent"))?;
                let mut file = &self.file;
                file.seek(io::SeekFrom::Start(0))?;
                io::copy(&mut file, copy.as_file_mut())?;
                copy.as_file().sync_data()?;
                persist(copy.into_temp_path(), path)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        UNNAMED_OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A new temporary file in `dir`, named so that listings leave it out.
fn temporary_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .rand_bytes(TMP_RANDOM)
        .tempfile_in(dir)
}

/// The files of a group: per file, the indexes of the objects stored in
/// it, the first one's directory holding its temporary file. Objects in a
/// row with the same bytes share a file, up to [`LINKS_PER_FILE`] of them
/// (a record stored under many keys is given as such a row; comparing
/// only neighbours keeps this from hashing every object's bytes).
fn shared_files(objects: &[(PathBuf, Vec<u8>)]) -> Vec<Vec<usize>> {
    let mut files: Vec<Vec<usize>> = Vec::new();
    for (index, (_, bytes)) in objects.iter().enumerate() {
        match files.last_mut() {
            Some(file) if file.len() < LINKS_PER_FILE && objects[file[0]].1 == *bytes => {
                file.push(index);
            }
            _ => files.push(vec![index]),
        }
    }
    files
}

/// Gives a temporary file the name `path` too, unless something is there
/// already (the temporary name stays, for the other keys of its file). A
/// file system that refuses the link (too many links, no hard links at
/// all) gets a copy of its own, synced before it is named.
fn link(tmp: &Path, path: &Path) -> io::Result<Created> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(Created::New),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Created::Exists),
        Err(_) => {
            let mut copy = temporary_in(path.parent().expect("object paths have a parent"))?;
            io::copy(&mut fs::File::open(tmp)?, copy.as_file_mut())?;
            copy.as_file().sync_data()?;
            persist(copy.into_temp_path(), path)
        }
    }
}

/// Renames a temporary file to `path` unless something is there already
/// (then the temporary file is removed).
fn persist(tmp: TempPath, path: &Path) -> io::Result<Created> {
    match tmp.persist_noclobber(path) {
        Ok(()) => Ok(Created::New),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Created::Exists),
        Err(e) => Err(e.error),
    }
}

/// The identity of this boot of the machine (Linux's random boot id), the
/// span over which unsynced writes survive; where there is none, one per
/// process, so that nothing unsynced is trusted across processes.
fn boot() -> &'static str {
    static BOOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |t| t.as_nanos());
                format!("process {} {nanos}", std::process::id())
            })
    })
}

/// Syncs a directory: the names created in it survive a power cut.
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Syncs the parent of every directory just created, so that the new
/// directories themselves are not lost with a power cut.
fn sync_made(made: &[PathBuf]) -> io::Result<()> {
    for dir in made {
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Opens an object's file for reading without following a symbolic link;
/// `None` when there is none.
fn open_object(path: &Path) -> io::Result<Option<fs::File>> {
    // A listed file swapped for a symbolic link before it is read (a
    // drop folder others write to) is refused, not followed: the link
    // could name any file the process may read.
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(Errno::ELOOP as i32) => {
            return Err(io::Error::other("a symbolic link, not followed"));
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(Some(file))
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
        let Some(mut file) = open_object(&path).map_err(io_err(key))? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut file, &mut bytes).map_err(io_err(key))?;
        Ok(Some(bytes))
    }

    async fn get_file(&self, key: &str) -> Result<Option<ObjectFile>, StoreError> {
        let path = self.read_path(key)?;
        let Some(file) = open_object(&path).map_err(io_err(key))? else {
            return Ok(None);
        };
        let len = file.metadata().map_err(io_err(key))?.len();
        Ok(Some(ObjectFile::stored(file, len)))
    }

    async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<Created, StoreError> {
        let path = self.path(key)?;
        // The write ends in syncs: run it off the async thread so that
        // concurrent writes overlap their waits on the disk.
        let bytes = bytes.to_vec();
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_one(&path, |file| file.write_all(&bytes)))
            .await
            .map_err(|e| io_err(key)(io::Error::other(e)))?
            .map_err(io_err(key))
    }

    async fn put_new_file(&self, key: &str, content: &ObjectFile) -> Result<Created, StoreError> {
        let path = self.path(key)?;
        let store = self.clone();
        let source = content.clone();
        tokio::task::spawn_blocking(move || {
            store.write_one(&path, |file| io::copy(&mut source.reader(), file).map(drop))
        })
        .await
        .map_err(|e| io_err(key)(io::Error::other(e)))?
        .map_err(io_err(key))
    }

    /// Hashes the key's file, or takes the hash of it made earlier by this
    /// store when the file has several names (and has not changed since).
    async fn sha256(&self, key: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let path = self.read_path(key)?;
        let Some(file) = open_object(&path).map_err(io_err(key))? else {
            return Ok(None);
        };
        let metadata = file.metadata().map_err(io_err(key))?;
        let id = (metadata.dev(), metadata.ino());
        let changed = [
            metadata.ctime(),
            metadata.ctime_nsec(),
            metadata.mtime(),
            metadata.mtime_nsec(),
        ];
        let shared = metadata.nlink() > 1;
        let hashed = self.hashed.lock().expect("not poisoned").get(&id).copied();
        if let Some(hashed) =
            hashed.filter(|h| shared && h.changed == changed && h.len == metadata.len())
        {
            return Ok(Some((hashed.len, hashed.sha256)));
        }
        let (len, sha256) = super::file::sha256_of(file).map_err(io_err(key))?;
        if shared {
            let hashed = Hashed {
                changed,
                len,
                sha256,
            };
            self.hashed.lock().expect("not poisoned").insert(id, hashed);
        }
        Ok(Some((len, sha256)))
    }

    fn shares_equal_objects(&self) -> bool {
        true
    }

    async fn put_all(&self, objects: Vec<(String, Vec<u8>)>) -> Result<Vec<Created>, StoreError> {
        let Some((first, _)) = objects.first() else {
            return Ok(Vec::new());
        };
        let first = first.clone();
        let mut paths = Vec::with_capacity(objects.len());
        for (key, bytes) in objects {
            paths.push((self.path(&key)?, bytes));
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_group(&paths))
            .await
            .map_err(|e| io_err(&first)(io::Error::other(e)))?
            .map_err(io_err(&first))
    }

    async fn flag(&self, key: &str) -> Result<(bool, Flag), StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().expect("object paths have a parent");
        self.ensure_dir(dir).map_err(io_err(key))?;
        // Made holding its unset byte, by a no-replace rename: never empty
        // under its name. Not synced: a flag of an earlier boot is not
        // trusted (`unsynced_epoch`).
        if !path.exists() {
            let mut tmp = temporary_in(dir).map_err(io_err(key))?;
            tmp.write_all(&[FLAG_UNSET]).map_err(io_err(key))?;
            persist(tmp.into_temp_path(), &path).map_err(io_err(key))?;
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
            .map_err(io_err(key))?;
        // An empty flag file is one set as an empty object (S3's form).
        if file.metadata().map_err(io_err(key))?.len() == 0 {
            (&file).write_all(&[FLAG_SET]).map_err(io_err(key))?;
        }
        #[allow(unsafe_code)]
        // SAFETY: the file is the store's own flag file, at least one byte
        // long, and no other writer changes or truncates it: the store
        // never truncates or rewrites an object, and one process at a time
        // delivers from a store (the `archiver` command's run lock; the
        // deliver function uses S3); the map is of that one byte and lives
        // in the returned flag.
        let mut map =
            unsafe { memmap2::MmapOptions::new().len(1).map_mut(&file) }.map_err(io_err(key))?;
        let byte = map[0];
        // Written back now: the page is then dirty and writable when the
        // flag is set, so setting it is one store to memory (best effort:
        // a write-back in between only makes that store fault once).
        map[0] = std::hint::black_box(byte);
        Ok((byte != FLAG_UNSET, Flag(FlagState::Mapped(map))))
    }

    fn unsynced_epoch(&self) -> Option<String> {
        Some(boot().to_owned())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.read_path(key)?;
        match fs::symlink_metadata(&path) {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(key)(e)),
        }
    }

    async fn exist_all(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        let mut by_dir: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            check_read_key(key)?;
            let dir = key.rsplit_once('/').map_or("", |(dir, _)| dir);
            by_dir.entry(dir).or_default().push(index);
        }
        let mut found = vec![false; keys.len()];
        for (dir, indexes) in by_dir {
            let path = self.root.join(dir);
            let first = &keys[indexes[0]];
            let size = match fs::metadata(&path) {
                Ok(metadata) => metadata.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(first)(e)),
            };
            if size / DIR_BYTES_PER_NAME > LISTED_PER_KEY * indexes.len() as u64 {
                for index in indexes {
                    let key = &keys[index];
                    found[index] = match fs::symlink_metadata(self.root.join(key)) {
                        Ok(_) => true,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                        Err(e) => return Err(io_err(key)(e)),
                    };
                }
                continue;
            }
            let mut names = HashSet::new();
            for entry in fs::read_dir(&path).map_err(io_err(first))? {
                names.insert(entry.map_err(io_err(first))?.file_name());
            }
            for index in indexes {
                let name = keys[index].rsplit('/').next().unwrap_or_default();
                found[index] = names.contains(OsStr::new(name));
            }
        }
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A flag is one byte of its file: `0` once opened, `1` once set, read
    /// as such by any later reader (the map writes the file's own page);
    /// an empty flag file is one set as an empty object.
    #[tokio::test]
    async fn a_flag_set_through_its_map_is_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let (set, mut flag) = store.flag("sending/a/x.sent").await.unwrap();
        assert!(!set);
        assert_eq!(fs::read(dir.path().join("sending/a/x.sent")).unwrap(), b"0");
        assert!(!store.set_flag(&mut flag).await.unwrap());
        assert_eq!(fs::read(dir.path().join("sending/a/x.sent")).unwrap(), b"1");
        drop(flag);
        let (set, _) = LocalDir::new(dir.path())
            .flag("sending/a/x.sent")
            .await
            .unwrap();
        assert!(set, "a later opener sees it set");

        // Setting it again says it was set.
        let (_, mut again) = store.flag("sending/a/x.sent").await.unwrap();
        assert!(store.set_flag(&mut again).await.unwrap());
        // An empty flag file is a flag set as an empty object (S3's form).
        fs::write(dir.path().join("sending/a/y.sent"), b"").unwrap();
        let (set, _) = store.flag("sending/a/y.sent").await.unwrap();
        assert!(set);
        assert_eq!(fs::read(dir.path().join("sending/a/y.sent")).unwrap(), b"1");
        assert!(store.unsynced_epoch().is_some_and(|boot| !boot.is_empty()));
    }

    #[tokio::test]
    async fn a_group_is_stored_create_only_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        store.put_new("a/one", b"first").await.unwrap();
        let created = store
            .put_all(vec![
                ("a/one".to_owned(), b"replaced?".to_vec()),
                ("a/two".to_owned(), b"2".to_vec()),
                ("b/c/three".to_owned(), b"3".to_vec()),
            ])
            .await
            .unwrap();
        assert_eq!(created, [Created::Exists, Created::New, Created::New]);
        assert_eq!(store.get("a/one").await.unwrap().unwrap(), b"first");
        assert_eq!(store.get("b/c/three").await.unwrap().unwrap(), b"3");
        assert_eq!(store.sweep_temporary().unwrap(), 0);
    }

    #[tokio::test]
    async fn objects_of_a_group_with_the_same_bytes_in_a_row_share_one_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        store.put_new("x/taken", b"same").await.unwrap();
        let created = store
            .put_all(vec![
                ("a/one".to_owned(), b"same".to_vec()),
                ("c/d/three".to_owned(), b"same".to_vec()),
                ("x/taken".to_owned(), b"same".to_vec()),
                ("b/two".to_owned(), b"other".to_vec()),
                ("e/four".to_owned(), b"same".to_vec()),
            ])
            .await
            .unwrap();
        assert_eq!(
            created,
            [
                Created::New,
                Created::New,
                Created::Exists,
                Created::New,
                Created::New
            ]
        );
        let inode = |key: &str| fs::metadata(dir.path().join(key)).unwrap();
        assert_eq!(inode("a/one").ino(), inode("c/d/three").ino());
        assert_eq!(inode("a/one").nlink(), 2, "the temporary name is gone");
        assert_ne!(inode("a/one").ino(), inode("x/taken").ino());
        // Only objects in a row are compared: the same bytes further on are
        // a file of their own.
        assert_ne!(inode("a/one").ino(), inode("e/four").ino());
        assert_eq!(store.get("c/d/three").await.unwrap().unwrap(), b"same");
        assert_eq!(store.get("b/two").await.unwrap().unwrap(), b"other");
        assert_eq!(store.sweep_temporary().unwrap(), 0);
    }

    /// A group larger than a small one: its files are made without names
    /// and named once synced, so each directory holds the keys and
    /// nothing else; a shared file has one name per key, a taken key is
    /// left alone, and every file is the owner's alone (0600).
    #[tokio::test]
    async fn a_large_group_leaves_the_keys_and_nothing_else() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        store.put_new("g/taken", b"first").await.unwrap();
        let mut objects: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| (format!("g/{i:02}"), format!("object {i}").into_bytes()))
            .collect();
        objects.push(("g/taken".to_owned(), b"replaced?".to_vec()));
        objects.extend((0..5).map(|i| (format!("h/shared-{i}"), b"record".to_vec())));
        let created = store.put_all(objects).await.unwrap();
        assert_eq!(created.iter().filter(|c| **c == Created::New).count(), 45);
        assert_eq!(created[40], Created::Exists);
        assert_eq!(store.get("g/taken").await.unwrap().unwrap(), b"first");
        assert_eq!(store.get("g/07").await.unwrap().unwrap(), b"object 7");
        let names = |sub: &str| -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(dir.path().join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names("g").len(), 41, "{:?}", names("g"));
        assert!(names("g").iter().all(|n| !n.starts_with(TMP_PREFIX)));
        assert_eq!(names("h").len(), 5);
        let shared = fs::metadata(dir.path().join("h/shared-3")).unwrap();
        assert_eq!(shared.nlink(), 5, "one name per key, no other");
        let mode = fs::metadata(dir.path().join("g/00"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// Which keys have something under them, asked at once: a folder
    /// missing, a folder read whole (few names), one whose keys are looked
    /// up one by one (many names, one key asked); what is no file counts
    /// (a read of the key says what is wrong with it).
    #[tokio::test]
    async fn keys_asked_at_once_exist_as_asked_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        store.put_new("small/a", b"a").await.unwrap();
        fs::create_dir(dir.path().join("small/not-a-file")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("small/link")).unwrap();
        let many: Vec<(String, Vec<u8>)> = (0..2_000)
            .map(|i| (format!("big/{i:064}"), vec![b'x']))
            .collect();
        store.put_all(many).await.unwrap();
        let keys: Vec<String> = [
            "small/a",
            "small/b",
            "small/not-a-file",
            "small/link",
            "missing/a",
            &format!("big/{:064}", 1_999),
        ]
        .map(str::to_owned)
        .to_vec();
        let expected = [true, false, true, true, false, true];
        assert_eq!(store.exist_all(&keys).await.unwrap(), expected);
        let big = fs::metadata(dir.path().join("big")).unwrap().len();
        assert!(
            big / DIR_BYTES_PER_NAME > LISTED_PER_KEY,
            "big is looked up key by key"
        );
        fs::create_dir(dir.path().join("big/a-dir")).unwrap();
        let odd = ["big/a-dir".to_owned(), "big/none".to_owned()];
        assert_eq!(store.exist_all(&odd).await.unwrap(), [true, false]);
        assert!(matches!(
            store.exist_all(&["../x".to_owned()]).await,
            Err(StoreError::InvalidKey(_))
        ));
    }

    #[test]
    fn a_shared_file_holds_at_most_its_share_of_links() {
        let objects: Vec<(PathBuf, Vec<u8>)> = (0..LINKS_PER_FILE * 2 + 1)
            .map(|i| (PathBuf::from(format!("k/{i}")), b"same".to_vec()))
            .collect();
        let files = shared_files(&objects);
        assert_eq!(
            files.iter().map(Vec::len).collect::<Vec<_>>(),
            [LINKS_PER_FILE, LINKS_PER_FILE, 1]
        );
    }

    #[tokio::test]
    async fn a_file_is_written_and_read_back_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let content = ObjectFile::from_bytes(&vec![7u8; 300_000]).unwrap();
        assert_eq!(
            store.put_new_file("media/x", &content).await.unwrap(),
            Created::New
        );
        assert_eq!(
            store.put_new_file("media/x", &content).await.unwrap(),
            Created::Exists
        );
        let back = store.get_file("media/x").await.unwrap().unwrap();
        assert_eq!(back.len(), 300_000);
        assert_eq!(back.read_all().unwrap(), vec![7u8; 300_000]);
        assert!(store.get_file("media/y").await.unwrap().is_none());
    }
}
