//! `archiver`: Mobile Archiver on one machine. Each command is a module of
//! its own (its arguments, `--help` and what it runs); this file holds the
//! command list and what they share (the runtime, the lock, the target).
//!
//! - `archiver run --config <file>` runs collect -> convert -> deliver over a
//!   local directory and Maildir (the embedded default) and prints a summary;
//!   `archiver deliver --config <file>` delivers pending jobs (EMLs already
//!   rendered) to the configured target (both in [`run`]).
//! - `archiver backfill --from D --to D` runs past days.
//! - `archiver inspect <file>` prints the items of an export, or of WhatsApp
//!   Cloud API webhook bodies (`--source whatsapp-cloud`), as JSON lines.
//! - `archiver mapping check <csv>` lists a mapping CSV's problems by line.
//! - `archiver status --config <file>` counts what the archive store holds.
//!   It, `report`, `export`, `reconcile` and `verify` take `--store`, a
//!   directory or `s3://bucket[/prefix]`, instead (see [`archive`]).
//! - `archiver report --config <file> --day <day>` makes the daily report.
//! - `archiver export ... --out <zip>` writes an export bundle for review.
//! - `archiver reconcile --day <day> [--repair]` and `archiver verify` prove
//!   a day.
//! - `archiver remap --config <file> [--day <day>]` re-resolves unmapped
//!   items with the current mapping CSV and delivers those that map now.
//! - `archiver bench` measures parsing and rendering speed.

mod archive;
mod backfill;
mod bench;
mod export;
mod inspect;
mod mapping;
mod progress;
mod reconcile;
mod remap;
mod report;
mod run;
mod status;
mod target;

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{CommandFactory, Parser, Subcommand};
use shared::mailbox::{Imap, Maildir, Smtp};
use shared::report::Report;
use shared::settings::{self, LocalSettings};
use shared::store::LocalDir;

use tracing_subscriber::EnvFilter;

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
    Run(run::RunArgs),
    Deliver(run::DeliverArgs),
    Backfill(backfill::Args),
    Inspect(inspect::Args),
    /// Check a mapping CSV before putting it into service.
    #[command(subcommand)]
    Mapping(mapping::Command),
    Status(status::Args),
    Report(report::Args),
    Export(export::Args),
    Reconcile(reconcile::ReconcileArgs),
    Verify(reconcile::VerifyArgs),
    Remap(remap::Args),
    /// Print the shell completion script (bash, zsh, fish, elvish,
    /// powershell): `archiver completions bash > /etc/bash_completion.d/archiver`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    Bench(bench::Args),
    BenchDelivery(bench::DeliveryArgs),
}

fn main() -> ExitCode {
    // Whatever ARCHIVER_LOG says, the IMAP client's wire logging (LOGIN
    // with the password, the XOAUTH2 token) stays off.
    shared::logging::init_cli(
        EnvFilter::try_from_env("ARCHIVER_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
    );
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args.config, args.day, args.json),
        Command::Deliver(args) => run::deliver(&args.config, args.json),
        Command::Inspect(args) => inspect::inspect(&args),
        Command::Mapping(command) => mapping::mapping(&command),
        Command::Status(args) => status::status(&args),
        Command::Backfill(args) => backfill::backfill(&args),
        Command::Report(args) => report::report(&args),
        Command::Export(args) => export::export(&args),
        Command::Reconcile(args) => reconcile::reconcile(&args),
        Command::Verify(args) => reconcile::verify(&args),
        Command::Remap(args) => remap::remap(&args),
        Command::Completions { shell } => completions(shell),
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

/// Prints the completion script of `shell` (written whole, so a closed
/// pipe is an error, not a panic).
fn completions(shell: clap_complete::Shell) -> CliResult {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "archiver", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)?;
    Ok(ExitCode::SUCCESS)
}

/// An error that ends a command, printed as one line.
type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

/// The commands' runtime: futures run on the calling thread
/// (`block_on`), the workers drive network I/O and blocking work, and
/// Maildir lanes run on threads of their own (see
/// [`shared::deliver::deliver_jobs`]).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

async fn open_target(settings: &LocalSettings) -> Result<Target, Box<dyn std::error::Error>> {
    Ok(match &settings.target {
        settings::Target::Maildir(path) => target::maildir(path),
        settings::Target::Imap { imap, secrets } => target::imap(imap, secrets).await?,
        settings::Target::Smtp { smtp, secrets } => target::smtp(smtp, secrets.as_deref()).await?,
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

/// Removes what a killed run left half-written, once the store is locked:
/// the store's temporary files and, for a Maildir target, this program's
/// files in the folders' `tmp/` from before `started`. A warning in the
/// report says how many, only when there were any.
fn sweep(
    store: &Path,
    target: &settings::Target,
    started: SystemTime,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    let removed = LocalDir::new(store).sweep_temporary()?;
    if removed > 0 {
        report.warning(format!(
            "archive store {}: removed {removed} temporary file(s) an interrupted run left",
            store.display()
        ));
    }
    if let settings::Target::Maildir(path) = target {
        let removed = Maildir::new(path).sweep_temporary(started)?;
        if removed > 0 {
            report.warning(format!(
                "maildir {}: removed {removed} half-written message(s) an interrupted run left in tmp/",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Logs out of every IMAP connection.
async fn close(targets: &mut [Imap]) {
    for target in targets {
        target.close().await;
    }
}

/// Says QUIT on every SMTP connection.
async fn quit(targets: &mut [Smtp]) {
    for target in targets {
        target.close().await;
    }
}

/// A path as printed: the absolute path it names (`examples/../x` is
/// shown as the `x` it is), or as configured when that cannot be found.
fn shown(path: &std::path::Path) -> std::borrow::Cow<'_, std::path::Path> {
    std::fs::canonicalize(path).map_or(std::borrow::Cow::Borrowed(path), std::borrow::Cow::Owned)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn a_killed_runs_leftovers_are_swept_and_reported_only_when_there_are_some() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("archive");
        let mail = dir.path().join("mail");
        let tmp = mail.join("alice@corp.example/.WhatsApp Archiver/tmp");
        fs::create_dir_all(store.join("eml/2026-11-10")).unwrap();
        fs::create_dir_all(&tmp).unwrap();
        fs::write(store.join("eml/2026-11-10/.tmp-Ab12"), b"half").unwrap();
        fs::write(store.join("eml/2026-11-10/1.eml"), b"whole").unwrap();
        let leftover = tmp.join("0123456789abcdef0123456789abcdef.archiver:2,S");
        fs::write(&leftover, b"half").unwrap();
        let target = settings::Target::Maildir(mail.clone());

        let mut report = Report::default();
        sweep(&store, &target, SystemTime::now(), &mut report).unwrap();
        assert!(!store.join("eml/2026-11-10/.tmp-Ab12").exists());
        assert!(!leftover.exists());
        assert!(store.join("eml/2026-11-10/1.eml").exists());
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("removed 1 temporary file"));
        assert!(report.warnings[1].contains("removed 1 "));

        // Nothing left: the summary is what it always was.
        let mut report = Report::default();
        sweep(&store, &target, SystemTime::now(), &mut report).unwrap();
        assert_eq!(report, Report::default());
    }
}
