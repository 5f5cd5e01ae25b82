//! The convert function's path (`shared::lambda::convert`) on a local
//! store, with no LocalStack: an SQS event of S3 notifications (a fixture
//! as Lambda delivers it) in, EMLs, the batch's persisted jobs and the
//! jobs handed to the queue out, and per-record failures named.

use std::path::Path;
use std::sync::Mutex;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use shared::convert::{ConvertOptions, Delivery};
use shared::jobs::{self, DeliveryJob, JobQueue, QueueError};
use shared::lambda;
use shared::layout::{self, RawBatch};
use shared::mapping::Mapper;
use shared::metrics::{self, Metric, Stage};
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::{LocalDir, ObjectStore};

const EVENT: &[u8] = include_bytes!("fixtures/lambda/convert-event.json");
const RAW_BATCH: &[u8] = include_bytes!("fixtures/lambda/raw-batch.jsonl");
/// The key the fixture's notification names (URL-encoded there).
const RAW_KEY: &str = "raw/whatsapp-export/2026-11-21/fixture batch.jsonl";

/// A queue that keeps what it is given, or refuses everything.
#[derive(Default)]
struct Recorded {
    refuse: bool,
    sent: Mutex<Vec<Vec<DeliveryJob>>>,
}

impl JobQueue for Recorded {
    async fn send(&self, jobs: &[DeliveryJob]) -> Result<(), QueueError> {
        if self.refuse {
            return Err(QueueError::Send("the queue is unavailable".to_owned()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(jobs.to_vec());
        Ok(())
    }
}

/// The example configuration (`examples/archiver.toml`).
fn settings() -> LocalSettings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archiver.toml");
    LocalSettings::load(&path).unwrap()
}

/// The mapper of the example configuration and its mapping CSV.
fn mapper() -> Mapper {
    settings().mapper(&mut Report::default()).unwrap()
}

async fn store_with_batch(dir: &tempfile::TempDir) -> LocalDir {
    let store = LocalDir::new(dir.path().join("archive"));
    store.put_new(RAW_KEY, RAW_BATCH).await.unwrap();
    store
}

/// The convert function's path with the example mapping and default options.
async fn convert(
    store: &LocalDir,
    queue: &Recorded,
    records: &[SqsMessage],
) -> (SqsBatchResponse, Report) {
    lambda::convert(store, queue, &mapper(), &ConvertOptions::default(), records).await
}

fn failures(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn a_notified_batch_is_rendered_its_jobs_persisted_then_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_batch(&dir).await;
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let queue = Recorded::default();
    let (response, report) = convert(&store, &queue, &event.records).await;

    // Only the record that is no S3 notification failed; a notification
    // for an object outside raw/ is ignored with a warning.
    assert_eq!(failures(&response), ["not-a-notification"]);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(report.warnings[0].contains("media/0123abcd"), "{report:?}");
    assert_eq!(report.emails_written, 3);
    assert_eq!(store.list("eml/").await.unwrap().len(), 3);
    // The invocation's metrics: the totals (the failed record among
    // them), and the batch's source on a line of its own.
    let records = metrics::convert(&report);
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[1].stage, records[1].source),
        (Stage::Convert, Some("whatsapp-export"))
    );
    assert_eq!(
        records[1].values,
        [
            (Metric::Items, vec![3]),
            (Metric::Batches, vec![1]),
            (Metric::Unmapped, vec![0]),
            (Metric::Stubbed, vec![0]),
            (Metric::Failures, vec![0]),
        ]
    );
    assert!(records[0].values.contains(&(Metric::Failures, vec![1])));

    // The jobs handed to the queue are exactly the persisted job file.
    let batch = RawBatch::parse(RAW_KEY).unwrap();
    let persisted = store.get(&batch.jobs_key()).await.unwrap().unwrap();
    let mut stored = Vec::new();
    assert!(!jobs::read_lines(
        &persisted,
        "jobs",
        &mut stored,
        &mut Report::default()
    ));
    let sent = queue.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0], stored);
    // The custodian (Alice) gets every item; Bob is known by name only.
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|job| job.mailbox == "alice.example@corp.example")
    );
}

#[tokio::test]
async fn a_refusing_queue_fails_the_record_but_the_jobs_stay_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_batch(&dir).await;
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let queue = Recorded {
        refuse: true,
        ..Recorded::default()
    };
    let records = &event.records[..1];
    let (response, report) = convert(&store, &queue, records).await;
    assert_eq!(failures(&response), ["raw-batch"]);
    assert!(
        report.errors[0].contains("the queue is unavailable"),
        "{:?}",
        report.errors
    );
    let batch = RawBatch::parse(RAW_KEY).unwrap();
    assert!(store.get(&batch.jobs_key()).await.unwrap().is_some());
    // The batch that failed is its source's failure.
    let counts = report.converted_by_source["whatsapp-export"];
    assert_eq!((counts.emails_written, counts.failures), (3, 1));

    // SQS delivers the message again: the EMLs and job file are found
    // stored, and the jobs are queued this time.
    let queue = Recorded::default();
    let (response, report) = convert(&store, &queue, records).await;
    assert!(failures(&response).is_empty(), "{:?}", report.errors);
    assert_eq!((report.emails_written, report.emails_existing), (0, 0));
    assert_eq!(queue.sent.lock().unwrap()[0].len(), 3);
}

#[tokio::test]
async fn a_notification_for_a_missing_batch_fails_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let (response, report) = convert(&store, &Recorded::default(), &event.records[..1]).await;
    assert_eq!(failures(&response), ["raw-batch"]);
    assert!(
        report.errors[0].contains("not found"),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn a_replay_queues_the_stored_jobs_even_after_the_mapping_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_batch(&dir).await;
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let records = &event.records[..1];
    let first = Recorded::default();
    convert(&store, &first, records).await;
    // The CSV is emptied: alone, the items would now map to nobody.
    let nobody = settings().mapping.mapper(None, |_| {}).unwrap();
    let replay = Recorded::default();
    let (response, _) = lambda::convert(
        &store,
        &replay,
        &nobody,
        &ConvertOptions::default(),
        records,
    )
    .await;
    assert!(failures(&response).is_empty());
    let sent = replay.sent.lock().unwrap()[0].clone();
    assert_eq!(sent, first.sent.lock().unwrap()[0]);
    assert_eq!(sent.len(), 3);
    // Nothing was rendered or filed again: no item became unmapped.
    assert!(store.list("unmapped/").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_new_mapping_remaps_the_unmapped_items_once_before_converting() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_batch(&dir).await;
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let records = &event.records[..1];
    // Converted with a CSV that maps nobody: every item is unmapped.
    let nobody = settings().mapping.mapper(None, |_| {}).unwrap();
    let opts = ConvertOptions::default();
    let (_, report) = lambda::convert(&store, &Recorded::default(), &nobody, &opts, records).await;
    assert_eq!(report.unmapped, 3);

    // The fixed CSV, with the queue down: the remap's jobs are persisted
    // but not recorded as recovered, and the mapping is not recorded
    // applied; the invocation's record fails for its own batch only.
    let refusing = Recorded {
        refuse: true,
        ..Recorded::default()
    };
    let (_, report) = convert(&store, &refusing, records).await;
    assert!(
        report.errors[0].starts_with("remap of unmapped items: jobs/remap/2026-11-21/"),
        "{:?}",
        report.errors
    );
    let applied = layout::mapping_applied_key(mapper().hash());
    assert!(store.list("remapped/").await.unwrap().is_empty());
    assert!(!store.exists(&applied).await.unwrap());

    // The next invocation remaps them: one send of the remap's job file,
    // the same file, before the batch's own.
    let queue = Recorded::default();
    let (response, report) = convert(&store, &queue, records).await;
    assert!(failures(&response).is_empty(), "{:?}", report.errors);
    assert_eq!(report.remapped, 3);
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    let remapped = store.list("jobs/remap/").await.unwrap();
    assert_eq!(remapped.len(), 1, "{remapped:?}");
    let remap = RawBatch::of_jobs_key(&remapped[0]).unwrap();
    assert!(remap.is_remap(), "{}", remapped[0]);
    // The remap's jobs are sent first: those its job file holds.
    let mut stored = Vec::new();
    let bytes = store.get(&remapped[0]).await.unwrap().unwrap();
    jobs::read_lines(&bytes, &remapped[0], &mut stored, &mut Default::default());
    assert_eq!(sent[0], stored);
    assert_eq!(sent[0].len(), 3);
    assert!(
        sent[0]
            .iter()
            .all(|job| job.mailbox == "alice.example@corp.example" && job.eml.is_some())
    );
    assert_eq!(store.list("remapped/").await.unwrap().len(), 3);
    assert!(store.exists(&applied).await.unwrap());

    // Applied: a later invocation remaps nothing.
    let queue = Recorded::default();
    let (_, report) = convert(&store, &queue, records).await;
    assert_eq!(report.remapped, 0);
    assert_eq!(queue.sent.lock().unwrap().len(), 1);
}

/// Digest mode in the functions' path: convert queues no job for the
/// items and records them; the reconcile function's digest step, once
/// their day is over, queues one job per mapped mailbox for the day's
/// digest, once.
#[tokio::test]
async fn in_digest_mode_convert_queues_nothing_and_the_digest_step_queues_the_days_digest_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_batch(&dir).await;
    let event: SqsEvent = serde_json::from_slice(EVENT).unwrap();
    let mut opts = ConvertOptions::default();
    opts.deliveries.whatsapp_export = Delivery::Digest;
    let queue = Recorded::default();
    let (_, report) = lambda::convert(&store, &queue, &mapper(), &opts, &event.records).await;
    assert_eq!(report.emails_written, 3);
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_empty(), "{:?}", sent[0]);
    let items = store.list("digest/").await.unwrap();
    assert!(!items.is_empty() && items.iter().all(|k| k.contains("/items/")));

    // The items are of 2026-11-03: not due on that day, due the next.
    let deliver = Recorded::default();
    let during = chrono::DateTime::parse_from_rfc3339("2026-11-03T23:00:00Z").unwrap();
    let made = lambda::make_digests(&store, &deliver, during.to_utc(), &opts).await;
    assert_eq!(made.unwrap(), 0);
    assert!(deliver.sent.lock().unwrap().is_empty());
    let after = chrono::DateTime::parse_from_rfc3339("2026-11-04T02:00:00Z").unwrap();
    let made = lambda::make_digests(&store, &deliver, after.to_utc(), &opts).await;
    assert_eq!(made.unwrap(), 1);
    let sent = deliver.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    // The part's batch: its jobs are `jobs/digest/<item-day>/<conversation>-0.jsonl`.
    let files = store.list("jobs/digest/").await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let part = RawBatch::of_jobs_key(&files[0]).unwrap();
    assert_eq!(
        (part.source.as_str(), part.day.to_string()),
        ("digest", "2026-11-03".to_owned())
    );
    assert!(part.id.ends_with("-0"), "{}", part.id);
    let jobs = &sent[0];
    assert!(!jobs.is_empty());
    assert!(jobs.iter().all(|job| job.message_id.starts_with("digest-")
        && job.message_id.ends_with("-20261103@mobile-archiver")
        && job.eml_key.starts_with("eml/2026-11-03/digest-")));
    // Run again: nothing more.
    let made = lambda::make_digests(&store, &deliver, after.to_utc(), &opts).await;
    assert_eq!(made.unwrap(), 0);
    assert_eq!(deliver.sent.lock().unwrap().len(), 1);
}
