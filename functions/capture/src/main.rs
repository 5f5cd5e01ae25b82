//! The capture function: behind a function URL (auth NONE: the
//! `X-Hub-Signature-256` HMAC is the authentication), WhatsApp Cloud API
//! webhooks -> `inbox/whatsapp-cloud/` and the media queue (see
//! `shared::lambda::capture`).

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::lambda::{self, SqsMediaQueue};
use shared::secrets::{SecretStore, SecretsManagerSecret};
use shared::settings::CaptureSettings;
use shared::sources::whatsapp_cloud::Capture;
use shared::store::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init_lambda();
    let settings = CaptureSettings::from_env()?;
    let aws = aws_config::load_from_env().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let secret = SecretsManagerSecret::load(&secrets, &settings.webhook_secret_arn).await?;
    let endpoint = Capture::new(
        S3Store::new(S3Store::client(&aws), &settings.archive_bucket),
        secret.secret("app_secret").await?,
        secret.secret("verify_token").await?,
    )
    .with_max_body_bytes(settings.max_body_bytes);
    let queue = SqsMediaQueue::new(aws_sdk_sqs::Client::new(&aws), &settings.media_queue_url);
    let (endpoint, queue) = (&endpoint, &queue);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LambdaFunctionUrlRequest>| async move {
            let response =
                lambda::capture(endpoint, queue, &event.payload, chrono::Utc::now()).await;
            Ok::<LambdaFunctionUrlResponse, Error>(response)
        },
    ))
    .await
}
