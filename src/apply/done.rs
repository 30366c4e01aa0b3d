//! Whether an operation is already in effect in a tenant: the pure half of the executor's
//! re-check before each write, which makes re-runs (after a crash, or a second `apply`)
//! idempotent instead of sending duplicate writes.

use crate::plan::OpKind;
use crate::tenant::Tenant;

/// True when the tenant already looks the way `op` would make it. A missing target is "not
/// in effect": the write is attempted and the backend reports the real error.
pub fn is_in_effect(live: &Tenant, op: &OpKind) -> bool {
    match op {
        OpKind::SetUsageLocation { user_id, to, .. } => live.user(user_id).is_some_and(|u| {
            u.usage_location
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(to))
        }),
        OpKind::AssignLicenses {
            user_id,
            add,
            remove,
            ..
        } => live.user(user_id).is_some_and(|u| {
            add.iter().all(|g| {
                u.direct_license(&g.sku_id)
                    .is_some_and(|l| same_plans(&l.disabled_plans, &g.disabled_plans))
            }) && remove.iter().all(|r| u.direct_license(&r.sku_id).is_none())
        }),
        OpKind::AssignGroupLicenses {
            group_id,
            add,
            remove,
            ..
        } => live.group(group_id).is_some_and(|g| {
            add.iter().all(|a| {
                g.licenses.iter().any(|l| {
                    l.sku_id == a.sku_id && same_plans(&l.disabled_plans, &a.disabled_plans)
                })
            }) && remove
                .iter()
                .all(|r| g.licenses.iter().all(|l| l.sku_id != r.sku_id))
        }),
        OpKind::AddGroupMember {
            group_id, user_id, ..
        } => live
            .group(group_id)
            .is_some_and(|g| g.members.iter().any(|m| m == user_id)),
        OpKind::RemoveGroupMember {
            group_id, user_id, ..
        } => live
            .group(group_id)
            .is_some_and(|g| g.members.iter().all(|m| m != user_id)),
        OpKind::ConvertMailbox { user_id, to, .. } => live
            .user(user_id)
            .and_then(|u| u.mailbox.as_ref())
            .is_some_and(|m| m.kind == *to),
    }
}

fn same_plans(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let mut b: Vec<&str> = b.iter().map(|s| s.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
