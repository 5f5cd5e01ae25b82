//! A webhook body read into items: one per message object (customers'
//! messages, the business app's echoes, history), one per call event; the
//! delivery statuses and errors it reports go to the run report, not into
//! mailboxes.
//!
//! Routing is on `entry[].changes[].field` (sources-deep.md B.1): the
//! business number (`metadata.display_phone_number`) is the employee side
//! of every item, its custodian and what the mapping CSV maps; it is the
//! sender of echoes (`smb_message_echoes`), of history messages that name
//! a recipient (`to`), and of business-initiated calls.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use serde_json::value::RawValue;

use super::contacts::ContactBook;
use super::contacts::digits;
use super::content::{Content, Fetched, epoch_seconds, message_item_id};
use super::payload::{Body, Changed};
use super::people::{Business, Customer};
use crate::item::{
    Call, Conversation, ConversationKind, Item, ItemId, ItemKind, Raw, SourceKind, Timestamp,
};

/// What a body held besides its items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// The items, one per message object or call event, in body order.
    pub items: Vec<Item<'static>>,
    /// Which items came from history chunks (same order as `items`): a
    /// live copy of the same wamid is preferred to them.
    pub from_history: Vec<bool>,
    /// Delivery statuses: the UTC day, the status, and for a failure its
    /// errors (`code title`).
    pub statuses: Vec<StatusSeen>,
    /// What the report should say (errors reported by Meta, messages
    /// without a time): names and codes, never content.
    pub notes: Vec<String>,
}

/// One delivery status of a message the business sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSeen {
    /// The UTC day of the status.
    pub day: NaiveDate,
    /// `sent`, `delivered`, `read`, `played`, `failed`, …
    pub status: String,
    /// The message it is about.
    pub wamid: String,
    /// For a failure: its errors, `code (title)`.
    pub errors: Vec<String>,
}

/// The webhook fields read into items or counts (sources-deep.md B.1,
/// B.7; `calls` of the Business Calling API).
const FIELDS: [&str; 5] = [
    "messages",
    "smb_message_echoes",
    "history",
    "smb_app_state_sync",
    "calls",
];

/// Where a message object was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin<'t> {
    /// `messages`: from a customer.
    Customer,
    /// `message_echoes`: from the business app.
    Echo,
    /// A history chunk's thread (the customer's phone, if given).
    History(Option<&'t str>),
}

/// Reads a parsed body. `fallback` is the time given to a message without
/// a readable `timestamp` (the body's receipt); `media` finds what the media
/// step recorded of a media id.
pub(crate) fn read_body(
    body: &Body,
    book: &ContactBook,
    media: &dyn Fn(&str) -> Option<Fetched>,
    fallback: DateTime<Utc>,
) -> Reading {
    let mut reading = Reading::default();
    for change in body.entry.iter().flat_map(|e| &e.changes) {
        if let Some(reason) = &change.refused {
            reading.notes.push(format!(
                "a change of webhook field {:?} could not be read and was skipped ({reason}); the body is kept",
                change.field
            ));
            continue;
        }
        if !FIELDS.contains(&change.field.as_str()) {
            reading.notes.push(format!(
                "webhook field {:?} is not read into items (the body is kept)",
                change.field
            ));
        }
        let value = &change.value;
        let business = Business::of(value.metadata.as_ref());
        let change = Change {
            value,
            business: &business,
            book,
            media,
            fallback,
        };
        for message in &value.messages {
            change.message(message, Origin::Customer, &mut reading);
        }
        for message in &value.message_echoes {
            change.message(message, Origin::Echo, &mut reading);
        }
        for chunk in &value.history {
            for thread in &chunk.threads {
                for message in &thread.messages {
                    change.message(message, Origin::History(thread.id.as_deref()), &mut reading);
                }
            }
            for error in &chunk.errors {
                reading.notes.push(format!(
                    "history for business number {} not shared: {}",
                    business.key,
                    error_text(error)
                ));
            }
        }
        for call in &value.calls {
            change.call(call, &mut reading);
        }
        for status in &value.statuses {
            reading.statuses.push(status_seen(status, fallback));
        }
        for error in &value.errors {
            reading.notes.push(format!(
                "error reported for business number {}: {}",
                business.key,
                error_text(error)
            ));
        }
    }
    reading
}

/// `code (title)` of an error object.
fn error_text(error: &Value) -> String {
    let code = error
        .get("code")
        .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    match error.get("title").and_then(Value::as_str) {
        Some(title) => format!("{code} ({title})"),
        None => code,
    }
}

fn status_seen(status: &Value, fallback: DateTime<Utc>) -> StatusSeen {
    let time = status
        .get("timestamp")
        .and_then(epoch_seconds)
        .and_then(|s| DateTime::from_timestamp(i64::try_from(s).ok()?, 0))
        .unwrap_or(fallback);
    StatusSeen {
        day: time.date_naive(),
        status: status
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        wamid: status
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        errors: status
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(error_text)
            .collect(),
    }
}

/// One change being read.
struct Change<'c> {
    value: &'c Changed,
    business: &'c Business,
    book: &'c ContactBook,
    media: &'c dyn Fn(&str) -> Option<Fetched>,
    fallback: DateTime<Utc>,
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Change<'_> {
    fn time(&self, value: &Value, what: &str, reading: &mut Reading) -> Timestamp {
        let time = value
            .get("timestamp")
            .and_then(epoch_seconds)
            .and_then(|s| DateTime::from_timestamp(i64::try_from(s).ok()?, 0));
        Timestamp(time.unwrap_or_else(|| {
            reading.notes.push(format!(
                "{what}: no readable timestamp; filed at the time the body was received"
            ));
            self.fallback
        }))
    }

    /// The conversation with a customer, or the group.
    fn conversation(&self, message: &Value, customer: &Customer) -> Conversation<'static> {
        match text(message, "group_id") {
            Some(group) => Conversation {
                id: format!("whatsapp-cloud:group:{group}").into(),
                kind: ConversationKind::Group,
                title: None,
            },
            None => Conversation {
                id: format!("whatsapp-cloud:{}:{}", self.business.key, customer.key()).into(),
                kind: ConversationKind::Direct,
                title: None,
            },
        }
    }

    fn message(&self, raw: &RawValue, origin: Origin<'_>, reading: &mut Reading) {
        let message: Value = match serde_json::from_str(raw.get()) {
            Ok(message) => message,
            // The body parsed, so its parts do: kept for the record anyway.
            Err(_) => Value::Null,
        };
        let wamid = text(&message, "id");
        let id = match wamid {
            Some(wamid) => message_item_id(wamid),
            None => ItemId::derive(&[
                b"whatsapp-cloud message without id",
                canonical(&message).as_bytes(),
            ]),
        };
        let what = format!("message {}", wamid.unwrap_or("without id"));
        let from_business = match origin {
            Origin::Customer => false,
            Origin::Echo => true,
            Origin::History(_) => {
                message.get("to").is_some()
                    || text(&message, "from").map(digits).as_deref() == Some(&self.business.key)
            }
        };
        let (phone, user_id) = match (origin, from_business) {
            (Origin::History(thread), _) => (thread.or(text(&message, "to")), None),
            (_, true) => (text(&message, "to"), text(&message, "to_user_id")),
            (_, false) => (text(&message, "from"), text(&message, "from_user_id")),
        };
        let customer = Customer::find(phone, user_id, &self.value.contacts);
        let content = Content::of(&message).with_media(self.media);
        let customer_party = customer.participant(self.book);
        let business_party = self.business.participant.clone();
        let (sender, recipients) = match (content.kind, from_business) {
            (ItemKind::System, _) => (None, vec![business_party]),
            (_, true) => (Some(business_party), vec![customer_party]),
            (_, false) => (Some(customer_party), vec![business_party]),
        };
        let timestamp = self.time(&message, &what, reading);
        reading.items.push(Item {
            id,
            source: SourceKind::WhatsappCloud,
            kind: content.kind,
            source_type: text(&message, "type").map(|t| t.to_owned().into()),
            unrecognised: content.unrecognised,
            timestamp,
            custodian: self.custodian(),
            conversation: self.conversation(&message, &customer),
            sender,
            recipients,
            text: content.text.map(Into::into),
            attachments: content.attachments,
            edited: false,
            call: None,
            refers_to: content.refers_to,
            raw: Raw::Json(compact(raw)),
        });
        reading
            .from_history
            .push(matches!(origin, Origin::History(_)));
    }

    fn custodian(&self) -> Option<std::borrow::Cow<'static, str>> {
        let business = &self.business.participant;
        business.phone.clone().or_else(|| business.id.clone())
    }

    /// A Business Calling API event (`connect`, `terminate`) as a call item.
    fn call(&self, raw: &RawValue, reading: &mut Reading) {
        let call: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        let call_id = text(&call, "id");
        let event = text(&call, "event").unwrap_or("unknown");
        // A call event without an id is known by its content (whitespace
        // and key order aside), as a message without one is: two such
        // calls are two items, a redelivery of one is one.
        let id = match call_id {
            Some(call_id) => {
                ItemId::derive(&[b"whatsapp-cloud call", call_id.as_bytes(), event.as_bytes()])
            }
            None => ItemId::derive(&[
                b"whatsapp-cloud call without id",
                canonical(&call).as_bytes(),
            ]),
        };
        let call_id = call_id.unwrap_or("without id");
        let by_business =
            text(&call, "direction").is_some_and(|d| d.eq_ignore_ascii_case("BUSINESS_INITIATED"));
        let (phone, user_id) = if by_business {
            (text(&call, "to"), text(&call, "to_user_id"))
        } else {
            (text(&call, "from"), text(&call, "from_user_id"))
        };
        let customer = Customer::find(phone, user_id, &self.value.contacts);
        let status = text(&call, "status");
        let completed = status.is_some_and(|s| s.eq_ignore_ascii_case("completed"));
        let duration_secs = call.get("duration").and_then(epoch_seconds);
        let (missed, line) = match event {
            "connect" => (false, "Call started".to_owned()),
            "terminate" => (
                !completed,
                format!("Call ended ({})", status.unwrap_or("status not given")),
            ),
            other => (false, format!("Call event {other}")),
        };
        let customer_party = customer.participant(self.book);
        let business_party = self.business.participant.clone();
        let (sender, recipient) = if by_business {
            (business_party, customer_party)
        } else {
            (customer_party, business_party)
        };
        let timestamp = self.time(&call, &format!("call {call_id}"), reading);
        reading.items.push(Item {
            id,
            source: SourceKind::WhatsappCloud,
            kind: ItemKind::Call,
            source_type: Some("call".into()),
            unrecognised: false,
            timestamp,
            custodian: self.custodian(),
            conversation: self.conversation(&call, &customer),
            sender: Some(sender),
            recipients: vec![recipient],
            text: Some(line.into()),
            attachments: Vec::new(),
            edited: false,
            call: Some(Call {
                video: false,
                missed,
                duration_secs: if event == "terminate" {
                    duration_secs
                } else {
                    None
                },
            }),
            refers_to: None,
            raw: Raw::Json(compact(raw)),
        });
        reading.from_history.push(false);
    }
}

/// A JSON value written with its object keys sorted and no whitespace: the
/// same content gives the same text however it was serialised.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(values) => {
            let values: Vec<String> = values.iter().map(canonical).collect();
            format!("[{}]", values.join(","))
        }
        other => other.to_string(),
    }
}

/// A message object as received, without the whitespace between its
/// tokens: a raw batch holds one item per line, and a body may be
/// pretty-printed. Strings, keys and their order are kept as they are.
fn compact(raw: &RawValue) -> Box<RawValue> {
    let json = raw.get();
    if !json.contains(['\n', '\r']) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    RawValue::from_string(out).unwrap_or_else(|_| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_objects_lose_whitespace_between_tokens_only() {
        let raw = RawValue::from_string("{\n  \"b\": \"a \\\" b\",\n  \"a\": [1, 2]\n}".to_owned())
            .unwrap();
        assert_eq!(compact(&raw).get(), r#"{"b":"a \" b","a":[1,2]}"#);
    }
}
