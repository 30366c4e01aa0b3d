//! Exchange Online capability of a licence, derived from its service plans.
//!
//! Microsoft: "Introducing Support for Concurrent Exchange Online License Assignments"
//! (Exchange Team blog, 20 Jan 2023): a user may hold several Exchange licences and gets the
//! features of the most superior one, in the order Essentials < Kiosk < Plan 1 < Plan 2. Service
//! plan names from "Product names and service plan identifiers for licensing" (Entra docs). A
//! disabled plan grants nothing (`disabledPlans` of `assignedLicense`), and only an assignment
//! in a working state (`licenseAssignmentState.state` Active / ActiveWithError) grants service.

use crate::tenant::{LicenseAssignment, Sku, Tenant, User};

/// Exchange Online capability, ordered: a user's effective mailbox capability is the highest
/// rank among the Exchange plans they hold (licence stacking, since 2023).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeRank {
    /// No mailbox-bearing plan (Exchange Foundation does not count).
    None,
    /// `EXCHANGE_S_ESSENTIALS`.
    Essentials,
    /// `EXCHANGE_S_DESKLESS` (Kiosk / F-plans).
    Kiosk,
    /// `EXCHANGE_S_STANDARD` (Plan 1).
    Plan1,
    /// `EXCHANGE_S_ENTERPRISE` (Plan 2).
    Plan2,
}

impl ExchangeRank {
    /// Rank of a single service plan by name.
    pub fn of_plan(service_plan_name: &str) -> ExchangeRank {
        // Called for every service plan of every assignment the planner looks at: compare
        // in place, no allocation.
        const PLANS: [(&str, ExchangeRank); 4] = [
            ("EXCHANGE_S_ESSENTIALS", ExchangeRank::Essentials),
            ("EXCHANGE_S_DESKLESS", ExchangeRank::Kiosk),
            ("EXCHANGE_S_STANDARD", ExchangeRank::Plan1),
            ("EXCHANGE_S_ENTERPRISE", ExchangeRank::Plan2),
        ];
        PLANS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(service_plan_name))
            .map_or(ExchangeRank::None, |(_, rank)| *rank)
    }

    /// Human label used in plans and reports.
    pub fn label(self) -> &'static str {
        match self {
            ExchangeRank::None => "no Exchange",
            ExchangeRank::Essentials => "Exchange Essentials",
            ExchangeRank::Kiosk => "Exchange Kiosk",
            ExchangeRank::Plan1 => "Exchange Plan 1",
            ExchangeRank::Plan2 => "Exchange Plan 2",
        }
    }

    /// Whether this rank provides a user mailbox.
    pub fn has_mailbox(self) -> bool {
        self > ExchangeRank::None
    }
}

impl std::fmt::Display for ExchangeRank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Highest Exchange rank a SKU provides with the given service plans disabled.
pub fn sku_exchange_rank(sku: &Sku, disabled_plan_ids: &[String]) -> ExchangeRank {
    let mut best = ExchangeRank::None;
    for plan in &sku.service_plans {
        let rank = ExchangeRank::of_plan(&plan.service_plan_name);
        // Only a plan that would raise the rank needs the disabled-plans check.
        if rank > best
            && !disabled_plan_ids
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&plan.service_plan_id))
        {
            best = rank;
        }
    }
    best
}

/// A user's effective Exchange capability: the highest rank over all their assignments.
pub fn user_exchange_rank(tenant: &Tenant, user: &User) -> ExchangeRank {
    rank_of(&user.licenses, |id| tenant.sku(id))
}

/// The stacking rule over any set of assignments, with the SKUs looked up by `sku` (the
/// planner passes its hash index, the model its own lookup): the highest rank among the
/// assignments in a working state; unknown SKUs grant nothing.
pub fn rank_of<'s>(
    licenses: &[LicenseAssignment],
    sku: impl Fn(&str) -> Option<&'s Sku>,
) -> ExchangeRank {
    licenses
        .iter()
        .filter(|l| l.is_effective())
        .filter_map(|l| sku(&l.sku_id).map(|s| sku_exchange_rank(s, &l.disabled_plans)))
        .max()
        .unwrap_or(ExchangeRank::None)
}
