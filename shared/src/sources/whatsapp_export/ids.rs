//! Stable item ids for exported messages, which carry no id of their own.
//!
//! An id is derived from the custodian, the chat (title, else file name, both
//! without a copy's suffix such as ` (1)`: see `conversation`), the
//! UTC timestamp, the author, the cleaned text and the message's occurrence:
//! how many earlier messages of the file have the same timestamp, author and
//! text (see [`IdBase::derive`] for the exact encoding). Re-importing a file, or a later export of the same chat that
//! overlaps it, gives the same ids for the same messages (unless identical
//! messages in one minute straddle the start of the later export).

use std::collections::HashMap;

use crate::item::{IdInput, ItemId};

use super::text::{FxBuild, fx_fold};

/// Messages with one timestamp counted by scanning before switching to a
/// hash map (more than this in one second or minute is unusual).
const MAX_SAME_TIME: usize = 32;

/// Times the timestamps may go back before switching to a hash map.
const MAX_RUNS: usize = 64;

/// A stretch of messages whose timestamps never decrease.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Index of its first message in `Occurrences::seen`.
    start: usize,
    first: i64,
    last: i64,
}

/// Counts earlier identical messages. Timestamps in an export go forward
/// except on rare clock or zone changes, so `seen` is a few sorted runs: a
/// message is compared with the messages of its own timestamp at the end of
/// the current run and, by binary search, in earlier runs that span its
/// timestamp. Files whose time goes back very often, or with very many
/// messages in one timestamp, switch to a hash map of every message.
#[derive(Debug, Default)]
pub(super) struct Occurrences {
    /// (timestamp, message key) of every message, until indexed.
    seen: Vec<(i64, u64)>,
    runs: Vec<Run>,
    index: Option<HashMap<(i64, u64), u32, FxBuild>>,
}

impl Occurrences {
    pub(super) fn with_capacity(messages: usize) -> Self {
        Occurrences {
            seen: Vec::with_capacity(messages),
            ..Self::default()
        }
    }

    /// The number of earlier messages with this timestamp and key.
    pub(super) fn next(&mut self, timestamp: i64, key: u64) -> u32 {
        if let Some(index) = &mut self.index {
            let count = index.entry((timestamp, key)).or_insert(0);
            *count += 1;
            return *count - 1;
        }
        let runs = self.runs.len();
        match self.runs.last_mut() {
            Some(run) if timestamp >= run.last => run.last = timestamp,
            _ if runs == MAX_RUNS => return self.switch_to_index(timestamp, key),
            _ => self.runs.push(Run {
                start: self.seen.len(),
                first: timestamp,
                last: timestamp,
            }),
        }
        match self.count(timestamp, key) {
            Some(earlier) => {
                self.seen.push((timestamp, key));
                earlier
            }
            None => self.switch_to_index(timestamp, key),
        }
    }

    /// Earlier messages with this timestamp and key, or `None` when one
    /// timestamp has too many messages to scan.
    fn count(&self, timestamp: i64, key: u64) -> Option<u32> {
        let mut earlier = 0;
        for (i, run) in self.runs.iter().enumerate() {
            if timestamp < run.first || timestamp > run.last {
                continue;
            }
            let end = self
                .runs
                .get(i + 1)
                .map_or(self.seen.len(), |next| next.start);
            let entries = &self.seen[run.start..end];
            let from = match i + 1 == self.runs.len() {
                // The current run ends with this timestamp's messages.
                true => {
                    entries.len()
                        - entries
                            .iter()
                            .rev()
                            .take_while(|&&(t, _)| t == timestamp)
                            .count()
                }
                false => entries.partition_point(|&(t, _)| t < timestamp),
            };
            let same = entries[from..].iter().take_while(|&&(t, _)| t == timestamp);
            if same.clone().count() > MAX_SAME_TIME {
                return None;
            }
            earlier += same.filter(|&&(_, k)| k == key).count() as u32;
        }
        Some(earlier)
    }

    fn switch_to_index(&mut self, timestamp: i64, key: u64) -> u32 {
        let mut index = HashMap::with_capacity_and_hasher(self.seen.len(), FxBuild::default());
        for &entry in &self.seen {
            *index.entry(entry).or_insert(0) += 1;
        }
        self.seen = Vec::new();
        self.runs = Vec::new();
        self.index = Some(index);
        self.next(timestamp, key)
    }
}

/// The key of a message's author and text for [`Occurrences`]: a 64-bit
/// hash, so "identical" means identical up to a hash collision (which would
/// only raise an occurrence number: ids still differ, since they cover the
/// whole text).
pub(super) fn message_key(author: Option<u32>, text: &str) -> u64 {
    fx_fold(author.map_or(u64::MAX, u64::from), text.as_bytes())
}

/// Derives the ids of one file's messages.
pub(super) struct IdBase {
    /// The chat digest (custodian and chat, see `conversation::chat_digest`).
    chat: [u8; 16],
    /// Reused for each message's id input.
    input: IdInput,
}

impl IdBase {
    pub(super) fn new(chat: [u8; 16]) -> Self {
        IdBase {
            chat,
            input: IdInput::with_capacity(256),
        }
    }

    /// The id of one message: `ItemId::derive` over one part, the chat
    /// digest, UTC seconds (i64) and occurrence (u32), then the author's
    /// length (u64) and name, then the cleaned text (fixed widths, little
    /// endian; unambiguous since only the text has no length of its own).
    /// One contiguous part keeps most messages within three SHA-256 blocks.
    pub(super) fn derive(
        &mut self,
        timestamp: i64,
        occurrence: u32,
        author: &str,
        text: &str,
    ) -> ItemId {
        let input = &mut self.input;
        input.clear();
        input.extend(&self.chat);
        input.extend(&timestamp.to_le_bytes());
        input.extend(&occurrence.to_le_bytes());
        input.extend(&(author.len() as u64).to_le_bytes());
        input.extend(author.as_bytes());
        input.extend(text.as_bytes());
        input.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_repeats_within_a_minute() {
        let mut occurrences = Occurrences::default();
        let (a, b) = (message_key(Some(0), "ok"), message_key(Some(1), "ok"));
        assert_eq!(
            [60, 60, 60, 120, 120].map(|t| occurrences.next(t, a)),
            [0, 1, 2, 0, 1]
        );
        assert_eq!(occurrences.next(120, b), 0);
        assert!(occurrences.index.is_none());
    }

    #[test]
    fn counts_across_time_going_back() {
        let mut occurrences = Occurrences::default();
        let (a, b) = (message_key(Some(0), "ok"), message_key(Some(0), "no"));
        let seq = [
            (60, a),
            (60, b),
            (120, a),
            (180, a),
            (60, a),
            (120, a),
            (120, b),
            (240, a),
            (120, a),
            (60, b),
        ];
        let counts: Vec<u32> = seq.iter().map(|&(t, k)| occurrences.next(t, k)).collect();
        assert_eq!(counts, [0, 0, 0, 0, 1, 1, 0, 0, 2, 1]);
        assert_eq!(occurrences.runs.len(), 4);
        assert!(occurrences.index.is_none());
    }

    #[test]
    fn busy_minutes_and_restless_clocks_switch_to_a_map() {
        let a = message_key(Some(0), "ok");
        let mut busy = Occurrences::default();
        let counts: Vec<u32> = (0..100).map(|_| busy.next(60, a)).collect();
        assert_eq!(counts, (0..100).collect::<Vec<u32>>());
        assert!(busy.index.is_some());

        let mut restless = Occurrences::default();
        let counts: Vec<u32> = (0..300).map(|i| restless.next(i % 2 * 60, a)).collect();
        assert_eq!(counts, (0..300).map(|i| i / 2).collect::<Vec<u32>>());
        assert!(restless.index.is_some());
    }

    #[test]
    fn ids_depend_on_every_part() {
        let mut base = IdBase::new([1; 16]);
        let id = base.derive(60, 0, "Ann", "hi");
        assert_eq!(id, base.derive(60, 0, "Ann", "hi"));
        for other in [
            base.derive(61, 0, "Ann", "hi"),
            base.derive(60, 1, "Ann", "hi"),
            base.derive(60, 0, "Anne", "hi"),
            base.derive(60, 0, "Ann", "hi!"),
            base.derive(60, 0, "Annh", "i"),
            IdBase::new([2; 16]).derive(60, 0, "Ann", "hi"),
        ] {
            assert_ne!(other, id);
        }
    }

    #[test]
    fn keys_separate_authors_and_notices() {
        assert_ne!(message_key(Some(0), "x"), message_key(Some(1), "x"));
        assert_ne!(message_key(None, "x"), message_key(Some(0), "x"));
        assert_ne!(
            message_key(Some(0), "see you at 10"),
            message_key(Some(0), "see you at 11")
        );
        assert_ne!(
            message_key(Some(0), "Order #1234 shipped"),
            message_key(Some(0), "Order #1235 shipped")
        );
    }
}
