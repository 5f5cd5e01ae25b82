//! Message headers: the date and time that open every message line.
//!
//! [`scan`] reads any header the app writes, in every platform and locale
//! layout, and returns its [`Shape`] (brackets, separators, which field is a
//! 4-digit year, 12- or 24-hour clock, seconds) apart from its values (a
//! [`Stamp`]). One export uses one shape; [`detect`] picks it from the first
//! header-like lines (the most frequent one), and from then on only lines of
//! exactly that shape start a message. A line that merely starts with a date
//! ("12/01/2024 was the deadline") never has the full shape, so it stays in
//! the message it continues.

use super::DateOrder;
use super::lines::Lines;
use super::text::{invisible_at, space_at};

/// Which field of the date has four digits (a year), if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wide {
    /// All fields have one or two digits; the year is two digits.
    None,
    /// `2018/06/13`: the year comes first.
    First,
    /// `13/06/2018`: the year comes last.
    Last,
}

/// How the hour is qualified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Clock {
    /// 24-hour clock.
    H24,
    /// 12-hour clock with a marker after the time (`PM`, `p. m.`); the value
    /// is the marker family (an index into [`SUFFIXES`]' families).
    Suffix(u8),
    /// 12-hour clock with a marker before the time (`午後9:25`, `오후 9:25`).
    Prefix(u8),
}

/// The text between the date and the time (`", "`, `" "`, `" klo "`), with
/// every space-like character written as a plain space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Joiner {
    len: u8,
    bytes: [u8; 7],
}

impl Joiner {
    fn push(&mut self, b: u8) -> Option<()> {
        *self.bytes.get_mut(usize::from(self.len))? = b;
        self.len += 1;
        Some(())
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The layout of a header, everything but its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// iOS: `[date, time] Name: text`; otherwise Android: `date, time - Name: text`.
    pub bracket: bool,
    /// `/`, `.` or `-`.
    pub date_sep: u8,
    /// A space follows each date separator (`2018. 6. 13.`).
    pub date_spaced: bool,
    /// The date ends with its separator (`2018. 6. 13.`).
    pub date_trailing: bool,
    /// Which field is a 4-digit year.
    pub wide: Wide,
    /// Between date and time.
    pub joiner: Joiner,
    /// `:` or `.` (Finnish `21.25.15`).
    pub time_sep: u8,
    /// The time has seconds.
    pub seconds: bool,
    /// 12- or 24-hour clock.
    pub clock: Clock,
}

impl Shape {
    /// A human description, e.g. `[d/m/yy, h:mm:ss a]` or `yyyy-m-d, h:mm a - `.
    pub(super) fn describe(&self, order: DateOrder) -> String {
        let year = if self.wide == Wide::None {
            "yy"
        } else {
            "yyyy"
        };
        let fields = match order {
            DateOrder::DayFirst => ["d", "m", year],
            DateOrder::MonthFirst => ["m", "d", year],
            DateOrder::YearFirst => [year, "m", "d"],
        };
        let sep = char::from(self.date_sep).to_string() + if self.date_spaced { " " } else { "" };
        let mut out = String::from(if self.bracket { "[" } else { "" });
        out.push_str(&fields.join(&sep));
        if self.date_trailing {
            out.push(char::from(self.date_sep));
        }
        out.push_str(self.joiner.as_str());
        let t = char::from(self.time_sep);
        let time = if self.seconds {
            format!("h{t}mm{t}ss")
        } else {
            format!("h{t}mm")
        };
        match self.clock {
            Clock::H24 => out.push_str(&time),
            Clock::Suffix(_) => out.push_str(&format!("{time} a")),
            Clock::Prefix(_) => out.push_str(&format!("a {time}")),
        }
        out.push_str(if self.bracket { "] " } else { " - " });
        out
    }
}

/// The values of a header: the three date fields as written (their order is
/// the file's [`DateOrder`]) and the time on a 24-hour clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub date: [u16; 3],
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// A recognised header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub shape: Shape,
    pub stamp: Stamp,
    /// Offset of the text after the header (`Name: text` or a notice).
    pub body: usize,
}

/// 12-hour markers written after the time: (marker, family, pm). A space in a
/// marker matches any space-like character. Longer markers come before their
/// prefixes.
const SUFFIXES: &[(&str, u8, bool)] = &[
    ("a. m.", 0, false),
    ("p. m.", 0, true),
    ("a.m.", 1, false),
    ("p.m.", 1, true),
    ("AM", 2, false),
    ("PM", 2, true),
    ("am", 3, false),
    ("pm", 3, true),
    ("A.M.", 4, false),
    ("P.M.", 4, true),
    ("ap.", 5, false),
    ("ip.", 5, true),
    ("π.μ.", 6, false),
    ("μ.μ.", 6, true),
    ("SA", 7, false),
    ("CH", 7, true),
];

/// The suffix family of the US English `AM`/`PM`.
pub(super) const US_MERIDIEM: u8 = 2;

/// 12-hour markers written before the time (Chinese, Japanese, Korean).
const PREFIXES: &[(&str, u8, bool)] = &[
    ("上午", 8, false),
    ("下午", 8, true),
    ("午前", 9, false),
    ("午後", 9, true),
    ("오전", 10, false),
    ("오후", 10, true),
];

/// The bytes markers of a table start with, to skip tables quickly.
const fn first_bytes(table: &[(&str, u8, bool)]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < table.len() {
        set[table[i].0.as_bytes()[0] as usize] = true;
        i += 1;
    }
    set
}

const SUFFIX_STARTS: [bool; 256] = first_bytes(SUFFIXES);
const PREFIX_STARTS: [bool; 256] = first_bytes(PREFIXES);

/// How many header-like lines [`detect`] looks at.
const DETECT_SAMPLE: usize = 64;

/// Reads a header at the start of `line`, in any layout.
pub(super) fn scan(line: &[u8]) -> Option<Header> {
    // Cheap rejection of most continuation lines.
    if !matches!(line.first(), Some(b'0'..=b'9' | b'[' | 0xE2 | 0xEF)) {
        return None;
    }
    let mut c = Cursor { s: line, i: 0 };
    c.skip_invisible();
    let bracket = c.eat(b'[');
    c.skip_invisible();
    let (date, date_sep, date_spaced, date_trailing, wide) = c.date()?;
    let joiner = c.joiner()?;
    let prefix = c.marker(PREFIXES, &PREFIX_STARTS);
    if prefix.is_some() {
        c.skip_blank();
    }
    let (hour, minute, second, time_sep, seconds) = c.time()?;
    let suffix = match prefix {
        Some(_) => None,
        None => c.suffix(),
    };
    let (clock, hour) = match prefix.or(suffix) {
        None if hour <= 23 => (Clock::H24, hour),
        Some((family, pm)) if hour <= 12 => {
            let clock = if prefix.is_some() {
                Clock::Prefix(family)
            } else {
                Clock::Suffix(family)
            };
            (clock, hour % 12 + if pm { 12 } else { 0 })
        }
        _ => return None,
    };
    c.terminator(bracket)?;
    let shape = Shape {
        bracket,
        date_sep,
        date_spaced,
        date_trailing,
        wide,
        joiner,
        time_sep,
        seconds,
        clock,
    };
    let stamp = Stamp {
        date,
        hour,
        minute,
        second,
    };
    Some(Header {
        shape,
        stamp,
        body: c.i,
    })
}

/// Reads a header of exactly `shape` at the start of `line`: the same as
/// `scan(line).filter(|header| header.shape == *shape)`. Lines without
/// invisible characters before the time, whose text between date and time
/// is the shape's with plain spaces and whose clock has no prefix marker,
/// are read without looking for what the shape cannot have; the others
/// by [`scan`].
pub(super) fn scan_shape(line: &[u8], shape: &Shape) -> Option<Header> {
    plain(line, shape).or_else(|| scan(line).filter(|header| header.shape == *shape))
}

/// [`scan`] for a line in the plain form [`scan_shape`] describes, with
/// the same steps after the date's first digit and after the time; `None`
/// when the line is not a header of `shape` in that form.
fn plain(line: &[u8], shape: &Shape) -> Option<Header> {
    if matches!(shape.clock, Clock::Prefix(_)) {
        return None;
    }
    let mut c = Cursor { s: line, i: 0 };
    if shape.bracket && !c.eat(b'[') {
        return None;
    }
    // A digit here is where `scan` starts the date: it is no invisible
    // character, nor a bracket.
    if !matches!(c.peek(), Some(b'0'..=b'9')) {
        return None;
    }
    let (date, date_sep, date_spaced, date_trailing, wide) = c.date()?;
    // The joiner as `Cursor::joiner` reads it when it is written with plain
    // spaces and a digit follows it (which ends the joiner and starts no
    // prefix marker).
    let joiner = shape.joiner.as_bytes();
    let rest = &line[c.i..];
    if !rest.starts_with(joiner) || !matches!(rest.get(joiner.len()), Some(b'0'..=b'9')) {
        return None;
    }
    c.i += joiner.len();
    let (hour, minute, second, time_sep, seconds) = c.time()?;
    let (clock, hour) = match c.suffix() {
        None if hour <= 23 => (Clock::H24, hour),
        Some((family, pm)) if hour <= 12 => {
            (Clock::Suffix(family), hour % 12 + if pm { 12 } else { 0 })
        }
        _ => return None,
    };
    c.terminator(shape.bracket)?;
    let found = Shape {
        bracket: shape.bracket,
        date_sep,
        date_spaced,
        date_trailing,
        wide,
        joiner: shape.joiner,
        time_sep,
        seconds,
        clock,
    };
    (found == *shape).then_some(Header {
        shape: found,
        stamp: Stamp {
            date,
            hour,
            minute,
            second,
        },
        body: c.i,
    })
}

/// The file's header shape: the most frequent among the first header-like
/// lines (the earliest wins a tie), or `None` when no line is a header.
pub(super) fn detect(text: &str) -> Option<Shape> {
    let mut seen: Vec<(Shape, usize)> = Vec::new();
    let headers = Lines::new(text).filter_map(|(start, end)| scan(&text.as_bytes()[start..end]));
    for header in headers.take(DETECT_SAMPLE) {
        match seen.iter_mut().find(|(shape, _)| *shape == header.shape) {
            Some((_, count)) => *count += 1,
            None => seen.push((header.shape, 1)),
        }
    }
    let best = seen.iter().map(|(_, count)| *count).max()?;
    seen.into_iter()
        .find(|(_, count)| *count == best)
        .map(|(shape, _)| shape)
}

struct Cursor<'s> {
    s: &'s [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn skip_invisible(&mut self) {
        loop {
            let n = invisible_at(self.s, self.i);
            if n == 0 {
                return;
            }
            self.i += n;
        }
    }

    /// Skips spaces and invisible characters.
    #[inline(always)]
    fn skip_blank(&mut self) {
        loop {
            let n = invisible_at(self.s, self.i).max(space_at(self.s, self.i));
            if n == 0 {
                return;
            }
            self.i += n;
        }
    }

    /// One to four digits: (value, digit count).
    #[inline(always)]
    fn number(&mut self) -> Option<(u16, u8)> {
        let start = self.i;
        let mut value: u16 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.i - start == 4 {
                return None;
            }
            value = value * 10 + u16::from(d - b'0');
            self.i += 1;
        }
        let width = (self.i - start) as u8;
        (width > 0).then_some((value, width))
    }

    /// `29/12/2025`, `12-29-25`, `2018/06/13`, `13.6.2018`, `2018. 6. 13.`
    #[inline(always)]
    fn date(&mut self) -> Option<([u16; 3], u8, bool, bool, Wide)> {
        let (a, wa) = self.number()?;
        let sep = self.peek().filter(|b| matches!(b, b'/' | b'.' | b'-'))?;
        self.i += 1;
        let spaced = self.eat(b' ');
        let (b, wb) = self.number()?;
        if !self.eat(sep) || (spaced && !self.eat(b' ')) {
            return None;
        }
        let (c, wc) = self.number()?;
        let trailing = self.eat(sep);
        let wide = match (wa, wb, wc) {
            (4, 1..=2, 1..=2) => Wide::First,
            (1..=2, 1..=2, 4) => Wide::Last,
            (1..=2, 1..=2, 2) => Wide::None,
            _ => return None,
        };
        Some(([a, b, c], sep, spaced, trailing, wide))
    }

    /// Commas, spaces and ASCII letters between date and time.
    fn joiner(&mut self) -> Option<Joiner> {
        let mut joiner = Joiner::default();
        loop {
            self.skip_invisible();
            let space = space_at(self.s, self.i);
            let b = match self.peek() {
                _ if space > 0 => b' ',
                Some(b @ (b',' | b'a'..=b'z' | b'A'..=b'Z')) => b,
                _ => break,
            };
            joiner.push(b)?;
            self.i += space.max(1);
        }
        (joiner.len > 0).then_some(joiner)
    }

    /// `22:30`, `5:46`, `21.25.15`: (hour, minute, second, separator, has seconds).
    #[inline(always)]
    fn time(&mut self) -> Option<(u8, u8, u8, u8, bool)> {
        let (hour, wh) = self.number()?;
        let sep = self.peek().filter(|b| matches!(b, b':' | b'.'))?;
        self.i += 1;
        let (minute, wm) = self.number()?;
        let mut second = 0;
        let seconds =
            self.peek() == Some(sep) && matches!(self.s.get(self.i + 1), Some(b'0'..=b'9'));
        if seconds {
            self.i += 1;
            let (value, ws) = self.number()?;
            if ws != 2 {
                return None;
            }
            second = value;
        }
        if wh > 2 || wm != 2 || minute > 59 || second > 59 {
            return None;
        }
        Some((hour as u8, minute as u8, second as u8, sep, seconds))
    }

    /// An optional 12-hour marker after the time, after optional spaces.
    #[inline(always)]
    fn suffix(&mut self) -> Option<(u8, bool)> {
        let before = self.i;
        self.skip_blank();
        let found = self.marker(SUFFIXES, &SUFFIX_STARTS);
        if found.is_none() {
            self.i = before;
        }
        found
    }

    /// A marker of `table` (whose first bytes are `starts`) at the cursor: (family, pm).
    #[inline(always)]
    fn marker(&mut self, table: &[(&str, u8, bool)], starts: &[bool; 256]) -> Option<(u8, bool)> {
        if !starts[usize::from(self.peek()?)] {
            return None;
        }
        table.iter().find_map(|&(marker, family, pm)| {
            let end = match_marker(self.s, self.i, marker)?;
            self.i = end;
            Some((family, pm))
        })
    }

    /// `] ` (iOS) or ` - ` (Android), then the body or the end of the line.
    #[inline(always)]
    fn terminator(&mut self, bracket: bool) -> Option<()> {
        self.skip_blank();
        if !self.eat(if bracket { b']' } else { b'-' }) {
            return None;
        }
        match space_at(self.s, self.i) {
            0 if self.i < self.s.len() => None,
            n => {
                self.i += n;
                Some(())
            }
        }
    }
}

/// Where `marker` ends if it starts at `i`; a space in `marker` matches any
/// space-like character.
fn match_marker(s: &[u8], mut i: usize, marker: &str) -> Option<usize> {
    for &m in marker.as_bytes() {
        if m == b' ' {
            let n = space_at(s, i);
            if n == 0 {
                return None;
            }
            i += n;
        } else {
            if s.get(i) != Some(&m) {
                return None;
            }
            i += 1;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(line: &str) -> Header {
        scan(line.as_bytes()).unwrap_or_else(|| panic!("not a header: {line:?}"))
    }

    fn body(line: &str) -> &str {
        &line[header(line).body..]
    }

    #[test]
    fn reads_every_layout() {
        // (line, date fields, time, layout described)
        type Case = (&'static str, [u16; 3], (u8, u8, u8), &'static str);
        let cases: &[Case] = &[
            (
                "12/29/25, 10:30 PM - Bob: hi",
                [12, 29, 25],
                (22, 30, 0),
                "m/d/yy, h:mm a - ",
            ),
            (
                "29/12/2025, 22:30 - Bob: hi",
                [29, 12, 2025],
                (22, 30, 0),
                "d/m/yyyy, h:mm - ",
            ),
            (
                "[29/12/25, 22:30:15] Bob: hi",
                [29, 12, 25],
                (22, 30, 15),
                "[d/m/yy, h:mm:ss] ",
            ),
            (
                "2023-12-20, 5:46 p.m. - Bob: hi",
                [2023, 12, 20],
                (17, 46, 0),
                "yyyy-m-d, h:mm a - ",
            ),
            (
                "13.06.18, 21:25 - Bob: hi",
                [13, 6, 18],
                (21, 25, 0),
                "d.m.yy, h:mm - ",
            ),
            (
                "13.6.2018 klo 21.25.15 - Bob: hi",
                [13, 6, 2018],
                (21, 25, 15),
                "d.m.yyyy klo h.mm.ss - ",
            ),
            (
                "[2018/06/13, 21:25:15] Bob: hi",
                [2018, 6, 13],
                (21, 25, 15),
                "[yyyy/m/d, h:mm:ss] ",
            ),
            (
                "12/29/25 10:30 PM - Bob: hi",
                [12, 29, 25],
                (22, 30, 0),
                "m/d/yy h:mm a - ",
            ),
            (
                "29/12/2025, 12:05 a.\u{a0}m. - Bob: hi",
                [29, 12, 2025],
                (0, 5, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "[12/29/25, 10:30:15\u{202f}AM] Bob: hi",
                [12, 29, 25],
                (10, 30, 15),
                "[m/d/yy, h:mm:ss a] ",
            ),
            (
                "2018. 6. 13. 오후 9:25 - Bob: hi",
                [2018, 6, 13],
                (21, 25, 0),
                "yyyy. m. d. a h:mm - ",
            ),
            (
                "2018/6/13 午前0:25 - Bob: hi",
                [2018, 6, 13],
                (0, 25, 0),
                "yyyy/m/d a h:mm - ",
            ),
            (
                "\u{200e}[29.12.25, 22:30:15] Bob: hi",
                [29, 12, 25],
                (22, 30, 15),
                "[d.m.yy, h:mm:ss] ",
            ),
            (
                "29-12-2025 22:30 - Bob: hi",
                [29, 12, 2025],
                (22, 30, 0),
                "d-m-yyyy h:mm - ",
            ),
        ];
        for &(line, date, (hour, minute, second), layout) in cases {
            let h = header(line);
            assert_eq!(
                h.stamp,
                Stamp {
                    date,
                    hour,
                    minute,
                    second
                },
                "{line}"
            );
            let order = match h.shape.wide {
                Wide::First => DateOrder::YearFirst,
                _ if date[0] == 12 => DateOrder::MonthFirst,
                _ => DateOrder::DayFirst,
            };
            assert_eq!(h.shape.describe(order), layout, "{line}");
            assert_eq!(body(line), "Bob: hi", "{line}");
        }
    }

    #[test]
    fn rejects_date_like_text() {
        for line in [
            "12/01/2024 was the deadline",
            "29/12/2025, 22:30 meeting in the lobby",
            "29/12/2025, 22:30",
            "2025, 22:30 - x",
            "1/2/3, 10:00 - x",
            "29/12/2025, 24:00 - x",
            "29/12/2025, 13:00 PM - x",
            "29/12/2025, 10:60 - x",
            "29/12/20255, 10:00 - x",
            "[29/12/2025, 10:00 - x",
            "29/12/2025, 10:00 -x",
            "29/12/2025,xxxxxxxx 10:00 - x",
            "",
            "[",
            "\u{200e}",
        ] {
            assert_eq!(scan(line.as_bytes()), None, "{line:?}");
        }
    }

    #[test]
    fn header_without_text_is_a_header() {
        assert_eq!(body("29/12/2025, 22:30 - "), "");
        assert_eq!(body("29/12/2025, 22:30 -"), "");
    }

    #[test]
    fn scan_shape_reads_as_scan_filtered_by_shape() {
        let headers = [
            "12/29/25, 10:30 PM - Bob: hi",
            "29/12/2025, 22:30 - Bob: hi",
            "[29/12/25, 22:30:15] Bob: hi",
            "2023-12-20, 5:46 p.m. - Bob: hi",
            "13.6.2018 klo 21.25.15 - Bob: hi",
            "12/29/25 10:30 PM - Bob: hi",
            "29/12/2025, 12:05 a.\u{a0}m. - Bob: hi",
            "[12/29/25, 10:30:15\u{202f}AM] Bob: hi",
            "2018. 6. 13. 오후 9:25 - Bob: hi",
            "2018/6/13 午前0:25 - Bob: hi",
            "\u{200e}[29.12.25, 22:30:15] Bob: hi",
            "29-12-2025 22:30 - Bob: hi",
        ];
        let shapes: Vec<Shape> = headers.iter().map(|line| header(line).shape).collect();
        let mut lines: Vec<String> = headers.iter().map(|line| line.to_string()).collect();
        for line in headers {
            for (from, to) in [
                (", ", ",\u{a0}"),
                (", ", ",  "),
                (", ", " "),
                (" ", "\u{200e} "),
                ("1", "\u{200e}1"),
                ("PM", "pm"),
                ("PM", "\u{202f}PM"),
                (" - ", "  - "),
                (" - ", " -"),
                (":", "."),
                ("10:30", "10:30:15"),
                ("22:30", "24:30"),
                ("22:30:15", "22:30"),
                ("12/", "112/"),
                ("[", ""),
                ("[", "[\u{200e}"),
                ("Bob: hi", ""),
            ] {
                lines.push(line.replacen(from, to, 1));
            }
        }
        lines.extend(
            [
                "",
                "[",
                "1",
                "12/01/2024 was the deadline",
                "1/2/25, 10:00 -x",
            ]
            .map(String::from),
        );
        for line in &lines {
            for shape in &shapes {
                assert_eq!(
                    scan_shape(line.as_bytes(), shape),
                    scan(line.as_bytes()).filter(|header| header.shape == *shape),
                    "{line:?} in {shape:?}"
                );
            }
        }
    }

    #[test]
    fn detect_takes_the_majority_shape() {
        let text = "noise\n1/2/25, 10:00 - A: x\n[1/2/25, 10:00:00] B: y\n1/2/25, 10:01 - A: z\n";
        let shape = detect(text).unwrap();
        assert!(!shape.bracket);
        assert_eq!(detect("no header here\n12/01/2024 was the deadline"), None);
    }
}
