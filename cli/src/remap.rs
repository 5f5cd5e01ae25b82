//! `archiver remap`: unmapped items resolved again with the mapping CSV as
//! it is now, and delivered once to the mailboxes they map to (see
//! [`shared::remap`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use chrono::NaiveDate;
use clap::Args as ClapArgs;
use shared::jobs::StoreQueue;
use shared::remap::{self, Outcome, RemapOptions};
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::LocalDir;

use crate::CliResult;
use crate::progress;

/// Re-resolve unmapped items with the mapping CSV as it is now, and deliver those that map
///
/// An item whose participants and custodian are all missing from the
/// mapping CSV is kept under unmapped/ in the archive store and delivered
/// nowhere. Once the CSV is fixed (`[mapping] csv`, checked first with
/// `archiver mapping check`), this command reads every unmapped item not
/// recovered yet from its raw batch, resolves it with the CSV and the
/// `default_region`, `[mapping] id_domain` and `custodian_domains` of the
/// config, and delivers each item that maps now to its mailboxes, into
/// the folders of `[folders]`, exactly once: the stored e-mail as it was
/// written (the archive is write-once: its address headers still show
/// the addresses it was rendered with). Each recovered item is recorded
/// under remapped/ and is no longer counted as unmapped (`archiver
/// report`, `archiver status`). Then every pending copy is delivered, as
/// `archiver deliver` does, to `[maildir] path`, `[imap]` or `[smtp]`.
///
/// `archiver run` does the same by itself, once, whenever it starts with
/// a mapping it has not applied yet: this command is for doing it now, or
/// for one day. Safe to repeat, and safe to stop: a second remap with the
/// same CSV recovers nothing new, and one stopped half-way is finished by
/// the next, without a copy delivered twice.
///
/// Reads `[store] path`, `[mapping]` (`csv`, `id_domain`,
/// `custodian_domains`), `default_region`, `[folders]` and the delivery
/// target (`[maildir]`, or `[imap]`/`[smtp]` with `[secrets] path`).
/// Prints the mapping's hash, the items recovered per mailbox and the
/// items still unmapped with their reasons (identities, never content),
/// then the delivery summary.
///
/// Exit codes: 0 done; 2 done, but some item could not be remapped (its
/// raw batch or e-mail is missing) or some copy failed (listed under
/// errors; a re-run retries); 1 the configuration, the mapping CSV or the
/// store cannot be read.
///
/// Examples:
///   archiver remap --config examples/archiver.toml
///   archiver remap --config examples/archiver.toml --day 2026-11-21 --json
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The TOML configuration.
    #[arg(long, short)]
    config: PathBuf,
    /// Only the items collected on this collection day (the day of the
    /// run that collected them, as in `archiver report --day`); default
    /// every day.
    #[arg(long)]
    day: Option<NaiveDate>,
    /// Print what was done as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `archiver remap`.
pub fn remap(args: &Args) -> CliResult {
    let started = SystemTime::now();
    let settings = LocalSettings::load(&args.config)?;
    let runtime = crate::runtime()?;
    // The target's secrets are read before any lock or work.
    let target = runtime
        .block_on(crate::open_target(&settings))
        .map_err(|e| format!("config {}: {e}", args.config.display()))?;
    let _lock = crate::lock_store(&settings.store)?;
    let mut report = Report::default();
    crate::sweep(&settings.store, &settings.target, started, &mut report)?;
    let mapper = settings.mapper(&mut report)?;
    let store = LocalDir::new(&settings.store);
    let opts = RemapOptions {
        day: args.day,
        folders: settings.convert_options().folders,
        batches_at_most: None,
    };
    let outcome = runtime.block_on(remap::remap(
        &store,
        &StoreQueue,
        &mapper,
        &opts,
        &mut report,
    ))?;
    if args.day.is_none() {
        // Every day was remapped: the next run need not do it again.
        runtime.block_on(remap::record_applied(&store, &outcome))?;
    }
    progress::show();
    let delivered = runtime.block_on(crate::run::deliver_pending(target, &store, &mut report));
    if args.json {
        delivered?;
        println!(
            "{}",
            serde_json::to_string_pretty(&json(&outcome, &report))?
        );
        return Ok(if report.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    print!("{}", text(&outcome, args.day));
    crate::run::finish(&settings, &report, delivered, None, false)
}

/// What the remap did, before the delivery summary.
fn text(outcome: &Outcome, day: Option<NaiveDate>) -> String {
    let of = day.map_or_else(String::new, |day| format!(" (collection day {day})"));
    let mut out = format!("mapping:              {}\n", outcome.mapping);
    out.push_str(&format!(
        "re-resolved:          {} item(s) map now{of}\n",
        outcome.recovered.len()
    ));
    for (mailbox, items) in outcome.mailboxes() {
        out.push_str(&format!("  {mailbox}: {items}\n"));
    }
    out.push_str(&format!(
        "still unmapped:       {}\n",
        outcome.still_unmapped.len()
    ));
    for item in &outcome.still_unmapped {
        out.push_str(&format!("  item {}: {}\n", item.item_id, item.reason));
    }
    out
}

/// The remap and the delivery as one JSON object.
fn json(outcome: &Outcome, report: &Report) -> serde_json::Value {
    serde_json::json!({
        "mapping": outcome.mapping,
        "recovered": outcome.recovered,
        "mailboxes": outcome.mailboxes(),
        "still_unmapped": outcome.still_unmapped,
        "copies_delivered": report.delivered,
        "already_delivered": report.already_delivered,
        "warnings": report.warnings,
        "errors": report.errors,
    })
}
