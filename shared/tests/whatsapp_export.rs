//! The WhatsApp "Export chat" parser, end to end: layouts, date order,
//! messages, markers, participants, ids and bad input.

use std::borrow::Cow;

use chrono_tz::Tz;
use shared::item::{Attachment, Call, ConversationKind, Item, ItemKind, JsonLines, Raw};
use shared::sources::whatsapp_export::{
    Chat, ChatSummary, DateOrder, ExportContext, ExportError, MediaRef, parse_chat,
};

/// The synthetic exports of `archiver bench`, whose generator lives in the
/// command (it is no part of the library) and is shared with these tests.
#[path = "../../cli/src/bench/data.rs"]
mod bench_data;

use bench_data::generate_android_export;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/whatsapp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn context<'c>(custodian: &'c str, file_name: &'c str, tz: Tz) -> ExportContext<'c> {
    ExportContext {
        custodian,
        file_name,
        tz,
        date_order: None,
        custodian_names: &[],
    }
}

fn no_media(_: &str) -> Option<MediaRef> {
    None
}

fn read_items<'c>(
    chat: &'c Chat<'_>,
    media: &dyn Fn(&str) -> Option<MediaRef>,
) -> (Vec<Item<'c>>, ChatSummary) {
    let mut items = Vec::new();
    let summary = chat.items(media, |item| items.push(item));
    (items, summary)
}

fn prepare<'a>(text: &'a str, ctx: &ExportContext<'_>) -> Chat<'a> {
    Chat::prepare(text, ctx).unwrap_or_else(|e| panic!("{e}"))
}

fn time(item: &Item<'_>) -> String {
    item.timestamp.0.to_rfc3339()
}

fn sender<'i>(item: &'i Item<'_>) -> Option<&'i str> {
    item.sender.as_ref().and_then(|s| s.name.as_deref())
}

fn recipients(item: &Item<'_>) -> Vec<String> {
    item.recipients
        .iter()
        .map(|r| r.label().to_owned())
        .collect()
}

fn raw<'i>(item: &'i Item<'_>) -> &'i str {
    match &item.raw {
        Raw::Text(text) => text,
        Raw::Json(_) => panic!("export items carry text"),
    }
}

#[test]
fn every_header_layout() {
    let utc = chrono_tz::UTC;
    // (export, UTC time of the first message, layout reported)
    let cases = [
        (
            "12/29/25, 10:30 PM - Bob: text\n12/30/25, 9:00 AM - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "m/d/yy, h:mm a - ",
        ),
        (
            "29/12/2025, 22:30 - Bob: text\n30/12/2025, 09:00 - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d/m/yyyy, h:mm - ",
        ),
        (
            "[29/12/25, 22:30:15] Bob: text\n[30/12/25, 09:00:00] Ann: x",
            "2025-12-29T22:30:15+00:00",
            "[d/m/yy, h:mm:ss] ",
        ),
        (
            "2023-12-20, 5:46 p.m. - Bob: text\n2023-12-21, 9:00 a.m. - Ann: x",
            "2023-12-20T17:46:00+00:00",
            "yyyy-m-d, h:mm a - ",
        ),
        (
            "13.06.18, 21:25 - Bob: text\n14.06.18, 09:00 - Ann: x",
            "2018-06-13T21:25:00+00:00",
            "d.m.yy, h:mm - ",
        ),
        (
            "13.6.2018 klo 21.25.15 - Bob: text\n14.6.2018 klo 9.00.00 - Ann: x",
            "2018-06-13T21:25:15+00:00",
            "d.m.yyyy klo h.mm.ss - ",
        ),
        (
            "[2018/06/13, 21:25:15] Bob: text\n[2018/06/14, 09:00:00] Ann: x",
            "2018-06-13T21:25:15+00:00",
            "[yyyy/m/d, h:mm:ss] ",
        ),
        (
            "12/29/25 10:30 PM - Bob: text\n12/30/25 9:00 AM - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "m/d/yy h:mm a - ",
        ),
        (
            "29/12/2025, 10:30 p.\u{a0}m. - Bob: text\n30/12/2025, 9:00 a.\u{a0}m. - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d/m/yyyy, h:mm a - ",
        ),
        (
            "[12/29/25, 10:30:15\u{202f}PM] Bob: text\n[12/30/25, 9:00:00\u{202f}AM] Ann: x",
            "2025-12-29T22:30:15+00:00",
            "[m/d/yy, h:mm:ss a] ",
        ),
        (
            "29/12/2025, 10:30\u{a0}pm - Bob: text\n30/12/2025, 9:00\u{a0}am - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d/m/yyyy, h:mm a - ",
        ),
        (
            "2018/06/13 21:25 - Bob: text\n2018/06/14 09:00 - Ann: x",
            "2018-06-13T21:25:00+00:00",
            "yyyy/m/d h:mm - ",
        ),
        (
            "29-12-2025 22:30 - Bob: text\n30-12-2025 09:00 - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d-m-yyyy h:mm - ",
        ),
        (
            "2018. 6. 13. 오후 9:25 - Bob: text\n2018. 6. 14. 오전 9:00 - Ann: x",
            "2018-06-13T21:25:00+00:00",
            "yyyy. m. d. a h:mm - ",
        ),
        (
            "[29.12.25, 22:30:15] Bob: text\n[30.12.25, 09:00:00] Ann: x",
            "2025-12-29T22:30:15+00:00",
            "[d.m.yy, h:mm:ss] ",
        ),
        (
            "2018/6/13 下午9:25 - Bob: text\n2018/6/14 上午9:00 - Ann: x",
            "2018-06-13T21:25:00+00:00",
            "yyyy/m/d a h:mm - ",
        ),
        (
            "\u{200e}[12/29/25, 10:30:15 PM] Bob: text\n[12/30/25, 9:00:00 AM] Ann: x",
            "2025-12-29T22:30:15+00:00",
            "[m/d/yy, h:mm:ss a] ",
        ),
        (
            "29/12/2025, 10:30 p. m. - Bob: text\n30/12/2025, 9:00 a. m. - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d/m/yyyy, h:mm a - ",
        ),
        (
            "29/12/2025 22:30 - Bob: text\n30/12/2025 09:00 - Ann: x",
            "2025-12-29T22:30:00+00:00",
            "d/m/yyyy h:mm - ",
        ),
    ];
    assert!(cases.len() >= 12);
    for (text, first_time, layout) in cases {
        let ctx = context("+44 7700 900123", "WhatsApp Chat with Bob.txt", utc);
        let chat = prepare(text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        assert_eq!(items.len(), 2, "{text}");
        assert_eq!(time(&items[0]), first_time, "{text}");
        assert_eq!(sender(&items[0]), Some("Bob"), "{text}");
        assert_eq!(items[0].text.as_deref(), Some("text"), "{text}");
        assert_eq!(sender(&items[1]), Some("Ann"), "{text}");
        assert!(items[1].timestamp > items[0].timestamp, "{text}");
        assert_eq!(summary.layout, layout, "{text}");
    }
}

#[test]
fn android_direct_chat() {
    let text = fixture("android_us_direct.txt");
    let ctx = context(
        "+1 415 555 0100",
        "WhatsApp Chat with Bob Miller.txt",
        chrono_tz::America::New_York,
    );
    let chat = Chat::prepare(&text, &ctx).unwrap();
    let media = |name: &str| {
        (name == "IMG-20251229-WA0001.jpg").then(|| MediaRef {
            size: 1234,
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
            object_key: format!("media/{}", "ab".repeat(32)),
        })
    };
    let (items, summary) = read_items(&chat, &media);
    assert_eq!(summary.items, 12);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(summary.conversation_kind, ConversationKind::Direct);
    assert_eq!(summary.title.as_deref(), Some("Bob Miller"));
    assert_eq!(summary.participants, ["Bob Miller", "Alice Chen"]);

    let notice = &items[0];
    assert_eq!(
        (notice.kind, notice.sender.as_ref()),
        (ItemKind::System, None)
    );
    assert!(
        notice
            .text
            .as_deref()
            .unwrap()
            .starts_with("Messages and calls are end-to-end encrypted.")
    );
    assert_eq!(recipients(notice), ["Bob Miller", "Alice Chen"]);
    assert_eq!(time(notice), "2025-12-29T02:05:00+00:00");

    let hello = &items[1];
    assert_eq!(sender(hello), Some("Bob Miller"));
    assert_eq!(hello.sender.as_ref().unwrap().phone, None);
    assert_eq!(hello.recipients.len(), 1);
    // The custodian is the author who is not the chat's title.
    assert_eq!(hello.recipients[0].name.as_deref(), Some("Alice Chen"));
    assert_eq!(hello.recipients[0].phone.as_deref(), Some("+14155550100"));
    assert_eq!(hello.custodian.as_deref(), Some("+1 415 555 0100"));
    assert_eq!(hello.conversation.title.as_deref(), Some("Bob Miller"));
    assert!(hello.conversation.id.starts_with("wa-export:"));

    let agenda = &items[2];
    assert_eq!(
        agenda.text.as_deref(),
        Some(
            "Yes! Agenda:\n1. pricing\n2. delivery\n12/01/2024 was the deadline for the old quote\n\
             12/29/25, 10:30 PM meeting in the lobby"
        )
    );
    assert!(raw(agenda).starts_with("12/28/25, 9:07\u{202f}PM - Alice Chen: Yes!"));
    assert!(raw(agenda).ends_with("meeting in the lobby"));
    assert_eq!(recipients(agenda), ["Bob Miller"]);

    let photo = &items[3];
    assert_eq!(photo.text.as_deref(), Some("Whiteboard from Friday"));
    assert_eq!(
        photo.attachments,
        [Attachment {
            name: "IMG-20251229-WA0001.jpg".into(),
            content_type: "image/jpeg".into(),
            size: Some(1234),
            sha256: Some("ab".repeat(32)),
            object_key: Some(format!("media/{}", "ab".repeat(32))),
            omitted: false,
        }]
    );
    assert_eq!(time(photo), "2025-12-29T13:15:00+00:00");

    let omitted = &items[4];
    assert_eq!(
        (omitted.kind, omitted.text.as_deref()),
        (ItemKind::Message, None)
    );
    assert_eq!(omitted.attachments[0].name, "media");
    assert!(omitted.attachments[0].omitted);

    let deleted = &items[5];
    assert_eq!(
        (deleted.kind, deleted.text.as_deref()),
        (ItemKind::Delete, None)
    );
    assert_eq!(
        raw(deleted),
        "12/29/25, 8:20\u{202f}AM - Alice Chen: This message was deleted"
    );

    let edited = &items[6];
    assert_eq!(
        (edited.kind, edited.edited, edited.text.as_deref()),
        (ItemKind::Message, true, Some("See you at 10"))
    );

    let voice = &items[7];
    assert_eq!(voice.kind, ItemKind::Call);
    assert_eq!(
        voice.call,
        Some(Call {
            video: false,
            missed: true,
            duration_secs: None
        })
    );
    assert_eq!(voice.text, None);
    assert_eq!(items[8].call.map(|c| c.video), Some(true));

    // Without the file in the media lookup: named and typed from the name.
    let document = &items[9];
    let attachment = &document.attachments[0];
    assert_eq!(
        (attachment.name.as_ref(), attachment.content_type.as_ref()),
        ("DOC-20251229-WA0002.pdf", "application/pdf")
    );
    assert_eq!(
        (
            attachment.size,
            attachment.sha256.as_deref(),
            attachment.omitted
        ),
        (None, None, false)
    );

    // Two identical messages in one minute: distinct, stable ids.
    assert_eq!(
        (items[10].text.as_deref(), items[11].text.as_deref()),
        (Some("ok"), Some("ok"))
    );
    assert_ne!(items[10].id, items[11].id);
    assert_eq!(time(&items[11]), "2025-12-30T05:30:00+00:00");
    assert!(items.iter().all(|item| item.refers_to.is_none()));
}

#[test]
fn ios_group_chat_with_bom_and_invisible_marks() {
    let text = fixture("ios_group_uk.txt");
    assert!(text.starts_with('\u{feff}'));
    let ctx = context(
        "alice@example.com",
        "WhatsApp Chat - Sales EMEA.zip",
        chrono_tz::Europe::London,
    );
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.items, 12);
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(summary.conversation_kind, ConversationKind::Group);
    assert_eq!(
        summary.participants,
        ["Alice", "+44 7700 900123", "Dr. J. Smith (Legal)"]
    );

    // iOS writes notices in the group's name, after U+200E: they are notices.
    let [encrypted, created, added] = &items[..3] else {
        unreachable!()
    };
    for notice in [encrypted, created, added] {
        assert_eq!(
            (notice.kind, notice.sender.as_ref()),
            (ItemKind::System, None)
        );
        assert_eq!(notice.recipients.len(), 3);
    }
    assert_eq!(
        created.text.as_deref(),
        Some("Alice created group “Sales EMEA”")
    );
    assert_eq!(added.text.as_deref(), Some("Alice added +44 7700 900123"));
    // The BOM is not part of the first message; other invisible marks stay in raw only.
    assert!(raw(encrypted).starts_with("[29/12/25, 22:30:15] Sales EMEA: \u{200e}Messages"));
    assert!(raw(created).starts_with("\u{200e}[29/12/25"));

    let welcome = &items[3];
    assert_eq!(sender(welcome), Some("Alice"));
    assert!(matches!(welcome.text, Some(Cow::Borrowed("Welcome 👋"))));
    assert_eq!(
        recipients(welcome),
        ["+44 7700 900123", "Dr. J. Smith (Legal)"]
    );

    let thanks = &items[4];
    let from = thanks.sender.as_ref().unwrap();
    assert_eq!(
        (from.id.as_deref(), from.phone.as_deref()),
        (Some("+44 7700 900123"), Some("+447700900123"))
    );
    assert!(matches!(&thanks.text, Some(Cow::Owned(text)) if text == "Thanks Alice"));

    let photo = &items[5].attachments[0];
    assert_eq!(photo.name, "00000012-PHOTO-2025-12-29-22-32-00.jpg");
    assert_eq!(
        (photo.content_type.as_ref(), photo.omitted),
        ("image/jpeg", false)
    );
    assert_eq!(items[5].text, None);

    let image = &items[6].attachments[0];
    assert_eq!(
        (
            image.name.as_ref(),
            image.content_type.as_ref(),
            image.omitted
        ),
        ("image", "image/jpeg", true)
    );

    let document = &items[7].attachments[0];
    assert_eq!(
        (
            document.name.as_ref(),
            document.content_type.as_ref(),
            document.omitted
        ),
        ("Contract v2.pdf", "application/pdf", true)
    );
    let attached = &items[8];
    assert_eq!(attached.attachments[0].name, "00000014-Contract v3.pdf");
    assert_eq!(attached.text, None);

    assert_eq!(items[9].kind, ItemKind::Call);
    assert_eq!(
        items[9].call,
        Some(Call {
            video: false,
            missed: true,
            duration_secs: None
        })
    );

    let (signed, again) = (&items[10], &items[11]);
    assert_eq!(signed.text.as_deref(), Some("Signed:\nsee attachment"));
    assert_eq!(time(signed), "2025-12-30T09:00:00+00:00");
    assert_ne!(signed.id, again.id);
    assert_eq!(signed.custodian.as_deref(), Some("alice@example.com"));
}

#[test]
fn german_group_notices_and_markers() {
    let text = fixture("android_group_de.txt");
    let ctx = context(
        "+49 30 123456",
        "WhatsApp-Chat mit Vertrieb.txt",
        chrono_tz::Europe::Berlin,
    );
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.title.as_deref(), Some("Vertrieb"));
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(summary.conversation_kind, ConversationKind::Group);
    assert_eq!(summary.participants, ["Jürgen", "Anna", "Mehmet"]);
    let kinds: Vec<_> = items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "system", "system", "system", "message", "delete", "message", "message", "call",
            "message"
        ]
    );
    // A colon inside the quoted subject does not make "Jürgen hat den Betreff von "Q1" an author.
    assert_eq!(
        items[2].text.as_deref(),
        Some("Jürgen hat den Betreff von \"Q1: Planung\" zu \"Q2\" geändert")
    );
    assert_eq!(time(&items[3]), "2018-06-13T19:27:00+00:00");
    assert!(items[5].attachments[0].omitted);
    assert_eq!(
        (items[6].edited, items[6].text.as_deref()),
        (true, Some("Bis morgen"))
    );
    assert_eq!(
        items[7].call,
        Some(Call {
            video: false,
            missed: true,
            duration_secs: None
        })
    );
    assert_eq!(
        (sender(&items[8]), items[8].text.as_deref()),
        (Some("Anna"), Some("Ok: passt"))
    );
}

/// `count` messages on 1/2/25 (ambiguous), then optionally one that decides.
fn ambiguous_export(count: usize, last: Option<&str>) -> String {
    let mut text: String = (0..count)
        .map(|i| format!("01/02/25, 10:{:02} - Ann: message {i}\n", i % 60))
        .collect();
    if let Some(line) = last {
        text.push_str(line);
    }
    text
}

#[test]
fn one_late_line_decides_the_date_order() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::UTC,
    );
    let text = ambiguous_export(200, Some("01/13/25, 11:00 - Ann: late\n"));
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(time(&items[0]), "2025-01-02T10:00:00+00:00");
    assert_eq!(time(&items[200]), "2025-01-13T11:00:00+00:00");

    let text = ambiguous_export(200, Some("13/01/25, 11:00 - Ann: late\n"));
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(time(&items[0]), "2025-02-01T10:00:00+00:00");
}

#[test]
fn without_values_above_twelve_ordering_then_layout_decide() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::UTC,
    );
    // Month first goes 2 Jan, 1 Feb, 3 Feb; day first would go back in time.
    let text = "1/2/25, 10:00 - Ann: a\n2/1/25, 10:00 - Ann: b\n2/3/25, 10:00 - Ann: c\n";
    let chat = prepare(text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(time(&items[1]), "2025-02-01T10:00:00+00:00");

    // No evidence at all: day first, except in the US English layout.
    let text = ambiguous_export(5, None);
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(time(&items[0]), "2025-02-01T10:00:00+00:00");
    let chat = prepare(
        "01/02/25, 10:00 AM - Ann: a\n01/02/25, 10:05 AM - Ann: b\n",
        &ctx,
    );
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(time(&items[0]), "2025-01-02T10:00:00+00:00");

    // A configured order wins.
    let forced = ExportContext {
        date_order: Some(DateOrder::MonthFirst),
        ..ctx
    };
    let text = ambiguous_export(5, None);
    let chat = prepare(&text, &forced);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(time(&items[0]), "2025-01-02T10:00:00+00:00");
}

#[test]
fn inconsistent_dates_are_read_best_effort() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::UTC,
    );
    let text = "13/02/25, 10:00 - Ann: a\n14/02/25, 10:00 - Ann: b\n02/15/25, 10:00 - Ann: c\n";
    let chat = prepare(text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(summary.rejected_headers, 1);
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].text.as_deref(),
        Some("b\n02/15/25, 10:00 - Ann: c")
    );
}

#[test]
fn configured_order_that_fits_no_date_is_an_error() {
    let ctx = ExportContext {
        date_order: Some(DateOrder::YearFirst),
        ..context(
            "+44 7700 900123",
            "WhatsApp Chat with Ann.txt",
            chrono_tz::UTC,
        )
    };
    let err = Chat::prepare("29/12/2025, 22:30 - Ann: a\n", &ctx).unwrap_err();
    assert_eq!(
        err,
        ExportError::NoValidDate {
            file: "WhatsApp Chat with Ann.txt".into(),
            order: DateOrder::YearFirst
        }
    );
    assert!(err.to_string().contains("year first"));
}

#[test]
fn local_time_through_dst_changes() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::Europe::London,
    );
    let text = "30/03/2025, 00:30 - Ann: before\n30/03/2025, 01:30 - Ann: in the gap\n30/03/2025, 02:30 - Ann: after\n\
                26/10/2025, 01:30 - Ann: twice\n26/10/2025, 02:30 - Ann: winter\n";
    let chat = prepare(text, &ctx);
    let (items, _) = read_items(&chat, &no_media);
    let times: Vec<_> = items.iter().map(time).collect();
    assert_eq!(
        times,
        [
            "2025-03-30T00:30:00+00:00",
            "2025-03-30T01:30:00+00:00",
            "2025-03-30T01:30:00+00:00",
            "2025-10-26T00:30:00+00:00",
            "2025-10-26T02:30:00+00:00",
        ]
    );
    // Same instant, different text: different ids.
    assert_ne!(items[1].id, items[2].id);
}

#[test]
fn chat_txt_alone_has_no_title_and_crlf_is_handled() {
    let ctx = context("+44 7700 900123", "_chat.txt", chrono_tz::UTC);
    let text = "[29/12/25, 22:30:15] Ann: first\r\nsecond\r\n[29/12/25, 22:31:00] Bob: x\r\n";
    let chat = prepare(text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.title, None);
    assert_eq!(items[0].conversation.title, None);
    assert_eq!(items[0].text.as_deref(), Some("first\nsecond"));
    assert_eq!(raw(&items[0]), "[29/12/25, 22:30:15] Ann: first\r\nsecond");
    assert_eq!(raw(&items[1]), "[29/12/25, 22:31:00] Bob: x");
    let other = context("+44 7700 900123", "WhatsApp Chat - Ann.zip", chrono_tz::UTC);
    let chat = prepare(text, &other);
    let (renamed, _) = read_items(&chat, &no_media);
    assert_ne!(items[0].conversation.id, renamed[0].conversation.id);
    assert_ne!(items[0].id, renamed[0].id);
}

/// The messages of a longer chat, one string per message.
fn chat_messages() -> Vec<String> {
    let mut messages = Vec::new();
    for day in 10..20 {
        for (minute, (author, text)) in [
            ("Ann", "ok"),
            ("Ann", "ok"),
            ("Bob", "multi\nline"),
            ("Bob", "<Media omitted>"),
        ]
        .into_iter()
        .enumerate()
        {
            messages.push(format!(
                "12/{day}/25, 9:{:02} AM - {author}: {text}",
                minute / 2
            ));
        }
    }
    messages
}

#[test]
fn ids_are_stable_across_reimports_and_overlapping_exports() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Bob.txt",
        chrono_tz::UTC,
    );
    let messages = chat_messages();
    let ids = |range: std::ops::Range<usize>| {
        let text = messages[range].join("\n");
        let chat = prepare(&text, &ctx);
        let (items, _) = read_items(&chat, &no_media);
        items.iter().map(|item| item.id).collect::<Vec<_>>()
    };
    let whole = ids(0..40);
    assert_eq!(whole, ids(0..40));
    let mut unique = whole.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 40, "every message has its own id");
    // An earlier and a later export that overlap on days 13 to 15.
    let earlier = ids(0..24);
    let later = ids(12..40);
    assert_eq!(earlier[12..], later[..12]);
    assert_eq!(earlier[..], whole[..24]);
    assert_eq!(later[..], whole[12..]);
    // Another custodian's export of the same chat: other ids.
    let other = context(
        "+44 7700 900999",
        "WhatsApp Chat with Bob.txt",
        chrono_tz::UTC,
    );
    let text = messages[0..4].join("\n");
    let chat = prepare(&text, &other);
    let (items, _) = read_items(&chat, &no_media);
    assert_ne!(items[0].id, whole[0]);
}

#[test]
fn a_renamed_export_keeps_its_chat_and_ids() {
    let text = chat_messages()[0..8].join("\n");
    let read = |file_name: &str| {
        let ctx = context("+44 7700 900123", file_name, chrono_tz::UTC);
        let chat = prepare(&text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        let ids: Vec<_> = items.iter().map(|item| item.id).collect();
        (ids, summary.conversation_id, summary.title)
    };
    let (ids, conversation, title) = read("WhatsApp Chat with Bob.txt");
    assert_eq!(title.as_deref(), Some("Bob"));
    for renamed in [
        "WhatsApp Chat with Bob (1).txt",
        "WhatsApp Chat with Bob 2.txt",
        "WhatsApp Chat with Bob copy.txt",
        "WhatsApp Chat with Bob copy 3.txt",
        "WhatsApp Chat with Bob - Copy.txt",
        "WhatsApp Chat with Bob - Copy (2).txt",
        "WhatsApp Chat with Bob (1) copy.zip",
    ] {
        let (renamed_ids, renamed_conversation, renamed_title) = read(renamed);
        assert_eq!(renamed_title.as_deref(), Some("Bob"), "{renamed}");
        assert_eq!(renamed_conversation, conversation, "{renamed}");
        assert_eq!(renamed_ids, ids, "{renamed}");
    }
    // A file without a title is the chat of its name, renamed or not.
    assert_eq!(read("chat (1).txt").1, read("chat.txt").1);
    // What only looks like a copy's suffix stays: another chat.
    for (name, kept) in [
        ("WhatsApp Chat with +49 30 12345 67.txt", "+49 30 12345 67"),
        ("WhatsApp Chat with Class of 2024.txt", "Class of 2024"),
        ("WhatsApp Chat - Copy.txt", "Copy"),
    ] {
        assert_eq!(read(name).2.as_deref(), Some(kept), "{name}");
    }
}

#[test]
fn no_header_is_a_clear_error() {
    let ctx = context("+44 7700 900123", "notes.txt", chrono_tz::UTC);
    for text in [
        "",
        "\u{feff}",
        "hello\nworld\n",
        "12/01/2024 was the deadline\n",
        "99/99/2025, 10:00 - a: b",
    ] {
        let err = Chat::prepare(text, &ctx).unwrap_err();
        assert!(
            matches!(&err, ExportError::NoHeader { file, .. } if file == "notes.txt"),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with("notes.txt: no WhatsApp message header found"),
            "{message}"
        );
        assert!(message.contains("[29/12/25, 22:30:15] Name: text"));
        assert!(message.contains("19:23, 28 Aug 2013 - Name: text"));
    }
    // The lines tried are named by number and layout, without their content.
    let err = Chat::prepare(
        "\u{feff}Chat with Bob\n\n12/01/2024 was the deadline\nThe 3rd line",
        &ctx,
    )
    .unwrap_err();
    let ExportError::NoHeader { tried, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        tried,
        "line 1: \"xxxx xxxx xxx\", line 3: \"99/99/9999 xxx xxx xxxxxxxx\", \
         line 4: \"xxx 9xx xxxx\""
    );
    assert!(err.to_string().contains(tried.as_str()));
    let ExportError::NoHeader { tried, .. } = Chat::prepare("", &ctx).unwrap_err() else {
        unreachable!()
    };
    assert_eq!(tried, "none (the file is empty)");
}

#[test]
fn lines_before_the_first_header_are_counted() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::UTC,
    );
    let chat = prepare("stray\n\n29/12/2025, 22:30 - Ann: a\n", &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(
        (items.len(), summary.unattributed_lines, summary.lines),
        (1, 1, 3)
    );
}

#[test]
fn parse_chat_streams_items() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Bob.txt",
        chrono_tz::UTC,
    );
    let text = fixture("android_us_direct.txt");
    let media: std::collections::HashMap<String, MediaRef> = std::collections::HashMap::new();
    let lookup = |name: &str| media.get(name).cloned();
    let mut out = Vec::new();
    // The way the CLI calls it: a `&mut` closure that serializes each item.
    let summary = parse_chat(&text, &ctx, &lookup, &mut |item| {
        serde_json::to_writer(&mut out, &item).unwrap();
        out.push(b'\n');
    })
    .unwrap();
    let json: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
    assert_eq!(summary.items as usize, json.len());
    assert!(
        json[1].contains(r#""source":"whatsapp-export""#),
        "{}",
        json[1]
    );
    assert!(
        json[1].contains(r#""timestamp":"2025-12-28T21:05:00Z""#),
        "{}",
        json[1]
    );
    assert!(
        json[1].contains("\"raw\":\"12/28/25, 9:05\u{202f}PM - Bob Miller: Hi Alice, are we still on for tomorrow?\""),
        "{}",
        json[1]
    );
}

/// A small deterministic generator for garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Parses anything without panicking; items' raw text is always a line range of the input.
fn parse_anything(text: &str) {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with X.txt",
        chrono_tz::Europe::Berlin,
    );
    match Chat::prepare(text, &ctx) {
        Ok(chat) => {
            let (items, summary) = read_items(&chat, &no_media);
            assert_eq!(items.len() as u64, summary.items);
            assert!(summary.items <= summary.lines);
            for item in &items {
                assert!(text.contains(raw(item)));
            }
        }
        Err(ExportError::NoHeader { .. }) => {}
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..rng.below(400)).map(|_| rng.next() as u8).collect();
        parse_anything(&String::from_utf8_lossy(&bytes));
    }
    let fragments = [
        "12/29/25",
        "29.12.2025",
        "2018/06/13",
        "2018. 6. 13.",
        "1/1/1",
        "99/99/99",
        ", ",
        " ",
        "10:30",
        "25:61",
        "21.25.15",
        ":15",
        " PM",
        "\u{202f}AM",
        " a. m.",
        "오후",
        "午後",
        " klo ",
        " - ",
        "-",
        "[",
        "]",
        "] ",
        "Bob",
        ": ",
        ":",
        "\u{200e}",
        "\u{202a}",
        "\u{feff}",
        "\u{a0}",
        "\"",
        "“",
        "<attached: ",
        ">",
        " (file attached)",
        "<Media omitted>",
        "image omitted",
        " • ",
        "document omitted",
        "This message was deleted",
        "<This message was edited>",
        "Missed voice call",
        ", Tap",
        "\n",
        "\r\n",
        "\r",
        "é",
        "👍",
        "+44 7700 900123",
        "added",
        " left",
        "changed the subject from \"a: b\"",
    ];
    for _ in 0..3000 {
        let text: String = (0..rng.below(60))
            .map(|_| fragments[rng.below(fragments.len())])
            .collect();
        parse_anything(&text);
    }
}

#[test]
fn generated_export_parses_completely() {
    let text = generate_android_export(300_000, 42);
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat - Sales EMEA.txt",
        chrono_tz::Europe::London,
    );
    let chat = Chat::prepare(&text, &ctx).unwrap();
    let (items, summary) = read_items(&chat, &no_media);
    let headers = text
        .lines()
        .filter(|line| line.contains("\u{202f}AM - ") || line.contains("\u{202f}PM - "))
        .count();
    assert_eq!(items.len(), headers);
    assert_eq!(summary.date_order, DateOrder::MonthFirst);
    assert_eq!(summary.conversation_kind, ConversationKind::Group);
    assert_eq!(summary.participants.len(), 6);
    assert_eq!(summary.rejected_headers, 0);
    assert!(items.iter().any(|item| item.kind == ItemKind::Delete));
    assert!(items.iter().any(|item| item.kind == ItemKind::Call));
    assert!(items.iter().any(|item| item.edited));
    assert!(
        items
            .iter()
            .any(|item| item.attachments.iter().any(|a| !a.omitted))
    );
    assert!(
        items
            .iter()
            .filter(|item| item.kind == ItemKind::System)
            .all(|item| item.sender.is_none())
    );
    assert!(
        items
            .windows(2)
            .all(|pair| pair[0].timestamp <= pair[1].timestamp)
    );
}

#[test]
fn lent_items_are_the_items_and_print_as_json_lines() {
    let text = generate_android_export(300_000, 3);
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Bench.txt",
        chrono_tz::Europe::London,
    );
    let chat = Chat::prepare(&text, &ctx).unwrap();
    let (items, summary) = read_items(&chat, &no_media);
    let (mut lent, mut lines) = (Vec::new(), JsonLines::new(Vec::new()));
    let visited = chat.visit_items(&no_media, |item| {
        lent.push(Item::clone(item));
        lines.write_lent(item).unwrap();
    });
    assert_eq!((&lent, &visited), (&items, &summary));
    let mut expected = Vec::new();
    for item in &items {
        serde_json::to_writer(&mut expected, item).unwrap();
        expected.push(b'\n');
    }
    assert!(lines.into_inner().unwrap() == expected);
}

#[test]
fn media_whose_names_hold_direction_marks_are_linked() {
    use std::io::{Cursor, Write};

    use shared::sources::whatsapp_export::{ReadOptions, ZipLimits, open};

    // A document named to read as a PDF (`invoice\u{202e}fdp.exe` shows as
    // `invoiceexe.pdf`): the chat's marker and the zip entry carry the
    // override; the parser removes it from the text, and the media's name
    // must lose it too for the file to be found.
    let name = "00000004-invoice\u{202e}fdp.exe";
    let chat = format!("[10/11/26, 14:02:17] Carol: \u{200e}<attached: {name}>\n");
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (entry, data) in [("_chat.txt", chat.as_bytes()), (name, b"MZ".as_slice())] {
        writer
            .start_file(entry, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    let bytes = writer.finish().unwrap().into_inner();
    let export = open(&bytes, "WhatsApp Chat - Desk.zip", &ZipLimits::default()).unwrap();
    let opts = ReadOptions {
        custodian: "carol@corp.example",
        tz: chrono_tz::UTC,
        date_order: None,
        custodian_names: &[],
    };
    let lines = export.write_items(&opts, Vec::new()).unwrap().out;
    let item: Item<'_> = serde_json::from_slice(&lines).unwrap();
    let attachment = &item.attachments[0];
    assert_eq!(attachment.name, "00000004-invoicefdp.exe");
    assert_eq!(attachment.size, Some(2), "{attachment:?}");
    assert!(attachment.object_key.is_some(), "{attachment:?}");
}

/// A fixture's expected messages: (sender or `None` for a notice, text, UTC time).
type Expected = &'static [(Option<&'static str>, &'static str, &'static str)];

/// Reads a fixture in UTC and checks its layout and every item.
fn check_fixture(name: &str, layout: &str, order: DateOrder, expected: Expected) {
    let text = fixture(name);
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat - Test.txt",
        chrono_tz::UTC,
    );
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.layout, layout, "{name}");
    assert_eq!(summary.date_order, order, "{name}");
    assert_eq!(summary.rejected_headers, 0, "{name}");
    let got: Vec<_> = items
        .iter()
        .map(|item| (sender(item), item.text.as_deref().unwrap_or(""), time(item)))
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|&(who, text, at)| (who, text, at.to_owned()))
        .collect();
    assert_eq!(got, want, "{name}");
    for item in &items {
        assert_eq!(
            item.kind == ItemKind::System,
            item.sender.is_none(),
            "{name}"
        );
    }
}

#[test]
fn older_ios_layout_with_a_colon_after_the_time() {
    check_fixture(
        "ios_colon_2015_us.txt",
        "m/d/yy, h:mm:ss a: ",
        DateOrder::MonthFirst,
        &[
            (
                None,
                "Messages you send to this chat and calls are now secured with end-to-end encryption.",
                "2015-12-18T21:25:03+00:00",
            ),
            (
                Some("Tom Baker"),
                "Are the Q4 figures final?",
                "2015-12-18T21:25:03+00:00",
            ),
            (
                Some("Sara Diaz"),
                "Nearly: one more check\non the FX line.",
                "2015-12-18T21:26:10+00:00",
            ),
            (Some("Tom Baker"), "Thanks", "2015-12-19T08:01:44+00:00"),
        ],
    );
    // Some phones of those years left the seconds out of some lines.
    check_fixture(
        "ios_colon_seconds_mixed_us.txt",
        "m/d/yy, h:mm:ss a: and m/d/yy, h:mm a: ",
        DateOrder::MonthFirst,
        &[
            (
                Some("Dana Cole"),
                "Call at ten?",
                "2016-03-02T09:05:12+00:00",
            ),
            (Some("Eli Park"), "Yes", "2016-03-02T09:06:00+00:00"),
            (Some("Dana Cole"), "Booked", "2016-03-02T09:07:40+00:00"),
            (Some("Eli Park"), "Notes sent", "2016-03-03T17:15:00+00:00"),
        ],
    );
    check_fixture(
        "ios_colon_2017_de.txt",
        "d.m.yy, h.mm.ss: ",
        DateOrder::DayFirst,
        &[
            (
                Some("Jürgen"),
                "Hallo zusammen",
                "2017-12-18T21:25:15+00:00",
            ),
            (
                Some("Anna"),
                "Termin am 19.12. um 10.00: passt?",
                "2017-12-18T21:26:02+00:00",
            ),
            (Some("Jürgen"), "Ja", "2017-12-19T08:00:00+00:00"),
        ],
    );
}

#[test]
fn connector_words_and_the_time_before_the_date() {
    check_fixture(
        "connector_fr.txt",
        "d/m/yyyy à h:mm - ",
        DateOrder::DayFirst,
        &[
            (
                None,
                "Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même WhatsApp, ne peut les lire ou les écouter.",
                "2022-03-18T14:56:00+00:00",
            ),
            (
                Some("Camille Martin"),
                "Bonjour, le contrat est prêt ?",
                "2022-03-18T14:56:00+00:00",
            ),
            (
                Some("Luc"),
                "Oui : je l'envoie ce soir",
                "2022-03-18T15:02:00+00:00",
            ),
            (Some("Camille Martin"), "Merci", "2022-03-19T09:10:00+00:00"),
        ],
    );
    check_fixture(
        "connector_fi.txt",
        "d.m.yyyy klo h.mm - ",
        DateOrder::DayFirst,
        &[
            (
                None,
                "Viestit ja puhelut ovat päästä päähän salattuja. Kukaan WhatsAppin ulkopuolinen taho, ei edes WhatsApp, voi lukea tai kuunnella niitä.",
                "2022-03-18T14:56:00+00:00",
            ),
            (
                Some("Matti Virtanen"),
                "Hei, onko sopimus valmis?",
                "2022-03-18T14:56:00+00:00",
            ),
            (
                Some("Aino"),
                "Kyllä: lähetän sen illalla",
                "2022-03-18T15:02:00+00:00",
            ),
            (
                Some("Matti Virtanen"),
                "Kiitos",
                "2022-03-19T09:10:00+00:00",
            ),
        ],
    );
    check_fixture(
        "time_first_us.txt",
        "[h:mm:ss, m/d/yy] ",
        DateOrder::MonthFirst,
        &[
            (
                Some("Kim Lee"),
                "Shipping update?",
                "2022-03-18T14:56:01+00:00",
            ),
            (
                Some("Raj Patel"),
                "Left the warehouse at 9:30",
                "2022-03-18T14:57:30+00:00",
            ),
            (Some("Kim Lee"), "Received", "2022-03-19T09:00:00+00:00"),
        ],
    );
    check_fixture(
        "time_first_month_name_uk.txt",
        "h:mm, d MMM yyyy - ",
        DateOrder::DayFirst,
        &[
            (
                Some("Ollie"),
                "Board pack attached",
                "2013-08-28T19:23:00+00:00",
            ),
            (Some("Priya"), "Thanks", "2013-08-28T19:25:00+00:00"),
            (
                Some("Ollie"),
                "Minutes to follow",
                "2013-09-02T08:02:00+00:00",
            ),
        ],
    );
}

#[test]
fn arabic_locales_with_eastern_and_western_digits() {
    let expected: Expected = &[
        (
            Some("أحمد"),
            "مرحبا، هل العقد جاهز؟",
            "2025-12-29T22:30:00+00:00",
        ),
        (Some("Sara"), "نعم", "2025-12-29T22:32:00+00:00"),
        (Some("أحمد"), "شكرا", "2025-12-30T09:05:00+00:00"),
    ];
    check_fixture(
        "arabic_eastern_digits.txt",
        "d/m/yyyy، h:mm a - ",
        DateOrder::DayFirst,
        expected,
    );
    let mut western = expected.to_vec();
    western[0].1 = "مرحبا";
    check_fixture(
        "arabic_western_digits.txt",
        "d/m/yyyy، h:mm a - ",
        DateOrder::DayFirst,
        western.leak(),
    );
}

/// Persian: Extended Arabic-Indic digits, right-to-left marks inside the
/// date, the Arabic comma and the Persian AM/PM words.
#[test]
fn persian_locale() {
    check_fixture(
        "persian_digits.txt",
        "d/m/yyyy، h:mm a - ",
        DateOrder::DayFirst,
        &[
            (
                Some("مریم"),
                "سلام، قرارداد آماده است؟",
                "2022-03-18T14:56:00+00:00",
            ),
            (Some("Reza"), "بله", "2022-03-18T15:02:00+00:00"),
            (Some("مریم"), "ممنون", "2022-03-19T09:10:00+00:00"),
        ],
    );
}

#[test]
fn day_periods_instead_of_am_pm() {
    check_fixture(
        "day_period_en.txt",
        "d/m/yyyy, h:mm a - ",
        DateOrder::DayFirst,
        &[
            (Some("Ann"), "Late one", "2025-12-29T22:30:00+00:00"),
            (Some("Bob"), "Still here", "2025-12-29T23:45:00+00:00"),
            (Some("Ann"), "Going home", "2025-12-30T01:15:00+00:00"),
            (Some("Bob"), "Morning", "2025-12-30T09:00:00+00:00"),
            (Some("Ann"), "Lunch done", "2025-12-30T14:00:00+00:00"),
        ],
    );
    check_fixture(
        "day_period_es.txt",
        "d/m/yyyy, h:mm a - ",
        DateOrder::DayFirst,
        &[
            (
                Some("Lucía"),
                "¿Firmamos mañana?",
                "2025-12-29T22:30:00+00:00",
            ),
            (Some("Pablo"), "Sí", "2025-12-30T02:05:00+00:00"),
            (Some("Lucía"), "Perfecto", "2025-12-30T09:00:00+00:00"),
            (Some("Pablo"), "Firmado", "2025-12-30T16:15:00+00:00"),
        ],
    );
}

#[test]
fn two_digit_years_written_first() {
    check_fixture(
        "year_first_2digit_se.txt",
        "yy-m-d h:mm - ",
        DateOrder::YearFirst,
        &[
            (
                Some("Erik"),
                "Offerten är klar",
                "2021-02-02T09:05:00+00:00",
            ),
            (Some("Karin"), "Tack", "2021-02-03T10:15:00+00:00"),
            (
                Some("Erik"),
                "Avtalet är signerat",
                "2021-02-15T16:40:00+00:00",
            ),
        ],
    );
    check_fixture(
        "year_first_2digit_ios.txt",
        "[yy/m/d, h:mm:ss] ",
        DateOrder::YearFirst,
        &[
            (Some("Erik"), "Offer ready", "2021-02-02T09:05:00+00:00"),
            (Some("Karin"), "Thanks", "2021-02-03T10:15:30+00:00"),
            (Some("Erik"), "Signed", "2021-02-11T16:40:00+00:00"),
        ],
    );
}

#[test]
fn ambiguous_two_digit_years_are_read_both_ways() {
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Ann.txt",
        chrono_tz::UTC,
    );
    // (export, order, first and last times): every date is possible read
    // either way; the field that changes least is the year.
    let cases = [
        (
            "21.02.02, 09:00 - Ann: a\n21.02.03, 09:00 - Ann: b\n21.02.04, 09:00 - Ann: c\n",
            DateOrder::YearFirst,
            ["2021-02-02T09:00:00+00:00", "2021-02-04T09:00:00+00:00"],
        ),
        (
            "02.02.21, 09:00 - Ann: a\n03.02.21, 09:00 - Ann: b\n04.02.21, 09:00 - Ann: c\n",
            DateOrder::DayFirst,
            ["2021-02-02T09:00:00+00:00", "2021-02-04T09:00:00+00:00"],
        ),
        // A first field above 31 can only be a year.
        (
            "99/01/02, 09:00 - Ann: a\n",
            DateOrder::YearFirst,
            ["2099-01-02T09:00:00+00:00", "2099-01-02T09:00:00+00:00"],
        ),
        // A middle field above 12 rules year first out.
        (
            "02/13/21, 09:00 - Ann: a\n02/14/21, 09:00 - Ann: b\n",
            DateOrder::MonthFirst,
            ["2021-02-13T09:00:00+00:00", "2021-02-14T09:00:00+00:00"],
        ),
        // The first field holds still while the last changes.
        (
            "21/01/31, 09:00 - Ann: a\n21/02/01, 09:00 - Ann: b\n",
            DateOrder::YearFirst,
            ["2021-01-31T09:00:00+00:00", "2021-02-01T09:00:00+00:00"],
        ),
        // Both change once: only year first goes forward in time.
        (
            "21/01/31, 09:00 - Ann: a\n22/02/01, 09:00 - Ann: b\n",
            DateOrder::YearFirst,
            ["2021-01-31T09:00:00+00:00", "2022-02-01T09:00:00+00:00"],
        ),
        // The same, day first: only day first goes forward.
        (
            "31/01/21, 09:00 - Ann: a\n01/02/22, 09:00 - Ann: b\n",
            DateOrder::DayFirst,
            ["2021-01-31T09:00:00+00:00", "2022-02-01T09:00:00+00:00"],
        ),
    ];
    for (text, order, [first, last]) in cases {
        let chat = prepare(text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        assert_eq!(summary.date_order, order, "{text}");
        assert_eq!(time(&items[0]), first, "{text}");
        assert_eq!(time(items.last().unwrap()), last, "{text}");
    }
    // A configured order still wins.
    let forced = ExportContext {
        date_order: Some(DateOrder::DayFirst),
        ..ctx
    };
    let chat = prepare(cases[0].0, &forced);
    assert_eq!(
        read_items(&chat, &no_media).1.date_order,
        DateOrder::DayFirst
    );
}

#[test]
fn localized_markers_in_many_languages() {
    // Every fixture holds, in order: the encryption notice (as iOS writes
    // it, in the chat's name), a message deleted by the other party and one
    // by the exporter, a missed voice and a missed video call, Android's
    // omitted media, then iOS's omitted image, video, audio, sticker, GIF,
    // contact card and document, and last a security-code change (a notice
    // iOS writes in the chat's name).
    let omitted = [
        ("media", "application/octet-stream"),
        ("image", "image/jpeg"),
        ("video", "video/mp4"),
        ("audio", "audio/ogg"),
        ("sticker", "image/webp"),
        ("GIF", "video/mp4"),
        ("contact card", "text/vcard"),
        ("document", "application/octet-stream"),
    ];
    for language in ["cs", "ru", "ja", "tr", "pl", "zh_hans", "ar"] {
        let name = format!("markers_{language}.txt");
        let text = fixture(&name);
        let ctx = context(
            "+44 7700 900123",
            "WhatsApp Chat - Chat.zip",
            chrono_tz::UTC,
        );
        let chat = prepare(&text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        assert_eq!(items.len(), 14, "{name}");
        assert_eq!(summary.participants.len(), 2, "{name}: {summary:?}");
        let kinds: Vec<_> = items[..5].iter().map(|item| item.kind).collect();
        assert_eq!(
            kinds,
            [
                ItemKind::System,
                ItemKind::Delete,
                ItemKind::Delete,
                ItemKind::Call,
                ItemKind::Call
            ],
            "{name}"
        );
        assert!(items[0].sender.is_none(), "{name}");
        assert!(items[1..5].iter().all(|item| item.text.is_none()), "{name}");
        let calls: Vec<_> = items[3..5].iter().map(|item| item.call).collect();
        let call = |video| {
            Some(Call {
                video,
                missed: true,
                duration_secs: None,
            })
        };
        assert_eq!(calls, [call(false), call(true)], "{name}");
        let security = &items[13];
        assert_eq!(security.kind, ItemKind::System, "{name}");
        assert!(security.sender.is_none(), "{name}");
        assert!(security.attachments.is_empty(), "{name}");
        for (item, (kind, content_type)) in items[5..13].iter().zip(omitted) {
            assert_eq!(
                (item.kind, item.text.as_deref()),
                (ItemKind::Message, None),
                "{name}: {kind}"
            );
            let [attachment] = item.attachments.as_slice() else {
                panic!("{name}: {kind}: {item:?}")
            };
            assert_eq!(
                (
                    attachment.name.as_ref(),
                    attachment.content_type.as_ref(),
                    attachment.omitted
                ),
                (kind, content_type, true),
                "{name}"
            );
        }
    }
}

/// An attachment as (name, content type, omitted).
type Attached = (String, String, bool);

/// Each item's text and attachments.
fn texts_and_attachments(name: &str) -> Vec<(Option<String>, Vec<Attached>)> {
    let text = fixture(name);
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Tom.txt",
        chrono_tz::UTC,
    );
    let chat = prepare(&text, &ctx);
    let media = |file: &str| {
        (file == "00000021-PHOTO-2024-03-05-09-02-00.jpg").then(|| MediaRef {
            size: 7,
            sha256: "cd".repeat(32),
            content_type: "image/jpeg".into(),
            object_key: format!("media/{}", "cd".repeat(32)),
        })
    };
    let (items, _) = read_items(&chat, &media);
    items
        .iter()
        .map(|item| {
            (
                item.text.as_deref().map(str::to_owned),
                item.attachments
                    .iter()
                    .map(|a| (a.name.to_string(), a.content_type.to_string(), a.omitted))
                    .collect(),
            )
        })
        .collect()
}

fn attached(name: &str, content_type: &str, omitted: bool) -> Vec<Attached> {
    vec![(name.into(), content_type.into(), omitted)]
}

#[test]
fn attachment_forms() {
    let some = |text: &str| Some(text.to_owned());
    assert_eq!(
        texts_and_attachments("android_attachments.txt"),
        [
            // `<Media omitted>` and a caption on the next line.
            (
                some("Signed copy of the NDA"),
                attached("media", "application/octet-stream", true)
            ),
            (None, attached("media", "application/octet-stream", true)),
            (
                some("Whiteboard"),
                attached("IMG-20240305-WA0001.jpg", "image/jpeg", false)
            ),
            (
                some("Unterschrieben"),
                attached("media", "application/octet-stream", true)
            ),
        ]
    );
    assert_eq!(
        texts_and_attachments("ios_attachments.txt"),
        [
            // A document omitted with its name and no page count.
            (None, attached("report.pdf", "application/pdf", true)),
            // Text that merely ends like the marker.
            (some("Please sign the document omitted"), vec![]),
            // The marker is no text once the attachment is linked: only the
            // caption remains.
            (
                some("Site photos"),
                attached(
                    "00000021-PHOTO-2024-03-05-09-02-00.jpg",
                    "image/jpeg",
                    false
                )
            ),
            (
                some("Second caption line"),
                attached(
                    "00000022-PHOTO-2024-03-05-09-03-00.jpg",
                    "image/jpeg",
                    false
                )
            ),
            (
                some("Minutes\nsee section 2"),
                attached(
                    "00000023-Minutes.docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    false
                )
            ),
            // A document's description is no caption.
            (
                None,
                attached(
                    "00000024-Q1.xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    false
                )
            ),
        ]
    );
    // Older iOS: `NAME <attached>`, with a caption on the next line.
    assert_eq!(
        texts_and_attachments("ios_colon_attached.txt"),
        [
            (
                some("Old phone caption"),
                attached("IMG_0042.JPG", "image/jpeg", false)
            ),
            (None, attached("VID_0043.MOV", "video/quicktime", false)),
        ]
    );
}

#[test]
fn doubtful_lines_are_warned_about_with_their_line_numbers() {
    use shared::sources::whatsapp_export::{LineWarning, WarningReason};
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat - Team.txt",
        chrono_tz::UTC,
    );
    let warning = |line, reason| LineWarning { line, reason };

    let text = fixture("loud_android_us.txt");
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(
        summary.warnings,
        [
            warning(2, WarningReason::OtherLayout),
            warning(3, WarningReason::ImpossibleHour)
        ]
    );
    assert_eq!(summary.warning_count, 2);
    assert_eq!(
        summary.warnings[1].to_string(),
        "line 3: the hour is 13 or later with AM/PM; read on a 24-hour clock"
    );
    let read: Vec<_> = items
        .iter()
        .map(|item| (sender(item), item.text.as_deref(), time(item)))
        .collect();
    assert_eq!(
        read[..3],
        [
            (
                Some("Bob"),
                Some("first\n[12/29/25, 10:31:00 PM] Ann: pasted from an iPhone export"),
                "2025-12-29T22:30:00+00:00".to_owned()
            ),
            // Its own message, not folded into the one before.
            (
                Some("Ann"),
                Some("impossible hour"),
                "2025-12-29T13:05:00+00:00".to_owned()
            ),
            // A name of invisible marks: an unnamed sender, not a notice.
            (
                None,
                Some("from an invisible name"),
                "2025-12-29T22:40:00+00:00".to_owned()
            ),
        ]
    );
    let unnamed = items[2].sender.as_ref().expect("a sender");
    assert_eq!(unnamed.id.as_deref(), Some("(unnamed sender)"));
    assert_eq!(items[2].kind, ItemKind::Message);

    // Two lines of another layout are a second layout of the file, not
    // text pasted into a message.
    let text = fixture("loud_ios_uk.txt");
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.warnings, []);
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3].sender.as_ref().and_then(|s| s.id.as_deref()),
        Some("(unnamed sender)")
    );
    // Files without doubts have no warnings.
    let text = fixture("android_us_direct.txt");
    let (_, summary) = read_items(&prepare(&text, &ctx), &no_media);
    assert!(summary.warnings.is_empty() && summary.warning_count == 0);
}

/// A header layout for the generated matrix.
struct Layout {
    name: &'static str,
    open: &'static str,
    joiner: &'static str,
    time_first: bool,
    close: &'static str,
    time_sep: char,
    seconds: bool,
    /// Between date fields (`"/"`, `". "`).
    date_sep: &'static str,
    /// The date ends with its separator (`2024. 1. 3.`).
    trailing: bool,
    /// Eastern Arabic digits.
    eastern: bool,
}

const fn layout(name: &'static str, open: &'static str, joiner: &'static str) -> Layout {
    Layout {
        name,
        open,
        joiner,
        time_first: false,
        close: " - ",
        time_sep: ':',
        seconds: false,
        date_sep: "/",
        trailing: false,
        eastern: false,
    }
}

const MATRIX_LAYOUTS: &[Layout] = &[
    layout("android", "", ", "),
    Layout {
        date_sep: ".",
        ..layout("android without comma", "", " ")
    },
    Layout {
        date_sep: "-",
        ..layout("android dashed date", "", ", ")
    },
    Layout {
        close: "] ",
        seconds: true,
        ..layout("ios", "[", ", ")
    },
    Layout {
        close: "] ",
        seconds: true,
        date_sep: ".",
        ..layout("ios dotted", "[", ", ")
    },
    Layout {
        close: ": ",
        seconds: true,
        ..layout("older ios", "", ", ")
    },
    Layout {
        close: ": ",
        seconds: true,
        time_sep: '.',
        date_sep: ".",
        ..layout("older ios dotted", "", ", ")
    },
    layout("french connector", "", " à "),
    Layout {
        time_sep: '.',
        seconds: true,
        date_sep: ".",
        ..layout("finnish", "", " klo ")
    },
    Layout {
        close: "] ",
        seconds: true,
        time_first: true,
        ..layout("time first, ios", "[", ", ")
    },
    Layout {
        time_first: true,
        ..layout("time first, android", "", ", ")
    },
    Layout {
        date_sep: ". ",
        trailing: true,
        ..layout("korean", "", " ")
    },
    Layout {
        eastern: true,
        ..layout("arabic", "", "، ")
    },
    layout("arabic, western digits", "", "، "),
];

/// How a generated header writes the hour.
#[derive(Clone, Copy, Debug)]
enum MatrixClock {
    H24,
    /// (AM, PM) after the time.
    Suffix(&'static str, &'static str),
    /// (AM, PM) before the time.
    Prefix(&'static str, &'static str),
    /// `in the morning`, `in the afternoon`, `in the evening`.
    DayPeriod,
}

const MATRIX_CLOCKS: &[MatrixClock] = &[
    MatrixClock::H24,
    MatrixClock::Suffix(" AM", " PM"),
    MatrixClock::Suffix("\u{202f}am", "\u{202f}pm"),
    MatrixClock::Suffix(" a.\u{a0}m.", " p.\u{a0}m."),
    MatrixClock::Suffix(" ص", " م"),
    MatrixClock::Prefix("오전 ", "오후 "),
    MatrixClock::Prefix("午前", "午後"),
    MatrixClock::DayPeriod,
];

/// (order, year written with four digits).
const MATRIX_ORDERS: &[(DateOrder, bool)] = &[
    (DateOrder::DayFirst, false),
    (DateOrder::DayFirst, true),
    (DateOrder::MonthFirst, false),
    (DateOrder::MonthFirst, true),
    (DateOrder::YearFirst, false),
    (DateOrder::YearFirst, true),
];

/// Renders `messages` (UTC time, author, text) in a layout.
fn render_chat(
    layout: &Layout,
    clock: MatrixClock,
    (order, wide): (DateOrder, bool),
    messages: &[(chrono::NaiveDateTime, &str, String)],
) -> String {
    use chrono::{Datelike, Timelike};
    let mut out = String::new();
    for (at, author, text) in messages {
        let year = if wide {
            at.year().to_string()
        } else {
            format!("{:02}", at.year() % 100)
        };
        let (month, day) = if order == DateOrder::YearFirst && !wide {
            // yy-MM-dd: two-digit years first are written zero-padded.
            (format!("{:02}", at.month()), format!("{:02}", at.day()))
        } else {
            (at.month().to_string(), at.day().to_string())
        };
        let fields = match order {
            DateOrder::DayFirst => [day, month, year],
            DateOrder::MonthFirst => [month, day, year],
            DateOrder::YearFirst => [year, month, day],
        };
        let mut date = fields.join(layout.date_sep);
        if layout.trailing {
            date.push_str(layout.date_sep.trim_end());
        }
        let (hour, minute, second) = (at.hour(), at.minute(), at.second());
        let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
        let t = layout.time_sep;
        let digits = |h: u32| {
            let mut time = format!("{h}{t}{minute:02}");
            if layout.seconds {
                time.push_str(&format!("{t}{second:02}"));
            }
            time
        };
        let time = match clock {
            MatrixClock::H24 => digits(hour),
            MatrixClock::Suffix(am, pm) => {
                format!("{}{}", digits(h12), if hour < 12 { am } else { pm })
            }
            MatrixClock::Prefix(am, pm) => {
                format!("{}{}", if hour < 12 { am } else { pm }, digits(h12))
            }
            MatrixClock::DayPeriod => format!(
                "{} {}",
                digits(h12),
                match hour {
                    0..12 => "in the morning",
                    12..18 => "in the afternoon",
                    _ => "in the evening",
                }
            ),
        };
        let (first, second) = if layout.time_first {
            (time, date)
        } else {
            (date, time)
        };
        let mut header = format!(
            "{}{first}{}{second}{}",
            layout.open, layout.joiner, layout.close
        );
        if layout.eastern {
            header = header
                .chars()
                .map(|c| match c.to_digit(10) {
                    Some(d) => char::from_u32(0x660 + d).expect("an Arabic-Indic digit"),
                    None => c,
                })
                .collect();
        }
        out.push_str(&format!("{header}{author}: {text}\n"));
    }
    out
}

#[test]
fn generated_layout_matrix_parses_back() {
    use chrono::NaiveDate;
    let days = [3, 9, 14, 21, 27];
    let messages: Vec<(chrono::NaiveDateTime, &str, String)> = (0..20u32)
        .map(|i| {
            let at = NaiveDate::from_ymd_opt(2024, 1 + i / 5, days[i as usize % 5])
                .unwrap()
                .and_hms_opt((i * 7 + 5) % 24, (i * 13) % 60, (i * 17) % 60)
                .unwrap();
            let author = if i % 3 == 0 { "Ann Lee" } else { "Bob" };
            (at, author, format!("message {i}: hello"))
        })
        .collect();
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat - Matrix.txt",
        chrono_tz::UTC,
    );
    let mut combinations = 0;
    for layout in MATRIX_LAYOUTS {
        for &clock in MATRIX_CLOCKS {
            if layout.time_first && matches!(clock, MatrixClock::Prefix(..)) {
                continue;
            }
            for &order in MATRIX_ORDERS {
                let text = render_chat(layout, clock, order, &messages);
                let case = format!("{} / {clock:?} / {order:?}:\n{text}", layout.name);
                let chat = Chat::prepare(&text, &ctx).unwrap_or_else(|e| panic!("{case}\n{e}"));
                let (items, summary) = read_items(&chat, &no_media);
                assert_eq!(summary.date_order, order.0, "{case}");
                assert!(
                    summary.warnings.is_empty(),
                    "{case}\n{:?}",
                    summary.warnings
                );
                assert_eq!(items.len(), messages.len(), "{case}");
                for (item, (at, author, text)) in items.iter().zip(&messages) {
                    let mut expected = at.and_utc();
                    if !layout.seconds {
                        expected -=
                            chrono::TimeDelta::seconds(i64::from(chrono::Timelike::second(at)));
                    }
                    assert_eq!(item.timestamp.0, expected, "{case}");
                    assert_eq!(sender(item), Some(*author), "{case}");
                    assert_eq!(item.text.as_deref(), Some(text.as_str()), "{case}");
                }
                combinations += 1;
            }
        }
    }
    // Every layout × clock × order, but prefix clocks with the time first.
    assert_eq!(combinations, 14 * 8 * 6 - 2 * 2 * 6);
}

#[test]
fn non_gregorian_years() {
    check_fixture(
        "japanese_era_reiwa.txt",
        "[Gy/m/d h:mm:ss] ",
        DateOrder::YearFirst,
        &[
            (
                Some("佐藤"),
                "見積書を送ります",
                "2022-03-18T14:56:01+00:00",
            ),
            (
                Some("鈴木"),
                "ありがとうございます",
                "2022-03-18T14:57:30+00:00",
            ),
            (Some("佐藤"), "新年の挨拶", "2023-01-05T09:00:00+00:00"),
        ],
    );
    check_fixture(
        "japanese_era_heisei.txt",
        "Gy/m/d h:mm - ",
        DateOrder::YearFirst,
        &[
            (Some("佐藤"), "平成の記録", "2018-06-13T21:25:00+00:00"),
            (Some("鈴木"), "平成最後の日", "2019-04-30T23:59:00+00:00"),
            (Some("佐藤"), "令和初日", "2019-05-01T00:01:00+00:00"),
        ],
    );
    check_fixture(
        "thai_buddhist.txt",
        "d/m/yyyy h:mm - ",
        DateOrder::DayFirst,
        &[
            (Some("สมชาย"), "สวัสดีครับ", "2022-03-18T14:56:00+00:00"),
            (Some("Anna"), "Hello", "2022-03-18T15:02:00+00:00"),
            (Some("สมชาย"), "สวัสดีปีใหม่", "2023-01-01T09:00:00+00:00"),
        ],
    );
    check_fixture(
        "thai_buddhist_be.txt",
        "[d/m/yyyy BE, h:mm:ss a] ",
        DateOrder::DayFirst,
        &[
            (Some("Anna"), "Contract sent", "2022-03-18T14:56:01+00:00"),
            (Some("Somchai"), "Received", "2022-03-19T09:00:00+00:00"),
        ],
    );
}

#[test]
fn a_file_that_mixes_two_layouts_parses_both() {
    use shared::sources::whatsapp_export::{LineWarning, WarningReason};
    let ctx = context(
        "+44 7700 900123",
        "WhatsApp Chat with Tom Reed.txt",
        chrono_tz::UTC,
    );
    let text = fixture("mixed_layouts_uk.txt");
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    let read: Vec<_> = items
        .iter()
        .map(|item| (sender(item), item.text.as_deref(), time(item)))
        .collect();
    let at = |time: &str| format!("2024-04-{time}+00:00");
    assert_eq!(
        read,
        [
            (
                Some("Priya Shah"),
                Some("Morning, the export from my old phone starts here"),
                at("03T09:15:02")
            ),
            (Some("Tom Reed"), Some("ok"), at("03T09:16:40")),
            (
                Some("Priya Shah"),
                Some("Last message before the switch\nTwo lines of it"),
                at("13T18:02:11")
            ),
            (
                Some("Priya Shah"),
                Some("New phone, Android now"),
                at("14T08:30:00")
            ),
            (Some("Tom Reed"), Some("Welcome back"), at("14T08:31:00")),
            (
                Some("Tom Reed"),
                Some("14/04/2024, 08:00 - this line only quotes a time"),
                at("14T08:35:00")
            ),
            (
                Some("Priya Shah"),
                Some("Merged from the iPhone backup"),
                at("15T10:00:00")
            ),
            (Some("Priya Shah"), None, at("15T10:05:00")),
        ]
    );
    assert_eq!(items[7].kind, ItemKind::Delete);
    assert_eq!(summary.layout, "[d/m/yyyy, h:mm:ss] and d/m/yyyy, h:mm - ");
    assert_eq!(summary.date_order, DateOrder::DayFirst);
    assert_eq!(summary.warnings, []);

    // Month first in both layouts; one line of a third layout is text of
    // the message before it, and warned about.
    let text = fixture("mixed_layouts_us.txt");
    let chat = prepare(&text, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    let read: Vec<_> = items
        .iter()
        .map(|item| (sender(item), time(item)))
        .collect();
    let at = |time: &str| format!("2023-01-{time}+00:00");
    assert_eq!(
        read,
        [
            (Some("Maria Lopez"), at("05T09:15:00")),
            (Some("Dev Patel"), at("05T09:20:00")),
            (Some("Maria Lopez"), at("05T10:01:15")),
            (Some("Dev Patel"), at("05T10:02:00")),
            (Some("Dev Patel"), at("05T10:02:30")),
            (Some("Maria Lopez"), at("13T16:45:00")),
            (Some("Dev Patel"), at("13T16:46:00")),
            (Some("Maria Lopez"), at("13T16:55:00")),
        ]
    );
    assert_eq!(
        items[6].text.as_deref(),
        Some(
            "[1/13/23, 4:00:00 PM] Maria Lopez: quoted from the other export\n\
             2023-01-13, 16:50 - Maria Lopez: one line in a third layout stays in its message"
        )
    );
    assert_eq!(
        summary.warnings,
        [LineWarning {
            line: 8,
            reason: WarningReason::OtherLayout
        }]
    );
    assert_eq!(summary.layout, "m/d/yy, h:mm a - and [m/d/yy, h:mm:ss a] ");
}

/// The export fixtures that tell which author is the exporter, with that
/// author.
const EXPORTERS: &[(&str, &str)] = &[
    ("markers_ar.txt", "Layla"),
    ("markers_cs.txt", "Jana"),
    ("markers_ja.txt", "鈴木"),
    ("markers_pl.txt", "Tomek"),
    ("markers_ru.txt", "Олег"),
    ("markers_tr.txt", "Mehmet"),
    ("markers_zh_hans.txt", "李娜"),
    ("mixed_layouts_uk.txt", "Priya Shah"),
];

/// In every export fixture, the custodian's own messages carry the
/// custodian's number and identity: told by the export's own lines where
/// they tell, else by the configured author names (here the first author),
/// else unknown; no one else's do.
#[test]
fn in_every_fixture_the_custodians_own_messages_carry_the_custodian() {
    use shared::sources::whatsapp_export::CustodianAuthor;
    let dir = format!("{}/tests/fixtures/whatsapp", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    for name in &names {
        let text = fixture(name);
        let ctx = context("+44 7700 900999", name, chrono_tz::UTC);
        let chat = prepare(&text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        let first_author = items
            .iter()
            .find_map(|item| sender(item))
            .expect("an author")
            .to_owned();
        let told = EXPORTERS.iter().find(|(file, _)| file == name);
        let configured = [first_author.clone()];
        let (author, how, names) = match told {
            Some((_, author)) => (*author, CustodianAuthor::ExportLines, &[][..]),
            None => {
                assert_eq!(summary.custodian_author, CustodianAuthor::Unknown, "{name}");
                (
                    first_author.as_str(),
                    CustodianAuthor::Configured,
                    &configured[..],
                )
            }
        };
        let ctx = ExportContext {
            custodian_names: names,
            ..ctx
        };
        let chat = prepare(&text, &ctx);
        let (items, summary) = read_items(&chat, &no_media);
        assert_eq!(summary.custodian_author, how, "{name}");
        let mut own = 0;
        for item in &items {
            let Some(from) = &item.sender else { continue };
            let custodian = from.phone.as_deref() == Some("+447700900999")
                && from.id.as_deref() == Some("+44 7700 900999");
            assert_eq!(
                from.name.as_deref() == Some(author),
                custodian,
                "{name}: {from:?}"
            );
            own += usize::from(custodian);
        }
        assert!(own > 0, "{name}");
    }
}

/// The exporter is told by the export's own lines: `You deleted this
/// message`, or in a group a notice iOS wrote with the exporter's name;
/// lines that contradict each other tell nothing; the author whose name is
/// the custodian's number and configured names come first.
#[test]
fn the_exporter_is_told_by_the_exports_own_lines() {
    use shared::sources::whatsapp_export::CustodianAuthor;
    let group = "[02/03/24, 10:00:00] Team: \u{200e}Alice created group “Team”\n\
                 [02/03/24, 10:01:00] Bob: hi\n\
                 [02/03/24, 10:02:00] Carol: \u{200e}You added Dan\n\
                 [02/03/24, 10:03:00] Carol: hello\n\
                 [02/03/24, 10:04:00] Dan: hey\n";
    let ctx = context(
        "carol@corp.example",
        "WhatsApp Chat - Team.txt",
        chrono_tz::UTC,
    );
    let chat = prepare(group, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.custodian_author, CustodianAuthor::ExportLines);
    assert_eq!(items[2].kind, ItemKind::System);
    let carol = items[3].sender.as_ref().unwrap();
    assert_eq!(carol.email.as_deref(), Some("carol@corp.example"));
    assert_eq!(carol.name.as_deref(), Some("Carol"));
    // The same notice in a direct chat is the other party's, as iOS writes it.
    let direct = "[02/03/24, 10:00:00] Bob: hi\n\
                  [02/03/24, 10:02:00] Bob: \u{200e}You blocked this contact.\n\
                  [02/03/24, 10:03:00] Carol: hello\n";
    let ctx = context("carol@corp.example", "_chat.txt", chrono_tz::UTC);
    let chat = prepare(direct, &ctx);
    assert_eq!(
        read_items(&chat, &no_media).1.custodian_author,
        CustodianAuthor::Unknown
    );
    // Two authors who both deleted "their own" messages: untold.
    let both = "[02/03/24, 10:00:00] Bob: You deleted this message\n\
                [02/03/24, 10:03:00] Carol: \u{200e}You deleted this message.\n";
    let chat = prepare(both, &ctx);
    assert_eq!(
        read_items(&chat, &no_media).1.custodian_author,
        CustodianAuthor::Unknown
    );
    // A configured name wins over the lines; a name that is the number first.
    let names = ["bob".to_owned()];
    let configured = ExportContext {
        custodian_names: &names,
        ..ctx
    };
    let chat = prepare(both, &configured);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.custodian_author, CustodianAuthor::Configured);
    assert_eq!(
        items[0].sender.as_ref().unwrap().email.as_deref(),
        Some("carol@corp.example")
    );
    let numbered = "[02/03/24, 10:00:00] +44 7700 900999: hi\n\
                    [02/03/24, 10:03:00] Carol: \u{200e}You deleted this message.\n";
    let ctx = context("+447700900999", "_chat.txt", chrono_tz::UTC);
    let chat = prepare(numbered, &ctx);
    let (items, summary) = read_items(&chat, &no_media);
    assert_eq!(summary.custodian_author, CustodianAuthor::Phone);
    assert_eq!(
        items[0].sender.as_ref().unwrap().id.as_deref(),
        Some("+447700900999")
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any chat (authors, texts, times) written in any layout, clock and
    /// date order of the matrix parses back to the same authors, texts and
    /// times (to the layout's precision) when the order is configured.
    #[test]
    fn any_chat_in_any_layout_parses_back(
        layout in 0..MATRIX_LAYOUTS.len(),
        clock in 0..MATRIX_CLOCKS.len(),
        order in 0..MATRIX_ORDERS.len(),
        start in 978_307_200i64..1_893_456_000,
        authors in proptest::collection::vec("[A-Z][a-z]{1,7}( [A-Z][a-z]{1,7})?", 1..4),
        messages in proptest::collection::vec(
            (0i64..400_000, 0usize..4, "[a-zA-Z0-9]([a-zA-Z0-9 ,.?!]{0,58}[a-zA-Z0-9.?!])?"),
            1..30,
        ),
    ) {
        let layout = &MATRIX_LAYOUTS[layout];
        let clock = MATRIX_CLOCKS[clock];
        proptest::prop_assume!(!(layout.time_first && matches!(clock, MatrixClock::Prefix(..))));
        let order = MATRIX_ORDERS[order];
        let mut at = chrono::DateTime::from_timestamp(start, 0).unwrap().naive_utc();
        let chat: Vec<(chrono::NaiveDateTime, &str, String)> = messages
            .iter()
            .map(|(step, author, text)| {
                at += chrono::TimeDelta::seconds(*step);
                (at, authors[author % authors.len()].as_str(), text.clone())
            })
            .collect();
        let text = render_chat(layout, clock, order, &chat);
        let ctx = ExportContext {
            date_order: Some(order.0),
            ..context("+44 7700 900123", "WhatsApp Chat - Any.txt", chrono_tz::UTC)
        };
        let parsed = Chat::prepare(&text, &ctx).map_err(|e| {
            proptest::test_runner::TestCaseError::fail(format!("{text}\n{e}"))
        })?;
        let (items, _) = read_items(&parsed, &no_media);
        proptest::prop_assert_eq!(items.len(), chat.len(), "{}", text);
        for (item, (at, author, body)) in items.iter().zip(&chat) {
            let mut expected = at.and_utc();
            if !layout.seconds {
                expected -= chrono::TimeDelta::seconds(i64::from(chrono::Timelike::second(at)));
            }
            proptest::prop_assert_eq!(item.timestamp.0, expected, "{}", text);
            proptest::prop_assert_eq!(sender(item), Some(*author), "{}", text);
            proptest::prop_assert_eq!(item.text.as_deref(), Some(body.as_str()), "{}", text);
        }
    }
}
