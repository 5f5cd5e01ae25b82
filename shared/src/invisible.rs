//! Invisible formatting characters: direction marks, embeddings, overrides
//! and isolates, the byte order mark, and their like.
//!
//! WhatsApp writes them around names, numbers and times (a copied contact
//! is `\u{202a}+44 7400 100032\u{202c}`), and a crafted name uses them to
//! read as something it is not (`invoice\u{202e}fdp.exe` shows as
//! `invoiceexe.pdf`). They are defined once, here, so that every part
//! removes the same ones: the export parser (names and text), rendering
//! (every value that reaches a header, and file names) and mapping
//! (identities in the CSV and on items). A leaf module, so that rendering
//! and mapping do not depend on a source.
//!
//! Two sets. The parser removes [`is_invisible`] characters, and that set
//! cannot grow: export item ids hash the cleaned text, so another character
//! removed there would change the ids of messages already archived, and an
//! overlapping export would deliver them again. Headers and identities drop
//! the wider [`is_hidden`] set, where nothing is derived from the result.

use std::borrow::Cow;

/// Length in bytes of the invisible formatting character starting at `i`, or
/// 0: U+200E, U+200F, U+202A–U+202E, U+2066–U+2069 and U+FEFF (the
/// [`is_invisible`] set, matched on UTF-8 bytes for the parser's scanners).
#[inline]
pub(crate) fn invisible_at(s: &[u8], i: usize) -> usize {
    match s.get(i..i + 3) {
        Some(
            [0xE2, 0x80, 0x8E | 0x8F | 0xAA..=0xAE]
            | [0xE2, 0x81, 0xA6..=0xA9]
            | [0xEF, 0xBB, 0xBF],
        ) => 3,
        _ => 0,
    }
}

/// The characters the export parser removes from names and text: the
/// left-to-right and right-to-left marks (U+200E, U+200F), the embeddings,
/// pop and overrides (U+202A–U+202E), the isolates (U+2066–U+2069) and the
/// byte order mark (U+FEFF).
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// The characters removed from header values and identities: the
/// [`is_invisible`] set, the Arabic letter mark (U+061C), the zero width
/// space (U+200B), the word joiner and invisible operators (U+2060–U+2064)
/// and the deprecated format characters (U+206A–U+206F). Zero width
/// (non-)joiners (U+200C, U+200D) stay: scripts and emoji sequences need
/// them.
pub(crate) fn is_hidden(c: char) -> bool {
    is_invisible(c)
        || matches!(
            c,
            '\u{061c}' | '\u{200b}' | '\u{2060}'..='\u{2064}' | '\u{206a}'..='\u{206f}'
        )
}

/// `s` without [`is_hidden`] characters; borrowed when it has none.
pub(crate) fn strip_hidden(s: &str) -> Cow<'_, str> {
    if s.contains(is_hidden) {
        Cow::Owned(s.chars().filter(|&c| !is_hidden(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_matcher_finds_exactly_the_invisible_set() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(invisible_at(bytes, 0) > 0, is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn hidden_characters_are_stripped_and_clean_text_borrowed() {
        assert_eq!(
            strip_hidden("\u{202a}+44\u{a0}7400\u{202c}\u{061c}\u{200b}\u{2060}\u{206f}"),
            "+44\u{a0}7400"
        );
        assert!(matches!(strip_hidden("Zoë 👨\u{200d}👩"), Cow::Borrowed(_)));
    }
}
