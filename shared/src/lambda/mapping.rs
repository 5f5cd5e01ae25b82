//! The mapping CSV in the config bucket, as the convert function sees it.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::mapping::{Mapper, MappingError, Severity};
use crate::settings::MappingSettings;
use crate::store::{ObjectStore, StoreError};

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
    /// The CSV is unusable as a whole.
    #[error("mapping CSV {key}: {source}")]
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
    cached: Mutex<Option<([u8; 32], Arc<Mapper>)>>,
}

impl<S: ObjectStore> MappingSource<S> {
    /// The CSV at `settings.csv` in `store` (`None`: automatic mapping
    /// only).
    pub fn new(store: S, settings: MappingSettings<String>) -> Self {
        MappingSource {
            store,
            settings,
            cached: Mutex::new(None),
        }
    }

    /// The mapper for the CSV as it is now. Row problems are logged (with
    /// their line numbers) when the CSV is parsed.
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
        if let Some((cached, mapper)) = &*self.cached.lock().expect("not poisoned")
            && *cached == digest
        {
            return Ok(mapper.clone());
        }
        let key = key.unwrap_or_default();
        let mapper = self
            .settings
            .mapper(bytes.as_deref(), |issue| match issue.severity() {
                Severity::Error => tracing::error!(mapping = %key, "{issue}"),
                Severity::Warning => tracing::warn!(mapping = %key, "{issue}"),
            })
            .map_err(|source| MappingSourceError::Invalid {
                key: key.to_owned(),
                source,
            })?;
        let mapper = Arc::new(mapper);
        *self.cached.lock().expect("not poisoned") = Some((digest, mapper.clone()));
        Ok(mapper)
    }
}
