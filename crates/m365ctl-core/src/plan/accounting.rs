//! Replays the chosen order in the simulator: seat consumption per SKU at every step (the
//! licence summary and the proof that no step overspends), Exchange rank before and after per
//! user, and the mailbox safety invariant (no user mailbox loses its last Exchange licence
//! unless the reviewer was warned).

use super::graph::Draft;
use super::index::Index;
use super::intent::Intent;
use super::sim::Sim;
use super::{ExchangeChange, SeatSummary};
use crate::catalog::ExchangeRank;
use crate::desired::DesiredState;
use crate::diag::Diagnostic;
use crate::rules::seats;
use crate::tenant::MailboxType;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A step that would consume more seats than the SKU has.
pub(crate) struct Violation {
    pub sku_id: String,
    pub diagnostic: Diagnostic,
}

/// What the replay found.
pub(crate) struct Accounting {
    pub seats: Vec<SeatSummary>,
    pub exchange_changes: Vec<ExchangeChange>,
    pub violations: Vec<Violation>,
    pub mailbox_gaps: Vec<Diagnostic>,
}

/// Replays `order` and accounts seats, ranks and mailbox safety.
pub(crate) fn account(
    ix: &Index<'_>,
    desired: &DesiredState,
    ops: &[Draft],
    order: &[usize],
    intent: &Intent,
) -> Accounting {
    let live = ix.live;
    let mut sim = Sim::new(ix);
    let mut consumed: BTreeMap<&str, i64> = live
        .skus
        .iter()
        .map(|s| (s.sku_id.as_str(), i64::from(s.consumed)))
        .collect();
    let mut peak = consumed.clone();
    let mut touched_skus: HashSet<String> = HashSet::new();
    let mut violations: Vec<Violation> = Vec::new();
    let accepted: HashSet<usize> = intent
        .users
        .iter()
        .filter(|(_, c)| c.mailbox_disable_accepted)
        .map(|(u, _)| *u)
        .collect();
    let mut rank_before: HashMap<usize, ExchangeRank> = HashMap::new();
    let mut gaps = Vec::new();
    let mut reported: HashSet<usize> = HashSet::new();
    for &i in order {
        let delta = sim.apply(&ops[i].kind);
        for (sku_id, d) in delta {
            let Some(sku) = ix.sku(&sku_id) else { continue };
            let key = sku.sku_id.as_str();
            let now = consumed.entry(key).or_default();
            *now += d;
            let capacity = seats::capacity(sku);
            if !seats::step_fits(sku, *now - d, *now)
                && !violations.iter().any(|v| v.sku_id == sku_id)
            {
                violations.push(Violation {
                    sku_id: sku_id.clone(),
                    diagnostic: Diagnostic::error(
                        format!(
                            "internal planner error: {} would reach {} of {} seats at {}",
                            sku.sku_part_number, now, capacity, ops[i].id
                        ),
                        None,
                    )
                    .with_hint("report this plan; free seats before applying"),
                });
            }
            let p = peak.entry(key).or_default();
            *p = (*p).max(*now);
            touched_skus.insert(sku_id);
        }
        for ui in sim.take_changed() {
            let before = *rank_before
                .entry(ui)
                .or_insert_with(|| ix.rank_of(&live.users[ui].licenses));
            let rank = sim.rank(ui);
            let user_mailbox = sim.mailbox(ui) == Some(MailboxType::User);
            if before.has_mailbox()
                && user_mailbox
                && !rank.has_mailbox()
                && !accepted.contains(&ui)
                && reported.insert(ui)
            {
                gaps.push(Diagnostic::error(
                    format!(
                        "internal planner error: {} would have a user mailbox without an Exchange licence after {}",
                        live.users[ui].user_principal_name, ops[i].id
                    ),
                    None,
                ));
            }
        }
    }
    let mut exchange_changes: Vec<ExchangeChange> = sim
        .touched_users()
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|ui| {
            let before = ix.rank_of(&live.users[ui].licenses);
            let after = sim.rank(ui);
            (before != after).then(|| ExchangeChange {
                upn: live.users[ui].user_principal_name.clone(),
                before,
                after,
            })
        })
        .collect();
    exchange_changes.sort_by_key(|c| c.upn.to_ascii_lowercase());
    let seats = live
        .skus
        .iter()
        .filter(|s| {
            desired
                .scope
                .managed_skus
                .contains(&s.sku_part_number.to_ascii_uppercase())
                || touched_skus.contains(&s.sku_id)
        })
        .map(|s| SeatSummary {
            sku_part_number: s.sku_part_number.clone(),
            enabled: clamp(seats::capacity(s)),
            consumed_now: s.consumed,
            consumed_after: clamp(consumed[s.sku_id.as_str()]),
            peak: clamp(peak[s.sku_id.as_str()]),
        })
        .collect();
    Accounting {
        seats,
        exchange_changes,
        violations,
        mailbox_gaps: gaps,
    }
}

fn clamp(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}
