//! WeCom messages of every `msgtype` in sources-deep.md §A.9, in the shapes
//! documented there (the disputed payload keys, raw control characters,
//! 20-digit ids), become items and then emails with the right kind,
//! subject, body and attachments; recalls link to their originals; a type
//! never seen is kept with its raw JSON. The fixtures are
//! `tests/fixtures/wecom/messages/<msgtype>.json`, as `DecryptData` returns
//! them.

use std::borrow::Cow;
use std::path::PathBuf;

use mail_parser::{MessageParser, MimeHeaders};
use shared::item::{Item, ItemKind};
use shared::render::{RenderInput, RenderOptions, message_id, render};
use shared::sources::wecom::message::{Fetched, Message, item_id};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/wecom/messages/{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The item of a fixture, its media "downloaded".
fn item(name: &str) -> Item<'static> {
    let message = Message::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let files: Vec<Option<Fetched>> = message
        .media()
        .iter()
        .map(|media| {
            Some(Fetched {
                sha256: format!("{:0>64}", media.sdkfileid.len()),
                size: 100,
                extension: Some("amr").filter(|_| media.sniff),
            })
        })
        .collect();
    message.item(&files).unwrap()
}

/// The email of an item: its subject, kind header, plain body and the
/// names of its attachment parts.
struct Email {
    subject: String,
    kind: String,
    body: String,
    parts: Vec<String>,
    in_reply_to: Option<String>,
}

fn email(item: &Item<'_>) -> Email {
    let addresses = vec![None; item.participants().count()];
    let files = vec![None; item.attachments.len()];
    let input = RenderInput {
        item,
        addresses: &addresses,
        files: &files,
        raw_object: None,
    };
    let eml = render(&input, &RenderOptions::default()).unwrap();
    let message = MessageParser::default().parse(&eml).unwrap();
    Email {
        subject: message.subject().unwrap_or_default().to_owned(),
        kind: message
            .header_raw("X-Archiver-Kind")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        body: message
            .body_text(0)
            .map(Cow::into_owned)
            .unwrap_or_default(),
        parts: message
            .attachments()
            .filter_map(|part| part.attachment_name().map(str::to_owned))
            .collect(),
        in_reply_to: message.in_reply_to().as_text().map(str::to_owned),
    }
}

/// (fixture, kind, words in the body, attachment names)
const CATALOGUE: &[(&str, ItemKind, &[&str], &[&str])] = &[
    ("text", ItemKind::Message, &["test"], &[]),
    ("image", ItemKind::Message, &[], &["image.jpg"]),
    ("revoke", ItemKind::Recall, &["recalled"], &[]),
    ("agree", ItemKind::System, &["agreed to the archiving"], &[]),
    (
        "disagree",
        ItemKind::System,
        &["declined the archiving"],
        &[],
    ),
    (
        "voice",
        ItemKind::Message,
        &["Voice message, 10 s"],
        &["voice.amr"],
    ),
    (
        "video",
        ItemKind::Message,
        &["Video, 108 s"],
        &["video.mp4"],
    ),
    (
        "card",
        ItemKind::Message,
        &["Company: 微信联系人", "wmGAgeDQAAGjFmfnP7A3j2JxQDdLNhSw"],
        &[],
    ),
    (
        "location",
        ItemKind::Message,
        &["xxx管理中心", "39.911125799, 116.586285899"],
        &[],
    ),
    ("emotion", ItemKind::Message, &["Sticker"], &["emotion.gif"]),
    ("file", ItemKind::Message, &[], &["资料.docx"]),
    (
        "link",
        ItemKind::Message,
        &["邀请你加入群聊", "https://work.weixin.qq.com/x"],
        &[],
    ),
    (
        "weapp",
        ItemKind::Message,
        &["服务须知", "客户需同意存档聊天记录"],
        &[],
    ),
    (
        "chatrecord",
        ItemKind::Message,
        &[
            "Title: 群聊",
            "1. ChatRecordText 2020-10-28 09:00:10 UTC",
            "test",
            "2. ChatRecordImage 2020-10-28 09:00:11 UTC",
        ],
        &["item-2.jpg"],
    ),
    (
        "collect",
        ItemKind::Message,
        &[
            "这是填表title",
            "Item 11101571002822706744 (Text): 表项1，文本",
        ],
        &[],
    ),
    (
        "redpacket",
        ItemKind::Message,
        &["恭喜发财", "30.00 CNY", "normal"],
        &[],
    ),
    (
        "meeting",
        ItemKind::Message,
        &["夕会", "Meeting id: 11101571002822706744"],
        &[],
    ),
    (
        "switch",
        ItemKind::System,
        &["XuJinSheng switched enterprise accounts"],
        &[],
    ),
    (
        "docmsg",
        ItemKind::Message,
        &[
            "测试&演示客户",
            "https://doc.weixin.qq.com/txdoc/excel?docid=xxx",
        ],
        &[],
    ),
    (
        "markdown",
        ItemKind::Message,
        &["请前往系统查看，谢谢。"],
        &[],
    ),
    ("news", ItemKind::Message, &["service", "http://xxx"], &[]),
    (
        "calendar",
        ItemKind::Message,
        &["xxx业绩复盘会", "Attendees: aaa, bbb"],
        &[],
    ),
    (
        "mixed",
        ItemKind::Message,
        &["你好[微笑]", "[attachment item-2.jpg]"],
        &["item-2.jpg"],
    ),
    (
        "meeting_voice_call",
        ItemKind::Call,
        &[
            "Voice id: grb8a4c48a3c094a70982c518d55e40557",
            "Shared file 65eb1cdd3e7a3c1740ecd74220b6c627.docx",
        ],
        &["recording.amr"],
    ),
    (
        "voip_doc_share",
        ItemKind::Message,
        &["欢迎使用微盘.pdf.pdf", "gr2751c98b19300571f8afb3b74514bd32"],
        &["欢迎使用微盘.pdf.pdf"],
    ),
    ("external_redpacket", ItemKind::Message, &["0.20 CNY"], &[]),
    (
        "sphfeed",
        ItemKind::Message,
        &["云游天地旅行家", "Kind: video"],
        &[],
    ),
    (
        "todo",
        ItemKind::Message,
        &["来源文本", "下周一交报告"],
        &[],
    ),
    (
        "vote",
        ItemKind::Message,
        &["午饭吃什么", "Options: 面; 饭", "Action: started"],
        &[],
    ),
    ("voiptext", ItemKind::Call, &["one-to-one voice call"], &[]),
    ("qydiskfile", ItemKind::Message, &["季度报告.xlsx"], &[]),
    (
        "meeting_notification",
        ItemKind::Message,
        &["11101571002822706744", "会议已开始"],
        &[],
    ),
    (
        "solitaire",
        ItemKind::Message,
        &["Sign-up list", "周五聚餐接龙"],
        &[],
    ),
    ("note", ItemKind::Message, &["Note", "笔记标题"], &[]),
];

#[test]
fn every_catalogued_msgtype_renders_with_its_kind_body_and_attachments() {
    for (name, kind, words, files) in CATALOGUE {
        let item = item(name);
        assert_eq!(item.kind, *kind, "{name}");
        assert!(!item.unrecognised, "{name}");
        let email = email(&item);
        assert_eq!(email.kind, kind.as_str(), "{name}");
        assert!(
            email.subject.starts_with("WeChat ") || email.subject.starts_with("RECALLED – WeChat "),
            "{name}: {}",
            email.subject
        );
        for word in *words {
            assert!(
                email.body.contains(word),
                "{name}: {word:?} not in\n{}",
                email.body
            );
        }
        let names: Vec<&str> = item.attachments.iter().map(|a| a.name.as_ref()).collect();
        assert_eq!(names, *files, "{name}");
        for file in *files {
            assert!(
                email.parts.iter().any(|part| part.starts_with(file)),
                "{name}: {file} not in {:?}",
                email.parts
            );
        }
        assert!(!email.parts.iter().any(|part| part == "raw.json"), "{name}");
    }
}

#[test]
fn a_recall_refers_to_its_original() {
    let recall = item("revoke");
    let original = item_id("14822339130656386894_1603875600");
    assert_eq!(recall.refers_to, Some(original));
    let email = email(&recall);
    assert!(
        email
            .subject
            .starts_with("RECALLED – WeChat message from kenshin"),
        "{}",
        email.subject
    );
    assert_eq!(
        email.in_reply_to.as_deref(),
        Some(message_id(&original).as_str())
    );
}

#[test]
fn raw_control_characters_are_kept_in_the_text_and_the_raw_json_parses() {
    let bytes = fixture("text-controls");
    assert!(
        serde_json::from_slice::<serde_json::Value>(&bytes).is_err(),
        "the fixture has raw control characters"
    );
    let item = item("text-controls");
    assert_eq!(item.text.as_deref(), Some("line one\u{1}\u{13} and\ttab"));
    let raw: serde_json::Value = serde_json::from_slice(item.raw.as_bytes()).unwrap();
    assert_eq!(raw["text"]["content"], "line one\u{1}\u{13} and\ttab");
}

#[test]
fn twenty_digit_ids_stay_exact() {
    let share = item("voip_doc_share");
    let raw: serde_json::Value = serde_json::from_slice(share.raw.as_bytes()).unwrap();
    assert_eq!(raw["voip_doc_share"]["filesize"].as_u64(), Some(u64::MAX));
    let meeting = email(&item("meeting"));
    assert!(meeting.body.contains("11101571002822706744"));
}

#[test]
fn calls_say_who_and_how_long_and_carry_the_recording() {
    let voip = item("voiptext");
    assert_eq!(voip.call.unwrap().duration_secs, Some(312));
    assert_eq!(
        email(&voip).subject,
        "WeChat call with zhangsan, lisi, 5 min 12 s"
    );
    let meeting = item("meeting_voice_call");
    // 1594197323 to its end time 1594197635.
    assert_eq!(meeting.call.unwrap().duration_secs, Some(312));
    assert_eq!(meeting.attachments[0].name, "recording.amr");
    assert_eq!(meeting.attachments[0].content_type, "audio/amr");
}

#[test]
fn group_subjects_name_the_group_and_the_sender() {
    let mut text = item("link");
    text.conversation.title = Some("项目组".into());
    text.sender.as_mut().unwrap().name = Some("张三".into());
    assert_eq!(
        email(&text).subject,
        "WeChat group \"项目组\": message from 张三"
    );
}

#[test]
fn an_unknown_msgtype_is_kept_with_its_raw_json() {
    let item = item("hologram");
    assert!(item.unrecognised);
    assert_eq!(item.kind, ItemKind::Message);
    let email = email(&item);
    assert!(
        email.parts.iter().any(|part| part == "raw.json"),
        "{:?}",
        email.parts
    );
    assert!(
        email.body.contains("\"hologram\" is not recognised"),
        "{}",
        email.body
    );
}

#[test]
fn wecom_userids_map_through_the_csv_by_their_wecom_identity() {
    use shared::mapping::{Mapper, MappingOptions, MappingTable};
    let csv = "identity,mailbox\nwecom:XuJinSheng,xu.jinsheng@corp.example\nwecom:10086,number.user@corp.example\n";
    let opts = MappingOptions {
        default_region: shared::mapping::parse_region("CN").unwrap(),
        id_domain: None,
        custodian_domains: Vec::new(),
    };
    let (table, issues) = MappingTable::from_csv(csv.as_bytes(), &opts).unwrap();
    assert!(issues.is_empty(), "{issues:?}");
    let mapper = Mapper::new(table, opts).unwrap();
    let mut item = item("text");
    assert_eq!(
        mapper.resolve(&item).addresses[0].as_deref(),
        Some("xu.jinsheng@corp.example")
    );
    item.sender.as_mut().unwrap().id = Some("10086".into());
    assert_eq!(
        mapper.resolve(&item).addresses[0].as_deref(),
        Some("number.user@corp.example")
    );
}

#[test]
fn a_file_of_a_type_never_seen_or_under_an_unexpected_key_is_still_downloaded() {
    // A type never seen, its files nested: each is to be downloaded (WeCom
    // keeps it a few days only), once.
    let unknown = br#"{"msgid":"m1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":1603875600000,"msgtype":"hologram","hologram":{"sdkfileid":"f-one","md5sum":"aa","parts":[{"sdkfileid":"f-two","filename":"scan.pdf"},{"sdkfileid":"f-one"}]}}"#;
    let message = Message::parse(unknown).unwrap();
    assert!(!message.is_recognised());
    let media: Vec<(&str, &str, Option<&str>)> = message
        .media()
        .iter()
        .map(|m| (m.sdkfileid.as_str(), m.name.as_str(), m.md5sum.as_deref()))
        .collect();
    assert_eq!(
        media,
        [("f-one", "file-1", Some("aa")), ("f-two", "scan.pdf", None)]
    );
    // An image under a key other than its type's: downloaded too.
    let stray = br#"{"msgid":"m2","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"","msgtime":1603875600000,"msgtype":"image","image":{"sdkfileid":"f-image"},"extra":{"thumb":{"sdkfileid":"f-thumb"}}}"#;
    let message = Message::parse(stray).unwrap();
    let ids: Vec<&str> = message
        .media()
        .iter()
        .map(|m| m.sdkfileid.as_str())
        .collect();
    assert_eq!(ids, ["f-image", "f-thumb"]);
    // Every fixture's files are picked up by its own rendering: nothing
    // more is found in them.
    for name in [
        "image",
        "voice",
        "video",
        "file",
        "emotion",
        "mixed",
        "meeting_voice_call",
        "voip_doc_share",
    ] {
        let message = Message::parse(&fixture(name)).unwrap();
        assert!(
            message.media().iter().all(|m| !m.name.starts_with("file-")),
            "{name}: {:?}",
            message.media()
        );
    }
}
