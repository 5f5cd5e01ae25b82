//! The WhatsApp Business Platform path end to end, as deployed: template.yaml
//! on LocalStack, the functions under `cargo lambda watch` (capture reached
//! over real HTTP through its function URL), SQS messages moved to them as
//! the event-source mappings do, a stand-in for the Graph media API on
//! loopback, and a real Dovecot. Every webhook fixture is POSTed signed,
//! three times and out of order; the media step fetches the files, collect
//! reads the inbox, convert and deliver put one message per wamid into the
//! mapped mailbox's `WhatsApp Archiver` folder, with the files attached;
//! replays of everything add nothing.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use shared::secrets::Secret;
use shared::sources::whatsapp_cloud::sign;
use shared::store::S3Store;

use support::dovecot::Dovecot;
use support::localstack::{LocalStack, Watch, move_messages};

const FOLDER: &str = "WhatsApp Archiver";
const MAILBOX: &str = "alice@corp.example";
const APP_SECRET: &str = "e2e-app-secret";
const TOKEN: &str = "e2e-access-token";
/// Distinct wamids and call events in the fixtures.
const ITEMS: usize = 38;

fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures/whatsapp_cloud");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

async fn create_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: serde_json::Value,
) -> String {
    secrets
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

/// POSTs every fixture three times (reversed, then in order, then
/// reversed), signed, to capture's function URL.
async fn post_all(watch: &Watch) {
    let http = reqwest::Client::new();
    let bodies = fixtures();
    let mut order: Vec<&Vec<u8>> = bodies.iter().rev().collect();
    order.extend(bodies.iter());
    order.extend(bodies.iter().rev());
    for body in order {
        let response = http
            .post(format!("{}/lambda-url/capture/", watch.url))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(&Secret::new(APP_SECRET), body))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
    }
    // An unsigned body is refused and stored nowhere.
    let refused = http
        .post(format!("{}/lambda-url/capture/", watch.url))
        .body(bodies[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_reach_imap_once_with_their_media_through_the_functions() {
    let dovecot = Dovecot::start();
    let graph = support::graph::start(TOKEN);
    // The WhatsApp parameters make the media queue part of the stack (the
    // functions stay off; the secrets are created below, by name).
    let stack = LocalStack::start_with_stack(&[
        "RetentionDays=1",
        "WhatsAppWebhookSecretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:mobile-archiver/whatsapp-webhook",
        "WhatsAppAccessSecretArn=arn:aws:secretsmanager:us-east-1:000000000000:secret:mobile-archiver/whatsapp-access",
    ])
    .await;
    let s3 = S3Store::client(&stack.aws);
    let archive = stack.output("ArchiveBucketName").to_owned();
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.aws);
    let imap_arn = create_secret(
        &secrets,
        "mobile-archiver/imap",
        json!({ "password": dovecot.password }),
    )
    .await;
    let webhook_arn = create_secret(
        &secrets,
        "mobile-archiver/whatsapp-webhook",
        json!({ "app_secret": APP_SECRET, "verify_token": "e2e-verify" }),
    )
    .await;
    let access_arn = create_secret(
        &secrets,
        "mobile-archiver/whatsapp-access",
        json!({ "access_token": TOKEN }),
    )
    .await;
    s3.put_object()
        .bucket(stack.output("ConfigBucketName"))
        .key("mapping.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from(
            format!("identity,mailbox\n+15550783881,{MAILBOX}\n").into_bytes(),
        ))
        .send()
        .await
        .unwrap();

    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", stack.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("ARCHIVE_BUCKET", &archive),
        ("DROP_BUCKET", stack.output("DropBucketName")),
        ("CONFIG_BUCKET", stack.output("ConfigBucketName")),
        ("MAPPING_KEY", "mapping.csv"),
        ("DELIVER_QUEUE_URL", stack.output("DeliverQueueUrl")),
        ("TIME_ZONE", "Europe/London"),
        ("DEFAULT_REGION", "US"),
        ("CUSTODIAN_DOMAINS", "corp.example"),
        ("IMAP_URL", &dovecot.url()),
        ("IMAP_AUTH", "password"),
        ("IMAP_SECRET_ARN", &imap_arn),
        ("WHATSAPP_CLOUD_INBOX_BUCKET", &archive),
        ("WHATSAPP_WEBHOOK_SECRET_ARN", &webhook_arn),
        ("MEDIA_QUEUE_URL", stack.output("MediaQueueUrl")),
        ("WHATSAPP_ACCESS_SECRET_ARN", &access_arn),
        // The stand-in is plain http on loopback: only a media function
        // built with the test-only feature (Watch) accepts it.
        ("TEST_GRAPH_API_LOOPBACK", &graph),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let watch = Watch::start(&env, &stack.dir().join("watch.log"));
    let record = stack.dir().join("events.jsonl");
    let idle = Duration::from_secs(3);
    let media_route = [(stack.output("MediaQueueUrl"), "media")];
    let pipeline = [
        (stack.output("ConvertQueueUrl"), "convert"),
        (stack.output("DeliverQueueUrl"), "deliver"),
    ];

    // The handshake, over HTTP.
    let handshake = reqwest::get(format!(
        "{}/lambda-url/capture/?hub.mode=subscribe&hub.challenge=4242&hub.verify_token=e2e-verify",
        watch.url
    ))
    .await
    .unwrap();
    assert_eq!(handshake.status(), 200);
    assert_eq!(handshake.text().await.unwrap(), "4242");

    post_all(&watch).await;
    let inbox = s3
        .list_objects_v2()
        .bucket(&archive)
        .prefix("inbox/whatsapp-cloud/")
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.contents().len(), fixtures().len());
    // The media step fetches every file (6 media ids, queued thrice).
    assert_eq!(
        move_messages(&stack, &watch, &media_route, idle, &record),
        0
    );
    // Each file checked against the webhook's own SHA-256.
    let records = s3
        .list_objects_v2()
        .bucket(&archive)
        .prefix("media/whatsapp-cloud/")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = records
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert!(
        !keys.iter().any(|k| k.ends_with(".failed.json")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 6, "{keys:?}");
    for key in &keys {
        let object = s3
            .get_object()
            .bucket(&archive)
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(record["matched"], "webhook base64", "{key}: {record}");
    }
    let report = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-12-01T10:05:00Z"}),
        )
        .await;
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(move_messages(&stack, &watch, &pipeline, idle, &record), 0);

    let delivered = dovecot.fetch_all(MAILBOX, FOLDER).await;
    assert_eq!(delivered.len(), ITEMS);
    let mut ids = std::collections::BTreeSet::new();
    let mut attached = 0;
    for message in &delivered {
        let parsed = mail_parser::MessageParser::default()
            .parse(&message.body)
            .unwrap();
        assert!(ids.insert(parsed.message_id().unwrap().to_owned()));
        for part in parsed.attachments() {
            let contents = part.contents();
            let served = contents
                .strip_prefix(b"media ")
                .is_some_and(|id| !id.is_empty() && id.iter().all(u8::is_ascii_digit));
            attached += usize::from(served);
        }
    }
    // Image, video, voice, document, sticker, the echo's image and the
    // edit's new image: every file arrived as the stand-in served it.
    assert_eq!(attached, 7, "files attached");

    // Replays: every body POSTed again, collect run again, the queues
    // drained: nothing more in the mailbox.
    post_all(&watch).await;
    assert_eq!(
        move_messages(&stack, &watch, &media_route, idle, &record),
        0
    );
    let again = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-12-01T11:05:00Z"}),
        )
        .await;
    assert_eq!(again["items_collected"], 0, "{again}");
    assert_eq!(move_messages(&stack, &watch, &pipeline, idle, &record), 0);
    assert_eq!(dovecot.fetch_all(MAILBOX, FOLDER).await.len(), ITEMS);
}
