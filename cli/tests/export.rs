//! `archiver export`: a custodian's e-mails over a range of days as a zip
//! whose manifest and load file list exactly the expected messages, each
//! byte-identical to the store's; a second export is the same bytes;
//! `--verify` passes, and fails once one byte of an e-mail is changed.

mod common;

use common::{archiver, copy_tree};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mail_parser::MessageParser;

/// Every stored EML whose custodian header is `custodian` and whose item
/// day is within [from, to]: zip path -> bytes. Read with mail-parser, an
/// oracle independent of the exporter's own streaming reader.
fn expected(store: &Path, custodian: &str, from: &str, to: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for day in std::fs::read_dir(store.join("eml")).unwrap() {
        let day = day.unwrap();
        let name = day.file_name().into_string().unwrap();
        if name.as_str() < from || name.as_str() > to {
            continue;
        }
        for eml in std::fs::read_dir(day.path()).unwrap() {
            let eml = eml.unwrap();
            let bytes = std::fs::read(eml.path()).unwrap();
            let message = MessageParser::default().parse(&bytes).unwrap();
            let header = message
                .header("X-Archiver-Custodian")
                .and_then(|h| h.as_text())
                .unwrap_or_default()
                .to_owned();
            if header == custodian {
                let file = eml.file_name().into_string().unwrap();
                out.insert(format!("messages/{name}/{file}"), bytes);
            }
        }
    }
    out
}

/// The example copied into a temporary directory and run there: the
/// directory, its `examples/`, and what the run printed.
fn example_run() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );
    let (code, summary, err) = archiver(&["run", "--config", "archiver.toml"], &examples);
    assert_eq!(code, 0, "{summary}{err}");
    (dir, examples, summary)
}

fn entries(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        out.insert(entry.name().unwrap().into_owned(), bytes);
    }
    out
}

#[test]
fn a_custodians_export_holds_exactly_their_messages_and_verifies() {
    let (dir, examples, _) = example_run();
    let store = dir.path().join("example-output/archive");
    let want = expected(&store, "carol@corp.example", "2026-11-01", "2026-11-30");
    assert!(want.len() >= 5, "the example has Carol's group: {want:?}");

    let export = |out: &PathBuf| {
        archiver(
            &[
                "export",
                "--config",
                "archiver.toml",
                "--custodian",
                "Carol@Corp.Example",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--out",
                out.to_str().unwrap(),
            ],
            &examples,
        )
    };
    let first = dir.path().join("carol.zip");
    let (code, out, err) = export(&first);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("exported {} message(s)", want.len())),
        "{out}"
    );

    let mut inside = entries(&first);
    let manifest: serde_json::Value =
        serde_json::from_slice(&inside.remove("manifest.json").unwrap()).unwrap();
    let load = inside.remove("loadfile.csv").unwrap();
    // Every EML inside is the store's, byte for byte, and nothing else.
    assert_eq!(inside, want);
    assert_eq!(manifest["count"], want.len());
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, want.keys().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(manifest["selection"]["custodian"], "Carol@Corp.Example");
    let mut rows = csv::Reader::from_reader(load.as_slice());
    let headers = rows.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "message_id",
            "date",
            "from",
            "to",
            "subject",
            "conversation",
            "source",
            "kind",
            "attachments",
            "custodian",
            "file"
        ]
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[10].to_owned()).collect::<Vec<_>>(),
        listed
    );
    for row in &rows {
        let eml = &want[&row[10]];
        let message = MessageParser::default().parse(eml).unwrap();
        assert_eq!(&row[0], message.message_id().unwrap());
        assert_eq!(&row[4], message.subject().unwrap());
        assert_eq!(&row[6], "whatsapp-export");
    }
    let attachments: Vec<&str> = rows
        .iter()
        .map(|r| r.get(8).unwrap())
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(
        attachments,
        [
            "00000003-DOCUMENT-2026-11-10-14-02-18.pdf",
            "00000004-PHOTO-2026-11-10-14-06-02.png"
        ]
    );

    // The same selection again: the same bytes.
    let second = dir.path().join("carol-again.zip");
    let (code, out, err) = export(&second);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    // An existing file is never overwritten.
    let (code, _, err) = export(&second);
    assert_eq!(code, 1);
    assert!(err.contains("exists already"), "{err}");

    // --verify passes, and names the message whose byte was changed.
    let (code, out, err) = archiver(&["export", "--verify", first.to_str().unwrap()], &examples);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every file matches the manifest"), "{out}");
    let (path, eml) = want.iter().nth(2).unwrap();
    let mut bytes = std::fs::read(&first).unwrap();
    let at = bytes
        .windows(eml.len())
        .position(|w| w == eml.as_slice())
        .expect("stored entries hold the EML as it is");
    bytes[at + eml.len() / 2] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    let (code, out, _) = archiver(&["export", "--verify", first.to_str().unwrap()], &examples);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("{path}: altered")), "{out}");
    assert!(out.contains("1 difference(s)"), "{out}");
}

#[test]
fn a_mailboxs_export_holds_what_the_ledger_delivered_to_it() {
    let (dir, examples, summary) = example_run();
    let zip = dir.path().join("dan.zip");
    let (code, out, err) = archiver(
        &[
            "export",
            "--config",
            "archiver.toml",
            "--mailbox",
            "dan@corp.example",
            "--from",
            "2000-01-01",
            "--to",
            "2099-12-31",
            "--out",
            zip.to_str().unwrap(),
        ],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(summary.contains("  dan@corp.example: 5\n"), "{summary}");
    assert!(out.contains("exported 5 message(s)"), "{out}");

    // Alice's number as people write it, in the default region or with the
    // international prefix: the same messages as the E.164 form.
    let count = |custodian: &str, name: &str| {
        let zip = dir.path().join(name);
        let (code, out, err) = archiver(
            &[
                "export",
                "--config",
                "archiver.toml",
                "--custodian",
                custodian,
                "--from",
                "2000-01-01",
                "--to",
                "2099-12-31",
                "--out",
                zip.to_str().unwrap(),
            ],
            &examples,
        );
        (code, out, err)
    };
    let (code, e164, _) = count("+447400123001", "a.zip");
    assert_eq!(code, 0);
    assert!(e164.contains("exported 9 message(s)"), "{e164}");
    for (written, name) in [("07400 123001", "b.zip"), ("+44 (0)7400 123001", "c.zip")] {
        let (code, out, err) = count(written, name);
        assert_eq!(code, 0, "{written}: {out}{err}");
        assert!(out.contains("exported 9 message(s)"), "{written}: {out}");
    }
    // Nothing matching is said, and exits 2.
    let (code, out, err) = count("+447400999999", "d.zip");
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("no stored e-mail matches the selection"),
        "{err}"
    );

    let (code, _, err) = archiver(
        &[
            "export",
            "--config",
            "archiver.toml",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-01",
            "--custodian",
            "x",
            "--out",
            "y.zip",
        ],
        &examples,
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("--from 2026-11-02 is after --to 2026-11-01"),
        "{err}"
    );
}

/// The day range selects by item day, both ends included, and leaves the
/// other days out; `--source` selects by source; every column of the load
/// file is the e-mail's own value.
#[test]
fn the_day_range_and_source_select_and_the_load_file_holds_each_messages_fields() {
    let (dir, examples, _) = example_run();
    let store = dir.path().join("example-output/archive");
    let dan = "+14155550123";
    let export = |name: &str, from: &str, to: &str, source: Option<&str>| {
        let zip = dir.path().join(name);
        let mut args = vec![
            "export",
            "--config",
            "archiver.toml",
            "--custodian",
            dan,
            "--from",
            from,
            "--to",
            to,
            "--out",
            zip.to_str().unwrap(),
        ];
        if let Some(source) = source {
            args.extend(["--source", source]);
        }
        let (code, out, err) = archiver(&args, &examples);
        (code, out + &err, zip)
    };
    // Dan has messages on the 12th and the 13th only.
    let both = expected(&store, dan, "2026-11-12", "2026-11-13");
    let twelfth = expected(&store, dan, "2026-11-12", "2026-11-12");
    let thirteenth = expected(&store, dan, "2026-11-13", "2026-11-13");
    assert!(!twelfth.is_empty() && !thirteenth.is_empty(), "{both:?}");
    assert_eq!(twelfth.len() + thirteenth.len(), both.len());
    for (name, from, to, want) in [
        ("both.zip", "2026-11-12", "2026-11-13", &both),
        ("twelfth.zip", "2026-11-12", "2026-11-12", &twelfth),
        ("thirteenth.zip", "2026-11-13", "2026-11-13", &thirteenth),
    ] {
        let (code, out, zip) = export(name, from, to, None);
        assert_eq!(code, 0, "{out}");
        let mut inside = entries(&zip);
        inside.remove("manifest.json").unwrap();
        inside.remove("loadfile.csv").unwrap();
        assert_eq!(&inside, want, "{from}..{to}");
    }
    let (code, out, zip) = export(
        "source.zip",
        "2026-11-12",
        "2026-11-13",
        Some("whatsapp-export"),
    );
    assert_eq!(code, 0, "{out}");
    let mut inside = entries(&zip);
    let manifest: serde_json::Value =
        serde_json::from_slice(&inside.remove("manifest.json").unwrap()).unwrap();
    assert_eq!(manifest["selection"]["source"], "whatsapp-export");
    let load = inside.remove("loadfile.csv").unwrap();
    assert_eq!(inside, both);
    let (code, out, _) = export("wecom.zip", "2026-11-12", "2026-11-13", Some("wecom"));
    assert_eq!(code, 2, "nothing of Dan's came from WeCom: {out}");
    assert!(out.contains("no stored e-mail matches"), "{out}");

    // Each row holds the e-mail's own fields.
    let mut rows = csv::Reader::from_reader(load.as_slice());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), both.len());
    for row in &rows {
        let message = MessageParser::default().parse(&both[&row[10]]).unwrap();
        let text = |name: &str| {
            message
                .header(name)
                .and_then(|h| h.as_text())
                .unwrap()
                .to_owned()
        };
        assert_eq!(&row[0], message.message_id().unwrap());
        let date = message.date().unwrap();
        assert_eq!(
            &row[1],
            chrono::DateTime::from_timestamp(date.to_timestamp(), 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        );
        let from = message.from().unwrap().first().unwrap();
        assert!(row[2].contains(from.address().unwrap()), "{:?}", &row[2]);
        for to in message.to().unwrap().iter() {
            assert!(row[3].contains(to.address().unwrap()), "{:?}", &row[3]);
        }
        assert!(
            row[2].contains("dan@corp.example") || row[3].contains("dan@corp.example"),
            "Dan's message: {row:?}"
        );
        assert_eq!(&row[4], message.subject().unwrap());
        assert_eq!(row[5], text("X-Archiver-Conversation-Id"));
        assert_eq!(row[6], text("X-Archiver-Source"));
        assert_eq!(row[7], text("X-Archiver-Kind"));
        assert_eq!(&row[9], dan);
        assert!(row[10].starts_with("messages/2026-11-1"), "{:?}", &row[10]);
    }
}
