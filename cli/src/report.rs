//! `archiver report`: the daily report of one collection day, stored in the
//! archive and delivered to the administrators' mailbox (see
//! [`shared::day_report`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args as ClapArgs;
use shared::day_report::{self, DayReport};
use shared::settings::LocalSettings;
use shared::store::{Created, ObjectStore};

use crate::CliResult;
use crate::archive::{self, Archive, Location, LocationParser, Opened, STORE_HELP};
use crate::target::Target;

/// Make a collection day's report, store it and deliver it to the admin mailbox
///
/// Makes the report of one collection day from the archive store (the
/// config's `[store] path`, or `--store`: a directory, or the deployed
/// archive bucket as `s3://bucket[/prefix]`): per source the units
/// collected and refused and their items; the e-mails written; per
/// mailbox the copies to deliver and delivered; the unmapped items a
/// later mapping recovered (`archiver remap`); every unmapped item not
/// recovered, failed or refused item with its reason (never its content);
/// WhatsApp Cloud delivery statuses and Meta's errors, and the problems
/// collect reported; gaps (a source or custodian silent this day after
/// data in the week before — for WeCom and WhatsApp Cloud, a mailbox with
/// copies in the week before and none this day —, a WeCom `seq` range
/// that never came, copies
/// not delivered yet, a past day without its manifest where reconcile
/// runs); whether the day is reconciled; and a 14-day trend chart.
///
/// It is stored in the archive as `reports/<day>/<made-at>.json` and
/// `.html` (every report made is kept), and, when the configuration names
/// an admin mailbox (`[report] mailbox`, folder `[report] folder`, default
/// `Archiver Reports`), delivered there once as an e-mail (the HTML as its
/// body, the JSON attached). With `--store` and no `--config` it is stored
/// only. In S3 it is written under `reports/` beside the archive (the
/// caller's credentials need `s3:PutObject` there).
///
/// Exit codes: 0 the report was made and has no gap; 2 it lists gaps or
/// its delivery failed; 1 the store or the configuration cannot be read.
///
/// Examples:
///   archiver report --config examples/archiver.toml --day 2026-11-21 --open
///   archiver report --store s3://mobile-archiver-archive-123456789012 --day 2026-11-21
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The TOML configuration (reads `[store] path`, `[report]` and the
    /// delivery target); not needed with --store.
    #[arg(long, short, required_unless_present = "store")]
    config: Option<PathBuf>,
    #[arg(long, value_parser = LocationParser, help = STORE_HELP)]
    store: Option<Location>,
    /// The collection day (default: today, UTC).
    #[arg(long)]
    day: Option<NaiveDate>,
    /// Print the report as JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Open the HTML report with the desktop's browser (xdg-open, open; a
    /// local store only).
    #[arg(long)]
    open: bool,
}

/// Runs `archiver report`.
pub fn report(args: &Args) -> CliResult {
    if args.open {
        archive::local_only(
            args.store.as_ref(),
            "--open",
            "the browser opens a file of a local store",
        );
    }
    let runtime = crate::runtime()?;
    let opened = runtime.block_on(Opened::open(args.config.as_deref(), args.store.as_ref()))?;
    // The admin mailbox's target (its secrets read) before any lock or
    // write: a missing secret names the config file and its key.
    let admin = match (&opened.settings, args.config.as_deref()) {
        (Some(settings), Some(config)) if settings.report.mailbox.is_some() => Some(
            runtime
                .block_on(crate::open_target(settings))
                .map_err(|e| format!("config {}: {e}", config.display()))?,
        ),
        _ => None,
    };
    let _lock = opened.lock()?;
    let day = args.day.unwrap_or_else(|| Utc::now().date_naive());
    let (report, delivery) =
        runtime.block_on(make(opened.settings.as_ref(), &opened.store, day, admin))?;
    let (_, html_key) = report.keys();
    let html_path = opened.location.of(&html_key);
    // With --json, standard output is the JSON alone; the rest goes to
    // standard error.
    let say = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if args.json {
        println!("{}", String::from_utf8_lossy(&report.json()));
    } else {
        print!("{}", summary(&report));
    }
    say(format!("report:               {html_path}"));
    let delivered = match delivery {
        Some(Ok(line)) => {
            say(line);
            true
        }
        Some(Err(e)) => {
            eprintln!("archiver: the report was stored but not delivered: {e}");
            false
        }
        None => true,
    };
    if let (true, Location::Dir(dir)) = (args.open, &opened.location) {
        open(&dir.join(&html_key));
    }
    Ok(if report.gaps.is_empty() && delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Delivered to the admin mailbox: what to print, or why not.
type Delivery = Option<Result<String, Box<dyn std::error::Error>>>;

/// Makes the report, stores it, and delivers it when the config sets a
/// mailbox.
async fn make(
    settings: Option<&LocalSettings>,
    store: &Archive,
    day: NaiveDate,
    target: Option<Target>,
) -> Result<(DayReport, Delivery), Box<dyn std::error::Error>> {
    let report = DayReport::read(store, day, Utc::now()).await?;
    let (json_key, html_key) = report.keys();
    for (key, bytes) in [
        (json_key, report.json()),
        (html_key, report.html().into_bytes()),
    ] {
        if let Created::Exists = store.put_new(&key, &bytes).await? {
            return Err(format!("{key} exists already (two reports in one second?)").into());
        }
    }
    let (Some(settings), Some(target)) = (settings, target) else {
        return Ok((report, None));
    };
    let Some(mailbox) = settings.report.mailbox.as_deref() else {
        return Ok((report, None));
    };
    let delivery = deliver(settings, target, store, &report, mailbox).await;
    Ok((report, Some(delivery)))
}

/// Delivers the report into the admin mailbox's report folder (see
/// [`day_report::deliver`]).
async fn deliver(
    settings: &LocalSettings,
    target: Target,
    store: &Archive,
    report: &DayReport,
    mailbox: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let folder = settings.report.folder.as_str();
    let now = Utc::now();
    let appended = match target {
        Target::Maildir(mut lanes) => {
            let lane = lanes.first_mut().ok_or("no Maildir writer")?;
            day_report::deliver(store, lane, report, mailbox, folder, now).await?
        }
        Target::Imap(mut lanes) => {
            let lane = lanes.first_mut().ok_or("no IMAP connection")?;
            let appended = day_report::deliver(store, lane, report, mailbox, folder, now).await;
            crate::close(&mut lanes).await;
            appended?
        }
        Target::Smtp(lanes) => {
            // Plain, to the report mailbox itself: not to a journal address.
            let mut lane = lanes
                .into_iter()
                .next()
                .ok_or("no SMTP connection")?
                .to_the_mailbox_itself();
            let appended =
                day_report::deliver(store, &mut lane, report, mailbox, folder, now).await;
            lane.close().await;
            appended?
        }
    };
    Ok(if appended {
        format!("delivered to:         {mailbox}, folder {folder}")
    } else {
        format!("already delivered to: {mailbox}, folder {folder}")
    })
}

fn summary(report: &DayReport) -> String {
    let (to_deliver, delivered) = report.copies();
    let mut out = format!("collection day:       {}\n", report.day);
    for (name, source) in &report.sources {
        out.push_str(&format!(
            "  {name}: {} items in {} batch(es), {} refused; {} e-mails, {} of {} copies delivered, {} unmapped, {} failed\n",
            source.items,
            source.batches,
            source.refused,
            source.emails,
            source.delivered,
            source.copies,
            source.unmapped,
            source.failed
        ));
        if source.stubbed > 0 {
            out.push_str(&format!(
                "    {} e-mails with their attachments as stubs (over the target's size limit)\n",
                source.stubbed
            ));
        }
    }
    if !report.delivery_statuses.is_empty() {
        let statuses: Vec<String> = report
            .delivery_statuses
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        out.push_str(&format!(
            "delivery statuses:    {} (WhatsApp Cloud, not mailed)\n",
            statuses.join(", ")
        ));
        for (error, count) in &report.status_errors {
            out.push_str(&format!("  {error}: {count}\n"));
        }
    }
    out.push_str(&format!(
        "emails:               {}\ncopies delivered:     {delivered} of {to_deliver}\n",
        report.emails
    ));
    for (mailbox, copies) in &report.mailboxes {
        out.push_str(&format!(
            "  {mailbox}: {} of {}\n",
            copies.delivered, copies.to_deliver
        ));
    }
    out.push_str(&format!(
        "unmapped items:       {}\n",
        report.unmapped.len()
    ));
    if report.recovered > 0 {
        out.push_str(&format!(
            "unmapped recovered:   {} (delivered now that the mapping maps them)\n",
            report.recovered
        ));
    }
    out.push_str(&format!(
        "failed:               {}\nrefused drops:        {}\ngaps:                 {}\n",
        report.failed.len(),
        report.refused.len(),
        report.gaps.len()
    ));
    for gap in &report.gaps {
        out.push_str(&format!("  {gap}\n"));
    }
    out.push_str(&format!(
        "collect runs:         {} ({} problem(s) reported)\nreconciled:           {}\n",
        report.collect_runs,
        report.collect_errors.len(),
        if report.reconciled { "yes" } else { "no" }
    ));
    for problem in &report.collect_errors {
        out.push_str(&format!("  {problem}\n"));
    }
    out
}

/// Opens a file with the desktop's opener; says so when there is none.
fn open(path: &Path) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener).arg(path).status() {
        eprintln!(
            "archiver: cannot open {} with {opener}: {e}",
            path.display()
        );
    }
}
