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
//!   message, so text that merely starts with a date stays in its message).
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
    /// The order the file's dates were read in.
    pub date_order: DateOrder,
    /// The header layout, e.g. `d/m/yyyy, h:mm - ` or `[m/d/yy, h:mm:ss a] `.
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
    /// A header in another layout than the file's: kept as text of the
    /// message before it (or of none, before the first message).
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
                "line {line}: a message header in another layout than the file's; \
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
    shape: Shape,
    order: DateOrder,
    tz: Tz,
    custodian: Custodian,
    title: Option<String>,
    /// Identifies the chat in item ids.
    chat_digest: [u8; 16],
    conversation_id: String,
    kind: ConversationKind,
    cast: Cast<'a>,
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
            .field("layout", &self.shape.describe(self.order))
            .field("date_order", &self.order)
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
}

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
        let survey = Survey::read(text, &shape, ctx.date_order);
        if survey.records.is_empty() {
            return Err(match ctx.date_order {
                Some(order) => ExportError::NoValidDate {
                    file: file(),
                    order,
                },
                None => no_header(),
            });
        }
        let order = ctx.date_order.unwrap_or_else(|| {
            survey
                .stats
                .decide(&shape, survey.records.iter().map(|record| &record.stamp))
        });
        let group_notice = survey.census.group_notice;
        let mut cast = survey.census.cast();
        let title = conversation::title(ctx.file_name).map(str::to_owned);
        let custodian = Custodian::new(ctx.custodian);
        let kind = if cast.people.len() > 2 || group_notice {
            ConversationKind::Group
        } else {
            conversation::complete_direct(&mut cast.people, title.as_deref(), &custodian);
            ConversationKind::Direct
        };
        let chat_key = match title.as_deref() {
            Some(title) => Cow::Borrowed(title),
            None => conversation::untitled_key(ctx.file_name),
        };
        let chat_digest = conversation::chat_digest(&custodian, &chat_key);
        Ok(Chat {
            text,
            shape,
            order,
            tz: ctx.tz,
            conversation_id: conversation::conversation_id(&chat_digest),
            custodian,
            title,
            chat_digest,
            kind,
            cast,
            records: survey.records,
            lines: survey.lines,
            unattributed_lines: survey.unattributed_lines,
            warnings: survey.warnings,
            warning_count: survey.warning_count,
        })
    }

    /// The order the dates are read in.
    pub fn date_order(&self) -> DateOrder {
        self.order
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
            let Some(local) = dates::resolve(&record.stamp, self.order) else {
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
            date_order: self.order,
            layout: self.shape.describe(self.order),
            conversation_id: self.conversation_id.clone(),
            conversation_kind: self.kind,
            title: self.title.clone(),
            participants: conversation::labels(&self.cast.people),
            rejected_headers: rejected,
            unattributed_lines: self.unattributed_lines,
            warnings: self.warnings.clone(),
            warning_count: self.warning_count,
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
            .find_map(|record| dates::resolve(&record.stamp, self.order));
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
    stats: OrderStats,
    census: Census<'a>,
    lines: u64,
    unattributed_lines: u64,
    warnings: Vec<LineWarning>,
    warning_count: u64,
}

impl<'a> Survey<'a> {
    /// Records every header line of `shape` whose date is possible in some
    /// candidate order, with the evidence for the order and the authors.
    fn read(text: &'a str, shape: &Shape, forced: Option<DateOrder>) -> Self {
        let orders = dates::candidates(shape, forced);
        let mut survey = Survey {
            records: Vec::new(),
            stats: OrderStats::default(),
            census: Census::default(),
            lines: 0,
            unattributed_lines: 0,
            warnings: Vec::new(),
            warning_count: 0,
        };
        for (start, end) in Lines::new(text) {
            survey.lines += 1;
            let header = match header::scan_line(&text.as_bytes()[start..end], shape) {
                Scanned::Header(header) => Some(header),
                Scanned::Other(_) => {
                    survey.warn(WarningReason::OtherLayout);
                    None
                }
                Scanned::None => None,
            };
            let header = header.and_then(|header| {
                let possible = dates::Possible::of(&header.stamp, orders);
                possible.any().then_some((header, possible))
            });
            if header.is_some_and(|(header, _)| header.impossible_hour) {
                survey.warn(WarningReason::ImpossibleHour);
            }
            let record = header
                .and_then(|(header, possible)| survey.record(text, start, end, header, possible));
            match record {
                Some(record) => survey.records.push(record),
                None if survey.records.is_empty() && start < end => survey.unattributed_lines += 1,
                None => {}
            }
        }
        survey
    }

    /// Warns about the current line.
    fn warn(&mut self, reason: WarningReason) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(LineWarning {
                line: self.lines,
                reason,
            });
        }
    }

    fn record(
        &mut self,
        text: &'a str,
        start: usize,
        end: usize,
        header: Header,
        possible: dates::Possible,
    ) -> Option<Record> {
        let body = u32::try_from(header.body).ok()?;
        let (prefix, text_at) = self.census.observe(&text[start + header.body..end]);
        let text_at = u32::try_from(text_at).ok()?;
        // The order is decided from the recorded headers' stamps as well.
        self.stats.add(&header.stamp, possible);
        Some(Record {
            start,
            stamp: header.stamp,
            prefix,
            body,
            text: text_at,
        })
    }
}

fn participant<'c>(person: &'c Person<'_>) -> Participant<'c> {
    Participant {
        id: Some(Cow::Borrowed(&person.id)),
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
