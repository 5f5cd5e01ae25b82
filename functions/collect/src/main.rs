//! The collect function: run by EventBridge Scheduler, pulls every source
//! since its checkpoint into `raw/` (see `shared::lambda::collect`).

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use shared::lambda::{self, CollectRequest, settings::CollectSettings};
use shared::sources::Source;
use shared::sources::whatsapp_export::ExportDrops;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = CollectSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let s3 = S3Store::client(&aws);
    let drops = S3Store::new(s3.clone(), &settings.drop_bucket);
    let archive = S3Store::new(s3, &settings.archive_bucket);
    let (drops, archive, settings) = (&drops, &archive, &settings);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CollectRequest>| async move {
            let now = chrono::Utc::now();
            let mut sources: Vec<Box<dyn Source>> = vec![Box::new(ExportDrops::new(
                drops.clone(),
                settings.export.clone(),
            ))];
            let report = lambda::collect(
                &mut sources,
                archive,
                settings.archive_tz,
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
