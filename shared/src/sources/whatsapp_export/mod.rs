//! WhatsApp "Export chat" files: the chat text of a `.txt` export (or the
//! `_chat.txt` of a `.zip` one) turned into archive items.
//!
//! ```text
//! 12/29/25, 10:30 PM - Bob: text            Android, month first, 12-hour clock
//! 29/12/2025, 22:30 - Bob: text             Android, day first
//! [29/12/25, 22:30:15] Bob: text            iOS
//! 13.6.2018 klo 21.25.15 - Bob: text        Finnish
//! 12/18/15, 9:25:03 PM: Bob: text           older iOS (2015-2017)
//! [14:56:01, 3/18/22] Bob: text             the time first
//! ٢٩/١٢/٢٠٢٥، ١٠:٣٠ م - Bob: text            Arabic
//! ```
//!
//! Parsing is streaming and borrows: items point into the export's text
//! (`Cow::Borrowed`) wherever no cleaning was needed, and into the prepared
//! [`Chat`] for what every item shares (conversation id, participants).
//! [`Chat::prepare`] detects the header layout, then reads every line once:
//! it records each header (offsets, date fields, author prefix; 32 bytes a
//! message) and gathers the evidence for the date order, the authors and
//! whether the chat is a group. [`Chat::items`] then emits one item per
//! recorded message, in file order, without reading the headers again;
//! [`Chat::visit_items`] lends them instead, reusing each sender's list of
//! recipients from item to item.
//!
//! - Headers: see `header` (layout detection: the most frequent layout among
//!   the first header-like lines; only lines of exactly that layout start a
//!   message, so text that merely starts with a date stays in its message,
//!   unless another layout starts at least [`SECOND_LAYOUT_LINES`] lines: a
//!   file that mixes layouts (merged chats, a phone whose settings changed)
//!   is read in each, every layout with its own date order).
//! - Date order and time zones: see `dates` (which field is a two-digit
//!   year, then values above 12, then ordering, then the layout;
//!   inconsistent files are read best effort).
//! - Authors and notices: see `people` (first `": "` outside quotation marks).
//! - Markers (deleted, edited, omitted media, attachments, missed calls): see
//!   `markers`; the phrases are data, one table per language in `languages`.
//! - Item ids: see `ids`.
//!
//! U+200E, U+200F, U+202A–U+202E, U+2066–U+2069 and U+FEFF are removed from
//! names and text; NBSP and U+202F count as spaces in headers. `raw` keeps a
//! message's lines exactly as written (without the final line break).

mod archive;
mod conversation;
mod dates;
mod drops;
mod header;
mod ids;
mod languages;
mod lines;
mod markers;
mod open;
mod people;
mod text;

pub use archive::{ChatText, ExportBundle, MediaFile, ZipError, ZipLimits, read_zip};
pub use conversation::CustodianNames;
pub use drops::{DROP_PREFIX, ExportDrops, ExportOptions};
pub use open::{
    Ambiguous, Export, ExportSummary, Format, OpenError, ReadError, ReadOptions, UnreadChat,
    Written, open, open_as, open_file,
};

use std::borrow::Cow;
use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::item::{
    Attachment, Conversation, ConversationKind, Item, ItemId, ItemKind, Lent, Participant, Parties,
    Raw, SourceKind, Timestamp,
};
use conversation::Custodian;
use dates::{LocalClock, LocalTime, OrderStats};
use header::{Header, Scanned, Shape, Stamp};
use ids::{IdBase, Occurrences, message_key};
use lines::Lines;
use people::{Cast, Census, Person};

/// Which field of a numeric date comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DateOrder {
    /// `29/12/2025`: day, month, year.
    DayFirst,
    /// `12/29/2025`: month, day, year.
    MonthFirst,
    /// `2025/12/29`: year, month, day.
    YearFirst,
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateOrder::DayFirst => "day first",
            DateOrder::MonthFirst => "month first",
            DateOrder::YearFirst => "year first",
        })
    }
}

/// What the parser needs to know besides the text.
#[derive(Debug, Clone, Copy)]
pub struct ExportContext<'c> {
    /// The employee whose phone made the export (phone number in any form, or
    /// an e-mail); the item's `custodian`.
    pub custodian: &'c str,
    /// The chat file's name as dropped: "WhatsApp Chat with Bob.txt",
    /// "WhatsApp Chat - Sales team.zip", "_chat.txt"…; gives the chat title.
    /// For a zip, pass the zip's name, not `_chat.txt`.
    pub file_name: &'c str,
    /// Time zone of the device that made the export (from configuration).
    pub tz: Tz,
    /// Force the date order instead of inferring it from the whole file.
    pub date_order: Option<DateOrder>,
    /// The author names the custodian appears under, as configured
    /// (`[custodians]`; see [`CustodianNames`]), for exports that do not
    /// tell which author is the custodian.
    pub custodian_names: &'c [String],
}

/// How the author the custodian writes as was told from the others (the
/// rules in order: the first that finds an author decides). That author
/// carries the custodian's phone number, e-mail and identity, so the
/// custodian's own messages are from the custodian's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustodianAuthor {
    /// The author whose name is the custodian's phone number.
    Phone,
    /// An author name configured for the custodian (`[custodians]`).
    Configured,
    /// The export's own lines: the one author of `You deleted this
    /// message` lines (in any supported language), else in a group the one
    /// person iOS wrote notices of what the exporter did with (`‎You added
    /// Bob`).
    ExportLines,
    /// In a direct chat titled with the other party, the other author.
    DirectChat,
    /// Nothing to tell: no author, or a direct chat only the other party
    /// wrote in.
    NoMessages,
    /// No author could be told to be the custodian: the custodian's own
    /// messages, if any, show an unmapped sender (reported as a warning).
    Unknown,
}

/// A media file found beside the chat text (in a zip), as stored in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// MIME type.
    pub content_type: String,
    /// Key of the file in the archive store.
    pub object_key: String,
}

/// What a parse found, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatSummary {
    /// Items emitted.
    pub items: u64,
    /// Lines read.
    pub lines: u64,
    /// The order the file's dates were read in (of its main layout; each
    /// other layout has its own).
    pub date_order: DateOrder,
    /// The header layout, e.g. `d/m/yyyy, h:mm - ` or `[m/d/yy, h:mm:ss a] `;
    /// a file with several gives them all, the main one first, joined with
    /// `and ` (`[d/m/yyyy, h:mm:ss] and d/m/yyyy, h:mm - `).
    pub layout: String,
    /// The conversation's id.
    pub conversation_id: String,
    /// Direct or group.
    pub conversation_kind: ConversationKind,
    /// The chat's title, from the file name.
    pub title: Option<String>,
    /// Participants: the authors in order of appearance, and in a direct chat
    /// the custodian and the other party.
    pub participants: Vec<String>,
    /// Lines in the header layout whose date is impossible in the file's date
    /// order; they are kept as text of the message before them (before the
    /// first message, they belong to none).
    pub rejected_headers: u64,
    /// Non-empty lines before the first header; they belong to no message.
    pub unattributed_lines: u64,
    /// What the parser read but doubts, line by line (the first
    /// [`MAX_WARNINGS`]); for the run report.
    pub warnings: Vec<LineWarning>,
    /// How many warnings there were, including those beyond [`MAX_WARNINGS`].
    pub warning_count: u64,
    /// How the custodian's own messages were told from the others'.
    pub custodian_author: CustodianAuthor,
}

/// How many warnings a summary lists.
pub const MAX_WARNINGS: usize = 1000;

/// A line the parser read but doubts. Names the line and the reason,
/// never the line's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineWarning {
    /// The line's number in the chat text, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub reason: WarningReason,
}

/// Why a line is doubted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningReason {
    /// A header with an hour of 13 to 23 and a 12-hour marker (`13:05 PM`):
    /// a message of its own, read on a 24-hour clock.
    ImpossibleHour,
    /// A header in a layout none of the file's others have (fewer than
    /// [`SECOND_LAYOUT_LINES`] lines have it): kept as text of the message
    /// before it (or of none, before the first message).
    OtherLayout,
}

impl fmt::Display for LineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        match self.reason {
            WarningReason::ImpossibleHour => write!(
                f,
                "line {line}: the hour is 13 or later with AM/PM; read on a 24-hour clock"
            ),
            WarningReason::OtherLayout => write!(
                f,
                "line {line}: a message header in a layout no other line has; \
                 kept as text of the message before it"
            ),
        }
    }
}

/// Why an export cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// No line starts like a WhatsApp message.
    #[error(
        "{file}: no WhatsApp message header found; the first lines tried were {tried} \
         (letters shown as x, digits as 9); the layouts known are like {known}; \
         is this a WhatsApp chat export?",
        known = known_layouts()
    )]
    NoHeader {
        /// The file's name.
        file: String,
        /// The first non-empty lines, their layout only (letters and digits masked).
        tried: String,
    },
    /// The configured date order makes every header's date impossible.
    #[error(
        "{file}: no message header has a valid date when read {order}; check the configured date order"
    )]
    NoValidDate {
        /// The file's name.
        file: String,
        /// The configured order.
        order: DateOrder,
    },
}

/// The header layouts the parser reads, quoted, for the error on a file
/// without headers.
fn known_layouts() -> String {
    let quoted: Vec<String> = header::KNOWN_LAYOUTS
        .iter()
        .map(|layout| format!("\"{layout}\""))
        .collect();
    quoted.join(", ")
}

/// An export ready to be read: its layout, date order, participants and
/// conversation are known. Items borrow from it and from the text.
pub struct Chat<'a> {
    text: &'a str,
    /// The file's header layouts with their date orders: the most frequent
    /// first, then any other that starts at least [`SECOND_LAYOUT_LINES`]
    /// lines (a merged chat, a phone whose settings changed).
    layouts: Vec<(Shape, DateOrder)>,
    tz: Tz,
    custodian: Custodian,
    title: Option<String>,
    /// Identifies the chat in item ids.
    chat_digest: [u8; 16],
    conversation_id: String,
    kind: ConversationKind,
    cast: Cast<'a>,
    custodian_author: CustodianAuthor,
    /// Every header line in the file's layout with a plausible date.
    records: Vec<Record>,
    lines: u64,
    unattributed_lines: u64,
    warnings: Vec<LineWarning>,
    warning_count: u64,
}

/// Shows the layout and counts, never message content.
impl fmt::Debug for Chat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("layout", &self.describe_layouts())
            .field("date_order", &self.date_order())
            .field("kind", &self.kind)
            .field("messages", &self.records.len())
            .field("participants", &self.cast.people.len())
            .finish_non_exhaustive()
    }
}

/// A header line found by the first pass.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Offset of the line in the text.
    start: usize,
    stamp: Stamp,
    /// The author prefix's index in the census, or `people::NO_PREFIX`.
    prefix: u32,
    /// Offset of the body (after the header) from `start`.
    body: u32,
    /// Offset of the text (after `Name: `) from the body.
    text: u32,
    /// Its layout's index in the chat's layouts.
    layout: u8,
}

/// How many lines of a header layout other than the file's make it a
/// layout of the file too: fewer are taken as text pasted into a message
/// (kept in it, and warned about).
pub const SECOND_LAYOUT_LINES: usize = 2;

/// The most header layouts one file is read in.
const MAX_LAYOUTS: usize = 8;

impl<'a> Chat<'a> {
    /// Reads the whole export once: header layout, date order, authors,
    /// conversation.
    pub fn prepare(text: &'a str, ctx: &ExportContext<'_>) -> Result<Self, ExportError> {
        let file = || ctx.file_name.to_owned();
        let no_header = || ExportError::NoHeader {
            file: file(),
            tried: header::tried_lines(text),
        };
        let shape = header::detect(text).ok_or_else(no_header)?;
        let survey = Survey::read(text, shape, ctx.date_order);
        if survey.records.is_empty() {
            return Err(match ctx.date_order {
                Some(order) => ExportError::NoValidDate {
                    file: file(),
                    order,
                },
                None => no_header(),
            });
        }
        let layouts = survey
            .layouts
            .iter()
            .enumerate()
            .map(|(index, layout)| {
                let order = ctx.date_order.unwrap_or_else(|| {
                    let stamps = survey.records.iter().filter_map(|record| {
                        (usize::from(record.layout) == index).then_some(&record.stamp)
                    });
                    layout.stats.decide(&layout.shape, stamps)
                });
                (layout.shape, order)
            })
            .collect();
        let group_notice = survey.census.group_notice;
        let mut cast = survey.census.cast();
        let title = conversation::title(ctx.file_name).map(str::to_owned);
        let custodian = Custodian::new(ctx.custodian);
        let kind = if cast.people.len() > 2 || group_notice {
            ConversationKind::Group
        } else {
            ConversationKind::Direct
        };
        let parties = conversation::Parties {
            title: title.as_deref(),
            direct: kind == ConversationKind::Direct,
            names: ctx.custodian_names,
            exporter: cast.exporter,
        };
        let custodian_author = conversation::attribute(&mut cast.people, &parties, &custodian);
        let chat_key = match title.as_deref() {
            Some(title) => Cow::Borrowed(title),
            None => conversation::untitled_key(ctx.file_name),
        };
        let chat_digest = conversation::chat_digest(&custodian, &chat_key);
        Ok(Chat {
            text,
            layouts,
            tz: ctx.tz,
            conversation_id: conversation::conversation_id(&chat_digest),
            custodian,
            title,
            chat_digest,
            kind,
            cast,
            custodian_author,
            records: survey.records,
            lines: survey.lines,
            unattributed_lines: survey.unattributed_lines,
            warnings: survey.warnings,
            warning_count: survey.warning_count,
        })
    }

    /// The order the dates are read in (of the file's main layout).
    pub fn date_order(&self) -> DateOrder {
        self.layouts[0].1
    }

    /// The file's header layouts, the main one first, joined with `and `.
    fn describe_layouts(&self) -> String {
        let described: Vec<String> = self
            .layouts
            .iter()
            .map(|(shape, order)| shape.describe(*order))
            .collect();
        described.join("and ")
    }

    /// A header's local time, in its layout's date order.
    fn local_time(&self, record: &Record) -> Option<LocalTime> {
        dates::resolve(&record.stamp, self.layouts[usize::from(record.layout)].1)
    }

    /// The conversation every item belongs to.
    pub fn conversation(&self) -> Conversation<'_> {
        Conversation {
            id: Cow::Borrowed(&self.conversation_id),
            kind: self.kind,
            title: self.title.as_deref().map(Cow::Borrowed),
        }
    }

    /// Reads the messages, calling `emit` once per item in file order;
    /// `media` finds an attachment's stored file by name.
    ///
    /// A header whose date is impossible in the file's date order is not a
    /// header: its line stays in the message before it.
    pub fn items<'c>(
        &'c self,
        media: &dyn Fn(&str) -> Option<MediaRef>,
        mut emit: impl FnMut(Item<'c>),
    ) -> ChatSummary {
        self.each_item(media, |item, _| {
            emit(item);
            None
        })
    }

    /// Like [`Chat::items`], but lends each item to `visit` instead of
    /// handing it over, so that the next item reuses its allocations. The
    /// [`Lent`] items tell a writer which of them share their sender and
    /// recipients.
    pub fn visit_items<'c>(
        &'c self,
        media: &dyn Fn(&str) -> Option<MediaRef>,
        mut visit: impl FnMut(&Lent<'_, 'c>),
    ) -> ChatSummary {
        let source = Parties::new_source();
        self.each_item(media, |item, slot| {
            visit(&Lent::new(&item, Parties { source, slot }));
            Some(item)
        })
    }

    /// Builds the items in file order and passes each to `emit` with its
    /// sender's slot (its index in the roster, the roster's length for
    /// notices); `emit` may give the item back for the next to reuse.
    fn each_item<'c>(
        &'c self,
        media: &dyn Fn(&str) -> Option<MediaRef>,
        mut emit: impl FnMut(Item<'c>, u32) -> Option<Item<'c>>,
    ) -> ChatSummary {
        let mut builder = Builder {
            chat: self,
            roster: self.cast.people.iter().map(participant).collect(),
            conversation: self.conversation(),
            ids: IdBase::new(self.chat_digest),
            clock: LocalClock::new(self.tz),
            occurrences: Occurrences::with_capacity(self.records.len()),
            media,
            lists: vec![None; self.cast.people.len() + 1],
            lent: 0,
        };
        let mut items = 0;
        let mut message = |record: &Record, local: LocalTime, next: Option<usize>| {
            let item = builder.item(record, local, next);
            if let Some(used) = emit(item, builder.lent as u32) {
                builder.give_back(used.recipients);
            }
            items += 1;
        };
        let mut rejected = 0;
        let mut current: Option<(&Record, LocalTime)> = None;
        for record in &self.records {
            let Some(local) = self.local_time(record) else {
                rejected += 1;
                continue;
            };
            if let Some((first, local)) = current.replace((record, local)) {
                message(first, local, Some(record.start));
            }
        }
        if let Some((first, local)) = current {
            message(first, local, None);
        }
        ChatSummary {
            items,
            lines: self.lines,
            date_order: self.date_order(),
            layout: self.describe_layouts(),
            conversation_id: self.conversation_id.clone(),
            conversation_kind: self.kind,
            title: self.title.clone(),
            participants: conversation::labels(&self.cast.people),
            rejected_headers: rejected,
            unattributed_lines: self.unattributed_lines,
            warnings: self.warnings.clone(),
            warning_count: self.warning_count,
            custodian_author: self.custodian_author,
        }
    }
}

impl Chat<'_> {
    /// The item that carries files of the export no message refers to (a
    /// zip's orphan media, nested zips, a chat text that could not be
    /// read), given by path with their stored form: a system line of the
    /// chat, "N files in the export not referred to by any message", at the
    /// time of its last message, to every participant, with the files as
    /// attachments and their paths as its raw lines.
    ///
    /// Its id is derived from the chat and the files (path and SHA-256 of
    /// each, in order), so the same export gives the same item again.
    pub fn files_item<'c>(&'c self, files: &[(&str, MediaRef)]) -> Item<'c> {
        let mut parts: Vec<&[u8]> = vec![b"whatsapp-export-unreferenced-files", &self.chat_digest];
        for (path, file) in files {
            parts.push(path.as_bytes());
            parts.push(file.sha256.as_bytes());
        }
        let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        let count = match files.len() {
            1 => "1 file".to_owned(),
            n => format!("{n} files"),
        };
        let attachments = files
            .iter()
            .map(|(path, file)| Attachment {
                name: Cow::Owned(conversation::base_name(path).to_owned()),
                content_type: Cow::Owned(file.content_type.clone()),
                size: Some(file.size),
                sha256: Some(file.sha256.clone()),
                object_key: Some(file.object_key.clone()),
                omitted: false,
            })
            .collect();
        Item {
            id: ItemId::derive(&parts),
            source: SourceKind::WhatsappExport,
            kind: ItemKind::System,
            source_type: None,
            unrecognised: false,
            timestamp: Timestamp(self.last_time()),
            custodian: Some(Cow::Borrowed(&self.custodian.given)),
            conversation: self.conversation(),
            sender: None,
            recipients: self.cast.people.iter().map(participant).collect(),
            text: Some(Cow::Owned(format!(
                "{count} in the export not referred to by any message: {}",
                paths.join(", ")
            ))),
            attachments,
            edited: false,
            call: None,
            refers_to: None,
            raw: Raw::Text(Cow::Owned(paths.join("\n"))),
        }
    }

    /// The UTC time of the chat's last message (the epoch for a chat none
    /// of whose dates resolves, which `prepare` does not let through).
    fn last_time(&self) -> chrono::DateTime<chrono::Utc> {
        let local = self
            .records
            .iter()
            .rev()
            .find_map(|record| self.local_time(record));
        match local {
            Some(local) => LocalClock::new(self.tz).utc(local).1,
            None => chrono::DateTime::UNIX_EPOCH,
        }
    }
}

/// The MIME type of a file by its name's extension, as used for attachments
/// (`application/octet-stream` when unknown).
pub fn content_type(file_name: &str) -> &'static str {
    mime_guess::from_path(file_name)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// Parses an export's chat text, calling `emit` once per item in file order.
///
/// The items borrow from `text` and from the parser's tables, so they live
/// for the call of `emit`; use [`Chat`] to keep them longer.
pub fn parse_chat(
    text: &str,
    ctx: &ExportContext<'_>,
    media: &dyn Fn(&str) -> Option<MediaRef>,
    emit: &mut dyn FnMut(Item<'_>),
) -> Result<ChatSummary, ExportError> {
    Ok(Chat::prepare(text, ctx)?.items(media, emit))
}

/// What the first pass finds.
struct Survey<'a> {
    records: Vec<Record>,
    /// The file's layouts, the detected one first.
    layouts: Vec<Layout>,
    /// Lines of other layouts not (yet) taken as layouts of the file.
    strays: Vec<Stray>,
    census: Census<'a>,
    lines: u64,
    unattributed_lines: u64,
    warnings: Vec<LineWarning>,
    warning_count: u64,
}

/// A header layout of the file and the evidence for its date order.
struct Layout {
    shape: Shape,
    /// The orders its dates may be in.
    orders: &'static [DateOrder],
    stats: OrderStats,
}

/// A header line of a layout that is not (yet) one of the file's.
struct Stray {
    line: u64,
    start: usize,
    end: usize,
    header: Header,
}

impl<'a> Survey<'a> {
    /// Records every header line of the file's layouts whose date is
    /// possible in some candidate order, with the evidence for the order
    /// and the authors. A line of another layout is a header once
    /// [`SECOND_LAYOUT_LINES`] lines have that layout (the earlier ones are
    /// then recorded in their place); the lines of layouts that stay rarer
    /// are text of the message before them, each warned about.
    fn read(text: &'a str, shape: Shape, forced: Option<DateOrder>) -> Self {
        let mut survey = Survey {
            records: Vec::new(),
            layouts: Vec::new(),
            strays: Vec::new(),
            census: Census::default(),
            lines: 0,
            unattributed_lines: 0,
            warnings: Vec::new(),
            warning_count: 0,
        };
        survey.add_layout(shape, forced);
        for (start, end) in Lines::new(text) {
            survey.lines += 1;
            match header::scan_line(&text.as_bytes()[start..end], &shape) {
                Scanned::Header(header) => survey.header(text, survey.lines, start, end, header, 0),
                Scanned::Other(header) => survey.other(text, start, end, header, forced),
                Scanned::None => {}
            }
        }
        for stray in std::mem::take(&mut survey.strays) {
            survey.warn(stray.line, WarningReason::OtherLayout);
        }
        survey.warnings.sort_by_key(|warning| warning.line);
        let first = survey
            .records
            .first()
            .map_or(text.len(), |record| record.start);
        survey.unattributed_lines = Lines::new(&text[..first])
            .filter(|(start, end)| start < end)
            .count() as u64;
        survey
    }

    fn add_layout(&mut self, shape: Shape, forced: Option<DateOrder>) {
        self.layouts.push(Layout {
            shape,
            orders: dates::candidates(&shape, forced),
            stats: OrderStats::default(),
        });
    }

    /// A header of another layout than the file's main one: recorded when
    /// its layout is one of the file's, or has become one with it.
    fn other(
        &mut self,
        text: &'a str,
        start: usize,
        end: usize,
        header: Header,
        forced: Option<DateOrder>,
    ) {
        let line = self.lines;
        if let Some(index) = self.layouts.iter().position(|l| l.shape == header.shape) {
            return self.header(text, line, start, end, header, index as u8);
        }
        let seen = self
            .strays
            .iter()
            .filter(|stray| stray.header.shape == header.shape)
            .count();
        if seen + 1 < SECOND_LAYOUT_LINES || self.layouts.len() == MAX_LAYOUTS {
            self.strays.push(Stray {
                line,
                start,
                end,
                header,
            });
            return;
        }
        self.add_layout(header.shape, forced);
        let index = (self.layouts.len() - 1) as u8;
        let (earlier, strays) = std::mem::take(&mut self.strays)
            .into_iter()
            .partition(|stray| stray.header.shape == header.shape);
        self.strays = strays;
        for stray in earlier {
            self.header(
                text,
                stray.line,
                stray.start,
                stray.end,
                stray.header,
                index,
            );
        }
        self.header(text, line, start, end, header, index);
    }

    /// A header of the file's layout `layout`, on line `line`: recorded,
    /// in file order, when its date is possible.
    fn header(
        &mut self,
        text: &'a str,
        line: u64,
        start: usize,
        end: usize,
        header: Header,
        layout: u8,
    ) {
        let possible = dates::Possible::of(&header.stamp, self.layouts[usize::from(layout)].orders);
        if !possible.any() {
            return;
        }
        if header.impossible_hour {
            self.warn(line, WarningReason::ImpossibleHour);
        }
        let Some(record) = self.record(text, start, end, header, possible, layout) else {
            return;
        };
        match self.records.last() {
            Some(last) if last.start > start => {
                let at = self.records.partition_point(|r| r.start < start);
                self.records.insert(at, record);
            }
            _ => self.records.push(record),
        }
    }

    /// Warns about line `line`.
    fn warn(&mut self, line: u64, reason: WarningReason) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(LineWarning { line, reason });
        }
    }

    fn record(
        &mut self,
        text: &'a str,
        start: usize,
        end: usize,
        header: Header,
        possible: dates::Possible,
        layout: u8,
    ) -> Option<Record> {
        let body = u32::try_from(header.body).ok()?;
        let (prefix, text_at) = self.census.observe(&text[start + header.body..end]);
        let text_at = u32::try_from(text_at).ok()?;
        // The order is decided from the recorded headers' stamps as well.
        self.layouts[usize::from(layout)]
            .stats
            .add(&header.stamp, possible);
        Some(Record {
            start,
            stamp: header.stamp,
            prefix,
            body,
            text: text_at,
            layout,
        })
    }
}

fn participant<'c>(person: &'c Person<'_>) -> Participant<'c> {
    Participant {
        id: Some(Cow::Borrowed(
            person.custodian.as_deref().unwrap_or(&person.id),
        )),
        name: person.name.as_deref().map(Cow::Borrowed),
        phone: person.phone.as_deref().map(Cow::Borrowed),
        email: person.email.as_deref().map(Cow::Borrowed),
    }
}

/// Turns messages into items; holds what items share and the caches.
struct Builder<'c, 'a, 'm> {
    chat: &'c Chat<'a>,
    /// Every participant, in `cast.people` order.
    roster: Vec<Participant<'c>>,
    conversation: Conversation<'c>,
    ids: IdBase,
    clock: LocalClock,
    occurrences: Occurrences,
    media: &'m dyn Fn(&str) -> Option<MediaRef>,
    /// Recipient lists by sender index (the last one for notices), kept
    /// while an item has not given its list back.
    lists: Vec<Option<Vec<Participant<'c>>>>,
    /// The index in `lists` of the last item's recipients.
    lent: usize,
}

impl<'c, 'a: 'c> Builder<'c, 'a, '_> {
    /// The item of the message starting at `record`, which ends before the
    /// line starting at `next` (or at the end of the text).
    fn item(&mut self, record: &Record, local: LocalTime, next: Option<usize>) -> Item<'c> {
        let all: &'a str = self.chat.text;
        let end = lines::message_end(all, next);
        let body = &all[record.start + record.body as usize..end];
        let (sender, text) = self
            .chat
            .cast
            .read(record.prefix, body, record.text as usize);
        let (seconds, timestamp) = self.clock.utc(local);
        let content = text::clean(text);
        let author = sender.map_or("", |index| {
            self.chat.cast.people[index as usize].id.as_ref()
        });
        let occurrence = self
            .occurrences
            .next(seconds, message_key(sender, &content));
        let id = self.ids.derive(seconds, occurrence, author, &content);
        let meaning = match sender {
            Some(_) => markers::interpret(content, self.media),
            None => markers::Meaning::notice(content),
        };
        Item {
            id,
            source: SourceKind::WhatsappExport,
            kind: meaning.kind,
            source_type: None,
            unrecognised: false,
            timestamp: Timestamp(timestamp),
            custodian: Some(Cow::Borrowed(&self.chat.custodian.given)),
            conversation: self.conversation.clone(),
            sender: sender.map(|index| self.roster[index as usize].clone()),
            recipients: self.recipients(sender),
            text: meaning.text,
            attachments: meaning.attachments,
            edited: meaning.edited,
            call: meaning.call,
            refers_to: None,
            raw: Raw::Text(Cow::Borrowed(&all[record.start..end])),
        }
    }

    /// Everyone but the sender: the list an earlier item with this sender
    /// gave back, or a new one.
    fn recipients(&mut self, sender: Option<u32>) -> Vec<Participant<'c>> {
        self.lent = sender.map_or(self.roster.len(), |index| index as usize);
        self.lists[self.lent].take().unwrap_or_else(|| {
            let mut others = Vec::with_capacity(self.roster.len() - usize::from(sender.is_some()));
            for (index, participant) in self.roster.iter().enumerate() {
                if sender != Some(index as u32) {
                    others.push(participant.clone());
                }
            }
            others
        })
    }

    /// Takes back the recipients of the last item, unchanged, for the next
    /// item with the same sender.
    fn give_back(&mut self, recipients: Vec<Participant<'c>>) {
        self.lists[self.lent] = Some(recipients);
    }
}
