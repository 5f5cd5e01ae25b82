//! What a killed run leaves half-written is swept at the next start: the
//! local store's temporary files, and this program's own files in the
//! Maildir folders' `tmp/` directories; nothing else is touched.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use shared::mailbox::{Envelope, Mailbox, Maildir, Message};
use shared::store::{LocalDir, ObjectStore};

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn the_store_sweep_removes_temporary_files_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path());
    let objects = [
        "eml/2026-11-10/0123.eml",
        "media/abcd",
        "delivered/alice@corp.example/ffee",
    ];
    for key in objects {
        store.put_new(key, key.as_bytes()).await.unwrap();
    }
    fs::write(dir.path().join(".lock"), b"").unwrap();
    fs::write(dir.path().join("media/.keep"), b"").unwrap();
    // A killed run's leftovers, at every depth (one large).
    fs::write(dir.path().join(".tmp-root"), b"x").unwrap();
    fs::write(dir.path().join("media/.tmp-Ab12Cd"), vec![0u8; 4 << 20]).unwrap();
    fs::write(dir.path().join("eml/2026-11-10/.tmp-xyz"), b"half an email").unwrap();
    // A group's shared file killed after it was linked under its keys and
    // before its temporary name went: the name goes, the objects stay.
    let shared = "delivered/bob@corp.example/ffee";
    store.put_new(shared, shared.as_bytes()).await.unwrap();
    fs::hard_link(
        dir.path().join(shared),
        dir.path().join("delivered/bob@corp.example/.tmp-Lk9Zq0"),
    )
    .unwrap();
    let before = files(dir.path());

    assert_eq!(store.sweep_temporary().unwrap(), 4);
    let after = files(dir.path());
    let swept: Vec<&str> = before
        .iter()
        .filter(|f| !after.contains(f))
        .map(String::as_str)
        .collect();
    assert_eq!(
        swept,
        [
            ".tmp-root",
            "delivered/bob@corp.example/.tmp-Lk9Zq0",
            "eml/2026-11-10/.tmp-xyz",
            "media/.tmp-Ab12Cd"
        ]
    );
    assert_eq!(store.get(shared).await.unwrap().unwrap(), shared.as_bytes());
    for key in objects {
        assert_eq!(store.get(key).await.unwrap().unwrap(), key.as_bytes());
    }
    assert!(dir.path().join(".lock").exists());
    assert!(dir.path().join("media/.keep").exists());
    // Nothing left: a second sweep removes nothing; a store not yet made is empty.
    assert_eq!(store.sweep_temporary().unwrap(), 0);
    let missing = LocalDir::new(dir.path().join("not-yet"));
    assert_eq!(missing.sweep_temporary().unwrap(), 0);
}

fn envelope<'a>(message_id: &'a str, bytes: &'a [u8]) -> Envelope<'a> {
    Envelope {
        message_id,
        message: Message::from_bytes(bytes),
        internal_date: chrono::DateTime::UNIX_EPOCH,
    }
}

#[tokio::test]
async fn the_maildir_sweep_removes_only_its_own_leftovers_from_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut maildir = Maildir::new(dir.path());
    let folder = "WhatsApp Archiver";
    let bytes = b"Message-ID: <kept@x>\r\nSubject: s\r\n\r\nbody\r\n";
    maildir
        .append("alice@corp.example", folder, &envelope("kept@x", bytes))
        .await
        .unwrap();
    maildir.commit().await.unwrap();
    let alice = dir.path().join("alice@corp.example");
    let tmp = alice.join(".WhatsApp Archiver/tmp");
    // A killed run's half-written messages, in two mailboxes.
    let ours = "0123456789abcdef0123456789abcdef.archiver:2,S";
    fs::write(tmp.join(ours), b"half").unwrap();
    let bob_tmp = dir.path().join("bob@corp.example/.Other/tmp");
    fs::create_dir_all(&bob_tmp).unwrap();
    fs::write(bob_tmp.join(ours), b"half").unwrap();
    // Another program's file in the same tmp/, and one in the inbox's.
    let foreign = "1764600000.M12P345.mailhost";
    fs::write(tmp.join(foreign), b"theirs").unwrap();
    fs::write(alice.join("tmp").join(ours), b"not a folder's").unwrap();
    // A concurrent delivery into the same tree, begun after this run.
    let started = SystemTime::now();
    std::thread::sleep(Duration::from_millis(50));
    let newer = "fedcba9876543210fedcba9876543210.archiver:2,S";
    fs::write(tmp.join(newer), b"being written").unwrap();
    let before = files(dir.path());

    assert_eq!(maildir.sweep_temporary(started).unwrap(), 2);
    let after = files(dir.path());
    let swept: Vec<&str> = before
        .iter()
        .filter(|f| !after.contains(f))
        .map(String::as_str)
        .collect();
    assert_eq!(
        swept,
        [
            format!("alice@corp.example/.WhatsApp Archiver/tmp/{ours}"),
            format!("bob@corp.example/.Other/tmp/{ours}"),
        ]
    );
    let found = maildir
        .find("alice@corp.example", folder, "kept@x")
        .await
        .unwrap();
    assert!(found.is_some(), "delivered messages stay");
    assert_eq!(maildir.sweep_temporary(started).unwrap(), 0);
    let missing = Maildir::new(dir.path().join("not-yet"));
    assert_eq!(missing.sweep_temporary(started).unwrap(), 0);
}
