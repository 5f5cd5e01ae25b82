//! What a message's text means: the app's markers for deleted, edited and
//! omitted messages, missed calls and attachments, and the sentences of its
//! own notices. The phrases are data, one table per language (`languages`);
//! this module builds its lookups from them once: whole-text markers by
//! length in characters and first byte, matched without regard to case and
//! with space-likes as spaces, so that a message that is no marker costs a
//! length and a byte compared.
//!
//! Omitted media become attachments with `omitted: true`, named after the
//! kind of media (`image`, `video`, `audio`, `sticker`, `GIF`, `document`,
//! `contact card`; `media` for Android's `<Media omitted>`) and typed with
//! the format WhatsApp sends that kind in: `image/jpeg`, `video/mp4`,
//! `audio/ogg`, `image/webp`, `video/mp4` (GIFs are sent as MP4),
//! `application/octet-stream`, `text/vcard`; `application/octet-stream` for
//! unknown media. An omitted document that iOS describes (`report.pdf •
//! 3 pages document omitted`, or only `report.pdf document omitted`) is
//! named and typed after its file name. Android's `<Media omitted>` followed
//! by lines of text is an omitted attachment with that caption. A present
//! file's type comes from the media store, or is guessed from its name; the
//! iOS `<attached: NAME>` marker is no text, so only a real caption (before
//! or after it, not a document's description) remains, and older iOS's
//! `NAME <attached>` reads like Android's `NAME (file attached)`.

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::{memchr, memchr2, memrchr};

use super::languages::LANGUAGES;
use super::text::{clean, first_line, sub_cow};
use super::{MediaRef, content_type};
use crate::item::{Attachment, Call, ItemKind};

/// A whole-text marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    /// The message was deleted; by the exporter (`You deleted this
    /// message`), whose author is then the exporter.
    Deleted { by_exporter: bool },
    /// A missed call.
    MissedCall { video: bool },
    /// A media file not included in the export: (name, content type).
    Omitted(&'static str, &'static str),
}

const MEDIA: (&str, &str) = ("media", "application/octet-stream");
const IMAGE: (&str, &str) = ("image", "image/jpeg");
const VIDEO: (&str, &str) = ("video", "video/mp4");
const AUDIO: (&str, &str) = ("audio", "audio/ogg");
const STICKER: (&str, &str) = ("sticker", "image/webp");
const GIF: (&str, &str) = ("GIF", "video/mp4");
const DOCUMENT: (&str, &str) = ("document", "application/octet-stream");
const CONTACT: (&str, &str) = ("contact card", "text/vcard");

/// The longest text after a missed-call marker (iOS: `, Tap to call back`).
const CALL_SUFFIX_MAX: usize = 40;

/// Separates an iOS document's description (`report.pdf • 3 pages`) from its marker.
const DESCRIPTION_DOT: &str = " • ";

/// Whole-text markers of one length (in characters).
#[derive(Debug, Default)]
struct Bucket {
    /// (folded marker, marker), ordered by the folded marker's first byte.
    markers: Vec<(String, Marker)>,
    /// Where the markers starting with each byte begin in `markers` (and,
    /// at the next byte, end): 257 offsets once the bucket is complete.
    starts: Vec<u16>,
}

impl Bucket {
    /// The markers whose folded form starts with `first`.
    #[inline]
    fn starting_with(&self, first: u8) -> &[(String, Marker)] {
        let at = usize::from(first);
        match (self.starts.get(at), self.starts.get(at + 1)) {
            (Some(&start), Some(&end)) => &self.markers[usize::from(start)..usize::from(end)],
            _ => &[],
        }
    }
}

/// The lookups built from the language tables.
#[derive(Debug)]
struct Tables {
    /// Whole-text markers by length in characters.
    whole: Vec<Bucket>,
    /// The longest whole-text marker in bytes.
    longest: usize,
    /// Folded document markers by their last byte.
    documents: Vec<Vec<String>>,
    edited: Vec<&'static str>,
    file_attached: Vec<&'static str>,
    attached: Vec<&'static str>,
    /// (sentence, group only).
    notices: Vec<(&'static str, bool)>,
    /// Texts that may be a marker of the exporter's deleted message (see
    /// [`deleted_by_exporter`]), by length and first byte.
    exporter_deleted: Prefilter,
    /// Texts that may be a whole-text marker.
    whole_filter: Prefilter,
    /// How notices of what the exporter did start.
    you_starts: Vec<&'static str>,
    /// How notices of what the exporter did end.
    you_ends: Vec<&'static str>,
}

/// What a text must be like to be worth matching against some phrases: a
/// length in bytes within what a phrase starting with the text's first byte
/// may have (with space-likes for spaces, a full stop, and for calls iOS's
/// suffix). Texts starting with an invisible mark or a no-break space are
/// admitted up to the longest phrase's length, to be cleaned and looked at
/// again.
#[derive(Debug)]
struct Prefilter {
    /// (shortest, longest) by first byte; (1, 0) for no phrase.
    windows: [(u16, u16); 256],
}

impl Prefilter {
    /// From (phrase, longest text after it).
    fn new<'p>(phrases: impl IntoIterator<Item = (&'p str, usize)>) -> Self {
        let mut windows = [(1, 0); 256];
        let mut longest = 0;
        for (phrase, suffix) in phrases {
            let spaces = phrase.bytes().filter(|&b| b == b' ').count();
            // A folded character may be a few bytes longer or shorter.
            let most = phrase.len() + 2 * spaces + 1 + suffix + 4;
            let least = phrase.len().saturating_sub(4);
            longest = longest.max(most);
            let lead = phrase.chars().next().into_iter();
            let forms = lead.flat_map(|c| c.to_lowercase().chain(c.to_uppercase()).chain([c]));
            for form in forms {
                let byte = usize::from(form.encode_utf8(&mut [0; 4]).as_bytes()[0]);
                let (low, high) = &mut windows[byte];
                if *low > *high {
                    (*low, *high) = (u16::MAX, 0);
                }
                *low = (*low).min(least as u16);
                *high = (*high).max(most as u16);
            }
        }
        // Invisible marks and no-break spaces start with these bytes.
        for byte in [0xC2, 0xE2, 0xEF] {
            windows[byte] = (0, longest as u16);
        }
        Prefilter { windows }
    }

    /// Whether `text` may be one of the phrases.
    #[inline]
    fn admits(&self, text: &str) -> bool {
        let Some(&first) = text.as_bytes().first() else {
            return false;
        };
        let (low, high) = self.windows[usize::from(first)];
        (usize::from(low)..=usize::from(high)).contains(&text.len())
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut whole: Vec<(&str, Marker)> = Vec::new();
        let you_deleted: Vec<&str> = LANGUAGES
            .iter()
            .flat_map(|language| language.you_deleted.iter().copied())
            .collect();
        let you_notices = LANGUAGES
            .iter()
            .flat_map(|language| language.you_notices.iter().copied());
        let (you_ends, you_starts): (Vec<&str>, Vec<&str>) =
            you_notices.partition(|phrase| phrase.starts_with('…'));
        let mut tables = Tables {
            exporter_deleted: Prefilter::new(you_deleted.iter().map(|&phrase| (phrase, 0))),
            whole_filter: Prefilter::new([]),
            you_starts,
            you_ends: you_ends
                .iter()
                .map(|phrase| phrase.trim_start_matches('…'))
                .collect(),
            whole: Vec::new(),
            longest: 0,
            documents: vec![Vec::new(); 256],
            edited: Vec::new(),
            file_attached: Vec::new(),
            attached: Vec::new(),
            notices: Vec::new(),
        };
        for language in LANGUAGES {
            let omitted = |(name, content_type): (&'static str, &'static str)| {
                Marker::Omitted(name, content_type)
            };
            let kinds: [(&[&'static str], Marker); 11] = [
                (language.deleted, Marker::Deleted { by_exporter: false }),
                (language.you_deleted, Marker::Deleted { by_exporter: true }),
                (language.missed_voice, Marker::MissedCall { video: false }),
                (language.missed_video, Marker::MissedCall { video: true }),
                (language.media_omitted, omitted(MEDIA)),
                (language.image_omitted, omitted(IMAGE)),
                (language.video_omitted, omitted(VIDEO)),
                (language.audio_omitted, omitted(AUDIO)),
                (language.sticker_omitted, omitted(STICKER)),
                (language.gif_omitted, omitted(GIF)),
                (language.contact_omitted, omitted(CONTACT)),
            ];
            for (phrases, marker) in kinds {
                whole.extend(phrases.iter().map(|&phrase| (phrase, marker)));
            }
            for &phrase in language.document_omitted {
                let folded = fold(phrase);
                let last = *folded.as_bytes().last().unwrap_or(&0);
                tables.documents[usize::from(last)].push(folded);
            }
            tables.edited.extend(language.edited);
            tables.file_attached.extend(language.file_attached);
            tables.attached.extend(language.attached);
            tables
                .notices
                .extend(language.notices.iter().map(|&sentence| (sentence, false)));
            tables.notices.extend(
                language
                    .group_notices
                    .iter()
                    .map(|&sentence| (sentence, true)),
            );
        }
        tables.whole_filter = Prefilter::new(whole.iter().map(|&(phrase, marker)| {
            let suffix = match marker {
                Marker::MissedCall { .. } => CALL_SUFFIX_MAX,
                _ => 0,
            };
            (phrase, suffix)
        }));
        for (phrase, marker) in whole {
            let folded = fold(phrase);
            let chars = folded.chars().count();
            if tables.whole.len() <= chars {
                tables.whole.resize_with(chars + 1, Bucket::default);
            }
            let bucket = &mut tables.whole[chars];
            tables.longest = tables.longest.max(phrase.len());
            if !bucket.markers.iter().any(|(known, _)| *known == folded) {
                bucket.markers.push((folded, marker));
            }
        }
        for bucket in &mut tables.whole {
            bucket
                .markers
                .sort_by_key(|(folded, _)| folded.as_bytes()[0]);
            bucket.starts = (0..=256u16)
                .map(|byte| {
                    let before = bucket
                        .markers
                        .iter()
                        .take_while(|(folded, _)| u16::from(folded.as_bytes()[0]) < byte)
                        .count();
                    u16::try_from(before).expect("fewer than 65536 markers")
                })
                .collect();
        }
        tables
    })
}

/// A character as markers are compared: lower case (when that is one
/// character), and every space-like character a space.
#[inline]
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if matches!(c, '\u{a0}' | '\u{202f}' | '\u{2009}') {
        return ' ';
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// `s` folded character by character (see [`fold_char`]).
fn fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// `s` without a suffix that folds to `folded`.
fn strip_folded_suffix<'s>(s: &'s str, folded: &str) -> Option<&'s str> {
    let mut chars = s.char_indices().rev();
    let mut at = s.len();
    for expected in folded.chars().rev() {
        let (i, c) = chars.next()?;
        if fold_char(c) != expected {
            return None;
        }
        at = i;
    }
    Some(&s[..at])
}

/// Whether the first line of an authored message is the marker of a
/// message the exporter deleted (`You deleted this message`): then its
/// author is the exporter. Most texts are refused by their length or first
/// byte before any marker is compared.
pub(super) fn deleted_by_exporter(text: &str) -> bool {
    let filter = &tables().exporter_deleted;
    if !filter.admits(text) {
        return false;
    }
    let text = clean(text);
    filter.admits(text.trim_start())
        && matches!(
            whole_text(&text),
            Some(Marker::Deleted { by_exporter: true })
        )
}

/// Whether a notice's text tells of something the exporter did (`You
/// added Bob`), by how it starts or ends (see `Language::you_notices`).
pub(super) fn by_exporter(text: &str) -> bool {
    let tables = tables();
    let text = clean(text);
    let text = text.trim();
    tables
        .you_starts
        .iter()
        .any(|start| text.starts_with(start))
        || tables
            .you_ends
            .iter()
            .any(|end| text.trim_end_matches('.').ends_with(end))
}

/// If `text` is one of the app's notices: whether it is a group notice.
pub(super) fn notice(text: &str) -> Option<bool> {
    let text = clean(text);
    let mut found = None;
    for &(sentence, group) in &tables().notices {
        if text.contains(sentence) {
            if group {
                return Some(true);
            }
            found = Some(false);
        }
    }
    found
}

/// What a message's (cleaned) text says.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Meaning<'a> {
    pub kind: ItemKind,
    pub text: Option<Cow<'a, str>>,
    pub attachments: Vec<Attachment<'a>>,
    pub edited: bool,
    pub call: Option<Call>,
}

impl<'a> Meaning<'a> {
    /// One of the app's notices, with its cleaned text.
    pub(super) fn notice(content: Cow<'a, str>) -> Self {
        let text = non_empty(&content, &content);
        Meaning {
            kind: ItemKind::System,
            text,
            attachments: Vec::new(),
            edited: false,
            call: None,
        }
    }
}

/// Reads the markers of an authored message's cleaned text; `media` finds
/// files of the export by name.
pub(super) fn interpret<'a>(
    content: Cow<'a, str>,
    media: &dyn Fn(&str) -> Option<MediaRef>,
) -> Meaning<'a> {
    let (rest, edited) = strip_edited(&content);
    let mut meaning = Meaning {
        kind: ItemKind::Message,
        text: None,
        attachments: Vec::new(),
        edited,
        call: None,
    };
    if let Some(marker) = whole_text(rest) {
        match marker {
            Marker::Deleted { .. } => meaning.kind = ItemKind::Delete,
            Marker::MissedCall { video } => {
                meaning.kind = ItemKind::Call;
                meaning.call = Some(Call {
                    video,
                    missed: true,
                    duration_secs: None,
                });
            }
            Marker::Omitted(name, content_type) => {
                meaning.attachments.push(omitted(name.into(), content_type))
            }
        }
    } else if let Some(document) = omitted_document(rest) {
        meaning.attachments.push(match document {
            "" => omitted(DOCUMENT.0.into(), DOCUMENT.1),
            name => omitted(sub_cow(&content, name), content_type(name)),
        });
    } else if let Some((name, content_type, caption)) = omitted_with_caption(rest) {
        meaning.attachments.push(omitted(name.into(), content_type));
        meaning.text = non_empty(&content, caption);
    } else if let Some((name, caption)) = android_attachment(rest) {
        meaning
            .attachments
            .push(present(sub_cow(&content, name), media));
        meaning.text = non_empty(&content, caption);
    } else if let Some((name, before, after)) = ios_attachment(rest) {
        meaning
            .attachments
            .push(present(sub_cow(&content, name), media));
        meaning.text = match (non_empty(&content, before), non_empty(&content, after)) {
            (Some(before), Some(after)) => Some(Cow::Owned(format!("{before}\n{after}"))),
            (before, after) => before.or(after),
        };
    } else {
        meaning.text = non_empty(&content, rest);
    }
    meaning
}

/// The text without a trailing edited marker, and whether there was one.
fn strip_edited(text: &str) -> (&str, bool) {
    if text.ends_with('>')
        && let Some(open) = memrchr(b'<', text.as_bytes())
    {
        let tail = &text[open..];
        if tables()
            .edited
            .iter()
            .any(|marker| marker.len() == tail.len() && *marker == tail)
        {
            return (text[..open].trim_end(), true);
        }
    }
    (text, false)
}

/// The marker `text` consists of, if any; for calls, iOS's `, Tap to call
/// back` after the marker is allowed.
fn whole_text(text: &str) -> Option<Marker> {
    let tables = tables();
    // `s` with whether it is ASCII and its length in characters.
    let find = |s: &str, ascii: bool, chars: usize| {
        let bucket = tables.whole.get(chars)?;
        let first = match *s.as_bytes().first()? {
            b if b.is_ascii() => b.to_ascii_lowercase(),
            _ => {
                let first = fold_char(s.chars().next()?);
                first.encode_utf8(&mut [0; 4]).as_bytes()[0]
            }
        };
        bucket
            .starting_with(first)
            .iter()
            .find(|(folded, _)| match ascii {
                true => s.as_bytes().eq_ignore_ascii_case(folded.as_bytes()),
                false => s.chars().map(fold_char).eq(folded.chars()),
            })
            .map(|&(_, marker)| marker)
    };
    let chars_of = |s: &str, ascii: bool| if ascii { s.len() } else { s.chars().count() };
    let text = text.trim();
    if !tables.whole_filter.admits(text) {
        return None;
    }
    // Space-likes are longer than a space, hence the margin.
    if text.len() > 2 * tables.longest + CALL_SUFFIX_MAX {
        return None;
    }
    let ascii = text.is_ascii();
    if ascii && text.len() > tables.whole.len() + CALL_SUFFIX_MAX {
        return None;
    }
    let chars = chars_of(text, ascii);
    // A final '.' is one character.
    let marker = find(text, ascii, chars)
        .or_else(|| find(text.strip_suffix('.')?, ascii, chars.checked_sub(1)?));
    if let Some(marker) = marker {
        return Some(marker);
    }
    let head = &text[..memchr2(b',', b'.', text.as_bytes())?];
    let head_ascii = ascii || head.is_ascii();
    find(head, head_ascii, chars_of(head, head_ascii))
        .filter(|marker| matches!(marker, Marker::MissedCall { .. }))
}

/// iOS: the name of an omitted document (empty when the marker is alone).
fn omitted_document(text: &str) -> Option<&str> {
    let text = text.trim_end();
    let tables = tables();
    let last = match *text.as_bytes().last()? {
        b if b.is_ascii() => b.to_ascii_lowercase(),
        _ => {
            let last = fold_char(text.chars().next_back()?);
            let mut buf = [0; 4];
            let bytes = last.encode_utf8(&mut buf).as_bytes();
            bytes[bytes.len() - 1]
        }
    };
    let described = tables.documents[usize::from(last)]
        .iter()
        .find_map(|marker| strip_folded_suffix(text, marker))?
        .trim();
    if described.is_empty() {
        return Some("");
    }
    // `report.pdf • 3 pages`, or only the file name (`report.pdf`).
    let name = match described.split_once(DESCRIPTION_DOT) {
        Some((name, _)) => name.trim(),
        None if has_extension(described) => described,
        None => return None,
    };
    (!name.contains('\n')).then_some(name)
}

/// Whether `name` ends like a file name: a dot and one to five letters or
/// digits.
fn has_extension(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.trim().is_empty()
            && (1..=5).contains(&extension.len())
            && extension.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Android: an omitted-media marker alone on the first line and a caption
/// on the lines after it: (name, content type, caption).
fn omitted_with_caption(text: &str) -> Option<(&'static str, &'static str, &str)> {
    // Every language writes Android's marker in angle brackets.
    if !text.starts_with('<') {
        return None;
    }
    let line = first_line(text);
    if line.len() == text.len() {
        return None;
    }
    match whole_text(line)? {
        Marker::Omitted(name, content_type) => Some((name, content_type, &text[line.len()..])),
        _ => None,
    }
}

/// Android: (file name, caption lines) of `NAME (file attached)\ncaption`;
/// also older iOS's `NAME <attached>`.
fn android_attachment(text: &str) -> Option<(&str, &str)> {
    let line = first_line(text);
    if !line.ends_with([')', '>']) {
        return None;
    }
    let name = tables()
        .file_attached
        .iter()
        .find_map(|suffix| line.strip_suffix(suffix))?
        .trim();
    let caption = text[line.len()..].trim_start_matches(['\r', '\n']);
    (!name.is_empty()).then_some((name, caption))
}

/// iOS: (file name, text before, text after) of `<attached: NAME>`: the
/// marker itself is no text, nor is a document description before it.
fn ios_attachment(text: &str) -> Option<(&str, &str, &str)> {
    let open = memchr(b'<', text.as_bytes())?;
    let inner = &text[open + 1..];
    let after_tag = tables()
        .attached
        .iter()
        .find_map(|tag| inner.strip_prefix(tag)?.strip_prefix(':'))?;
    let close = memchr(b'>', after_tag.as_bytes())?;
    let name = after_tag[..close].trim();
    let before = text[..open].trim();
    let after = after_tag[close + 1..].trim();
    // A document's description (`report.pdf • 3 pages`) is no caption.
    let before = if before.contains(DESCRIPTION_DOT.trim()) && !before.contains('\n') {
        ""
    } else {
        before
    };
    (!name.is_empty() && !name.contains('\n')).then_some((name, before, after))
}

/// `text` without leading and trailing line breaks, `None` if blank.
fn non_empty<'a>(content: &Cow<'a, str>, text: &str) -> Option<Cow<'a, str>> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(|&b| b != b'\n' && b != b'\r')?;
    let end = bytes.iter().rposition(|&b| b != b'\n' && b != b'\r')? + 1;
    let text = &text[start..end];
    (!text.trim().is_empty()).then(|| sub_cow(content, text))
}

fn omitted<'a>(name: Cow<'a, str>, content_type: &'static str) -> Attachment<'a> {
    Attachment {
        name,
        content_type: content_type.into(),
        size: None,
        sha256: None,
        object_key: None,
        omitted: true,
    }
}

fn present<'a>(name: Cow<'a, str>, media: &dyn Fn(&str) -> Option<MediaRef>) -> Attachment<'a> {
    match media(&name) {
        Some(file) => Attachment {
            content_type: file.content_type.into(),
            size: Some(file.size),
            sha256: Some(file.sha256),
            object_key: Some(file.object_key),
            name,
            omitted: false,
        },
        None => Attachment {
            content_type: content_type(&name).into(),
            name,
            size: None,
            sha256: None,
            object_key: None,
            omitted: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_media(_: &str) -> Option<MediaRef> {
        None
    }

    fn read(text: &str) -> Meaning<'_> {
        interpret(Cow::Borrowed(text), &no_media)
    }

    #[test]
    fn plain_text_stays_borrowed() {
        let meaning = read("hello <world>\nsecond line");
        assert_eq!(meaning.kind, ItemKind::Message);
        assert!(matches!(
            meaning.text,
            Some(Cow::Borrowed("hello <world>\nsecond line"))
        ));
        assert!(meaning.attachments.is_empty() && !meaning.edited);
    }

    #[test]
    fn deleted_and_edited() {
        for text in [
            "This message was deleted",
            "You deleted this message.",
            "Se eliminó este mensaje",
            "Mensagem apagada",
        ] {
            let meaning = read(text);
            assert_eq!(
                (meaning.kind, meaning.text),
                (ItemKind::Delete, None),
                "{text}"
            );
        }
        let meaning = read("See you at 5 <This message was edited>");
        assert!(meaning.edited);
        assert_eq!(meaning.text.as_deref(), Some("See you at 5"));
        let meaning = read("Bis gleich <Diese Nachricht wurde bearbeitet>");
        assert_eq!(
            (meaning.edited, meaning.text.as_deref()),
            (true, Some("Bis gleich"))
        );
    }

    #[test]
    fn missed_calls() {
        let cases = [
            ("Missed voice call", false),
            ("Missed video call", true),
            ("Missed voice call, Tap to call back", false),
            ("Missed video call. Tap to call back", true),
            ("Verpasster Videoanruf", true),
        ];
        for (text, video) in cases {
            let meaning = read(text);
            assert_eq!(meaning.kind, ItemKind::Call, "{text}");
            assert_eq!(
                meaning.call,
                Some(Call {
                    video,
                    missed: true,
                    duration_secs: None
                }),
                "{text}"
            );
        }
        assert_eq!(
            read("Missed voice calls are annoying").kind,
            ItemKind::Message
        );
    }

    #[test]
    fn omitted_media() {
        let cases = [
            ("<Media omitted>", "media", "application/octet-stream"),
            (
                "<Medien ausgeschlossen>",
                "media",
                "application/octet-stream",
            ),
            ("image omitted", "image", "image/jpeg"),
            ("sticker omitted", "sticker", "image/webp"),
            ("Contact card omitted", "contact card", "text/vcard"),
            (
                "report.pdf • 3 pages document omitted",
                "report.pdf",
                "application/pdf",
            ),
            ("document omitted", "document", "application/octet-stream"),
            (
                "Dokument weggelassen",
                "document",
                "application/octet-stream",
            ),
        ];
        for (text, name, content_type) in cases {
            let meaning = read(text);
            assert_eq!(meaning.kind, ItemKind::Message);
            assert_eq!(meaning.text, None, "{text}");
            let [attachment] = meaning.attachments.as_slice() else {
                panic!("{text}: {meaning:?}")
            };
            assert_eq!(
                (attachment.name.as_ref(), attachment.content_type.as_ref()),
                (name, content_type)
            );
            assert!(attachment.omitted && attachment.size.is_none());
        }
    }

    #[test]
    fn attachments_with_and_without_media() {
        let media = |name: &str| {
            (name == "IMG-20210101-WA0001.jpg").then(|| MediaRef {
                size: 42,
                sha256: "ab".repeat(32),
                content_type: "image/jpeg".into(),
                object_key: "media/abab".into(),
            })
        };
        let meaning = interpret(
            Cow::Borrowed("IMG-20210101-WA0001.jpg (file attached)\nLook at this"),
            &media,
        );
        assert_eq!(meaning.text.as_deref(), Some("Look at this"));
        let attachment = &meaning.attachments[0];
        assert_eq!(attachment.name, "IMG-20210101-WA0001.jpg");
        assert_eq!(
            (attachment.size, attachment.object_key.as_deref()),
            (Some(42), Some("media/abab"))
        );

        let meaning = read("<attached: 00000012-PHOTO-2021-01-01-12-00-00.jpg>");
        let attachment = &meaning.attachments[0];
        assert_eq!(attachment.name, "00000012-PHOTO-2021-01-01-12-00-00.jpg");
        assert_eq!(
            (attachment.content_type.as_ref(), attachment.omitted),
            ("image/jpeg", false)
        );
        assert_eq!(meaning.text, None);

        let meaning = read("report.pdf • 3 pages <attached: 00000005-report.pdf>");
        assert_eq!(meaning.attachments[0].name, "00000005-report.pdf");
        assert_eq!(meaning.attachments[0].content_type, "application/pdf");
        assert_eq!(meaning.text, None);

        let meaning = read("<attached: 00000007-AUDIO.opus>\ncaption");
        assert_eq!(meaning.text.as_deref(), Some("caption"));
        assert_eq!(read("a < b and c > d").attachments.len(), 0);
        assert_eq!(
            read("Please sign the document omitted").attachments.len(),
            0
        );
        assert_eq!(
            read("Sent the IMG-1.jpg (file attached)?")
                .attachments
                .len(),
            0
        );
    }

    #[test]
    fn markers_ignore_case_and_space_likes() {
        for (text, kind) in [
            ("THIS MESSAGE WAS DELETED", ItemKind::Delete),
            ("this message was deleted.", ItemKind::Delete),
            ("This\u{a0}message was\u{202f}deleted", ItemKind::Delete),
            ("ДАННОЕ СООБЩЕНИЕ УДАЛЕНО", ItemKind::Delete),
            ("Missed\u{a0}Voice Call", ItemKind::Call),
        ] {
            assert_eq!(read(text).kind, kind, "{text}");
        }
        let meaning = read("<MEDIA OMITTED>");
        assert!(meaning.attachments[0].omitted);
        let meaning = read("Report.PDF • 2 pages DOCUMENT\u{a0}omitted");
        assert_eq!(meaning.attachments[0].name, "Report.PDF");
        let meaning = read("Q3.xlsx • 1 page DOKUMENT WEGGELASSEN");
        assert_eq!(meaning.attachments[0].name, "Q3.xlsx");
        let meaning = read("План.docx • 1 страница ДОКУМЕНТ ОТСУТСТВУЕТ");
        assert_eq!(meaning.attachments[0].name, "План.docx");
        assert_eq!(
            read("This message was deleted, sorry").kind,
            ItemKind::Message
        );
    }

    #[test]
    fn every_language_has_every_marker_kind() {
        use super::super::languages::LANGUAGES;
        let mut tags = Vec::new();
        for language in LANGUAGES {
            let kinds = [
                language.deleted,
                language.you_deleted,
                language.missed_voice,
                language.missed_video,
                language.media_omitted,
                language.image_omitted,
                language.video_omitted,
                language.audio_omitted,
                language.sticker_omitted,
                language.gif_omitted,
                language.contact_omitted,
                language.document_omitted,
                language.edited,
                language.file_attached,
                language.attached,
                language.notices,
            ];
            for (index, phrases) in kinds.iter().enumerate() {
                assert!(!phrases.is_empty(), "{}: kind {index}", language.tag);
            }
            for phrase in language.media_omitted {
                assert!(phrase.starts_with('<') && phrase.ends_with('>'), "{phrase}");
            }
            // Every whole-text phrase reads as its marker.
            for phrase in language.deleted.iter().chain(language.you_deleted) {
                assert_eq!(read(phrase).kind, ItemKind::Delete, "{phrase}");
            }
            for phrase in language.missed_voice.iter().chain(language.missed_video) {
                assert_eq!(read(phrase).kind, ItemKind::Call, "{phrase}");
            }
            assert!(notice(language.notices[0]).is_some(), "{}", language.tag);
            tags.push(language.tag);
        }
        for tag in [
            "cs", "de", "fr", "es", "it", "pt-BR", "pt-PT", "ru", "uk", "nl", "hi", "id", "ja",
            "th", "vi", "ar", "tr", "zh-Hans", "zh-Hant", "ko", "pl",
        ] {
            assert!(tags.contains(&tag), "{tag}");
        }
    }

    #[test]
    fn notices() {
        assert_eq!(notice("Alice created group \"Sales\""), Some(true));
        assert_eq!(notice("Bob left"), Some(true));
        assert_eq!(
            notice("Messages and calls are end-to-end encrypted."),
            Some(false)
        );
        assert_eq!(
            notice("\u{200e}Your security code with Bob changed."),
            Some(false)
        );
        assert_eq!(notice("Lunch at noon?"), None);
    }
}
