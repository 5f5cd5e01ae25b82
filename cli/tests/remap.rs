//! Fixing the mapping re-delivers: items a mapping CSV missing a
//! participant left unmapped are delivered, once, to the mailbox a fixed
//! CSV gives them, by the next `archiver run` or by `archiver remap`
//! (one collection day with `--day`); the daily report counts them
//! recovered, not unmapped; repeating either adds nothing. Counted in the
//! Maildir itself, by Message-ID.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{archiver, example, reconcile};
use mail_parser::MessageParser;

/// The example CSV's row for Dan (custodian of the Dana Lee export).
const DAN: &str = "+1 415-555-0123,dan@corp.example";

/// A row for Luis García's export, whose custodian the example CSV misses.
const LUIS: &str = "+34600111222,luis@corp.example";

/// Every copy in the Maildir tree: Message-ID -> how many copies, per
/// mailbox (a mailbox is a folder of `maildir/`).
fn copies(maildir: &Path) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let Ok(mailboxes) = fs::read_dir(maildir) else {
        return out;
    };
    for mailbox in mailboxes {
        let mailbox = mailbox.unwrap();
        let name = mailbox.file_name().to_string_lossy().into_owned();
        let mut files = Vec::new();
        collect_messages(&mailbox.path(), &mut files);
        for file in files {
            let bytes = fs::read(&file).unwrap();
            let message = MessageParser::default().parse(&bytes).expect("parses");
            let id = message.message_id().expect("a Message-ID").to_owned();
            *out.entry(name.clone()).or_default().entry(id).or_default() += 1;
        }
    }
    out
}

/// The message files under `dir`'s `cur/` and `new/` folders.
fn collect_messages(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "cur" || name == "new" {
            out.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if name != "tmp" {
            collect_messages(&path, out);
        }
    }
}

/// No Message-ID twice in one mailbox.
fn assert_once(copies: &BTreeMap<String, BTreeMap<String, u32>>) {
    for (mailbox, ids) in copies {
        for (id, n) in ids {
            assert_eq!(*n, 1, "{mailbox}: {id} is there {n} times");
        }
    }
}

/// The example's mapping CSV, with `drop` rows left out and `add` rows added.
fn write_csv(examples: &Path, drop: &[&str], add: &[&str]) {
    let original =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mapping.csv"))
            .unwrap();
    let mut text: String = original
        .lines()
        .filter(|line| !drop.contains(&line.trim()))
        .map(|line| format!("{line}\n"))
        .collect();
    for row in add {
        text.push_str(row);
        text.push('\n');
    }
    fs::write(examples.join("mapping.csv"), text).unwrap();
}

/// `archiver report --day <day> --json`, parsed.
fn report(examples: &Path, day: &str) -> serde_json::Value {
    let (code, out, err) = archiver(
        &[
            "report",
            "--config",
            "archiver.toml",
            "--day",
            day,
            "--json",
        ],
        examples,
    );
    assert!(code == 0 || code == 2, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

fn run(examples: &Path, day: &str) -> String {
    let (code, out, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", day],
        examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    out
}

#[test]
fn a_fixed_csv_delivers_the_unmapped_items_once_at_the_next_run_and_the_report_counts_them() {
    let (dir, examples) = example();
    let maildir = dir.path().join("example-output/maildir");
    write_csv(&examples, &[DAN], &[]);
    let first = run(&examples, "2026-11-21");
    // Dana Lee's export (Dan's) maps to no one without Dan's row; Luis
    // García's never did.
    assert!(first.contains("unmapped items:       8"), "{first}");
    assert!(!copies(&maildir).contains_key("dan@corp.example"));
    let before = report(&examples, "2026-11-21");
    assert_eq!(before["unmapped"].as_array().unwrap().len(), 8);
    assert_eq!(before["recovered"], 0);

    write_csv(&examples, &[], &[]);
    let second = run(&examples, "2026-11-22");
    assert!(second.contains("unmapped recovered:   5 items"), "{second}");
    let after = copies(&maildir);
    assert_once(&after);
    assert_eq!(after["dan@corp.example"].len(), 5, "{second}");
    // The stored e-mail as it was rendered (write-once): its From still
    // has the address Dan had when no row mapped him.
    let mut files = Vec::new();
    collect_messages(&maildir.join("dan@corp.example"), &mut files);
    let senders: Vec<String> = files
        .iter()
        .map(|file| {
            let bytes = fs::read(file).unwrap();
            let message = MessageParser::default().parse(&bytes).unwrap();
            let from = message.from().and_then(|from| from.first()).expect("From");
            from.address().unwrap_or_default().to_owned()
        })
        .collect();
    assert!(
        senders
            .iter()
            .any(|address| address == "+14155550123@unmapped.mobile-archiver.invalid"),
        "{senders:?}"
    );
    let report = report(&examples, "2026-11-21");
    assert_eq!(report["recovered"], 5);
    let unmapped = report["unmapped"].as_array().unwrap();
    assert_eq!(unmapped.len(), 3, "Luis García's items only: {unmapped:?}");
    assert_eq!(report["mailboxes"]["dan@corp.example"]["to_deliver"], 5);
    assert_eq!(report["mailboxes"]["dan@corp.example"]["delivered"], 5);
    assert_eq!(report["emails"], 26);
    let html = fs::read_dir(dir.path().join("example-output/archive/reports/2026-11-21"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .max()
        .unwrap();
    let html = fs::read_to_string(html).unwrap();
    assert!(
        html.contains("5 item(s) unmapped before were recovered by a later mapping"),
        "{html}"
    );

    // Nothing new, by a run or by remap.
    let third = run(&examples, "2026-11-22");
    assert!(!third.contains("unmapped recovered"), "{third}");
    let (code, out, err) = archiver(&["remap", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("re-resolved:          0 item(s) map now"),
        "{out}"
    );
    assert!(out.contains("still unmapped:       3"), "{out}");
    assert_eq!(copies(&maildir), after);

    // The day closes with the remap's job file and records in its manifest.
    let out = reconcile(&examples, "2026-11-21");
    assert!(out.contains("copies: 41"), "{out}");
    let manifest = fs::read_to_string(
        dir.path()
            .join("example-output/archive/manifest/00000001.json"),
    )
    .unwrap();
    assert!(manifest.contains("\"jobs/remap/2026-11-21/"), "{manifest}");
    assert!(manifest.contains("\"remapped/"), "{manifest}");
}

#[test]
fn remap_of_one_day_touches_that_day_only() {
    let (dir, examples) = example();
    let maildir = dir.path().join("example-output/maildir");
    let drops = examples.join("drop/whatsapp-export");
    let held = dir.path().join("held");
    fs::create_dir_all(&held).unwrap();
    // Dana Lee's export (Dan's) is collected on the 21st, Luis García's
    // on the 22nd, both unmapped.
    fs::rename(drops.join("+34600111222"), held.join("+34600111222")).unwrap();
    write_csv(&examples, &[DAN], &[]);
    run(&examples, "2026-11-21");
    fs::rename(held.join("+34600111222"), drops.join("+34600111222")).unwrap();
    let second = run(&examples, "2026-11-22");
    assert!(second.contains("unmapped items:       3"), "{second}");

    write_csv(&examples, &[], &[LUIS]);
    let (code, out, err) = archiver(
        &[
            "remap",
            "--config",
            "archiver.toml",
            "--day",
            "2026-11-22",
            "--json",
        ],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let done: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(done["recovered"].as_array().unwrap().len(), 3, "{out}");
    assert_eq!(done["mailboxes"]["luis@corp.example"], 3, "{out}");
    assert_eq!(done["copies_delivered"]["luis@corp.example"], 3, "{out}");
    assert_eq!(done["still_unmapped"], serde_json::json!([]), "{out}");
    let copied = copies(&maildir);
    assert_once(&copied);
    assert_eq!(copied["luis@corp.example"].len(), 3);
    assert!(
        !copied.contains_key("dan@corp.example"),
        "the 21st untouched"
    );
    assert_eq!(report(&examples, "2026-11-21")["recovered"], 0);
    assert_eq!(report(&examples, "2026-11-22")["recovered"], 3);

    // A remap of one day does not record the mapping applied: the next
    // run remaps the other days.
    let third = run(&examples, "2026-11-23");
    assert!(third.contains("unmapped recovered:   5 items"), "{third}");
    let copied = copies(&maildir);
    assert_once(&copied);
    assert_eq!(copied["dan@corp.example"].len(), 5);
    assert_eq!(copied["luis@corp.example"].len(), 3);
}

#[test]
fn a_remap_stopped_between_its_job_file_and_its_records_delivers_nothing_twice() {
    let (dir, examples) = example();
    let maildir = dir.path().join("example-output/maildir");
    let archive = dir.path().join("example-output/archive");
    write_csv(&examples, &[DAN], &[]);
    run(&examples, "2026-11-21");
    write_csv(&examples, &[], &[]);
    let (code, out, err) = archiver(&["remap", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{out}{err}");
    let delivered = copies(&maildir);
    assert_eq!(delivered["dan@corp.example"].len(), 5);

    // What a kill after the job file (and its delivery) but before the
    // remapped/ records would not have written: the records, the mapping
    // applied, the job file's done/ marker.
    fs::remove_dir_all(archive.join("remapped")).unwrap();
    fs::remove_dir_all(archive.join("mapping")).unwrap();
    fs::remove_dir_all(archive.join("done/remap")).unwrap();
    let (code, out, err) = archiver(&["remap", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("re-resolved:          5 item(s) map now"),
        "{out}"
    );
    assert!(
        out.contains("copies delivered:     0 (5 already delivered before)"),
        "{out}"
    );
    // The same jobs, the same file: no second one.
    let files: Vec<_> = fs::read_dir(archive.join("jobs/remap/2026-11-21"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(copies(&maildir), delivered);

    // And stopped before anything was delivered: the job file alone.
    fs::remove_dir_all(archive.join("remapped")).unwrap();
    fs::remove_dir_all(archive.join("mapping")).unwrap();
    fs::remove_dir_all(archive.join("done/remap")).unwrap();
    fs::remove_dir_all(archive.join("started/remap")).unwrap();
    fs::remove_dir_all(archive.join("delivered/dan@corp.example")).unwrap();
    fs::remove_dir_all(maildir.join("dan@corp.example")).unwrap();
    let again = run(&examples, "2026-11-22");
    assert!(again.contains("unmapped recovered:   5 items"), "{again}");
    let copied = copies(&maildir);
    assert_once(&copied);
    assert_eq!(copied, delivered);
}
