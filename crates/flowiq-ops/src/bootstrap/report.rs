//! What a run did, as text for people or one JSON object (`--json`). URLs are always masked.

use serde::Serialize;

use super::flowiq::RequestPreview;
use super::{BootstrapError, WebhookType, WebhookUrl};
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
    /// When an earlier run recorded it (already registered).
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
    /// The rest is filled in with `..Registration::new(…)`.
    pub fn new(status: Status, url: &WebhookUrl, event_type: WebhookType) -> Self {
        Registration {
            status,
            event_type,
            platform: url.platform,
            url: url.masked(),
            webhook_id: None,
            created_at: None,
            registered_at: None,
            message: None,
            request: None,
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
    /// The Lambda function whose URL and environment were read (`--function-name`), if any.
    pub function: Option<String>,
    /// The table of the registration records (not used by a dry run).
    pub table: Option<String>,
    pub registrations: Vec<Registration>,
}

impl Report {
    /// The URL, then one line per type (a dry run: each request).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(url) = &self.url {
            let source = match (&self.stack, &self.function) {
                (Some(stack), _) => format!("  (stack {stack})"),
                (None, Some(function)) => format!("  (function {function})"),
                (None, None) => String::new(),
            };
            out += &format!("Webhook URL: {url}{source}\n");
        }
        if self.dry_run && !self.registrations.is_empty() {
            out += "Dry run: nothing was sent to FlowIQ and nothing was written.\n";
        }
        for r in &self.registrations {
            let id = r.webhook_id.as_deref().unwrap_or("?");
            let created = r.created_at.as_deref().unwrap_or("?");
            let (t, p) = (r.event_type, r.platform);
            out += &match (r.status, &r.request) {
                (Status::Registered, _) => {
                    format!("{t} ({p}): registered, webhook id {id}, created_at {created}\n")
                }
                (Status::AlreadyRegistered, _) => format!(
                    "{t} ({p}): already registered (id {id}, created_at {created}); --force \
                     registers it again\n"
                ),
                (Status::DryRun, None) => format!("\n{t} ({p}): would send\n"),
                (Status::DryRun, Some(request)) => format!("\n{t} ({p}): would send\n{request}\n"),
            };
        }
        out
    }

    /// One pretty-printed JSON object: the report's fields, then `error` (`null`, or
    /// `{exit_code, message}`).
    pub fn to_json(&self, error: Option<&BootstrapError>) -> String {
        #[derive(Serialize)]
        struct Output<'a> {
            #[serde(flatten)]
            report: &'a Report,
            error: Option<serde_json::Value>,
        }
        let error = error.map(
            |e| serde_json::json!({"exit_code": e.exit_status().code(), "message": e.to_string()}),
        );
        let output = Output {
            report: self,
            error,
        };
        serde_json::to_string_pretty(&output).expect("the report serialises")
    }
}
