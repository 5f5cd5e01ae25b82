//! The deliver stage: delivery jobs in, one copy per mailbox out, exactly
//! once (see [`crate::ledger`]).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::Utc;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::item::Timestamp;
use crate::jobs::DeliveryJob;
use crate::ledger::{Group, Job, LedgerError, Outcome};
use crate::mailbox::{Envelope, Mailbox, Message};
use crate::progress::{self, Event, Stage};
use crate::report::Report;
use crate::store::{ObjectFile, ObjectStore, StoreError};

/// Delivers jobs, each at most once per mailbox, over several targets at
/// once (one lane per target, e.g. one IMAP connection set each). Lanes
/// of targets that [block](Mailbox::blocks) (Maildir writers) run on
/// threads of their own when the runtime has worker threads to drive the
/// store's I/O meanwhile; otherwise the lanes take turns on this task.
///
/// All jobs of a mailbox go through the same lane, in order, so a mailbox
/// sees one connection. A job whose EML is missing or whose timestamp is
/// invalid is reported and skipped; a mailbox or ledger failure is reported
/// for that job. `may_have_run(index)` says whether job `index` may have been
/// attempted before (then its folder is searched before appending); after a
/// failure for a mailbox, its later jobs are searched first too, because the
/// failed attempt may have stored a copy that a replayed job would repeat.
/// No job starts after `start_no_job_after` (a Lambda's deadline less a
/// margin); the jobs left are returned as failed.
/// The indexes of the jobs that failed are returned, sorted,
/// so the caller can retry them (a Lambda reports them as batch item
/// failures).
pub async fn deliver_jobs<S: ObjectStore + Sync, M: Mailbox + Send>(
    store: &S,
    targets: &mut [M],
    jobs: &[DeliveryJob],
    may_have_run: impl Fn(usize) -> bool + Copy + Send,
    start_no_job_after: Option<Instant>,
    report: &mut Report,
) -> Vec<usize> {
    let lanes = lanes(jobs, targets.len());
    let threaded = targets.len() > 1
        && targets.iter().all(Mailbox::blocks)
        && Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread;
    let results = if threaded {
        let handle = Handle::current();
        tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                let threads: Vec<_> = targets
                    .iter_mut()
                    .zip(lanes)
                    .map(|(target, lane)| {
                        let handle = &handle;
                        scope.spawn(move || {
                            handle.block_on(deliver_lane(
                                store,
                                target,
                                jobs,
                                lane,
                                may_have_run,
                                start_no_job_after,
                            ))
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|thread| thread.join().expect("a lane does not panic"))
                    .collect()
            })
        })
    } else {
        let runs = targets.iter_mut().zip(lanes).map(|(target, lane)| {
            deliver_lane(store, target, jobs, lane, may_have_run, start_no_job_after)
        });
        futures::future::join_all(runs).await
    };
    let mut failed = Vec::new();
    for (lane_report, lane_failed) in results {
        report.merge(lane_report);
        failed.extend(lane_failed);
    }
    failed.sort_unstable();
    failed
}

/// Job indexes per lane: mailboxes are given to lanes in turn, in order of
/// first appearance.
fn lanes(jobs: &[DeliveryJob], count: usize) -> Vec<Vec<usize>> {
    let count = count.max(1);
    let mut lane_of: HashMap<&str, usize> = HashMap::new();
    let mut lanes = vec![Vec::new(); count];
    for (index, job) in jobs.iter().enumerate() {
        let next = lane_of.len() % count;
        let lane = *lane_of.entry(job.mailbox.as_str()).or_insert(next);
        lanes[lane].push(index);
    }
    lanes
}

/// Copies a lane delivers before it commits them (a Maildir sync, then
/// the ledger entries written together).
const GROUP_COPIES: usize = 8_192;

/// Copies whose ledger keys a lane of a local target looks up at once.
const LOOK_AHEAD: usize = 8_192;

/// How long a lane's first uncommitted copy waits for its commit at most:
/// what a crash leaves to be searched for stays small, and a slow target
/// (IMAP) records its deliveries as it goes.
const GROUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Delivers one lane's jobs in order, in committed groups; returns its
/// report and failed indexes.
async fn deliver_lane<S: ObjectStore, M: Mailbox>(
    store: &S,
    target: &mut M,
    jobs: &[DeliveryJob],
    lane: Vec<usize>,
    may_have_run: impl Fn(usize) -> bool,
    start_no_job_after: Option<Instant>,
) -> (Report, Vec<usize>) {
    let mut report = Report::default();
    let mut failed = Vec::new();
    let mut failed_mailboxes: HashSet<&str> = HashSet::new();
    let mut group = Group::default();
    let mut group_started = Instant::now();
    // Jobs of one item are consecutive: load its EML once.
    let mut cached: Option<(&str, Loaded)> = None;
    // A local target's copy costs about what its ledger lookup does: the
    // ledger is read for many copies at once (see Group::look_ahead).
    let look_ahead = target.blocks();
    let mut since_look_ahead = LOOK_AHEAD;
    let mut lane = lane.into_iter();
    while let Some(index) = lane.next() {
        if look_ahead && since_look_ahead == LOOK_AHEAD {
            let coming = std::iter::once(&index)
                .chain(lane.as_slice())
                .take(LOOK_AHEAD);
            let copies = coming.map(|&i| (jobs[i].mailbox.as_str(), jobs[i].message_id.as_str()));
            group.look_ahead(store, copies).await;
            since_look_ahead = 0;
        }
        since_look_ahead += 1;
        if start_no_job_after.is_some_and(|last| Instant::now() > last) {
            let rest: Vec<usize> = std::iter::once(index).chain(lane.by_ref()).collect();
            report.error(format!(
                "{} copies not attempted: the invocation's time is nearly up",
                rest.len()
            ));
            failed.extend(rest);
            break;
        }
        let job = &jobs[index];
        progress::tell(Event::Advanced {
            stage: Stage::Deliver,
            by: 1,
        });
        if cached.as_ref().is_none_or(|(key, _)| *key != job.eml_key) {
            match load(store, &job.eml_key).await {
                Ok(Some(loaded)) => cached = Some((&job.eml_key, loaded)),
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
        let message = cached.as_ref().expect("loaded above").1.message();
        if let Some(written) = &job.eml
            && (message.len() != written.size || hex::encode(message.sha256()) != written.sha256)
        {
            report.error(format!(
                "job for {}: {} is not the e-mail convert wrote (its size or SHA-256 differs); not delivered",
                job.mailbox, job.eml_key
            ));
            failed.push(index);
            continue;
        }
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
                message,
                internal_date: time.0,
            },
        };
        let retry = may_have_run(index) || failed_mailboxes.contains(job.mailbox.as_str());
        let first_of_group = group.is_empty();
        let attempt = group
            .deliver(index, store, target, &ledger_job, retry, Utc::now())
            .await;
        // Counted as sent, before the ledger knows: see Group::take_resent.
        report.possibly_duplicated += group.take_resent();
        match attempt {
            Ok(Outcome::AlreadyDelivered) => report.already_delivered += 1,
            Ok(Outcome::Delivered | Outcome::Recovered | Outcome::Resent) => {}
            Err(e) => {
                report.error(format!(
                    "delivery of {} to {}: {e}",
                    job.eml_key, job.mailbox
                ));
                failed.push(index);
                failed_mailboxes.insert(&job.mailbox);
                if let LedgerError::Mailbox(cause) = &e
                    && cause.is_server_unreachable()
                {
                    // Every retry of this job already failed to reach the
                    // server: the lane's other jobs wait for the next run
                    // instead of each spending its own retries.
                    let rest: Vec<usize> = lane.by_ref().collect();
                    if !rest.is_empty() {
                        report.error(format!(
                            "{} further copies not attempted: the server could not be reached",
                            rest.len()
                        ));
                    }
                    failed.extend(rest);
                }
            }
        }
        if first_of_group && !group.is_empty() {
            group_started = Instant::now();
        }
        // A target that cannot be searched has each copy recorded as soon
        // as the server took it: the window for a duplicate stays one copy.
        if group.len() >= GROUP_COPIES
            || group_started.elapsed() >= GROUP_WINDOW
            || !target.searchable()
        {
            commit(
                &mut group,
                store,
                target,
                jobs,
                &mut report,
                &mut failed,
                &mut failed_mailboxes,
            )
            .await;
        }
    }
    commit(
        &mut group,
        store,
        target,
        jobs,
        &mut report,
        &mut failed,
        &mut failed_mailboxes,
    )
    .await;
    (report, failed)
}

/// An EML up to this size is read into memory to be delivered; a larger
/// one is copied from its file a chunk at a time.
const IN_MEMORY_EML_BYTES: u64 = 1 << 20;

/// An EML loaded for delivery.
enum Loaded {
    /// Small: its bytes, and the file they were read from.
    Bytes(Vec<u8>, ObjectFile),
    /// Large: its file and the SHA-256 of its bytes.
    File(ObjectFile, [u8; 32]),
}

impl Loaded {
    fn message(&self) -> Message<'_> {
        match self {
            Loaded::Bytes(bytes, file) => Message::from_bytes(bytes).read_from(file),
            Loaded::File(file, sha256) => Message::from_file_hashed(file, *sha256),
        }
    }
}

/// Loads an EML: into memory when small, else as a file hashed once.
async fn load<S: ObjectStore>(store: &S, key: &str) -> Result<Option<Loaded>, StoreError> {
    let Some(file) = store.get_file(key).await? else {
        return Ok(None);
    };
    let failed = |source| StoreError::Io {
        key: key.to_owned(),
        source,
    };
    if file.len() <= IN_MEMORY_EML_BYTES {
        let bytes = file.read_all().map_err(failed)?;
        return Ok(Some(Loaded::Bytes(bytes, file)));
    }
    let sha256 = *Message::from_file(&file).map_err(failed)?.sha256();
    Ok(Some(Loaded::File(file, sha256)))
}

/// Commits a lane's group: counts its copies delivered, or reports it and
/// adds its jobs to `failed` and their mailboxes to `failed_mailboxes`
/// (whose later jobs are then searched for before they are appended).
async fn commit<'j, S: ObjectStore, M: Mailbox>(
    group: &mut Group,
    store: &S,
    target: &mut M,
    jobs: &'j [DeliveryJob],
    report: &mut Report,
    failed: &mut Vec<usize>,
    failed_mailboxes: &mut HashSet<&'j str>,
) {
    match group.commit(store, target).await {
        Ok(committed) => {
            for (index, outcome) in committed {
                report.delivered_to(&jobs[index].mailbox);
                // Parsed before the copy was delivered.
                if let Ok(time) = Timestamp::parse(&jobs[index].timestamp) {
                    report.delivered_item_times.push(time.0);
                }
                match outcome {
                    Outcome::Recovered => report.recovered += 1,
                    // Counted when it was sent (see deliver_lane).
                    Outcome::Resent | Outcome::Delivered | Outcome::AlreadyDelivered => {}
                }
            }
        }
        Err((indexes, e)) => {
            let next = if target.searchable() {
                "the next attempt searches for them"
            } else {
                "the next attempt sends them again (counted as possibly sent twice)"
            };
            report.error(format!(
                "{} copies not recorded as delivered: {e}; {next}",
                indexes.len()
            ));
            failed_mailboxes.extend(indexes.iter().map(|&index| jobs[index].mailbox.as_str()));
            failed.extend(indexes);
        }
    }
}
