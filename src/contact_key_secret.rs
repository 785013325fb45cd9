//! The contact key from Secrets Manager (`CONTACT_KEY_SECRET`): a secret whose string is the key
//! itself. Read once during init and never again: the key never changes, since every stored
//! contact key was computed with it (docs/security.md#contact-keys).

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::contact_key::{ContactKey, ContactKeyError};

#[derive(Debug, thiserror::Error)]
pub enum ContactKeySecretError {
    #[error("cannot read the contact key's secret {secret_id} (GetSecretValue): {message}")]
    Read { secret_id: String, message: String },
    #[error("secret {secret_id} has no string value: store the contact key as its SecretString")]
    NoString { secret_id: String },
    #[error("secret {secret_id}: {source}")]
    Key {
        secret_id: String,
        #[source]
        source: ContactKeyError,
    },
}

/// `GetSecretValue` of the current version, as the contact key. Errors name the secret, never
/// its value.
pub async fn read_contact_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<ContactKey, ContactKeySecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| ContactKeySecretError::Read {
            secret_id: secret_id.to_owned(),
            message: DisplayErrorContext(err).to_string(),
        })?;
    let key = output
        .secret_string()
        .ok_or_else(|| ContactKeySecretError::NoString {
            secret_id: secret_id.to_owned(),
        })?;
    ContactKey::new(key).map_err(|source| ContactKeySecretError::Key {
        secret_id: secret_id.to_owned(),
        source,
    })
}
