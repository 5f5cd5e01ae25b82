//! `archiver status`: what the archive store holds and what still waits,
//! counted from the store (see [`shared::status`]).

use std::path::PathBuf;
use std::process::ExitCode;

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
/// A backlog is delivered by `archiver deliver` (in AWS, by the deliver
/// function). Exit codes: 0 the status was read; 1 the store or the
/// configuration cannot be read; 2 a bad option (a --store that is no
/// directory or s3:// location).
///
/// Examples:
///   archiver status --config examples/archiver.toml --json
///   archiver status --store s3://mobile-archiver-archive-123456789012
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
}

/// Runs `archiver status`.
pub fn status(args: &Args) -> CliResult {
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    let status = runtime.block_on(Status::read(&opened.store))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", text(&opened.location, &status));
    }
    Ok(ExitCode::SUCCESS)
}

fn text(location: &Location, status: &Status) -> String {
    let mut out = format!("archive store:        {location}\n");
    if status.sources.is_empty() {
        out.push_str("sources:              nothing collected yet\n");
    }
    for (name, source) in &status.sources {
        out.push_str(&format!(
            "{name}:\n  collected:          {} (refused {})\n  items collected:    {}\n  last collection day: {}\n",
            source.collected,
            source.refused,
            source.items,
            source.last_collection_day.as_deref().unwrap_or("none"),
        ));
    }
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
