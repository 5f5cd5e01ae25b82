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
use sha2::{Digest, Sha256};

/// What the report envelope says about the copy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Report<'a> {
    /// The envelope sender (MAIL FROM), the report's `From`.
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

/// The journal report with `original` attached.
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
    let mut out = Vec::with_capacity(original.len() + 1024);
    let mut line = |text: &str| {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    let sender = match report.sender {
        "" => "<>".to_owned(),
        sender => format!("<{sender}>"),
    };
    line(&format!("From: {sender}"));
    line(&format!("To: <{}>", report.journal_recipient));
    line(&format!("Subject: {}", mime_word(&subject)));
    line(&format!("Date: {}", report.date.to_rfc2822()));
    line(&format!("Message-ID: <journal.{id}@{domain}>"));
    line("MIME-Version: 1.0");
    line("X-MS-Journal-Report:");
    line(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\""
    ));
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: text/plain; charset=utf-8");
    line("Content-Transfer-Encoding: 8bit");
    line("");
    line(&format!("Sender: {from}"));
    line(&format!("Subject: {subject}"));
    line(&format!("Message-Id: <{}>", one_line(report.message_id)));
    for recipient in report.recipients {
        line(&format!("To: {}", one_line(recipient)));
    }
    line("");
    line(&format!("--{boundary}"));
    line("Content-Type: message/rfc822");
    line("Content-Disposition: attachment");
    line("");
    out.extend_from_slice(original);
    // The line break before a boundary belongs to the boundary: the
    // original keeps its last one.
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// A value on one line: control characters (CR, LF) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A header value as an RFC 2047 encoded word when it is not ASCII.
fn mime_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    use base64::Engine;
    format!(
        "=?utf-8?b?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
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
}
