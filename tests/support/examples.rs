//! The example data in `examples/`, as the tests run it: read through the
//! settings schema from `examples/archiver.toml`, like `archiver run`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use shared::embedded::{self, RunOptions};
use shared::item::Item;
use shared::jobs::DeliveryJob;
use shared::mailbox::Maildir;
use shared::mapping::Mapper;
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::sources::Source;
use shared::sources::whatsapp_export::{self, ReadOptions, ZipLimits};
use shared::store::{LocalDir, ObjectStore};

/// The `examples/` directory (drops, mapping CSV, config).
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A copy of `examples/` in `dir` (its config's store and Maildir are then
/// `dir/example-output/`); returns the copy's path, where
/// `archiver.toml` is.
pub fn copy_into(dir: &Path) -> PathBuf {
    let examples = dir.join("examples");
    copy_tree(&self::dir(), &examples);
    examples
}

/// Copies `from` into `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `examples/archiver.toml`.
pub fn settings() -> LocalSettings {
    LocalSettings::load(&dir().join("archiver.toml")).unwrap()
}

/// The mapper the example config names (`examples/mapping.csv`).
pub fn mapper() -> Mapper {
    settings().mapper(&mut Report::default()).unwrap()
}

/// Runs the embedded pipeline over the example drops into a Maildir tree,
/// with two lanes over the same tree (mailboxes delivered to in parallel).
pub async fn run_into_maildir(store: &LocalDir, mail: &Path) -> Report {
    let mut lanes = [Maildir::new(mail), Maildir::new(mail)];
    run(&mut sources(), store, &mut lanes).await
}

/// Runs the embedded pipeline over `sources` with the example mapping and
/// options.
pub async fn run(
    sources: &mut [Box<dyn Source>],
    store: &LocalDir,
    lanes: &mut [Maildir],
) -> Report {
    let mut report = Report::default();
    embedded::run(
        sources,
        store,
        lanes,
        &mapper(),
        &run_options(),
        &mut report,
    )
    .await
    .unwrap();
    report
}

/// The sources `examples/archiver.toml` configures (the example drops).
pub fn sources() -> Vec<Box<dyn Source>> {
    settings().sources.configured(|dir| LocalDir::new(dir))
}

/// Run options as `examples/archiver.toml` sets them, on a fixed day.
pub fn run_options() -> RunOptions {
    let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    settings().run_options(day, day.and_hms_opt(9, 0, 0).unwrap().and_utc())
}

/// The jobs the embedded run makes of the example data: what the serverless
/// run must deliver too (rendering and ids are deterministic).
pub async fn expected_jobs() -> Vec<DeliveryJob> {
    expected_jobs_of(&dir()).await
}

/// The jobs the embedded run makes of the drops under `base`
/// (`base/drop/whatsapp-export/<custodian>/<file>`), read as
/// `examples/archiver.toml` reads its own, with the example mapping.
pub async fn expected_jobs_of(base: &Path) -> Vec<DeliveryJob> {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("mail");
    let mut sources = settings().sources.configured(|_| LocalDir::new(base));
    let mut lanes = [Maildir::new(&mail), Maildir::new(&mail)];
    run(&mut sources, &store, &mut lanes).await;
    let mut jobs = Vec::new();
    for key in store.list(shared::layout::JOBS_PREFIX).await.unwrap() {
        let bytes = store.get(&key).await.unwrap().unwrap();
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            jobs.push(serde_json::from_slice(line).unwrap());
        }
    }
    jobs
}

/// Lines of message text shorter than this are left out of
/// [`message_texts`]: `Thanks`-sized words may occur in a log line for
/// reasons of their own.
const DISTINCTIVE_CHARS: usize = 6;

/// Every line of message text of the example exports, as the parser reads
/// the items (invisible marks removed), trimmed; those shorter than
/// [`DISTINCTIVE_CHARS`] are left out. For the tests that look for message
/// content where it must never be (logs).
pub fn message_texts() -> Vec<String> {
    let drops = dir().join("drop/whatsapp-export");
    let mut texts = BTreeSet::new();
    for path in super::tree::files_under(&drops) {
        let custodian = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let export = whatsapp_export::open(&bytes, name, &ZipLimits::default()).unwrap();
        let opts = ReadOptions {
            custodian,
            tz: chrono_tz::Europe::London,
            date_order: None,
            custodian_names: &[],
        };
        let written = export.write_items(&opts, Vec::new()).unwrap();
        for line in written.out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let item: Item<'_> = serde_json::from_slice(line).unwrap();
            for text in item.text.as_deref().unwrap_or_default().lines() {
                texts.insert(text.trim().to_owned());
            }
        }
    }
    let texts: Vec<String> = texts
        .into_iter()
        .filter(|text| text.chars().count() >= DISTINCTIVE_CHARS)
        .collect();
    assert!(texts.len() > 10, "the example texts: {texts:?}");
    texts
}
