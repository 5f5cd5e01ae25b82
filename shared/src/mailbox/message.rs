//! A message to deliver: its bytes in memory or in a local file, and their
//! SHA-256 (recorded in the ledger), read in chunks so that a large
//! message is never held in memory.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::store::ObjectFile;

/// Bytes read or written at once when a message is copied from a file.
const CHUNK: usize = 64 * 1024;

/// A message's bytes and their SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    content: Content<'a>,
    sha256: [u8; 32],
    /// The stored object the bytes were read from, when it is a local
    /// store's own file ([`ObjectFile::stored`]).
    stored: Option<&'a ObjectFile>,
}

/// Where a message's bytes are.
#[derive(Debug, Clone, Copy)]
enum Content<'a> {
    Bytes(&'a [u8]),
    File(&'a ObjectFile),
}

impl<'a> Message<'a> {
    /// A message held in memory.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        Message {
            content: Content::Bytes(bytes),
            sha256: Sha256::digest(bytes).into(),
            stored: None,
        }
    }

    /// A message held in memory, read from `file`: a target on the same
    /// file system as a local store may give the stored file another name
    /// rather than write the bytes again ([`Message::stored_file`]).
    pub fn read_from(self, file: &'a ObjectFile) -> Self {
        Message {
            stored: Some(file),
            ..self
        }
    }

    /// A message in a local file (a stored EML), hashed as it is read once.
    pub fn from_file(file: &'a ObjectFile) -> io::Result<Self> {
        Ok(Message {
            content: Content::File(file),
            sha256: file.sha256()?.1,
            stored: Some(file),
        })
    }

    /// A message in a local file whose SHA-256 was computed before (by
    /// [`Message::from_file`] for an earlier copy of it).
    pub fn from_file_hashed(file: &'a ObjectFile, sha256: [u8; 32]) -> Self {
        Message {
            content: Content::File(file),
            sha256,
            stored: Some(file),
        }
    }

    /// The local store's own file holding the message, when it was read
    /// from one ([`ObjectFile::is_stored`]): its bytes are on disk.
    pub fn stored_file(&self) -> Option<&'a ObjectFile> {
        self.stored.filter(|file| file.is_stored())
    }

    /// The message's length in bytes.
    pub fn len(&self) -> u64 {
        match self.content {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::File(file) => file.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when the message is held in memory.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.content {
            Content::Bytes(bytes) => Some(bytes),
            Content::File(_) => None,
        }
    }

    /// The SHA-256 of the bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// Copies the bytes to `out`, a chunk at a time.
    pub fn copy_to(&self, out: &mut impl Write) -> io::Result<()> {
        match self.content {
            Content::Bytes(bytes) => out.write_all(bytes),
            Content::File(file) => {
                let mut reader = file.reader();
                let mut chunk = vec![0; CHUNK];
                loop {
                    let read = reader.read(&mut chunk)?;
                    if read == 0 {
                        return Ok(());
                    }
                    out.write_all(&chunk[..read])?;
                }
            }
        }
    }

    /// The bytes in chunks of at most 64 KiB, for an async writer (an
    /// IMAP literal): each call returns the next chunk, empty at the end.
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            content: self.content,
            at: 0,
        }
    }
}

/// The chunks of a [`Message`] ([`Message::chunks`]).
#[derive(Debug)]
pub struct Chunks<'a> {
    content: Content<'a>,
    at: u64,
}

impl Chunks<'_> {
    /// Reads the next chunk into `buf` (cleared first); `false` at the end.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        match self.content {
            Content::Bytes(bytes) => {
                let from = usize::try_from(self.at).expect("in memory");
                let to = bytes.len().min(from + CHUNK);
                buf.extend_from_slice(&bytes[from..to]);
            }
            Content::File(file) => {
                let left = file.len().saturating_sub(self.at);
                let want = usize::try_from(left.min(CHUNK as u64)).expect("a chunk");
                buf.resize(want, 0);
                let mut reader = file.reader();
                io::Seek::seek(&mut reader, io::SeekFrom::Start(self.at))?;
                reader.read_exact(buf)?;
            }
        }
        self.at += buf.len() as u64;
        Ok(!buf.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_message_reads_and_hashes_as_the_same_bytes_in_memory() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let file = ObjectFile::from_bytes(&bytes).unwrap();
        let from_file = Message::from_file(&file).unwrap();
        let in_memory = Message::from_bytes(&bytes);
        assert_eq!(from_file.sha256(), in_memory.sha256());
        assert_eq!(from_file.len(), 200_000);
        let mut copied = Vec::new();
        from_file.copy_to(&mut copied).unwrap();
        assert_eq!(copied, bytes);
        let (mut chunked, mut buf) = (Vec::new(), Vec::new());
        let mut chunks = from_file.chunks();
        while chunks.next_into(&mut buf).unwrap() {
            assert!(buf.len() <= CHUNK);
            chunked.extend_from_slice(&buf);
        }
        assert_eq!(chunked, bytes);
    }
}
