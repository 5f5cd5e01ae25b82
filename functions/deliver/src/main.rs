//! The deliver function: SQS batches of delivery jobs -> IMAP or SMTP,
//! exactly once (see `shared::lambda::deliver`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda;
use shared::mailbox::Mailbox;
use shared::mailbox::smtp::Smtp;
use shared::metrics::{self, Namespace};
use shared::secrets::SecretsManagerSecret;
use shared::settings::{DeliverSettings, DeliverTarget};
use shared::store::S3Store;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The runtime's default subscriber, with the mail clients' and the
    // SDK's wire logging held off whatever the environment asks.
    shared::logging::init_lambda();
    let settings = DeliverSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let archive = S3Store::new(S3Store::client(&aws), &settings.archive_bucket);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let secret = match &settings.secret_arn {
        Some(arn) => SecretsManagerSecret::load(&secrets, arn).await?,
        None => SecretsManagerSecret::default(),
    };
    let namespace = &settings.metrics_namespace;
    match &settings.target {
        DeliverTarget::Imap(imap) => {
            serve(&archive, namespace, imap.lanes(&secret).await?, None).await
        }
        DeliverTarget::Smtp(smtp) => {
            // Daily reports go to the admin mailbox itself, not the journal.
            let lanes = smtp.lanes(&secret).await?;
            let reports = lanes.first().map(Smtp::for_reports);
            serve(&archive, namespace, lanes, reports).await
        }
    }
}

/// Runs the handler over the target's lanes (and the lane for daily
/// reports, when the target has its own), whose connections stay open
/// across invocations of this instance; writes each invocation's metrics
/// under `namespace`.
async fn serve<M: Mailbox + Send>(
    archive: &S3Store,
    namespace: &Namespace,
    lanes: Vec<M>,
    report_lane: Option<M>,
) -> Result<(), Error> {
    let lanes = Mutex::new((lanes, report_lane));
    let lanes = &lanes;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let mut guard = lanes.lock().await;
        let (lanes, report_lane) = &mut *guard;
        let now = chrono::Utc::now();
        let last_start = lambda::start_no_job_after(event.context.deadline, now);
        let stop_waiting = lambda::stop_waiting_at(event.context.deadline, now);
        for lane in lanes.iter_mut().chain(report_lane.as_mut()) {
            lane.set_deadline(stop_waiting);
        }
        let (response, report) = lambda::deliver(
            archive,
            lanes,
            report_lane.as_mut(),
            &event.payload.records,
            last_start,
        )
        .await;
        report.log();
        // Latencies run to now, when the copies are in their folders.
        let done = chrono::Utc::now();
        let failed = response.batch_item_failures.len();
        namespace.emit(&metrics::deliver(&report, failed, done), done);
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
