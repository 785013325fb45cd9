//! Sends to a URL: a replay POSTs each stored body byte for byte, as FlowIQ sends it, with a
//! header naming the replay run; forwarding POSTs a [`ForwardedEvent`] with its event id header
//! and the endpoint's credential header. Both as `Content-Type: application/json`.
//!
//! Retried ([`crate::retry`]: backoff, `Retry-After` honoured): connection errors, timeouts, 429
//! and 5xx.
//! Never retried: any 2xx (done), 3xx (redirects are not followed: a POST must not turn into a
//! GET elsewhere), other 4xx (the target refuses this body; it would refuse it again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use super::error::EventsError;
use super::forwarded_event::{EVENT_ID_HEADER, ForwardedEvent};
use super::send_error::SendError;
use crate::retry::{RetryPolicy, Transient, retry_after};

/// The header that marks a replayed delivery (`X-FlowIQ-Replay`: header names are
/// case-insensitive); its value is the run id.
pub const REPLAY_HEADER: HeaderName = HeaderName::from_static("x-flowiq-replay");
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks the target before anything is read: https, or http only with `allow_http`. No message
/// holds the URL: a receiver's URL holds its token, and these messages are printed.
pub fn parse_target_url(value: &str, allow_http: bool) -> Result<Url, EventsError> {
    let usage = |message: String| Err(EventsError::Usage(message));
    let Ok(url) = Url::parse(value) else {
        return usage(format!(
            "the --to-url value is not a URL ({} characters; not shown, as a receiver's URL holds \
             its token): check it, e.g. https://<host>/webhooks/whatsapp/<token>",
            value.chars().count()
        ));
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http => Ok(url),
        "http" => usage(
            "--to-url uses http://, which sends stored events unencrypted: use https://, or pass \
             --allow-http for a local test target"
                .into(),
        ),
        _ => usage("--to-url must be an https:// URL (its scheme is not https or http)".into()),
    }
}

/// A URL that events are POSTed to, as JSON, with retries: what the replay's and the
/// forwarding's targets share.
pub struct PostTarget {
    client: reqwest::Client,
    url: Url,
    retry: RetryPolicy,
}

impl PostTarget {
    /// Every request carries `headers` (the run id, or the endpoint's credential). Bounded times,
    /// no redirects (a redirect would resend the body elsewhere).
    pub fn new(url: Url, retry: RetryPolicy, mut headers: HeaderMap) -> Result<Self, EventsError> {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("flowiq-events/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|err| EventsError::Usage(format!("cannot build the HTTP client: {err}")))?;
        Ok(PostTarget { client, url, retry })
    }

    /// The URL as messages show it: scheme, host and port, never its path (it may hold a token).
    pub fn describe(&self) -> String {
        let port = self.url.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{port}",
            self.url.scheme(),
            self.url.host_str().unwrap_or("")
        )
    }

    /// POSTs `event` as live forwarding does: its body, its id in [`EVENT_ID_HEADER`].
    pub async fn forward(
        &self,
        event: &ForwardedEvent,
        retries: &AtomicU64,
    ) -> Result<(), SendError> {
        let Ok(event_id) = HeaderValue::from_str(&event.event_id) else {
            let problem = format!("event id {:?} cannot be a header value", event.event_id);
            return Err(SendError::Refused(problem));
        };
        (self.send(&event.event_id, Some(event_id), &event.body, retries)).await
    }

    /// POSTs `body` (with `id_header` as [`EVENT_ID_HEADER`]) until a final answer or the
    /// attempts run out; `Ok` only on a 2xx.
    pub async fn send(
        &self,
        event_id: &str,
        id_header: Option<HeaderValue>,
        body: &str,
        retries: &AtomicU64,
    ) -> Result<(), SendError> {
        let notify = |failure: &Transient, attempt: u32, wait: Duration| {
            let (wait, next, of) = (wait.as_millis(), attempt + 1, self.retry.max_attempts);
            let problem = &failure.problem;
            tracing::warn!(
                event_id,
                "{problem}; retrying in {wait} ms (attempt {next} of {of})"
            );
            retries.fetch_add(1, Ordering::Relaxed);
        };
        let outcome = (self
            .retry
            .run(|| self.post(id_header.clone(), body), notify))
        .await;
        outcome.unwrap_or_else(|exhausted| Err(SendError::exhausted(&self.describe(), exhausted)))
    }

    /// One POST: `Err` when worth another attempt, else the target's final answer.
    async fn post(
        &self,
        id_header: Option<HeaderValue>,
        body: &str,
    ) -> Result<Result<(), SendError>, Transient> {
        let mut request = self.client.post(self.url.clone()).body(body.to_owned());
        if let Some(event_id) = id_header {
            request = request.header(EVENT_ID_HEADER, event_id);
        }
        let problem = match request.send().await {
            Ok(response) => return classify(response.status(), retry_after(response.headers())),
            Err(err) if err.is_connect() => format!("cannot connect to {}", self.describe()),
            Err(err) if err.is_timeout() => format!("no answer from {} in time", self.describe()),
            // Reset connections, broken responses, …: the request may or may not have arrived.
            Err(err) => {
                let (target, why) = (self.describe(), without_url(err));
                format!("request to {target} failed: {why}")
            }
        };
        Err(Transient::new(problem))
    }
}

/// 2xx: done; 429 and 5xx: another attempt; anything else: refused.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
) -> Result<Result<(), SendError>, Transient> {
    if status.is_success() {
        Ok(Ok(()))
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let problem = format!("HTTP {status}");
        Err(Transient {
            problem,
            retry_after,
        })
    } else {
        Ok(Err(SendError::Refused(format!("HTTP {status}"))))
    }
}

/// reqwest's message and its causes, without the URL (it may carry a token in its path).
fn without_url(err: reqwest::Error) -> String {
    let err = err.without_url();
    let causes = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source());
    causes
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_the_flag() {
        let refused = |url, allow_http| parse_target_url(url, allow_http).unwrap_err().to_string();
        assert!(parse_target_url("https://example.com/x", false).is_ok());
        assert!(refused("http://127.0.0.1:9/x", false).contains("--allow-http"));
        assert!(parse_target_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(refused("ftp://example.com", true).contains("its scheme is not https or http"));
        let malformed = refused("example.com/token-abc", true);
        assert!(malformed.contains("not a URL (21 characters") && !malformed.contains("abc"));
    }

    #[test]
    fn only_429_and_5xx_are_retried() {
        for (code, retried) in [
            (200, None),
            (204, None),
            (429, Some(true)),
            (500, Some(true)),
            (503, Some(true)),
            (400, Some(false)),
            (404, Some(false)),
            (301, Some(false)),
        ] {
            let got = match classify(StatusCode::from_u16(code).unwrap(), None) {
                Ok(Ok(())) => None,
                Err(_) => Some(true),
                Ok(Err(_)) => Some(false),
            };
            assert_eq!(got, retried, "HTTP {code}");
        }
    }
}
