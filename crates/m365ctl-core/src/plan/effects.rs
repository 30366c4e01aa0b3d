//! What an operation or a group change does to a user's Exchange capability and mailbox, as
//! the ordering rules of `graph` need it: whether it gives or may take Exchange (or Plan 2),
//! and whether a change alone would leave a mailbox worse off (`rules::mailbox`).

use super::index::Index;
use super::intent::{GroupChange, Intent};
use super::ops::{Licences, LicenseGrant, LicenseRemoval, OpKind};
use crate::catalog::ExchangeRank;
use crate::rules::mailbox as rules_mailbox;
use crate::tenant::LicenseAssignment;

/// Whether the user's mailbox would need Exchange Online Plan 2 as a shared mailbox
/// (`rules::mailbox`: over 50 GB, archive, hold).
pub(crate) fn needs_plan2_as_shared(ix: &Index<'_>, ui: usize) -> bool {
    ix.live.users[ui]
        .mailbox
        .as_ref()
        .is_some_and(|m| rules_mailbox::shared_mailbox_needs_plan2(m).is_some())
}

/// Whether an operation can give its user at least `rank`: a direct grant of such a licence,
/// or joining a group that has or gains one.
fn gives_at_least(ix: &Index<'_>, intent: &Intent, kind: &OpKind, rank: ExchangeRank) -> bool {
    let enough = |sku_id: &str, disabled: &[String]| ix.sku_rank(sku_id, disabled) >= rank;
    match kind.licences() {
        Licences::User { add, .. } => add.iter().any(|a| enough(&a.sku_id, &a.disabled_plans)),
        Licences::Membership {
            group_id,
            joins: true,
            ..
        } => ix.group_by_id(group_id).is_some_and(|gi| {
            ix.live.groups[gi]
                .licenses
                .iter()
                .any(|l| enough(&l.sku_id, &l.disabled_plans))
                || intent
                    .groups
                    .iter()
                    .filter(|g| g.gi == gi)
                    .flat_map(|g| &g.add)
                    .any(|a| enough(&a.sku_id, &a.disabled_plans))
        }),
        // A group change reaches the user through the group rules of `graph`.
        Licences::Membership { joins: false, .. }
        | Licences::Group { .. }
        | Licences::Untouched => false,
    }
}

/// Whether an operation can give its user Exchange Online Plan 2.
pub(crate) fn gives_plan2(ix: &Index<'_>, intent: &Intent, kind: &OpKind) -> bool {
    gives_at_least(ix, intent, kind, ExchangeRank::Plan2)
}

/// Whether an operation can give its user Exchange at all.
pub(crate) fn gives_exchange_op(ix: &Index<'_>, intent: &Intent, kind: &OpKind) -> bool {
    gives_at_least(ix, intent, kind, ExchangeRank::Essentials)
}

/// Whether an operation can take Exchange away from its user: removing an Exchange-bearing
/// licence, or leaving a group that has or gains one.
pub(crate) fn may_take_exchange(ix: &Index<'_>, intent: &Intent, kind: &OpKind) -> bool {
    let exchange = |sku_id: &str| ix.sku_rank(sku_id, &[]).has_mailbox();
    match kind.licences() {
        Licences::User {
            user_id,
            add,
            remove,
        } => {
            // A re-assignment that disables the Exchange plan takes it too.
            let user = ix.user_by_id(user_id).map(|ui| &ix.live.users[ui]);
            let lowers = |a: &LicenseGrant| {
                user.and_then(|u| u.direct_license(&a.sku_id))
                    .is_some_and(|d| {
                        ix.sku_rank(&d.sku_id, &d.disabled_plans)
                            > ix.sku_rank(&a.sku_id, &a.disabled_plans)
                    })
            };
            let removes_exchange = |r: &LicenseRemoval| {
                user.and_then(|u| u.direct_license(&r.sku_id))
                    .map_or(exchange(&r.sku_id), |d| {
                        ix.sku_rank(&d.sku_id, &d.disabled_plans).has_mailbox()
                    })
            };
            remove.iter().any(removes_exchange) || add.iter().any(lowers)
        }
        Licences::Membership {
            group_id,
            joins: false,
            ..
        } => ix.group_by_id(group_id).is_some_and(|gi| {
            ix.live.groups[gi]
                .licenses
                .iter()
                .any(|l| exchange(&l.sku_id))
                || intent
                    .groups
                    .iter()
                    .filter(|g| g.gi == gi)
                    .flat_map(|g| &g.add)
                    .any(|a| exchange(&a.sku_id))
        }),
        Licences::Membership { joins: true, .. } | Licences::Group { .. } | Licences::Untouched => {
            false
        }
    }
}

/// Whether this group change can leave a member's mailbox worse off (then it must wait for
/// the member's Exchange from elsewhere, or for their conversion): alone, from the live
/// state, or together with the other planned operations that may take from the member.
/// Several changes that each leave another licence in place can, together, take the last one
/// (two groups dropping the same Exchange licence), in any order the executor picks.
pub(crate) fn group_change_strands(
    ix: &Index<'_>,
    intent: &Intent,
    g: &GroupChange,
    ui: usize,
) -> bool {
    let user = &ix.live.users[ui];
    let gid = ix.live.groups[g.gi].id.as_str();
    let alone = with_group_change(ix, ui, &user.licenses, g);
    if worse_for_mailbox(ix, ui, &alone) {
        return true;
    }
    let from_g = |ls: &[LicenseAssignment]| {
        let mine: Vec<LicenseAssignment> = ls
            .iter()
            .filter(|l| l.assigned_by_group.as_deref() == Some(gid))
            .cloned()
            .collect();
        ix.rank_of(&mine)
    };
    from_g(&alone) < from_g(&user.licenses)
        && worse_for_mailbox(
            ix,
            ui,
            &with_group_change(ix, ui, &floor(ix, intent, ui), g),
        )
}

/// Whether group `other`'s change gives member `ui` what their mailbox needs on its own: its
/// new licences on top of the least the member may hold in any order (`floor`). Only then
/// does a group change that strands the member have a reason to wait for it. Both this and
/// [`group_change_strands`] judge the same licences on the same floor, so a change that
/// strands the member never relieves them: two group changes cannot each need the other.
pub(crate) fn group_change_relieves(
    ix: &Index<'_>,
    intent: &Intent,
    other: &GroupChange,
    ui: usize,
) -> bool {
    !worse_for_mailbox(
        ix,
        ui,
        &with_group_change(ix, ui, &floor(ix, intent, ui), other),
    )
}

/// `licenses` with group `g`'s changed licences replaced by its new ones.
fn with_group_change(
    ix: &Index<'_>,
    ui: usize,
    licenses: &[LicenseAssignment],
    g: &GroupChange,
) -> Vec<LicenseAssignment> {
    let user = &ix.live.users[ui];
    let gid = ix.live.groups[g.gi].id.as_str();
    let changed = |sku: &str| {
        g.remove.iter().any(|r| r.sku_id == sku) || g.add.iter().any(|a| a.sku_id == sku)
    };
    let mut after: Vec<LicenseAssignment> = licenses
        .iter()
        .filter(|l| !(l.assigned_by_group.as_deref() == Some(gid) && changed(&l.sku_id)))
        .cloned()
        .collect();
    after.extend(g.add.iter().map(|a| {
        LicenseAssignment {
            sku_id: a.sku_id.clone(),
            disabled_plans: a.disabled_plans.clone(),
            assigned_by_group: Some(gid.to_string()),
            state: if user.usage_location.is_some() {
                "Active"
            } else {
                "Error"
            }
            .to_string(),
            error: None,
        }
    }));
    after
}

/// The least the user may hold at some point of some order: their live licences without
/// every one a planned operation may take or lower (a direct removal or re-assignment, a
/// group change, leaving a group), and without anything the plan gives.
fn floor(ix: &Index<'_>, intent: &Intent, ui: usize) -> Vec<LicenseAssignment> {
    let user = &ix.live.users[ui];
    let change = intent.users.iter().find(|(u, _)| *u == ui).map(|(_, c)| c);
    let leaves =
        |gid: &str| change.is_some_and(|c| c.leave.iter().any(|m| ix.live.groups[m.gi].id == gid));
    let group_changes = |gid: &str, sku: &str| {
        intent.groups.iter().any(|h| {
            ix.live.groups[h.gi].id == gid
                && (h.remove.iter().any(|r| r.sku_id == sku)
                    || h.add.iter().any(|a| a.sku_id == sku))
        })
    };
    let direct_changes = |sku: &str| {
        change.is_some_and(|c| {
            c.removals.iter().any(|r| r.sku_id == sku) || c.grants.iter().any(|a| a.sku_id == sku)
        })
    };
    user.licenses
        .iter()
        .filter(|l| match l.assigned_by_group.as_deref() {
            Some(gid) => !leaves(gid) && !group_changes(gid, &l.sku_id),
            None => !direct_changes(&l.sku_id),
        })
        .cloned()
        .collect()
}

/// Whether holding `after` instead of today's licences would leave the user's mailbox worse
/// off (`rules::mailbox::worsened`: unlicensed, over its quota, or shared without Plan 2).
/// Users without a mailbox only care about having Exchange at all (their mailbox may come).
pub(crate) fn worse_for_mailbox(ix: &Index<'_>, ui: usize, after: &[LicenseAssignment]) -> bool {
    let user = &ix.live.users[ui];
    let (before, now) = (ix.rank_of(&user.licenses), ix.rank_of(after));
    match &user.mailbox {
        Some(mb) => rules_mailbox::worsened(
            rules_mailbox::shortfall(mb, mb.kind, before).as_ref(),
            rules_mailbox::shortfall(mb, mb.kind, now),
        )
        .is_some(),
        None => before.has_mailbox() && !now.has_mailbox(),
    }
}

/// Whether leaving group `gi` can leave the member's mailbox worse off: alone, from the live
/// state, or together with the other planned operations that may take from the member.
pub(crate) fn leave_strands(ix: &Index<'_>, intent: &Intent, gi: usize, ui: usize) -> bool {
    let user = &ix.live.users[ui];
    let gid = ix.live.groups[gi].id.as_str();
    let without = |ls: &[LicenseAssignment]| -> Vec<LicenseAssignment> {
        ls.iter()
            .filter(|l| l.assigned_by_group.as_deref() != Some(gid))
            .cloned()
            .collect()
    };
    let from_gi: Vec<LicenseAssignment> = user
        .licenses
        .iter()
        .filter(|l| l.assigned_by_group.as_deref() == Some(gid))
        .cloned()
        .collect();
    worse_for_mailbox(ix, ui, &without(&user.licenses))
        || (ix.rank_of(&from_gi) > ExchangeRank::None
            && worse_for_mailbox(ix, ui, &without(&floor(ix, intent, ui))))
}
