//! The collect function: run by EventBridge Scheduler, pulls every source
//! since its checkpoint into `raw/` (see `shared::pipeline::collect`).

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use shared::pipeline::{self, CollectRequest};
use shared::settings::CollectSettings;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = CollectSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let s3 = S3Store::client(&aws);
    let drops = S3Store::new(s3.clone(), &settings.sources.whatsapp_export.drops);
    let archive = S3Store::new(s3, &settings.archive_bucket);
    let export = settings.sources.whatsapp_export.export_options();
    let archive_tz = settings.archive_time_zone;
    let (drops, archive, export) = (&drops, &archive, &export);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CollectRequest>| async move {
            let now = chrono::Utc::now();
            let report = pipeline::collect(
                drops,
                archive,
                export,
                archive_tz,
                &event.payload,
                &event.context.request_id,
                now,
            )
            .await?;
            report.log();
            Ok::<_, Error>(report)
        },
    ))
    .await
}
