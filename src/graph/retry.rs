//! Retry policy for Graph and Exchange: honour `Retry-After`, otherwise exponential backoff
//! with full jitter, bounded both in attempts and in total time.
//!
//! The arithmetic is ours on purpose. backon, the maintained retry crate (`backoff` is
//! unmaintained, RUSTSEC-2025-0012), jitters additively (`[d, 2d)`, not full jitter's
//! `[0, d]`), bounds the sum of its own sleeps rather than the time since the first attempt
//! (a throttled request's own latency would not count), and drives one closure per call,
//! which fits neither the 401 token refresh that is not an attempt nor `$batch`'s per-item
//! rounds in `client`. The randomness is `rand`'s.

use std::time::Duration;

/// How hard to retry throttled (429) and transient (503/504, network) failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first.
    pub max_attempts: u32,
    /// First backoff step when the service gives no `Retry-After`.
    pub base_delay: Duration,
    /// Cap for one backoff step (and for an absurd `Retry-After`).
    pub max_delay: Duration,
    /// Give up when the next wait would end later than this after the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// Microsoft's guidance: wait as told; a 50,000-user tenant can be throttled for minutes,
    /// so allow up to 5 minutes per request before failing that operation.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_total: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), given the service's
    /// `Retry-After` if any. Full jitter: uniform in `[0, min(max, base * 2^(attempt-1))]`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let millis = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(jitter(millis))
    }

    /// Whether another attempt is allowed after `attempt` attempts, `elapsed` so far and a
    /// planned wait of `wait`.
    pub fn allows(&self, attempt: u32, elapsed: Duration, wait: Duration) -> bool {
        attempt < self.max_attempts && elapsed + wait <= self.max_total
    }
}

/// Uniform random number in `[0, upper]`, from the thread's OS-seeded generator (jitter only
/// has to differ between clients, so no seed is kept).
fn jitter(upper: u64) -> u64 {
    rand::random_range(0..=upper)
}

/// Parses `Retry-After` given in seconds (Graph never sends the HTTP-date form).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Statuses worth retrying: throttled or transient.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(p.delay(1, Some(Duration::from_secs(7200))), p.max_delay);
    }

    #[test]
    fn backoff_is_bounded_by_exponential_cap() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let cap = p
                .base_delay
                .saturating_mul(1 << (attempt - 1))
                .min(p.max_delay);
            assert!(p.delay(attempt, None) <= cap);
        }
    }

    #[test]
    fn attempts_and_total_time_are_bounded() {
        let p = RetryPolicy::default();
        assert!(p.allows(1, Duration::ZERO, Duration::from_secs(1)));
        assert!(!p.allows(p.max_attempts, Duration::ZERO, Duration::ZERO));
        assert!(!p.allows(1, p.max_total, Duration::from_secs(1)));
    }

    #[test]
    fn parses_seconds_only() {
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
