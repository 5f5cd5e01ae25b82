//! The local object store, Maildir delivery and the exactly-once ledger,
//! on real directories.

use std::fs;

use chrono::{TimeZone, Utc};
use shared::layout::{CollectionDay, RawBatch, ledger_key};
use shared::ledger::{self, Job, Outcome, deliver_once};
use shared::mailbox::{Envelope, Mailbox, Maildir, Message};
use shared::store::{Created, LocalDir, ObjectStore, StoreError};

#[tokio::test]
async fn put_new_is_create_only_and_list_is_sorted_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    assert_eq!(
        store.put_new("eml/2026-01-02/b.eml", b"one").await.unwrap(),
        Created::New
    );
    assert_eq!(
        store.put_new("eml/2026-01-02/b.eml", b"two").await.unwrap(),
        Created::Exists
    );
    assert_eq!(
        store.get("eml/2026-01-02/b.eml").await.unwrap().unwrap(),
        b"one"
    );
    store.put_new("eml/2026-01-01/a.eml", b"").await.unwrap();
    store.put_new("raw/x.jsonl", b"").await.unwrap();
    assert_eq!(
        store.list("eml/").await.unwrap(),
        ["eml/2026-01-01/a.eml", "eml/2026-01-02/b.eml"]
    );
    assert_eq!(
        store.list("eml/2026-01-02").await.unwrap(),
        ["eml/2026-01-02/b.eml"]
    );
    assert!(store.list("nothing/").await.unwrap().is_empty());
    assert_eq!(store.get("eml/none").await.unwrap(), None);
    // No temporary files are left behind or listed.
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("eml/2026-01-02"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1);
}

#[tokio::test]
async fn keys_cannot_escape_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("root"));
    for key in [
        "../x",
        "/etc/passwd",
        "a/../../x",
        "a//b",
        "",
        "a\nb",
        "a\\b",
    ] {
        assert!(
            matches!(store.put_new(key, b"x").await, Err(StoreError::InvalidKey(k)) if k == key),
            "{key:?}"
        );
    }
    assert!(!dir.path().join("x").exists());
}

fn envelope<'a>(id: &'a str, bytes: &'a [u8]) -> Envelope<'a> {
    Envelope {
        message_id: id,
        message: Message::from_bytes(bytes),
        internal_date: Utc.with_ymd_and_hms(2026, 11, 3, 9, 1, 0).unwrap(),
    }
}

#[tokio::test]
async fn maildir_append_makes_a_seen_message_in_a_maildir_plus_plus_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::new(dir.path());
    let message = envelope("abc@mobile-archiver", b"Subject: hi\r\n\r\nbody\r\n");
    let appended = maildir
        .append("alice@corp.example", "WhatsApp Archiver", &message)
        .await
        .unwrap();
    // In place once committed.
    maildir.commit().await.unwrap();
    let folder = dir.path().join("alice@corp.example/.WhatsApp Archiver");
    assert!(folder.join("maildirfolder").exists());
    for sub in ["cur", "new", "tmp"] {
        assert!(folder.join(sub).is_dir());
        assert!(dir.path().join("alice@corp.example").join(sub).is_dir());
    }
    let name = appended.uid.unwrap();
    assert!(name.ends_with(":2,S"), "{name}");
    let path = folder.join("cur").join(&name);
    assert_eq!(fs::read(&path).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
    let mtime: chrono::DateTime<Utc> = fs::metadata(&path).unwrap().modified().unwrap().into();
    assert_eq!(mtime, message.internal_date);
    let found = maildir
        .find(
            "alice@corp.example",
            "WhatsApp Archiver",
            "abc@mobile-archiver",
        )
        .await
        .unwrap();
    assert_eq!(found.unwrap().uid.unwrap(), name);
    let other = maildir
        .find(
            "alice@corp.example",
            "WhatsApp Archiver",
            "other@mobile-archiver",
        )
        .await
        .unwrap();
    assert_eq!(other, None);
}

#[tokio::test]
async fn maildir_refuses_addresses_and_folders_that_are_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::new(dir.path());
    let message = envelope("m", b"x");
    for mailbox in ["../evil", "a/b", ".hidden", ""] {
        assert!(
            maildir.append(mailbox, "F", &message).await.is_err(),
            "{mailbox:?}"
        );
    }
    for folder in ["../x", "a/b", ".x", " ", "a\nb"] {
        assert!(
            maildir.append("a@b", folder, &message).await.is_err(),
            "{folder:?}"
        );
    }
}

fn count_messages(dir: &std::path::Path) -> usize {
    fs::read_dir(dir.join("cur"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn deliver_once_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let mut maildir = Maildir::new(dir.path().join("mail"));
    let folder_dir = dir.path().join("mail/bob@corp.example/.WhatsApp Archiver");
    let bytes = b"Message-ID: <m1@x>\r\n\r\nbody\r\n";
    let job = Job {
        mailbox: "bob@corp.example",
        folder: "WhatsApp Archiver",
        message: envelope("m1@x", bytes),
    };
    let now = Utc::now();
    let first = deliver_once(&store, &mut maildir, &job, false, now)
        .await
        .unwrap();
    assert_eq!(first, Outcome::Delivered);
    let again = deliver_once(&store, &mut maildir, &job, true, now)
        .await
        .unwrap();
    assert_eq!(again, Outcome::AlreadyDelivered);
    assert_eq!(count_messages(&folder_dir), 1);

    let entry = ledger::entry(&store, "bob@corp.example", "m1@x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.folder, "WhatsApp Archiver");
    assert_eq!(entry.sha256.len(), 64);
    assert!(entry.uid.is_some());

    // A crash between the append and the ledger write: the message is in
    // the folder, the ledger has nothing. The retry finds it and records it.
    let key = ledger_key("bob@corp.example", "m1@x");
    fs::remove_file(dir.path().join("store").join(&key)).unwrap();
    let retry = deliver_once(&store, &mut maildir, &job, true, now)
        .await
        .unwrap();
    assert_eq!(retry, Outcome::Recovered);
    assert_eq!(count_messages(&folder_dir), 1);
    assert!(store.get(&key).await.unwrap().is_some());
}

/// Ledger keys looked up ahead ([`Group::look_ahead`]) spare each copy's
/// own lookup once: the same copy asked again after its commit reads the
/// ledger and is not appended twice; a copy with an entry, or staged and
/// not committed when the keys were looked up, is not taken for absent.
#[tokio::test]
async fn a_copy_looked_up_ahead_is_delivered_once_though_asked_twice() {
    use shared::ledger::Group;

    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let mut maildir = Maildir::new(dir.path().join("mail"));
    let folder_dir = dir.path().join("mail/bob@corp.example/.WhatsApp Archiver");
    let job = |id: &'static str, bytes: &'static [u8]| Job {
        mailbox: "bob@corp.example",
        folder: "WhatsApp Archiver",
        message: envelope(id, bytes),
    };
    let x = job("x@m", b"Message-ID: <x@m>\r\n\r\nx\r\n");
    let y = job("y@m", b"Message-ID: <y@m>\r\n\r\ny\r\n");
    let now = Utc::now();
    deliver_once(&store, &mut maildir, &y, false, now)
        .await
        .unwrap();
    let mut group = Group::default();
    let bob = "bob@corp.example";
    group
        .look_ahead(&store, [(bob, "x@m"), (bob, "x@m"), (bob, "y@m")])
        .await;
    let first = group.deliver(0, &store, &mut maildir, &x, false, now);
    assert_eq!(first.await.unwrap(), Outcome::Delivered);
    group.commit(&store, &mut maildir).await.unwrap();
    let again = group.deliver(1, &store, &mut maildir, &x, false, now);
    assert_eq!(again.await.unwrap(), Outcome::AlreadyDelivered);
    let y_again = group.deliver(2, &store, &mut maildir, &y, false, now);
    assert_eq!(y_again.await.unwrap(), Outcome::AlreadyDelivered);
    group.commit(&store, &mut maildir).await.unwrap();
    // Looked up ahead again while a copy is staged (no entry yet): it is
    // not taken for absent, so after its commit it is not appended again.
    let z = job("z@m", b"Message-ID: <z@m>\r\n\r\nz\r\n");
    let staged = group.deliver(3, &store, &mut maildir, &z, false, now);
    assert_eq!(staged.await.unwrap(), Outcome::Delivered);
    group.look_ahead(&store, [(bob, "z@m")]).await;
    group.commit(&store, &mut maildir).await.unwrap();
    let z_again = group.deliver(4, &store, &mut maildir, &z, false, now);
    assert_eq!(z_again.await.unwrap(), Outcome::AlreadyDelivered);
    group.commit(&store, &mut maildir).await.unwrap();
    assert_eq!(count_messages(&folder_dir), 3);
}

/// Maildir writers as lanes on a runtime with worker threads: each lane
/// a thread of its own, every copy delivered once with its ledger entry,
/// a message given twice in the jobs delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maildir_lanes_on_threads_deliver_each_copy_once() {
    use shared::deliver::deliver_jobs;
    use shared::jobs::DeliveryJob;
    use shared::report::Report;

    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let mailboxes = [
        "a@corp.example",
        "b@corp.example",
        "c@corp.example",
        "d@corp.example",
    ];
    let mut jobs = Vec::new();
    for n in 0..50 {
        let key = format!("eml/2026-11-03/{n}.eml");
        let bytes = format!("Message-ID: <{n}@m>\r\n\r\nbody {n}\r\n");
        store.put_new(&key, bytes.as_bytes()).await.unwrap();
        for mailbox in mailboxes {
            jobs.push(DeliveryJob {
                mailbox: mailbox.to_owned(),
                folder: "WhatsApp Archiver".to_owned(),
                eml_key: key.clone(),
                message_id: format!("{n}@m"),
                timestamp: "2026-11-03T09:01:00Z".to_owned(),
                eml: None,
                stubbed: false,
            });
        }
    }
    // The same message again (an overlapping export), later in the jobs.
    jobs.push(jobs[5].clone());
    let mut lanes = vec![Maildir::new(dir.path().join("mail")); 3];
    let mut report = Report::default();
    let failed = deliver_jobs(&store, &mut lanes, &jobs, |_| false, None, &mut report).await;
    assert_eq!(failed, Vec::<usize>::new());
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(report.already_delivered, 1);
    for mailbox in mailboxes {
        let folder = dir
            .path()
            .join(format!("mail/{mailbox}/.WhatsApp Archiver"));
        assert_eq!(count_messages(&folder), 50, "{mailbox}");
        let entries = store.list(&format!("delivered/{mailbox}/")).await.unwrap();
        assert_eq!(entries.len(), 50, "{mailbox}");
    }
}

/// The copies committed together cost a local store one ledger file, of
/// one message or several: each copy's ledger key names it, and each reads
/// back its own entry.
#[tokio::test]
async fn copies_committed_together_share_one_ledger_file_and_each_reads_its_own_entry() {
    use std::os::unix::fs::MetadataExt;

    use shared::ledger::Group;

    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let mut maildir = Maildir::new(dir.path().join("mail"));
    let mailboxes = [
        "carol@corp.example",
        "alice@corp.example",
        "bob@corp.example",
    ];
    let messages = ["m2@x", "m3@x"];
    let mut group = Group::default();
    for (index, message_id) in messages.iter().enumerate() {
        let bytes = format!("Message-ID: <{message_id}>\r\n\r\nbody\r\n");
        for (tag, mailbox) in mailboxes.iter().enumerate() {
            let job = Job {
                mailbox,
                folder: "WhatsApp Archiver",
                message: envelope(message_id, bytes.as_bytes()),
            };
            let outcome = group
                .deliver(
                    index * 3 + tag,
                    &store,
                    &mut maildir,
                    &job,
                    false,
                    Utc::now(),
                )
                .await
                .unwrap();
            assert_eq!(outcome, Outcome::Delivered);
        }
    }
    group.commit(&store, &mut maildir).await.unwrap();

    let file = |mailbox: &str, message_id: &str| {
        fs::metadata(
            dir.path()
                .join("store")
                .join(ledger_key(mailbox, message_id)),
        )
        .unwrap()
    };
    for message_id in messages {
        for mailbox in mailboxes {
            assert_eq!(
                file(mailbox, message_id).ino(),
                file(mailboxes[0], "m2@x").ino()
            );
            let entry = ledger::entry(&store, mailbox, message_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (entry.mailbox.as_str(), entry.message_id.as_str()),
                (mailbox, message_id)
            );
        }
    }
    assert_eq!(file(mailboxes[0], "m2@x").nlink(), 6);
    // A key whose object lacks its mailbox's line is corrupt, not absent.
    let stray = ledger_key("dave@corp.example", "m2@x");
    fs::create_dir_all(dir.path().join("store/delivered/dave@corp.example")).unwrap();
    fs::hard_link(
        dir.path()
            .join("store")
            .join(ledger_key(mailboxes[0], "m2@x")),
        dir.path().join("store").join(&stray),
    )
    .unwrap();
    let error = ledger::entry(&store, "dave@corp.example", "m2@x")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("no entry for dave@corp.example"),
        "{error}"
    );
}

/// A message in two batches (overlapping exports); batch `b` appended it and
/// crashed before its ledger write. Batch `a` sorts first and never started,
/// yet must not append it again.
#[tokio::test]
async fn a_message_in_two_batches_is_not_duplicated_after_a_crash() {
    use shared::embedded::deliver_pending;
    use shared::jobs::DeliveryJob;
    use shared::report::Report;

    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let mail = dir.path().join("mail");
    let bytes = b"Message-ID: <x@mobile-archiver>\r\n\r\nbody\r\n";
    store.put_new("eml/2026-11-03/x.eml", bytes).await.unwrap();
    let job = DeliveryJob {
        mailbox: "bob@corp.example".to_owned(),
        folder: "WhatsApp Archiver".to_owned(),
        eml_key: "eml/2026-11-03/x.eml".to_owned(),
        message_id: "x@mobile-archiver".to_owned(),
        timestamp: "2026-11-03T09:01:00Z".to_owned(),
        eml: None,
        stubbed: false,
    };
    let line = format!("{}\n", serde_json::to_string(&job).unwrap());
    let batch = |id: &str| RawBatch {
        source: "whatsapp-export".to_owned(),
        day: CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap()),
        id: id.to_owned(),
    };
    let (a, b) = (batch("a"), batch("b"));
    for batch in [&a, &b] {
        store
            .put_new(&batch.jobs_key(), line.as_bytes())
            .await
            .unwrap();
    }
    // The crash: b started and appended (committed to the Maildir), no
    // ledger entry, no done marker.
    store.put_new(&b.started_key(), b"").await.unwrap();
    let mut maildir = Maildir::new(&mail);
    maildir
        .append(
            "bob@corp.example",
            "WhatsApp Archiver",
            &envelope("x@mobile-archiver", bytes),
        )
        .await
        .unwrap();
    maildir.commit().await.unwrap();

    let mut report = Report::default();
    deliver_pending(&store, std::slice::from_mut(&mut maildir), &mut report)
        .await
        .unwrap();
    assert_eq!(report.errors, Vec::<String>::new());
    let folder = mail.join("bob@corp.example/.WhatsApp Archiver");
    assert_eq!(count_messages(&folder), 1);
    assert_eq!(store.list("delivered/").await.unwrap().len(), 1);
    assert_eq!(
        store.list("done/").await.unwrap(),
        [a.done_key(), b.done_key()]
    );
}

/// A file swapped for a symbolic link after it was listed is not followed
/// when read: the link could name any file the process may read.
#[tokio::test]
async fn a_read_never_follows_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    store.put_new("drop/a.txt", b"drop").await.unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, b"password").unwrap();
    let path = dir.path().join("store/drop/a.txt");
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    let err = store.get("drop/a.txt").await.unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains("password"));
}

/// A job carries the fingerprint of the e-mail convert wrote: an e-mail
/// altered since is not delivered, and the report names it; the
/// unaltered one beside it is.
#[tokio::test]
async fn an_email_altered_since_convert_wrote_it_is_not_delivered() {
    use shared::deliver::deliver_jobs;
    use shared::jobs::DeliveryJob;
    use shared::layout::Fingerprint;
    use shared::report::Report;

    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("store"));
    let job = |id: &str, written: &[u8]| DeliveryJob {
        mailbox: "bob@corp.example".to_owned(),
        folder: "WhatsApp Archiver".to_owned(),
        eml_key: format!("eml/2026-11-03/{id}.eml"),
        message_id: format!("{id}@mobile-archiver"),
        timestamp: "2026-11-03T09:01:00Z".to_owned(),
        eml: Some(Fingerprint::of(written)),
        stubbed: false,
    };
    let kept = b"Message-ID: <k@mobile-archiver>\r\n\r\nbody\r\n";
    let written = b"Message-ID: <a@mobile-archiver>\r\n\r\nbody\r\n";
    let altered = b"Message-ID: <a@mobile-archiver>\r\n\r\nBODY\r\n";
    store.put_new("eml/2026-11-03/k.eml", kept).await.unwrap();
    store
        .put_new("eml/2026-11-03/a.eml", altered)
        .await
        .unwrap();
    let jobs = [job("k", kept), job("a", written)];
    let mut report = Report::default();
    let mut targets = [Maildir::new(dir.path().join("mail"))];
    let failed = deliver_jobs(&store, &mut targets, &jobs, |_| false, None, &mut report).await;
    assert_eq!(failed, [1]);
    let errors = report.errors.join("\n");
    assert!(
        errors.contains("eml/2026-11-03/a.eml is not the e-mail convert wrote"),
        "{errors}"
    );
    assert_eq!(
        count_messages(&dir.path().join("mail/bob@corp.example/.WhatsApp Archiver")),
        1
    );
}

/// Convert records the fingerprint of every e-mail it made of a batch
/// (unmapped items' too: no job carries theirs) and, where an e-mail was
/// stored already (the same items in an earlier batch, rendered then
/// naming that batch), of the stored one: what the day's manifest lists.
#[tokio::test]
async fn convert_records_the_fingerprint_of_each_email_as_stored() {
    use shared::convert::{ConvertOptions, convert_batch};
    use shared::jobs::StoreQueue;
    use shared::layout::{Fingerprint, Written};
    use shared::report::Report;
    use shared::settings::LocalSettings;

    let raw = include_bytes!("fixtures/lambda/raw-batch.jsonl");
    let settings = LocalSettings::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/archiver.toml"),
    )
    .unwrap();
    // Automatic mapping only: the fixture's items map to no one.
    let nobody = settings.mapping.mapper(None, |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let mut records = Vec::new();
    for key in [
        "raw/whatsapp-export/2026-11-21/first.jsonl",
        "raw/whatsapp-export/2026-11-21/again.jsonl",
    ] {
        store.put_new(key, raw).await.unwrap();
        let batch = RawBatch::parse(key).unwrap();
        let mut report = Report::default();
        convert_batch(
            &store,
            &StoreQueue,
            &batch,
            &nobody,
            &ConvertOptions::default(),
            &mut report,
        )
        .await
        .unwrap();
        assert_eq!(report.unmapped, 3, "{report:?}");
        let bytes = store
            .get(&batch.converted_fingerprints_key())
            .await
            .unwrap()
            .expect("convert recorded its e-mails");
        let written: Written = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written.raw_key.as_deref(), Some(key));
        records.push(written.objects);
    }
    assert_eq!(records[0].len(), 3);
    assert_eq!(records[0], records[1]);
    for (key, fingerprint) in &records[0] {
        let stored = store.get(key).await.unwrap().unwrap();
        assert_eq!(*fingerprint, Fingerprint::of(&stored), "{key}");
    }
}
