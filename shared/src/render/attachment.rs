//! Attachments: the file itself, a stub part naming where the file is kept,
//! or only a line in the body when the source omitted it.
//!
//! An attached image of a type every client shows is also shown in the
//! HTML body: its part goes into a `multipart/related` beside the body,
//! `inline` with its file name and a `Content-ID` the body's `<img>` names
//! (`cid:`), as Outlook writes its own pictures; every other file is an
//! `attachment` part.

use std::borrow::Cow;
use std::fmt::Write;

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};

use super::FileContent;
use super::message_id::MESSAGE_ID_DOMAIN;
use super::rows::push_plain_row;
use super::sanitize::header_text;
use crate::item::{Attachment, Item, SourceKind};

/// Content type of files whose declared type is not a plain `type/subtype`.
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// Suffix of the file name of a stub part.
const STUB_SUFFIX: &str = ".stub.txt";

/// What a stub says of a file in the archive store.
const STORED_NOTE: &str = "The full file is kept in the archive under the key below.";

/// What a stub says of a file not in the archive store.
const NOT_STORED_NOTE: &str = "The file is not in the archive: the source did not provide it.";

/// Name of a file whose name is empty once sanitized.
const UNNAMED: &str = "attachment";

/// Image types shown in the body: those Outlook desktop shows too (it
/// shows no WebP or HEIC; those stay attachments only).
const INLINE_IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/bmp"];

/// How one attachment appears in the message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Disposition<'i> {
    /// Attached with this content.
    Attached(FileContent<'i>),
    /// A text stub takes the file's place.
    Stub(StubReason),
    /// The source says the file was not included: only listed in the body.
    Omitted,
}

/// Why a stub takes a file's place. Whether the file is in the archive store
/// is told by the attachment's object key, not by the reason.
#[derive(Debug, Clone, Copy)]
pub(super) enum StubReason {
    /// Larger than the attachment limit of this many bytes.
    TooLarge(u64),
    /// The file's bytes were not handed to the renderer.
    Unavailable,
}

/// An attachment with its sanitized name and content type and its disposition.
#[derive(Debug)]
pub(super) struct File<'x> {
    /// The item's attachment.
    pub attachment: &'x Attachment<'x>,
    /// Its position among the item's attachments.
    pub index: usize,
    /// The file name, safe for a header.
    pub name: Cow<'x, str>,
    /// `type/subtype`, lowercase, or [`FALLBACK_CONTENT_TYPE`].
    pub content_type: Cow<'x, str>,
    /// Attached, stubbed or omitted.
    pub disposition: Disposition<'x>,
    /// For an attached image shown in the body, its `Content-ID` (without
    /// angle brackets): `<index>.<item id hex>@mobile-archiver`.
    pub content_id: Option<String>,
}

/// Decides, per attachment, whether its file is attached, stubbed or only
/// listed. `files` has one entry per attachment (checked by the caller).
pub(super) fn dispositions<'x>(
    item: &'x Item<'x>,
    files: &[Option<FileContent<'x>>],
    limit: u64,
) -> Vec<File<'x>> {
    item.attachments
        .iter()
        .zip(files)
        .enumerate()
        .map(|(index, (attachment, content))| {
            let content_type = media_type(&attachment.content_type);
            let disposition = disposition(attachment, *content, limit);
            let shown = matches!(disposition, Disposition::Attached(_))
                && INLINE_IMAGE_TYPES.contains(&&*content_type);
            File {
                attachment,
                index,
                name: file_name(&attachment.name),
                content_id: shown
                    .then(|| format!("{index}.{}@{MESSAGE_ID_DOMAIN}", item.id.to_hex().as_str())),
                content_type,
                disposition,
            }
        })
        .collect()
}

fn disposition<'i>(
    attachment: &Attachment<'_>,
    content: Option<FileContent<'i>>,
    limit: u64,
) -> Disposition<'i> {
    if attachment.omitted {
        return Disposition::Omitted;
    }
    let size = content.map(|c| c.len()).or(attachment.size);
    match content {
        _ if size.is_some_and(|size| size > limit) => {
            Disposition::Stub(StubReason::TooLarge(limit))
        }
        Some(content) => Disposition::Attached(content),
        None => Disposition::Stub(StubReason::Unavailable),
    }
}

/// The body a file's part holds in the rendered template: it is replaced
/// by the file's base64 as the message is written (see
/// [`super::Rendered`]). The NUL bytes keep it from occurring anywhere
/// else in a message: headers and text bodies are sanitized (a NUL in a
/// text becomes a visible symbol) and other bodies are encoded.
pub(super) fn placeholder(index: usize) -> String {
    format!("\0archiver-file-{index}\0")
}

/// The name a file is shown and saved under: header-safe (see
/// [`header_text`]), path separators (`/`, `\\`) replaced with `_`, so a
/// client saving `../../x.jpg` stays in its folder, and the `?` of every
/// `=?` replaced with `_`, so no client reads an encoded word in it (a
/// parameter is not encoded when it is ASCII). Stub names are built from
/// it.
fn file_name(name: &str) -> Cow<'_, str> {
    let name = header_text(name);
    if name.is_empty() {
        return Cow::Borrowed(UNNAMED);
    }
    if !name.contains(['/', '\\']) && !name.contains("=?") {
        return name;
    }
    let mut out = String::with_capacity(name.len());
    let mut after_equals = false;
    for c in name.chars() {
        let c = match c {
            '/' | '\\' => '_',
            '?' if after_equals => '_',
            c => c,
        };
        after_equals = c == '=';
        out.push(c);
    }
    Cow::Owned(out)
}

/// The `type/subtype` of a declared content type, parameters dropped and
/// lowercased; [`FALLBACK_CONTENT_TYPE`] when it is not two RFC 2045 tokens,
/// or names a multipart or message type (which a file part cannot be).
fn media_type(declared: &str) -> Cow<'_, str> {
    let essence = declared.split(';').next().unwrap_or_default().trim();
    let plain = essence
        .split_once('/')
        .is_some_and(|(top, sub)| is_token(top) && is_token(sub) && !is_composite(top));
    match plain {
        false => Cow::Borrowed(FALLBACK_CONTENT_TYPE),
        true if essence.bytes().any(|b| b.is_ascii_uppercase()) => {
            Cow::Owned(essence.to_ascii_lowercase())
        }
        true => Cow::Borrowed(essence),
    }
}

fn is_composite(top: &str) -> bool {
    top.eq_ignore_ascii_case("multipart") || top.eq_ignore_ascii_case("message")
}

/// An RFC 2045 token: printable ASCII without spaces and tspecials.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

impl File<'_> {
    /// The MIME part for this file: the file, a stub, or none when omitted.
    pub(super) fn part(&self, source: SourceKind) -> Option<MimePart<'_>> {
        match self.disposition {
            // The content is base64 written as the message is (see
            // `placeholder`), so the part declares its encoding itself.
            Disposition::Attached(_) => {
                let part = MimePart::new(
                    ContentType::new(self.content_type.as_ref())
                        .attribute("name", self.name.as_ref()),
                    BodyPart::Binary(Cow::Owned(placeholder(self.index).into_bytes())),
                );
                let part = match &self.content_id {
                    Some(id) => part
                        .header(
                            "Content-Disposition",
                            ContentType::new("inline").attribute("filename", self.name.as_ref()),
                        )
                        .cid(id.as_str()),
                    None => part.attachment(self.name.as_ref()),
                };
                Some(part.header("Content-Transfer-Encoding", Raw::new("base64")))
            }
            Disposition::Stub(reason) => {
                let name = format!("{}{STUB_SUFFIX}", self.name);
                Some(
                    MimePart::new(
                        ContentType::new("text/plain")
                            .attribute("charset", "utf-8")
                            .attribute("name", name.clone()),
                        BodyPart::Text(Cow::Owned(self.stub_text(reason, source))),
                    )
                    .attachment(name),
                )
            }
            Disposition::Omitted => None,
        }
    }

    /// One line for the body's summary: name, type, size and what became of
    /// the file.
    pub(super) fn summary(&self, source: SourceKind) -> String {
        let mut out = format!("{} ({}", self.name, self.content_type);
        if let Some(size) = self.attachment.size {
            let _ = write!(out, ", {size} bytes");
        }
        let _ = write!(out, ") – {}", self.status(source));
        out
    }

    /// What became of the file: `attached`, why a stub takes its place, or
    /// who omitted it.
    pub(super) fn status(&self, source: SourceKind) -> String {
        match self.disposition {
            Disposition::Attached(_) => "attached".to_owned(),
            Disposition::Stub(reason) => format!(
                "{}, {}; see {}{STUB_SUFFIX}",
                reason.summary(),
                if self.stored() {
                    "kept in the archive"
                } else {
                    "not in the archive"
                },
                self.name
            ),
            Disposition::Omitted => {
                format!("{} {}", file_kind(&self.content_type), omitted_by(source))
            }
        }
    }

    /// Whether the file is in the archive store.
    fn stored(&self) -> bool {
        self.attachment.object_key.is_some()
    }

    /// The text of a stub part.
    fn stub_text(&self, reason: StubReason, source: SourceKind) -> String {
        let attachment = self.attachment;
        let unknown = Cow::Borrowed("unknown");
        let mut out = String::with_capacity(512);
        let whereabouts = if self.stored() {
            STORED_NOTE
        } else {
            NOT_STORED_NOTE
        };
        let _ = writeln!(out, "{}\n{whereabouts}\n", reason.explanation());
        let rows = [
            ("File name", self.name.clone()),
            ("Content type", self.content_type.clone()),
            (
                "Size",
                attachment
                    .size
                    .map_or(unknown.clone(), |s| Cow::Owned(format!("{s} bytes"))),
            ),
            (
                "SHA-256",
                attachment
                    .sha256
                    .as_deref()
                    .map_or(unknown.clone(), header_text),
            ),
            (
                "Archive key",
                attachment
                    .object_key
                    .as_deref()
                    .map_or(Cow::Borrowed("none"), header_text),
            ),
            ("Source", Cow::Borrowed(source.as_str())),
        ];
        for (label, value) in rows {
            push_plain_row(&mut out, label, &value);
        }
        out
    }
}

impl StubReason {
    /// Why, briefly, for the body's summary.
    fn summary(self) -> Cow<'static, str> {
        match self {
            StubReason::TooLarge(limit) => Cow::Owned(format!("over the {limit}-byte limit")),
            StubReason::Unavailable => Cow::Borrowed("not attached"),
        }
    }

    /// Why, in full, for the stub.
    fn explanation(self) -> Cow<'static, str> {
        match self {
            StubReason::TooLarge(limit) => Cow::Owned(format!(
                "This file is larger than the delivery limit of {limit} bytes and is not attached."
            )),
            StubReason::Unavailable => Cow::Borrowed("This file is not attached."),
        }
    }
}

/// `image`, `video`, `audio` or `file`, for "image omitted by …".
fn file_kind(content_type: &str) -> &'static str {
    match content_type.split('/').next() {
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ => "file",
    }
}

fn omitted_by(source: SourceKind) -> &'static str {
    match source {
        SourceKind::WhatsappExport => "omitted by the exporting device",
        SourceKind::WhatsappCloud | SourceKind::Wecom => "not included by the source",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_plain_tokens() {
        assert_eq!(media_type("image/JPEG"), "image/jpeg");
        assert_eq!(media_type("audio/ogg; codecs=opus"), "audio/ogg");
        for bad in [
            "",
            "jpeg",
            "text/html\r\nX-Evil: 1",
            "a/b/c",
            "multipart/mixed",
            "Message/rfc822",
            "ïmage/png",
        ] {
            assert_eq!(media_type(bad), FALLBACK_CONTENT_TYPE, "{bad:?}");
        }
    }
}
