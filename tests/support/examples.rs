//! The example data in `examples/`, as the tests run it.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use shared::collect::ExportOptions;
use shared::convert::ConvertOptions;
use shared::embedded::{self, RunOptions};
use shared::mailbox::Maildir;
use shared::mapping::{Mapper, MappingOptions, MappingTable, parse_region};
use shared::report::Report;
use shared::store::LocalDir;

/// The `examples/` directory (drops, mapping CSV, config).
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The mapper built from `examples/mapping.csv` (region GB).
pub fn mapper() -> Mapper {
    let opts = MappingOptions {
        default_region: parse_region("GB").unwrap(),
        id_domain: None,
    };
    let csv = std::fs::read(dir().join("mapping.csv")).unwrap();
    let (table, _issues) = MappingTable::from_csv(&csv, &opts).unwrap();
    Mapper::new(table, opts).unwrap()
}

/// Runs the embedded pipeline over the example drops into a Maildir tree,
/// with two lanes over the same tree (mailboxes delivered to in parallel).
pub async fn run_into_maildir(store: &LocalDir, mail: &Path) -> Report {
    let drops = LocalDir::new(dir());
    let mut lanes = [Maildir::new(mail), Maildir::new(mail)];
    let mut report = Report::default();
    embedded::run(
        &drops,
        store,
        &mut lanes,
        &mapper(),
        &run_options(),
        &mut report,
    )
    .await
    .unwrap();
    report
}

/// Run options as `examples/archiver.toml` sets them, on a fixed day.
pub fn run_options() -> RunOptions {
    RunOptions {
        export: ExportOptions {
            tz: chrono_tz::Europe::London,
            date_order: None,
            zip_limits: Default::default(),
        },
        convert: ConvertOptions::default(),
        day: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
    }
}
