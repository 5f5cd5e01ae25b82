//! EML rendering: every header, body and attachment of the rendered message
//! is checked by parsing it back with mail-parser.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders};
use sha2::{Digest, Sha256};
use shared::item::{
    Attachment, Call, Conversation, ConversationKind, Item, ItemId, ItemKind, JsonLines,
    Participant, Raw, SourceKind, Timestamp,
};
use shared::render::{
    DEFAULT_ATTACHMENT_LIMIT, DEFAULT_UNMAPPED_DOMAIN, FileContent, RenderError, RenderInput,
    RenderOptions, message_id, render, subject,
};

const ALICE_PHONE: &str = "+447700900123";
const BOB_PHONE: &str = "+447700900456";

fn person(name: &str, phone: Option<&str>) -> Participant<'static> {
    Participant {
        id: None,
        name: Some(name.to_owned().into()),
        phone: phone.map(|p| p.to_owned().into()),
        email: None,
    }
}

fn alice() -> Participant<'static> {
    person("Alice", Some(ALICE_PHONE))
}

fn bob() -> Participant<'static> {
    person("Bob", Some(BOB_PHONE))
}

/// A direct WhatsApp message from Alice to Bob.
fn message() -> Item<'static> {
    Item {
        id: ItemId::derive(&[b"wamid.1"]),
        source: SourceKind::WhatsappCloud,
        kind: ItemKind::Message,
        source_type: None,
        unrecognised: false,
        timestamp: Timestamp(Utc.with_ymd_and_hms(2025, 12, 29, 21, 30, 5).unwrap()),
        custodian: Some(ALICE_PHONE.into()),
        conversation: Conversation {
            id: "wa:447700900123:447700900456".into(),
            kind: ConversationKind::Direct,
            title: None,
        },
        sender: Some(alice()),
        recipients: vec![bob()],
        text: Some("Hello Bob\nsecond line".into()),
        attachments: vec![],
        edited: false,
        call: None,
        refers_to: None,
        raw: Raw::Text(r#"{"id":"wamid.1","text":{"body":"Hello Bob"}}"#.into()),
    }
}

/// A WhatsApp group message from Alice to Bob and Carol.
fn group_message() -> Item<'static> {
    let mut item = message();
    item.id = ItemId::derive(&[b"wamid.group"]);
    item.conversation = Conversation {
        id: "wa-group:120363".into(),
        kind: ConversationKind::Group,
        title: Some("Sales team".into()),
    };
    item.recipients = vec![bob(), person("Carol", None)];
    item
}

fn attachment(name: &str, content_type: &str, size: u64) -> Attachment<'static> {
    let sha = format!("{:064x}", size);
    Attachment {
        name: name.to_owned().into(),
        content_type: content_type.to_owned().into(),
        size: Some(size),
        object_key: Some(format!("media/{sha}")),
        sha256: Some(sha),
        omitted: false,
    }
}

fn unmapped(item: &Item<'_>) -> Vec<Option<String>> {
    vec![None; item.participants().count()]
}

/// Renders with no mapped mailbox, no files and the default options.
fn render_plain(item: &Item<'_>) -> Vec<u8> {
    let addresses = unmapped(item);
    let files = vec![None; item.attachments.len()];
    render_files(item, &addresses, &files, &RenderOptions::default())
}

fn render_files(
    item: &Item<'_>,
    addresses: &[Option<String>],
    files: &[Option<&[u8]>],
    opts: &RenderOptions,
) -> Vec<u8> {
    let files: Vec<Option<FileContent<'_>>> = files
        .iter()
        .map(|file| file.map(FileContent::Bytes))
        .collect();
    let input = RenderInput {
        item,
        addresses,
        files: &files,
        raw_object: Some("raw/whatsapp-cloud/2025-12-29/batch-1.jsonl"),
    };
    render(&input, opts).expect("item renders")
}

/// Parses a rendered message, decoding RFC 2047 words in every unstructured
/// header (mail-parser leaves headers it does not know raw by default).
fn parse(bytes: &[u8]) -> Message<'_> {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .default_header_text()
        .parse(bytes)
        .expect("rendered message parses")
}

/// A header's decoded text value.
fn text<'m>(msg: &'m Message<'_>, name: &'m str) -> Option<&'m str> {
    msg.header(name).and_then(|value| value.as_text())
}

/// The text/plain body with CRLF line breaks read as LF.
fn plain_body(msg: &Message<'_>) -> String {
    msg.body_text(0)
        .expect("a text/plain body")
        .replace("\r\n", "\n")
}

/// The text/html body with CRLF line breaks read as LF.
fn html_body(msg: &Message<'_>) -> String {
    msg.body_html(0)
        .expect("a text/html body")
        .replace("\r\n", "\n")
}

/// The header block of a rendered message.
fn header_block(bytes: &[u8]) -> &str {
    let text = std::str::from_utf8(bytes).expect("message is UTF-8 (ASCII)");
    let end = text
        .find("\r\n\r\n")
        .expect("headers end with a blank line");
    &text[..end + 2]
}

/// The names of the top-level header fields, in order.
fn header_names(bytes: &[u8]) -> Vec<String> {
    header_block(bytes)
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.starts_with([' ', '\t']))
        .map(|line| {
            line.split_once(':')
                .expect("a header field has a colon")
                .0
                .to_owned()
        })
        .collect()
}

fn mailbox(msg: &Message<'_>, header: &str, index: usize) -> (String, String) {
    let address = msg
        .header(header)
        .and_then(|value| value.as_address())
        .unwrap_or_else(|| panic!("{header} is an address header"));
    let addr = address.iter().nth(index).expect("address at index");
    (
        addr.name().unwrap_or_default().to_owned(),
        addr.address().unwrap_or_default().to_owned(),
    )
}

fn attachment_parts<'m>(msg: &'m Message<'_>) -> Vec<&'m MessagePart<'m>> {
    msg.attachments().collect()
}

fn unmapped_address(local: &str) -> String {
    format!("{local}@{DEFAULT_UNMAPPED_DOMAIN}")
}

#[test]
fn message_id_is_the_item_id_at_mobile_archiver() {
    let id = ItemId::derive(&[b"x"]);
    assert_eq!(message_id(&id), format!("{id}@mobile-archiver"));
    assert_ne!(message_id(&id), message_id(&ItemId::derive(&[b"y"])));
}

#[test]
fn default_options_allow_25_mib_under_an_invalid_domain() {
    let opts = RenderOptions::default();
    assert_eq!(opts.attachment_limit, 25 * 1024 * 1024);
    assert_eq!(opts.attachment_limit, DEFAULT_ATTACHMENT_LIMIT);
    assert_eq!(opts.unmapped_domain, "unmapped.mobile-archiver.invalid");
    assert_eq!(opts.unmapped_domain, DEFAULT_UNMAPPED_DOMAIN);
}

#[test]
fn headers_carry_identity_date_parties_and_provenance() {
    let item = message();
    let addresses = vec![Some("alice@corp.example".to_owned()), None];
    let bytes = render_files(&item, &addresses, &[], &RenderOptions::default());
    let msg = parse(&bytes);

    assert_eq!(msg.message_id(), Some(message_id(&item.id).as_str()));
    assert_eq!(
        msg.date().map(|d| d.to_timestamp()),
        Some(item.timestamp.0.timestamp())
    );
    assert!(header_block(&bytes).contains("\r\nDate: Mon, 29 Dec 2025 21:30:05 +0000\r\n"));
    assert_eq!(
        mailbox(&msg, "From", 0),
        ("Alice (+447700900123)".into(), "alice@corp.example".into())
    );
    assert_eq!(
        mailbox(&msg, "To", 0),
        ("Bob (+447700900456)".into(), unmapped_address(BOB_PHONE))
    );
    assert_eq!(msg.subject(), Some("WhatsApp message from Alice to Bob"));
    assert_eq!(text(&msg, "X-Archiver-Source"), Some("whatsapp-cloud"));
    assert_eq!(
        text(&msg, "X-Archiver-Item-Id"),
        Some(item.id.to_string().as_str())
    );
    assert_eq!(
        text(&msg, "X-Archiver-Conversation-Id"),
        Some("wa:447700900123:447700900456")
    );
    assert_eq!(text(&msg, "X-Archiver-Kind"), Some("message"));
    assert_eq!(text(&msg, "X-Archiver-Custodian"), Some(ALICE_PHONE));
    assert_eq!(
        text(&msg, "X-Archiver-Raw-Sha256"),
        Some(hex::encode(Sha256::digest(item.raw.as_bytes())).as_str())
    );
    assert_eq!(
        text(&msg, "X-Archiver-Raw-Object"),
        Some("raw/whatsapp-cloud/2025-12-29/batch-1.jsonl")
    );
    assert_eq!(
        header_names(&bytes),
        [
            "Message-ID",
            "Date",
            "From",
            "To",
            "Subject",
            "Thread-Topic",
            "Thread-Index",
            "X-Archiver-Source",
            "X-Archiver-Item-Id",
            "X-Archiver-Conversation-Id",
            "X-Archiver-Kind",
            "X-Archiver-Custodian",
            "X-Archiver-Raw-Sha256",
            "X-Archiver-Raw-Object",
            "MIME-Version",
            "Content-Type",
        ]
    );
}

#[test]
fn optional_provenance_headers_appear_only_when_known() {
    let mut item = message();
    item.custodian = None;
    item.edited = true;
    let addresses = unmapped(&item);
    let input = RenderInput {
        item: &item,
        addresses: &addresses,
        files: &[],
        raw_object: None,
    };
    let bytes = render(&input, &RenderOptions::default()).unwrap();
    let msg = parse(&bytes);
    assert_eq!(text(&msg, "X-Archiver-Edited"), Some("yes"));
    assert_eq!(msg.header("X-Archiver-Custodian"), None);
    assert_eq!(msg.header("X-Archiver-Raw-Object"), None);
    assert_eq!(msg.header("In-Reply-To"), None);
    assert_eq!(msg.header("References"), None);
}

#[test]
fn unmapped_participants_without_phone_get_a_safe_hashed_address() {
    let mut item = group_message();
    item.recipients[1].id = Some("Carol Jones".into());
    let msg_bytes = render_plain(&item);
    let msg = parse(&msg_bytes);
    assert_eq!(
        mailbox(&msg, "From", 0),
        (
            "Alice (+447700900123)".into(),
            unmapped_address(ALICE_PHONE)
        )
    );
    let (name, address) = mailbox(&msg, "To", 1);
    assert_eq!(name, "Carol");
    let local = address
        .strip_suffix(&format!("@{DEFAULT_UNMAPPED_DOMAIN}"))
        .expect("under the unmapped domain");
    assert!(local.starts_with("carol-jones."), "{local}");
    assert!(
        local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b)),
        "{local}"
    );
}

#[test]
fn custom_unmapped_domain_is_used() {
    let item = message();
    let opts = RenderOptions {
        unmapped_domain: "nobody.corp.invalid".into(),
        ..RenderOptions::default()
    };
    let bytes = render_files(&item, &unmapped(&item), &[], &opts);
    let msg = parse(&bytes);
    assert_eq!(
        mailbox(&msg, "To", 0).1,
        "+447700900456@nobody.corp.invalid"
    );
}

#[test]
fn system_lines_come_from_the_messenger_to_every_participant() {
    let mut item = group_message();
    item.kind = ItemKind::System;
    item.sender = None;
    item.text = Some("Alice added Carol".into());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(
        mailbox(&msg, "From", 0),
        ("WhatsApp system".into(), unmapped_address("system"))
    );
    assert_eq!(mailbox(&msg, "To", 0).0, "Bob (+447700900456)");
    assert_eq!(mailbox(&msg, "To", 1).0, "Carol");
    assert_eq!(
        msg.subject(),
        Some("WhatsApp group \"Sales team\": system message")
    );

    item.recipients.clear();
    let bytes = render_plain(&item);
    assert!(
        header_block(&bytes).contains("\r\nTo: \"undisclosed-recipients\":;\r\n"),
        "{}",
        header_block(&bytes)
    );
}

/// `(source, conversation kind, item kind, edited, call, has sender)`
/// and the subject it must get.
#[test]
fn subjects_name_network_place_kind_and_parties() {
    let video = Call {
        video: true,
        missed: false,
        duration_secs: Some(185),
    };
    let missed = Call {
        video: false,
        missed: true,
        duration_secs: None,
    };
    type Case = (
        SourceKind,
        ConversationKind,
        ItemKind,
        bool,
        Option<Call>,
        bool,
        &'static str,
    );
    let direct = ConversationKind::Direct;
    let group = ConversationKind::Group;
    let wa = SourceKind::WhatsappExport;
    let wc = SourceKind::Wecom;
    let cases: [Case; 16] = [
        (
            wa,
            direct,
            ItemKind::Message,
            false,
            None,
            true,
            "WhatsApp message from Alice to Bob",
        ),
        (
            wc,
            direct,
            ItemKind::Message,
            false,
            None,
            true,
            "WeChat message from Alice to Bob",
        ),
        (
            wa,
            group,
            ItemKind::Message,
            false,
            None,
            true,
            "WhatsApp group \"Sales team\": message from Alice",
        ),
        (
            wc,
            group,
            ItemKind::Message,
            false,
            None,
            true,
            "WeChat group \"Sales team\": message from Alice",
        ),
        (
            wa,
            direct,
            ItemKind::Delete,
            false,
            None,
            true,
            "DELETED – WhatsApp message from Alice to Bob",
        ),
        (
            wc,
            direct,
            ItemKind::Recall,
            false,
            None,
            true,
            "RECALLED – WeChat message from Alice to Bob",
        ),
        (
            wa,
            direct,
            ItemKind::Edit,
            false,
            None,
            true,
            "EDITED – WhatsApp message from Alice to Bob",
        ),
        (
            wa,
            direct,
            ItemKind::Message,
            true,
            None,
            true,
            "EDITED – WhatsApp message from Alice to Bob",
        ),
        (
            wa,
            group,
            ItemKind::Edit,
            true,
            None,
            true,
            "EDITED – WhatsApp group \"Sales team\": message from Alice",
        ),
        (
            wa,
            direct,
            ItemKind::Call,
            false,
            Some(missed),
            true,
            "WhatsApp call from Alice to Bob (missed)",
        ),
        (
            wa,
            direct,
            ItemKind::Call,
            false,
            Some(video),
            true,
            "WhatsApp call from Alice to Bob (video call, 3:05)",
        ),
        (
            wc,
            group,
            ItemKind::Call,
            false,
            Some(video),
            true,
            // WeChat words calls its own way (issue 13).
            "WeChat group \"Sales team\": video call with Alice, Bob, Carol, 3 min 5 s",
        ),
        (
            wa,
            direct,
            ItemKind::Reaction,
            false,
            None,
            true,
            "WhatsApp reaction from Alice to Bob",
        ),
        (
            wa,
            group,
            ItemKind::Reaction,
            false,
            None,
            true,
            "WhatsApp group \"Sales team\": reaction from Alice",
        ),
        (
            wa,
            group,
            ItemKind::System,
            false,
            None,
            false,
            "WhatsApp group \"Sales team\": system message",
        ),
        (
            wa,
            direct,
            ItemKind::System,
            false,
            None,
            false,
            "WhatsApp chat \"Bob\": system message",
        ),
    ];
    for (source, conversation, kind, edited, call, has_sender, expected) in cases {
        let mut item = if conversation == group {
            group_message()
        } else {
            message()
        };
        item.source = source;
        item.kind = kind;
        item.edited = edited;
        item.call = call;
        if !has_sender {
            item.sender = None;
        }
        assert_eq!(subject(&item), expected);
        let bytes = render_plain(&item);
        assert_eq!(parse(&bytes).subject(), Some(expected), "rendered subject");
    }
}

#[test]
fn thread_headers_are_shared_by_a_conversation_and_differ_between_conversations() {
    let first = message();
    let mut reply = message();
    reply.id = ItemId::derive(&[b"wamid.2"]);
    reply.sender = Some(bob());
    reply.recipients = vec![alice()];
    let other = group_message();

    let rendered = [&first, &reply, &other].map(render_plain);
    let [first, reply, other] = rendered.each_ref().map(|bytes| parse(bytes));
    let topic = |msg: &Message<'_>| text(msg, "Thread-Topic").map(str::to_owned);
    let index = |msg: &Message<'_>| text(msg, "Thread-Index").map(str::to_owned);

    assert_eq!(topic(&first).as_deref(), Some("Alice, Bob"));
    assert_eq!(topic(&reply), topic(&first));
    assert_eq!(topic(&other).as_deref(), Some("Sales team"));
    assert_eq!(index(&reply), index(&first));
    assert_ne!(index(&other), index(&first));

    let block = STANDARD.decode(index(&first).unwrap()).unwrap();
    assert_eq!(block.len(), 22);
    assert_eq!(block[..6], [0x01, 0x9D, 0xB1, 0xDE, 0xD5, 0x3E]);
    let guid = &Sha256::digest(b"wa:447700900123:447700900456")[..16];
    assert_eq!(&block[6..], guid);
}

#[test]
fn items_referring_to_another_point_at_its_message_id() {
    let original = message();
    for kind in [
        ItemKind::Edit,
        ItemKind::Recall,
        ItemKind::Delete,
        ItemKind::Reaction,
        ItemKind::Message,
    ] {
        let mut item = message();
        item.id = ItemId::derive(&[kind.as_str().as_bytes()]);
        item.kind = kind;
        item.refers_to = Some(original.id);
        let bytes = render_plain(&item);
        let msg = parse(&bytes);
        let original_id = message_id(&original.id);
        assert_eq!(
            msg.in_reply_to().as_text(),
            Some(original_id.as_str()),
            "{kind:?}"
        );
        assert_eq!(
            msg.references().as_text(),
            Some(original_id.as_str()),
            "{kind:?}"
        );
        assert_eq!(msg.message_id(), Some(message_id(&item.id).as_str()));
        assert_ne!(msg.message_id(), Some(original_id.as_str()));
        assert!(
            plain_body(&msg).contains(&format!("Refers to:    <{original_id}>")),
            "{kind:?}"
        );
    }
}

#[test]
fn bodies_show_a_summary_then_the_text_in_plain_and_html() {
    let mut item = group_message();
    item.text = Some("<b>Tom & 'Jerry'</b> said \"hi\"\nline two".into());
    item.edited = true;
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(msg.content_type().map(|ct| ct.ctype()), Some("multipart"));
    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("alternative")
    );

    let plain = plain_body(&msg);
    let expected_summary = [
        "Time:         2025-12-29 21:30:05 UTC",
        "Conversation: WhatsApp group \"Sales team\"",
        "From:         Alice (+447700900123) <+447700900123@unmapped.mobile-archiver.invalid>",
        "To:           Bob (+447700900456) <+447700900456@unmapped.mobile-archiver.invalid>",
        "Kind:         message",
        "Note:         The source marks this message as edited.",
    ];
    for line in expected_summary {
        assert!(plain.contains(&format!("{line}\n")), "{line:?} in {plain}");
    }
    assert!(plain.contains("To:           Carol <"), "{plain}");
    assert!(
        plain.ends_with("\n\n<b>Tom & 'Jerry'</b> said \"hi\"\nline two\n"),
        "{plain}"
    );

    let html = html_body(&msg);
    assert!(
        html.contains(
            "&lt;b&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt; said &quot;hi&quot;<br>\nline two"
        ),
        "{html}"
    );
    assert!(!html.contains("<b>Tom"), "{html}");
    assert!(html.contains("<b>Alice (+447700900123)</b>"), "{html}");
    assert!(
        html.contains("&lt;+447700900123@unmapped.mobile-archiver.invalid&gt;"),
        "{html}"
    );
    assert!(html.contains(">Time (UTC)</td>"), "{html}");
    assert!(html.contains(">2025-12-29 21:30:05 UTC</td>"), "{html}");
}

/// The HTML body's parts, in order, with their texts, for a reviewer.
#[test]
fn the_html_body_shows_a_header_block_then_the_message_in_a_bubble() {
    let mut item = group_message();
    item.text = Some("Numbers:\n- 2028: 250k\n  indented".into());
    let opts = RenderOptions {
        time_zone: chrono_tz::Asia::Shanghai,
        ..RenderOptions::default()
    };
    let bytes = render_files(&item, &unmapped(&item), &[], &opts);
    let msg = parse(&bytes);
    let html = html_body(&msg);
    let order = [
        "Sales team",
        ">Time (UTC)<",
        "2025-12-29 21:30:05 UTC",
        ">Local time<",
        "2025-12-30 05:30:05 CST (Asia/Shanghai)",
        "WhatsApp group &quot;Sales team&quot;",
        ">From<",
        ">To<",
        "<b>Bob (+447700900456)</b>",
        "<b>Carol</b>",
        ">Custodian<",
        "+447700900123",
        ">Source<",
        "WhatsApp Business Platform (Cloud API) (whatsapp-cloud)",
        ">Source file<",
        "raw/whatsapp-cloud/2025-12-29/batch-1.jsonl",
        "Numbers:<br>\n- 2028: 250k<br>\n&nbsp;&nbsp;indented",
        "30 Dec 2025, 05:30 CST",
    ];
    let mut from = 0;
    for text in order {
        let at = html[from..]
            .find(text)
            .unwrap_or_else(|| panic!("{text:?} after byte {from} in {html}"));
        from += at + text.len();
    }
    for banned in [
        "<script",
        "<style",
        "http:",
        "https:",
        "display:flex",
        "display:grid",
    ] {
        assert!(
            !html.to_ascii_lowercase().contains(banned),
            "{banned} in {html}"
        );
    }
    assert!(
        !html.contains("DELETED") && !html.contains("EDITED"),
        "{html}"
    );

    let plain = plain_body(&msg);
    for line in [
        "Time:         2025-12-29 21:30:05 UTC\n",
        "Local time:   2025-12-30 05:30:05 CST (Asia/Shanghai)\n",
        "Custodian:    +447700900123\n",
        "Source:       WhatsApp Business Platform (Cloud API) (whatsapp-cloud)\n",
        "Source file:  raw/whatsapp-cloud/2025-12-29/batch-1.jsonl\n",
    ] {
        assert!(plain.contains(line), "{line:?} in {plain}");
    }
    assert!(
        plain.ends_with("\n\nNumbers:\n- 2028: 250k\n  indented\n"),
        "the text part keeps the text as it is: {plain}"
    );

    let utc = render_plain(&item);
    let utc_html = html_body(&parse(&utc));
    assert!(!utc_html.contains("Local time"), "UTC is shown once");
    assert!(!plain_body(&parse(&utc)).contains("Local time"));
}

#[test]
fn deleted_recalled_edited_call_and_system_items_are_marked() {
    let marked = |item: &Item<'_>, word: &str| {
        let bytes = render_plain(item);
        let html = html_body(&parse(&bytes));
        assert!(html.contains(&format!("{word}</span>")), "{word} in {html}");
    };
    let mut delete = message();
    delete.kind = ItemKind::Delete;
    delete.text = None;
    marked(&delete, "DELETED");
    let mut recall = message();
    recall.kind = ItemKind::Recall;
    marked(&recall, "RECALLED");
    let mut edit = message();
    edit.kind = ItemKind::Edit;
    marked(&edit, "EDITED");
    let mut edited = message();
    edited.edited = true;
    marked(&edited, "EDITED");
    let mut call = message();
    call.kind = ItemKind::Call;
    call.text = None;
    call.call = Some(Call {
        video: true,
        missed: true,
        duration_secs: None,
    });
    marked(&call, "CALL");
    let html = html_body(&parse(&render_plain(&call)));
    assert!(html.contains("Missed video call."), "{html}");
    let mut system = message();
    system.kind = ItemKind::System;
    system.sender = None;
    marked(&system, "SYSTEM MESSAGE");
}

#[test]
fn images_are_shown_inline_by_content_id_and_other_files_listed() {
    let image: Vec<u8> = (0..=255).collect();
    let sticker = b"RIFF....WEBP".to_vec();
    let pdf = b"%PDF-1.7 tiny".to_vec();
    let mut item = message();
    item.attachments = vec![
        attachment("Report Q4.pdf", "application/pdf", pdf.len() as u64),
        attachment("photo.jpg", "image/jpeg", image.len() as u64),
        attachment("sticker.webp", "image/webp", sticker.len() as u64),
    ];
    let files = [
        Some(pdf.as_slice()),
        Some(image.as_slice()),
        Some(sticker.as_slice()),
    ];
    let bytes = render_files(&item, &unmapped(&item), &files, &RenderOptions::default());
    let msg = parse(&bytes);
    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("mixed")
    );
    let related = &msg.parts[1];
    assert_eq!(
        related.content_type().and_then(|ct| ct.subtype()),
        Some("related")
    );
    let photo = attachment_parts(&msg)
        .into_iter()
        .find(|part| part.attachment_name() == Some("photo.jpg"))
        .expect("the photo is a part");
    assert_eq!(photo.contents(), image.as_slice());
    let disposition = photo.content_disposition().expect("a disposition");
    assert_eq!(disposition.ctype(), "inline");
    let cid = photo.content_id().expect("a Content-ID");
    let expected = format!("1.{}@mobile-archiver", item.id.to_hex().as_str());
    assert_eq!(cid, expected);
    let html = html_body(&msg);
    assert!(
        html.contains(&format!("<img src=\"cid:{cid}\" alt=\"photo.jpg\"")),
        "{html}"
    );
    assert_eq!(
        html.matches("<img ").count(),
        1,
        "only the JPEG is shown: {html}"
    );
    assert!(
        html.contains("application/pdf &middot; 13 bytes &middot; attached"),
        "{html}"
    );
    assert!(html.contains("image/webp &middot; 12 bytes"), "{html}");
    for name in ["Report Q4.pdf", "sticker.webp"] {
        let part = attachment_parts(&msg)
            .into_iter()
            .find(|part| part.attachment_name() == Some(name))
            .expect("listed files are parts");
        assert_eq!(
            part.content_disposition().map(|d| d.ctype()),
            Some("attachment")
        );
        assert_eq!(part.content_id(), None);
    }
    assert_eq!(
        render_files(&item, &unmapped(&item), &files, &RenderOptions::default()),
        bytes,
        "deterministic"
    );
}

#[test]
fn ascii_headers_are_written_plainly_and_folded_only_at_spaces() {
    let mut item = group_message();
    item.conversation.title =
        Some("Quarterly planning for the European fixed income desk and its counterparties".into());
    let key = format!("raw/whatsapp-export/2026-11-21/{}.jsonl", "ab".repeat(32));
    let files: Vec<Option<FileContent<'_>>> = Vec::new();
    let addresses = unmapped(&item);
    let input = RenderInput {
        item: &item,
        addresses: &addresses,
        files: &files,
        raw_object: Some(&key),
    };
    let bytes = render(&input, &RenderOptions::default()).unwrap();
    let headers = header_block(&bytes);
    assert!(!headers.contains("=?"), "{headers}");
    assert!(
        headers.contains(&format!("\r\nX-Archiver-Raw-Object: {key}\r\n")),
        "{headers}"
    );
    for line in headers.split("\r\n") {
        // Only a run without spaces (a key, a hash) is longer.
        let value = line.split_once(": ").map_or(line, |(_, value)| value);
        assert!(
            line.len() <= 78 || !value.trim_start().contains(' '),
            "{line:?}"
        );
    }
    let msg = parse(&bytes);
    assert_eq!(text(&msg, "X-Archiver-Raw-Object"), Some(key.as_str()));
    assert_eq!(msg.subject(), Some(subject(&item).as_str()));
    let topic = item.conversation.title.as_deref().unwrap();
    assert_eq!(text(&msg, "Thread-Topic"), Some(topic));
}

#[test]
fn call_and_delete_details_are_in_the_body() {
    let mut call = message();
    call.kind = ItemKind::Call;
    call.text = None;
    call.call = Some(Call {
        video: true,
        missed: false,
        duration_secs: Some(3725),
    });
    let bytes = render_plain(&call);
    let plain = plain_body(&parse(&bytes));
    assert!(
        plain.contains("Call:         video call, 1:02:05\n"),
        "{plain}"
    );
    assert!(plain.contains("Kind:         call\n"), "{plain}");

    let mut delete = message();
    delete.kind = ItemKind::Delete;
    delete.refers_to = Some(ItemId::derive(&[b"original"]));
    let bytes = render_plain(&delete);
    let plain = plain_body(&parse(&bytes));
    assert!(
        plain.contains("Note:         The sender deleted the message this item refers to.\n"),
        "{plain}"
    );
}

#[test]
fn control_characters_in_the_text_never_reach_the_message() {
    let mut item = message();
    item.text = Some("nul\0 bell\x07 cr\ronly".into());
    let bytes = render_plain(&item);
    assert!(!bytes.contains(&0), "no NUL byte in the message");
    assert!(!bytes.contains(&7), "no BEL byte in the message");
    let plain = plain_body(&parse(&bytes));
    assert!(
        plain.contains("nul\u{2400} bell\u{2407} cr\nonly"),
        "{plain:?}"
    );
}

#[test]
fn files_are_attached_with_their_names_types_and_bytes() {
    let image: Vec<u8> = (0..=255).collect();
    let pdf = b"%PDF-1.7 tiny".to_vec();
    let mut item = message();
    item.attachments = vec![
        attachment("photo.jpg", "image/jpeg", image.len() as u64),
        attachment("Report Q4.pdf", "Application/PDF", pdf.len() as u64),
    ];
    let files = [Some(image.as_slice()), Some(pdf.as_slice())];
    let bytes = render_files(&item, &unmapped(&item), &files, &RenderOptions::default());
    let msg = parse(&bytes);

    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("mixed")
    );
    let parts = attachment_parts(&msg);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].attachment_name(), Some("photo.jpg"));
    assert_eq!(parts[0].content_type().map(|ct| ct.ctype()), Some("image"));
    assert_eq!(
        parts[0].content_type().and_then(|ct| ct.subtype()),
        Some("jpeg")
    );
    assert_eq!(parts[0].contents(), image.as_slice());
    assert_eq!(parts[1].attachment_name(), Some("Report Q4.pdf"));
    assert_eq!(
        parts[1].content_type().and_then(|ct| ct.subtype()),
        Some("pdf")
    );
    assert_eq!(parts[1].contents(), pdf.as_slice());
    assert!(plain_body(&msg).contains("Hello Bob"));
    let plain = plain_body(&msg);
    assert!(
        plain.contains("Attachment:   photo.jpg (image/jpeg, 256 bytes) – attached\n"),
        "{plain}"
    );
}

#[test]
fn files_over_the_limit_become_a_stub_naming_key_size_and_hash() {
    let big = vec![7u8; 64];
    let mut item = message();
    item.attachments = vec![
        attachment("clip.mp4", "video/mp4", 64),
        attachment("huge.zip", "application/zip", 40 * 1024 * 1024),
    ];
    let opts = RenderOptions {
        attachment_limit: 63,
        ..RenderOptions::default()
    };
    let files = [Some(big.as_slice()), None];
    let bytes = render_files(&item, &unmapped(&item), &files, &opts);
    let msg = parse(&bytes);
    let parts = attachment_parts(&msg);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].attachment_name(), Some("clip.mp4.stub.txt"));
    assert_eq!(parts[0].content_type().map(|ct| ct.ctype()), Some("text"));
    let stub = parts[0].text_contents().unwrap().replace("\r\n", "\n");
    let clip = &item.attachments[0];
    for line in [
        "This file is larger than the delivery limit of 63 bytes and is not attached.",
        "The full file is kept in the archive under the key below.",
        "File name:    clip.mp4",
        "Content type: video/mp4",
        "Size:         64 bytes",
    ] {
        assert!(stub.contains(line), "{line:?} in {stub}");
    }
    assert!(stub.contains(&format!(
        "SHA-256:      {}\n",
        clip.sha256.as_deref().unwrap()
    )));
    assert!(stub.contains(&format!(
        "Archive key:  {}\n",
        clip.object_key.as_deref().unwrap()
    )));
    assert!(!bytes.windows(big.len()).any(|w| w == big.as_slice()));
    assert!(
        plain_body(&msg).contains(
            "Attachment:   clip.mp4 (video/mp4, 64 bytes) – over the 63-byte limit, \
             kept in the archive; see clip.mp4.stub.txt\n"
        ),
        "{}",
        plain_body(&msg)
    );

    assert_eq!(parts[1].attachment_name(), Some("huge.zip.stub.txt"));
    let stub = parts[1].text_contents().unwrap();
    assert!(stub.contains("Size:         41943040 bytes"), "{stub}");

    let default_limit = render_files(
        &item,
        &unmapped(&item),
        &[Some(big.as_slice()), None],
        &RenderOptions::default(),
    );
    let msg = parse(&default_limit);
    let parts = attachment_parts(&msg);
    assert_eq!(parts[0].contents(), big.as_slice(), "64 bytes fit 25 MiB");
    assert_eq!(parts[1].attachment_name(), Some("huge.zip.stub.txt"));
}

#[test]
fn files_not_handed_over_become_a_stub_saying_where_they_are() {
    let mut item = message();
    let mut lost = attachment("voice.ogg", "audio/ogg; codecs=opus", 900);
    lost.object_key = None;
    item.attachments = vec![attachment("scan.png", "image/png", 1000), lost];
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    let parts = attachment_parts(&msg);
    assert_eq!(parts.len(), 2);
    let kept = parts[0].text_contents().unwrap().replace("\r\n", "\n");
    assert!(
        kept.contains("The full file is kept in the archive"),
        "{kept}"
    );
    assert!(kept.contains("Archive key:  media/"), "{kept}");
    assert_eq!(parts[1].attachment_name(), Some("voice.ogg.stub.txt"));
    let missing = parts[1].text_contents().unwrap().replace("\r\n", "\n");
    assert!(missing.contains("is not in the archive"), "{missing}");
    assert!(missing.contains("Content type: audio/ogg\n"), "{missing}");
    assert!(missing.contains("Archive key:  none"), "{missing}");
    let plain = plain_body(&msg);
    assert!(
        plain.contains(
            "Attachment:   scan.png (image/png, 1000 bytes) – not attached, \
             kept in the archive; see scan.png.stub.txt\n"
        ),
        "{plain}"
    );
    assert!(
        plain.contains(
            "Attachment:   voice.ogg (audio/ogg, 900 bytes) – not attached, \
             not in the archive; see voice.ogg.stub.txt\n"
        ),
        "{plain}"
    );
}

#[test]
fn omitted_files_are_listed_in_the_body_not_attached() {
    let mut item = message();
    item.source = SourceKind::WhatsappExport;
    let mut omitted = attachment("IMG-20251229-WA0001.jpg", "image/jpeg", 0);
    omitted.size = None;
    omitted.sha256 = None;
    omitted.object_key = None;
    omitted.omitted = true;
    item.attachments = vec![omitted];
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(attachment_parts(&msg).len(), 0);
    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("alternative")
    );
    let plain = plain_body(&msg);
    assert!(
        plain.contains(
            "Attachment:   IMG-20251229-WA0001.jpg (image/jpeg) – image omitted by the exporting device\n"
        ),
        "{plain}"
    );
    assert!(html_body(&msg).contains("image omitted by the exporting device"));
}

#[test]
fn rendering_twice_gives_identical_bytes_with_id_derived_boundaries() {
    let mut item = message();
    item.attachments = vec![attachment("a.bin", "application/octet-stream", 3)];
    let file: &[u8] = b"abc";
    let once = render_files(
        &item,
        &unmapped(&item),
        &[Some(file)],
        &RenderOptions::default(),
    );
    let twice = render_files(
        &item,
        &unmapped(&item),
        &[Some(file)],
        &RenderOptions::default(),
    );
    assert_eq!(once, twice);

    let thread_item = item.clone();
    let elsewhere = std::thread::spawn(move || {
        render_files(
            &thread_item,
            &unmapped(&thread_item),
            &[Some(file)],
            &RenderOptions::default(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(once, elsewhere);

    let msg = parse(&once);
    let hex = item.id.to_string();
    assert_eq!(
        msg.content_type().and_then(|ct| ct.attribute("boundary")),
        Some(format!("=_{hex}_mix").as_str())
    );
    let alternative = msg.part(1).expect("first child part");
    assert_eq!(
        alternative
            .content_type()
            .and_then(|ct| ct.attribute("boundary")),
        Some(format!("=_{hex}_alt").as_str())
    );
}

#[test]
fn a_text_containing_the_boundary_token_gets_another_boundary() {
    let mut item = message();
    let token = format!("=_{}", item.id);
    item.text = Some(format!("--{token}_alt--\n--{token}.1_alt\nstill text").into());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(
        msg.content_type().and_then(|ct| ct.attribute("boundary")),
        Some(format!("{token}.2_alt").as_str())
    );
    let plain = plain_body(&msg);
    assert!(
        plain.ends_with(&format!(
            "\n\n--{token}_alt--\n--{token}.1_alt\nstill text\n"
        )),
        "{plain}"
    );
    assert_eq!(msg.html_body_count(), 1);
}

#[test]
fn header_injection_attempts_stay_inside_their_values() {
    let mut item = group_message();
    item.sender = Some(Participant {
        id: Some("eve\r\nX-Evil: id".into()),
        name: Some("Eve\r\nBcc: x@y".into()),
        phone: Some("+44\n7700".into()),
        email: None,
    });
    item.recipients[1].name = Some(r#"Mallory "<m@evil.example>", \x"#.into());
    item.conversation.title = Some("Team\nX-Injected: 1".into());
    item.conversation.id = "conv\r\nX-Conv: 1\0".into();
    item.custodian = Some("cust\0odian\r\n".into());
    item.attachments = vec![attachment(
        "a.txt\r\nContent-Type: text/html",
        "text/plain\r\nX-Type: 1",
        5,
    )];
    let addresses = unmapped(&item);
    let file: &[u8] = b"hello";
    let input = RenderInput {
        item: &item,
        addresses: &addresses,
        files: &[Some(FileContent::Bytes(file))],
        raw_object: Some("raw/x\r\nX-Object: 1"),
    };
    let bytes = render(&input, &RenderOptions::default()).unwrap();
    let msg = parse(&bytes);

    assert_eq!(
        header_names(&bytes),
        [
            "Message-ID",
            "Date",
            "From",
            "To",
            "Subject",
            "Thread-Topic",
            "Thread-Index",
            "X-Archiver-Source",
            "X-Archiver-Item-Id",
            "X-Archiver-Conversation-Id",
            "X-Archiver-Kind",
            "X-Archiver-Custodian",
            "X-Archiver-Raw-Sha256",
            "X-Archiver-Raw-Object",
            "MIME-Version",
            "Content-Type",
        ]
    );
    for name in [
        "Bcc",
        "X-Evil",
        "X-Injected",
        "X-Conv",
        "X-Object",
        "X-Type",
    ] {
        assert_eq!(msg.header(name), None, "{name}");
    }
    assert!(!bytes.contains(&0), "no NUL byte in the message");
    let (name, address) = mailbox(&msg, "From", 0);
    assert_eq!(name, "Eve  Bcc: x@y (+44 7700)");
    let local = address
        .strip_suffix(&format!("@{DEFAULT_UNMAPPED_DOMAIN}"))
        .unwrap();
    assert!(
        local.starts_with("eve-x-evil-id."),
        "a phone with a line break is not used: {local}"
    );
    let (name, address) = mailbox(&msg, "To", 1);
    assert_eq!(name, r#"Mallory "<m@evil.example>", \x"#);
    assert!(
        address.starts_with("mallory-m-evil-example-x.")
            && address.ends_with(&format!("@{DEFAULT_UNMAPPED_DOMAIN}")),
        "{address}"
    );
    assert_eq!(
        msg.to().unwrap().iter().count(),
        2,
        "a quoted name adds no address"
    );
    assert_eq!(
        msg.subject(),
        Some("WhatsApp group \"Team X-Injected: 1\": message from Eve  Bcc: x@y")
    );
    assert_eq!(text(&msg, "Thread-Topic"), Some("Team X-Injected: 1"));
    assert_eq!(
        text(&msg, "X-Archiver-Conversation-Id"),
        Some("conv  X-Conv: 1")
    );
    assert_eq!(text(&msg, "X-Archiver-Custodian"), Some("cust odian"));
    assert_eq!(
        text(&msg, "X-Archiver-Raw-Object"),
        Some("raw/x  X-Object: 1")
    );

    let parts = attachment_parts(&msg);
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0].attachment_name(),
        Some("a.txt  Content-Type: text_html")
    );
    assert_eq!(
        parts[0].content_type().map(|ct| (ct.ctype(), ct.subtype())),
        Some(("application", Some("octet-stream")))
    );
    assert_eq!(
        parts[0].headers().len(),
        3,
        "Content-Type, -Disposition, -Transfer-Encoding"
    );
    assert_eq!(parts[0].contents(), file);
}

#[test]
fn non_ascii_names_titles_and_text_round_trip() {
    let mut item = group_message();
    item.source = SourceKind::Wecom;
    item.sender = Some(person("张伟", Some("+8613800138000")));
    item.recipients = vec![person("Zoë 🙂", None)];
    item.conversation.title = Some("🚀 产品发布 Launch".into());
    item.text = Some("你好，世界 👋".into());
    item.attachments = vec![attachment("报告 2025.pdf", "application/pdf", 4)];
    let file: &[u8] = b"%PDF";
    let bytes = render_files(
        &item,
        &unmapped(&item),
        &[Some(file)],
        &RenderOptions::default(),
    );
    assert!(bytes.is_ascii(), "headers and bodies are encoded to ASCII");
    let msg = parse(&bytes);

    assert_eq!(
        msg.subject(),
        Some("WeChat group \"🚀 产品发布 Launch\": message from 张伟")
    );
    assert_eq!(mailbox(&msg, "From", 0).0, "张伟 (+8613800138000)");
    assert_eq!(mailbox(&msg, "To", 0).0, "Zoë 🙂");
    assert_eq!(text(&msg, "Thread-Topic"), Some("🚀 产品发布 Launch"));
    assert!(plain_body(&msg).contains("你好，世界 👋"));
    assert!(html_body(&msg).contains("你好，世界 👋"));
    assert_eq!(
        attachment_parts(&msg)[0].attachment_name(),
        Some("报告 2025.pdf")
    );
}

#[test]
fn mismatched_inputs_and_bad_configuration_are_typed_errors() {
    let mut item = message();
    item.attachments = vec![attachment("a.bin", "application/octet-stream", 1)];
    let opts = RenderOptions::default();
    let two = unmapped(&item);
    let attempt = |addresses: &[Option<String>], files: &[Option<&[u8]>], opts: &RenderOptions| {
        let files: Vec<Option<FileContent<'_>>> = files
            .iter()
            .map(|file| file.map(FileContent::Bytes))
            .collect();
        render(
            &RenderInput {
                item: &item,
                addresses,
                files: &files,
                raw_object: None,
            },
            opts,
        )
    };

    assert_eq!(
        attempt(&[None], &[None], &opts),
        Err(RenderError::AddressCount {
            expected: 2,
            given: 1
        })
    );
    assert_eq!(
        attempt(&two, &[], &opts),
        Err(RenderError::FileCount {
            expected: 1,
            given: 0
        })
    );
    let bad = "bob@corp.example>\r\nBcc: x@y".to_owned();
    assert_eq!(
        attempt(&[None, Some(bad.clone())], &[None], &opts),
        Err(RenderError::InvalidAddress {
            index: 1,
            address: bad
        })
    );
    for domain in ["example.com", "bad domain.invalid", "", ".invalid"] {
        let opts = RenderOptions {
            unmapped_domain: domain.into(),
            ..RenderOptions::default()
        };
        assert_eq!(
            attempt(&two, &[None], &opts),
            Err(RenderError::UnmappedDomain(domain.into())),
            "{domain:?}"
        );
    }
    assert!(attempt(&two, &[None], &opts).is_ok());
}

#[test]
fn raw_json_payloads_are_hashed_as_received() {
    let mut item = message();
    let json = r#"{"msgid":"abc","content":"hi"}"#;
    item.raw = Raw::Json(serde_json::value::RawValue::from_string(json.into()).unwrap());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(
        text(&msg, "X-Archiver-Raw-Sha256"),
        Some(hex::encode(Sha256::digest(json.as_bytes())).as_str())
    );
}

/// The payload of a WhatsApp Cloud message of a type no mapping knows.
const HOLOGRAM_PAYLOAD: &str = concat!(
    r#"{"from":"447700900123","id":"wamid.holo","timestamp":"1767043805","#,
    r#""type":"hologram","hologram":{"frames":[1, 2.50, null],"caption":"Gr\u00fc\u00dfe ✨"}}"#,
);

/// A message of the made-up type `hologram`, which its source did not
/// recognise: no text, the payload as received.
fn hologram() -> Item<'static> {
    let mut item = message();
    item.id = ItemId::derive(&[b"wamid.holo"]);
    item.source_type = Some("hologram".into());
    item.unrecognised = true;
    item.text = None;
    item.raw =
        Raw::Json(serde_json::value::RawValue::from_string(HOLOGRAM_PAYLOAD.into()).unwrap());
    item
}

/// The `raw.json` parts of a message.
fn raw_json_parts<'m>(msg: &'m Message<'_>) -> Vec<&'m MessagePart<'m>> {
    attachment_parts(msg)
        .into_iter()
        .filter(|part| part.attachment_name() == Some("raw.json"))
        .collect()
}

#[test]
fn unrecognised_items_name_their_type_and_attach_the_raw_payload() {
    let item = hologram();
    let bytes = render_plain(&item);
    let msg = parse(&bytes);

    assert_eq!(text(&msg, "X-Archiver-Unrecognised"), Some("hologram"));
    assert_eq!(text(&msg, "X-Archiver-Kind"), Some("message"));
    let names = header_names(&bytes);
    let kind = names.iter().position(|n| n == "X-Archiver-Kind").unwrap();
    assert_eq!(names[kind + 1], "X-Archiver-Unrecognised");

    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("mixed")
    );
    let parts = attachment_parts(&msg);
    assert_eq!(parts.len(), 1);
    let raw = parts[0];
    assert_eq!(raw.attachment_name(), Some("raw.json"));
    assert_eq!(raw.content_type().map(|ct| ct.ctype()), Some("application"));
    assert_eq!(raw.content_type().and_then(|ct| ct.subtype()), Some("json"));
    assert_eq!(raw.contents(), HOLOGRAM_PAYLOAD.as_bytes());
    assert_eq!(
        text(&msg, "X-Archiver-Raw-Sha256"),
        Some(hex::encode(Sha256::digest(raw.contents())).as_str())
    );

    let note = "Note:         The source's type \"hologram\" is not recognised; \
                the source payload is attached as raw.json.\n";
    let plain = plain_body(&msg);
    assert!(plain.contains("Kind:         message\n"), "{plain}");
    assert!(plain.contains(note), "{plain}");
    assert!(!plain.contains("Attachment:"), "{plain}");
    assert!(html_body(&msg).contains("&quot;hologram&quot; is not recognised"));
    assert_eq!(msg.subject(), Some("WhatsApp message from Alice to Bob"));
    assert_eq!(bytes, render_plain(&item), "rendering stays deterministic");
}

#[test]
fn unrecognised_types_are_header_safe_and_text_payloads_attached_as_json_strings() {
    let mut item = hologram();
    item.source_type = Some("holo\r\nBcc: eve@evil.example\0".into());
    item.raw = Raw::Text("line 1\nline \"2\"".into());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(
        text(&msg, "X-Archiver-Unrecognised"),
        Some("holo  Bcc: eve@evil.example")
    );
    assert_eq!(msg.header("Bcc"), None);
    let raw = raw_json_parts(&msg);
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].contents(), br#""line 1\nline \"2\"""#);

    for unnamed in [None, Some(""), Some(" \r\n ")] {
        item.source_type = unnamed.map(Into::into);
        let msg_bytes = render_plain(&item);
        let msg = parse(&msg_bytes);
        assert_eq!(
            text(&msg, "X-Archiver-Unrecognised"),
            Some("unknown"),
            "{unnamed:?}"
        );
        assert!(plain_body(&msg).contains("The source's type \"unknown\" is not recognised"));
    }
}

#[test]
fn recognised_items_have_no_unrecognised_header_nor_raw_part() {
    let mut item = message();
    item.raw =
        Raw::Json(serde_json::value::RawValue::from_string(HOLOGRAM_PAYLOAD.into()).unwrap());
    let unnamed = render_plain(&item);
    item.source_type = Some("text".into());
    let bytes = render_plain(&item);
    assert_eq!(bytes, unnamed, "a recognised item's type changes nothing");
    let msg = parse(&bytes);
    assert_eq!(msg.header("X-Archiver-Unrecognised"), None);
    assert!(attachment_parts(&msg).is_empty());
    assert_eq!(
        msg.content_type().and_then(|ct| ct.subtype()),
        Some("alternative")
    );
    assert!(!plain_body(&msg).contains("not recognised"));
}

#[test]
fn the_raw_part_leaves_file_counts_stubs_and_limits_as_they_are() {
    let big = vec![7u8; 64];
    let small = b"%PDF tiny".to_vec();
    let mut item = hologram();
    item.attachments = vec![
        attachment("clip.mp4", "video/mp4", 64),
        attachment("doc.pdf", "application/pdf", small.len() as u64),
    ];
    let opts = RenderOptions {
        attachment_limit: 63,
        ..RenderOptions::default()
    };
    let addresses = unmapped(&item);
    let files = [Some(big.as_slice()), Some(small.as_slice())];
    let msg_bytes = render_files(&item, &addresses, &files, &opts);
    let msg = parse(&msg_bytes);
    let names: Vec<_> = attachment_parts(&msg)
        .iter()
        .map(|part| part.attachment_name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["clip.mp4.stub.txt", "doc.pdf", "raw.json"]);
    let plain = plain_body(&msg);
    assert_eq!(plain.matches("Attachment:").count(), 2, "{plain}");
    assert!(plain.contains("clip.mp4 (video/mp4, 64 bytes) – over the 63-byte limit"));
    assert!(plain.contains("doc.pdf (application/pdf, 9 bytes) – attached"));

    // One file entry per attachment, as for any item: the raw part is not one.
    let three = [None, None, None];
    let input = RenderInput {
        item: &item,
        addresses: &addresses,
        files: &three,
        raw_object: None,
    };
    assert_eq!(
        render(&input, &opts),
        Err(RenderError::FileCount {
            expected: 2,
            given: 3
        })
    );

    // Every file a stub (as when a message is over the target's size): the
    // payload is still attached in full.
    let stubs_only = RenderOptions {
        attachment_limit: 0,
        ..RenderOptions::default()
    };
    let msg_bytes = render_files(&item, &addresses, &[None, None], &stubs_only);
    let msg = parse(&msg_bytes);
    let names: Vec<_> = attachment_parts(&msg)
        .iter()
        .map(|part| part.attachment_name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["clip.mp4.stub.txt", "doc.pdf.stub.txt", "raw.json"]);
    assert_eq!(
        raw_json_parts(&msg)[0].contents(),
        HOLOGRAM_PAYLOAD.as_bytes()
    );
}

#[test]
fn an_item_line_with_a_source_type_round_trips_through_serde_and_json_lines() {
    let line = concat!(
        r#"{"id":"0123456789abcdef0123456789abcdef","source":"whatsapp-cloud","#,
        r#""kind":"message","source_type":"hologram","unrecognised":true,"#,
        r#""timestamp":"2025-12-29T21:30:05Z","#,
        r#""conversation":{"id":"wa:447700900123:447700900456","kind":"direct","title":null},"#,
        r#""sender":{"id":"447700900123","name":"Alice","phone":"+447700900123","email":null},"#,
        r#""recipients":[],"text":null,"attachments":[],"edited":false,"refers_to":null,"#,
        r#""raw":{"type":"hologram","hologram":{"frames":[1, 2.50, null]}}}"#,
    );
    let item: Item = serde_json::from_str(line).unwrap();
    assert_eq!(item.source_type.as_deref(), Some("hologram"));
    assert!(item.unrecognised);
    assert_eq!(
        item.raw.as_bytes(),
        br#"{"type":"hologram","hologram":{"frames":[1, 2.50, null]}}"#
    );
    assert_eq!(serde_json::to_string(&item).unwrap(), line);
    let mut lines = JsonLines::new(Vec::new());
    lines.write(&item).unwrap();
    assert_eq!(
        String::from_utf8(lines.into_inner().unwrap()).unwrap(),
        format!("{line}\n")
    );

    let msg_bytes = render_plain(&item);
    let msg = parse(&msg_bytes);
    assert_eq!(text(&msg, "X-Archiver-Unrecognised"), Some("hologram"));
    assert_eq!(raw_json_parts(&msg)[0].contents(), item.raw.as_bytes());

    // A line of a recognised item has neither field, and keeps it that way.
    let plain = line.replace(r#""source_type":"hologram","unrecognised":true,"#, "");
    let item: Item = serde_json::from_str(&plain).unwrap();
    assert_eq!(
        (item.source_type.as_deref(), item.unrecognised),
        (None, false)
    );
    let mut lines = JsonLines::new(Vec::new());
    lines.write(&item).unwrap();
    assert_eq!(
        String::from_utf8(lines.into_inner().unwrap()).unwrap(),
        format!("{plain}\n")
    );
}

/// The renderer decides too: an item naming a type its source's catalogue
/// does not hold is rendered as unrecognised even when the source did not
/// flag it; a catalogued type is not.
#[test]
fn a_type_outside_the_sources_catalogue_is_unrecognised_without_the_flag() {
    let mut item = hologram();
    item.unrecognised = false;
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(text(&msg, "X-Archiver-Unrecognised"), Some("hologram"));
    assert_eq!(raw_json_parts(&msg).len(), 1);

    item.source_type = Some("text".into());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);
    assert_eq!(text(&msg, "X-Archiver-Unrecognised"), None);
    assert!(raw_json_parts(&msg).is_empty());
}

/// An RFC 2047 encoded word a contact name may be written as: it decodes to
/// `CEO <ceo@corp.example>`.
const ENCODED_WORD_NAME: &str = "=?utf-8?b?Q0VPIDxjZW9AY29ycC5leGFtcGxlPg==?=";

#[test]
fn names_written_as_encoded_words_show_literally() {
    let mut item = group_message();
    item.sender = Some(person(ENCODED_WORD_NAME, None));
    let bob = format!("Bob {ENCODED_WORD_NAME}");
    item.recipients = vec![person(&bob, None), person("Carol", None)];
    let title = format!("Deal {ENCODED_WORD_NAME} desk");
    item.conversation.title = Some(title.clone().into());
    item.custodian = Some(ENCODED_WORD_NAME.into());
    let bytes = render_plain(&item);
    let msg = parse(&bytes);

    assert_eq!(mailbox(&msg, "From", 0).0, ENCODED_WORD_NAME);
    assert_eq!(mailbox(&msg, "To", 0).0, bob);
    assert_eq!(mailbox(&msg, "To", 1).0, "Carol");
    assert_eq!(msg.to().unwrap().iter().count(), 2);
    assert_eq!(
        msg.subject(),
        Some(format!("WhatsApp group \"{title}\": message from {ENCODED_WORD_NAME}").as_str())
    );
    assert_eq!(text(&msg, "Thread-Topic"), Some(title.as_str()));
    assert_eq!(text(&msg, "X-Archiver-Custodian"), Some(ENCODED_WORD_NAME));
    for line in header_block(&bytes).split("\r\n") {
        assert!(!line.contains("=?") || line.len() <= 76, "{line:?}");
    }
    assert_eq!(render_plain(&item), bytes, "still deterministic");
}

#[test]
fn direction_controls_never_reach_headers_or_file_names() {
    let mut item = group_message();
    item.sender = Some(person(
        "\u{202e}Alice\u{202c}",
        Some("\u{202a}+447700900123\u{202c}"),
    ));
    item.recipients = vec![person("Bob\u{200f}\u{061c}", None)];
    item.conversation.title = Some("\u{2067}Sales\u{2069} \u{feff}team\u{200e}".into());
    item.custodian = Some("\u{202a}+447700900123\u{202c}".into());
    item.attachments = vec![attachment("invoice\u{202e}fdp.exe", "application/pdf", 4)];
    let file: &[u8] = b"MZ..";
    let bytes = render_files(
        &item,
        &unmapped(&item),
        &[Some(file)],
        &RenderOptions::default(),
    );
    let msg = parse(&bytes);

    assert_eq!(mailbox(&msg, "From", 0).0, "Alice (+447700900123)");
    assert_eq!(mailbox(&msg, "To", 0).0, "Bob");
    assert_eq!(
        msg.subject(),
        Some("WhatsApp group \"Sales team\": message from Alice")
    );
    assert_eq!(text(&msg, "Thread-Topic"), Some("Sales team"));
    assert_eq!(text(&msg, "X-Archiver-Custodian"), Some("+447700900123"));
    assert_eq!(
        attachment_parts(&msg)[0].attachment_name(),
        Some("invoicefdp.exe")
    );
    let controls = [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202c}', '\u{202e}', '\u{2067}',
        '\u{2069}', '\u{feff}',
    ];
    for body in [plain_body(&msg), html_body(&msg)] {
        assert!(!body.contains(controls), "{body}");
    }
}

#[test]
fn attachment_names_lose_path_separators_and_encoded_word_openings() {
    let mut item = message();
    item.attachments = vec![
        attachment("../../tmp/x.jpg", "image/jpeg", 4),
        attachment("..\\..\\tmp\\y.jpg", "image/jpeg", 4),
        attachment("=?utf-8?b?ZXZpbC5leGU=?=", "application/pdf", 4),
    ];
    let file: &[u8] = b"\xFF\xD8\xFF\xE0";
    let files = [Some(file), None, Some(file)];
    let bytes = render_files(&item, &unmapped(&item), &files, &RenderOptions::default());
    let msg = parse(&bytes);
    let names: Vec<&str> = attachment_parts(&msg)
        .iter()
        .map(|part| part.attachment_name().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            ".._.._tmp_x.jpg",
            ".._.._tmp_y.jpg.stub.txt",
            "=_utf-8?b?ZXZpbC5leGU=_=",
        ]
    );
    let plain = plain_body(&msg);
    assert!(plain.contains(".._.._tmp_x.jpg (image/jpeg"), "{plain}");
    assert!(plain.contains("see .._.._tmp_y.jpg.stub.txt"), "{plain}");
    assert!(!plain.contains("../") && !plain.contains("..\\"), "{plain}");
}
