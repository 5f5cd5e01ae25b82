//! The daily report: what the archive did with what it collected on one
//! collection day, for the administrators who answer for it.
//!
//! Per source: units collected and refused, items; the e-mails their items
//! became; per mailbox the copies to deliver and those the ledger records
//! as delivered; the unmapped items a later mapping recovered (their
//! copies are among the mailboxes', from the remap's job files); every
//! unmapped item not recovered, failed or refused item with its reason
//! (reasons name identities and objects, never message content); gaps (a
//! source or a custodian with data in the week before and none this day,
//! copies not delivered yet); and a 14-day trend of items collected and
//! copies to deliver. It is read from the store's records and keys
//! (checkpoints, job files, failure records, the ledger), never from
//! messages, and is written as JSON and as an HTML page (inline CSS and an
//! inline SVG chart: no remote content, no script) under
//! `reports/<day>/<generated-at>.{json,html}` (see [`DayReport::keys`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::jobs::{DeliveryJob, JobQueue, QueueError};
use crate::json_error;
use crate::layout::{
    self, COLLECTED_PREFIX, CollectRun, Collected, DIGEST_JOBS, DigestItem, DigestKey, DigestPart,
    FAILED_LINES_PREFIX, FAILED_PREFIX, Failed, FailedLine, Fingerprint, ItemDay, JOBS_PREFIX,
    REFUSED_DROPS_PREFIX, REMAP, REMAPPED_PREFIX, RawBatch, RefusedDrop, ReportSent,
    UNMAPPED_PREFIX, Unmapped, ledger_key, remapped_key_of,
};
use crate::mailbox::{Envelope, Mailbox, MailboxError, Message};
use crate::reconcile;
use crate::render::{MESSAGE_ID_DOMAIN, push_html};
use crate::report::{Report, SeqGap};
use crate::store::{ObjectStore, StoreError};
use mail_builder::MessageBuilder;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;

/// How many days the trend shows, the report's day last.
pub const TREND_DAYS: u64 = 14;

/// How many days before the report's day a source or custodian must have
/// had data for its silence to be a gap.
const GAP_WINDOW_DAYS: u64 = 7;

/// Why the daily report cannot be made or delivered.
#[derive(Debug, thiserror::Error)]
pub enum DayReportError {
    /// The store cannot be listed, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The admin mailbox refused or failed.
    #[error("the report could not be delivered: {0}")]
    Mailbox(#[from] MailboxError),
    /// The report's delivery job could not be queued.
    #[error("the report could not be queued for delivery: {0}")]
    Queue(#[from] QueueError),
}

/// Makes and stores the report of collection day `day` and hands its
/// e-mail to `queue` for `folder` of the administrators' `mailbox`, as a
/// delivery job like any copy (the deliver stage appends it once, its
/// ledger entry under that mailbox): once while the day is open and once
/// when it is closed (`closed`: a manifest closes it), each recorded by
/// [`layout::report_sent_key`] after the job is queued. `None` when the
/// report of that state was queued before. A run killed between the
/// queueing and that record queues another report the next time (a second
/// e-mail, made later; never a lost one).
///
/// # Errors
///
/// [`DayReportError`] when the store cannot be read or written, or the
/// queue refuses the job.
pub async fn send<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    day: NaiveDate,
    closed: bool,
    (mailbox, folder): (&str, &str),
    now: DateTime<Utc>,
) -> Result<Option<DayReport>, DayReportError> {
    let sent_key = layout::report_sent_key(day, closed);
    if store.exists(&sent_key).await? {
        return Ok(None);
    }
    let report = DayReport::read(store, day, now).await?;
    let (json_key, html_key) = report.keys();
    let (message_id, email) = report.email(mailbox);
    let eml_key = report.eml_key();
    for (key, bytes) in [
        (json_key, report.json()),
        (html_key, report.html().into_bytes()),
        (eml_key.clone(), email.clone()),
    ] {
        store.put_new(&key, &bytes).await?;
    }
    let job = DeliveryJob {
        mailbox: mailbox.to_owned(),
        folder: folder.to_owned(),
        eml_key: eml_key.clone(),
        message_id: message_id.clone(),
        timestamp: report.generated_at.clone(),
        eml: Some(Fingerprint::of(&email)),
        stubbed: false,
    };
    queue.send(std::slice::from_ref(&job)).await?;
    let sent = ReportSent {
        eml_key,
        message_id,
        mailbox: mailbox.to_owned(),
    };
    store.put_new(&sent_key, &layout::record(&sent)).await?;
    Ok(Some(report))
}

/// Delivers `report` as an e-mail to `folder` of the administrators'
/// `mailbox` once: the folder is searched for its Message-ID first, and
/// the delivery is recorded beside the report ([`DayReport::delivered_key`]),
/// not in the ledger, whose copies are the archive's. True when it was
/// appended now, false when the folder had it already.
///
/// # Errors
///
/// [`DayReportError`] when the target or the store fails.
pub async fn deliver<S: ObjectStore, M: Mailbox>(
    store: &S,
    target: &mut M,
    report: &DayReport,
    mailbox: &str,
    folder: &str,
    now: DateTime<Utc>,
) -> Result<bool, DayReportError> {
    let (message_id, bytes) = report.email(mailbox);
    let envelope = Envelope {
        message_id: &message_id,
        message: Message::from_bytes(&bytes),
        internal_date: now,
    };
    let appended = if target.find(mailbox, folder, &message_id).await?.is_some() {
        false
    } else {
        target.append(mailbox, folder, &envelope).await?;
        target.commit().await?;
        true
    };
    let record = serde_json::json!({
        "mailbox": mailbox,
        "folder": folder,
        "message_id": message_id,
        "delivered_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    store
        .put_new(
            &report.delivered_key(),
            &serde_json::to_vec_pretty(&record).expect("a record serializes"),
        )
        .await?;
    Ok(appended)
}

/// The report of one collection day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReport {
    /// The collection day (`2026-11-21`).
    pub day: NaiveDate,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// Per source (by name): what was collected.
    pub sources: BTreeMap<String, SourceDay>,
    /// E-mails written for the day's items: those delivered to at least
    /// one mailbox and those unmapped (kept in the archive only).
    pub emails: u64,
    /// Per mailbox: copies to deliver and copies delivered.
    pub mailboxes: BTreeMap<String, MailboxDay>,
    /// Items no mailbox maps to, with the reason (not those recovered
    /// since).
    pub unmapped: Vec<Problem>,
    /// Items once unmapped that a later mapping maps: delivered to the
    /// mailboxes it gives them ([`crate::remap`]), their copies counted
    /// with the mailboxes'.
    pub recovered: u64,
    /// Items or lines that could not be rendered, with the reason.
    pub failed: Vec<Problem>,
    /// Units (drops) that could not be read, with the reason.
    pub refused: Vec<Problem>,
    /// The archive's own records that cannot be read (a checkpoint, a job
    /// line, a failure record), by key: the counts above miss them.
    pub unreadable: Vec<Problem>,
    /// Collect runs recorded on the day ([`layout::CollectRun`]).
    pub collect_runs: u64,
    /// Problems those runs reported (names and codes, never content).
    pub collect_errors: Vec<String>,
    /// WhatsApp Cloud delivery statuses collected on the day, by status
    /// (`sent`, `delivered`, `read`, `failed`).
    pub delivery_statuses: BTreeMap<String, u64>,
    /// Meta's errors with failed statuses, by error (`131047 (…)`).
    pub status_errors: BTreeMap<String, u64>,
    /// Whether a manifest closes the day (`archiver reconcile`, the
    /// scheduled reconcile function).
    pub reconciled: bool,
    /// What is missing or late: silent sources and custodians, `seq` gaps,
    /// copies not yet delivered, a past day not reconciled where reconcile
    /// runs.
    pub gaps: Vec<String>,
    /// The last [`TREND_DAYS`] days, the report's day last.
    pub trend: Vec<TrendDay>,
}

/// What one source collected on the day, and what its items became.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceDay {
    /// Units collected into batches.
    pub batches: u64,
    /// Units refused (kept with their reason).
    pub refused: u64,
    /// Items collected.
    pub items: u64,
    /// E-mails made for mailboxes from its items.
    pub emails: u64,
    /// Copies to deliver.
    pub copies: u64,
    /// Of those, copies delivered.
    pub delivered: u64,
    /// Items no mailbox maps to.
    pub unmapped: u64,
    /// Items or lines that could not be rendered.
    pub failed: u64,
    /// E-mails whose attachments are stubs, to fit the target's size limit.
    pub stubbed: u64,
    /// Unmapped items a later mapping recovered (`archiver remap`).
    pub recovered: u64,
}

/// One mailbox's copies of the day's items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxDay {
    /// Copies convert planned (delivery jobs).
    pub to_deliver: u64,
    /// Of those, copies the ledger records as delivered.
    pub delivered: u64,
    /// Of those, copies whose attachments are stubs (over the target's
    /// size limit; the files stay in the archive).
    pub stubbed: u64,
}

/// An item or unit the archive kept but could not file, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What it is (an item id, a raw batch and line, a drop's key).
    pub what: String,
    /// Why (identities tried, the parse error; never content).
    pub reason: String,
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendDay {
    /// The collection day.
    pub day: NaiveDate,
    /// Items collected.
    pub items: u64,
    /// Copies to deliver.
    pub copies: u64,
}

/// One checkpoint record, with its day and source.
struct Unit {
    day: NaiveDate,
    source: String,
    record: Collected,
}

impl DayReport {
    /// Makes the report of collection day `day` from the store.
    ///
    /// # Errors
    ///
    /// [`DayReportError`] when the store cannot be read, or a record is
    /// unreadable (named by its key).
    pub async fn read<S: ObjectStore>(
        store: &S,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<DayReport, DayReportError> {
        let (units, unreadable) = units(store).await?;
        let mut report = DayReport {
            day,
            generated_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            sources: BTreeMap::new(),
            emails: 0,
            mailboxes: BTreeMap::new(),
            unmapped: Vec::new(),
            recovered: 0,
            failed: Vec::new(),
            refused: Vec::new(),
            unreadable,
            collect_runs: 0,
            collect_errors: Vec::new(),
            delivery_statuses: BTreeMap::new(),
            status_errors: BTreeMap::new(),
            reconciled: false,
            gaps: Vec::new(),
            trend: Vec::new(),
        };
        for unit in units.iter().filter(|unit| unit.day == day) {
            let source = report.sources.entry(unit.source.clone()).or_default();
            match unit.record.refused_key {
                Some(_) => source.refused += 1,
                None => source.batches += 1,
            }
            source.items += unit.record.items;
        }
        report.read_jobs(store).await?;
        report.read_problems(store).await?;
        report.emails += report.unmapped.len() as u64;
        let seq_gaps = report.read_collect_runs(store).await?;
        let closed = reconcile::closed_days(store).await?;
        report.reconciled = closed.contains(&day);
        report.find_gaps(&units);
        for gap in seq_gaps {
            report.gaps.push(format!(
                "source {}: seq {} to {} never came (data may be lost)",
                gap.source, gap.from, gap.to
            ));
        }
        // Where reconcile runs, a day over for more than a day without its
        // manifest is open: something was lost or is late.
        if !closed.is_empty() && !report.reconciled && day + Days::new(2) <= now.date_naive() {
            report.gaps.push(format!(
                "day {day} is not reconciled: no manifest closes it (see `archiver reconcile --day {day}`)"
            ));
        }
        let (trend, copies_by_day) = trend(store, &units, day).await?;
        report.trend = trend;
        report.find_silent_mailboxes(&units, &copies_by_day);
        Ok(report)
    }

    /// The custodians of sources that are not dropped per custodian (WeCom,
    /// WhatsApp Cloud), by their mailboxes: a mailbox that got copies of a
    /// source in the week before and none this day.
    fn find_silent_mailboxes(&mut self, units: &[Unit], copies: &CopiesByDay) {
        let dropped: BTreeSet<&str> = units
            .iter()
            .filter_map(|unit| custodian_of(unit).map(|(source, _)| source))
            .collect();
        let since = self.day - Days::new(GAP_WINDOW_DAYS);
        for ((source, mailbox), days) in copies {
            if dropped.contains(source.as_str()) || days.contains(&self.day) {
                continue;
            }
            if days.iter().any(|day| *day >= since && *day < self.day) {
                self.gaps.push(format!(
                    "mailbox {mailbox} ({source}): no copies this day, after copies in the {GAP_WINDOW_DAYS} days before"
                ));
            }
        }
    }

    /// The day's delivery jobs: e-mails, copies per mailbox, and which of
    /// them the ledger records.
    async fn read_jobs<S: ObjectStore>(&mut self, store: &S) -> Result<(), DayReportError> {
        let mut emails = BTreeSet::new();
        // Each mailbox's ledger is listed once, rather than every entry
        // read (a missing object reads as "access denied" in S3 without
        // the right to list it).
        let mut ledgers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for key in store.list(JOBS_PREFIX).await? {
            let Some(batch) = RawBatch::of_jobs_key(&key) else {
                continue;
            };
            if batch.day.0 != self.day {
                continue;
            }
            let mut batch_emails = BTreeSet::new();
            let mut stubbed_emails = 0;
            let mut copies = 0;
            let mut delivered = 0;
            for job in jobs(store, &key, &mut self.unreadable).await? {
                let mailbox = self.mailboxes.entry(job.mailbox.clone()).or_default();
                mailbox.to_deliver += 1;
                mailbox.stubbed += u64::from(job.stubbed);
                copies += 1;
                let entry = ledger_key(&job.mailbox, &job.message_id);
                let folder = entry.rfind('/').map_or("", |at| &entry[..=at]).to_owned();
                if !ledgers.contains_key(&folder) {
                    let listed = store.list(&folder).await?.into_iter().collect();
                    ledgers.insert(folder.clone(), listed);
                }
                if ledgers[&folder].contains(&entry) {
                    mailbox.delivered += 1;
                    delivered += 1;
                }
                if emails.insert(job.eml_key.clone()) {
                    stubbed_emails += u64::from(job.stubbed);
                    batch_emails.insert(job.eml_key);
                }
            }
            // A remap's copies are its items' sources' (counted as
            // recovered there), and the mailboxes'. A digest part's are
            // its conversation's source's (filed by the item day).
            let source = match batch.source.as_str() {
                REMAP => continue,
                DIGEST_JOBS => match self.digest_source(store, &batch).await? {
                    Some(source) => source,
                    None => continue,
                },
                _ => batch.source,
            };
            let source = self.sources.entry(source).or_default();
            source.emails += batch_emails.len() as u64;
            source.copies += copies;
            source.delivered += delivered;
            source.stubbed += stubbed_emails;
        }
        self.emails = emails.len() as u64;
        Ok(())
    }

    /// The source of a digest part's items (its job file's batch), from
    /// its first item's record; `None` when a record is missing or
    /// unreadable (listed as such).
    async fn digest_source<S: ObjectStore>(
        &mut self,
        store: &S,
        batch: &RawBatch,
    ) -> Result<Option<String>, DayReportError> {
        let Some((conversation, part)) = batch.id.rsplit_once('-') else {
            return Ok(None);
        };
        let (Ok(part), digest) = (
            part.parse::<u32>(),
            DigestKey {
                day: ItemDay(batch.day.0),
                conversation: conversation.to_owned(),
            },
        ) else {
            return Ok(None);
        };
        let key = digest.part_key(part);
        let Some(part) = record::<_, DigestPart>(store, &key, &mut self.unreadable).await? else {
            return Ok(None);
        };
        let Some(first) = part.items.first() else {
            return Ok(None);
        };
        let key = digest.item_key(first);
        let item = record::<_, DigestItem>(store, &key, &mut self.unreadable).await?;
        Ok(item.and_then(|item| RawBatch::parse(&item.raw_key).map(|raw| raw.source)))
    }

    /// Unmapped (and recovered), failed and refused records of the day's
    /// batches.
    async fn read_problems<S: ObjectStore>(&mut self, store: &S) -> Result<(), DayReportError> {
        let day = self.day;
        let of_day = |raw_key: &str| RawBatch::parse(raw_key).filter(|b| b.day.0 == day);
        let recovered: BTreeSet<String> = store.list(REMAPPED_PREFIX).await?.into_iter().collect();
        for key in store.list(UNMAPPED_PREFIX).await? {
            let Some(record) = record::<_, Unmapped>(store, &key, &mut self.unreadable).await?
            else {
                continue;
            };
            let Some(batch) = of_day(&record.raw_key) else {
                continue;
            };
            let source = self.sources.entry(batch.source).or_default();
            if remapped_key_of(&key).is_some_and(|key| recovered.contains(&key)) {
                self.recovered += 1;
                source.recovered += 1;
            } else {
                source.unmapped += 1;
                self.unmapped.push(Problem {
                    what: format!("item {}", record.item_id),
                    reason: record.reason,
                });
            }
        }
        for key in store.list(FAILED_PREFIX).await? {
            if key.starts_with(REFUSED_DROPS_PREFIX) {
                let Some(record) =
                    record::<_, RefusedDrop>(store, &key, &mut self.unreadable).await?
                else {
                    continue;
                };
                if original_day(&record) == Some(day) {
                    self.refused.push(Problem {
                        what: format!("drop {}", record.drop_key),
                        reason: record.reason,
                    });
                }
            } else if key.starts_with(FAILED_LINES_PREFIX) {
                let Some(record) =
                    record::<_, FailedLine>(store, &key, &mut self.unreadable).await?
                else {
                    continue;
                };
                if let Some(batch) = of_day(&record.raw_key) {
                    self.sources.entry(batch.source).or_default().failed += 1;
                    self.failed.push(Problem {
                        what: format!("line {} of {}", record.line, record.raw_key),
                        reason: record.reason,
                    });
                }
            } else {
                let Some(record) = record::<_, Failed>(store, &key, &mut self.unreadable).await?
                else {
                    continue;
                };
                if let Some(batch) = of_day(&record.raw_key) {
                    self.sources.entry(batch.source).or_default().failed += 1;
                    self.failed.push(Problem {
                        what: format!("item {}", record.item_id),
                        reason: record.reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// The day's collect run records: statuses, Meta's errors, problems;
    /// the `seq` gaps they saw.
    async fn read_collect_runs<S: ObjectStore>(
        &mut self,
        store: &S,
    ) -> Result<Vec<SeqGap>, DayReportError> {
        let mut gaps = Vec::new();
        for key in store.list(&layout::collect_runs_prefix(self.day)).await? {
            let Some(run) = record::<_, CollectRun>(store, &key, &mut self.unreadable).await?
            else {
                continue;
            };
            self.collect_runs += 1;
            for statuses in run.delivery_statuses.into_values() {
                for (status, count) in statuses {
                    *self.delivery_statuses.entry(status).or_default() += count;
                }
            }
            for (error, count) in run.status_errors {
                *self.status_errors.entry(error).or_default() += count;
            }
            self.collect_errors.extend(run.errors);
            gaps.extend(run.seq_gaps);
        }
        Ok(gaps)
    }

    /// Sources and custodians silent on the day after data in the week
    /// before; copies not delivered yet.
    fn find_gaps(&mut self, units: &[Unit]) {
        let since = self.day - Days::new(GAP_WINDOW_DAYS);
        let week: Vec<&Unit> = units
            .iter()
            .filter(|unit| unit.day >= since && unit.day < self.day)
            .collect();
        let today: Vec<&Unit> = units.iter().filter(|unit| unit.day == self.day).collect();
        let sources_before: BTreeSet<&str> = week.iter().map(|u| u.source.as_str()).collect();
        for source in sources_before {
            if !today.iter().any(|unit| unit.source == source) {
                self.gaps.push(format!(
                    "source {source}: no data this day, after data in the {GAP_WINDOW_DAYS} days before"
                ));
            }
        }
        let custodians_before: BTreeSet<(&str, &str)> =
            week.iter().filter_map(|unit| custodian_of(unit)).collect();
        for (source, custodian) in custodians_before {
            if !today
                .iter()
                .any(|unit| custodian_of(unit) == Some((source, custodian)))
            {
                self.gaps.push(format!(
                    "custodian {custodian} ({source}): no data this day, after data in the {GAP_WINDOW_DAYS} days before"
                ));
            }
        }
        if !self.unreadable.is_empty() {
            self.gaps.push(format!(
                "{} record(s) of the archive cannot be read: the counts miss them",
                self.unreadable.len()
            ));
        }
        for (mailbox, copies) in &self.mailboxes {
            let waiting = copies.to_deliver - copies.delivered;
            if waiting > 0 {
                self.gaps.push(format!(
                    "{mailbox}: {waiting} of {} copies not delivered yet",
                    copies.to_deliver
                ));
            }
        }
    }

    /// The keys the report is stored under: `reports/<day>/<made-at>`
    /// with `.json` and `.html` (every report made is kept; the newest
    /// sorts last).
    pub fn keys(&self) -> (String, String) {
        let stem = layout::report_stem(self.day, &self.generated_at);
        (format!("{stem}.json"), format!("{stem}.html"))
    }

    /// The key of the report as an e-mail, when a delivery job carries it
    /// ([`send`]).
    pub fn eml_key(&self) -> String {
        format!("{}.eml", layout::report_stem(self.day, &self.generated_at))
    }

    /// The key that records where the report was delivered.
    pub fn delivered_key(&self) -> String {
        format!(
            "{}.delivered.json",
            layout::report_stem(self.day, &self.generated_at)
        )
    }

    /// The report as JSON.
    pub fn json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a day report serializes")
    }

    /// What the recovered count means, as one line.
    pub fn recovered_line(&self) -> String {
        format!(
            "{} item(s) unmapped before were recovered by a later mapping: their copies go to \
             the mailboxes it gives them, and are counted with them above.",
            self.recovered
        )
    }

    /// Copies to deliver and delivered, all mailboxes.
    pub fn copies(&self) -> (u64, u64) {
        self.mailboxes.values().fold((0, 0), |(to, done), m| {
            (to + m.to_deliver, done + m.delivered)
        })
    }

    /// The report as an HTML page: tables with inline styles and the trend
    /// as inline SVG, readable in Outlook (desktop and web) and a browser.
    pub fn html(&self) -> String {
        let mut out = String::new();
        let cell = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left";
        let head =
            "padding:4px 10px;border-bottom:2px solid #555;text-align:left;background:#f2f2f2";
        let _ = write!(
            out,
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Mobile Archiver report {day}</title></head>\
             <body style=\"font-family:Segoe UI,Arial,sans-serif;font-size:14px;color:#222;margin:16px\">\
             <h1 style=\"font-size:20px\">Mobile Archiver: collection day {day}</h1>\
             <p style=\"color:#555\">Made {at}. Counts are read from the archive's records, never from messages.</p>",
            day = self.day,
            at = self.generated_at
        );
        let (to_deliver, delivered) = self.copies();
        let gaps = self.gaps.len();
        let _ = write!(
            out,
            "<p style=\"font-size:16px\"><b>{items}</b> items collected, <b>{emails}</b> e-mails, \
             <b>{delivered}</b> of <b>{to_deliver}</b> copies delivered, <b>{unmapped}</b> unmapped, \
             <b>{failed}</b> failed, <b>{refused}</b> refused, <b style=\"color:{gap_color}\">{gaps}</b> gap(s).</p>",
            items = self.sources.values().map(|s| s.items).sum::<u64>(),
            emails = self.emails,
            unmapped = self.unmapped.len(),
            failed = self.failed.len(),
            refused = self.refused.len(),
            gap_color = if gaps > 0 { "#b00020" } else { "#1b5e20" },
        );
        if self.recovered > 0 {
            let _ = write!(out, "<p>{}</p>", self.recovered_line());
        }
        out.push_str(&self.trend_svg());
        // Outlook for Windows shows no SVG: the same figures as a table.
        let _ = write!(
            out,
            "<table style=\"border-collapse:collapse;font-size:12px;margin-top:6px\"><tr><th style=\"{cell}\">day</th>"
        );
        for day in &self.trend {
            let _ = write!(out, "<th style=\"{cell}\">{}</th>", day.day.format("%m-%d"));
        }
        let _ = write!(out, "</tr><tr><td style=\"{cell}\">items</td>");
        for day in &self.trend {
            let _ = write!(out, "<td style=\"{cell}\">{}</td>", day.items);
        }
        let _ = write!(out, "</tr><tr><td style=\"{cell}\">copies</td>");
        for day in &self.trend {
            let _ = write!(out, "<td style=\"{cell}\">{}</td>", day.copies);
        }
        out.push_str("</tr></table>");
        let table = |out: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>| {
            let _ = write!(
                out,
                "<h2 style=\"font-size:16px;margin-top:20px\">{title}</h2>"
            );
            if rows.is_empty() {
                out.push_str("<p style=\"color:#555\">None.</p>");
                return;
            }
            out.push_str("<table style=\"border-collapse:collapse\"><tr>");
            for name in header {
                let _ = write!(out, "<th style=\"{head}\">{name}</th>");
            }
            out.push_str("</tr>");
            for row in rows {
                out.push_str("<tr>");
                for value in row {
                    let _ = write!(out, "<td style=\"{cell}\">");
                    push_html(out, &value);
                    out.push_str("</td>");
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        };
        table(
            &mut out,
            "Gaps",
            &["what is missing or late"],
            self.gaps.iter().map(|gap| vec![gap.clone()]).collect(),
        );
        table(
            &mut out,
            "Sources",
            &[
                "source",
                "batches",
                "refused",
                "items",
                "e-mails",
                "copies",
                "delivered",
                "unmapped",
                "failed",
                "stubbed for size",
            ],
            self.sources
                .iter()
                .map(|(name, s)| {
                    [
                        s.batches,
                        s.refused,
                        s.items,
                        s.emails,
                        s.copies,
                        s.delivered,
                        s.unmapped,
                        s.failed,
                        s.stubbed,
                    ]
                    .iter()
                    .fold(vec![name.clone()], |mut row, count| {
                        row.push(count.to_string());
                        row
                    })
                })
                .collect(),
        );
        table(
            &mut out,
            "Mailboxes",
            &[
                "mailbox",
                "copies to deliver",
                "delivered",
                "stubbed for size",
            ],
            self.mailboxes
                .iter()
                .map(|(name, m)| {
                    vec![
                        name.clone(),
                        m.to_deliver.to_string(),
                        m.delivered.to_string(),
                        m.stubbed.to_string(),
                    ]
                })
                .collect(),
        );
        if !self.delivery_statuses.is_empty() || !self.status_errors.is_empty() {
            let counts = |map: &BTreeMap<String, u64>| {
                map.iter()
                    .map(|(name, count)| vec![name.clone(), count.to_string()])
                    .collect()
            };
            table(
                &mut out,
                "WhatsApp Cloud delivery statuses (not mailed)",
                &["status", "count"],
                counts(&self.delivery_statuses),
            );
            table(
                &mut out,
                "Errors Meta reported with failed statuses",
                &["error", "count"],
                counts(&self.status_errors),
            );
        }
        table(
            &mut out,
            "Problems collect reported",
            &["problem"],
            self.collect_errors
                .iter()
                .map(|e| vec![e.clone()])
                .collect(),
        );
        let _ = write!(
            out,
            "<p style=\"color:#555\">{} collect run(s) recorded this day. {}</p>",
            self.collect_runs,
            if self.reconciled {
                "The day is reconciled: a manifest closes it."
            } else {
                "The day is not reconciled yet (no manifest)."
            }
        );
        for (title, problems) in [
            ("Unmapped items", &self.unmapped),
            ("Failed items", &self.failed),
            ("Refused drops", &self.refused),
            ("Unreadable records", &self.unreadable),
        ] {
            table(
                &mut out,
                title,
                &["what", "why"],
                problems
                    .iter()
                    .map(|p| vec![p.what.clone(), p.reason.clone()])
                    .collect(),
            );
        }
        out.push_str("</body></html>\n");
        out
    }

    /// The trend as an inline SVG bar chart: items collected per day (and
    /// copies to deliver, lighter), the report's day last.
    pub fn trend_svg(&self) -> String {
        const WIDTH: u64 = 560;
        const HEIGHT: u64 = 160;
        const BASE: u64 = 130;
        let max = self
            .trend
            .iter()
            .map(|d| d.items.max(d.copies))
            .max()
            .unwrap_or(0)
            .max(1);
        let slot = WIDTH / TREND_DAYS;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Items collected and copies to deliver, last {TREND_DAYS} days\">\
             <title>Items collected (dark) and copies to deliver (light), last {TREND_DAYS} days</title>\
             <line x1=\"0\" y1=\"{BASE}\" x2=\"{WIDTH}\" y2=\"{BASE}\" stroke=\"#999\"/>\
             <text x=\"0\" y=\"12\" font-size=\"11\" font-family=\"Arial\" fill=\"#555\">\
             items collected (dark) and copies to deliver (light) per day; tallest bar {max}</text>"
        );
        for (i, day) in self.trend.iter().enumerate() {
            let x = i as u64 * slot + 4;
            let bar = |value: u64| value * (BASE - 20) / max;
            let (items, copies) = (bar(day.items), bar(day.copies));
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{copies}\" fill=\"#9ecae1\"><title>{} copies</title></rect>\
                 <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{items}\" fill=\"#3182bd\"><title>{} items</title></rect>\
                 <text x=\"{}\" y=\"{}\" font-size=\"10\" font-family=\"Arial\" text-anchor=\"middle\">{}</text>",
                BASE - copies,
                slot / 2 - 2,
                day.copies,
                x + slot / 2 - 2,
                BASE - items,
                slot / 2 - 2,
                day.items,
                x + slot / 2 - 2,
                BASE + 14,
                day.day.format("%m-%d"),
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// Every checkpoint record, with the collection day of its batch (or of
/// its refused original); and the records that cannot be read.
async fn units<S: ObjectStore>(store: &S) -> Result<(Vec<Unit>, Vec<Problem>), StoreError> {
    let mut units = Vec::new();
    let mut unreadable = Vec::new();
    for key in store.list(COLLECTED_PREFIX).await? {
        let Some((source, _)) = key[COLLECTED_PREFIX.len()..].split_once('/') else {
            continue;
        };
        if !layout::is_source_name(source) {
            continue;
        }
        let Some(collected) = record::<_, Collected>(store, &key, &mut unreadable).await? else {
            continue;
        };
        let day = match (&collected.raw_key, &collected.refused_key) {
            (Some(raw_key), _) => RawBatch::parse(raw_key).map(|batch| batch.day.0),
            (None, Some(refused_key)) => {
                record::<_, RefusedDrop>(store, refused_key, &mut unreadable)
                    .await?
                    .and_then(|refused| original_day(&refused))
            }
            (None, None) => None,
        };
        if let Some(day) = day {
            units.push(Unit {
                day,
                source: source.to_owned(),
                record: collected,
            });
        }
    }
    Ok((units, unreadable))
}

/// Items and copies per day for the [`TREND_DAYS`] days ending with `day`.
/// The collection days on which each (source, mailbox) had copies to
/// deliver, over the trend's days (batches of a source only: not remaps'
/// or digest parts').
type CopiesByDay = BTreeMap<(String, String), BTreeSet<NaiveDate>>;

/// The trend, and the days each (source, mailbox) had copies.
async fn trend<S: ObjectStore>(
    store: &S,
    units: &[Unit],
    day: NaiveDate,
) -> Result<(Vec<TrendDay>, CopiesByDay), DayReportError> {
    let first = day - Days::new(TREND_DAYS - 1);
    let mut days: BTreeMap<NaiveDate, TrendDay> = first
        .iter_days()
        .take(TREND_DAYS as usize)
        .map(|d| {
            (
                d,
                TrendDay {
                    day: d,
                    items: 0,
                    copies: 0,
                },
            )
        })
        .collect();
    for unit in units {
        if let Some(entry) = days.get_mut(&unit.day) {
            entry.items += unit.record.items;
        }
    }
    let mut copies = CopiesByDay::new();
    for key in store.list(JOBS_PREFIX).await? {
        let Some(batch) = RawBatch::of_jobs_key(&key) else {
            continue;
        };
        if let Some(entry) = days.get_mut(&batch.day.0) {
            let jobs = jobs(store, &key, &mut Vec::new()).await?;
            entry.copies += jobs.len() as u64;
            if batch.source != REMAP && batch.source != DIGEST_JOBS {
                for job in jobs {
                    copies
                        .entry((batch.source.clone(), job.mailbox))
                        .or_default()
                        .insert(batch.day.0);
                }
            }
        }
    }
    Ok((days.into_values().collect(), copies))
}

/// `(source, custodian)` of a unit whose origin is a drop
/// (`drop/<source>/<custodian>/<file>`).
fn custodian_of(unit: &Unit) -> Option<(&str, &str)> {
    let mut segments = unit.record.origin.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("drop"), Some(source), Some(custodian)) if source == unit.source => {
            Some((source, custodian))
        }
        _ => None,
    }
}

/// The collection day of a refused drop's original
/// (`raw/<source>/<day>/<batch>/<file>`).
fn original_day(refused: &RefusedDrop) -> Option<NaiveDate> {
    layout::raw_day(&refused.original_key).map(|(_, day)| day)
}

/// A batch's delivery jobs; lines that cannot be read go to `unreadable`.
async fn jobs<S: ObjectStore>(
    store: &S,
    key: &str,
    unreadable: &mut Vec<Problem>,
) -> Result<Vec<DeliveryJob>, StoreError> {
    let Some(bytes) = store.get(key).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut report = Report::default();
    crate::jobs::read_lines(&bytes, key, &mut out, &mut report);
    unreadable.extend(report.errors.into_iter().map(|reason| Problem {
        what: key.to_owned(),
        reason,
    }));
    Ok(out)
}

/// A JSON record of the store; `None`, with the record in `unreadable`,
/// when it is gone or not of its shape.
async fn record<S: ObjectStore, T: serde::de::DeserializeOwned>(
    store: &S,
    key: &str,
    unreadable: &mut Vec<Problem>,
) -> Result<Option<T>, StoreError> {
    let reason = match store.get(key).await? {
        None => "listed but gone".to_owned(),
        Some(bytes) => match serde_json::from_slice(&bytes) {
            Ok(record) => return Ok(Some(record)),
            Err(e) => json_error::describe(&e),
        },
    };
    unreadable.push(Problem {
        what: key.to_owned(),
        reason,
    });
    Ok(None)
}

impl DayReport {
    /// The report as an e-mail to the administrators' `mailbox`: the HTML
    /// page as its body, a plain summary beside it, the JSON attached. Its
    /// Message-ID names the day and the time the report was made, so each
    /// report made is one message, delivered once.
    pub fn email(&self, mailbox: &str) -> (String, Vec<u8>) {
        let message_id = format!(
            "report.{}.{}@{MESSAGE_ID_DOMAIN}",
            self.day,
            self.generated_at.replace(':', "")
        );
        let (to_deliver, delivered) = self.copies();
        let items: u64 = self.sources.values().map(|s| s.items).sum();
        let summary = format!(
            "Mobile Archiver, collection day {}: {items} items, {} e-mails, {delivered} of \
             {to_deliver} copies delivered, {} unmapped, {} failed, {} refused, {} gap(s).",
            self.day,
            self.emails,
            self.unmapped.len(),
            self.failed.len(),
            self.refused.len(),
            self.gaps.len()
        );
        let subject = format!(
            "Mobile Archiver report {}: {items} items, {delivered}/{to_deliver} copies delivered, {} gap(s)",
            self.day,
            self.gaps.len()
        );
        let mut text = summary;
        if self.recovered > 0 {
            text.push('\n');
            text.push_str(&self.recovered_line());
        }
        for gap in &self.gaps {
            text.push_str("\n- ");
            text.push_str(gap);
        }
        text.push_str("\n\nThe full report is the HTML part; its data is attached as JSON.\n");
        let date = DateTime::parse_from_rfc3339(&self.generated_at)
            .map(|at| at.timestamp())
            .unwrap_or_default();
        let from = format!("reports@{MESSAGE_ID_DOMAIN}");
        let bytes = MessageBuilder::new()
            .message_id(message_id.clone())
            .date(Date::new(date))
            .from(("Mobile Archiver", from.as_str()))
            .to(mailbox)
            .subject(subject)
            .header("X-Archiver-Report-Day", Raw::new(self.day.to_string()))
            .text_body(text)
            .html_body(self.html())
            .attachment(
                "application/json",
                format!("mobile-archiver-report-{}.json", self.day),
                self.json(),
            )
            .write_to_vec()
            .expect("writing to a vector cannot fail");
        (message_id, bytes)
    }
}
