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

use std::collections::HashSet;
use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::conversation;

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

/// Why an export zip was refused.
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
}

/// A file from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The entry's full path in the archive.
    pub path: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl MediaFile {
    /// A file of `bytes` at `path`.
    pub fn new(path: String, bytes: Vec<u8>) -> Self {
        MediaFile {
            sha256: hex::encode(Sha256::digest(&bytes)),
            path,
            bytes,
        }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBundle {
    /// The chat texts, in archive order; at least one.
    pub chats: Vec<ChatText>,
    /// Every other file, in archive order, with the chat texts that are not
    /// UTF-8 (see [`ExportBundle::not_utf8`]).
    pub files: Vec<MediaFile>,
    /// The paths of chat texts that are not UTF-8, kept in `files`.
    pub not_utf8: Vec<String>,
}

/// Opens an export zip, checking every bound before trusting any entry.
pub fn read_zip(bytes: &[u8], limits: &ZipLimits) -> Result<ExportBundle, ZipError> {
    let names = central_names(bytes, limits)?;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ZipError::Malformed(e.to_string()))?;
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
    let mut total = 0u64;
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| ZipError::Malformed(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| ZipError::Malformed(e.to_string()))?
            .into_owned();
        check_name(&name)?;
        if entry.is_dir() {
            continue;
        }
        let budget = limits.max_total_bytes - total;
        let ratio_cap = entry
            .compressed_size()
            .max(1)
            .saturating_mul(limits.max_ratio);
        let cap = budget.min(ratio_cap);
        let mut content = Vec::new();
        (&mut entry)
            .take(cap.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| ZipError::Malformed(format!("entry {name:?}: {e}")))?;
        let len = content.len() as u64;
        if len > cap {
            return Err(if len > budget {
                ZipError::TooLarge {
                    limit: limits.max_total_bytes,
                }
            } else {
                ZipError::RatioExceeded {
                    name,
                    limit: limits.max_ratio,
                }
            });
        }
        total += len;
        entries.push((name, content));
    }
    let chats = chat_indexes(&entries)?;
    let mut bundle = ExportBundle {
        chats: Vec::new(),
        files: Vec::new(),
        not_utf8: Vec::new(),
    };
    for (index, (path, bytes)) in entries.into_iter().enumerate() {
        if !chats.contains(&index) {
            bundle.files.push(MediaFile::new(path, bytes));
            continue;
        }
        match String::from_utf8(bytes) {
            Ok(text) => bundle.chats.push(ChatText { path, text }),
            Err(e) => {
                bundle.not_utf8.push(path.clone());
                bundle.files.push(MediaFile::new(path, e.into_bytes()));
            }
        }
    }
    if bundle.chats.is_empty() {
        return Err(ZipError::NotUtf8(bundle.not_utf8.swap_remove(0)));
    }
    Ok(bundle)
}

/// The names of the central directory's entries, repeated names included,
/// as the end-of-central-directory record declares them; an archive
/// declaring more entries than the limit is refused before anything is
/// read. `None` when the directory is not where the record says (prepended
/// data, a damaged archive): the zip reader then decides.
fn central_names<'b>(
    bytes: &'b [u8],
    limits: &ZipLimits,
) -> Result<Option<Vec<&'b [u8]>>, ZipError> {
    let Some((count, start)) = central_directory(bytes) else {
        return Ok(None);
    };
    if count > limits.max_entries as u64 {
        return Err(ZipError::TooManyEntries {
            count: usize::try_from(count).unwrap_or(usize::MAX),
            limit: limits.max_entries,
        });
    }
    let mut names = Vec::with_capacity(count as usize);
    let mut at = start;
    for _ in 0..count {
        let header = bytes
            .get(at..at + 46)
            .filter(|h| h.starts_with(b"PK\x01\x02"));
        let Some(header) = header else {
            return Ok(None);
        };
        let field =
            |offset: usize| usize::from(u16::from_le_bytes([header[offset], header[offset + 1]]));
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let Some(name) = bytes.get(at + 46..at + 46 + name_len) else {
            return Ok(None);
        };
        names.push(name);
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(Some(names))
}

/// The entry count and the offset of the central directory, from the last
/// end-of-central-directory record (and its ZIP64 form when the record
/// says so). The directory is taken to end where the record starts.
fn central_directory(bytes: &[u8]) -> Option<(u64, usize)> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let last = bytes.len().checked_sub(22)?;
    let first = last.saturating_sub(u16::MAX as usize);
    let eocd = (first..=last)
        .rev()
        .find(|&i| bytes[i..].starts_with(EOCD))?;
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([bytes[i], bytes[i + 1]]));
    let u32_at = |i: usize| {
        u64::from(u32::from_le_bytes(
            bytes[i..i + 4].try_into().expect("4 bytes"),
        ))
    };
    let (mut count, mut size, mut end) = (u16_at(eocd + 10), u32_at(eocd + 12), eocd);
    if count == 0xFFFF || size == 0xFFFF_FFFF {
        let locator = eocd.checked_sub(20)?;
        if !bytes[locator..].starts_with(b"PK\x06\x07") {
            return None;
        }
        let record = usize::try_from(u64::from_le_bytes(
            bytes.get(locator + 8..locator + 16)?.try_into().ok()?,
        ))
        .ok()?;
        let zip64 = bytes.get(record..record + 56)?;
        if !zip64.starts_with(b"PK\x06\x06") {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(zip64[i..i + 8].try_into().expect("8 bytes"));
        (count, size, end) = (u64_at(32), u64_at(40), record);
    }
    let start = end.checked_sub(usize::try_from(size).ok()?)?;
    Some((count, start))
}

/// The first name that is in `names` twice, for the report.
fn first_repeated(names: &[&[u8]]) -> Option<String> {
    let mut seen = HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|name| !seen.insert(**name))
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
fn chat_indexes(entries: &[(String, Vec<u8>)]) -> Result<Vec<usize>, ZipError> {
    let named: Vec<usize> = (0..entries.len())
        .filter(|&i| is_chat_name(&entries[i].0))
        .collect();
    if !named.is_empty() {
        return Ok(named);
    }
    let texts: Vec<usize> = (0..entries.len())
        .filter(|&i| is_text(base_name(&entries[i].0)))
        .collect();
    match texts.as_slice() {
        [only] => Ok(vec![*only]),
        _ => Err(ZipError::NoChat),
    }
}
