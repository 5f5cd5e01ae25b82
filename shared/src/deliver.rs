//! The deliver stage: delivery jobs in, one copy per mailbox out, exactly
//! once (see [`crate::ledger`]).

use chrono::Utc;

use crate::convert::DeliveryJob;
use crate::item::Timestamp;
use crate::ledger::{self, Job, Outcome};
use crate::mailbox::{Envelope, Mailbox};
use crate::report::Report;
use crate::store::ObjectStore;

/// Delivers jobs in order, each at most once per mailbox.
///
/// A job whose EML is missing or whose timestamp is invalid is reported and
/// skipped; a mailbox or ledger failure is reported for that job, and the
/// failed jobs are returned so the caller can retry them (a Lambda reports
/// them as batch item failures).
pub async fn deliver_jobs<S: ObjectStore, M: Mailbox>(
    store: &S,
    target: &mut M,
    jobs: &[DeliveryJob],
    may_have_run: bool,
    report: &mut Report,
) -> Vec<usize> {
    let mut failed = Vec::new();
    // Jobs of one item are consecutive: load its EML once.
    let mut cached: Option<(&str, Vec<u8>)> = None;
    for (index, job) in jobs.iter().enumerate() {
        if cached.as_ref().is_none_or(|(key, _)| *key != job.eml_key) {
            match store.get(&job.eml_key).await {
                Ok(Some(bytes)) => cached = Some((&job.eml_key, bytes)),
                Ok(None) => {
                    report.error(format!(
                        "job for {}: {} not found",
                        job.mailbox, job.eml_key
                    ));
                    failed.push(index);
                    continue;
                }
                Err(e) => {
                    report.error(format!("job for {}: {e}", job.mailbox));
                    failed.push(index);
                    continue;
                }
            }
        }
        let bytes = &cached.as_ref().expect("loaded above").1;
        let Ok(time) = Timestamp::parse(&job.timestamp) else {
            report.error(format!(
                "job for {} ({}): invalid timestamp {:?}",
                job.mailbox, job.eml_key, job.timestamp
            ));
            failed.push(index);
            continue;
        };
        let ledger_job = Job {
            mailbox: &job.mailbox,
            folder: &job.folder,
            message: Envelope {
                message_id: &job.message_id,
                bytes,
                internal_date: time.0,
            },
        };
        match ledger::deliver_once(store, target, &ledger_job, may_have_run, Utc::now()).await {
            Ok(Outcome::Delivered | Outcome::Recovered) => report.delivered_to(&job.mailbox),
            Ok(Outcome::AlreadyDelivered) => report.already_delivered += 1,
            Err(e) => {
                report.error(format!(
                    "delivery of {} to {}: {e}",
                    job.eml_key, job.mailbox
                ));
                failed.push(index);
            }
        }
    }
    failed
}
