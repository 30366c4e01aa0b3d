//! The planner: `(DesiredState, Tenant) -> Plan`, pure and deterministic.
//!
//! The same inputs always give a byte-identical plan. Operations come out in a stable
//! topological order of a `petgraph` DAG whose edges encode the domain rules of DESIGN.md
//! (usageLocation before licence, add before remove, convert-to-shared before the last
//! Exchange licence goes, seats freed before they are granted).

mod accounting;
mod effects;
#[cfg(test)]
mod facts_props;
mod fingerprint;
mod graph;
mod index;
mod intent;
mod license_errors;
pub use crate::tenant::ops;
#[cfg(test)]
mod order_props;
mod ordering;
pub mod orders;
#[cfg(test)]
mod props;
#[cfg(test)]
mod props_groups;
#[cfg(test)]
mod safety_tests;
mod seats;
mod sim;
pub mod stacking;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;

pub use fingerprint::{fingerprint, hex};
pub use license_errors::LicenseError;
pub use ops::{Action, LicenseGrant, LicenseRemoval, OpId, OpKind, Operation};

use crate::catalog::ExchangeRank;
use crate::diag::Diagnostic;
use serde::Serialize;

/// Seat accounting for one SKU, shown as the licence summary table of every plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatSummary {
    /// skuPartNumber.
    pub sku_part_number: String,
    /// `prepaidUnits.enabled` (minus warning units).
    pub enabled: u32,
    /// Consumed now.
    pub consumed_now: u32,
    /// Consumed after the whole plan is applied.
    pub consumed_after: u32,
    /// The highest consumption at any step of the plan's order (never above `enabled` in an
    /// affordable plan).
    pub peak: u32,
}

impl crate::cost::SeatRow for SeatSummary {
    fn sku_part_number(&self) -> &str {
        &self.sku_part_number
    }
    fn consumed_now(&self) -> u32 {
        self.consumed_now
    }
    fn consumed_after(&self) -> u32 {
        self.consumed_after
    }
}

/// A user's effective Exchange capability before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeChange {
    /// UPN.
    pub upn: String,
    /// Before.
    pub before: ExchangeRank,
    /// After.
    pub after: ExchangeRank,
}

/// sha256 fingerprints of the inputs a plan was computed from, so a saved plan can be refused
/// when the tenant or the config changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// `sha256:<hex>` of the canonical desired state.
    pub desired: String,
    /// `sha256:<hex>` of the canonical live state (the parts the plan depends on).
    pub live: String,
}

/// Operation counts by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Operations that grant or create.
    pub add: usize,
    /// Operations that modify.
    pub change: usize,
    /// Operations that take away.
    pub remove: usize,
}

/// The result of planning: what to do, in which order, and what reviewers must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Operations in a deterministic topological order; `depends_on` carries the DAG edges.
    pub operations: Vec<Operation>,
    /// Warnings and errors found while planning (errors make the plan unappliable).
    pub diagnostics: Vec<Diagnostic>,
    /// Licence summary per SKU in scope or touched.
    pub seats: Vec<SeatSummary>,
    /// Users whose effective Exchange capability changes.
    pub exchange_changes: Vec<ExchangeChange>,
    /// Inherited licences the desired state wants but the tenant reports in an error state:
    /// drift no operation fixes, each with its remedy.
    pub license_errors: Vec<LicenseError>,
    /// What the plan was computed from.
    pub fingerprint: Fingerprint,
    /// Monthly cost of the licence table before and after, when `[skus]` has prices. Set by
    /// the command from the config (prices are not a planner input: a price change never
    /// makes a saved plan stale).
    pub cost: Option<crate::cost::PlanCost>,
}

impl Plan {
    /// Whether the plan has blocking errors (unaffordable seats, conflicts): `apply` refuses it.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }

    /// Counts of operations by action, for "Plan: N to add, M to change, K to remove."
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for op in &self.operations {
            match op.kind.action() {
                Action::Add => summary.add += 1,
                Action::Change => summary.change += 1,
                Action::Remove => summary.remove += 1,
            }
        }
        summary
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Whether the tenant matches the desired state: nothing to do, nothing failing that an
    /// operation cannot fix, and no error that kept the planner from comparing everything.
    /// Only then may a plan say so (and `drift` exit 0).
    pub fn in_sync(&self) -> bool {
        self.is_empty() && self.license_errors.is_empty() && !self.has_errors()
    }
}

/// Object ids of the users whose mailbox facts (size, archive, litigation hold) the plan for
/// `desired` depends on: every mailbox whose type changes or whose Exchange licences (or
/// Exchange rank) go down, at the end or at any step of any order (a path to an Exchange
/// licence is removed, re-assigned, left or taken from its group). A backend that reads
/// facts lazily reads exactly these before planning; the plan refuses any of them whose
/// facts are still unknown. Pure.
pub fn facts_needed(
    desired: &crate::desired::DesiredState,
    live: &crate::tenant::Tenant,
) -> Vec<String> {
    let ix = index::Index::new(live);
    let mut needed: Vec<String> = intent::diff(desired, &ix)
        .needs_facts
        .into_iter()
        .map(|ui| live.users[ui].id.clone())
        .collect();
    needed.sort();
    needed.dedup();
    needed
}

/// Bound on re-ordering rounds for seat edges (each round only adds edges).
const MAX_SEAT_ROUNDS: usize = 8;

/// Plans the changes that take `live` to `desired`. Pure and deterministic.
pub fn plan(desired: &crate::desired::DesiredState, live: &crate::tenant::Tenant) -> Plan {
    // Hashing the inputs does not depend on the diff and is a third of the planner's time
    // on a 100,000-user tenant: it runs beside it.
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| fingerprint::without_facts(desired, live));
        build(desired, live, move || {
            hashing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// The plan itself; `fingerprint` yields the inputs' fingerprint when the plan is complete.
fn build(
    desired: &crate::desired::DesiredState,
    live: &crate::tenant::Tenant,
    fingerprint: impl FnOnce() -> Fingerprint,
) -> Plan {
    let ix = index::Index::new(live);
    let intent = intent::diff(desired, &ix);
    let mut diagnostics = intent.diagnostics.clone();
    diagnostics.extend(unprocessed_group_licensing(&ix, &intent));
    let needed = intent.needs_facts.clone();
    let fingerprint = move || fingerprint::with_facts(fingerprint(), live, &needed);

    // First pass: domain edges only, to learn each operation's seat changes.
    let mut seat_first = std::collections::HashSet::new();
    let mut drafts = graph::materialise(&ix, &intent, &seat_first);
    let order = match graph::order(&drafts.ops, &drafts.edges) {
        Ok(order) => order,
        Err(cycles) => return cyclic(&drafts.ops, cycles, diagnostics, fingerprint),
    };
    let bounds = seats::bounds(&ix, &drafts.ops, &drafts.edges, &order);
    let split = seats::users_to_split(&ix, &drafts.ops, &bounds);
    // The first round starts from this order and these bounds when the drafts stay as they
    // are (replaying seven orders of the whole plan again would give the same bounds).
    let mut unchanged = Some((order, bounds));
    if !split.is_empty() {
        seat_first = split;
        drafts = graph::materialise(&ix, &intent, &seat_first);
        unchanged = None;
    }
    // Seat edges narrow the orders, and the orders bound each operation's seat change (a
    // member joining before or after their group gains a licence): repeat until the edges
    // are stable. Seat edges never close a cycle, and are only added, so this terminates.
    let mut shortfalls = Vec::new();
    let mut deadlocks = Vec::new();
    for _ in 0..MAX_SEAT_ROUNDS {
        let edges = drafts.edges.len();
        let (order, bounds) = match unchanged.take() {
            Some(known) => known,
            None => {
                let order = match graph::order(&drafts.ops, &drafts.edges) {
                    Ok(order) => order,
                    Err(cycles) => return cyclic(&drafts.ops, cycles, diagnostics, fingerprint),
                };
                let bounds = seats::bounds(&ix, &drafts.ops, &drafts.edges, &order);
                (order, bounds)
            }
        };
        let releases = seats::releases(&ix, &drafts.ops, &order);
        (shortfalls, deadlocks) =
            seats::seat_edges(&ix, &mut drafts.ops, &mut drafts.edges, &bounds, &releases);
        if drafts.edges.len() == edges {
            break;
        }
    }
    for s in &shortfalls {
        let part = ix.part(&s.sku_id);
        diagnostics.push(
            Diagnostic::error(
                format!(
                    "{part}: need {}, have {} available after freeing {} \u{2014} short by {}",
                    s.need,
                    s.available_now + s.freed,
                    s.freed,
                    s.need - s.available_now - s.freed
                ),
                None,
            )
            .with_hint(format!(
                "buy {short} more {part} seats, or free {short} (remove {part} from leavers) before granting it",
                short = s.need - s.available_now - s.freed
            )),
        );
    }
    for d in &deadlocks {
        diagnostics.push(deadlock(&ix, &drafts.ops, d));
    }
    let order = match graph::order(&drafts.ops, &drafts.edges) {
        Ok(order) => order,
        Err(cycles) => return cyclic(&drafts.ops, cycles, diagnostics, fingerprint),
    };
    let accounting = accounting::account(&ix, desired, &drafts.ops, &order, &intent);
    let short_skus: std::collections::BTreeSet<&str> = shortfalls
        .iter()
        .map(|s| s.sku_id.as_str())
        .chain(deadlocks.iter().map(|d| d.sku_id.as_str()))
        .collect();
    // The replay double-checks an otherwise appliable plan; with errors it is refused anyway.
    let appliable = !diagnostics.iter().any(Diagnostic::is_error);
    for violation in accounting.violations.into_iter().filter(|_| appliable) {
        if !short_skus.contains(violation.sku_id.as_str()) {
            diagnostics.push(violation.diagnostic);
        }
    }
    if appliable {
        diagnostics.extend(accounting.mailbox_gaps);
    }
    let license_errors = license_errors::find(desired, &ix, &intent, &accounting.seats);
    Plan {
        operations: graph::finish(drafts, &order),
        diagnostics,
        seats: accounting.seats,
        exchange_changes: accounting.exchange_changes,
        license_errors,
        fingerprint: fingerprint(),
        cost: None,
    }
}

/// A SKU whose grants cannot all wait for a freed seat: the principals on both sides, the
/// numbers, and what would untie it.
fn deadlock(ix: &index::Index<'_>, ops: &[graph::Draft], d: &seats::Deadlock) -> Diagnostic {
    let part = ix.part(&d.sku_id);
    let names = |list: &[usize]| -> String {
        let mut names: Vec<&str> = list.iter().map(|&i| ops[i].kind.target()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(", ")
    };
    let frees = if d.frees.is_empty() {
        "nothing in the plan".to_string()
    } else {
        names(&d.frees)
    };
    Diagnostic::error(
        format!(
            "{part}: no order fits the seats: {} more seat(s) needed (for {}) with {} free, and the seats freed by {frees} come only after them (a user keeps Exchange until the new licence arrives)",
            d.grants.len(),
            names(&d.grants),
            d.available_now.max(0)
        ),
        None,
    )
    .with_hint(format!(
        "buy {n} more {part} seat(s) for the switch, or apply the change in two steps (first free the seats, then grant them)",
        n = d.grants.len()
    ))
}

/// Errors for the users the plan changes whose group licensing Entra has not processed yet
/// (asynchronous, see `tenant::GroupProcessing`): what they will hold is not known until it
/// is, so the planner does not guess that processing will succeed.
fn unprocessed_group_licensing(ix: &index::Index<'_>, intent: &intent::Intent) -> Vec<Diagnostic> {
    let live = ix.live;
    let changed_users: std::collections::HashSet<usize> =
        intent.users.iter().map(|(ui, _)| *ui).collect();
    let changed_groups: std::collections::HashSet<usize> =
        intent.groups.iter().map(|g| g.gi).collect();
    pending_group_licensing_of(ix, &changed_users, &changed_groups)
        .into_iter()
        .map(|(gi, ui)| {
            Diagnostic::error(
                format!(
                    "{}: group licensing of {} has not reached this user yet",
                    live.users[ui].user_principal_name, live.groups[gi].display_name
                ),
                None,
            )
            .with_hint(
                "Entra processes group licences asynchronously: plan again once the group's licenseProcessingState is ProcessingComplete",
            )
        })
        .collect()
}

/// The pairs of `Tenant::pending_group_licensing` whose user is in `users` or whose group is
/// in `groups`, in its order, found from those users and groups alone: the whole tenant's
/// pairs (every member of every group) took 0.6 s at 1,000,000 users for a plan that changes
/// 2 % of them.
fn pending_group_licensing_of(
    ix: &index::Index<'_>,
    users: &std::collections::HashSet<usize>,
    groups: &std::collections::HashSet<usize>,
) -> Vec<(usize, usize)> {
    use std::collections::{BTreeSet, HashMap};
    let live = ix.live;
    let inherited_from = |ui: usize| {
        live.users[ui]
            .licenses
            .iter()
            .filter_map(|l| l.assigned_by_group.as_deref())
    };
    // A user is concerned by a group they are a member of or inherit from (by group id).
    let mut concerned: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (gi, group) in live.groups.iter().enumerate() {
        by_id.entry(&group.id).or_default().push(gi);
    }
    for &ui in users {
        concerned.extend(ix.memberships[ui].iter().map(|&gi| (gi, ui)));
        for id in inherited_from(ui) {
            concerned.extend(by_id.get(id).into_iter().flatten().map(|&gi| (gi, ui)));
        }
    }
    if !groups.is_empty() {
        let mut changed: HashMap<&str, Vec<usize>> = HashMap::new();
        for &gi in groups {
            changed.entry(&live.groups[gi].id).or_default().push(gi);
            concerned.extend(
                live.groups[gi]
                    .members
                    .iter()
                    .filter_map(|m| ix.user_by_id(m))
                    .map(|ui| (gi, ui)),
            );
        }
        for ui in 0..live.users.len() {
            for id in inherited_from(ui) {
                concerned.extend(changed.get(id).into_iter().flatten().map(|&gi| (gi, ui)));
            }
        }
    }
    concerned
        .into_iter()
        .filter(|&(gi, ui)| {
            let member = ix.memberships[ui].contains(&gi);
            live.groups[gi].processing(&live.users[ui], member)
                == crate::tenant::GroupProcessing::Pending
        })
        .collect()
}

/// A plan whose ordering rules contradict each other: an error naming the operations of each
/// cycle, and no operations (a partial order would be unsafe to apply).
fn cyclic(
    ops: &[graph::Draft],
    cycles: Vec<Vec<usize>>,
    mut diagnostics: Vec<Diagnostic>,
    fingerprint: impl FnOnce() -> Fingerprint,
) -> Plan {
    for cycle in cycles {
        let names: Vec<&str> = cycle.iter().map(|&i| ops[i].id.as_str()).collect();

        diagnostics.push(
            Diagnostic::error(
                format!(
                    "internal planner error: these operations wait on each other: {}",
                    names.join(" -> ")
                ),
                None,
            )
            .with_hint(
                "usually seats freed by one user are needed by another while Exchange continuity forbids removing first; free a seat (or buy one) and plan again",
            ),
        );
    }
    Plan {
        operations: Vec::new(),
        diagnostics,
        seats: Vec::new(),
        exchange_changes: Vec::new(),
        license_errors: Vec::new(),
        fingerprint: fingerprint(),
        cost: None,
    }
}
