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
    if before > 0 && managed_assignments(&simulate(ops, live), managed_skus) == 0 {
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

/// The tenant after the plan, by Graph's rules (rejected operations are left out).
fn simulate(ops: &[Operation], live: &Tenant) -> Tenant {
    let mut after = live.clone();
    for op in ops {
        let _ = apply_operation(&mut after, &op.kind);
    }
    after
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
