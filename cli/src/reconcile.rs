//! `archiver reconcile` and `archiver verify`: the proof of a day (see
//! [`shared::reconcile`]).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args as ClapArgs;
use shared::jobs::StoreQueue;
use shared::reconcile::{self, Closed, DayCheck};
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::ObjectStore;

use crate::CliResult;
use crate::archive::{self, Archive, Location, LocationParser, Opened, STORE_HELP};
use crate::target::Target;

/// Check a collection day end to end (--repair what can be) and close it
///
/// Checks one collection day of the archive store (the config's `[store]
/// path`, or `--store`: a directory, or the deployed archive bucket as
/// `s3://bucket[/prefix]`): every raw batch converted (it has its job
/// file), every item filed (an e-mail, or an unmapped or failed record),
/// every copy delivered (a ledger entry for each delivery job). With
/// `--repair`, batches never converted are converted (a lost notification)
/// and copies not delivered are delivered, each folder searched first so
/// that nothing arrives twice. An item lost after conversion (its e-mail
/// deleted) cannot be redone and is reported. With `--deep`, the copies
/// the ledger records are searched for in their folders by Message-ID
/// (IMAP SEARCH, or the Maildir's file names; all of them, or every
/// `--sample`-th): one deleted there since is reported and keeps the day
/// open (an SMTP target cannot be searched and is refused). When nothing is open, the
/// day, once over, is closed: a manifest `manifest/<sequence>.json` is
/// written with the size and SHA-256 of every object of the day not in an
/// earlier manifest and the hash of the manifest written before it; the
/// new chain head's SHA-256 is printed (keep it: `archiver verify --head`).
/// In S3 the command checks and closes (the manifest is written under
/// `manifest/`) but does not repair: the scheduled reconcile function
/// does, through convert and deliver; nor does it close a day without a
/// raw batch (the function does, once collect's run claimed the day).
///
/// Exit codes: 0 the day is complete and closed; 2 something is open (the
/// lines say what); 1 the store or the configuration cannot be read.
///
/// Examples:
///   archiver reconcile --config examples/archiver.toml --day 2026-11-21 --repair --deep
///   archiver reconcile --store s3://mobile-archiver-archive-123456789012 --day 2026-11-21
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct ReconcileArgs {
    /// The TOML configuration (`[store] path`; the mapping and the target
    /// for --repair); not needed with --store.
    #[arg(long, short, required_unless_present = "store")]
    config: Option<PathBuf>,
    #[arg(long, value_parser = LocationParser, help = STORE_HELP)]
    store: Option<Location>,
    /// The collection day (default: yesterday, UTC, the last day over).
    #[arg(long)]
    day: Option<NaiveDate>,
    /// Convert what was never converted and deliver what was not delivered
    /// (needs --config; a local store only).
    #[arg(long, requires = "config")]
    repair: bool,
    /// Search the mailboxes for the copies the ledger records as delivered.
    #[arg(long)]
    deep: bool,
    /// With --deep: search every N-th copy only (a sample spread over the day).
    #[arg(long, value_name = "N", requires = "deep", value_parser = clap::value_parser!(u64).range(1..))]
    sample: Option<u64>,
    /// Print the outcome as one JSON object (the counts, what is open,
    /// what the search found, the manifest written) instead of text.
    #[arg(long)]
    json: bool,
}

/// A reconcile's outcome, as `--json` prints it.
#[derive(Debug, Default, serde::Serialize)]
struct Reconciled {
    day: String,
    batches: u64,
    items: u64,
    copies: u64,
    /// What is open, one line each (after the repair, with --repair).
    open: Vec<String>,
    /// Whether a repair ran (then its report).
    #[serde(skip_serializing_if = "Option::is_none")]
    repair: Option<Report>,
    /// With --deep: copies ledgered, searched, and those missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    searched: Option<serde_json::Value>,
    /// Whether the day is closed by its manifests.
    closed: bool,
    /// The manifest written now, and the chain's newest SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<String>,
    /// Why a day with nothing open was left open.
    #[serde(skip_serializing_if = "Option::is_none")]
    left_open: Option<String>,
}

/// Re-check the daily manifests, their objects and their chain
///
/// Re-reads, in the archive store (the config's `[store] path`, or
/// `--store`: a directory, or the deployed archive bucket as
/// `s3://bucket[/prefix]`), the chain of manifests and the objects of
/// those closing the days given (or all), and lists every object altered
/// or missing, every object of a closed day's raw folder no manifest
/// lists, and every broken link of the chain (a manifest edited or
/// removed). An edit of the newest manifest shows only against the hash
/// printed when it was written (`--head`): keep that hash outside the
/// archive.
///
/// Exit codes: 0 everything matches; 2 something does not (the lines say
/// what); 1 the store or the configuration cannot be read.
///
/// Examples:
///   archiver verify --config examples/archiver.toml --from 2026-11-01
///   archiver verify --store s3://mobile-archiver-archive-123456789012 --head <sha256>
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// The TOML configuration (its `[store] path` is read); not needed
    /// with --store.
    #[arg(long, short, required_unless_present = "store")]
    config: Option<PathBuf>,
    #[arg(long, value_parser = LocationParser, help = STORE_HELP)]
    store: Option<Location>,
    /// The first day to verify (default: the first manifest).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// The last day to verify (default: the last manifest).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// The SHA-256 the newest manifest must have, as `reconcile` printed it
    /// when it wrote it: shows an edit of the newest manifest itself (and
    /// manifests removed or added after it).
    #[arg(long)]
    head: Option<String>,
    /// Print the outcome as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `archiver reconcile`.
pub fn reconcile(args: &ReconcileArgs) -> CliResult {
    if args.repair {
        archive::local_only(
            args.store.as_ref(),
            "--repair",
            "in AWS the reconcile function repairs, through convert and deliver (one \
             deliverer per mailbox); invoke it with {\"day\": \"<day>\"}",
        );
    }
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    let _lock = opened.lock()?;
    let store = &opened.store;
    let today = Utc::now().date_naive();
    let day = args
        .day
        .unwrap_or_else(|| today.pred_opt().expect("a day before today"));
    let text = !args.json;
    let say = |line: String| {
        if text {
            println!("{line}");
        }
    };
    let mut check = runtime.block_on(reconcile::check(store, day))?;
    if text {
        print_check(&check);
    }
    let mut outcome = Reconciled {
        day: day.to_string(),
        ..Reconciled::default()
    };
    if let (true, Some(settings)) = (args.repair, &opened.settings)
        && !(check.unconverted.is_empty() && check.undelivered.is_empty())
    {
        let mut report = Report::default();
        runtime.block_on(repair(settings, store, &check, &mut report))?;
        check = runtime.block_on(reconcile::check(store, day))?;
        if text {
            print!("{report}");
            println!("after repair:");
            print_check(&check);
        }
        outcome.repair = Some(report);
    }
    outcome.batches = check.batches;
    outcome.items = check.items;
    outcome.copies = check.copies;
    outcome.open = check.open_lines();
    if args.deep {
        let Some(settings) = &opened.settings else {
            return Err("--deep searches the delivery target of --config: give it".into());
        };
        let searched = runtime.block_on(search(settings, store, day, args.sample.unwrap_or(1)))?;
        say(format!(
            "searched the mailboxes for {} of {} ledgered copies: {} missing",
            searched.searched,
            searched.ledgered,
            searched.missing.len()
        ));
        for line in &searched.missing {
            say(format!("  {line}"));
        }
        outcome.searched = Some(serde_json::json!({
            "ledgered": searched.ledgered,
            "searched": searched.searched,
            "missing": searched.missing,
        }));
        outcome.open.extend(searched.missing);
    }
    let code = if !outcome.open.is_empty() {
        say(format!(
            "day {day} is open: {} line(s) above{}",
            outcome.open.len(),
            if args.repair || check.is_complete() {
                ""
            } else {
                "; --repair converts and delivers what it can"
            }
        ));
        ExitCode::from(2)
    } else if check.batches == 0 && matches!(opened.location, Location::S3(_)) {
        // In AWS a day without a batch is complete only if collect's
        // scheduled run claimed it, in the deployment's ScheduleTimeZone,
        // which this command does not know: the function decides.
        let why = "in AWS the reconcile function closes such a day once it finds that \
                   collect's scheduled run claimed it";
        say(format!("day {day} has no raw batch: {why}; left open"));
        outcome.left_open = Some(format!("no raw batch: {why}"));
        ExitCode::from(2)
    } else {
        outcome.closed = true;
        match runtime.block_on(reconcile::close(store, &check, today))? {
            Closed::Written { key, head } => {
                say(format!(
                    "day {day} is complete: manifest {key} written; the chain's newest SHA-256 is \
                     {head} (keep it outside the archive: archiver verify --head checks it)"
                ));
                outcome.manifest = Some(key);
                outcome.head = Some(head);
            }
            Closed::Already => say(format!(
                "day {day} is complete: its manifests list every object"
            )),
        }
        ExitCode::SUCCESS
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    }
    Ok(code)
}

/// Runs `archiver verify`.
pub fn verify(args: &VerifyArgs) -> CliResult {
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    let (verified, findings) = runtime.block_on(reconcile::verify(
        &opened.store,
        args.from,
        args.to,
        args.head.as_deref(),
    ))?;
    if args.json {
        let differences: Vec<String> = findings.iter().map(ToString::to_string).collect();
        let shown = serde_json::json!({
            "verified": verified,
            "differences": differences,
        });
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        for finding in &findings {
            println!("{finding}");
        }
        println!(
            "{verified} manifest(s) verified, {} difference(s)",
            findings.len()
        );
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_check(check: &DayCheck) {
    println!(
        "batches: {}, items: {}, copies: {}",
        check.batches, check.items, check.copies
    );
    for line in check.open_lines() {
        println!("  {line}");
    }
}

/// Searches the configured target for the day's ledgered copies.
async fn search(
    settings: &LocalSettings,
    store: &Archive,
    day: NaiveDate,
    every: u64,
) -> Result<reconcile::Searched, Box<dyn std::error::Error>> {
    Ok(match crate::open_target(settings).await? {
        Target::Maildir(mut lanes) => {
            let lane = lanes.first_mut().ok_or("no Maildir writer")?;
            reconcile::search_delivered(store, lane, day, every).await?
        }
        Target::Imap(mut lanes) => {
            let Some(lane) = lanes.first_mut() else {
                return Err("the IMAP target has no connection".into());
            };
            let searched = reconcile::search_delivered(store, lane, day, every).await;
            crate::close(&mut lanes).await;
            searched?
        }
        Target::Smtp(_) => return Err(reconcile::SearchError::NotSearchable.into()),
    })
}

/// Converts the batches never converted, then delivers every copy not
/// delivered (the folder searched first). Each batch delivered to is
/// marked started first, as deliver marks it, so that a run after a crash
/// here searches before it appends.
async fn repair(
    settings: &LocalSettings,
    store: &Archive,
    check: &DayCheck,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    if !check.unconverted.is_empty() {
        let mapper = settings.mapper(report)?;
        let opts = settings.convert_options();
        for batch in &check.unconverted {
            shared::convert::convert_batch(store, &StoreQueue, batch, &mapper, &opts, report)
                .await?;
        }
    }
    // The batches converted now are delivered with the rest: check again.
    let undelivered = reconcile::check(store, check.day).await?.undelivered;
    if undelivered.is_empty() {
        return Ok(());
    }
    let mut started = std::collections::BTreeSet::new();
    for (batch, _) in &undelivered {
        if started.insert(batch.started_key()) {
            store.put_new(&batch.started_key(), b"").await?;
        }
    }
    let jobs: Vec<_> = undelivered.into_iter().map(|(_, job)| job).collect();
    match crate::open_target(settings).await? {
        Target::Maildir(mut lanes) => {
            shared::deliver::deliver_jobs(store, &mut lanes, &jobs, |_| true, None, report).await;
        }
        Target::Imap(mut lanes) => {
            shared::deliver::deliver_jobs(store, &mut lanes, &jobs, |_| true, None, report).await;
            crate::close(&mut lanes).await;
        }
        Target::Smtp(mut lanes) => {
            shared::deliver::deliver_jobs(store, &mut lanes, &jobs, |_| true, None, report).await;
            crate::quit(&mut lanes).await;
        }
    }
    Ok(())
}
