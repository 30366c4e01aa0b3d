//! Exchange licence stacking report (`m365ctl report stacking`): users holding more than one
//! Exchange-bearing SKU, which of those are redundant, and the seats that could be freed.
//! Since 2023 the highest Exchange plan wins, so lower (or duplicate) ones only cost money.

use crate::catalog::{self, ExchangeRank};
use crate::tenant::Tenant;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One Exchange-bearing SKU a user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackedLicense {
    /// skuPartNumber.
    pub sku_part_number: String,
    /// Exchange rank this SKU gives (with its disabled plans).
    pub rank: ExchangeRank,
    /// Group the licence comes from, `None` when direct.
    pub via_group: Option<String>,
}

/// A user with several Exchange-bearing SKUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackedUser {
    /// UPN.
    pub upn: String,
    /// The effective rank (the highest).
    pub effective: ExchangeRank,
    /// The SKU that provides the effective rank.
    pub kept: StackedLicense,
    /// SKUs that add nothing to Exchange (lower rank, or a duplicate of the same rank).
    pub redundant: Vec<StackedLicense>,
}

/// Seats of one SKU held only redundantly (for Exchange) that could be freed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeableSeats {
    /// skuPartNumber.
    pub sku_part_number: String,
    /// Users holding it redundantly.
    pub seats: u32,
}

/// The whole report, users in UPN order, SKUs by part number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StackingReport {
    /// Users with more than one Exchange-bearing SKU.
    pub users: Vec<StackedUser>,
    /// Seats per SKU that could be freed for Exchange's sake (check the SKU's other services
    /// before removing: an E3 stacked under E5 also brings Office apps the E5 may already have).
    pub freeable: Vec<FreeableSeats>,
}

/// Builds the report from the live tenant. Pure.
pub fn report(live: &Tenant) -> StackingReport {
    let skus: HashMap<&str, &crate::tenant::Sku> =
        live.skus.iter().map(|s| (s.sku_id.as_str(), s)).collect();
    let groups: HashMap<&str, &str> = live
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.display_name.as_str()))
        .collect();
    let mut report = StackingReport::default();
    let mut freeable: BTreeMap<String, u32> = BTreeMap::new();
    for user in &live.users {
        // One entry per SKU (a SKU held directly and through a group counts once).
        let mut held: BTreeMap<&str, StackedLicense> = BTreeMap::new();
        for l in user.licenses.iter().filter(|l| l.is_effective()) {
            let Some(sku) = skus.get(l.sku_id.as_str()) else {
                continue;
            };
            let rank = catalog::sku_exchange_rank(sku, &l.disabled_plans);
            if !rank.has_mailbox() {
                continue;
            }
            let entry = StackedLicense {
                sku_part_number: sku.sku_part_number.clone(),
                rank,
                via_group: l
                    .assigned_by_group
                    .as_deref()
                    .map(|g| groups.get(g).copied().unwrap_or(g).to_string()),
            };
            match held.get(sku.sku_id.as_str()) {
                Some(existing) if existing.rank >= rank => {}
                _ => {
                    held.insert(sku.sku_id.as_str(), entry);
                }
            }
        }
        if held.len() < 2 {
            continue;
        }
        let mut licences: Vec<StackedLicense> = held.into_values().collect();
        // Highest rank first; among equals prefer a direct one by part number for stability.
        licences.sort_by(|a, b| {
            b.rank
                .cmp(&a.rank)
                .then(a.sku_part_number.cmp(&b.sku_part_number))
        });
        let kept = licences.remove(0);
        for r in &licences {
            *freeable.entry(r.sku_part_number.clone()).or_default() += 1;
        }
        report.users.push(StackedUser {
            upn: user.user_principal_name.clone(),
            effective: kept.rank,
            kept,
            redundant: licences,
        });
    }
    report.users.sort_by_key(|u| u.upn.to_ascii_lowercase());
    report.freeable = freeable
        .into_iter()
        .map(|(sku_part_number, seats)| FreeableSeats {
            sku_part_number,
            seats,
        })
        .collect();
    report
}
