//! Byte-level helpers shared by the parser: the invisible characters exports
//! scatter around names and times (defined in [`crate::invisible`], which
//! rendering and mapping share), space-likes, cleaning text without copying
//! it when it is already clean, and a fast non-cryptographic hash.

use std::borrow::Cow;
use std::hash::{BuildHasherDefault, Hasher};

use memchr::{memchr, memchr3};

pub(super) use crate::invisible::invisible_at;

/// Left-to-right mark (U+200E), which iOS writes before its own notices and
/// attachment markers.
pub(super) const LRM: &str = "\u{200e}";

/// Length in bytes of the space-like character starting at `i`, or 0: a
/// space, NBSP (U+00A0), narrow NBSP (U+202F) or thin space (U+2009).
#[inline]
pub(super) fn space_at(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(b' ') => 1,
        Some(0xC2) if s.get(i + 1) == Some(&0xA0) => 2,
        Some(0xE2) if matches!(s.get(i + 1..i + 3), Some([0x80, 0xAF | 0x89])) => 3,
        _ => 0,
    }
}

/// `s` without invisible formatting characters and with CRLF turned into LF;
/// borrowed when there was nothing to remove.
pub(super) fn clean(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(mut at) = next_dirty(bytes, 0) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    loop {
        out.push_str(&s[copied..at]);
        copied = at + dirty_len(bytes, at);
        match next_dirty(bytes, copied) {
            Some(next) => at = next,
            None => break,
        }
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// A name as it should be shown: cleaned and trimmed of white space.
pub(super) fn clean_name(s: &str) -> Cow<'_, str> {
    match clean(s) {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// The first position at or after `from` holding something [`clean`] removes.
fn next_dirty(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(offset) = memchr3(0xE2, 0xEF, b'\r', &bytes[i..]) {
        let at = i + offset;
        if dirty_len(bytes, at) > 0 {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// How many bytes [`clean`] removes at `at` (a CR is removed only before LF).
fn dirty_len(bytes: &[u8], at: usize) -> usize {
    if bytes[at] == b'\r' {
        usize::from(bytes.get(at + 1) == Some(&b'\n'))
    } else {
        invisible_at(bytes, at)
    }
}

/// Re-borrows `part`, a sub-slice of `whole`, with `whole`'s lifetime when
/// `whole` is borrowed; copies it otherwise.
pub(super) fn sub_cow<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    if let Cow::Borrowed(s) = whole {
        let start = (part.as_ptr() as usize).wrapping_sub(s.as_ptr() as usize);
        if let Some(slice) = s.get(start..start.wrapping_add(part.len())) {
            return Cow::Borrowed(slice);
        }
    }
    Cow::Owned(part.to_owned())
}

/// The first line of `s` (without its line break).
pub(super) fn first_line(s: &str) -> &str {
    match memchr(b'\n', s.as_bytes()) {
        Some(end) => &s[..end],
        None => s,
    }
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Folds `bytes` into the running FxHash-style hash `h`: four independent
/// lanes of 8 bytes per 32-byte step (so long texts do not wait on one
/// multiply chain), then 8 bytes per step, then the length.
pub(super) fn fx_fold(h: u64, bytes: &[u8]) -> u64 {
    let step = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    let mut blocks = bytes.chunks_exact(32);
    let mut lanes = [h, h ^ 1, h ^ 2, h ^ 3];
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane = step(*lane, word_at(word));
        }
    }
    let mut h = lanes.into_iter().fold(0, step);
    let mut words = blocks.remainder().chunks_exact(8);
    for word in &mut words {
        h = step(h, word_at(word));
    }
    if !words.remainder().is_empty() {
        h = step(h, word_at(words.remainder()));
    }
    step(h, bytes.len() as u64)
}

/// Up to 8 bytes as a little-endian word, zero-padded.
fn word_at(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// A fast hasher for the parser's small in-memory tables (names, markers).
/// Not resistant to crafted collisions; the tables hold one file's names.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fx_fold(self.0, bytes);
    }

    fn write_u8(&mut self, n: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(FX_SEED);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(FX_SEED);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s for `HashMap`s.
pub(super) type FxBuild = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_borrows_clean_text_and_strips_marks() {
        assert!(matches!(clean("plain ’quote’ • text"), Cow::Borrowed(_)));
        assert_eq!(
            clean("\u{feff}a\u{200e}b\u{202a}c\u{202c}\u{2066}d\u{2069}\u{200f}"),
            "abcd"
        );
        assert_eq!(clean("one\r\ntwo\rthree"), "one\ntwo\rthree");
        assert!(matches!(clean("one\rtwo"), Cow::Borrowed(_)));
    }

    #[test]
    fn clean_name_trims_spaces_and_marks() {
        assert_eq!(
            clean_name("\u{202a}+44 7700 900123\u{202c} "),
            "+44 7700 900123"
        );
        assert!(matches!(clean_name(" Bob "), Cow::Borrowed("Bob")));
    }

    #[test]
    fn space_and_invisible_widths() {
        let s = "a\u{a0}\u{202f}\u{2009}\u{200e}".as_bytes();
        assert_eq!(space_at(s, 0), 0);
        assert_eq!(space_at(s, 1), 2);
        assert_eq!(space_at(s, 3), 3);
        assert_eq!(space_at(s, 6), 3);
        assert_eq!(invisible_at(s, 9), 3);
        assert_eq!(invisible_at(s, 10), 0);
    }

    #[test]
    fn sub_cow_borrows_from_borrowed_and_copies_from_owned() {
        let text = String::from("hello world");
        let whole = Cow::Borrowed(text.as_str());
        assert!(matches!(
            sub_cow(&whole, &whole[6..]),
            Cow::Borrowed("world")
        ));
        let owned: Cow<'_, str> = Cow::Owned("hello".into());
        assert!(matches!(sub_cow(&owned, &owned[1..3]), Cow::Owned(s) if s == "el"));
    }

    #[test]
    fn fx_fold_depends_on_every_byte_and_length() {
        assert_ne!(fx_fold(0, b"abcdefghi"), fx_fold(0, b"abcdefghj"));
        assert_ne!(fx_fold(0, b"a"), fx_fold(0, b"a\0"));
        let long = [7u8; 100];
        for i in 0..long.len() {
            let mut changed = long;
            changed[i] = 8;
            assert_ne!(fx_fold(0, &long), fx_fold(0, &changed), "byte {i}");
        }
        assert_ne!(fx_fold(1, &long), fx_fold(2, &long));
    }
}
