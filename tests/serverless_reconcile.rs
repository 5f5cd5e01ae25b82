//! The scheduled reconcile function on the deployed pipeline (template.yaml
//! on LocalStack, the functions under `cargo lambda watch`, a real
//! Dovecot): a day with one raw batch's S3 notification lost and one ledger
//! entry deleted is reported open, repaired through convert and deliver
//! with each missing copy delivered exactly once, and closed with its
//! manifest by the next run.

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use support::examples::{self, expected_jobs};
use support::localstack::keys;
use support::serverless::{Options, Pipeline};

const FOLDER: &str = "WhatsApp Archiver";
const DAY: &str = "2026-11-21";
const ADMIN: &str = "compliance@corp.example";

/// Takes one S3 notification off the convert queue, as if it had been
/// lost; returns the raw batch it named.
async fn lose_one_notification(sqs: &aws_sdk_sqs::Client, queue: &str) -> String {
    for _ in 0..10 {
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let Some(message) = received.messages().first() else {
            continue;
        };
        let keys = shared::lambda::notification_keys(message.body()).unwrap();
        if keys.is_empty() {
            // S3's test event: not a batch's notification.
            continue;
        }
        sqs.delete_message()
            .queue_url(queue)
            .receipt_handle(message.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
        return keys[0].clone();
    }
    panic!("no notification reached the convert queue");
}

/// The one day a reconcile answer is about.
fn the_day(answer: &Value) -> &Value {
    let days = answer.as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(days.len(), 1, "{answer}");
    assert_eq!(days[0]["day"], DAY, "{answer}");
    &days[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_a_day_open_sends_back_what_was_lost_once_and_closes_it() {
    let pipeline = Pipeline::start(Options {
        env: &[("REPORT_MAILBOX", ADMIN)],
        ..Options::default()
    })
    .await;
    let (stack, watch, dovecot) = (&pipeline.stack, &pipeline.watch, &pipeline.dovecot);
    let s3 = pipeline.s3.clone();
    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let archive = pipeline.archive.clone();
    pipeline.upload_drops(&examples::dir()).await;
    let idle = Duration::from_secs(3);

    // The day's collect; one batch's notification is lost on the way.
    let report = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": format!("{DAY}T00:30:00Z")}),
        )
        .await;
    assert_eq!(report["drops_collected"], 4, "{report}");
    let lost = lose_one_notification(&sqs, stack.output("ConvertQueueUrl")).await;
    assert!(
        lost.starts_with(&format!("raw/whatsapp-export/{DAY}/")),
        "{lost}"
    );
    assert_eq!(pipeline.move_messages(idle), 0);
    let jobs = expected_jobs().await;
    assert_eq!(jobs.len(), 41);
    let delivered = keys(&s3, &archive, "delivered/").await;
    assert!(
        !delivered.is_empty() && delivered.len() < jobs.len(),
        "{} of {} copies delivered before the repair",
        delivered.len(),
        jobs.len()
    );
    // And one ledger entry of a copy in its mailbox is deleted (a delete
    // marker: Object Lock keeps the version).
    let deleted = delivered[0].clone();
    s3.delete_object()
        .bucket(&archive)
        .key(&deleted)
        .send()
        .await
        .unwrap();
    let before = delivered.len() - 1;

    // Reconcile reports the day open and sends both back.
    let open = watch.invoke("reconcile", &json!({ "day": DAY })).await;
    let day = the_day(&open);
    assert_eq!(day["batches"], 4, "{day}");
    assert_eq!(day["batches_resent"], 1, "{day}");
    assert_eq!(day["copies_resent"], 1, "{day}");
    assert_eq!(day["closed"], false, "{day}");
    assert_eq!(day["manifest"], Value::Null, "{day}");
    let lines: Vec<&str> = day["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&lost) && l.contains("not converted")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("not delivered")),
        "{lines:?}"
    );
    assert!(keys(&s3, &archive, "manifest/").await.is_empty());

    // Convert and deliver do the rest: every copy exactly once in its
    // mailbox (the one whose entry was deleted found there, not appended
    // again), one ledger entry each.
    assert_eq!(pipeline.move_messages(idle), 0);
    dovecot.assert_each_exactly_once(&jobs, FOLDER).await;
    // (The admin mailbox's entry is the open day's report, delivered too.)
    let after: Vec<String> = keys(&s3, &archive, "delivered/")
        .await
        .into_iter()
        .filter(|key| !key.starts_with(&format!("delivered/{ADMIN}/")))
        .collect();
    assert_eq!(after.len(), jobs.len());
    assert!(after.contains(&deleted), "{deleted} not recorded again");
    eprintln!(
        "reconcile: 1 lost notification and 1 deleted ledger entry; {} copies delivered before, \
         {} after, each exactly once in Dovecot",
        before,
        after.len()
    );

    // The next run finds nothing open and closes the day; the one after
    // finds it closed.
    let closed = watch.invoke("reconcile", &json!({ "day": DAY })).await;
    let day = the_day(&closed);
    assert_eq!(day["open"], json!([]), "{day}");
    assert_eq!(
        (day["batches_resent"].clone(), day["copies_resent"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(day["closed"], true, "{day}");
    assert_eq!(day["manifest"], "manifest/00000001.json", "{day}");
    assert_eq!(day["head"].as_str().map(str::len), Some(64), "{day}");
    assert_eq!(
        keys(&s3, &archive, "manifest/").await,
        ["manifest/00000001.json"]
    );
    let manifest: Value = serde_json::from_slice(
        &s3.get_object()
            .bucket(&archive)
            .key("manifest/00000001.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    assert_eq!(manifest["day"], DAY);
    let copies: u64 = manifest["mailboxes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(copies, jobs.len() as u64);
    let again = watch.invoke("reconcile", &json!({ "day": DAY })).await;
    let day = the_day(&again);
    assert_eq!(
        (day["closed"].clone(), day["manifest"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(pipeline.move_messages(idle), 0);
    dovecot.assert_each_exactly_once(&jobs, FOLDER).await;

    // The daily report reached the admin mailbox through the deliver
    // function: once while the day was open, once when it closed, and no
    // more (the third run found it sent).
    let reports = dovecot.fetch_all(ADMIN, "Archiver Reports").await;
    assert_eq!(reports.len(), 2, "one report open, one closed");
    let attached: Vec<Value> = reports
        .iter()
        .map(|fetched| {
            let message = mail_parser::MessageParser::default()
                .parse(&fetched.body)
                .unwrap();
            assert!(
                message
                    .subject()
                    .unwrap()
                    .starts_with(&format!("Mobile Archiver report {DAY}: 26 items")),
                "{:?}",
                message.subject()
            );
            assert!(message.body_html(0).unwrap().contains("<svg"));
            let attachment =
                mail_parser::MimeHeaders::attachment_name(message.attachment(0).unwrap())
                    .map(str::to_owned);
            assert_eq!(
                attachment.as_deref(),
                Some(format!("mobile-archiver-report-{DAY}.json").as_str())
            );
            serde_json::from_slice(message.attachment(0).unwrap().contents()).unwrap()
        })
        .collect();
    let reconciled: Vec<&Value> = attached.iter().map(|r| &r["reconciled"]).collect();
    assert!(
        reconciled.contains(&&json!(false)) && reconciled.contains(&&json!(true)),
        "{reconciled:?}"
    );
    for report in &attached {
        assert_eq!(report["collect_runs"], 1, "{report}");
        assert_eq!(
            report["sources"]["whatsapp-export"]["items"], 26,
            "{report}"
        );
    }
    let sent = keys(&s3, &archive, &format!("reports/{DAY}/sent-")).await;
    assert_eq!(
        sent,
        [
            format!("reports/{DAY}/sent-closed.json"),
            format!("reports/{DAY}/sent-open.json")
        ]
    );
}
