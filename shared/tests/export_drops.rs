//! Export drops through collect: every drop is kept in the archive, read or
//! refused with its reason, and whatever the drop store holds is either
//! collected or in the report.

use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use shared::collect::collect_source;
use shared::layout::CollectionDay;
use shared::report::Report;
use shared::sources::whatsapp_export::{ExportDrops, ExportOptions};
use shared::store::LocalDir;

const CUSTODIAN: &str = "+447700900001";

fn day() -> CollectionDay {
    CollectionDay(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap())
}

fn options() -> ExportOptions {
    ExportOptions {
        tz: chrono_tz::Europe::London,
        date_order: None,
        zip_limits: Default::default(),
    }
}

/// Writes `bytes` as the drop `file` of the custodian, straight to disk (so
/// that names the store would refuse to write can be dropped).
fn drop_file(drops: &Path, file: &str, bytes: &[u8]) {
    let dir = drops.join("drop/whatsapp-export").join(CUSTODIAN);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(file), bytes).unwrap();
}

/// One collect run of the export drops in `drops` into `archive`.
async fn collect_once(drops: &Path, archive: &LocalDir) -> Report {
    let mut source = ExportDrops::new(LocalDir::new(drops), options());
    let mut report = Report::default();
    collect_source(&mut source, archive, day(), &mut report)
        .await
        .unwrap();
    report
}

#[tokio::test]
async fn a_drop_name_cannot_forge_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    drop_file(&drops, "a\nerrors: 0.txt", b"no chat in here\n");
    let report = collect_once(&drops, &archive).await;
    let text = report.to_string();
    let counts = text.lines().filter(|line| line.starts_with("errors:"));
    assert_eq!(counts.count(), 1, "{text}");
    assert!(text.contains(r"a\nerrors: 0.txt"), "{text}");
    assert_eq!(report.errors.len(), 1, "{text}");
}
