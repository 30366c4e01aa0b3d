//! Adaptive concurrency for one service (Graph or Exchange): how many requests may be in flight,
//! grown additively while the service answers and halved on every 429, plus a shared pause
//! until the `Retry-After` a 429 names. Microsoft's throttling guidance is per app and tenant:
//! once one request is told to wait, every parallel request that goes out anyway is spent
//! budget and another 429, so all of them wait (AIMD, as TCP does with its window).

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

#[cfg(test)]
mod tests {
    use super::*;

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
