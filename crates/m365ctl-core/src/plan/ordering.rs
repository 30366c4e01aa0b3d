//! The planner's ordering rules, each a named function over one [`Context`] that adds the
//! edges it needs ("`from` runs before `to`") to [`Edges`]. Hard edges are safety; soft edges
//! are preferences that are kept only where they close no cycle with the hard ones. Every rule
//! only adds edges, so the driver [`edges`] may run them in any order and the plan stays
//! byte-identical.

use super::effects::{
    gives_exchange_op, gives_plan2, group_change_relieves, group_change_strands, leave_strands,
    may_take_exchange, needs_plan2_as_shared,
};
use super::graph::Draft;
use super::index::Index;
use super::intent::Intent;
use super::ops::{Licences, Role};
use super::seats::reaches;
use crate::catalog::ExchangeRank;
use crate::tenant::MailboxType;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What the ordering rules look at: the diff, the operations and how they relate to users
/// and groups.
pub(crate) struct Context<'c, 'a> {
    /// Hash indexes over the live tenant.
    pub ix: &'c Index<'a>,
    /// The diff the operations come from.
    pub intent: &'c Intent,
    /// The operations, by index.
    pub ops: &'c [Draft],
    /// Each user's operations, in the order they were made.
    pub by_user: &'c [(usize, Vec<usize>)],
    /// Membership operations: `(group, operation, joins)`.
    pub member_ops: &'c [(usize, usize, bool)],
    /// The licence operation of each changed group.
    pub group_op: &'c HashMap<usize, usize>,
    /// Users whose licence call is split removal-first so seats can flow (`plan::seats`).
    pub seat_first: &'c HashSet<usize>,
}

/// The edges the rules add.
#[derive(Debug, Default)]
pub(crate) struct Edges {
    /// Safety: every order must keep them.
    pub hard: BTreeSet<(usize, usize)>,
    /// Preferences: kept where they close no cycle.
    pub soft: Vec<(usize, usize)>,
}

/// A rule: reads the context, adds edges.
pub(crate) type Rule = fn(&Context<'_, '_>, &mut Edges);

/// Every ordering rule, by name (the names tests and reviewers use).
pub(crate) const RULES: [(&str, Rule); 7] = [
    ("within_user", within_user),
    ("gains_before_losses", gains_before_losses),
    (
        "exchange_continuity_within_user",
        exchange_continuity_within_user,
    ),
    (
        "membership_around_group_change",
        membership_around_group_change,
    ),
    ("members_around_group_change", members_around_group_change),
    ("group_stops_exchange_last", group_stops_exchange_last),
    (
        "direct_licences_around_group_change",
        direct_licences_around_group_change,
    ),
];

/// The driver: every rule, then the soft edges that close no cycle (in sorted order, so the
/// result does not depend on the order the rules ran in).
pub(crate) fn edges(cx: &Context<'_, '_>) -> BTreeSet<(usize, usize)> {
    let mut out = Edges::default();
    for (_, rule) in RULES {
        rule(cx, &mut out);
    }
    let Edges { mut hard, mut soft } = out;
    soft.sort_unstable();
    let mut next: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(a, b) in &hard {
        next.entry(a).or_default().push(b);
    }
    for (a, b) in soft {
        if !reaches(&next, b, a) && hard.insert((a, b)) {
            next.entry(a).or_default().push(b);
        }
    }
    hard
}

impl Context<'_, '_> {
    /// A user's operations with their roles.
    fn roles(&self, mine: &[usize]) -> Vec<(usize, Role)> {
        mine.iter().map(|&i| (i, self.ops[i].role)).collect()
    }

    /// Whether `ui` is a member of group `gi` after the plan (now or joining, not leaving).
    fn member_after(&self, gi: usize, ui: usize) -> bool {
        let joins = self
            .member_ops
            .iter()
            .any(|&(g, op, j)| g == gi && j && self.ops[op].user == Some(ui));
        let leaves = self
            .member_ops
            .iter()
            .any(|&(g, op, j)| g == gi && !j && self.ops[op].user == Some(ui));
        let now = self.ix.live.groups[gi]
            .members
            .iter()
            .any(|m| self.ix.user_by_id(m) == Some(ui));
        (now || joins) && !leaves
    }
}

/// The rules within one user, by the role of each operation (an exhaustive match: a new role
/// must say what it needs).
fn within_user(cx: &Context<'_, '_>, out: &mut Edges) {
    for (ui, mine) in cx.by_user {
        for (i, role) in cx.roles(mine) {
            match role {
                Role::Location => location_before_gains(cx, mine, i, out),
                Role::Convert(MailboxType::Shared) => {
                    shared_before_exchange_goes(cx, *ui, mine, i, out)
                }
                Role::Convert(_) => user_mailbox_after_exchange(cx, *ui, mine, i, out),
                Role::BeforeConvert(to) => attribute_before_conversion(cx, mine, i, to, out),
                // Ordered by the gain/loss rules and the group rules; attributes need nothing.
                Role::Gain | Role::Loss | Role::GainLoss | Role::Group | Role::Attribute => {}
            }
        }
    }
}

/// A licence assigned directly needs a usage location first (Graph `assignLicense`: "License
/// assignment cannot be done for user with invalid usage location").
fn location_before_gains(cx: &Context<'_, '_>, mine: &[usize], location: usize, out: &mut Edges) {
    for (g, role) in cx.roles(mine) {
        if role.gives() {
            out.hard.insert((location, g));
        }
    }
}

/// "Convert a user mailbox to a shared mailbox": convert while the licence is there, then
/// remove it; a shared mailbox over the limits needs Plan 2 from the moment it is shared, so
/// what gives Plan 2 lands first ("About shared mailboxes").
fn shared_before_exchange_goes(
    cx: &Context<'_, '_>,
    ui: usize,
    mine: &[usize],
    convert: usize,
    out: &mut Edges,
) {
    let (ix, intent, ops) = (cx.ix, cx.intent, cx.ops);
    mine.iter()
        .copied()
        .filter(|&l| l != convert && may_take_exchange(ix, intent, &ops[l].kind))
        .for_each(|l| {
            out.hard.insert((convert, l));
        });
    if needs_plan2_as_shared(ix, ui) {
        for (g, role) in cx.roles(mine) {
            if role.gives()
                && !may_take_exchange(ix, intent, &ops[g].kind)
                && gives_plan2(ix, intent, &ops[g].kind)
            {
                out.hard.insert((g, convert));
            }
        }
    }
}

/// A user mailbox needs its Exchange licence first ("Convert a shared mailbox back to a user
/// mailbox": assign a licence); a shared mailbox over the limits keeps Plan 2 until it is a
/// user mailbox.
fn user_mailbox_after_exchange(
    cx: &Context<'_, '_>,
    ui: usize,
    mine: &[usize],
    convert: usize,
    out: &mut Edges,
) {
    let (ix, intent, ops) = (cx.ix, cx.intent, cx.ops);
    let needs_plan2 = needs_plan2_as_shared(ix, ui);
    for &o in mine.iter().filter(|&&o| o != convert) {
        let takes = may_take_exchange(ix, intent, &ops[o].kind);
        if !takes && gives_exchange_op(ix, intent, &ops[o].kind) {
            out.hard.insert((o, convert));
        } else if takes && needs_plan2 {
            out.hard.insert((convert, o));
        }
    }
}

/// An attribute the kind says a conversion needs (`Role::BeforeConvert`) is written before
/// the user's conversion to that mailbox type: the account of a shared mailbox that becomes
/// a user's signs in again, so sign-in is allowed first ("About shared mailboxes": block
/// sign-in for the shared mailbox account, so a user mailbox needs it back).
fn attribute_before_conversion(
    cx: &Context<'_, '_>,
    mine: &[usize],
    attribute: usize,
    to: MailboxType,
    out: &mut Edges,
) {
    for &c in mine {
        if cx.ops[c].role == Role::Convert(to) {
            out.hard.insert((attribute, c));
        }
    }
}

/// What a user gains comes before what they lose (Graph `assignLicense` does not document
/// that an add and a remove in one call are atomic); for a user whose seat must flow to
/// someone else first (`seat_first`), a direct removal precedes the direct grant.
fn gains_before_losses(cx: &Context<'_, '_>, out: &mut Edges) {
    for (ui, mine) in cx.by_user {
        let roles = cx.roles(mine);
        let continuity = cx.intent.users.iter().any(|(u, c)| u == ui && c.continuity);
        let first_removal = cx.seat_first.contains(ui) && !continuity;
        for &(g, _) in roles.iter().filter(|(_, r)| r.gives()) {
            for &(l, _) in roles.iter().filter(|(_, r)| r.takes()) {
                if g == l {
                    continue;
                }
                let direct_pair = matches!(cx.ops[g].kind.licences(), Licences::User { .. })
                    && matches!(cx.ops[l].kind.licences(), Licences::User { .. });
                if first_removal && direct_pair {
                    out.hard.insert((l, g));
                } else {
                    out.hard.insert((g, l));
                }
            }
        }
    }
}

/// Exchange continuity within a user: whatever may take Exchange (a removal, a re-assignment
/// that disables the plan, leaving a group) waits for whatever gives it ("Remove licenses from
/// users": a user mailbox without a licence is deleted after 30 days).
fn exchange_continuity_within_user(cx: &Context<'_, '_>, out: &mut Edges) {
    let (ix, intent, ops) = (cx.ix, cx.intent, cx.ops);
    for (_, mine) in cx.by_user {
        for &g in mine {
            if !gives_exchange_op(ix, intent, &ops[g].kind)
                || may_take_exchange(ix, intent, &ops[g].kind)
            {
                continue;
            }
            for &l in mine {
                if l != g && may_take_exchange(ix, intent, &ops[l].kind) {
                    out.hard.insert((g, l));
                }
            }
        }
    }
}

/// Leavers leave before the group's licences change and joiners join after (no seat spent on
/// a licence about to go): preferences, except for a leaver the change would leave worse off,
/// who is out first (group-based licensing processes members of the group as it is).
fn membership_around_group_change(cx: &Context<'_, '_>, out: &mut Edges) {
    for &(gi, op, joins) in cx.member_ops {
        if let Some(&g) = cx.group_op.get(&gi) {
            let change = cx.intent.groups.iter().find(|c| c.gi == gi);
            let leaver_hit = !joins
                && cx.ops[op]
                    .user
                    .zip(change)
                    .is_some_and(|(ui, c)| group_change_strands(cx.ix, cx.intent, c, ui));
            if leaver_hit {
                out.hard.insert((op, g));
            } else {
                out.soft.push(if joins { (g, op) } else { (op, g) });
            }
        }
    }
}

/// A group's members around its licence change (group-based licensing applies the group's
/// licences to its members): a mailbox becomes shared before the group's licences change
/// under it and a user mailbox only after the group granted its licence; a member's usage
/// location comes before the group grants them a licence; a member who keeps (or gets)
/// Exchange from the group's new licence loses other Exchange only after it arrives.
fn members_around_group_change(cx: &Context<'_, '_>, out: &mut Edges) {
    let (ix, intent, ops, live) = (cx.ix, cx.intent, cx.ops, cx.ix.live);
    let location_op: HashMap<usize, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.role == Role::Location)
        .filter_map(|(i, o)| o.user.map(|u| (u, i)))
        .collect();
    let convert_op: HashMap<usize, (usize, MailboxType)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match (o.user, o.role) {
            (Some(u), Role::Convert(to)) => Some((u, (i, to))),
            _ => None,
        })
        .collect();
    let live_member = |gi: usize, ui: usize| ix.memberships[ui].contains(&gi);
    for g in &intent.groups {
        let gop = cx.group_op[&g.gi];
        let mut members: BTreeSet<usize> = live.groups[g.gi]
            .members
            .iter()
            .filter_map(|m| ix.user_by_id(m))
            .collect();
        members.extend(
            cx.member_ops
                .iter()
                .filter(|(gi, _, j)| *gi == g.gi && *j)
                .map(|(_, op, _)| ops[*op].user.unwrap_or(usize::MAX)),
        );
        let gives_exchange = g
            .add
            .iter()
            .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans).has_mailbox());
        for ui in members {
            let leaves_this = cx
                .member_ops
                .iter()
                .any(|&(gi, op, joins)| gi == g.gi && !joins && ops[op].user == Some(ui));
            // Joiners and leavers are not members when the group changes: their own
            // membership operation orders them.
            let stays = !leaves_this && live_member(g.gi, ui);
            let gives_plan2 = g
                .add
                .iter()
                .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans) == ExchangeRank::Plan2);
            match convert_op.get(&ui).filter(|_| stays) {
                Some(&(c, MailboxType::Shared)) if gives_plan2 && needs_plan2_as_shared(ix, ui) => {
                    out.hard.insert((gop, c));
                }
                Some(&(c, MailboxType::Shared)) => {
                    out.hard.insert((c, gop));
                }
                // A shared mailbox the change would leave short (Plan 2 taken) becomes a user
                // mailbox first.
                Some(&(c, _)) if group_change_strands(ix, intent, g, ui) => {
                    out.hard.insert((c, gop));
                }
                Some(&(c, _)) if !g.add.is_empty() => {
                    out.hard.insert((gop, c));
                }
                _ => {}
            }
            if !g.add.is_empty()
                && let Some(&loc) = location_op.get(&ui)
            {
                out.hard.insert((loc, gop));
            }
            // A joiner gets this group's new Exchange licence only once both happened: what
            // they lose waits for the group too.
            let joins_this = cx
                .member_ops
                .iter()
                .any(|&(gi, op, joins)| gi == g.gi && joins && ops[op].user == Some(ui));
            if gives_exchange && joins_this {
                for (_, mine) in cx.by_user.iter().filter(|(u, _)| *u == ui) {
                    for (l, role) in cx.roles(mine) {
                        if role.takes() {
                            out.hard.insert((gop, l));
                        }
                    }
                }
            }
            // A member leaving this group gets nothing from it: no edge, no cycle.
            if gives_exchange && !leaves_this {
                for &(other, leave, joins) in cx.member_ops {
                    let other_gives_exchange = live.groups[other]
                        .licenses
                        .iter()
                        .any(|l| ix.sku_rank(&l.sku_id, &l.disabled_plans).has_mailbox());
                    if !joins
                        && other != g.gi
                        && other_gives_exchange
                        && ops[leave].user == Some(ui)
                        && leave_strands(ix, intent, other, ui)
                    {
                        out.hard.insert((gop, leave));
                    }
                }
            }
        }
    }
}

/// The mirror image: a group that stops giving Exchange changes only after its staying
/// members got Exchange elsewhere (another group's new licence, or joining a group).
fn group_stops_exchange_last(cx: &Context<'_, '_>, out: &mut Edges) {
    let (ix, intent, ops, live) = (cx.ix, cx.intent, cx.ops, cx.ix.live);
    let exchange = |sku_id: &str, disabled: &[String]| ix.sku_rank(sku_id, disabled).has_mailbox();
    for g in &intent.groups {
        let gop = cx.group_op[&g.gi];
        let staying: Vec<usize> = live.groups[g.gi]
            .members
            .iter()
            .filter_map(|m| ix.user_by_id(m))
            .filter(|&ui| cx.member_after(g.gi, ui) && group_change_strands(ix, intent, g, ui))
            .collect();
        if staying.is_empty() {
            continue;
        }
        for other in intent.groups.iter().filter(|o| o.gi != g.gi) {
            if !other
                .add
                .iter()
                .any(|a| exchange(&a.sku_id, &a.disabled_plans))
            {
                continue;
            }
            // Hard when the other group's new licence gives a stranded member what their
            // mailbox needs: the hard edges of this rule then lead from a group to one whose
            // new licence ranks lower for that member (`group_change_relieves`), so they never
            // close a cycle. A new licence that does not suffice (too small, or in error for a
            // member without a usage location) guarantees nothing: only a preference, so two
            // groups trading Exchange under a shared member never wait on each other.
            let shared: Vec<usize> = staying
                .iter()
                .copied()
                .filter(|&ui| cx.member_after(other.gi, ui))
                .collect();
            let edge = (cx.group_op[&other.gi], gop);
            if shared
                .iter()
                .any(|&ui| group_change_relieves(ix, intent, other, ui))
            {
                out.hard.insert(edge);
            } else if !shared.is_empty() {
                out.soft.push(edge);
            }
        }
        for &(_, join, joins) in cx.member_ops {
            let Some(ui) = ops[join].user else { continue };
            if joins && staying.contains(&ui) {
                out.hard.insert((join, gop));
            }
        }
    }
}

/// A member's own licence calls around their group's change: what takes Exchange waits for
/// the group's new Exchange licence; what gives Exchange comes before a group change that
/// would leave the mailbox worse off (both hard); otherwise a preference that keeps the same
/// licence continuous (a direct copy of a licence the group starts giving goes after it).
fn direct_licences_around_group_change(cx: &Context<'_, '_>, out: &mut Edges) {
    let (ix, intent, ops, live) = (cx.ix, cx.intent, cx.ops, cx.ix.live);
    let mut user_ops: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let (Some(u), Licences::User { .. }) = (o.user, o.kind.licences()) {
            user_ops.entry(u).or_default().push(i);
        }
    }
    for g in &intent.groups {
        let gop = cx.group_op[&g.gi];
        let gives_exchange = g
            .add
            .iter()
            .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans).has_mailbox());
        for m in &live.groups[g.gi].members {
            let Some(ui) = ix.user_by_id(m) else { continue };
            // A member who leaves the group is out before it changes: the group's licences
            // never reach them, so their own licence calls need not wait for it.
            if !cx.member_after(g.gi, ui) {
                continue;
            }
            for &op in user_ops.get(&ui).map(Vec::as_slice).unwrap_or_default() {
                if let Licences::User { add, remove, .. } = ops[op].kind.licences() {
                    let takes = may_take_exchange(ix, intent, &ops[op].kind);
                    let gives = gives_exchange_op(ix, intent, &ops[op].kind);
                    if takes && gives_exchange {
                        out.hard.insert((gop, op));
                    } else if gives && !takes && group_change_strands(ix, intent, g, ui) {
                        out.hard.insert((op, gop));
                    } else if remove
                        .iter()
                        .any(|r| g.add.iter().any(|a| a.sku_id == r.sku_id))
                    {
                        out.soft.push((gop, op));
                    } else if add
                        .iter()
                        .any(|a| g.remove.iter().any(|r| r.sku_id == a.sku_id))
                    {
                        out.soft.push((op, gop));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "ordering_tests.rs"]
mod tests;
