//! Remap on a local store (`shared::remap`): which unmapped records are
//! resolved again (not those made with the mapping in use; those of
//! records older than mapping hashes, always), the bound on raw batches
//! read, a mapping recorded applied only when every record was seen, and
//! reconcile counting a remap's copies with its day's.

use std::path::Path;

use shared::convert::{self, ConvertOptions};
use shared::jobs::StoreQueue;
use shared::layout::{self, RawBatch, Unmapped};
use shared::mapping::Mapper;
use shared::remap::{self, RemapOptions};
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::{LocalDir, ObjectStore};

const RAW_BATCH: &[u8] = include_bytes!("fixtures/lambda/raw-batch.jsonl");
const RAW_KEY: &str = "raw/whatsapp-export/2026-11-21/fixture.jsonl";

fn settings() -> LocalSettings {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archiver.toml");
    LocalSettings::load(&path).unwrap()
}

/// The example mapping: the fixture's custodian (Alice) maps.
fn example() -> Mapper {
    settings().mapper(&mut Report::default()).unwrap()
}

/// Automatic mapping only: the fixture's items map to no one.
fn nobody() -> Mapper {
    settings().mapping.mapper(None, |_| {}).unwrap()
}

/// A store whose fixture batch was converted with `nobody()`: three
/// unmapped records.
async fn unmapped_store(dir: &tempfile::TempDir) -> LocalDir {
    let store = LocalDir::new(dir.path().join("archive"));
    store.put_new(RAW_KEY, RAW_BATCH).await.unwrap();
    let batch = RawBatch::parse(RAW_KEY).unwrap();
    let mut report = Report::default();
    let opts = ConvertOptions::default();
    convert::convert_batch(&store, &StoreQueue, &batch, &nobody(), &opts, &mut report)
        .await
        .unwrap();
    assert_eq!(report.unmapped, 3);
    store
}

fn every_day() -> RemapOptions {
    RemapOptions::default()
}

#[tokio::test]
async fn records_made_with_the_mapping_in_use_are_not_read_again_and_others_are() {
    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    // The raw batch gone: only a record that is resolved again reads it.
    std::fs::remove_file(dir.path().join("archive").join(RAW_KEY)).unwrap();
    let mut report = Report::default();
    let same = remap::remap(&store, &StoreQueue, &nobody(), &every_day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(same.still_unmapped.len(), 3);
    assert!(same.recovered.is_empty());
    assert!(
        same.still_unmapped[0].reason.contains("custodian"),
        "{same:?}"
    );

    let mut report = Report::default();
    let other = remap::remap(&store, &StoreQueue, &example(), &every_day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(
        report.errors[0].contains(&format!("raw batch {RAW_KEY} is missing")),
        "{:?}",
        report.errors
    );
    assert!(other.recovered.is_empty() && other.still_unmapped.is_empty());
}

#[tokio::test]
async fn a_record_written_before_mapping_hashes_is_resolved_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    // Each record as written before records named their mapping.
    for key in store.list(layout::UNMAPPED_PREFIX).await.unwrap() {
        let path = dir.path().join("archive").join(&key);
        let mut record: Unmapped = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        record.mapping = None;
        std::fs::write(&path, layout::record(&record)).unwrap();
    }
    // Even with the mapping it was made with: nothing says it was.
    let mut report = Report::default();
    let outcome = remap::remap(&store, &StoreQueue, &nobody(), &every_day(), &mut report)
        .await
        .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(outcome.still_unmapped.len(), 3);
    let outcome = remap::remap(&store, &StoreQueue, &example(), &every_day(), &mut report)
        .await
        .unwrap();
    assert_eq!(outcome.recovered.len(), 3);
    assert_eq!(
        outcome.mailboxes().into_iter().collect::<Vec<_>>(),
        [("alice.example@corp.example", 3)]
    );
    assert_eq!(store.list(layout::REMAPPED_PREFIX).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_remap_of_another_day_or_bounded_leaves_the_rest_and_the_mapping_unapplied() {
    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    // Another day's remap touches none of them.
    let other_day = RemapOptions {
        day: Some(chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()),
        ..every_day()
    };
    let mut report = Report::default();
    let outcome = remap::remap(&store, &StoreQueue, &example(), &other_day, &mut report)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        remap::Outcome {
            mapping: example().hash().to_owned(),
            ..remap::Outcome::default()
        }
    );
    assert!(
        store
            .list(layout::REMAPPED_PREFIX)
            .await
            .unwrap()
            .is_empty()
    );

    let applied = layout::mapping_applied_key(example().hash());
    let none_read = RemapOptions {
        batches_at_most: Some(0),
        ..every_day()
    };
    let mut report = Report::default();
    let outcome = remap::if_not_applied(&store, &StoreQueue, &example(), &none_read, &mut report)
        .await
        .unwrap()
        .expect("not applied before");
    assert_eq!(outcome.left_for_later, 3);
    assert!(outcome.recovered.is_empty());
    assert!(!store.exists(&applied).await.unwrap());

    let one = RemapOptions {
        batches_at_most: Some(1),
        ..every_day()
    };
    let outcome = remap::if_not_applied(&store, &StoreQueue, &example(), &one, &mut report)
        .await
        .unwrap()
        .expect("not applied before");
    assert_eq!((outcome.recovered.len(), outcome.left_for_later), (3, 0));
    assert!(store.exists(&applied).await.unwrap());
    assert_eq!(report.remapped, 3);
    let again = remap::if_not_applied(&store, &StoreQueue, &example(), &one, &mut report)
        .await
        .unwrap();
    assert_eq!(again, None);
}

#[tokio::test]
async fn reconcile_counts_a_remaps_copies_with_its_days_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    let day = RawBatch::parse(RAW_KEY).unwrap().day.0;
    let before = shared::reconcile::check(&store, day).await.unwrap();
    assert_eq!((before.copies, before.is_complete()), (0, true));
    let mut report = Report::default();
    remap::remap(&store, &StoreQueue, &example(), &every_day(), &mut report)
        .await
        .unwrap();
    // Not delivered yet: open, each copy named with the remap's job file.
    let after = shared::reconcile::check(&store, day).await.unwrap();
    assert_eq!((after.batches, after.items, after.copies), (1, 3, 3));
    assert_eq!(after.remaps.len(), 1);
    assert_eq!(after.undelivered.len(), 3);
    assert!(after.undelivered.iter().all(|(batch, _)| batch.is_remap()));
    assert!(after.unaccounted.is_empty(), "{:?}", after.unaccounted);
}

/// The fixture batch again under `key`, its items' ids changed: other
/// items of the same chat.
async fn another_batch(store: &LocalDir, key: &str) {
    let text = String::from_utf8(RAW_BATCH.to_vec()).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let id = &line[7..39];
            assert!(line.starts_with("{\"id\":\"") && id.len() == 32, "{line}");
            line.replacen(id, &id.chars().rev().collect::<String>(), 1)
        })
        .collect();
    store
        .put_new(key, format!("{}\n", lines.join("\n")).as_bytes())
        .await
        .unwrap();
    let batch = RawBatch::parse(key).unwrap();
    let mut report = Report::default();
    let opts = ConvertOptions::default();
    convert::convert_batch(store, &StoreQueue, &batch, &nobody(), &opts, &mut report)
        .await
        .unwrap();
    assert_eq!(report.unmapped, 3, "{:?}", report.errors);
}

#[tokio::test]
async fn a_bounded_remap_gets_further_each_time_though_the_items_it_read_stay_unmapped() {
    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    another_batch(&store, "raw/whatsapp-export/2026-11-21/other.jsonl").await;
    // A new mapping that maps none of them either.
    let csv = b"identity,mailbox\n+447400999999,zed@corp.example\n";
    let other = settings().mapping.mapper(Some(csv), |_| {}).unwrap();
    assert_ne!(other.hash(), nobody().hash());
    let one = RemapOptions {
        batches_at_most: Some(1),
        ..every_day()
    };
    let mut report = Report::default();
    let first = remap::if_not_applied(&store, &StoreQueue, &other, &one, &mut report)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.still_unmapped.len(), first.left_for_later), (3, 3));
    let second = remap::if_not_applied(&store, &StoreQueue, &other, &one, &mut report)
        .await
        .unwrap()
        .unwrap();
    // The batch read first is not read again: the other one is.
    assert_eq!((second.still_unmapped.len(), second.left_for_later), (6, 0));
    assert!(
        store
            .exists(&layout::mapping_applied_key(other.hash()))
            .await
            .unwrap()
    );
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.remapped, 0);
}

/// A remap's jobs carry the fingerprint convert recorded when it wrote
/// the e-mail, not one read at remap time: an e-mail altered in between
/// is not taken as written (deliver refuses it, the manifest lists what
/// convert wrote); an e-mail convert recorded nothing for (a batch
/// converted before it recorded fingerprints) is read as stored.
#[tokio::test]
async fn a_remaps_jobs_carry_the_fingerprint_convert_recorded() {
    use shared::jobs::{self, DeliveryJob};
    use shared::layout::Fingerprint;

    let dir = tempfile::tempdir().unwrap();
    let store = unmapped_store(&dir).await;
    let archive = dir.path().join("archive");
    let batch = RawBatch::parse(RAW_KEY).unwrap();
    let emls = store.list(layout::EML_PREFIX).await.unwrap();
    assert_eq!(emls.len(), 3);
    let written: Vec<Fingerprint> = emls
        .iter()
        .map(|key| Fingerprint::of(&std::fs::read(archive.join(key)).unwrap()))
        .collect();
    // The first e-mail altered; the second's fingerprint never recorded.
    let first = archive.join(&emls[0]);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[0] ^= 0x20;
    std::fs::remove_file(&first).unwrap();
    std::fs::write(&first, &bytes).unwrap();
    let record_path = archive.join(batch.converted_fingerprints_key());
    let mut record: layout::Written =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    assert!(record.objects.remove(&emls[1]).is_some());
    std::fs::remove_file(&record_path).unwrap();
    std::fs::write(&record_path, layout::record(&record)).unwrap();

    let mut report = Report::default();
    let outcome = remap::remap(&store, &StoreQueue, &example(), &every_day(), &mut report)
        .await
        .unwrap();
    assert_eq!(outcome.recovered.len(), 3, "{:?}", report.errors);
    let prefix = RawBatch::remap_jobs_prefix(batch.day.0);
    let job_files = store.list(&prefix).await.unwrap();
    assert_eq!(job_files.len(), 1);
    let mut jobs: Vec<DeliveryJob> = Vec::new();
    let bytes = store.get(&job_files[0]).await.unwrap().unwrap();
    jobs::read_lines(&bytes, &job_files[0], &mut jobs, &mut Report::default());
    for (key, fingerprint) in emls.iter().zip(&written) {
        let job = jobs.iter().find(|job| &job.eml_key == key).unwrap();
        assert_eq!(job.eml.as_ref(), Some(fingerprint), "{key}");
    }
}
