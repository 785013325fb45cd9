//! FlowIQ's Create Webhook API (`POST {api_base}/set-webhooks`): the request, the documented
//! response, retries and timeouts. The base URL is a parameter, so tests point the client at a
//! local fake server.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::api_key::ApiKey;
use super::masking::redact;
use super::retry::{RetryPolicy, parse_retry_after};
use super::webhook_type::WebhookType;
use super::webhook_url::{UrlError, WebhookUrl, parse_http_url};

pub const DEFAULT_API_BASE: &str = "https://api.flowiq.live";
pub const CREATE_WEBHOOK_PATH: &str = "set-webhooks";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const USER_AGENT: &str = concat!("flowiq-bootstrap/", env!("CARGO_PKG_VERSION"));
/// Create Webhook answers a few hundred bytes; anything bigger is not its answer.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// FlowIQ's messages are shown to the user, shortened to this.
const MAX_MESSAGE_CHARS: usize = 300;

/// FlowIQ's API root (`--api-base`): https unless `--allow-http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase(Url);

impl ApiBase {
    pub fn parse(raw: &str, allow_http: bool) -> Result<Self, UrlError> {
        let mut url = parse_http_url(raw, "--api-base", allow_http)?;
        // So that joining keeps a base path (https://host/v1 → https://host/v1/set-webhooks).
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(ApiBase(url))
    }

    /// `<api_base>/set-webhooks`.
    pub fn create_webhook_endpoint(&self) -> Url {
        self.0
            .join(CREATE_WEBHOOK_PATH)
            .expect("a relative path joins onto an http(s) URL")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// For one attempt, from sending the request to the end of the response body.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// One Create Webhook call: the URL (with its platform) and the event type.
#[derive(Debug, Clone, Copy)]
pub struct CreateWebhook<'a> {
    pub url: &'a WebhookUrl,
    pub event_type: WebhookType,
}

/// The documented request body, fields in the documented order.
#[derive(Serialize)]
struct RequestBody<'a> {
    url: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    platform: &'a str,
}

impl CreateWebhook<'_> {
    fn body_with_url(&self, url: &str) -> String {
        serde_json::to_string(&RequestBody {
            url,
            event_type: self.event_type.as_str(),
            platform: self.url.platform().as_str(),
        })
        .expect("strings serialise")
    }

    /// The JSON body FlowIQ receives (holds the token).
    pub fn body(&self) -> String {
        self.body_with_url(&self.url.expose_secret())
    }

    /// The same body with the token masked.
    pub fn masked_body(&self) -> String {
        self.body_with_url(&self.url.masked())
    }
}

/// What `--dry-run` shows: the request exactly as it would be sent, key and token masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPreview {
    pub method: &'static str,
    pub url: String,
    /// Header name and value, in sending order.
    pub headers: Vec<(String, String)>,
    /// The JSON body, as text.
    pub body: String,
}

impl fmt::Display for RequestPreview {
    /// HTTP-like: request line, headers, blank line, body.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {value}")?;
        }
        writeln!(f)?;
        write!(f, "{}", self.body)
    }
}

/// A webhook FlowIQ created (the documented response's `webhook`, without its URL, which holds
/// the token), with FlowIQ's `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedWebhook {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub platform: String,
    pub created_at: String,
    pub message: Option<String>,
}

/// Why one attempt failed in a way worth retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    Timeout {
        connect: Duration,
        request: Duration,
    },
    Connection(String),
    Status {
        status: u16,
        message: Option<String>,
    },
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptFailure::Timeout { connect, request } => write!(
                f,
                "no answer in time (connect timeout {connect:?}, request timeout {request:?})"
            ),
            AttemptFailure::Connection(cause) => write!(f, "connection failed: {cause}"),
            AttemptFailure::Status { status, message } => {
                write!(f, "HTTP {status}{}", suffix(message))
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlowIqError {
    #[error(
        "FlowIQ rejected the API key (HTTP {status}{}): check the key in FLOWIQ_API_KEY, \
         --api-key-file or --api-key-ssm-parameter",
        suffix(.message)
    )]
    Unauthorized {
        status: u16,
        message: Option<String>,
    },
    #[error("FlowIQ refused the request (HTTP {status}){}", suffix(.message))]
    Rejected {
        status: u16,
        message: Option<String>,
    },
    #[error("FlowIQ did not create the webhook (HTTP {status}, success=false){}", suffix(.message))]
    NotCreated {
        status: u16,
        message: Option<String>,
    },
    #[error(
        "FlowIQ answered HTTP {status} but not with the documented Create Webhook response \
         ({problem}); the webhook may have been created anyway: check FlowIQ before running again"
    )]
    UnexpectedResponse { status: u16, problem: String },
    #[error(
        "could not get an answer from FlowIQ at {endpoint} after {attempts} attempt(s): {last}"
    )]
    RetriesExhausted {
        endpoint: String,
        attempts: u32,
        last: AttemptFailure,
    },
    #[error("cannot set up the HTTP client for FlowIQ: {0}")]
    Setup(String),
}

fn suffix(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

/// The outcome of one attempt, before the retry decision.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Created(CreatedWebhook),
    Retry {
        failure: AttemptFailure,
        retry_after: Option<Duration>,
    },
    Fail(FlowIqError),
}

pub struct FlowIqClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: ApiKey,
    settings: HttpSettings,
}

impl fmt::Debug for FlowIqClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowIqClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &self.api_key)
            .field("settings", &self.settings)
            .finish()
    }
}

impl FlowIqClient {
    pub fn new(
        api_base: &ApiBase,
        api_key: ApiKey,
        settings: HttpSettings,
    ) -> Result<Self, FlowIqError> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // A redirect would resend the key elsewhere (or turn the POST into a GET): report it.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FlowIqError::Setup(error_chain(&e)))?;
        Ok(FlowIqClient {
            http,
            endpoint: api_base.create_webhook_endpoint(),
            api_key,
            settings,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    fn headers(&self, masked: bool) -> Vec<(String, String)> {
        let key = if masked {
            self.api_key.masked()
        } else {
            self.api_key.expose_secret().to_owned()
        };
        vec![
            ("Authorization".to_owned(), format!("Bearer {key}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), USER_AGENT.to_owned()),
        ]
    }

    /// The request [`Self::create_webhook`] would send (all the headers it sets), with the key and
    /// the token masked.
    pub fn preview(&self, request: &CreateWebhook<'_>) -> RequestPreview {
        RequestPreview {
            method: "POST",
            url: self.endpoint.to_string(),
            headers: self.headers(true),
            body: request.masked_body(),
        }
    }

    /// Creates the webhook, retrying 429, 5xx, timeouts and connection failures.
    pub async fn create_webhook(
        &self,
        request: &CreateWebhook<'_>,
    ) -> Result<CreatedWebhook, FlowIqError> {
        let body = request.body();
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers(false) {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("static header names");
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| FlowIqError::Setup(format!("invalid value for header {name}")))?;
            value.set_sensitive(name == AUTHORIZATION);
            headers.insert(name, value);
        }
        let secrets = [
            self.api_key.expose_secret(),
            request.url.token().expose_secret(),
        ];
        let policy = &self.settings.retry;
        let attempts = policy.max_attempts.max(1);
        let mut rng = fastrand::Rng::new();
        for attempt in 1..=attempts {
            let outcome = self.attempt(headers.clone(), body.clone(), &secrets).await;
            let (failure, retry_after) = match outcome {
                Attempt::Created(created) => {
                    if created.platform != request.url.platform().as_str()
                        || created.event_type != request.event_type.as_str()
                    {
                        tracing::warn!(
                            "FlowIQ created webhook {} as type {:?} / platform {:?}, not the {} / {} requested",
                            created.id,
                            created.event_type,
                            created.platform,
                            request.event_type,
                            request.url.platform()
                        );
                    }
                    return Ok(created);
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry {
                    failure,
                    retry_after,
                } => (failure, retry_after),
            };
            if attempt == attempts {
                return Err(FlowIqError::RetriesExhausted {
                    endpoint: self.endpoint.to_string(),
                    attempts,
                    last: failure,
                });
            }
            let delay = policy.delay(attempt, retry_after, &mut rng);
            tracing::warn!(
                "FlowIQ attempt {attempt}/{attempts} for type {}: {failure}; retrying in {:.1} s",
                request.event_type,
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        }
        unreachable!("the last attempt returns")
    }

    async fn attempt(&self, headers: HeaderMap, body: String, secrets: &[&str]) -> Attempt {
        let sent = self
            .http
            .post(self.endpoint.clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return self.transport_failure(&error),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_RESPONSE_BYTES - bytes.len();
                    bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if bytes.len() >= MAX_RESPONSE_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => return self.transport_failure(&error),
            }
        }
        classify(status, &bytes, retry_after, location.as_deref(), secrets)
    }

    fn transport_failure(&self, error: &reqwest::Error) -> Attempt {
        if error.is_builder() {
            return Attempt::Fail(FlowIqError::Setup(error_chain(error)));
        }
        let failure = if error.is_timeout() {
            AttemptFailure::Timeout {
                connect: self.settings.connect_timeout,
                request: self.settings.request_timeout,
            }
        } else {
            AttemptFailure::Connection(error_chain(error))
        };
        Attempt::Retry {
            failure,
            retry_after: None,
        }
    }
}

/// The error and its causes, `a: b: c`, without repeats.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Decides what one answer means: created, worth retrying, or final.
fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<Duration>,
    location: Option<&str>,
    secrets: &[&str],
) -> Attempt {
    match status {
        200..=299 => match parse_created(body, secrets) {
            Ok(created) => Attempt::Created(created),
            Err(error) => Attempt::Fail(error.with_status(status)),
        },
        401 | 403 => Attempt::Fail(FlowIqError::Unauthorized {
            status,
            message: flowiq_message(body, secrets),
        }),
        429 | 500..=599 => Attempt::Retry {
            failure: AttemptFailure::Status {
                status,
                message: flowiq_message(body, secrets),
            },
            retry_after,
        },
        300..=399 => Attempt::Fail(FlowIqError::Rejected {
            status,
            message: Some(format!(
                "redirected to {}: check --api-base",
                location.map_or_else(|| "an unknown location".to_owned(), |l| redact(l, secrets))
            )),
        }),
        _ => Attempt::Fail(FlowIqError::Rejected {
            status,
            message: flowiq_message(body, secrets),
        }),
    }
}

#[derive(Deserialize)]
struct ResponseEnvelope {
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    webhook: Option<WebhookJson>,
}

#[derive(Deserialize)]
struct WebhookJson {
    id: String,
    #[allow(dead_code)] // Required by the documented shape; holds the token, so never kept.
    url: String,
    #[serde(rename = "type")]
    event_type: String,
    platform: String,
    created_at: String,
}

/// A 2xx answer that is not a created webhook; the status is filled in by [`classify`].
enum NotCreated {
    Unsuccessful(Option<String>),
    Unexpected(String),
}

impl NotCreated {
    fn with_status(self, status: u16) -> FlowIqError {
        match self {
            NotCreated::Unsuccessful(message) => FlowIqError::NotCreated { status, message },
            NotCreated::Unexpected(problem) => FlowIqError::UnexpectedResponse { status, problem },
        }
    }
}

/// `{success: true, message, webhook: {id, url, type, platform, created_at}}`.
fn parse_created(body: &[u8], secrets: &[&str]) -> Result<CreatedWebhook, NotCreated> {
    let envelope: ResponseEnvelope = serde_json::from_slice(body).map_err(|e| {
        let problem = if body.is_empty() {
            "empty body".to_owned()
        } else if e.is_syntax() || e.is_eof() {
            format!("not JSON: {e}")
        } else {
            e.to_string()
        };
        NotCreated::Unexpected(redact(&problem, secrets))
    })?;
    let message = envelope.message.as_deref().and_then(|m| clean(m, secrets));
    if !envelope.success {
        return Err(NotCreated::Unsuccessful(message));
    }
    let webhook = envelope.webhook.ok_or_else(|| {
        NotCreated::Unexpected("success is true but there is no `webhook` object".to_owned())
    })?;
    if webhook.id.trim().is_empty() {
        return Err(NotCreated::Unexpected("`webhook.id` is empty".to_owned()));
    }
    Ok(CreatedWebhook {
        id: redact(webhook.id.trim(), secrets),
        event_type: redact(&webhook.event_type, secrets),
        platform: redact(&webhook.platform, secrets),
        created_at: redact(&webhook.created_at, secrets),
        message,
    })
}

/// FlowIQ's explanation in an error answer: `message`, `error` or `error.message` of a JSON body,
/// else short plain text; never an HTML page. Secrets it might quote are masked.
fn flowiq_message(body: &[u8], secrets: &[&str]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = json
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| json.get("error").and_then(|e| e.as_str()))
            .or_else(|| json.pointer("/error/message").and_then(|m| m.as_str()));
        return text.and_then(|t| clean(t, secrets));
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return None;
    }
    clean(trimmed, secrets)
}

/// One line, at most [`MAX_MESSAGE_CHARS`], secrets masked; `None` when nothing is left.
fn clean(text: &str, secrets: &[&str]) -> Option<String> {
    let one_line = redact(text, secrets)
        .split(char::is_control)
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.is_empty() {
        return None;
    }
    if one_line.chars().count() > MAX_MESSAGE_CHARS {
        let mut short: String = one_line.chars().take(MAX_MESSAGE_CHARS).collect();
        short.push('…');
        return Some(short);
    }
    Some(one_line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::webhook_url::{BaseUrl, WebhookToken};
    use flowiq_webhooks::platform::Platform;
    use secrecy::SecretString;

    const KEY: &str = "fiq_live_0123456789abcdef";
    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij";

    fn documented(id: &str) -> Vec<u8> {
        serde_json::json!({
            "success": true,
            "message": "Webhook created successfully",
            "webhook": {
                "id": id,
                "url": format!("https://x/webhooks/whatsapp/{TOKEN}"),
                "type": "message_received",
                "platform": "whatsapp",
                "created_at": "2026-03-08T00:00:00.000+02:00"
            }
        })
        .to_string()
        .into_bytes()
    }

    fn url() -> WebhookUrl {
        WebhookUrl::new(
            &BaseUrl::parse("https://x.example.com", "--url", false).unwrap(),
            Platform::Whatsapp,
            &WebhookToken::parse(SecretString::from(TOKEN)).unwrap(),
        )
    }

    #[test]
    fn the_endpoint_keeps_a_base_path() {
        for (base, endpoint) in [
            (DEFAULT_API_BASE, "https://api.flowiq.live/set-webhooks"),
            (
                "https://api.flowiq.live/",
                "https://api.flowiq.live/set-webhooks",
            ),
            (
                "https://staging.example.com/v1",
                "https://staging.example.com/v1/set-webhooks",
            ),
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/set-webhooks",
            ),
        ] {
            let base = ApiBase::parse(base, true).unwrap();
            assert_eq!(base.create_webhook_endpoint().as_str(), endpoint);
        }
        assert!(matches!(
            ApiBase::parse("http://127.0.0.1:8080", false),
            Err(UrlError::NotHttps { .. })
        ));
    }

    #[test]
    fn the_body_is_the_documented_one_and_masks_on_request() {
        let url = url();
        let request = CreateWebhook {
            url: &url,
            event_type: WebhookType::MessageRead,
        };
        assert_eq!(
            request.body(),
            format!(
                r#"{{"url":"https://x.example.com/webhooks/whatsapp/{TOKEN}","type":"message_read","platform":"whatsapp"}}"#
            )
        );
        assert_eq!(
            request.masked_body(),
            r#"{"url":"https://x.example.com/webhooks/whatsapp/AbCd…","type":"message_read","platform":"whatsapp"}"#
        );
    }

    #[test]
    fn the_preview_masks_key_and_token() {
        let url = url();
        let client = FlowIqClient::new(
            &ApiBase::parse(DEFAULT_API_BASE, false).unwrap(),
            ApiKey::parse(KEY, "test").unwrap(),
            HttpSettings::default(),
        )
        .unwrap();
        let preview = client.preview(&CreateWebhook {
            url: &url,
            event_type: WebhookType::All,
        });
        let text = preview.to_string();
        assert!(
            text.starts_with(
                "POST https://api.flowiq.live/set-webhooks\nAuthorization: Bearer fiq_…\nContent-Type: application/json\n"
            ),
            "{text}"
        );
        assert!(text.ends_with(
            "\n\n{\"url\":\"https://x.example.com/webhooks/whatsapp/AbCd…\",\"type\":\"all\",\"platform\":\"whatsapp\"}"
        ));
        assert!(!text.contains(KEY) && !text.contains(TOKEN));
        assert!(!format!("{client:?}").contains(KEY));
    }

    #[test]
    fn a_documented_answer_is_a_created_webhook() {
        let created = match classify(200, &documented("wh-1"), None, None, &[KEY, TOKEN]) {
            Attempt::Created(created) => created,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            created,
            CreatedWebhook {
                id: "wh-1".into(),
                event_type: "message_received".into(),
                platform: "whatsapp".into(),
                created_at: "2026-03-08T00:00:00.000+02:00".into(),
                message: Some("Webhook created successfully".into()),
            }
        );
        assert!(matches!(
            classify(201, &documented("wh-1"), None, None, &[]),
            Attempt::Created(_)
        ));
    }

    #[test]
    fn other_2xx_answers_are_errors() {
        for (body, expect) in [
            (&b""[..], "empty body"),
            (b"<html>ok</html>", "not JSON"),
            (b"{\"ok\":true}", "missing field `success`"),
            (b"{\"success\":true}", "no `webhook` object"),
            (
                b"{\"success\":true,\"webhook\":{\"id\":\"1\"}}",
                "missing field",
            ),
            (
                b"{\"success\":true,\"webhook\":{\"id\":\" \",\"url\":\"u\",\"type\":\"all\",\"platform\":\"web\",\"created_at\":\"c\"}}",
                "`webhook.id` is empty",
            ),
            (b"[1]", "invalid type"),
        ] {
            match classify(200, body, None, None, &[]) {
                Attempt::Fail(FlowIqError::UnexpectedResponse { status: 200, problem }) => {
                    assert!(problem.contains(expect), "{problem:?} for {body:?}")
                }
                other => panic!("{other:?} for {body:?}"),
            }
        }
        match classify(
            200,
            br#"{"success":false,"message":"Invalid webhook URL"}"#,
            None,
            None,
            &[],
        ) {
            Attempt::Fail(e @ FlowIqError::NotCreated { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "FlowIQ did not create the webhook (HTTP 200, success=false): Invalid webhook URL"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_decide_retry_or_failure() {
        assert!(matches!(
            classify(401, br#"{"message":"Invalid API key"}"#, None, None, &[]),
            Attempt::Fail(FlowIqError::Unauthorized { status: 401, message: Some(m) }) if m == "Invalid API key"
        ));
        assert!(matches!(
            classify(403, b"", None, None, &[]),
            Attempt::Fail(FlowIqError::Unauthorized {
                status: 403,
                message: None
            })
        ));
        for status in [429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(status, b"", Some(Duration::from_secs(2)), None, &[]),
                    Attempt::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(2)
                ),
                "{status}"
            );
        }
        for status in [400, 404, 405, 408, 409, 422] {
            assert!(
                matches!(
                    classify(status, br#"{"error":"nope"}"#, None, None, &[]),
                    Attempt::Fail(FlowIqError::Rejected { message: Some(ref m), .. }) if m == "nope"
                ),
                "{status}"
            );
        }
        match classify(301, b"", None, Some("https://elsewhere/"), &[]) {
            Attempt::Fail(e) => assert!(e.to_string().contains("redirected to https://elsewhere/")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flowiq_messages_are_short_single_lines_without_secrets() {
        assert_eq!(
            flowiq_message(br#"{"error":{"message":"bad\ntype"}}"#, &[]),
            Some("bad type".into())
        );
        assert_eq!(
            flowiq_message(b"  Service Unavailable \r\n", &[]),
            Some("Service Unavailable".into())
        );
        assert_eq!(flowiq_message(b"<!DOCTYPE html><html>...", &[]), None);
        assert_eq!(flowiq_message(br#"{"message":"  "}"#, &[]), None);
        assert_eq!(flowiq_message(br#"{"other":1}"#, &[]), None);
        let long = "x".repeat(1000);
        assert_eq!(
            flowiq_message(long.as_bytes(), &[])
                .unwrap()
                .chars()
                .count(),
            MAX_MESSAGE_CHARS + 1
        );
        let echo =
            format!(r#"{{"message":"key {KEY} is not valid for /webhooks/whatsapp/{TOKEN}"}}"#);
        let message = flowiq_message(echo.as_bytes(), &[KEY, TOKEN]).unwrap();
        assert!(
            !message.contains(KEY) && !message.contains(TOKEN),
            "{message}"
        );
    }

    #[test]
    fn failures_read_well() {
        let e = FlowIqError::RetriesExhausted {
            endpoint: "https://api.flowiq.live/set-webhooks".into(),
            attempts: 5,
            last: AttemptFailure::Status {
                status: 503,
                message: Some("down".into()),
            },
        };
        assert_eq!(
            e.to_string(),
            "could not get an answer from FlowIQ at https://api.flowiq.live/set-webhooks after 5 attempt(s): HTTP 503: down"
        );
        let t = AttemptFailure::Timeout {
            connect: Duration::from_secs(5),
            request: Duration::from_millis(1500),
        };
        assert_eq!(
            t.to_string(),
            "no answer in time (connect timeout 5s, request timeout 1.5s)"
        );
    }
}
