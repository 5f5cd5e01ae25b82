//! The collect function: run by EventBridge Scheduler, pulls every source
//! since its checkpoint into `raw/` (see `shared::lambda::collect`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, CollectRequest};
use shared::secrets::SecretsManagerSecret;
use shared::settings::CollectSettings;
use shared::settings::WecomSettings;
use shared::sources::Source;
use shared::sources::wecom::{Unavailable, WecomSource};
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
    // (loaded and initialised at its first pull), so it is made once, by
    // the first run that can read its secrets: until then each run reports
    // why, and the other sources are collected all the same.
    let wecom = Mutex::new(None);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let (s3, archive, settings, wecom, secrets) = (&s3, &archive, &settings, &wecom, &secrets);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CollectRequest>| async move {
            let now = chrono::Utc::now();
            let mut wecom = wecom.lock().await;
            let mut unavailable = None;
            if let Some(wecom_settings) = &settings.sources.wecom
                && wecom.is_none()
            {
                let store = S3Store::new(s3.clone(), &settings.archive_bucket);
                match wecom_source(secrets, wecom_settings, store, now).await {
                    Ok(source) => *wecom = Some(source),
                    Err(reason) => unavailable = Some(Unavailable { reason }),
                }
            }
            // Sources are cheap views over the clients built above.
            let mut sources: Vec<Box<dyn Source + '_>> = (settings.sources)
                .configured(|b| S3Store::new(s3.clone(), b))
                .into_iter()
                .map(|source| source as Box<dyn Source + '_>)
                .collect();
            if let Some(wecom) = wecom.as_mut() {
                wecom.start_run(now);
                sources.push(Box::new(wecom));
            } else if let Some(unavailable) = unavailable {
                sources.push(Box::new(unavailable));
            }
            let report = lambda::collect(
                &mut sources,
                archive,
                settings.archive_time_zone,
                &event.payload,
                &event.context.request_id,
                now,
            )
            .await;
            let metrics = shared::metrics::collect(report.as_ref());
            settings
                .metrics_namespace
                .emit(&metrics, chrono::Utc::now());
            let report = report?;
            report.log();
            Ok::<_, Error>(report)
        },
    ))
    .await
}

/// The WeCom source over its secrets in Secrets Manager, or why not (no
/// secret values in it).
async fn wecom_source(
    client: &aws_sdk_secretsmanager::Client,
    settings: &WecomSettings<String>,
    archive: S3Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<WecomSource<S3Store>, String> {
    let secret = SecretsManagerSecret::load(client, &settings.secrets)
        .await
        .map_err(|e| e.to_string())?;
    settings
        .source(archive, &secret, now)
        .await
        .map_err(|e| e.to_string())
}
