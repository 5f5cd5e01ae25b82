//! The deliver function with the SMTP target on the deployed pipeline
//! (template.yaml with `DeliveryTarget=smtp` on LocalStack, the functions
//! under `cargo lambda watch` with the environment the template gives
//! them, a real Postfix): the example dropped in S3 is collected,
//! converted through the real S3 -> SQS notifications and delivered by
//! SMTP, every expected copy exactly once (the 41 copies the embedded run
//! makes), each with its ledger entry and its `sending/` mark; every
//! delivery message handed to the function again sends nothing again.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{Value, json};
use shared::store::S3Store;

use support::examples::expected_jobs;
use support::localstack::{LocalStack, Watch, keys, move_messages, recorded};
use support::postfix::Postfix;

const DAY: &str = "2026-11-21";

/// MAIL FROM of every copy.
const SENDER: &str = "archiver@corp.example";

/// (recipient, Message-ID without brackets) -> copies, of what Postfix
/// delivered.
fn copies(postfix: &Postfix) -> BTreeMap<(String, String), usize> {
    let mut copies = BTreeMap::new();
    for (recipient, messages) in postfix.delivered() {
        for bytes in messages {
            let message = MessageParser::default().parse(&bytes).unwrap();
            let id = message.message_id().unwrap().to_owned();
            *copies.entry((recipient.clone(), id)).or_default() += 1;
        }
    }
    copies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliver_function_sends_each_copy_once_by_smtp_into_postfix() {
    let postfix = Postfix::start();
    // The template takes smtps:// or smtp:// (STARTTLS) only; the functions
    // below reach the Postfix on loopback in plain text, which the SMTP
    // target allows only there (tests).
    let stack = LocalStack::start_with_stack(&[
        "RetentionDays=1",
        "DeliveryTarget=smtp",
        "SmtpUrl=smtp://relay.corp.example",
        "SmtpAuth=none",
        &format!("SmtpSender={SENDER}"),
    ])
    .await;
    let s3 = S3Store::client(&stack.aws);
    let archive = stack.output("ArchiveBucketName").to_owned();
    stack.upload_example().await;

    // The functions' environment, as template.yaml sets it for
    // DeliveryTarget=smtp (IMAP_URL empty, SMTP_* from the parameters),
    // SMTP_URL the Postfix.
    let smtp_url = postfix.url();
    let env = stack.example_env(&[
        ("SMTP_URL", &smtp_url),
        ("SMTP_AUTH", "none"),
        ("SMTP_LOGIN", "{mailbox}"),
        ("SMTP_SENDER", SENDER),
        ("SMTP_RECIPIENT", "{mailbox}"),
        ("SMTP_FORMAT", "plain"),
        ("SMTP_ATTEMPTS", "3"),
        ("SMTP_COMMAND_TIMEOUT_SECS", "30"),
    ]);
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
            &json!({"scheduled_time": format!("{DAY}T00:30:00Z")}),
        )
        .await;
    assert_eq!(report["drops_collected"], 4, "{report}");
    assert_eq!(move_messages(&stack, &watch, &routes, idle, &record), 0);

    // Every expected copy, once, at its mailbox; a ledger entry and a
    // sending/ mark each.
    let jobs = expected_jobs().await;
    assert_eq!(jobs.len(), 41);
    let expected: BTreeMap<(String, String), usize> = jobs
        .iter()
        .map(|job| {
            let id = job.message_id.trim_matches(['<', '>']).to_owned();
            ((job.mailbox.clone(), id), 1)
        })
        .collect();
    assert_eq!(copies(&postfix), expected);
    assert_eq!(keys(&s3, &archive, "delivered/").await.len(), jobs.len());
    // Per copy, the mark made before sending and the one made before the
    // end of the message went out.
    let marks = keys(&s3, &archive, "sending/").await;
    assert_eq!(marks.len(), 2 * jobs.len());
    assert_eq!(
        marks.iter().filter(|key| key.ends_with(".sent")).count(),
        jobs.len()
    );

    // Every delivery message again, straight to the function (SQS delivers
    // at least once): the ledger holds each copy, nothing is sent again.
    let again = recorded(&record, "deliver");
    assert_eq!(again.len(), jobs.len());
    for batch in again.chunks(10) {
        let response = watch.invoke("deliver", &json!({ "Records": batch })).await;
        assert_eq!(
            response["batchItemFailures"],
            Value::Array(Vec::new()),
            "{response}"
        );
    }
    assert_eq!(copies(&postfix), expected);
    assert_eq!(keys(&s3, &archive, "delivered/").await.len(), jobs.len());
}
