//! The convert function: SQS batches of S3 notifications for `raw/` ->
//! EMLs, unmapped records and delivery jobs (see `shared::lambda::convert`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, SqsQueue};
use shared::metrics;
use shared::settings::ConvertSettings;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The runtime's default subscriber, with the IMAP client's and the
    // SDK's wire logging held off whatever the environment asks.
    shared::logging::init_lambda();
    let settings = ConvertSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let archive = S3Store::new(S3Store::client(&aws), &settings.archive_bucket);
    let config = S3Store::new(S3Store::client(&aws), &settings.config_bucket);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &settings.deliver_queue_url);
    let mapping = lambda::MappingSource::new(config, settings.mapping.clone());
    let opts = settings.convert_options();
    let namespace = &settings.metrics_namespace;
    let (archive, queue, mapping, opts) = (&archive, &queue, &mapping, &opts);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        // The mapping CSV is read per invocation (and parsed only when it
        // changed), so an administrator's update applies at once.
        let mapper = mapping.current().await?;
        let (response, report) =
            lambda::convert(archive, queue, &mapper, opts, &event.payload.records).await;
        report.log();
        namespace.emit(&metrics::convert(&report), chrono::Utc::now());
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
