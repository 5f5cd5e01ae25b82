//! The deployed pipeline as the serverless tests run it: a real Dovecot,
//! template.yaml on LocalStack, the operator's part (the IMAP secret in
//! Secrets Manager, the mapping CSV in the config bucket), and the
//! functions under `cargo lambda watch` with the stack's outputs as their
//! environment, as template.yaml sets it. One set-up for every serverless
//! test, so that they all run the functions the same way.
//!
//! Also the SQS records the tests hand to the functions themselves (a
//! replay, a shuffle) and what they check in the archive afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::store::S3Store;

use super::dovecot::Dovecot;
use super::localstack::{LocalStack, Watch, move_messages, upload_dir};
use super::relay::Relay;

/// How a [`Pipeline`] is set up.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options<'a> {
    /// Settings added to (or replacing) the functions' environment.
    pub env: &'a [(&'a str, &'a str)],
    /// The functions reach LocalStack through a [`Relay`] the test can
    /// take down (an outage), rather than directly.
    pub relay: bool,
}

/// The deployed pipeline; everything is stopped when it is dropped.
pub struct Pipeline {
    /// The functions (dropped first: they use the services below).
    pub watch: Watch,
    /// Between the functions and LocalStack, when asked for.
    pub relay: Option<Relay>,
    /// LocalStack with the stack deployed.
    pub stack: LocalStack,
    /// The IMAP server the deliver function appends to.
    pub dovecot: Dovecot,
    /// An S3 client straight to LocalStack (never through the relay).
    pub s3: aws_sdk_s3::Client,
    /// The archive bucket's name.
    pub archive: String,
    /// The functions' environment.
    pub env: Vec<(String, String)>,
    /// Where the SQS mover records every invocation.
    pub record: PathBuf,
}

impl Pipeline {
    /// Starts Dovecot and LocalStack, deploys the stack, stores the IMAP
    /// secret and the example mapping CSV, and starts the functions.
    pub async fn start(options: Options<'_>) -> Pipeline {
        let dovecot = Dovecot::start();
        let stack = LocalStack::start_with_stack(&["RetentionDays=1"]).await;
        let s3 = S3Store::client(&stack.aws);
        let archive = stack.output("ArchiveBucketName").to_owned();

        let secrets = aws_sdk_secretsmanager::Client::new(&stack.aws);
        let secret_arn = secrets
            .create_secret()
            .name("mobile-archiver/imap")
            .secret_string(json!({ "password": dovecot.password }).to_string())
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        stack.upload_mapping().await;

        let relay = options.relay.then(|| Relay::start(&stack.endpoint));
        let endpoint = relay
            .as_ref()
            .map_or(stack.endpoint.clone(), |relay| relay.url.clone());
        let dovecot_url = dovecot.url();
        // The functions' environment, as template.yaml sets it, reaching
        // LocalStack through the relay when there is one.
        let mut env = stack.example_env(&[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("RECONCILE_DAYS", "3"),
            ("IMAP_URL", &dovecot_url),
            ("IMAP_AUTH", "password"),
            ("IMAP_SECRET_ARN", &secret_arn),
            ("IMAP_CONNECTIONS", "2"),
            ("IMAP_ATTEMPTS", "3"),
            ("IMAP_COMMAND_TIMEOUT_SECS", "30"),
        ]);
        // The later of two settings of a key wins.
        let mut seen = std::collections::HashSet::new();
        env.reverse();
        env.retain(|(k, _)| seen.insert(k.clone()));
        env.reverse();
        for (key, value) in options.env {
            env.retain(|(k, _)| k.as_str() != *key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let watch = Watch::start(&env, &stack.dir().join("watch.log"));
        let record = stack.dir().join("events.jsonl");
        Pipeline {
            watch,
            relay,
            stack,
            dovecot,
            s3,
            archive,
            env,
            record,
        }
    }

    /// A stack output.
    pub fn output(&self, name: &str) -> &str {
        self.stack.output(name)
    }

    /// The queues and the functions they drive, as the event-source
    /// mappings of template.yaml route them.
    pub fn routes(&self) -> [(&str, &str); 2] {
        [
            (self.output("ConvertQueueUrl"), "convert"),
            (self.output("DeliverQueueUrl"), "deliver"),
        ]
    }

    /// Moves SQS messages to the functions until every queue stayed empty
    /// for `idle` (see [`move_messages`]); returns the messages reported
    /// failed.
    pub fn move_messages(&self, idle: Duration) -> u64 {
        move_messages(&self.stack, &self.watch, &self.routes(), idle, &self.record)
    }

    /// Uploads the drops under `base`/drop to the drop bucket, keyed by
    /// their path below `base`.
    pub async fn upload_drops(&self, base: &Path) {
        upload_dir(
            &self.s3,
            self.output("DropBucketName"),
            base,
            &base.join("drop"),
        )
        .await;
    }

    /// Asserts that both dead-letter queues are empty.
    pub async fn assert_dead_letter_queues_empty(&self) {
        let sqs = aws_sdk_sqs::Client::new(&self.stack.aws);
        for dlq in ["ConvertDeadLetterQueueUrl", "DeliverDeadLetterQueueUrl"] {
            let name = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(self.output(dlq))
                .attribute_names(name.clone())
                .send()
                .await
                .unwrap();
            let count = attrs.attributes().and_then(|a| a.get(&name)).cloned();
            assert_eq!(count.as_deref(), Some("0"), "{dlq}");
        }
    }
}

/// A deterministic shuffle (sort by a keyed hash).
pub fn shuffled(mut records: Vec<Value>, seed: &str) -> Vec<Value> {
    let mut keyed: Vec<(Vec<u8>, Value)> = records
        .drain(..)
        .enumerate()
        .map(|(n, r)| (Sha256::digest(format!("{seed}{n}")).to_vec(), r))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, r)| r).collect()
}

/// The message ids a function's batch response names failed.
pub fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// An SQS record as the event-source mapping hands it to a function, on
/// its first receipt.
pub fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": "test",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:test",
        "awsRegion": "us-east-1"
    })
}

/// Keys under `prefix` that have more than one version (an overwrite).
pub async fn rewritten(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut count = BTreeMap::<String, usize>::new();
    let mut key_marker = None;
    let mut version_marker = None;
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .unwrap();
        for version in page.versions() {
            *count.entry(version.key().unwrap().to_owned()).or_default() += 1;
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    assert!(!count.is_empty(), "no versions under {prefix}");
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}
