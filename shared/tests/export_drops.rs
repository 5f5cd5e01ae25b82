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

const CHAT: &[u8] = b"21/11/2026, 09:15 - Bob: Hello\n";

#[tokio::test]
async fn whatever_the_drop_folder_holds_is_collected_or_reported() {
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    drop_file(&drops, "WhatsApp Chat with Bob.txt", CHAT);
    drop_file(&drops, ".DS_Store", b"finder");
    let outside = dir.path().join("outside.txt");
    fs::write(&outside, b"21/11/2026, 09:16 - Eve: not dropped\n").unwrap();
    let custodian = drops.join("drop/whatsapp-export").join(CUSTODIAN);
    std::os::unix::fs::symlink(&outside, custodian.join("linked.txt")).unwrap();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"chat-\xff.txt");
    fs::write(custodian.join(not_utf8), CHAT).unwrap();
    // What the store writes itself stays out of sight.
    fs::write(custodian.join(".tmp-a1B2c3"), b"being written").unwrap();
    fs::write(drops.join(".lock"), b"").unwrap();

    let report = collect_once(&drops, &archive).await;
    let all = [report.errors.clone(), report.warnings.clone()].concat();
    let named = |name: &str| all.iter().any(|line| line.contains(name));
    assert!(named(".DS_Store"), "{all:#?}");
    assert!(named("linked.txt") && named("symbolic link"), "{all:#?}");
    assert!(named("chat-\u{fffd}.txt") && named("UTF-8"), "{all:#?}");
    assert!(!named(".tmp-a1B2c3") && !named(".lock"), "{all:#?}");
    // Only Bob's chat is read: the link is not followed.
    assert_eq!(report.items_collected, 1, "{all:#?}");
}

#[tokio::test]
async fn a_drop_gone_between_the_listing_and_its_reading_is_an_error() {
    use shared::sources::{Checkpoints, Source};

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    drop_file(&drops, "WhatsApp Chat with Ann.txt", CHAT);
    drop_file(&drops, "WhatsApp Chat with Bob.txt", CHAT);
    let mut source = ExportDrops::new(LocalDir::new(&drops), options());
    let checkpoints = Checkpoints::default();
    let mut report = Report::default();
    let mut pulled = 0;
    while source
        .next_batch(&checkpoints, &mut report)
        .await
        .unwrap()
        .is_some()
    {
        pulled += 1;
        let bob = drops
            .join("drop/whatsapp-export")
            .join(CUSTODIAN)
            .join("WhatsApp Chat with Bob.txt");
        let _ = fs::remove_file(bob);
    }
    assert!(pulled >= 1);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].contains("WhatsApp Chat with Bob.txt"),
        "{:?}",
        report.errors
    );
}
