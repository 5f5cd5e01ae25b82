//! The example data in `examples/`, as the tests run it.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use shared::collect::ExportOptions;
use shared::convert::ConvertOptions;
use shared::embedded::RunOptions;
use shared::mapping::{Mapper, MappingOptions, MappingTable, parse_region};

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
