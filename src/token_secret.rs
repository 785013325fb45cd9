//! The webhook tokens from Secrets Manager: read once during init and again every few minutes,
//! so that the token is never in the function's configuration (anyone with
//! `lambda:GetFunctionConfiguration` could read it there) and a rotation needs no redeploy
//! (docs/security.md#the-token).
//!
//! The secret is a JSON object: `{"token": "<current>"}`, and during a rotation
//! `{"token": "<new>", "previous": "<old>"}`: both are accepted until `previous` is removed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::webhook_tokens::{MIN_TOKEN_LENGTH, TokenProblem, WebhookTokens, token_problem};

/// How long an instance uses the tokens it read before reading the secret again: a rotation
/// (adding `previous`, then removing it) reaches every instance within this time.
pub const REFRESH_AFTER: Duration = Duration::from_secs(300);
/// After a failed re-read, the next attempt (the last good tokens stay in use meanwhile).
pub const RETRY_AFTER: Duration = Duration::from_secs(30);
/// The most a re-read may add to the delivery that triggers it (the function's budget:
/// README, "Configuration").
pub const REFRESH_BUDGET: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum TokenSecretError {
    #[error("cannot read secret {secret_id} (GetSecretValue): {message}")]
    Read { secret_id: String, message: String },
    #[error(
        "secret {secret_id} is not a JSON object with a string \"token\" (and, during a rotation, a string \"previous\"): expected {{\"token\":\"…\"}}"
    )]
    Format { secret_id: String },
    #[error(
        "the {key:?} of secret {secret_id} is {length} characters long; tokens need at least {MIN_TOKEN_LENGTH}"
    )]
    TooShort {
        secret_id: String,
        key: &'static str,
        length: usize,
    },
    #[error(
        "the {key:?} of secret {secret_id} has characters other than letters, digits, '-', '_', '.' and '~': it goes in a URL path"
    )]
    NotUrlSafe {
        secret_id: String,
        key: &'static str,
    },
    #[error("reading secret {secret_id} took longer than {REFRESH_BUDGET:?}")]
    TooSlow { secret_id: String },
}

/// The accepted tokens of a secret string. Messages name the secret and the key, never a value.
pub fn tokens_from_secret(
    secret_string: &str,
    secret_id: &str,
) -> Result<WebhookTokens, TokenSecretError> {
    let format = || TokenSecretError::Format {
        secret_id: secret_id.to_owned(),
    };
    let json: serde_json::Value = serde_json::from_str(secret_string).map_err(|_| format())?;
    let token = json
        .get("token")
        .and_then(|v| v.as_str())
        .ok_or_else(format)?;
    let previous = match json.get("previous") {
        None | Some(serde_json::Value::Null) => "",
        Some(value) => value.as_str().ok_or_else(format)?,
    };
    for (key, value) in [("token", token), ("previous", previous)] {
        if key == "previous" && value.is_empty() {
            continue;
        }
        match token_problem(value) {
            Some(TokenProblem::TooShort { length }) => {
                return Err(TokenSecretError::TooShort {
                    secret_id: secret_id.to_owned(),
                    key,
                    length,
                });
            }
            Some(TokenProblem::NotUrlSafe) => {
                return Err(TokenSecretError::NotUrlSafe {
                    secret_id: secret_id.to_owned(),
                    key,
                });
            }
            None => {}
        }
    }
    // Both are valid tokens (no commas): the list parses.
    Ok(WebhookTokens::parse(&format!("{token},{previous}")).expect("checked tokens"))
}

/// The stack's token secret (`WEBHOOK_TOKEN_SECRET`: its ARN or name).
#[derive(Debug, Clone)]
pub struct TokenSecret {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl TokenSecret {
    pub fn new(sdk_config: &SdkConfig, secret_id: impl Into<String>) -> Self {
        Self::with_client(aws_sdk_secretsmanager::Client::new(sdk_config), secret_id)
    }

    pub fn with_client(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
    ) -> Self {
        TokenSecret {
            client,
            secret_id: secret_id.into(),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// `GetSecretValue` of the current version, as accepted tokens.
    pub async fn fetch(&self) -> Result<WebhookTokens, TokenSecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| TokenSecretError::Read {
                secret_id: self.secret_id.clone(),
                message: DisplayErrorContext(err).to_string(),
            })?;
        let secret_string = output
            .secret_string()
            .ok_or_else(|| TokenSecretError::Format {
                secret_id: self.secret_id.clone(),
            })?;
        tokens_from_secret(secret_string, &self.secret_id)
    }
}

/// When the secret is read again: a re-read that fails keeps the last good tokens and is tried
/// again after [`RETRY_AFTER`].
#[derive(Debug)]
pub struct TokenRefresh {
    secret: TokenSecret,
    due: Mutex<Instant>,
}

impl TokenRefresh {
    /// Just read at `read_at`.
    pub fn new(secret: TokenSecret, read_at: Instant) -> Self {
        TokenRefresh {
            secret,
            due: Mutex::new(read_at + REFRESH_AFTER),
        }
    }

    /// The new tokens when a re-read is due and succeeds; `None` when none is due. A failure is
    /// returned once and retried later; the caller keeps its tokens either way.
    pub async fn refresh_if_due(
        &self,
        now: Instant,
    ) -> Option<Result<WebhookTokens, TokenSecretError>> {
        {
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            if now < *due {
                return None;
            }
            // Claimed before reading, so a slow or failing secret is read once per interval.
            *due = now + RETRY_AFTER;
        }
        let read = tokio::time::timeout(REFRESH_BUDGET, self.secret.fetch()).await;
        let result = read.unwrap_or_else(|_| {
            Err(TokenSecretError::TooSlow {
                secret_id: self.secret.secret_id.clone(),
            })
        });
        if result.is_ok() {
            *self.due.lock().unwrap_or_else(|e| e.into_inner()) = now + REFRESH_AFTER;
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn reads_the_token_and_the_previous_one_during_a_rotation() {
        let tokens = tokens_from_secret(&format!(r#"{{"token":"{A}"}}"#), "s").unwrap();
        assert!(tokens.verify(A) && !tokens.verify(B));
        let both = format!(r#"{{"token":"{A}","previous":"{B}"}}"#);
        let tokens = tokens_from_secret(&both, "s").unwrap();
        assert!(tokens.verify(A) && tokens.verify(B));
        for no_previous in [r#""previous":"""#, r#""previous":null"#] {
            let secret = format!(r#"{{"token":"{A}",{no_previous}}}"#);
            assert!(!tokens_from_secret(&secret, "s").unwrap().verify(""));
        }
    }

    #[test]
    fn refuses_unusable_secrets_without_quoting_them() {
        for (secret, expected) in [
            ("not json", "is not a JSON object"),
            (r#"{"token":7}"#, "is not a JSON object"),
            (r#"{"previous":"x"}"#, "is not a JSON object"),
            (
                r#"{"token":"short-secret-value"}"#,
                "\"token\" of secret s is 18 characters long",
            ),
            (
                &format!(r#"{{"token":"{A}","previous":"{A}/x"}}"#),
                "\"previous\" of secret s has characters",
            ),
        ] {
            let err = tokens_from_secret(secret, "s").err().unwrap().to_string();
            assert!(err.contains(expected), "{secret}: {err}");
            assert!(!err.contains("short-secret") && !err.contains(A), "{err}");
        }
    }
}
