//! The webhook token, from the deployment's Secrets Manager secret (template.yaml
//! `WebhookTokenSecret`: a JSON SecretString with the key `token`).

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use secrecy::SecretString;

use super::webhook_url::{TokenError, WebhookToken};

/// The JSON key of the token in the secret.
pub const TOKEN_KEY: &str = "token";

/// Messages name the secret, never its content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "secret {secret_id} does not exist in region {region} (or is scheduled for deletion): check \
         the stack's WebhookTokenSecretArn output, or pass the token in WEBHOOK_TOKEN"
    )]
    NotFound { secret_id: String, region: String },
    #[error(
        "secret {secret_id} has no SecretString (a binary secret?): expected {{\"token\":\"…\"}}"
    )]
    NoSecretString { secret_id: String },
    #[error("secret {secret_id} is not a JSON object: expected {{\"token\":\"…\"}}")]
    NotJsonObject { secret_id: String },
    #[error("secret {secret_id} has no string key \"token\": expected {{\"token\":\"…\"}}")]
    MissingTokenKey { secret_id: String },
    #[error("the token in secret {secret_id} is not usable: {source}")]
    InvalidToken {
        secret_id: String,
        #[source]
        source: TokenError,
    },
    #[error("cannot read secret {secret_id}: {message}")]
    Aws { secret_id: String, message: String },
}

impl SecretError {
    /// True when the AWS call itself failed (as opposed to what the secret holds).
    pub fn is_aws(&self) -> bool {
        matches!(self, SecretError::NotFound { .. } | SecretError::Aws { .. })
    }
}

/// `GetSecretValue`, then the `token` key of its JSON.
pub async fn fetch_webhook_token(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<WebhookToken, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| {
            if let SdkError::ServiceError(service) = &err
                && service.err().is_resource_not_found_exception()
            {
                return SecretError::NotFound {
                    secret_id: secret_id.to_owned(),
                    region: client
                        .config()
                        .region()
                        .map_or_else(|| "(none)".to_owned(), |r| r.to_string()),
                };
            }
            SecretError::Aws {
                secret_id: secret_id.to_owned(),
                message: DisplayErrorContext(&err).to_string(),
            }
        })?;
    let secret_string = output
        .secret_string()
        .ok_or_else(|| SecretError::NoSecretString {
            secret_id: secret_id.to_owned(),
        })?;
    token_from_secret_string(secret_string, secret_id)
}

/// The `token` of `{"token":"…"}`. Parse errors are not passed on: they may quote the content.
pub fn token_from_secret_string(
    secret_string: &str,
    secret_id: &str,
) -> Result<WebhookToken, SecretError> {
    let json: serde_json::Value =
        serde_json::from_str(secret_string).map_err(|_| SecretError::NotJsonObject {
            secret_id: secret_id.to_owned(),
        })?;
    let object = json.as_object().ok_or_else(|| SecretError::NotJsonObject {
        secret_id: secret_id.to_owned(),
    })?;
    let token = object
        .get(TOKEN_KEY)
        .and_then(|t| t.as_str())
        .ok_or_else(|| SecretError::MissingTokenKey {
            secret_id: secret_id.to_owned(),
        })?;
    WebhookToken::parse(SecretString::from(token)).map_err(|source| SecretError::InvalidToken {
        secret_id: secret_id.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    #[test]
    fn reads_the_token_key() {
        let json = format!(r#"{{"token":"{TOKEN}","other":1}}"#);
        assert_eq!(
            token_from_secret_string(&json, "arn")
                .unwrap()
                .expose_secret(),
            TOKEN
        );
    }

    #[test]
    fn explains_what_is_wrong_without_quoting_the_secret() {
        let cases = [
            (TOKEN.to_owned(), "is not a JSON object"),
            (format!(r#"["{TOKEN}"]"#), "is not a JSON object"),
            (
                format!(r#"{{"Token":"{TOKEN}"}}"#),
                "no string key \"token\"",
            ),
            (r#"{"token":12345}"#.to_owned(), "no string key \"token\""),
            (format!(r#"{{"token":"{}"}}"#, &TOKEN[..20]), "at least 32"),
        ];
        for (secret, expected) in cases {
            let err = token_from_secret_string(&secret, "arn:secret").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(text.contains("arn:secret"), "{text}");
            assert!(!text.contains(&TOKEN[..20]), "{text}");
            assert!(!err.is_aws());
        }
    }
}
