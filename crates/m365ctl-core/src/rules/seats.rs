//! Seat arithmetic: how many units of a SKU can be held, and when a write may change that.
//!
//! Microsoft: "The number of available licenses in each plan is ActiveUnits − WarningUnits −
//! ConsumedUnits" ("Assign Microsoft 365 licenses to user accounts with PowerShell",
//! microsoft-365/enterprise/assign-licenses-to-user-accounts-with-microsoft-365-powershell.md;
//! ActiveUnits is `subscribedSku.prepaidUnits.enabled`, WarningUnits `prepaidUnits.warning`).
//!
//! Decision: the planner, the model's write rules, the apply guards and the fake all use
//! **capacity = enabled − warning**. Warning units belong to an expired subscription in its
//! grace period: a plan that relied on them would break when the grace period ends, so they
//! are never planned into (many tools use `enabled − consumed`; we are conservative).

use crate::tenant::Sku;

/// Seats a SKU can hold at most: `prepaidUnits.enabled − prepaidUnits.warning` (never below 0).
pub fn capacity(sku: &Sku) -> i64 {
    (i64::from(sku.enabled) - i64::from(sku.warning)).max(0)
}

/// Seats still free: capacity − consumed, signed because a tenant can already be
/// over-assigned (a SKU reduced at renewal).
pub fn free(sku: &Sku) -> i64 {
    capacity(sku) - i64::from(sku.consumed)
}

/// Whether a step that takes a SKU from `before` to `after` consumed seats is allowed: it may
/// not end above capacity, unless it does not make an existing over-assignment worse (Graph
/// answers CountViolation only to a write that needs a seat there is not; freeing seats in an
/// over-assigned tenant is always possible).
pub fn step_fits(sku: &Sku, before: i64, after: i64) -> bool {
    after <= capacity(sku) || after <= before
}
