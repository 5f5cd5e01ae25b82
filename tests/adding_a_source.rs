//! The README's "Adding a source" recipe: a source made of nothing but a
//! type implementing `shared::sources::Source` (here over a fixture of two
//! items) goes through collect, convert and deliver with no other change,
//! and a second run collects and delivers nothing twice. (A source in the
//! library is also listed in `shared::settings::Sources`; a test crate
//! hands its source to the run directly.)

mod support;

use std::fs;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use shared::mailbox::Maildir;
use shared::report::Report;
use shared::sources::{Batch, Checkpoints, Pulled, Source};
use shared::store::{LocalDir, ObjectStore, StoreError};

use support::examples;

const ITEMS: &[u8] = include_bytes!("fixtures/test-source/items.jsonl");

/// A source whose only batch is the fixture's items.
struct Fixture;

impl Source for Fixture {
    fn name(&self) -> &str {
        "test-fixture"
    }

    fn pull<'a>(
        &'a mut self,
        checkpoints: &'a Checkpoints,
        _report: &'a mut Report,
    ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
        Box::pin(async move {
            // The batch id is the content's hash (the batch-id contract),
            // and so is the checkpoint position.
            let id = hex::encode(Sha256::digest(ITEMS));
            if checkpoints.contains(&id) {
                return Ok(None);
            }
            Ok(Some(Pulled::Batch(Batch {
                position: id.clone(),
                id,
                origin: "fixtures/test-source/items.jsonl".to_owned(),
                lines: ITEMS.to_vec(),
                items: 2,
                media: Vec::new(),
            })))
        })
    }
}

#[tokio::test]
async fn a_source_added_by_the_recipe_reaches_the_mailboxes_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDir::new(dir.path().join("archive"));
    let mail = dir.path().join("maildir");
    let run = || async {
        let mut sources: Vec<Box<dyn Source>> = vec![Box::new(Fixture)];
        examples::run(&mut sources, &store, &mut [Maildir::new(&mail)]).await
    };
    let first = run().await;
    assert_eq!(first.errors, Vec::<String>::new());
    assert_eq!((first.drops_collected, first.items_collected), (1, 2));
    assert_eq!(first.emails_written, 2);
    // +447400123456 is Bob's in the example mapping CSV.
    assert_eq!(first.delivered["bob@corp.example"], 2);
    let folder = mail.join("bob@corp.example/.WhatsApp Archiver/cur");
    assert_eq!(fs::read_dir(&folder).unwrap().count(), 2);
    let raw = store.list("raw/test-fixture/2026-11-21/").await.unwrap();
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(
        store.list("collected/test-fixture/").await.unwrap().len(),
        1
    );

    let second = run().await;
    assert_eq!(second.errors, Vec::<String>::new());
    assert_eq!(second.items_collected, 0);
    assert_eq!(second.copies_delivered(), 0);
    assert_eq!(fs::read_dir(&folder).unwrap().count(), 2);
}
