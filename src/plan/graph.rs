//! From the diff to an ordered DAG: operations with stable ids, the edges of the domain rules,
//! seat edges (frees before grants when a SKU is short), a deterministic topological order,
//! and cycle reporting with `tarjan_scc`.

use super::index::Index;
use super::intent::Intent;
use super::ops::{OpKind, Operation};
use super::sim::{SeatDelta, Sim};
use crate::tenant::MailboxType;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What an operation does to its user, for the intra-user ordering rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Location,
    Gain,
    Loss,
    GainLoss,
    Convert(MailboxType),
    Group,
}

/// An operation before ids and edges are final.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: String,
    pub kind: OpKind,
    pub reasons: Vec<String>,
    user: Option<usize>,
    role: Role,
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
    let mut push = |ops: &mut Vec<Draft>,
                    kind: OpKind,
                    user: Option<usize>,
                    role: Role,
                    reasons: Vec<String>| {
        let id = ids.next(&kind);
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
            OpKind::AssignGroupLicenses {
                group_id: group.id.clone(),
                group: group.display_name.clone(),
                add: g.add.clone(),
                remove: g.remove.clone(),
            },
            None,
            Role::Group,
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
                OpKind::SetUsageLocation {
                    user_id: user_id.clone(),
                    upn: upn.clone(),
                    from: from.clone(),
                    to: to.clone(),
                },
                Some(*ui),
                Role::Location,
                vec![],
            ));
        }
        let assign = |add, remove| OpKind::AssignLicenses {
            user_id: user_id.clone(),
            upn: upn.clone(),
            add,
            remove,
        };
        match (change.grants.is_empty(), change.removals.is_empty()) {
            (true, true) => {}
            (false, false) if change.continuity => {
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), vec![]),
                    Some(*ui),
                    Role::Gain,
                    change.reasons.clone(),
                ));
                mine.push(push(
                    &mut ops,
                    assign(vec![], change.removals.clone()),
                    Some(*ui),
                    Role::Loss,
                    change.reasons.clone(),
                ));
            }
            (false, false) if seat_first.contains(ui) => {
                let why = vec!["seats: the removal is its own call so the freed seat can go to another user first".to_string()];
                mine.push(push(
                    &mut ops,
                    assign(vec![], change.removals.clone()),
                    Some(*ui),
                    Role::Loss,
                    why.clone(),
                ));
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), vec![]),
                    Some(*ui),
                    Role::Gain,
                    why,
                ));
            }
            (grants_empty, removals_empty) => {
                let role = match (grants_empty, removals_empty) {
                    (false, true) => Role::Gain,
                    (true, false) => Role::Loss,
                    _ => Role::GainLoss,
                };
                mine.push(push(
                    &mut ops,
                    assign(change.grants.clone(), change.removals.clone()),
                    Some(*ui),
                    role,
                    change.reasons.clone(),
                ));
            }
        }
        for (list, joins) in [(&change.join, true), (&change.leave, false)] {
            for m in list {
                let group = &live.groups[m.gi];
                let (group_id, name) = (group.id.clone(), group.display_name.clone());
                let kind =
                    OpKind::group_membership(joins, group_id, name, user_id.clone(), upn.clone());
                let role = if joins { Role::Gain } else { Role::Loss };
                let i = push(
                    &mut ops,
                    kind,
                    Some(*ui),
                    role,
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
            let why = match &live.users[*ui].mailbox {
                Some(mb) if mb.size_bytes > 0 => {
                    format!(
                        "{why} ({} mailbox)",
                        crate::tenant::human_size(mb.size_bytes)
                    )
                }
                _ => why.to_string(),
            };
            mine.push(push(
                &mut ops,
                OpKind::ConvertMailbox {
                    user_id: user_id.clone(),
                    upn: upn.clone(),
                    from,
                    to,
                },
                Some(*ui),
                Role::Convert(to),
                vec![why],
            ));
        }
        by_user.push((*ui, mine));
    }

    let mut edges = BTreeSet::new();
    for (ui, mine) in &by_user {
        let roles: Vec<(usize, Role)> = mine.iter().map(|&i| (i, ops[i].role)).collect();
        let gains = || {
            roles
                .iter()
                .filter(|(_, r)| matches!(r, Role::Gain | Role::GainLoss))
                .map(|(i, _)| *i)
        };
        let losses = || {
            roles
                .iter()
                .filter(|(_, r)| matches!(r, Role::Loss | Role::GainLoss))
                .map(|(i, _)| *i)
        };
        for &(i, role) in &roles {
            match role {
                Role::Location => gains().for_each(|g| {
                    edges.insert((i, g));
                }),
                Role::Convert(MailboxType::Shared) => losses().for_each(|l| {
                    edges.insert((i, l));
                }),
                Role::Convert(_) => gains().for_each(|g| {
                    edges.insert((g, i));
                }),
                _ => {}
            }
        }
        let first_removal = seat_first.contains(ui) && !intent_continuity(intent, *ui);
        for g in gains() {
            for l in losses() {
                if g == l {
                    continue;
                }
                let direct_pair = matches!(ops[g].kind, OpKind::AssignLicenses { .. })
                    && matches!(ops[l].kind, OpKind::AssignLicenses { .. });
                if first_removal && direct_pair {
                    edges.insert((l, g));
                } else {
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
    for &(gi, op, joins) in &member_ops {
        if let Some(&g) = group_op.get(&gi) {
            edges.insert(if joins { (g, op) } else { (op, g) });
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
            // A mailbox becomes shared before the group's licences change under it, and
            // becomes a user mailbox only after the group granted its licence.
            match convert_op.get(&ui) {
                Some(&(c, MailboxType::Shared)) => {
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
            // this group's new licence loses other groups' licences only after it arrives.
            if gives_exchange {
                for &(other, leave, joins) in &member_ops {
                    if !joins && other != g.gi && ops[leave].user == Some(ui) {
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
        let stops_exchange = g.remove.iter().any(|r| exchange(&r.sku_id, &[]));
        if !stops_exchange {
            continue;
        }
        let gop = group_op[&g.gi];
        for other in intent.groups.iter().filter(|o| o.gi != g.gi) {
            if !other
                .add
                .iter()
                .any(|a| exchange(&a.sku_id, &a.disabled_plans))
            {
                continue;
            }
            let shared = live.groups[g.gi]
                .members
                .iter()
                .filter_map(|m| ix.user_by_id(m))
                .any(|ui| member_after(g.gi, ui) && member_after(other.gi, ui));
            if shared {
                edges.insert((group_op[&other.gi], gop));
            }
        }
        for &(_, join, joins) in &member_ops {
            let Some(ui) = ops[join].user else { continue };
            let staying = live.groups[g.gi]
                .members
                .iter()
                .any(|m| ix.user_by_id(m) == Some(ui))
                && member_after(g.gi, ui);
            if joins && staying {
                edges.insert((join, gop));
            }
        }
    }
    let mut user_ops: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let (Some(u), OpKind::AssignLicenses { .. }) = (o.user, &o.kind) {
            user_ops.entry(u).or_default().push(i);
        }
    }
    for g in &intent.groups {
        let gop = group_op[&g.gi];
        for m in &live.groups[g.gi].members {
            let Some(ui) = ix.user_by_id(m) else { continue };
            for &op in user_ops.get(&ui).map(Vec::as_slice).unwrap_or_default() {
                if let OpKind::AssignLicenses { add, remove, .. } = &ops[op].kind {
                    if remove
                        .iter()
                        .any(|r| g.add.iter().any(|a| a.sku_id == r.sku_id))
                    {
                        edges.insert((gop, op));
                    }
                    if add
                        .iter()
                        .any(|a| g.remove.iter().any(|r| r.sku_id == a.sku_id))
                    {
                        edges.insert((op, gop));
                    }
                }
            }
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

/// Seat changes of each operation when run in `order`.
pub(crate) fn deltas(ix: &Index<'_>, ops: &[Draft], order: &[usize]) -> Vec<SeatDelta> {
    let mut sim = Sim::new(ix);
    let mut out = vec![SeatDelta::new(); ops.len()];
    for &i in order {
        out[i] = sim.apply(&ops[i].kind);
    }
    out
}

/// One SKU whose grants exceed what is free plus what the plan frees.
pub(crate) struct Shortfall {
    pub sku_id: String,
    pub need: i64,
    pub available_now: i64,
    pub freed: i64,
}

/// Adds seat edges: for each SKU whose grants exceed its free seats, grant unit `j` beyond the
/// free ones waits for a distinct freed unit. Returns SKUs that even this cannot fit.
pub(crate) fn seat_edges(
    ix: &Index<'_>,
    drafts: &mut Drafts,
    deltas: &[SeatDelta],
) -> Vec<Shortfall> {
    let mut grants: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut frees: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_id: Vec<usize> = (0..drafts.ops.len()).collect();
    by_id.sort_by(|a, b| drafts.ops[*a].id.cmp(&drafts.ops[*b].id));
    for &i in &by_id {
        for (sku, &d) in &deltas[i] {
            let list = if d > 0 {
                grants.entry(sku)
            } else {
                frees.entry(sku)
            }
            .or_default();
            list.extend(std::iter::repeat_n(i, d.unsigned_abs() as usize));
        }
    }
    let mut short = Vec::new();
    for (sku_id, units) in grants {
        let Some(sku) = ix.sku(sku_id) else { continue };
        let available = sku.available();
        let freed = frees.get(sku_id).map(Vec::as_slice).unwrap_or_default();
        let need = units.len() as i64;
        if need <= available {
            continue;
        }
        if need > available + freed.len() as i64 {
            short.push(Shortfall {
                sku_id: sku_id.to_string(),
                need,
                available_now: available,
                freed: freed.len() as i64,
            });
        }
        for (j, &g) in units.iter().enumerate() {
            let k = j as i64 - available;
            if k < 0 {
                continue;
            }
            let Some(&f) = freed.get(k as usize) else {
                break;
            };
            if f != g && drafts.edges.insert((f, g)) {
                let reason = format!(
                    "waits for the {} seat freed by {} ({} has {} free)",
                    sku.sku_part_number,
                    drafts.ops[f].id,
                    sku.sku_part_number,
                    available.max(0)
                );
                if !drafts.ops[g].reasons.contains(&reason) {
                    drafts.ops[g].reasons.push(reason);
                }
            }
        }
    }
    short
}

/// Users whose combined licence call frees a seat of a short SKU: splitting their call
/// (removal first) lets the freed seat go to others without a cycle.
pub(crate) fn users_to_split(
    ix: &Index<'_>,
    drafts: &Drafts,
    deltas: &[SeatDelta],
) -> HashSet<usize> {
    let mut need: HashMap<&str, i64> = HashMap::new();
    for d in deltas {
        for (sku, &n) in d {
            if n > 0 {
                *need.entry(sku).or_default() += n;
            }
        }
    }
    let short: HashSet<&str> = need
        .into_iter()
        .filter(|(sku, n)| ix.sku(sku).is_some_and(|s| *n > s.available()))
        .map(|(s, _)| s)
        .collect();
    drafts
        .ops
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            o.role == Role::GainLoss
                && deltas[*i]
                    .iter()
                    .any(|(s, &n)| n < 0 && short.contains(s.as_str()))
        })
        .filter_map(|(_, o)| o.user)
        .collect()
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
