//! What a message's text means: the app's markers for deleted, edited and
//! omitted messages, missed calls and attachments, and the sentences of its
//! own notices. Every marker is a row of a table, one per language the app
//! writes it in; add rows to support more languages.
//!
//! Omitted media become attachments with `omitted: true`, named after the
//! kind of media (`image`, `video`, `audio`, `sticker`, `GIF`, `document`,
//! `contact card`; `media` for Android's `<Media omitted>`) and typed with
//! the format WhatsApp sends that kind in: `image/jpeg`, `video/mp4`,
//! `audio/ogg`, `image/webp`, `video/mp4` (GIFs are sent as MP4),
//! `application/octet-stream`, `text/vcard`; `application/octet-stream` for
//! unknown media. An omitted document that iOS describes (`report.pdf •
//! 3 pages document omitted`) is named and typed after its file name. A
//! present file's type comes from the media store, or is guessed from its
//! name.

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::{memchr, memchr2};

use super::text::{clean, first_line, sub_cow};
use super::{MediaRef, content_type};
use crate::item::{Attachment, Call, ItemKind};

/// A whole-text marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    /// The message was deleted.
    Deleted,
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

/// Texts that are a marker and nothing else (a trailing full stop is ignored).
const WHOLE_TEXT: &[(&str, Marker)] = &[
    // Deleted messages.
    ("This message was deleted", Marker::Deleted),
    ("You deleted this message", Marker::Deleted),
    ("Diese Nachricht wurde gelöscht", Marker::Deleted),
    ("Du hast diese Nachricht gelöscht", Marker::Deleted),
    ("Se eliminó este mensaje", Marker::Deleted),
    ("Eliminaste este mensaje", Marker::Deleted),
    ("Ce message a été supprimé", Marker::Deleted),
    ("Vous avez supprimé ce message", Marker::Deleted),
    ("Mensagem apagada", Marker::Deleted),
    ("Você apagou esta mensagem", Marker::Deleted),
    ("Questo messaggio è stato eliminato", Marker::Deleted),
    ("Hai eliminato questo messaggio", Marker::Deleted),
    ("Dit bericht is verwijderd", Marker::Deleted),
    ("Je hebt dit bericht verwijderd", Marker::Deleted),
    // Missed calls.
    ("Missed voice call", Marker::MissedCall { video: false }),
    ("Missed video call", Marker::MissedCall { video: true }),
    (
        "Missed group voice call",
        Marker::MissedCall { video: false },
    ),
    (
        "Missed group video call",
        Marker::MissedCall { video: true },
    ),
    (
        "Verpasster Sprachanruf",
        Marker::MissedCall { video: false },
    ),
    ("Verpasster Videoanruf", Marker::MissedCall { video: true }),
    ("Llamada perdida", Marker::MissedCall { video: false }),
    (
        "Llamada de voz perdida",
        Marker::MissedCall { video: false },
    ),
    ("Videollamada perdida", Marker::MissedCall { video: true }),
    ("Appel vocal manqué", Marker::MissedCall { video: false }),
    ("Appel vidéo manqué", Marker::MissedCall { video: true }),
    (
        "Chamada de voz perdida",
        Marker::MissedCall { video: false },
    ),
    (
        "Chamada de vídeo perdida",
        Marker::MissedCall { video: true },
    ),
    // Android: media not included.
    ("<Media omitted>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Medien ausgeschlossen>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Multimedia omitido>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Médias omis>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Mídia oculta>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Media omessi>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    ("<Media weggelaten>", Marker::Omitted(MEDIA.0, MEDIA.1)),
    // iOS: media not included.
    ("image omitted", Marker::Omitted(IMAGE.0, IMAGE.1)),
    ("video omitted", Marker::Omitted(VIDEO.0, VIDEO.1)),
    ("audio omitted", Marker::Omitted(AUDIO.0, AUDIO.1)),
    ("sticker omitted", Marker::Omitted(STICKER.0, STICKER.1)),
    ("GIF omitted", Marker::Omitted(GIF.0, GIF.1)),
    (
        "Contact card omitted",
        Marker::Omitted(CONTACT.0, CONTACT.1),
    ),
    ("Bild weggelassen", Marker::Omitted(IMAGE.0, IMAGE.1)),
    ("Video weggelassen", Marker::Omitted(VIDEO.0, VIDEO.1)),
    ("Audio weggelassen", Marker::Omitted(AUDIO.0, AUDIO.1)),
    ("Sticker weggelassen", Marker::Omitted(STICKER.0, STICKER.1)),
    ("GIF weggelassen", Marker::Omitted(GIF.0, GIF.1)),
    ("imagen omitida", Marker::Omitted(IMAGE.0, IMAGE.1)),
    ("video omitido", Marker::Omitted(VIDEO.0, VIDEO.1)),
    ("audio omitido", Marker::Omitted(AUDIO.0, AUDIO.1)),
    ("sticker omitido", Marker::Omitted(STICKER.0, STICKER.1)),
    ("image absente", Marker::Omitted(IMAGE.0, IMAGE.1)),
    ("vidéo absente", Marker::Omitted(VIDEO.0, VIDEO.1)),
    ("audio absent", Marker::Omitted(AUDIO.0, AUDIO.1)),
    ("imagem ocultada", Marker::Omitted(IMAGE.0, IMAGE.1)),
    ("vídeo ocultado", Marker::Omitted(VIDEO.0, VIDEO.1)),
    ("áudio ocultado", Marker::Omitted(AUDIO.0, AUDIO.1)),
];

/// iOS: a document not included, alone or after its description
/// (`report.pdf • 3 pages document omitted`).
const DOCUMENT_OMITTED: &[&str] = &[
    "document omitted",
    "Dokument weggelassen",
    "documento omitido",
    "document absent",
    "documento ocultado",
];

/// The last bytes of [`DOCUMENT_OMITTED`] markers, to skip them quickly.
const DOCUMENT_OMITTED_ENDS: [bool; 256] = {
    let mut set = [false; 256];
    let mut i = 0;
    while i < DOCUMENT_OMITTED.len() {
        let marker = DOCUMENT_OMITTED[i].as_bytes();
        set[marker[marker.len() - 1] as usize] = true;
        i += 1;
    }
    set
};

/// The longest text after a missed-call marker (iOS: `, Tap to call back`).
const CALL_SUFFIX_MAX: usize = 40;

/// Trailing markers of an edited message.
const EDITED: &[&str] = &[
    "<This message was edited>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
    "<Ce message a été modifié>",
    "<Mensagem editada>",
    "<Questo messaggio è stato modificato>",
    "<Dit bericht is bewerkt>",
];

/// Android: `IMG-20210101-WA0001.jpg (file attached)` on the first line.
const FILE_ATTACHED: &[&str] = &[
    " (file attached)",
    " (Datei angehängt)",
    " (archivo adjunto)",
    " (fichier joint)",
    " (arquivo anexado)",
    " (file allegato)",
    " (bestand bijgevoegd)",
];

/// iOS: `<attached: 00000012-PHOTO-2021-01-01-12-00-00.jpg>`.
const ATTACHED_TAGS: &[&str] = &[
    "attached",
    "Anhang",
    "adjunto",
    "pièce jointe",
    "anexado",
    "allegato",
    "bijlage",
];

/// Separates an iOS document's description (`report.pdf • 3 pages`) from its marker.
const DESCRIPTION_DOT: &str = " • ";

/// A sentence of one of the app's own notices, and whether it only occurs in
/// groups (created, added, removed, left, changed the subject…).
const NOTICES: &[(&str, bool)] = &[
    ("end-to-end encrypt", false),
    ("security code", false),
    ("changed their phone number", false),
    ("isappearing messages", false),
    ("pinned a message", false),
    ("blocked this contact", false),
    ("business account", false),
    ("created group", true),
    ("created this group", true),
    (" added", true),
    (" removed", true),
    (" left", true),
    ("changed the subject", true),
    ("changed this group", true),
    ("changed the group", true),
    ("invite link", true),
    ("joined using", true),
    ("now an admin", true),
    ("Ende-zu-Ende-verschlüsselt", false),
    ("Sicherheitsnummer", false),
    ("hat die Gruppe", true),
    ("hinzugefügt", true),
    ("entfernt", true),
    ("hat den Betreff", true),
    ("hat das Gruppenbild", true),
    ("de extremo a extremo", false),
    ("código de seguridad", false),
    ("creó el grupo", true),
    (" añadió", true),
    (" eliminó a", true),
    (" salió", true),
    ("cambió el asunto", true),
    ("cambió el nombre del grupo", true),
    ("de bout en bout", false),
    ("code de sécurité", false),
    ("a créé le groupe", true),
    (" a ajouté", true),
    (" a retiré", true),
    (" est parti", true),
    ("a modifié le sujet", true),
    ("a changé le sujet", true),
    ("de ponta a ponta", false),
    ("código de segurança", false),
    ("criou o grupo", true),
    (" adicionou", true),
    (" removeu", true),
    (" saiu", true),
    ("mudou o assunto", true),
];

/// If `text` is one of the app's notices: whether it is a group notice.
pub(super) fn notice(text: &str) -> Option<bool> {
    let text = clean(text);
    let mut found = None;
    for &(sentence, group) in NOTICES {
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
            Marker::Deleted => meaning.kind = ItemKind::Delete,
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
    } else if let Some((name, caption)) = android_attachment(rest).or_else(|| ios_attachment(rest))
    {
        meaning
            .attachments
            .push(present(sub_cow(&content, name), media));
        meaning.text = non_empty(&content, caption);
    } else {
        meaning.text = non_empty(&content, rest);
    }
    meaning
}

/// The text without a trailing edited marker, and whether there was one.
fn strip_edited(text: &str) -> (&str, bool) {
    if text.ends_with('>') {
        for marker in EDITED {
            if let Some(rest) = text.strip_suffix(marker) {
                return (rest.trim_end(), true);
            }
        }
    }
    (text, false)
}

/// Whole-text markers by byte length, for a lookup without hashing.
fn whole_text_table() -> &'static [Vec<(&'static str, Marker)>] {
    static TABLE: OnceLock<Vec<Vec<(&'static str, Marker)>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let longest = WHOLE_TEXT
            .iter()
            .map(|(text, _)| text.len())
            .max()
            .unwrap_or(0);
        let mut table = vec![Vec::new(); longest + 1];
        for &(text, marker) in WHOLE_TEXT {
            table[text.len()].push((text, marker));
        }
        table
    })
}

/// The marker `text` consists of, if any; for calls, iOS's `, Tap to call
/// back` after the marker is allowed.
fn whole_text(text: &str) -> Option<Marker> {
    let table = whole_text_table();
    let find = |s: &str| {
        let candidates = table.get(s.len())?;
        candidates
            .iter()
            .find(|(text, _)| *text == s)
            .map(|&(_, marker)| marker)
    };
    let text = text.trim();
    if text.len() > table.len() + CALL_SUFFIX_MAX {
        return None;
    }
    if let Some(marker) = find(text).or_else(|| find(text.strip_suffix('.')?)) {
        return Some(marker);
    }
    let head = &text[..memchr2(b',', b'.', text.as_bytes())?];
    find(head).filter(|marker| matches!(marker, Marker::MissedCall { .. }))
}

/// iOS: the name of an omitted document (empty when the marker is alone).
fn omitted_document(text: &str) -> Option<&str> {
    let text = text.trim_end();
    if !DOCUMENT_OMITTED_ENDS[usize::from(*text.as_bytes().last()?)] {
        return None;
    }
    let described = DOCUMENT_OMITTED
        .iter()
        .find_map(|marker| text.strip_suffix(marker))?
        .trim();
    if described.is_empty() {
        return Some("");
    }
    let (name, _) = described.split_once(DESCRIPTION_DOT)?;
    (!name.contains('\n')).then_some(name.trim())
}

/// Android: (file name, caption lines) of `NAME (file attached)\ncaption`.
fn android_attachment(text: &str) -> Option<(&str, &str)> {
    let line = first_line(text);
    if !line.ends_with(')') {
        return None;
    }
    let name = FILE_ATTACHED
        .iter()
        .find_map(|suffix| line.strip_suffix(suffix))?
        .trim();
    let caption = text[line.len()..].trim_start_matches(['\r', '\n']);
    (!name.is_empty()).then_some((name, caption))
}

/// iOS: (file name, text around the marker) of `<attached: NAME>`; a
/// document description before the marker is not text.
fn ios_attachment(text: &str) -> Option<(&str, &str)> {
    let open = memchr(b'<', text.as_bytes())?;
    let inner = &text[open + 1..];
    let after_tag = ATTACHED_TAGS
        .iter()
        .find_map(|tag| inner.strip_prefix(tag)?.strip_prefix(':'))?;
    let close = memchr(b'>', after_tag.as_bytes())?;
    let name = after_tag[..close].trim();
    let before = text[..open].trim();
    let after = after_tag[close + 1..].trim();
    let caption = if before.is_empty() || before.contains(DESCRIPTION_DOT.trim()) {
        after
    } else {
        text
    };
    (!name.is_empty() && !name.contains('\n')).then_some((name, caption))
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
