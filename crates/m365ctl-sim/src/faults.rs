//! Deterministic fault injection and a throttle budget for the fake server.

use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::time::Duration;
use tokio::time::Instant;

/// A failure the fake answers with instead of serving the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` seconds.
    Throttled(u64),
    /// 503 or 504 without `Retry-After`.
    Transient(u16),
}

/// Decides, per request, whether to inject a fault.
#[derive(Debug)]
pub struct FaultSchedule {
    rng: ChaCha8Rng,
    rate: f64,
    retry_after_secs: u64,
}

impl FaultSchedule {
    /// Faults `rate` of requests: half throttled (429), a quarter 503, a quarter 504.
    pub fn new(seed: u64, rate: f64, retry_after_secs: u64) -> FaultSchedule {
        FaultSchedule {
            rng: ChaCha8Rng::seed_from_u64(seed),
            rate,
            retry_after_secs,
        }
    }

    /// The fault for the next request, if any.
    pub fn next_fault(&mut self) -> Option<Fault> {
        if self.rate <= 0.0 || self.rng.random::<f64>() >= self.rate {
            return None;
        }
        let kind = self.rng.random::<f64>();
        Some(if kind < 0.5 {
            Fault::Throttled(self.retry_after_secs)
        } else if kind < 0.75 {
            Fault::Transient(503)
        } else {
            Fault::Transient(504)
        })
    }
}

/// A fixed-window request budget: `limit` requests per `window`, then 429 until it resets.
#[derive(Debug, Clone)]
pub struct ThrottleBudget {
    limit: u32,
    window: Duration,
    started: Instant,
    used: u32,
}

impl ThrottleBudget {
    /// `limit` requests per `window`.
    pub fn new(limit: u32, window: Duration) -> ThrottleBudget {
        ThrottleBudget {
            limit,
            window,
            started: Instant::now(),
            used: 0,
        }
    }

    /// Takes one unit; when the budget is spent, the seconds until it refills.
    pub fn take(&mut self) -> Option<u64> {
        let now = Instant::now();
        if now.duration_since(self.started) >= self.window {
            self.started = now;
            self.used = 0;
        }
        if self.used < self.limit {
            self.used += 1;
            return None;
        }
        let remaining = self.window.saturating_sub(now.duration_since(self.started));
        Some(remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rate_is_roughly_honoured_and_reproducible() {
        let mut a = FaultSchedule::new(7, 0.2, 1);
        let mut b = FaultSchedule::new(7, 0.2, 1);
        let faults: Vec<_> = (0..10_000).map(|_| a.next_fault()).collect();
        let again: Vec<_> = (0..10_000).map(|_| b.next_fault()).collect();
        assert_eq!(faults, again);
        let n = faults.iter().filter(|f| f.is_some()).count();
        assert!((1_700..2_300).contains(&n), "{n}");
    }

    #[test]
    fn budget_refuses_beyond_limit() {
        let mut t = ThrottleBudget::new(2, Duration::from_secs(10));
        assert_eq!(t.take(), None);
        assert_eq!(t.take(), None);
        assert!(matches!(t.take(), Some(s) if (1..=10).contains(&s)));
    }
}
