//! `archiver backfill`: collect (then convert and deliver) for past
//! collection days, one `run` per day, oldest first.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Args as ClapArgs;

use crate::CliResult;

/// The most days one backfill runs for.
const MAX_DAYS: usize = 366;

/// Collect, convert and deliver for past collection days
///
/// Runs `archiver run --day D` for each day from --from to --to (both
/// included, oldest first): what the sources hold that was not collected
/// yet is filed under the first of those days (raw/<source>/<day>/, the
/// day's report and manifest count it there), and every later day of the
/// range records its own collect run (the daily report's evidence that the
/// day was collected, even with nothing to collect). For a day a scheduled
/// run missed: the sources keep what they were not asked for (export drops
/// stay in the drop folder, WhatsApp Cloud bodies in inbox/, WeCom from its
/// checkpointed seq), so nothing is lost by the missed run, and a backfill
/// files it under the day it names. Safe to repeat: what was collected
/// before is skipped by its checkpoint, every copy is delivered once.
///
/// Reads the same configuration as `archiver run` (`[store] path`,
/// `[drops] path`, `[mapping]`, the target, `[wecom]` ...). In AWS, invoke
/// the collect function with `{"day": "YYYY-MM-DD"}` for each day instead
/// (convert and deliver follow by themselves).
///
/// Exit codes: 0 every day's run was clean; 2 some day's summary lists
/// errors; 1 a day's run could not start or the store failed (the days
/// after it are not run; a repeat resumes).
///
/// Example:
///   archiver backfill --config examples/archiver.toml --from 2026-11-19 --to 2026-11-21
#[derive(ClapArgs)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The TOML configuration (as for `archiver run`).
    #[arg(long, short)]
    config: PathBuf,
    /// The first collection day.
    #[arg(long)]
    from: NaiveDate,
    /// The last collection day (included; today at the latest, UTC).
    #[arg(long)]
    to: NaiveDate,
    /// Print each day's report as a JSON object instead of its summary:
    /// one object per day, in day order (`jq -s` reads them as an array).
    #[arg(long)]
    json: bool,
}

/// Runs `archiver backfill`.
pub fn backfill(args: &Args) -> CliResult {
    let days = days(args.from, args.to, Utc::now().date_naive())?;
    let mut code = ExitCode::SUCCESS;
    for day in days {
        if !args.json {
            println!("collection day {day}:");
        }
        if crate::run::run(&args.config, Some(day), args.json)? != ExitCode::SUCCESS {
            code = ExitCode::from(2);
        }
    }
    Ok(code)
}

/// The days from `from` to `to`, or why not: in order, past or today, at
/// most [`MAX_DAYS`].
fn days(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Result<Vec<NaiveDate>, String> {
    if from > to {
        return Err(format!("--from {from} is after --to {to}"));
    }
    if to > today {
        return Err(format!(
            "--to {to} is in the future (today is {today}, UTC): a backfill is of days that have begun"
        ));
    }
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    if days.len() > MAX_DAYS {
        return Err(format!(
            "{} days from {from} to {to}: at most {MAX_DAYS} at once",
            days.len()
        ));
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_range_is_checked() {
        let today = day("2026-12-02");
        assert_eq!(
            days(day("2026-11-30"), day("2026-12-02"), today).unwrap(),
            [day("2026-11-30"), day("2026-12-01"), day("2026-12-02")]
        );
        assert!(
            days(day("2026-12-01"), day("2026-11-30"), today)
                .unwrap_err()
                .contains("is after --to")
        );
        assert!(
            days(day("2026-12-01"), day("2026-12-03"), today)
                .unwrap_err()
                .contains("in the future")
        );
        assert!(
            days(day("2024-01-01"), day("2026-12-01"), today)
                .unwrap_err()
                .contains("at most 366")
        );
    }
}
