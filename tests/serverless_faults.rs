//! Faults in the deployed pipeline (template.yaml on LocalStack, the
//! functions under `cargo lambda watch`, a real Dovecot), each followed by
//! a count in the real mailboxes and the store: zero copies lost, zero
//! duplicated (issue 14).
//!
//! One test in phases, because the set-up is the expensive part; each
//! phase collects a corpus of its own (generated export drops, two
//! messages each, spread over eight mailboxes), and after each, every copy
//! expected so far (the embedded run of the same drops says which) must be
//! in its Dovecot folder exactly once, with nothing else there, every item
//! must have one EML and every copy one ledger entry, and no key of the
//! archive may have been written twice (a second version).
//!
//! 1. Two collects of one scheduled window and a backfill of its day, all
//!    at once, over 100 drops. They run in this process (the handler's own library call,
//!    over LocalStack), because `cargo lambda watch` serves one invocation
//!    of a function at a time.
//! 2. Every S3 notification and every delivery job handed to the
//!    functions three times, shuffled, with 1% of the notifications lost;
//!    Dovecot stopped mid-delivery and started again, the jobs that failed
//!    meanwhile handed back (received a second time, as SQS does after the
//!    visibility timeout); the scheduled reconcile sends the lost batches
//!    back to convert and closes the day.
//! 3. LocalStack unreachable mid-conversion (every connection of the
//!    functions to it cut, see [`support::relay`]) and back; the
//!    notifications that failed handed back.
//! 4. A day missed (collect never ran for it): the next day's run catches
//!    its drops up; reconcile reports the missed day open until its run,
//!    made late, claims it, then closes it.
//! 5. The deliver function's process SIGKILLed again and again (until 12
//!    kills landed, 10 at least) while its invocations are in flight, at
//!    random moments, the failed batches handed back until every record
//!    succeeds. `cargo lambda watch` neither answers an invocation whose
//!    process died nor starts the function again (the next invocation
//!    waits forever), so the test bounds the wait and restarts the watch
//!    after each kill, as Lambda gives the next invocation a new execution
//!    environment (see [`Watch::restart`]).
//! 6. LocalStack frozen mid-conversion (SIGSTOP to its processes: the
//!    kernel accepts the functions' connections, nothing answers them) for
//!    8 s, then running again (SIGCONT); the notifications that failed
//!    handed back. The functions' SDK clients set no read timeout (only
//!    the SDK's 3.1 s connect timeout, which an accepted connection
//!    passes), so their requests wait the freeze out and carry on (none
//!    failed in the runs so far; the conversion took as much longer as the
//!    freeze lasted). In AWS a request never answered would wait until the
//!    function's timeout, and its batch would come back.
//!
//! The figures (faults injected, receipts failed and handed back, copies
//! counted in Dovecot) are printed by each phase (`--nocapture`).
//!
//! Not here, and why: a real stop and start of LocalStack would lose its
//! state (see [`support::relay`]); it is made unreachable (phase 3) and
//! frozen (phase 6) instead, with its state kept.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use shared::jobs::DeliveryJob;
use shared::lambda::{self, CollectRequest};
use shared::layout;
use shared::settings::CollectSettings;
use shared::store::S3Store;

use support::dovecot::Dovecot;
use support::examples::expected_jobs_of;
use support::localstack::{Watch, keys};
use support::serverless::{Options, Pipeline, failures, rewritten, shuffled, sqs_record};

const FOLDER: &str = "WhatsApp Archiver";

/// Mailboxes the generated drops are spread over (their custodians).
const MAILBOXES: usize = 8;

/// Rounds of handing failed records back before the test gives up.
const ROUNDS: usize = 20;

/// How long Dovecot is stopped: longer than the deliver function's
/// attempts at one copy (`IMAP_ATTEMPTS` 3, 1 s then 2 s apart), so that
/// copies fail and come back.
const DOVECOT_DOWN: Duration = Duration::from_secs(6);

/// How long LocalStack is unreachable: longer than the SDK's attempts at
/// one request (3, backing off up to 2 s).
const LOCALSTACK_DOWN: Duration = Duration::from_secs(6);

/// Kills of the deliver function's process aimed for in phase 5: one per
/// invocation until this many landed.
const KILLS: usize = 12;

/// Kills that must land in phase 5 (an invocation may finish before its
/// kill: how fast depends on the machine).
const KILLS_LANDED_AT_LEAST: usize = 10;

/// How long a killed invocation may still answer (its answer was on its
/// way) before its batch counts failed.
const ANSWER_GRACE: Duration = Duration::from_secs(1);

/// The longest an invocation of phase 5 may take: one that has no answer
/// by then hangs (a function killed is not waited for this long).
const INVOCATION_LIMIT: Duration = Duration::from_secs(120);

/// How long LocalStack is frozen in phase 6.
const LOCALSTACK_FROZEN: Duration = Duration::from_secs(8);

/// Writes `count` export drops under `base/drop/whatsapp-export/`, one chat
/// of two messages each, custodians `userNN@corp.example` in turn; `tag`
/// keeps one phase's chats apart from another's.
fn write_drops(base: &Path, tag: &str, count: usize) {
    for n in 0..count {
        let custodian = format!("user{:02}@corp.example", n % MAILBOXES);
        let dir = base.join("drop/whatsapp-export").join(custodian);
        std::fs::create_dir_all(&dir).unwrap();
        let client = format!("Client {tag}{n}");
        let minute = n % 60;
        let chat = format!(
            "21/11/2026, 09:{minute:02} - {client}: First message of {tag}{n}\n\
             21/11/2026, 09:{minute:02} - {client}: Second message of {tag}{n}\n"
        );
        std::fs::write(dir.join(format!("WhatsApp Chat with {client}.txt")), chat).unwrap();
    }
}

/// A corpus of drops written, uploaded, and the copies it must make.
async fn corpus(pipeline: &Pipeline, tag: &str, count: usize) -> Vec<DeliveryJob> {
    let dir = tempfile::tempdir().unwrap();
    write_drops(dir.path(), tag, count);
    pipeline.upload_drops(dir.path()).await;
    let jobs = expected_jobs_of(dir.path()).await;
    // Each message is filed into its custodian's mailbox, and nowhere else.
    assert_eq!(jobs.len(), 2 * count, "corpus {tag}");
    jobs
}

/// Messages in the folder of every corpus mailbox, as Dovecot counts them.
async fn copies_in_dovecot(dovecot: &Dovecot) -> usize {
    let mut total = 0;
    for n in 0..MAILBOXES {
        let mut session = dovecot.login(&format!("user{n:02}@corp.example")).await;
        if let Ok(folder) = session.examine(FOLDER).await {
            total += folder.exists as usize;
        }
        session.logout().await.unwrap();
    }
    total
}

/// The count after a phase: every copy of `jobs` exactly once in Dovecot
/// and nothing else there; one EML per item and one ledger entry per copy
/// in the store; no key written twice. Returns the copies counted.
async fn assert_exactly_once(pipeline: &Pipeline, jobs: &[DeliveryJob]) -> usize {
    pipeline
        .dovecot
        .assert_each_exactly_once(jobs, FOLDER)
        .await;
    let (s3, archive) = (&pipeline.s3, &pipeline.archive);
    let emls: BTreeSet<String> = keys(s3, archive, layout::EML_PREFIX)
        .await
        .into_iter()
        .collect();
    let items: BTreeSet<String> = jobs.iter().map(|job| job.eml_key.clone()).collect();
    assert_eq!(emls, items, "one EML per item");
    let ledger: BTreeSet<String> = keys(s3, archive, layout::LEDGER_PREFIX)
        .await
        .into_iter()
        .collect();
    let copies: BTreeSet<String> = jobs
        .iter()
        .map(|job| layout::ledger_key(&job.mailbox, &job.message_id))
        .collect();
    assert_eq!(ledger, copies, "one ledger entry per copy");
    for prefix in [
        layout::RAW_PREFIX,
        layout::COLLECTED_PREFIX,
        layout::EML_PREFIX,
        layout::JOBS_PREFIX,
        layout::LEDGER_PREFIX,
    ] {
        assert_eq!(
            rewritten(s3, archive, prefix).await,
            Vec::<String>::new(),
            "written twice under {prefix}"
        );
    }
    copies_in_dovecot(&pipeline.dovecot).await
}

/// Takes the S3 notifications of `expected` raw batches off the convert
/// queue (S3's test event aside), as the event-source mapping would
/// receive them; returns their bodies, in the order of their batch keys.
async fn take_notifications(pipeline: &Pipeline, expected: usize) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&pipeline.stack.aws);
    let queue = pipeline.output("ConvertQueueUrl");
    let mut taken: Vec<(String, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while taken.len() < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} notifications arrived",
            taken.len()
        );
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in received.messages() {
            let body = message.body().unwrap().to_owned();
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            let keys = lambda::notification_keys(Some(&body)).unwrap();
            if let Some(key) = keys.first() {
                taken.push((key.clone(), body));
            }
        }
    }
    taken.sort();
    taken.into_iter().map(|(_, body)| body).collect()
}

/// Takes every delivery job off the deliver queue; returns their bodies.
async fn take_jobs(pipeline: &Pipeline) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&pipeline.stack.aws);
    let queue = pipeline.output("DeliverQueueUrl");
    let mut bodies = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let received = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if received.messages().is_empty() {
            empty += 1;
        }
        for message in received.messages() {
            bodies.push(message.body().unwrap().to_owned());
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    bodies
}

/// Every body three times, each copy a message of its own, shuffled.
fn three_times_shuffled(bodies: &[String], seed: &str) -> Vec<Value> {
    let records = bodies
        .iter()
        .enumerate()
        .flat_map(|(n, body)| (0..3).map(move |copy| sqs_record(&format!("{n}-{copy}"), body)))
        .collect();
    shuffled(records, seed)
}

/// Hands `records` to `function` ten at a time, as the event-source
/// mapping does; the records it reports failed (all of a batch whose
/// invocation failed) are handed back a second later as received once
/// more (so deliver searches before it appends), until none fail. Returns
/// how many receipts failed.
async fn invoke_until_done(watch: &Watch, function: &str, records: Vec<Value>) -> usize {
    let mut pending = records;
    let mut failed_receipts = 0;
    for _ in 0..ROUNDS {
        let mut again = Vec::new();
        for batch in pending.chunks(10) {
            let failed: Vec<String> = match watch
                .try_invoke(function, &json!({ "Records": batch }))
                .await
            {
                Ok(response) => failures(&response),
                Err(_) => every_id(batch),
            };
            again.extend(received_again(batch, &failed));
        }
        failed_receipts += again.len();
        if again.is_empty() {
            return failed_receipts;
        }
        pending = again;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{function}: records still failing after {ROUNDS} rounds");
}

/// The records of `batch` named in `failed`, as SQS hands them out once
/// more after their visibility timeout: received one time more.
fn received_again(batch: &[Value], failed: &[String]) -> Vec<Value> {
    batch
        .iter()
        .filter(|record| failed.iter().any(|id| record["messageId"] == id.as_str()))
        .map(|record| {
            let mut record = record.clone();
            let count: u32 = record["attributes"]["ApproximateReceiveCount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            record["attributes"]["ApproximateReceiveCount"] = json!((count + 1).to_string());
            record
        })
        .collect()
}

/// The message ids of every record of `batch` (a failed invocation's).
fn every_id(batch: &[Value]) -> Vec<String> {
    batch
        .iter()
        .map(|record| record["messageId"].as_str().unwrap().to_owned())
        .collect()
}

/// What [`deliver_under_kills`] did.
#[derive(Debug, Default)]
struct Kills {
    /// SIGKILLs of the deliver function's process, each while one of its
    /// invocations was in flight, that it never answered.
    landed: usize,
    /// Invocations killed that answered all the same (the answer was on
    /// its way when the kill came): not counted as landed.
    answered: usize,
    /// Copies the killed invocations had put into Dovecot before the kill.
    copies_before_kill: usize,
    /// Kills between an APPEND and its ledger entry: the killed invocation
    /// left more copies in Dovecot without a ledger entry than there were
    /// before it.
    between_append_and_ledger: usize,
    /// Receipts failed and handed back.
    failed_receipts: usize,
}

/// Waits until `function`'s process runs under `watch`, then `delay`
/// longer, and SIGKILLs it; returns once it did (never when the process
/// ended by itself meanwhile).
async fn kill_after(watch: &Watch, function: &str, delay: Duration) {
    let pid = loop {
        if let Some(pid) = watch.function_pid(function) {
            break pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(delay).await;
    if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_err() {
        std::future::pending::<()>().await;
    }
}

/// Copies in Dovecot and ledger entries in the store, now.
async fn copies_and_ledger(pipeline: &Pipeline) -> (usize, usize) {
    let copies = copies_in_dovecot(&pipeline.dovecot).await;
    let ledger = keys(&pipeline.s3, &pipeline.archive, layout::LEDGER_PREFIX)
        .await
        .len();
    (copies, ledger)
}

/// Hands `records` to deliver ten at a time, as [`invoke_until_done`]
/// does, and SIGKILLs the function's process while the first [`KILLS`]
/// invocations are in flight, at a moment drawn from 20 to 200 ms after
/// its process is there. A killed invocation gets no answer (`cargo lambda
/// watch` answers none once the process is gone): its whole batch failed,
/// as in AWS (`Runtime.ExitError`), and comes back; the watch is restarted
/// for the next (see [`Watch::restart`]).
async fn deliver_under_kills(pipeline: &mut Pipeline, records: Vec<Value>) -> Kills {
    let mut next = support::process::kill_moments(0x9e37_79b9_7f4a_7c15);
    let mut kills = Kills::default();
    let mut pending = records;
    for _ in 0..ROUNDS {
        let mut again = Vec::new();
        for batch in pending.chunks(10) {
            let event = json!({ "Records": batch });
            let to_kill = kills.landed < KILLS;
            let before = if to_kill {
                copies_and_ledger(pipeline).await
            } else {
                (0, 0)
            };
            let delay = Duration::from_millis(20 + next() % 181);
            let watch = &pipeline.watch;
            let (answer, killed) = tokio::time::timeout(INVOCATION_LIMIT, async {
                let invocation = watch.try_invoke("deliver", &event);
                tokio::pin!(invocation);
                if !to_kill {
                    return (Some(invocation.await), false);
                }
                tokio::select! {
                    answer = &mut invocation => (Some(answer), false),
                    () = kill_after(watch, "deliver", delay) => {
                        // An answer already on its way still comes.
                        let answer = tokio::time::timeout(ANSWER_GRACE, &mut invocation).await;
                        (answer.ok(), true)
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("deliver: no answer in {INVOCATION_LIMIT:?}"));
            let failed = match &answer {
                Some(Ok(response)) => failures(response),
                Some(Err(_)) | None => every_id(batch),
            };
            again.extend(received_again(batch, &failed));
            if killed {
                if answer.is_some() {
                    kills.answered += 1;
                } else {
                    kills.landed += 1;
                }
                let after = copies_and_ledger(pipeline).await;
                assert!(after.0 >= after.1, "ledger entries follow their APPEND");
                kills.copies_before_kill += after.0 - before.0;
                if after.0 - after.1 > before.0 - before.1 {
                    kills.between_append_and_ledger += 1;
                }
                pipeline.watch.restart();
            }
        }
        kills.failed_receipts += again.len();
        if again.is_empty() {
            return kills;
        }
        pending = again;
    }
    panic!("deliver: records still failing after {ROUNDS} rounds");
}

/// The scheduler's event for the collect run of `day` (its window, 00:30 UTC).
fn scheduled(day: &str) -> Value {
    json!({ "scheduled_time": format!("{day}T00:30:00Z") })
}

/// Runs reconcile for `day`; returns its answer for that day.
async fn reconcile(watch: &Watch, day: &str) -> Value {
    let answer = watch.invoke("reconcile", &json!({ "day": day })).await;
    let days = answer.as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(days.len(), 1, "{answer}");
    assert_eq!(days[0]["day"], day, "{answer}");
    days[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_the_local_stack_lose_and_duplicate_no_copy() {
    // Each phase's figures end with the seconds since the test began.
    let started = Instant::now();
    let mut pipeline = Pipeline::start(Options {
        env: &[],
        relay: true,
    })
    .await;
    let watch = &pipeline.watch;
    let idle = Duration::from_secs(3);
    let mut expected: Vec<DeliveryJob> = Vec::new();

    // Phase 1: two collects of one scheduled window and a backfill of its
    // day, at once.
    let day1 = "2026-11-21";
    let drops1 = 100;
    expected.extend(corpus(&pipeline, "a", drops1).await);
    let env = pipeline.env.clone();
    let settings = CollectSettings::from_lookup(|name| {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap();
    let archive = S3Store::new(pipeline.s3.clone(), &pipeline.archive);
    let collect = |run: &'static str, request: Value| {
        let (settings, archive, s3) = (&settings, &archive, &pipeline.s3);
        async move {
            let request: CollectRequest = serde_json::from_value(request).unwrap();
            let mut sources = settings
                .sources
                .configured(|bucket| S3Store::new(s3.clone(), bucket));
            lambda::collect(
                &mut sources,
                archive,
                settings.archive_time_zone,
                &request,
                run,
                chrono::Utc::now(),
            )
            .await
            .unwrap()
        }
    };
    let (first, second, backfill) = tokio::join!(
        collect("run-1", scheduled(day1)),
        collect("run-2", scheduled(day1)),
        collect("backfill", json!({ "day": day1 })),
    );
    let claimed = [&first, &second]
        .iter()
        .filter(|report| report.warnings.iter().any(|w| w.contains("claimed")))
        .count();
    assert_eq!(claimed, 1, "exactly one run of the window stood down");
    for report in [&first, &second, &backfill] {
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }
    let collected = first.drops_collected + second.drops_collected + backfill.drops_collected;
    assert_eq!(collected, drops1 as u64, "each drop collected once");
    let batches = keys(
        &pipeline.s3,
        &pipeline.archive,
        &format!("{}whatsapp-export/{day1}/", layout::RAW_PREFIX),
    )
    .await
    .into_iter()
    .filter(|key| key.ends_with(layout::RAW_BATCH_SUFFIX))
    .count();
    assert_eq!(batches, drops1, "one raw batch per drop");
    eprintln!(
        "phase 1, two collects of one window and a backfill at once: {drops1} drops; \
         collected by the runs {}, {} and the backfill {}; one run stood down; \
         {batches} raw batches ({} s)",
        first.drops_collected,
        second.drops_collected,
        backfill.drops_collected,
        started.elapsed().as_secs()
    );

    // Phase 2: the notifications three times each, shuffled, 1% lost.
    let notifications = take_notifications(&pipeline, drops1).await;
    let mut order = shuffled(
        notifications.iter().map(|body| json!(body)).collect(),
        "lost",
    );
    let lost: Vec<Value> = order.drain(..drops1 / 100).collect();
    let kept: Vec<String> = order
        .iter()
        .map(|body| body.as_str().unwrap().to_owned())
        .collect();
    let records = three_times_shuffled(&kept, "convert");
    let convert_records = records.len();
    let failed = invoke_until_done(watch, "convert", records).await;
    assert_eq!(failed, 0, "convert failed receipts");
    // Every delivery job three times, shuffled; Dovecot stopped once a
    // quarter of them are in, for longer than deliver's retries of a copy
    // last (3 attempts, 1 s then 2 s apart).
    let jobs = take_jobs(&pipeline).await;
    let records = three_times_shuffled(&jobs, "deliver");
    let deliver_records = records.len();
    let before = copies_in_dovecot(&pipeline.dovecot).await;
    let stop_at = before + jobs.len() / 4;
    let outage = async {
        while copies_in_dovecot(&pipeline.dovecot).await < stop_at {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::task::block_in_place(|| pipeline.dovecot.stop());
        tokio::time::sleep(DOVECOT_DOWN).await;
        tokio::task::block_in_place(|| pipeline.dovecot.restart());
    };
    let (deliver_failed, ()) = tokio::join!(invoke_until_done(watch, "deliver", records), outage);
    assert!(
        deliver_failed > 0,
        "the Dovecot stop made no delivery fail: it did not land mid-delivery"
    );
    // Reconcile finds the lost batches never converted and sends them
    // back; convert and deliver do the rest; the next run closes the day.
    let open = reconcile(watch, day1).await;
    assert_eq!(open["batches_resent"], lost.len(), "{open}");
    assert_eq!(open["closed"], false, "{open}");
    assert_eq!(pipeline.move_messages(idle), 0);
    let closed = reconcile(watch, day1).await;
    assert_eq!(closed["open"], json!([]), "{closed}");
    assert_eq!(closed["closed"], true, "{closed}");
    let counted = assert_exactly_once(&pipeline, &expected).await;
    eprintln!(
        "phase 2, events three times out of order, 1% lost, Dovecot stopped mid-delivery: \
         {} notifications, {} lost and sent again by reconcile, {convert_records} handed to \
         convert; {} jobs, {deliver_records} handed to deliver, Dovecot stopped at {stop_at} \
         copies for {} s, {deliver_failed} receipts failed and handed back; {counted} copies \
         counted in Dovecot, {} expected, 0 lost, 0 duplicated ({} s)",
        notifications.len(),
        lost.len(),
        jobs.len(),
        DOVECOT_DOWN.as_secs(),
        expected.len(),
        started.elapsed().as_secs()
    );

    // Phase 3: LocalStack unreachable mid-conversion.
    let day2 = "2026-11-22";
    let drops2 = 60;
    let jobs2 = corpus(&pipeline, "b", drops2).await;
    let report = watch.invoke("collect", &scheduled(day2)).await;
    assert_eq!(report["drops_collected"], drops2, "{report}");
    let notifications = take_notifications(&pipeline, drops2).await;
    let records: Vec<Value> = notifications
        .iter()
        .enumerate()
        .map(|(n, body)| sqs_record(&format!("b{n}"), body))
        .collect();
    let relay = pipeline.relay.as_ref().expect("started with a relay");
    let emls_before = keys(&pipeline.s3, &pipeline.archive, layout::EML_PREFIX)
        .await
        .len();
    let cut_at = emls_before + drops2 / 2;
    let outage = async {
        while keys(&pipeline.s3, &pipeline.archive, layout::EML_PREFIX)
            .await
            .len()
            < cut_at
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        relay.down();
        tokio::time::sleep(LOCALSTACK_DOWN).await;
        relay.up();
    };
    let (convert_failed, ()) = tokio::join!(invoke_until_done(watch, "convert", records), outage);
    assert!(
        convert_failed > 0,
        "the outage made no conversion fail: it did not land mid-conversion"
    );
    assert_eq!(pipeline.move_messages(idle), 0);
    expected.extend(jobs2);
    let counted = assert_exactly_once(&pipeline, &expected).await;
    let closed = reconcile(watch, day2).await;
    assert_eq!(closed["closed"], true, "{closed}");
    eprintln!(
        "phase 3, LocalStack unreachable mid-conversion for {} s: {drops2} batches, {} \
         connections cut, {convert_failed} receipts failed and handed back; {counted} copies \
         counted in Dovecot, {} expected, 0 lost, 0 duplicated ({} s)",
        LOCALSTACK_DOWN.as_secs(),
        relay.connections_cut(),
        expected.len(),
        started.elapsed().as_secs()
    );

    // Phase 4: collect never ran for day 3; day 4's run catches its drops up.
    let (day3, day4) = ("2026-11-23", "2026-11-24");
    let drops3 = 20;
    let jobs3 = corpus(&pipeline, "c", drops3).await;
    let report = watch.invoke("collect", &scheduled(day4)).await;
    assert_eq!(report["drops_collected"], drops3, "{report}");
    assert_eq!(pipeline.move_messages(idle), 0);
    expected.extend(jobs3);
    let missed = reconcile(watch, day3).await;
    assert_eq!(missed["closed"], false, "{missed}");
    assert!(
        missed["open"][0]
            .as_str()
            .is_some_and(|line| line.contains("no collect run claimed")),
        "{missed}"
    );
    assert_eq!(reconcile(watch, day4).await["closed"], true);
    // The missed run, made late, finds every drop collected.
    let late = watch.invoke("collect", &scheduled(day3)).await;
    assert_eq!(late["drops_collected"], 0, "{late}");
    assert_eq!(
        late["drops_already_collected"],
        drops1 + drops2 + drops3,
        "{late}"
    );
    let closed = reconcile(watch, day3).await;
    assert_eq!(closed["closed"], true, "{closed}");
    assert_eq!(pipeline.move_messages(idle), 0);
    let counted = assert_exactly_once(&pipeline, &expected).await;
    eprintln!(
        "phase 4, a day missed and caught up: {drops3} drops collected by the next day's run; \
         the missed day open until its late run claimed it, then closed; {counted} copies \
         counted in Dovecot, {} expected, 0 lost, 0 duplicated ({} s)",
        expected.len(),
        started.elapsed().as_secs()
    );

    // Phase 5: the deliver function's process SIGKILLed mid-delivery,
    // again and again.
    let day5 = "2026-11-25";
    let drops5 = 60;
    let jobs5 = corpus(&pipeline, "d", drops5).await;
    let report = watch.invoke("collect", &scheduled(day5)).await;
    assert_eq!(report["drops_collected"], drops5, "{report}");
    let notifications = take_notifications(&pipeline, drops5).await;
    let records: Vec<Value> = notifications
        .iter()
        .enumerate()
        .map(|(n, body)| sqs_record(&format!("d{n}"), body))
        .collect();
    assert_eq!(invoke_until_done(watch, "convert", records).await, 0);
    let jobs = take_jobs(&pipeline).await;
    let records: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(n, body)| sqs_record(&format!("d{n}"), body))
        .collect();
    let phase = Instant::now();
    let kills = deliver_under_kills(&mut pipeline, records).await;
    let delivering = phase.elapsed().as_secs();
    let watch = &pipeline.watch;
    assert!(
        kills.landed >= KILLS_LANDED_AT_LEAST,
        "too few invocations killed: {kills:?}"
    );
    assert!(
        kills.copies_before_kill > 0,
        "no kill landed mid-delivery: {kills:?}"
    );
    expected.extend(jobs5);
    let counted = assert_exactly_once(&pipeline, &expected).await;
    let closed = reconcile(watch, day5).await;
    assert_eq!(closed["closed"], true, "{closed}");
    eprintln!(
        "phase 5, the deliver function's process SIGKILLed mid-delivery: {} jobs, {} kills \
         landed (the watch restarted after each), {} more came as an invocation had \
         answered, {} copies appended by killed invocations, {} kills between an APPEND \
         and its ledger entry, {} receipts failed and handed back, delivered in {delivering} \
         s; {counted} copies counted in Dovecot, {} expected, 0 lost, 0 duplicated ({} s)",
        jobs.len(),
        kills.landed,
        kills.answered,
        kills.copies_before_kill,
        kills.between_append_and_ledger,
        kills.failed_receipts,
        expected.len(),
        started.elapsed().as_secs()
    );

    // Phase 6: LocalStack frozen mid-conversion, then running again.
    let day6 = "2026-11-26";
    let drops6 = 30;
    let jobs6 = corpus(&pipeline, "e", drops6).await;
    let emls6 = jobs6
        .iter()
        .map(|job| &job.eml_key)
        .collect::<BTreeSet<_>>()
        .len();
    let report = watch.invoke("collect", &scheduled(day6)).await;
    assert_eq!(report["drops_collected"], drops6, "{report}");
    let notifications = take_notifications(&pipeline, drops6).await;
    let records: Vec<Value> = notifications
        .iter()
        .enumerate()
        .map(|(n, body)| sqs_record(&format!("e{n}"), body))
        .collect();
    let emls_before = keys(&pipeline.s3, &pipeline.archive, layout::EML_PREFIX)
        .await
        .len();
    let freeze_at = emls_before + emls6 / 3;
    let frozen = async {
        let mut emls = emls_before;
        while emls < freeze_at {
            tokio::time::sleep(Duration::from_millis(100)).await;
            emls = keys(&pipeline.s3, &pipeline.archive, layout::EML_PREFIX)
                .await
                .len();
        }
        pipeline.stack.freeze();
        tokio::time::sleep(LOCALSTACK_FROZEN).await;
        pipeline.stack.thaw();
        emls - emls_before
    };
    let phase = Instant::now();
    let (convert_failed, written_before) =
        tokio::join!(invoke_until_done(watch, "convert", records), frozen);
    let converting = phase.elapsed().as_secs();
    assert!(
        written_before < emls6,
        "every EML was written before LocalStack froze"
    );
    assert_eq!(pipeline.move_messages(idle), 0);
    expected.extend(jobs6);
    let counted = assert_exactly_once(&pipeline, &expected).await;
    let closed = reconcile(watch, day6).await;
    assert_eq!(closed["closed"], true, "{closed}");
    eprintln!(
        "phase 6, LocalStack frozen (SIGSTOP) mid-conversion for {} s, then running again \
         (SIGCONT): {drops6} batches, {written_before} of {emls6} EMLs written before the freeze, \
         {convert_failed} receipts failed and handed back, converted in {converting} s; \
         {counted} copies counted in Dovecot, {} expected, 0 lost, 0 duplicated ({} s)",
        LOCALSTACK_FROZEN.as_secs(),
        expected.len(),
        started.elapsed().as_secs()
    );
    pipeline.assert_dead_letter_queues_empty().await;
}
