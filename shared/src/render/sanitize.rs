//! Making source values safe for headers and for the body.

use std::borrow::Cow;

use crate::invisible::is_hidden;

/// A single-line value for a header (or a summary line of the body): every
/// control character (CR, LF, NUL, DEL, C1 …) and Unicode line or paragraph
/// separator becomes a space, every hidden formatting character (direction
/// marks and overrides, see [`is_hidden`]) is removed, so a name cannot
/// reorder what a mail client shows, and the result is trimmed. Borrows
/// when the value needs no replacement.
pub(super) fn header_text(value: &str) -> Cow<'_, str> {
    if !value.chars().any(|c| breaks_header(c) || is_hidden(c)) {
        return Cow::Borrowed(value.trim());
    }
    let replaced: String = value
        .chars()
        .filter(|&c| !is_hidden(c))
        .map(|c| if breaks_header(c) { ' ' } else { c })
        .collect();
    Cow::Owned(replaced.trim().to_owned())
}

fn breaks_header(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Message text for a body part: line breaks (CR LF, CR, LF) become LF and
/// every other control character except TAB becomes a visible stand-in (its
/// Unicode control picture, or U+FFFD for C1 controls), so no NUL or bare CR
/// reaches the message. Borrows when the text needs no change.
pub(super) fn body_text(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c != '\n' && c != '\t' && c.is_control())
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push(control_picture(c)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// U+2400..U+241F for C0 controls, U+2421 for DEL, U+FFFD for the rest.
fn control_picture(c: char) -> char {
    match u32::from(c) {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

/// Appends `text` to `out` with `&`, `<`, `>`, `"` and `'` escaped for HTML.
pub fn push_html(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        out.push_str(match tail.as_bytes()[0] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &tail[1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_replaces_controls_and_trims() {
        assert_eq!(header_text(" Eve\r\nBcc: x@y\0 "), "Eve  Bcc: x@y");
        assert_eq!(header_text("a\u{2028}b\u{85}c\x7f"), "a b c");
        assert!(matches!(header_text(" 张伟 "), Cow::Borrowed("张伟")));
        assert_eq!(
            header_text("\u{202e}Eve\u{202c} \u{2066}x\u{2069}"),
            "Eve x"
        );
    }

    #[test]
    fn body_text_normalises_breaks_and_shows_controls() {
        assert_eq!(body_text("a\r\nb\rc\nd\te"), "a\nb\nc\nd\te");
        assert_eq!(
            body_text("nul\0 del\x7f c1\u{85}"),
            "nul\u{2400} del\u{2421} c1\u{fffd}"
        );
        assert!(matches!(body_text("plain\ntext"), Cow::Borrowed(_)));
    }

    #[test]
    fn html_escapes_the_five_specials() {
        let mut out = String::new();
        push_html(&mut out, r#"<a href="x">Tom & 'Jerry'</a>"#);
        assert_eq!(
            out,
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
