//! The capture function's view, run on function URL events (fixtures in
//! the shape AWS delivers them) over a local inbox: the handshake, a
//! base64-encoded signed body stored untouched and its media queued, every
//! refusal answered without storing, and a queue failure answered 500 so
//! that Meta delivers the body again.

use std::sync::Mutex;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use shared::lambda::{self, MediaQueue, MediaQueueError};
use shared::secrets::Secret;
use shared::sources::whatsapp_cloud::{Capture, MediaRef, sign};
use shared::store::{LocalDir, ObjectStore};

const VERIFY: &[u8] = include_bytes!("fixtures/lambda/capture-verify-event.json");
const BODY: &[u8] = include_bytes!("fixtures/whatsapp_cloud/02_media.json");

/// A queue that keeps what it is sent (or refuses everything).
#[derive(Default)]
struct Kept {
    media: Mutex<Vec<MediaRef>>,
    refuse: bool,
}

impl MediaQueue for Kept {
    async fn send(&self, media: &[MediaRef]) -> Result<(), MediaQueueError> {
        if self.refuse {
            return Err(MediaQueueError("refused".to_owned()));
        }
        self.media.lock().unwrap().extend_from_slice(media);
        Ok(())
    }
}

fn endpoint(dir: &std::path::Path) -> Capture<LocalDir> {
    Capture::new(
        LocalDir::new(dir),
        Secret::new("app-secret"),
        Secret::new("verify-token"),
    )
}

/// The verify event turned into a POST of `body` with `signature`.
fn post(body: &[u8], signature: Option<&str>, base64: bool) -> LambdaFunctionUrlRequest {
    let mut request: LambdaFunctionUrlRequest = serde_json::from_slice(VERIFY).unwrap();
    request.request_context.http.method = Some("POST".to_owned());
    request.raw_query_string = Some(String::new());
    request.query_string_parameters.clear();
    if let Some(signature) = signature {
        request
            .headers
            .insert("x-hub-signature-256", signature.parse().unwrap());
    }
    request.is_base64_encoded = base64;
    request.body = Some(if base64 {
        STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    });
    request
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap()
}

#[tokio::test]
async fn the_handshake_answers_the_challenge_as_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let request: LambdaFunctionUrlRequest = serde_json::from_slice(VERIFY).unwrap();
    let response = lambda::capture(&endpoint(dir.path()), &Kept::default(), &request, now()).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(response.body.as_deref(), Some("1158201444"));
    let mut wrong = request.clone();
    wrong.raw_query_string =
        Some("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess".to_owned());
    let response = lambda::capture(&endpoint(dir.path()), &Kept::default(), &wrong, now()).await;
    assert_eq!(response.status_code, 403);
}

#[tokio::test]
async fn a_signed_base64_body_is_stored_as_sent_and_its_media_queued() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Kept::default();
    let signature = sign(&Secret::new("app-secret"), BODY);
    for base64 in [true, false] {
        let request = post(BODY, Some(&signature), base64);
        let response = lambda::capture(&endpoint(dir.path()), &queue, &request, now()).await;
        assert_eq!(response.status_code, 200, "{:?}", response.body);
    }
    let keys = LocalDir::new(dir.path()).list("inbox/").await.unwrap();
    assert_eq!(keys.len(), 1);
    let kept = LocalDir::new(dir.path()).get(&keys[0]).await.unwrap();
    assert_eq!(kept.as_deref(), Some(BODY));
    // Queued on each delivery: the media step finds the second fetched.
    assert_eq!(queue.media.lock().unwrap().len(), 10);
}

#[tokio::test]
async fn refusals_store_nothing_and_a_queue_failure_is_500() {
    let dir = tempfile::tempdir().unwrap();
    let queue = Kept::default();
    let signature = sign(&Secret::new("app-secret"), BODY);
    let mut altered = BODY.to_vec();
    altered[10] = b'X';
    for (request, status) in [
        (post(BODY, None, true), 401),
        (post(&altered, Some(&signature), true), 401),
        (
            post(BODY, Some(&signature.replace("sha256=", "sha1=")), false),
            401,
        ),
        (
            post(b"", Some(&sign(&Secret::new("app-secret"), b"")), false),
            400,
        ),
    ] {
        let response = lambda::capture(&endpoint(dir.path()), &queue, &request, now()).await;
        assert_eq!(response.status_code, status);
    }
    let mut not_base64 = post(BODY, Some(&signature), true);
    not_base64.body = Some("%%%".to_owned());
    let response = lambda::capture(&endpoint(dir.path()), &queue, &not_base64, now()).await;
    assert_eq!(response.status_code, 400);
    let small = endpoint(dir.path()).with_max_body_bytes(100);
    let response =
        lambda::capture(&small, &queue, &post(BODY, Some(&signature), true), now()).await;
    assert_eq!(response.status_code, 413);
    assert!(
        LocalDir::new(dir.path())
            .list("inbox/")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(queue.media.lock().unwrap().is_empty());

    let refusing = Kept {
        refuse: true,
        ..Kept::default()
    };
    let request = post(BODY, Some(&signature), true);
    let response = lambda::capture(&endpoint(dir.path()), &refusing, &request, now()).await;
    assert_eq!(response.status_code, 500);
    // The body is kept; the redelivery Meta makes queues its media.
    assert_eq!(
        LocalDir::new(dir.path())
            .list("inbox/")
            .await
            .unwrap()
            .len(),
        1
    );
    let response = lambda::capture(&endpoint(dir.path()), &queue, &request, now()).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(queue.media.lock().unwrap().len(), 5);
}
