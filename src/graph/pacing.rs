//! Adaptive concurrency for one service (Graph or Exchange): how many requests may be in flight,
//! grown additively while the service answers and halved on every throttled answer, plus a
//! shared pause until the `Retry-After` a 429 names. Microsoft's throttling guidance is per app
//! and tenant: once one request is told to wait, every parallel request that goes out anyway is
//! spent budget and another 429, so all of them wait (AIMD, as TCP does with its window).
//!
//! Writes have a second, slower budget: Graph's write quota (`WriteQuota`), 3,000 writes per
//! 2 min 30 s per app and tenant. Halving concurrency cannot find a rate (the quota refills 20
//! writes a second whatever the concurrency), so writes also take tokens from a client-side
//! bucket of the published quota (`WriteBudget`) before they are sent, and a 429 that names the
//! write limit empties it.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Concurrency limit and pause shared by every request to one service.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Allowed requests in flight; fractional so that growth is one per window of successes.
    limit: f64,
    max: usize,
    in_flight: usize,
    resume_at: Option<Instant>,
}

/// A slot for one request; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot<'a>(&'a Pacer);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
        self.0.changed.notify_waiters();
    }
}

impl Pacer {
    /// Starts at `max` requests in flight: a service that never throttles is never slowed.
    pub fn new(max: usize) -> Pacer {
        let max = max.max(1);
        Pacer {
            state: Mutex::new(State {
                limit: max as f64,
                max,
                in_flight: 0,
                resume_at: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a pause to end and a slot to be free, then takes the slot.
    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = {
                let mut state = self.lock();
                match state.resume_at {
                    Some(at) if at > Instant::now() => Some(at),
                    _ => {
                        state.resume_at = None;
                        if state.in_flight < state.limit as usize {
                            state.in_flight += 1;
                            return Slot(self);
                        }
                        None
                    }
                }
            };
            match pause {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// A 429: halve the limit (never below one) and hold every new request for `retry_after`.
    pub fn throttled(&self, retry_after: Duration) {
        {
            let mut state = self.lock();
            state.limit = (state.limit / 2.0).max(1.0);
            let until = Instant::now() + retry_after;
            state.resume_at = Some(state.resume_at.map_or(until, |at| at.max(until)));
        }
        self.changed.notify_waiters();
    }

    /// An answer that was not a 429: grow the limit by one per `limit` such answers.
    pub fn answered(&self) {
        let grew = {
            let mut state = self.lock();
            let before = state.limit as usize;
            state.limit = (state.limit + 1.0 / state.limit).min(state.max as f64);
            state.limit as usize > before
        };
        if grew {
            self.changed.notify_waiters();
        }
    }

    /// Requests currently allowed in flight.
    pub fn limit(&self) -> usize {
        self.lock().limit as usize
    }
}

/// A write quota: at most `writes` per `window`, refilled continuously (a token bucket).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteQuota {
    /// Writes the bucket holds (and starts with).
    pub writes: u32,
    /// Time the bucket takes to refill from empty.
    pub window: Duration,
}

impl WriteQuota {
    /// Microsoft's published write quota per app + tenant for the identity and access
    /// service (users, groups, licences): 3,000 requests per 2 min 30 s
    /// (https://learn.microsoft.com/en-us/graph/throttling-limits, "Identity and access service
    /// limits"). The tenant-wide quota (18,000 per 5 min, all apps) is looser for one app.
    pub const MICROSOFT: WriteQuota = WriteQuota {
        writes: 3_000,
        window: Duration::from_secs(150),
    };

    /// Reads `WRITES/SECONDS` (`3000/150`): how an operator states another quota.
    pub fn parse(text: &str) -> Result<WriteQuota, String> {
        let (writes, seconds) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not WRITES/SECONDS (e.g. 3000/150)"))?;
        let writes: u32 = writes
            .trim()
            .parse()
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(|| format!("{writes:?} is not a positive number of writes"))?;
        let seconds: u64 = seconds
            .trim()
            .parse()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| format!("{seconds:?} is not a positive number of seconds"))?;
        Ok(WriteQuota {
            writes,
            window: Duration::from_secs(seconds),
        })
    }

    /// Writes per second once the bucket is empty.
    pub fn per_second(&self) -> f64 {
        f64::from(self.writes.max(1)) / self.window.as_secs_f64().max(1e-3)
    }

    /// The least time `writes` writes take under this quota when the bucket starts full: the
    /// floor an apply is measured against.
    pub fn floor(&self, writes: usize) -> Duration {
        let beyond = writes.saturating_sub(self.writes as usize);
        Duration::from_secs_f64(beyond as f64 / self.per_second())
    }
}

/// The client's copy of the service's write bucket: every write takes a token before it is
/// sent, so a long apply runs at the quota's rate instead of meeting it as a storm of 429s.
/// It starts full, as the service's does for an app that has not written lately; when the
/// service says otherwise (a 429 naming the write limit) the bucket is emptied.
#[derive(Debug)]
pub struct WriteBudget {
    quota: WriteQuota,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was last brought up to date.
    since: Instant,
}

impl WriteBudget {
    /// A full bucket of `quota`.
    pub fn new(quota: WriteQuota) -> WriteBudget {
        WriteBudget {
            quota,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(quota.writes.max(1)),
                since: Instant::now(),
            }),
        }
    }

    /// The quota this bucket keeps.
    pub fn quota(&self) -> WriteQuota {
        self.quota
    }

    /// Waits until `writes` tokens have been taken (a bucketful at a time when there are
    /// more writes than the bucket holds).
    pub async fn take(&self, writes: usize) {
        let capacity = self.quota.writes.max(1) as usize;
        let mut left = writes;
        while left > 0 {
            let now = left.min(capacity);
            self.take_at_most_a_bucket(now as f64).await;
            left -= now;
        }
    }

    async fn take_at_most_a_bucket(&self, wanted: f64) {
        let capacity = f64::from(self.quota.writes.max(1));
        loop {
            let wait = {
                let mut bucket = self.lock();
                let now = Instant::now();
                let refill = now.saturating_duration_since(bucket.since).as_secs_f64()
                    * self.quota.per_second();
                bucket.tokens = (bucket.tokens + refill).min(capacity);
                bucket.since = now;
                if bucket.tokens >= wanted {
                    bucket.tokens -= wanted;
                    return;
                }
                Duration::from_secs_f64((wanted - bucket.tokens) / self.quota.per_second())
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// The service refused a write for its write quota: its bucket is empty now, so ours is
    /// emptied too. It keeps refilling meanwhile, as the service's does: the `Retry-After`
    /// pause (the `Pacer`'s) holds the writes, and what refilled during it goes out after it.
    pub fn exhausted(&self) {
        let mut bucket = self.lock();
        bucket.tokens = 0.0;
        bucket.since = Instant::now();
    }

    /// Tokens now (tests and diagnostics).
    pub fn available(&self) -> f64 {
        self.lock().tokens
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(writes: u32, secs: u64) -> WriteQuota {
        WriteQuota {
            writes,
            window: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn writes_go_out_at_the_quota_rate_once_the_full_bucket_is_spent() {
        // 30 per 10 s: 30 at once, then 3 a second.
        let budget = WriteBudget::new(quota(30, 10));
        let started = Instant::now();
        for _ in 0..3 {
            budget.take(10).await;
        }
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "a full bucket sends at once"
        );
        for _ in 0..4 {
            budget.take(6).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        assert!(
            (elapsed - 8.0).abs() < 0.01,
            "24 more writes at 3/s: {elapsed}"
        );
        assert_eq!(
            quota(30, 10).floor(54),
            Duration::from_secs(8),
            "the floor is the same arithmetic"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn more_writes_than_the_bucket_holds_wait_for_every_token() {
        let budget = WriteBudget::new(quota(2, 1));
        let started = Instant::now();
        budget.take(10).await;
        assert_eq!(
            started.elapsed().as_secs_f64().round(),
            4.0,
            "8 beyond the bucket at 2/s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_limit_429_empties_the_bucket_which_refills_at_the_quota_rate() {
        let budget = WriteBudget::new(quota(3_000, 150));
        budget.exhausted();
        assert_eq!(budget.available(), 0.0);
        let started = Instant::now();
        budget.take(20).await;
        // 20 writes at 20 a second.
        assert_eq!(started.elapsed().as_secs_f64().round(), 1.0);
    }

    #[test]
    fn quotas_are_read_as_writes_per_seconds_or_refused() {
        assert_eq!(WriteQuota::parse(" 3000/150 "), Ok(WriteQuota::MICROSOFT));
        for bad in ["3000", "0/150", "3000/0", "x/150", "3000/1.5", "-1/10"] {
            assert!(WriteQuota::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn microsofts_quota_is_twenty_writes_a_second_after_three_thousand() {
        let q = WriteQuota::MICROSOFT;
        assert_eq!(q.per_second(), 20.0);
        assert_eq!(q.floor(3_000), Duration::ZERO);
        assert_eq!(q.floor(3_278), Duration::from_secs_f64(13.9));
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_limited_and_freed() {
        let pacer = Pacer::new(2);
        let a = pacer.acquire().await;
        let _b = pacer.acquire().await;
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(
            third.is_err(),
            "a third request waits while two are in flight"
        );
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.acquire()).await;
        assert!(third.is_ok(), "a freed slot is taken");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_limit_and_pauses_everyone_for_retry_after() {
        let pacer = Pacer::new(16);
        pacer.throttled(Duration::from_secs(3));
        assert_eq!(pacer.limit(), 8);
        let started = Instant::now();
        let slot = pacer.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        drop(slot);
        pacer.throttled(Duration::from_secs(1));
        pacer.throttled(Duration::from_secs(1));
        pacer.throttled(Duration::from_secs(1));
        pacer.throttled(Duration::from_secs(1));
        assert_eq!(pacer.limit(), 1, "never below one");
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_short_retry_after_does_not_cut_a_longer_pause() {
        let pacer = Pacer::new(4);
        pacer.throttled(Duration::from_secs(10));
        pacer.throttled(Duration::from_secs(1));
        let started = Instant::now();
        let _slot = pacer.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[test]
    fn answers_grow_the_limit_additively_up_to_the_maximum() {
        let pacer = Pacer::new(16);
        pacer.throttled(Duration::ZERO);
        assert_eq!(pacer.limit(), 8);
        // About one more slot per window of `limit` answers.
        for _ in 0..7 {
            pacer.answered();
        }
        assert_eq!(pacer.limit(), 8);
        for _ in 0..3 {
            pacer.answered();
        }
        assert_eq!(pacer.limit(), 9);
        for _ in 0..1_000 {
            pacer.answered();
        }
        assert_eq!(pacer.limit(), 16);
    }
}
