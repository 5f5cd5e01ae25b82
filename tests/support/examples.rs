//! The example data in `examples/`, as the tests run it.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use shared::convert::ConvertOptions;
use shared::embedded::{self, RunOptions};
use shared::layout::CollectionDay;
use shared::mailbox::Maildir;
use shared::mapping::{Mapper, MappingOptions, MappingTable, parse_region};
use shared::report::Report;
use shared::sources::Source;
use shared::sources::whatsapp_export::{ExportDrops, ExportOptions};
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
    let mut lanes = [Maildir::new(mail), Maildir::new(mail)];
    let mut report = Report::default();
    embedded::run(
        &mut sources(),
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

/// The example drops, read as `examples/archiver.toml` reads them.
pub fn sources() -> Vec<Box<dyn Source>> {
    let export = ExportOptions {
        tz: chrono_tz::Europe::London,
        date_order: None,
        zip_limits: Default::default(),
    };
    vec![Box::new(ExportDrops::new(LocalDir::new(dir()), export))]
}

/// Run options as `examples/archiver.toml` sets them, on a fixed day.
pub fn run_options() -> RunOptions {
    RunOptions {
        convert: ConvertOptions::default(),
        day: CollectionDay(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()),
    }
}
