//! The mapping CSV in the config bucket, as the convert function sees it.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::mapping::{Mapper, MappingError, MappingOptions, MappingTable, Severity};
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
    key: Option<String>,
    opts: MappingOptions,
    cached: Mutex<Option<([u8; 32], Arc<Mapper>)>>,
}

impl<S: ObjectStore> MappingSource<S> {
    /// The CSV at `key` in `store`; `None`: automatic mapping only.
    pub fn new(store: S, key: Option<String>, opts: MappingOptions) -> Self {
        MappingSource {
            store,
            key,
            opts,
            cached: Mutex::new(None),
        }
    }

    /// The mapper for the CSV as it is now. Row problems are logged (with
    /// their line numbers) when the CSV is parsed.
    pub async fn current(&self) -> Result<Arc<Mapper>, MappingSourceError> {
        let Some(key) = &self.key else {
            if let Some((_, mapper)) = &*self.cached.lock().expect("not poisoned") {
                return Ok(mapper.clone());
            }
            return self.build(&[0; 32], MappingTable::default());
        };
        let bytes = self
            .store
            .get(key)
            .await?
            .ok_or_else(|| MappingSourceError::NotFound(key.clone()))?;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some((cached, mapper)) = &*self.cached.lock().expect("not poisoned")
            && *cached == digest
        {
            return Ok(mapper.clone());
        }
        let invalid = |source| MappingSourceError::Invalid {
            key: key.clone(),
            source,
        };
        let (table, issues) = MappingTable::from_csv(&bytes, &self.opts).map_err(invalid)?;
        for issue in issues {
            match issue.severity() {
                Severity::Error => tracing::error!(mapping = %key, "{issue}"),
                Severity::Warning => tracing::warn!(mapping = %key, "{issue}"),
            }
        }
        self.build(&digest, table)
    }

    fn build(
        &self,
        digest: &[u8; 32],
        table: MappingTable,
    ) -> Result<Arc<Mapper>, MappingSourceError> {
        let mapper = Mapper::new(table, self.opts.clone()).map_err(|source| {
            MappingSourceError::Invalid {
                key: self.key.clone().unwrap_or_default(),
                source,
            }
        })?;
        let mapper = Arc::new(mapper);
        *self.cached.lock().expect("not poisoned") = Some((*digest, mapper.clone()));
        Ok(mapper)
    }
}
