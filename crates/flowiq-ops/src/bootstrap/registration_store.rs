//! The record of each webhook registered with FlowIQ (`item_type` `webhook` in the project's
//! table), so that running the tool again does not create a second, identical webhook.
//!
//! Key: `pk` = `WEBHOOK#<platform>#<type>#<sha256 of the full URL>`, `sk` = `WEBHOOK`. The URL
//! holds the secret token, so only its hash is stored — never the URL, never the token.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::flowiq_client::CreatedWebhook;
use super::webhook_type::WebhookType;
use super::webhook_url::WebhookUrl;
use flowiq_webhooks::keys;
use flowiq_webhooks::platform::Platform;
use flowiq_webhooks::records::ItemType;

pub const REGISTRATION_SK: &str = "WEBHOOK";

/// `WEBHOOK#<platform>#<type>#<url_sha256>`.
pub fn registration_pk(platform: Platform, event_type: WebhookType, url_sha256: &str) -> String {
    format!("WEBHOOK#{platform}#{event_type}#{url_sha256}")
}

/// One registration's key: the URL (by hash), its platform, and the event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationKey {
    pub platform: Platform,
    pub event_type: WebhookType,
    pub url_sha256: String,
}

impl RegistrationKey {
    pub fn new(url: &WebhookUrl, event_type: WebhookType) -> Self {
        RegistrationKey {
            platform: url.platform(),
            event_type,
            url_sha256: url.sha256_hex(),
        }
    }

    pub fn pk(&self) -> String {
        registration_pk(self.platform, self.event_type, &self.url_sha256)
    }
}

/// The stored item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationRecord {
    pub pk: String,
    pub sk: String,
    pub item_type: ItemType,
    /// FlowIQ's id of the webhook.
    pub webhook_id: String,
    /// The subscribed type (`all`, `message_received`, …).
    pub event_type: String,
    pub platform: String,
    /// FlowIQ's `created_at`, normalised to UTC milliseconds when it is RFC 3339 (else as sent).
    pub created_at: String,
    pub url_sha256: String,
    /// When this tool recorded it (UTC milliseconds).
    pub registered_at: String,
}

impl RegistrationRecord {
    pub fn new(key: &RegistrationKey, webhook: &CreatedWebhook, registered_at: String) -> Self {
        RegistrationRecord {
            pk: key.pk(),
            sk: REGISTRATION_SK.to_owned(),
            item_type: ItemType::Webhook,
            webhook_id: webhook.id.clone(),
            event_type: key.event_type.as_str().to_owned(),
            platform: key.platform.as_str().to_owned(),
            created_at: flowiq_webhooks::clock::normalize_rfc3339(&webhook.created_at)
                .unwrap_or_else(|_| webhook.created_at.clone()),
            url_sha256: key.url_sha256.clone(),
            registered_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationStoreError {
    #[error(
        "table {table:?} does not exist in region {region}: check --table-name / TABLE_NAME, or the \
         stack's TableName output"
    )]
    TableNotFound { table: String, region: String },
    #[error("cannot read the registration records in table {table:?}: {message}")]
    Read { table: String, message: String },
    #[error("cannot write the registration record to table {table:?}: {message}")]
    Write { table: String, message: String },
    #[error("the registration record {pk} in table {table:?} is malformed: {message}")]
    Malformed {
        table: String,
        pk: String,
        message: String,
    },
}

/// Reads and writes registration records; the client is a parameter so tests can point it at
/// DynamoDB Local.
#[derive(Debug, Clone)]
pub struct RegistrationStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl RegistrationStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        RegistrationStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn region(&self) -> String {
        self.client
            .config()
            .region()
            .map_or_else(|| "(none)".to_owned(), |r| r.to_string())
    }

    /// The record for `key`, if this URL, platform and type were registered before.
    pub async fn find(
        &self,
        key: &RegistrationKey,
    ) -> Result<Option<RegistrationRecord>, RegistrationStoreError> {
        let pk = key.pk();
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(keys::PK, AttributeValue::S(pk.clone()))
            .key(keys::SK, AttributeValue::S(REGISTRATION_SK.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| {
                self.sdk_error(err, |message| RegistrationStoreError::Read {
                    table: self.table.clone(),
                    message,
                })
            })?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        serde_dynamo::from_item(item)
            .map(Some)
            .map_err(|e| RegistrationStoreError::Malformed {
                table: self.table.clone(),
                pk,
                message: e.to_string(),
            })
    }

    /// Writes (or, after `--force`, replaces) the record.
    pub async fn record(&self, record: &RegistrationRecord) -> Result<(), RegistrationStoreError> {
        let write_error = |message: String| RegistrationStoreError::Write {
            table: self.table.clone(),
            message,
        };
        let item = serde_dynamo::to_item(record).map_err(|e| write_error(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|err| self.sdk_error(err, write_error))?;
        Ok(())
    }

    /// A missing table gets its own message (the likeliest mistake: another region or stack).
    fn sdk_error<E, R>(
        &self,
        err: SdkError<E, R>,
        otherwise: impl FnOnce(String) -> RegistrationStoreError,
    ) -> RegistrationStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if err.as_service_error().and_then(|e| e.code()) == Some("ResourceNotFoundException") {
            return RegistrationStoreError::TableNotFound {
                table: self.table.clone(),
                region: self.region(),
            };
        }
        otherwise(DisplayErrorContext(&err).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::webhook_url::{BaseUrl, WebhookToken};
    use secrecy::SecretString;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    fn url(platform: Platform) -> WebhookUrl {
        WebhookUrl::new(
            &BaseUrl::parse(
                "https://abc.execute-api.eu-west-1.amazonaws.com",
                "--url",
                false,
            )
            .unwrap(),
            platform,
            &WebhookToken::parse(SecretString::from(TOKEN)).unwrap(),
        )
    }

    #[test]
    fn keys_separate_platform_type_and_url() {
        let url = url(Platform::Whatsapp);
        let key = RegistrationKey::new(&url, WebhookType::MessageRead);
        assert_eq!(
            key.pk(),
            format!("WEBHOOK#whatsapp#message_read#{}", url.sha256_hex())
        );
        assert_ne!(key.pk(), RegistrationKey::new(&url, WebhookType::All).pk());
        assert_ne!(
            key.pk(),
            RegistrationKey::new(&self::url(Platform::Web), WebhookType::MessageRead).pk()
        );
        assert!(!key.pk().contains(TOKEN));
    }

    #[test]
    fn records_hold_no_url_and_no_token() {
        let url = url(Platform::Web);
        let key = RegistrationKey::new(&url, WebhookType::All);
        let webhook = CreatedWebhook {
            id: "0df9d480-f181-466b-ae8d-85216c16e8dd".into(),
            event_type: "all".into(),
            platform: "web".into(),
            created_at: "2026-03-08T00:00:00.000+02:00".into(),
            message: None,
        };
        let record = RegistrationRecord::new(&key, &webhook, "2026-03-08T10:00:00.000Z".into());
        assert_eq!(record.sk, "WEBHOOK");
        assert_eq!(record.item_type, ItemType::Webhook);
        assert_eq!(record.created_at, "2026-03-07T22:00:00.000Z");
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
            serde_dynamo::to_item(&record).unwrap();
        let mut names: Vec<_> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "created_at",
                "event_type",
                "item_type",
                "pk",
                "platform",
                "registered_at",
                "sk",
                "url_sha256",
                "webhook_id"
            ]
        );
        let dump = format!("{item:?}");
        assert!(
            !dump.contains(TOKEN) && !dump.contains("execute-api"),
            "{dump}"
        );
        let odd = CreatedWebhook {
            created_at: "yesterday".into(),
            ..webhook
        };
        assert_eq!(
            RegistrationRecord::new(&key, &odd, String::new()).created_at,
            "yesterday"
        );
    }
}
