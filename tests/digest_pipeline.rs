//! Daily-digest mode through the embedded pipeline into Maildir: a day of
//! 500 messages in 5 group chats gives each mapped mailbox 5 e-mails, each
//! holding its chat's 100 messages in order with their attachments; a
//! later export adding one message to that day gives one supplement per
//! mailbox and re-delivers nothing; a digest step stopped after its part
//! record, or after its e-mail, makes the same bytes when run again and
//! delivers nothing twice; a digest over the target's size limit attaches
//! what fits.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use shared::bundle;
use shared::embedded;
use shared::mailbox::Maildir;
use shared::reconcile;
use shared::report::Report;
use shared::settings::LocalSettings;
use shared::store::{LocalDir, ObjectStore};

use support::tree::files_under;

/// The day the chats' messages are from (UTC, as the config's zone).
const DAY: (i32, u32, u32) = (2026, 12, 1);

/// Chats, messages per chat, and every how many messages one has a file.
const CHATS: usize = 5;
const MESSAGES: usize = 100;
const FILE_EVERY: usize = 10;

/// The mapped participants' mailboxes (the custodian and one colleague).
const MAILBOXES: [&str; 2] = ["carol@corp.example", "dave@corp.example"];

/// The config: the export source in digest mode, a Maildir target.
fn write_config(dir: &Path) -> PathBuf {
    fs::write(
        dir.join("mapping.csv"),
        "External User ID,Microsoft 365 User Mailbox\n\
         Carol Jones,carol@corp.example\n\
         Dave Brown,dave@corp.example\n",
    )
    .unwrap();
    let config = dir.join("archiver.toml");
    fs::write(
        &config,
        "time_zone = \"UTC\"\n\
         default_region = \"GB\"\n\
         [store]\npath = \"archive\"\n\
         [drops]\npath = \"drops\"\n\
         [maildir]\npath = \"mail\"\n\
         [mapping]\ncsv = \"mapping.csv\"\ncustodian_domains = [\"corp.example\"]\n\
         [custodians]\n\"carol@corp.example\" = \"Carol Jones\"\n\
         [delivery]\nwhatsapp_export = \"digest\"\n",
    )
    .unwrap();
    config
}

/// Message `n` of chat `chat`: its time, author and text (the text names
/// both, so that order can be checked in the digest).
fn message(chat: usize, n: usize) -> (String, &'static str, String) {
    let authors = ["Carol Jones", "Dave Brown", "Erin Blake"];
    let seconds = 9 * 3600 + n * 37;
    let time = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    (time, authors[n % 3], format!("chat {chat} message {n:03}"))
}

/// A PNG of a few bytes (its content is not looked at).
fn png(chat: usize, n: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(format!("chat {chat} file {n}").bytes());
    bytes
}

/// `00000010-PHOTO-2026-12-01-09-06-10.png`.
fn file_name(n: usize, time: &str) -> String {
    format!("{n:08}-PHOTO-2026-12-01-{}.png", time.replace(':', "-"))
}

/// Chat `chat`'s title (no number: `Team 2` would be a copy of `Team`).
fn title(chat: usize) -> String {
    format!(
        "Project {}",
        ["Apple", "Birch", "Cedar", "Daisy", "Elder"][chat]
    )
}

/// Drops chat `chat`'s iOS export (a zip, with its files; the same bytes
/// every time) as `name`: [`MESSAGES`] messages, and with `late` one more
/// at 23:50.
fn drop_export(drops: &Path, chat: usize, name: &str, late: bool) {
    drop_messages(drops, chat, name, MESSAGES, late);
}

/// [`drop_export`] with `messages` messages.
fn drop_messages(drops: &Path, chat: usize, name: &str, messages: usize, late: bool) {
    let dir = drops.join("drop/whatsapp-export/carol@corp.example");
    fs::create_dir_all(&dir).unwrap();
    let file = fs::File::create(dir.join(name)).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut chat_text = String::new();
    let mut files = Vec::new();
    for n in 0..messages {
        let (time, author, text) = message(chat, n);
        chat_text.push_str(&format!("[01/12/26, {time}] {author}: {text}\n"));
        if n % FILE_EVERY == 0 {
            let name = file_name(n, &time);
            chat_text.push_str(&format!(
                "[01/12/26, {time}] {author}: \u{200e}<attached: {name}>\n"
            ));
            files.push((name, png(chat, n)));
        }
    }
    if late {
        chat_text.push_str(&format!(
            "[01/12/26, 23:50:00] Dave Brown: chat {chat} late message\n"
        ));
    }
    zip.start_file("_chat.txt", options).unwrap();
    zip.write_all(chat_text.as_bytes()).unwrap();
    for (name, bytes) in files {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Drops chat `chat`'s export of the day.
fn drop_chat(drops: &Path, chat: usize) {
    drop_export(
        drops,
        chat,
        &format!("WhatsApp Chat - {}.zip", title(chat)),
        false,
    );
}

/// The keys under `prefix` that hold `part`.
async fn keys_with(store: &LocalDir, prefix: &str, part: &str) -> Vec<String> {
    store
        .list(prefix)
        .await
        .unwrap()
        .into_iter()
        .filter(|key| key.contains(part))
        .collect()
}

/// One embedded run at `now`.
async fn run(config: &Path, now: DateTime<Utc>) -> Report {
    run_limited(config, now, None).await
}

/// One embedded run at `now`, to a target that takes messages of
/// `max_message_bytes` at most.
async fn run_limited(config: &Path, now: DateTime<Utc>, max_message_bytes: Option<u64>) -> Report {
    let settings = LocalSettings::load(config).unwrap();
    let mut report = Report::default();
    let mapper = settings.mapper(&mut report).unwrap();
    let mut opts = settings.run_options(now.date_naive(), now);
    opts.convert.max_message_bytes = max_message_bytes;
    let mut sources = settings.sources.configured(|dir| LocalDir::new(dir));
    let store = LocalDir::new(&settings.store);
    let mut lanes = [Maildir::new(config.parent().unwrap().join("mail"))];
    embedded::run(
        &mut sources,
        &store,
        &mut lanes,
        &mapper,
        &opts,
        &mut report,
    )
    .await
    .unwrap();
    report
}

/// The messages in a mailbox's WhatsApp folder, by file name.
fn folder(mail: &Path, mailbox: &str) -> BTreeMap<String, Vec<u8>> {
    let folder = mail.join(mailbox).join(".WhatsApp Archiver");
    ["new", "cur"]
        .iter()
        .flat_map(|sub| files_under(&folder.join(sub)))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(path).unwrap())
        })
        .collect()
}

fn at(day_offset: u64, hour: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(DAY.0, DAY.1, DAY.2)
        .unwrap()
        .checked_add_days(chrono::Days::new(day_offset))
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
}

/// The texts of a digest's messages, in the order its plain body lists
/// them, and the names of its attached e-mails.
fn digest_contents(bytes: &[u8]) -> (String, Vec<String>, Vec<String>) {
    let message = MessageParser::default().parse(bytes).unwrap();
    let id = message.message_id().unwrap().to_owned();
    let plain = message.body_text(0).unwrap().into_owned();
    let texts = plain
        .lines()
        .filter(|line| line.starts_with("chat "))
        .map(str::to_owned)
        .collect();
    let mut attached = Vec::new();
    for part in message.attachments() {
        if let PartType::Message(inner) = &part.body {
            let name = part.attachment_name().unwrap().to_owned();
            // The item's own e-mail, with its file when it had one.
            let files: Vec<_> = inner
                .attachments()
                .filter_map(|a| a.attachment_name().map(str::to_owned))
                .collect();
            attached.push(format!("{name} {}", files.join(" ")).trim_end().to_owned());
        }
    }
    (id, texts, attached)
}

#[tokio::test]
async fn a_day_of_five_chats_gives_five_digests_per_mailbox_and_a_late_item_one_supplement() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let drops = dir.path().join("drops");
    for chat in 0..CHATS {
        drop_chat(&drops, chat);
    }
    let mail = dir.path().join("mail");

    // During the day: converted, nothing delivered yet; the collection
    // day stays open while its items wait for their digest.
    let report = run(&config, at(0, 18)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.digests_written, 0);
    for mailbox in MAILBOXES {
        assert!(folder(&mail, mailbox).is_empty(), "{mailbox}");
    }
    let store = LocalDir::new(dir.path().join("archive"));
    let items = CHATS * (MESSAGES + MESSAGES / FILE_EVERY);
    let check = reconcile::check(&store, at(0, 0).date_naive())
        .await
        .unwrap();
    assert_eq!(check.awaiting_digest.len(), items);
    assert!(check.unaccounted.is_empty(), "{:?}", check.unaccounted);
    assert!(!check.is_complete());

    // The day is over: 5 digests per mailbox.
    let report = run(&config, at(1, 2)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut first = BTreeMap::new();
    for mailbox in MAILBOXES {
        let messages = folder(&mail, mailbox);
        assert_eq!(messages.len(), CHATS, "{mailbox}");
        let mut chats = Vec::new();
        for bytes in messages.values() {
            let (id, texts, attached) = digest_contents(bytes);
            let chat: usize = texts[0]["chat ".len()..][..1].parse().unwrap();
            let expected: Vec<String> = (0..MESSAGES).map(|n| message(chat, n).2).collect();
            assert_eq!(texts, expected, "{mailbox}: chat {chat} in order");
            // One e-mail per item: every message, and every 10th the
            // file-attached line, each with its file.
            assert_eq!(attached.len(), MESSAGES + MESSAGES / FILE_EVERY);
            let with_files: Vec<&String> = attached.iter().filter(|a| a.contains(".png")).collect();
            assert_eq!(with_files.len(), MESSAGES / FILE_EVERY, "{attached:?}");
            assert!(id.starts_with("digest-") && id.ends_with("-20261201@mobile-archiver"));
            chats.push(chat);
            first.insert((mailbox, id), bytes.clone());
        }
        chats.sort_unstable();
        assert_eq!(chats, (0..CHATS).collect::<Vec<_>>(), "{mailbox}");
    }
    // Reconcile counts the digests' copies and finds nothing open.
    let check = reconcile::check(&store, at(0, 0).date_naive())
        .await
        .unwrap();
    assert!(check.is_complete(), "{:?}", check.open_lines());
    assert_eq!(check.digests.len(), CHATS);
    assert_eq!(check.copies, (CHATS * MAILBOXES.len()) as u64);
    // The daily report counts the digests' e-mails and copies under their
    // conversations' source.
    let daily = shared::day_report::DayReport::read(&store, at(0, 0).date_naive(), at(1, 2))
        .await
        .unwrap();
    let export = &daily.sources["whatsapp-export"];
    assert_eq!(export.emails, CHATS as u64, "{export:?}");
    assert_eq!(
        export.copies,
        (CHATS * MAILBOXES.len()) as u64,
        "{export:?}"
    );
    assert_eq!(export.delivered, export.copies, "{export:?}");
    assert!(!daily.sources.contains_key("digest"), "{:?}", daily.sources);
    // Each conversation's day is marked closed with its item count: a
    // later run reads none of its parts again.
    let closed = keys_with(&store, "digest/", "/closed/").await;
    assert_eq!(closed.len(), CHATS, "{closed:?}");
    let per_chat = (MESSAGES + MESSAGES / FILE_EVERY).to_string();
    assert!(
        closed.iter().all(|key| key.ends_with(&per_chat)),
        "{closed:?}"
    );
    // An export bundle for a mailbox holds the items it got in digests,
    // each by its own e-mail, and no digest.
    let day = at(0, 0).date_naive();
    let selection = |mailbox: Option<&str>| bundle::Selection {
        custodian: None,
        mailbox: mailbox.map(str::to_owned),
        source: None,
        from: day,
        to: day,
    };
    for mailbox in [None, Some(MAILBOXES[1])] {
        let manifest = bundle::write(
            &store,
            &selection(mailbox),
            std::io::Cursor::new(Vec::new()),
        )
        .await
        .unwrap();
        assert_eq!(manifest.count, items, "{mailbox:?}");
        assert!(manifest.files.iter().all(|f| !f.path.contains("digest-")));
    }
    let stranger = selection(Some("erin@corp.example"));
    let manifest = bundle::write(&store, &stranger, std::io::Cursor::new(Vec::new()))
        .await
        .unwrap();
    assert_eq!(manifest.count, 0);

    // A later export of chat 2 with one more message of that day.
    drop_export(
        &drops,
        2,
        &format!("WhatsApp Chat - {} (1).zip", title(2)),
        true,
    );
    let report = run(&config, at(2, 2)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for mailbox in MAILBOXES {
        let messages = folder(&mail, mailbox);
        assert_eq!(messages.len(), CHATS + 1, "{mailbox}");
        let supplements: Vec<_> = messages
            .values()
            .map(|bytes| digest_contents(bytes))
            .filter(|(id, _, _)| !first.contains_key(&(mailbox, id.clone())))
            .collect();
        assert_eq!(supplements.len(), 1, "{mailbox}");
        let (id, texts, attached) = &supplements[0];
        assert!(id.ends_with("-20261201-1@mobile-archiver"), "{id}");
        assert_eq!(texts, &["chat 2 late message".to_owned()]);
        assert_eq!(attached.len(), 1);
        let supplement = MessageParser::default()
            .parse(
                &messages
                    .values()
                    .find(|b| digest_contents(b).0 == *id)
                    .unwrap()[..],
            )
            .unwrap()
            .in_reply_to()
            .as_text()
            .unwrap()
            .to_owned();
        assert!(
            supplement.ends_with("-20261201@mobile-archiver"),
            "{supplement}"
        );
    }

    let check = reconcile::check(&store, at(2, 0).date_naive())
        .await
        .unwrap();
    assert!(check.is_complete(), "{:?}", check.open_lines());
    assert_eq!(
        check.digests.len(),
        2,
        "the digest and the supplement of chat 2"
    );

    // Again: nothing new.
    let before: Vec<_> = MAILBOXES.iter().map(|m| folder(&mail, m)).collect();
    let report = run(&config, at(3, 2)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.digests_written, 0);
    let after: Vec<_> = MAILBOXES.iter().map(|m| folder(&mail, m)).collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_digest_step_stopped_after_its_part_record_or_its_email_makes_the_same_bytes_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    drop_chat(&dir.path().join("drops"), 0);
    run(&config, at(1, 2)).await;
    let store = LocalDir::new(dir.path().join("archive"));
    let digests = keys_with(&store, "eml/2026-12-01/", "/digest-").await;
    assert_eq!(digests.len(), 1, "{digests:?}");
    let made = store.get(&digests[0]).await.unwrap().unwrap();
    let jobs = store.list("jobs/digest/").await.unwrap();
    assert_eq!(jobs.len(), 1);
    let jobs_before = store.get(&jobs[0]).await.unwrap().unwrap();

    // What a step stopped after its part record had written: the part
    // record, but neither its e-mail nor its jobs nor the closed mark
    // (written last); nothing delivered.
    let root = dir.path().join("archive");
    let closed = keys_with(&store, "digest/", "/closed/").await;
    assert_eq!(closed.len(), 1);
    for key in digests.iter().chain(&jobs).chain(&closed) {
        fs::remove_file(root.join(key)).unwrap();
    }
    fs::remove_dir_all(dir.path().join("mail")).unwrap();
    for marker in ["started", "done", "delivered"] {
        let _ = fs::remove_dir_all(root.join(marker));
    }
    let report = run(&config, at(1, 3)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        store
            .list("digest/")
            .await
            .unwrap()
            .iter()
            .filter(|k| k.contains("/parts/"))
            .count(),
        1
    );
    assert_eq!(store.get(&digests[0]).await.unwrap().unwrap(), made);
    assert_eq!(store.get(&jobs[0]).await.unwrap().unwrap(), jobs_before);
    for mailbox in MAILBOXES {
        let messages = folder(&dir.path().join("mail"), mailbox);
        assert_eq!(messages.len(), 1, "{mailbox}");
    }

    // Stopped after its e-mail, before its job file: the e-mail found
    // stored, the same jobs, nothing delivered twice.
    for key in jobs.iter().chain(&closed) {
        fs::remove_file(root.join(key)).unwrap();
    }
    let _ = fs::remove_dir_all(root.join("done"));
    let report = run(&config, at(1, 4)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.digests_written, 0);
    assert_eq!(store.get(&jobs[0]).await.unwrap().unwrap(), jobs_before);
    for mailbox in MAILBOXES {
        let messages = folder(&dir.path().join("mail"), mailbox);
        assert_eq!(messages.len(), 1, "{mailbox}");
    }
}

#[tokio::test]
async fn a_digest_over_the_size_limit_attaches_what_fits_and_stubs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    drop_chat(&dir.path().join("drops"), 0);
    let limit = 300_000;
    let report = run_limited(&config, at(1, 2), Some(limit)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for mailbox in MAILBOXES {
        let messages = folder(&dir.path().join("mail"), mailbox);
        assert_eq!(messages.len(), 1, "{mailbox}");
        let bytes = messages.values().next().unwrap();
        assert!(bytes.len() as u64 <= limit, "{}", bytes.len());
        let (_, texts, attached) = digest_contents(bytes);
        // Every message's text is in the body, whatever is attached.
        assert_eq!(texts.len(), MESSAGES);
        let items = MESSAGES + MESSAGES / FILE_EVERY;
        assert!(
            !attached.is_empty() && attached.len() < items,
            "{}",
            attached.len()
        );
        let message = MessageParser::default().parse(&bytes[..]).unwrap();
        let stubs = message
            .attachments()
            .filter(|a| {
                a.attachment_name()
                    .is_some_and(|n| n.ends_with(".eml.stub.txt"))
            })
            .count();
        assert_eq!(attached.len() + stubs, items);
    }
}

/// A small chat's digest, byte for byte: `tests/fixtures/digest/digest.eml`
/// (`UPDATE_GOLDEN=1` rewrites it), so that a change to how digests are
/// rendered shows as a diff.
#[tokio::test]
async fn a_small_chats_digest_matches_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let name = format!("WhatsApp Chat - {}.zip", title(1));
    drop_messages(&dir.path().join("drops"), 1, &name, 3, false);
    let report = run(&config, at(1, 2)).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let store = LocalDir::new(dir.path().join("archive"));
    let digests = keys_with(&store, "eml/2026-12-01/", "/digest-").await;
    assert_eq!(digests.len(), 1, "{digests:?}");
    let made = store.get(&digests[0]).await.unwrap().unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/digest/digest.eml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(golden.parent().unwrap()).unwrap();
        fs::write(&golden, &made).unwrap();
    }
    let expected = fs::read(&golden).unwrap();
    assert!(
        made == expected,
        "the digest differs from {}",
        golden.display()
    );
}
