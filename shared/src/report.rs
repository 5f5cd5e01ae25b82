//! The run report: what a run collected, rendered, delivered, could not map
//! and could not process. Every problem names the object, line or item it is
//! about; message content never appears in it.

use std::collections::BTreeMap;
use std::fmt;

/// Counters and problems of one run (or one Lambda invocation).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Drop files read into raw batches.
    pub drops_collected: u64,
    /// Drop files seen before (checkpointed) and skipped.
    pub drops_already_collected: u64,
    /// Items written to raw batches.
    pub items_collected: u64,
    /// Raw batches converted.
    pub batches_converted: u64,
    /// EMLs written.
    pub emails_written: u64,
    /// EMLs that already existed with the same key (re-runs, replays).
    pub emails_existing: u64,
    /// Items whose attachments were all replaced by stubs to fit the
    /// target's message size limit (the files stay in the archive).
    pub stubbed_for_size: u64,
    /// Items that mapped to no mailbox (written to `unmapped/`).
    pub unmapped: u64,
    /// Copies delivered now, per mailbox.
    pub delivered: BTreeMap<String, u64>,
    /// Copies skipped because the ledger or the folder already had them.
    pub already_delivered: u64,
    /// Problems, each naming what it is about: something was not archived
    /// or not delivered.
    pub errors: Vec<String>,
    /// Things worth an administrator's look that lost nothing (a mapping row
    /// kept despite an unlikely phone number, a duplicate row).
    pub warnings: Vec<String>,
}

impl Report {
    /// Records a problem.
    pub fn error(&mut self, problem: impl fmt::Display) {
        self.errors.push(problem.to_string());
    }

    /// Records a warning.
    pub fn warning(&mut self, note: impl fmt::Display) {
        self.warnings.push(note.to_string());
    }

    /// Counts a copy delivered to a mailbox.
    pub fn delivered_to(&mut self, mailbox: &str) {
        *self.delivered.entry(mailbox.to_owned()).or_default() += 1;
    }

    /// Adds another report's counts and problems to this one.
    pub fn merge(&mut self, other: Report) {
        self.drops_collected += other.drops_collected;
        self.drops_already_collected += other.drops_already_collected;
        self.items_collected += other.items_collected;
        self.batches_converted += other.batches_converted;
        self.emails_written += other.emails_written;
        self.emails_existing += other.emails_existing;
        self.stubbed_for_size += other.stubbed_for_size;
        self.unmapped += other.unmapped;
        for (mailbox, count) in other.delivered {
            *self.delivered.entry(mailbox).or_default() += count;
        }
        self.already_delivered += other.already_delivered;
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    /// Writes the report to the log: the counts as one line, each problem
    /// and warning as its own (they name objects, never content).
    pub fn log(&self) {
        tracing::info!(
            drops_collected = self.drops_collected,
            items_collected = self.items_collected,
            batches_converted = self.batches_converted,
            emails_written = self.emails_written,
            emails_existing = self.emails_existing,
            unmapped = self.unmapped,
            copies_delivered = self.copies_delivered(),
            already_delivered = self.already_delivered,
            errors = self.errors.len(),
            "report"
        );
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

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "drops collected:      {} ({} already collected before)",
            self.drops_collected, self.drops_already_collected
        )?;
        writeln!(f, "items collected:      {}", self.items_collected)?;
        writeln!(
            f,
            "emails written:       {} ({} already present)",
            self.emails_written, self.emails_existing
        )?;
        if self.stubbed_for_size > 0 {
            writeln!(
                f,
                "attachments stubbed:  {} items over the target's size limit",
                self.stubbed_for_size
            )?;
        }
        writeln!(
            f,
            "copies delivered:     {} ({} already delivered before)",
            self.copies_delivered(),
            self.already_delivered
        )?;
        for (mailbox, count) in &self.delivered {
            writeln!(f, "  {mailbox}: {count}")?;
        }
        writeln!(f, "unmapped items:       {}", self.unmapped)?;
        writeln!(f, "warnings:             {}", self.warnings.len())?;
        for note in &self.warnings {
            writeln!(f, "  {note}")?;
        }
        writeln!(f, "errors:               {}", self.errors.len())?;
        for problem in &self.errors {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}
