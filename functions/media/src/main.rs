//! The media function: SQS batches of WhatsApp Cloud API media ids (queued
//! by capture) -> `media/<sha256>`, or a record of why a file could not be
//! fetched (see `shared::lambda::media`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda;
use shared::secrets::{SecretStore, SecretsManagerSecret};
use shared::settings::MediaSettings;
use shared::sources::whatsapp_cloud::GraphMedia;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init_lambda();
    #[allow(unused_mut)]
    let mut settings = MediaSettings::from_env()?;
    // Only in a test build: the loopback stand-in of the Graph API.
    #[cfg(feature = "test-stand-ins")]
    if let Ok(base) = std::env::var("TEST_GRAPH_API_LOOPBACK") {
        settings.media.api_base = base.parse()?;
        settings.media.insecure_loopback_for_tests = true;
    }
    let aws = aws_config::load_from_env().await;
    let archive = S3Store::new(S3Store::client(&aws), &settings.archive_bucket);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let secret = SecretsManagerSecret::load(&secrets, &settings.access_secret_arn).await?;
    let step = GraphMedia::new(secret.secret("access_token").await?, settings.media.clone())?;
    let (archive, step) = (&archive, &step);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, report) = lambda::media(step, archive, &event.payload.records).await;
        report.log();
        Ok::<SqsBatchResponse, Error>(response)
    }))
    .await
}
