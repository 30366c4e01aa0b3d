//! Applying one operation to the live model, with Microsoft Graph's own rules.
//!
//! This is the single definition of "what a write does" shared by the snapshot backend, the
//! fake Graph server and the property tests, so all three agree with each other and with Graph:
//! no licence without usageLocation, no seat overspend, no direct removal of an inherited
//! licence, disabled plans must belong to the SKU. A rejected operation leaves the model
//! untouched (the change is computed on a copy of the user or group and then committed).

use super::ops::{Licences, LicenseGrant, LicenseRemoval, OpKind};
use super::{GroupLicense, LicenseAssignment, MailboxType, Tenant};
pub use crate::rules::writes::RuleViolation;
use crate::rules::{exchange, seats, writes};

/// Applies `op` to `tenant` if Graph would accept it; otherwise returns why not and leaves the
/// tenant unchanged. Seat counts (`consumed`) are kept up to date.
pub fn apply_operation(tenant: &mut Tenant, op: &OpKind) -> Result<(), RuleViolation> {
    op.kind().apply_to(tenant)
}

fn user_index(tenant: &Tenant, user_id: &str) -> Result<usize, RuleViolation> {
    tenant
        .user_position(user_id)
        .ok_or_else(|| RuleViolation::NotFound(format!("user {user_id}")))
}

pub(crate) fn user_mut<'a>(
    tenant: &'a mut Tenant,
    user_id: &str,
) -> Result<&'a mut super::User, RuleViolation> {
    let i = user_index(tenant, user_id)?;
    Ok(&mut tenant.users[i])
}

fn group_index(tenant: &Tenant, group_id: &str) -> Result<usize, RuleViolation> {
    tenant
        .groups
        .iter()
        .position(|g| g.id == group_id)
        .ok_or_else(|| RuleViolation::NotFound(format!("group {group_id}")))
}

fn check_grants(tenant: &Tenant, add: &[LicenseGrant]) -> Result<(), RuleViolation> {
    for grant in add {
        let sku = tenant
            .sku(&grant.sku_id)
            .ok_or_else(|| RuleViolation::UnknownSku(grant.sku_id.clone()))?;
        for plan in &grant.disabled_plans {
            if sku.plan_by_id(plan).is_none() {
                return Err(RuleViolation::UnknownPlan {
                    plan: plan.clone(),
                    sku: sku.sku_part_number.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Disabled plans in Graph's canonical form: sorted, no repeats.
fn canonical_plans(plans: &[String]) -> Vec<String> {
    let mut v = plans.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Graph's `assignLicense` on one user, all or nothing. Fails with `NoSeats` if a SKU would
/// be consumed beyond what it can give *and* the change made it worse than before (a tenant
/// already over-assigned may still free seats).
pub(crate) fn assign_user_licenses(
    tenant: &mut Tenant,
    user_id: &str,
    add: &[LicenseGrant],
    remove: &[LicenseRemoval],
) -> Result<(), RuleViolation> {
    let i = user_index(tenant, user_id)?;
    check_grants(tenant, add)?;
    // Only this user changes: work on a copy of them, not of the tenant (writes stay O(1)
    // in the tenant's size; the fake serves 100,000-user tenants).
    let mut changed = tenant.users[i].clone();
    let user = &mut changed;
    if !add.is_empty() {
        writes::check_location_for_grant(&user.user_principal_name, user.usage_location.is_some())?;
    }
    for removal in remove {
        let direct = user
            .licenses
            .iter()
            .position(|l| l.assigned_by_group.is_none() && l.sku_id == removal.sku_id);
        match direct {
            Some(pos) => {
                user.licenses.remove(pos);
            }
            None if user.holds(&removal.sku_id) => {
                return Err(RuleViolation::InheritedLicense {
                    user: user.user_principal_name.clone(),
                    sku: removal.sku_part_number.clone(),
                });
            }
            None => {
                return Err(RuleViolation::LicenseNotHeld {
                    principal: user.user_principal_name.clone(),
                    sku: removal.sku_part_number.clone(),
                });
            }
        }
    }
    for grant in add {
        grant_direct(&mut user.licenses, grant);
    }
    changed.normalize_licenses();
    let (before, after) = (tenant.users[i].effective_skus(), changed.effective_skus());
    let mut consumed: Vec<u32> = Vec::with_capacity(tenant.skus.len());
    for sku in &tenant.skus {
        let held = |skus: &[&str]| u32::from(skus.binary_search(&sku.sku_id.as_str()).is_ok());
        let now = (sku.consumed + held(&after)).saturating_sub(held(&before));
        writes::check_seats(sku, i64::from(sku.consumed), i64::from(now))?;
        consumed.push(now);
    }
    for (sku, now) in tenant.skus.iter_mut().zip(consumed) {
        sku.consumed = now;
    }
    tenant.users[i] = changed;
    Ok(())
}

/// Re-derives the inherited assignments of one user from the groups they belong to, the way
/// group-based licensing does. An assignment that already exists keeps its state (a
/// `CountViolation` stays until the user is processed again).
fn reconcile_inherited(tenant: &mut Tenant, user_index: usize) {
    let user_id = tenant.users[user_index].id.clone();
    let mut wanted: Vec<(String, GroupLicense)> = Vec::new();
    for group in tenant.groups.iter().filter(|g| !g.licenses.is_empty()) {
        if group.members.iter().any(|m| m == &user_id) {
            for lic in &group.licenses {
                wanted.push((group.id.clone(), lic.clone()));
            }
        }
    }
    let user = &mut tenant.users[user_index];
    sync_inherited(&mut user.licenses, wanted);
    user.normalize_licenses();
}

/// Adds a direct assignment, or replaces the existing direct one's disabled plans (Graph's
/// `assignLicense` re-assigning a held SKU). Shared with the planner's simulation.
pub(crate) fn grant_direct(licenses: &mut Vec<LicenseAssignment>, grant: &LicenseGrant) {
    let assignment = LicenseAssignment {
        sku_id: grant.sku_id.clone(),
        disabled_plans: canonical_plans(&grant.disabled_plans),
        assigned_by_group: None,
        state: "Active".to_string(),
        error: None,
    };
    match licenses
        .iter_mut()
        .find(|l| l.assigned_by_group.is_none() && l.sku_id == grant.sku_id)
    {
        Some(existing) => *existing = assignment,
        None => licenses.push(assignment),
    }
}

/// Adds a group licence, or replaces the held one's disabled plans. Shared with the planner's
/// simulation.
pub(crate) fn grant_to_group(licenses: &mut Vec<GroupLicense>, grant: &LicenseGrant) {
    let lic = GroupLicense {
        sku_id: grant.sku_id.clone(),
        disabled_plans: canonical_plans(&grant.disabled_plans),
    };
    match licenses.iter_mut().find(|l| l.sku_id == grant.sku_id) {
        Some(existing) => *existing = lic,
        None => licenses.push(lic),
    }
}

/// Makes a user's inherited assignments exactly the `(group id, licence)` pairs that reach them:
/// others are dropped, existing ones take the group's disabled plans, new ones are `Active`.
/// A member without usage location is licensed too: "When group licensing assigns to a user
/// without usageLocation, the user inherits the directory's location" (Entra
/// licensing-group-advanced; research/graph-api.md §1.1 notes), unlike a direct assignment.
/// Direct assignments are untouched. One function for the fake's rules and the planner's
/// simulation, so the two cannot disagree.
pub(crate) fn sync_inherited(
    licenses: &mut Vec<LicenseAssignment>,
    wanted: Vec<(String, GroupLicense)>,
) {
    licenses.retain(|l| match &l.assigned_by_group {
        None => true,
        Some(g) => wanted
            .iter()
            .any(|(wg, wl)| wg == g && wl.sku_id == l.sku_id),
    });
    for (group_id, lic) in wanted {
        let existing = licenses.iter_mut().find(|l| {
            l.assigned_by_group.as_deref() == Some(group_id.as_str()) && l.sku_id == lic.sku_id
        });
        match existing {
            Some(l) => l.disabled_plans = canonical_plans(&lic.disabled_plans),
            None => licenses.push(LicenseAssignment {
                sku_id: lic.sku_id.clone(),
                disabled_plans: canonical_plans(&lic.disabled_plans),
                assigned_by_group: Some(group_id),
                state: "Active".to_string(),
                error: None,
            }),
        }
    }
}

/// What a group-licensing change is settled against: the seats each SKU used before and the
/// SKUs each affected user held before. Only affected users change, so settling is
/// O(affected users), not O(tenant) (the fake serves 100,000-user tenants).
struct SeatBaseline {
    consumed: Vec<u32>,
    held: Vec<(usize, Vec<String>)>,
}

impl SeatBaseline {
    fn capture(tenant: &Tenant, mut users: Vec<usize>) -> SeatBaseline {
        users.sort_unstable();
        users.dedup();
        SeatBaseline {
            consumed: tenant.skus.iter().map(|s| s.consumed).collect(),
            held: users
                .into_iter()
                .map(|ui| {
                    let held = tenant.users[ui].effective_skus();
                    (ui, held.into_iter().map(str::to_string).collect())
                })
                .collect(),
        }
    }
}

/// Re-counts the seats of the affected users, then turns their *new* inherited assignments
/// beyond capacity into `CountViolation` errors, last UPN first: group licensing never
/// overspends, and users who held the seat before keep it.
fn settle_group_seats(tenant: &mut Tenant, before: SeatBaseline) {
    for (ui, old) in &before.held {
        let now = tenant.users[*ui].effective_skus();
        let gained: Vec<String> = now
            .iter()
            .filter(|s| !old.iter().any(|o| o == *s))
            .map(|s| s.to_string())
            .collect();
        let lost: Vec<&String> = old.iter().filter(|o| !now.contains(&o.as_str())).collect();
        for sku in &mut tenant.skus {
            if gained.contains(&sku.sku_id) {
                sku.consumed += 1;
            }
            if lost.contains(&&sku.sku_id) {
                sku.consumed = sku.consumed.saturating_sub(1);
            }
        }
    }
    for si in 0..tenant.skus.len() {
        let sku_id = tenant.skus[si].sku_id.clone();
        let old = before.consumed[si];
        // `held` is in position order, which is UPN order: pop from the back.
        let mut newcomers: Vec<usize> = before
            .held
            .iter()
            .filter(|(ui, old_held)| {
                let user = &tenant.users[*ui];
                !old_held.contains(&sku_id)
                    && user.direct_license(&sku_id).is_none()
                    && user
                        .licenses
                        .iter()
                        .any(|l| l.sku_id == sku_id && l.is_effective())
            })
            .map(|(ui, _)| *ui)
            .collect();
        while !seats::step_fits(
            &tenant.skus[si],
            i64::from(old),
            i64::from(tenant.skus[si].consumed),
        ) {
            let Some(ui) = newcomers.pop() else { break };
            for l in &mut tenant.users[ui].licenses {
                if l.sku_id == sku_id && l.assigned_by_group.is_some() {
                    l.state = "Error".to_string();
                    l.error = Some("CountViolation".to_string());
                }
            }
            tenant.skus[si].consumed -= 1;
        }
    }
}

pub(crate) fn assign_group_licenses(
    tenant: &mut Tenant,
    group_id: &str,
    add: &[LicenseGrant],
    remove: &[LicenseRemoval],
) -> Result<(), RuleViolation> {
    let members = set_group_licenses(tenant, group_id, add, remove)?;
    process_members(tenant, members);
    Ok(())
}

/// The group-level half of a group `assignLicense`: the group's own licences change; its
/// members are processed by `process_members`. Returns the members' positions.
fn set_group_licenses(
    tenant: &mut Tenant,
    group_id: &str,
    add: &[LicenseGrant],
    remove: &[LicenseRemoval],
) -> Result<Vec<usize>, RuleViolation> {
    let gi = group_index(tenant, group_id)?;
    check_grants(tenant, add)?;
    let group = &tenant.groups[gi];
    for removal in remove {
        if !group.licenses.iter().any(|l| l.sku_id == removal.sku_id) {
            return Err(RuleViolation::LicenseNotHeld {
                principal: group.display_name.clone(),
                sku: removal.sku_part_number.clone(),
            });
        }
    }
    let members: Vec<usize> = group
        .members
        .iter()
        .filter_map(|m| tenant.user_position(m))
        .collect();
    let group = &mut tenant.groups[gi];
    group
        .licenses
        .retain(|l| !remove.iter().any(|r| r.sku_id == l.sku_id));
    for grant in add {
        grant_to_group(&mut group.licenses, grant);
    }
    group.licenses.sort_by(|a, b| a.sku_id.cmp(&b.sku_id));
    Ok(members)
}

/// What group-based licensing does for members once it processes them: their inherited
/// assignments are re-derived from the groups they are in now, and seats are settled (new
/// assignments beyond capacity become `CountViolation` errors).
pub fn process_members(tenant: &mut Tenant, users: Vec<usize>) {
    let before = SeatBaseline::capture(tenant, users);
    for (ui, _) in &before.held {
        reconcile_inherited(tenant, *ui);
    }
    settle_group_seats(tenant, before);
}

/// The group-level half of a group-licensing write (group `assignLicense`, member added or
/// removed), checked with Graph's rules like `apply_operation`, without processing the
/// members: the fake's asynchronous group licensing processes them later with
/// `process_members`. Returns the positions of the users still to be processed, or `None`
/// for operations that are not group licensing.
pub fn apply_group_level(
    tenant: &mut Tenant,
    op: &OpKind,
) -> Option<Result<Vec<usize>, RuleViolation>> {
    Some(match op.licences() {
        Licences::Group {
            group_id,
            add,
            remove,
        } => set_group_licenses(tenant, group_id, add, remove),
        Licences::Membership {
            group_id,
            user_id,
            joins: true,
        } => join(tenant, group_id, user_id).map(|ui| vec![ui]),
        Licences::Membership {
            group_id,
            user_id,
            joins: false,
        } => leave(tenant, group_id, user_id).map(|ui| vec![ui]),
        Licences::Untouched | Licences::User { .. } => return None,
    })
}

pub(crate) fn add_member(
    tenant: &mut Tenant,
    group_id: &str,
    user_id: &str,
) -> Result<(), RuleViolation> {
    let ui = join(tenant, group_id, user_id)?;
    process_members(tenant, vec![ui]);
    Ok(())
}

/// Adds the member to the group; returns their position.
fn join(tenant: &mut Tenant, group_id: &str, user_id: &str) -> Result<usize, RuleViolation> {
    let gi = group_index(tenant, group_id)?;
    let ui = user_index(tenant, user_id)?;
    let members = &tenant.groups[gi].members;
    if members.iter().any(|m| m == user_id) {
        return Err(RuleViolation::AlreadyMember {
            user: user_id.to_string(),
            group: tenant.groups[gi].display_name.clone(),
        });
    }
    let members = &mut tenant.groups[gi].members;
    let at = members.partition_point(|m| m.as_str() < user_id);
    members.insert(at, user_id.to_string());
    Ok(ui)
}

pub(crate) fn remove_member(
    tenant: &mut Tenant,
    group_id: &str,
    user_id: &str,
) -> Result<(), RuleViolation> {
    let ui = leave(tenant, group_id, user_id)?;
    process_members(tenant, vec![ui]);
    Ok(())
}

/// Removes the member from the group; returns their position.
fn leave(tenant: &mut Tenant, group_id: &str, user_id: &str) -> Result<usize, RuleViolation> {
    let gi = group_index(tenant, group_id)?;
    let ui = user_index(tenant, user_id)?;
    if !tenant.groups[gi].members.iter().any(|m| m == user_id) {
        return Err(RuleViolation::NotFound(format!(
            "member {user_id} of group {}",
            tenant.groups[gi].display_name
        )));
    }
    tenant.groups[gi].members.retain(|m| m != user_id);
    Ok(ui)
}

pub(crate) fn convert_mailbox(
    tenant: &mut Tenant,
    user_id: &str,
    to: MailboxType,
) -> Result<(), RuleViolation> {
    let ui = user_index(tenant, user_id)?;
    let rank = exchange::user_exchange_rank(tenant, &tenant.users[ui]);
    let user = &mut tenant.users[ui];
    writes::check_conversion(
        &user.user_principal_name,
        user.on_premises_sync_enabled,
        user.mailbox.is_some(),
        to,
        rank,
    )?;
    if let Some(mailbox) = user.mailbox.as_mut() {
        mailbox.kind = to;
    }
    Ok(())
}
