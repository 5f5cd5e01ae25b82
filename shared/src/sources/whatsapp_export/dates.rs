//! Dates: which field of a numeric date is the day, and device local time to
//! UTC.
//!
//! # Day-first or month-first
//!
//! A file's dates are read in one order, inferred from the whole file unless
//! configured ([`OrderStats::decide`]):
//! 1. a 4-digit first field (`2018/06/13`) is a year: year first;
//! 2. a first field above 12 on some line and no second field above 12 on
//!    any: day first; the reverse: month first;
//! 3. both seen (on different lines) is inconsistent; best effort: the order
//!    more lines need wins (a tie goes on to the next rules), and lines whose
//!    date is impossible in it are not headers: they stay, as text, in the
//!    message before them (counted as `rejected_headers` in the summary);
//! 4. no field above 12 anywhere: the order under which consecutive
//!    timestamps go forward more often wins;
//! 5. still a tie: month first for the US English layout (`/` separators and
//!    an `AM`/`PM` clock), day first otherwise, as most locales write it.
//!
//! When every field has one or two digits, which one is the year is decided
//! first, over the whole file as well: the year is first (`21-02-02`,
//! yy-mm-dd) when more headers are possible dates read that way than read
//! with the year last (a first field above 31, a middle field above 12);
//! on a tie, when the first field changes less often than the last between
//! consecutive headers (a year changes least); still a tie, when that
//! reading goes forward in time more often than both others. Otherwise the
//! year is last, as most layouts write it. A month written as a name fixes
//! the order.
//!
//! Two-digit years are 20yy; 4-digit years must be within 1970–2199, or
//! 2513–2742, read as Thai Buddhist years (2565 = 2022; no Gregorian year
//! of a WhatsApp export comes close). Japanese era years (`R4`) are turned
//! into Gregorian ones by `header`.
//!
//! # Local time
//!
//! Headers are device local time, converted with the configured zone. A time
//! in a DST gap is read with the offset from before the gap (02:30 in a
//! 02:00→03:00 gap is 03:30); a repeated time takes the earlier instant.
//! Conversions are cached: the last header, and the UTC offset of the current
//! day when no transition happens on it (no zone has had two transitions
//! within one local day since WhatsApp exists).

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::DateOrder;
use super::header::{Clock, Shape, Stamp, US_MERIDIEM, Wide};

/// A header's date and time as device wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LocalTime {
    /// Days since 1970-01-01.
    days: i64,
    /// Seconds since local midnight.
    secs: u32,
}

impl LocalTime {
    /// Seconds since 1970-01-01T00:00 local.
    fn epoch_secs(self) -> i64 {
        self.days * 86_400 + i64::from(self.secs)
    }
}

/// The stamp's date and time read in `order`, if that is a real date.
pub(super) fn resolve(stamp: &Stamp, order: DateOrder) -> Option<LocalTime> {
    let (year, month, day) = civil(stamp, order)?;
    let secs =
        u32::from(stamp.hour) * 3600 + u32::from(stamp.minute) * 60 + u32::from(stamp.second);
    Some(LocalTime {
        days: days_from_civil(year, i64::from(month), i64::from(day)),
        secs,
    })
}

/// Whether the stamp's date is a real date when read in `order`.
pub(super) fn is_date(stamp: &Stamp, order: DateOrder) -> bool {
    civil(stamp, order).is_some()
}

/// (year, month, day) of the stamp read in `order`, if that is a real date.
fn civil(stamp: &Stamp, order: DateOrder) -> Option<(i64, u16, u16)> {
    let [a, b, c] = stamp.date;
    let (year, month, day) = match order {
        DateOrder::DayFirst => (c, b, a),
        DateOrder::MonthFirst => (c, a, b),
        DateOrder::YearFirst => (a, b, c),
    };
    let year = match year {
        0..=99 => 2000 + i64::from(year),
        1970..=2199 => i64::from(year),
        // The Thai Buddhist era: 2565 BE is 2022.
        THAI_FIRST..=THAI_LAST => i64::from(year) - THAI_OFFSET,
        _ => return None,
    };
    let valid = (1..=12).contains(&month) && day != 0 && day <= days_in_month(year, month);
    valid.then_some((year, month, day))
}

/// Years of the Thai Buddhist era are Gregorian years plus this.
const THAI_OFFSET: i64 = 543;
/// The Buddhist years of 1970 and 2199.
const THAI_FIRST: u16 = 1970 + THAI_OFFSET as u16;
const THAI_LAST: u16 = 2199 + THAI_OFFSET as u16;

/// The orders a date of this shape may be in, before the file is surveyed.
pub(super) fn candidates(shape: &Shape, forced: Option<DateOrder>) -> &'static [DateOrder] {
    match (forced.or(shape.named), shape.wide) {
        (Some(DateOrder::DayFirst), _) => &[DateOrder::DayFirst],
        (Some(DateOrder::MonthFirst), _) => &[DateOrder::MonthFirst],
        (Some(DateOrder::YearFirst), _) | (None, Wide::First) => &[DateOrder::YearFirst],
        (None, Wide::Last) => &[DateOrder::DayFirst, DateOrder::MonthFirst],
        (None, Wide::None) => &[
            DateOrder::DayFirst,
            DateOrder::MonthFirst,
            DateOrder::YearFirst,
        ],
    }
}

/// In which of the candidate orders a header's date is a real date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Possible {
    /// Read year first.
    pub year_first: bool,
    /// Read day first or month first.
    pub year_last: bool,
}

impl Possible {
    /// The stamp read in each of `orders`.
    pub(super) fn of(stamp: &Stamp, orders: &[DateOrder]) -> Self {
        let mut possible = Possible::default();
        for &order in orders {
            let seen = match order {
                DateOrder::YearFirst => &mut possible.year_first,
                _ => &mut possible.year_last,
            };
            // Day first is possible: month first need not be tried.
            if !*seen && is_date(stamp, order) {
                *seen = true;
            }
        }
        possible
    }

    /// In some order.
    pub(super) fn any(self) -> bool {
        self.year_first || self.year_last
    }
}

/// Evidence for the date order, gathered over every header of a file.
///
/// Only the counts by value are gathered header by header; the evidence by
/// ordering and by spread ([`Sequence`]) is only needed on a tie, and is then
/// read from the recorded headers' stamps.
#[derive(Debug, Default)]
pub(super) struct OrderStats {
    /// Headers whose first field can only be a day.
    day_first: u64,
    /// Headers whose second field can only be a day.
    month_first: u64,
    /// Headers whose date is possible read year first (two-digit years).
    valid_year_first: u64,
    /// Headers whose date is possible read day first or month first.
    valid_year_last: u64,
}

/// Evidence from consecutive headers.
#[derive(Debug, Default)]
struct Sequence {
    /// Consecutive headers going forward in time when read day first.
    forward_day_first: u64,
    /// The same, read month first.
    forward_month_first: u64,
    /// Consecutive headers going forward in time when read year first.
    forward_year_first: u64,
    /// Consecutive headers whose first field differs.
    first_changes: u64,
    /// Consecutive headers whose last field differs.
    last_changes: u64,
}

impl Sequence {
    /// Reads every header's stamp, in file order.
    fn of<'s>(stamps: impl IntoIterator<Item = &'s Stamp>) -> Self {
        let mut sequence = Sequence::default();
        // The previous header's fields and its sortable keys (day first,
        // month first, year first).
        let mut previous: Option<([u16; 3], [u64; 3])> = None;
        for stamp in stamps {
            let [a, b, year] = stamp.date.map(u64::from);
            let time = u64::from(stamp.hour) << 12
                | u64::from(stamp.minute) << 6
                | u64::from(stamp.second);
            let key =
                |year: u64, month: u64, day: u64| ((year << 28 | month << 14 | day) << 17) | time;
            let keys = [key(year, b, a), key(year, a, b), key(a, b, year)];
            if let Some((fields, previous)) = previous {
                sequence.forward_day_first += u64::from(previous[0] <= keys[0]);
                sequence.forward_month_first += u64::from(previous[1] <= keys[1]);
                sequence.forward_year_first += u64::from(previous[2] <= keys[2]);
                sequence.first_changes += u64::from(fields[0] != stamp.date[0]);
                sequence.last_changes += u64::from(fields[2] != stamp.date[2]);
            }
            previous = Some((stamp.date, keys));
        }
        sequence
    }
}

impl OrderStats {
    /// Takes one header into account, with the candidate orders its date
    /// is possible in.
    #[inline]
    pub(super) fn add(&mut self, stamp: &Stamp, possible: Possible) {
        let [a, b, _] = stamp.date;
        let is_day = |v: u16| (13..=31).contains(&v);
        let is_month = |v: u16| (1..=12).contains(&v);
        self.day_first += u64::from(is_day(a) && is_month(b));
        self.month_first += u64::from(is_day(b) && is_month(a));
        self.valid_year_first += u64::from(possible.year_first);
        self.valid_year_last += u64::from(possible.year_last);
    }

    /// Whether a two-digit year comes first (see the module documentation).
    fn year_first(&self, sequence: &Sequence) -> bool {
        let by_value = self.valid_year_first.cmp(&self.valid_year_last);
        // The year is the field that changes least often.
        let by_spread = sequence.last_changes.cmp(&sequence.first_changes);
        let by_ordering = sequence
            .forward_year_first
            .cmp(&sequence.forward_day_first.max(sequence.forward_month_first));
        by_value.then(by_spread).then(by_ordering) == std::cmp::Ordering::Greater
    }

    /// The file's date order (see the module documentation), given the
    /// stamps of the headers [`OrderStats::add`] took, in the same order.
    pub(super) fn decide<'s>(
        &self,
        shape: &Shape,
        stamps: impl IntoIterator<Item = &'s Stamp>,
    ) -> DateOrder {
        if let Some(order) = shape.named {
            return order;
        }
        // The evidence from consecutive headers only decides ties by value.
        let year_tie = shape.wide == Wide::None && self.valid_year_first == self.valid_year_last;
        let sequence = if year_tie || self.day_first == self.month_first {
            Sequence::of(stamps)
        } else {
            Sequence::default()
        };
        if shape.wide == Wide::First || (shape.wide == Wide::None && self.year_first(&sequence)) {
            return DateOrder::YearFirst;
        }
        let (by_value, by_ordering) = (
            self.day_first.cmp(&self.month_first),
            sequence
                .forward_day_first
                .cmp(&sequence.forward_month_first),
        );
        match by_value.then(by_ordering) {
            std::cmp::Ordering::Greater => DateOrder::DayFirst,
            std::cmp::Ordering::Less => DateOrder::MonthFirst,
            std::cmp::Ordering::Equal
                if shape.date_sep == b'/' && shape.clock == Clock::Suffix(US_MERIDIEM) =>
            {
                DateOrder::MonthFirst
            }
            std::cmp::Ordering::Equal => DateOrder::DayFirst,
        }
    }
}

/// Converts device local times to UTC, with caches for runs of messages.
pub(super) struct LocalClock {
    tz: Tz,
    /// The last conversion: (local, UTC seconds, UTC time).
    last: Option<(LocalTime, i64, DateTime<Utc>)>,
    /// The current local day and its UTC offset, if the offset holds all day.
    day: Option<(i64, Option<i64>)>,
    /// The current UTC day (days since 1970) and its date.
    utc_day: Option<(i64, NaiveDate)>,
}

impl LocalClock {
    pub(super) fn new(tz: Tz) -> Self {
        LocalClock {
            tz,
            last: None,
            day: None,
            utc_day: None,
        }
    }

    /// The UTC instant of a local time, as seconds since 1970 and as a time.
    pub(super) fn utc(&mut self, local: LocalTime) -> (i64, DateTime<Utc>) {
        if let Some((last, secs, time)) = self.last
            && last == local
        {
            return (secs, time);
        }
        let secs = local.epoch_secs() - self.offset(local);
        let time = self.time(secs);
        self.last = Some((local, secs, time));
        (secs, time)
    }

    /// The UTC time of seconds since 1970, with the date cached.
    fn time(&mut self, secs: i64) -> DateTime<Utc> {
        let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let date = match self.utc_day {
            Some((cached, date)) if cached == days => date,
            _ => {
                let date = (DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(days)).date_naive();
                self.utc_day = Some((days, date));
                date
            }
        };
        date.and_time(NaiveTime::MIN + TimeDelta::seconds(of_day))
            .and_utc()
    }

    /// The offset (local minus UTC, in seconds) in force at `local`.
    fn offset(&mut self, local: LocalTime) -> i64 {
        let day_offset = match self.day {
            Some((day, offset)) if day == local.days => offset,
            _ => {
                let offset = self.uniform_offset(local.days);
                self.day = Some((local.days, offset));
                offset
            }
        };
        day_offset.unwrap_or_else(|| self.exact_offset(local.epoch_secs()))
    }

    /// The offset of a day if it is the same at its first and last second.
    fn uniform_offset(&self, days: i64) -> Option<i64> {
        let single = |secs: i64| match self.tz.offset_from_local_datetime(&naive(secs)) {
            LocalResult::Single(offset) => Some(offset.fix().local_minus_utc()),
            _ => None,
        };
        let start = single(days * 86_400)?;
        (single(days * 86_400 + 86_399)? == start).then_some(i64::from(start))
    }

    /// The offset at one local time: the earliest instant of a repeated time,
    /// the offset from before a gap for a skipped time.
    fn exact_offset(&self, local_secs: i64) -> i64 {
        let local = naive(local_secs);
        let offset = match self.tz.offset_from_local_datetime(&local) {
            LocalResult::Single(offset) => offset.fix().local_minus_utc(),
            LocalResult::Ambiguous(a, b) => {
                a.fix().local_minus_utc().max(b.fix().local_minus_utc())
            }
            LocalResult::None => self
                .tz
                .offset_from_utc_datetime(&(local - TimeDelta::days(1)))
                .fix()
                .local_minus_utc(),
        };
        i64::from(offset)
    }
}

/// A local time given as seconds since 1970-01-01T00:00 local.
fn naive(secs: i64) -> NaiveDateTime {
    DateTime::<Utc>::UNIX_EPOCH.naive_utc() + TimeDelta::seconds(secs)
}

fn days_in_month(year: i64, month: u16) -> u16 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::whatsapp_export::header::scan;

    fn stamp(date: [u16; 3], hour: u8, minute: u8) -> Stamp {
        Stamp {
            date,
            hour,
            minute,
            second: 0,
        }
    }

    fn utc(tz: Tz, stamp: &Stamp, order: DateOrder) -> String {
        let local = resolve(stamp, order).unwrap();
        LocalClock::new(tz).utc(local).1.to_rfc3339()
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2199, 3, 1)] {
            let expected = chrono::NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).unwrap();
            let days = expected
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
            assert_eq!(days_from_civil(y, m, d), days.num_days());
        }
    }

    #[test]
    fn resolve_checks_real_dates() {
        assert!(resolve(&stamp([29, 2, 24], 0, 0), DateOrder::DayFirst).is_some());
        assert!(resolve(&stamp([29, 2, 23], 0, 0), DateOrder::DayFirst).is_none());
        assert!(resolve(&stamp([29, 2, 23], 0, 0), DateOrder::MonthFirst).is_none());
        assert!(resolve(&stamp([2018, 6, 31], 0, 0), DateOrder::YearFirst).is_none());
        assert!(resolve(&stamp([1, 1, 1969], 0, 0), DateOrder::DayFirst).is_none());
        assert!(resolve(&stamp([2018, 6, 13], 0, 0), DateOrder::DayFirst).is_none());
    }

    #[test]
    fn converts_with_the_zone_including_gaps_and_repeats() {
        let london = chrono_tz::Europe::London;
        let s = stamp([29, 12, 2025], 22, 30);
        assert_eq!(
            utc(london, &s, DateOrder::DayFirst),
            "2025-12-29T22:30:00+00:00"
        );
        assert_eq!(
            utc(london, &stamp([1, 7, 2025], 22, 30), DateOrder::DayFirst),
            "2025-07-01T21:30:00+00:00"
        );
        // 2025-03-30 01:30 does not exist in London: read as 02:30 BST.
        assert_eq!(
            utc(london, &stamp([30, 3, 2025], 1, 30), DateOrder::DayFirst),
            "2025-03-30T01:30:00+00:00"
        );
        // 2025-10-26 01:30 happens twice: the first (BST) one.
        assert_eq!(
            utc(london, &stamp([26, 10, 2025], 1, 30), DateOrder::DayFirst),
            "2025-10-26T00:30:00+00:00"
        );
        let tokyo = chrono_tz::Asia::Tokyo;
        assert_eq!(
            utc(tokyo, &stamp([2018, 6, 13], 21, 25), DateOrder::YearFirst),
            "2018-06-13T12:25:00+00:00"
        );
    }

    #[test]
    fn clock_cache_follows_day_changes_and_transitions() {
        let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
        let times = [
            ([29, 3, 2025], 23, 0, "2025-03-29T22:00:00+00:00"),
            ([30, 3, 2025], 1, 59, "2025-03-30T00:59:00+00:00"),
            ([30, 3, 2025], 3, 0, "2025-03-30T01:00:00+00:00"),
            ([30, 3, 2025], 3, 0, "2025-03-30T01:00:00+00:00"),
            ([31, 3, 2025], 3, 0, "2025-03-31T01:00:00+00:00"),
        ];
        for (date, hour, minute, expected) in times {
            let local = resolve(&stamp(date, hour, minute), DateOrder::DayFirst).unwrap();
            let (secs, time) = clock.utc(local);
            assert_eq!(
                (time.to_rfc3339().as_str(), secs),
                (expected, time.timestamp())
            );
        }
    }

    fn decide(lines: &[&str]) -> DateOrder {
        let mut stats = OrderStats::default();
        let mut shape = None;
        let mut stamps = Vec::new();
        for line in lines {
            let header = scan(line.as_bytes()).unwrap();
            let orders = candidates(&header.shape, None);
            stats.add(&header.stamp, Possible::of(&header.stamp, orders));
            stamps.push(header.stamp);
            shape = Some(header.shape);
        }
        stats.decide(&shape.unwrap(), &stamps)
    }

    #[test]
    fn order_from_values_then_ordering_then_layout() {
        assert_eq!(
            decide(&["01/02/25, 10:00 - a", "13/02/25, 10:00 - a"]),
            DateOrder::DayFirst
        );
        assert_eq!(
            decide(&["01/02/25, 10:00 - a", "02/13/25, 10:00 - a"]),
            DateOrder::MonthFirst
        );
        assert_eq!(decide(&["2025/02/01, 10:00 - a"]), DateOrder::YearFirst);
        // Month first: 2 Jan, 1 Feb, 3 Feb; day first would go back from 1 Feb to 2 Jan.
        assert_eq!(
            decide(&[
                "1/2/25, 10:00 - a",
                "2/1/25, 10:00 - a",
                "2/3/25, 10:00 - a"
            ]),
            DateOrder::MonthFirst
        );
        assert_eq!(
            decide(&[
                "2/1/25, 10:00 - a",
                "1/2/25, 10:00 - a",
                "3/2/25, 10:00 - a"
            ]),
            DateOrder::DayFirst
        );
        // No evidence at all: layout decides.
        assert_eq!(decide(&["1/2/25, 10:00 - a"]), DateOrder::DayFirst);
        assert_eq!(decide(&["1/2/25, 10:00 PM - a"]), DateOrder::MonthFirst);
        assert_eq!(decide(&["1/2/25, 10:00 pm - a"]), DateOrder::DayFirst);
        assert_eq!(decide(&["1.2.25, 10:00 - a"]), DateOrder::DayFirst);
        // Inconsistent: the majority wins.
        assert_eq!(
            decide(&[
                "13/02/25, 10:00 - a",
                "14/02/25, 10:00 - a",
                "02/15/25, 10:00 - a"
            ]),
            DateOrder::DayFirst
        );
    }
}
