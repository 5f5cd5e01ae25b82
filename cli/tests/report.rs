//! `archiver report`: the daily report counts what the run did, is stored
//! as JSON and HTML (with an SVG chart that parses), is delivered once to
//! the admin mailbox's report folder, and names gaps.

mod common;

use common::{archiver, copy_tree, reconcile};

use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, MimeHeaders};

/// The example, with an admin mailbox for reports, in a temporary
/// directory: (its directory, the examples folder).
fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples"),
        &examples,
    );
    let config = examples.join("archiver.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[report]\nmailbox = \"Compliance@corp.example\"\n");
    std::fs::write(&config, text).unwrap();
    (dir, examples)
}

/// The messages in a Maildir folder, newest last.
fn messages(folder: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder.join("cur"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn the_report_of_the_example_day_counts_the_run_and_reaches_the_admin_folder() {
    let (dir, examples) = example();
    let (code, summary, err) = archiver(
        &["run", "--config", "archiver.toml", "--day", "2026-11-21"],
        &examples,
    );
    assert_eq!(code, 0, "{summary}{err}");
    let (code, out, err) = archiver(
        &[
            "report",
            "--config",
            "archiver.toml",
            "--day",
            "2026-11-21",
            "--json",
        ],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_str(&out).expect("with --json, standard output is the JSON alone");
    assert!(
        err.contains("delivered to:         compliance@corp.example"),
        "{err}"
    );
    let export = &report["sources"]["whatsapp-export"];
    assert_eq!(export["batches"], 4);
    assert_eq!(export["items"], 26);
    assert_eq!(export["emails"], 23, "the mapped ones");
    assert_eq!(
        (&export["copies"], &export["delivered"]),
        (&41.into(), &41.into())
    );
    assert_eq!(
        (&export["unmapped"], &export["failed"]),
        (&3.into(), &0.into())
    );
    assert_eq!(report["collect_runs"], 1);
    assert_eq!(report["collect_errors"], serde_json::json!([]));
    assert_eq!(report["reconciled"], false);
    assert_eq!(report["emails"], 26, "as the run printed: {summary}");
    assert_eq!(report["unmapped"].as_array().unwrap().len(), 3);
    let mailboxes = report["mailboxes"].as_object().unwrap();
    let to_deliver: u64 = mailboxes
        .values()
        .map(|m| m["to_deliver"].as_u64().unwrap())
        .sum();
    let delivered: u64 = mailboxes
        .values()
        .map(|m| m["delivered"].as_u64().unwrap())
        .sum();
    assert_eq!((to_deliver, delivered), (41, 41));
    assert_eq!(mailboxes["dan@corp.example"]["delivered"], 5);
    assert_eq!(report["gaps"], serde_json::json!([]));
    let trend = report["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 14);
    assert_eq!(trend[13]["day"], "2026-11-21");
    assert_eq!(trend[13]["items"], 26);
    assert_eq!(trend[13]["copies"], 41);
    for reason in report["unmapped"].as_array().unwrap() {
        assert!(reason["reason"].as_str().unwrap().len() > 10, "{reason}");
    }

    // Stored in the archive: the JSON as printed, the HTML beside it.
    let reports = dir.path().join("example-output/archive/reports/2026-11-21");
    let mut stored: Vec<PathBuf> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    stored.sort();
    assert_eq!(stored.len(), 3, "json, html, delivered: {stored:?}");
    let named = |wanted: &dyn Fn(&str) -> bool| {
        stored
            .iter()
            .find(|p| wanted(&p.to_string_lossy()))
            .unwrap()
            .clone()
    };
    let html = std::fs::read_to_string(named(&|p| p.ends_with(".html"))).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(named(&|p| {
            p.ends_with(".json") && !p.ends_with(".delivered.json")
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(json, report);
    for remote in ["<script", "src=", "href=", "https://", "url("] {
        assert!(
            !html.contains(remote),
            "no script, no remote content: {remote}"
        );
    }
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    let parsed = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let bars = parsed
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .count();
    assert_eq!(bars, 28, "two bars a day");

    // Delivered once, as an e-mail with the HTML body and the JSON attached.
    let folder = dir
        .path()
        .join("example-output/maildir/compliance@corp.example/.Archiver Reports");
    let mail = messages(&folder);
    assert_eq!(mail.len(), 1);
    let message = MessageParser::default().parse(&mail[0]).unwrap();
    assert_eq!(
        message.subject(),
        Some("Mobile Archiver report 2026-11-21: 26 items, 41/41 copies delivered, 0 gap(s)")
    );
    assert!(message.body_html(0).unwrap().contains("<svg"));
    let attachment = message.attachment(0).unwrap();
    assert_eq!(
        attachment.attachment_name(),
        Some("mobile-archiver-report-2026-11-21.json")
    );
    let attached: serde_json::Value = serde_json::from_slice(attachment.contents()).unwrap();
    assert_eq!(attached, report);
    // The report's delivery is recorded beside it, not counted as a copy
    // of the archive.
    assert!(std::fs::read_dir(&reports).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".delivered.json")
    }));
    let (code, status, err) = archiver(
        &["status", "--config", "archiver.toml", "--json"],
        &examples,
    );
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["copies_delivered"], 41);

    // Once reconciled, the report says so.
    reconcile(&examples, "2026-11-21");
    let (code, out, err) = archiver(
        &["report", "--config", "archiver.toml", "--day", "2026-11-21"],
        &examples,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("reconciled:           yes"), "{out}");
}

#[test]
fn a_silent_day_and_an_undelivered_copy_are_gaps() {
    let (dir, examples) = example();
    let run = |day: &str| {
        let (code, out, err) = archiver(
            &["run", "--config", "archiver.toml", "--day", day],
            &examples,
        );
        assert_eq!(code, 0, "{out}{err}");
    };
    run("2026-11-21");
    // The next day brings nothing: every drop was collected.
    run("2026-11-22");
    let (code, out, err) = archiver(
        &["report", "--config", "archiver.toml", "--day", "2026-11-22"],
        &examples,
    );
    assert_eq!(code, 2, "gaps exit 2: {out}{err}");
    assert!(
        out.contains("source whatsapp-export: no data this day, after data in the 7 days before"),
        "{out}"
    );
    for custodian in ["+447400123001", "+14155550123", "carol@corp.example"] {
        assert!(
            out.contains(&format!(
                "custodian {custodian} (whatsapp-export): no data this day"
            )),
            "{out}"
        );
    }
    assert!(out.contains("reconciled:           no"), "{out}");
    assert!(
        !out.contains("is not reconciled"),
        "no manifest at all: {out}"
    );
    // Where reconcile runs, a past day without its manifest is a gap.
    reconcile(&examples, "2026-11-21");
    let (_, out, err) = archiver(
        &["report", "--config", "archiver.toml", "--day", "2026-11-22"],
        &examples,
    );
    assert!(
        out.contains("day 2026-11-22 is not reconciled: no manifest closes it"),
        "{out}{err}"
    );

    // A record of the archive that cannot be read is listed, not fatal.
    let unmapped = dir.path().join("example-output/archive/unmapped");
    let day_dir = std::fs::read_dir(&unmapped)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let record = std::fs::read_dir(&day_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&record, b"{\"item_id\": 7").unwrap();
    let (code, out, err) = archiver(
        &["report", "--config", "archiver.toml", "--day", "2026-11-21"],
        &examples,
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("1 record(s) of the archive cannot be read"),
        "{out}"
    );

    // A copy the ledger does not record is a gap of its mailbox.
    let ledger = dir
        .path()
        .join("example-output/archive/delivered/dan@corp.example");
    let entry = std::fs::read_dir(&ledger)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(entry).unwrap();
    let (code, out, err) = archiver(
        &["report", "--config", "archiver.toml", "--day", "2026-11-21"],
        &examples,
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("copies delivered:     40 of 41"), "{out}");
    assert!(
        out.contains("dan@corp.example: 1 of 5 copies not delivered yet"),
        "{out}"
    );
}
