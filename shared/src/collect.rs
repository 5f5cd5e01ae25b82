//! The collect stage: the one loop that pulls every configured source into
//! raw batches.
//!
//! For each batch a source hands over (see [`crate::sources::Source`]),
//! collect writes, create-only and in this order: its media
//! (`media/<sha256>`), its originals and its lines
//! (`raw/<source>/<collection-day>/<batch>...`), and only then its
//! checkpoint (`collected/<source>/<position>`). A run killed anywhere
//! leaves at worst a batch without its checkpoint; the next run pulls the
//! same batch again under the same id and finds it stored.

use crate::layout::{self, Collected, CollectionDay, RawBatch};
use crate::report::Report;
use crate::sources::{Checkpoints, Source};
use crate::store::{Created, ObjectStore, StoreError};

/// Collects every source in turn; returns the raw batches written.
///
/// What a source cannot read is in the report; only store failures stop
/// the stage (a re-run resumes it).
pub async fn collect<S: ObjectStore>(
    sources: &mut [Box<dyn Source + '_>],
    archive: &S,
    day: CollectionDay,
    report: &mut Report,
) -> Result<Vec<RawBatch>, StoreError> {
    let mut written = Vec::new();
    for source in sources {
        written.extend(collect_source(source.as_mut(), archive, day, report).await?);
    }
    Ok(written)
}

/// Collects one source until it has nothing more; returns the raw batches
/// written.
pub async fn collect_source<S: ObjectStore>(
    source: &mut dyn Source,
    archive: &S,
    day: CollectionDay,
    report: &mut Report,
) -> Result<Vec<RawBatch>, StoreError> {
    let name = source.name().to_owned();
    let prefix = layout::checkpoints_prefix(&name);
    let positions = archive.list(&prefix).await?.into_iter().filter_map(|key| {
        key.strip_prefix(&prefix)
            .filter(|position| !position.contains('/'))
            .map(str::to_owned)
    });
    let mut checkpoints = Checkpoints::new(positions);
    let mut written = Vec::new();
    while let Some(batch) = source.next_batch(&checkpoints, report).await? {
        let raw = RawBatch {
            source: name.clone(),
            day,
            id: batch.id,
        };
        for media in &batch.media {
            archive
                .put_new(&layout::media_key(&media.sha256), &media.bytes)
                .await?;
        }
        for original in &batch.originals {
            archive
                .put_new(&raw.original_key(&original.name), &original.bytes)
                .await?;
        }
        archive.put_new(&raw.key(), &batch.lines).await?;
        let record = Collected {
            origin: batch.origin,
            raw_key: raw.key(),
            items: batch.items,
        };
        let checkpoint = layout::checkpoint_key(&name, &batch.position);
        let created = archive
            .put_new(&checkpoint, &layout::record(&record))
            .await?;
        checkpoints.insert(batch.position);
        match created {
            Created::New => {
                report.collected(&name, batch.items);
                written.push(raw);
            }
            // The same batch twice in one pull (one file dropped twice).
            Created::Exists => report.already_collected(&name),
        }
    }
    Ok(written)
}
