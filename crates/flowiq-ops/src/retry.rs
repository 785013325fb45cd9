//! The one retry policy of the operator tools: `flowiq-bootstrap`'s calls to FlowIQ's Create
//! Webhook and `flowiq-events`' replay sends (HTTP POSTs, failed PutEvents entries).
//!
//! Bounded attempts; between two, a wait drawn with "full jitter" — uniform in `[0, ceiling]`,
//! the ceilings being backon's exponential schedule (`base_delay`, 2 × `base_delay`, … at most
//! `max_delay`) — unless the other side said how long with `Retry-After` (capped at
//! `max_retry_after`). The loop is backon's. The bootstrap's `base_delay` is its
//! `Settings::first_backoff` (500 ms; its tests shorten it) and its attempts `--max-attempts`; a
//! replay's are the defaults below and its `--max-attempts`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; doubles with each further retry.
    pub base_delay: Duration,
    /// The backoff ceiling never exceeds this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is shortened to it.
    pub max_retry_after: Duration,
}

/// An attempt that deserves another one (a 429 or 5xx, a timeout, a connection failure, a
/// throttled PutEvents entry): what went wrong, and the `Retry-After` the other side sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transient {
    pub problem: String,
    pub retry_after: Option<Duration>,
}

impl Transient {
    pub fn new(problem: impl Into<String>) -> Self {
        Transient {
            problem: problem.into(),
            retry_after: None,
        }
    }
}

/// The attempts ran out: how many were made, and the last one's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub attempts: u32,
    pub last: Transient,
}

impl RetryPolicy {
    /// The default backoff with `max_attempts` attempts (`--max-attempts`).
    pub fn with_attempts(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        }
    }

    /// Runs `operation` until it returns `Ok` (a final answer, which may itself be a refusal:
    /// `T` is the caller's) or the attempts run out. Before each retry, `notify` gets the
    /// failure, the number of the attempt that failed (1 for the first) and the wait.
    pub async fn run<T, F, Fut>(
        &self,
        operation: F,
        mut notify: impl FnMut(&Transient, u32, Duration),
    ) -> Result<T, Exhausted>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Transient>>,
    {
        let mut retries = 0;
        let result = operation
            .retry(self.backoff())
            .adjust(|failure: &Transient, ceiling| {
                ceiling.map(|ceiling| self.wait(ceiling, failure.retry_after))
            })
            .notify(|failure, wait| {
                retries += 1;
                notify(failure, retries, wait);
            })
            .await;
        result.map_err(|last| Exhausted {
            attempts: retries + 1,
            last,
        })
    }

    /// The ceilings between attempts: `base_delay` doubling up to `max_delay`, one fewer than
    /// `max_attempts`.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }

    /// The wait before a retry: `Retry-After` when the other side sent one (capped), else
    /// uniform in `[0, ceiling]`.
    pub fn wait(&self, ceiling: Duration, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => ceiling.mul_f64(fastrand::f64()),
        }
    }
}

/// 5 attempts, waits from 500 ms doubling up to 8 s, a `Retry-After` of at most 30 s.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// The `Retry-After` of an answer, as a wait from now (see [`parse_retry_after`]).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, OffsetDateTime::now_utc())
}

/// `Retry-After` (RFC 9110 §10.2.3): seconds (`"120"`), or an HTTP date
/// (`"Wed, 21 Oct 2026 07:28:00 GMT"`), which is a wait until then (zero when it has passed).
/// Anything else is `None`, and the backoff applies. Absurdly long values saturate; the policy
/// caps them anyway.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    // The IMF-fixdate form, the one senders must use (the obsolete forms are rare).
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let until = PrimitiveDateTime::parse(value, format).ok()?.assume_utc();
    Some(Duration::try_from(until - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use backon::BackoffBuilder as _;
    use time::macros::datetime;

    use super::*;

    fn policy(base_ms: u64, max_ms: u64, max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn ceilings_double_up_to_the_maximum_one_fewer_than_the_attempts() {
        let bootstrap = RetryPolicy {
            max_attempts: 7,
            ..RetryPolicy::default()
        };
        let ceilings: Vec<u128> = bootstrap.backoff().build().map(|d| d.as_millis()).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 8000]);
        let ceilings: Vec<u128> = policy(100, 1000, 7)
            .backoff()
            .build()
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy(100, 1000, 1).backoff().build().next(), None);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_varies() {
        let p = policy(100, 1000, 5);
        let ceiling = Duration::from_secs(2);
        let waits: std::collections::HashSet<_> = (0..200).map(|_| p.wait(ceiling, None)).collect();
        assert!(waits.len() > 10 && waits.iter().all(|w| *w <= ceiling));
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = policy(100, 1000, 5);
        let ceiling = Duration::from_millis(100);
        for (retry_after, expected) in [(2, 2), (3600, 5), (0, 0)] {
            let wait = p.wait(ceiling, Some(Duration::from_secs(retry_after)));
            assert_eq!(wait, Duration::from_secs(expected), "{retry_after}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = datetime!(2026-10-21 07:28:00 UTC);
        let parse = |value| parse_retry_after(value, now);
        assert_eq!(parse("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2026 07:27:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        for ignored in [
            "",
            "-1",
            "+1",
            "1.5",
            "soon",
            "Wed, 21 Oct 2026 07:28:30 +0200",
            "Wednesday, 21-Oct-26 07:28:30 GMT",
        ] {
            assert_eq!(parse(ignored), None, "{ignored:?}");
        }
    }

    #[tokio::test]
    async fn run_waits_as_long_as_retry_after_says_and_counts_the_attempts() {
        // Backoff ceilings of 1 ms: only an honoured Retry-After makes the run take 300 ms.
        let p = policy(1, 1, 3);
        let mut calls = 0;
        let mut notices = Vec::new();
        let started = Instant::now();
        let result = p
            .run(
                || {
                    calls += 1;
                    let answer = match calls {
                        1 => Err(Transient {
                            problem: "HTTP 429".into(),
                            retry_after: Some(Duration::from_millis(300)),
                        }),
                        _ => Ok(calls),
                    };
                    async move { answer }
                },
                |failure, attempt, wait| notices.push((failure.problem.clone(), attempt, wait)),
            )
            .await;
        assert_eq!(result, Ok(2));
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(
            notices,
            [("HTTP 429".to_owned(), 1, Duration::from_millis(300))]
        );
    }

    #[tokio::test]
    async fn run_gives_up_after_max_attempts_with_the_last_failure() {
        let p = policy(1, 1, 3);
        let mut calls = 0;
        let result: Result<(), Exhausted> = p
            .run(
                || {
                    calls += 1;
                    let problem = format!("HTTP 503 (call {calls})");
                    async move { Err(Transient::new(problem)) }
                },
                |_, _, _| {},
            )
            .await;
        assert_eq!(
            result,
            Err(Exhausted {
                attempts: 3,
                last: Transient::new("HTTP 503 (call 3)"),
            })
        );
        assert_eq!(calls, 3);
    }
}
