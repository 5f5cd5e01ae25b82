//! A decrypted WeCom message (sources-deep.md §A.8-§A.10) and the archive
//! item it becomes.
//!
//! The message is read tolerantly: raw control characters inside strings
//! (which some messages carry and JSON forbids) are escaped before it is
//! parsed, which changes no string's value; every envelope field but
//! `msgid` is optional; ids that exceed `i64` stay exact (`u64`); and the
//! payload is looked up by a chain of keys, because wrappers and the
//! official examples disagree on where some types keep it: the `msgtype`
//! key and its known aliases, then `info`, then the top level (§A.10).
//!
//! Every `msgtype` of the catalogue (§A.9) has a rendering: text for the
//! body, attachments for media (downloaded by the source, named here), a
//! call's length, a recall's original. A type never seen before becomes an
//! unrecognised message carrying its raw JSON, never dropped.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::item::{
    Attachment, Call, Conversation, ConversationKind, Item, ItemId, ItemKind, Participant, Raw,
    SourceKind, Timestamp,
};

/// Why a decrypted message cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not JSON even with its control characters escaped.
    #[error("the decrypted message is not JSON ({0})")]
    Json(String),
    /// JSON, but not an object with a `msgid`.
    #[error("the decrypted message has no msgid")]
    NoMsgid,
    /// Neither `msgtime` nor `time`.
    #[error("message {0}: no msgtime")]
    NoTime(String),
}

/// A file a message refers to by `sdkfileid`, to be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// The SDK's id of the file.
    pub sdkfileid: String,
    /// The MD5 the message gives (hex), when it gives one.
    pub md5sum: Option<String>,
    /// The attachment's file name.
    pub name: String,
    /// Whether the name's extension is to be taken from the content (a
    /// meeting recording, whose format is not documented).
    pub sniff: bool,
}

/// A downloaded file, for the attachment of its [`MediaRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// Its length.
    pub size: u64,
    /// The extension its first bytes show, for a [`MediaRef::sniff`] name.
    pub extension: Option<&'static str>,
}

/// A decrypted message, parsed.
#[derive(Debug)]
pub struct Message {
    value: Map<String, Value>,
    json: Box<RawValue>,
    msgid: String,
    rendering: Rendering,
}

/// What the message says, by type.
#[derive(Debug, Default)]
struct Rendering {
    kind: Option<ItemKind>,
    text: Option<String>,
    media: Vec<MediaRef>,
    call: Option<Call>,
    refers_to: Option<ItemId>,
    recognised: bool,
}

/// The item id of the message `msgid` (a recall's original too).
pub fn item_id(msgid: &str) -> ItemId {
    ItemId::derive(&[b"wecom", msgid.as_bytes()])
}

impl Message {
    /// Parses decrypted bytes.
    pub fn parse(bytes: &[u8]) -> Result<Message, MessageError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| MessageError::Json("not UTF-8".to_owned()))?;
        let text = match serde_json::from_str::<Box<RawValue>>(text) {
            Ok(_) => Cow::Borrowed(text),
            Err(_) => Cow::Owned(escape_controls(text)),
        };
        let json = RawValue::from_string(text.into_owned())
            .map_err(|e| MessageError::Json(crate::json_error::describe(&e)))?;
        let Ok(Value::Object(value)) = serde_json::from_str::<Value>(json.get()) else {
            return Err(MessageError::NoMsgid);
        };
        let msgid = match value.get("msgid") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => return Err(MessageError::NoMsgid),
        };
        let mut message = Message {
            value,
            json,
            msgid,
            rendering: Rendering::default(),
        };
        message.rendering = message.render();
        // A file the rendering did not pick up (a type never seen before, a
        // payload under a key not expected) is still downloaded: WeCom keeps
        // it a few days only.
        let mut more = Vec::new();
        unpicked_media(&message.value, &message.rendering.media, &mut more);
        for (n, mut media) in more.into_iter().enumerate() {
            if media.name.is_empty() {
                media.name = format!("file-{}", n + 1);
                media.sniff = true;
            }
            message.rendering.media.push(media);
        }
        Ok(message)
    }

    /// Its `msgid`.
    pub fn msgid(&self) -> &str {
        &self.msgid
    }

    /// Its type: `msgtype`, or the `action` of a log line that has none
    /// (`switch`).
    pub fn msgtype(&self) -> Option<&str> {
        self.str("msgtype").or_else(|| self.str("action"))
    }

    /// Whether its type has a specific rendering.
    pub fn is_recognised(&self) -> bool {
        self.rendering.recognised
    }

    /// The files it refers to, in the order of its attachments.
    pub fn media(&self) -> &[MediaRef] {
        &self.rendering.media
    }

    /// The item, with one entry of `files` per [`Message::media`] (`None`
    /// for a file that could not be downloaded).
    pub fn item(&self, files: &[Option<Fetched>]) -> Result<Item<'static>, MessageError> {
        let millis = self
            .u64("msgtime")
            .or_else(|| self.u64("time"))
            .ok_or_else(|| MessageError::NoTime(self.msgid.clone()))?;
        let timestamp = DateTime::<Utc>::from_timestamp_millis(millis as i64)
            .ok_or_else(|| MessageError::NoTime(self.msgid.clone()))?;
        let from = self.str("from").or_else(|| self.str("user"));
        let tolist: Vec<&str> = self
            .value
            .get("tolist")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let conversation = match self.str("roomid").filter(|room| !room.is_empty()) {
            Some(room) => Conversation {
                id: Cow::Owned(room.to_owned()),
                kind: ConversationKind::Group,
                title: None,
            },
            None => {
                let mut pair: Vec<&str> = from.into_iter().chain(tolist.iter().copied()).collect();
                pair.sort_unstable();
                pair.dedup();
                Conversation {
                    id: Cow::Owned(format!("wecom-direct:{}", pair.join(","))),
                    kind: ConversationKind::Direct,
                    title: None,
                }
            }
        };
        let rendering = &self.rendering;
        let attachments = rendering
            .media
            .iter()
            .zip(files.iter().chain(std::iter::repeat(&None)))
            .map(|(media, file)| attachment(media, file.as_ref()))
            .collect();
        let recognised = rendering.recognised;
        Ok(Item {
            id: item_id(&self.msgid),
            source: SourceKind::Wecom,
            kind: rendering.kind.unwrap_or(ItemKind::Message),
            source_type: self.msgtype().map(|t| Cow::Owned(t.to_owned())),
            unrecognised: !recognised,
            timestamp: Timestamp(timestamp),
            custodian: None,
            conversation,
            sender: from.map(participant),
            recipients: tolist
                .iter()
                .filter(|to| Some(**to) != from)
                .map(|to| participant(to))
                .collect(),
            text: rendering.text.clone().map(Cow::Owned),
            attachments,
            edited: false,
            call: rendering.call,
            refers_to: rendering.refers_to,
            raw: Raw::Json(self.json.clone()),
        })
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    fn u64(&self, key: &str) -> Option<u64> {
        number(self.value.get(key)?)
    }

    /// The payload of type `msgtype`: its own key and aliases, then `info`,
    /// then the top level.
    fn payload(&self, msgtype: &str) -> &Map<String, Value> {
        let keys: &[&str] = match msgtype {
            "markdown" => &["info", "markdown"],
            "news" => &["info", "news"],
            "docmsg" => &["doc", "docmsg"],
            "external_redpacket" => &["redpacket", "external_redpacket"],
            _ => &[],
        };
        keys.iter()
            .copied()
            .chain([msgtype, "info"])
            .find_map(|key| self.value.get(key).and_then(Value::as_object))
            .unwrap_or(&self.value)
    }

    fn render(&self) -> Rendering {
        let Some(msgtype) = self.msgtype() else {
            return Rendering::default();
        };
        if !SourceKind::Wecom.recognises(Some(msgtype)) {
            return Rendering::default();
        }
        let p = self.payload(msgtype);
        let mut r = Rendering {
            recognised: true,
            ..Rendering::default()
        };
        let s = |key: &str| field(p, key);
        match msgtype {
            "text" | "markdown" => r.text = s("content"),
            "image" => r.media.extend(media_ref(p, "image.jpg".to_owned())),
            "voice" => {
                r.text =
                    number_field(p, "play_length").map(|secs| format!("Voice message, {secs} s"));
                r.media.extend(media_ref(p, "voice.amr".to_owned()));
            }
            "video" => {
                r.text = number_field(p, "play_length").map(|secs| format!("Video, {secs} s"));
                r.media.extend(media_ref(p, "video.mp4".to_owned()));
            }
            "emotion" => {
                let ext = if number_field(p, "type") == Some(2) {
                    "png"
                } else {
                    "gif"
                };
                r.text = Some("Sticker".to_owned());
                r.media.extend(media_ref(p, format!("emotion.{ext}")));
            }
            "file" => {
                let name = s("filename").unwrap_or_else(|| match s("fileext") {
                    Some(ext) => format!("file.{ext}"),
                    None => "file".to_owned(),
                });
                r.media.extend(media_ref(p, name));
            }
            "revoke" => {
                r.kind = Some(ItemKind::Recall);
                r.refers_to = s("pre_msgid").map(|id| item_id(&id));
            }
            "agree" | "disagree" => {
                r.kind = Some(ItemKind::System);
                let who = s("userid").or_else(|| self.str("from").map(str::to_owned));
                let verb = if msgtype == "agree" {
                    "agreed to"
                } else {
                    "declined"
                };
                let at = number_field(p, &format!("{msgtype}_time")).and_then(millis_text);
                r.text = Some(format!(
                    "{} {verb} the archiving of this conversation{}",
                    who.as_deref().unwrap_or("The external contact"),
                    at.map(|at| format!(" at {at}")).unwrap_or_default()
                ));
            }
            "switch" => {
                r.kind = Some(ItemKind::System);
                r.text = Some(format!(
                    "{} switched enterprise accounts",
                    self.str("user").unwrap_or("A member")
                ));
            }
            "card" => {
                r.text = Some(lines(
                    "Contact card",
                    &[("Company", s("corpname")), ("User", s("userid"))],
                ))
            }
            "location" => {
                let at = match (s("latitude"), s("longitude")) {
                    (Some(lat), Some(lon)) => Some(format!("{lat}, {lon}")),
                    _ => None,
                };
                r.text = Some(lines(
                    "Location",
                    &[
                        ("Title", s("title")),
                        ("Address", s("address")),
                        ("Coordinates", at),
                    ],
                ));
            }
            "link" => {
                r.text = Some(lines(
                    "Link",
                    &[
                        ("Title", s("title")),
                        ("Description", s("description")),
                        ("URL", s("link_url")),
                    ],
                ))
            }
            "weapp" => {
                r.text = Some(lines(
                    "Mini program",
                    &[
                        ("Name", s("displayname")),
                        ("Title", s("title")),
                        ("Description", s("description")),
                    ],
                ))
            }
            "docmsg" => {
                r.text = Some(lines(
                    "Document",
                    &[
                        ("Title", s("title")),
                        ("Creator", s("doc_creator")),
                        ("URL", s("link_url")),
                    ],
                ))
            }
            "todo" => {
                r.text = Some(lines(
                    "To-do",
                    &[("Title", s("title")), ("Content", s("content"))],
                ))
            }
            "vote" => {
                let items = p.get("voteitem").and_then(Value::as_array).map(|items| {
                    items
                        .iter()
                        .filter_map(scalar)
                        .collect::<Vec<_>>()
                        .join("; ")
                });
                let what = match number_field(p, "votetype") {
                    Some(101) => Some("started".to_owned()),
                    Some(102) => Some("voted".to_owned()),
                    _ => None,
                };
                r.text = Some(lines(
                    "Vote",
                    &[
                        ("Title", s("votetitle")),
                        ("Options", items),
                        ("Action", what),
                        ("Vote id", s("voteid")),
                    ],
                ));
            }
            "collect" => {
                let mut text = lines(
                    "Form",
                    &[
                        ("Title", s("title")),
                        ("Group", s("room_name")),
                        ("Creator", s("creator")),
                        ("Created", s("create_time")),
                    ],
                );
                for detail in p
                    .get("details")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let d = detail.as_object();
                    let get = |key| d.and_then(|d| field(d, key)).unwrap_or_default();
                    let _ = write!(
                        text,
                        "\nItem {} ({}): {}",
                        get("id"),
                        get("type"),
                        get("ques")
                    );
                }
                r.text = Some(text);
            }
            "redpacket" | "external_redpacket" => {
                let amount = number_field(p, "totalamount")
                    .map(|fen| format!("{}.{:02} CNY", fen / 100, fen % 100));
                let kind = match number_field(p, "type") {
                    Some(1) => Some("normal".to_owned()),
                    Some(2) => Some("lucky group".to_owned()),
                    Some(3) => Some("incentive group".to_owned()),
                    _ => None,
                };
                r.text = Some(lines(
                    "Red packet",
                    &[
                        ("Wish", s("wish")),
                        ("Kind", kind),
                        ("Packets", s("totalcnt")),
                        ("Amount", amount),
                    ],
                ));
            }
            "meeting" => {
                let span = time_span(p, "starttime", "endtime");
                r.text = Some(lines(
                    "Meeting",
                    &[
                        ("Topic", s("topic")),
                        ("Time", span),
                        ("Address", s("address")),
                        ("Remarks", s("remarks")),
                        ("Meeting id", s("meetingid")),
                        ("Type", s("meetingtype")),
                        ("Status", s("status")),
                    ],
                ));
            }
            "calendar" => {
                let attendees = p
                    .get("attendeename")
                    .and_then(Value::as_array)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(scalar)
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                r.text = Some(lines(
                    "Calendar",
                    &[
                        ("Title", s("title")),
                        ("Creator", s("creatorname")),
                        ("Attendees", attendees),
                        ("Time", time_span(p, "starttime", "endtime")),
                        ("Place", s("place")),
                        ("Remarks", s("remarks")),
                    ],
                ));
            }
            "news" => {
                let mut text = "News".to_owned();
                for item in p
                    .get("item")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    for key in ["title", "description", "url"] {
                        if let Some(value) = field(item, key) {
                            let _ = write!(text, "\n{value}");
                        }
                    }
                }
                r.text = Some(text);
            }
            "chatrecord" => {
                let mut text = lines("Chat record", &[("Title", s("title"))]);
                for (n, item) in p
                    .get("item")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .enumerate()
                {
                    let kind = field(item, "type").unwrap_or_default();
                    let at = number_field(item, "msgtime")
                        .and_then(seconds_or_millis_text)
                        .unwrap_or_default();
                    let _ = write!(text, "\n{}. {kind} {at}", n + 1);
                    inner(&mut text, &mut r.media, item, n + 1);
                }
                r.text = Some(text);
            }
            "mixed" => {
                let mut text = String::new();
                for (n, item) in p
                    .get("item")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .enumerate()
                {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    inner(&mut text, &mut r.media, item, n + 1);
                }
                r.text = Some(text.trim_start().to_owned());
            }
            "meeting_voice_call" => {
                r.kind = Some(ItemKind::Call);
                let end = number_field(p, "endtime");
                let start = self.u64("msgtime").map(|ms| ms / 1000);
                r.call = Some(Call {
                    video: false,
                    missed: false,
                    duration_secs: end
                        .zip(start)
                        .and_then(|(end, start)| end.checked_sub(start)),
                });
                let mut text = lines(
                    "Meeting voice call",
                    &[
                        ("Voice id", self.str("voiceid").map(str::to_owned)),
                        ("Ended", end.and_then(seconds_text)),
                    ],
                );
                for demo in p
                    .get("demofiledata")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    let _ = write!(
                        text,
                        "\nShared file {} by {} ({})",
                        field(demo, "filename").unwrap_or_default(),
                        field(demo, "demooperator").unwrap_or_default(),
                        time_span(demo, "starttime", "endtime").unwrap_or_default()
                    );
                }
                for share in p
                    .get("sharescreendata")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    let _ = write!(
                        text,
                        "\nScreen shared by {} ({})",
                        field(share, "share").unwrap_or_default(),
                        time_span(share, "starttime", "endtime").unwrap_or_default()
                    );
                }
                r.text = Some(text);
                if let Some(mut media) = media_ref(p, "recording".to_owned()) {
                    media.sniff = true;
                    r.media.push(media);
                }
            }
            "voip_doc_share" => {
                r.text = Some(lines(
                    "File shared in a call",
                    &[
                        ("Call id", self.str("voipid").map(str::to_owned)),
                        ("File", s("filename")),
                    ],
                ));
                r.media.extend(media_ref(
                    p,
                    s("filename").unwrap_or_else(|| "file".to_owned()),
                ));
            }
            "voiptext" => {
                r.kind = Some(ItemKind::Call);
                let invite = number_field(p, "invitetype");
                r.call = Some(Call {
                    video: matches!(invite, Some(1 | 3)),
                    missed: false,
                    duration_secs: number_field(p, "callduration"),
                });
                let kind = match invite {
                    Some(1) => "one-to-one video call",
                    Some(2) => "one-to-one voice call",
                    Some(3) => "group video call",
                    Some(4) => "group voice call",
                    _ => "call",
                };
                r.text = Some(format!("WeCom {kind}"));
            }
            "sphfeed" => {
                let kind = match p.get("feed_type").and_then(number) {
                    Some(2) => Some("image".to_owned()),
                    Some(4) => Some("video".to_owned()),
                    Some(9) => Some("live".to_owned()),
                    _ => s("feed_type"),
                };
                r.text = Some(lines(
                    "Channels feed",
                    &[
                        ("Account", s("sph_name")),
                        ("Kind", kind),
                        ("Description", s("feed_desc")),
                    ],
                ));
            }
            "qydiskfile" => r.text = Some(lines("WeDrive file", &[("File", s("filename"))])),
            "meeting_notification" => {
                r.text = Some(lines(
                    "Meeting notification",
                    &[
                        ("Meeting id", s("meeting_id")),
                        ("Type", s("notification_type")),
                        ("Content", s("content")),
                    ],
                ))
            }
            // Sign-up lists and notes: fields undocumented, every scalar shown.
            _ => {
                let label = if msgtype == "solitaire" {
                    "Sign-up list"
                } else {
                    "Note"
                };
                let fields: Vec<(String, Option<String>)> = p
                    .iter()
                    .filter(|(key, _)| !ENVELOPE.contains(&key.as_str()))
                    .map(|(key, value)| (key.clone(), scalar(value)))
                    .collect();
                let mut text = label.to_owned();
                for (key, value) in fields {
                    if let Some(value) = value {
                        let _ = write!(text, "\n{key}: {value}");
                    }
                }
                r.text = Some(text);
            }
        }
        r
    }
}

/// The top-level keys every message may carry.
const ENVELOPE: &[&str] = &[
    "msgid", "action", "from", "tolist", "roomid", "msgtime", "msgtype",
];

/// An inner item of a `chatrecord` or `mixed`: its `content` is a JSON
/// string shaped like the message of its type.
fn inner(text: &mut String, media: &mut Vec<MediaRef>, item: &Map<String, Value>, n: usize) {
    let kind = field(item, "type").unwrap_or_default().to_ascii_lowercase();
    let content = item
        .get("content")
        .and_then(Value::as_str)
        .and_then(|c| serde_json::from_str::<Value>(&escape_controls(c)).ok());
    let content = content.as_ref().and_then(Value::as_object);
    let Some(content) = content else {
        if let Some(raw) = field(item, "content") {
            text.push_str(&raw);
        }
        return;
    };
    if let Some(words) = field(content, "content") {
        text.push_str(&words);
    }
    if content.contains_key("sdkfileid") {
        let ext = if kind.contains("image") {
            "jpg"
        } else if kind.contains("video") {
            "mp4"
        } else if kind.contains("voice") {
            "amr"
        } else {
            ""
        };
        let name = field(content, "filename").unwrap_or_else(|| match ext {
            "" => format!("item-{n}"),
            ext => format!("item-{n}.{ext}"),
        });
        if let Some(reference) = media_ref(content, name.clone()) {
            let _ = write!(text, "[attachment {name}]");
            media.push(reference);
        }
    } else if let Some(title) = field(content, "title") {
        text.push_str(&title);
    }
}

/// Every object under `map` (itself included) with an `sdkfileid` that is
/// not among `known`, in document order.
fn unpicked_media(map: &Map<String, Value>, known: &[MediaRef], out: &mut Vec<MediaRef>) {
    if let Some(media) = media_ref(map, field(map, "filename").unwrap_or_default())
        && !media.sdkfileid.is_empty()
        && !known
            .iter()
            .chain(out.iter())
            .any(|k| k.sdkfileid == media.sdkfileid)
    {
        out.push(media);
    }
    for value in map.values() {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                Value::Object(inner) => unpicked_media(inner, known, out),
                Value::Array(values) => stack.extend(values.iter().rev()),
                _ => {}
            }
        }
    }
}

fn media_ref(payload: &Map<String, Value>, name: String) -> Option<MediaRef> {
    let sdkfileid = payload.get("sdkfileid")?.as_str()?.to_owned();
    Some(MediaRef {
        sdkfileid,
        md5sum: field(payload, "md5sum").filter(|md5| !md5.is_empty()),
        name,
        sniff: false,
    })
}

fn attachment(media: &MediaRef, file: Option<&Fetched>) -> Attachment<'static> {
    let name = match file.and_then(|f| f.extension).filter(|_| media.sniff) {
        Some(ext) => format!("{}.{ext}", media.name),
        None => media.name.clone(),
    };
    let content_type = content_type(&name);
    Attachment {
        content_type: Cow::Owned(content_type.to_owned()),
        name: Cow::Owned(name),
        size: file.map(|f| f.size),
        sha256: file.map(|f| f.sha256.clone()),
        object_key: file.map(|f| crate::layout::media_key(&f.sha256)),
        omitted: false,
    }
}

/// A file's type by its name: WeChat's voice formats, then the common table.
fn content_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("amr") => "audio/amr",
        Some("silk") => "audio/silk",
        _ => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

/// A WeCom party: internal members by userid; external contacts (`wm`,
/// `wo`) and robots (`wb`, marked) by their external id.
fn participant(id: &str) -> Participant<'static> {
    Participant {
        id: Some(Cow::Owned(id.to_owned())),
        name: id
            .starts_with("wb")
            .then(|| Cow::Owned(format!("{id} (robot)"))),
        ..Participant::default()
    }
}

/// A scalar as text: strings as they are, numbers exactly (u64 ids too).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(scalar).filter(|s| !s.is_empty())
}

/// A non-negative integer, written as a number or as digits.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn number_field(map: &Map<String, Value>, key: &str) -> Option<u64> {
    map.get(key).and_then(number)
}

fn seconds_text(secs: u64) -> Option<String> {
    DateTime::<Utc>::from_timestamp(i64::try_from(secs).ok()?, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

fn millis_text(millis: u64) -> Option<String> {
    seconds_text(millis / 1000)
}

/// Chat-record times are seconds in the official example and
/// milliseconds by one wrapper's comment: told apart by magnitude.
fn seconds_or_millis_text(value: u64) -> Option<String> {
    if value < 100_000_000_000 {
        seconds_text(value)
    } else {
        millis_text(value)
    }
}

fn time_span(map: &Map<String, Value>, start: &str, end: &str) -> Option<String> {
    let start = number_field(map, start).and_then(seconds_text);
    let end = number_field(map, end).and_then(seconds_text);
    match (start, end) {
        (Some(s), Some(e)) => Some(format!("{s} to {e}")),
        (s, e) => s.or(e),
    }
}

/// `Label` then a `Name: value` line per value present.
fn lines(label: &str, rows: &[(&str, Option<String>)]) -> String {
    let mut text = label.to_owned();
    for (name, value) in rows {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            let _ = write!(text, "\n{name}: {value}");
        }
    }
    text
}

/// `text` with the raw control characters inside its strings escaped
/// (`\u0001`), so that it parses; a string's value is unchanged.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if (c as u32) < 0x20 {
                let _ = write!(out, "\\u{:04x}", c as u32);
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// The JSON objects of a file of decrypted messages, in order: one per line
/// as `DecryptData` returns them, or the elements of a JSON array. Objects
/// are found by their braces outside strings, so a raw line break inside a
/// string (which some messages carry) does not split one.
pub fn split_messages(bytes: &[u8]) -> Vec<&[u8]> {
    let mut objects = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    objects.push(&bytes[start..=i]);
                }
            }
            _ => {}
        }
    }
    objects
}

/// The extension a recording's first bytes show (AMR, SILK, WAV, MP3).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"#!AMR") {
        Some("amr")
    } else if head.starts_with(b"#!SILK") || head.starts_with(b"\x02#!SILK") {
        Some("silk")
    } else if head.starts_with(b"RIFF") {
        Some("wav")
    } else if head.starts_with(b"ID3") || head.starts_with(&[0xFF, 0xFB]) {
        Some("mp3")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_control_characters_in_strings_are_escaped_without_changing_values() {
        let raw = "{\"msgid\":\"1\",\"msgtype\":\"text\",\"msgtime\":1,\"text\":{\"content\":\"a\u{1}b\nc\"}}";
        assert!(serde_json::from_str::<Value>(raw).is_err());
        let message = Message::parse(raw.as_bytes()).unwrap();
        let item = message.item(&[]).unwrap();
        assert_eq!(item.text.as_deref(), Some("a\u{1}b\nc"));
    }

    #[test]
    fn messages_split_by_line_or_array_whatever_their_strings_hold() {
        let lines = b"{\"msgid\":\"1\",\"t\":\"a\nb}\"}\n{\"msgid\":\"2\",\"x\":{\"y\":1}}\n";
        let objects = split_messages(lines);
        assert_eq!(objects.len(), 2);
        assert!(objects[0].ends_with(b"b}\"}"));
        let array = br#"[{"msgid":"1","s":"\"{"}, {"msgid":"2"}]"#;
        assert_eq!(split_messages(array).len(), 2);
    }

    #[test]
    fn the_payload_is_found_under_its_disputed_keys() {
        let item = |json: &str| Message::parse(json.as_bytes()).unwrap().item(&[]).unwrap();
        let markdown =
            item(r#"{"msgid":"1","msgtime":1,"msgtype":"markdown","markdown":{"content":"md"}}"#);
        assert_eq!(markdown.text.as_deref(), Some("md"));
        let flat_vote = item(
            r#"{"msgid":"1","msgtime":1,"msgtype":"vote","votetitle":"Lunch?","voteitem":["a","b"],"votetype":101}"#,
        );
        assert!(
            flat_vote
                .text
                .unwrap()
                .contains("Title: Lunch?\nOptions: a; b\nAction: started")
        );
        let voip_info = item(
            r#"{"msgid":"1","msgtime":1,"msgtype":"voiptext","info":{"callduration":312,"invitetype":2}}"#,
        );
        assert_eq!(voip_info.call.unwrap().duration_secs, Some(312));
    }
}
