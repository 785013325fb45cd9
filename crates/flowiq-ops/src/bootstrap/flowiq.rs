//! FlowIQ's Create Webhook, `POST <api base>/set-webhooks` (docs/flowiq.md): the documented
//! request and answer, timeouts, and retries of 429, 5xx, timeouts and connection failures
//! ([`crate::retry`]: exponential backoff with full jitter, or `Retry-After`).

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderValue, LOCATION};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::BootstrapError::{self, FlowIq, KeyRejected, Unexpected, Unreachable};
use super::{Settings, WebhookType, WebhookUrl, mask, redact};
use crate::retry::{Exhausted, RetryPolicy, Transient, retry_after};
use flowiq_webhooks::platform::Platform;

const USER_AGENT: &str = concat!("flowiq-bootstrap/", env!("CARGO_PKG_VERSION"));
/// FlowIQ's messages are shown shortened to this.
const MAX_MESSAGE_CHARS: usize = 300;

/// The documented answer's `webhook` (its `url` is required but not kept: it holds the token),
/// with the answer's `message`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedWebhook {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub platform: String,
    pub created_at: String,
    #[serde(rename = "url")]
    _url: serde::de::IgnoredAny,
    #[serde(skip)]
    pub message: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    success: bool,
    message: Option<String>,
    webhook: Option<CreatedWebhook>,
}

/// The documented body, fields in the documented order.
#[derive(Serialize)]
struct Body<'a> {
    url: &'a str,
    #[serde(rename = "type")]
    event_type: WebhookType,
    platform: Platform,
}

/// What `--dry-run` shows: the request as it would be sent, key and token masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPreview {
    pub method: &'static str,
    pub url: String,
    /// Name and value, in sending order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl fmt::Display for RequestPreview {
    /// HTTP-like: request line, headers, blank line, body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {value}")?;
        }
        write!(f, "\n{}", self.body)
    }
}

pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    api_key: SecretString,
    timeouts: (Duration, Duration),
    retry: RetryPolicy,
}

impl Client {
    pub fn new(settings: &Settings, api_key: SecretString) -> Result<Self, BootstrapError> {
        let timeouts = (settings.args.connect_timeout, settings.args.request_timeout);
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.0)
            .timeout(timeouts.1)
            // A redirect would resend the key elsewhere (or turn the POST into a GET): reported.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Unexpected(format!("cannot set up the HTTP client: {}", chain(&e))))?;
        Ok(Client {
            http,
            endpoint: settings.endpoint.clone(),
            api_key,
            timeouts,
            retry: RetryPolicy {
                max_attempts: settings.args.max_attempts,
                base_delay: settings.first_backoff,
                ..RetryPolicy::default()
            },
        })
    }

    fn headers(&self, masked: bool) -> Vec<(String, String)> {
        let key = self.api_key.expose_secret();
        let key = if masked { mask(key) } else { key.to_owned() };
        [
            ("Authorization", format!("Bearer {key}")),
            ("Content-Type", "application/json".to_owned()),
            ("Accept", "application/json".to_owned()),
            ("User-Agent", USER_AGENT.to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
        .into()
    }

    fn body(url: &str, event_type: WebhookType, platform: Platform) -> String {
        let body = Body {
            url,
            event_type,
            platform,
        };
        serde_json::to_string(&body).expect("strings serialise")
    }

    /// The request [`Self::create_webhook`] sends, every header included, key and token masked.
    pub fn preview(&self, url: &WebhookUrl, event_type: WebhookType) -> RequestPreview {
        RequestPreview {
            method: "POST",
            url: self.endpoint.to_string(),
            headers: self.headers(true),
            body: Self::body(&url.masked(), event_type, url.platform),
        }
    }

    /// Creates the webhook; retries what [`Transient`] covers, up to `--max-attempts` in all.
    pub async fn create_webhook(
        &self,
        url: &WebhookUrl,
        event_type: WebhookType,
    ) -> Result<CreatedWebhook, BootstrapError> {
        let body = Self::body(&url.expose_secret(), event_type, url.platform);
        let secrets = [self.api_key.expose_secret(), url.token()];
        let outcome = self
            .retry
            .run(
                || self.attempt(&body, &secrets),
                |failure, attempt, wait| {
                    tracing::warn!(
                        "FlowIQ attempt {attempt}/{} for type {event_type}: {}; retrying in {:.1} s",
                        self.retry.max_attempts,
                        failure.problem,
                        wait.as_secs_f64()
                    );
                },
            )
            .await;
        let created = outcome.map_err(|Exhausted { attempts, last }| {
            Unreachable(format!(
                "could not get an answer from FlowIQ at {} after {attempts} attempt(s): {}",
                self.endpoint, last.problem
            ))
        })??;
        if created.platform != url.platform.as_str() || created.event_type != event_type.to_string()
        {
            tracing::warn!(
                "FlowIQ created webhook {} as type {:?} / platform {:?}, not the {event_type} / {} \
                 requested",
                created.id,
                created.event_type,
                created.platform,
                url.platform
            );
        }
        Ok(created)
    }

    /// One POST: `Err` when worth another attempt, else FlowIQ's final answer. Everything kept
    /// from the answer has the secrets masked (FlowIQ might quote them back).
    async fn attempt(
        &self,
        body: &str,
        secrets: &[&str],
    ) -> Result<Result<CreatedWebhook, BootstrapError>, Transient> {
        let mut request = self.http.post(self.endpoint.clone()).body(body.to_owned());
        for (name, value) in self.headers(false) {
            let mut value = HeaderValue::try_from(value).expect("the key is checked visible ASCII");
            value.set_sensitive(name == "Authorization");
            request = request.header(name, value);
        }
        let transient = |e: reqwest::Error| {
            Transient::new(if e.is_timeout() {
                let (connect, request) = self.timeouts;
                format!(
                    "no answer in time (connect timeout {connect:?}, request timeout {request:?})"
                )
            } else {
                format!("connection failed: {}", chain(&e))
            })
        };
        let response = request.send().await.map_err(transient)?;
        let status = response.status().as_u16();
        let header = |name| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some(redact(value, secrets))
        };
        let retry_after = retry_after(response.headers());
        let location = header(LOCATION).unwrap_or_else(|| "an unknown location".to_owned());
        let body = response.bytes().await.map_err(transient)?;
        let body = redact(&String::from_utf8_lossy(&body), secrets);
        let message = suffix(flowiq_message(&body));
        Ok(match status {
            200..=299 => parse_created(status, &body),
            401 | 403 => Err(KeyRejected(format!(
                "FlowIQ rejected the API key (HTTP {status}{message}): check the key in \
                 FLOWIQ_API_KEY, --api-key-file or --api-key-ssm-parameter"
            ))),
            429 | 500..=599 => {
                let problem = format!("HTTP {status}{message}");
                return Err(Transient {
                    problem,
                    retry_after,
                });
            }
            300..=399 => Err(FlowIq(format!(
                "FlowIQ refused the request (HTTP {status}): redirected to {location}: check \
                 --api-base"
            ))),
            _ => Err(FlowIq(format!(
                "FlowIQ refused the request (HTTP {status}){message}"
            ))),
        })
    }
}

/// `{success: true, message, webhook: {id, url, type, platform, created_at}}`, else an error.
fn parse_created(status: u16, body: &str) -> Result<CreatedWebhook, BootstrapError> {
    let undocumented = |problem: &str| {
        FlowIq(format!(
            "FlowIQ answered HTTP {status} but not with the documented Create Webhook response \
             ({problem}); the webhook may have been created anyway: check FlowIQ before running \
             again"
        ))
    };
    let answer: Answer = serde_json::from_str(body).map_err(|e| match body {
        "" => undocumented("empty body"),
        _ if e.is_data() => undocumented(&e.to_string()),
        _ => undocumented(&format!("not JSON: {e}")),
    })?;
    let message = answer.message.as_deref().and_then(one_line);
    if !answer.success {
        return Err(FlowIq(format!(
            "FlowIQ did not create the webhook (HTTP {status}, success=false){}",
            suffix(message)
        )));
    }
    let mut webhook = answer
        .webhook
        .ok_or_else(|| undocumented("success is true but there is no `webhook` object"))?;
    webhook.id = webhook.id.trim().to_owned();
    if webhook.id.is_empty() {
        return Err(undocumented("`webhook.id` is empty"));
    }
    webhook.message = message;
    Ok(webhook)
}

/// FlowIQ's explanation in an answer: `message`, `error` or `error.message` of a JSON body, else
/// the text itself unless it is an HTML page.
fn flowiq_message(body: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => ["/message", "/error", "/error/message"]
            .iter()
            .find_map(|path| json.pointer(path)?.as_str())
            .and_then(one_line),
        Err(_) if body.trim_start().starts_with('<') => None,
        Err(_) => one_line(body),
    }
}

/// One line of at most [`MAX_MESSAGE_CHARS`]; `None` when nothing is left.
fn one_line(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    match line.char_indices().nth(MAX_MESSAGE_CHARS) {
        _ if line.is_empty() => None,
        Some((cut, _)) => Some(format!("{}…", &line[..cut])),
        None => Some(line),
    }
}

fn suffix(message: Option<String>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

/// The error and its causes, `a: b: c`, leaving out causes already quoted.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowiq_messages_are_short_single_lines() {
        let long = "x".repeat(1000);
        for (body, expected) in [
            (r#"{"message":"Invalid\nAPI key"}"#, Some("Invalid API key")),
            (r#"{"error":"nope"}"#, Some("nope")),
            (r#"{"error":{"message":"bad type"}}"#, Some("bad type")),
            (r#"{"message":"  "}"#, None),
            (r#"{"other":1}"#, None),
            ("  Service Unavailable \r\n", Some("Service Unavailable")),
            ("<!DOCTYPE html><html>…", None),
        ] {
            assert_eq!(flowiq_message(body).as_deref(), expected, "{body}");
        }
        let short = flowiq_message(&long).unwrap();
        assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(short.ends_with('…'));
    }
}
