//! `archiver`: Mobile Archiver on one machine.
//!
//! - `archiver run --config <file>` runs collect -> convert -> deliver over a
//!   local directory and Maildir (the embedded default) and prints a summary.
//! - `archiver inspect <file>` prints the items of an export as JSON lines.
//! - `archiver bench` measures parsing and rendering speed.

mod bench;
mod config;
mod inspect;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand};
use shared::collect::ExportOptions;
use shared::convert::ConvertOptions;
use shared::embedded::{self, RunOptions};
use shared::mailbox::Maildir;
use shared::mapping::{Mapper, MappingOptions, MappingTable, Severity, parse_region};
use shared::report::Report;
use shared::store::LocalDir;

use crate::config::Config;

#[derive(Parser)]
#[command(name = "archiver", version, about = "Mobile Archiver: archive mobile business messaging into mailboxes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect new drops, convert them and deliver into Maildir folders.
    Run {
        /// The TOML configuration.
        #[arg(long, short)]
        config: PathBuf,
        /// Collection day for the raw batch folder (default: today, UTC).
        #[arg(long)]
        day: Option<NaiveDate>,
    },
    /// Print the normalised items of an export (.txt or .zip) as JSON lines.
    Inspect(inspect::Args),
    /// Measure export parsing (MB/s) and rendering (items/s).
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, day } => run(&config, day),
        Command::Inspect(args) => inspect::inspect(&args),
        Command::Bench(args) => bench::bench(&args),
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

fn run(config_path: &std::path::Path, day: Option<NaiveDate>) -> CliResult {
    let config = Config::load(config_path)?;
    let mut report = Report::default();
    let mapper = load_mapper(&config, &mut report)?;
    let opts = RunOptions {
        export: ExportOptions {
            tz: config.tz,
            date_order: config.date_order,
            zip_limits: config.zip,
        },
        convert: ConvertOptions {
            render: config.render.clone(),
            folders: config.folders.clone(),
        },
        day: day.unwrap_or_else(|| Utc::now().date_naive()),
    };
    let drops = LocalDir::new(&config.drops);
    let store = LocalDir::new(&config.store);
    let mut maildir = Maildir::new(&config.maildir);
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(embedded::run(
        &drops,
        &store,
        &mut maildir,
        &mapper,
        &opts,
        &mut report,
    ))?;
    print!("{report}");
    println!("archive store:        {}", config.store.display());
    println!("maildir:              {}", config.maildir.display());
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
