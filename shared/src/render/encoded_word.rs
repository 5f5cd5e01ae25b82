//! Header values that hold `=?`, the opening of an RFC 2047 encoded word.
//!
//! A contact can be named `=?utf-8?b?Q0VPIDxjZW9AY29ycC5leGFtcGxlPg==?=`.
//! Written as it is, mail clients decode it and show another sender
//! (`CEO <ceo@corp.example>`), in a display name (even a quoted one) as in
//! the Subject. mail-builder writes ASCII text unencoded, so such values
//! are written here as encoded words themselves, which decode back to the
//! literal text.
//!
//! Every other value of printable ASCII is written plainly, folded only at
//! its spaces (where a fold leaves the value as it was): mail-builder
//! would write one longer than 77 characters as encoded words, so that an
//! object key or a long subject reads as `=?us-ascii?Q?…?=` in a raw
//! header view and in tools that do not decode. A run without spaces
//! cannot be folded; it is written on one line, longer than 78 characters
//! when it must, as RFC 5322 allows up to 998. Values with other
//! characters are left to mail-builder (encoded words for non-ASCII).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_builder::headers::HeaderType;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;

/// Bytes of text per encoded word: 40 base64 characters, a 52-character
/// word, so that even `X-Archiver-Custodian: ` and one word stay within
/// RFC 2047's 76-character lines.
const WORD_BYTES: usize = 30;

/// Longest run without a space written plainly: a line holds the header's
/// name and one such run, within RFC 5322's 998 characters. A value with a
/// longer run is left to mail-builder.
const MAX_PLAIN_RUN: usize = 900;

/// Whether a mail client could read an encoded word in `value`.
pub(super) fn needs_encoding(value: &str) -> bool {
    value.contains("=?")
}

/// `value` as UTF-8 "B" encoded words, separated by spaces (where the
/// header may be folded; decoders drop the space between two words). Each
/// word holds whole characters.
pub(super) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2 + 16);
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(WORD_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (word, tail) = rest.split_at(end);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("=?utf-8?B?");
        STANDARD.encode_string(word, &mut out);
        out.push_str("?=");
        rest = tail;
    }
    out
}

/// Whether `value` can be written as it is: printable ASCII and spaces,
/// none at either end (a parser drops them), no run longer than
/// [`MAX_PLAIN_RUN`].
fn is_plain(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && value.split(' ').all(|run| run.len() <= MAX_PLAIN_RUN)
}

/// An unstructured header's value (`Subject`, `Thread-Topic`,
/// `X-Archiver-*`): encoded words when [`needs_encoding`], else the value
/// as it is, folded at spaces, when [`is_plain`], else mail-builder's text.
pub(super) fn text<'x>(value: impl Into<Cow<'x, str>>) -> HeaderType<'x> {
    let value = value.into();
    if needs_encoding(&value) {
        Raw::new(encode(&value)).into()
    } else if is_plain(&value) {
        Raw::new(value).into()
    } else {
        Text::new(value).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hold_whole_characters_and_stay_short() {
        let value = "=?".to_owned() + &"é".repeat(40) + "🙂";
        let encoded = encode(&value);
        let mut decoded = String::new();
        for word in encoded.split(' ') {
            assert!(word.len() <= 52, "{word}");
            let payload = word
                .strip_prefix("=?utf-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            let bytes = STANDARD.decode(payload).unwrap();
            decoded.push_str(std::str::from_utf8(&bytes).expect("whole characters"));
        }
        assert_eq!(decoded, value);
        assert_eq!(encode(""), "");
    }

    #[test]
    fn ascii_values_are_plain_unless_unfoldable_or_padded() {
        let key = format!("raw/whatsapp-export/2026-11-21/{}.jsonl", "ab".repeat(32));
        assert!(is_plain(&key));
        assert!(!is_plain("EDITED – x"), "non-ASCII is left to mail-builder");
        assert!(!is_plain(" padded"));
        assert!(!is_plain("padded "));
        assert!(!is_plain("tab\there"));
        assert!(!is_plain(&"x".repeat(MAX_PLAIN_RUN + 1)));
        assert!(is_plain(&format!("{} {}", "x".repeat(MAX_PLAIN_RUN), "y")));
    }
}
