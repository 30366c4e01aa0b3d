//! A sparse simulator of Graph's write rules: it applies operations to copies of only the
//! users and groups they touch (never a clone of the whole tenant), and reports how each
//! operation changes seat consumption. It mirrors `tenant::apply_operation`, which the
//! property tests use to check that the two agree.

use super::index::Index;
use super::ops::{Licences, OpKind, Replayed};
use crate::catalog::ExchangeRank;
use crate::tenant::{
    GroupLicense, LicenseAssignment, MailboxType, grant_direct, grant_to_group, sync_inherited,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The simulated state of one user.
#[derive(Debug, Clone)]
pub(crate) struct SimUser {
    /// Assignments, one per path, as in the live model.
    pub licenses: Vec<LicenseAssignment>,
    /// Usage location.
    pub usage_location: Option<String>,
    /// Mailbox type, if any.
    pub mailbox: Option<MailboxType>,
    /// Group indexes the user is a member of.
    pub groups: Vec<usize>,
}

#[derive(Debug, Clone)]
struct SimGroup {
    members: BTreeSet<usize>,
    licenses: Vec<GroupLicense>,
}

/// Seat change of one operation: SKU id -> signed number of seats.
pub(crate) type SeatDelta = BTreeMap<String, i64>;

/// The simulator: the live tenant plus overlays for what the applied operations changed.
pub(crate) struct Sim<'i, 'a> {
    ix: &'i Index<'a>,
    users: HashMap<usize, SimUser>,
    groups: HashMap<usize, SimGroup>,
    changed: Vec<usize>,
}

impl<'i, 'a> Sim<'i, 'a> {
    /// A simulator positioned at the live state.
    pub fn new(ix: &'i Index<'a>) -> Sim<'i, 'a> {
        Sim {
            ix,
            users: HashMap::new(),
            groups: HashMap::new(),
            changed: Vec::new(),
        }
    }

    /// Users changed since the last call, for per-step invariant checks.
    pub fn take_changed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.changed)
    }

    /// The current mailbox type of a user (live when untouched). Reading does not mark the
    /// user as changed: only writes do, so per-step checks stay proportional to the step.
    pub fn mailbox(&self, ui: usize) -> Option<MailboxType> {
        match self.users.get(&ui) {
            Some(u) => u.mailbox,
            None => self.ix.live.users[ui].mailbox.as_ref().map(|m| m.kind),
        }
    }

    fn user_mut(&mut self, ui: usize) -> &mut SimUser {
        let ix = self.ix;
        if self.changed.last() != Some(&ui) {
            self.changed.push(ui);
        }
        self.users.entry(ui).or_insert_with(|| {
            let live = &ix.live.users[ui];
            SimUser {
                licenses: live.licenses.clone(),
                usage_location: live.usage_location.clone(),
                mailbox: live.mailbox.as_ref().map(|m| m.kind),
                groups: ix.memberships[ui].clone(),
            }
        })
    }

    fn group_mut(&mut self, gi: usize) -> &mut SimGroup {
        let ix = self.ix;
        self.groups.entry(gi).or_insert_with(|| {
            let live = &ix.live.groups[gi];
            SimGroup {
                members: live
                    .members
                    .iter()
                    .filter_map(|m| ix.user_by_id(m))
                    .collect(),
                licenses: live.licenses.clone(),
            }
        })
    }

    fn group_licenses(&self, gi: usize) -> &[GroupLicense] {
        match self.groups.get(&gi) {
            Some(g) => &g.licenses,
            None => &self.ix.live.groups[gi].licenses,
        }
    }

    /// Effective Exchange rank of a user now.
    pub fn rank(&self, ui: usize) -> ExchangeRank {
        match self.users.get(&ui) {
            Some(u) => self.ix.rank_of(&u.licenses),
            None => self.ix.rank_of(&self.ix.live.users[ui].licenses),
        }
    }

    /// Whether a user holds a SKU effectively now.
    pub fn holds(&self, ui: usize, sku_id: &str) -> bool {
        let licenses = match self.users.get(&ui) {
            Some(u) => &u.licenses,
            None => &self.ix.live.users[ui].licenses,
        };
        licenses
            .iter()
            .any(|l| l.is_effective() && l.sku_id == sku_id)
    }

    /// Users the simulator has touched, by index.
    pub fn touched_users(&self) -> impl Iterator<Item = usize> + '_ {
        self.users.keys().copied()
    }

    /// Applies one operation and returns its seat change. Unknown principals are ignored
    /// (the planner only emits operations on principals it found).
    pub fn apply(&mut self, op: &OpKind) -> SeatDelta {
        let mut delta = SeatDelta::new();
        match op.licences() {
            Licences::Untouched => {
                if let Some(ui) = op.user_id().and_then(|id| self.ix.user_by_id(id)) {
                    let user = self.user_mut(ui);
                    op.kind().replay(&mut Replayed {
                        usage_location: &mut user.usage_location,
                        mailbox: &mut user.mailbox,
                    });
                }
            }
            Licences::User {
                user_id,
                add,
                remove,
            } => {
                if let Some(ui) = self.ix.user_by_id(user_id) {
                    let ix = self.ix;
                    let before = held(ix, self.user_mut(ui));
                    let user = self.user_mut(ui);
                    for r in remove {
                        user.licenses
                            .retain(|l| !(l.assigned_by_group.is_none() && l.sku_id == r.sku_id));
                    }
                    for g in add {
                        grant_direct(&mut user.licenses, g);
                    }
                    let after = held(ix, self.user_mut(ui));
                    count(&mut delta, &before, &after);
                }
            }
            Licences::Group {
                group_id,
                add,
                remove,
            } => {
                if let Some(gi) = self.ix.group_by_id(group_id) {
                    let group = self.group_mut(gi);
                    for r in remove {
                        group.licenses.retain(|l| l.sku_id != r.sku_id);
                    }
                    for g in add {
                        grant_to_group(&mut group.licenses, g);
                    }
                    let members: Vec<usize> = group.members.iter().copied().collect();
                    for ui in members {
                        self.reconcile(ui, &mut delta);
                    }
                }
            }
            Licences::Membership {
                group_id,
                user_id,
                joins,
            } => {
                if let (Some(gi), Some(ui)) =
                    (self.ix.group_by_id(group_id), self.ix.user_by_id(user_id))
                {
                    if joins {
                        self.group_mut(gi).members.insert(ui);
                        let user = self.user_mut(ui);
                        if !user.groups.contains(&gi) {
                            user.groups.push(gi);
                        }
                    } else {
                        self.group_mut(gi).members.remove(&ui);
                        self.user_mut(ui).groups.retain(|&g| g != gi);
                    }
                    self.reconcile(ui, &mut delta);
                }
            }
        }
        delta.retain(|_, d| *d != 0);
        delta
    }

    /// Re-derives a user's inherited assignments from their groups, as group-based licensing
    /// does (`tenant::apply_operation`): new ones are active, with or without a usage location.
    fn reconcile(&mut self, ui: usize, delta: &mut SeatDelta) {
        let groups = self.user_mut(ui).groups.clone();
        let mut wanted: Vec<(String, GroupLicense)> = Vec::new();
        for gi in groups {
            let gid = &self.ix.live.groups[gi].id;
            for lic in self.group_licenses(gi) {
                wanted.push((gid.clone(), lic.clone()));
            }
        }
        let ix = self.ix;
        let user = self.user_mut(ui);
        let before = held(ix, user);
        sync_inherited(&mut user.licenses, wanted);
        let after = held(ix, user);
        count(delta, &before, &after);
    }
}

/// SKU ids a user holds effectively (one seat each, whatever the number of paths), sorted,
/// each once. Borrowed from the tenant's SKU list where it lists the SKU: the simulator
/// compares what a user holds before and after every operation of seven orders, and a copy of
/// each id every time was a third of its allocations at 1,000,000 users.
pub(crate) fn held<'a>(ix: &Index<'a>, user: &SimUser) -> Vec<Cow<'a, str>> {
    let mut ids: Vec<Cow<'a, str>> = user
        .licenses
        .iter()
        .filter(|l| l.is_effective())
        .map(|l| match ix.sku(&l.sku_id) {
            Some(sku) => Cow::Borrowed(sku.sku_id.as_str()),
            None => Cow::Owned(l.sku_id.clone()),
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn count(delta: &mut SeatDelta, before: &[Cow<'_, str>], after: &[Cow<'_, str>]) {
    for sku in after.iter().filter(|s| before.binary_search(s).is_err()) {
        *delta.entry(sku.to_string()).or_default() += 1;
    }
    for sku in before.iter().filter(|s| after.binary_search(s).is_err()) {
        *delta.entry(sku.to_string()).or_default() -= 1;
    }
}
