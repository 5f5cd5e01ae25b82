//! The subject line.

use std::fmt::Write;

use super::sanitize::header_text;
use super::thread::topic;
use crate::item::{Call, ConversationKind, Item, ItemKind, Network};

/// The subject of an item's message, e.g. `WhatsApp message from Alice to
/// Bob`, `WeChat call with Li, Wang, 3 min 5 s`,
/// `DELETED – WhatsApp message from Alice to Bob`. Free of control
/// characters.
pub fn subject(item: &Item<'_>) -> String {
    let mut out = String::with_capacity(96);
    push_prefixes(&mut out, item);
    if item.kind == ItemKind::Call && item.source.network() == Network::WeChat {
        push_wechat_call(&mut out, item);
        return out;
    }
    out.push_str(item.source.network().as_str());
    out.push(' ');
    let sender = item.sender.as_ref().map(|s| header_text(s.label()));
    match (item.conversation.kind, &sender) {
        (ConversationKind::Direct, Some(_)) => {}
        (ConversationKind::Direct, None) => push_place(&mut out, "chat", item),
        (ConversationKind::Group, _) => push_place(&mut out, "group", item),
    }
    out.push_str(noun(item.kind));
    if let Some(sender) = sender {
        out.push_str(" from ");
        out.push_str(&sender);
        if item.conversation.kind == ConversationKind::Direct {
            push_recipients(&mut out, item);
        }
    }
    if let Some(call) = item.call.filter(|_| item.kind == ItemKind::Call) {
        push_call(&mut out, call);
    }
    out
}

/// `WeChat call with Zhang San, Li Si, 5 min 12 s`, as WeChat words it
/// (`WeChat group "项目组": call with …` in a group; `video call`,
/// `missed` when so).
fn push_wechat_call(out: &mut String, item: &Item<'_>) {
    out.push_str("WeChat ");
    if item.conversation.kind == ConversationKind::Group {
        push_place(out, "group", item);
    }
    let call = item.call.unwrap_or(Call {
        video: false,
        missed: false,
        duration_secs: None,
    });
    out.push_str(if call.video { "video call" } else { "call" });
    let mut labels: Vec<_> = Vec::new();
    for party in item.participants() {
        let label = header_text(party.label());
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    for (i, label) in labels.iter().enumerate() {
        out.push_str(if i == 0 { " with " } else { ", " });
        out.push_str(label);
    }
    if call.missed {
        out.push_str(", missed");
    } else if let Some(secs) = call.duration_secs {
        let _ = write!(out, ", {}", spoken_duration(secs));
    }
}

/// `5 min 12 s`, `1 h 2 min 3 s`, `45 s`.
fn spoken_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min {s} s"),
        (h, m) => format!("{h} h {m} min {s} s"),
    }
}

/// `DELETED – `, `RECALLED – ` and `EDITED – ` (an edit, or a message the
/// source marks as edited).
fn push_prefixes(out: &mut String, item: &Item<'_>) {
    match item.kind {
        ItemKind::Delete => out.push_str("DELETED – "),
        ItemKind::Recall => out.push_str("RECALLED – "),
        _ => {}
    }
    if item.kind == ItemKind::Edit || item.edited {
        out.push_str("EDITED – ");
    }
}

/// `group "<topic>": ` or `chat "<topic>": `.
fn push_place(out: &mut String, place: &str, item: &Item<'_>) {
    let _ = write!(out, "{place} \"{}\": ", topic(item));
}

fn noun(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Message | ItemKind::Edit | ItemKind::Delete | ItemKind::Recall => "message",
        ItemKind::Call => "call",
        ItemKind::System => "system message",
        ItemKind::Reaction => "reaction",
    }
}

/// ` to A, B` when the item has recipients.
fn push_recipients(out: &mut String, item: &Item<'_>) {
    for (i, recipient) in item.recipients.iter().enumerate() {
        out.push_str(if i == 0 { " to " } else { ", " });
        out.push_str(&header_text(recipient.label()));
    }
}

/// ` (video call, missed)`, ` (3:05)`; nothing for a voice call with no
/// known length.
fn push_call(out: &mut String, call: Call) {
    let details = call_details(call);
    if !details.is_empty() {
        let _ = write!(out, " ({details})");
    }
}

/// `video call`, `missed` and the length (when not missed), comma-separated.
pub(super) fn call_details(call: Call) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(2);
    if call.video {
        parts.push("video call".to_owned());
    }
    if call.missed {
        parts.push("missed".to_owned());
    } else if let Some(secs) = call.duration_secs {
        parts.push(duration(secs));
    }
    parts.join(", ")
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub(super) fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_durations_are_spoken() {
        assert_eq!(spoken_duration(45), "45 s");
        assert_eq!(spoken_duration(312), "5 min 12 s");
        assert_eq!(spoken_duration(3723), "1 h 2 min 3 s");
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(185), "3:05");
        assert_eq!(duration(3600 + 62), "1:01:02");
    }

    #[test]
    fn call_details_name_video_missed_and_length() {
        let call = |video, missed, duration_secs| Call {
            video,
            missed,
            duration_secs,
        };
        assert_eq!(
            call_details(call(true, false, Some(185))),
            "video call, 3:05"
        );
        assert_eq!(call_details(call(false, true, Some(185))), "missed");
        assert_eq!(call_details(call(true, true, None)), "video call, missed");
        assert_eq!(call_details(call(false, false, None)), "");
    }
}
