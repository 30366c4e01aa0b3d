//! Seats in every order: which operations may take a seat and which surely free one, and the
//! edges that make every grant beyond the free seats wait for a distinct freed seat.
//!
//! An operation's seat change can depend on the order (a member joining before or after their
//! group gains a licence), and the executor may run any order the edges allow. So seat changes
//! are bounded over several orders of the DAG: the most an operation can take, the least it
//! surely frees. A grant that no freed seat can precede without a cycle is a deadlock, reported
//! as a domain error naming the SKU, the numbers and the principals (never a cycle).

use super::graph::Draft;
use super::index::Index;
use super::ops::{Licences, OpKind};
use super::sim::{SeatDelta, Sim};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Per operation: seats it may take and seats it surely frees, per SKU id (positive numbers).
pub(crate) struct SeatBounds {
    takes: Vec<BTreeMap<String, i64>>,
    frees: Vec<BTreeMap<String, i64>>,
}

/// Random orders sampled besides the printed and the two adversarial ones (fixed seeds: the
/// plan stays deterministic).
const SAMPLED_ORDERS: u64 = 4;

/// Seat changes of each operation when run in `order`.
pub(crate) fn deltas(ix: &Index<'_>, ops: &[Draft], order: &[usize]) -> Vec<SeatDelta> {
    let mut sim = Sim::new(ix);
    let mut out = vec![SeatDelta::new(); ops.len()];
    for &i in order {
        out[i] = sim.apply(&ops[i].kind);
    }
    out
}

/// Bounds the seat changes over the printed order, removals-first, grants-first and a few
/// seeded random orders of the DAG. `printed` must be a topological order of `edges`.
pub(crate) fn bounds(
    ix: &Index<'_>,
    ops: &[Draft],
    edges: &BTreeSet<(usize, usize)>,
    printed: &[usize],
) -> SeatBounds {
    let mut orders = vec![
        printed.to_vec(),
        sample(ops, edges, Pick::FreesFirst),
        sample(ops, edges, Pick::FreesLast),
    ];
    orders.extend((1..=SAMPLED_ORDERS).map(|seed| sample(ops, edges, Pick::Random(seed))));
    let mut takes = vec![BTreeMap::new(); ops.len()];
    let mut frees: Vec<Option<BTreeMap<String, i64>>> = vec![None; ops.len()];
    for order in &orders {
        for (i, delta) in deltas(ix, ops, order).into_iter().enumerate() {
            for (sku, &d) in &delta {
                if d > 0 {
                    let t: &mut i64 = takes[i].entry(sku.clone()).or_default();
                    *t = (*t).max(d);
                }
            }
            let freed: BTreeMap<String, i64> = delta
                .into_iter()
                .filter(|(_, d)| *d < 0)
                .map(|(s, d)| (s, -d))
                .collect();
            frees[i] = Some(match frees[i].take() {
                None => freed,
                Some(known) => known
                    .into_iter()
                    .filter_map(|(s, n)| freed.get(&s).map(|m| (s, n.min(*m))))
                    .collect(),
            });
        }
    }
    SeatBounds {
        takes,
        frees: frees.into_iter().map(Option::unwrap_or_default).collect(),
    }
}

#[derive(Clone, Copy)]
enum Pick {
    FreesFirst,
    FreesLast,
    Random(u64),
}

/// One topological order of `edges`, choosing among ready operations by `pick`. The two
/// adversarial picks take the least (may-free flag, index) among the ready operations from a
/// heap: a scan of the ready set per step was quadratic (30,000 independent operations at
/// 1,000,000 users).
fn sample(ops: &[Draft], edges: &BTreeSet<(usize, usize)>, pick: Pick) -> Vec<usize> {
    let mut waiting = vec![0usize; ops.len()];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for &(a, b) in edges {
        waiting[b] += 1;
        next[a].push(b);
    }
    let roots: Vec<usize> = (0..ops.len()).filter(|&i| waiting[i] == 0).collect();
    let mut out = Vec::with_capacity(ops.len());
    let mut release = |i: usize, out: &mut Vec<usize>, ready: &mut dyn FnMut(usize)| {
        out.push(i);
        for &n in &next[i] {
            waiting[n] -= 1;
            if waiting[n] == 0 {
                ready(n);
            }
        }
    };
    match pick {
        Pick::FreesFirst | Pick::FreesLast => {
            use std::cmp::Reverse;
            let frees_first = matches!(pick, Pick::FreesFirst);
            let key = |i: usize| Reverse((ops[i].may_free() != frees_first, i));
            let mut ready: std::collections::BinaryHeap<_> = roots.into_iter().map(key).collect();
            while let Some(Reverse((_, i))) = ready.pop() {
                release(i, &mut out, &mut |n| ready.push(key(n)));
            }
        }
        Pick::Random(seed) => {
            let mut ready = roots;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            while !ready.is_empty() {
                let i = ready.swap_remove(rng.random_range(0..ready.len()));
                let mut later = Vec::new();
                release(i, &mut out, &mut |n| later.push(n));
                ready.extend(later);
            }
        }
    }
    out
}

/// A seat the plan frees: one user's SKU, free once every operation that removes a path to
/// it has run (a direct removal, leaving a group that gives it, the group dropping it). The
/// executor may run those in any order, so a grant waiting for the seat waits for all of them.
pub(crate) struct Release {
    sku_id: String,
    ops: Vec<usize>,
}

/// The seats the plan frees: users holding a SKU now and not after the plan (replayed in
/// `printed` order), each with the operations that remove a path to it.
pub(crate) fn releases(ix: &Index<'_>, ops: &[Draft], printed: &[usize]) -> Vec<Release> {
    let mut sim = Sim::new(ix);
    for &i in printed {
        sim.apply(&ops[i].kind);
    }
    let live = ix.live;
    let mut out = Vec::new();
    let mut users: Vec<usize> = ops.iter().filter_map(|o| o.user).collect();
    for o in ops {
        if let Licences::Group { group_id, .. } = o.kind.licences()
            && let Some(gi) = ix.group_by_id(group_id)
        {
            users.extend(
                live.groups[gi]
                    .members
                    .iter()
                    .filter_map(|m| ix.user_by_id(m)),
            );
        }
    }
    users.sort_unstable();
    users.dedup();
    // Each user's operations, and the group operations: indexed once, so a large plan's
    // releases stay linear in its operations.
    let mut by_user: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut group_ops: Vec<usize> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        match o.kind.user_id() {
            Some(id) => by_user.entry(id).or_default().push(i),
            None => group_ops.push(i),
        }
    }
    for ui in users {
        let user = &live.users[ui];
        for sku_id in user.effective_skus() {
            if sim.holds(ui, sku_id) {
                continue;
            }
            let removes_path = |kind: &OpKind| match kind.licences() {
                Licences::User {
                    user_id, remove, ..
                } => user_id == user.id && remove.iter().any(|r| r.sku_id == sku_id),
                Licences::Membership {
                    user_id,
                    group_id,
                    joins: false,
                } => {
                    user_id == user.id
                        && live
                            .group(group_id)
                            .is_some_and(|g| g.licenses.iter().any(|l| l.sku_id == sku_id))
                }
                Licences::Group {
                    group_id, remove, ..
                } => {
                    remove.iter().any(|r| r.sku_id == sku_id)
                        && ix.memberships[ui]
                            .iter()
                            .any(|&gi| live.groups[gi].id == group_id)
                }
                Licences::Membership { joins: true, .. } | Licences::Untouched => false,
            };
            let mut set: Vec<usize> = by_user
                .get(user.id.as_str())
                .into_iter()
                .flatten()
                .chain(&group_ops)
                .copied()
                .filter(|&i| removes_path(&ops[i].kind))
                .collect();
            set.sort_unstable();
            if !set.is_empty() {
                out.push(Release {
                    sku_id: sku_id.to_string(),
                    ops: set,
                });
            }
        }
    }
    out
}

/// One SKU whose grants exceed what is free plus what the plan surely frees.
pub(crate) struct Shortfall {
    pub sku_id: String,
    pub need: i64,
    pub available_now: i64,
    pub freed: i64,
}

/// Grants that no freed seat can precede: every free of their SKU waits for them (Exchange
/// continuity, group order). No order of the plan fits the seats.
pub(crate) struct Deadlock {
    pub sku_id: String,
    pub available_now: i64,
    /// Operations that need a seat and cannot get one.
    pub grants: Vec<usize>,
    /// Operations whose freed seats come only after those grants.
    pub frees: Vec<usize>,
}

/// Adds seat edges: for each SKU whose possible grants exceed its free seats, grant unit `j`
/// beyond the free ones waits for every operation of a distinct released seat, none of which
/// itself waits for the grant. Returns SKUs that even all released seats cannot cover, and
/// grants that no release can precede.
pub(crate) fn seat_edges(
    ix: &Index<'_>,
    ops: &mut [Draft],
    edges: &mut BTreeSet<(usize, usize)>,
    bounds: &SeatBounds,
    releases: &[Release],
) -> (Vec<Shortfall>, Vec<Deadlock>) {
    let mut by_id: Vec<usize> = (0..ops.len()).collect();
    by_id.sort_by(|a, b| ops[*a].id.cmp(&ops[*b].id));
    let mut grants: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &by_id {
        for (sku, &n) in &bounds.takes[i] {
            grants
                .entry(sku)
                .or_default()
                .extend(std::iter::repeat_n(i, n as usize));
        }
    }
    let mut freed: BTreeMap<&str, Vec<&[usize]>> = BTreeMap::new();
    for r in releases {
        freed.entry(r.sku_id.as_str()).or_default().push(&r.ops);
    }
    let mut next: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(a, b) in edges.iter() {
        next.entry(a).or_default().push(b);
    }
    let paths = grant_paths(ix, ops);
    let mut granters: HashMap<&(usize, String), Vec<usize>> = HashMap::new();
    for (i, seats) in paths.iter().enumerate() {
        for seat in seats {
            granters.entry(seat).or_default().push(i);
        }
    }
    let mut short = Vec::new();
    let mut deadlocks = Vec::new();
    for (sku_id, units) in grants {
        let Some(sku) = ix.sku(sku_id) else { continue };
        let available = sku.available();
        let freed = freed.get(sku_id).map(Vec::as_slice).unwrap_or_default();
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
            continue;
        }
        // The free seats go to the first grants; each later grant waits for the first
        // released seat whose operations do not themselves wait for it.
        let mut used = vec![false; freed.len()];
        let mut stuck = Vec::new();
        for &g in units.iter().skip(available.max(0) as usize) {
            let found = (0..freed.len())
                .find(|&k| !used[k] && freed[k].iter().all(|&f| f != g && !reaches(&next, g, f)));
            let Some(k) = found else {
                stuck.push(g);
                continue;
            };
            used[k] = true;
            // Whoever runs first of the operations granting the same user this SKU takes the
            // seat, so each rival waits for the freed seat too; one that the release waits
            // for always runs before `g`, and the sampled bound counts its take.
            let first: Vec<usize> = rivals(&paths, &granters, g, sku_id)
                .into_iter()
                .filter(|&h| freed[k].iter().all(|&f| f != h && !reaches(&next, h, f)))
                .collect();
            for h in std::iter::once(g).chain(first) {
                for &f in freed[k] {
                    if edges.insert((f, h)) {
                        next.entry(f).or_default().push(h);
                    }
                }
            }
            let names: Vec<&str> = freed[k].iter().map(|&f| ops[f].id.as_str()).collect();
            let reason = format!(
                "waits for the {} seat freed by {} ({} has {} free)",
                sku.sku_part_number,
                names.join(" + "),
                sku.sku_part_number,
                available.max(0)
            );
            if !ops[g].reasons.contains(&reason) {
                ops[g].reasons.push(reason);
            }
        }
        if !stuck.is_empty() {
            let waiting: Vec<usize> = freed
                .iter()
                .flat_map(|set| set.iter().copied())
                .filter(|&f| stuck.iter().any(|&g| reaches(&next, g, f)))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            deadlocks.push(Deadlock {
                sku_id: sku_id.to_string(),
                available_now: available,
                grants: stuck,
                frees: waiting,
            });
        }
    }
    (short, deadlocks)
}

/// Per operation: the (user, SKU id) seats it may grant in some order: a direct grant, a group
/// gaining a SKU for a member (live or joining), a join to a group that has or gains it. Only
/// seats the user does not hold now: those cost a seat whoever grants them first.
fn grant_paths(ix: &Index<'_>, ops: &[Draft]) -> Vec<BTreeSet<(usize, String)>> {
    let live = ix.live;
    let lacks = |ui: usize, sku: &str| !live.users[ui].effective_skus().contains(&sku);
    let mut joiners: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut gained: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in ops {
        match o.kind.licences() {
            Licences::Membership {
                group_id,
                user_id,
                joins: true,
            } => joiners
                .entry(group_id)
                .or_default()
                .extend(ix.user_by_id(user_id)),
            Licences::Group { group_id, add, .. } => gained
                .entry(group_id)
                .or_default()
                .extend(add.iter().map(|a| a.sku_id.as_str())),
            _ => {}
        }
    }
    ops.iter()
        .map(|o| {
            let pairs: Vec<(usize, &str)> = match o.kind.licences() {
                Licences::User { user_id, add, .. } => ix
                    .user_by_id(user_id)
                    .into_iter()
                    .flat_map(|ui| add.iter().map(move |a| (ui, a.sku_id.as_str())))
                    .collect(),
                Licences::Group { group_id, add, .. } => {
                    let members: Vec<usize> = ix
                        .group_by_id(group_id)
                        .into_iter()
                        .flat_map(|gi| live.groups[gi].members.iter())
                        .filter_map(|m| ix.user_by_id(m))
                        .chain(joiners.get(group_id).into_iter().flatten().copied())
                        .collect();
                    members
                        .iter()
                        .flat_map(|&ui| add.iter().map(move |a| (ui, a.sku_id.as_str())))
                        .collect()
                }
                Licences::Membership {
                    group_id,
                    user_id,
                    joins: true,
                } => {
                    let skus = ix
                        .group_by_id(group_id)
                        .into_iter()
                        .flat_map(|gi| live.groups[gi].licenses.iter())
                        .map(|l| l.sku_id.as_str())
                        .chain(gained.get(group_id).into_iter().flatten().copied());
                    ix.user_by_id(user_id)
                        .into_iter()
                        .flat_map(|ui| skus.clone().map(move |s| (ui, s)))
                        .collect()
                }
                Licences::Membership { joins: false, .. } | Licences::Untouched => Vec::new(),
            };
            pairs
                .into_iter()
                .filter(|&(ui, s)| lacks(ui, s))
                .map(|(ui, s)| (ui, s.to_string()))
                .collect()
        })
        .collect()
}

/// Other operations that may grant one of the seats of `sku_id` that `g` may grant, found
/// through `granters` (seat -> operations): a scan of every operation per grant was quadratic.
fn rivals(
    paths: &[BTreeSet<(usize, String)>],
    granters: &HashMap<&(usize, String), Vec<usize>>,
    g: usize,
    sku_id: &str,
) -> BTreeSet<usize> {
    paths[g]
        .iter()
        .filter(|(_, s)| s == sku_id)
        .flat_map(|seat| granters.get(seat).into_iter().flatten().copied())
        .filter(|&h| h != g)
        .collect()
}

/// Whether `to` can be reached from `from` along the adjacency `next` (then an edge
/// `to -> from` would close a cycle).
pub(crate) fn reaches(next: &HashMap<usize, Vec<usize>>, from: usize, to: usize) -> bool {
    let mut seen = HashSet::from([from]);
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        for &m in next.get(&n).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(m) {
                stack.push(m);
            }
        }
    }
    false
}

/// Users whose combined licence call surely frees a seat of a short SKU: splitting their call
/// (removal first) lets the freed seat go to others without waiting for their own grant.
pub(crate) fn users_to_split(ix: &Index<'_>, ops: &[Draft], bounds: &SeatBounds) -> HashSet<usize> {
    let mut need: HashMap<&str, i64> = HashMap::new();
    for takes in &bounds.takes {
        for (sku, &n) in takes {
            *need.entry(sku).or_default() += n;
        }
    }
    let short: HashSet<&str> = need
        .into_iter()
        .filter(|(sku, n)| ix.sku(sku).is_some_and(|s| *n > s.available()))
        .map(|(s, _)| s)
        .collect();
    ops.iter()
        .enumerate()
        .filter(|(i, o)| {
            o.grants_and_frees() && bounds.frees[*i].keys().any(|s| short.contains(s.as_str()))
        })
        .filter_map(|(_, o)| o.user)
        .collect()
}
