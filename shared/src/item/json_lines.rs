//! JSON lines of items, written fast: `raw/` batches and `archiver inspect`
//! hold millions of items, and writing them is a fifth of an export's
//! conversion time.
//!
//! The invariant: [`JsonLines`] writes exactly what `serde_json` writes for
//! an [`Item`] (`serde_json::to_writer`, then a line break), byte for byte,
//! for every item. It writes a fixed shape, the fields in the order of
//! `Item`'s `Serialize`, so any change to the item's JSON form is made in
//! both places; the tests here write varied items both ways and compare.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{NaiveDate, Timelike};
use serde::Serialize;

use super::{Conversation, Item, Participant, Raw, Timestamp, WholeSeconds};

/// An item lent by a source that builds its items one after another, with
/// the identity of its sender and recipients: lent items with the same
/// `Parties` have equal senders and equal lists of recipients.
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
    /// JSON of its sender and recipients is made once per `Parties`.
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
        if let Some(source_type) = &item.source_type {
            line.extend_from_slice(b",\"source_type\":");
            put(line, source_type)?;
        }
        if item.unrecognised {
            line.extend_from_slice(b",\"unrecognised\":true");
        }
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
    use chrono::{TimeZone, Utc};
    use serde_json::value::RawValue;

    use super::*;
    use crate::item::tests::sample;
    use crate::item::{Attachment, Call, ItemId, ItemKind};

    /// Items whose conversation, sender or recipients change, and more
    /// senders than the writer remembers; some with a source type, some
    /// unrecognised.
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
            match n % 4 {
                1 => item.source_type = Some(format!("type \"{n}\"\u{e9}\n").into()),
                2 => {
                    item.source_type = Some("hologram".into());
                    item.unrecognised = true;
                }
                // Unrecognised without a name for the type.
                3 => item.unrecognised = n % 3 == 0,
                _ => {}
            }
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
            item.source_type = Some(samples[n / 3].as_str().into());
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
}
