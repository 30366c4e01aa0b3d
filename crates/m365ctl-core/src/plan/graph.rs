//! From the diff to an ordered DAG: operations with stable ids, the edges of the domain rules
//! (`plan::ordering`), seat edges (frees before grants when a SKU is short), a deterministic
//! topological order, and cycle reporting with `tarjan_scc`.

use super::index::Index;
use super::intent::Intent;
use super::ops::{
    AssignGroupLicenses, AssignLicenses, ConvertMailbox, OpKind, Operation, Role, SetUsageLocation,
};
use super::ordering;
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
    /// What it does to its user, for the ordering rules.
    pub role: Role,
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

/// Builds the operations and the domain-rule edges (`plan::ordering`).
pub(crate) fn materialise(ix: &Index<'_>, intent: &Intent, seat_first: &HashSet<usize>) -> Drafts {
    let layout = operations(ix, intent, seat_first);
    let edges = ordering::edges(&layout.context(ix, intent, seat_first));
    Drafts {
        ops: layout.ops,
        edges,
    }
}

/// The operations of a diff and how they relate to users and groups: what the ordering
/// rules read.
pub(crate) struct Layout {
    /// The operations, by index.
    pub ops: Vec<Draft>,
    /// Each user's operations.
    pub by_user: Vec<(usize, Vec<usize>)>,
    /// `(group, operation, joins)` of membership operations.
    pub member_ops: Vec<(usize, usize, bool)>,
    /// The licence operation of each changed group.
    pub group_op: HashMap<usize, usize>,
}

impl Layout {
    /// The ordering rules' view of it.
    pub fn context<'c, 'a>(
        &'c self,
        ix: &'c Index<'a>,
        intent: &'c Intent,
        seat_first: &'c HashSet<usize>,
    ) -> ordering::Context<'c, 'a> {
        ordering::Context {
            ix,
            intent,
            ops: &self.ops,
            by_user: &self.by_user,
            member_ops: &self.member_ops,
            group_op: &self.group_op,
            seat_first,
        }
    }
}

/// The operations of a diff, with stable ids. Users in `seat_first` whose licence call both
/// grants and frees get two calls, removal first, so seats can flow between users.
pub(crate) fn operations(ix: &Index<'_>, intent: &Intent, seat_first: &HashSet<usize>) -> Layout {
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
        for attribute in &change.attributes {
            mine.push(push(&mut ops, attribute.clone(), Some(*ui), vec![]));
        }
        by_user.push((*ui, mine));
    }
    Layout {
        ops,
        by_user,
        member_ops,
        group_op,
    }
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
