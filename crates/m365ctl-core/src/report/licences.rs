//! `report licences`: who holds which licence (per SKU and per department) and what is
//! wasted, with its monthly price.
//!
//! Each wasted seat is counted once, under the first kind that applies in this order, so the
//! kinds add up to the total: a licence on a disabled person's account; on a shared mailbox
//! that needs none (Microsoft: up to 50 GB, no archive, no litigation hold); redundant for Exchange
//! (stacking: the highest Exchange plan wins, `plan::stacking`); then seats bought but
//! assigned to nobody (enabled - consumed). A direct assignment that a group also provides is
//! listed too, but frees no seat (a user holding a SKU by several paths consumes one): its
//! price is zero, its risk is that leaving the group no longer removes the licence.

use crate::cost::{Money, Prices};
use crate::tenant::{Tenant, User};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The kinds of waste, in the order a seat is attributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WasteKind {
    /// A licence on an account with `accountEnabled = false`.
    DisabledAccount,
    /// A licence on a shared mailbox within the free limits.
    SharedMailboxUnderLimits,
    /// A licence that adds nothing to the user's Exchange plan.
    RedundantExchange,
    /// A direct assignment the user also inherits from a group (no seat).
    DuplicatedByGroup,
    /// Seats enabled in the subscription and assigned to nobody.
    UnassignedSeats,
}

impl WasteKind {
    /// Every kind, in report order.
    pub const ALL: [WasteKind; 5] = [
        WasteKind::DisabledAccount,
        WasteKind::SharedMailboxUnderLimits,
        WasteKind::RedundantExchange,
        WasteKind::DuplicatedByGroup,
        WasteKind::UnassignedSeats,
    ];

    /// snake_case name, as in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            WasteKind::DisabledAccount => "disabled_account",
            WasteKind::SharedMailboxUnderLimits => "shared_mailbox_under_limits",
            WasteKind::RedundantExchange => "redundant_exchange",
            WasteKind::DuplicatedByGroup => "duplicated_by_group",
            WasteKind::UnassignedSeats => "unassigned_seats",
        }
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            WasteKind::DisabledAccount => "Licences on disabled accounts (accountEnabled = false)",
            WasteKind::SharedMailboxUnderLimits => {
                "Licences on shared mailboxes that need none (up to 50 GB, no archive, no hold)"
            }
            WasteKind::RedundantExchange => {
                "Licences redundant for Exchange (stacking: the highest Exchange plan wins)"
            }
            WasteKind::DuplicatedByGroup => {
                "Direct assignments a group already provides (no extra seat; leaving the group keeps the licence)"
            }
            WasteKind::UnassignedSeats => "Seats assigned to nobody (enabled - consumed)",
        }
    }
}

/// Who holds one SKU: counts per department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuHoldings {
    /// skuPartNumber.
    pub sku: String,
    /// `prepaidUnits.enabled`.
    pub enabled: u32,
    /// Users holding it (one seat each, whatever the number of paths).
    pub holders: u32,
    /// Holders per department (`(none)` when the attribute is empty), by name.
    pub by_department: BTreeMap<String, u32>,
    /// Price of one seat per month, when configured.
    pub monthly_price: Option<Money>,
}

/// What one department holds, over every SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepartmentHoldings {
    /// `department`, or `(none)`.
    pub department: String,
    /// Seats held by its users.
    pub seats: u64,
    /// Monthly price of its priced seats; `None` without prices.
    pub monthly: Option<Money>,
    /// Its seats of SKUs without a price (not in `monthly`).
    pub unpriced_seats: u64,
}

/// One user's hold on one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// UPN.
    pub upn: String,
    /// `department`, when set.
    pub department: Option<String>,
    /// skuPartNumber.
    pub sku: String,
    /// `direct` and/or the names of the groups it comes from.
    pub via: Vec<String>,
    /// `accountEnabled`.
    pub account_enabled: bool,
    /// The waste kind this seat is counted under, if any.
    pub waste: Option<WasteKind>,
}

/// One finding: a user's seat (or a SKU's unassigned seats) that is wasted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WasteItem {
    /// Kind.
    pub kind: WasteKind,
    /// The user, except for unassigned seats.
    pub upn: Option<String>,
    /// skuPartNumber.
    pub sku: String,
    /// Seats freed by acting on it (0 for a duplicate direct assignment).
    pub seats: u32,
    /// `seats` times the price, when the SKU is priced.
    pub monthly: Option<Money>,
    /// What to check or do.
    pub detail: String,
}

/// Seats and money per kind (and in total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WasteTotal {
    /// Kind; `None` for the grand total.
    pub kind: Option<WasteKind>,
    /// Findings.
    pub items: usize,
    /// Seats.
    pub seats: u64,
    /// Monthly price of the priced seats; `None` without prices.
    pub monthly: Option<Money>,
    /// Seats of SKUs without a price (not in `monthly`).
    pub unpriced_seats: u64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenceReport {
    /// ISO 4217 code of every amount; `None` without prices.
    pub currency: Option<String>,
    /// Per SKU (user-assignable SKUs, by part number).
    pub skus: Vec<SkuHoldings>,
    /// Per department (by name, `(none)` last): seats held and what they cost, for chargeback.
    pub departments: Vec<DepartmentHoldings>,
    /// Per user and SKU, by UPN then SKU.
    pub holdings: Vec<Holding>,
    /// Findings by kind, then UPN, then SKU.
    pub waste: Vec<WasteItem>,
    /// One total per kind, in kind order.
    pub totals: Vec<WasteTotal>,
    /// All kinds together.
    pub total: WasteTotal,
}

/// Builds the report. Pure and deterministic.
pub fn report(live: &Tenant, prices: Option<&Prices>) -> LicenceReport {
    let part: HashMap<&str, &str> = live
        .skus
        .iter()
        .map(|s| (s.sku_id.as_str(), s.sku_part_number.as_str()))
        .collect();
    let group_name: HashMap<&str, &str> = live
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.display_name.as_str()))
        .collect();
    let price = |sku: &str| prices.and_then(|p| p.of(sku));
    let priced = |sku: &str, seats: u32| price(sku).map(|p| p.times(seats));

    let stacking = crate::plan::stacking::report(live);
    let redundant: BTreeSet<(String, String)> = stacking
        .users
        .iter()
        .flat_map(|u| {
            u.redundant
                .iter()
                .map(|r| (u.upn.to_ascii_lowercase(), r.sku_part_number.clone()))
        })
        .collect();

    let mut holdings = Vec::new();
    let mut waste = Vec::new();
    let mut users: Vec<&User> = live.users.iter().collect();
    users.sort_by_key(|u| u.user_principal_name.to_ascii_lowercase());
    for user in users {
        let department = user
            .attribute("department")
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        for sku_id in user.effective_skus() {
            let Some(&sku) = part.get(sku_id) else {
                continue;
            };
            let paths: Vec<Option<&str>> = user
                .licenses
                .iter()
                .filter(|l| l.sku_id == sku_id && l.is_effective())
                .map(|l| l.assigned_by_group.as_deref())
                .collect();
            let via: Vec<String> = paths
                .iter()
                .map(|p| match p {
                    None => "direct".to_string(),
                    Some(g) => group_name.get(g).copied().unwrap_or(g).to_string(),
                })
                .collect();
            let kind = seat_waste(user, sku, &redundant);
            if let Some(kind) = kind {
                waste.push(WasteItem {
                    kind,
                    upn: Some(user.user_principal_name.clone()),
                    sku: sku.to_string(),
                    seats: 1,
                    monthly: priced(sku, 1),
                    detail: detail(kind, user, &via),
                });
            }
            if paths.contains(&None) && paths.iter().any(Option::is_some) {
                let groups: Vec<&str> = via
                    .iter()
                    .filter(|v| *v != "direct")
                    .map(String::as_str)
                    .collect();
                waste.push(WasteItem {
                    kind: WasteKind::DuplicatedByGroup,
                    upn: Some(user.user_principal_name.clone()),
                    sku: sku.to_string(),
                    seats: 0,
                    monthly: priced(sku, 0),
                    detail: format!(
                        "also from group {}: remove the direct assignment",
                        groups.join(", ")
                    ),
                });
            }
            holdings.push(Holding {
                upn: user.user_principal_name.clone(),
                department: department.clone(),
                sku: sku.to_string(),
                via,
                account_enabled: user.account_enabled,
                waste: kind,
            });
        }
    }

    holdings.sort_by(|a, b| a.sku.cmp(&b.sku));
    holdings.sort_by_key(|h| h.upn.to_ascii_lowercase());
    let mut skus = Vec::new();
    let mut skus_sorted: Vec<&crate::tenant::Sku> = live
        .skus
        .iter()
        .filter(|s| s.applies_to.eq_ignore_ascii_case("User"))
        .collect();
    skus_sorted.sort_by(|a, b| a.sku_part_number.cmp(&b.sku_part_number));
    for sku in skus_sorted {
        let mut by_department: BTreeMap<String, u32> = BTreeMap::new();
        let mut holders = 0;
        for h in holdings.iter().filter(|h| h.sku == sku.sku_part_number) {
            holders += 1;
            *by_department
                .entry(h.department.clone().unwrap_or_else(|| "(none)".into()))
                .or_default() += 1;
        }
        let unassigned = sku.enabled.saturating_sub(sku.consumed);
        if unassigned > 0 {
            waste.push(WasteItem {
                kind: WasteKind::UnassignedSeats,
                upn: None,
                sku: sku.sku_part_number.clone(),
                seats: unassigned,
                monthly: priced(&sku.sku_part_number, unassigned),
                detail: format!(
                    "{} enabled, {} consumed: reduce the subscription or assign them",
                    sku.enabled, sku.consumed
                ),
            });
        }
        skus.push(SkuHoldings {
            sku: sku.sku_part_number.clone(),
            enabled: sku.enabled,
            holders,
            by_department,
            monthly_price: price(&sku.sku_part_number),
        });
    }
    waste.sort_by(|a, b| {
        (
            a.kind,
            a.upn.as_ref().map(|u| u.to_ascii_lowercase()),
            &a.sku,
        )
            .cmp(&(
                b.kind,
                b.upn.as_ref().map(|u| u.to_ascii_lowercase()),
                &b.sku,
            ))
    });
    let zero = prices.map(|p| Money::zero(&p.currency));
    let totals: Vec<WasteTotal> = WasteKind::ALL
        .iter()
        .map(|&kind| total(Some(kind), waste.iter().filter(|w| w.kind == kind), zero))
        .collect();
    let total = total(None, waste.iter(), zero);
    let departments = departments(&holdings, prices);
    LicenceReport {
        currency: prices.map(|p| p.currency.code.clone()),
        skus,
        departments,
        holdings,
        waste,
        totals,
        total,
    }
}

/// Seats and their monthly price per department; users without one are `(none)`, last.
fn departments(holdings: &[Holding], prices: Option<&Prices>) -> Vec<DepartmentHoldings> {
    let mut by_name: BTreeMap<(bool, &str), DepartmentHoldings> = BTreeMap::new();
    for h in holdings {
        let name = h.department.as_deref();
        let entry = by_name
            .entry((name.is_none(), name.unwrap_or("(none)")))
            .or_insert_with(|| DepartmentHoldings {
                department: name.unwrap_or("(none)").to_string(),
                seats: 0,
                monthly: prices.map(|p| Money::zero(&p.currency)),
                unpriced_seats: 0,
            });
        entry.seats += 1;
        match (prices.and_then(|p| p.of(&h.sku)), entry.monthly) {
            (Some(price), Some(sum)) => entry.monthly = Some(sum.plus(price)),
            _ => entry.unpriced_seats += 1,
        }
    }
    by_name.into_values().collect()
}

/// The kind one held seat is wasted under, first match in `WasteKind` order. Shared, room
/// and equipment mailboxes are disabled accounts by design (Microsoft advises blocking
/// sign-in to them), so "disabled" only counts for people's accounts: a shared mailbox is
/// judged by the free limits, and a licensed room (Teams Rooms) is left alone.
fn seat_waste(user: &User, sku: &str, redundant: &BTreeSet<(String, String)>) -> Option<WasteKind> {
    use crate::tenant::MailboxType;
    match &user.mailbox {
        Some(m) if m.kind == MailboxType::Shared => {
            // Never guessed: a mailbox whose size, archive or hold was not read is not waste.
            return (m.facts_known() && m.shared_licence_reason().is_none())
                .then_some(WasteKind::SharedMailboxUnderLimits);
        }
        Some(m) if matches!(m.kind, MailboxType::Room | MailboxType::Equipment) => return None,
        _ if !user.account_enabled => return Some(WasteKind::DisabledAccount),
        _ => {}
    }
    redundant
        .contains(&(
            user.user_principal_name.to_ascii_lowercase(),
            sku.to_string(),
        ))
        .then_some(WasteKind::RedundantExchange)
}

/// What to do about a wasted seat, in the words an admin needs.
fn detail(kind: WasteKind, user: &User, via: &[String]) -> String {
    let groups: Vec<&str> = via
        .iter()
        .filter(|v| *v != "direct")
        .map(String::as_str)
        .collect();
    let how = if groups.is_empty() {
        "remove the licence".to_string()
    } else {
        format!("remove the user from group {}", groups.join(", "))
    };
    match kind {
        WasteKind::DisabledAccount => match &user.mailbox {
            Some(m) if m.kind == crate::tenant::MailboxType::User => format!(
                "sign-in disabled; convert the mailbox to shared first (mail is deleted 30 days after its last Exchange licence goes), then {how}"
            ),
            _ => format!("sign-in disabled: {how}"),
        },
        WasteKind::SharedMailboxUnderLimits => format!(
            "shared mailbox of {}, no archive, no hold: {how}",
            user.mailbox
                .as_ref()
                .map_or_else(|| "size not read".to_string(), |m| m.size_text())
        ),
        WasteKind::RedundantExchange => format!(
            "a higher Exchange plan is held too; check the SKU's other services, then {how}"
        ),
        WasteKind::DuplicatedByGroup | WasteKind::UnassignedSeats => how,
    }
}

fn total<'a>(
    kind: Option<WasteKind>,
    items: impl Iterator<Item = &'a WasteItem>,
    zero: Option<Money>,
) -> WasteTotal {
    let mut total = WasteTotal {
        kind,
        items: 0,
        seats: 0,
        monthly: zero,
        unpriced_seats: 0,
    };
    for item in items {
        total.items += 1;
        total.seats += u64::from(item.seats);
        match (item.monthly, total.monthly) {
            (Some(m), Some(sum)) => total.monthly = Some(sum.plus(m)),
            _ => total.unpriced_seats += u64::from(item.seats),
        }
    }
    total
}
