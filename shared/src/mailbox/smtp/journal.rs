//! Journal wrapping: the original message attached whole, as
//! `message/rfc822`, inside a report envelope that names the sender, the
//! subject, the Message-ID and the recipients, in the layout of Exchange's
//! journal reports that journaling archives ingest.
//!
//! The report is built from the copy alone (no clock, no randomness): the
//! same copy is wrapped into the same bytes, with a Message-ID derived from
//! the original's and its recipients, so a copy sent twice is one message
//! to the archive's de-duplication.

use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use sha2::{Digest, Sha256};

/// What the report envelope says about the copy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Report<'a> {
    /// The envelope sender (MAIL FROM), the report's `From` (never empty).
    pub sender: &'a str,
    /// The journal address (RCPT TO), the report's `To`.
    pub journal_recipient: &'a str,
    /// The mailboxes the original is archived for.
    pub recipients: &'a [&'a str],
    /// The original's Message-ID, without angle brackets.
    pub message_id: &'a str,
    /// The original's time: the report's `Date`.
    pub date: DateTime<Utc>,
}

/// The journal report with `original` attached. The envelope's headers
/// are written by `mail-builder` (encoded words, folded lines); the text
/// part is 7-bit (quoted-printable when it is not ASCII); the original is
/// attached as it is (`7bit`, or `8bit` when it has 8-bit bytes).
pub(super) fn wrap(report: &Report<'_>, original: &[u8]) -> Vec<u8> {
    let parsed = mail_parser::MessageParser::new().parse_headers(original);
    let header_text = |text: Option<&str>| one_line(text.unwrap_or(""));
    let from = parsed
        .as_ref()
        .and_then(|m| m.from())
        .and_then(|from| from.first())
        .and_then(|from| from.address())
        .map(one_line)
        .unwrap_or_default();
    let subject = header_text(parsed.as_ref().and_then(|m| m.subject()));
    let mut digest = Sha256::new();
    digest.update(report.message_id.as_bytes());
    for recipient in report.recipients {
        digest.update(b"\n");
        digest.update(recipient.as_bytes());
    }
    let id = hex::encode(&digest.finalize()[..16]);
    // The original's own hash cannot occur in the original: a safe boundary.
    let boundary = format!("=_journal_{}", hex::encode(&Sha256::digest(original)[..16]));
    let domain = report
        .message_id
        .rsplit_once('@')
        .map_or("mobile-archiver.invalid", |(_, domain)| domain);
    let mut text = String::new();
    let mut line = |line: String| {
        text.push_str(&line);
        text.push_str("\r\n");
    };
    line(format!("Sender: {from}"));
    line(format!("Subject: {subject}"));
    line(format!("Message-Id: <{}>", one_line(report.message_id)));
    for recipient in report.recipients {
        line(format!("To: {}", one_line(recipient)));
    }
    let encoding = if original.is_ascii() { "7bit" } else { "8bit" };
    let attached = MimePart::new("message/rfc822", BodyPart::Binary(original.into()))
        .header("Content-Disposition", Raw::new("attachment"))
        .transfer_encoding(encoding);
    let body = MimePart::new(
        ContentType::new("multipart/mixed").attribute("boundary", boundary),
        vec![MimePart::new("text/plain", text), attached],
    );
    let mut out = Vec::with_capacity(original.len() + 1024);
    MessageBuilder::new()
        .from(report.sender)
        .to(report.journal_recipient)
        .subject(subject.as_str())
        .date(Date::new(report.date.timestamp()))
        .message_id(format!("journal.{id}@{domain}"))
        .header("X-MS-Journal-Report", Raw::new(""))
        .body(body)
        .serialize(&mut out);
    out
}

/// A value on one line: control characters (CR, LF) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ORIGINAL: &[u8] = b"From: \"Alice (+44 7700 900001)\" <alice@corp.example>\r\n\
        To: bob@corp.example\r\nSubject: WhatsApp message from Alice\r\n\
        Message-ID: <item.1@archiver.corp.example>\r\n\r\nHello\r\n";

    fn report<'a>(recipients: &'a [&'a str]) -> Report<'a> {
        Report {
            sender: "archiver@corp.example",
            journal_recipient: "journal@archive.example",
            recipients,
            message_id: "item.1@archiver.corp.example",
            date: Utc.with_ymd_and_hms(2026, 3, 5, 7, 8, 9).unwrap(),
        }
    }

    #[test]
    fn the_original_is_attached_whole_and_the_recipients_named() {
        let wrapped = wrap(&report(&["alice@corp.example"]), ORIGINAL);
        let message = mail_parser::MessageParser::new().parse(&wrapped).unwrap();
        assert!(message.header("X-MS-Journal-Report").is_some());
        assert_eq!(
            message.to().unwrap().first().unwrap().address(),
            Some("journal@archive.example")
        );
        let text = message.body_text(0).unwrap();
        assert!(text.contains("Sender: alice@corp.example"), "{text}");
        assert!(
            text.contains("Subject: WhatsApp message from Alice"),
            "{text}"
        );
        assert!(
            text.contains("Message-Id: <item.1@archiver.corp.example>"),
            "{text}"
        );
        assert!(text.contains("To: alice@corp.example"), "{text}");
        let attached = message.attachment(0).unwrap();
        assert!(attached.is_message());
        assert_eq!(attached.contents(), ORIGINAL);
    }

    #[test]
    fn the_same_copy_wraps_to_the_same_bytes() {
        let one = wrap(&report(&["alice@corp.example"]), ORIGINAL);
        assert_eq!(one, wrap(&report(&["alice@corp.example"]), ORIGINAL));
        let other = wrap(&report(&["bob@corp.example"]), ORIGINAL);
        let id = |bytes: &[u8]| {
            mail_parser::MessageParser::new()
                .parse(bytes)
                .unwrap()
                .message_id()
                .unwrap()
                .to_owned()
        };
        assert_ne!(id(&one), id(&other), "one report per recipient");
    }

    #[test]
    fn headers_are_encoded_and_folded_and_the_text_is_7_bit() {
        let subject = "WhatsApp message from Zoë ".repeat(12);
        let original = format!(
            "From: <zoe@corp.example>\r\nSubject: {subject}\r\n\
             Message-ID: <item.1@archiver.corp.example>\r\n\r\nHéllo\r\n"
        );
        let wrapped = wrap(&report(&["zoe@corp.example"]), original.as_bytes());
        let text = std::str::from_utf8(&wrapped).unwrap();
        let (headers, rest) = text.split_once("\r\n\r\n").unwrap();
        for line in headers.split("\r\n") {
            assert!(line.is_ascii(), "{line}");
            assert!(line.len() <= 78, "{} bytes: {line}", line.len());
        }
        // Only the attached original may carry 8-bit bytes.
        let attached = rest.find("Content-Type: message/rfc822").unwrap();
        assert!(rest[..attached].is_ascii(), "{}", &rest[..attached]);
        assert!(rest[attached..].contains("Content-Transfer-Encoding: 8bit"));
        let message = mail_parser::MessageParser::new().parse(&wrapped).unwrap();
        assert_eq!(message.subject(), Some(subject.trim_end()));
        assert!(
            message
                .body_text(0)
                .unwrap()
                .contains(&format!("Subject: {}", subject.trim_end()))
        );
        assert_eq!(
            message.from().unwrap().first().unwrap().address(),
            Some("archiver@corp.example")
        );
        assert_eq!(
            message.attachment(0).unwrap().contents(),
            original.as_bytes()
        );
    }
}
