//! From the diff to an ordered DAG: operations with stable ids, the edges of the domain rules,
//! seat edges (frees before grants when a SKU is short), a deterministic topological order,
//! and cycle reporting with `tarjan_scc`.

use super::effects::{
    gives_exchange_op, gives_plan2, group_change_strands, leave_strands, may_take_exchange,
    needs_plan2_as_shared,
};
use super::index::Index;
use super::intent::Intent;
use super::ops::{
    AssignGroupLicenses, AssignLicenses, ConvertMailbox, Licences, OpKind, Operation, Role,
    SetSignIn, SetUsageLocation, SignIn,
};
use super::seats::reaches;
use crate::catalog::ExchangeRank;
use crate::tenant::MailboxType;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeSet, HashMap, HashSet};

/// An operation before ids and edges are final.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: String,
    pub kind: OpKind,
    pub reasons: Vec<String>,
    pub user: Option<usize>,
    role: Role,
}

impl Draft {
    /// Whether the operation can take something away (a licence, a membership).
    pub fn may_free(&self) -> bool {
        self.role.may_free()
    }

    /// Whether the operation's licence call both grants and removes (one call per user).
    pub fn grants_and_frees(&self) -> bool {
        self.role == Role::GainLoss
    }
}

/// Operations plus edges (`from` must run before `to`, as indexes into `ops`).
pub(crate) struct Drafts {
    pub ops: Vec<Draft>,
    pub edges: BTreeSet<(usize, usize)>,
}

/// Allocates `<kind>:<target>` ids, with `#2`, `#3`... when a target has several of a kind.
#[derive(Default)]
struct Ids(HashMap<String, usize>);

impl Ids {
    fn next(&mut self, kind: &OpKind) -> String {
        let base = format!("{}:{}", kind.name(), kind.target());
        let n = self.0.entry(base.clone()).or_default();
        *n += 1;
        if *n == 1 { base } else { format!("{base}#{n}") }
    }
}

/// Builds the operations and the domain-rule edges. Users in `seat_first` whose licence
/// call both grants and frees get two calls, removal first, so seats can flow between users.
pub(crate) fn materialise(ix: &Index<'_>, intent: &Intent, seat_first: &HashSet<usize>) -> Drafts {
    let live = ix.live;
    let mut ids = Ids::default();
    let mut ops: Vec<Draft> = Vec::new();
    let mut push =
        |ops: &mut Vec<Draft>, kind: OpKind, user: Option<usize>, reasons: Vec<String>| {
            let id = ids.next(&kind);
            let role = kind.kind().role();
            ops.push(Draft {
                id,
                kind,
                reasons,
                user,
                role,
            });
            ops.len() - 1
        };
    let mut group_op: HashMap<usize, usize> = HashMap::new();
    for g in &intent.groups {
        let group = &live.groups[g.gi];
        let i = push(
            &mut ops,
            OpKind::AssignGroupLicenses(AssignGroupLicenses {
                group_id: group.id.clone(),
                group: ix.group_label(g.gi),
                add: g.add.clone(),
                remove: g.remove.clone(),
            }),
            None,
            vec![],
        );
        group_op.insert(g.gi, i);
    }
    let mut by_user: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut member_ops: Vec<(usize, usize, bool)> = Vec::new(); // (group, op, joins)
    for (ui, change) in &intent.users {
        let user = &live.users[*ui];
        let (user_id, upn) = (user.id.clone(), user.user_principal_name.clone());
        let mut mine = Vec::new();
        if let Some((from, to)) = &change.location {
            mine.push(push(
                &mut ops,
                OpKind::SetUsageLocation(SetUsageLocation {
                    user_id: user_id.clone(),
                    upn: upn.clone(),
                    from: from.clone(),
                    to: to.clone(),
                }),
                Some(*ui),
                vec![],
            ));
        }
        let assign = |add, remove| {
            OpKind::AssignLicenses(AssignLicenses {
                user_id: user_id.clone(),
                upn: upn.clone(),
                add,
                remove,
            })
        };
        match (change.grants.is_empty(), change.removals.is_empty()) {
            (true, true) => {}
            (false, false) if change.continuity => {
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), vec![]),
                    Some(*ui),
                    change.reasons.clone(),
                ));
                mine.push(push(
                    &mut ops,
                    assign(vec![], change.removals.clone()),
                    Some(*ui),
                    change.reasons.clone(),
                ));
            }
            (false, false) if seat_first.contains(ui) => {
                let why = vec!["seats: the removal is its own call so the freed seat can go to another user first".to_string()];
                mine.push(push(
                    &mut ops,
                    assign(vec![], change.removals.clone()),
                    Some(*ui),
                    why.clone(),
                ));
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), vec![]),
                    Some(*ui),
                    why,
                ));
            }
            _ => {
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), change.removals.clone()),
                    Some(*ui),
                    change.reasons.clone(),
                ));
            }
        }
        for (list, joins) in [(&change.join, true), (&change.leave, false)] {
            for m in list {
                let (group_id, name) = (live.groups[m.gi].id.clone(), ix.group_label(m.gi));
                let kind =
                    OpKind::group_membership(joins, group_id, name, user_id.clone(), upn.clone());
                let i = push(
                    &mut ops,
                    kind,
                    Some(*ui),
                    m.reason.iter().cloned().collect(),
                );
                member_ops.push((m.gi, i, joins));
                mine.push(i);
            }
        }
        if let Some((from, to)) = change.convert {
            let why = match to {
                MailboxType::Shared => {
                    "converted before the last Exchange licence goes, so no mail is lost"
                }
                _ => "converted after an Exchange licence is in place",
            };
            // Size matters to a reviewer: shared mailboxes over 50 GB need a licence.
            let why = match live.users[*ui]
                .mailbox
                .as_ref()
                .and_then(|mb| mb.size_bytes)
            {
                Some(size) if size > 0 => {
                    format!("{why} ({} mailbox)", crate::tenant::human_size(size))
                }
                _ => why.to_string(),
            };
            mine.push(push(
                &mut ops,
                OpKind::ConvertMailbox(ConvertMailbox {
                    user_id: user_id.clone(),
                    upn: upn.clone(),
                    from,
                    to,
                }),
                Some(*ui),
                vec![why],
            ));
        }
        if let Some((from, to)) = change.sign_in {
            mine.push(push(
                &mut ops,
                OpKind::SetSignIn(SetSignIn {
                    user_id: user_id.clone(),
                    upn: upn.clone(),
                    from,
                    to,
                }),
                Some(*ui),
                vec![],
            ));
        }
        by_user.push((*ui, mine));
    }

    let mut edges = BTreeSet::new();
    for (ui, mine) in &by_user {
        let roles: Vec<(usize, Role)> = mine.iter().map(|&i| (i, ops[i].role)).collect();
        let gains = || roles.iter().filter(|(_, r)| r.gives()).map(|(i, _)| *i);
        let losses = || roles.iter().filter(|(_, r)| r.takes()).map(|(i, _)| *i);
        for &(i, role) in &roles {
            match role {
                Role::Location => gains().for_each(|g| {
                    edges.insert((i, g));
                }),
                Role::Convert(MailboxType::Shared) => {
                    mine.iter()
                        .copied()
                        .filter(|&l| l != i && may_take_exchange(ix, intent, &ops[l].kind))
                        .for_each(|l| {
                            edges.insert((i, l));
                        });
                    // A shared mailbox over the limits needs Plan 2 from the moment it is
                    // shared: what the user gains lands first.
                    if needs_plan2_as_shared(ix, *ui) {
                        gains()
                            .filter(|&g| !may_take_exchange(ix, intent, &ops[g].kind))
                            .filter(|&g| gives_plan2(ix, intent, &ops[g].kind))
                            .for_each(|g| {
                                edges.insert((g, i));
                            });
                    }
                }
                Role::Convert(_) => {
                    // A user mailbox needs its Exchange licence first; a shared mailbox over
                    // the limits keeps Plan 2 until it is a user mailbox.
                    let needs_plan2 = needs_plan2_as_shared(ix, *ui);
                    for &o in mine.iter().filter(|&&o| o != i) {
                        let takes = may_take_exchange(ix, intent, &ops[o].kind);
                        if !takes && gives_exchange_op(ix, intent, &ops[o].kind) {
                            edges.insert((o, i));
                        } else if takes && needs_plan2 {
                            edges.insert((i, o));
                        }
                    }
                }
                // "Convert a shared mailbox back to a user mailbox": the account signs in
                // again, so sign-in is allowed before the mailbox becomes a user's.
                Role::SignIn(SignIn::Allowed) => mine
                    .iter()
                    .filter(|&&c| ops[c].role == Role::Convert(MailboxType::User))
                    .for_each(|&c| {
                        edges.insert((i, c));
                    }),
                // Ordered by the gain/loss rules below and the group rules.
                Role::Gain
                | Role::Loss
                | Role::GainLoss
                | Role::Group
                | Role::SignIn(SignIn::Blocked) => {}
            }
        }
        let first_removal = seat_first.contains(ui) && !intent_continuity(intent, *ui);
        for g in gains() {
            for l in losses() {
                if g == l {
                    continue;
                }
                let direct_pair = matches!(ops[g].kind.licences(), Licences::User { .. })
                    && matches!(ops[l].kind.licences(), Licences::User { .. });
                if first_removal && direct_pair {
                    edges.insert((l, g));
                } else {
                    edges.insert((g, l));
                }
            }
        }
        // Exchange continuity within a user: whatever may take Exchange (a removal, a
        // re-assignment that disables the plan, leaving a group) waits for whatever gives it.
        for &g in mine {
            if !gives_exchange_op(ix, intent, &ops[g].kind)
                || may_take_exchange(ix, intent, &ops[g].kind)
            {
                continue;
            }
            for &l in mine {
                if l != g && may_take_exchange(ix, intent, &ops[l].kind) {
                    edges.insert((g, l));
                }
            }
        }
    }
    // Group licences: leavers go before the group's licences change, joiners after; a
    // member's usage location comes before the group grants them a licence; a direct copy
    // of a licence the group starts giving is removed after the group gives it.
    let location_op: HashMap<usize, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.role == Role::Location)
        .filter_map(|(i, o)| o.user.map(|u| (u, i)))
        .collect();
    // Preferences, not safety: leavers leave before the group's licences change and joiners
    // join after (no seat spent on a licence about to go). Added last, and only where they
    // close no cycle with the safety edges.
    let mut soft: Vec<(usize, usize)> = Vec::new();
    for &(gi, op, joins) in &member_ops {
        if let Some(&g) = group_op.get(&gi) {
            let change = intent.groups.iter().find(|c| c.gi == gi);
            let leaver_hit = !joins
                && ops[op]
                    .user
                    .zip(change)
                    .is_some_and(|(ui, c)| group_change_strands(ix, intent, c, ui));
            if leaver_hit {
                // The change would leave the leaver's mailbox worse off: out first.
                edges.insert((op, g));
            } else {
                soft.push(if joins { (g, op) } else { (op, g) });
            }
        }
    }
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
        let gop = group_op[&g.gi];
        let mut members: BTreeSet<usize> = live.groups[g.gi]
            .members
            .iter()
            .filter_map(|m| ix.user_by_id(m))
            .collect();
        members.extend(
            member_ops
                .iter()
                .filter(|(gi, _, j)| *gi == g.gi && *j)
                .map(|(_, op, _)| ops[*op].user.unwrap_or(usize::MAX)),
        );
        let gives_exchange = g
            .add
            .iter()
            .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans).has_mailbox());
        for ui in members {
            let leaves_this = member_ops
                .iter()
                .any(|&(gi, op, joins)| gi == g.gi && !joins && ops[op].user == Some(ui));
            // A mailbox becomes shared before the group's licences change under it, and
            // becomes a user mailbox only after the group granted its licence. Joiners and
            // leavers are not members when the group changes: their own membership
            // operation orders them.
            let stays = !leaves_this && live_member(g.gi, ui);
            let gives_plan2 = g
                .add
                .iter()
                .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans) == ExchangeRank::Plan2);
            match convert_op.get(&ui).filter(|_| stays) {
                Some(&(c, MailboxType::Shared)) if gives_plan2 && needs_plan2_as_shared(ix, ui) => {
                    edges.insert((gop, c));
                }
                Some(&(c, MailboxType::Shared)) => {
                    edges.insert((c, gop));
                }
                // A shared mailbox the change would leave short (Plan 2 taken) becomes a user
                // mailbox first.
                Some(&(c, _)) if group_change_strands(ix, intent, g, ui) => {
                    edges.insert((c, gop));
                }
                Some(&(c, _)) if !g.add.is_empty() => {
                    edges.insert((gop, c));
                }
                _ => {}
            }
            if !g.add.is_empty()
                && let Some(&loc) = location_op.get(&ui)
            {
                edges.insert((loc, gop));
            }
            // Exchange continuity through groups: a member who keeps (or gets) Exchange from
            // this group's new licence loses other groups' licences only after it arrives
            // (a member leaving this group gets nothing from it: no edge, no cycle).
            // A joiner gets this group's new Exchange licence only once both happened: what
            // they lose waits for the group too.
            let joins_this = member_ops
                .iter()
                .any(|&(gi, op, joins)| gi == g.gi && joins && ops[op].user == Some(ui));
            if gives_exchange && joins_this {
                for &(l, role) in by_user
                    .iter()
                    .filter(|(u, _)| *u == ui)
                    .flat_map(|(_, mine)| mine.iter().map(|&i| (i, ops[i].role)))
                    .collect::<Vec<_>>()
                    .iter()
                {
                    if role.takes() {
                        edges.insert((gop, l));
                    }
                }
            }
            if gives_exchange && !leaves_this {
                for &(other, leave, joins) in &member_ops {
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
                        edges.insert((gop, leave));
                    }
                }
            }
        }
    }
    // The mirror image: a group that stops giving Exchange changes only after its staying
    // members got Exchange elsewhere (another group's new licence, or joining a group).
    let member_after = |gi: usize, ui: usize| {
        let joins = member_ops
            .iter()
            .any(|&(g, op, j)| g == gi && j && ops[op].user == Some(ui));
        let leaves = member_ops
            .iter()
            .any(|&(g, op, j)| g == gi && !j && ops[op].user == Some(ui));
        let now = live.groups[gi]
            .members
            .iter()
            .any(|m| ix.user_by_id(m) == Some(ui));
        (now || joins) && !leaves
    };
    let exchange = |sku_id: &str, disabled: &[String]| ix.sku_rank(sku_id, disabled).has_mailbox();
    for g in &intent.groups {
        let gop = group_op[&g.gi];
        let staying: Vec<usize> = live.groups[g.gi]
            .members
            .iter()
            .filter_map(|m| ix.user_by_id(m))
            .filter(|&ui| member_after(g.gi, ui) && group_change_strands(ix, intent, g, ui))
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
            if staying.iter().any(|&ui| member_after(other.gi, ui)) {
                edges.insert((group_op[&other.gi], gop));
            }
        }
        for &(_, join, joins) in &member_ops {
            let Some(ui) = ops[join].user else { continue };
            if joins && staying.contains(&ui) {
                edges.insert((join, gop));
            }
        }
    }
    let mut user_ops: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let (Some(u), Licences::User { .. }) = (o.user, o.kind.licences()) {
            user_ops.entry(u).or_default().push(i);
        }
    }
    for g in &intent.groups {
        let gop = group_op[&g.gi];
        let gives_exchange = g
            .add
            .iter()
            .any(|a| ix.sku_rank(&a.sku_id, &a.disabled_plans).has_mailbox());
        for m in &live.groups[g.gi].members {
            let Some(ui) = ix.user_by_id(m) else { continue };
            // A member who leaves the group is out before it changes: the group's licences
            // never reach them, so their own licence calls need not wait for it.
            if !member_after(g.gi, ui) {
                continue;
            }
            for &op in user_ops.get(&ui).map(Vec::as_slice).unwrap_or_default() {
                if let Licences::User { add, remove, .. } = ops[op].kind.licences() {
                    // Hard when the member's mailbox rides on it: what takes Exchange waits
                    // for the group's new Exchange licence; what gives Exchange comes before
                    // a group change that would leave the mailbox worse off. Otherwise a
                    // preference (the same licence stays continuous) that yields to safety.
                    let takes = may_take_exchange(ix, intent, &ops[op].kind);
                    let gives = gives_exchange_op(ix, intent, &ops[op].kind);
                    if takes && gives_exchange {
                        edges.insert((gop, op));
                    } else if gives && !takes && group_change_strands(ix, intent, g, ui) {
                        edges.insert((op, gop));
                    } else if remove
                        .iter()
                        .any(|r| g.add.iter().any(|a| a.sku_id == r.sku_id))
                    {
                        soft.push((gop, op));
                    } else if add
                        .iter()
                        .any(|a| g.remove.iter().any(|r| r.sku_id == a.sku_id))
                    {
                        soft.push((op, gop));
                    }
                }
            }
        }
    }
    soft.sort_unstable();
    let mut next: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(a, b) in &edges {
        next.entry(a).or_default().push(b);
    }
    for (a, b) in soft {
        if !reaches(&next, b, a) && edges.insert((a, b)) {
            next.entry(a).or_default().push(b);
        }
    }
    Drafts { ops, edges }
}

fn intent_continuity(intent: &Intent, ui: usize) -> bool {
    intent.users.iter().any(|(u, c)| *u == ui && c.continuity)
}

/// A deterministic topological order (Kahn, ready set ordered by op id), or the strongly
/// connected components that form cycles.
pub(crate) fn order(
    ops: &[Draft],
    edges: &BTreeSet<(usize, usize)>,
) -> Result<Vec<usize>, Vec<Vec<usize>>> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(ops.len(), edges.len());
    let nodes: Vec<NodeIndex> = (0..ops.len()).map(|i| graph.add_node(i)).collect();
    for &(a, b) in edges {
        graph.add_edge(nodes[a], nodes[b], ());
    }
    let mut indegree = vec![0usize; ops.len()];
    for &(_, b) in edges {
        indegree[b] += 1;
    }
    let mut ready: BTreeSet<(&str, usize)> = (0..ops.len())
        .filter(|&i| indegree[i] == 0)
        .map(|i| (ops[i].id.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(ops.len());
    while let Some(first) = ready.pop_first() {
        let i = first.1;
        out.push(i);
        for next in graph.neighbors_directed(nodes[i], petgraph::Direction::Outgoing) {
            let n = graph[next];
            indegree[n] -= 1;
            if indegree[n] == 0 {
                ready.insert((ops[n].id.as_str(), n));
            }
        }
    }
    if out.len() == ops.len() {
        return Ok(out);
    }
    let cycles = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let mut v: Vec<usize> = scc.into_iter().map(|n| graph[n]).collect();
            v.sort_by(|a, b| ops[*a].id.cmp(&ops[*b].id));
            v
        })
        .collect();
    Err(cycles)
}

/// Turns drafts into the public operations in `order`, with `depends_on` sorted by id.
pub(crate) fn finish(drafts: Drafts, order: &[usize]) -> Vec<Operation> {
    let mut deps: Vec<Vec<String>> = vec![Vec::new(); drafts.ops.len()];
    for &(a, b) in &drafts.edges {
        deps[b].push(drafts.ops[a].id.clone());
    }
    let mut ops: Vec<Option<Draft>> = drafts.ops.into_iter().map(Some).collect();
    order
        .iter()
        .map(|&i| {
            let d = ops[i].take().expect("each op is emitted once");
            let mut depends_on = std::mem::take(&mut deps[i]);
            depends_on.sort();
            Operation {
                id: d.id,
                kind: d.kind,
                depends_on,
                reasons: d.reasons,
            }
        })
        .collect()
}
