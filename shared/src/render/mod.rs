//! EML rendering: one RFC 5322 message per archive item.
//!
//! The message is built with `mail-builder` and is a pure function of its
//! input: the same item, addresses and files give the same bytes in any
//! process, at any time. To that end every header that `mail-builder` would
//! otherwise generate is set explicitly (`Message-ID` from the item id,
//! `Date` from the item timestamp) and every MIME boundary carries an explicit
//! `boundary` parameter derived from the item id (see the `mime` submodule),
//! so its per-process random boundaries are never used.
//!
//! Layout of a message:
//!
//! ```text
//! Message-ID, Date, From, To, Subject, In-Reply-To + References (items that
//! refer to another), Thread-Topic, Thread-Index, X-Archiver-* provenance,
//! MIME-Version
//! multipart/mixed                    (only when there are attachment parts)
//!   multipart/related                (only when the body shows images)
//!     multipart/alternative
//!       text/plain                   summary block, then the message text
//!       text/html                    the same as a reviewer reads a chat
//!     <image>                        inline, by Content-ID (see `attachment`)
//!   <file>                           original name and content type
//!   <file>.stub.txt                  text/plain stub for a file not attached
//!   raw.json                         the source payload, for unrecognised items
//! ```
//!
//! An item its source did not recognise (`unrecognised`) gets the same
//! message, plus an `X-Archiver-Unrecognised` header naming the source's
//! type, a note in the body and the `raw.json` part (see `unrecognised`).
//!
//! No source value reaches a header unsanitized: control characters (CR, LF,
//! NUL, …) become spaces, direction marks and overrides are removed and the
//! value is trimmed (`sanitize`); a value holding `=?` is written as encoded
//! words, so a client shows it rather than decoding it, and any other
//! ASCII value plainly, folded at its spaces (`encoded_word`);
//! file names lose path separators; mapped mailbox addresses are checked to
//! be plain `local@domain` addr-specs, and content types to be
//! `type/subtype` tokens.

mod address;
mod attachment;
mod body;
mod digest;
mod encoded_word;
mod error;
mod message_id;
mod mime;
mod rows;
mod sanitize;
mod subject;
mod thread;
mod unrecognised;

use mail_builder::MessageBuilder;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use std::io::{self, Read, Write};

use base64::Engine;
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::item::Item;
use crate::store::ObjectFile;

pub use digest::{DigestEntry, DigestInput, prepare_digest};
pub use error::RenderError;
pub use message_id::{MESSAGE_ID_DOMAIN, digest_message_id, message_id};
pub use sanitize::push_html;
pub use subject::subject;

/// The default [`RenderOptions::attachment_limit`]: 25 MiB.
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 25 * 1024 * 1024;

/// The default [`RenderOptions::unmapped_domain`].
pub const DEFAULT_UNMAPPED_DOMAIN: &str = "unmapped.mobile-archiver.invalid";

/// How items are rendered; the same for every item of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Attachments larger than this are replaced by a stub part (default
    /// 25 MiB; the delivery target's limit decides).
    pub attachment_limit: u64,
    /// Domain for participants that map to no mailbox, e.g.
    /// `unmapped.mobile-archiver.invalid` (must end in `.invalid`).
    pub unmapped_domain: String,
    /// The zone the body shows each time in beside UTC (default UTC: the
    /// time is shown once).
    pub time_zone: Tz,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            attachment_limit: DEFAULT_ATTACHMENT_LIMIT,
            unmapped_domain: DEFAULT_UNMAPPED_DOMAIN.to_owned(),
            time_zone: Tz::UTC,
        }
    }
}

/// One item and everything outside it that its message shows.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'i, 'a> {
    /// The item to render.
    pub item: &'i Item<'a>,
    /// Mailbox address per participant, in [`Item::participants`] order
    /// (sender first, then recipients); `None` = unmapped.
    pub addresses: &'i [Option<String>],
    /// File bytes per attachment, in item order; `None` when omitted, not
    /// stored, or over the limit (then a stub is rendered).
    pub files: &'i [Option<FileContent<'i>>],
    /// Key of the raw batch object the item was read from
    /// (`X-Archiver-Raw-Object`), if any.
    pub raw_object: Option<&'i str>,
}

/// Renders an item into one RFC 5322 message in memory (attached files
/// included; see [`prepare`] for messages written as a stream).
pub fn render(input: &RenderInput<'_, '_>, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
    let rendered = prepare(input, opts)?;
    let mut out = Vec::with_capacity(usize::try_from(rendered.len()).unwrap_or(0));
    rendered
        .write_to(&mut out)
        .map_err(|e| rendered.read_error(e))?;
    Ok(out)
}

/// Renders an item into a message whose attached files are not yet read:
/// [`Rendered::write_to`] writes it, base64-encoding each file from its
/// content as it goes, so a large file is never held in memory.
pub fn prepare<'i>(
    input: &RenderInput<'i, '_>,
    opts: &RenderOptions,
) -> Result<Rendered<'i>, RenderError> {
    check_counts(input)?;
    let item = input.item;
    let parties = address::parties(item, input.addresses, &opts.unmapped_domain)?;
    let files = attachment::dispositions(item, input.files, opts.attachment_limit);
    let body = body::Body::new(&body::Context {
        item,
        parties: &parties,
        files: &files,
        raw_object: input.raw_object,
        time_zone: opts.time_zone,
    });
    let builder = headers(input, &parties);
    let mut template = Vec::new();
    builder
        .body(mime::tree(item, body, &files))
        .serialize(&mut template);
    let mut splices = Vec::new();
    for file in &files {
        if let attachment::Disposition::Attached(content) = file.disposition {
            let placeholder = attachment::placeholder(file.index);
            let at = memchr::memmem::find(&template, placeholder.as_bytes())
                .expect("every attached file's part holds its placeholder");
            splices.push(Splice {
                at,
                placeholder: placeholder.len(),
                content,
                name: file.name.to_string(),
                base64: true,
            });
        }
    }
    splices.sort_by_key(|splice| splice.at);
    Ok(Rendered { template, splices })
}

/// A file's content handed to the renderer.
#[derive(Debug, Clone, Copy)]
pub enum FileContent<'i> {
    /// The bytes, in memory.
    Bytes(&'i [u8]),
    /// A stored file (see [`ObjectFile`]), read as the message is written.
    Stored(&'i ObjectFile),
}

impl FileContent<'_> {
    /// The content's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            FileContent::Bytes(bytes) => bytes.len() as u64,
            FileContent::Stored(file) => file.len(),
        }
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A rendered message whose attached files are written into it as it is
/// written ([`prepare`]).
#[derive(Debug)]
pub struct Rendered<'i> {
    /// The message with a placeholder where each file's base64 goes.
    template: Vec<u8>,
    /// Where each file goes, in order.
    splices: Vec<Splice<'i>>,
}

/// One attached file's place in a [`Rendered`] message.
#[derive(Debug)]
struct Splice<'i> {
    /// Offset of its placeholder in the template.
    at: usize,
    /// Length of its placeholder.
    placeholder: usize,
    /// The file.
    content: FileContent<'i>,
    /// The attachment's file name, for errors.
    name: String,
    /// Whether the content is written as base64 (a file), or as it is (an
    /// e-mail attached to a digest).
    base64: bool,
}

impl Splice<'_> {
    /// The bytes the content takes in the message.
    fn written_len(&self) -> u64 {
        if self.base64 {
            base64_len(self.content.len())
        } else {
            self.content.len()
        }
    }
}

/// Bytes of a file encoded at once: whole base64 lines of 76 characters
/// (57 bytes each), so that chunks join without a short line between.
const BASE64_CHUNK: usize = 57 * 1024;

impl Rendered<'_> {
    /// The message's length in bytes, known before it is written.
    pub fn len(&self) -> u64 {
        let placeholders: usize = self.splices.iter().map(|s| s.placeholder).sum();
        let encoded: u64 = self.splices.iter().map(Splice::written_len).sum();
        (self.template.len() - placeholders) as u64 + encoded
    }

    /// Whether the message is empty (it never is).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the message, each attached file as base64 lines read from
    /// its content in chunks.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut from = 0;
        for splice in &self.splices {
            out.write_all(&self.template[from..splice.at])?;
            match (splice.content, splice.base64) {
                (FileContent::Bytes(bytes), true) => write_base64(bytes, out)?,
                (FileContent::Stored(file), true) => {
                    write_base64_from(file.reader(), file.len(), out)?;
                }
                (FileContent::Bytes(bytes), false) => out.write_all(bytes)?,
                (FileContent::Stored(file), false) => {
                    let copied = io::copy(&mut file.reader().take(file.len()), out)?;
                    if copied != file.len() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            from = splice.at + splice.placeholder;
        }
        out.write_all(&self.template[from..])
    }

    /// The error for a failed read of one of the message's stored files.
    pub fn read_error(&self, e: io::Error) -> RenderError {
        RenderError::Read {
            name: self
                .splices
                .iter()
                .find(|s| matches!(s.content, FileContent::Stored(_)))
                .map_or_else(String::new, |s| s.name.clone()),
            reason: e.to_string(),
        }
    }
}

/// Length of the base64 of `len` bytes in lines of 76 characters joined
/// by CRLF (none after the last).
fn base64_len(len: u64) -> u64 {
    let chars = len.div_ceil(3) * 4;
    let lines = chars.div_ceil(76);
    chars + lines.saturating_sub(1) * 2
}

/// Writes `bytes` as base64 lines (see [`base64_len`]).
fn write_base64(bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
    write_base64_from(bytes, bytes.len() as u64, out)
}

/// Writes `len` bytes read from `reader` as base64 lines, a chunk at a
/// time.
fn write_base64_from(mut reader: impl Read, len: u64, out: &mut impl Write) -> io::Result<()> {
    let mut chunk = vec![0; BASE64_CHUNK];
    let mut encoded = String::with_capacity(BASE64_CHUNK / 3 * 4);
    let mut lines = Vec::with_capacity(BASE64_CHUNK / 57 * 78);
    let mut left = len;
    let mut first = true;
    while left > 0 {
        let want = usize::try_from(left.min(BASE64_CHUNK as u64)).expect("chunk fits");
        reader.read_exact(&mut chunk[..want])?;
        left -= want as u64;
        encoded.clear();
        base64::engine::general_purpose::STANDARD.encode_string(&chunk[..want], &mut encoded);
        lines.clear();
        for line in encoded.as_bytes().chunks(76) {
            if !first {
                lines.extend_from_slice(b"\r\n");
            }
            first = false;
            lines.extend_from_slice(line);
        }
        out.write_all(&lines)?;
    }
    Ok(())
}

fn check_counts(input: &RenderInput<'_, '_>) -> Result<(), RenderError> {
    let item = input.item;
    let participants = usize::from(item.sender.is_some()) + item.recipients.len();
    if input.addresses.len() != participants {
        return Err(RenderError::AddressCount {
            expected: participants,
            given: input.addresses.len(),
        });
    }
    if input.files.len() != item.attachments.len() {
        return Err(RenderError::FileCount {
            expected: item.attachments.len(),
            given: input.files.len(),
        });
    }
    Ok(())
}

/// Every header of the message, in a fixed order.
fn headers<'x>(
    input: &RenderInput<'x, '_>,
    parties: &'x address::Parties<'x>,
) -> MessageBuilder<'x> {
    let item = input.item;
    let mut builder = MessageBuilder::new()
        .message_id(message_id(&item.id))
        .date(Date::new(item.timestamp.0.timestamp()))
        .header("From", parties.sender_address())
        .header("To", parties.recipient_addresses())
        .header("Subject", encoded_word::text(subject(item)));
    if let Some(original) = &item.refers_to {
        builder = builder
            .in_reply_to(MessageId::new(message_id(original)))
            .references(MessageId::new(message_id(original)));
    }
    builder = builder
        .header("Thread-Topic", encoded_word::text(thread::topic(item)))
        .header(
            "Thread-Index",
            Raw::new(thread::index(&item.conversation.id)),
        );
    provenance(builder, input)
}

/// The `X-Archiver-*` headers: where the item came from and how to find its
/// raw source.
fn provenance<'x>(
    mut builder: MessageBuilder<'x>,
    input: &RenderInput<'x, '_>,
) -> MessageBuilder<'x> {
    let item = input.item;
    builder = builder
        .header("X-Archiver-Source", Raw::new(item.source.as_str()))
        .header("X-Archiver-Item-Id", Raw::new(item.id.to_string()))
        .header(
            "X-Archiver-Conversation-Id",
            encoded_word::text(sanitize::header_text(&item.conversation.id)),
        )
        .header("X-Archiver-Kind", Raw::new(item.kind.as_str()));
    if let Some(source_type) = unrecognised::source_type(item) {
        builder = builder.header("X-Archiver-Unrecognised", encoded_word::text(source_type));
    }
    if item.edited {
        builder = builder.header("X-Archiver-Edited", Raw::new("yes"));
    }
    if let Some(custodian) = item.custodian.as_deref() {
        builder = builder.header(
            "X-Archiver-Custodian",
            encoded_word::text(sanitize::header_text(custodian)),
        );
    }
    builder = builder.header(
        "X-Archiver-Raw-Sha256",
        Raw::new(hex::encode(Sha256::digest(item.raw.as_bytes()))),
    );
    if let Some(object) = input.raw_object {
        builder = builder.header(
            "X-Archiver-Raw-Object",
            encoded_word::text(sanitize::header_text(object)),
        );
    }
    builder
}
