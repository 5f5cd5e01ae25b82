//! `archiver status`: what the archive store holds and what still waits,
//! counted from the store (see [`shared::status`]).

use std::path::PathBuf;
use std::process::ExitCode;

use std::collections::BTreeMap;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use clap::Args as ClapArgs;
use shared::status::Status;

use crate::CliResult;
use crate::archive::{Location, LocationParser, Opened, STORE_HELP};

/// Show what the archive store holds and what waits for delivery
///
/// Reads the archive store of the configuration (`[store] path`), or of
/// `--store` (a directory, or the deployed archive bucket as
/// `s3://bucket[/prefix]`), and prints, per source, the units collected
/// (drops), how many were refused, the items collected and the last
/// collection day; then the e-mails written, the items unmapped (and
/// those a later mapping recovered) and failed, the copies delivered per
/// mailbox, and the delivery backlog (batches converted, or remapped,
/// but not yet delivered, and their jobs). Nothing is
/// written and no message is read; a run may go on beside it.
///
/// Per source also: the last run of collect that pulled from it, its
/// checkpoint (where a source that pulls in order goes on from: WeCom's
/// `s<seq>`), its unmapped and failed items and its copies waiting. The
/// backlog counts the copies the ledger does not record (a batch the
/// embedded deliver marked done is not read again).
///
/// With --dead-letter-queue (the deployment's queue URLs, from the stack's
/// outputs ConvertDeadLetterQueueUrl, DeliverDeadLetterQueueUrl,
/// MediaDeadLetterQueueUrl; AWS credentials and region as for --store), the
/// messages in each dead-letter queue: work that failed every retry and
/// waits for an administrator (`aws sqs start-message-move-task` sends it
/// back).
///
/// A backlog is delivered by `archiver deliver` (in AWS, by the deliver
/// function). Remaps' and digest parts' copies waiting are in the total,
/// under no source. Reading queues needs `sqs:GetQueueAttributes` on them.
/// Exit codes: 0 the status was read (and every dead-letter queue named is
/// empty); 1 the store, the configuration or a queue cannot be read; 2 a
/// bad option (a --store that is no directory or s3:// location); 3 a
/// dead-letter queue holds messages.
///
/// Examples:
///   archiver status --config examples/archiver.toml --json
///   archiver status --store s3://mobile-archiver-archive-123456789012 \
///     --dead-letter-queue https://sqs.eu-west-1.amazonaws.com/123456789012/mobile-archiver-deliver-dlq.fifo
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The TOML configuration (its `[store] path` is read); not needed with
    /// --store.
    #[arg(long, short, required_unless_present = "store")]
    config: Option<PathBuf>,
    #[arg(long, value_parser = LocationParser, help = STORE_HELP)]
    store: Option<Location>,
    /// Print the status as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// A dead-letter queue's URL whose depth is shown (repeat for each).
    #[arg(long = "dead-letter-queue", value_name = "URL")]
    dead_letter_queues: Vec<String>,
}

/// The status, and the depth of each dead-letter queue named, by URL.
#[derive(serde::Serialize)]
struct Shown<'s> {
    #[serde(flatten)]
    status: &'s Status,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dead_letters: BTreeMap<String, u64>,
}

/// Runs `archiver status`.
pub fn status(args: &Args) -> CliResult {
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    let status = runtime.block_on(Status::read(&opened.store))?;
    let dead_letters = runtime.block_on(dead_letters(&args.dead_letter_queues))?;
    if args.json {
        let shown = Shown {
            status: &status,
            dead_letters: dead_letters.clone(),
        };
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        print!("{}", text(&opened.location, &status));
        for (url, depth) in &dead_letters {
            println!("dead letters:         {depth} in {url}");
        }
    }
    Ok(if dead_letters.values().all(|depth| *depth == 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// The approximate number of messages in each queue of `urls`.
async fn dead_letters(
    urls: &[String],
) -> Result<BTreeMap<String, u64>, Box<dyn std::error::Error>> {
    let mut depths = BTreeMap::new();
    if urls.is_empty() {
        return Ok(depths);
    }
    let aws = aws_config::load_from_env().await;
    if aws.region().is_none() {
        return Err(
            "--dead-letter-queue: no AWS region (set AWS_REGION, or a region in the AWS profile)"
                .into(),
        );
    }
    let sqs = aws_sdk_sqs::Client::new(&aws);
    for url in urls {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| format!("--dead-letter-queue {url}: {}", DisplayErrorContext(&e)))?;
        let depth = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("--dead-letter-queue {url}: SQS gave no message count"))?;
        depths.insert(url.clone(), depth);
    }
    Ok(depths)
}

fn text(location: &Location, status: &Status) -> String {
    let mut out = format!("archive store:        {location}\n");
    if status.sources.is_empty() {
        out.push_str("sources:              nothing collected yet\n");
    }
    for (name, source) in &status.sources {
        out.push_str(&format!(
            "{name}:\n  collected:          {} (refused {})\n  items collected:    {}\n  last collection day: {}\n  last run:           {}\n  checkpoint:         {}\n  unmapped, failed:   {}, {}\n  copies waiting:     {}\n",
            source.collected,
            source.refused,
            source.items,
            source.last_collection_day.as_deref().unwrap_or("none"),
            source.last_run.as_deref().unwrap_or("none recorded"),
            source.checkpoint.as_deref().unwrap_or("none"),
            source.unmapped,
            source.failed,
            source.jobs_pending,
        ));
    }
    out.push_str(&format!(
        "last collect run:     {}\n",
        status
            .last_collect_run
            .as_deref()
            .unwrap_or("none recorded")
    ));
    out.push_str(&format!(
        "emails written:       {}\nunmapped items:       {}\n",
        status.emails_written, status.unmapped_items,
    ));
    if status.remapped_items > 0 {
        out.push_str(&format!(
            "unmapped recovered:   {} (by a later mapping: archiver remap)\n",
            status.remapped_items
        ));
    }
    out.push_str(&format!(
        "failed items:         {}\nfailed lines:         {}\ncopies delivered:     {}\n",
        status.failed_items, status.failed_lines, status.copies_delivered,
    ));
    for (mailbox, copies) in &status.delivered {
        out.push_str(&format!("  {mailbox}: {copies}\n"));
    }
    out.push_str(&format!(
        "waiting for delivery: {} batch(es), {} job(s)\n",
        status.batches_pending_delivery, status.jobs_pending
    ));
    out
}
