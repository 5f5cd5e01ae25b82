//! The capture function's view: a function URL request -> the capture
//! endpoint ([`Capture`]) -> a function URL response; the media ids of an
//! accepted body go on the media queue ([`MediaQueue`]) before it is
//! answered 200, so that a body is never acknowledged with its media
//! forgotten (a queue failure is answered 500: Meta delivers the body again,
//! capture finds it stored and queues its media again).

use std::future::Future;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::HeaderValue;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::sources::whatsapp_cloud::{Capture, MediaRef, Reply, Request, SIGNATURE_HEADER};
use crate::store::ObjectStore;

/// Why media ids could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("media queue: {0}")]
pub struct MediaQueueError(pub String);

/// Carries media ids to the media step.
pub trait MediaQueue: Send + Sync {
    /// Queues the media ids (one message each).
    fn send(&self, media: &[MediaRef]) -> impl Future<Output = Result<(), MediaQueueError>> + Send;
}

/// The SQS media queue.
#[derive(Debug, Clone)]
pub struct SqsMediaQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsMediaQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsMediaQueue {
            client,
            url: url.into(),
        }
    }
}

impl MediaQueue for SqsMediaQueue {
    async fn send(&self, media: &[MediaRef]) -> Result<(), MediaQueueError> {
        for chunk in media.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(n, media)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(serde_json::to_string(media).expect("media refs serialize"))
                        .build()
                        .map_err(|e| MediaQueueError(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| MediaQueueError(DisplayErrorContext(&e).to_string()))?;
            if let Some(refused) = output.failed().first() {
                return Err(MediaQueueError(format!(
                    "{} media ids refused ({})",
                    output.failed().len(),
                    refused.message().unwrap_or(refused.code())
                )));
            }
        }
        Ok(())
    }
}

/// Answers one function URL request at `now`.
pub async fn capture<S: ObjectStore, Q: MediaQueue>(
    endpoint: &Capture<S>,
    queue: &Q,
    request: &LambdaFunctionUrlRequest,
    now: DateTime<Utc>,
) -> LambdaFunctionUrlResponse {
    let method = request
        .request_context
        .http
        .method
        .as_deref()
        .unwrap_or("")
        .to_ascii_uppercase();
    let reply = match method.as_str() {
        "GET" => {
            let query: Vec<(String, String)> = url::form_urlencoded::parse(
                request.raw_query_string.as_deref().unwrap_or("").as_bytes(),
            )
            .into_owned()
            .collect();
            endpoint.receive(Request::Verify(&query), now).await
        }
        "POST" => match body_bytes(request, endpoint.max_body_bytes()) {
            Err(reply) => reply,
            Ok(body) => {
                let signature = request
                    .headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok());
                let reply = endpoint
                    .receive(
                        Request::Notify {
                            signature,
                            body: &body,
                        },
                        now,
                    )
                    .await;
                match &reply.stored {
                    Some(stored) if !stored.media.is_empty() => {
                        match queue.send(&stored.media).await {
                            Ok(()) => reply,
                            Err(e) => {
                                tracing::error!(key = %stored.key, "{e}");
                                plain(500, "stored; media not queued; deliver again")
                            }
                        }
                    }
                    _ => reply,
                }
            }
        },
        _ => endpoint.receive(Request::Other, now).await,
    };
    response(reply)
}

/// The request's body as received (base64-decoded when the function URL
/// encoded it); an answer when it cannot be used.
fn body_bytes(request: &LambdaFunctionUrlRequest, max: u64) -> Result<Vec<u8>, Reply> {
    let body = request.body.as_deref().unwrap_or("");
    // Base64 is 4/3 of the bytes: refuse what cannot fit before decoding.
    if body.len() as u64 > max.saturating_mul(4) / 3 + 4 {
        return Err(plain(413, "body too large"));
    }
    if request.is_base64_encoded {
        STANDARD
            .decode(body)
            .map_err(|_| plain(400, "body is not valid base64"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

fn plain(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: body.to_owned(),
        stored: None,
    }
}

fn response(reply: Reply) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(reply.status);
    response.body = Some(reply.body);
    response.headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
