//! Header values that hold `=?`, the opening of an RFC 2047 encoded word.
//!
//! A contact can be named `=?utf-8?b?Q0VPIDxjZW9AY29ycC5leGFtcGxlPg==?=`.
//! Written as it is, mail clients decode it and show another sender
//! (`CEO <ceo@corp.example>`), in a display name (even a quoted one) as in
//! the Subject. mail-builder writes ASCII text unencoded, so such values
//! are written here as encoded words themselves, which decode back to the
//! literal text. Values without `=?` are left to mail-builder, so every
//! other message keeps its bytes.

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

/// An unstructured header's value (`Subject`, `Thread-Topic`,
/// `X-Archiver-*`): mail-builder's text, or encoded words when
/// [`needs_encoding`].
pub(super) fn text<'x>(value: impl Into<Cow<'x, str>>) -> HeaderType<'x> {
    let value = value.into();
    if needs_encoding(&value) {
        Raw::new(encode(&value)).into()
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
}
