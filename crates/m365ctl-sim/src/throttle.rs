//! Microsoft's published throttling model for the fake: what a request costs and when a
//! budget is spent, so clients meet the 429s (and `Retry-After` values) a real tenant gives.
//!
//! Identity and access service limits (https://learn.microsoft.com/en-us/graph/throttling-limits,
//! "Identity and access service limits"): per app + tenant a token bucket of resource units (RU)
//! refilled every 10 s, sized by the tenant (fewer than 50 users: 3,500; 50 to 500: 5,000; more:
//! 8,000); a write quota of 3,000 requests per 2 min 30 s per app + tenant and of 18,000 per
//! 5 min per tenant (all apps). Base costs: `GET users` 2, `GET subscribedSkus` 3,
//! `GET users/{id}/licenseDetails` 2, `GET groups/{id}/members` 3, any other GET 1, any write
//! 1 RU + 1 write; `$select` −1, `$expand` +1, `$top` below 20 −1, never below 1.
//! Exchange Online's admin API publishes no number; the nearest published Exchange limit
//! (Outlook service limits on the same page: 10,000 requests per 10 min per app and mailbox)
//! is the default, configurable like every other figure.
//!
//! Buckets refill continuously, so `Retry-After` is the time until the bucket holds the cost
//! again (rounded up to whole seconds), computed from the window rather than fixed.

use std::time::Duration;
use tokio::time::Instant;

/// The figures of the model; `microsoft()` gives the published ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleModel {
    /// Resource units per `ru_window` per app + tenant; `None` picks by tenant size.
    pub resource_units: Option<u32>,
    /// The resource-unit window (10 s).
    pub ru_window: Duration,
    /// Writes per `app_write_window` per app + tenant (3,000 per 150 s).
    pub app_writes: u32,
    /// The app + tenant write window.
    pub app_write_window: Duration,
    /// Writes per `tenant_write_window` per tenant, all apps (18,000 per 5 min).
    pub tenant_writes: u32,
    /// The tenant write window.
    pub tenant_write_window: Duration,
    /// Exchange admin API calls per `exchange_window`.
    pub exchange_requests: u32,
    /// The Exchange window.
    pub exchange_window: Duration,
    /// Multiplies every budget (at least 1 each): a small factor lets a test meet the limits
    /// with a few requests.
    pub scale: f64,
}

impl ThrottleModel {
    /// Microsoft's published limits.
    pub fn microsoft() -> ThrottleModel {
        ThrottleModel {
            resource_units: None,
            ru_window: Duration::from_secs(10),
            app_writes: 3_000,
            app_write_window: Duration::from_secs(150),
            tenant_writes: 18_000,
            tenant_write_window: Duration::from_secs(300),
            exchange_requests: 10_000,
            exchange_window: Duration::from_secs(600),
            scale: 1.0,
        }
    }

    /// The same shape with every budget multiplied by `factor`.
    pub fn scaled(self, factor: f64) -> ThrottleModel {
        ThrottleModel {
            scale: factor,
            ..self
        }
    }

    fn scale(&self, n: u32) -> u32 {
        ((f64::from(n) * self.scale).round() as u32).max(1)
    }

    /// The app + tenant resource-unit quota for a tenant of `users` users (scaled).
    pub fn resource_units_for(&self, users: usize) -> u32 {
        self.scale(self.resource_units.unwrap_or(match users {
            0..50 => 3_500,
            50..=500 => 5_000,
            _ => 8_000,
        }))
    }
}

/// What one Graph request asks of the budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Resource units.
    pub units: u32,
    /// Whether it also counts against the write quotas.
    pub write: bool,
}

/// The cost of a Graph request (path relative to `/v1.0`, query option names and values).
pub fn graph_cost(method: &str, path: &str, query: &[(String, String)]) -> Cost {
    let write = !method.eq_ignore_ascii_case("GET");
    if write {
        return Cost { units: 1, write };
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let base: i64 = match segments.as_slice() {
        ["users"] => 2,
        ["subscribedSkus"] => 3,
        ["users", _, "licenseDetails"] | ["me", "licenseDetails"] => 2,
        ["groups", _, "members", ..] => 3,
        ["groups", _, "transitiveMembers", ..] => 5,
        _ => 1,
    };
    let has = |name: &str| query.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let small_top = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$top"))
        .and_then(|(_, v)| v.parse::<u32>().ok())
        .is_some_and(|n| n < 20);
    let units = base - i64::from(has("$select")) + i64::from(has("$expand")) - i64::from(small_top);
    Cost {
        units: units.max(1) as u32,
        write,
    }
}

/// A continuously refilled token bucket: `capacity` tokens per `window`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, window: Duration, now: Instant) -> TokenBucket {
        let capacity = f64::from(capacity.max(1));
        TokenBucket {
            capacity,
            per_second: capacity / window.as_secs_f64().max(1e-3),
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// Whether `cost` tokens are there now (nothing is taken).
    pub fn wait_for(&mut self, cost: u32, now: Instant) -> Option<Duration> {
        self.refill(now);
        let missing = f64::from(cost).min(self.capacity) - self.tokens;
        (missing > 0.0).then(|| Duration::from_secs_f64(missing / self.per_second))
    }

    /// Takes `cost` tokens (callers check `wait_for` first).
    pub fn take(&mut self, cost: u32, now: Instant) {
        self.refill(now);
        self.tokens -= f64::from(cost).min(self.capacity);
    }

    /// Share of the bucket in use, 0.0..=1.0.
    pub fn used(&self) -> f64 {
        1.0 - self.tokens / self.capacity
    }
}

/// Which limit refused a request, for `x-ms-throttle-scope` / `x-ms-throttle-information`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The app + tenant resource-unit bucket.
    ResourceUnits,
    /// The app + tenant write quota.
    AppWrites,
    /// The tenant-wide write quota.
    TenantWrites,
    /// Exchange's own budget.
    Exchange,
}

impl Limit {
    /// `x-ms-throttle-scope`: `<Tenant_Application|Tenant>/<Read|Write|ReadWrite>/...`.
    pub fn scope(self) -> &'static str {
        match self {
            Limit::ResourceUnits => "Tenant_Application/ReadWrite",
            Limit::AppWrites => "Tenant_Application/Write",
            Limit::TenantWrites => "Tenant/Write",
            Limit::Exchange => "Tenant_Application/ReadWrite",
        }
    }

    /// `x-ms-throttle-information`.
    pub fn information(self) -> &'static str {
        match self {
            Limit::ResourceUnits | Limit::Exchange => "ResourceUnitLimitExceeded",
            Limit::AppWrites | Limit::TenantWrites => "WriteLimitExceeded",
        }
    }
}

/// A refusal: which limit and how long until the request would fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// The limit.
    pub limit: Limit,
    /// `Retry-After`, whole seconds, at least 1.
    pub retry_after_secs: u64,
}

/// The live budgets of one fake tenant (one app).
#[derive(Debug, Clone)]
pub struct Budgets {
    units: TokenBucket,
    app_writes: TokenBucket,
    tenant_writes: TokenBucket,
    exchange: TokenBucket,
}

impl Budgets {
    /// Full budgets for a tenant of `users` users.
    pub fn new(model: &ThrottleModel, users: usize, now: Instant) -> Budgets {
        Budgets {
            units: TokenBucket::new(model.resource_units_for(users), model.ru_window, now),
            app_writes: TokenBucket::new(
                model.scale(model.app_writes),
                model.app_write_window,
                now,
            ),
            tenant_writes: TokenBucket::new(
                model.scale(model.tenant_writes),
                model.tenant_write_window,
                now,
            ),
            exchange: TokenBucket::new(
                model.scale(model.exchange_requests),
                model.exchange_window,
                now,
            ),
        }
    }

    /// Charges a Graph request, or says which limit refuses it (nothing is charged then).
    pub fn charge_graph(&mut self, cost: Cost, now: Instant) -> Result<(), Throttled> {
        let mut checks = vec![(Limit::ResourceUnits, cost.units)];
        if cost.write {
            checks.push((Limit::AppWrites, 1));
            checks.push((Limit::TenantWrites, 1));
        }
        for &(limit, n) in &checks {
            if let Some(wait) = self.bucket(limit).wait_for(n, now) {
                return Err(Throttled {
                    limit,
                    retry_after_secs: whole_seconds(wait),
                });
            }
        }
        for (limit, n) in checks {
            self.bucket(limit).take(n, now);
        }
        Ok(())
    }

    /// Charges one Exchange admin API call.
    pub fn charge_exchange(&mut self, now: Instant) -> Result<(), Throttled> {
        if let Some(wait) = self.exchange.wait_for(1, now) {
            return Err(Throttled {
                limit: Limit::Exchange,
                retry_after_secs: whole_seconds(wait),
            });
        }
        self.exchange.take(1, now);
        Ok(())
    }

    /// `x-ms-throttle-limit-percentage`: sent only above 80 % use of the RU bucket.
    pub fn limit_percentage(&self) -> Option<f64> {
        let used = self.units.used();
        (used > 0.8).then_some((used * 10.0).round() / 10.0)
    }

    fn bucket(&mut self, limit: Limit) -> &mut TokenBucket {
        match limit {
            Limit::ResourceUnits => &mut self.units,
            Limit::AppWrites => &mut self.app_writes,
            Limit::TenantWrites => &mut self.tenant_writes,
            Limit::Exchange => &mut self.exchange,
        }
    }
}

fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::super::query::q;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn costs_follow_the_published_table() {
        assert_eq!(graph_cost("GET", "/users", &[]).units, 2);
        assert_eq!(
            graph_cost("GET", "/users", &q(&[("$select", "id")])).units,
            1
        );
        assert_eq!(graph_cost("GET", "/subscribedSkus", &[]).units, 3);
        assert_eq!(graph_cost("GET", "/groups/g/members", &[]).units, 3);
        assert_eq!(
            graph_cost(
                "GET",
                "/groups/g/members",
                &q(&[("$top", "5"), ("$select", "id")])
            )
            .units,
            1
        );
        assert_eq!(
            graph_cost("GET", "/users/u", &q(&[("$expand", "manager")])).units,
            2
        );
        assert_eq!(
            graph_cost("GET", "/users/u", &q(&[("$select", "id")])).units,
            1
        );
        let write = graph_cost("POST", "/users/u/assignLicense", &[]);
        assert_eq!((write.units, write.write), (1, true));
    }

    proptest! {
        /// Whatever the request, its cost is between 1 and the base cost + 1, and `$select`
        /// never makes a request dearer.
        #[test]
        fn costs_are_bounded_and_select_never_costs_more(
            path in prop::sample::select(vec!["/users", "/subscribedSkus", "/groups/g/members", "/groups", "/users/u"]),
            top in prop::option::of(1u32..999),
            expand in any::<bool>(),
        ) {
            let mut query = Vec::new();
            if let Some(t) = top { query.push(("$top".to_string(), t.to_string())); }
            if expand { query.push(("$expand".to_string(), "x".to_string())); }
            let plain = graph_cost("GET", path, &query).units;
            query.push(("$select".to_string(), "id".to_string()));
            let selected = graph_cost("GET", path, &query).units;
            prop_assert!((1..=4).contains(&plain));
            prop_assert!(selected <= plain);
        }

        /// A bucket never lets more than capacity + refill through in any span of time, and
        /// a refused request always names a wait after which it fits.
        #[test]
        fn a_bucket_admits_at_most_capacity_plus_refill(
            capacity in 1u32..50,
            gaps_ms in prop::collection::vec(0u64..400, 1..200),
        ) {
            let start = Instant::now();
            let window = Duration::from_secs(1);
            let mut bucket = TokenBucket::new(capacity, window, start);
            let mut now = start;
            let mut admitted = 0u32;
            for gap in gaps_ms {
                now += Duration::from_millis(gap);
                match bucket.wait_for(1, now) {
                    None => { bucket.take(1, now); admitted += 1; }
                    Some(wait) => {
                        let mut probe = bucket.clone();
                        prop_assert!(probe.wait_for(1, now + wait + Duration::from_millis(1)).is_none());
                    }
                }
            }
            let elapsed = now.duration_since(start).as_secs_f64();
            let bound = f64::from(capacity) * (1.0 + elapsed / window.as_secs_f64());
            prop_assert!(f64::from(admitted) <= bound + 1e-6);
        }
    }

    #[test]
    fn retry_after_is_computed_from_the_window() {
        let now = Instant::now();
        let model = ThrottleModel {
            resource_units: Some(10),
            ..ThrottleModel::microsoft()
        };
        let mut budgets = Budgets::new(&model, 10, now);
        let users = Cost {
            units: 2,
            write: false,
        };
        for _ in 0..5 {
            assert_eq!(budgets.charge_graph(users, now), Ok(()));
        }
        // Empty; 10 units per 10 s refill one unit a second: two units take 2 s.
        let refused = budgets.charge_graph(users, now).unwrap_err();
        assert_eq!(refused.limit, Limit::ResourceUnits);
        assert_eq!(refused.retry_after_secs, 2);
        assert_eq!(
            budgets.charge_graph(users, now + Duration::from_secs(2)),
            Ok(())
        );
    }

    #[test]
    fn writes_count_against_the_write_quotas() {
        let now = Instant::now();
        let model = ThrottleModel {
            app_writes: 3,
            ..ThrottleModel::microsoft()
        };
        let mut budgets = Budgets::new(&model, 10, now);
        let write = Cost {
            units: 1,
            write: true,
        };
        for _ in 0..3 {
            assert_eq!(budgets.charge_graph(write, now), Ok(()));
        }
        let refused = budgets.charge_graph(write, now).unwrap_err();
        assert_eq!(refused.limit, Limit::AppWrites);
        assert_eq!(refused.limit.information(), "WriteLimitExceeded");
        // 3 per 150 s: one write every 50 s.
        assert_eq!(refused.retry_after_secs, 50);
        let read = Cost {
            units: 1,
            write: false,
        };
        assert_eq!(budgets.charge_graph(read, now), Ok(()), "reads still pass");
    }

    #[test]
    fn tenant_size_picks_the_bucket() {
        let m = ThrottleModel::microsoft();
        assert_eq!(m.resource_units_for(49), 3_500);
        assert_eq!(m.resource_units_for(50), 5_000);
        assert_eq!(m.resource_units_for(500), 5_000);
        assert_eq!(m.resource_units_for(501), 8_000);
        let small = ThrottleModel::microsoft().scaled(0.002);
        assert_eq!(small.resource_units_for(20), 7);
        assert_eq!(small.resource_units_for(1_000), 16);
        assert_eq!(small.scale(3_000), 6);
        assert_eq!(ThrottleModel::microsoft().scaled(0.0).scale(3_000), 1);
    }
}
