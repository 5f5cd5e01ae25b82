//! The mapping CSV in the config bucket, as the convert function sees it.
//!
//! Two things differ from a local run, whose report goes to the
//! administrator's terminal:
//!
//! - The log is kept, searched and shared like any log, so it carries no
//!   identity (phone numbers, names, addresses): row problems are logged as
//!   one line per kind, with the number of rows and the first few line
//!   numbers, once per version of the CSV (not one line per row on every
//!   cold start).
//! - A new version that does not parse must not stop conversion: every
//!   batch would fail until its messages reach the dead-letter queue. The
//!   last good mapping stays in use, and every invocation that uses it
//!   instead of the new version logs an error with the fixed field
//!   `mapping_csv_invalid=1` (in the functions' JSON logs:
//!   `"fields":{…,"mapping_csv_invalid":1,…}`, metric filter
//!   `{ $.fields.mapping_csv_invalid = 1 }`) for an alarm. Only a function
//!   that has had no good mapping yet (a cold start) fails, since there is
//!   nothing to map with; it logs the same field, and its messages are
//!   retried.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::mapping::{Mapper, MappingError, MappingIssue, Severity};
use crate::settings::MappingSettings;
use crate::store::{ObjectStore, StoreError};

/// Line numbers logged per kind of row problem.
const LINES_SHOWN: usize = 5;

/// Why the mapping cannot be used (every message of the invocation then
/// fails and is retried, rather than being filed as unmapped).
#[derive(Debug, thiserror::Error)]
pub enum MappingSourceError {
    /// The config bucket could not be read.
    #[error("mapping CSV: {0}")]
    Store(#[from] StoreError),
    /// The configured object does not exist.
    #[error("mapping CSV {0} not found in the config bucket")]
    NotFound(String),
    /// The CSV is unusable as a whole, and no earlier version was usable
    /// (shown without the file's content, see [`MappingError::redacted`]).
    #[error("mapping CSV {key}: {}", .source.redacted())]
    Invalid {
        /// The object key.
        key: String,
        /// What is wrong.
        source: MappingError,
    },
}

/// The mapping CSV object; read on every call, parsed again only when its
/// bytes changed.
pub struct MappingSource<S> {
    store: S,
    settings: MappingSettings<String>,
    state: Mutex<State>,
}

/// What earlier calls found.
#[derive(Default)]
struct State {
    /// The mapper in use, and the SHA-256 of the bytes it was read from.
    good: Option<([u8; 32], Arc<Mapper>)>,
    /// The SHA-256 of the last bytes that did not parse while a good mapper
    /// was in use, and why (redacted), so they are not parsed again.
    bad: Option<([u8; 32], String)>,
}

impl<S: ObjectStore> MappingSource<S> {
    /// The CSV at `settings.csv` in `store` (`None`: automatic mapping
    /// only).
    pub fn new(store: S, settings: MappingSettings<String>) -> Self {
        MappingSource {
            store,
            settings,
            state: Mutex::new(State::default()),
        }
    }

    /// The mapper for the CSV as it is now. Row problems are logged when
    /// the CSV is parsed, as counts and line numbers per kind. When the CSV
    /// does not parse, the last good mapper is returned and an error with
    /// `mapping_csv_invalid=1` is logged.
    ///
    /// # Errors
    ///
    /// The store cannot be read, the object is missing, or the CSV does not
    /// parse and no earlier version did (a cold start: failing is right,
    /// the messages are retried and nothing is filed as unmapped).
    pub async fn current(&self) -> Result<Arc<Mapper>, MappingSourceError> {
        let key = self.settings.csv.as_deref();
        let bytes = match key {
            Some(key) => Some(
                self.store
                    .get(key)
                    .await?
                    .ok_or_else(|| MappingSourceError::NotFound(key.to_owned()))?,
            ),
            None => None,
        };
        let digest: [u8; 32] = bytes
            .as_deref()
            .map_or([0; 32], |b| Sha256::digest(b).into());
        let key = key.unwrap_or_default();
        {
            let state = self.state.lock().expect("not poisoned");
            if let Some((good, mapper)) = &state.good {
                if *good == digest {
                    return Ok(mapper.clone());
                }
                if let Some((bad, reason)) = &state.bad
                    && *bad == digest
                {
                    log_invalid(key, reason, true);
                    return Ok(mapper.clone());
                }
            }
        }
        let mut issues = IssueCounts::default();
        // A CSV that maps nobody would file every item as unmapped: in the
        // functions it is refused like one that does not parse.
        let parsed = self
            .settings
            .mapper(bytes.as_deref(), |issue| issues.add(&issue))
            .and_then(|mapper| match (&bytes, mapper.identities()) {
                (Some(_), 0) => Err(MappingError::NothingMapped),
                _ => Ok(mapper),
            });
        let mut state = self.state.lock().expect("not poisoned");
        match parsed {
            Ok(mapper) => {
                issues.log(key);
                let mapper = Arc::new(mapper);
                state.good = Some((digest, mapper.clone()));
                state.bad = None;
                Ok(mapper)
            }
            Err(source) => {
                let reason = source.redacted();
                let last_good = state.good.as_ref().map(|(_, mapper)| mapper.clone());
                log_invalid(key, &reason, last_good.is_some());
                match last_good {
                    Some(mapper) => {
                        state.bad = Some((digest, reason));
                        Ok(mapper)
                    }
                    None => Err(MappingSourceError::Invalid {
                        key: key.to_owned(),
                        source,
                    }),
                }
            }
        }
    }
}

/// Logs that the CSV at `key` does not parse, with the fixed field
/// `mapping_csv_invalid = 1` the alarm's metric filter matches (keep its
/// name and value).
fn log_invalid(key: &str, reason: &str, last_good_kept: bool) {
    let fallback = if last_good_kept {
        "the last good mapping stays in use"
    } else {
        "no mapping parsed yet: conversion waits for a good one"
    };
    tracing::error!(
        mapping = %key,
        mapping_csv_invalid = 1,
        error = reason,
        "mapping CSV does not parse; {fallback}"
    );
}

/// Row problems of one parse, by kind in order of first appearance.
#[derive(Default)]
struct IssueCounts {
    kinds: Vec<KindCount>,
}

/// The rows with one kind of problem.
struct KindCount {
    name: &'static str,
    severity: Severity,
    rows: u64,
    /// The first [`LINES_SHOWN`] lines.
    lines: Vec<u64>,
}

impl IssueCounts {
    /// Counts `issue` under its kind.
    fn add(&mut self, issue: &MappingIssue) {
        let name = issue.kind.name();
        let index = match self.kinds.iter().position(|kind| kind.name == name) {
            Some(index) => index,
            None => {
                self.kinds.push(KindCount {
                    name,
                    severity: issue.severity(),
                    rows: 0,
                    lines: Vec::with_capacity(LINES_SHOWN),
                });
                self.kinds.len() - 1
            }
        };
        let kind = &mut self.kinds[index];
        kind.rows += 1;
        if kind.lines.len() < LINES_SHOWN {
            kind.lines.push(issue.line);
        }
    }

    /// One log line per kind: its name, how many rows, the first lines.
    fn log(&self, key: &str) {
        for kind in &self.kinds {
            let mut lines: Vec<String> = kind.lines.iter().map(u64::to_string).collect();
            if kind.rows > kind.lines.len() as u64 {
                lines.push("…".to_owned());
            }
            let lines = lines.join(", ");
            let (issue, rows) = (kind.name, kind.rows);
            let message = "mapping CSV rows with a problem (identities are not logged: \
                           see these lines of the file)";
            match kind.severity {
                Severity::Error => {
                    tracing::error!(mapping = %key, issue, rows, lines = lines.as_str(), "{message}")
                }
                Severity::Warning => {
                    tracing::warn!(mapping = %key, issue, rows, lines = lines.as_str(), "{message}")
                }
            }
        }
    }
}
