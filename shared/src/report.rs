//! The run report: what a run collected, rendered, delivered, could not map
//! and could not process. Every problem names the object, line or item it is
//! about; message content never appears in it. Each problem is one line:
//! the names in it come from outside (drop files, zip entries), so control
//! characters are escaped when it is recorded ([`crate::escape`]).
//!
//! The counters are one table (the `counters!` invocation below): each row
//! is a field, its doc and how the printed summary shows it, and the struct,
//! [`Report::merge`], the log line and the summary all come from it, so a
//! new counter is one row. The summary's layout is kept exactly as it was
//! (the `archiver run` output is compared byte for byte).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

/// Width of a summary line's label column (`"drops collected:"` padded).
const LABEL_WIDTH: usize = 22;

/// How the printed summary shows a counter.
#[derive(Debug, Clone, Copy)]
enum Shown {
    /// A line of its own: `label:` and the count.
    Line(&'static str),
    /// In parentheses after the line before it: `(count text)`.
    Aside(&'static str),
    /// A line of its own with a unit after the count, only when the count
    /// is not zero.
    IfAny(&'static str, &'static str),
    /// The copies-delivered line (copies delivered now, all mailboxes) with
    /// this count aside as `(count text)`, then one line per mailbox.
    AfterDeliveries(&'static str),
    /// Not printed; the log line and the serialized report have it.
    Hidden,
}

/// Declares [`Report`] from its table of counters, in summary order.
macro_rules! counters {
    ($( $(#[$doc:meta])+ $field:ident => $shown:expr, )+) => {
        /// Counters and problems of one run (or one Lambda invocation).
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        pub struct Report {
            $( $(#[$doc])+ pub $field: u64, )+
            /// Copies delivered now, per mailbox.
            pub delivered: BTreeMap<String, u64>,
            /// What each source contributed to the collect counters, by
            /// source name (`whatsapp-export`, …).
            pub by_source: BTreeMap<String, SourceCounts>,
            /// What each source's raw batches gave the convert counters,
            /// by source name (filled by the convert function: see
            /// [`Report::converted`]).
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            pub converted_by_source: BTreeMap<String, ConvertCounts>,
            /// The source time of each item a copy delivered now is of, for
            /// the delivery latency metric ([`crate::metrics`]); not
            /// serialized (one per copy).
            #[serde(skip)]
            pub delivered_item_times: Vec<DateTime<Utc>>,
            /// Delivery statuses the WhatsApp Cloud API reported (not
            /// mailed), by UTC day (`2026-12-01`) and status (`read`).
            pub delivery_statuses: BTreeMap<String, BTreeMap<String, u64>>,
            /// The errors Meta gave with failed delivery statuses, by error
            /// (`131047 (Re-engagement message)`).
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            pub status_errors: BTreeMap<String, u64>,
            /// Ranges of a source's sequence numbers that never came (a
            /// WeCom `seq` gap): what they held may be lost.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub seq_gaps: Vec<SeqGap>,
            /// Problems, each naming what it is about: something was not
            /// archived or not delivered.
            pub errors: Vec<String>,
            /// Things worth an administrator's look that lost nothing (a
            /// mapping row kept despite an unlikely phone number, a duplicate
            /// row).
            pub warnings: Vec<String>,
        }

        impl Report {
            /// Every counter with how the summary shows it, in summary order.
            fn counters(&self) -> impl Iterator<Item = (u64, Shown)> {
                [$( (self.$field, $shown), )+].into_iter()
            }

            /// Adds another report's counters to this one's.
            fn add_counters(&mut self, other: &Report) {
                $( self.$field += other.$field; )+
            }

            /// Logs the counts as one line.
            fn log_counters(&self) {
                tracing::info!(
                    $( $field = self.$field, )+
                    copies_delivered = self.copies_delivered(),
                    errors = self.errors.len(),
                    warnings = self.warnings.len(),
                    by_source = %serde_json::to_string(&self.by_source)
                        .expect("source counts serialize"),
                    "report"
                );
            }
        }
    };
}

counters! {
    /// Batches collected (drop files read into raw batches), all sources.
    drops_collected => Shown::Line("drops collected"),
    /// Batches seen before (checkpointed) and skipped, all sources.
    drops_already_collected => Shown::Aside("already collected before"),
    /// Drops (units of any source) that could not be read: each one's
    /// original is kept and its reason recorded under `failed/drops/`, and
    /// it is in the errors. The log line's `drops_refused` field.
    drops_refused => Shown::IfAny("drops refused", "kept with the reason under failed/drops/"),
    /// Items written to raw batches, all sources.
    items_collected => Shown::Line("items collected"),
    /// Raw batches converted.
    batches_converted => Shown::Hidden,
    /// EMLs written.
    emails_written => Shown::Line("emails written"),
    /// EMLs that already existed with the same key (re-runs, replays).
    emails_existing => Shown::Aside("already present"),
    /// Digest e-mails written (a conversation's day, or a supplement, for
    /// one set of mailboxes: see [`crate::digest`]).
    digests_written => Shown::IfAny("digests written", "e-mails of conversations' days and supplements"),
    /// Items whose attachments were all replaced by stubs to fit the
    /// target's message size limit (the files stay in the archive).
    stubbed_for_size => Shown::IfAny("attachments stubbed", "items over the target's size limit"),
    /// Copies skipped because the ledger or the folder already had them.
    already_delivered => Shown::AfterDeliveries("already delivered before"),
    /// Of the copies delivered, those found already in the folder (an
    /// interrupted run had appended them before recording them): recorded
    /// in the ledger now, not appended again.
    recovered => Shown::IfAny(
        "copies recovered",
        "found already in the folder after an interrupted run (recorded, not appended again)"
    ),
    /// Copies sent by SMTP (which cannot be searched) again, after an
    /// interrupted attempt had reached the point of sending them without
    /// recording it; counted as they go out, whether or not they are then
    /// recorded: each may be in the archive twice (same Message-ID, so the
    /// archive's de-duplication applies).
    possibly_duplicated => Shown::IfAny(
        "possibly sent twice",
        "copies sent again after an interrupted run (SMTP cannot be searched; same Message-ID)"
    ),
    /// Items that mapped to no mailbox (written to `unmapped/`).
    unmapped => Shown::Line("unmapped items"),
    /// Items unmapped before that the mapping now maps: their copies are
    /// queued for delivery, and they are recorded under `remapped/`
    /// ([`crate::remap`]).
    remapped => Shown::IfAny(
        "unmapped recovered",
        "items unmapped before that the mapping maps now (their copies go with the others)"
    ),
}

/// Sequence numbers of a source that never came, first to last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeqGap {
    /// The source (`wecom`).
    pub source: String,
    /// The first missing number.
    pub from: u64,
    /// The last missing number.
    pub to: u64,
}

/// What one source contributed to a run's collect counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceCounts {
    /// Batches collected.
    pub batches: u64,
    /// Items in them.
    pub items: u64,
    /// Batches seen before (checkpointed) and skipped.
    pub already_collected: u64,
}

impl SourceCounts {
    fn add(&mut self, other: SourceCounts) {
        self.batches += other.batches;
        self.items += other.items;
        self.already_collected += other.already_collected;
    }
}

/// What one source's raw batches gave a run's convert counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConvertCounts {
    /// Raw batches converted.
    pub batches: u64,
    /// EMLs written.
    pub emails_written: u64,
    /// Items that mapped to no mailbox.
    pub unmapped: u64,
    /// Items whose attachments were replaced by stubs for size.
    pub stubbed_for_size: u64,
    /// Problems: items that could not be converted (each one an error of
    /// the report), and batches that failed as a whole.
    pub failures: u64,
}

impl ConvertCounts {
    fn add(&mut self, other: ConvertCounts) {
        self.batches += other.batches;
        self.emails_written += other.emails_written;
        self.unmapped += other.unmapped;
        self.stubbed_for_size += other.stubbed_for_size;
        self.failures += other.failures;
    }
}

/// A problem or warning as one line: control characters and direction
/// marks escaped, so that a name in it cannot forge report lines.
fn one_line(text: impl fmt::Display) -> String {
    let text = text.to_string();
    match crate::escape::escape(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

impl Report {
    /// Records a problem (as one line: see [`crate::escape`]).
    pub fn error(&mut self, problem: impl fmt::Display) {
        self.errors.push(one_line(problem));
    }

    /// Records a warning (as one line: see [`crate::escape`]).
    pub fn warning(&mut self, note: impl fmt::Display) {
        self.warnings.push(one_line(note));
    }

    /// Counts one batch of `items` items collected from `source` (in the
    /// totals and in the source's own counts).
    pub fn collected(&mut self, source: &str, items: u64) {
        self.drops_collected += 1;
        self.items_collected += items;
        let counts = self.by_source.entry(source.to_owned()).or_default();
        counts.batches += 1;
        counts.items += items;
    }

    /// Counts one batch of `source` skipped because it was collected
    /// before (in the totals and in the source's own counts).
    pub fn already_collected(&mut self, source: &str) {
        self.drops_already_collected += 1;
        self.by_source
            .entry(source.to_owned())
            .or_default()
            .already_collected += 1;
    }

    /// Counts a delivery status reported on `day` (not an item).
    pub fn delivery_status(&mut self, day: &str, status: &str) {
        *self
            .delivery_statuses
            .entry(day.to_owned())
            .or_default()
            .entry(status.to_owned())
            .or_default() += 1;
    }

    /// Counts an error Meta gave with a failed delivery status.
    pub fn status_error(&mut self, error: &str) {
        *self.status_errors.entry(one_line(error)).or_default() += 1;
    }

    /// Records that `source`'s sequence numbers `from` to `to` never came,
    /// as a gap and as a problem (`problem` says it in the source's words).
    pub fn seq_gap(&mut self, source: &str, from: u64, to: u64, problem: impl fmt::Display) {
        self.seq_gaps.push(SeqGap {
            source: source.to_owned(),
            from,
            to,
        });
        self.error(problem);
    }

    /// Counts a copy delivered to a mailbox.
    pub fn delivered_to(&mut self, mailbox: &str) {
        *self.delivered.entry(mailbox.to_owned()).or_default() += 1;
    }

    /// Adds the report of converting one raw batch of `source` to this
    /// one, and its counts to the source's own ([`ConvertCounts`]);
    /// `failed` when the batch failed as a whole (its error is recorded by
    /// the caller).
    pub fn converted(&mut self, source: &str, batch: Report, failed: bool) {
        let counts = ConvertCounts {
            batches: batch.batches_converted,
            emails_written: batch.emails_written,
            unmapped: batch.unmapped,
            stubbed_for_size: batch.stubbed_for_size,
            failures: batch.errors.len() as u64 + u64::from(failed),
        };
        self.converted_by_source
            .entry(source.to_owned())
            .or_default()
            .add(counts);
        self.merge(batch);
    }

    /// Adds another report's counts and problems to this one.
    pub fn merge(&mut self, other: Report) {
        self.add_counters(&other);
        for (source, counts) in other.converted_by_source {
            self.converted_by_source
                .entry(source)
                .or_default()
                .add(counts);
        }
        self.delivered_item_times.extend(other.delivered_item_times);
        for (mailbox, count) in other.delivered {
            *self.delivered.entry(mailbox).or_default() += count;
        }
        for (source, counts) in other.by_source {
            self.by_source.entry(source).or_default().add(counts);
        }
        for (day, statuses) in other.delivery_statuses {
            let ours = self.delivery_statuses.entry(day).or_default();
            for (status, count) in statuses {
                *ours.entry(status).or_default() += count;
            }
        }
        for (error, count) in other.status_errors {
            *self.status_errors.entry(error).or_default() += count;
        }
        self.seq_gaps.extend(other.seq_gaps);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// Writes the report to the log: the counts as one line (with the
    /// counts per source), each problem and warning as its own (they name
    /// objects, never content).
    pub fn log(&self) {
        self.log_counters();
        for problem in &self.errors {
            tracing::error!("{problem}");
        }
        for note in &self.warnings {
            tracing::warn!("{note}");
        }
    }

    /// All copies delivered now.
    pub fn copies_delivered(&self) -> u64 {
        self.delivered.values().sum()
    }
}

/// Starts a summary line, ending the one before (`open`) first: the label
/// padded to [`LABEL_WIDTH`].
fn start_line(f: &mut fmt::Formatter<'_>, open: &mut bool, label: &str) -> fmt::Result {
    if std::mem::take(open) {
        writeln!(f)?;
    }
    write!(f, "{:<LABEL_WIDTH$}", format!("{label}:"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A counter's line stays open: an aside may follow it.
        let mut open = false;
        for (count, shown) in self.counters() {
            match shown {
                Shown::Line(label) => {
                    start_line(f, &mut open, label)?;
                    write!(f, "{count}")?;
                    open = true;
                }
                Shown::Aside(text) => write!(f, " ({count} {text})")?,
                Shown::IfAny(label, unit) if count > 0 => {
                    start_line(f, &mut open, label)?;
                    write!(f, "{count} {unit}")?;
                    open = true;
                }
                Shown::AfterDeliveries(text) => {
                    start_line(f, &mut open, "copies delivered")?;
                    writeln!(f, "{} ({count} {text})", self.copies_delivered())?;
                    for (mailbox, copies) in &self.delivered {
                        writeln!(f, "  {mailbox}: {copies}")?;
                    }
                }
                Shown::IfAny(..) | Shown::Hidden => {}
            }
        }
        if std::mem::take(&mut open) {
            writeln!(f)?;
        }
        if self.by_source.len() > 1 {
            writeln!(f, "collected per source:")?;
            for (source, counts) in &self.by_source {
                let batches = if counts.batches == 1 {
                    "batch"
                } else {
                    "batches"
                };
                writeln!(
                    f,
                    "  {source}: {} items in {} {batches} ({} already collected before)",
                    counts.items, counts.batches, counts.already_collected
                )?;
            }
        }
        if !self.delivery_statuses.is_empty() {
            writeln!(f, "delivery statuses (not mailed):")?;
            for (day, statuses) in &self.delivery_statuses {
                let counts: Vec<String> = statuses
                    .iter()
                    .map(|(status, count)| format!("{status} {count}"))
                    .collect();
                writeln!(f, "  {day}: {}", counts.join(", "))?;
            }
        }
        start_line(f, &mut open, "warnings")?;
        writeln!(f, "{}", self.warnings.len())?;
        for note in &self.warnings {
            writeln!(f, "  {note}")?;
        }
        start_line(f, &mut open, "errors")?;
        writeln!(f, "{}", self.errors.len())?;
        for problem in &self.errors {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as the example run leaves it (one source).
    fn example() -> Report {
        let mut report = Report::default();
        for items in [9, 5, 3, 9] {
            report.collected("whatsapp-export", items);
        }
        report.batches_converted = 4;
        report.emails_written = 26;
        report.unmapped = 3;
        for (mailbox, copies) in [("alice@corp.example", 9), ("dan@corp.example", 5)] {
            for _ in 0..copies {
                report.delivered_to(mailbox);
            }
        }
        report.warning("mapping CSV m.csv: line 2: warning: unlikely number");
        report
    }

    #[test]
    fn the_summary_keeps_its_layout() {
        assert_eq!(
            example().to_string(),
            "drops collected:      4 (0 already collected before)\n\
             items collected:      26\n\
             emails written:       26 (0 already present)\n\
             copies delivered:     14 (0 already delivered before)\n\
             \x20 alice@corp.example: 9\n\
             \x20 dan@corp.example: 5\n\
             unmapped items:       3\n\
             warnings:             1\n\
             \x20 mapping CSV m.csv: line 2: warning: unlikely number\n\
             errors:               0\n"
        );
    }

    #[test]
    fn stubs_and_several_sources_are_printed_when_there_are_any() {
        let mut report = example();
        report.stubbed_for_size = 2;
        report.already_collected("wecom");
        report.collected("wecom", 4);
        report.error("drop x: not an export (.txt or .zip)");
        let text = report.to_string();
        assert!(
            text.contains(
                "emails written:       26 (0 already present)\n\
                 attachments stubbed:  2 items over the target's size limit\n\
                 copies delivered:     14"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "unmapped items:       3\n\
                 collected per source:\n\
                 \x20 wecom: 4 items in 1 batch (1 already collected before)\n\
                 \x20 whatsapp-export: 26 items in 4 batches (0 already collected before)\n\
                 warnings:"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("errors:               1\n  drop x: not an export (.txt or .zip)\n"),
            "{text}"
        );
        assert!(text.starts_with("drops collected:      5 (1 already collected before)\n"));
        assert!(!text.contains("drops refused"), "{text}");
        report.drops_refused = 2;
        assert!(
            report.to_string().starts_with(
                "drops collected:      5 (1 already collected before)\n\
                 drops refused:        2 kept with the reason under failed/drops/\n\
                 items collected:      30\n"
            ),
            "{report}"
        );
    }

    #[test]
    fn merge_adds_every_count() {
        let mut total = example();
        let mut other = example();
        other.already_collected("whatsapp-export");
        other.stubbed_for_size = 1;
        other.already_delivered = 2;
        other.emails_existing = 7;
        other.error("x");
        total.merge(other);
        assert_eq!(
            (total.drops_collected, total.drops_already_collected),
            (8, 1)
        );
        assert_eq!(total.items_collected, 52);
        assert_eq!(total.batches_converted, 8);
        assert_eq!((total.emails_written, total.emails_existing), (52, 7));
        assert_eq!(
            (
                total.stubbed_for_size,
                total.unmapped,
                total.already_delivered
            ),
            (1, 6, 2)
        );
        assert_eq!(total.delivered["alice@corp.example"], 18);
        assert_eq!(total.copies_delivered(), 28);
        assert_eq!(
            total.by_source["whatsapp-export"],
            SourceCounts {
                batches: 8,
                items: 52,
                already_collected: 1
            }
        );
        assert_eq!((total.errors.len(), total.warnings.len()), (1, 2));
    }

    #[test]
    fn the_serialized_report_has_the_counts_per_source() {
        let json = serde_json::to_value(example()).unwrap();
        assert_eq!(
            json["by_source"]["whatsapp-export"],
            serde_json::json!({"batches": 4, "items": 26, "already_collected": 0})
        );
        assert_eq!(json["drops_collected"], 4);
    }
}
