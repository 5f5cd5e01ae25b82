//! Opening one export file, a chat `.txt` or a `.zip` with media: the one
//! way collect and `archiver inspect` read an export.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use chrono_tz::Tz;

use super::text::clean_name;
use super::{Chat, ChatSummary, DateOrder, ExportContext, ExportError, MediaFile, MediaRef};
use super::{ZipError, ZipLimits, read_zip};
use crate::item::JsonLines;

/// Why a file cannot be opened as an export.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The zip is unsafe or unreadable.
    #[error(transparent)]
    Zip(#[from] ZipError),
    /// A `.txt` export that is not UTF-8.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// The name ends neither in `.txt` nor in `.zip`.
    #[error("not an export (.txt or .zip)")]
    NotAnExport,
}

/// Why an opened export's items could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The text is not a chat export.
    #[error(transparent)]
    Chat(#[from] ExportError),
    /// The output refused the lines.
    #[error("cannot write the items: {0}")]
    Write(#[from] std::io::Error),
}

/// An opened export: its chat text, the name its title comes from, and the
/// media beside it (a zip's other entries).
#[derive(Debug)]
pub struct Export<'b> {
    text: Cow<'b, str>,
    chat_name: String,
    media: HashMap<String, MediaRef>,
    files: Vec<MediaFile>,
}

/// How an export's items are read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions<'c> {
    /// The employee whose phone made the export.
    pub custodian: &'c str,
    /// Time zone of the exporting device.
    pub tz: Tz,
    /// Forces the date order instead of inferring it.
    pub date_order: Option<DateOrder>,
}

/// The two forms of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The chat text alone (`.txt`).
    Text,
    /// A zip with the chat text and its media.
    Zip,
}

impl Format {
    /// The form a file name says (`.txt` or `.zip`, in any case); `None`
    /// for any other name.
    pub fn of_name(file_name: &str) -> Option<Format> {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(Format::Zip)
        } else if lower.ends_with(".txt") {
            Some(Format::Text)
        } else {
            None
        }
    }
}

/// Opens `bytes` as the export named `file_name`, in the form its name
/// says ([`Format::of_name`]); any other name is [`OpenError::NotAnExport`].
pub fn open<'b>(
    bytes: &'b [u8],
    file_name: &str,
    limits: &ZipLimits,
) -> Result<Export<'b>, OpenError> {
    let format = Format::of_name(file_name).ok_or(OpenError::NotAnExport)?;
    open_as(bytes, format, file_name, limits)
}

/// Opens `bytes` as an export of the given form, named `file_name` (which
/// gives a text export its chat title).
pub fn open_as<'b>(
    bytes: &'b [u8],
    format: Format,
    file_name: &str,
    limits: &ZipLimits,
) -> Result<Export<'b>, OpenError> {
    if format == Format::Zip {
        let bundle = read_zip(bytes, limits)?;
        // Keyed as the parser reads names in the chat text, without
        // invisible marks, so that a file whose name holds one is found.
        let media = bundle
            .media_refs()
            .into_iter()
            .map(|(name, media)| (clean_name(&name).into_owned(), media))
            .collect();
        let chat_name = bundle.title_name(file_name).to_owned();
        Ok(Export {
            text: Cow::Owned(bundle.chat_text),
            chat_name,
            media,
            files: bundle.media,
        })
    } else {
        Ok(Export {
            text: Cow::Borrowed(utf8(bytes).map_err(OpenError::NotUtf8)?),
            chat_name: file_name.to_owned(),
            media: HashMap::new(),
            files: Vec::new(),
        })
    }
}

/// The bytes as text, checked with SIMD; std's check only runs to describe
/// an error.
fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

impl Export<'_> {
    /// The chat text's length in bytes.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Reads the chat and writes its items as JSON lines to `out`, in file
    /// order; returns what the parse found and the output.
    pub fn write_items<W: Write>(
        &self,
        opts: &ReadOptions<'_>,
        out: W,
    ) -> Result<(ChatSummary, W), ReadError> {
        let ctx = ExportContext {
            custodian: opts.custodian,
            file_name: &self.chat_name,
            tz: opts.tz,
            date_order: opts.date_order,
        };
        let chat = Chat::prepare(&self.text, &ctx)?;
        let lookup = |name: &str| self.media.get(name).cloned();
        let mut lines = JsonLines::new(out);
        let mut failed = None;
        let summary = chat.visit_items(&lookup, |item| {
            if failed.is_none() {
                failed = lines.write_lent(item).err();
            }
        });
        if let Some(e) = failed {
            return Err(ReadError::Write(e));
        }
        Ok((summary, lines.into_inner()?))
    }

    /// The media files, to be stored under `media/<sha256>`.
    pub fn into_files(self) -> Vec<MediaFile> {
        self.files
    }
}
