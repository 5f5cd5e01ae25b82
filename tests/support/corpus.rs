//! Synthetic rendered items and their delivery jobs, written into a store
//! the way the convert stage leaves them.

use std::borrow::Cow;

use chrono::{Duration, TimeZone, Utc};
use shared::item::{
    Conversation, ConversationKind, Item, ItemId, ItemKind, Participant, Raw, SourceKind, Timestamp,
};
use shared::jobs::DeliveryJob;
use shared::layout::{self, CollectionDay, ItemDay, RawBatch};
use shared::render::{self, RenderInput, RenderOptions};
use shared::store::{LocalDir, ObjectStore};

/// The mailbox addresses the corpus is spread over.
pub fn mailboxes(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("user{i:02}@corp.example"))
        .collect()
}

/// Writes `items` text messages, each delivered to one of `mailboxes`
/// (round robin), as EMLs and one job file; returns the jobs.
pub async fn write(
    store: &LocalDir,
    items: usize,
    mailboxes: usize,
    folder: &str,
) -> Vec<DeliveryJob> {
    let addresses = self::mailboxes(mailboxes);
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap();
    let mut jobs = Vec::with_capacity(items);
    let mut lines = Vec::new();
    for n in 0..items {
        let mailbox = &addresses[n % mailboxes];
        let text = format!("Synthetic message {n} for {mailbox}");
        let item = Item {
            id: ItemId::derive(&[b"corpus", n.to_string().as_bytes()]),
            source: SourceKind::WhatsappExport,
            kind: ItemKind::Message,
            source_type: None,
            unrecognised: false,
            timestamp: Timestamp(start + Duration::seconds(n as i64 * 7)),
            custodian: Some(Cow::Borrowed(mailbox)),
            conversation: Conversation {
                id: Cow::Owned(format!("corpus-{}", n % mailboxes)),
                kind: ConversationKind::Direct,
                title: Some(Cow::Borrowed("Client")),
            },
            sender: Some(Participant {
                name: Some(Cow::Borrowed("Client")),
                phone: Some(Cow::Borrowed("+447700900999")),
                ..Default::default()
            }),
            recipients: vec![Participant {
                email: Some(Cow::Borrowed(mailbox)),
                ..Default::default()
            }],
            text: Some(Cow::Owned(text)),
            attachments: vec![],
            edited: false,
            call: None,
            refers_to: None,
            raw: Raw::Text(Cow::Borrowed("synthetic")),
        };
        let addresses = [None, Some(mailbox.clone())];
        let input = RenderInput {
            item: &item,
            addresses: &addresses,
            files: &[],
            raw_object: None,
        };
        let eml = render::render(&input, &RenderOptions::default()).unwrap();
        let eml_key = layout::eml_key(ItemDay::of(&item), &item.id);
        store.put_new(&eml_key, &eml).await.unwrap();
        let job = DeliveryJob {
            mailbox: mailbox.clone(),
            folder: folder.to_owned(),
            eml_key,
            message_id: render::message_id(&item.id),
            timestamp: item.timestamp.to_rfc3339(),
            eml: None,
            stubbed: false,
        };
        serde_json::to_writer(&mut lines, &job).unwrap();
        lines.push(b'\n');
        jobs.push(job);
    }
    store.put_new(&batch().jobs_key(), &lines).await.unwrap();
    jobs
}

/// The raw batch the corpus's jobs belong to.
fn batch() -> RawBatch {
    RawBatch {
        source: "synthetic".to_owned(),
        day: CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()),
        id: "batch".to_owned(),
    }
}

/// Checks the store after a complete run of the corpus: one ledger entry
/// per job and the batch marked done.
pub async fn assert_fully_ledgered(store: &LocalDir, jobs: &[DeliveryJob]) {
    assert_eq!(store.list("delivered/").await.unwrap().len(), jobs.len());
    let done = store.get(&batch().done_key()).await.unwrap();
    assert!(done.is_some(), "the batch is marked done");
}
