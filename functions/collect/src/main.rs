//! The collect function: run by EventBridge Scheduler, pulls every source
//! since its checkpoint into `raw/` (see `shared::lambda::collect`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, CollectRequest};
use shared::secrets::SecretsManagerSecret;
use shared::settings::CollectSettings;
use shared::sources::Source;
use shared::store::S3Store;
use tokio::sync::Mutex;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // The runtime's default subscriber, with the IMAP client's and the
    // SDK's wire logging held off whatever the environment asks.
    shared::logging::init_lambda();
    let settings = CollectSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let s3 = S3Store::client(&aws);
    let archive = S3Store::new(s3.clone(), &settings.archive_bucket);
    // The WeCom source keeps one SDK instance for the environment's life
    // (loaded and initialised at its first pull), so it is made once.
    let wecom = match &settings.sources.wecom {
        Some(wecom) => {
            let client = aws_sdk_secretsmanager::Client::new(&aws);
            let secret = SecretsManagerSecret::load(&client, &wecom.secrets).await?;
            let archive = S3Store::new(s3.clone(), &settings.archive_bucket);
            Some(Mutex::new(
                wecom.source(archive, &secret, chrono::Utc::now()).await?,
            ))
        }
        None => None,
    };
    let (s3, archive, settings, wecom) = (&s3, &archive, &settings, &wecom);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CollectRequest>| async move {
            let now = chrono::Utc::now();
            let mut wecom = match wecom {
                Some(wecom) => Some(wecom.lock().await),
                None => None,
            };
            // Sources are cheap views over the clients built above.
            let mut sources: Vec<Box<dyn Source + '_>> = (settings.sources)
                .configured(|b| S3Store::new(s3.clone(), b))
                .into_iter()
                .map(|source| source as Box<dyn Source + '_>)
                .collect();
            if let Some(wecom) = wecom.as_deref_mut() {
                wecom.start_run(now);
                sources.push(Box::new(wecom));
            }
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
