//! The embedded pipeline over the example data in `examples/`: every
//! expected message lands in the expected Maildir folder, parses, carries the
//! expected headers and attachments, and a second run adds nothing.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use shared::embedded::{self};
use shared::mailbox::Maildir;
use shared::report::Report;
use shared::store::LocalDir;

use support::examples::{self, mapper, run_into_maildir, run_options};

/// Every message in a mailbox's WhatsApp folder, by file name.
fn folder_messages(mail: &Path, mailbox: &str) -> BTreeMap<String, Vec<u8>> {
    let cur = mail.join(mailbox).join(".WhatsApp Archiver/cur");
    fs::read_dir(&cur)
        .unwrap_or_else(|e| panic!("{}: {e}", cur.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// In every example export, every message the custodian sent is from the
/// custodian's mailbox: the author the export names them by (`Carol`, `Dan
/// Brown`) is told to be them (the group's "You deleted this message" line,
/// a direct chat's other author), not an unmapped stranger.
#[tokio::test]
async fn the_custodians_own_messages_are_from_their_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    run_into_maildir(&store, &mail).await;
    // (the custodian's author name in the export, the custodian's mailbox)
    let custodians = [
        ("Alice Example", "alice.example@corp.example"),
        ("Carol", "carol@corp.example"),
        ("Dan Brown", "dan@corp.example"),
    ];
    let mut seen = BTreeMap::new();
    for (_, mailbox) in custodians {
        for bytes in folder_messages(&mail, mailbox).values() {
            let message = MessageParser::default().parse(bytes).expect("parses");
            let from = message.from().and_then(|from| from.first()).expect("From");
            let name = from.name().unwrap_or_default();
            let address = from.address().unwrap_or_default();
            for (author, custodian) in custodians {
                if name == author || name.starts_with(&format!("{author} (")) {
                    assert_eq!(address, custodian, "{name}");
                    *seen.entry(author).or_insert(0) += 1;
                }
            }
        }
    }
    for (author, _) in custodians {
        assert!(
            seen.get(author).is_some_and(|n| *n > 0),
            "{author}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn example_run_delivers_every_item_once_to_every_mapped_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    let report = run_into_maildir(&store, &mail).await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.drops_collected, 4);

    let expected = [
        ("alice.example@corp.example", 9),
        ("bob@corp.example", 9),
        ("carol@corp.example", 9),
        ("dan@corp.example", 5),
        ("evan@corp.example", 9),
    ];
    let mut mailboxes: Vec<_> = fs::read_dir(&mail)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    mailboxes.sort();
    assert_eq!(mailboxes, expected.map(|(m, _)| m.to_owned()));
    for (mailbox, count) in expected {
        let messages = folder_messages(&mail, mailbox);
        assert_eq!(messages.len(), count, "{mailbox}");
        assert!(
            messages.keys().all(|name| name.ends_with(":2,S")),
            "seen flag"
        );
        assert_eq!(report.delivered[mailbox], count as u64, "{mailbox}");
        for bytes in messages.values() {
            let message = MessageParser::default().parse(bytes).expect("parses");
            assert!(message.message_id().unwrap().ends_with("@mobile-archiver"));
            assert!(message.date().is_some());
            assert!(
                message.subject().unwrap().contains("WhatsApp "),
                "{:?}",
                message.subject()
            );
            assert_eq!(
                message.header_raw("X-Archiver-Source").map(str::trim),
                Some("whatsapp-export")
            );
        }
    }
    assert_eq!(report.items_collected, 9 + 5 + 3 + 9);
    assert_eq!(report.emails_written, report.items_collected);
    assert_eq!(report.unmapped, 3, "the Spanish chat maps to nobody");
    assert_eq!(store_keys(&store, "unmapped/").await.len(), 3);

    // A second run finds everything collected and delivered.
    let again = run_into_maildir(&store, &mail).await;
    assert_eq!(again.errors, Vec::<String>::new());
    assert_eq!(again.drops_collected, 0);
    assert_eq!(again.drops_already_collected, 4);
    assert_eq!(again.copies_delivered(), 0);
    for (mailbox, count) in expected {
        assert_eq!(folder_messages(&mail, mailbox).len(), count, "{mailbox}");
    }
}

async fn store_keys(store: &LocalDir, prefix: &str) -> Vec<String> {
    use shared::store::ObjectStore;
    store.list(prefix).await.unwrap()
}

#[tokio::test]
async fn group_export_with_media_carries_attachments_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    run_into_maildir(&store, &mail).await;
    let messages = folder_messages(&mail, "carol@corp.example");
    let parsed: Vec<_> = messages
        .values()
        .map(|bytes| MessageParser::default().parse(bytes).unwrap())
        .collect();
    let with_pdf = parsed
        .iter()
        .find(|m| {
            m.attachments()
                .any(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
        })
        .expect("the term sheet is attached");
    let pdf = with_pdf
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
        .unwrap();
    assert_eq!(
        pdf.attachment_name(),
        Some("00000003-DOCUMENT-2026-11-10-14-02-18.pdf")
    );
    assert_eq!(pdf.content_type().unwrap().ctype(), "application");
    assert_eq!(pdf.content_type().unwrap().subtype(), Some("pdf"));
    assert!(pdf.contents().starts_with(b"%PDF-1.4"));
    assert_eq!(
        with_pdf.subject(),
        Some("WhatsApp group \"Deal Desk\": message from Carol")
    );
    // iOS time 14:02:18 on 10 Nov 2026 in London (GMT) is 14:02:18 UTC.
    assert_eq!(
        with_pdf.date().unwrap().to_rfc3339(),
        "2026-11-10T14:02:18Z"
    );
    assert_eq!(
        with_pdf.header_raw("Thread-Topic").map(str::trim),
        Some("Deal Desk")
    );

    let png = parsed
        .iter()
        .flat_map(|m| m.attachments())
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".png")))
        .expect("the photo is attached");
    assert_eq!(png.content_type().unwrap().subtype(), Some("png"));
    assert!(png.contents().starts_with(b"\x89PNG"));

    // Every message of the chat threads together.
    let indexes: std::collections::BTreeSet<_> = parsed
        .iter()
        .map(|m| m.header_raw("Thread-Index").unwrap().trim().to_owned())
        .collect();
    assert_eq!(indexes.len(), 1);

    let deleted = parsed
        .iter()
        .filter(|m| m.subject().unwrap().starts_with("DELETED – "))
        .count();
    assert_eq!(deleted, 1);
}

#[tokio::test]
async fn items_over_the_target_size_limit_are_delivered_with_stubs() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    let mut maildir = Maildir::new(&mail);
    let mut opts = run_options();
    // The two items with media (a 26 KB PDF, a 12 KB photo) exceed 10 KB;
    // text items (about 3 KB) fit.
    opts.convert.max_message_bytes = Some(10_000);
    let mut report = Report::default();
    embedded::run(
        &mut examples::sources(),
        &store,
        std::slice::from_mut(&mut maildir),
        &mapper(),
        &opts,
        &mut report,
    )
    .await
    .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.stubbed_for_size, 2);
    // The daily report counts them from the job files.
    let daily = shared::day_report::DayReport::read(&store, opts.day.0, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(daily.sources["whatsapp-export"].stubbed, 2);
    assert!(daily.mailboxes["carol@corp.example"].stubbed >= 1);
    let stubbed: u64 = daily.mailboxes.values().map(|m| m.stubbed).sum();
    assert!(stubbed >= 2, "{stubbed}");
    let messages = folder_messages(&mail, "carol@corp.example");
    assert_eq!(messages.len(), 9, "nothing dropped for size");
    let parsed: Vec<_> = messages
        .values()
        .map(|bytes| MessageParser::default().parse(bytes).unwrap())
        .collect();
    let names: Vec<&str> = parsed
        .iter()
        .flat_map(|m| m.attachments())
        .filter_map(|a| a.attachment_name())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".stub.txt")), "{names:?}");
    assert!(
        names.contains(&"00000003-DOCUMENT-2026-11-10-14-02-18.pdf.stub.txt"),
        "{names:?}"
    );
    let stub = parsed
        .iter()
        .flat_map(|m| m.attachments())
        .find(|a| {
            a.attachment_name()
                .is_some_and(|n| n.starts_with("00000003"))
        })
        .unwrap();
    let text = String::from_utf8_lossy(stub.contents()).into_owned();
    assert!(
        text.contains("media/"),
        "the stub names the archive key: {text}"
    );
}

/// The example run's delivered EMLs and printed summary, as committed in
/// `tests/fixtures/example-run/`: a change that alters a byte of either
/// shows here. The run is `archiver run --config examples/archiver.toml
/// --day 2026-11-21` (the collection day names the raw batch, which every
/// EML cites), and its report is built as the command builds it (the
/// mapping CSV's warnings first). `UPDATE_GOLDEN=1` rewrites the files
/// (review the diff).
#[tokio::test]
async fn example_run_emls_and_summary_match_the_golden_files() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    let mut report = Report::default();
    let mapper = examples::settings().mapper(&mut report).unwrap();
    let mut lanes = [Maildir::new(&mail)];
    embedded::run(
        &mut examples::sources(),
        &store,
        &mut lanes,
        &mapper,
        &run_options(),
        &mut report,
    )
    .await
    .unwrap();
    let mut lines = Vec::new();
    for mailbox in fs::read_dir(&mail).unwrap() {
        let mailbox = mailbox.unwrap().file_name().to_string_lossy().into_owned();
        for bytes in folder_messages(&mail, &mailbox).values() {
            let digest = hex::encode(Sha256::digest(bytes));
            lines.push(format!("{digest}  {mailbox}/WhatsApp Archiver"));
        }
    }
    lines.sort();
    let emls = lines.join("\n") + "\n";
    // As printed for `--config examples/archiver.toml`.
    let summary = report
        .to_string()
        .replace(&examples::dir().display().to_string(), "examples");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example-run");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(&golden).unwrap();
        fs::write(golden.join("emls.sha256"), &emls).unwrap();
        fs::write(golden.join("summary.txt"), &summary).unwrap();
    }
    let expected = fs::read_to_string(golden.join("emls.sha256")).unwrap();
    assert_eq!(emls, expected, "delivered EML bytes changed");
    let expected = fs::read_to_string(golden.join("summary.txt")).unwrap();
    assert_eq!(summary, expected, "the run's summary changed");
}
