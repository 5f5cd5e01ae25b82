//! `archiver`: Mobile Archiver on one machine.
//!
//! - `archiver run --config <file>` runs collect -> convert -> deliver over a
//!   local directory and Maildir (the embedded default) and prints a summary.
//! - `archiver deliver --config <file>` delivers pending jobs (EMLs already
//!   rendered) to the configured target.
//! - `archiver inspect <file>` prints the items of an export as JSON lines.
//! - `archiver bench` measures parsing and rendering speed.

mod bench;
mod config;
mod inspect;
mod target;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use shared::convert::ConvertOptions;
use shared::embedded::{self, RunOptions};
use shared::layout::CollectionDay;
use shared::mailbox::Imap;
use shared::mailbox::imap::DEFAULT_MAX_MESSAGE_BYTES;
use shared::mapping::{Mapper, MappingOptions, MappingTable, Severity, parse_region};
use shared::report::Report;
use shared::sources::Source;
use shared::sources::whatsapp_export::{ExportDrops, ExportOptions};
use shared::store::LocalDir;

use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::target::Target;

#[derive(Parser)]
#[command(
    name = "archiver",
    version,
    about = "Mobile Archiver: archive mobile business messaging into mailboxes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect new drops, convert them and deliver into the mailboxes.
    Run {
        /// The TOML configuration.
        #[arg(long, short)]
        config: PathBuf,
        /// Collection day for the raw batch folder (default: today, UTC).
        #[arg(long)]
        day: Option<NaiveDate>,
    },
    /// Deliver the already-rendered EMLs whose delivery jobs are pending.
    Deliver {
        /// The TOML configuration.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the normalised items of an export (.txt or .zip) as JSON lines.
    Inspect(inspect::Args),
    /// Measure export parsing (MB/s) and rendering (items/s).
    Bench(bench::Args),
    /// Measure delivery (messages/s) to the configured target.
    BenchDelivery(bench::DeliveryArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ARCHIVER_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, day } => run(&config, day),
        Command::Deliver { config } => deliver(&config),
        Command::Inspect(args) => inspect::inspect(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::BenchDelivery(args) => bench::bench_delivery(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("archiver: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error that ends a command, printed as one line.
type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn open_target(config: &Config) -> Result<Target, Box<dyn std::error::Error>> {
    Ok(match &config.target {
        config::Target::Maildir(path) => target::maildir(path),
        config::Target::Imap(entry) => {
            let secrets = config.secrets.as_deref().expect("checked when loading");
            target::imap(entry, secrets).await?
        }
    })
}

/// Holds `<store>/.lock` for the whole command: two runs over one store
/// at once could both append a copy that neither had ledgered yet.
fn lock_store(store: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(store)?;
    let file = std::fs::File::create(store.join(".lock"))?;
    file.try_lock().map_err(|_| {
        format!(
            "another archiver run or deliver is using {}; try again when it has finished",
            store.display()
        )
    })?;
    Ok(file)
}

fn run(config_path: &Path, day: Option<NaiveDate>) -> CliResult {
    let config = Config::load(config_path)?;
    let _lock = lock_store(&config.store)?;
    let mut report = Report::default();
    let mapper = load_mapper(&config, &mut report)?;
    let max_message_bytes = match &config.target {
        config::Target::Imap(entry) => {
            Some(entry.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES))
        }
        config::Target::Maildir(_) => None,
    };
    let export = ExportOptions {
        tz: config.tz,
        date_order: config.date_order,
        zip_limits: config.zip,
    };
    let mut sources: Vec<Box<dyn Source>> = vec![Box::new(ExportDrops::new(
        LocalDir::new(&config.drops),
        export,
    ))];
    let opts = RunOptions {
        convert: ConvertOptions {
            render: config.render.clone(),
            folders: config.folders.clone(),
            max_message_bytes,
        },
        day: CollectionDay(day.unwrap_or_else(|| Utc::now().date_naive())),
    };
    let store = LocalDir::new(&config.store);
    let outcome = runtime()?.block_on(async {
        let result = match open_target(&config).await? {
            Target::Maildir(mut maildir) => {
                embedded::run(
                    &mut sources,
                    &store,
                    std::slice::from_mut(&mut maildir),
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
        };
        result.map_err(Box::<dyn std::error::Error>::from)
    });
    finish(&config, &report, outcome)
}

fn deliver(config_path: &Path) -> CliResult {
    let config = Config::load(config_path)?;
    let _lock = lock_store(&config.store)?;
    let mut report = Report::default();
    let store = LocalDir::new(&config.store);
    let outcome = runtime()?.block_on(async {
        let result = match open_target(&config).await? {
            Target::Maildir(mut maildir) => {
                embedded::deliver_pending(&store, std::slice::from_mut(&mut maildir), &mut report)
                    .await
            }
            Target::Imap(mut imap) => {
                let result = embedded::deliver_pending(&store, &mut imap, &mut report).await;
                close(&mut imap).await;
                result
            }
        };
        result.map_err(Box::<dyn std::error::Error>::from)
    });
    finish(&config, &report, outcome)
}

/// Logs out of every IMAP connection.
async fn close(targets: &mut [Imap]) {
    for target in targets {
        target.close().await;
    }
}

/// Prints the report; exit code 2 when it lists errors. When the store
/// failed mid-run, the report so far is printed before the error (a re-run
/// resumes).
fn finish(
    config: &Config,
    report: &Report,
    outcome: Result<(), Box<dyn std::error::Error>>,
) -> CliResult {
    print!("{report}");
    outcome?;
    println!("archive store:        {}", config.store.display());
    match &config.target {
        config::Target::Maildir(path) => println!("maildir:              {}", path.display()),
        config::Target::Imap(entry) => println!("imap:                 {}", entry.url),
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Loads the mapping CSV; its row problems go into the report with their line numbers.
fn load_mapper(config: &Config, report: &mut Report) -> Result<Mapper, Box<dyn std::error::Error>> {
    let opts = MappingOptions {
        default_region: parse_region(&config.default_region)?,
        id_domain: config.id_domain.clone(),
    };
    let table = match &config.mapping_csv {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read mapping CSV {}: {e}", path.display()))?;
            let (table, issues) = MappingTable::from_csv(&bytes, &opts)
                .map_err(|e| format!("mapping CSV {}: {e}", path.display()))?;
            for issue in issues {
                let note = format!("mapping CSV {}: {issue}", path.display());
                match issue.severity() {
                    Severity::Error => report.error(note),
                    Severity::Warning => report.warning(note),
                }
            }
            table
        }
        None => MappingTable::default(),
    };
    Ok(Mapper::new(table, opts)?)
}
