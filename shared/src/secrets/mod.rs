//! Secrets: passwords, client secrets and keys, read from a secret store at
//! start-up and never written to config, environment or logs.
//!
//! [`SecretFiles`] is the local store (one file per secret, readable by its
//! owner only); the Lambda functions read AWS Secrets Manager
//! ([`SecretsManagerSecret`]).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;

mod aws;

pub use aws::SecretsManagerSecret;

/// A secret value. Its `Debug` form hides the value, so it cannot leak
/// through logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The value is overwritten when the secret is dropped (the archive
/// secret, the PEM text of the WeCom private keys, passwords).
impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No secret of that name.
    #[error("secret {0:?} not found")]
    NotFound(String),
    /// The name cannot name a secret (path characters).
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    /// The secret file can be read by others than its owner.
    #[error("secret file {0} is readable by group or others: chmod 600 it")]
    Exposed(PathBuf),
    /// The secret is empty or not UTF-8 text.
    #[error("secret {0:?} is empty or not UTF-8 text")]
    Unusable(String),
    /// The store failed.
    #[error("secret {name:?}: {reason}")]
    Store {
        /// The secret's name.
        name: String,
        /// What went wrong.
        reason: String,
    },
}

/// A source of secrets by name.
pub trait SecretStore: Send + Sync {
    /// Reads a secret.
    fn secret(&self, name: &str) -> impl Future<Output = Result<Secret, SecretError>> + Send;
}

/// Secrets as files in a directory: `<dir>/<name>`, mode 0600; surrounding
/// whitespace (a trailing newline) is not part of the value.
#[derive(Debug, Clone)]
pub struct SecretFiles {
    dir: PathBuf,
}

impl SecretFiles {
    /// A store over the files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SecretFiles { dir: dir.into() }
    }
}

impl SecretStore for SecretFiles {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        let bad = name.is_empty()
            || name.starts_with('.')
            || name
                .chars()
                .any(|c| c == '/' || c == '\\' || c.is_control());
        if bad {
            return Err(SecretError::InvalidName(name.to_owned()));
        }
        let path = self.dir.join(name);
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::NotFound(name.to_owned()));
            }
            Err(e) => {
                return Err(SecretError::Store {
                    name: name.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if exposed(&metadata) {
            return Err(SecretError::Exposed(path));
        }
        let bytes = std::fs::read(&path).map_err(|e| SecretError::Store {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        match String::from_utf8(bytes) {
            Ok(text) if !text.trim().is_empty() => Ok(Secret(text.trim().to_owned())),
            _ => Err(SecretError::Unusable(name.to_owned())),
        }
    }
}

#[cfg(unix)]
fn exposed(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o077 != 0
}

#[cfg(not(unix))]
fn exposed(_metadata: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[tokio::test]
    async fn files_must_be_private_and_non_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = SecretFiles::new(dir.path());
        let path = dir.path().join("imap-password");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.secret("imap-password").await,
            Err(SecretError::Exposed(_))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            store.secret("imap-password").await.unwrap().expose(),
            "s3cret"
        );
        assert!(matches!(
            store.secret("missing").await,
            Err(SecretError::NotFound(_))
        ));
        assert!(matches!(
            store.secret("../x").await,
            Err(SecretError::InvalidName(_))
        ));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            store.secret("empty").await,
            Err(SecretError::Unusable(_))
        ));
    }
}
