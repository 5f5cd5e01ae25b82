//! Reading an export `.zip` safely: the chat texts and the files beside
//! them.
//!
//! Entry names that could escape a directory (`..`, absolute paths, drive
//! letters, backslashes) are refused, as are archives over the configured
//! bounds on entry count, total uncompressed size and compression ratio
//! (zip bombs). Sizes are counted while decompressing, not taken from the
//! archive's own headers, which can lie. The entry count is the central
//! directory's, read before the archive is indexed: the zip reader keys
//! entries by name, so repeated names would pass the bound and hide all but
//! one entry. An archive that names an entry twice, or whose entries share
//! compressed data, is refused for the same reason: what it holds depends
//! on which reader reads it.
//!
//! Every entry is kept by its full path. A zip may hold several chat texts
//! (`_chat.txt`, `WhatsApp Chat with Bob.txt`, one in a folder): each is
//! read; the other files are the media the messages refer to by base name
//! (see `open`).
//!
//! The archive is read from a file (any `Read + Seek`), never whole: the
//! pre-check reads the central directory from the end of the file, and
//! every entry is inflated straight into a [`Spool`], its SHA-256 and size
//! computed and its bounds checked as the bytes flow. So a bomb stops at
//! its bound with memory at one copy buffer, and an attachment of any size
//! costs disk, not memory. The entries' spools follow one another in one
//! anonymous temporary file (a [`SpoolFile`]): a file each would take a
//! file descriptor each, and an export with a thousand photos would run
//! into the limit on open files (1,024 in AWS Lambda). Only the chat
//! texts, which are parsed as text, are read back into memory once they
//! have passed the bounds.

use std::collections::HashSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use super::conversation;
use crate::store::{ObjectFile, Spool, SpoolFile};

/// Bounds applied to every export zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most entries an archive may hold.
    pub max_entries: usize,
    /// Most bytes all entries may decompress to together.
    pub max_total_bytes: u64,
    /// Largest uncompressed / compressed ratio of one entry.
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 10_000,
            max_total_bytes: 2 << 30,
            max_ratio: 200,
        }
    }
}

/// Why an export zip was refused, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The bytes are not a readable zip archive.
    #[error("not a readable zip archive: {0}")]
    Malformed(String),
    /// An entry name could write outside the extraction directory.
    #[error("unsafe entry name {0:?} (absolute path, drive letter or `..`)")]
    UnsafeName(String),
    /// More entries than allowed (counted in the central directory, with
    /// repeated names).
    #[error("{count} entries, more than the limit of {limit}")]
    TooManyEntries {
        /// Entries in the archive.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Decompressed content exceeds the total size bound.
    #[error("uncompressed content exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// An entry decompresses far more than its compressed size (a zip bomb).
    #[error("entry {name:?} expands more than {limit}:1")]
    RatioExceeded {
        /// The entry name.
        name: String,
        /// The configured ratio.
        limit: u64,
    },
    /// Two entries have one name: readers disagree on which one it holds.
    #[error("entry {0:?} is in the archive more than once")]
    RepeatedName(String),
    /// Entries overlap: their headers or compressed data share bytes.
    #[error("entries share compressed data (overlapping entries)")]
    SharedData,
    /// No chat text (`_chat.txt` or `WhatsApp Chat ….txt`) in the archive.
    #[error("no chat text file (_chat.txt or a single .txt) in the archive")]
    NoChat,
    /// No chat text is UTF-8.
    #[error("chat text {0:?} is not UTF-8")]
    NotUtf8(String),
    /// An entry could not be kept in its temporary file (the disk is full,
    /// say): nothing is wrong with the archive, so it is no reason to
    /// refuse it (see [`ZipError::is_local`]).
    #[error("entry {name:?}: cannot keep it in a temporary file: {source}")]
    Spool {
        /// The entry name.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The file the archive is read from could not be read (an I/O error
    /// of this machine, not the archive's content: see
    /// [`ZipError::is_local`]).
    #[error("{what}: cannot read the archive's file: {source}")]
    Read {
        /// What was being read.
        what: String,
        /// The operating system's error.
        source: io::Error,
    },
}

impl ZipError {
    /// Whether the failure is this machine's (a temporary file that could
    /// not be written, a file that could not be read), not the archive's:
    /// reading it again may succeed.
    pub fn is_local(&self) -> bool {
        matches!(self, ZipError::Spool { .. } | ZipError::Read { .. })
    }

    /// The error for a failed read of `what`: the operating system's own
    /// errors (EIO, ENOSPC, EACCES) are this machine's; errors the zip and
    /// deflate readers make of the bytes (bad checksum, corrupt stream,
    /// early end) are the archive's.
    fn read(what: String, e: io::Error) -> ZipError {
        if e.raw_os_error().is_some() {
            ZipError::Read { what, source: e }
        } else {
            ZipError::Malformed(format!("{what}: {e}"))
        }
    }
}

/// A file from the archive, in a temporary file of its own.
#[derive(Debug)]
pub struct MediaFile {
    /// The entry's full path in the archive.
    pub path: String,
    /// The content.
    pub content: ObjectFile,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl MediaFile {
    /// A file at `path` holding `bytes` (a chat text that could not be
    /// read, kept as a file), spooled to a temporary file.
    pub fn from_bytes(path: String, bytes: &[u8]) -> io::Result<Self> {
        let mut spool = Spool::new()?;
        io::Write::write_all(&mut spool, bytes)?;
        let (content, sha256) = spool.finish();
        Ok(MediaFile {
            path,
            content,
            sha256,
        })
    }

    /// The content's size in bytes.
    pub fn size(&self) -> u64 {
        self.content.len()
    }

    /// The file name as a message refers to it: the path's last segment.
    pub fn name(&self) -> &str {
        base_name(&self.path)
    }

    /// The folder the file is in (empty at the top).
    pub fn folder(&self) -> &str {
        folder(&self.path)
    }
}

/// A chat text from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatText {
    /// The entry's full path in the archive.
    pub path: String,
    /// The text.
    pub text: String,
}

impl ChatText {
    /// The name that gives the chat its title: the entry's own name
    /// (`WhatsApp Chat with Bob.txt`); for iOS's anonymous `_chat.txt`, the
    /// folder it is in when that is named like an export, else the zip's.
    pub fn title_name<'a>(&'a self, zip_name: &'a str) -> &'a str {
        let name = base_name(&self.path);
        if name != "_chat.txt" {
            return name;
        }
        let folder = base_name(folder(&self.path));
        match conversation::title(folder) {
            Some(_) => folder,
            None => zip_name,
        }
    }

    /// The folder the chat text is in (empty at the top).
    pub fn folder(&self) -> &str {
        folder(&self.path)
    }
}

/// The contents of an export zip.
#[derive(Debug)]
pub struct ExportBundle {
    /// The chat texts, in archive order; at least one.
    pub chats: Vec<ChatText>,
    /// Every other file, in archive order, with the chat texts that are not
    /// UTF-8 (see [`ExportBundle::not_utf8`]).
    pub files: Vec<MediaFile>,
    /// The paths of chat texts that are not UTF-8, kept in `files`.
    pub not_utf8: Vec<String>,
}

/// Opens an export zip (a file, or any `Read + Seek`), checking every
/// bound before trusting any entry.
pub fn read_zip<R: Read + Seek>(
    mut reader: R,
    limits: &ZipLimits,
) -> Result<ExportBundle, ZipError> {
    let names = central_names(&mut reader, limits)?;
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| ZipError::Malformed(e.to_string()))?;
    let count = names.as_ref().map_or(archive.len(), Vec::len);
    if count > limits.max_entries {
        return Err(ZipError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    if archive.has_duplicate_names() {
        let repeated = names
            .as_deref()
            .and_then(first_repeated)
            .unwrap_or_else(|| "?".to_owned());
        return Err(ZipError::RepeatedName(repeated));
    }
    let overlapping = archive
        .has_overlapping_entries()
        .map_err(|e| ZipError::Malformed(e.to_string()))?;
    if overlapping {
        return Err(ZipError::SharedData);
    }
    // Every name is checked, and the chat texts told apart, before any
    // entry is inflated.
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| ZipError::Malformed(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| ZipError::Malformed(e.to_string()))?
            .into_owned();
        check_name(&name)?;
        if !entry.is_dir() {
            files.push((index, name));
        }
    }
    let chats = chat_indexes(&files)?;
    let mut total = 0u64;
    let mut bundle = ExportBundle {
        chats: Vec::new(),
        files: Vec::new(),
        not_utf8: Vec::new(),
    };
    let mut spools = None;
    for (at, (index, path)) in files.into_iter().enumerate() {
        let entry = archive
            .by_index(index)
            .map_err(|e| ZipError::Malformed(e.to_string()))?;
        let file = inflate(entry, path, limits, &mut total, &mut spools)?;
        if !chats.contains(&at) {
            bundle.files.push(file);
            continue;
        }
        let spool_error = |source| ZipError::Spool {
            name: file.path.clone(),
            source,
        };
        let bytes = file.content.read_all().map_err(spool_error)?;
        match String::from_utf8(bytes) {
            Ok(text) => bundle.chats.push(ChatText {
                path: file.path,
                text,
            }),
            Err(_) => {
                bundle.not_utf8.push(file.path.clone());
                bundle.files.push(file);
            }
        }
    }
    if bundle.chats.is_empty() {
        return Err(ZipError::NotUtf8(bundle.not_utf8.swap_remove(0)));
    }
    Ok(bundle)
}

/// The buffer an entry is inflated through: memory stays at this, however
/// large the entry.
const INFLATE_BUFFER: usize = 256 << 10;

/// Inflates one entry into a spool of the archive's spool file (made with
/// the first entry), within what is left of the total bound (`total`
/// counts what the entries before it took) and within the ratio bound,
/// both counted on the bytes as they come out: the copy stops one byte
/// past the bound.
fn inflate<R: Read>(
    mut entry: zip::read::ZipFile<'_, R>,
    path: String,
    limits: &ZipLimits,
    total: &mut u64,
    spools: &mut Option<SpoolFile>,
) -> Result<MediaFile, ZipError> {
    let budget = limits.max_total_bytes - *total;
    let ratio_cap = entry
        .compressed_size()
        .max(1)
        .saturating_mul(limits.max_ratio);
    let cap = budget.min(ratio_cap);
    if spools.is_none() {
        match SpoolFile::new() {
            Ok(made) => *spools = Some(made),
            Err(source) => return Err(ZipError::Spool { name: path, source }),
        }
    }
    let spools = spools.as_mut().expect("made above");
    let mut spool = spools.spool();
    let mut buffer = vec![0; INFLATE_BUFFER];
    let mut left = cap.saturating_add(1);
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = match entry.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ZipError::read(format!("entry {path:?}"), e)),
        };
        if let Err(source) = spool.write_all(&buffer[..read]) {
            return Err(ZipError::Spool { name: path, source });
        }
        left -= read as u64;
    }
    let len = spool.len();
    if len > cap {
        return Err(if len > budget {
            ZipError::TooLarge {
                limit: limits.max_total_bytes,
            }
        } else {
            ZipError::RatioExceeded {
                name: path,
                limit: limits.max_ratio,
            }
        });
    }
    *total += len;
    let (content, sha256) = spools.finish(spool);
    Ok(MediaFile {
        path,
        content,
        sha256,
    })
}

/// The names of the central directory's entries, repeated names included,
/// as the end-of-central-directory record declares them; an archive
/// declaring more entries than the limit is refused before anything is
/// read. `None` when the directory is not where the record says (prepended
/// data, a damaged archive): the zip reader then decides. Only the file's
/// tail and its central directory are read.
fn central_names<R: Read + Seek>(
    reader: &mut R,
    limits: &ZipLimits,
) -> Result<Option<Vec<Vec<u8>>>, ZipError> {
    let malformed = |e: io::Error| ZipError::read("the central directory".to_owned(), e);
    let Some((count, start)) = central_directory(reader).map_err(malformed)? else {
        return Ok(None);
    };
    if count > limits.max_entries as u64 {
        return Err(ZipError::TooManyEntries {
            count: usize::try_from(count).unwrap_or(usize::MAX),
            limit: limits.max_entries,
        });
    }
    reader.seek(SeekFrom::Start(start)).map_err(malformed)?;
    let mut directory = BufReader::new(reader);
    let mut names = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let mut header = [0; 46];
        if read_or_end(&mut directory, &mut header).map_err(malformed)?
            || !header.starts_with(b"PK\x01\x02")
        {
            return Ok(None);
        }
        let field = |offset: usize| u16::from_le_bytes([header[offset], header[offset + 1]]);
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let mut name = vec![0; usize::from(name_len)];
        if read_or_end(&mut directory, &mut name).map_err(malformed)? {
            return Ok(None);
        }
        names.push(name);
        let skip = i64::from(extra_len) + i64::from(comment_len);
        directory.seek_relative(skip).map_err(malformed)?;
    }
    Ok(Some(names))
}

/// Fills `buf`; `true` when the file ends first.
fn read_or_end(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(true),
        Err(e) => Err(e),
    }
}

/// Where an end-of-central-directory record may start: within the last
/// 22 bytes plus the longest comment.
const EOCD_SEARCH: u64 = 22 + u16::MAX as u64;

/// The entry count and the offset of the central directory, from the last
/// end-of-central-directory record (and its ZIP64 form when the record
/// says so), read from the file's tail. The directory is taken to end
/// where the record starts.
fn central_directory<R: Read + Seek>(reader: &mut R) -> io::Result<Option<(u64, u64)>> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let len = reader.seek(SeekFrom::End(0))?;
    let tail_start = len.saturating_sub(EOCD_SEARCH);
    reader.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::with_capacity((len - tail_start) as usize);
    reader.take(EOCD_SEARCH).read_to_end(&mut tail)?;
    let Some(last) = tail.len().checked_sub(22) else {
        return Ok(None);
    };
    let Some(eocd) = (0..=last).rev().find(|&i| tail[i..].starts_with(EOCD)) else {
        return Ok(None);
    };
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([tail[i], tail[i + 1]]));
    let u32_at = |i: usize| {
        u64::from(u32::from_le_bytes(
            tail[i..i + 4].try_into().expect("4 bytes"),
        ))
    };
    let (count, size) = (u16_at(eocd + 10), u32_at(eocd + 12));
    let eocd_at = tail_start + eocd as u64;
    if count != 0xFFFF && size != 0xFFFF_FFFF {
        return Ok(eocd_at.checked_sub(size).map(|start| (count, start)));
    }
    // ZIP64: the locator right before the record names the ZIP64 record.
    let Some(locator_at) = eocd_at.checked_sub(20) else {
        return Ok(None);
    };
    let mut locator = [0; 20];
    reader.seek(SeekFrom::Start(locator_at))?;
    if read_or_end(reader, &mut locator)? || !locator.starts_with(b"PK\x06\x07") {
        return Ok(None);
    }
    let record_at = u64::from_le_bytes(locator[8..16].try_into().expect("8 bytes"));
    let mut zip64 = [0; 56];
    reader.seek(SeekFrom::Start(record_at))?;
    if read_or_end(reader, &mut zip64)? || !zip64.starts_with(b"PK\x06\x06") {
        return Ok(None);
    }
    let u64_at = |i: usize| u64::from_le_bytes(zip64[i..i + 8].try_into().expect("8 bytes"));
    let (count, size) = (u64_at(32), u64_at(40));
    Ok(record_at.checked_sub(size).map(|start| (count, start)))
}

/// The first name that is in `names` twice, for the report.
fn first_repeated(names: &[Vec<u8>]) -> Option<String> {
    let mut seen = HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|name| !seen.insert(name.as_slice()))
        .map(|name| String::from_utf8_lossy(name).into_owned())
}

fn check_name(name: &str) -> Result<(), ZipError> {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    let unsafe_name = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || drive
        || name.split('/').any(|seg| seg == "..");
    if unsafe_name {
        Err(ZipError::UnsafeName(name.to_owned()))
    } else {
        Ok(())
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The folder part of a path (empty at the top).
fn folder(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(folder, _)| folder)
}

fn is_text(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".txt") && !name.starts_with("._")
}

/// Whether an entry is named like a chat text: `_chat.txt`, or a `.txt`
/// named like an export (`WhatsApp Chat with Bob.txt`, in any language the
/// app writes, or any name with "whatsapp" in it).
fn is_chat_name(path: &str) -> bool {
    let name = base_name(path);
    is_text(name)
        && (name == "_chat.txt"
            || conversation::title(name).is_some()
            || name.to_lowercase().contains("whatsapp"))
}

/// The chat texts: every entry named like one; when none is, the only
/// `.txt`. Other `.txt` files are media (shared documents).
fn chat_indexes(entries: &[(usize, String)]) -> Result<Vec<usize>, ZipError> {
    let named: Vec<usize> = (0..entries.len())
        .filter(|&i| is_chat_name(&entries[i].1))
        .collect();
    if !named.is_empty() {
        return Ok(named);
    }
    let texts: Vec<usize> = (0..entries.len())
        .filter(|&i| is_text(base_name(&entries[i].1)))
        .collect();
    match texts.as_slice() {
        [only] => Ok(vec![*only]),
        _ => Err(ZipError::NoChat),
    }
}
