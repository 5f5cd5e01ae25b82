//! `archiver mapping check`: reads a mapping CSV as the convert stage
//! would, and lists every problem with its line, before the file is put
//! into service.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand};
use serde::Serialize;
use shared::mapping::{self, IdentityCounts, MappingIssue, MappingOptions, MappingTable, Severity};
use shared::settings::LocalSettings;

use crate::CliResult;

/// `archiver mapping`.
#[derive(Subcommand)]
pub enum Command {
    /// Check a mapping CSV: every problem with its line number, and how
    /// many identities it maps, of each kind.
    ///
    /// The file is read exactly as the convert stage reads it: the header
    /// (`External User ID,Microsoft 365 User Mailbox`, or `identity,mailbox`,
    /// `phone,email`, `userid,mailbox`…), phone numbers normalised to E.164
    /// (national numbers in the default region), e-mail addresses and
    /// userids compared without case.
    ///
    /// Errors are rows the archiver does not use (an empty identity, an
    /// address that is no address, a number that does not parse, an
    /// identity already mapped to another mailbox on an earlier line) and a
    /// file that maps no one. Warnings are rows it uses but that deserve a
    /// look (a number not valid for its region, an extension, digits that
    /// are not a phone number, a repeated row).
    ///
    /// Exit codes: 0 no errors (warnings may be listed); 2 the file has
    /// errors; 1 the file or the configuration cannot be read at all.
    ///
    /// Example: `archiver mapping check --config examples/archiver.toml`,
    /// or `archiver mapping check mapping.csv --region US --json`.
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
}

/// Arguments of `archiver mapping check`.
#[derive(ClapArgs)]
pub struct CheckArgs {
    /// The mapping CSV (default: the `[mapping] csv` of `--config`).
    csv: Option<PathBuf>,
    /// A TOML configuration to take the CSV (`[mapping] csv`) and the
    /// default region (`default_region`) from.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The region national phone numbers are read in (`GB`, `US`; the
    /// United Kingdom is GB); overrides the configuration's
    /// `default_region`.
    #[arg(long)]
    region: Option<String>,
    /// Print the result as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `archiver mapping <command>`.
pub fn mapping(command: &Command) -> CliResult {
    match command {
        Command::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> CliResult {
    let settings = args
        .config
        .as_deref()
        .map(LocalSettings::load)
        .transpose()?;
    let csv = match (&args.csv, &settings) {
        (Some(csv), _) => csv.clone(),
        (None, Some(settings)) => settings.mapping.csv.clone().ok_or_else(|| {
            format!(
                "config {}: [mapping] csv is not set; name the CSV to check",
                shown(args.config.as_deref())
            )
        })?,
        (None, None) => {
            return Err(
                "name the mapping CSV to check, or a --config that sets [mapping] csv".into(),
            );
        }
    };
    let default_region = match (&args.region, &settings) {
        (Some(region), _) => mapping::parse_region(region)?,
        (None, Some(settings)) => settings.mapping.default_region,
        (None, None) => {
            return Err(
                "give --region (the country national numbers are read in, such as GB or US) \
                 or a --config that sets default_region"
                    .into(),
            );
        }
    };
    let opts = match &settings {
        Some(settings) => MappingOptions {
            default_region,
            ..settings.mapping.mapping_options()
        },
        None => MappingOptions {
            default_region,
            id_domain: None,
            custodian_domains: Vec::new(),
        },
    };
    let bytes = std::fs::read(&csv)
        .map_err(|e| format!("cannot read mapping CSV {}: {e}", csv.display()))?;
    let (table, issues) = MappingTable::from_csv(&bytes, &opts)
        .map_err(|e| format!("mapping CSV {}: {e}", csv.display()))?;
    let outcome = Outcome::new(&csv, &table, &issues);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", outcome.text());
    }
    Ok(if outcome.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn shown(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string()).unwrap_or_default()
}

/// What the check found, as printed (`--json`: as serialised).
#[derive(Serialize)]
struct Outcome {
    file: String,
    /// Identities mapped, all kinds.
    identities: usize,
    /// Identities mapped, by kind.
    by_kind: IdentityCounts,
    errors: usize,
    warnings: usize,
    problems: Vec<Problem>,
}

/// One problem of a row.
#[derive(Serialize)]
struct Problem {
    line: u64,
    severity: &'static str,
    kind: &'static str,
    message: String,
}

impl Outcome {
    fn new(csv: &Path, table: &MappingTable, issues: &[MappingIssue]) -> Self {
        let problems: Vec<Problem> = issues
            .iter()
            .map(|issue| Problem {
                line: issue.line,
                severity: match issue.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                kind: issue.kind.name(),
                message: issue.kind.to_string(),
            })
            .collect();
        let errors = problems.iter().filter(|p| p.severity == "error").count();
        Outcome {
            file: csv.display().to_string(),
            identities: table.len(),
            by_kind: table.counts(),
            errors,
            warnings: problems.len() - errors,
            problems,
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            out.push_str(&format!(
                "{}: line {}: {}: {}\n",
                self.file, problem.line, problem.severity, problem.message
            ));
        }
        let kinds = &self.by_kind;
        out.push_str(&format!(
            "{}: {} identit{} mapped: {} phone number{} (WhatsApp, WeCom mobile), \
             {} WeCom userid{}, {} e-mail address{}, {} name{} or other id{}\n",
            self.file,
            self.identities,
            if self.identities == 1 { "y" } else { "ies" },
            kinds.phone_numbers,
            plural(kinds.phone_numbers),
            kinds.wecom_userids,
            plural(kinds.wecom_userids),
            kinds.email_addresses,
            if kinds.email_addresses == 1 { "" } else { "es" },
            kinds.names_or_ids,
            plural(kinds.names_or_ids),
            plural(kinds.names_or_ids),
        ));
        out.push_str(&format!(
            "{}: {} error{}, {} warning{}\n",
            self.file,
            self.errors,
            plural(self.errors),
            self.warnings,
            plural(self.warnings)
        ));
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
