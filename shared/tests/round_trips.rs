//! Property tests (proptest): items of any content survive the JSON lines
//! of a raw batch unchanged, and render to a message that parses back with
//! only the renderer's headers, its Message-ID and one sender, the same
//! bytes every time. The fuzz targets (shared/fuzz) push the same checks
//! through the parsers for longer.

use std::borrow::Cow;

use chrono::{TimeZone, Utc};
use mail_parser::MessageParser;
use proptest::prelude::*;
use serde_json::value::RawValue;
use shared::item::{
    Attachment, Call, Conversation, ConversationKind, Item, ItemId, ItemKind, JsonLines,
    Participant, Raw, SourceKind, Timestamp,
};
use shared::render::{FileContent, RenderInput, RenderOptions, message_id, render};

fn text() -> impl Strategy<Value = Cow<'static, str>> {
    // Any Unicode (controls, bidi marks, NUL, CR/LF, U+2028 included).
    any::<String>().prop_map(Cow::Owned)
}

fn participant() -> impl Strategy<Value = Participant<'static>> {
    (
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(id, name, phone, email)| Participant {
            id,
            name,
            phone,
            email,
        })
}

fn attachment() -> impl Strategy<Value = Attachment<'static>> {
    (text(), text(), any::<Option<u64>>(), any::<bool>()).prop_map(
        |(name, content_type, size, omitted)| Attachment {
            name,
            content_type,
            size,
            sha256: size.map(|size| format!("{size:064x}")),
            object_key: size.map(|size| format!("media/{size:064x}")),
            omitted,
        },
    )
}

fn raw() -> impl Strategy<Value = Raw<'static>> {
    prop_oneof![
        text().prop_map(Raw::Text),
        any::<String>().prop_map(|body| {
            let json = serde_json::json!({ "body": body }).to_string();
            Raw::Json(RawValue::from_string(json).expect("valid JSON"))
        }),
    ]
}

prop_compose! {
    fn item()(
        seed in any::<u64>(),
        source in prop_oneof![
            Just(SourceKind::Wecom),
            Just(SourceKind::WhatsappCloud),
            Just(SourceKind::WhatsappExport),
        ],
        kind in prop_oneof![
            Just(ItemKind::Message),
            Just(ItemKind::Call),
            Just(ItemKind::System),
            Just(ItemKind::Recall),
            Just(ItemKind::Edit),
            Just(ItemKind::Delete),
            Just(ItemKind::Reaction),
        ],
        source_type in proptest::option::of(text()),
        unrecognised in any::<bool>(),
        seconds in 0i64..4_102_444_800,
        custodian in proptest::option::of(text()),
        conversation in (text(), any::<bool>(), proptest::option::of(text())),
        sender in proptest::option::of(participant()),
        recipients in proptest::collection::vec(participant(), 0..4),
        body in proptest::option::of(text()),
        attachments in proptest::collection::vec(attachment(), 0..3),
        edited in any::<bool>(),
        call in proptest::option::of((any::<bool>(), any::<bool>(), any::<Option<u64>>())),
        refers_to in any::<Option<u64>>(),
        raw in raw(),
    ) -> Item<'static> {
        let (id, group, title) = conversation;
        Item {
            id: ItemId::derive(&[&seed.to_be_bytes()]),
            source,
            kind,
            unrecognised: unrecognised && source_type.is_some(),
            source_type,
            timestamp: Timestamp(Utc.timestamp_opt(seconds, 0).unwrap()),
            custodian,
            conversation: Conversation {
                id,
                kind: if group { ConversationKind::Group } else { ConversationKind::Direct },
                title,
            },
            sender,
            recipients,
            text: body,
            attachments,
            edited,
            call: call.map(|(video, missed, duration_secs)| Call { video, missed, duration_secs }),
            refers_to: refers_to.map(|seed| ItemId::derive(&[&seed.to_le_bytes()])),
            raw,
        }
    }
}

/// Every header the renderer writes at the top of a message.
const HEADERS: &[&str] = &[
    "message-id",
    "date",
    "from",
    "to",
    "subject",
    "in-reply-to",
    "references",
    "thread-topic",
    "thread-index",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-archiver-source",
    "x-archiver-item-id",
    "x-archiver-conversation-id",
    "x-archiver-kind",
    "x-archiver-unrecognised",
    "x-archiver-edited",
    "x-archiver-custodian",
    "x-archiver-raw-sha256",
    "x-archiver-raw-object",
];

/// The names of the top-level headers, after checking the block has CRLF
/// line ends only and no NUL.
fn header_names(message: &[u8]) -> Vec<String> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line ends the headers");
    let block = &message[..end + 2];
    for (i, &b) in block.iter().enumerate() {
        assert_ne!(b, 0, "NUL in the headers");
        if b == b'\r' {
            assert_eq!(block.get(i + 1), Some(&b'\n'), "bare CR in the headers");
        }
        if b == b'\n' {
            assert!(i > 0 && block[i - 1] == b'\r', "bare LF in the headers");
        }
    }
    std::str::from_utf8(block)
        .expect("UTF-8 headers")
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.starts_with([' ', '\t']))
        .map(|line| {
            let (name, _) = line.split_once(':').expect("a header line has a colon");
            name.to_ascii_lowercase()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A raw batch line gives back the item it was written from, and the
    /// fixed-shape writer writes what serde writes.
    #[test]
    fn items_survive_json_lines(item in item()) {
        let mut lines = JsonLines::new(Vec::new());
        lines.write(&item).unwrap();
        let line = lines.into_inner().unwrap();
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert!(!line[..line.len() - 1].contains(&b'\n'), "one line per item");
        let back: Item<'_> = serde_json::from_slice(&line).unwrap();
        prop_assert_eq!(&back, &item);
        let serde = serde_json::to_string(&item).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&line[..line.len() - 1]), serde);
    }

    /// Whatever an item holds, its message has only the renderer's headers
    /// (each once), its Message-ID and one sender, and renders the same
    /// twice.
    #[test]
    fn items_render_without_header_injection(item in item()) {
        let addresses = vec![None; item.participants().count()];
        let files: Vec<Option<FileContent<'_>>> = vec![None; item.attachments.len()];
        let input = RenderInput {
            item: &item,
            addresses: &addresses,
            files: &files,
            raw_object: Some("raw/whatsapp-export/2026-01-01/batch.jsonl"),
        };
        let opts = RenderOptions::default();
        // Unmapped parties and no files: nothing for the renderer to refuse.
        let first = render(&input, &opts).expect("renders");
        prop_assert_eq!(&render(&input, &opts).unwrap(), &first);
        let names = header_names(&first);
        for (i, name) in names.iter().enumerate() {
            prop_assert!(HEADERS.contains(&name.as_str()), "unexpected header {}", name);
            prop_assert!(!names[..i].contains(name), "header {} twice", name);
        }
        let parsed = MessageParser::new().parse(&first).expect("parses");
        let id = message_id(&item.id);
        prop_assert_eq!(parsed.message_id(), Some(id.as_str()));
        prop_assert_eq!(parsed.from().and_then(|from| from.as_list()).map(<[_]>::len), Some(1));
    }
}
