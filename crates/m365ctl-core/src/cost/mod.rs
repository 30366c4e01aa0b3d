//! Money in plans and reports: monthly prices per SKU (from `[skus]`) times seat counts.
//!
//! Pure: no I/O. A plan's cost is what its *assigned* seats cost per month before and after
//! it is applied (consumed units times the configured price): the part of the bill the plan
//! changes. Microsoft bills purchased seats; a plan that frees seats saves money only once
//! the subscription is reduced, and the renderers say so. SKUs without a configured price are
//! listed as unpriced and left out of the totals, never given a guessed price.

mod currency;
mod money;

pub use currency::Currency;
pub use money::Money;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Configured monthly prices per seat, by skuPartNumber (upper-case), in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    /// The currency of every price (`[defaults] currency`).
    pub currency: Currency,
    /// skuPartNumber -> monthly price of one seat.
    pub monthly: BTreeMap<String, Money>,
}

impl Prices {
    /// The monthly price of one seat of a SKU, when configured.
    pub fn of(&self, sku_part_number: &str) -> Option<Money> {
        self.monthly
            .get(&sku_part_number.to_ascii_uppercase())
            .copied()
    }
}

/// One SKU's monthly cost before and after a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuCost {
    /// skuPartNumber.
    pub sku: String,
    /// Price of one seat per month; `None` when not configured.
    pub monthly_price: Option<Money>,
    /// Assigned (consumed) seats now.
    pub seats_now: u32,
    /// Assigned seats after the plan is applied.
    pub seats_after: u32,
    /// `seats_now` times the price.
    pub monthly_now: Option<Money>,
    /// `seats_after` times the price.
    pub monthly_after: Option<Money>,
}

/// The monthly cost of a plan's SKUs, per SKU and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCost {
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Every SKU of the plan's licence table, in its order.
    pub skus: Vec<SkuCost>,
    /// Sum of the priced SKUs' cost now.
    pub total_now: Money,
    /// Sum of the priced SKUs' cost after apply.
    pub total_after: Money,
    /// `total_after - total_now` (negative: the plan frees paid seats).
    pub change: Money,
    /// SKUs of the plan without a configured price (not in the totals).
    #[serde(default)]
    pub unpriced: Vec<String>,
}

/// One SKU's row of a plan's licence table, as `plan_cost` prices it. The planner's
/// `plan::SeatSummary` implements it, so money does not depend on the planner (the plan
/// carries its cost).
pub trait SeatRow {
    /// skuPartNumber.
    fn sku_part_number(&self) -> &str;
    /// Assigned (consumed) seats now.
    fn consumed_now(&self) -> u32;
    /// Assigned seats after the plan is applied.
    fn consumed_after(&self) -> u32;
}

/// Prices the plan's licence table. Every SKU of `seats` appears, priced or listed unpriced.
pub fn plan_cost(seats: &[impl SeatRow], prices: &Prices) -> PlanCost {
    let zero = Money::zero(&prices.currency);
    let mut cost = PlanCost {
        currency: prices.currency.code.clone(),
        skus: Vec::with_capacity(seats.len()),
        total_now: zero,
        total_after: zero,
        change: zero,
        unpriced: Vec::new(),
    };
    for seat in seats {
        let price = prices.of(seat.sku_part_number());
        let now = price.map(|p| p.times(seat.consumed_now()));
        let after = price.map(|p| p.times(seat.consumed_after()));
        match (now, after) {
            (Some(now), Some(after)) => {
                cost.total_now = cost.total_now.plus(now);
                cost.total_after = cost.total_after.plus(after);
            }
            _ => cost.unpriced.push(seat.sku_part_number().to_string()),
        }
        cost.skus.push(SkuCost {
            sku: seat.sku_part_number().to_string(),
            monthly_price: price,
            seats_now: seat.consumed_now(),
            seats_after: seat.consumed_after(),
            monthly_now: now,
            monthly_after: after,
        });
    }
    cost.change = cost.total_after.minus(cost.total_now);
    cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::SeatSummary;
    use proptest::prelude::*;

    fn seat(part: &str, now: u32, after: u32) -> SeatSummary {
        SeatSummary {
            sku_part_number: part.into(),
            enabled: 100,
            consumed_now: now,
            consumed_after: after,
            peak: now.max(after),
        }
    }

    fn prices(list: &[(&str, i128)]) -> Prices {
        let currency = Currency::from_code("EUR").unwrap();
        Prices {
            monthly: list
                .iter()
                .map(|&(p, minor)| {
                    (
                        p.to_string(),
                        Money {
                            minor_units: minor,
                            digits: 2,
                        },
                    )
                })
                .collect(),
            currency,
        }
    }

    #[test]
    fn prices_each_sku_and_lists_the_unpriced_ones_outside_the_totals() {
        let cost = plan_cost(
            &[seat("ENTERPRISEPACK", 6, 5), seat("EXCHANGESTANDARD", 2, 3)],
            &prices(&[("ENTERPRISEPACK", 3600)]),
        );
        assert_eq!(cost.total_now.plain(), "216.00");
        assert_eq!(cost.total_after.plain(), "180.00");
        assert_eq!(cost.change.plain(), "-36.00");
        assert_eq!(cost.unpriced, vec!["EXCHANGESTANDARD".to_string()]);
        assert_eq!(cost.skus[1].monthly_after, None);
    }

    proptest! {
        /// For every licence table and price list, each total is the exact sum of its priced
        /// lines, each line is price x seats, and the change is after minus now.
        #[test]
        fn totals_are_the_sum_of_the_lines(
            rows in proptest::collection::vec((0u32..100_000, 0u32..100_000, proptest::option::of(0i128..10_000_000)), 0..12)
        ) {
            let seats: Vec<SeatSummary> = rows.iter().enumerate()
                .map(|(i, (now, after, _))| seat(&format!("SKU{i}"), *now, *after)).collect();
            let priced: Vec<(String, i128)> = rows.iter().enumerate()
                .filter_map(|(i, (_, _, p))| p.map(|p| (format!("SKU{i}"), p))).collect();
            let list: Vec<(&str, i128)> = priced.iter().map(|(s, p)| (s.as_str(), *p)).collect();
            let cost = plan_cost(&seats, &prices(&list));
            let mut now = 0i128;
            let mut after = 0i128;
            for (line, (n, a, p)) in cost.skus.iter().zip(&rows) {
                match p {
                    Some(p) => {
                        prop_assert_eq!(line.monthly_now.unwrap().minor_units, p * i128::from(*n));
                        prop_assert_eq!(line.monthly_after.unwrap().minor_units, p * i128::from(*a));
                        now += p * i128::from(*n);
                        after += p * i128::from(*a);
                    }
                    None => prop_assert!(cost.unpriced.contains(&line.sku)),
                }
            }
            prop_assert_eq!(cost.total_now.minor_units, now);
            prop_assert_eq!(cost.total_after.minor_units, after);
            prop_assert_eq!(cost.change.minor_units, after - now);
            prop_assert_eq!(cost.skus.len(), rows.len());
        }
    }
}
