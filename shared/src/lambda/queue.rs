//! The deliver queue in AWS: convert sends one SQS message per delivery job,
//! and reconcile sends again the jobs of copies not delivered.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use sha2::{Digest, Sha256};

use crate::jobs::{DeliveryJob, JobQueue, QueueError};

/// SQS takes at most this many messages per batch call.
const SQS_BATCH: usize = 10;

/// Attempts for entries SQS refuses inside an accepted batch call.
const ENTRY_ATTEMPTS: u32 = 3;

/// The message attribute of a job sent again by reconcile (its value: the
/// reconcile run). Its copy may be in the mailbox with its ledger entry
/// lost, so deliver searches the folder before it appends.
pub const RESENT_ATTRIBUTE: &str = "archiver-resent-by";

/// The SQS queue delivery jobs go to.
///
/// A FIFO queue (URL ending `.fifo`) gets the mailbox as message group, so
/// one mailbox's jobs are never delivered by two functions at once (two
/// copies of one job cannot both pass the ledger check), and a deduplication
/// id per (mailbox, Message-ID), so SQS itself drops a job queued twice
/// within five minutes.
///
/// A queue made with [`SqsQueue::resending`] (reconcile's) marks each job
/// with [`RESENT_ATTRIBUTE`] and salts its deduplication id with the run,
/// so that a job sent again minutes after convert sent it is not dropped
/// as that one's duplicate.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    fifo: bool,
    resent_by: Option<String>,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let fifo = url.ends_with(".fifo");
        SqsQueue {
            client,
            url,
            fifo,
            resent_by: None,
        }
    }

    /// The queue at `url`, for jobs sent again by the reconcile run `run`
    /// (its Lambda request id).
    pub fn resending(client: Client, url: impl Into<String>, run: impl Into<String>) -> Self {
        SqsQueue {
            resent_by: Some(run.into()),
            ..SqsQueue::new(client, url)
        }
    }

    fn entry(
        &self,
        n: usize,
        job: &DeliveryJob,
    ) -> Result<SendMessageBatchRequestEntry, QueueError> {
        let body = serde_json::to_string(job).expect("delivery jobs serialize");
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(n.to_string())
            .message_body(body);
        if let Some(run) = &self.resent_by {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(run)
                .build()
                .map_err(|e| QueueError::Send(e.to_string()))?;
            entry = entry.message_attributes(RESENT_ATTRIBUTE, value);
        }
        if self.fifo {
            let mut hasher = Sha256::new();
            hasher.update(job.mailbox.as_bytes());
            hasher.update([0]);
            hasher.update(job.message_id.as_bytes());
            if let Some(run) = &self.resent_by {
                hasher.update([0]);
                hasher.update(run.as_bytes());
            }
            entry = entry
                .message_group_id(group_id(&job.mailbox))
                .message_deduplication_id(hex::encode(hasher.finalize()));
        }
        entry.build().map_err(|e| QueueError::Send(e.to_string()))
    }
}

impl JobQueue for SqsQueue {
    async fn send(&self, jobs: &[DeliveryJob]) -> Result<(), QueueError> {
        let entries = jobs
            .iter()
            .enumerate()
            .map(|(n, job)| self.entry(n, job))
            .collect::<Result<Vec<_>, _>>()?;
        send_entries(&self.client, &self.url, entries).await
    }
}

/// Sends messages in batches of ten; entries SQS refuses inside an
/// accepted call are sent again, up to [`ENTRY_ATTEMPTS`] times. Entry ids
/// must be unique.
pub(super) async fn send_entries(
    client: &Client,
    url: &str,
    entries: Vec<SendMessageBatchRequestEntry>,
) -> Result<(), QueueError> {
    for chunk in entries.chunks(SQS_BATCH) {
        let mut pending: Vec<&SendMessageBatchRequestEntry> = chunk.iter().collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let output = client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(pending.iter().map(|e| (*e).clone()).collect()))
                .send()
                .await
                .map_err(|e| QueueError::Send(DisplayErrorContext(&e).to_string()))?;
            let refused = output.failed();
            if refused.is_empty() {
                break;
            }
            if attempt >= ENTRY_ATTEMPTS {
                return Err(QueueError::Refused {
                    count: refused.len(),
                    reason: refused[0].message().unwrap_or(refused[0].code()).to_owned(),
                });
            }
            pending.retain(|e| refused.iter().any(|f| f.id() == e.id()));
        }
    }
    Ok(())
}

/// A message group id for a mailbox: the address when it is within SQS's
/// limits (128 characters of printable ASCII), else its SHA-256.
fn group_id(mailbox: &str) -> String {
    let fits = mailbox.len() <= 128 && mailbox.bytes().all(|b| b.is_ascii_graphic());
    if fits {
        mailbox.to_owned()
    } else {
        hex::encode(Sha256::digest(mailbox.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::config::{BehaviorVersion, Region};

    use super::*;

    fn client() -> Client {
        Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .build(),
        )
    }

    #[test]
    fn a_job_sent_again_is_marked_and_not_deduplicated_against_converts() {
        let url = "https://sqs.us-east-1.amazonaws.com/1/deliver.fifo";
        let job = DeliveryJob {
            mailbox: "dana@corp.example".to_owned(),
            folder: "WhatsApp Archiver".to_owned(),
            eml_key: "eml/2026-11-21/a.eml".to_owned(),
            message_id: "a@x".to_owned(),
            timestamp: "2026-11-21T09:15:00Z".to_owned(),
            eml: None,
            stubbed: false,
        };
        let converts = SqsQueue::new(client(), url).entry(0, &job).unwrap();
        let resent = SqsQueue::resending(client(), url, "run-1")
            .entry(0, &job)
            .unwrap();
        let again = SqsQueue::resending(client(), url, "run-2")
            .entry(0, &job)
            .unwrap();
        assert!(converts.message_attributes().is_none());
        let marked = &resent.message_attributes().unwrap()[RESENT_ATTRIBUTE];
        assert_eq!(marked.string_value(), Some("run-1"));
        assert_eq!(marked.data_type(), "String");
        assert_eq!(resent.message_group_id(), converts.message_group_id());
        let dedup =
            |e: &SendMessageBatchRequestEntry| e.message_deduplication_id().unwrap().to_owned();
        assert_ne!(dedup(&resent), dedup(&converts));
        assert_ne!(dedup(&resent), dedup(&again));
        assert_eq!(resent.message_body(), converts.message_body());
    }
}
