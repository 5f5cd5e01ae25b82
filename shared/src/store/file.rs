//! An object's bytes in a local file: how large objects (media, big EMLs,
//! export zips) are read and written without holding them in memory.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// An object's content in a local file of known length.
///
/// A local directory hands out the object's own file (opened read-only);
/// S3 downloads the object into an anonymous temporary file, removed when
/// this is dropped. Reads are positional ([`ObjectFile::reader`]), so one
/// `ObjectFile` can be read several times and by several readers.
#[derive(Debug)]
pub struct ObjectFile {
    file: File,
    len: u64,
}

impl ObjectFile {
    /// The content of `file`, which holds `len` bytes.
    pub fn new(file: File, len: u64) -> Self {
        ObjectFile { file, len }
    }

    /// An anonymous temporary file (in the system's temporary directory,
    /// `/tmp` in Lambda) holding `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Self> {
        let mut file = tempfile::tempfile()?;
        file.write_all(bytes)?;
        Ok(ObjectFile {
            file,
            len: bytes.len() as u64,
        })
    }

    /// An anonymous temporary file holding what `reader` yields.
    pub fn from_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut file = tempfile::tempfile()?;
        let len = io::copy(&mut reader, &mut file)?;
        file.rewind()?;
        Ok(ObjectFile { file, len })
    }

    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The underlying file (for `copy_file_range`-style copies and
    /// readers that need [`Seek`]: use [`ObjectFile::reader`] for those).
    pub fn file(&self) -> &File {
        &self.file
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

/// An [`ObjectFile`] being written: an anonymous temporary file, with the
/// SHA-256 and the length of what is written computed as the bytes flow
/// (an export's attachment inflated from its zip, say), so that no one
/// reads it again to name it.
#[derive(Debug)]
pub struct Spool {
    file: File,
    hasher: Sha256,
    len: u64,
}

impl Spool {
    /// An empty spool in the system's temporary directory (`/tmp` in
    /// Lambda; `TMPDIR` elsewhere).
    pub fn new() -> io::Result<Self> {
        Ok(Spool {
            file: tempfile::tempfile()?,
            hasher: Sha256::new(),
            len: 0,
        })
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
        (ObjectFile::new(self.file, self.len), sha256)
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
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
        let read = self.object.file.read_at(&mut buf[..want], self.at)?;
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
}
