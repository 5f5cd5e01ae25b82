//! The reconcile function's work: each recent collection day, and each
//! older one with raw batches but no manifest, checked
//! ([`crate::reconcile::check`]), what was lost sent again, and the day
//! closed with its manifest once nothing is open.
//!
//! Repairs go back into the pipeline rather than around it, so that convert
//! and deliver stay the only writers of e-mails and ledger entries:
//! - a raw batch never converted (an S3 notification lost, or expired in
//!   the dead-letter queue) gets a notification again, an S3 event record
//!   for its key as S3 itself sends, on the convert queue
//!   ([`NotificationQueue`]);
//! - a delivery job without a ledger entry (a deliver message lost, a
//!   mailbox unreachable for days, an entry deleted) is sent again to the
//!   deliver queue as convert sends it, marked so that deliver searches
//!   the folder before it appends ([`super::SqsQueue::resending`]).
//!
//! Either runs later, in its own function: a day repaired by one run is
//! closed by the next, which finds nothing open.

use std::future::Future;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use super::queue::send_entries;
use crate::convert::ConvertOptions;
use crate::day_report::{self, DayReportError};
use crate::digest;
use crate::jobs::{DeliveryJob, JobQueue, QueueError};
use crate::layout::RawBatch;
use crate::metrics::Reconciled;
use crate::reconcile::{self, Closed, ReconcileError};
use crate::report::Report;
use crate::settings::ReportSettings;
use crate::store::{ObjectStore, StoreError};

/// The reconcile function's input, as EventBridge Scheduler sends it:
/// `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`, or
/// `{"day": "2026-11-20"}` for one given day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// When the schedule fired (RFC 3339).
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// One collection day to reconcile, instead of the recent ones.
    #[serde(default)]
    pub day: Option<NaiveDate>,
}

impl ReconcileRequest {
    /// The collection days to reconcile, oldest first: the given day, else
    /// the `recent` days up to yesterday (of the scheduled, or current,
    /// time in `tz`, the zone collection days are reckoned in).
    pub fn days(&self, tz: Tz, now: DateTime<Utc>, recent: u64) -> Vec<NaiveDate> {
        if let Some(day) = self.day {
            return vec![day];
        }
        let today = self.scheduled_time.unwrap_or(now).with_timezone(&tz);
        (1..=recent)
            .rev()
            .filter_map(|back| today.date_naive().checked_sub_days(Days::new(back)))
            .collect()
    }
}

/// Where raw batches' notifications go: the convert queue.
pub trait NotificationQueue: Send + Sync {
    /// Sends one S3 `ObjectCreated` notification per key.
    fn send(&self, keys: &[String]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The convert queue in AWS, sent notifications in the shape S3 sends
/// them (so that convert reads them as it reads S3's own).
#[derive(Debug, Clone)]
pub struct SqsNotificationQueue {
    client: Client,
    url: String,
    bucket: String,
}

impl SqsNotificationQueue {
    /// The queue at `url`, for objects of `bucket`.
    pub fn new(client: Client, url: impl Into<String>, bucket: impl Into<String>) -> Self {
        SqsNotificationQueue {
            client,
            url: url.into(),
            bucket: bucket.into(),
        }
    }
}

impl NotificationQueue for SqsNotificationQueue {
    async fn send(&self, keys: &[String]) -> Result<(), QueueError> {
        let entries = keys
            .iter()
            .enumerate()
            .map(|(n, key)| {
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(notification(&self.bucket, key))
                    .build()
                    .map_err(|e| QueueError::Send(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        send_entries(&self.client, &self.url, entries).await
    }
}

/// What S3 leaves unencoded in a notification's key.
const KEY_UNENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An S3 `ObjectCreated` notification (one record) for `key` in `bucket`,
/// its key URL-encoded as S3 encodes it.
fn notification(bucket: &str, key: &str) -> String {
    let key = utf8_percent_encode(key, KEY_UNENCODED).to_string();
    serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventTime": Utc::now().to_rfc3339(),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "mobile-archiver-reconcile"},
            "requestParameters": {},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "mobile-archiver-reconcile",
                "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": key},
            },
        }]
    })
    .to_string()
}

/// Why a day could not be reconciled (the invocation fails).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileRunError {
    /// The archive could not be read, or the manifest written.
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    /// A notification or job could not be sent again.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// Some days of a run could not be reconciled (each one's error is
    /// logged with it); the others were.
    #[error("{} day(s) could not be reconciled ({}): see the error logged for each", .0.len(), joined(.0))]
    Days(Vec<NaiveDate>),
    /// The days with raw batches but no manifest could not be listed (the
    /// recent days were reconciled).
    #[error("the days never closed could not be listed: {0}")]
    Unclosed(ReconcileError),
}

/// Days as `2026-11-20, 2026-11-21`.
fn joined(days: &[NaiveDate]) -> String {
    days.iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What reconciling a day found and did. Keys, item ids, mailboxes and
/// counts only: never a message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReconciled {
    /// The collection day.
    pub day: NaiveDate,
    /// Its raw batches.
    pub batches: u64,
    /// Their items.
    pub items: u64,
    /// Its delivery jobs (copies).
    pub copies: u64,
    /// Batches never converted, sent to convert again now.
    pub batches_resent: usize,
    /// Copies without a ledger entry, sent to deliver again now.
    pub copies_resent: usize,
    /// What is open, one line each (see [`reconcile::DayCheck::open_lines`]).
    pub open: Vec<String>,
    /// The manifest written now, when the day closed now.
    pub manifest: Option<String>,
    /// The chain's newest SHA-256 after that manifest (keep it outside the
    /// archive: `archiver verify --head`).
    pub head: Option<String>,
    /// Whether the day is closed: nothing open, and every object of the
    /// day in a manifest (now or before).
    pub closed: bool,
}

impl DayReconciled {
    /// Logs the outcome: one line with the counts (`open_lines` > 0 raises
    /// the template's alarm), then one warning per open line.
    pub fn log(&self) {
        tracing::info!(
            day = %self.day,
            batches = self.batches,
            items = self.items,
            copies = self.copies,
            batches_resent = self.batches_resent as u64,
            copies_resent = self.copies_resent as u64,
            open_lines = self.open.len() as u64,
            closed = self.closed,
            manifest = self.manifest.as_deref().unwrap_or_default(),
            head = self.head.as_deref().unwrap_or_default(),
            "day reconciled"
        );
        for line in &self.open {
            tracing::warn!(day = %self.day, "open: {line}");
        }
    }
}

/// Makes the digests due at `now` ([`crate::digest`]), before the days
/// are reconciled, so that a day whose digests are made now can close:
/// their jobs go to `jobs` (the deliver queue). A conversation's day that
/// could not be made is logged (keys only) and left for the next run.
/// Returns the digest e-mails written.
///
/// # Errors
///
/// [`StoreError`] when the archive cannot be read or written.
pub async fn make_digests<S: ObjectStore, Q: JobQueue>(
    store: &S,
    jobs: &Q,
    now: DateTime<Utc>,
    opts: &ConvertOptions,
) -> Result<u64, StoreError> {
    let mut report = Report::default();
    digest::digest_due(store, jobs, now, opts, &mut report).await?;
    for error in &report.errors {
        tracing::error!("digest not made: {error}");
    }
    tracing::info!(digests_written = report.digests_written, "digests made");
    Ok(report.digests_written)
}

/// Reconciles the days `request` names ([`ReconcileRequest::days`], in
/// `tz`, the zone collection days are reckoned in, `recent` of them up to
/// yesterday) and, for a scheduled run, every older day with raw batches
/// but no manifest ([`reconcile::unclosed_days`]), so that a day still
/// open after the recent ones is checked, repaired and reported until it
/// closes. Each day's outcome is logged ([`DayReconciled::log`]).
///
/// A day that cannot be reconciled does not stop the others: its error is
/// logged with the day, and the run fails at the end.
///
/// # Errors
///
/// [`ReconcileRunError::Days`] when any day could not be reconciled;
/// [`ReconcileRunError::Unclosed`] when the older days could not be
/// listed.
pub async fn reconcile_days<S, N, Q>(
    store: &S,
    notifications: &N,
    jobs: &Q,
    request: &ReconcileRequest,
    tz: Tz,
    now: DateTime<Utc>,
    recent: u64,
) -> Result<Vec<DayReconciled>, ReconcileRunError>
where
    S: ObjectStore,
    N: NotificationQueue,
    Q: JobQueue,
{
    let today = now.with_timezone(&tz).date_naive();
    let mut days = request.days(tz, now, recent);
    let mut unlisted = None;
    if request.day.is_none()
        && let Some(&first) = days.first()
    {
        match reconcile::unclosed_days(store).await {
            Ok(unclosed) => days.extend(unclosed.into_iter().filter(|day| *day < first)),
            Err(e) => {
                tracing::error!(error = %e, "the days never closed could not be listed");
                unlisted = Some(e);
            }
        }
    }
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for day in days {
        match reconcile_day(store, notifications, jobs, day, today, tz).await {
            Ok(outcome) => {
                outcome.log();
                outcomes.push(outcome);
            }
            Err(e) => {
                tracing::error!(day = %day, error = %e, "day not reconciled");
                failed.push(day);
            }
        }
    }
    if !failed.is_empty() {
        return Err(ReconcileRunError::Days(failed));
    }
    if let Some(e) = unlisted {
        return Err(ReconcileRunError::Unclosed(e));
    }
    Ok(outcomes)
}

/// Sends the daily report of the newest day of `days` (the outcomes of
/// one reconcile run) to the administrators' mailbox of `settings`, once
/// while the day is open and once when it is closed
/// ([`day_report::send`]); the day, when a report was queued now. Nothing
/// without a mailbox.
///
/// # Errors
///
/// [`DayReportError`] when the store cannot be read or written, or the
/// queue refuses the report's job.
pub async fn send_report<S: ObjectStore, Q: JobQueue>(
    store: &S,
    queue: &Q,
    days: &[DayReconciled],
    settings: &ReportSettings,
    now: DateTime<Utc>,
) -> Result<Option<NaiveDate>, DayReportError> {
    let (Some(mailbox), Some(newest)) = (&settings.mailbox, days.iter().max_by_key(|d| d.day))
    else {
        return Ok(None);
    };
    let sent = day_report::send(
        store,
        queue,
        newest.day,
        newest.closed,
        (mailbox, &settings.folder),
        now,
    )
    .await?;
    Ok(sent.map(|report| report.day))
}

/// Reconciles collection day `day`: checks it, sends again the
/// notifications of batches never converted and the jobs of copies not
/// delivered, and closes it when nothing is open and it is over (`today`:
/// the current day in `tz`, the zone collection days are reckoned in). A
/// day without a raw batch is closed only when a scheduled collect run
/// claimed it ([`reconcile::collect_claimed`]): else collect failed before
/// it claimed, or never ran, and the day is reported open.
///
/// # Errors
///
/// [`ReconcileRunError`] when the archive cannot be read, the manifest
/// cannot be written, or a queue refuses what is sent again.
async fn reconcile_day<S, N, Q>(
    store: &S,
    notifications: &N,
    jobs: &Q,
    day: NaiveDate,
    today: NaiveDate,
    tz: Tz,
) -> Result<DayReconciled, ReconcileRunError>
where
    S: ObjectStore,
    N: NotificationQueue,
    Q: JobQueue,
{
    let check = reconcile::check(store, day).await?;
    let unconverted: Vec<String> = check.unconverted.iter().map(RawBatch::key).collect();
    if !unconverted.is_empty() {
        notifications.send(&unconverted).await?;
    }
    let undelivered: Vec<DeliveryJob> = check
        .undelivered
        .iter()
        .map(|(_, job)| job.clone())
        .collect();
    if !undelivered.is_empty() {
        jobs.send(&undelivered).await?;
    }
    let mut outcome = DayReconciled {
        day,
        batches: check.batches,
        items: check.items,
        copies: check.copies,
        batches_resent: unconverted.len(),
        copies_resent: check.undelivered.len(),
        open: check.open_lines(),
        manifest: None,
        head: None,
        closed: false,
    };
    if check.batches == 0 && day < today && !reconcile::collect_claimed(store, day, tz).await? {
        outcome.open.push(format!(
            "no raw batch, and no collect run claimed {day}: collect failed or did not run"
        ));
    }
    if outcome.open.is_empty() {
        match reconcile::close(store, &check, today).await {
            Ok(Closed::Written { key, head }) => {
                outcome.manifest = Some(key);
                outcome.head = Some(head);
                outcome.closed = true;
            }
            Ok(Closed::Already) => outcome.closed = true,
            // Complete so far, but the day may still grow: closed later.
            Err(ReconcileError::NotOver(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(outcome)
}

/// What a reconcile run did, as its metrics line counts it: the days
/// left open and closed and what was sent again, or the days not
/// reconciled (a run that failed otherwise is one failure).
pub fn reconciled(outcome: &Result<Vec<DayReconciled>, ReconcileRunError>) -> Reconciled {
    match outcome {
        Ok(days) => {
            let closed = days.iter().filter(|day| day.closed).count() as u64;
            let sum = |count: fn(&DayReconciled) -> usize| -> u64 {
                days.iter().map(count).sum::<usize>() as u64
            };
            Reconciled::Days {
                open: days.len() as u64 - closed,
                closed,
                batches_resent: sum(|day| day.batches_resent),
                copies_resent: sum(|day| day.copies_resent),
            }
        }
        Err(ReconcileRunError::Days(days)) => Reconciled::Failed {
            failures: days.len() as u64,
        },
        Err(_) => Reconciled::Failed { failures: 1 },
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_run_is_counted_for_its_metrics_line() {
        let day = |d: u32, closed: bool| DayReconciled {
            day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            batches: 4,
            items: 26,
            copies: 40,
            batches_resent: usize::from(!closed),
            copies_resent: 2 * usize::from(!closed),
            open: Vec::new(),
            manifest: None,
            head: None,
            closed,
        };
        assert_eq!(
            reconciled(&Ok(vec![day(19, true), day(20, false), day(21, false)])),
            Reconciled::Days {
                open: 2,
                closed: 1,
                batches_resent: 2,
                copies_resent: 4,
            }
        );
        let days = vec![day(19, true).day, day(20, true).day];
        assert_eq!(
            reconciled(&Err(ReconcileRunError::Days(days))),
            Reconciled::Failed { failures: 2 }
        );
    }

    use std::sync::Mutex;

    use chrono_tz::UTC;

    use super::*;
    use crate::jobs;
    use crate::layout::{CollectionDay, ledger_key};
    use crate::store::{LocalDir, ObjectStore};

    /// The queues, recording what is sent.
    #[derive(Default)]
    struct Recorded {
        keys: Mutex<Vec<String>>,
        jobs: Mutex<Vec<DeliveryJob>>,
    }

    impl NotificationQueue for Recorded {
        async fn send(&self, keys: &[String]) -> Result<(), QueueError> {
            self.keys.lock().unwrap().extend_from_slice(keys);
            Ok(())
        }
    }

    impl JobQueue for Recorded {
        async fn send(&self, jobs: &[DeliveryJob]) -> Result<(), QueueError> {
            self.jobs.lock().unwrap().extend_from_slice(jobs);
            Ok(())
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()
    }

    fn batch(id: &str) -> RawBatch {
        RawBatch {
            source: "whatsapp-export".to_owned(),
            day: CollectionDay(day()),
            id: id.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_lost_notification_and_a_lost_copy_are_sent_again_and_the_day_closes_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let job = DeliveryJob {
            mailbox: "dana@corp.example".to_owned(),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: "eml/2026-11-21/a.eml".to_owned(),
            message_id: "a@x".to_owned(),
            timestamp: "2026-11-21T09:15:00Z".to_owned(),
            eml: None,
            stubbed: false,
        };
        // Batch a was never converted; batch b was, and its one copy has
        // no ledger entry. (Neither holds items: only batches, jobs and
        // e-mails are looked at here.)
        let (a, b) = (batch("a"), batch("b"));
        for raw in [&a, &b] {
            store.put_new(&raw.key(), b"\n").await.unwrap();
        }
        store.put_new(&job.eml_key, b"eml").await.unwrap();
        let lines = jobs::to_lines(std::slice::from_ref(&job));
        store.put_new(&b.jobs_key(), &lines).await.unwrap();
        let today = day().succ_opt().unwrap();

        let queues = Recorded::default();
        let open = reconcile_day(&store, &queues, &queues, day(), today, UTC)
            .await
            .unwrap();
        assert_eq!((open.batches_resent, open.copies_resent), (1, 1));
        assert_eq!(open.open.len(), 2, "{:?}", open.open);
        assert!(!open.closed && open.manifest.is_none());
        assert_eq!(*queues.keys.lock().unwrap(), [a.key()]);
        assert_eq!(*queues.jobs.lock().unwrap(), std::slice::from_ref(&job));

        // Convert and deliver did their part: the next run closes the day.
        store.put_new(&a.jobs_key(), b"").await.unwrap();
        let entry = ledger_key(&job.mailbox, &job.message_id);
        store.put_new(&entry, b"{}").await.unwrap();
        let closed = reconcile_day(&store, &queues, &queues, day(), today, UTC)
            .await
            .unwrap();
        assert_eq!((closed.batches_resent, closed.copies_resent), (0, 0));
        assert!(closed.open.is_empty() && closed.closed);
        assert_eq!(closed.manifest.as_deref(), Some("manifest/00000001.json"));
        assert_eq!(closed.head.as_ref().map(String::len), Some(64));
        // And the run after finds it closed, writing nothing.
        let again = reconcile_day(&store, &queues, &queues, day(), today, UTC)
            .await
            .unwrap();
        assert!(again.closed && again.manifest.is_none());
        assert_eq!(queues.keys.lock().unwrap().len(), 1);
        assert_eq!(queues.jobs.lock().unwrap().len(), 1);
    }

    /// A convert queue that refuses the keys of one day.
    struct Refusing(NaiveDate);

    impl NotificationQueue for Refusing {
        async fn send(&self, keys: &[String]) -> Result<(), QueueError> {
            match keys.iter().any(|key| key.contains(&self.0.to_string())) {
                true => Err(QueueError::Send("refused".to_owned())),
                false => Ok(()),
            }
        }
    }

    fn batch_on(day: NaiveDate, id: &str) -> RawBatch {
        RawBatch {
            source: "whatsapp-export".to_owned(),
            day: CollectionDay(day),
            id: id.to_owned(),
        }
    }

    /// A batch of `day` converted, with no item and no job.
    async fn converted(store: &LocalDir, day: NaiveDate, id: &str) -> RawBatch {
        let batch = batch_on(day, id);
        store.put_new(&batch.key(), b"\n").await.unwrap();
        store.put_new(&batch.jobs_key(), b"").await.unwrap();
        batch
    }

    #[tokio::test]
    async fn a_day_that_fails_does_not_stop_the_newer_days_and_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let (d19, d20, d21) = (
            day().pred_opt().unwrap().pred_opt().unwrap(),
            day().pred_opt().unwrap(),
            day(),
        );
        // 19 November: a batch never converted, whose notification the
        // queue refuses; 20 and 21 November: complete.
        store
            .put_new(&batch_on(d19, "a").key(), b"\n")
            .await
            .unwrap();
        converted(&store, d20, "b").await;
        converted(&store, d21, "c").await;
        // 04:30 on 22 November (UTC): the three days before are recent.
        let request = ReconcileRequest {
            scheduled_time: Some("2026-11-22T04:30:00Z".parse().unwrap()),
            day: None,
        };
        let now = request.scheduled_time.unwrap();
        let queues = Recorded::default();
        let err = reconcile_days(&store, &Refusing(d19), &queues, &request, UTC, now, 3)
            .await
            .unwrap_err();
        assert!(matches!(&err, ReconcileRunError::Days(days) if *days == [d19]));
        assert!(err.to_string().contains("(2026-11-19)"), "{err}");
        // The days after it were checked and closed all the same.
        let manifests = store.list("manifest/").await.unwrap();
        assert_eq!(manifests.len(), 2, "{manifests:?}");

        // Once it is converted, the next run closes it too.
        let late = batch_on(d19, "a");
        store.put_new(&late.jobs_key(), b"").await.unwrap();
        let days = reconcile_days(&store, &queues, &queues, &request, UTC, now, 3)
            .await
            .unwrap();
        assert_eq!(days.len(), 3);
        assert!(days.iter().all(|d| d.closed), "{days:?}");
    }

    #[tokio::test]
    async fn a_day_open_beyond_the_recent_ones_is_still_reconciled() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let old = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        // 1 November: one batch never converted; 2 November: closed.
        let lost = batch_on(old, "a");
        store.put_new(&lost.key(), b"\n").await.unwrap();
        let closed = converted(&store, old.succ_opt().unwrap(), "b").await;
        let queues = Recorded::default();
        let given = ReconcileRequest {
            scheduled_time: None,
            day: Some(closed.day.0),
        };
        let now = "2026-11-22T04:30:00Z".parse().unwrap();
        let days = reconcile_days(&store, &queues, &queues, &given, UTC, now, 3)
            .await
            .unwrap();
        assert!(days[0].closed);
        assert!(queues.keys.lock().unwrap().is_empty(), "only the day given");

        let scheduled = ReconcileRequest {
            scheduled_time: Some(now),
            day: None,
        };
        let days = reconcile_days(&store, &queues, &queues, &scheduled, UTC, now, 3)
            .await
            .unwrap();
        let checked: Vec<String> = days.iter().map(|d| d.day.to_string()).collect();
        // The recent days first, then the one never closed (not the one
        // closed).
        assert_eq!(
            checked,
            ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-01"]
        );
        assert_eq!(days[3].batches_resent, 1);
        assert_eq!(days[3].open.len(), 1, "{:?}", days[3].open);
        assert_eq!(*queues.keys.lock().unwrap(), [lost.key()]);
    }

    #[tokio::test]
    async fn a_day_without_batches_closes_only_when_collect_claimed_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let queues = Recorded::default();
        let today = day().succ_opt().unwrap();
        let tokyo = chrono_tz::Asia::Tokyo;
        let open = reconcile_day(&store, &queues, &queues, day(), today, tokyo)
            .await
            .unwrap();
        assert!(!open.closed && open.manifest.is_none());
        assert_eq!(open.open.len(), 1, "{:?}", open.open);
        assert!(open.open[0].contains("no collect run claimed"));
        // Collect's run at 00:30 on 21 November in Tokyo (15:30 UTC the
        // day before) claimed its window.
        let claim = crate::layout::run_claim_key("2026-11-20T15:30:00Z");
        store.put_new(&claim, b"{}").await.unwrap();
        let closed = reconcile_day(&store, &queues, &queues, day(), today, tokyo)
            .await
            .unwrap();
        assert!(closed.open.is_empty() && closed.closed, "{closed:?}");
        assert_eq!(closed.manifest.as_deref(), Some("manifest/00000001.json"));
    }

    #[tokio::test]
    async fn a_job_whose_email_is_missing_is_reported_not_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let b = batch("b");
        store.put_new(&b.key(), b"\n").await.unwrap();
        let job = DeliveryJob {
            mailbox: "dana@corp.example".to_owned(),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: "eml/2026-11-21/gone.eml".to_owned(),
            message_id: "gone@x".to_owned(),
            timestamp: "2026-11-21T09:15:00Z".to_owned(),
            eml: None,
            stubbed: false,
        };
        let lines = jobs::to_lines(std::slice::from_ref(&job));
        store.put_new(&b.jobs_key(), &lines).await.unwrap();
        let queues = Recorded::default();
        let today = day().succ_opt().unwrap();
        let outcome = reconcile_day(&store, &queues, &queues, day(), today, UTC)
            .await
            .unwrap();
        assert_eq!(outcome.copies_resent, 0);
        assert!(queues.jobs.lock().unwrap().is_empty());
        assert_eq!(
            outcome.open,
            [
                "eml/2026-11-21/gone.eml to dana@corp.example: not delivered, and its e-mail is missing"
            ]
        );
        assert!(!outcome.closed);
    }

    #[tokio::test]
    async fn a_complete_day_not_over_is_left_open_to_close_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path());
        let queues = Recorded::default();
        let outcome = reconcile_day(&store, &queues, &queues, day(), day(), UTC)
            .await
            .unwrap();
        assert!(outcome.open.is_empty());
        assert!(!outcome.closed && outcome.manifest.is_none());
    }

    #[test]
    fn a_notification_sent_again_names_its_key_as_s3_would() {
        let key = "raw/whatsapp-export/2026-11-21/微信 export+1.jsonl";
        let body = notification("archive", key);
        assert_eq!(super::super::notification_keys(Some(&body)).unwrap(), [key]);
        assert!(
            body.contains("%E5%BE%AE%E4%BF%A1%20export%2B1.jsonl"),
            "{body}"
        );
    }

    #[test]
    fn a_scheduled_run_reconciles_the_recent_days_up_to_yesterday_in_the_archive_zone() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let scheduled: ReconcileRequest =
            serde_json::from_str(r#"{"scheduled_time":"2026-11-21T19:30:00Z"}"#).unwrap();
        // 04:30 on 22 November in Tokyo.
        let days: Vec<String> = scheduled
            .days(tokyo, Utc::now(), 3)
            .iter()
            .map(NaiveDate::to_string)
            .collect();
        assert_eq!(days, ["2026-11-19", "2026-11-20", "2026-11-21"]);
        let given: ReconcileRequest = serde_json::from_str(r#"{"day":"2026-11-01"}"#).unwrap();
        assert_eq!(
            given.days(tokyo, Utc::now(), 3),
            [NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()]
        );
        assert!(serde_json::from_str::<ReconcileRequest>(r#"{"days":3}"#).is_err());
    }
}
