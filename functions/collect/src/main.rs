//! The collect function: run by EventBridge Scheduler, pulls every source
//! since its checkpoint into `raw/` (see `shared::lambda::collect`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, CollectRequest};
use shared::settings::CollectSettings;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The runtime's default subscriber, with the IMAP client's and the
    // SDK's wire logging held off whatever the environment asks.
    shared::logging::init_lambda();
    let settings = CollectSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let s3 = S3Store::client(&aws);
    let archive = S3Store::new(s3.clone(), &settings.archive_bucket);
    let (s3, archive, settings) = (&s3, &archive, &settings);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CollectRequest>| async move {
            let now = chrono::Utc::now();
            // Sources are cheap views over the clients built above.
            let mut sources = (settings.sources).configured(|b| S3Store::new(s3.clone(), b));
            let report = lambda::collect(
                &mut sources,
                archive,
                settings.archive_time_zone,
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
