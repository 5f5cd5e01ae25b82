//! `archiver reconcile` and `archiver verify`: a day with a lost
//! notification (a batch never converted), a deleted ledger entry and a
//! deleted e-mail is repaired exactly once where it can be and reported
//! where it cannot; a closed day's manifest chain shows an altered object
//! and an edited manifest.

mod common;

use common::{archiver, example};

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use shared::jobs::StoreQueue;
use shared::layout::CollectionDay;
use shared::mailbox::Maildir;
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::{LocalDir, ObjectStore};

const DAY: &str = "2026-11-21";

/// (mailbox, Message-ID) -> copies in the Maildir tree.
fn copies(maildir: &Path) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for mailbox in std::fs::read_dir(maildir).unwrap() {
        let mailbox = mailbox.unwrap();
        let name = mailbox.file_name().into_string().unwrap();
        let folder = mailbox.path().join(".WhatsApp Archiver/cur");
        let Ok(files) = std::fs::read_dir(folder) else {
            continue;
        };
        for file in files {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap()
                .to_owned();
            *out.entry((name.clone(), id)).or_default() += 1;
        }
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn reconcile_repairs_a_lost_notification_and_a_lost_ledger_entry_once_and_reports_a_lost_email()
 {
    let (dir, examples) = example();
    let settings = LocalSettings::load(&examples.join("archiver.toml")).unwrap();
    let store = LocalDir::new(&settings.store);
    let mut report = Report::default();
    let mut sources = settings.sources.configured(|dir| LocalDir::new(dir));
    let day = CollectionDay(NaiveDate::parse_from_str(DAY, "%F").unwrap());
    let mut batches = shared::collect::collect(&mut sources, &store, day, &mut report)
        .await
        .unwrap();
    assert_eq!(batches.len(), 4);
    // Batches by custodian: Alice's (all mapped) first, then Carol's and
    // Dana's, then the unmapped one; Alice's notification is the one lost.
    let custodian_of = |batch: &shared::layout::RawBatch| {
        let raw = std::fs::read_to_string(settings.store.join(batch.key())).unwrap();
        [
            "+447400123001",
            "carol@corp.example",
            "+14155550123",
            "+34600111222",
        ]
        .iter()
        .position(|c| raw.contains(&format!("\"custodian\":\"{c}\"")))
        .unwrap()
    };
    batches.sort_by_key(custodian_of);
    // The notification of the first batch was lost: the others are
    // converted and delivered.
    let mapper = settings.mapper(&mut report).unwrap();
    let opts = settings.convert_options();
    for batch in &batches[1..] {
        shared::convert::convert_batch(&store, &StoreQueue, batch, &mapper, &opts, &mut report)
            .await
            .unwrap();
    }
    let maildir = dir.path().join("example-output/maildir");
    let mut targets = [Maildir::new(&maildir)];
    shared::embedded::deliver_pending(&store, &mut targets, &mut report)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let before = copies(&maildir);

    // A ledger entry of the second batch is deleted (its copy stays in the
    // folder); an e-mail of the third batch is deleted from the store.
    let jobs = |batch: &shared::layout::RawBatch| {
        let store = &store;
        let key = batch.jobs_key();
        async move {
            let bytes = store.get(&key).await.unwrap().unwrap();
            let mut jobs = Vec::new();
            shared::jobs::read_lines(&bytes, &key, &mut jobs, &mut Report::default());
            jobs
        }
    };
    let second = jobs(&batches[1]).await;
    let lost_entry = &second[0];
    let entry_key = shared::layout::ledger_key(&lost_entry.mailbox, &lost_entry.message_id);
    std::fs::remove_file(settings.store.join(&entry_key)).unwrap();
    let third = jobs(&batches[2]).await;
    let lost_eml = third
        .iter()
        .find(|job| job.eml_key != lost_entry.eml_key)
        .unwrap()
        .eml_key
        .clone();
    std::fs::remove_file(settings.store.join(&lost_eml)).unwrap();

    // Without --repair: everything open is listed, nothing changes.
    let (code, out, err) = archiver(
        &["reconcile", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{}: not converted (no job file)",
            batches[0].key()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} to {}: not delivered (no ledger entry)",
            lost_entry.eml_key, lost_entry.mailbox
        )),
        "{out}"
    );
    let lost_id = lost_eml
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".eml");
    assert!(
        out.contains(&format!("item {lost_id} ("))
            && out.contains("no e-mail and no failure record"),
        "{out}"
    );
    assert_eq!(copies(&maildir), before);

    // --repair: the lost batch is converted and delivered, the lost entry
    // recovered from the folder; the lost e-mail stays open, reported.
    let (code, out, err) = archiver(
        &[
            "reconcile",
            "--config",
            "archiver.toml",
            "--day",
            DAY,
            "--repair",
        ],
        &examples,
    );
    assert_eq!(code, 2, "the lost e-mail keeps the day open: {out}{err}");
    assert!(
        out.contains("copies recovered:     1 found already in the folder"),
        "{out}"
    );
    let after_repair = out.split("after repair:").nth(1).unwrap();
    assert!(!after_repair.contains("not converted"), "{out}");
    assert!(!after_repair.contains("not delivered"), "{out}");
    assert!(after_repair.contains(&format!("item {lost_id} (")), "{out}");
    assert!(out.contains(&format!("day {DAY} is open")), "{out}");
    let after = copies(&maildir);
    assert!(after.values().all(|&n| n == 1), "exactly once: {after:?}");
    assert_eq!(after.len(), 41, "every copy of the example, once");
    assert!(before.keys().all(|k| after.contains_key(k)));
    assert!(
        !settings.store.join("manifest").exists(),
        "an open day has no manifest"
    );

    // A second repair changes nothing.
    let (code, out, _) = archiver(
        &[
            "reconcile",
            "--config",
            "archiver.toml",
            "--day",
            DAY,
            "--repair",
        ],
        &examples,
    );
    assert_eq!(code, 2);
    assert_eq!(copies(&maildir), after, "{out}");
}

/// Runs `archiver run` and then `archiver reconcile` for `day`; returns
/// what reconcile printed.
fn run_and_close(examples: &Path, day: &str) -> String {
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", day],
        examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    close(examples, day)
}

fn close(examples: &Path, day: &str) -> String {
    let (code, out, err) = archiver(
        &["reconcile", "--config", "archiver.toml", "--day", day],
        examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    out
}

/// The chain's newest SHA-256 as reconcile printed it.
fn head(out: &str) -> String {
    let at = out.find("newest SHA-256 is ").unwrap() + "newest SHA-256 is ".len();
    out[at..at + 64].to_owned()
}

fn verify(examples: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify", "--config", "archiver.toml"];
    args.extend_from_slice(extra);
    let (code, out, err) = archiver(&args, examples);
    (code, format!("{out}{err}"))
}

#[test]
fn verify_names_an_altered_object_a_broken_link_and_an_edited_newest_manifest() {
    let (dir, examples) = example();
    let first = run_and_close(&examples, DAY);
    assert!(
        first.contains("manifest manifest/00000001.json written"),
        "{first}"
    );
    let second = run_and_close(&examples, "2026-11-22");
    assert!(
        second.contains("manifest manifest/00000002.json written"),
        "{second}"
    );
    let newest = head(&second);
    let (code, out) = verify(&examples, &["--head", &newest]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("2 manifest(s) verified, 0 difference(s)"),
        "{out}"
    );

    let store = dir.path().join("example-output/archive");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(store.join("manifest").join(name)).unwrap()).unwrap()
    };
    let manifest = read("00000001.json");
    assert_eq!(manifest["day"], DAY);
    let objects = manifest["objects"].as_array().unwrap();
    for prefix in ["raw/", "eml/", "delivered/", "media/", "jobs/", "unmapped/"] {
        assert!(
            objects
                .iter()
                .any(|o| o["key"].as_str().unwrap().starts_with(prefix)),
            "{prefix} objects are listed"
        );
    }
    assert_eq!(read("00000002.json")["previous"]["sequence"], 1);
    // Per stage, the objects it lists of each kind.
    let stages = &manifest["stages"];
    for (stage, prefix) in [
        ("raw batches", ".jsonl"),
        ("e-mails", "eml/"),
        ("ledger entries", "delivered/"),
        ("job files", "jobs/"),
        ("unmapped", "unmapped/"),
        ("media", "media/"),
    ] {
        let count = stages[stage]
            .as_u64()
            .unwrap_or_else(|| panic!("{stage}: {stages}"));
        let listed = objects
            .iter()
            .map(|o| o["key"].as_str().unwrap())
            .filter(|key| match prefix.strip_prefix('.') {
                Some(suffix) => key.starts_with("raw/") && key.ends_with(suffix),
                None => key.starts_with(prefix),
            })
            .count() as u64;
        assert!(count > 0, "{stage}: {stages}");
        assert_eq!(count, listed, "{stage}");
    }
    assert!(stages.get("other").is_none(), "{stages}");

    // One byte of a stored e-mail changed.
    let eml = objects
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .find(|k| k.starts_with("eml/"))
        .unwrap();
    let mut bytes = std::fs::read(store.join(eml)).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    std::fs::write(store.join(eml), &bytes).unwrap();
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("{eml}: altered")), "{out}");
    bytes[last] ^= 0x20;
    std::fs::write(store.join(eml), &bytes).unwrap();

    // A ledger entry removed.
    let entry = objects
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .find(|k| k.starts_with("delivered/"))
        .unwrap();
    let saved = std::fs::read(store.join(entry)).unwrap();
    std::fs::remove_file(store.join(entry)).unwrap();
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("{entry}: missing")), "{out}");
    std::fs::write(store.join(entry), saved).unwrap();

    // The newest manifest edited: only the hash kept outside shows it.
    let path = store.join("manifest/00000002.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"sources\"", "\"sources\" ", 1)).unwrap();
    let (code, out) = verify(&examples, &[]);
    assert_eq!(
        code, 0,
        "without the head hash the edit is invisible: {out}"
    );
    let (code, out) = verify(&examples, &["--head", &newest]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("manifest/00000002.json: the newest manifest's SHA-256 is"),
        "{out}"
    );
    std::fs::write(&path, text).unwrap();

    // The first manifest edited: the second's link to it is broken.
    let path = store.join("manifest/00000001.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"batches\": ", "\"batches\":  ", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let (code, out) = verify(&examples, &["--head", &newest]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("manifest/00000002.json: the link to the manifest before is broken"),
        "{out}"
    );
}

#[test]
fn days_close_in_any_order_and_a_backfill_into_a_closed_day_gets_a_further_manifest() {
    let (_dir, examples) = example();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    // The later day first (nothing was collected on it), then the earlier.
    let later = close(&examples, "2026-11-22");
    assert!(later.contains("manifest/00000001.json written"), "{later}");
    let earlier = close(&examples, DAY);
    assert!(
        earlier.contains("manifest/00000002.json written"),
        "{earlier}"
    );
    let (code, out) = verify(&examples, &["--head", &head(&earlier)]);
    assert_eq!(code, 0, "{out}");
    let again = close(&examples, DAY);
    assert!(again.contains("its manifests list every object"), "{again}");

    // A drop collected into the closed day (a backfill) is seen by verify,
    // and closed by a further manifest of that day.
    let drop = examples.join("drop/whatsapp-export/+447400123001/WhatsApp Chat with Eve.txt");
    std::fs::write(&drop, "21/11/2026, 09:00 - Eve: Late message\n").unwrap();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("not in any manifest of {DAY}")),
        "{out}"
    );
    let supplement = close(&examples, DAY);
    assert!(
        supplement.contains("manifest/00000003.json written"),
        "{supplement}"
    );
    let (code, out) = verify(&examples, &["--head", &head(&supplement)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 manifest(s) verified, 0 difference(s)"),
        "{out}"
    );

    // Today is not over: it cannot be closed.
    let today = chrono::Utc::now().date_naive().to_string();
    let (code, _, err) = archiver(
        &["reconcile", "--config", "archiver.toml", "--day", &today],
        &examples,
    );
    assert_eq!(code, 1);
    assert!(err.contains("is not over yet"), "{err}");
}

/// A day's manifest lists its raw, media and e-mail objects with the
/// fingerprints collect and convert computed as they wrote them, not by
/// reading them again at close: a delivered e-mail, a medium, a raw batch,
/// an original and an unmapped item's e-mail altered after the run and
/// before the day closed are listed as written, and `verify` names each.
#[test]
fn objects_altered_before_the_day_closes_are_listed_as_written_and_verify_names_them() {
    use sha2::Digest;

    let (dir, examples) = example();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let store = dir.path().join("example-output/archive");
    let first_under = |prefix: &str, wanted: &dyn Fn(&str) -> bool| -> String {
        let mut keys: Vec<String> = keys_under(&store, prefix)
            .into_iter()
            .filter(|key| wanted(key))
            .collect();
        keys.sort();
        keys.remove(0)
    };
    let any = |_: &str| true;
    let (eml, media) = (first_under("eml", &any), first_under("media", &any));
    let batch = first_under("raw", &|key| key.ends_with(".jsonl"));
    let original = first_under("raw", &|key| !key.ends_with(".jsonl"));
    // An unmapped item's e-mail: delivered to no one, so no job names it.
    let unmapped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join(first_under("unmapped", &any))).unwrap())
            .unwrap();
    let unmapped_eml = unmapped["eml_key"].as_str().unwrap().to_owned();
    let altered = [&eml, &media, &batch, &original, &unmapped_eml];
    let written = |key: &str| {
        let bytes = std::fs::read(store.join(key)).unwrap();
        (
            bytes.len() as u64,
            hex::encode(sha2::Sha256::digest(&bytes)),
        )
    };
    let before = altered.map(|key| written(key));
    for key in altered {
        let path = store.join(key);
        let mut bytes = std::fs::read(&path).unwrap();
        if key == &batch {
            // Still one item per line (the check reads the batch): its
            // last newline becomes a space.
            *bytes.last_mut().unwrap() = b' ';
        } else {
            bytes[0] ^= 0x20;
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }

    let manifest = close_into_first_manifest(&examples, &store);
    let listed = |key: &str| {
        let object = manifest["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .unwrap_or_else(|| panic!("{key} is not listed"));
        (
            object["size"].as_u64().unwrap(),
            object["sha256"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(altered.map(|key| listed(key)), before);
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 2, "{out}");
    for key in altered {
        assert!(out.contains(&format!("{key}: altered")), "{out}");
    }
}

/// A refused drop (no batch) still has its day's proof: its original and
/// refusal record are listed in the manifest as collect fingerprinted
/// them, and `verify` names the original once it is altered.
#[test]
fn a_refused_drops_original_and_record_are_in_its_days_manifest() {
    use sha2::Digest;

    let (dir, examples) = example();
    let broken = b"PK\x03\x04 not a zip after all";
    std::fs::write(
        examples.join("drop/whatsapp-export/carol@corp.example/broken.zip"),
        broken,
    )
    .unwrap();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert!(out.contains("broken.zip"), "{code} {out}{err}");
    let store = dir.path().join("example-output/archive");
    let keys = |prefix: &str| keys_under(&store, prefix);
    let record = keys("failed/drops").remove(0);
    let original = keys("raw")
        .into_iter()
        .find(|key| key.ends_with("broken.zip"))
        .unwrap();

    let manifest = close_into_first_manifest(&examples, &store);
    let listed = |key: &str| {
        manifest["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .map(|o| o["sha256"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        listed(&original),
        Some(hex::encode(sha2::Sha256::digest(broken)))
    );
    assert!(listed(&record).is_some(), "{record} is not listed");
    std::fs::write(store.join(&original), b"something else").unwrap();
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("{original}: altered")), "{out}");
}

/// A batch collected again after a crash between its fingerprint record
/// and its checkpoint, from the same export dropped meanwhile under
/// another name, has two originals though collect recorded the first
/// only: the day's manifest lists both (the second read at close), and
/// `verify` finds nothing amiss.
#[test]
fn an_original_no_record_names_is_read_at_close_and_verify_finds_nothing_amiss() {
    let (dir, examples) = example();
    let run = || {
        let (code, out, err) = archiver(
            &["run", "--config", "archiver.toml", "--day", DAY],
            &examples,
        );
        assert_eq!(code, 0, "{out}{err}");
    };
    run();
    let store = dir.path().join("example-output/archive");
    let keys = |prefix: &str| keys_under(&store, prefix);
    let first = keys("raw")
        .into_iter()
        .find(|key| key.ends_with("Deal Desk.zip"))
        .unwrap();
    let batch_id = first.split('/').nth(3).unwrap().to_owned();
    // The crash: its checkpoint never written.
    let checkpoint = keys("collected/whatsapp-export")
        .into_iter()
        .find(|key| {
            std::fs::read_to_string(store.join(key))
                .unwrap()
                .contains(&batch_id)
        })
        .unwrap();
    std::fs::remove_file(store.join(checkpoint)).unwrap();
    let folder = examples.join("drop/whatsapp-export/carol@corp.example");
    std::fs::rename(
        folder.join("WhatsApp Chat - Deal Desk.zip"),
        folder.join("WhatsApp Chat - Deal Desk (1).zip"),
    )
    .unwrap();
    run();
    let originals: Vec<String> = keys("raw")
        .into_iter()
        .filter(|key| key.contains(&batch_id) && key.contains("Deal Desk"))
        .collect();
    assert_eq!(originals.len(), 2, "{originals:?}");

    let out = close(&examples, DAY);
    assert!(out.contains("manifest/00000001.json written"), "{out}");
    let manifest = std::fs::read_to_string(store.join("manifest/00000001.json")).unwrap();
    for original in &originals {
        assert!(
            manifest.contains(original.as_str()),
            "{original} is not listed"
        );
    }
    let (code, out) = verify(&examples, &[]);
    assert_eq!(code, 0, "{out}");
}

/// Closes the example's day, the first day closed in `store`: its
/// manifest, `manifest/00000001.json`.
fn close_into_first_manifest(examples: &Path, store: &Path) -> serde_json::Value {
    let out = close(examples, DAY);
    assert!(out.contains("manifest/00000001.json written"), "{out}");
    serde_json::from_slice(&std::fs::read(store.join("manifest/00000001.json")).unwrap()).unwrap()
}

/// The keys of a local store's objects under `prefix`.
fn keys_under(store: &Path, prefix: &str) -> Vec<String> {
    walk(&store.join(prefix))
        .into_iter()
        .map(|path| {
            path.strip_prefix(store)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `--deep` searches the mailboxes for what the ledger records: a copy
/// deleted from its folder since is named and keeps the day open; with it
/// back, a sample searches fewer and the day closes.
#[test]
fn a_deep_reconcile_names_a_copy_deleted_from_its_folder_and_keeps_the_day_open() {
    let (dir, examples) = example();
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", DAY],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let reconcile = |extra: &[&str]| {
        let mut args = vec!["reconcile", "--config", "archiver.toml", "--day", DAY];
        args.extend_from_slice(extra);
        let (code, out, err) = archiver(&args, &examples);
        (code, format!("{out}{err}"))
    };
    let cur = dir
        .path()
        .join("example-output/maildir/dan@corp.example/.WhatsApp Archiver/cur");
    let mut files: Vec<_> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    let deleted = std::fs::read(&files[0]).unwrap();
    std::fs::remove_file(&files[0]).unwrap();

    let (code, out) = reconcile(&["--deep"]);
    assert_eq!(code, 2, "{out}");
    let ledgered = copies(&dir.path().join("example-output/maildir"))
        .values()
        .sum::<usize>()
        + 1;
    assert!(
        out.contains(&format!(
            "searched the mailboxes for {ledgered} of {ledgered} ledgered copies: 1 missing"
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "to dan@corp.example (WhatsApp Archiver): ledgered as delivered, not in the folder"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("day {DAY} is open: 1 line(s) above\n")),
        "{out}"
    );
    std::fs::write(&files[0], deleted).unwrap();
    let (code, out) = reconcile(&["--deep", "--sample", "1000"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "searched the mailboxes for 1 of {ledgered} ledgered copies: 0 missing"
        )),
        "{out}"
    );
    assert!(out.contains("manifest/00000001.json written"), "{out}");
}
