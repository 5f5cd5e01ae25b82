//! The serverless pipeline: what the Lambda functions do with their events.
//!
//! - [`collect`]: a scheduler event -> raw batches (once per scheduled run).
//! - [`convert`]: an SQS batch of S3 notifications for `raw/` -> EMLs and
//!   delivery jobs on the [`DeliverQueue`].
//! - [`deliver`]: an SQS batch of delivery jobs -> IMAP, exactly once.
//!
//! Each SQS message is judged on its own: the response names exactly the
//! messages that failed (`ReportBatchItemFailures`), so one bad message never
//! makes the others run again. The handlers under `functions/` read their
//! [`settings`], build the clients once and call these.

mod events;
mod mapping;
mod queue;
pub mod settings;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use self::events::{CollectRequest, NotificationError, notification_keys};
pub use self::mapping::{MappingSource, MappingSourceError};
pub use self::queue::{DeliverQueue, QueueError};
use crate::collect::{self as collect_stage, ExportOptions};
use crate::convert::{self as convert_stage, ConvertOptions, DeliveryJob};
use crate::deliver::deliver_jobs;
use crate::mailbox::Mailbox;
use crate::mapping::Mapper;
use crate::report::Report;
use crate::store::{Created, ObjectStore, StoreError};

/// An S3 client for the SDK config; path-style addressing when the endpoint
/// is overridden (`AWS_ENDPOINT_URL`, e.g. LocalStack).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The claim a collect run writes for its window, so that a second
/// invocation for the same scheduled run does nothing.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    run: String,
    claimed_at: String,
}

/// Collects every source for one scheduled run.
///
/// The run first claims its window (`collected/runs/<window>`, create-only).
/// Another invocation for the same window (the scheduler delivering it
/// twice) finds the claim and does nothing; a retry of the same invocation
/// (same `run_id`, the Lambda request id) goes on. Either way nothing is
/// collected twice: drops are checkpointed by content.
pub async fn collect<D: ObjectStore, S: ObjectStore>(
    drops: &D,
    archive: &S,
    opts: &ExportOptions,
    request: &CollectRequest,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    if let Some(window) = request.window() {
        let key = format!("collected/runs/{window}");
        let claim = Claim {
            run: run_id.to_owned(),
            claimed_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let body = serde_json::to_vec(&claim).expect("claims serialize");
        if archive.put_new(&key, &body).await? == Created::Exists {
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
    let day = request.day(opts.tz, now);
    collect_stage::collect_export_drops(drops, archive, opts, day, &mut report).await?;
    Ok(report)
}

/// Converts the raw batches an SQS batch of S3 notifications names; queues
/// their delivery jobs.
///
/// A message that is not an S3 notification, or whose batch cannot be read,
/// converted or queued, is reported failed (SQS retries it, then moves it to
/// the dead-letter queue). Objects outside `raw/**.jsonl` are ignored.
pub async fn convert<S: ObjectStore>(
    store: &S,
    queue: &DeliverQueue,
    mapper: &Mapper,
    opts: &ConvertOptions,
    messages: &[SqsMessage],
) -> (SqsBatchResponse, Report) {
    let mut response = SqsBatchResponse::default();
    let mut report = Report::default();
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

async fn convert_message<S: ObjectStore>(
    store: &S,
    queue: &DeliverQueue,
    mapper: &Mapper,
    opts: &ConvertOptions,
    message: &SqsMessage,
    report: &mut Report,
) -> Result<(), String> {
    let keys = notification_keys(message.body.as_deref()).map_err(|e| e.to_string())?;
    for key in keys {
        if !(key.starts_with("raw/") && key.ends_with(".jsonl")) {
            report.warning(format!("{key}: not a raw batch, ignored"));
            continue;
        }
        let jobs = convert_stage::convert_batch(store, &key, mapper, opts, report)
            .await
            .map_err(|e| e.to_string())?;
        queue.send(&jobs).await.map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(())
}

/// Delivers an SQS batch of delivery jobs; reports the messages whose job
/// failed.
///
/// A message received before (`ApproximateReceiveCount` > 1) may have been
/// appended before its function died, so its folder is searched first; the
/// ledger makes every other repeat a no-op.
pub async fn deliver<S: ObjectStore, M: Mailbox>(
    store: &S,
    lanes: &mut [M],
    messages: &[SqsMessage],
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
            .ok_or_else(|| "the message has no body".to_owned())
            .and_then(|body| {
                serde_json::from_str::<DeliveryJob>(body).map_err(|e| {
                    format!("not a delivery job ({})", crate::embedded::json_problem(&e))
                })
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
            m.attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse::<u32>().ok())
                .is_none_or(|n| n > 1)
        })
        .collect();
    let failed = deliver_jobs(store, lanes, &jobs, |i| retried[i], &mut report).await;
    for index in failed {
        response.add_failure(origin[index].message_id.as_deref().unwrap_or_default());
    }
    (response, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalDir;

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
        let request: CollectRequest =
            serde_json::from_str(r#"{"scheduled_time":"2026-11-21T00:30:00Z"}"#).unwrap();
        let now = Utc::now();
        let first = collect(&drops, &archive, &opts, &request, "run-1", now)
            .await
            .unwrap();
        assert_eq!((first.drops_collected, first.items_collected), (1, 1));
        // The same invocation retried goes on (and finds the drop collected).
        let retry = collect(&drops, &archive, &opts, &request, "run-1", now)
            .await
            .unwrap();
        assert_eq!(retry.drops_already_collected, 1);
        assert!(retry.warnings.is_empty(), "{:?}", retry.warnings);
        // Another invocation for the same window does nothing at all.
        let other = collect(&drops, &archive, &opts, &request, "run-2", now)
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
