//! What a run did, as text for people or as one JSON object (`--json`). URLs are always masked.

use std::fmt::Write as _;

use serde::Serialize;

use super::BootstrapError;
use super::flowiq_client::{CreatedWebhook, RequestPreview};
use super::registration_store::RegistrationRecord;
use super::webhook_type::WebhookType;
use super::webhook_url::WebhookUrl;
use flowiq_webhooks::platform::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// FlowIQ created the webhook now.
    Registered,
    /// A record says it was registered before; FlowIQ was not called.
    AlreadyRegistered,
    /// `--dry-run`: the request that would have been sent.
    DryRun,
}

/// One event type's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub status: Status,
    #[serde(rename = "type")]
    pub event_type: WebhookType,
    pub platform: Platform,
    /// Token masked.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the earlier run recorded it (already registered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<String>,
    /// FlowIQ's message (registered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The request (dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestPreview>,
}

impl Registration {
    fn new(status: Status, url: &WebhookUrl, event_type: WebhookType) -> Self {
        Registration {
            status,
            event_type,
            platform: url.platform(),
            url: url.masked(),
            webhook_id: None,
            created_at: None,
            registered_at: None,
            message: None,
            request: None,
        }
    }

    pub fn registered(url: &WebhookUrl, event_type: WebhookType, webhook: &CreatedWebhook) -> Self {
        Registration {
            webhook_id: Some(webhook.id.clone()),
            created_at: Some(webhook.created_at.clone()),
            message: webhook.message.clone(),
            ..Self::new(Status::Registered, url, event_type)
        }
    }

    pub fn already_registered(
        url: &WebhookUrl,
        event_type: WebhookType,
        record: &RegistrationRecord,
    ) -> Self {
        Registration {
            webhook_id: Some(record.webhook_id.clone()),
            created_at: Some(record.created_at.clone()),
            registered_at: Some(record.registered_at.clone()),
            ..Self::new(Status::AlreadyRegistered, url, event_type)
        }
    }

    pub fn would_send(url: &WebhookUrl, event_type: WebhookType, request: RequestPreview) -> Self {
        Registration {
            request: Some(request),
            ..Self::new(Status::DryRun, url, event_type)
        }
    }
}

/// Everything a run found out and did, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// The webhook URL, token masked (once known).
    pub url: Option<String>,
    pub platform: Option<Platform>,
    /// The stack whose outputs were read, if any.
    pub stack: Option<String>,
    /// The table holding the registration records (not used by a dry run).
    pub table: Option<String>,
    pub registrations: Vec<Registration>,
}

impl Report {
    /// Text for a terminal: the URL, then one line per type (a dry run: each request).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(url) = &self.url {
            let _ = write!(out, "Webhook URL: {url}");
            if let Some(stack) = &self.stack {
                let _ = write!(out, "  (stack {stack})");
            }
            out.push('\n');
        }
        if self.dry_run && !self.registrations.is_empty() {
            out.push_str("Dry run: nothing was sent to FlowIQ and nothing was written.\n");
        }
        for r in &self.registrations {
            let id = r.webhook_id.as_deref().unwrap_or("?");
            let created = r.created_at.as_deref().unwrap_or("?");
            match r.status {
                Status::Registered => {
                    let _ = writeln!(
                        out,
                        "{} ({}): registered, webhook id {id}, created_at {created}",
                        r.event_type, r.platform
                    );
                }
                Status::AlreadyRegistered => {
                    let _ = writeln!(
                        out,
                        "{} ({}): already registered (id {id}, created_at {created}); --force registers it again",
                        r.event_type, r.platform
                    );
                }
                Status::DryRun => {
                    let _ = writeln!(out, "\n{} ({}): would send", r.event_type, r.platform);
                    if let Some(request) = &r.request {
                        let _ = writeln!(out, "{request}");
                    }
                }
            }
        }
        out
    }

    /// One JSON object (pretty-printed): the report's fields, then `error` (`null` on success,
    /// else `{exit_code, message}`).
    pub fn to_json(&self, error: Option<&BootstrapError>) -> String {
        #[derive(Serialize)]
        struct JsonError {
            exit_code: u8,
            message: String,
        }
        #[derive(Serialize)]
        struct JsonOutput<'a> {
            #[serde(flatten)]
            report: &'a Report,
            error: Option<JsonError>,
        }
        let output = JsonOutput {
            report: self,
            error: error.map(|e| JsonError {
                exit_code: e.exit_status().code(),
                message: super::describe_error(e),
            }),
        };
        serde_json::to_string_pretty(&output).expect("the report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::flowiq_client::FlowIqError;
    use crate::bootstrap::registration_store::RegistrationKey;
    use crate::bootstrap::webhook_url::{BaseUrl, WebhookToken};
    use secrecy::SecretString;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    fn url() -> WebhookUrl {
        WebhookUrl::new(
            &BaseUrl::parse(
                "https://abc.execute-api.eu-west-1.amazonaws.com",
                "--url",
                false,
            )
            .unwrap(),
            Platform::Whatsapp,
            &WebhookToken::parse(SecretString::from(TOKEN)).unwrap(),
        )
    }

    fn webhook() -> CreatedWebhook {
        CreatedWebhook {
            id: "0df9d480-f181-466b-ae8d-85216c16e8dd".into(),
            event_type: "all".into(),
            platform: "whatsapp".into(),
            created_at: "2026-03-08T00:00:00.000+02:00".into(),
            message: Some("Webhook created successfully".into()),
        }
    }

    fn report() -> Report {
        let url = url();
        let record = RegistrationRecord::new(
            &RegistrationKey::new(&url, WebhookType::MessageRead),
            &webhook(),
            "2026-03-08T10:00:00.000Z".into(),
        );
        Report {
            dry_run: false,
            url: Some(url.masked()),
            platform: Some(Platform::Whatsapp),
            stack: Some("flowiq-webhooks".into()),
            table: Some("t".into()),
            registrations: vec![
                Registration::registered(&url, WebhookType::All, &webhook()),
                Registration::already_registered(&url, WebhookType::MessageRead, &record),
            ],
        }
    }

    #[test]
    fn text_says_what_happened() {
        assert_eq!(
            report().to_text(),
            "Webhook URL: https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/whatsapp/AbCd…  (stack flowiq-webhooks)\n\
             all (whatsapp): registered, webhook id 0df9d480-f181-466b-ae8d-85216c16e8dd, created_at 2026-03-08T00:00:00.000+02:00\n\
             message_read (whatsapp): already registered (id 0df9d480-f181-466b-ae8d-85216c16e8dd, created_at 2026-03-07T22:00:00.000Z); --force registers it again\n"
        );
    }

    #[test]
    fn json_is_one_object_with_the_error() {
        let text = report().to_json(None);
        assert!(
            text.starts_with("{\n  \"dry_run\": false,\n  \"url\": "),
            "{text}"
        );
        assert!(text.ends_with("\"error\": null\n}"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error"], serde_json::Value::Null);
        assert_eq!(json["registrations"][0]["status"], "registered");
        assert_eq!(json["registrations"][0]["type"], "all");
        assert_eq!(json["registrations"][0]["platform"], "whatsapp");
        assert_eq!(
            json["registrations"][0]["webhook_id"],
            "0df9d480-f181-466b-ae8d-85216c16e8dd"
        );
        assert_eq!(json["registrations"][1]["status"], "already_registered");
        assert_eq!(
            json["registrations"][1]["registered_at"],
            "2026-03-08T10:00:00.000Z"
        );
        assert!(json["registrations"][1].get("request").is_none());
        assert!(!json.to_string().contains(TOKEN));

        let error = BootstrapError::FlowIq(FlowIqError::Unauthorized {
            status: 401,
            message: Some("Invalid API key".into()),
        });
        let json: serde_json::Value =
            serde_json::from_str(&Report::default().to_json(Some(&error))).unwrap();
        assert_eq!(json["error"]["exit_code"], 3);
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Invalid API key")
        );
    }
}
