//! Every order the executor may run is safe: a checker that walks topological orders of a
//! plan's DAG (the printed one, adversarial ones and seeded random ones), applies each
//! operation with Graph's rules (`tenant::apply_operation`) and checks the invariants of
//! `rules::invariants` after every step.
//!
//! The executor runs any operation whose dependencies are done, concurrently, so the printed
//! order is only one of many; a plan is safe only if all of them are. Used by the planner's
//! property tests and by the scenario tests.

use super::ops::{OpKind, Role};
use super::{Action, Plan};
use crate::rules::invariants::{Breach, Observed};
use crate::tenant::{Tenant, apply_operation};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::collections::{BTreeSet, HashMap};

/// How to pick the next operation among those whose dependencies are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The plan's own order.
    Printed,
    /// Removals as early as possible, grants as late as possible (mailboxes at risk).
    RemovalsFirst,
    /// Grants as early as possible, removals as late as possible (seats at risk).
    GrantsFirst,
    /// Uniformly random among the ready operations, from this seed.
    Random(u64),
}

/// An order that breaks an invariant or that Graph would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsafe {
    /// The strategy that found it.
    pub strategy: Strategy,
    /// Operation ids in the order run, up to and including the failing one.
    pub order: Vec<String>,
    /// What went wrong.
    pub problem: String,
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} order {} : {}",
            self.strategy,
            self.order.join(" -> "),
            self.problem
        )
    }
}

/// Checks the printed order, both adversarial orders and `random` seeded random orders.
/// `deletion_accepted` names the UPNs whose user mailbox the config lets go (`mailbox =
/// "delete"`). Returns the first unsafe order found.
pub fn check_orders(
    live: &Tenant,
    plan: &Plan,
    deletion_accepted: &dyn Fn(&str) -> bool,
    random: u64,
    seed: u64,
) -> Result<(), Unsafe> {
    let fixed = [
        Strategy::Printed,
        Strategy::RemovalsFirst,
        Strategy::GrantsFirst,
    ];
    let randoms = (0..random).map(|i| Strategy::Random(seed.wrapping_add(i)));
    for strategy in fixed.into_iter().chain(randoms) {
        check_order(live, plan, deletion_accepted, strategy)?;
    }
    Ok(())
}

/// Runs one order to the end, checking after every step.
pub fn check_order(
    live: &Tenant,
    plan: &Plan,
    deletion_accepted: &dyn Fn(&str) -> bool,
    strategy: Strategy,
) -> Result<(), Unsafe> {
    let all_users: Vec<String> = live.users.iter().map(|u| u.id.clone()).collect();
    let baseline = Observed::of(live, &all_users);
    let failed_before = failed_group_assignments(live);
    let mut tenant = live.clone();
    let mut done: Vec<String> = Vec::new();
    for i in topological(plan, strategy) {
        let op = &plan.operations[i];
        done.push(op.id.clone());
        let fail = |problem: String| Unsafe {
            strategy,
            order: done.clone(),
            problem,
        };
        apply_operation(&mut tenant, &op.kind)
            .map_err(|e| fail(format!("{} refused: {e}", op.id)))?;
        if let Some(problem) = converted_too_early(plan, &tenant, &op.kind) {
            return Err(fail(format!("after {}: {problem}", op.id)));
        }
        let breaches = baseline.new_breaches(&tenant);
        if let Some(breach) = breaches
            .into_iter()
            .find(|b| !accepted(b, deletion_accepted))
        {
            return Err(fail(format!("after {}: {breach}", op.id)));
        }
        if let Some((upn, sku)) = failed_group_assignments(&tenant)
            .difference(&failed_before)
            .next()
        {
            return Err(fail(format!(
                "after {}: group licence {sku} of {upn} failed (no seat for it)",
                op.id
            )));
        }
    }
    Ok(())
}

/// A conversion that ran while an attribute of the plan it needs (`Role::BeforeConvert`: a
/// shared mailbox becomes a user's only with sign-in allowed, "Convert a shared mailbox back
/// to a user mailbox") is not in effect yet: what went wrong, naming the attribute's operation.
fn converted_too_early(plan: &Plan, tenant: &Tenant, op: &OpKind) -> Option<String> {
    let Role::Convert(to) = op.kind().role() else {
        return None;
    };
    let user_id = op.user_id()?;
    let needed = plan.operations.iter().find(|o| {
        o.kind.user_id() == Some(user_id)
            && o.kind.kind().role() == Role::BeforeConvert(to)
            && !o.kind.kind().is_in_effect(tenant)
    })?;
    Some(format!(
        "{} became a {} mailbox before {} took effect",
        op.target(),
        to.as_str(),
        needed.id
    ))
}

/// A mailbox the config lets go (`mailbox = "delete"`) may lack anything on its way out.
fn accepted(breach: &Breach, deletion_accepted: &dyn Fn(&str) -> bool) -> bool {
    matches!(breach, Breach::Mailbox { upn, .. } if deletion_accepted(upn))
}

/// `(UPN, sku id)` of inherited assignments that failed for want of a seat (CountViolation):
/// group licensing that ran out of seats is a licence silently not given.
fn failed_group_assignments(tenant: &Tenant) -> BTreeSet<(String, String)> {
    tenant
        .users
        .iter()
        .flat_map(|u| {
            u.licenses
                .iter()
                .filter(|l| {
                    l.assigned_by_group.is_some() && l.error.as_deref() == Some("CountViolation")
                })
                .map(|l| (u.user_principal_name.clone(), l.sku_id.clone()))
        })
        .collect()
}

/// A topological order of the plan's DAG (as indexes into `plan.operations`), choosing among
/// ready operations by `strategy`.
pub fn topological(plan: &Plan, strategy: Strategy) -> Vec<usize> {
    let ops = &plan.operations;
    let position: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i))
        .collect();
    let mut waiting: Vec<usize> = ops.iter().map(|o| o.depends_on.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for dep in &op.depends_on {
            dependents[position[dep.as_str()]].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(match strategy {
        Strategy::Random(seed) => seed,
        _ => 0,
    });
    let rank = |i: usize, removals_first: bool| {
        let r = match ops[i].kind.action() {
            Action::Remove => 0,
            Action::Change => 1,
            Action::Add => 2,
        };
        if removals_first { r } else { 2 - r }
    };
    let mut out = Vec::with_capacity(ops.len());
    while !ready.is_empty() {
        let pick = match strategy {
            Strategy::Printed => (0..ready.len()).min_by_key(|&k| ready[k]),
            Strategy::RemovalsFirst => {
                (0..ready.len()).min_by_key(|&k| (rank(ready[k], true), ready[k]))
            }
            Strategy::GrantsFirst => {
                (0..ready.len()).min_by_key(|&k| (rank(ready[k], false), ready[k]))
            }
            Strategy::Random(_) => Some(rng.random_range(0..ready.len())),
        };
        let i = ready.swap_remove(pick.unwrap_or_default());
        out.push(i);
        for &n in &dependents[i] {
            waiting[n] -= 1;
            if waiting[n] == 0 {
                ready.push(n);
            }
        }
    }
    out
}
