//! `archiver run` and `archiver deliver`: the embedded pipeline over the
//! configured store and target (see [`shared::embedded`]), and the summary
//! both print (also `remap`'s and `backfill`'s).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use chrono::{NaiveDate, Utc};
use clap::Args as ClapArgs;
use shared::embedded;
use shared::report::Report;
use shared::secrets::SecretFiles;
use shared::settings::{self, LocalSettings};
use shared::status::Status;
use shared::store::LocalDir;

use crate::target::Target;
use crate::{CliResult, close, lock_store, open_target, progress, quit, runtime, shown, sweep};

/// Collect new drops, convert them and deliver into the mailboxes
///
/// Takes every new export under `[drops] path`/drop/whatsapp-export/<custodian>/
/// (a chat .txt or a .zip with its media; the custodian is the folder's
/// name: a phone number or an e-mail address), and the WeCom archive when
/// `[wecom]` is configured; keeps each one raw in the archive store
/// (`[store] path`), renders one e-mail per item, maps every participant
/// with the mapping CSV (`[mapping] csv`, `default_region`,
/// `custodian_domains`) and delivers each e-mail once to every mapped
/// mailbox: Maildir++ folders under `[maildir] path`, or the IMAP server of
/// `[imap]`, into the folders of `[folders]` (`whatsapp`, `wechat`).
/// Reads also `time_zone` (the phones' zone), `[render] attachment_limit`
/// (larger files become a stub naming their archive key) and
/// `[custodians]`. Relative paths are taken from the config file's folder.
/// A source set to `digest` in `[delivery]` (`whatsapp_export`,
/// `whatsapp_cloud`, `wecom`) gets one e-mail per conversation and day
/// instead, made by the first run after the day (UTC) is over, plus an
/// hour; messages of that day collected later come as a supplement.
///
/// Nothing is dropped silently: a drop that cannot be read is kept under
/// refused/ with its reason, an item no mailbox maps to under unmapped/,
/// one that fails under failed/; the summary counts each, names the
/// reasons (never message content) and ends with the store and target.
/// A run whose mapping CSV maps differently from the one it last
/// applied (a row added or changed) also re-resolves the unmapped items
/// and delivers, once, those that map now ("unmapped recovered" in the
/// summary; `archiver remap` does it on demand).
/// A run that was killed resumes where it stopped with the next run: it
/// removes what was half written and never appends a message twice.
/// Safe to repeat: a second run over the same drops says "nothing new".
///
/// Exit codes: 0 done; 2 done, but the summary lists errors (refused
/// drops, failed items or copies); 1 the run could not start or the store
/// failed (the message says what; a re-run resumes).
///
/// Example: `archiver run --config examples/archiver.toml`.
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The TOML configuration.
    #[arg(long, short)]
    pub(crate) config: PathBuf,
    /// Collection day for the raw batch folder (default: today, UTC).
    #[arg(long)]
    pub(crate) day: Option<NaiveDate>,
    /// Print the run's report as one JSON object (the counters, per
    /// source and mailbox, errors and warnings) instead of the summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Deliver the already-rendered EMLs whose delivery jobs are pending
///
/// Delivers the jobs that `archiver run` persisted but could not finish
/// (the mailbox server was down, the run was stopped), exactly once, to
/// the target of the config: `[maildir] path`, or `[imap]` (its URL,
/// user, auth and secret files), into the folders of `[folders]`.
/// Reads `[store] path` for the jobs, the EMLs and the ledger. Nothing is
/// collected or converted.
///
/// Exit codes: 0 every pending job delivered; 2 some copies failed (each
/// named in the summary; a re-run retries them); 1 the target or the
/// store could not be opened.
///
/// Example: `archiver deliver --config examples/archiver.toml`.
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct DeliverArgs {
    /// The TOML configuration.
    #[arg(long, short)]
    pub(crate) config: PathBuf,
    /// Print the report as one JSON object instead of the summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs `archiver run`: collect, convert and deliver once.
pub(crate) fn run(config_path: &Path, day: Option<NaiveDate>, json: bool) -> CliResult {
    let started = SystemTime::now();
    let settings = LocalSettings::load(config_path)?;
    let drops = &settings.sources.whatsapp_export.drops;
    if !drops.is_dir() {
        return Err(format!(
            "config {}: [drops] path {} is not a directory (exports are dropped under \
             <path>/drop/whatsapp-export/<custodian>/)",
            config_path.display(),
            drops.display()
        )
        .into());
    }
    let mut report = Report::default();
    let mapper = settings.mapper(&mut report)?;
    let opts = settings.run_options(day.unwrap_or_else(|| Utc::now().date_naive()), Utc::now());
    let mut sources = settings.sources.configured(|dir| LocalDir::new(dir));
    let store = LocalDir::new(&settings.store);
    // Secrets are read, and the WeCom library loaded, before any lock or
    // work: a missing one names the config file and its key.
    let runtime = runtime()?;
    let target = runtime
        .block_on(async {
            if let Some(wecom) = &settings.sources.wecom {
                let secrets = SecretFiles::new(&wecom.secrets);
                let source = wecom
                    .source(LocalDir::new(&settings.store), &secrets, Utc::now())
                    .await?;
                sources.push(Box::new(source));
            }
            open_target(&settings).await
        })
        .map_err(|e| format!("config {}: {e}", config_path.display()))?;
    let _lock = lock_store(&settings.store)?;
    sweep(&settings.store, &settings.target, started, &mut report)?;
    progress::show();
    let outcome = runtime.block_on(async {
        let result = match target {
            Target::Maildir(mut maildir) => {
                embedded::run(
                    &mut sources,
                    &store,
                    &mut maildir,
                    &mapper,
                    &opts,
                    &mut report,
                )
                .await
            }
            Target::Imap(mut imap) => {
                let result =
                    embedded::run(&mut sources, &store, &mut imap, &mapper, &opts, &mut report)
                        .await;
                close(&mut imap).await;
                result
            }
            Target::Smtp(mut smtp) => {
                let result =
                    embedded::run(&mut sources, &store, &mut smtp, &mapper, &opts, &mut report)
                        .await;
                quit(&mut smtp).await;
                result
            }
        };
        result.map_err(Box::<dyn std::error::Error>::from)
    });
    let before = before_this_run(&store, &report, &outcome)?;
    finish(&settings, &report, outcome, before, json)
}

/// Runs `archiver deliver`: the pending delivery jobs only.
pub(crate) fn deliver(config_path: &Path, json: bool) -> CliResult {
    let started = SystemTime::now();
    let settings = LocalSettings::load(config_path)?;
    let runtime = runtime()?;
    let target = runtime
        .block_on(open_target(&settings))
        .map_err(|e| format!("config {}: {e}", config_path.display()))?;
    let _lock = lock_store(&settings.store)?;
    let mut report = Report::default();
    sweep(&settings.store, &settings.target, started, &mut report)?;
    let store = LocalDir::new(&settings.store);
    progress::show();
    let outcome = runtime.block_on(deliver_pending(target, &store, &mut report));
    let before = before_this_run(&store, &report, &outcome)?;
    finish(&settings, &report, outcome, before, json)
}

/// Delivers every pending job of `store` to `target`, opened from the
/// configuration (see [`embedded::deliver_pending`]).
pub(crate) async fn deliver_pending(
    target: Target,
    store: &LocalDir,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    let result = match target {
        Target::Maildir(mut maildir) => {
            embedded::deliver_pending(store, &mut maildir, report).await
        }
        Target::Imap(mut imap) => {
            let result = embedded::deliver_pending(store, &mut imap, report).await;
            close(&mut imap).await;
            result
        }
        Target::Smtp(mut smtp) => {
            let result = embedded::deliver_pending(store, &mut smtp, report).await;
            quit(&mut smtp).await;
            result
        }
    };
    result.map_err(Box::<dyn std::error::Error>::from)
}

/// When a run did nothing (no drop, e-mail or copy, no error), what the
/// store held already, so that a second run says so under its column of
/// zeros: `nothing new: 4 drops collected and 41 copies delivered before`.
fn before_this_run(
    store: &LocalDir,
    report: &Report,
    outcome: &Result<(), Box<dyn std::error::Error>>,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let did_nothing = outcome.is_ok()
        && report.errors.is_empty()
        && report.drops_collected == 0
        && report.emails_written == 0
        && report.copies_delivered() == 0;
    if !did_nothing {
        return Ok(None);
    }
    let status = runtime()?.block_on(Status::read(store))?;
    let drops: u64 = status.sources.values().map(|source| source.collected).sum();
    Ok(Some(format!(
        "nothing new: {drops} drop{} collected and {} cop{} delivered before",
        if drops == 1 { "" } else { "s" },
        status.copies_delivered,
        if status.copies_delivered == 1 {
            "y"
        } else {
            "ies"
        },
    )))
}

/// Prints the report; exit code 2 when it lists errors. When the store
/// failed mid-run, the report so far is printed before the error (a re-run
/// resumes).
pub(crate) fn finish(
    settings: &LocalSettings,
    report: &Report,
    outcome: Result<(), Box<dyn std::error::Error>>,
    before: Option<String>,
    json: bool,
) -> CliResult {
    let code = if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    };
    if json {
        // As the text does: the report so far, then the error.
        let mut shown = serde_json::to_value(report)?;
        shown["nothing_new"] = serde_json::json!(before);
        shown["archive_store"] = serde_json::json!(shown_path(&settings.store));
        println!("{}", serde_json::to_string_pretty(&shown)?);
        outcome?;
        return Ok(code);
    }
    print!("{report}");
    outcome?;
    if let Some(before) = before {
        println!("{before}");
    }
    println!("archive store:        {}", shown(&settings.store).display());
    match &settings.target {
        settings::Target::Maildir(path) => {
            println!("maildir:              {}", shown(path).display());
        }
        settings::Target::Imap { imap, .. } => {
            println!("imap:                 {}", shared::redact::url(&imap.url));
        }
        settings::Target::Smtp { smtp, .. } => {
            println!("smtp:                 {}", shared::redact::url(&smtp.url));
        }
    }
    Ok(code)
}

/// A path as the summary prints it (see [`shown`]), as text.
fn shown_path(path: &Path) -> String {
    shown(path).display().to_string()
}
