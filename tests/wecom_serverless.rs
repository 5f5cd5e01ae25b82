//! WeCom end to end as deployed, on the local stack: template.yaml on
//! LocalStack (S3 with Object Lock, notifications, SQS, Secrets Manager),
//! the functions under `cargo lambda watch` with the WeCom settings the
//! template gives collect (its secret in Secrets Manager; the SDK
//! stand-in as the layer's library; WeCom's web API on loopback), and a
//! real Dovecot: collect -> convert -> deliver puts the messages in
//! `WeChat Archiver` with the group's Chinese title in the subject and the
//! call's recording attached. Then a crash between a batch and its
//! checkpoint (the checkpoint gone) and collect again: nothing is archived
//! or delivered twice, nothing is lost.

mod support;

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;
use shared::store::S3Store;
use wecom_sdk_standin::Scenario;

use support::dovecot::Dovecot;
use support::localstack::{LocalStack, Watch, move_messages};
use support::wecom::{Keys, serve_api, standin_library, write_scenario};

const FOLDER: &str = "WeChat Archiver";

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let page = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    page.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// Keys under `prefix` with more than one version (written twice).
async fn rewritten(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let page = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut count = std::collections::BTreeMap::<String, usize>::new();
    for version in page.versions() {
        *count.entry(version.key().unwrap().to_owned()).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn wecom_reaches_dovecot_through_the_functions_once_even_after_a_crash_before_the_checkpoint()
{
    let dovecot = Dovecot::start();
    let stack = LocalStack::start_with_stack(&["RetentionDays=1"]).await;
    let s3 = S3Store::client(&stack.aws);
    let archive = stack.output("ArchiveBucketName").to_owned();
    let work = stack.dir().join("wecom");
    std::fs::create_dir_all(&work).unwrap();

    // WeCom's side: two messages an hour old, a group text and a call
    // whose recording the SDK serves in chunks; the web API names the group.
    let keys_made = Keys::generate(&[1]);
    let at = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let recording = [b"#!AMR\n".as_slice(), &[5u8; 600_000]].concat();
    std::fs::write(work.join("recording.bin"), &recording).unwrap();
    let text = format!(
        r#"{{"msgid":"e2e-1","action":"send","from":"zhangsan","tolist":["lisi"],"roomid":"wrGroup1","msgtime":{at},"msgtype":"text","text":{{"content":"明天开会"}}}}"#
    );
    let call = format!(
        r#"{{"msgid":"e2e-2","action":"send","from":"zhangsan","tolist":["lisi"],"msgtime":{},"msgtype":"meeting_voice_call","voiceid":"grb8","meeting_voice_call":{{"endtime":{},"sdkfileid":"rec-1"}}}}"#,
        at + 1000,
        (at + 1000) / 1000 + 312
    );
    let scenario = Scenario {
        secret: "archive-secret".to_owned(),
        chatdata: vec![
            keys_made.entry(1, 1, text.as_bytes()),
            keys_made.entry(2, 1, call.as_bytes()),
        ],
        media: [("rec-1".to_owned(), work.join("recording.bin"))].into(),
        ..Default::default()
    };
    let corp = write_scenario(&work, &scenario);
    let api = serve_api(|call| match call.path.as_str() {
        "/cgi-bin/gettoken" => json!({"errcode": 0, "access_token": "tok"}),
        "/cgi-bin/msgaudit/groupchat/get" => json!({"errcode": 0, "roomname": "项目组"}),
        _ => json!({"errcode": 40001}),
    })
    .await;

    // The operator's part: the secrets and the mapping CSV.
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.aws);
    let mut arns = Vec::new();
    for (name, value) in [
        (
            "mobile-archiver/imap",
            json!({ "password": dovecot.password }),
        ),
        (
            "mobile-archiver/wecom",
            json!({
                "wecom_corp_id": corp,
                "wecom_archive_secret": "archive-secret",
                "wecom_private_keys": keys_made.secret(&[1]),
            }),
        ),
    ] {
        let created = secrets
            .create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
        arns.push(created.arn().unwrap().to_owned());
    }
    s3.put_object()
        .bucket(stack.output("ConfigBucketName"))
        .key("mapping.csv")
        .body(ByteStream::from_static(
            b"identity,mailbox\nwecom:zhangsan,zhangsan@corp.example\nwecom:lisi,lisi@corp.example\n",
        ))
        .send()
        .await
        .unwrap();

    let library = standin_library();
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
        ("TIME_ZONE", "Asia/Shanghai"),
        ("DEFAULT_REGION", "CN"),
        ("IMAP_URL", &dovecot.url()),
        ("IMAP_AUTH", "password"),
        ("IMAP_SECRET_ARN", &arns[0]),
        ("WECOM_SECRET_ARN", &arns[1]),
        ("WECOM_SDK_LIBRARY", library.to_str().unwrap()),
        ("WECOM_API_BASE_URL", &api),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let watch = Watch::start(&env, &stack.dir().join("watch.log"));
    let routes = [
        (stack.output("ConvertQueueUrl"), "convert"),
        (stack.output("DeliverQueueUrl"), "deliver"),
    ];
    let record = stack.dir().join("events.jsonl");
    let idle = Duration::from_secs(3);

    let report = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-12-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["items_collected"], 2, "{report}");
    assert_eq!(move_messages(&stack, &watch, &routes, idle, &record), 0);
    for mailbox in ["zhangsan@corp.example", "lisi@corp.example"] {
        let messages = dovecot.fetch_all(mailbox, FOLDER).await;
        assert_eq!(messages.len(), 2, "{mailbox}");
        let mut subjects = Vec::new();
        for message in &messages {
            let parsed = MessageParser::default().parse(&message.body).unwrap();
            subjects.push(parsed.subject().unwrap().to_owned());
            if let Some(part) = parsed.attachments().next() {
                assert_eq!(part.attachment_name(), Some("recording.amr"));
                assert_eq!(part.contents(), recording.as_slice());
            }
        }
        subjects.sort();
        assert_eq!(
            subjects,
            [
                "WeChat call with zhangsan, lisi, 5 min 12 s",
                "WeChat group \"项目组\": message from zhangsan",
            ],
            "{mailbox}"
        );
    }

    // A crash after the batch was stored, before its checkpoint: the
    // checkpoint is not there (a delete marker hides it), and collect runs
    // again.
    let checkpoints = keys(&s3, &archive, "collected/wecom/").await;
    assert_eq!(checkpoints, ["collected/wecom/s00000000000000000002"]);
    s3.delete_object()
        .bucket(&archive)
        .key(&checkpoints[0])
        .send()
        .await
        .unwrap();
    let again = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-12-01T10:15:00Z"}),
        )
        .await;
    assert_eq!(again["errors"], json!([]), "{again}");
    assert_eq!(keys(&s3, &archive, "collected/wecom/").await, checkpoints);
    assert_eq!(move_messages(&stack, &watch, &routes, idle, &record), 0);
    // Nothing stored twice, nothing delivered twice.
    for prefix in ["raw/wecom/", "media/", "eml/"] {
        assert_eq!(
            rewritten(&s3, &archive, prefix).await,
            Vec::<String>::new(),
            "{prefix}"
        );
    }
    for mailbox in ["zhangsan@corp.example", "lisi@corp.example"] {
        assert_eq!(
            dovecot.fetch_all(mailbox, FOLDER).await.len(),
            2,
            "{mailbox}"
        );
    }
    // And the next run finds nothing new.
    let next = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-12-01T10:30:00Z"}),
        )
        .await;
    assert_eq!(next["items_collected"], 0, "{next}");
}
