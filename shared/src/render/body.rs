//! The text/plain and text/html bodies: a summary block (time,
//! conversation, parties, kind, call, notes, attachments), then the text.

use std::borrow::Cow;

use super::address::{Parties, Party};
use super::attachment::File;
use super::message_id::message_id;
use super::rows::push_plain_row;
use super::sanitize::{body_text, push_html};
use super::subject::call_details;
use super::{thread, unrecognised};
use crate::item::{ConversationKind, Item, ItemKind};

/// The two renderings of an item's body.
#[derive(Debug)]
pub(super) struct Body {
    /// The text/plain body.
    pub plain: String,
    /// The text/html body.
    pub html: String,
}

/// One line of the summary block; values are single-line and sanitized.
type Row = (&'static str, Cow<'static, str>);

impl Body {
    /// Renders both bodies of `item`.
    pub(super) fn new(item: &Item<'_>, parties: &Parties<'_>, files: &[File<'_>]) -> Self {
        let rows = summary(item, parties, files);
        let text = item.text.as_deref().map(body_text);
        Body {
            plain: plain(&rows, text.as_deref()),
            html: html(&rows, text.as_deref()),
        }
    }
}

fn summary(item: &Item<'_>, parties: &Parties<'_>, files: &[File<'_>]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::with_capacity(8 + files.len());
    let time = item.timestamp.0.format("%Y-%m-%d %H:%M:%S UTC");
    rows.push(("Time", Cow::Owned(time.to_string())));
    rows.push(("Conversation", Cow::Owned(conversation(item))));
    rows.push(("From", party(&parties.from)));
    rows.extend(parties.to.iter().map(|to| ("To", party(to))));
    rows.push(("Kind", Cow::Borrowed(item.kind.as_str())));
    if let Some(call) = item.call.filter(|_| item.kind == ItemKind::Call) {
        let details = call_details(call);
        rows.push((
            "Call",
            Cow::Owned(if details.is_empty() {
                "voice call".to_owned()
            } else {
                details
            }),
        ));
    }
    rows.extend(notes(item).map(|note| ("Note", Cow::Borrowed(note))));
    rows.extend(unrecognised::note(item).map(|note| ("Note", Cow::Owned(note))));
    if let Some(original) = &item.refers_to {
        rows.push((
            "Refers to",
            Cow::Owned(format!("<{}>", message_id(original))),
        ));
    }
    for file in files {
        rows.push(("Attachment", Cow::Owned(file.summary(item.source))));
    }
    rows
}

/// `WhatsApp group "Sales"` / `WeChat chat "Li, Wang"`.
fn conversation(item: &Item<'_>) -> String {
    let place = match item.conversation.kind {
        ConversationKind::Direct => "chat",
        ConversationKind::Group => "group",
    };
    format!(
        "{} {place} \"{}\"",
        item.source.network().as_str(),
        thread::topic(item)
    )
}

/// `Name (+E.164) <address>`.
fn party(party: &Party<'_>) -> Cow<'static, str> {
    Cow::Owned(format!("{} <{}>", party.display, party.address))
}

/// What the summary says about deletes, recalls and edits.
fn notes(item: &Item<'_>) -> impl Iterator<Item = &'static str> {
    let kind_note = match item.kind {
        ItemKind::Delete => Some("The sender deleted the message this item refers to."),
        ItemKind::Recall => Some("The sender recalled the message this item refers to."),
        ItemKind::Edit => Some("New version of the message this item refers to."),
        _ => None,
    };
    let edited_note = item
        .edited
        .then_some("The source marks this message as edited.");
    kind_note.into_iter().chain(edited_note)
}

fn plain(rows: &[Row], text: Option<&str>) -> String {
    let mut out = String::with_capacity(256 + text.map_or(0, str::len));
    for (label, value) in rows {
        push_plain_row(&mut out, label, value);
    }
    if let Some(text) = text {
        out.push('\n');
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn html(rows: &[Row], text: Option<&str>) -> String {
    let mut out = String::with_capacity(512 + text.map_or(0, |t| t.len() + t.len() / 8));
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n<table>\n");
    for (label, value) in rows {
        out.push_str("<tr><th align=\"left\">");
        out.push_str(label);
        out.push_str("</th><td>");
        push_html(&mut out, value);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
    if let Some(text) = text {
        out.push_str("<div style=\"white-space: pre-wrap\">");
        push_html(&mut out, text);
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}
