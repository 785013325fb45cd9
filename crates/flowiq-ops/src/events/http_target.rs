//! Replay to a URL: each stored body POSTed byte for byte, as FlowIQ sends it
//! (`Content-Type: application/json`), with a header naming the replay run.
//!
//! Retried ([`crate::retry`]: backoff, `Retry-After` honoured): connection errors, timeouts, 429
//! and 5xx.
//! Never retried: any 2xx (done), 3xx (redirects are not followed: a POST must not turn into a
//! GET elsewhere), other 4xx (the target refuses this body; it would refuse it again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{RequestBuilder, StatusCode, Url};

use super::replay_item::ReplayItem;
use super::send_error::SendError;
use crate::retry::{RetryPolicy, Transient, retry_after};

/// The header that marks a replayed delivery; its value is the run id.
pub const REPLAY_HEADER: &str = "X-FlowIQ-Replay";
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Never holds the URL: a receiver's URL holds its token, and these messages are printed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetUrlError {
    #[error(
        "the --to-url value is not a URL ({0} characters; not shown, as a receiver's URL holds its \
         token): check it, e.g. https://<host>/webhooks/whatsapp/<token>"
    )]
    Malformed(usize),
    #[error(
        "--to-url uses http://, which sends stored events unencrypted: use https://, or pass \
         --allow-http for a local test target"
    )]
    PlainHttp,
    #[error("--to-url must be an https:// URL (its scheme is not https or http)")]
    Scheme,
}

/// Checks the target before anything is read: https, or http only with `allow_http`.
pub fn parse_target_url(value: &str, allow_http: bool) -> Result<Url, TargetUrlError> {
    let url = Url::parse(value).map_err(|_| TargetUrlError::Malformed(value.chars().count()))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http => Ok(url),
        "http" => Err(TargetUrlError::PlainHttp),
        _ => Err(TargetUrlError::Scheme),
    }
}

/// The HTTP client of every send to a URL (replays, forwarding): bounded times, no redirects
/// (a redirect would resend the body elsewhere).
pub(super) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flowiq-events/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))
}

/// A URL as messages show it: scheme, host and port, never its path (it may hold a token).
pub(super) fn endpoint(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

/// A URL that events are POSTed to, as JSON, with retries: what the replay's and the
/// forwarding's targets share.
pub(super) struct PostTarget {
    client: reqwest::Client,
    url: Url,
    retry: RetryPolicy,
}

impl PostTarget {
    pub(super) fn new(url: Url, retry: RetryPolicy) -> Result<Self, String> {
        let client = http_client()?;
        Ok(PostTarget { client, url, retry })
    }

    /// The URL without path, query or credentials (for messages).
    pub(super) fn describe(&self) -> String {
        endpoint(&self.url)
    }

    /// POSTs the request `headers` completes (its own headers and body) until a final answer or
    /// the attempts run out; `Ok` only on a 2xx.
    pub(super) async fn send(
        &self,
        event_id: &str,
        retries: &AtomicU64,
        headers: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<(), SendError> {
        let outcome = self
            .retry
            .run(
                || self.post(&headers),
                |failure, attempt, wait| {
                    tracing::warn!(
                        event_id = %event_id,
                        "{}; retrying in {} ms (attempt {} of {})",
                        failure.problem,
                        wait.as_millis(),
                        attempt + 1,
                        self.retry.max_attempts
                    );
                    retries.fetch_add(1, Ordering::Relaxed);
                },
            )
            .await;
        outcome.unwrap_or_else(|exhausted| Err(SendError::exhausted(&self.describe(), exhausted)))
    }

    /// One POST: `Err` when worth another attempt, else the target's final answer.
    async fn post(
        &self,
        headers: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Result<(), SendError>, Transient> {
        let request = (self.client.post(self.url.clone()))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match headers(request).send().await {
            Ok(response) => classify(response.status(), retry_after(response.headers())),
            Err(err) if err.is_connect() => Err(Transient::new(format!(
                "cannot connect to {}",
                self.describe()
            ))),
            Err(err) if err.is_timeout() => Err(Transient::new(format!(
                "no answer from {} in time",
                self.describe()
            ))),
            // Reset connections, broken responses, …: the request may or may not have arrived.
            Err(err) => Err(Transient::new(format!(
                "request to {} failed: {}",
                self.describe(),
                without_url(&err)
            ))),
        }
    }
}

pub struct HttpTarget {
    target: PostTarget,
    run_id: HeaderValue,
}

impl HttpTarget {
    pub fn new(url: Url, run_id: &str, retry: RetryPolicy) -> Result<Self, String> {
        let target = PostTarget::new(url, retry)?;
        let run_id = HeaderValue::from_str(run_id)
            .map_err(|_| "the run id must be printable ASCII".to_owned())?;
        Ok(HttpTarget { target, run_id })
    }

    /// Where events go, without query or credentials (for messages).
    pub fn describe(&self) -> String {
        self.target.describe()
    }

    pub async fn send(&self, item: &ReplayItem, retries: &AtomicU64) -> Result<(), SendError> {
        let request = |request: RequestBuilder| {
            (request.header(REPLAY_HEADER, self.run_id.clone()))
                .body(item.body.clone().into_bytes())
        };
        self.target.send(&item.event_id, retries, request).await
    }
}

/// 2xx: done; 429 and 5xx: another attempt; anything else: refused.
pub(super) fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
) -> Result<Result<(), SendError>, Transient> {
    if status.is_success() {
        Ok(Ok(()))
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(Transient {
            problem: format!("HTTP {status}"),
            retry_after,
        })
    } else {
        Ok(Err(SendError::Refused(format!("HTTP {status}"))))
    }
}

/// reqwest's message without the URL (it may carry a token in its path).
pub(super) fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<target>");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_the_flag() {
        assert!(parse_target_url("https://example.com/x", false).is_ok());
        assert_eq!(
            parse_target_url("http://127.0.0.1:9/x", false),
            Err(TargetUrlError::PlainHttp)
        );
        assert!(parse_target_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(matches!(
            parse_target_url("ftp://example.com", true),
            Err(TargetUrlError::Scheme)
        ));
        assert!(matches!(
            parse_target_url("example.com", true),
            Err(TargetUrlError::Malformed(_))
        ));
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
