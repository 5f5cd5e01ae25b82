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
    if !layout::is_source_name(&name) {
        report.error(format!(
            "source {name:?}: not usable as a folder name (raw/, collected/); not collected"
        ));
        return Ok(Vec::new());
    }
    let prefix = layout::checkpoints_prefix(&name);
    let positions = archive.list(&prefix).await?.into_iter().filter_map(|key| {
        key.strip_prefix(&prefix)
            .filter(|position| !position.contains('/'))
            .map(str::to_owned)
    });
    let mut checkpoints = Checkpoints::new(positions);
    let mut written = Vec::new();
    while let Some(batch) = source.next_batch(&checkpoints, report).await? {
        let plain = layout::is_plain_segment(&batch.id)
            && layout::is_plain_segment(&batch.position)
            && batch
                .originals
                .iter()
                .all(|o| layout::is_plain_segment(&o.name))
            && batch
                .media
                .iter()
                .all(|m| layout::is_plain_segment(&m.sha256));
        if !plain {
            report.error(format!(
                "source {name}: batch {:?} at position {:?} from {:?}: its id, position, original names and media hashes must be plain key segments; not stored",
                batch.id, batch.position, batch.origin
            ));
            // Seen, so that the source goes on to its next batch.
            checkpoints.insert(batch.position);
            continue;
        }
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

#[cfg(test)]
mod tests {
    use futures::future::BoxFuture;

    use super::*;
    use crate::sources::Batch;
    use crate::store::LocalDir;

    /// Hands out its batches once each, in order.
    struct Listed(Vec<Batch>);

    impl Source for Listed {
        fn name(&self) -> &str {
            "listed"
        }

        fn next_batch<'a>(
            &'a mut self,
            checkpoints: &'a Checkpoints,
            _report: &'a mut Report,
        ) -> BoxFuture<'a, Result<Option<Batch>, StoreError>> {
            let next = self
                .0
                .iter()
                .find(|b| !checkpoints.contains(&b.position))
                .cloned();
            Box::pin(async move { Ok(next) })
        }
    }

    fn batch(id: &str) -> Batch {
        Batch {
            id: id.to_owned(),
            position: id.to_owned(),
            origin: format!("test {id}"),
            lines: b"{}\n".to_vec(),
            items: 1,
            originals: Vec::new(),
            media: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_batch_whose_id_is_no_plain_segment_is_reported_and_the_pull_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let archive = LocalDir::new(dir.path());
        let mut source = Listed(vec![batch("a/b"), batch("ok")]);
        let day = CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        let mut report = Report::default();
        let written = collect_source(&mut source, &archive, day, &mut report)
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].id, "ok");
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].contains("\"a/b\""), "{:?}", report.errors);
    }
}
