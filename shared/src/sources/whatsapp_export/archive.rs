//! Reading an export `.zip` safely: the chat text and the media beside it.
//!
//! Entry names that could escape a directory (`..`, absolute paths, drive
//! letters, backslashes) are refused, as are archives over the configured
//! bounds on entry count, total uncompressed size and compression ratio
//! (zip bombs). Sizes are counted while decompressing, not taken from the
//! archive's own headers, which can lie.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::{MediaRef, content_type};

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
    /// More entries than allowed.
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
    /// No chat text (`_chat.txt` or `WhatsApp Chat ….txt`) in the archive.
    #[error("no chat text file (_chat.txt or a single .txt) in the archive")]
    NoChat,
    /// The chat text is not UTF-8.
    #[error("chat text {0:?} is not UTF-8")]
    NotUtf8(String),
}

/// A media file from the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The file name as the chat refers to it (the entry's base name).
    pub name: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// The contents of an export zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBundle {
    /// The chat text entry's base name.
    pub chat_name: String,
    /// The chat text.
    pub chat_text: String,
    /// Every other file, in archive order.
    pub media: Vec<MediaFile>,
}

impl ExportBundle {
    /// The name that gives the chat its title: the text entry's own name
    /// (`WhatsApp Chat with Bob.txt`), or the zip's name when the entry is
    /// iOS's anonymous `_chat.txt`.
    pub fn title_name<'a>(&'a self, zip_name: &'a str) -> &'a str {
        match self.chat_name.as_str() {
            "_chat.txt" => zip_name,
            name => name,
        }
    }

    /// The media files as the chat parser links them, by file name, with
    /// their archive keys (`media/<sha256>`).
    pub fn media_refs(&self) -> HashMap<String, MediaRef> {
        self.media
            .iter()
            .map(|file| {
                let media = MediaRef {
                    size: file.bytes.len() as u64,
                    sha256: file.sha256.clone(),
                    content_type: content_type(&file.name).to_owned(),
                    object_key: crate::layout::media_key(&file.sha256),
                };
                (file.name.clone(), media)
            })
            .collect()
    }
}

/// Opens an export zip, checking every bound before trusting any entry.
pub fn read_zip(bytes: &[u8], limits: &ZipLimits) -> Result<ExportBundle, ZipError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ZipError::Malformed(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(ZipError::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        });
    }
    let mut total = 0u64;
    let mut files = Vec::new();
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
        files.push((base_name(&name).to_owned(), content));
    }
    let (chat_name, chat) = files.remove(chat_index(&files)?);
    let chat_text = String::from_utf8(chat).map_err(|_| ZipError::NotUtf8(chat_name.clone()))?;
    let media = files
        .into_iter()
        .map(|(name, bytes)| MediaFile {
            sha256: hex::encode(Sha256::digest(&bytes)),
            name,
            bytes,
        })
        .collect();
    Ok(ExportBundle {
        chat_name,
        chat_text,
        media,
    })
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

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_text(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".txt") && !name.starts_with("._")
}

/// `_chat.txt` wins; otherwise the one `.txt` whose name says it is a chat,
/// otherwise the only `.txt`. Other `.txt` files are media (shared documents).
fn chat_index(files: &[(String, Vec<u8>)]) -> Result<usize, ZipError> {
    let named = |pred: &dyn Fn(&str) -> bool| files.iter().position(|(name, _)| pred(name));
    let mut texts = files
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| is_text(name));
    let only_text = match (texts.next(), texts.next()) {
        (Some((index, _)), None) => Some(index),
        _ => None,
    };
    named(&|name| name == "_chat.txt")
        .or_else(|| named(&|name| is_text(name) && name.to_lowercase().contains("whatsapp")))
        .or(only_text)
        .ok_or(ZipError::NoChat)
}
