//! Synthetic WhatsApp exports for `archiver bench` and for the export
//! parser's tests (which include this file): realistic and deterministic,
//! of any size, without shipping large fixtures. It is no part of the
//! library, and depends on nothing but `std`.

use std::fmt::Write;

/// Authors of the generated group; two are unsaved numbers, which Android
/// wraps in U+202A … U+202C.
const AUTHORS: &[&str] = &[
    "Alice Johnson",
    "Bob",
    "Carol Smith",
    "Dave (Sales)",
    "\u{202a}+44 7700 900123\u{202c}",
    "\u{202a}+1 415-555-0132\u{202c}",
];

const WORDS: &[&str] = &[
    "the",
    "a",
    "we",
    "you",
    "I",
    "to",
    "and",
    "of",
    "in",
    "for",
    "is",
    "on",
    "that",
    "it",
    "with",
    "can",
    "will",
    "please",
    "send",
    "call",
    "meeting",
    "tomorrow",
    "today",
    "client",
    "contract",
    "price",
    "quote",
    "order",
    "shipment",
    "invoice",
    "deadline",
    "update",
    "thanks",
    "ok",
    "sure",
    "check",
    "review",
    "draft",
    "report",
    "numbers",
    "budget",
    "approved",
    "signed",
    "delivery",
    "Monday",
    "Friday",
    "office",
    "team",
    "lunch",
    "discount",
    "margin",
    "forecast",
    "pipeline",
    "renewal",
    "partner",
    "legal",
    "compliance",
    "question",
    "agenda",
    "slides",
    "Zürich",
    "São",
    "Paulo",
    "naïve",
    "café",
    "👍",
    "😂",
    "🙏",
    "🎉",
    "https://example.com/d/4821",
];

/// A deterministic synthetic Android export (US English layout, `12/29/25,
/// 10:30\u{202f}PM - Name: text`) of at least `target_bytes` bytes: a group
/// chat of six authors (two of them phone numbers) whose messages are mostly
/// one line of text, with multi-line messages (some continuation lines start
/// with a date), attachments with and without captions, omitted media,
/// deleted and edited messages, missed calls and group notices (one with a
/// colon in a quoted subject). The same `seed` gives the same text.
pub fn generate_android_export(target_bytes: usize, seed: u64) -> String {
    let mut out = String::with_capacity(target_bytes + 1024);
    let mut rng = SplitMix64(seed);
    // Minutes since 2020-01-01 00:00, starting at 08:00.
    let mut minute: i64 = 8 * 60;
    header(&mut out, minute);
    out.push_str(
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, \
         can read or listen to them. Tap to learn more.\n",
    );
    header(&mut out, minute);
    out.push_str("Alice Johnson created group \"Sales EMEA\"\n");
    let mut media_counter = 0u32;
    while out.len() < target_bytes {
        minute += [0, 0, 1, 1, 1, 2, 3, 5, 8, 30][rng.below(10)];
        header(&mut out, minute);
        let author = AUTHORS[rng.below(AUTHORS.len())];
        let roll = rng.below(1000);
        if roll < 8 {
            notice(&mut out, &mut rng, author);
            continue;
        }
        out.push_str(author);
        out.push_str(": ");
        match roll {
            8..48 => {
                media_counter += 1;
                attachment(&mut out, &mut rng, minute, media_counter);
            }
            48..78 => out.push_str("<Media omitted>"),
            78..86 => out.push_str("This message was deleted"),
            86..92 => out.push_str(if rng.below(2) == 0 {
                "Missed voice call"
            } else {
                "Missed video call"
            }),
            92..112 => {
                sentence(&mut out, &mut rng);
                out.push_str(" <This message was edited>");
            }
            112..232 => multi_line(&mut out, &mut rng),
            _ => sentence(&mut out, &mut rng),
        }
        out.push('\n');
    }
    out
}

/// `M/D/YY, H:MM\u{202f}AM - ` for minutes since 2020-01-01.
fn header(out: &mut String, minute: i64) {
    let (year, month, day) = civil_from_days(minute.div_euclid(1440) + 18_262);
    let of_day = minute.rem_euclid(1440);
    let (hour, min) = (of_day / 60, of_day % 60);
    let (hour12, meridiem) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    let _ = write!(
        out,
        "{month}/{day}/{:02}, {hour12}:{min:02}\u{202f}{meridiem} - ",
        year % 100
    );
}

fn notice(out: &mut String, rng: &mut SplitMix64, author: &str) {
    let other = AUTHORS[rng.below(AUTHORS.len())];
    let _ = match rng.below(4) {
        0 => writeln!(out, "{author} added {other}"),
        1 => writeln!(out, "{author} left"),
        2 => writeln!(
            out,
            "{author} changed the subject from \"Q{0}: plans\" to \"Q{0} review\"",
            rng.below(4) + 1
        ),
        _ => writeln!(out, "{author} changed this group's icon"),
    };
}

fn attachment(out: &mut String, rng: &mut SplitMix64, minute: i64, counter: u32) {
    let (year, month, day) = civil_from_days(minute.div_euclid(1440) + 18_262);
    let (prefix, ext) = [
        ("IMG", "jpg"),
        ("IMG", "jpg"),
        ("VID", "mp4"),
        ("PTT", "opus"),
        ("DOC", "pdf"),
    ][rng.below(5)];
    let _ = write!(
        out,
        "{prefix}-{year}{month:02}{day:02}-WA{:04}.{ext} (file attached)",
        counter % 10_000
    );
    if rng.below(2) == 0 {
        out.push('\n');
        sentence(out, rng);
    }
}

fn multi_line(out: &mut String, rng: &mut SplitMix64) {
    let lines = 2 + rng.below(3);
    for line in 0..lines {
        if line > 0 {
            out.push('\n');
        }
        match rng.below(12) {
            0 if line > 0 => out.push_str("12/01/2024 was the deadline"),
            1 if line > 0 => out.push_str("29/12/2025, 22:30 meeting in the lobby"),
            2 if line > 0 => {}
            _ => sentence(out, rng),
        }
    }
}

/// A sentence of 1 to 50 words, mostly short.
fn sentence(out: &mut String, rng: &mut SplitMix64) {
    let words = 1 + rng.below(10) + rng.below(8) * rng.below(6);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.below(WORDS.len())]);
    }
    out.push_str(["", ".", "!", "?", ".", ""][rng.below(6)]);
}

/// (year, month, day) of days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A small deterministic random number generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = generate_android_export(50_000, 7);
        assert!(a.len() >= 50_000 && a.len() < 51_000);
        assert_eq!(a, generate_android_export(50_000, 7));
        assert_ne!(a, generate_android_export(50_000, 8));
        assert!(
            a.starts_with("1/1/20, 8:00\u{202f}AM - Messages and calls are end-to-end encrypted.")
        );
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_262), (2020, 1, 1));
        assert_eq!(civil_from_days(18_262 + 59), (2020, 2, 29));
    }
}
