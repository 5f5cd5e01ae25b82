//! Splitting an export into lines, and lines into messages: a header line and
//! the lines without a header that continue it.

use memchr::memchr;

/// The lines of a text as `(start, end)` byte offsets, without their line
/// break (LF or CRLF). A byte order mark starting the text is skipped.
pub(super) struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Lines {
            bytes: text.as_bytes(),
            pos,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let bytes = self.bytes;
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        let (end, next) = match memchr(b'\n', &bytes[start..]) {
            Some(n) => (start + n, start + n + 1),
            None => (bytes.len(), bytes.len()),
        };
        self.pos = next;
        Some((start, trim_cr(bytes, start, end)))
    }
}

/// Where a message ends: just before the line break in front of the next
/// message's first line, or at the end of the text (without a final line break).
pub(super) fn message_end(text: &str, next_start: Option<usize>) -> usize {
    let bytes = text.as_bytes();
    let end = match next_start {
        Some(next) => next.saturating_sub(1),
        None if bytes.ends_with(b"\n") => bytes.len() - 1,
        None => bytes.len(),
    };
    trim_cr(bytes, 0, end)
}

fn trim_cr(bytes: &[u8], start: usize, end: usize) -> usize {
    if end > start && bytes[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_breaks_and_bom() {
        let text = "\u{feff}a\r\nb\n\nc";
        let lines: Vec<_> = Lines::new(text).map(|(s, e)| &text[s..e]).collect();
        assert_eq!(lines, ["a", "b", "", "c"]);
        assert_eq!(Lines::new("").count(), 0);
        assert_eq!(Lines::new("x\n").count(), 1);
    }

    #[test]
    fn message_ends_before_the_next_line_break() {
        let text = "a\r\nb\r\nc\r\n";
        assert_eq!(&text[..message_end(text, Some(3))], "a");
        assert_eq!(&text[..message_end(text, None)], "a\r\nb\r\nc");
        assert_eq!(message_end("a", None), 1);
    }
}
