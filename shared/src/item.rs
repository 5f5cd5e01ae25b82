//! The archive item: the one model every source is normalised into.
//!
//! Its JSON form (one item per line in `raw/` batches, and what
//! `archiver inspect` prints) is the contract between the stages. String
//! fields borrow from the input where they can, so that parsing a large
//! export or reading a raw batch does not allocate per field.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// A stable item id: 128 bits of a SHA-256 over the source's own identity of
/// the message, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId([u8; 16]);

impl ItemId {
    /// Derives an id from the parts that identify a message at its source.
    /// Each part is length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn derive(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        ItemId(id)
    }

    /// The id's 32 hex digits.
    pub fn to_hex(&self) -> HexId {
        let mut out = [0u8; 32];
        hex::encode_to_slice(self.0, &mut out).expect("32 bytes hold 16 as hex");
        HexId(out)
    }

    /// Parses 32 hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(ItemId(id))
    }
}

/// The one part of an [`ItemId`], written piece by piece and hashed as
/// [`ItemId::derive`] hashes `&[part]`: its length prefix is kept in front of
/// it, so that the whole input is hashed in one piece (without copying it
/// into the hasher's block buffer).
#[derive(Debug, Clone)]
pub struct IdInput(Vec<u8>);

/// Room for the length prefix at the start of an [`IdInput`].
const LENGTH_PREFIX: usize = 8;

impl IdInput {
    /// An empty part, with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut input = Vec::with_capacity(LENGTH_PREFIX + capacity);
        input.extend_from_slice(&[0; LENGTH_PREFIX]);
        IdInput(input)
    }

    /// Empties the part.
    pub fn clear(&mut self) {
        self.0.truncate(LENGTH_PREFIX);
    }

    /// Appends bytes to the part.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// The id of the part: `ItemId::derive(&[part])`.
    pub fn id(&mut self) -> ItemId {
        let len = (self.0.len() - LENGTH_PREFIX) as u64;
        self.0[..LENGTH_PREFIX].copy_from_slice(&len.to_le_bytes());
        // aws-lc's SHA-256 (already linked for TLS and JWTs) hashes a
        // message's few blocks with less overhead per call than sha2's.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_ref()[..16]);
        ItemId(id)
    }
}

/// An [`ItemId`] formatted as hex without allocating.
pub struct HexId([u8; 32]);

impl HexId {
    /// The hex digits as a string slice.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({self})")
    }
}

impl Serialize for ItemId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.to_hex().as_str())
    }
}

impl<'de> Deserialize<'de> for ItemId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Cow<'de, str> = Deserialize::deserialize(d)?;
        ItemId::parse(&s).ok_or_else(|| de::Error::custom("item id must be 32 hex digits"))
    }
}

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
    /// The name used in JSON, object keys and the `X-Archiver-Source` header.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Wecom => "wecom",
            SourceKind::WhatsappCloud => "whatsapp-cloud",
            SourceKind::WhatsappExport => "whatsapp-export",
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
/// Serialized field by field in declaration order; `custodian` and `call`
/// are left out when `None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Item<'a> {
    /// Stable id (see [`ItemId`]).
    pub id: ItemId,
    /// The source it came from.
    pub source: SourceKind,
    /// What it records.
    pub kind: ItemKind,
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
        let fields = 12 + usize::from(self.custodian.is_some()) + usize::from(self.call.is_some());
        let mut item = s.serialize_struct("Item", fields)?;
        item.serialize_field("id", &self.id)?;
        item.serialize_field("source", &self.source)?;
        item.serialize_field("kind", &self.kind)?;
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

    /// The UTC day (`YYYY-MM-DD`) the item belongs to, used in object keys.
    pub fn day(&self) -> String {
        self.timestamp.0.format("%Y-%m-%d").to_string()
    }
}

fn owned(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

/// An item lent by a source that builds its items one after another, with
/// the identity of its sender and recipients: lent items with the same
/// [`Parties`] have equal senders and equal lists of recipients.
/// [`JsonLines::write_lent`] reuses their JSON without comparing them.
pub struct Lent<'x, 'i> {
    item: &'x Item<'i>,
    parties: Parties,
}

/// Who a [`Lent`] item is from and to: the source that lent it (unique in
/// the process) and its slot for the item's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parties {
    /// From [`Parties::new_source`].
    pub(crate) source: u64,
    /// Equal for items of the source with equal senders and recipients.
    pub(crate) slot: u32,
}

impl Parties {
    /// A source id no other source of the process has.
    pub(crate) fn new_source() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
}

impl<'x, 'i> Lent<'x, 'i> {
    /// Lends `item`, whose sender and recipients are those of every other
    /// item lent with the same `parties`.
    pub(crate) fn new(item: &'x Item<'i>, parties: Parties) -> Self {
        Lent { item, parties }
    }
}

impl<'i> std::ops::Deref for Lent<'_, 'i> {
    type Target = Item<'i>;

    fn deref(&self) -> &Item<'i> {
        self.item
    }
}

/// Writes items as JSON lines: each item as `serde_json::to_writer` writes
/// it, then a line break.
///
/// A line is the item's fields in the order of `Item`'s `Serialize`: the
/// field names and punctuation, the same in every line, are copied as they
/// are; the values are serialized with sonic-rs, which writes the same JSON
/// as serde_json but escapes strings with SIMD (ids, timestamps and the
/// source and kind names, ASCII without anything to escape, are copied).
/// The tests compare the lines with serde_json's.
///
/// Items of one chat repeat their custodian and conversation, and each
/// sender comes with the same recipients every time, which are most of an
/// item's JSON. The writer keeps the JSON made for them, and copies it for
/// every later item whose parts are equal.
pub struct JsonLines<'i, W: Write> {
    out: W,
    /// Lines made but not yet written to `out`.
    buf: Vec<u8>,
    /// The last custodian written and its JSON.
    custodian: Option<(Cow<'i, str>, String)>,
    conversation: Option<(Conversation<'i>, String)>,
    /// By sender, in order of first appearance; at most [`MAX_SENDERS`].
    senders: Vec<SenderJson<'i>>,
    /// For lent items: their source, and the JSON of the sender and
    /// recipients by slot (the first [`MAX_SENDERS`] slots).
    lent: Option<(u64, Vec<Option<PartiesJson>>)>,
    /// The UTC day of the last whole-second timestamp written, and its text
    /// (the items of a chat export come day by day).
    day: Option<(NaiveDate, WholeSeconds)>,
}

/// Senders whose JSON a [`JsonLines`] keeps; items of other senders are
/// serialized in full.
const MAX_SENDERS: usize = 256;

/// The buffered lines a [`JsonLines`] writes to its output at once.
const FLUSH_AT: usize = 1 << 18;

/// The JSON of a sender and of the recipients it last came with.
struct SenderJson<'i> {
    sender: Option<Participant<'i>>,
    recipients: Vec<Participant<'i>>,
    json: PartiesJson,
}

/// The JSON of an item's sender and of its recipients.
struct PartiesJson {
    sender: String,
    recipients: String,
}

impl PartiesJson {
    fn of(item: &Item<'_>) -> sonic_rs::Result<Self> {
        Ok(PartiesJson {
            sender: sonic_rs::to_string(&item.sender)?,
            recipients: sonic_rs::to_string(&item.recipients)?,
        })
    }
}

impl<'i, W: Write> JsonLines<'i, W> {
    /// A writer to `out`; it buffers the lines itself.
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            buf: Vec::with_capacity(FLUSH_AT + (FLUSH_AT >> 2)),
            custodian: None,
            conversation: None,
            senders: Vec::new(),
            lent: None,
            day: None,
        }
    }

    /// Writes one item and a line break.
    pub fn write(&mut self, item: &Item<'i>) -> std::io::Result<()> {
        let sender = sender_json(&mut self.senders, item)?.map(|known| &known.json);
        Self::write_line(
            &mut self.buf,
            &mut self.custodian,
            &mut self.conversation,
            &mut self.day,
            item,
            sender,
        )?;
        self.flush_full()
    }

    /// Writes one lent item and a line break, as [`JsonLines::write`]; the
    /// JSON of its sender and recipients is made once per [`Parties`].
    pub fn write_lent(&mut self, lent: &Lent<'_, 'i>) -> std::io::Result<()> {
        let Parties { source, slot } = lent.parties;
        let (known, slots) = self.lent.get_or_insert_with(|| (source, Vec::new()));
        if *known != source {
            *known = source;
            slots.clear();
        }
        let slot = slot as usize;
        let sender = match slot < MAX_SENDERS {
            true => {
                if slots.len() <= slot {
                    slots.resize_with(slot + 1, || None);
                }
                let json = &mut slots[slot];
                if json.is_none() {
                    *json = Some(PartiesJson::of(lent.item)?);
                }
                json.as_ref()
            }
            false => None,
        };
        Self::write_line(
            &mut self.buf,
            &mut self.custodian,
            &mut self.conversation,
            &mut self.day,
            lent.item,
            sender,
        )?;
        self.flush_full()
    }

    /// Writes the buffered lines to the output once there are enough.
    fn flush_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Appends the item's line to `line`; `parties` is the JSON of its
    /// sender and recipients, when known.
    fn write_line(
        line: &mut Vec<u8>,
        custodian_json: &mut Option<(Cow<'i, str>, String)>,
        conversation: &mut Option<(Conversation<'i>, String)>,
        day: &mut Option<(NaiveDate, WholeSeconds)>,
        item: &Item<'i>,
        parties: Option<&PartiesJson>,
    ) -> std::io::Result<()> {
        let conversation = conversation_json(conversation, &item.conversation)?;
        let timestamp = timestamp_text(day, &item.timestamp);
        line.extend_from_slice(b"{\"id\":");
        put_ascii(line, &item.id.to_hex().0);
        line.extend_from_slice(b",\"source\":");
        put_ascii(line, item.source.as_str().as_bytes());
        line.extend_from_slice(b",\"kind\":");
        put_ascii(line, item.kind.as_str().as_bytes());
        line.extend_from_slice(b",\"timestamp\":");
        match timestamp {
            Some(digits) => put_ascii(line, &digits.0),
            None => put(line, &item.timestamp)?,
        }
        if let Some(custodian) = &item.custodian {
            if !custodian_json
                .as_ref()
                .is_some_and(|(known, _)| same_str(known, custodian))
            {
                *custodian_json = Some((custodian.clone(), sonic_rs::to_string(custodian)?));
            }
            let (_, json) = custodian_json.as_ref().expect("just set");
            line.extend_from_slice(b",\"custodian\":");
            line.extend_from_slice(json.as_bytes());
        }
        line.extend_from_slice(b",\"conversation\":");
        line.extend_from_slice(conversation.as_bytes());
        line.extend_from_slice(b",\"sender\":");
        match parties {
            Some(parties) => {
                line.extend_from_slice(parties.sender.as_bytes());
                line.extend_from_slice(b",\"recipients\":");
                line.extend_from_slice(parties.recipients.as_bytes());
            }
            None => {
                put(line, &item.sender)?;
                line.extend_from_slice(b",\"recipients\":");
                put(line, &item.recipients)?;
            }
        }
        line.extend_from_slice(b",\"text\":");
        let text_at = line.len();
        put(line, &item.text)?;
        let text_json = text_at..line.len();
        line.extend_from_slice(b",\"attachments\":");
        match item.attachments.is_empty() {
            true => line.extend_from_slice(b"[]"),
            false => put(line, &item.attachments)?,
        }
        line.extend_from_slice(match item.edited {
            true => b",\"edited\":true",
            false => b",\"edited\":false",
        });
        if let Some(call) = &item.call {
            line.extend_from_slice(b",\"call\":");
            put(line, call)?;
        }
        line.extend_from_slice(b",\"refers_to\":");
        match &item.refers_to {
            Some(id) => put_ascii(line, &id.to_hex().0),
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"raw\":");
        match &item.raw {
            Raw::Text(raw) => match item.text.as_deref().and_then(|text| head_of(raw, text)) {
                // JSON escapes character by character: the raw text's string
                // is its head's, then the text's (already in the line).
                Some(head) => {
                    put(line, head)?;
                    line.pop();
                    line.extend_from_within(text_json.start + 1..text_json.end);
                }
                None => put(line, raw)?,
            },
            Raw::Json(json) => line.extend_from_slice(json.get().as_bytes()),
        }
        line.extend_from_slice(b"}\n");
        Ok(())
    }

    /// Writes the buffered lines, flushes and returns the output.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The text of a whole-second timestamp (see [`Timestamp::whole_seconds`]),
/// made from the last one's when it is of the same day.
fn timestamp_text(
    last: &mut Option<(NaiveDate, WholeSeconds)>,
    timestamp: &Timestamp,
) -> Option<WholeSeconds> {
    let utc = timestamp.0.naive_utc();
    let (date, time) = (utc.date(), utc.time());
    match last {
        Some((day, text)) if *day == date && time.nanosecond() == 0 => {
            text.set_time(time);
            Some(*text)
        }
        _ => {
            let text = timestamp.whole_seconds()?;
            *last = Some((date, text));
            Some(text)
        }
    }
}

/// What comes before `text` in `raw` when `text` is the end of `raw`
/// itself (the same bytes in memory, as a message's text usually is).
fn head_of<'r>(raw: &'r str, text: &str) -> Option<&'r str> {
    let offset = (text.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    match offset.checked_add(text.len()) {
        Some(end) if end == raw.len() => raw.get(..offset),
        _ => None,
    }
}

/// Appends `value`'s JSON.
fn put<T: Serialize + ?Sized>(line: &mut Vec<u8>, value: &T) -> sonic_rs::Result<()> {
    value.serialize(&mut sonic_rs::Serializer::new(line))
}

/// Appends `text`, which has nothing JSON escapes, as a JSON string.
fn put_ascii(line: &mut Vec<u8>, text: &[u8]) {
    debug_assert!(text.iter().all(|&b| b > 0x1f && b != b'"' && b != b'\\'));
    line.push(b'"');
    line.extend_from_slice(text);
    line.push(b'"');
}

/// The JSON of `conversation`, made again only when it is not the last one.
fn conversation_json<'c, 'i>(
    last: &'c mut Option<(Conversation<'i>, String)>,
    conversation: &Conversation<'i>,
) -> sonic_rs::Result<&'c str> {
    let same = last
        .as_ref()
        .is_some_and(|(known, _)| same_conversation(known, conversation));
    if !same {
        *last = Some((conversation.clone(), sonic_rs::to_string(conversation)?));
    }
    Ok(&last.as_ref().expect("just set").1)
}

/// The JSON of the item's sender and recipients, when the sender is known
/// or there is room to remember it.
fn sender_json<'c, 'i>(
    senders: &'c mut Vec<SenderJson<'i>>,
    item: &Item<'i>,
) -> sonic_rs::Result<Option<&'c SenderJson<'i>>> {
    let index = match senders
        .iter()
        .position(|known| same_sender(&known.sender, &item.sender))
    {
        Some(index) => index,
        None if senders.len() < MAX_SENDERS => {
            senders.push(SenderJson {
                sender: item.sender.clone(),
                recipients: item.recipients.clone(),
                json: PartiesJson::of(item)?,
            });
            return Ok(senders.last());
        }
        None => return Ok(None),
    };
    let known = &mut senders[index];
    if !same_participants(&known.recipients, &item.recipients) {
        known.recipients.clone_from(&item.recipients);
        known.json.recipients = sonic_rs::to_string(&item.recipients)?;
    }
    Ok(Some(known))
}

/// `a == b` for conversations.
fn same_conversation(a: &Conversation<'_>, b: &Conversation<'_>) -> bool {
    a.kind == b.kind && same_str(&a.id, &b.id) && same_text(&a.title, &b.title)
}

/// `a == b` for senders.
fn same_sender(a: &Option<Participant<'_>>, b: &Option<Participant<'_>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_participant(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// `a == b` for lists of participants.
fn same_participants(a: &[Participant<'_>], b: &[Participant<'_>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_participant(a, b))
}

/// `a == b` for participants.
fn same_participant(a: &Participant<'_>, b: &Participant<'_>) -> bool {
    same_text(&a.id, &b.id)
        && same_text(&a.name, &b.name)
        && same_text(&a.phone, &b.phone)
        && same_text(&a.email, &b.email)
}

/// `a == b` for optional strings.
fn same_text(a: &Option<Cow<'_, str>>, b: &Option<Cow<'_, str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_str(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// `a == b`, without reading the bytes when both are the same slice (parts
/// of items of one chat usually borrow the same strings).
fn same_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Item<'static> {
        Item {
            id: ItemId::derive(&[b"a", b"b"]),
            source: SourceKind::WhatsappExport,
            kind: ItemKind::Message,
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

    /// Items whose conversation, sender or recipients change, and more
    /// senders than the writer remembers.
    fn varied_items() -> Vec<Item<'static>> {
        let person = |n: usize| Participant {
            id: Some(format!("p{n}").into()),
            name: Some(format!("Person \"{n}\"").into()),
            ..Default::default()
        };
        let mut items = Vec::new();
        for n in 0..MAX_SENDERS + 20 {
            let mut item = sample();
            item.sender = (n % 7 != 0).then(|| person(n % (MAX_SENDERS + 10)));
            item.recipients = (0..n % 4).map(|r| person(r + n % 3)).collect();
            if n % 5 == 0 {
                item.conversation.id = format!("c{}", n / 50).into();
            }
            item.text = Some(format!("text {n}").into());
            match n % 6 {
                1 => {
                    item.raw = Raw::Json(
                        RawValue::from_string(format!(
                            r#"{{"msgid": "m{n}", "list": [1, 2.50, null, "\u00e9\n"]}}"#
                        ))
                        .unwrap(),
                    )
                }
                2 => {
                    item.kind = ItemKind::Call;
                    item.call = Some(Call {
                        video: n % 4 == 0,
                        missed: true,
                        duration_secs: Some(n as u64 * 61),
                    });
                    item.refers_to = Some(ItemId::derive(&[format!("{n}").as_bytes()]));
                }
                3 => item.attachments.push(Attachment {
                    name: format!("IMG-{n} \"x\".jpg").into(),
                    content_type: "image/jpeg".into(),
                    size: Some(n as u64 * 1000),
                    sha256: Some("ab".repeat(32)),
                    object_key: Some(format!("media/{n}")),
                    omitted: false,
                }),
                4 => item.custodian = None,
                0 => {
                    let whole = Utc.timestamp_opt(1_767_000_000 + n as i64 * 997, 0);
                    item.timestamp = Timestamp(whole.unwrap());
                }
                _ => {
                    let fraction = Utc.timestamp_opt(1_767_043_800 + n as i64, 120_000_000);
                    item.timestamp = Timestamp(fraction.unwrap());
                }
            }
            items.push(item);
        }
        items
    }

    /// Strings with every ASCII character and some others, in lengths that
    /// start and end everywhere in a 32-byte SIMD lane.
    fn escape_samples() -> Vec<String> {
        let ascii: String = (0u8..=0x7f).map(char::from).collect();
        let other = "é€😀\u{2028}\u{2029}\u{feff}\u{200e}";
        let mut samples = vec![String::new(), ascii.clone(), other.to_owned()];
        for len in 0..70 {
            for special in ["\"", "\\", "\n", "\r\n", "\u{1}", "\u{1f}", "\u{7f}", "/"] {
                let mut text = "a".repeat(len);
                text.push_str(special);
                samples.push(text.clone());
                samples.push(format!("{special}{text}{other}{ascii}"));
            }
        }
        samples
    }

    /// Writes the items with [`JsonLines`] and with serde_json; the two must
    /// be byte-identical.
    fn assert_written_as_serde_json_writes(items: &[Item<'_>]) {
        let mut lines = JsonLines::new(Vec::new());
        let mut expected = Vec::new();
        for item in items {
            lines.write(item).unwrap();
            serde_json::to_writer(&mut expected, item).unwrap();
            expected.push(b'\n');
        }
        let written = String::from_utf8(lines.into_inner().unwrap()).unwrap();
        assert_eq!(written, String::from_utf8(expected).unwrap());
    }

    #[test]
    fn json_lines_write_what_serde_json_writes() {
        let items = varied_items();
        let twice: Vec<Item> = items.iter().chain(&items).cloned().collect();
        assert_written_as_serde_json_writes(&twice);
    }

    #[test]
    fn json_lines_escape_strings_as_serde_json_does() {
        let samples = escape_samples();
        let mut items = Vec::new();
        for (n, text) in samples.iter().enumerate() {
            let mut item = sample();
            item.text = Some(text.as_str().into());
            item.raw = Raw::Text(text.as_str().into());
            item.custodian = Some(text.as_str().into());
            item.sender = Some(Participant {
                name: Some(text.as_str().into()),
                ..Default::default()
            });
            item.conversation.title = Some(samples[n / 2].as_str().into());
            items.push(item);
        }
        assert_written_as_serde_json_writes(&items);
    }

    #[test]
    fn json_lines_write_texts_that_end_the_raw_text_as_serde_json_does() {
        let samples = escape_samples();
        let raws: Vec<String> = samples
            .iter()
            .enumerate()
            .map(|(n, text)| format!("{}: {text}", samples[n / 3]))
            .collect();
        let mut items = Vec::new();
        for (raw, text) in raws.iter().zip(&samples) {
            let mut item = sample();
            item.text = Some(raw[raw.len() - text.len()..].into());
            item.raw = Raw::Text(raw.as_str().into());
            items.push(item.clone());
            // The same bytes elsewhere, and a text that stops short of the end.
            item.text = Some(text.as_str().into());
            items.push(item.clone());
            item.text = raw.get(..raw.len().saturating_sub(1)).map(Cow::Borrowed);
            items.push(item);
        }
        assert_written_as_serde_json_writes(&items);
    }

    #[test]
    fn id_inputs_give_the_ids_of_one_part() {
        let mut input = IdInput::with_capacity(4);
        let bytes: Vec<u8> = (0..300u32).map(|n| (n * 7) as u8).collect();
        for len in 0..bytes.len() {
            input.clear();
            let (a, b) = bytes[..len].split_at(len / 3);
            input.extend(a);
            input.extend(b);
            assert_eq!(input.id(), ItemId::derive(&[&bytes[..len]]), "{len} bytes");
        }
    }

    #[test]
    fn ids_are_length_prefixed_and_parse_back() {
        let a = ItemId::derive(&[b"ab", b"c"]);
        let b = ItemId::derive(&[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_eq!(ItemId::parse(&a.to_string()), Some(a));
        assert_eq!(ItemId::parse("zz"), None);
    }
}
