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
        .pull(&checkpoints, &mut report)
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

/// A drop's batch id: SHA-256 of the custodian (length-prefixed) and bytes.
fn batch_id(custodian: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update((custodian.len() as u64).to_le_bytes());
    hasher.update(custodian.as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_drop_that_cannot_be_read_is_kept_with_its_reason_and_refused_once() {
    use shared::store::ObjectStore;

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    let unsafe_zip = zip_of(&[("_chat.txt", CHAT), ("../evil.jpg", b"x")]);
    let refused: [(&str, &[u8], &str); 4] = [
        ("notes.pdf", b"%PDF-1.7", "not an export"),
        (
            "WhatsApp Chat with Ann.txt",
            b"no header here\n",
            "no WhatsApp message header",
        ),
        (
            "WhatsApp Chat with Cy.txt",
            b"21/11/2026, 09:15 - Cy: \xff\n",
            "not UTF-8",
        ),
        (
            "WhatsApp Chat with Di.zip",
            &unsafe_zip,
            "unsafe entry name",
        ),
    ];
    for (file, bytes, _) in refused {
        drop_file(&drops, file, bytes);
    }
    drop_file(&drops, "WhatsApp Chat with Bob.txt", CHAT);

    let report = collect_once(&drops, &archive).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["drops_refused"], 4, "{report}");
    assert_eq!(report.drops_collected, 1, "{report}");
    assert_eq!(report.errors.len(), 4, "{report}");
    for (file, bytes, reason) in refused {
        let id = batch_id(CUSTODIAN, bytes);
        let original_key = format!("raw/whatsapp-export/2026-11-21/{id}/{file}");
        let kept = archive.get(&original_key).await.unwrap();
        assert_eq!(kept.as_deref(), Some(bytes), "{file}: {original_key}");
        let record = archive
            .get(&format!("failed/drops/{id}.json"))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{file}: no refusal record"));
        let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(
            record["drop_key"],
            format!("drop/whatsapp-export/{CUSTODIAN}/{file}")
        );
        assert_eq!(record["custodian"], CUSTODIAN);
        assert_eq!(record["file_name"], file);
        assert_eq!(record["original_key"], original_key);
        let why = record["reason"].as_str().unwrap();
        assert!(why.contains(reason), "{file}: {why}");
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.contains(file) && e.contains(reason)),
            "{file}: {:?}",
            report.errors
        );
    }

    // Refused once: the next run finds every drop checkpointed.
    let again = collect_once(&drops, &archive).await;
    let json = serde_json::to_value(&again).unwrap();
    assert_eq!(json["drops_refused"], 0, "{again}");
    assert!(again.errors.is_empty(), "{again}");
    assert_eq!(again.drops_already_collected, 5, "{again}");
}

/// A drop store that records which keys were marked collected.
struct Marking {
    inner: LocalDir,
    marked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl shared::store::ObjectStore for Marking {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, shared::store::StoreError> {
        self.inner.get(key).await
    }

    async fn put_new(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> Result<shared::store::Created, shared::store::StoreError> {
        self.inner.put_new(key, bytes).await
    }

    async fn get_file(
        &self,
        key: &str,
    ) -> Result<Option<shared::store::ObjectFile>, shared::store::StoreError> {
        self.inner.get_file(key).await
    }

    async fn put_new_file(
        &self,
        key: &str,
        content: &shared::store::ObjectFile,
    ) -> Result<shared::store::Created, shared::store::StoreError> {
        self.inner.put_new_file(key, content).await
    }

    async fn mark_collected(&self, key: &str) -> Result<(), shared::store::StoreError> {
        self.marked.lock().unwrap().push(key.to_owned());
        Ok(())
    }

    async fn scan(
        &self,
        prefix: &str,
    ) -> Result<shared::store::Listing, shared::store::StoreError> {
        self.inner.scan(prefix).await
    }
}

#[tokio::test]
async fn drops_are_marked_collected_once_checkpointed_read_or_refused() {
    use shared::store::ObjectStore;

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    drop_file(&drops, "WhatsApp Chat with Bob.txt", CHAT);
    drop_file(&drops, "notes.pdf", b"%PDF");
    let custodian = drops.join("drop/whatsapp-export").join(CUSTODIAN);
    std::os::unix::fs::symlink(custodian.join("notes.pdf"), custodian.join("link.txt")).unwrap();
    let key = |file: &str| format!("drop/whatsapp-export/{CUSTODIAN}/{file}");
    let log = std::sync::Arc::default();
    let mut source = ExportDrops::new(
        Marking {
            inner: LocalDir::new(&drops),
            marked: std::sync::Arc::clone(&log),
        },
        options(),
    );
    let mut report = Report::default();
    collect_source(&mut source, &archive, day(), &mut report)
        .await
        .unwrap();
    assert_eq!((report.drops_collected, report.drops_refused), (1, 1));
    let checkpoints = archive.list("collected/whatsapp-export/").await.unwrap();
    assert_eq!(checkpoints.len(), 2);
    let marked = || log.lock().unwrap().clone();
    assert_eq!(
        marked(),
        [key("WhatsApp Chat with Bob.txt"), key("notes.pdf")]
    );

    // A later run marks again what it finds collected (a mark lost to a
    // crash or a refused request is made up for).
    let mut again = Report::default();
    collect_source(&mut source, &archive, day(), &mut again)
        .await
        .unwrap();
    assert_eq!(again.drops_already_collected, 2);
    assert_eq!(marked().len(), 4);
    assert!(!marked().contains(&key("link.txt")));
}

#[tokio::test]
async fn a_drop_is_handed_over_as_an_original_before_it_is_read() {
    use shared::sources::{Checkpoints, Pulled, Source};

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    drop_file(&drops, "WhatsApp Chat with Bob.txt", CHAT);
    let mut source = ExportDrops::new(LocalDir::new(&drops), options());
    let checkpoints = Checkpoints::default();
    let mut report = Report::default();
    let first = source.pull(&checkpoints, &mut report).await.unwrap();
    let Some(Pulled::Originals(originals)) = first else {
        panic!("expected the original first, got {first:?}");
    };
    assert_eq!(originals.id, batch_id(CUSTODIAN, CHAT));
    assert_eq!(originals.originals.len(), 1);
    assert_eq!(originals.originals[0].name, "WhatsApp Chat with Bob.txt");
    assert_eq!(originals.originals[0].content.read_all().unwrap(), CHAT);
    let second = source.pull(&checkpoints, &mut report).await.unwrap();
    let Some(Pulled::Batch(batch)) = second else {
        panic!("expected the batch, got {second:?}");
    };
    assert_eq!((batch.id, batch.items), (originals.id, 1));
}

/// Every item collected into `archive`, as JSON.
async fn items(archive: &LocalDir) -> Vec<serde_json::Value> {
    use shared::store::ObjectStore;
    let mut items = Vec::new();
    for key in archive.list("raw/whatsapp-export/").await.unwrap() {
        if !key.ends_with(".jsonl") {
            continue;
        }
        let lines = archive.get(&key).await.unwrap().unwrap();
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            items.push(serde_json::from_slice(line).unwrap());
        }
    }
    items
}

fn texts(items: &[serde_json::Value]) -> Vec<&str> {
    items.iter().filter_map(|i| i["text"].as_str()).collect()
}

#[tokio::test]
async fn every_chat_text_in_a_zip_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    let zip = zip_of(&[
        (
            "_chat.txt",
            b"[10/11/26, 14:02:17] Carol: from the iOS chat\n",
        ),
        (
            "WhatsApp Chat with Bob.txt",
            b"10/11/2026, 14:03 - Bob: from the Android chat\n",
        ),
        (
            "older/_chat.txt",
            b"[09/11/26, 09:00:00] Carol: from the nested chat\n",
        ),
    ]);
    drop_file(&drops, "WhatsApp Chat - Desk.zip", &zip);
    let report = collect_once(&drops, &archive).await;
    assert!(report.errors.is_empty(), "{report}");
    let items = items(&archive).await;
    let mut found = texts(&items);
    found.sort();
    assert_eq!(
        found,
        [
            "from the Android chat",
            "from the iOS chat",
            "from the nested chat"
        ],
        "{report}"
    );
}

#[tokio::test]
async fn a_chat_text_that_cannot_be_read_beside_others_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    let zip = zip_of(&[
        ("_chat.txt", b"[10/11/26, 14:02:17] Carol: hello\n"),
        ("WhatsApp Chat with Bob.txt", b"not a chat at all\n"),
    ]);
    drop_file(&drops, "WhatsApp Chat - Desk.zip", &zip);
    let report = collect_once(&drops, &archive).await;
    assert_eq!(report.errors.len(), 1, "{report}");
    assert!(
        report.errors[0].contains("WhatsApp Chat with Bob.txt"),
        "{report}"
    );
    // The unreadable chat text reaches the mailbox as a file of the export.
    let items = items(&archive).await;
    let attached: Vec<&str> = items
        .iter()
        .flat_map(|i| i["attachments"].as_array().unwrap())
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(attached, ["WhatsApp Chat with Bob.txt"], "{items:#?}");
}

#[tokio::test]
async fn media_are_linked_by_path_and_ambiguous_names_reported() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    let chat = "[10/11/26, 14:02:17] Carol: \u{200e}<attached: IMG-1.jpg>\n\
                [10/11/26, 14:02:18] Carol: \u{200e}<attached: IMG-2.jpg>\n";
    let zip = zip_of(&[
        ("_chat.txt", chat.as_bytes()),
        ("a/IMG-1.jpg", b"first photo"),
        ("b/IMG-1.jpg", b"second photo"),
        ("media/IMG-2.jpg", b"only photo"),
    ]);
    drop_file(&drops, "WhatsApp Chat - Desk.zip", &zip);
    let report = collect_once(&drops, &archive).await;
    assert!(report.errors.is_empty(), "{report}");
    assert!(
        report.warnings.iter().any(|w| w.contains("IMG-1.jpg")
            && w.contains("a/IMG-1.jpg")
            && w.contains("b/IMG-1.jpg")),
        "{report}"
    );
    let items = items(&archive).await;
    let photo = |name: &str| {
        items
            .iter()
            .flat_map(|i| i["attachments"].as_array().unwrap())
            .find(|a| a["name"] == name && a["object_key"].is_string())
            .map(|a| a["sha256"].as_str().unwrap().to_owned())
    };
    let sha = |bytes: &[u8]| {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(bytes))
    };
    assert_eq!(photo("IMG-2.jpg"), Some(sha(b"only photo")));
    // Neither same-named photo is linked to the message; both reach the
    // mailbox as files of the export.
    let message = items
        .iter()
        .find(|i| i["raw"].as_str().unwrap().contains("IMG-1.jpg"))
        .unwrap();
    assert!(
        message["attachments"][0]["object_key"].is_null(),
        "{message}"
    );
    let unreferenced = items.iter().find(|i| i["kind"] == "system").unwrap();
    let shas: Vec<&str> = unreferenced["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(shas, [sha(b"first photo"), sha(b"second photo")]);
}

#[tokio::test]
async fn files_no_message_refers_to_are_reported_and_reach_the_mailbox() {
    use shared::store::ObjectStore;

    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let chat = "[10/11/26, 14:02:17] Carol: \u{200e}<attached: IMG-1.jpg>\n\
                [10/11/26, 14:05:00] Evan: thanks\n";
    let nested = zip_of(&[("inner.txt", b"inside")]);
    let zip = zip_of(&[
        ("_chat.txt", chat.as_bytes()),
        ("IMG-1.jpg", b"a photo"),
        ("contract.pdf", b"%PDF no message mentions"),
        ("more/nested.zip", &nested),
    ]);
    drop_file(&drops, "WhatsApp Chat - Desk.zip", &zip);
    let mut ids = Vec::new();
    for run in ["one", "two"] {
        let archive = LocalDir::new(dir.path().join(run));
        let report = collect_once(&drops, &archive).await;
        assert!(report.errors.is_empty(), "{report}");
        let warning = report
            .warnings
            .iter()
            .find(|w| w.contains("contract.pdf"))
            .unwrap_or_else(|| panic!("{report}"));
        assert!(
            warning.contains("2 files") && warning.contains("more/nested.zip"),
            "{warning}"
        );
        assert!(!warning.contains("IMG-1.jpg"), "{warning}");
        let items = items(&archive).await;
        assert_eq!(items.len(), 3, "{items:#?}");
        let item = &items[2];
        assert_eq!(item["kind"], "system");
        assert_eq!(item["conversation"], items[0]["conversation"]);
        assert_eq!(
            item["timestamp"], items[1]["timestamp"],
            "the export's last time"
        );
        assert!(
            item["text"]
                .as_str()
                .unwrap()
                .starts_with("2 files in the export")
        );
        let attached: Vec<&str> = item["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(attached, ["contract.pdf", "nested.zip"]);
        for attachment in item["attachments"].as_array().unwrap() {
            let key = attachment["object_key"].as_str().unwrap();
            assert!(archive.get(key).await.unwrap().is_some(), "{key}");
        }
        ids.push(item["id"].clone());
        // It is rendered with the files attached, like any other item.
        let eml = rendered(&archive, item).await;
        for name in ["contract.pdf", "nested.zip"] {
            assert!(eml.contains(&format!("filename=\"{name}\"")), "{name}");
        }
    }
    assert_eq!(ids[0], ids[1], "a stable id");
}

/// Converts the raw batches in `archive` and returns the EML of `item`.
async fn rendered(archive: &LocalDir, item: &serde_json::Value) -> String {
    use shared::convert::{ConvertOptions, convert_batch};
    use shared::jobs::StoreQueue;
    use shared::layout::RawBatch;
    use shared::mapping::{Mapper, MappingOptions, MappingTable, parse_region};
    use shared::store::ObjectStore;

    let opts = MappingOptions {
        default_region: parse_region("GB").unwrap(),
        id_domain: None,
        custodian_domains: vec!["corp.example".to_owned()],
    };
    let mapper = Mapper::new(MappingTable::default(), opts).unwrap();
    let mut report = Report::default();
    for key in archive.list("raw/").await.unwrap() {
        if let Some(batch) = RawBatch::parse(&key) {
            let options = ConvertOptions::default();
            convert_batch(archive, &StoreQueue, &batch, &mapper, &options, &mut report)
                .await
                .unwrap();
        }
    }
    assert!(report.errors.is_empty(), "{report}");
    let day = &item["timestamp"].as_str().unwrap()[..10];
    let key = format!("eml/{day}/{}.eml", item["id"].as_str().unwrap());
    let eml = archive.get(&key).await.unwrap().expect("the item's EML");
    String::from_utf8(eml).unwrap()
}

/// What the parser reads but doubts reaches the run report, line by line.
#[tokio::test]
async fn doubtful_lines_reach_the_report_with_their_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let drops = dir.path().join("drops");
    let archive = LocalDir::new(dir.path().join("archive"));
    let text = "11/21/26, 9:15 AM - Bob: Hello\n11/21/26, 9:16 AM - Eve: Hi\n11/21/26, 13:20 PM - Bob: Late\n";
    drop_file(&drops, "WhatsApp Chat with Bob.txt", text.as_bytes());
    let report = collect_once(&drops, &archive).await;
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("line 3") && w.contains("24-hour")),
        "{:?}",
        report.warnings
    );
}
