//! The serverless pipeline: what the Lambda functions do with their events.
//!
//! - [`collect`]: a scheduler event -> raw batches (once per scheduled run).
//! - [`convert`]: an SQS batch of S3 notifications for `raw/` -> EMLs and
//!   delivery jobs, persisted and put on a [`JobQueue`] ([`SqsQueue`]);
//!   with a mapping not applied yet, unmapped items remapped first.
//! - [`deliver`]: an SQS batch of delivery jobs -> IMAP, exactly once.
//! - [`reconcile_days`]: a scheduler event -> each recent day, and each
//!   older one never closed, checked, what was lost sent again to convert
//!   ([`SqsNotificationQueue`]) or deliver, and the day closed with its
//!   manifest once nothing is open.
//! - [`capture`]: a function URL request (WhatsApp Cloud API webhook) ->
//!   the inbox and the media queue ([`MediaQueue`], [`SqsMediaQueue`]).
//! - [`media`]: an SQS batch of media ids -> `media/<sha256>` or a record
//!   of why not.
//!
//! Each SQS message is judged on its own: the response names exactly the
//! messages that failed (`ReportBatchItemFailures`), so one bad message never
//! makes the others run again. The handlers under `functions/` read their
//! [settings](crate::settings), build the clients once and call these.

mod capture;
mod events;
mod mapping;
mod media;
mod queue;
mod reconcile;

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

pub use self::capture::{MediaQueue, MediaQueueError, SqsMediaQueue, capture};
pub use self::events::{CollectRequest, NotificationError, notification_keys};
pub use self::mapping::{MappingSource, MappingSourceError};
pub use self::media::media;
pub use self::queue::{RESENT_ATTRIBUTE, SqsQueue};
pub use self::reconcile::{
    DayReconciled, NotificationQueue, ReconcileRequest, ReconcileRunError, SqsNotificationQueue,
    make_digests, reconcile_days, reconciled, send_report,
};
use crate::collect as collect_stage;
use crate::convert::{self as convert_stage, ConvertError, ConvertOptions};
use crate::deliver::deliver_jobs;
use crate::jobs::{DeliveryJob, JobQueue};
use crate::json_error;
use crate::layout::{self, Claim, CollectionDay, RawBatch};
use crate::mailbox::Mailbox;
use crate::mapping::Mapper;
use crate::remap::{self, RemapOptions};
use crate::report::Report;
use crate::sources::Source;
use crate::store::{Created, ObjectStore, StoreError};

/// Why one SQS message failed (it is named in the batch response, so SQS
/// delivers it again and finally moves it to the dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The body is not an S3 notification.
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// The body is not a delivery job.
    #[error("not a delivery job ({0})")]
    NotAJob(String),
    /// The archive could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A raw batch could not be converted or its jobs queued.
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

/// Time kept free at the end of an invocation (at most; a tenth of the
/// time left when that is less): no delivery starts later.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The instant after which an invocation starts no more deliveries, from
/// Lambda's deadline (milliseconds since the epoch); `None` when the
/// deadline is not in the future (a local emulator that sets none).
pub fn start_no_job_after(deadline_ms: u64, now: DateTime<Utc>) -> Option<Instant> {
    let now_ms = now.timestamp_millis().max(0) as u64;
    if deadline_ms <= now_ms {
        return None;
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    Some(Instant::now() + left - DEADLINE_MARGIN.min(left / 10))
}

/// Time kept at the very end of an invocation (at most; a tenth of the
/// time left when that is less) for reporting: no wait on a server lasts
/// into it.
const REPORT_MARGIN: Duration = Duration::from_secs(5);

/// The instant by which a delivery must have given up waiting on its
/// server ([`crate::mailbox::Mailbox::set_deadline`]), from Lambda's
/// deadline (milliseconds since the epoch); `None` when the deadline is not
/// in the future (a local emulator that sets none).
pub fn stop_waiting_at(deadline_ms: u64, now: DateTime<Utc>) -> Option<Instant> {
    let now_ms = now.timestamp_millis().max(0) as u64;
    if deadline_ms <= now_ms {
        return None;
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    Some(Instant::now() + left - REPORT_MARGIN.min(left / 10))
}

/// Collects every source for one run, filing batches under the archive day
/// (in `archive_tz`) of the scheduled time or of the request's `day`.
///
/// The run first claims its window (`collected/runs/<window>`, create-only).
/// Another invocation for the same window (the scheduler delivering it
/// twice) finds the claim and does nothing; a retry of the same invocation
/// (same `run_id`, the Lambda request id) goes on. Either way nothing is
/// collected twice: drops are checkpointed by content.
pub async fn collect<S: ObjectStore>(
    sources: &mut [Box<dyn Source + '_>],
    archive: &S,
    archive_tz: Tz,
    request: &CollectRequest,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    if let Some(window) = request.window() {
        let key = layout::run_claim_key(&window);
        let claim = Claim {
            run: run_id.to_owned(),
            claimed_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        if archive.put_new(&key, &layout::record(&claim)).await? == Created::Exists {
            let holder = archive
                .get(&key)
                .await?
                .and_then(|bytes| serde_json::from_slice::<Claim>(&bytes).ok());
            if holder.is_none_or(|holder| holder.run != run_id) {
                report.warning(format!(
                    "run window {window} is claimed by another invocation; nothing done"
                ));
                return Ok(report);
            }
        }
    }
    let day = CollectionDay(request.day(archive_tz, now));
    collect_stage::collect(sources, archive, day, &mut report).await?;
    Ok(report)
}

/// Raw batches a convert invocation reads at most to remap unmapped items
/// when the mapping changed ([`crate::remap::if_not_applied`]): the work
/// a new mapping adds to one invocation stays bounded (each raw batch is
/// read once for all its unmapped items), and the next invocations go on
/// where it stopped until every unmapped record has been seen, when the
/// mapping is recorded applied.
pub const REMAP_BATCHES_PER_INVOCATION: usize = 16;

/// Converts the raw batches an SQS batch of S3 notifications names; queues
/// their delivery jobs.
///
/// First, when `mapper`'s mapping was never applied to the unmapped items
/// (a new mapping CSV), up to [`REMAP_BATCHES_PER_INVOCATION`] raw
/// batches' unmapped items are resolved again and those that map now are
/// queued for delivery ([`crate::remap`]). A failure of that is reported
/// and retried by the next invocation; it fails no message.
///
/// A message that is not an S3 notification, or whose batch cannot be read,
/// converted or queued, is reported failed (SQS retries it, then moves it to
/// the dead-letter queue). Objects outside `raw/**.jsonl` are ignored.
pub async fn convert<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    mapper: &Mapper,
    opts: &ConvertOptions,
    messages: &[SqsMessage],
) -> (SqsBatchResponse, Report) {
    let mut response = SqsBatchResponse::default();
    let mut report = Report::default();
    let remap_opts = RemapOptions {
        day: None,
        folders: opts.folders.clone(),
        batches_at_most: Some(REMAP_BATCHES_PER_INVOCATION),
    };
    if let Err(e) = remap::if_not_applied(store, queue, mapper, &remap_opts, &mut report).await {
        report.error(format!(
            "remap of unmapped items: {e}; the next invocation retries"
        ));
    }
    for message in messages {
        let id = message.message_id.as_deref().unwrap_or_default();
        if let Err(problem) =
            convert_message(store, queue, mapper, opts, message, &mut report).await
        {
            report.error(format!("message {id}: {problem}"));
            response.add_failure(id);
        }
    }
    (response, report)
}

async fn convert_message<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    mapper: &Mapper,
    opts: &ConvertOptions,
    message: &SqsMessage,
    report: &mut Report,
) -> Result<(), MessageError> {
    let keys = notification_keys(message.body.as_deref())?;
    for key in keys {
        let Some(batch) = RawBatch::parse(&key) else {
            report.warning(format!("{key}: not a raw batch, ignored"));
            continue;
        };
        // Counted on its own, so that its source's counts are known.
        let mut counted = Report::default();
        let converted =
            convert_stage::convert_batch(store, queue, &batch, mapper, opts, &mut counted).await;
        report.converted(&batch.source, counted, converted.is_err());
        converted?;
    }
    Ok(())
}

/// Delivers an SQS batch of delivery jobs; reports the messages whose job
/// failed.
///
/// A message received before (`ApproximateReceiveCount` > 1) may have been
/// appended before its function died, and a job reconcile sent again
/// ([`RESENT_ATTRIBUTE`]) may have been appended before its ledger entry
/// was lost, so their folder is searched first; the ledger makes every
/// other repeat a no-op. No job starts after
/// `start_no_job_after` (see [`start_no_job_after`]): the rest are reported
/// failed, to be delivered by a later invocation. Jobs of daily reports
/// (their e-mail under `reports/`, [`crate::day_report::send`]) go through
/// `report_lane` when there is one: the SMTP target's lane that sends to
/// the administrators' mailbox itself, never to the journal archive.
pub async fn deliver<S: ObjectStore + Sync, M: Mailbox + Send>(
    store: &S,
    lanes: &mut [M],
    report_lane: Option<&mut M>,
    messages: &[SqsMessage],
    start_no_job_after: Option<Instant>,
) -> (SqsBatchResponse, Report) {
    let mut response = SqsBatchResponse::default();
    let mut report = Report::default();
    let mut jobs = Vec::with_capacity(messages.len());
    let mut origin = Vec::with_capacity(messages.len());
    for message in messages {
        let id = message.message_id.as_deref().unwrap_or_default();
        let parsed = message
            .body
            .as_deref()
            .ok_or(MessageError::Notification(NotificationError::NoBody))
            .and_then(|body| {
                serde_json::from_str::<DeliveryJob>(body)
                    .map_err(|e| MessageError::NotAJob(json_error::describe(&e)))
            });
        match parsed {
            Ok(job) => {
                jobs.push(job);
                origin.push(message);
            }
            Err(problem) => {
                report.error(format!("message {id}: {problem}"));
                response.add_failure(id);
            }
        }
    }
    let retried: Vec<bool> = origin
        .iter()
        .map(|m| {
            m.message_attributes.contains_key(queue::RESENT_ATTRIBUTE)
                || m.attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_none_or(|n| n > 1)
        })
        .collect();
    let (reports, copies): (Vec<usize>, Vec<usize>) = (0..jobs.len())
        .partition(|&i| report_lane.is_some() && layout::is_report_key(&jobs[i].eml_key));
    let mut failed = Vec::new();
    for (indices, lanes) in [
        (copies, lanes),
        (
            reports,
            report_lane.map(std::slice::from_mut).unwrap_or_default(),
        ),
    ] {
        if indices.is_empty() {
            continue;
        }
        let some: Vec<DeliveryJob> = indices.iter().map(|&i| jobs[i].clone()).collect();
        let these = deliver_jobs(
            store,
            lanes,
            &some,
            |n| retried[indices[n]],
            start_no_job_after,
            &mut report,
        )
        .await;
        failed.extend(these.into_iter().map(|n| indices[n]));
    }
    for index in failed {
        response.add_failure(origin[index].message_id.as_deref().unwrap_or_default());
    }
    (response, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::whatsapp_export::{ExportDrops, ExportOptions};
    use crate::store::LocalDir;

    #[test]
    fn deliveries_stop_before_the_deadline() {
        let now = Utc::now();
        let ms = now.timestamp_millis() as u64;
        let start = Instant::now();
        // 300 s left: the last 30 s are kept free.
        let last = start_no_job_after(ms + 300_000, now).unwrap();
        let ahead = last.duration_since(start).as_secs_f64();
        assert!((269.0..=270.5).contains(&ahead), "{ahead}");
        // 20 s left (a local emulator): a tenth is kept free.
        let last = start_no_job_after(ms + 20_000, now).unwrap();
        let ahead = last.duration_since(start).as_secs_f64();
        assert!((17.9..=18.1).contains(&ahead), "{ahead}");
        // No deadline (0) or one already past: no limit is set.
        assert_eq!(start_no_job_after(0, now), None);
        assert_eq!(start_no_job_after(ms.saturating_sub(1_000), now), None);
    }

    #[test]
    fn waits_on_a_server_end_just_before_the_deadline() {
        let now = Utc::now();
        let ms = now.timestamp_millis() as u64;
        let start = Instant::now();
        // 300 s left: the last 5 s are kept for the report.
        let stop = stop_waiting_at(ms + 300_000, now).unwrap();
        let ahead = stop.duration_since(start).as_secs_f64();
        assert!((294.0..=295.5).contains(&ahead), "{ahead}");
        assert_eq!(stop_waiting_at(0, now), None);
    }

    #[tokio::test]
    async fn no_delivery_starts_after_the_invocations_last_moment() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().join("archive"));
        let mail = dir.path().join("mail");
        let mut lanes = [crate::mailbox::Maildir::new(&mail)];
        store
            .put_new("eml/2026-11-21/a.eml", b"Message-ID: <a@x>\r\n\r\nhi\r\n")
            .await
            .unwrap();
        let job = DeliveryJob {
            mailbox: "dana@corp.example".to_owned(),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: "eml/2026-11-21/a.eml".to_owned(),
            message_id: "a@x".to_owned(),
            timestamp: "2026-11-21T09:15:00Z".to_owned(),
            eml: None,
            stubbed: false,
        };
        let message: SqsMessage = serde_json::from_value(serde_json::json!({
            "messageId": "m1",
            "body": serde_json::to_string(&job).unwrap(),
            "attributes": {"ApproximateReceiveCount": "1"},
        }))
        .unwrap();
        let past = Instant::now() - Duration::from_secs(1);
        let (response, report) = deliver(
            &store,
            &mut lanes,
            None,
            std::slice::from_ref(&message),
            Some(past),
        )
        .await;
        assert_eq!(response.batch_item_failures.len(), 1);
        assert!(
            report.errors[0].contains("time is nearly up"),
            "{:?}",
            report.errors
        );
        assert!(!mail.exists(), "nothing was delivered");
        let later = Instant::now() + Duration::from_secs(60);
        let (response, report) = deliver(&store, &mut lanes, None, &[message], Some(later)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            report.errors
        );
        assert_eq!(report.copies_delivered(), 1);
        // The copy's item time, for its delivery latency: 45 minutes later.
        let item_time: DateTime<Utc> = "2026-11-21T09:15:00Z".parse().unwrap();
        assert_eq!(report.delivered_item_times, [item_time]);
        let records =
            crate::metrics::deliver(&report, 0, item_time + chrono::Duration::minutes(45));
        assert!(
            records[0]
                .values
                .contains(&(crate::metrics::Metric::DeliveryLatency, vec![2_700_000])),
            "{records:?}"
        );
    }

    /// A mailbox that records the searches and appends asked of it.
    #[derive(Default)]
    struct Recording {
        searched: usize,
        appended: usize,
    }

    impl crate::mailbox::Mailbox for Recording {
        async fn append(
            &mut self,
            _mailbox: &str,
            _folder: &str,
            _message: &crate::mailbox::Envelope<'_>,
        ) -> Result<crate::mailbox::Appended, crate::mailbox::MailboxError> {
            self.appended += 1;
            Ok(crate::mailbox::Appended { uid: None })
        }

        async fn find(
            &mut self,
            _mailbox: &str,
            _folder: &str,
            _message_id: &str,
        ) -> Result<Option<crate::mailbox::Appended>, crate::mailbox::MailboxError> {
            self.searched += 1;
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_job_reconcile_sent_again_is_searched_for_even_on_its_first_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let job = |n: u32| DeliveryJob {
            mailbox: "dana@corp.example".to_owned(),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: format!("eml/2026-11-21/{n}.eml"),
            message_id: format!("{n}@x"),
            timestamp: "2026-11-21T09:15:00Z".to_owned(),
            eml: None,
            stubbed: false,
        };
        let message = |n: u32, resent: bool| -> SqsMessage {
            let eml = format!("Message-ID: <{n}@x>\r\n\r\nhi\r\n");
            std::fs::create_dir_all(dir.path().join("eml/2026-11-21")).unwrap();
            std::fs::write(dir.path().join(job(n).eml_key), eml).unwrap();
            let mut value = serde_json::json!({
                "messageId": format!("m{n}"),
                "body": serde_json::to_string(&job(n)).unwrap(),
                "attributes": {"ApproximateReceiveCount": "1"},
            });
            if resent {
                value["messageAttributes"] = serde_json::json!({
                    (queue::RESENT_ATTRIBUTE): {"stringValue": "run-1", "dataType": "String"},
                });
            }
            serde_json::from_value(value).unwrap()
        };
        // Received once and unmarked: appended without a search.
        let mut lanes = [Recording::default()];
        let (response, report) =
            deliver(&store, &mut lanes, None, &[message(1, false)], None).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            report.errors
        );
        assert_eq!((lanes[0].searched, lanes[0].appended), (0, 1));
        // Received once but sent again by reconcile: searched first.
        let mut lanes = [Recording::default()];
        let (response, report) = deliver(&store, &mut lanes, None, &[message(2, true)], None).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            report.errors
        );
        assert_eq!((lanes[0].searched, lanes[0].appended), (1, 1));
    }

    #[tokio::test]
    async fn one_scheduled_window_is_collected_by_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let drops = LocalDir::new(dir.path().join("drops"));
        let archive = LocalDir::new(dir.path().join("archive"));
        drops
            .put_new(
                "drop/whatsapp-export/+447700900001/chat.txt",
                "21/11/2026, 09:15 - Bob: Hello\n".as_bytes(),
            )
            .await
            .unwrap();
        let opts = ExportOptions {
            tz: chrono_tz::Europe::London,
            date_order: None,
            zip_limits: Default::default(),
        };
        let mut sources: Vec<Box<dyn Source>> = vec![Box::new(ExportDrops::new(drops, opts))];
        let request: CollectRequest =
            serde_json::from_str(r#"{"scheduled_time":"2026-11-21T00:30:00Z"}"#).unwrap();
        let now = Utc::now();
        let tz = chrono_tz::Europe::London;
        let first = collect(&mut sources, &archive, tz, &request, "run-1", now)
            .await
            .unwrap();
        assert_eq!((first.drops_collected, first.items_collected), (1, 1));
        // The same invocation retried goes on (and finds the drop collected).
        let retry = collect(&mut sources, &archive, tz, &request, "run-1", now)
            .await
            .unwrap();
        assert_eq!(retry.drops_already_collected, 1);
        assert!(retry.warnings.is_empty(), "{:?}", retry.warnings);
        // Another invocation for the same window does nothing at all.
        let other = collect(&mut sources, &archive, tz, &request, "run-2", now)
            .await
            .unwrap();
        assert_eq!(other.drops_already_collected, 0);
        assert!(
            other.warnings[0].contains("claimed"),
            "{:?}",
            other.warnings
        );
    }
}
