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
//!
//! The layouts read, besides the common ones in the parser's module doc:
//!
//! ```text
//! 18/06/15, 9:25:03 PM: Bob: text          older iOS: no brackets, a colon after the time
//! 18/03/2022 à 14:56 - Bob: text           a connector word between date and time
//! [14:56:01, 3/18/22] Bob: text            the time before the date
//! 19:23, 28 Aug 2013 - Bob: text           a month name (`d MMM yyyy`, or `MMM d, yyyy` after the time)
//! ٢٩/١٢/٢٠٢٥، ١٠:٣٠ م - Bob: text          Eastern Arabic or Persian digits, Arabic comma and AM/PM
//! 29/12/2025, 10:30 in the evening - Bob   a day period instead of AM/PM
//! [R4/03/18 14:56:01] Bob: text            a Japanese era year (Reiwa 4 = 2022; H for Heisei)
//! 18/3/2565 14:56 - Bob: text              a Thai Buddhist year (2565 BE = 2022; see `dates`)
//! ```
//!
//! Day periods read like AM/PM (`morning` AM; `afternoon`, `evening` PM),
//! except `at night`, which is PM from 6 to 11 and AM from 12 to 5. Eastern
//! Arabic (U+0660–U+0669) and Persian (U+06F0–U+06F9) digits read as digits
//! anywhere in a header, and invisible marks may sit around every field.
//! Month names, AM/PM markers and day periods are tables: one row per
//! language.

use super::DateOrder;
use super::lines::Lines;
use super::text::{invisible_at, space_at};
use Period::{Am, Night, Pm};

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

/// What closes the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// iOS: `[date, time] Name: text`.
    Bracket,
    /// Android: `date, time - Name: text`.
    Dash,
    /// Older iOS: `date, time: Name: text`.
    Colon,
}

/// The text between the date and the time (`", "`, `" "`, `" klo "`,
/// `" à "`, `"، "`), with every space-like character written as a plain
/// space.
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
    /// What closes the header; [`End::Bracket`] also opens it with `[`.
    pub end: End,
    /// `/`, `.` or `-`; a space when the month is a name.
    pub date_sep: u8,
    /// A space follows each date separator (`2018. 6. 13.`).
    pub date_spaced: bool,
    /// The date ends with its separator (`2018. 6. 13.`).
    pub date_trailing: bool,
    /// Which field is a 4-digit year.
    pub wide: Wide,
    /// The month is a name, so the order is known: `28 Aug 2013` day
    /// first, `Aug 28, 2013` month first.
    pub named: Option<DateOrder>,
    /// The year is a Japanese era year (`R4/03/18`), read as Gregorian.
    pub era: bool,
    /// The time comes before the date (`[14:56:01, 3/18/22]`).
    pub time_first: bool,
    /// Between date and time (or time and date).
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
        let year = match self.wide {
            _ if self.era => "Gy",
            Wide::None => "yy",
            _ => "yyyy",
        };
        let date = match self.named {
            Some(DateOrder::MonthFirst) => format!("MMM d, {year}"),
            Some(_) => format!("d MMM {year}"),
            None => {
                let fields = match order {
                    DateOrder::DayFirst => ["d", "m", year],
                    DateOrder::MonthFirst => ["m", "d", year],
                    DateOrder::YearFirst => [year, "m", "d"],
                };
                let sep =
                    char::from(self.date_sep).to_string() + if self.date_spaced { " " } else { "" };
                let mut date = fields.join(&sep);
                if self.date_trailing {
                    date.push(char::from(self.date_sep));
                }
                date
            }
        };
        let t = char::from(self.time_sep);
        let time = if self.seconds {
            format!("h{t}mm{t}ss")
        } else {
            format!("h{t}mm")
        };
        let time = match self.clock {
            Clock::H24 => time,
            Clock::Suffix(_) => format!("{time} a"),
            Clock::Prefix(_) => format!("a {time}"),
        };
        let (first, second) = if self.time_first {
            (time, date)
        } else {
            (date, time)
        };
        let mut out = String::from(if self.end == End::Bracket { "[" } else { "" });
        out.push_str(&first);
        out.push_str(self.joiner.as_str());
        out.push_str(&second);
        out.push_str(match self.end {
            End::Bracket => "] ",
            End::Dash => " - ",
            End::Colon => ": ",
        });
        out
    }
}

/// Every layout family [`scan`] reads, for the error on a file without
/// headers.
pub(super) const KNOWN_LAYOUTS: &[&str] = &[
    "12/29/25, 10:30 PM - Name: text",
    "29/12/2025, 22:30 - Name: text",
    "[29/12/25, 22:30:15] Name: text",
    "2023-12-20, 5:46 p.m. - Name: text",
    "13.6.2018 klo 21.25.15 - Name: text",
    "2018. 6. 13. 오후 9:25 - Name: text",
    "18/06/15, 9:25:03 PM: Name: text",
    "18/03/2022 à 14:56 - Name: text",
    "[14:56:01, 3/18/22] Name: text",
    "19:23, 28 Aug 2013 - Name: text",
    "٢٩/١٢/٢٠٢٥، ١٠:٣٠ م - Name: text",
    "29/12/2025, 10:30 in the evening - Name: text",
];

/// How many lines the error on a file without headers shows.
const TRIED_LINES: usize = 3;
/// How many characters of each it shows.
const TRIED_CHARS: usize = 48;

/// The first non-empty lines of a file without headers, for its error: each
/// with its line number and its layout only (letters as `x`, digits as `9`,
/// invisible marks and special spaces escaped), never its content.
pub(super) fn tried_lines(text: &str) -> String {
    let lines = Lines::new(text)
        .enumerate()
        .filter(|(_, (start, end))| start < end)
        .take(TRIED_LINES);
    let mut out = Vec::new();
    for (number, (start, end)) in lines {
        let mut masked = String::new();
        for c in text[start..end].chars().take(TRIED_CHARS) {
            match c {
                _ if c.is_alphabetic() => masked.push('x'),
                _ if c.is_numeric() => masked.push('9'),
                ' ' => masked.push(' '),
                _ if c.is_ascii_punctuation() => masked.push(c),
                '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{a0}'
                | '\u{202f}'
                | '\u{2009}'
                | '\u{60c}' => masked.extend(c.escape_unicode()),
                _ => masked.push('·'),
            }
        }
        out.push(format!("line {}: \"{masked}\"", number + 1));
    }
    if out.is_empty() {
        "none (the file is empty)".to_owned()
    } else {
        out.join(", ")
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
    /// The hour was 13 to 23 with a 12-hour marker, which no phone writes;
    /// the stamp holds it as written, on a 24-hour clock.
    pub impossible_hour: bool,
}

/// A line as [`scan_line`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scanned {
    /// A header of the file's shape.
    Header(Header),
    /// A header of another shape.
    Other(Header),
    /// No header.
    None,
}

/// Reads a line of a file whose headers have `shape`: [`scan_shape`], and
/// whether a line that is no header of the shape is one of another shape.
pub(super) fn scan_line(line: &[u8], shape: &Shape) -> Scanned {
    if let Some(header) = plain(line, shape) {
        return Scanned::Header(header);
    }
    match scan(line) {
        Some(header) if header.shape == *shape => Scanned::Header(header),
        Some(header) => Scanned::Other(header),
        None => Scanned::None,
    }
}

/// The hour on a 24-hour clock and whether it was impossible: an hour of
/// 13 to 23 with a 12-hour marker is taken as written.
fn qualify(hour: u8, period: Period) -> Option<(u8, bool)> {
    match period.hour24(hour) {
        Some(hour) => Some((hour, false)),
        None if hour <= 23 => Some((hour, true)),
        None => None,
    }
}

/// What a 12-hour marker says about the hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Period {
    /// Before noon: 12 is midnight.
    Am,
    /// After noon: 12 is noon.
    Pm,
    /// At night: 6 to 11 are evening hours, 12 to 5 after midnight.
    Night,
}

impl Period {
    /// The hour on a 24-hour clock, if `hour` is one of a 12-hour clock.
    fn hour24(self, hour: u8) -> Option<u8> {
        if hour > 12 {
            return None;
        }
        Some(match self {
            Period::Am => hour % 12,
            Period::Pm => hour % 12 + 12,
            Period::Night if (6..12).contains(&hour) => hour + 12,
            Period::Night => hour % 12,
        })
    }
}

/// 12-hour markers written after the time: (marker, family, period). A
/// space in a marker matches any space-like character. Longer markers come
/// before their prefixes.
const SUFFIXES: &[(&str, u8, Period)] = &[
    ("a. m.", 0, Am),
    ("p. m.", 0, Pm),
    ("a.m.", 1, Am),
    ("p.m.", 1, Pm),
    ("AM", 2, Am),
    ("PM", 2, Pm),
    ("am", 3, Am),
    ("pm", 3, Pm),
    ("A.M.", 4, Am),
    ("P.M.", 4, Pm),
    ("ap.", 5, Am),
    ("ip.", 5, Pm),
    ("π.μ.", 6, Am),
    ("μ.μ.", 6, Pm),
    ("SA", 7, Am),
    ("CH", 7, Pm),
    // Arabic.
    ("ص", 11, Am),
    ("م", 11, Pm),
    // Persian.
    ("ق.ظ.", 12, Am),
    ("ب.ظ.", 12, Pm),
    ("ق.ظ", 12, Am),
    ("ب.ظ", 12, Pm),
    // Day periods, one family per language.
    ("in the morning", 13, Am),
    ("in the afternoon", 13, Pm),
    ("in the evening", 13, Pm),
    ("at night", 13, Night),
    ("morgens", 14, Am),
    ("vormittags", 14, Am),
    ("nachmittags", 14, Pm),
    ("abends", 14, Pm),
    ("nachts", 14, Night),
    ("du matin", 15, Am),
    ("de l’après-midi", 15, Pm),
    ("de l'après-midi", 15, Pm),
    ("du soir", 15, Pm),
    ("de la nuit", 15, Night),
    ("de la mañana", 16, Am),
    ("de la tarde", 16, Pm),
    ("de la noche", 16, Night),
    ("de la madrugada", 16, Am),
    ("da manhã", 17, Am),
    ("da tarde", 17, Pm),
    ("da noite", 17, Night),
    ("da madrugada", 17, Am),
    ("di mattina", 18, Am),
    ("del mattino", 18, Am),
    ("di pomeriggio", 18, Pm),
    ("del pomeriggio", 18, Pm),
    ("di sera", 18, Pm),
    ("della sera", 18, Pm),
    ("di notte", 18, Night),
    ("’s ochtends", 19, Am),
    ("’s middags", 19, Pm),
    ("’s avonds", 19, Pm),
    ("’s nachts", 19, Night),
];

/// The suffix family of the US English `AM`/`PM`.
pub(super) const US_MERIDIEM: u8 = 2;

/// 12-hour markers written before the time (Chinese, Japanese, Korean).
const PREFIXES: &[(&str, u8, Period)] = &[
    ("上午", 8, Am),
    ("下午", 8, Pm),
    ("午前", 9, Am),
    ("午後", 9, Pm),
    ("오전", 10, Am),
    ("오후", 10, Pm),
];

/// The bytes markers of a table start with, to skip tables quickly.
const fn first_bytes(table: &[(&str, u8, Period)]) -> [bool; 256] {
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

/// Month names, one row per language and form (full, abbreviated); matched
/// without regard to ASCII case, with an optional full stop after them.
const MONTH_NAMES: &[[&str; 12]] = &[
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ],
    [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    [
        "januar",
        "februar",
        "märz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
    ],
    [
        "jan", "feb", "mär", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "dez",
    ],
    [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    [
        "janv", "févr", "mars", "avr", "mai", "juin", "juil", "août", "sept", "oct", "nov", "déc",
    ],
    [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ],
    [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    [
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez",
    ],
    [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
    [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ],
    [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
    [
        "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ],
];

/// The month (1–12) a name stands for.
fn month_number(name: &[u8]) -> Option<u16> {
    MONTH_NAMES.iter().find_map(|row| {
        row.iter()
            .position(|month| month.as_bytes().eq_ignore_ascii_case(name))
            .map(|index| index as u16 + 1)
    })
}

/// How many header-like lines [`detect`] looks at.
const DETECT_SAMPLE: usize = 64;

/// A date as read: fields in written order and how it is written.
#[derive(Clone, Copy, Debug)]
struct DateParts {
    fields: [u16; 3],
    sep: u8,
    spaced: bool,
    trailing: bool,
    wide: Wide,
    named: Option<DateOrder>,
    era: bool,
}

/// A time as read: the hour as written (before any 12-hour marker).
#[derive(Clone, Copy, Debug)]
struct TimeParts {
    hour: u8,
    minute: u8,
    second: u8,
    sep: u8,
    seconds: bool,
}

/// Reads a header at the start of `line`, in any layout.
pub(super) fn scan(line: &[u8]) -> Option<Header> {
    // Cheap rejection of most continuation lines: a header starts with a
    // digit (ASCII, Eastern Arabic or Persian), a Japanese era letter, a
    // bracket or an invisible mark.
    if !matches!(
        line.first(),
        Some(b'0'..=b'9' | b'[' | 0xE2 | 0xEF | 0xD9 | 0xDB | b'R' | b'H')
    ) {
        return None;
    }
    let mut c = Cursor { s: line, i: 0 };
    c.skip_invisible();
    let bracket = c.eat(b'[');
    c.skip_invisible();
    let start = c.i;
    let (date, joiner, clock, time, time_first) = match c.date(false) {
        Some(date) => {
            let joiner = c.joiner(false)?;
            let prefix = c.marker(PREFIXES, &PREFIX_STARTS);
            if prefix.is_some() {
                c.skip_blank();
            }
            let time = c.time()?;
            let clock = match prefix {
                Some((family, period)) => Some((Clock::Prefix(family), period)),
                None => c
                    .suffix()
                    .map(|(family, period)| (Clock::Suffix(family), period)),
            };
            (date, joiner, clock, time, false)
        }
        None => {
            c.i = start;
            let time = c.time()?;
            let clock = c
                .suffix()
                .map(|(family, period)| (Clock::Suffix(family), period));
            let joiner = c.joiner(true)?;
            let date = c.date(true)?;
            (date, joiner, clock, time, true)
        }
    };
    let (clock, (hour, impossible_hour)) = match clock {
        None if time.hour <= 23 => (Clock::H24, (time.hour, false)),
        Some((clock, period)) => (clock, qualify(time.hour, period)?),
        None => return None,
    };
    let end = c.terminator(bracket)?;
    let shape = Shape {
        end,
        date_sep: date.sep,
        date_spaced: date.spaced,
        date_trailing: date.trailing,
        wide: date.wide,
        named: date.named,
        era: date.era,
        time_first,
        joiner,
        time_sep: time.sep,
        seconds: time.seconds,
        clock,
    };
    let stamp = Stamp {
        date: date.fields,
        hour,
        minute: time.minute,
        second: time.second,
    };
    Some(Header {
        shape,
        stamp,
        body: c.i,
        impossible_hour,
    })
}

/// Reads a header of exactly `shape` at the start of `line`: the same as
/// `scan(line).filter(|header| header.shape == *shape)`. Lines without
/// invisible characters before the time, whose text between date and time
/// is the shape's with plain spaces and whose clock has no prefix marker,
/// are read without looking for what the shape cannot have; the others
/// by [`scan`].
#[cfg(test)]
pub(super) fn scan_shape(line: &[u8], shape: &Shape) -> Option<Header> {
    plain(line, shape).or_else(|| scan(line).filter(|header| header.shape == *shape))
}

/// [`scan`] for a line in the plain form [`scan_shape`] describes, with
/// the same steps after the date's first digit and after the time; `None`
/// when the line is not a header of `shape` in that form.
fn plain(line: &[u8], shape: &Shape) -> Option<Header> {
    if matches!(shape.clock, Clock::Prefix(_)) || shape.time_first {
        return None;
    }
    let bracket = shape.end == End::Bracket;
    let mut c = Cursor { s: line, i: 0 };
    if bracket && !c.eat(b'[') {
        return None;
    }
    // A digit here is where `scan` starts the date: it is no invisible
    // character, nor a bracket.
    if !matches!(c.peek(), Some(b'0'..=b'9')) {
        return None;
    }
    let date = c.date(false)?;
    // The joiner as `Cursor::joiner` reads it when it is written with plain
    // spaces and a digit follows it (which ends the joiner and starts no
    // prefix marker).
    let joiner = shape.joiner.as_bytes();
    let rest = &line[c.i..];
    if !rest.starts_with(joiner) || !matches!(rest.get(joiner.len()), Some(b'0'..=b'9')) {
        return None;
    }
    c.i += joiner.len();
    let time = c.time()?;
    let (clock, (hour, impossible_hour)) = match c.suffix() {
        None if time.hour <= 23 => (Clock::H24, (time.hour, false)),
        Some((family, period)) => (Clock::Suffix(family), qualify(time.hour, period)?),
        None => return None,
    };
    let end = c.terminator(bracket)?;
    let found = Shape {
        end,
        date_sep: date.sep,
        date_spaced: date.spaced,
        date_trailing: date.trailing,
        wide: date.wide,
        named: date.named,
        era: date.era,
        time_first: false,
        joiner: shape.joiner,
        time_sep: time.sep,
        seconds: time.seconds,
        clock,
    };
    (found == *shape).then_some(Header {
        shape: found,
        stamp: Stamp {
            date: date.fields,
            hour,
            minute: time.minute,
            second: time.second,
        },
        body: c.i,
        impossible_hour,
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

    #[inline(always)]
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

    /// The digit at the cursor (ASCII, Eastern Arabic or Persian) and its
    /// length in bytes.
    #[inline(always)]
    fn digit(&self) -> Option<(u16, usize)> {
        match self.peek()? {
            d @ b'0'..=b'9' => Some((u16::from(d - b'0'), 1)),
            0xD9 => match self.s.get(self.i + 1)? {
                d @ 0xA0..=0xA9 => Some((u16::from(d - 0xA0), 2)),
                _ => None,
            },
            0xDB => match self.s.get(self.i + 1)? {
                d @ 0xB0..=0xB9 => Some((u16::from(d - 0xB0), 2)),
                _ => None,
            },
            _ => None,
        }
    }

    /// One to four digits: (value, digit count). ASCII digits are read
    /// first; Eastern Arabic or Persian ones only when no ASCII digit is
    /// there.
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
        if self.i > start {
            return Some((value, (self.i - start) as u8));
        }
        if matches!(self.peek(), Some(0xD9 | 0xDB)) {
            self.wide_number()
        } else {
            None
        }
    }

    /// [`Cursor::number`] in Eastern Arabic or Persian digits.
    #[cold]
    fn wide_number(&mut self) -> Option<(u16, u8)> {
        let mut value: u16 = 0;
        let mut width = 0u8;
        while let Some((d, len)) = self.digit() {
            if width == 4 {
                return None;
            }
            value = value * 10 + d;
            width += 1;
            self.i += len;
        }
        (width > 0).then_some((value, width))
    }

    /// Skips invisible characters, looking no further when the next byte
    /// cannot start one.
    #[inline(always)]
    fn skip_marks(&mut self) {
        if matches!(self.peek(), Some(0xE2 | 0xEF)) {
            self.skip_invisible();
        }
    }

    /// `29/12/2025`, `12-29-25`, `2018/06/13`, `13.6.2018`, `2018. 6. 13.`,
    /// `28 Aug 2013`; with `month_first_name`, also `Aug 28, 2013`.
    /// Invisible marks may stand around every field.
    #[inline(always)]
    fn date(&mut self, month_first_name: bool) -> Option<DateParts> {
        if month_first_name && self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return self.month_first_named();
        }
        let era = self.era();
        let (a, wa) = match (self.number()?, era) {
            (number, None) => number,
            ((year @ 1..=99, 1..=2), Some(first)) => (first + year - 1, 4),
            _ => return None,
        };
        self.skip_marks();
        let Some(sep) = self.peek().filter(|b| matches!(b, b'/' | b'.' | b'-')) else {
            return era.map_or_else(|| self.day_first_named(a, wa), |_| None);
        };
        self.i += 1;
        let spaced = self.eat(b' ');
        self.skip_marks();
        let (b, wb) = self.number()?;
        self.skip_marks();
        if !self.eat(sep) || (spaced && !self.eat(b' ')) {
            return None;
        }
        self.skip_marks();
        let (c, wc) = self.number()?;
        let trailing = self.eat(sep);
        let wide = match (wa, wb, wc) {
            (4, 1..=2, 1..=2) => Wide::First,
            (1..=2, 1..=2, 4) => Wide::Last,
            (1..=2, 1..=2, 2) => Wide::None,
            _ => return None,
        };
        Some(DateParts {
            fields: [a, b, c],
            sep,
            spaced,
            trailing,
            wide,
            named: None,
            era: era.is_some(),
        })
    }

    /// A Japanese era letter before a digit (`R4`): the era's first year.
    fn era(&mut self) -> Option<u16> {
        let first = match self.peek()? {
            b'R' => 2019,
            b'H' => 1989,
            _ => return None,
        };
        if !self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        self.i += 1;
        Some(first)
    }

    /// After the day: ` Aug 2013` (`28 Aug 2013`).
    fn day_first_named(&mut self, day: u16, width: u8) -> Option<DateParts> {
        if width > 2 || space_at(self.s, self.i) == 0 {
            return None;
        }
        self.skip_blank();
        let month = self.month_name()?;
        self.skip_blank();
        let (year, wide) = self.year()?;
        Some(named([day, month, year], wide, DateOrder::DayFirst))
    }

    /// `Aug 28, 2013`.
    fn month_first_named(&mut self) -> Option<DateParts> {
        let month = self.month_name()?;
        self.skip_blank();
        let (day, width) = self.number()?;
        if width > 2 {
            return None;
        }
        self.eat(b',');
        self.skip_blank();
        let (year, wide) = self.year()?;
        Some(named([month, day, year], wide, DateOrder::MonthFirst))
    }

    /// A year of two or four digits.
    fn year(&mut self) -> Option<(u16, Wide)> {
        match self.number()? {
            (year, 4) => Some((year, Wide::Last)),
            (year, 2) => Some((year, Wide::None)),
            _ => None,
        }
    }

    /// A month name from [`MONTH_NAMES`], with an optional full stop.
    fn month_name(&mut self) -> Option<u16> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if !(b.is_ascii_alphabetic() || b >= 0x80)
                || space_at(self.s, self.i) > 0
                || invisible_at(self.s, self.i) > 0
            {
                break;
            }
            self.i += 1;
        }
        let month = month_number(&self.s[start..self.i])?;
        self.eat(b'.');
        Some(month)
    }

    /// What stands between date and time: commas (also the Arabic `،`),
    /// spaces and letters (`klo`, `à`, `às`); between a time and the date
    /// after it, only commas and spaces.
    fn joiner(&mut self, time_first: bool) -> Option<Joiner> {
        let mut joiner = Joiner::default();
        loop {
            self.skip_invisible();
            let space = space_at(self.s, self.i);
            let width = match self.peek() {
                _ if space > 0 => {
                    joiner.push(b' ')?;
                    self.i += space;
                    continue;
                }
                Some(b',') => 1,
                // The Arabic comma.
                Some(0xD8) if self.s.get(self.i + 1) == Some(&0x8C) => 2,
                _ if time_first => break,
                Some(b'a'..=b'z' | b'A'..=b'Z') => 1,
                // Latin letters with diacritics (`à`).
                Some(0xC3..=0xC5) if matches!(self.s.get(self.i + 1), Some(0x80..=0xBF)) => 2,
                _ => break,
            };
            for k in 0..width {
                joiner.push(self.s[self.i + k])?;
            }
            self.i += width;
        }
        (joiner.len > 0).then_some(joiner)
    }

    /// `22:30`, `5:46`, `21.25.15`.
    #[inline(always)]
    fn time(&mut self) -> Option<TimeParts> {
        let (hour, wh) = self.number()?;
        let sep = self.peek().filter(|b| matches!(b, b':' | b'.'))?;
        self.i += 1;
        let (minute, wm) = self.number()?;
        let mut second = 0;
        let seconds = self.peek() == Some(sep)
            && match self.s.get(self.i + 1) {
                Some(b'0'..=b'9') => true,
                Some(0xD9 | 0xDB) => Cursor {
                    s: self.s,
                    i: self.i + 1,
                }
                .digit()
                .is_some(),
                _ => false,
            };
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
        Some(TimeParts {
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            sep,
            seconds,
        })
    }

    /// An optional 12-hour marker after the time, after optional spaces.
    #[inline(always)]
    fn suffix(&mut self) -> Option<(u8, Period)> {
        let before = self.i;
        self.skip_blank();
        let found = self.marker(SUFFIXES, &SUFFIX_STARTS);
        if found.is_none() {
            self.i = before;
        }
        found
    }

    /// A marker of `table` (whose first bytes are `starts`) at the cursor:
    /// (family, period).
    #[inline(always)]
    fn marker(
        &mut self,
        table: &[(&str, u8, Period)],
        starts: &[bool; 256],
    ) -> Option<(u8, Period)> {
        if !starts[usize::from(self.peek()?)] {
            return None;
        }
        table.iter().find_map(|&(marker, family, period)| {
            let end = match_marker(self.s, self.i, marker)?;
            self.i = end;
            Some((family, period))
        })
    }

    /// `] ` (iOS), ` - ` (Android) or `: ` (older iOS), then the body or the
    /// end of the line.
    #[inline(always)]
    fn terminator(&mut self, bracket: bool) -> Option<End> {
        self.skip_blank();
        let end = match self.peek()? {
            b']' if bracket => End::Bracket,
            b'-' if !bracket => End::Dash,
            b':' if !bracket => End::Colon,
            _ => return None,
        };
        self.i += 1;
        match space_at(self.s, self.i) {
            0 if self.i < self.s.len() => None,
            n => {
                self.i += n;
                Some(end)
            }
        }
    }
}

fn named(fields: [u16; 3], wide: Wide, order: DateOrder) -> DateParts {
    DateParts {
        fields,
        sep: b' ',
        spaced: false,
        trailing: false,
        wide,
        named: Some(order),
        era: false,
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
            (
                "12/18/15, 9:25:03 PM: Bob: hi",
                [12, 18, 15],
                (21, 25, 3),
                "m/d/yy, h:mm:ss a: ",
            ),
            (
                "18.12.15, 21.25.15: Bob: hi",
                [18, 12, 15],
                (21, 25, 15),
                "d.m.yy, h.mm.ss: ",
            ),
            (
                "2015-12-18 21:25: Bob: hi",
                [2015, 12, 18],
                (21, 25, 0),
                "yyyy-m-d h:mm: ",
            ),
            (
                "18/12/2022 à 14:56 - Bob: hi",
                [18, 12, 2022],
                (14, 56, 0),
                "d/m/yyyy à h:mm - ",
            ),
            (
                "[14:56:01, 12/18/22] Bob: hi",
                [12, 18, 22],
                (14, 56, 1),
                "[h:mm:ss, m/d/yy] ",
            ),
            (
                "19:23, 28 Aug 2013 - Bob: hi",
                [28, 8, 2013],
                (19, 23, 0),
                "h:mm, d MMM yyyy - ",
            ),
            (
                "7:23 PM, Aug 28, 2013 - Bob: hi",
                [8, 28, 2013],
                (19, 23, 0),
                "h:mm a, MMM d, yyyy - ",
            ),
            (
                "28 août 2013 à 19:23 - Bob: hi",
                [28, 8, 2013],
                (19, 23, 0),
                "d MMM yyyy à h:mm - ",
            ),
            (
                "\u{200f}٢٩\u{200f}/١٢\u{200f}/٢٠٢٥، ١٠:٣٠ م - Bob: hi",
                [29, 12, 2025],
                (22, 30, 0),
                "d/m/yyyy، h:mm a - ",
            ),
            (
                "29/12/2025، 10:30 ص - Bob: hi",
                [29, 12, 2025],
                (10, 30, 0),
                "d/m/yyyy، h:mm a - ",
            ),
            (
                "۲۹/۱۲/۲۰۲۵, ۱۰:۳۰ ب.ظ. - Bob: hi",
                [29, 12, 2025],
                (22, 30, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "29/12/2025, 10:30 in the evening - Bob: hi",
                [29, 12, 2025],
                (22, 30, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "29/12/2025, 2:30 at night - Bob: hi",
                [29, 12, 2025],
                (2, 30, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "29/12/2025, 11:30 at night - Bob: hi",
                [29, 12, 2025],
                (23, 30, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "29/12/2025, 3:05 de la tarde - Bob: hi",
                [29, 12, 2025],
                (15, 5, 0),
                "d/m/yyyy, h:mm a - ",
            ),
            (
                "[R4/03/18 14:56:01] Bob: hi",
                [2022, 3, 18],
                (14, 56, 1),
                "[Gy/m/d h:mm:ss] ",
            ),
            (
                "H30/6/13 21:25 - Bob: hi",
                [2018, 6, 13],
                (21, 25, 0),
                "Gy/m/d h:mm - ",
            ),
            (
                "21-02-02 09:05 - Bob: hi",
                [21, 2, 2],
                (9, 5, 0),
                "yy-m-d h:mm - ",
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
                _ if h.shape.named.is_some() => DateOrder::DayFirst,
                Wide::First => DateOrder::YearFirst,
                Wide::None if date[0] == 21 => DateOrder::YearFirst,
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
            "29/12/2025, 10:60 - x",
            "29/12/20255, 10:00 - x",
            "[29/12/2025, 10:00 - x",
            "R2D2, 10:00 - x",
            "H100/1/1, 10:00 - x",
            "Rx/1/1 10:00 - x",
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
    fn impossible_hours_are_flagged_not_dropped() {
        let h = header("29/12/2025, 13:05 PM - Bob: hi");
        assert!(h.impossible_hour);
        assert_eq!((h.stamp.hour, h.stamp.minute), (13, 5));
        assert!(!header("29/12/2025, 1:05 PM - Bob: hi").impossible_hour);
        assert_eq!(scan(b"29/12/2025, 24:05 PM - Bob: hi"), None);
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
            "12/18/15, 9:25:03 PM: Bob: hi",
            "18.12.15, 21.25.15: Bob: hi",
            "18/12/2022 à 14:56 - Bob: hi",
            "[14:56:01, 12/18/22] Bob: hi",
            "19:23, 28 Aug 2013 - Bob: hi",
            "28 août 2013 à 19:23 - Bob: hi",
            "٢٩/١٢/٢٠٢٥، ١٠:٣٠ م - Bob: hi",
            "29/12/2025، 10:30 ص - Bob: hi",
            "29/12/2025, 10:30 in the evening - Bob: hi",
            "[R4/03/18 14:56:01] Bob: hi",
            "H30/06/13 21:25 - Bob: hi",
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
        assert_eq!(shape.end, End::Dash);
        assert_eq!(detect("no header here\n12/01/2024 was the deadline"), None);
    }
}
