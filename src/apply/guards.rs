//! Blast-radius guards: refuse plans that would change too much at once unless the operator
//! says `--allow-mass-change`. Thresholds follow octoDNS (a count *and* a percentage, so small
//! tenants are not blocked by one leaver) and Argo CD (never prune everything to empty).

use crate::desired::{DesiredState, Guards, UserScope};
use crate::plan::ops::{Licences, Operation, Role};
use crate::tenant::{Tenant, apply_operation};
use std::collections::{BTreeSet, HashSet};

/// The flag that overrides every guard.
pub const OVERRIDE_FLAG: &str = "--allow-mass-change";

/// Why a plan was refused, with the numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardTrip {
    /// Too many users lose a licence.
    #[error(
        "refusing to remove licences from {users} of {managed} managed users ({percent}%): the limit is {max_users} users and {max_percent}%; re-run with {OVERRIDE_FLAG} if this is intended"
    )]
    LicenseRemovals {
        /// Users losing at least one licence.
        users: usize,
        /// Managed users.
        managed: usize,
        /// `users` as a percentage of `managed`, rounded down.
        percent: usize,
        /// `max_license_removals`.
        max_users: usize,
        /// `max_license_removal_percent`.
        max_percent: u8,
    },
    /// Too many mailboxes change type.
    #[error(
        "refusing to convert {count} mailboxes: the limit is {max}; re-run with {OVERRIDE_FLAG} if this is intended"
    )]
    MailboxConversions {
        /// Conversions planned.
        count: usize,
        /// `max_mailbox_conversions`.
        max: usize,
    },
    /// The plan removes every managed licence from everyone.
    #[error(
        "refusing to remove every managed licence ({before} assignments) from every user: this looks like an empty or broken config; re-run with {OVERRIDE_FLAG} if this is intended"
    )]
    PruneToEmpty {
        /// Managed licence assignments held before the plan.
        before: usize,
    },
}

/// Checks a plan against the guards. `managed_skus` are skuPartNumbers (upper-case).
pub fn check(
    ops: &[Operation],
    live: &Tenant,
    managed_user_count: usize,
    managed_skus: &BTreeSet<String>,
    guards: &Guards,
    allow_mass_change: bool,
) -> Result<(), GuardTrip> {
    if allow_mass_change {
        return Ok(());
    }
    let users = users_losing_a_licence(ops, live);
    let percent = (users * 100).checked_div(managed_user_count).unwrap_or(100);
    if users > guards.max_license_removals
        && users * 100 > usize::from(guards.max_license_removal_percent) * managed_user_count
    {
        return Err(GuardTrip::LicenseRemovals {
            users,
            managed: managed_user_count,
            percent,
            max_users: guards.max_license_removals,
            max_percent: guards.max_license_removal_percent,
        });
    }
    let conversions = ops
        .iter()
        .filter(|op| matches!(op.kind.kind().role(), Role::Convert(_)))
        .count();
    if conversions > guards.max_mailbox_conversions {
        return Err(GuardTrip::MailboxConversions {
            count: conversions,
            max: guards.max_mailbox_conversions,
        });
    }
    let before = managed_assignments(live, managed_skus);
    if before > 0 && managed_assignments_after(ops, live, managed_skus, before) == 0 {
        return Err(GuardTrip::PruneToEmpty { before });
    }
    Ok(())
}

/// `check` for a plan of `desired`: managed users are the declared ones, or every user of
/// the tenant with `users = "all"`. One definition for `apply` and for the plan's review
/// (`commands::mass_change`).
pub fn check_plan(
    ops: &[Operation],
    live: &Tenant,
    desired: &DesiredState,
    allow_mass_change: bool,
) -> Result<(), GuardTrip> {
    let managed_users = match desired.scope.users {
        UserScope::Declared => desired.users.len(),
        UserScope::All => live.users.len(),
    };
    check(
        ops,
        live,
        managed_users,
        &desired.scope.managed_skus,
        &desired.guards,
        allow_mass_change,
    )
}

/// Distinct users who lose a licence directly, by leaving a licensed group, or because a
/// group they are in loses one.
fn users_losing_a_licence(ops: &[Operation], live: &Tenant) -> usize {
    let mut users: HashSet<&str> = HashSet::new();
    for op in ops {
        match op.kind.licences() {
            Licences::User {
                user_id, remove, ..
            } if !remove.is_empty() => {
                users.insert(user_id);
            }
            Licences::Membership {
                group_id,
                user_id,
                joins: false,
            } if live.group(group_id).is_some_and(|g| !g.licenses.is_empty()) => {
                users.insert(user_id);
            }
            Licences::Group {
                group_id, remove, ..
            } if !remove.is_empty() => {
                if let Some(group) = live.group(group_id) {
                    users.extend(group.members.iter().map(String::as_str));
                }
            }
            // Nothing taken away: a grant, a join, an attribute.
            Licences::User { .. }
            | Licences::Group { .. }
            | Licences::Membership { .. }
            | Licences::Untouched => {}
        }
    }
    users.len()
}

/// Managed assignments after the plan, by Graph's rules (rejected operations are left out),
/// given the `before` count: only the part of the tenant the plan can change is copied and
/// simulated. A copy of the whole tenant cost as much memory as the tenant itself (about
/// 1 GB at 1,000,000 users) for one number.
fn managed_assignments_after(
    ops: &[Operation],
    live: &Tenant,
    managed_skus: &BTreeSet<String>,
    before: usize,
) -> usize {
    let mut part = part_the_plan_changes(ops, live);
    let part_before = managed_assignments(&part, managed_skus);
    for op in ops {
        let _ = apply_operation(&mut part, &op.kind);
    }
    before - part_before + managed_assignments(&part, managed_skus)
}

/// The users an operation of `ops` can change (its targets and every member of a group it
/// changes), every group any of them belongs to (their inherited licences come from those)
/// and all SKUs with their seat counts: what `apply_operation` reads for these operations.
fn part_the_plan_changes(ops: &[Operation], live: &Tenant) -> Tenant {
    let mut users: HashSet<&str> = HashSet::new();
    let mut groups: HashSet<&str> = HashSet::new();
    for op in ops {
        users.extend(op.kind.user_id());
        match op.kind.licences() {
            Licences::Group { group_id, .. } | Licences::Membership { group_id, .. } => {
                groups.insert(group_id);
            }
            Licences::User { .. } | Licences::Untouched => {}
        }
    }
    for group in &live.groups {
        if groups.contains(group.id.as_str()) {
            users.extend(group.members.iter().map(String::as_str));
        }
    }
    Tenant::new(
        live.tenant_id.clone(),
        live.skus.clone(),
        live.users
            .iter()
            .filter(|u| users.contains(u.id.as_str()))
            .cloned()
            .collect(),
        live.groups
            .iter()
            .filter(|g| {
                groups.contains(g.id.as_str())
                    || g.members.iter().any(|m| users.contains(m.as_str()))
            })
            .cloned()
            .collect(),
    )
}

fn managed_assignments(tenant: &Tenant, managed_skus: &BTreeSet<String>) -> usize {
    let managed_ids: HashSet<&str> = tenant
        .skus
        .iter()
        .filter(|s| managed_skus.contains(&s.sku_part_number.to_ascii_uppercase()))
        .map(|s| s.sku_id.as_str())
        .collect();
    tenant
        .users
        .iter()
        .flat_map(|u| &u.licenses)
        .filter(|l| managed_ids.contains(l.sku_id.as_str()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ops::{
        AddGroupMember, AssignGroupLicenses, AssignLicenses, LicenseGrant, LicenseRemoval, OpKind,
        RemoveGroupMember,
    };
    use proptest::prelude::*;

    /// The whole tenant after the plan: the oracle the partial simulation must agree with.
    fn whole_after(ops: &[Operation], live: &Tenant) -> Tenant {
        let mut after = live.clone();
        for op in ops {
            let _ = apply_operation(&mut after, &op.kind);
        }
        after
    }

    /// Operations of every kind on random users, groups and SKUs of `live`, some of which
    /// Graph rejects (a member added twice, a licence the user lacks, seats run out).
    fn random_ops(live: &Tenant, picks: &[(u8, usize, usize, usize)]) -> Vec<Operation> {
        let grant = |sku: &crate::tenant::Sku| LicenseGrant {
            sku_id: sku.sku_id.clone(),
            sku_part_number: sku.sku_part_number.clone(),
            disabled_plans: vec![],
            disabled_plan_names: vec![],
            replaces_disabled: None,
        };
        let removal = |sku: &crate::tenant::Sku| LicenseRemoval {
            sku_id: sku.sku_id.clone(),
            sku_part_number: sku.sku_part_number.clone(),
        };
        picks
            .iter()
            .enumerate()
            .map(|(n, &(kind, u, g, s))| {
                let user = &live.users[u % live.users.len()];
                let group = &live.groups[g % live.groups.len()];
                let sku = &live.skus[s % live.skus.len()];
                let (user_id, upn) = (user.id.clone(), user.user_principal_name.clone());
                let (group_id, name) = (group.id.clone(), group.display_name.clone());
                let kind: OpKind = match kind % 6 {
                    0 => AssignLicenses {
                        user_id,
                        upn,
                        add: vec![],
                        remove: user
                            .licenses
                            .iter()
                            .filter_map(|l| live.sku(&l.sku_id))
                            .map(removal)
                            .collect(),
                    }
                    .into(),
                    1 => AssignLicenses {
                        user_id,
                        upn,
                        add: vec![grant(sku)],
                        remove: vec![],
                    }
                    .into(),
                    2 => AddGroupMember {
                        group_id,
                        group: name,
                        user_id,
                        upn,
                    }
                    .into(),
                    3 => RemoveGroupMember {
                        group_id,
                        group: name,
                        user_id,
                        upn,
                    }
                    .into(),
                    4 => AssignGroupLicenses {
                        group_id,
                        group: name,
                        add: vec![],
                        remove: group
                            .licenses
                            .iter()
                            .filter_map(|l| live.sku(&l.sku_id))
                            .map(removal)
                            .collect(),
                    }
                    .into(),
                    _ => AssignGroupLicenses {
                        group_id,
                        group: name,
                        add: vec![grant(sku)],
                        remove: vec![],
                    }
                    .into(),
                };
                Operation {
                    id: format!("op{n}"),
                    kind,
                    depends_on: vec![],
                    reasons: vec![],
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Simulating only the part of the tenant a plan can change counts the managed
        /// assignments after it exactly as simulating a copy of the whole tenant does.
        #[test]
        fn the_partial_simulation_counts_what_the_whole_one_does(
            users in 2usize..120,
            seed in 0u64..1_000,
            setup in proptest::collection::vec((2u8..6, 0usize..1_000, 0usize..1_000, 0usize..1_000), 0..60),
            picks in proptest::collection::vec((0u8..6, 0usize..1_000, 0usize..1_000, 0usize..1_000), 0..40),
            managed in proptest::collection::btree_set(0usize..20, 0..20),
        ) {
            // Memberships and group licences first, so users inherit from several groups.
            let generated = crate::synth::generate(&crate::synth::SynthSpec::served(users, seed)).tenant;
            let live = whole_after(&random_ops(&generated, &setup), &generated);
            let ops = random_ops(&live, &picks);
            let managed: BTreeSet<String> = managed
                .iter()
                .filter_map(|i| live.skus.get(*i))
                .map(|s| s.sku_part_number.to_ascii_uppercase())
                .collect();
            let before = managed_assignments(&live, &managed);
            prop_assert_eq!(
                managed_assignments_after(&ops, &live, &managed, before),
                managed_assignments(&whole_after(&ops, &live), &managed)
            );
        }
    }
}
