//! A conversation's daily digest: one message holding every message of the
//! conversation's day (or of a supplement), in time order.
//!
//! Its body is the day as a reviewer reads a chat: the per-item card's
//! banner and header block once, then each message as the per-item body
//! shows it (markers, chat bubble, attachments listed). Each message's own
//! e-mail, as convert stored it, is attached after the body as a
//! `message/rfc822` part: its attachments, headers and provenance travel
//! with it unchanged, and its bytes are copied in as the digest is written
//! (never held in memory). A message whose e-mail the caller leaves out
//! (the target's size limit) gets a text stub naming its archive key, as
//! an attachment too large does in a per-item e-mail.
//!
//! Like an item's message it is a pure function of its input: Message-ID
//! from the conversation, day and part ([`digest_message_id`]), Date from
//! the last message's time, boundaries from the Message-ID (a counter
//! appended while any text or attached e-mail holds one). An attached
//! e-mail is declared `7bit` (as this crate renders them) unless it holds
//! 8-bit bytes. Threading
//! headers are those of the conversation's per-item messages; a
//! supplement also refers to the day's digest (`In-Reply-To`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Read;

use chrono::NaiveDate;
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use memchr::memmem;

use super::address::{self, Parties};
use super::body::{self, Context, MUTED, RULE};
use super::message_id::digest_message_id;
use super::rows::push_plain_row;
use super::sanitize::{body_text, header_text, push_html};
use super::{FileContent, RenderError, RenderOptions, Rendered, Splice, encoded_word, thread};
use crate::item::Item;
use crate::store::ObjectFile;

/// One message of a digest.
#[derive(Debug, Clone, Copy)]
pub struct DigestEntry<'i> {
    /// The item.
    pub item: &'i Item<'i>,
    /// Mailbox address per participant, as its own e-mail names them.
    pub addresses: &'i [Option<String>],
    /// Its own e-mail, attached; `None` leaves a stub in its place.
    pub eml: Option<&'i ObjectFile>,
    /// That e-mail's archive key (named by the stub).
    pub eml_key: &'i str,
}

/// A digest part: its conversation, day and number, and its messages in
/// the order it shows them.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'e, 'i> {
    /// The conversation's hash, as the store names it.
    pub conversation: &'i str,
    /// The day it covers.
    pub day: NaiveDate,
    /// 0 for the day's digest, 1, 2, … for supplements.
    pub part: u32,
    /// The set of mailboxes it goes to (8 hex digits), when the part's
    /// messages go to more than one set: named in its Message-ID
    /// ([`digest_message_id`]).
    pub audience: Option<&'i str>,
    /// For a supplement: the Message-ID of the day's digest as these
    /// mailboxes got it (its own set may have been split otherwise); the
    /// unsplit digest's when not known.
    pub replying_to: Option<&'i str>,
    /// Its messages, at least one, in time order.
    pub entries: &'e [DigestEntry<'i>],
}

/// Renders a digest part into a message whose attached e-mails are copied
/// in as it is written ([`Rendered::write_to`]).
///
/// # Errors
///
/// [`RenderError`] when an entry's addresses do not match its
/// participants, an address is invalid, or an attached e-mail cannot be
/// read.
///
/// # Panics
///
/// When `entries` is empty (a part always holds a message).
pub fn prepare_digest<'i>(
    input: &DigestInput<'_, 'i>,
    opts: &RenderOptions,
) -> Result<Rendered<'i>, RenderError> {
    let first = input
        .entries
        .first()
        .expect("a digest part holds a message");
    let mut parties = Vec::with_capacity(input.entries.len());
    for entry in input.entries {
        let participants = usize::from(entry.item.sender.is_some()) + entry.item.recipients.len();
        if entry.addresses.len() != participants {
            return Err(RenderError::AddressCount {
                expected: participants,
                given: entry.addresses.len(),
            });
        }
        parties.push(address::parties(
            entry.item,
            entry.addresses,
            &opts.unmapped_domain,
        )?);
    }
    let plain = plain(input, &parties);
    let html = html(input, &parties, opts);
    let message_id = digest_message_id(input.conversation, input.day, input.part, input.audience);
    let Scanned { token, eight_bit } = scan(&message_id, &[&plain, &html], input.entries)?;
    let mut parts = vec![MimePart::new(
        ContentType::new("multipart/alternative").attribute("boundary", format!("{token}_alt")),
        vec![
            MimePart::new("text/plain", plain),
            MimePart::new("text/html", html),
        ],
    )];
    for (n, entry) in input.entries.iter().enumerate() {
        let name = attached_name(n, entry.item);
        parts.push(match entry.eml {
            Some(_) => MimePart::new(
                ContentType::new("message/rfc822").attribute("name", name.clone()),
                BodyPart::Binary(Cow::Owned(placeholder(n).into_bytes())),
            )
            .attachment(name)
            .transfer_encoding(if eight_bit[n] { "8bit" } else { "7bit" }),
            None => {
                let stub = format!("{name}.stub.txt");
                MimePart::new(
                    ContentType::new("text/plain")
                        .attribute("charset", "utf-8")
                        .attribute("name", stub.clone()),
                    BodyPart::Text(Cow::Owned(stub_text(n, entry))),
                )
                .attachment(stub)
            }
        });
    }
    let tree = MimePart::new(
        ContentType::new("multipart/mixed").attribute("boundary", format!("{token}_mix")),
        parts,
    );
    let mut template = Vec::new();
    headers(input, &parties[0], first.item, message_id)
        .body(tree)
        .serialize(&mut template);
    let mut splices = Vec::new();
    for (n, entry) in input.entries.iter().enumerate() {
        if let Some(file) = entry.eml {
            let placeholder = placeholder(n);
            let at = memmem::find(&template, placeholder.as_bytes())
                .expect("every attached e-mail's part holds its placeholder");
            splices.push(Splice {
                at,
                placeholder: placeholder.len(),
                content: FileContent::Stored(file),
                name: attached_name(n, entry.item),
                base64: false,
            });
        }
    }
    splices.sort_by_key(|splice| splice.at);
    Ok(Rendered { template, splices })
}

/// Where the `n`th attached e-mail goes (see `attachment::placeholder`).
fn placeholder(n: usize) -> String {
    format!("\0archiver-message-{n}\0")
}

/// `message-007-093005.eml`: its place in the digest and its time (no
/// content in a name).
fn attached_name(n: usize, item: &Item<'_>) -> String {
    format!(
        "message-{:03}-{}.eml",
        n + 1,
        item.timestamp.0.format("%H%M%S")
    )
}

/// The stub of a message whose e-mail is not attached.
fn stub_text(n: usize, entry: &DigestEntry<'_>) -> String {
    let mut out = format!(
        "Message {} of this digest: its e-mail is not attached, as the digest would \
         exceed the delivery target's message size limit. It is kept in the archive \
         under the key below.\n\n",
        n + 1
    );
    push_plain_row(&mut out, "Time", &body::utc_time(entry.item));
    push_plain_row(&mut out, "Item", entry.item.id.to_hex().as_str());
    push_plain_row(&mut out, "Archive key", entry.eml_key);
    out
}

/// What scanning the attached e-mails found: the boundary token, and per
/// entry whether its e-mail holds 8-bit bytes (its part then says `8bit`,
/// else `7bit`: an e-mail rendered here is ASCII).
struct Scanned {
    token: String,
    eight_bit: Vec<bool>,
}

/// `=_<Message-ID's local part>`, with a counter appended while a text
/// or an attached e-mail holds it. The e-mails are read one at a time.
fn scan(
    message_id: &str,
    texts: &[&str],
    entries: &[DigestEntry<'_>],
) -> Result<Scanned, RenderError> {
    let local = message_id.split('@').next().unwrap_or(message_id);
    let base = format!("=_{local}");
    let read = |entry: &DigestEntry<'_>| -> Result<Option<Vec<u8>>, RenderError> {
        let Some(file) = entry.eml else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(file.len()).unwrap_or(0));
        file.reader()
            .take(file.len())
            .read_to_end(&mut bytes)
            .map_err(|e| RenderError::Read {
                name: entry.eml_key.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Some(bytes))
    };
    let in_texts = |token: &str| {
        texts
            .iter()
            .any(|text| memmem::find(text.as_bytes(), token.as_bytes()).is_some())
    };
    let mut eight_bit = Vec::with_capacity(entries.len());
    let mut clash = in_texts(&base);
    for entry in entries {
        let bytes = read(entry)?.unwrap_or_default();
        eight_bit.push(!bytes.is_ascii());
        clash |= memmem::find(&bytes, base.as_bytes()).is_some();
    }
    let mut token = base.clone();
    let mut counter = 0u32;
    // Rare (a message quoting the token): the e-mails are read again for
    // each candidate.
    while clash {
        counter += 1;
        token = format!("{base}.{counter}");
        clash = in_texts(&token);
        for entry in entries {
            if clash {
                break;
            }
            let bytes = read(entry)?.unwrap_or_default();
            clash = memmem::find(&bytes, token.as_bytes()).is_some();
        }
    }
    Ok(Scanned { token, eight_bit })
}

/// The digest's headers, from its first message's parties and thread.
fn headers<'x>(
    input: &DigestInput<'_, '_>,
    parties: &'x Parties<'x>,
    first: &'x Item<'x>,
    message_id: String,
) -> MessageBuilder<'x> {
    let last = input.entries.last().expect("a digest part holds a message");
    let mut builder = MessageBuilder::new()
        .message_id(message_id)
        .date(Date::new(last.item.timestamp.0.timestamp()))
        .header("From", parties.sender_address())
        .header("To", parties.recipient_addresses())
        .header("Subject", encoded_word::text(subject(input, first)));
    if input.part > 0 {
        let digest = input.replying_to.map_or_else(
            || digest_message_id(input.conversation, input.day, 0, None),
            str::to_owned,
        );
        builder = builder
            .in_reply_to(MessageId::new(digest.clone()))
            .references(MessageId::new(digest));
    }
    builder = builder
        .header("Thread-Topic", encoded_word::text(thread::topic(first)))
        .header(
            "Thread-Index",
            Raw::new(thread::index(&first.conversation.id)),
        )
        .header("X-Archiver-Source", Raw::new(first.source.as_str()))
        .header(
            "X-Archiver-Conversation-Id",
            encoded_word::text(header_text(&first.conversation.id)),
        )
        .header(
            "X-Archiver-Digest",
            Raw::new(format!(
                "{}; part {}; {} messages",
                input.day,
                input.part,
                input.entries.len()
            )),
        );
    if let Some(custodian) = first.custodian.as_deref() {
        builder = builder.header(
            "X-Archiver-Custodian",
            encoded_word::text(header_text(custodian)),
        );
    }
    builder
}

/// `WhatsApp chat "Alice, Bob" – 2026-12-01 (100 messages)`; a
/// supplement: `… – 2026-12-01, supplement 1 (1 message)`.
fn subject(input: &DigestInput<'_, '_>, first: &Item<'_>) -> String {
    let count = messages(input.entries.len());
    match input.part {
        0 => format!("{} – {} ({count})", body::conversation(first), input.day),
        part => format!(
            "{} – {}, supplement {part} ({count})",
            body::conversation(first),
            input.day
        ),
    }
}

/// `1 message`, `100 messages`.
fn messages(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}

/// What the digest is: the day's digest, or a supplement to it.
fn what(input: &DigestInput<'_, '_>) -> String {
    match input.part {
        0 => format!("Daily digest of {} (UTC)", input.day),
        part => format!(
            "Supplement {part} to the daily digest of {} (UTC): messages that arrived after it",
            input.day
        ),
    }
}

/// The plain body: the header rows, then one block per message (time,
/// sender, notes, text, attachments, the attached e-mail's name).
fn plain(input: &DigestInput<'_, '_>, parties: &[Parties<'_>]) -> String {
    let first = input.entries[0].item;
    let mut out = String::new();
    push_plain_row(&mut out, "Digest", &what(input));
    push_plain_row(&mut out, "Conversation", &body::conversation(first));
    push_plain_row(&mut out, "Messages", &input.entries.len().to_string());
    if let Some(custodian) = body::custodian(first) {
        push_plain_row(&mut out, "Custodian", &custodian);
    }
    push_plain_row(&mut out, "Source", &body::source(first.source));
    for (n, (entry, parties)) in input.entries.iter().zip(parties).enumerate() {
        let item = entry.item;
        out.push('\n');
        let _ = writeln!(
            out,
            "[{}] {} <{}>",
            body::utc_time(item),
            parties.from.display,
            parties.from.address
        );
        for (_, note) in body::markers(item) {
            let _ = writeln!(out, "({note})");
        }
        if let Some(text) = item.text.as_deref().map(body_text) {
            out.push_str(&text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
        for attachment in &item.attachments {
            let _ = writeln!(
                out,
                "Attachment: {} ({})",
                header_text(&attachment.name),
                header_text(&attachment.content_type)
            );
        }
        let _ = writeln!(out, "E-mail: {}", attached(n, entry));
    }
    out
}

/// Where a message's own e-mail is: attached, or only in the archive.
fn attached(n: usize, entry: &DigestEntry<'_>) -> String {
    let name = attached_name(n, entry.item);
    match entry.eml {
        Some(_) => format!("attached as {name}"),
        None => format!("not attached (size limit), see {name}.stub.txt"),
    }
}

/// The HTML body: the per-item card's banner and header block once, then
/// each message as the per-item body shows it.
fn html(input: &DigestInput<'_, '_>, parties: &[Parties<'_>], opts: &RenderOptions) -> String {
    let first = input.entries[0].item;
    let colours = body::palette(first.source.network());
    let mut out = String::with_capacity(2048 + 1024 * input.entries.len());
    body::open_card(&mut out);
    let _ = write!(
        out,
        "<tr><td style=\"background-color:{};padding:12px 16px;color:#ffffff;\">\
         <div style=\"font-size:12px;line-height:16px;color:#d7ece8;\">",
        colours.accent
    );
    push_html(&mut out, &what(input));
    out.push_str(
        "</div><div style=\"font-size:17px;line-height:24px;font-weight:bold;color:#ffffff;\">",
    );
    push_html(&mut out, &thread::topic(first));
    out.push_str("</div></td></tr>\n");
    let _ = writeln!(
        out,
        "<tr><td style=\"padding:12px 16px;border-bottom:1px solid {RULE};\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"font-size:13px;line-height:19px;\">"
    );
    body::detail(&mut out, "Conversation", |out| {
        push_html(out, &body::conversation(first));
    });
    body::detail(&mut out, "Messages", |out| {
        push_html(out, &messages(input.entries.len()));
    });
    if let Some(custodian) = body::custodian(first) {
        body::detail(&mut out, "Custodian", |out| push_html(out, &custodian));
    }
    body::detail(&mut out, "Source", |out| {
        push_html(out, &body::source(first.source));
    });
    out.push_str("</table></td></tr>\n");
    for (n, (entry, parties)) in input.entries.iter().zip(parties).enumerate() {
        let item = entry.item;
        for (marker, note) in body::markers(item) {
            body::html_marker(&mut out, marker, &note);
        }
        let cx = Context {
            item,
            parties,
            files: &[],
            raw_object: None,
            time_zone: opts.time_zone,
        };
        let text = item.text.as_deref().map(body_text);
        body::html_message(&mut out, &cx, text.as_deref(), &colours);
        let _ = write!(
            out,
            "<tr><td style=\"padding:0 16px 12px 16px;font-size:12px;line-height:16px;\
             color:{MUTED};border-bottom:1px solid {RULE};\">"
        );
        push_html(&mut out, &body::utc_time(item));
        for attachment in &item.attachments {
            out.push_str("<br>Attachment: <b>");
            push_html(&mut out, &header_text(&attachment.name));
            out.push_str("</b> ");
            push_html(&mut out, &header_text(&attachment.content_type));
            if let Some(size) = attachment.size {
                out.push_str(" &middot; ");
                push_html(&mut out, &body::human_size(size));
            }
        }
        out.push_str("<br>E-mail ");
        push_html(&mut out, &attached(n, entry));
        out.push_str("</td></tr>\n");
    }
    body::close_card(
        &mut out,
        &format!("digest {} &middot; part {}", input.conversation, input.part),
    );
    out
}
