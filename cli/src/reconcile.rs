//! `archiver reconcile` and `archiver verify`: the proof of a day (see
//! [`shared::reconcile`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args as ClapArgs;
use shared::jobs::StoreQueue;
use shared::layout::RawBatch;
use shared::reconcile::{self, Closed, DayCheck};
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::LocalDir;

use crate::CliResult;
use crate::target::Target;

/// Arguments of `archiver reconcile`.
///
/// Checks one collection day: every raw batch converted (it has its job
/// file), every item filed (an e-mail, or an unmapped or failed record),
/// every copy delivered (a ledger entry for each delivery job). With
/// `--repair`, batches never converted are converted (a lost notification)
/// and copies not delivered are delivered, each folder searched first so
/// that nothing arrives twice. An item lost after conversion (its e-mail
/// deleted) cannot be redone and is reported. When nothing is open, the
/// day is closed: its manifest `manifest/<day>.json` is written with the
/// size and SHA-256 of every object of the day and the hash of the
/// manifest before it (`archiver verify` checks them).
///
/// Exit codes: 0 the day is complete and closed; 2 something is open (the
/// lines say what); 1 the store or the configuration cannot be read.
///
/// Example: `archiver reconcile --config examples/archiver.toml --day 2026-11-21 --repair`.
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct ReconcileArgs {
    /// The TOML configuration.
    #[arg(long, short)]
    config: PathBuf,
    /// The collection day (default: today, UTC).
    #[arg(long)]
    day: Option<NaiveDate>,
    /// Convert what was never converted and deliver what was not delivered.
    #[arg(long)]
    repair: bool,
}

/// Arguments of `archiver verify`.
///
/// Re-reads every daily manifest (of the days given, or all), every object
/// it lists and the chain of manifests, and lists every object altered or
/// missing, every object of a day's raw folder its manifest does not list,
/// and every broken link of the chain (a manifest edited or removed).
///
/// Exit codes: 0 everything matches; 2 something does not (the lines say
/// what); 1 the store or the configuration cannot be read.
///
/// Example: `archiver verify --config examples/archiver.toml --from 2026-11-01`.
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// The TOML configuration.
    #[arg(long, short)]
    config: PathBuf,
    /// The first day to verify (default: the first manifest).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// The last day to verify (default: the last manifest).
    #[arg(long)]
    to: Option<NaiveDate>,
}

/// Runs `archiver reconcile`.
pub fn reconcile(args: &ReconcileArgs) -> CliResult {
    let settings = load(&args.config)?;
    let _lock = crate::lock_store(&settings.store)?;
    let store = LocalDir::new(&settings.store);
    let day = args.day.unwrap_or_else(|| Utc::now().date_naive());
    let mut report = Report::default();
    let runtime = crate::runtime()?;
    let mut check = runtime.block_on(reconcile::check(&store, day))?;
    print_check(&check);
    if args.repair && !(check.unconverted.is_empty() && check.undelivered.is_empty()) {
        runtime.block_on(repair(&settings, &store, &check, &mut report))?;
        print!("{report}");
        check = runtime.block_on(reconcile::check(&store, day))?;
        println!("after repair:");
        print_check(&check);
    }
    if !check.is_complete() {
        println!(
            "day {day} is open: {} line(s) above{}",
            check.open_lines().len(),
            if args.repair {
                ""
            } else {
                "; --repair converts and delivers what it can"
            }
        );
        return Ok(ExitCode::from(2));
    }
    match runtime.block_on(reconcile::close(&store, day))? {
        Closed::Written(key) => println!("day {day} is complete: manifest {key} written"),
        Closed::Already(key) => {
            println!("day {day} is complete: manifest {key} was written before")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `archiver verify`.
pub fn verify(args: &VerifyArgs) -> CliResult {
    let settings = load(&args.config)?;
    let store = LocalDir::new(&settings.store);
    let (verified, findings) =
        crate::runtime()?.block_on(reconcile::verify(&store, args.from, args.to))?;
    for finding in &findings {
        println!("{finding}");
    }
    println!(
        "{verified} manifest(s) verified, {} difference(s)",
        findings.len()
    );
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn load(config: &Path) -> Result<LocalSettings, Box<dyn std::error::Error>> {
    let settings = LocalSettings::load(config)?;
    if !settings.store.is_dir() {
        return Err(format!(
            "config {}: [store] path {} is not a directory",
            config.display(),
            settings.store.display()
        )
        .into());
    }
    Ok(settings)
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

/// Converts the batches never converted, then delivers every copy not
/// delivered (the folder searched first).
async fn repair(
    settings: &LocalSettings,
    store: &LocalDir,
    check: &DayCheck,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    if !check.unconverted.is_empty() {
        let mapper = settings.mapper(report)?;
        let opts = settings.convert_options();
        for raw_key in &check.unconverted {
            let batch = RawBatch::parse(raw_key).ok_or("a raw batch key")?;
            shared::convert::convert_batch(store, &StoreQueue, &batch, &mapper, &opts, report)
                .await?;
        }
    }
    // The batches converted now are delivered with the rest: check again.
    let day = check.day.ok_or("a checked day")?;
    let jobs = reconcile::check(store, day).await?.undelivered;
    if jobs.is_empty() {
        return Ok(());
    }
    match crate::open_target(settings).await? {
        Target::Maildir(mut maildir) => {
            shared::deliver::deliver_jobs(
                store,
                std::slice::from_mut(&mut *maildir),
                &jobs,
                |_| true,
                None,
                report,
            )
            .await;
        }
        Target::Imap(mut lanes) => {
            shared::deliver::deliver_jobs(store, &mut lanes, &jobs, |_| true, None, report).await;
            crate::close(&mut lanes).await;
        }
    }
    Ok(())
}
