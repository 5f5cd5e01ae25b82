//! An object's bytes in a local file: how large objects (media, big EMLs,
//! export zips) are read and written without holding them in memory.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use nix::fcntl::{AT_FDCWD, AtFlags};

use sha2::{Digest, Sha256};

/// An object's content in a local file of known length, or in a stretch
/// of one (see [`SpoolFile`]).
///
/// A local directory hands out the object's own file (opened read-only);
/// S3 downloads the object into an anonymous temporary file, removed when
/// the last clone of this is dropped. Reads are positional
/// ([`ObjectFile::reader`]), so one `ObjectFile` can be read several times
/// and by several readers; a clone shares the file (and its descriptor).
#[derive(Debug, Clone)]
pub struct ObjectFile {
    file: Arc<File>,
    /// Where the content starts in the file.
    start: u64,
    len: u64,
    /// Whether the file is the object's own, durable file in a local
    /// store (see [`ObjectFile::stored`]).
    stored: bool,
}

impl ObjectFile {
    /// The content of `file`, which holds `len` bytes.
    pub fn new(file: File, len: u64) -> Self {
        ObjectFile {
            file: Arc::new(file),
            start: 0,
            len,
            stored: false,
        }
    }

    /// The object's own file in a local store, holding `len` bytes. An
    /// object the store wrote was synced before it was named, so another
    /// name for it ([`ObjectFile::link_as`]) needs no copy and no sync of
    /// data (files others put in a directory read as a store, a drop
    /// folder, are never given one).
    pub fn stored(file: File, len: u64) -> Self {
        ObjectFile {
            stored: true,
            ..ObjectFile::new(file, len)
        }
    }

    /// Whether this is an object's own file in a local store
    /// ([`ObjectFile::stored`]).
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// Whether `path` names this very file (the same device and inode).
    pub fn is_file_at(&self, path: &Path) -> bool {
        match (self.file.metadata(), std::fs::metadata(path)) {
            (Ok(ours), Ok(theirs)) => ours.dev() == theirs.dev() && ours.ino() == theirs.ino(),
            _ => false,
        }
    }

    /// Gives the stored file the name `path` too (a hard link to the very
    /// file opened, through `/proc/self/fd`), with `modified` as its
    /// modification time. Fails with `AlreadyExists` when `path` exists,
    /// and with another error when the file is no stored one, `path` is on
    /// another file system (the file left unchanged), or the file is not
    /// this process's to change.
    pub fn link_as(&self, path: &Path, modified: SystemTime) -> io::Result<()> {
        if !self.stored {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "not a stored object's own file",
            ));
        }
        let metadata = self.file.metadata()?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if std::fs::metadata(dir)?.dev() != metadata.dev() {
            return Err(io::Error::new(
                io::ErrorKind::CrossesDevices,
                "the stored file is on another file system",
            ));
        }
        if metadata.modified()? != modified {
            self.file.set_modified(modified)?;
        }
        let fd = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        nix::unistd::linkat(
            AT_FDCWD,
            fd.as_str(),
            AT_FDCWD,
            path,
            AtFlags::AT_SYMLINK_FOLLOW,
        )
        .map_err(io::Error::from)
    }

    /// An anonymous temporary file (in the system's temporary directory,
    /// `/tmp` in Lambda) holding `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Self> {
        let mut file = tempfile::tempfile()?;
        file.write_all(bytes)?;
        Ok(ObjectFile::new(file, bytes.len() as u64))
    }

    /// An anonymous temporary file holding what `reader` yields.
    pub fn from_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut file = tempfile::tempfile()?;
        let len = io::copy(&mut reader, &mut file)?;
        Ok(ObjectFile::new(file, len))
    }

    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A reader over the content from its first byte; it does not move
    /// the file's own position, so readers can be made one after another.
    pub fn reader(&self) -> ObjectReader<'_> {
        ObjectReader {
            object: self,
            at: 0,
        }
    }

    /// The content's length as read and its SHA-256, read in chunks.
    pub fn sha256(&self) -> io::Result<(u64, [u8; 32])> {
        sha256_of(self.reader())
    }

    /// Reads the whole content into memory (for small objects only).
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        self.reader().read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// An [`ObjectFile`] being written: an anonymous temporary file (or the
/// rest of a [`SpoolFile`]), with the SHA-256 and the length of what is
/// written computed as the bytes flow (an export's attachment inflated
/// from its zip, say), so that no one reads it again to name it.
#[derive(Debug)]
pub struct Spool {
    file: Arc<File>,
    /// Where the content starts in the file.
    start: u64,
    hasher: Sha256,
    len: u64,
}

impl Spool {
    /// An empty spool in the system's temporary directory (`/tmp` in
    /// Lambda; `TMPDIR` elsewhere).
    pub fn new() -> io::Result<Self> {
        Ok(Spool::at(Arc::new(tempfile::tempfile()?), 0))
    }

    fn at(file: Arc<File>, start: u64) -> Self {
        Spool {
            file,
            start,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The content written, and its SHA-256 (hex).
    pub fn finish(self) -> (ObjectFile, String) {
        let sha256 = hex::encode(self.hasher.finalize());
        let content = ObjectFile {
            file: self.file,
            start: self.start,
            len: self.len,
            stored: false,
        };
        (content, sha256)
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write_at(buf, self.start + self.len)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One anonymous temporary file holding many objects one after the other,
/// each written by a [`Spool`] in turn: however many there are, they hold
/// one file descriptor. An export zip's entries are spooled so, since a
/// file each would run an export with a thousand photos into the limit on
/// open files (1,024 in AWS Lambda, and the usual soft limit elsewhere).
#[derive(Debug)]
pub struct SpoolFile {
    file: Arc<File>,
    /// Where the next spool starts: the end of the last one finished.
    end: u64,
}

impl SpoolFile {
    /// An empty file in the system's temporary directory (see
    /// [`Spool::new`]).
    pub fn new() -> io::Result<Self> {
        Ok(SpoolFile {
            file: Arc::new(tempfile::tempfile()?),
            end: 0,
        })
    }

    /// A spool writing after the objects finished so far. One at a time:
    /// finish it ([`SpoolFile::finish`]) or drop it before making the next
    /// (a dropped spool's bytes are written over by the next).
    pub fn spool(&self) -> Spool {
        Spool::at(Arc::clone(&self.file), self.end)
    }

    /// Finishes a spool of this file (see [`Spool::finish`]); the next
    /// spool writes after its content.
    pub fn finish(&mut self, spool: Spool) -> (ObjectFile, String) {
        self.end = spool.start + spool.len;
        spool.finish()
    }
}

/// A positional reader over an [`ObjectFile`]: [`Read`] and [`Seek`]
/// within the content.
#[derive(Debug)]
pub struct ObjectReader<'a> {
    object: &'a ObjectFile,
    at: u64,
}

impl Read for ObjectReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.object.len.saturating_sub(self.at);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let at = self.object.start + self.at;
        let read = self.object.file.read_at(&mut buf[..want], at)?;
        self.at += read as u64;
        Ok(read)
    }
}

impl Seek for ObjectReader<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let target = match pos {
            io::SeekFrom::Start(at) => Some(at),
            io::SeekFrom::End(delta) => self.object.len.checked_add_signed(delta),
            io::SeekFrom::Current(delta) => self.at.checked_add_signed(delta),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.at = target;
        Ok(target)
    }
}

/// The number of bytes `reader` yields and their SHA-256, read in 64 KiB
/// chunks (an interrupted read is retried).
pub fn sha256_of(mut reader: impl Read) -> io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let mut chunk = vec![0; 64 * 1024];
    let mut len = 0;
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&chunk[..read]);
        len += read as u64;
    }
    Ok((len, hasher.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_are_independent_and_seekable() {
        let object = ObjectFile::from_bytes(b"hello world").unwrap();
        let mut first = object.reader();
        let mut five = [0; 5];
        first.read_exact(&mut five).unwrap();
        assert_eq!(&five, b"hello");
        assert_eq!(object.read_all().unwrap(), b"hello world");
        first.seek(io::SeekFrom::End(-5)).unwrap();
        let mut rest = String::new();
        first.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "world");
        assert_eq!(object.len(), 11);
    }

    #[test]
    fn a_spool_hashes_and_counts_what_flows_through_it() {
        let mut spool = Spool::new().unwrap();
        spool.write_all(b"jpeg ").unwrap();
        spool.write_all(b"bytes").unwrap();
        assert_eq!(spool.len(), 10);
        let (object, sha256) = spool.finish();
        assert_eq!(object.read_all().unwrap(), b"jpeg bytes");
        // sha256("jpeg bytes"), computed with sha256sum
        assert_eq!(
            sha256,
            "1b48e21282963dfba2ffff3a4c331471242fe42fd0a51161e56df72085c445c9"
        );
    }

    #[test]
    fn spools_of_one_file_follow_one_another_and_read_back_alone() {
        let mut spools = SpoolFile::new().unwrap();
        let mut first = spools.spool();
        first.write_all(b"jpeg bytes").unwrap();
        let (first, first_sha256) = spools.finish(first);
        // A spool dropped unfinished (an entry refused half-way) is
        // written over by the next.
        let mut dropped = spools.spool();
        dropped.write_all(b"a zip bomb's first bytes").unwrap();
        drop(dropped);
        let mut second = spools.spool();
        second.write_all(b"hello world").unwrap();
        let (second, _) = spools.finish(second);
        assert_eq!(first.read_all().unwrap(), b"jpeg bytes");
        assert_eq!(
            first_sha256,
            "1b48e21282963dfba2ffff3a4c331471242fe42fd0a51161e56df72085c445c9"
        );
        assert_eq!(second.read_all().unwrap(), b"hello world");
        let mut reader = second.reader();
        reader.seek(io::SeekFrom::End(-5)).unwrap();
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "world");
        // A clone shares the file.
        assert_eq!(first.clone().read_all().unwrap(), b"jpeg bytes");
    }
}
