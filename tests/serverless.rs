//! The serverless pipeline end to end, as deployed: template.yaml on
//! LocalStack (S3 with Object Lock, S3 -> SQS notifications, SQS, Secrets
//! Manager), the three functions under `cargo lambda watch`, SQS messages
//! moved to them as the Lambda event-source mapping does
//! (`infra/localstack/sqs_mover.py`), and a real Dovecot as the IMAP server.
//!
//! One test, in phases, because the set-up (LocalStack, the stack, the
//! functions' build) is the expensive part.
//!
//! Memory is measured on the function's own process (the one `cargo lambda
//! watch` keeps warm): its peak resident set (`VmHWM`) is reset before an
//! invocation and read after it, and compared with what it held before.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::store::{Created, ObjectFile, ObjectStore, S3Store};

use support::examples::{self, expected_jobs};
use support::localstack::{keys, recorded};
use support::process::{memory_kib, reset_peak};
use support::serverless::{Options, Pipeline, failures, rewritten, shuffled, sqs_record};

const FOLDER: &str = "WhatsApp Archiver";

/// Writes an export zip with one attachment of `size` bytes (pseudo-random,
/// stored, so the zip is as large as it) that its chat refers to; returns
/// the attachment's SHA-256.
fn write_large_export(path: &Path, size: usize) -> String {
    use std::io::Write;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = zip::ZipWriter::new(file);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    writer.start_file("_chat.txt", stored).unwrap();
    writer
        .write_all(
            b"[21/11/26, 09:00:00] Bob Smith: <attached: 00000001-VIDEO-2026-11-21-09-00-00.mp4>\n",
        )
        .unwrap();
    writer
        .start_file("00000001-VIDEO-2026-11-21-09-00-00.mp4", stored)
        .unwrap();
    let mut hasher = Sha256::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let part = &chunk[..left.min(chunk.len())];
        hasher.update(part);
        writer.write_all(part).unwrap();
        left -= part.len();
    }
    writer.finish().unwrap().flush().unwrap();
    hex::encode(hasher.finalize())
}

/// The SHA-256 of a stored object, read as a stream.
async fn object_sha256(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let mut body = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"))
        .body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.next().await {
        hasher.update(chunk.unwrap());
    }
    hex::encode(hasher.finalize())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_dropped_in_s3_reach_imap_exactly_once_through_the_functions() {
    let pipeline = Pipeline::start(Options {
        // Large enough that the 200 MB attachment below goes into its EML
        // (and the EML to the mailbox) instead of becoming a stub.
        env: &[
            ("ATTACHMENT_LIMIT", "300000000"),
            ("MAX_MESSAGE_BYTES", "400000000"),
            // Logged as template.yaml's LoggingConfig has it.
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
        relay: false,
    })
    .await;
    let (stack, watch, dovecot) = (&pipeline.stack, &pipeline.watch, &pipeline.dovecot);
    let s3 = pipeline.s3.clone();
    let archive = pipeline.archive.clone();

    // The operator's part: the drops.
    pipeline.upload_drops(&examples::dir()).await;
    // A folder made in the S3 console (an empty object whose key ends in
    // `/`) is a folder, not a drop: no error.
    s3.put_object()
        .bucket(stack.output("DropBucketName"))
        .key("drop/whatsapp-export/+447700900001/")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();

    let record = pipeline.record.clone();
    let idle = Duration::from_secs(3);

    // Phase 1: the scheduled collect, then the notifications drive the rest.
    let scheduled = json!({"scheduled_time": "2026-11-21T00:30:00Z"});
    let report = watch.invoke("collect", &scheduled).await;
    assert_eq!(report["drops_collected"], 4, "{report}");
    assert_eq!(report["items_collected"], 26, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    // The scheduler delivering the same run again: the window is claimed.
    let again = watch.invoke("collect", &scheduled).await;
    assert_eq!(again["drops_collected"], 0, "{again}");
    assert!(
        again["warnings"][0].as_str().unwrap().contains("claimed"),
        "{again}"
    );
    // The next day's run finds every drop collected already.
    let next = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-11-22T00:30:00Z"}),
        )
        .await;
    assert_eq!(next["drops_already_collected"], 4, "{next}");
    assert_eq!(next["items_collected"], 0, "{next}");

    assert_eq!(pipeline.move_messages(idle), 0);
    let jobs = expected_jobs().await;
    assert_eq!(jobs.len(), 41);
    dovecot.assert_each_exactly_once(&jobs, FOLDER).await;
    let emls = keys(&s3, &archive, "eml/").await;
    assert_eq!(emls.len(), 26, "{emls:?}");
    assert_eq!(keys(&s3, &archive, "delivered/").await.len(), 41);

    // Phase 2: every notification and every delivery job replayed three
    // times, shuffled, straight to the functions (at-least-once delivery).
    for (function, seed) in [("convert", "c"), ("deliver", "d")] {
        let records = recorded(&record, function);
        assert!(!records.is_empty(), "{function} saw no records");
        let tripled: Vec<Value> = records
            .iter()
            .cloned()
            .cycle()
            .take(records.len() * 3)
            .collect();
        for batch in shuffled(tripled, seed).chunks(10) {
            let response = watch.invoke(function, &json!({ "Records": batch })).await;
            assert_eq!(failures(&response), Vec::<String>::new(), "{function}");
        }
    }
    // Jobs the replayed conversions queued again (SQS drops the ones it
    // deduplicates; the ledger stops the rest).
    assert_eq!(pipeline.move_messages(idle), 0);
    dovecot.assert_each_exactly_once(&jobs, FOLDER).await;
    assert_eq!(keys(&s3, &archive, "eml/").await, emls);
    // Create-only writes: no EML or ledger entry was ever written twice.
    for prefix in ["eml/", "delivered/"] {
        assert_eq!(rewritten(&s3, &archive, prefix).await, Vec::<String>::new());
    }

    // Phase 3: a batch with one malformed record: exactly it fails.
    let convert_records = recorded(&record, "convert");
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": archive});
    let batch = json!({"Records": [
        convert_records[0].clone(),
        sqs_record("malformed-1", "{\"Records\": [{\"s3\": 42}]}"),
        sqs_record("test-event", &test_event.to_string()),
    ]});
    let response = watch.invoke("convert", &batch).await;
    assert_eq!(failures(&response), ["malformed-1"]);
    let deliver_records = recorded(&record, "deliver");
    let batch = json!({"Records": [
        sqs_record("malformed-2", "not a job"),
        deliver_records[0].clone(),
        deliver_records[1].clone(),
    ]});
    let response = watch.invoke("deliver", &batch).await;
    assert_eq!(failures(&response), ["malformed-2"]);

    // Phase 4: a raw batch whose key needs URL-decoding (space, '+', CJK)
    // arrives through the real notification and is converted.
    let raw_keys = keys(&s3, &archive, "raw/").await;
    let jsonl = raw_keys.iter().find(|k| k.ends_with(".jsonl")).unwrap();
    let original = s3
        .get_object()
        .bucket(&archive)
        .key(jsonl)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let first = original.split(|&b| b == b'\n').next().unwrap();
    let mut item: Value = serde_json::from_slice(first).unwrap();
    let new_id = "0123456789abcdef0123456789abcdef";
    item["id"] = json!(new_id);
    let odd_key = "raw/whatsapp-export/2026-11-21/微信 export+1.jsonl";
    s3.put_object()
        .bucket(&archive)
        .key(odd_key)
        .body(ByteStream::from(format!("{item}\n").into_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(pipeline.move_messages(idle), 0);
    let day = &item["timestamp"].as_str().unwrap()[..10];
    let new_eml = format!("eml/{day}/{new_id}.eml");
    assert!(
        keys(&s3, &archive, "eml/").await.contains(&new_eml),
        "{new_eml} not written"
    );

    // Phase 5: raw source under Object Lock cannot be deleted.
    let head = s3
        .head_object()
        .bucket(&archive)
        .key(jsonl)
        .send()
        .await
        .unwrap();
    assert!(
        head.object_lock_retain_until_date().is_some(),
        "no retention on {jsonl}"
    );
    let refused = s3
        .delete_object()
        .bucket(&archive)
        .key(jsonl)
        .version_id(head.version_id().unwrap())
        .send()
        .await;
    let err = refused.expect_err("a locked version was deleted");
    let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err).map(str::to_owned);
    assert_eq!(code.as_deref(), Some("AccessDenied"), "{err:?}");
    assert!(keys(&s3, &archive, "raw/").await.contains(jsonl));

    // Phase 6: large objects stream. A create-only write of a file larger
    // than one part (a multipart upload completed with If-None-Match)
    // stores it once and finds it taken the second time, with no upload
    // left open.
    let store = S3Store::new(s3.clone(), &archive);
    let first = ObjectFile::from_bytes(&vec![1u8; 20 << 20]).unwrap();
    let second = ObjectFile::from_bytes(&vec![2u8; 20 << 20]).unwrap();
    let key = "media/multipart-create-only";
    assert_eq!(store.put_new_file(key, &first).await.unwrap(), Created::New);
    assert_eq!(
        store.put_new_file(key, &second).await.unwrap(),
        Created::Exists
    );
    assert_eq!(
        object_sha256(&s3, &archive, key).await,
        hex::encode(Sha256::digest(vec![1u8; 20 << 20]))
    );
    let open = s3
        .list_multipart_uploads()
        .bucket(&archive)
        .send()
        .await
        .unwrap();
    assert!(open.uploads().is_empty(), "{:?}", open.uploads());

    // A drop with a 200 MB attachment is collected with collect's memory
    // at most 64 MB above what it held idle, and the archived attachment
    // is the original, byte for byte.
    let big = tempfile::tempdir().unwrap();
    let zip_path = big.path().join("WhatsApp Chat - Big.zip");
    let attachment_sha = write_large_export(&zip_path, 200 << 20);
    s3.put_object()
        .bucket(stack.output("DropBucketName"))
        .key("drop/whatsapp-export/+447700900001/WhatsApp Chat - Big.zip")
        .body(ByteStream::from_path(&zip_path).await.unwrap())
        .send()
        .await
        .unwrap();
    drop(big);
    let collect = watch.function_pid("collect").expect("collect is running");
    let idle_kib = memory_kib(collect, "VmRSS");
    reset_peak(collect);
    let report = watch
        .invoke(
            "collect",
            &json!({"scheduled_time": "2026-11-23T00:30:00Z"}),
        )
        .await;
    let peak_kib = memory_kib(collect, "VmHWM");
    assert_eq!(report["drops_collected"], 1, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    eprintln!(
        "collect of a 200 MB attachment: peak {} MiB, {} MiB above idle ({} MiB)",
        peak_kib / 1024,
        peak_kib.saturating_sub(idle_kib) / 1024,
        idle_kib / 1024
    );
    assert!(
        peak_kib.saturating_sub(idle_kib) <= 64 << 10,
        "collect peaked at {peak_kib} KiB, {idle_kib} KiB idle"
    );
    let media = format!("media/{attachment_sha}");
    assert_eq!(object_sha256(&s3, &archive, &media).await, attachment_sha);
    // Convert renders the same drop's EML with the attachment in it,
    // streamed from the archive into the EML, with its memory at most 64
    // MB above idle; deliver appends it.
    let convert = watch.function_pid("convert").expect("convert is running");
    let convert_idle_kib = memory_kib(convert, "VmRSS");
    reset_peak(convert);
    assert_eq!(pipeline.move_messages(idle), 0);
    let convert_peak_kib = memory_kib(convert, "VmHWM");
    eprintln!(
        "convert of the same drop: peak {} MiB, {} MiB above idle",
        convert_peak_kib / 1024,
        convert_peak_kib.saturating_sub(convert_idle_kib) / 1024
    );
    assert!(
        convert_peak_kib.saturating_sub(convert_idle_kib) <= 64 << 10,
        "convert peaked at {convert_peak_kib} KiB, {convert_idle_kib} KiB idle"
    );
    let emls = s3
        .list_objects_v2()
        .bucket(&archive)
        .prefix("eml/")
        .send()
        .await
        .unwrap();
    let largest = emls
        .contents()
        .iter()
        .filter_map(|object| object.size())
        .max()
        .unwrap_or(0);
    assert!(
        largest > 200 << 20,
        "the attachment is in its EML: the largest EML is {largest} bytes"
    );

    // Nothing was left in the dead-letter queues.
    pipeline.assert_dead_letter_queues_empty().await;

    // The functions' logs of the whole test (`cargo lambda watch` writes
    // what they print to its log) hold neither the IMAP password nor any
    // line of the example exports' message text.
    let logged = std::fs::read_to_string(stack.dir().join("watch.log")).unwrap();
    assert!(
        !logged.contains(&dovecot.password),
        "the IMAP password is in the functions' log"
    );
    for text in examples::message_texts() {
        assert!(
            !logged.contains(&text),
            "the message text {text:?} is in the functions' log"
        );
    }

    // Each function wrote its metrics as CloudWatch Embedded Metric Format
    // lines (what CloudWatch Logs turns into metrics): collect, convert and
    // deliver, under a MobileArchiver namespace (the default here; the
    // template sets MobileArchiver/<stack>), the copies delivered and their
    // latency among them.
    let mut metrics: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in logged.lines().filter(|line| line.contains("\"_aws\"")) {
        let Some(at) = line.find('{') else { continue };
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&line[at..]) else {
            continue;
        };
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert!(
            directive["Namespace"]
                .as_str()
                .is_some_and(|namespace| namespace.starts_with("MobileArchiver")),
            "{record}"
        );
        let stage = record["Stage"].as_str().unwrap_or_default().to_owned();
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default().to_owned();
            let value = record[&name].as_f64().unwrap_or(0.0);
            *metrics.entry((stage.clone(), name)).or_default() += value;
        }
    }
    for (stage, metric) in [
        ("collect", "Items"),
        ("convert", "Items"),
        ("deliver", "CopiesDelivered"),
        ("deliver", "DeliveryLatency"),
    ] {
        assert!(
            metrics.contains_key(&(stage.to_owned(), metric.to_owned())),
            "no {metric} from {stage} in the functions' metrics: {metrics:?}"
        );
    }
    assert!(
        metrics[&("deliver".to_owned(), "CopiesDelivered".to_owned())] >= jobs.len() as f64,
        "{metrics:?}"
    );
}
