//! Names from outside (drop file names, zip entry names, object keys) made
//! safe to print on one line.
//!
//! A report line is one problem: a name that carries a line break could
//! otherwise forge lines of the printed report (`a\nerrors: 0.txt`), and a
//! bidirectional override could make a name read as another. Control
//! characters and the invisible direction marks are written as Rust escapes
//! (`\n`, `\u{202e}`); everything else, non-ASCII letters included, is
//! printed as it is. A leaf module: it uses no other module of the crate.

use std::borrow::Cow;
use std::fmt;

/// Shows `text` with control characters and direction marks escaped.
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// `text` as [`escaped`] shows it; borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    match text.contains(needs_escape) {
        true => Cow::Owned(escaped(text).to_string()),
        false => Cow::Borrowed(text),
    }
}

/// A text shown with its control characters and direction marks escaped
/// (see [`escaped`]).
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

/// Characters that would break or disguise a printed line (or a listed
/// name: the store's keys keep them percent-encoded, see
/// `layout::key_segment`).
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2028}' | '\u{2029}'
                | '\u{2066}'..='\u{2069}'
        )
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found a char at `at`");
            write!(f, "{}", c.escape_debug())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_direction_marks_are_escaped_and_letters_kept() {
        assert_eq!(escape("a\nerrors: 0.txt"), r"a\nerrors: 0.txt");
        assert_eq!(escape("x\r\ty\0"), r"x\r\ty\0");
        assert_eq!(escape("evil\u{202e}txt.exe"), r"evil\u{202e}txt.exe");
        assert_eq!(escape("\u{1b}[2J"), r"\u{1b}[2J");
        assert_eq!(
            escape("WhatsApp Chat with Luis García.txt"),
            "WhatsApp Chat with Luis García.txt"
        );
        assert_eq!(escape(""), "");
    }
}
