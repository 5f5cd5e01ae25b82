//! The text/plain and text/html bodies.
//!
//! The plain body is the faithful rendering: a summary block (times,
//! conversation, parties, custodian, source, kind, call, notes,
//! attachments), then the message text exactly as the source gave it
//! (line breaks normalised, controls made visible).
//!
//! The HTML body shows the same record as a reviewer reads a chat, in
//! Outlook desktop (whose renderer is Word's), Outlook on the web and
//! Purview's review pane alike: nested tables for the layout, inline
//! `style` attributes only (no `<style>` block, no flexbox or grid, no
//! remote font or image, no script), widths as attributes too. From top to
//! bottom: a banner naming the conversation, a marker for deleted,
//! recalled, edited, call, system, reaction and unrecognised items, the
//! header block, the message as a chat bubble, the attachments (images
//! shown by `cid:`, other files with type and size), a footer with the
//! item id. Every text from the item is HTML-escaped ([`push_html`]); line
//! breaks become `<br>` and runs of spaces `&nbsp;`, as Word ignores
//! `white-space`.

use std::borrow::Cow;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::address::{Parties, Party};
use super::attachment::File;
use super::message_id::message_id;
use super::rows::push_plain_row;
use super::sanitize::{body_text, header_text, push_html};
use super::subject::{call_details, duration};
use super::{thread, unrecognised};
use crate::item::{ConversationKind, Item, ItemKind, Network, SourceKind};

/// The two renderings of an item's body.
#[derive(Debug)]
pub(super) struct Body {
    /// The text/plain body.
    pub plain: String,
    /// The text/html body.
    pub html: String,
}

/// Everything the body shows of an item.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'c> {
    /// The item.
    pub item: &'c Item<'c>,
    /// Its sender and recipients as the headers name them.
    pub parties: &'c Parties<'c>,
    /// Its attachments and what became of each.
    pub files: &'c [File<'c>],
    /// The raw batch it was read from.
    pub raw_object: Option<&'c str>,
    /// The zone times are shown in beside UTC.
    pub time_zone: Tz,
}

/// One line of the summary block; values are single-line and sanitized.
type Row = (&'static str, Cow<'static, str>);

impl Body {
    /// Renders both bodies of an item.
    pub(super) fn new(cx: &Context<'_>) -> Self {
        let text = cx.item.text.as_deref().map(body_text);
        Body {
            plain: plain(&summary(cx), text.as_deref()),
            html: html(cx, text.as_deref()),
        }
    }
}

fn summary(cx: &Context<'_>) -> Vec<Row> {
    let item = cx.item;
    let mut rows: Vec<Row> = Vec::with_capacity(12 + cx.files.len());
    rows.push(("Time", Cow::Owned(utc_time(item))));
    if let Some(local) = local_time(item.timestamp.0, cx.time_zone) {
        rows.push(("Local time", Cow::Owned(local)));
    }
    rows.push(("Conversation", Cow::Owned(conversation(item))));
    rows.push(("From", party(&cx.parties.from)));
    rows.extend(cx.parties.to.iter().map(|to| ("To", party(to))));
    if let Some(custodian) = custodian(item) {
        rows.push(("Custodian", Cow::Owned(custodian)));
    }
    rows.push(("Source", Cow::Owned(source(item.source))));
    if let Some(object) = cx.raw_object {
        rows.push(("Source file", Cow::Owned(header_text(object).into_owned())));
    }
    rows.push(("Kind", Cow::Borrowed(item.kind.as_str())));
    if let Some(call) = call(item) {
        rows.push(("Call", Cow::Owned(call)));
    }
    rows.extend(notes(item).map(|(_, note)| ("Note", Cow::Borrowed(note))));
    rows.extend(unrecognised::note(item).map(|note| ("Note", Cow::Owned(note))));
    if let Some(original) = &item.refers_to {
        rows.push((
            "Refers to",
            Cow::Owned(format!("<{}>", message_id(original))),
        ));
    }
    for file in cx.files {
        rows.push(("Attachment", Cow::Owned(file.summary(item.source))));
    }
    rows
}

/// `2025-12-29 21:30:05 UTC`.
pub(super) fn utc_time(item: &Item<'_>) -> String {
    item.timestamp.0.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `2025-12-29 22:30:05 CET (Europe/Paris)`; `None` in UTC.
pub(super) fn local_time(at: DateTime<Utc>, zone: Tz) -> Option<String> {
    if is_utc(zone) {
        return None;
    }
    let local = at.with_timezone(&zone);
    Some(format!(
        "{} ({})",
        local.format("%Y-%m-%d %H:%M:%S %Z"),
        zone.name()
    ))
}

fn is_utc(zone: Tz) -> bool {
    matches!(zone, Tz::UTC | Tz::Etc__UTC)
}

/// `WhatsApp group "Sales"` / `WeChat chat "Li, Wang"`.
pub(super) fn conversation(item: &Item<'_>) -> String {
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

/// The custodian, single-line; `None` when the source has none.
pub(super) fn custodian(item: &Item<'_>) -> Option<String> {
    item.custodian
        .as_deref()
        .map(|c| header_text(c).into_owned())
        .filter(|c| !c.is_empty())
}

/// `WhatsApp chat export (whatsapp-export)`.
pub(super) fn source(source: SourceKind) -> String {
    let name = match source {
        SourceKind::Wecom => "WeCom session content archive",
        SourceKind::WhatsappCloud => "WhatsApp Business Platform (Cloud API)",
        SourceKind::WhatsappExport => "WhatsApp chat export",
    };
    format!("{name} ({})", source.as_str())
}

/// `video call, 1:02:05`, `voice call` (no details known); `None` for an
/// item that is no call.
fn call(item: &Item<'_>) -> Option<String> {
    let call = item.call.filter(|_| item.kind == ItemKind::Call)?;
    let details = call_details(call);
    Some(if details.is_empty() {
        "voice call".to_owned()
    } else {
        details
    })
}

/// What the summary says about deletes, recalls and edits, each with the
/// HTML body's marker.
fn notes(item: &Item<'_>) -> impl Iterator<Item = (Marker, &'static str)> {
    let kind_note = match item.kind {
        ItemKind::Delete => Some((
            Marker::Deleted,
            "The sender deleted the message this item refers to.",
        )),
        ItemKind::Recall => Some((
            Marker::Recalled,
            "The sender recalled the message this item refers to.",
        )),
        ItemKind::Edit => Some((
            Marker::Edited,
            "New version of the message this item refers to.",
        )),
        _ => None,
    };
    let edited_note = item
        .edited
        .then_some((Marker::Edited, "The source marks this message as edited."));
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

/// The width of the card, in pixels (Outlook desktop takes it from the
/// `width` attribute; browsers let it shrink in a narrow pane).
const CARD_WIDTH: u32 = 640;

/// The width Outlook desktop gives an image shown in the body (it ignores
/// `max-width`); browsers show the image at its size, at most the card's.
const IMAGE_WIDTH: u32 = 480;

/// Spaces a tab stands for in the HTML body.
const TAB_SPACES: usize = 4;

/// The fonts of the card: Outlook's own, then common fallbacks.
const FONTS: &str = "'Segoe UI',Arial,Helvetica,sans-serif";

/// Muted text: labels, captions, the footer.
pub(super) const MUTED: &str = "#5b6472";

/// Lines between the card's sections.
pub(super) const RULE: &str = "#e3e6ea";

/// Colours of one messenger: the banner and the chat bubble.
pub(super) struct Palette {
    /// The banner's background and the sender's name.
    pub accent: &'static str,
    /// The bubble's background.
    bubble: &'static str,
    /// The bubble's border.
    bubble_border: &'static str,
}

pub(super) fn palette(network: Network) -> Palette {
    match network {
        Network::WhatsApp => Palette {
            accent: "#075e54",
            bubble: "#e7f6d9",
            bubble_border: "#c9e6b0",
        },
        Network::WeChat => Palette {
            accent: "#1a7f37",
            bubble: "#eef6ea",
            bubble_border: "#cfe3c6",
        },
    }
}

/// A marker shown above the header block: what kind of record this is,
/// when it is not a plain message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Marker {
    /// A delete of an earlier message.
    Deleted,
    /// A recall of an earlier message.
    Recalled,
    /// An edit, or a message marked edited.
    Edited,
    /// A call.
    Call,
    /// A line of the messenger itself.
    System,
    /// A reaction to an earlier message.
    Reaction,
    /// A type the source did not recognise.
    Unrecognised,
}

impl Marker {
    /// The badge's word, its text colour and its background.
    fn style(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Marker::Deleted => ("DELETED", "#b42318", "#fef3f2"),
            Marker::Recalled => ("RECALLED", "#b42318", "#fef3f2"),
            Marker::Edited => ("EDITED", "#93370d", "#fffaeb"),
            Marker::Call => ("CALL", "#175cd3", "#eff8ff"),
            Marker::System => ("SYSTEM MESSAGE", "#344054", "#f2f4f7"),
            Marker::Reaction => ("REACTION", "#6941c6", "#f4f3ff"),
            Marker::Unrecognised => ("UNRECOGNISED TYPE", "#344054", "#f2f4f7"),
        }
    }
}

/// Every marker of the item, with its note.
pub(super) fn markers(item: &Item<'_>) -> Vec<(Marker, Cow<'static, str>)> {
    let mut out: Vec<(Marker, Cow<'static, str>)> = notes(item)
        .map(|(marker, note)| (marker, Cow::Borrowed(note)))
        .collect();
    match item.kind {
        ItemKind::Call => out.push((Marker::Call, Cow::Owned(call_sentence(item)))),
        ItemKind::System => out.push((
            Marker::System,
            Cow::Borrowed("A line written by the messenger itself, not by a participant."),
        )),
        ItemKind::Reaction => out.push((
            Marker::Reaction,
            Cow::Borrowed("A reaction to the message this item refers to."),
        )),
        _ => {}
    }
    if let Some(note) = unrecognised::note(item) {
        out.push((Marker::Unrecognised, Cow::Owned(note)));
    }
    out
}

/// `video call` as `Video call`.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    out
}

fn html(cx: &Context<'_>, text: Option<&str>) -> String {
    let item = cx.item;
    let colours = palette(item.source.network());
    let mut out = String::with_capacity(6 * 1024 + text.map_or(0, |t| t.len() + t.len() / 4));
    open_card(&mut out);
    html_banner(&mut out, item, &colours);
    for (marker, note) in markers(item) {
        html_marker(&mut out, marker, &note);
    }
    html_details(&mut out, cx);
    html_message(&mut out, cx, text, &colours);
    html_attachments(&mut out, cx);
    close_card(&mut out, &format!("item {}", item.id.to_hex().as_str()));
    out
}

/// The document, the page and the card's table opened: what every HTML
/// body starts with.
pub(super) fn open_card(out: &mut String) {
    out.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n",
    );
    let _ = writeln!(
        out,
        "<body style=\"margin:0;padding:0;background-color:#f0f2f5;\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"background-color:#f0f2f5;\"><tr><td align=\"center\" \
         style=\"padding:16px 8px;\">\n\
         <table role=\"presentation\" width=\"{CARD_WIDTH}\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"width:{CARD_WIDTH}px;max-width:100%;background-color:#ffffff;\
         border:1px solid #d0d5dd;font-family:{FONTS};font-size:14px;line-height:20px;\
         color:#1d2939;text-align:left;\">"
    );
}

/// The footer naming what the card shows (`item <id>`; HTML, escaped by
/// the caller), and the card, page and document closed.
pub(super) fn close_card(out: &mut String, what: &str) {
    let _ = writeln!(
        out,
        "<tr><td style=\"padding:8px 16px;border-top:1px solid {RULE};background-color:#f9fafb;\
         font-size:11px;line-height:16px;color:{MUTED};\">Archived by Mobile Archiver \
         &middot; {what}</td></tr>"
    );
    out.push_str("</table>\n</td></tr></table>\n</body></html>\n");
}

/// The banner: messenger, place and conversation name.
fn html_banner(out: &mut String, item: &Item<'_>, colours: &Palette) {
    let place = match item.conversation.kind {
        ConversationKind::Direct => "chat",
        ConversationKind::Group => "group",
    };
    let _ = write!(
        out,
        "<tr><td style=\"background-color:{};padding:12px 16px;color:#ffffff;\">\
         <div style=\"font-size:12px;line-height:16px;color:#d7ece8;\">{} {place}</div>\
         <div style=\"font-size:17px;line-height:24px;font-weight:bold;color:#ffffff;\">",
        colours.accent,
        item.source.network().as_str(),
    );
    push_html(out, &thread::topic(item));
    out.push_str("</div></td></tr>\n");
}

/// One marker: a coloured badge and its note.
pub(super) fn html_marker(out: &mut String, marker: Marker, note: &str) {
    let (word, colour, background) = marker.style();
    let _ = write!(
        out,
        "<tr><td style=\"padding:10px 16px;background-color:{background};\
         border-left:6px solid {colour};border-bottom:1px solid {RULE};\">\
         <span style=\"color:{colour};font-weight:bold;font-size:13px;letter-spacing:1px;\">\
         {word}</span><span style=\"color:#344054;font-size:13px;\"> &nbsp;"
    );
    push_html(out, note);
    out.push_str("</span></td></tr>\n");
}

/// The header block: times, conversation, parties, custodian, source.
fn html_details(out: &mut String, cx: &Context<'_>) {
    let item = cx.item;
    let _ = writeln!(
        out,
        "<tr><td style=\"padding:12px 16px;border-bottom:1px solid {RULE};\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"font-size:13px;line-height:19px;\">"
    );
    detail(out, "Time (UTC)", |out| push_html(out, &utc_time(item)));
    if let Some(local) = local_time(item.timestamp.0, cx.time_zone) {
        detail(out, "Local time", |out| push_html(out, &local));
    }
    detail(out, "Conversation", |out| {
        push_html(out, &conversation(item))
    });
    detail(out, "From", |out| html_party(out, &cx.parties.from));
    if !cx.parties.to.is_empty() {
        detail(out, "To", |out| {
            for (i, to) in cx.parties.to.iter().enumerate() {
                if i > 0 {
                    out.push_str("<br>");
                }
                html_party(out, to);
            }
        });
    }
    if let Some(custodian) = custodian(item) {
        detail(out, "Custodian", |out| push_html(out, &custodian));
    }
    detail(out, "Source", |out| push_html(out, &source(item.source)));
    if let Some(object) = cx.raw_object {
        detail(out, "Source file", |out| {
            out.push_str(
                "<span style=\"font-family:Consolas,'Courier New',monospace;font-size:12px;\">",
            );
            push_html(out, &header_text(object));
            out.push_str("</span>");
        });
    }
    if let Some(original) = &item.refers_to {
        detail(out, "Refers to", |out| {
            push_html(out, &format!("<{}>", message_id(original)));
        });
    }
    out.push_str("</table></td></tr>\n");
}

/// One row of the header block: a muted label, then what `value` writes.
pub(super) fn detail(out: &mut String, label: &str, value: impl FnOnce(&mut String)) {
    let _ = write!(
        out,
        "<tr><td width=\"110\" valign=\"top\" style=\"width:110px;padding:2px 12px 2px 0;\
         color:{MUTED};white-space:nowrap;\">{label}</td>\
         <td valign=\"top\" style=\"padding:2px 0;color:#1d2939;\">"
    );
    value(out);
    out.push_str("</td></tr>\n");
}

/// `Name (+E.164)` in bold, the address muted after it.
fn html_party(out: &mut String, party: &Party<'_>) {
    out.push_str("<b>");
    push_html(out, &party.display);
    let _ = write!(out, "</b> <span style=\"color:{MUTED};\">&lt;");
    push_html(out, &party.address);
    out.push_str("&gt;</span>");
}

/// The message as a chat bubble: sender, text, time.
pub(super) fn html_message(
    out: &mut String,
    cx: &Context<'_>,
    text: Option<&str>,
    colours: &Palette,
) {
    let item = cx.item;
    let (background, border) = match item.kind {
        ItemKind::System => ("#f2f4f7", "#d0d5dd"),
        _ => (colours.bubble, colours.bubble_border),
    };
    let _ = write!(
        out,
        "<tr><td style=\"padding:16px;\">\
         <table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"max-width:100%;\"><tr><td style=\"background-color:{background};\
         border:1px solid {border};border-radius:8px;padding:10px 14px;\">\
         <div style=\"font-size:13px;line-height:18px;font-weight:bold;color:{};\">",
        colours.accent
    );
    push_html(out, &cx.parties.from.display);
    out.push_str(
        "</div>\n<div dir=\"auto\" style=\"font-size:15px;line-height:22px;color:#101828;\
         word-wrap:break-word;overflow-wrap:anywhere;\">",
    );
    match text {
        Some(text) if !text.is_empty() => push_html_text(out, text),
        _ => {
            let _ = write!(out, "<i style=\"color:{MUTED};\">");
            push_html(out, &empty_text(item));
            out.push_str("</i>");
        }
    }
    let local = item.timestamp.0.with_timezone(&cx.time_zone);
    let _ = writeln!(
        out,
        "</div>\n<div style=\"font-size:11px;line-height:16px;color:{MUTED};text-align:right;\
         padding-top:4px;\">{}</div></td></tr></table></td></tr>",
        local.format("%-d %b %Y, %H:%M %Z")
    );
}

/// What the bubble says of an item without text.
fn empty_text(item: &Item<'_>) -> Cow<'static, str> {
    Cow::Borrowed(match item.kind {
        ItemKind::Call => return Cow::Owned(call_sentence(item)),
        ItemKind::Delete => "Message deleted: no text kept.",
        ItemKind::Recall => "Message recalled: no text kept.",
        _ if !item.attachments.is_empty() => "No text: see the attachments below.",
        _ => "No text.",
    })
}

/// `Missed video call.`, `Voice call, 3:05.`, `Voice call.`.
fn call_sentence(item: &Item<'_>) -> String {
    let (video, missed, length) = item.call.map_or((false, false, None), |c| {
        (c.video, c.missed, c.duration_secs)
    });
    let medium = if video { "video call" } else { "voice call" };
    match (missed, length) {
        (true, _) => format!("Missed {medium}."),
        (false, Some(secs)) => format!("{}, {}.", capitalised(medium), duration(secs)),
        (false, None) => format!("{}.", capitalised(medium)),
    }
}

/// The attachments: images shown by `cid:` with a caption, other files as
/// lines with type, size and what became of them.
fn html_attachments(out: &mut String, cx: &Context<'_>) {
    if cx.files.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<tr><td style=\"padding:0 16px 16px 16px;\">\
         <div style=\"font-size:12px;line-height:16px;font-weight:bold;color:{MUTED};\
         letter-spacing:1px;padding-bottom:6px;\">ATTACHMENTS ({})</div>",
        cx.files.len()
    );
    for file in cx.files {
        let _ = write!(
            out,
            "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
             border=\"0\" style=\"margin-bottom:8px;\"><tr><td style=\"padding:8px 10px;\
             border:1px solid {RULE};background-color:#f9fafb;font-size:13px;line-height:18px;\">"
        );
        if let Some(id) = &file.content_id {
            out.push_str("<img src=\"cid:");
            push_html(out, id);
            out.push_str("\" alt=\"");
            push_html(out, &file.name);
            let _ = write!(
                out,
                "\" width=\"{IMAGE_WIDTH}\" style=\"display:block;width:auto;max-width:100%;\
                 height:auto;border:1px solid #d0d5dd;margin-bottom:6px;\">"
            );
        }
        out.push_str("<b>");
        push_html(out, &file.name);
        let _ = write!(out, "</b><br><span style=\"color:{MUTED};\">");
        push_html(out, &file.content_type);
        if let Some(size) = file.attachment.size {
            out.push_str(" &middot; ");
            push_html(out, &human_size(size));
        }
        out.push_str(" &middot; ");
        push_html(out, &file.status(cx.item.source));
        out.push_str("</span></td></tr></table>\n");
    }
    out.push_str("</td></tr>\n");
}

/// `850 bytes`, `29.2 KB`, `4.1 MB`, `1.2 GB` (units of 1024).
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KB", "MB", "GB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Appends a message text for the HTML body: escaped ([`push_html`]), each
/// line break a `<br>`, a space after another or at a line's start
/// `&nbsp;` and a tab [`TAB_SPACES`] such spaces, so that the text keeps
/// its lines and indentation in renderers that ignore `white-space`.
fn push_html_text(out: &mut String, text: &str) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>\n");
        }
        let mut after_space = true;
        let mut rest = line;
        while let Some(at) = rest.find([' ', '\t']) {
            let (run, tail) = rest.split_at(at);
            if !run.is_empty() {
                push_html(out, run);
                after_space = false;
            }
            let spaces = if tail.starts_with('\t') {
                TAB_SPACES
            } else {
                1
            };
            for _ in 0..spaces {
                out.push_str(if after_space { "&nbsp;" } else { " " });
                after_space = true;
            }
            rest = &tail[1..];
        }
        push_html(out, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_html(text: &str) -> String {
        let mut out = String::new();
        push_html_text(&mut out, text);
        out
    }

    #[test]
    fn texts_keep_lines_and_spaces_without_white_space_css() {
        assert_eq!(text_html("a  b\n c"), "a &nbsp;b<br>\n&nbsp;c");
        assert_eq!(text_html("x\ty"), "x &nbsp;&nbsp;&nbsp;y");
        assert_eq!(text_html("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(text_html(""), "");
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_size(850), "850 bytes");
        assert_eq!(human_size(29_870), "29.2 KB");
        assert_eq!(human_size(40 * 1024 * 1024), "40.0 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 * 1024), "3072.0 GB");
    }

    #[test]
    fn local_times_name_their_zone_and_utc_is_not_repeated() {
        let at = DateTime::parse_from_rfc3339("2026-07-01T08:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            local_time(at, chrono_tz::Europe::London).as_deref(),
            Some("2026-07-01 09:30:00 BST (Europe/London)")
        );
        assert_eq!(
            local_time(at, chrono_tz::Asia::Shanghai).as_deref(),
            Some("2026-07-01 16:30:00 CST (Asia/Shanghai)")
        );
        assert_eq!(local_time(at, Tz::UTC), None);
        assert_eq!(local_time(at, Tz::Etc__UTC), None);
    }
}
