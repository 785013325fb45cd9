//! When and how long to wait before sending again (flowiq-events replays): bounded attempts,
//! exponential backoff with full jitter, and the target's `Retry-After` (seconds), capped. The
//! bootstrap drives the same schedule through backon (`bootstrap::flowiq`).

use std::time::Duration;

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

impl RetryPolicy {
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(8);
    pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

    /// The wait before retry number `retry` (1 for the first retry): `Retry-After` when the
    /// server sent one (capped), else "full jitter" — uniform in `[0, min(max, base × 2^(retry-1))]`.
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => {
                let ceiling = self.backoff_ceiling(retry);
                let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
                Duration::from_millis(rng.u64(0..=millis))
            }
        }
    }

    /// `min(max_delay, base_delay × 2^(retry-1))`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            base_delay: Self::DEFAULT_BASE_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
            max_retry_after: Self::DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

/// A `Retry-After` header in seconds (`"120"`). The HTTP-date form is ignored (backoff applies).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Absurdly long values saturate; the policy caps them anyway.
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_maximum() {
        let p = policy();
        let ceilings: Vec<_> = (1..=6).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ceiling(0).as_millis(), 100);
        assert_eq!(p.backoff_ceiling(u32::MAX), p.max_delay);
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_varies() {
        let p = policy();
        let mut rng = fastrand::Rng::with_seed(7);
        for retry in 1..=6 {
            let delays: Vec<_> = (0..200).map(|_| p.delay(retry, None, &mut rng)).collect();
            assert!(delays.iter().all(|d| *d <= p.backoff_ceiling(retry)));
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(
                distinct.len() > 10,
                "retry {retry}: jitter spreads the waits"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = policy();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2)), &mut rng),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600)), &mut rng),
            Duration::from_secs(5)
        );
        assert_eq!(p.delay(3, Some(Duration::ZERO), &mut rng), Duration::ZERO);
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        for ignored in ["", "-1", "1.5", "soon", "Wed, 21 Oct 2026 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(ignored), None, "{ignored:?}");
        }
    }
}
