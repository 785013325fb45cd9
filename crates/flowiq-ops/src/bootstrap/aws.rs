//! The AWS calls of a run, with the user's credentials (the Lambda function's role plays no
//! part): the API key in SSM, the token's secret, the function's URL and environment
//! (`--function-name`), and the registration records (`item_type` `webhook`, docs/bootstrap.md)
//! in the project's table. Tests pass mocked or local clients.

use std::collections::HashMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationError;
use aws_sdk_lambda::operation::get_function_url_config::GetFunctionUrlConfigError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::BootstrapError::{self, Aws};
use super::cli::{check_api_key, check_token};
use super::flowiq::CreatedWebhook;
use super::{Settings, WebhookType, WebhookUrl};
use crate::deployment::load_sdk_config;
use flowiq_webhooks::keys;
use flowiq_webhooks::records::ItemType;

#[derive(Debug, Clone)]
pub struct AwsClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
}

/// An AWS call's result. A resource that does not exist gets its own message, `missing` (when
/// `is_missing` says the service's error means that), saying what to check; any other error is
/// `cannot <doing>` with the SDK's whole chain.
fn checked<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    is_missing: impl FnOnce(&E) -> bool,
    missing: String,
    doing: String,
) -> Result<T, BootstrapError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    result.map_err(|err| match err.as_service_error() {
        Some(e) if is_missing(e) => Aws(missing),
        _ => Aws(format!("cannot {doing}: {}", DisplayErrorContext(&err))),
    })
}

/// A client's region, for messages.
fn region(region: Option<&Region>) -> String {
    region.map_or_else(|| "(none)".to_owned(), ToString::to_string)
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        AwsClients {
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            secrets_manager: aws_sdk_secretsmanager::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }

    /// Clients with the user's AWS configuration, loaded only when the run can call AWS at all:
    /// a dry run with everything given reads nothing, not even the instance metadata service.
    pub async fn load(settings: &Settings) -> Self {
        if !settings.needs_aws() {
            let none = SdkConfig::builder().behavior_version(BehaviorVersion::latest());
            return Self::new(&none.build());
        }
        Self::new(&load_sdk_config(&settings.args.deployment).await)
    }

    /// `--api-key-ssm-parameter`: `GetParameter` with decryption (a SecureString).
    pub async fn api_key(&self, name: &str) -> Result<SecretString, BootstrapError> {
        let request = self.ssm.get_parameter().name(name).with_decryption(true);
        let missing = format!(
            "SSM parameter {name:?} does not exist in region {} (or you may not read it): \
             check --api-key-ssm-parameter and the region",
            region(self.ssm.config().region())
        );
        let doing = format!("read SSM parameter {name:?}");
        let is_missing = GetParameterError::is_parameter_not_found;
        let output = checked(request.send().await, is_missing, missing, doing)?;
        let value = output.parameter().and_then(|p| p.value()).unwrap_or("");
        check_api_key(value, &format!("SSM parameter {name}"))
    }

    /// The token from the stack's secret (`GetSecretValue`).
    pub async fn webhook_token(&self, secret_id: &str) -> Result<SecretString, BootstrapError> {
        let request = self.secrets_manager.get_secret_value().secret_id(secret_id);
        let missing = format!(
            "secret {secret_id} does not exist in region {} (or is scheduled for deletion): \
             check the stack's WebhookTokenSecretArn output, or pass the token in WEBHOOK_TOKEN",
            region(self.secrets_manager.config().region())
        );
        let is_missing = GetSecretValueError::is_resource_not_found_exception;
        let doing = format!("read secret {secret_id}");
        let output = checked(request.send().await, is_missing, missing, doing)?;
        token_from_secret(output.secret_string(), secret_id)
    }

    /// `--function-name`: the function's environment variables (`GetFunctionConfiguration`).
    pub async fn function_environment(
        &self,
        name: &str,
    ) -> Result<HashMap<String, String>, BootstrapError> {
        let request = self.lambda.get_function_configuration().function_name(name);
        let missing = format!(
            "Lambda function {name:?} does not exist in region {}: check --function-name and \
             the region (the one cargo lambda deploy used)",
            region(self.lambda.config().region())
        );
        let is_missing = GetFunctionConfigurationError::is_resource_not_found_exception;
        let doing = format!("read the configuration of Lambda function {name:?}");
        let output = checked(request.send().await, is_missing, missing, doing)?;
        Ok(output
            .environment
            .and_then(|e| e.variables)
            .unwrap_or_default())
    }

    /// `--function-name`: the function's URL (`GetFunctionUrlConfig`), as Lambda gives it (with a
    /// final `/`).
    pub async fn function_url(&self, name: &str) -> Result<String, BootstrapError> {
        let request = self.lambda.get_function_url_config().function_name(name);
        let missing = format!(
            "Lambda function {name:?} has no function URL: deploy it with `cargo lambda \
             deploy --enable-function-url`, or pass the receiver's base URL with --url"
        );
        let is_missing = GetFunctionUrlConfigError::is_resource_not_found_exception;
        let doing = format!("read the function URL of Lambda function {name:?}");
        Ok(checked(request.send().await, is_missing, missing, doing)?.function_url)
    }

    /// The record of an earlier registration (`GetItem`, consistent read).
    pub async fn find_registration(
        &self,
        table: &str,
        pk: &str,
    ) -> Result<Option<RegistrationRecord>, BootstrapError> {
        let sk = AttributeValue::S(RegistrationRecord::SK.to_owned());
        let request = (self.dynamodb.get_item().table_name(table))
            .key(keys::PK, AttributeValue::S(pk.to_owned()))
            .key(keys::SK, sk)
            .consistent_read(true);
        let doing = format!("read the registration records in table {table:?}");
        let output = self.table_checked(request.send().await, table, doing)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        serde_dynamo::from_item(item).map(Some).map_err(|e| {
            Aws(format!(
                "the registration record {pk} in table {table:?} is malformed: {e}"
            ))
        })
    }

    /// Writes (after `--force`: replaces) a record (`PutItem`).
    pub async fn put_registration(
        &self,
        table: &str,
        record: &RegistrationRecord,
    ) -> Result<(), BootstrapError> {
        let item = serde_dynamo::to_item(record).expect("strings serialise");
        let put = self.dynamodb.put_item().table_name(table);
        let sent = put.set_item(Some(item)).send().await;
        let doing = format!("write the registration record to table {table:?}");
        self.table_checked(sent, table, doing)?;
        Ok(())
    }

    /// [`checked`] for a table: a missing one gets its own message, the likeliest mistake
    /// (another region or stack).
    fn table_checked<T, E, R>(
        &self,
        result: Result<T, SdkError<E, R>>,
        table: &str,
        doing: String,
    ) -> Result<T, BootstrapError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let missing = format!(
            "table {table:?} does not exist in region {}: check --table-name / TABLE_NAME, or \
             the stack's TableName output",
            region(self.dynamodb.config().region())
        );
        let is_missing = |e: &E| e.code() == Some("ResourceNotFoundException");
        checked(result, is_missing, missing, doing)
    }
}

/// The `token` of the secret's `{"token":"…"}` (as template.yaml creates it). Messages name the
/// secret, never its content.
pub fn token_from_secret(
    secret_string: Option<&str>,
    secret_id: &str,
) -> Result<SecretString, BootstrapError> {
    let json: Option<serde_json::Value> = secret_string.and_then(|s| serde_json::from_str(s).ok());
    let token = json.as_ref().and_then(|json| json.get("token")?.as_str());
    let missing = format!(
        "secret {secret_id} is not a JSON object with a string key \"token\": expected \
         {{\"token\":\"…\"}}"
    );
    usable_token(token, missing, &format!("the token in secret {secret_id}"))
}

/// The function's variable naming its token secret (src/config.rs).
pub const TOKEN_SECRET_VARIABLE: &str = "WEBHOOK_TOKEN_SECRET";

/// The first token of the function's `WEBHOOK_TOKENS` (the current one; during a rotation the
/// previous one follows). Messages name the function, never a token.
pub fn token_from_function(
    environment: &HashMap<String, String>,
    function: &str,
) -> Result<SecretString, BootstrapError> {
    let tokens = environment.get("WEBHOOK_TOKENS");
    let first = tokens.and_then(|list| list.split(',').map(str::trim).find(|t| !t.is_empty()));
    let missing = format!(
        "Lambda function {function:?} has neither WEBHOOK_TOKEN_SECRET nor a token in \
         WEBHOOK_TOKENS: is it the FlowIQ webhook function? Otherwise pass the token in \
         WEBHOOK_TOKEN"
    );
    let source = format!("the first token of Lambda function {function:?}'s WEBHOOK_TOKENS");
    usable_token(first, missing, &source)
}

/// `token`, checked; `missing` says why there is none, `source` names it in the message.
fn usable_token(
    token: Option<&str>,
    missing: String,
    source: &str,
) -> Result<SecretString, BootstrapError> {
    let token = token.ok_or(Aws(missing))?;
    check_token(token).map_err(|problem| Aws(format!("{source} is not usable: {problem}")))
}

/// One registration with FlowIQ. The URL holds the token, so only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRecord {
    pub pk: String,
    pub sk: String,
    pub item_type: ItemType,
    pub webhook_id: String,
    pub event_type: String,
    pub platform: String,
    /// FlowIQ's `created_at` in UTC milliseconds when it is RFC 3339, else as sent.
    pub created_at: String,
    pub url_sha256: String,
    /// When this tool recorded it (UTC milliseconds).
    pub registered_at: String,
}

impl RegistrationRecord {
    pub const SK: &str = "WEBHOOK";

    /// `WEBHOOK#<platform>#<type>#<url_sha256>`.
    pub fn pk(url: &WebhookUrl, event_type: WebhookType) -> String {
        format!("WEBHOOK#{}#{event_type}#{}", url.platform, url.sha256_hex())
    }

    pub fn new(url: &WebhookUrl, event_type: WebhookType, created: &CreatedWebhook) -> Self {
        RegistrationRecord {
            pk: Self::pk(url, event_type),
            sk: Self::SK.to_owned(),
            item_type: ItemType::Webhook,
            webhook_id: created.id.clone(),
            event_type: event_type.to_string(),
            platform: url.platform.to_string(),
            created_at: flowiq_webhooks::clock::normalize_rfc3339(&created.created_at)
                .unwrap_or_else(|_| created.created_at.clone()),
            url_sha256: url.sha256_hex(),
            registered_at: flowiq_webhooks::clock::now_sortable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowiq_webhooks::platform::Platform;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    #[test]
    fn the_secret_must_hold_a_usable_token() {
        let short = &TOKEN[..20];
        for (secret, expected) in [
            (Some(format!(r#"{{"token":"{TOKEN}","other":1}}"#)), None),
            (
                None,
                Some("is not a JSON object with a string key \"token\""),
            ),
            (Some(TOKEN.to_owned()), Some("is not a JSON object")),
            (
                Some(format!(r#"["{TOKEN}"]"#)),
                Some("is not a JSON object"),
            ),
            (
                Some(format!(r#"{{"Token":"{TOKEN}"}}"#)),
                Some("string key \"token\""),
            ),
            (
                Some(r#"{"token":12345}"#.to_owned()),
                Some("string key \"token\""),
            ),
            (
                Some(format!(r#"{{"token":"{short}"}}"#)),
                Some("at least 32"),
            ),
        ] {
            match (token_from_secret(secret.as_deref(), "arn:secret"), expected) {
                (Ok(token), None) => {
                    assert_eq!(secrecy::ExposeSecret::expose_secret(&token), TOKEN)
                }
                (Err(e), Some(expected)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(expected) && text.contains("arn:secret"),
                        "{text}"
                    );
                    assert!(!text.contains(short), "{text}");
                }
                (outcome, _) => panic!("{secret:?}: {outcome:?}"),
            }
        }
    }

    #[test]
    fn created_at_is_normalised_when_it_is_rfc_3339() {
        let url = WebhookUrl::new("https://x", Platform::Web, TOKEN.into());
        for (sent, stored) in [
            ("2026-03-08T00:00:00.000+02:00", "2026-03-07T22:00:00.000Z"),
            ("yesterday", "yesterday"),
        ] {
            let created: CreatedWebhook = serde_json::from_value(serde_json::json!({
                "id": "wh", "url": "u", "type": "all", "platform": "web", "created_at": sent
            }))
            .unwrap();
            let record = RegistrationRecord::new(&url, WebhookType::ALL, &created);
            assert_eq!(record.created_at, stored);
        }
    }
}
