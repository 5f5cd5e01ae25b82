//! The collect stage: the one loop that pulls every configured source into
//! raw batches.
//!
//! For each unit a source hands over (see [`crate::sources::Source`]),
//! collect writes, create-only and in this order: the originals, as soon as
//! they are pulled and before the source reads them
//! (`raw/<source>/<collection-day>/<batch>/<file>`); then either the
//! batch's media (`media/<sha256>`) and lines
//! (`raw/<source>/<collection-day>/<batch>.jsonl`) or, for a unit that
//! could not be read, its refusal record (`failed/drops/<batch>.json`); and
//! then the fingerprints of what it wrote but media ([`Written`],
//! `fingerprints/<day>/collected/<source>/<batch>.json`: computed from the
//! bytes it writes, for the day's manifest; a key a crashed attempt had
//! taken is named only, as collect never reads the archive); and
//! only then its checkpoint (`collected/<source>/<position>`). A run killed
//! anywhere leaves at worst a batch without its checkpoint; the next run
//! pulls the same batch again under the same id and finds it stored. What
//! was pulled is kept even when reading it fails in a way no report could
//! tell (a panic, the end of the Lambda's time).
//!
//! Originals and media are local files ([`crate::store::ObjectFile`]),
//! streamed into the archive ([`ObjectStore::put_new_file`]): memory does
//! not grow with what people send.

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};

use crate::layout::{
    self, CollectRun, Collected, CollectionDay, Fingerprint, RawBatch, RefusedDrop, Written,
};
use crate::progress::{self, Event, Stage};
use crate::report::Report;
use crate::sources::{Batch, Checkpoints, Pulled, Refused, Source};
use crate::store::{Created, ObjectStore, StoreError};

/// Collects every source in turn; returns the raw batches written.
///
/// What a source cannot read is in the report; only store failures stop
/// the stage (a re-run resumes it). What the run noticed that no other
/// record keeps (delivery statuses, `seq` gaps, its problems) is written
/// last as its [`CollectRun`] record, for the daily report.
pub async fn collect<S: ObjectStore>(
    sources: &mut [Box<dyn Source + '_>],
    archive: &S,
    day: CollectionDay,
    report: &mut Report,
) -> Result<Vec<RawBatch>, StoreError> {
    let mut run = Report::default();
    let mut written = Vec::new();
    progress::tell(Event::Started {
        stage: Stage::Collect,
        total: None,
    });
    for source in sources {
        written.extend(collect_source(source.as_mut(), archive, day, &mut run).await?);
    }
    progress::tell(Event::Finished {
        stage: Stage::Collect,
    });
    let finished_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let record = CollectRun {
        sources: run.by_source.clone(),
        delivery_statuses: run.delivery_statuses.clone(),
        status_errors: run.status_errors.clone(),
        seq_gaps: run.seq_gaps.clone(),
        errors: run.errors.clone(),
        warnings: run.warnings.clone(),
        finished_at,
    };
    archive
        .put_new(
            &layout::collect_run_key(day.0, &record.finished_at),
            &layout::record(&record),
        )
        .await?;
    report.merge(run);
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
    // What collect wrote of each unit's originals, per unit id, until its
    // batch or refusal is stored.
    let mut originals_of: HashMap<String, Written> = HashMap::new();
    let raw = |id: &str| RawBatch {
        source: name.clone(),
        day,
        id: id.to_owned(),
    };
    while let Some(pulled) = source.pull(&checkpoints, report).await? {
        if let Some(bad) = not_plain(&pulled) {
            report.error(format!(
                "source {name}: {bad:?} is not a plain key segment (a batch id, position or media hash); not stored"
            ));
            // Seen, so that the source goes on to its next unit.
            if let Pulled::Batch(Batch { position, .. })
            | Pulled::Refused(Refused { position, .. }) = pulled
            {
                checkpoints.insert(position);
            }
            continue;
        }
        let position = match pulled {
            Pulled::Originals(originals) => {
                let raw = raw(&originals.id);
                let fingerprints = originals_of.entry(originals.id).or_default();
                for original in &originals.originals {
                    let key = raw.original_key(&original.name);
                    let computed =
                        Fingerprint::from_digest(original.content.sha256().map_err(|source| {
                            StoreError::Io {
                                key: key.clone(),
                                source,
                            }
                        })?);
                    let created = archive.put_new_file(&key, &original.content).await?;
                    fingerprints.add(key, created, computed);
                }
                continue;
            }
            Pulled::Batch(batch) => {
                let raw = raw(&batch.id);
                let items = batch.items;
                let originals = originals_of.remove(&batch.id).unwrap_or_default();
                let (position, created) =
                    store_batch(archive, &raw, batch, originals, &mut checkpoints).await?;
                match created {
                    Created::New => {
                        report.collected(&name, items);
                        written.push(raw);
                    }
                    // The same batch twice in one pull (one file dropped twice).
                    Created::Exists => report.already_collected(&name),
                }
                position
            }
            Pulled::Refused(refused) => {
                let raw = raw(&refused.id);
                let originals = originals_of.remove(&refused.id).unwrap_or_default();
                let (position, created, problem) =
                    store_refusal(archive, &raw, refused, originals, &mut checkpoints).await?;
                match created {
                    Created::New => {
                        report.drops_refused += 1;
                        report.error(problem);
                    }
                    Created::Exists => report.already_collected(&name),
                }
                position
            }
        };
        source.checkpointed(&position, report).await;
        progress::tell(Event::Advanced {
            stage: Stage::Collect,
            by: 1,
        });
    }
    Ok(written)
}

/// The first name of a pulled unit that cannot be one segment of a key.
fn not_plain(pulled: &Pulled) -> Option<&str> {
    let names: Vec<&str> = match pulled {
        // Original names are made one segment by the layout.
        Pulled::Originals(originals) => vec![originals.id.as_str()],
        Pulled::Batch(batch) => [batch.id.as_str(), batch.position.as_str()]
            .into_iter()
            .chain(batch.media.iter().map(|m| m.sha256.as_str()))
            .collect(),
        Pulled::Refused(refused) => vec![refused.id.as_str(), refused.position.as_str()],
    };
    names
        .into_iter()
        .find(|name| !layout::is_plain_segment(name))
}

/// Media up to this size are written in groups ([`ObjectStore::put_all`]).
const SMALL_MEDIA_BYTES: u64 = 1 << 20;

/// Bytes of small media held for one group at most.
const GROUP_MEDIA_BYTES: u64 = 32 << 20;

impl Written {
    /// Records an object written: its fingerprint `computed` from the
    /// bytes when the write created it; only its key when the key was
    /// taken (collect does not read the archive back).
    fn add(&mut self, key: String, created: Created, computed: Fingerprint) {
        match created {
            Created::New => {
                self.objects.insert(key, computed);
            }
            Created::Exists => self.stored_before.push(key),
        }
    }
}

/// Stores a batch's media, lines, the fingerprints of its lines and
/// `originals` and then its checkpoint; returns its position and whether
/// the checkpoint is new.
async fn store_batch<S: ObjectStore>(
    archive: &S,
    raw: &RawBatch,
    batch: Batch,
    mut written: Written,
    checkpoints: &mut Checkpoints,
) -> Result<(String, Created), StoreError> {
    // Small files are written in groups made durable together; a large
    // one is streamed on its own.
    let mut group = Vec::new();
    let mut group_bytes = 0;
    for media in &batch.media {
        let key = layout::media_key(&media.sha256);
        if media.content.len() > SMALL_MEDIA_BYTES {
            archive.put_new_file(&key, &media.content).await?;
            continue;
        }
        let bytes = media.content.read_all().map_err(|source| StoreError::Io {
            key: key.clone(),
            source,
        })?;
        group_bytes += bytes.len() as u64;
        group.push((key, bytes));
        if group_bytes >= GROUP_MEDIA_BYTES {
            archive.put_all(std::mem::take(&mut group)).await?;
            group_bytes = 0;
        }
    }
    let lines = Fingerprint::of(&batch.lines);
    group.push((raw.key(), batch.lines));
    let created = archive.put_all(group).await?;
    let lines_created = *created.last().expect("the group holds the lines");
    written.add(raw.key(), lines_created, lines);
    written.raw_key = Some(raw.key());
    archive
        .put_new(&raw.collected_fingerprints_key(), &layout::record(&written))
        .await?;
    let record = Collected {
        origin: batch.origin,
        raw_key: Some(raw.key()),
        items: batch.items,
        refused_key: None,
    };
    let created = checkpoint(archive, raw, &batch.position, &record, checkpoints).await?;
    Ok((batch.position, created))
}

/// Stores a refusal's record, its and `originals`' fingerprints and then
/// its checkpoint (its original was stored when it was pulled); returns
/// its position, whether the checkpoint is new, and the problem for the
/// report.
async fn store_refusal<S: ObjectStore>(
    archive: &S,
    raw: &RawBatch,
    refused: Refused,
    mut written: Written,
    checkpoints: &mut Checkpoints,
) -> Result<(String, Created, String), StoreError> {
    let key = layout::refused_drop_key(&refused.id);
    let record = RefusedDrop {
        original_key: raw.original_key(&refused.file_name),
        drop_key: refused.origin,
        custodian: refused.custodian,
        file_name: refused.file_name,
        reason: refused.reason,
    };
    let bytes = layout::record(&record);
    let created = archive.put_new(&key, &bytes).await?;
    written.add(key.clone(), created, Fingerprint::of(&bytes));
    archive
        .put_new(&raw.collected_fingerprints_key(), &layout::record(&written))
        .await?;
    let problem = format!(
        "{}: refused ({}); the original is kept as {}, the reason in {key}",
        record.drop_key, record.reason, record.original_key
    );
    let checkpoint_record = Collected {
        origin: record.drop_key,
        raw_key: None,
        items: 0,
        refused_key: Some(key),
    };
    let created = checkpoint(
        archive,
        raw,
        &refused.position,
        &checkpoint_record,
        checkpoints,
    )
    .await?;
    Ok((refused.position, created, problem))
}

/// Writes the checkpoint of `position` and adds it to `checkpoints`.
async fn checkpoint<S: ObjectStore>(
    archive: &S,
    raw: &RawBatch,
    position: &str,
    record: &Collected,
    checkpoints: &mut Checkpoints,
) -> Result<Created, StoreError> {
    let key = layout::checkpoint_key(&raw.source, position);
    let created = archive.put_new(&key, &layout::record(record)).await?;
    checkpoints.insert(position.to_owned());
    Ok(created)
}

#[cfg(test)]
mod tests {
    use futures::future::BoxFuture;

    use super::*;
    use crate::store::LocalDir;

    /// Hands out the batches of these ids once each, in order.
    struct Listed(Vec<&'static str>);

    impl Source for Listed {
        fn name(&self) -> &str {
            "listed"
        }

        fn pull<'a>(
            &'a mut self,
            checkpoints: &'a Checkpoints,
            _report: &'a mut Report,
        ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
            let next = self
                .0
                .iter()
                .find(|id| !checkpoints.contains(id))
                .map(|id| Pulled::Batch(batch(id)));
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
            media: Vec::new(),
        }
    }

    /// Hands out these units once each, in order.
    struct Units(Vec<Pulled>);

    impl Source for Units {
        fn name(&self) -> &str {
            "units"
        }

        fn pull<'a>(
            &'a mut self,
            _checkpoints: &'a Checkpoints,
            _report: &'a mut Report,
        ) -> BoxFuture<'a, Result<Option<Pulled>, StoreError>> {
            let next = (!self.0.is_empty()).then(|| self.0.remove(0));
            Box::pin(async move { Ok(next) })
        }
    }

    fn originals(id: &str, bytes: &[u8]) -> Pulled {
        Pulled::Originals(crate::sources::Originals {
            id: id.to_owned(),
            originals: vec![crate::sources::Original {
                name: format!("{id}.zip"),
                content: std::sync::Arc::new(crate::store::ObjectFile::from_bytes(bytes).unwrap()),
            }],
        })
    }

    fn day() -> CollectionDay {
        CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap())
    }

    async fn written(archive: &LocalDir, raw: &RawBatch) -> Written {
        let bytes = archive
            .get(&raw.collected_fingerprints_key())
            .await
            .unwrap()
            .expect("collect recorded what it wrote");
        serde_json::from_slice(&bytes).unwrap()
    }

    fn raw(id: &str) -> RawBatch {
        RawBatch {
            source: "units".to_owned(),
            day: day(),
            id: id.to_owned(),
        }
    }

    #[tokio::test]
    async fn collect_records_the_fingerprints_of_a_batchs_lines_and_originals_and_of_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let archive = LocalDir::new(dir.path());
        let refused = Refused {
            id: "bad".to_owned(),
            position: "bad".to_owned(),
            origin: "drop/bad.zip".to_owned(),
            custodian: None,
            file_name: "bad.zip".to_owned(),
            reason: "not a zip".to_owned(),
        };
        let mut source = Units(vec![
            originals("ok", b"zip bytes"),
            Pulled::Batch(batch("ok")),
            originals("bad", b"not a zip"),
            Pulled::Refused(refused),
        ]);
        let mut report = Report::default();
        collect_source(&mut source, &archive, day(), &mut report)
            .await
            .unwrap();

        let ok = raw("ok");
        let expected = Written {
            raw_key: Some(ok.key()),
            objects: [
                (ok.key(), Fingerprint::of(b"{}\n")),
                (ok.original_key("ok.zip"), Fingerprint::of(b"zip bytes")),
            ]
            .into(),
            stored_before: Vec::new(),
        };
        assert_eq!(written(&archive, &ok).await, expected);
        let bad = written(&archive, &raw("bad")).await;
        assert_eq!(bad.raw_key, None);
        let record = layout::refused_drop_key("bad");
        let stored = archive.get(&record).await.unwrap().unwrap();
        assert_eq!(
            bad.objects,
            [
                (record, Fingerprint::of(&stored)),
                (
                    raw("bad").original_key("bad.zip"),
                    Fingerprint::of(b"not a zip")
                ),
            ]
            .into()
        );
    }

    #[tokio::test]
    async fn what_a_crashed_attempt_stored_is_named_not_fingerprinted() {
        let dir = tempfile::tempdir().unwrap();
        let archive = LocalDir::new(dir.path());
        let ok = raw("ok");
        // An earlier attempt stored other bytes under both keys, then died
        // before its checkpoint.
        archive
            .put_new(&ok.original_key("ok.zip"), b"first zip")
            .await
            .unwrap();
        archive
            .put_new(&ok.key(), b"{\"first\":1}\n")
            .await
            .unwrap();
        let mut source = Units(vec![
            originals("ok", b"zip bytes"),
            Pulled::Batch(batch("ok")),
        ]);
        let mut report = Report::default();
        collect_source(&mut source, &archive, day(), &mut report)
            .await
            .unwrap();
        let written = written(&archive, &ok).await;
        assert!(written.objects.is_empty(), "{written:?}");
        assert_eq!(written.stored_before, [ok.original_key("ok.zip"), ok.key()]);
    }

    #[tokio::test]
    async fn a_batch_whose_id_is_no_plain_segment_is_reported_and_the_pull_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let archive = LocalDir::new(dir.path());
        let mut source = Listed(vec!["a/b", "ok"]);
        let day = CollectionDay(chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        let mut report = Report::default();
        let written = collect_source(&mut source, &archive, day, &mut report)
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].id, "ok");
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].contains("a/b"), "{:?}", report.errors);
    }
}
