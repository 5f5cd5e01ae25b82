//! Opening one export file, a chat `.txt` or a `.zip` with media: the one
//! way collect and `archiver inspect` read an export.
//!
//! A zip is read whole: every chat text in it is parsed, and every other
//! file reaches the archive. Read from a file ([`open_file`]), only the
//! chat texts are held in memory; the other files are kept in temporary
//! files (see `archive`). A message refers to a file by its base name;
//! the name is resolved to the one entry that has it (or, among several,
//! the one in the chat text's own folder), and a name that stays ambiguous
//! links to nothing and is reported. The files no message refers to (and
//! any chat text that could not be read) are attached to one more item of
//! the chat, so that they reach the mailbox too.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Write};

use chrono_tz::Tz;

use super::text::clean_name;
use super::{Chat, ChatSummary, DateOrder, ExportContext, ExportError, MediaFile, MediaRef};
use super::{ExportBundle, ZipError, ZipLimits, content_type, read_zip};
use crate::item::JsonLines;
use crate::layout;
use crate::store::ObjectFile;

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
    /// The file holding a text export could not be read.
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
}

impl OpenError {
    /// Whether the failure is this machine's (a file it could not read or
    /// write), not the export's: opening it again may succeed.
    pub fn is_local(&self) -> bool {
        match self {
            OpenError::Zip(e) => e.is_local(),
            OpenError::Read(_) => true,
            OpenError::NotUtf8(_) | OpenError::NotAnExport => false,
        }
    }
}

/// Why an opened export's items could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No chat text of the export is a chat export (the first one's error).
    #[error(transparent)]
    Chat(#[from] ExportError),
    /// The output refused the lines.
    #[error("cannot write the items: {0}")]
    Write(#[from] std::io::Error),
    /// A chat text that could not be read could not be kept in a
    /// temporary file, to be attached as a file.
    #[error("cannot keep the unread chat text {path:?} in a temporary file: {source}")]
    Spool {
        /// Its path in the zip.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ReadError {
    /// Whether the failure is this machine's, not the export's (see
    /// [`OpenError::is_local`]).
    pub fn is_local(&self) -> bool {
        match self {
            ReadError::Chat(_) => false,
            ReadError::Write(_) | ReadError::Spool { .. } => true,
        }
    }
}

/// An opened export: its chat texts and the files beside them (a zip's
/// other entries).
#[derive(Debug)]
pub struct Export<'b> {
    chats: Vec<ChatSource<'b>>,
    files: Vec<MediaFile>,
    /// Chat texts that are not UTF-8 (they are in `files`).
    not_utf8: Vec<String>,
}

/// One chat text of an export.
#[derive(Debug)]
struct ChatSource<'b> {
    /// Its path (the file's name for a `.txt` export).
    path: String,
    /// The name its title comes from.
    title_name: String,
    /// The folder it is in, where a file name is looked for first.
    folder: String,
    text: Cow<'b, str>,
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
    /// The author names the custodian appears under, as configured.
    pub custodian_names: &'c [String],
}

/// What reading an export wrote and found.
#[derive(Debug)]
pub struct Written<W> {
    /// What the reading found, for the report.
    pub summary: ExportSummary,
    /// The output, with the items as JSON lines.
    pub out: W,
    /// Every file of the export the items may refer to, to be stored under
    /// `media/<sha256>`.
    pub files: Vec<MediaFile>,
}

/// What reading an export found, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Each chat text read, in archive order.
    pub chats: Vec<ChatSummary>,
    /// Items written, the files item included.
    pub items: u64,
    /// Chat texts that could not be read (they are attached as files).
    pub unread_chats: Vec<UnreadChat>,
    /// File names messages refer to that match several entries.
    pub ambiguous: Vec<Ambiguous>,
    /// The paths of the files no message refers to, attached to the files
    /// item (the unread chat texts among them).
    pub unreferenced: Vec<String>,
}

/// A chat text of a zip that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadChat {
    /// Its path in the zip.
    pub path: String,
    /// Why (names, never content).
    pub reason: String,
}

/// A file name messages refer to that matches several entries of a zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguous {
    /// The name as the messages give it.
    pub name: String,
    /// The entries' paths.
    pub paths: Vec<String>,
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
/// gives a text export its chat title). A zip's files go to temporary
/// files; [`open_file`] reads a zip without holding it in memory.
pub fn open_as<'b>(
    bytes: &'b [u8],
    format: Format,
    file_name: &str,
    limits: &ZipLimits,
) -> Result<Export<'b>, OpenError> {
    match format {
        Format::Zip => Ok(Export::of_zip(
            read_zip(Cursor::new(bytes), limits)?,
            file_name,
        )),
        Format::Text => {
            let text = utf8(bytes).map_err(OpenError::NotUtf8)?;
            Ok(Export::of_text(Cow::Borrowed(text), file_name))
        }
    }
}

/// Opens the export in `file`, named `file_name`, in the form its name
/// says ([`Format::of_name`]): a zip is read from the file (its tail, its
/// entries one by one), a text export into memory (it is parsed as text).
pub fn open_file(
    file: &ObjectFile,
    file_name: &str,
    limits: &ZipLimits,
) -> Result<Export<'static>, OpenError> {
    match Format::of_name(file_name).ok_or(OpenError::NotAnExport)? {
        Format::Zip => Ok(Export::of_zip(read_zip(file.reader(), limits)?, file_name)),
        Format::Text => {
            let bytes = file.read_all().map_err(OpenError::Read)?;
            utf8(&bytes).map_err(OpenError::NotUtf8)?;
            let text = String::from_utf8(bytes).expect("checked as UTF-8 above");
            Ok(Export::of_text(Cow::Owned(text), file_name))
        }
    }
}

impl<'b> Export<'b> {
    /// The export a zip holds.
    fn of_zip(bundle: ExportBundle, file_name: &str) -> Self {
        let chats = bundle
            .chats
            .into_iter()
            .map(|chat| ChatSource {
                title_name: chat.title_name(file_name).to_owned(),
                folder: chat.folder().to_owned(),
                path: chat.path,
                text: Cow::Owned(chat.text),
            })
            .collect();
        Export {
            chats,
            files: bundle.files,
            not_utf8: bundle.not_utf8,
        }
    }

    /// A text export: one chat, titled by the file's name.
    fn of_text(text: Cow<'b, str>, file_name: &str) -> Self {
        Export {
            chats: vec![ChatSource {
                path: file_name.to_owned(),
                title_name: file_name.to_owned(),
                folder: String::new(),
                text,
            }],
            files: Vec::new(),
            not_utf8: Vec::new(),
        }
    }
}

/// The bytes as text, checked with SIMD; std's check only runs to describe
/// an error.
fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

/// The files of an export as the messages find them.
struct Files<'f> {
    files: &'f [MediaFile],
    refs: Vec<MediaRef>,
    /// Entry indexes by path and by base name.
    by_path: HashMap<&'f str, usize>,
    /// Base names as the parser reads them in the chat text, without
    /// invisible marks, so that a file whose name holds one is found.
    by_name: HashMap<Cow<'f, str>, Vec<usize>>,
    /// Which files a message referred to.
    referred: Vec<Cell<bool>>,
    /// Names that matched several entries, with those entries.
    ambiguous: RefCell<BTreeMap<String, Vec<usize>>>,
}

impl<'f> Files<'f> {
    fn new(files: &'f [MediaFile]) -> Self {
        let mut by_name: HashMap<Cow<'f, str>, Vec<usize>> = HashMap::new();
        for (index, file) in files.iter().enumerate() {
            by_name
                .entry(clean_name(file.name()))
                .or_default()
                .push(index);
        }
        Files {
            refs: files.iter().map(media_ref).collect(),
            by_path: files
                .iter()
                .enumerate()
                .map(|(index, file)| (file.path.as_str(), index))
                .collect(),
            by_name,
            referred: files.iter().map(|_| Cell::new(false)).collect(),
            ambiguous: RefCell::default(),
            files,
        }
    }

    /// The file a message of a chat in `folder` means by `name`: the entry
    /// at that path, else the one entry with that base name, else the one
    /// among them in the chat's folder. Marks it referred to.
    fn find(&self, name: &str, folder: &str) -> Option<MediaRef> {
        let index = match self.by_path.get(name) {
            Some(&index) => index,
            None => match self.by_name.get(name)?.as_slice() {
                [only] => *only,
                several => {
                    let mut here = several
                        .iter()
                        .filter(|&&index| self.files[index].folder() == folder);
                    match (here.next(), here.next()) {
                        (Some(&index), None) => index,
                        _ => {
                            let mut ambiguous = self.ambiguous.borrow_mut();
                            ambiguous.insert(name.to_owned(), several.to_vec());
                            return None;
                        }
                    }
                }
            },
        };
        self.referred[index].set(true);
        Some(self.refs[index].clone())
    }
}

/// A file as the items refer to it: its archive key is `media/<sha256>`.
fn media_ref(file: &MediaFile) -> MediaRef {
    MediaRef {
        size: file.size(),
        sha256: file.sha256.clone(),
        content_type: content_type(file.name()).to_owned(),
        object_key: layout::media_key(&file.sha256),
    }
}

impl Export<'_> {
    /// The chat texts' length in bytes.
    pub fn text_len(&self) -> usize {
        self.chats.iter().map(|chat| chat.text.len()).sum()
    }

    /// Reads every chat text and writes its items as JSON lines to `out`,
    /// chat after chat in archive order, each in file order; then, when
    /// files of the export are referred to by no message (or a chat text
    /// could not be read), one more item of the first chat that carries
    /// them. Fails only when no chat text can be read, or the output fails.
    pub fn write_items<W: Write>(
        self,
        opts: &ReadOptions<'_>,
        mut out: W,
    ) -> Result<Written<W>, ReadError> {
        let Export {
            chats,
            mut files,
            not_utf8,
        } = self;
        let mut summary = ExportSummary {
            chats: Vec::new(),
            items: 0,
            unread_chats: not_utf8
                .into_iter()
                .map(|path| UnreadChat {
                    path,
                    reason: "not UTF-8".to_owned(),
                })
                .collect(),
            ambiguous: Vec::new(),
            unreferenced: Vec::new(),
        };
        let mut unread = Vec::new();
        let (first, referred) = {
            let found = Files::new(&files);
            let mut first = None;
            let mut first_error = None;
            for chat in &chats {
                let ctx = ExportContext {
                    custodian: opts.custodian,
                    file_name: &chat.title_name,
                    tz: opts.tz,
                    date_order: opts.date_order,
                    custodian_names: opts.custodian_names,
                };
                let prepared = match Chat::prepare(&chat.text, &ctx) {
                    Ok(prepared) => prepared,
                    Err(e) => {
                        summary.unread_chats.push(UnreadChat {
                            path: chat.path.clone(),
                            reason: e.to_string(),
                        });
                        let kept = MediaFile::from_bytes(chat.path.clone(), chat.text.as_bytes())
                            .map_err(|source| ReadError::Spool {
                            path: chat.path.clone(),
                            source,
                        })?;
                        unread.push(kept);
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                let lookup = |name: &str| found.find(name, &chat.folder);
                let mut lines = JsonLines::new(out);
                let mut failed = None;
                let chat_summary = prepared.visit_items(&lookup, |item| {
                    if failed.is_none() {
                        failed = lines.write_lent(item).err();
                    }
                });
                if let Some(e) = failed {
                    return Err(ReadError::Write(e));
                }
                out = lines.into_inner()?;
                summary.items += chat_summary.items;
                summary.chats.push(chat_summary);
                first.get_or_insert(prepared);
            }
            let Some(first) = first else {
                return Err(ReadError::Chat(first_error.expect("no chat was read")));
            };
            summary.ambiguous = found
                .ambiguous
                .take()
                .into_iter()
                .map(|(name, indexes)| Ambiguous {
                    name,
                    paths: indexes.iter().map(|&i| files[i].path.clone()).collect(),
                })
                .collect();
            let referred: Vec<bool> = found.referred.iter().map(Cell::get).collect();
            (first, referred)
        };
        files.extend(unread);
        let unreferenced: Vec<&MediaFile> = files
            .iter()
            .enumerate()
            .filter(|&(index, _)| !referred.get(index).copied().unwrap_or(false))
            .map(|(_, file)| file)
            .collect();
        if !unreferenced.is_empty() {
            let attached: Vec<(&str, MediaRef)> = unreferenced
                .iter()
                .map(|file| (file.path.as_str(), media_ref(file)))
                .collect();
            let mut lines = JsonLines::new(out);
            lines.write(&first.files_item(&attached))?;
            out = lines.into_inner()?;
            summary.items += 1;
            summary.unreferenced = attached
                .iter()
                .map(|(path, _)| (*path).to_owned())
                .collect();
        }
        Ok(Written {
            summary,
            out,
            files,
        })
    }
}
