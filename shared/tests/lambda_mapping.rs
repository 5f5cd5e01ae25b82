//! The mapping CSV as the convert function reads it (`lambda::MappingSource`)
//! from a local store: what its log carries about row problems (counts and a
//! few line numbers, never an identity) and what happens when a new version
//! of the CSV does not parse (the last good mapping stays in use, and one
//! fixed log field says so for an alarm).

use std::io::Write;
use std::sync::{Arc, Mutex};

use shared::lambda::{MappingSource, MappingSourceError};
use shared::mapping::parse_region;
use shared::settings::MappingSettings;
use shared::store::{LocalDir, ObjectStore};
use tracing_subscriber::fmt::MakeWriter;

/// The key of the mapping CSV in the config store.
const KEY: &str = "mapping.csv";

/// At most this many line numbers per kind of problem in the log.
const LINES_SHOWN: usize = 5;

/// The log of one test, as the functions' plain format writes it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

impl Log {
    /// Captures every event of this thread until the guard is dropped.
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn settings() -> MappingSettings<String> {
    MappingSettings {
        csv: Some(KEY.to_owned()),
        default_region: parse_region("GB").unwrap(),
        id_domain: None,
        custodian_domains: Vec::new(),
    }
}

/// A config store holding `csv` as the mapping CSV.
async fn config_store(dir: &tempfile::TempDir, csv: &str) -> LocalDir {
    let store = LocalDir::new(dir.path());
    store.put_new(KEY, csv.as_bytes()).await.unwrap();
    store
}

/// Replaces the CSV in place, as an administrator's upload replaces the
/// object (the local store itself only creates).
fn replace(dir: &tempfile::TempDir, csv: &[u8]) {
    std::fs::write(dir.path().join(KEY), csv).unwrap();
}

/// The line numbers each `lines="…"` field of the log lists.
fn listed_lines(log: &str) -> Vec<Vec<u64>> {
    log.split("lines=\"")
        .skip(1)
        .map(|rest| {
            rest[..rest.find('"').unwrap()]
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn row_problems_are_logged_as_counts_and_a_few_lines_never_identities() {
    let mut csv = String::from("identity,mailbox\n+447400123456,alice@contoso.example\n");
    for i in 0..150 {
        csv.push_str(&format!(
            "+999 {:06},user{i}@contoso.example\n",
            100_000 + i
        ));
    }
    for i in 0..40 {
        csv.push_str(&format!("Room {i},room{i}@contoso.example\n"));
    }
    for i in 0..30 {
        csv.push_str(&format!("+447400123456,other{i}@contoso.example\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let source = MappingSource::new(config_store(&dir, &csv).await, settings());
    let (log, _guard) = Log::capture();
    let mapper = source.current().await.unwrap();
    assert_eq!(
        mapper.lookup("+447400123456"),
        Some("alice@contoso.example")
    );

    let text = log.text();
    for identity in ["+999", "999 ", "Room", "contoso", "+447400123456", "user1"] {
        assert!(!text.contains(identity), "{identity:?} in the log:\n{text}");
    }
    assert!(text.lines().count() <= 4, "one line per kind:\n{text}");
    let listed = listed_lines(&text);
    assert_eq!(listed.len(), 3, "{text}");
    for lines in &listed {
        assert!(!lines.is_empty() && lines.len() <= LINES_SHOWN, "{text}");
    }
    assert!(text.contains("rows=150"), "{text}");
    assert!(text.contains("rows=40"), "{text}");
    assert!(text.contains("rows=30"), "{text}");
    assert_eq!(listed[0], [3, 4, 5, 6, 7], "{text}");
}

#[tokio::test]
async fn a_new_csv_that_does_not_parse_leaves_the_last_good_mapping_in_use() {
    let good = "identity,mailbox\n+447400123456,alice@contoso.example\n";
    let dir = tempfile::tempdir().unwrap();
    let source = MappingSource::new(config_store(&dir, good).await, settings());
    let (log, _guard) = Log::capture();
    let first = source.current().await.unwrap();
    assert!(
        !log.text().contains("mapping_csv_invalid"),
        "{}",
        log.text()
    );

    // The first line is no header: the file is refused as a whole.
    replace(&dir, b"+447400123456,mallory@contoso.example\n");
    for invocation in 1..=2 {
        let mapper = source.current().await.unwrap();
        assert!(Arc::ptr_eq(&first, &mapper), "invocation {invocation}");
        let text = log.text();
        assert_eq!(
            text.matches("mapping_csv_invalid=1").count(),
            invocation,
            "every invocation on the bad version says so:\n{text}"
        );
        assert!(text.contains("mapping=mapping.csv"), "{text}");
        assert!(
            text.contains("line 1 of the mapping file is not a header"),
            "{text}"
        );
        assert!(
            !text.contains("mallory") && !text.contains("+4474"),
            "{text}"
        );
    }

    replace(
        &dir,
        b"identity,mailbox\n+447400123456,bob@contoso.example\n",
    );
    let fixed = source.current().await.unwrap();
    assert_eq!(fixed.lookup("+447400123456"), Some("bob@contoso.example"));
}

#[tokio::test]
async fn a_cold_start_on_a_csv_that_does_not_parse_fails_without_naming_identities() {
    let dir = tempfile::tempdir().unwrap();
    let store = config_store(&dir, "+447400123456,mallory@contoso.example\n").await;
    let source = MappingSource::new(store, settings());
    let (log, _guard) = Log::capture();
    let error = source.current().await.map(|_| ()).unwrap_err();
    assert!(
        matches!(error, MappingSourceError::Invalid { ref key, .. } if key == KEY),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(shown.contains("is not a header"), "{shown}");
    assert!(
        !shown.contains("mallory") && !shown.contains("+4474"),
        "{shown}"
    );
    let text = log.text();
    assert_eq!(text.matches("mapping_csv_invalid=1").count(), 1, "{text}");
    assert!(!text.contains("mallory"), "{text}");
}

/// A new CSV that parses but maps nobody (a header alone) would file every
/// item as unmapped without a word: the function keeps the last good
/// mapping and raises the alarm instead.
#[tokio::test]
async fn a_new_csv_that_maps_nobody_leaves_the_last_good_mapping_in_use() {
    let good = "identity,mailbox\n+447400123456,alice@contoso.example\n";
    let dir = tempfile::tempdir().unwrap();
    let source = MappingSource::new(config_store(&dir, good).await, settings());
    let (log, _guard) = Log::capture();
    let first = source.current().await.unwrap();
    replace(&dir, b"identity,mailbox\n");
    let mapper = source.current().await.unwrap();
    assert!(Arc::ptr_eq(&first, &mapper));
    let text = log.text();
    assert!(text.contains("mapping_csv_invalid=1"), "{text}");
    assert!(text.contains("maps no identity"), "{text}");
}
