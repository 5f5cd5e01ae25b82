//! The WhatsApp Business Platform source end to end on the local store and
//! a Maildir: the webhook fixtures (written for this project, shaped like
//! Meta's documented examples, see `fixtures/whatsapp_cloud/README.md`)
//! signed and posted to the capture logic out of order, each three times
//! (twice the same bytes, once re-serialised), then collect, convert and
//! deliver: one message per wamid, edits, revokes and reactions linked to
//! their originals, names from the contact book, statuses counted and not
//! mailed, and a second run delivering nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use shared::convert::ConvertOptions;
use shared::day_report::DayReport;
use shared::embedded::{self, RunOptions};
use shared::item::{ConversationKind, Item, ItemKind};
use shared::layout::CollectionDay;
use shared::mailbox::Maildir;
use shared::mapping::{Mapper, MappingOptions, MappingTable, parse_region};
use shared::render::message_id;
use shared::report::Report;
use shared::secrets::Secret;
use shared::sources::Source;
use shared::sources::whatsapp_cloud::{
    Capture, CloudInbox, Request, inspect, message_item_id, sign,
};
use shared::store::LocalDir;

const APP_SECRET: &str = "fixture-app-secret";
const BUSINESS: &str = "+15550783881";
const EMPLOYEE: &str = "employee@corp.example";
/// Distinct wamids (and call events) in the fixtures: see the README there.
const ITEMS: usize = 38;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whatsapp_cloud");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Every fixture three times (the same bytes twice, re-serialised once),
/// in a scrambled order, with the time each is received.
fn deliveries() -> Vec<(Vec<u8>, DateTime<Utc>)> {
    let mut all = Vec::new();
    for (_, bytes) in fixtures() {
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        all.extend([bytes.clone(), pretty, bytes]);
    }
    // A fixed permutation (multiplying by a unit modulo the count).
    let n = all.len();
    let step = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s > n / 3)
        .unwrap();
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let received = base + chrono::Duration::hours(i as i64);
            (all[(i * step) % n].clone(), received)
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn mapper() -> Mapper {
    let opts = MappingOptions {
        default_region: parse_region("US").unwrap(),
        id_domain: None,
        custodian_domains: vec!["corp.example".to_owned()],
    };
    let csv = format!("identity,mailbox\n{BUSINESS},{EMPLOYEE}\n");
    // 555 numbers are fictional: kept, with a warning.
    let (table, _) = MappingTable::from_csv(csv.as_bytes(), &opts).unwrap();
    Mapper::new(table, opts).unwrap()
}

async fn capture_all(archive: &Path) {
    let capture = Capture::new(
        LocalDir::new(archive),
        Secret::new(APP_SECRET),
        Secret::new("verify"),
    );
    for (body, received) in deliveries() {
        let signature = sign(&Secret::new(APP_SECRET), &body);
        let reply = capture
            .receive(
                Request::Notify {
                    signature: Some(&signature),
                    body: &body,
                },
                received,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

async fn run(archive: &Path, mail: &Path) -> Report {
    let store = LocalDir::new(archive);
    let mut sources: Vec<Box<dyn Source>> = vec![Box::new(CloudInbox::new(LocalDir::new(archive)))];
    let opts = RunOptions {
        convert: ConvertOptions::default(),
        day: CollectionDay(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
        now: NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
            .and_utc(),
    };
    let mut report = Report::default();
    let mut lanes = [Maildir::new(mail)];
    embedded::run(
        &mut sources,
        &store,
        &mut lanes,
        &mapper(),
        &opts,
        &mut report,
    )
    .await
    .unwrap();
    report
}

/// Every delivered message, by `X-Archiver-Item-Id`: its headers.
fn delivered(mail: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![mail.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let parent = path.parent().unwrap().file_name().unwrap();
            if parent != "cur" && parent != "new" {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
            let mut headers: Vec<(String, String)> = message
                .headers_raw()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("Subject"))
                .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
                .collect();
            headers.push((
                "Subject".to_owned(),
                message.subject().unwrap_or("").to_owned(),
            ));
            let id = headers
                .iter()
                .find(|(n, _)| n == "X-Archiver-Item-Id")
                .map(|(_, v)| v.clone())
                .expect("an item id header");
            assert!(
                out.insert(id.clone(), headers).is_none(),
                "item {id} delivered twice"
            );
        }
    }
    out
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

fn id_of(wamid_suffix: &str) -> String {
    message_item_id(&format!("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz{wamid_suffix}")).to_string()
}

fn business_id_of(suffix: &str) -> String {
    message_item_id(&format!("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJC{suffix}")).to_string()
}

#[tokio::test]
async fn every_fixture_three_times_out_of_order_is_one_message_per_wamid() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, mail) = (dir.path().join("archive"), dir.path().join("mail"));
    capture_all(&archive).await;
    let report = run(&archive, &mail).await;
    assert!(report.errors.is_empty(), "{report}");
    let messages = delivered(&mail);
    assert_eq!(messages.len(), ITEMS, "{report}");
    assert_eq!(report.copies_delivered(), ITEMS as u64, "{report}");

    // Statuses are counted once each, per day, and not mailed.
    let statuses = &report.delivery_statuses["2026-11-30"];
    for status in ["sent", "delivered", "read", "failed"] {
        assert_eq!(statuses.get(status), Some(&1), "{status}: {report}");
    }
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("failed") && w.contains("130472")),
        "{report}"
    );
    assert!(
        report.warnings.iter().any(|w| w.contains("2593109")),
        "{report}"
    );
    assert!(
        report.warnings.iter().any(|w| w.contains("131026")),
        "{report}"
    );
    // The daily report counts them from collect's run record.
    let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let daily = DayReport::read(&LocalDir::new(&archive), day, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(daily.collect_runs, 1);
    for status in ["sent", "delivered", "read", "failed"] {
        assert_eq!(daily.delivery_statuses.get(status), Some(&1), "{status}");
    }
    assert!(
        daily.status_errors.keys().any(|e| e.contains("130472")),
        "{:?}",
        daily.status_errors
    );
    let cloud = &daily.sources["whatsapp-cloud"];
    // Each body came three times: one job per batch holding the message,
    // every one of them recorded by the ledger.
    assert_eq!(cloud.copies, cloud.delivered);
    assert!(cloud.copies >= ITEMS as u64, "{}", cloud.copies);
    assert_eq!((cloud.unmapped, cloud.failed), (0, 0));
    assert!(daily.html().contains("WhatsApp Cloud delivery statuses"));
    assert!(
        !daily.gaps.iter().any(|gap| gap.starts_with("mailbox ")),
        "{:?}",
        daily.gaps
    );
    // The next day brings nothing: each mailbox that had copies is silent.
    let next = DayReport::read(
        &LocalDir::new(&archive),
        day.succ_opt().unwrap(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let silent: Vec<&String> = next
        .gaps
        .iter()
        .filter(|gap| {
            gap.starts_with("mailbox ") && gap.contains("(whatsapp-cloud): no copies this day")
        })
        .collect();
    assert_eq!(silent.len(), daily.mailboxes.len(), "{:?}", next.gaps);

    // Edits, revokes and reactions point at their originals.
    let refers = |item: &str, original: &str| {
        let headers = &messages[item];
        let expected = format!(
            "<{}>",
            message_id(&shared::item::ItemId::parse(original).unwrap())
        );
        assert_eq!(header(headers, "In-Reply-To"), expected, "{item}");
    };
    refers(&business_id_of("E3"), &business_id_of("E1"));
    refers(&business_id_of("E4"), &business_id_of("E2"));
    refers(&id_of("ED1"), &id_of("IMG"));
    refers(&id_of("RV1"), &id_of("FWD"));
    refers(&id_of("RC1"), &id_of("T1"));
    refers(&id_of("RC2"), &id_of("T1"));
    refers(&id_of("BTN"), &business_id_of("Q1"));
    assert!(header(&messages[&business_id_of("E3")], "Subject").starts_with("EDITED"));
    assert!(header(&messages[&id_of("RV1")], "Subject").starts_with("RECALLED"));

    // The contact book names the customer; the business number is the
    // employee's mailbox, the sender of echoes.
    let text = &messages[&id_of("T1")];
    assert!(header(text, "From").contains("Pablo Morales"), "{text:?}");
    assert!(header(text, "To").contains(EMPLOYEE), "{text:?}");
    let echo = &messages[&business_id_of("E1")];
    assert!(header(echo, "From").contains(EMPLOYEE), "{echo:?}");

    // A second run finds everything collected and delivered.
    let again = run(&archive, &mail).await;
    assert_eq!(again.copies_delivered(), 0, "{again}");
    assert_eq!(delivered(&mail).len(), ITEMS);
}

#[test]
fn inspecting_the_fixtures_gives_one_item_per_wamid_in_time_order() {
    let mut bodies = fixtures();
    bodies.reverse();
    let twice: Vec<(String, Vec<u8>)> = bodies.iter().chain(&bodies).cloned().collect();
    let received = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let inspection = inspect(&twice, received);
    let items = &inspection.items;
    assert_eq!(items.len(), ITEMS);
    assert!(items.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let find = |id: String| -> &Item<'static> {
        items
            .iter()
            .find(|i| i.id.to_string() == id)
            .expect("the item")
    };
    let count = |kind: ItemKind| items.iter().filter(|i| i.kind == kind).count();
    assert_eq!(count(ItemKind::Reaction), 3);
    assert_eq!(count(ItemKind::Edit), 2);
    assert_eq!(count(ItemKind::Recall), 2);
    assert_eq!(count(ItemKind::Call), 3);
    assert_eq!(count(ItemKind::System), 1);
    let unrecognised: Vec<&str> = items
        .iter()
        .filter(|i| i.unrecognised)
        .map(|i| i.source_type.as_deref().unwrap())
        .collect();
    assert_eq!(unrecognised.len(), 3, "{unrecognised:?}");
    assert!(unrecognised.contains(&"hologram"));

    // The live copy of T1 wins over its history copy; a history echo is
    // from the business.
    let t1 = find(id_of("T1"));
    assert!(
        !t1.raw
            .as_bytes()
            .windows(15)
            .any(|w| w == b"history_context")
    );
    let h2 = find(message_item_id("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRIH2").to_string());
    assert_eq!(h2.sender.as_ref().unwrap().phone.as_deref(), Some(BUSINESS));
    let h3 = find(message_item_id("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBRIH3").to_string());
    assert!(h3.attachments[0].omitted);

    // Removed reactions say so.
    assert_eq!(
        find(id_of("RC2")).text.as_deref(),
        Some("(reaction removed)")
    );
    assert_eq!(
        find(id_of("RC3")).text.as_deref(),
        Some("(reaction removed)")
    );

    // A customer known only by BSUID and username.
    let bob = find(id_of("BS1")).sender.clone().unwrap();
    assert_eq!(bob.id.as_deref(), Some("US.8823400012345678901"));
    assert_eq!(bob.name.as_deref(), Some("Bob"));
    assert_eq!(bob.phone, None);

    // A group message.
    let group = find(id_of("GR1"));
    assert_eq!(group.conversation.kind, ConversationKind::Group);
    assert_eq!(
        group.sender.as_ref().unwrap().name.as_deref(),
        Some("Sheena Nelson")
    );

    // Media: names, types and the webhook's hash as hex.
    let doc = &find(id_of("DOC")).attachments[0];
    assert_eq!(doc.name, "invoice-2026-11.pdf");
    assert_eq!(doc.content_type, "application/pdf");
    assert_eq!(doc.sha256.as_ref().map(String::len), Some(64));
    let voice = &find(id_of("VOC")).attachments[0];
    assert!(
        voice.name.starts_with("voice-1519425132267587"),
        "{}",
        voice.name
    );

    // Calls: the completed one has its length, the failed one is missed.
    let calls: Vec<_> = items.iter().filter_map(|i| i.call).collect();
    assert!(
        calls
            .iter()
            .any(|c| c.duration_secs == Some(120) && !c.missed)
    );
    assert!(calls.iter().any(|c| c.missed));

    // Statuses are counted per day, not items.
    assert_eq!(inspection.statuses["2026-11-30"]["read"], 2);
}

/// One odd field never drops a whole body: a numeric
/// `display_phone_number` is read as its digits, a `"value": null` is an
/// empty change, and a change whose value has a field of the wrong shape
/// is skipped alone, with a note.
#[test]
fn an_odd_change_never_drops_the_body() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
      {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":15550783881,"phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Pablo"},"wa_id":"16505551234"}],
        "messages":[{"from":"16505551234","id":"wamid.ODD1","timestamp":"1796029200","type":"text","text":{"body":"still here"}}]}},
      {"field":"messages","value":null},
      {"field":"messages","value":{"messages":[{"from":"16505551234","id":"wamid.ODD2","timestamp":"1796029260","type":"text","text":{"body":"x"}}],"history":"not a list"}}]}]}"#;
    let received = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let inspection = inspect(&[("odd.json".to_owned(), body.to_vec())], received);
    assert_eq!(inspection.items.len(), 1, "{:?}", inspection.notes);
    let item = &inspection.items[0];
    assert_eq!(item.text.as_deref(), Some("still here"));
    let json = serde_json::to_string(item).unwrap();
    assert!(json.contains("15550783881"), "{json}");
    assert!(
        inspection
            .notes
            .iter()
            .any(|n| n
                .starts_with("odd.json: a change of webhook field \"messages\" could not be read")),
        "{:?}",
        inspection.notes
    );
}

/// Two call events without an id are two items (each known by its bytes),
/// and the same one delivered again, even re-serialised, is still one.
#[test]
fn calls_without_an_id_are_not_merged() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"calls","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
      "calls":[
        {"from":"16505551234","to":"15550783881","event":"connect","timestamp":"1796029200","direction":"USER_INITIATED"},
        {"from":"16505559999","to":"15550783881","event":"connect","timestamp":"1796029300","direction":"USER_INITIATED"}]}}]}]}"#;
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(body).unwrap())
            .unwrap();
    let received = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let inspection = inspect(
        &[
            ("a.json".to_owned(), body.to_vec()),
            ("b.json".to_owned(), pretty),
        ],
        received,
    );
    assert_eq!(inspection.items.len(), 2, "{:?}", inspection.items);
    assert!(inspection.items.iter().all(|i| i.kind == ItemKind::Call));
}
