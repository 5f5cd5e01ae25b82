//! AWS Secrets Manager as a secret store, for the Lambda functions.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use super::{Secret, SecretError, SecretStore};
use crate::json_error;

/// One Secrets Manager secret holding a JSON object of named values, e.g.
/// `{"password": "..."}` or `{"client_secret": "..."}`.
///
/// It is read once (at function init) and kept in memory; the values never
/// pass through environment variables, and `Debug` shows only the names.
/// The default holds no value (a target that authenticates with nothing).
#[derive(Default)]
pub struct SecretsManagerSecret {
    values: BTreeMap<String, Secret>,
}

impl std::fmt::Debug for SecretsManagerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerSecret")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretsManagerSecret {
    /// Reads the secret `secret_id` (name or ARN).
    pub async fn load(client: &Client, secret_id: &str) -> Result<Self, SecretError> {
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| SecretError::Store {
                name: secret_id.to_owned(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| SecretError::Unusable(secret_id.to_owned()))?;
        Self::from_json(secret_id, text)
    }

    /// Parses the secret's JSON object of string values.
    fn from_json(secret_id: &str, text: &str) -> Result<Self, SecretError> {
        let map: BTreeMap<String, String> =
            serde_json::from_str(text).map_err(|e| SecretError::Store {
                name: secret_id.to_owned(),
                reason: format!(
                    "not a JSON object of string values ({})",
                    json_error::describe(&e)
                ),
            })?;
        let values = map
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(name, mut value)| {
                let secret = Secret::new(value.trim());
                zeroize::Zeroize::zeroize(&mut value);
                (name, secret)
            })
            .collect();
        Ok(SecretsManagerSecret { values })
    }
}

impl SecretStore for SecretsManagerSecret {
    async fn secret(&self, name: &str) -> Result<Secret, SecretError> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn named_values_of_a_json_secret() {
        let secret =
            SecretsManagerSecret::from_json("arn:x", r#"{"password":"hunter2","blank":" "}"#)
                .unwrap();
        assert_eq!(secret.secret("password").await.unwrap().expose(), "hunter2");
        assert!(matches!(
            secret.secret("blank").await,
            Err(SecretError::NotFound(_))
        ));
        assert!(!format!("{secret:?}").contains("hunter2"));
        let bad = SecretsManagerSecret::from_json("arn:x", "hunter2").unwrap_err();
        assert!(!bad.to_string().contains("hunter2"), "{bad}");
    }
}
