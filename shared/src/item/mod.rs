//! The archive item: the one model every source is normalised into.
//!
//! Its JSON form (one item per line in `raw/` batches, and what
//! `archiver inspect` prints) is the contract between the stages. String
//! fields borrow from the input where they can, so that parsing a large
//! export or reading a raw batch does not allocate per field.
//!
//! The model is here; [`ItemId`] and its derivation are in `id`, and the
//! fast writer of JSON lines ([`JsonLines`]), which must write what the
//! `Serialize` impl of [`Item`] writes, is in `json_lines`.

mod id;
mod json_lines;

pub use id::{HexId, IdInput, ItemId};
pub(crate) use json_lines::Parties;
pub use json_lines::{JsonLines, Lent};

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Where an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// WeCom Session Content Archive.
    Wecom,
    /// WhatsApp Business Platform (Cloud API) webhooks.
    WhatsappCloud,
    /// WhatsApp "Export chat" files.
    WhatsappExport,
}

impl SourceKind {
    /// Every source kind.
    pub const ALL: [SourceKind; 3] = [
        SourceKind::Wecom,
        SourceKind::WhatsappCloud,
        SourceKind::WhatsappExport,
    ];

    /// The name used in JSON, object keys and the `X-Archiver-Source` header.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Wecom => "wecom",
            SourceKind::WhatsappCloud => "whatsapp-cloud",
            SourceKind::WhatsappExport => "whatsapp-export",
        }
    }

    /// Whether items of this source with this `source_type` have a
    /// specific rendering. An item that names no type was mapped fully by
    /// its source (export lines have none); a named type must be in the
    /// source's catalogue (WhatsApp Cloud API message types, WeCom
    /// `msgtype`s). Any other, `unsupported` among them, is unrecognised
    /// and rendered with its raw payload attached.
    pub fn recognises(self, source_type: Option<&str>) -> bool {
        match (self, source_type) {
            (_, None) => true,
            (SourceKind::WhatsappCloud, Some(t)) => WHATSAPP_CLOUD_TYPES.contains(&t),
            (SourceKind::Wecom, Some(t)) => WECOM_TYPES.contains(&t),
            (SourceKind::WhatsappExport, Some(_)) => false,
        }
    }

    /// The messenger's name as people know it.
    pub fn network(self) -> Network {
        match self {
            SourceKind::Wecom => Network::WeChat,
            SourceKind::WhatsappCloud | SourceKind::WhatsappExport => Network::WhatsApp,
        }
    }
}

/// The WhatsApp Cloud API message types (webhook `messages[].type`) with a
/// specific rendering.
const WHATSAPP_CLOUD_TYPES: &[&str] = &[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "edit",
    "revoke",
    "media_placeholder",
    "call",
];

/// The WeCom archive's `msgtype`s with a specific rendering (the catalogue
/// of sources-deep.md §A.9, and `switch`, the log line with no `msgtype`).
const WECOM_TYPES: &[&str] = &[
    "text",
    "image",
    "revoke",
    "agree",
    "disagree",
    "voice",
    "video",
    "card",
    "location",
    "emotion",
    "file",
    "link",
    "weapp",
    "chatrecord",
    "todo",
    "vote",
    "collect",
    "redpacket",
    "meeting",
    "docmsg",
    "markdown",
    "news",
    "calendar",
    "mixed",
    "meeting_voice_call",
    "voip_doc_share",
    "external_redpacket",
    "sphfeed",
    "voiptext",
    "qydiskfile",
    "switch",
    "meeting_notification",
    "solitaire",
    "note",
];

/// The messenger a source belongs to; decides the default mailbox folder and
/// the wording of subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// WhatsApp (export files and the Business Platform).
    WhatsApp,
    /// WeChat / WeCom.
    WeChat,
}

impl Network {
    /// The display name, as used in subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::WhatsApp => "WhatsApp",
            Network::WeChat => "WeChat",
        }
    }
}

/// What an item records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A chat message, with text and/or attachments.
    Message,
    /// A voice or video call, missed or held.
    Call,
    /// A line written by the messenger itself (group created, member added…).
    System,
    /// A message recalled by its sender (WeChat).
    Recall,
    /// A new version of an earlier message.
    Edit,
    /// A message deleted by its sender.
    Delete,
    /// A reaction to an earlier message.
    Reaction,
}

impl ItemKind {
    /// The name used in JSON and the `X-Archiver-Kind` header.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Message => "message",
            ItemKind::Call => "call",
            ItemKind::System => "system",
            ItemKind::Recall => "recall",
            ItemKind::Edit => "edit",
            ItemKind::Delete => "delete",
            ItemKind::Reaction => "reaction",
        }
    }
}

/// Whether a conversation is between two parties or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// One-to-one chat.
    Direct,
    /// Group chat.
    Group,
}

/// The chat an item belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation<'a> {
    /// Stable conversation id (source room id, or derived from custodian and chat title).
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Direct or group.
    pub kind: ConversationKind,
    /// The chat's title as the source shows it, if any.
    #[serde(borrow)]
    pub title: Option<Cow<'a, str>>,
}

/// A party of a conversation. At least one of the fields is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Participant<'a> {
    /// The source's identifier (WeCom userid, WhatsApp id, export display name).
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    /// Display name.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// Phone number in E.164 form.
    #[serde(borrow)]
    pub phone: Option<Cow<'a, str>>,
    /// E-mail address the source carries for this party.
    #[serde(borrow)]
    pub email: Option<Cow<'a, str>>,
}

impl Participant<'_> {
    /// The best human label: name, then phone, then id, then e-mail.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.phone.as_deref())
            .or(self.id.as_deref())
            .or(self.email.as_deref())
            .unwrap_or("unknown")
    }

    /// Copies every borrowed field so the participant outlives its input.
    pub fn into_owned(self) -> Participant<'static> {
        Participant {
            id: self.id.map(owned),
            name: self.name.map(owned),
            phone: self.phone.map(owned),
            email: self.email.map(owned),
        }
    }
}

/// A file sent with an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment<'a> {
    /// The original file name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// MIME type, from the source or guessed from the name.
    #[serde(borrow)]
    pub content_type: Cow<'a, str>,
    /// Size in bytes, when the file is present.
    pub size: Option<u64>,
    /// SHA-256 of the file (hex), when the file is present.
    pub sha256: Option<String>,
    /// Key of the file in the archive store (`media/<sha256>`), when stored.
    pub object_key: Option<String>,
    /// True when the source says the file was not included.
    pub omitted: bool,
}

/// Details of a call item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Video rather than voice.
    pub video: bool,
    /// Not answered.
    pub missed: bool,
    /// Length of the call, when known.
    pub duration_secs: Option<u64>,
}

/// The source payload as received: export lines as text, API payloads as JSON.
#[derive(Debug, Clone)]
pub enum Raw<'a> {
    /// Text as read from a file (the export lines of one message).
    Text(Cow<'a, str>),
    /// A JSON document (webhook message object, decrypted WeCom message).
    Json(Box<RawValue>),
}

impl Raw<'_> {
    /// The raw payload's bytes, as hashed into `X-Archiver-Raw-Sha256`.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Raw::Text(text) => text.as_bytes(),
            Raw::Json(json) => json.get().as_bytes(),
        }
    }
}

impl PartialEq for Raw<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Raw::Text(a), Raw::Text(b)) => a == b,
            (Raw::Json(a), Raw::Json(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Raw::Text(text) => s.serialize_str(text),
            Raw::Json(json) => json.serialize(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value: &'de RawValue = Deserialize::deserialize(d)?;
        let json = value.get();
        if json.starts_with('"') {
            let text: Cow<'a, str> = serde_json::from_str::<BorrowedText>(json)
                .map_err(de::Error::custom)?
                .0;
            Ok(Raw::Text(text))
        } else {
            Ok(Raw::Json(value.to_owned()))
        }
    }
}

/// Helper to deserialize a JSON string, borrowing when it has no escapes.
#[derive(Deserialize)]
struct BorrowedText<'a>(#[serde(borrow)] Cow<'a, str>);

/// A timestamp serialized as RFC 3339 in UTC with a `Z` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The RFC 3339 form used in JSON, e.g. `2025-12-29T21:30:00Z`.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Parses the RFC 3339 form (any offset; converted to UTC).
    pub fn parse(s: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| Timestamp(t.with_timezone(&Utc)))
    }
}

/// Whole seconds of a four-digit year (almost every timestamp) are written
/// from a stack buffer, in the same form as [`Timestamp::to_rfc3339`].
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.whole_seconds() {
            Some(digits) => s.serialize_str(digits.as_str()),
            None => s.serialize_str(&self.to_rfc3339()),
        }
    }
}

impl Timestamp {
    /// `YYYY-MM-DDThh:mm:ssZ` when the time has no fraction of a second (nor a
    /// leap second) and the year has four digits; `None` otherwise.
    fn whole_seconds(&self) -> Option<WholeSeconds> {
        let utc = self.0.naive_utc();
        let (date, time) = (utc.date(), utc.time());
        let year = u32::try_from(date.year()).ok().filter(|&y| y <= 9999)?;
        if time.nanosecond() != 0 {
            return None;
        }
        let mut text = *b"0000-00-00T00:00:00Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], date.month());
        put_digits(&mut text[8..10], date.day());
        let mut text = WholeSeconds(text);
        text.set_time(time);
        Some(text)
    }
}

/// A timestamp's RFC 3339 form without fraction, on the stack.
#[derive(Clone, Copy)]
struct WholeSeconds([u8; 20]);

impl WholeSeconds {
    /// Writes the time of day (whole seconds).
    fn set_time(&mut self, time: NaiveTime) {
        put_digits(&mut self.0[11..13], time.hour());
        put_digits(&mut self.0[14..16], time.minute());
        put_digits(&mut self.0[17..19], time.second());
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("digits in an ASCII template")
    }
}

/// Writes `value` as decimal digits filling `out` (zero-padded on the left).
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Cow<'de, str> = Deserialize::deserialize(d)?;
        Timestamp::parse(&s)
            .map_err(|e| de::Error::custom(format!("timestamp {s:?} is not RFC 3339: {e}")))
    }
}

/// One archived unit: a message, call, system line, edit, delete, recall or reaction.
///
/// Serialized field by field in declaration order; `source_type`,
/// `custodian` and `call` are left out when `None`, and `unrecognised` when
/// false (so items without them keep the JSON they always had).
///
/// Unknown content is never dropped: a source that meets a type it has no
/// specific mapping for still makes an item of it, `kind: message` with
/// `unrecognised` set, whose message is the generic one plus the raw
/// payload (see [`crate::render`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Item<'a> {
    /// Stable id (see [`ItemId`]).
    pub id: ItemId,
    /// The source it came from.
    pub source: SourceKind,
    /// What it records.
    pub kind: ItemKind,
    /// The source's own name for the payload's type (a WeCom `msgtype`, a
    /// WhatsApp Cloud API message `type`); `None` for export files, whose
    /// lines have no type. Written right after `kind`, left out when `None`.
    #[serde(borrow, default)]
    pub source_type: Option<Cow<'a, str>>,
    /// True when the source met a type it has no specific mapping for
    /// (named by `source_type`): the item is then `kind: message`, rendered
    /// generically with an `X-Archiver-Unrecognised` header and the raw
    /// payload attached as `raw.json`, and delivered like any other.
    /// Written after `source_type` when true, left out when false.
    #[serde(default)]
    pub unrecognised: bool,
    /// When it happened at the source, in UTC.
    pub timestamp: Timestamp,
    /// The employee whose device or account the item was collected from, if the
    /// source has one (export files); always a mapping candidate.
    #[serde(borrow, default)]
    pub custodian: Option<Cow<'a, str>>,
    /// The chat.
    #[serde(borrow)]
    pub conversation: Conversation<'a>,
    /// Who sent it; `None` for system lines.
    #[serde(borrow)]
    pub sender: Option<Participant<'a>>,
    /// The other parties of the conversation.
    #[serde(borrow)]
    pub recipients: Vec<Participant<'a>>,
    /// The message text.
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    /// Files sent with it.
    #[serde(borrow)]
    pub attachments: Vec<Attachment<'a>>,
    /// True when the source marks the message as edited.
    #[serde(default)]
    pub edited: bool,
    /// Call details for `kind: call`.
    #[serde(default)]
    pub call: Option<Call>,
    /// The item this one replies to, edits, recalls, deletes or reacts to.
    pub refers_to: Option<ItemId>,
    /// The source payload as received.
    #[serde(borrow)]
    pub raw: Raw<'a>,
}

/// Field by field in declaration order; [`JsonLines`] writes the same JSON
/// and must follow any change here.
impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = 12
            + usize::from(self.source_type.is_some())
            + usize::from(self.unrecognised)
            + usize::from(self.custodian.is_some())
            + usize::from(self.call.is_some());
        let mut item = s.serialize_struct("Item", fields)?;
        item.serialize_field("id", &self.id)?;
        item.serialize_field("source", &self.source)?;
        item.serialize_field("kind", &self.kind)?;
        match &self.source_type {
            Some(source_type) => item.serialize_field("source_type", source_type)?,
            None => item.skip_field("source_type")?,
        }
        match self.unrecognised {
            true => item.serialize_field("unrecognised", &true)?,
            false => item.skip_field("unrecognised")?,
        }
        item.serialize_field("timestamp", &self.timestamp)?;
        match &self.custodian {
            Some(custodian) => item.serialize_field("custodian", custodian)?,
            None => item.skip_field("custodian")?,
        }
        item.serialize_field("conversation", &self.conversation)?;
        item.serialize_field("sender", &self.sender)?;
        item.serialize_field("recipients", &self.recipients)?;
        item.serialize_field("text", &self.text)?;
        item.serialize_field("attachments", &self.attachments)?;
        item.serialize_field("edited", &self.edited)?;
        match &self.call {
            Some(call) => item.serialize_field("call", call)?,
            None => item.skip_field("call")?,
        }
        item.serialize_field("refers_to", &self.refers_to)?;
        item.serialize_field("raw", &self.raw)?;
        item.end()
    }
}

impl Item<'_> {
    /// Every participant: the sender first, then the recipients.
    pub fn participants(&self) -> impl Iterator<Item = &Participant<'_>> {
        self.sender.iter().chain(self.recipients.iter())
    }
}

fn owned(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A WhatsApp export message; the JSON lines tests vary it.
    pub(super) fn sample() -> Item<'static> {
        Item {
            id: ItemId::derive(&[b"a", b"b"]),
            source: SourceKind::WhatsappExport,
            kind: ItemKind::Message,
            source_type: None,
            unrecognised: false,
            timestamp: Timestamp(Utc.with_ymd_and_hms(2025, 12, 29, 21, 30, 0).unwrap()),
            custodian: Some("+447700900123".into()),
            conversation: Conversation {
                id: "c1".into(),
                kind: ConversationKind::Direct,
                title: Some("Bob".into()),
            },
            sender: Some(Participant {
                name: Some("Bob \"B\"".into()),
                ..Default::default()
            }),
            recipients: vec![],
            text: Some("line 1\nline 2".into()),
            attachments: vec![],
            edited: false,
            call: None,
            refers_to: None,
            raw: Raw::Text("29/12/2025, 22:30 - Bob: line 1\nline 2".into()),
        }
    }

    #[test]
    fn json_round_trip_keeps_every_field() {
        let item = sample();
        let json = serde_json::to_string(&item).unwrap();
        assert!(
            json.contains("\"timestamp\":\"2025-12-29T21:30:00Z\""),
            "{json}"
        );
        assert!(json.contains("\"source\":\"whatsapp-export\""), "{json}");
        let back: Item = serde_json::from_str(&json).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn raw_json_stays_json() {
        let mut item = sample();
        item.raw = Raw::Json(RawValue::from_string(r#"{"msgid":"x"}"#.into()).unwrap());
        let json = serde_json::to_string(&item).unwrap();
        assert!(json.contains(r#""raw":{"msgid":"x"}"#), "{json}");
        let back: Item = serde_json::from_str(&json).unwrap();
        assert_eq!(back.raw.as_bytes(), br#"{"msgid":"x"}"#);
    }

    #[test]
    fn optional_fields_are_left_out_when_none() {
        let mut item = sample();
        item.custodian = None;
        item.kind = ItemKind::Call;
        item.call = Some(Call {
            video: true,
            missed: true,
            duration_secs: None,
        });
        let json = serde_json::to_string(&item).unwrap();
        let rest = json.strip_prefix(&format!(r#"{{"id":"{}","#, item.id));
        let expected = concat!(
            r#""source":"whatsapp-export","kind":"call","timestamp":"2025-12-29T21:30:00Z","#,
            r#""conversation":{"id":"c1","kind":"direct","title":"Bob"},"#,
            r#""sender":{"id":null,"name":"Bob \"B\"","phone":null,"email":null},"#,
            r#""recipients":[],"text":"line 1\nline 2","attachments":[],"edited":false,"#,
            r#""call":{"video":true,"missed":true,"duration_secs":null},"refers_to":null,"#,
            r#""raw":"29/12/2025, 22:30 - Bob: line 1\nline 2"}"#,
        );
        assert_eq!(rest, Some(expected), "{json}");
    }

    #[test]
    fn source_type_and_unrecognised_follow_kind_when_set() {
        let mut item = sample();
        item.source = SourceKind::WhatsappCloud;
        item.source_type = Some("hologram".into());
        item.unrecognised = true;
        item.raw = Raw::Json(RawValue::from_string(r#"{"type":"hologram"}"#.into()).unwrap());
        let json = serde_json::to_string(&item).unwrap();
        let head = concat!(
            r#""source":"whatsapp-cloud","kind":"message","source_type":"hologram","#,
            r#""unrecognised":true,"timestamp":"2025-12-29T21:30:00Z","custodian":"#,
        );
        let rest = json.strip_prefix(&format!(r#"{{"id":"{}","#, item.id));
        assert!(rest.is_some_and(|rest| rest.starts_with(head)), "{json}");
        assert_eq!(serde_json::from_str::<Item>(&json).unwrap(), item);

        // A type named but recognised: only the name is written.
        item.unrecognised = false;
        let json = serde_json::to_string(&item).unwrap();
        assert!(json.contains(r#""kind":"message","source_type":"hologram","timestamp":"#));
        // Written as false (by hand), read as false and left out again.
        let explicit = json.replace(r#""timestamp":"#, r#""unrecognised":false,"timestamp":"#);
        let back: Item = serde_json::from_str(&explicit).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        let times = [
            Utc.with_ymd_and_hms(2025, 12, 29, 21, 30, 0).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(999, 3, 4, 5, 6, 7).unwrap(),
            Utc.with_ymd_and_hms(12_345, 6, 7, 8, 9, 10).unwrap(),
            Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap(),
            Utc.timestamp_opt(1_767_043_800, 120_000_000).unwrap(),
        ];
        for time in times {
            let json = serde_json::to_string(&Timestamp(time)).unwrap();
            assert_eq!(json, format!("\"{}\"", Timestamp(time).to_rfc3339()));
        }
        assert_eq!(
            serde_json::to_string(&Timestamp(times[2])).unwrap(),
            "\"0999-03-04T05:06:07Z\""
        );
    }
}
