//! The reconcile function: run by EventBridge Scheduler a few hours after
//! collect, checks the recent collection days and the older ones never
//! closed (or `{"day": ...}`), sends again what was lost to convert or
//! deliver, and closes each day with its manifest once nothing is open
//! (see `shared::lambda::reconcile_days`). First it makes the digests of
//! the days that are over for sources in digest mode
//! (`shared::lambda::make_digests`), their jobs onto the deliver queue;
//! last, with `REPORT_MAILBOX` set, it sends the newest day's report to
//! the admin mailbox through the deliver queue
//! (`shared::lambda::send_report`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, ReconcileRequest, SqsNotificationQueue, SqsQueue};
use shared::settings::ReconcileSettings;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The runtime's default subscriber, with the SDK's wire logging held
    // off whatever the environment asks.
    shared::logging::init_lambda();
    let settings = ReconcileSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let archive = S3Store::new(S3Store::client(&aws), &settings.archive_bucket);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let convert = SqsNotificationQueue::new(
        sqs.clone(),
        &settings.convert_queue_url,
        &settings.archive_bucket,
    );
    let digest_options = settings.digest_options();
    let (archive, convert, sqs, settings, digest_options) =
        (&archive, &convert, &sqs, &settings, &digest_options);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ReconcileRequest>| async move {
            // Jobs sent again carry this run's id: deliver searches first.
            let deliver = SqsQueue::resending(
                sqs.clone(),
                &settings.deliver_queue_url,
                &event.context.request_id,
            );
            let digests =
                lambda::make_digests(archive, &deliver, chrono::Utc::now(), digest_options).await;
            let days = lambda::reconcile_days(
                archive,
                convert,
                &deliver,
                &event.payload,
                settings.archive_time_zone,
                chrono::Utc::now(),
                settings.recent_days,
            )
            .await;
            let metrics = shared::metrics::reconcile(lambda::reconciled(&days));
            settings
                .metrics_namespace
                .emit(&metrics, chrono::Utc::now());
            digests?;
            let days = days?;
            let fresh = SqsQueue::new(sqs.clone(), &settings.deliver_queue_url);
            let now = chrono::Utc::now();
            match lambda::send_report(archive, &fresh, &days, &settings.report, now).await {
                Ok(Some(day)) => {
                    tracing::info!(day = %day, "daily report queued for the admin mailbox")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "daily report not sent");
                    return Err(e.into());
                }
            }
            Ok::<_, Error>(days)
        },
    ))
    .await
}
