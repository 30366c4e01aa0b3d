//! Hash indexes over the live tenant, built once per plan so every lookup is O(1)
//! (`Tenant::user` is a linear scan: calling it per user would make planning quadratic).

use crate::catalog::{self, ExchangeRank};
use crate::tenant::positions::{Fold, PositionTable};
use crate::tenant::{LicenseAssignment, Sku, Tenant, User, upn_cmp, upn_order};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Lookups by id, UPN, name and part number, plus each user's live group memberships.
pub(crate) struct Index<'a> {
    /// The live tenant the indexes point into.
    pub live: &'a Tenant,
    sku_by_id: HashMap<&'a str, usize>,
    sku_by_part: HashMap<String, usize>,
    /// Users by object id, without a copy of each id.
    user_by_id: PositionTable,
    user_by_upn: UpnLookup,
    group_by_id: HashMap<&'a str, usize>,
    /// How many groups hold each display name (lower-case): Entra allows duplicates.
    groups_per_name: HashMap<String, usize>,
    /// Group indexes each user (by index) is a direct member of, in group order.
    pub memberships: Vec<Vec<usize>>,
}

impl<'a> Index<'a> {
    /// Indexes `live` in one pass over each collection.
    pub fn new(live: &'a Tenant) -> Index<'a> {
        let users = &live.users;
        let user_by_id = PositionTable::new(Fold::Exact, users.len(), |i| &users[i].id);
        let mut memberships = vec![Vec::new(); live.users.len()];
        for (gi, group) in live.groups.iter().enumerate() {
            for member in &group.members {
                if let Some(ui) = user_by_id.get(member, |i| users.get(i).map(|u| u.id.as_str()))
                    && memberships[ui].last() != Some(&gi)
                {
                    memberships[ui].push(gi);
                }
            }
        }
        Index {
            live,
            sku_by_id: live
                .skus
                .iter()
                .enumerate()
                .map(|(i, s)| (s.sku_id.as_str(), i))
                .collect(),
            sku_by_part: live
                .skus
                .iter()
                .enumerate()
                .map(|(i, s)| (s.sku_part_number.to_ascii_uppercase(), i))
                .collect(),
            user_by_upn: UpnLookup::new(users),
            user_by_id,
            group_by_id: live
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.id.as_str(), i))
                .collect(),
            groups_per_name: live.groups.iter().fold(HashMap::new(), |mut n, g| {
                *n.entry(g.display_name.to_lowercase()).or_default() += 1;
                n
            }),
            memberships,
        }
    }

    /// SKU by GUID.
    pub fn sku(&self, sku_id: &str) -> Option<&'a Sku> {
        self.sku_by_id.get(sku_id).map(|&i| &self.live.skus[i])
    }

    /// SKU by part number (case-insensitive).
    pub fn sku_by_part(&self, part: &str) -> Option<&'a Sku> {
        self.sku_by_part
            .get(&part.to_ascii_uppercase())
            .map(|&i| &self.live.skus[i])
    }

    /// Part number of a SKU id, or the id itself when the tenant does not know it.
    pub fn part<'s>(&self, sku_id: &'s str) -> &'s str
    where
        'a: 's,
    {
        self.sku(sku_id)
            .map(|s| s.sku_part_number.as_str())
            .unwrap_or(sku_id)
    }

    /// User index by object id.
    pub fn user_by_id(&self, id: &str) -> Option<usize> {
        let users = &self.live.users;
        self.user_by_id
            .get(id, |i| users.get(i).map(|u| u.id.as_str()))
    }

    /// User index by UPN (ASCII case-insensitive).
    pub fn user_by_upn(&self, upn: &str) -> Option<usize> {
        self.user_by_upn.get(&self.live.users, upn)
    }

    /// Group index by object id.
    pub fn group_by_id(&self, id: &str) -> Option<usize> {
        self.group_by_id.get(id).copied()
    }

    /// The `[groups]` key that names this group unambiguously, for hints: its display name,
    /// or its object id when another group has the same name.
    pub fn group_key(&self, gi: usize) -> &'a str {
        let group = &self.live.groups[gi];
        if self.groups_per_name[&group.display_name.to_lowercase()] > 1 {
            &group.id
        } else {
            &group.display_name
        }
    }

    /// How reviewers are shown a group: its display name, followed by its object id when
    /// another group has the same name, so two such groups never read as one in a plan (and
    /// their operation ids differ).
    pub fn group_label(&self, gi: usize) -> String {
        let group = &self.live.groups[gi];
        if self.groups_per_name[&group.display_name.to_lowercase()] > 1 {
            format!("{} ({})", group.display_name, group.id)
        } else {
            group.display_name.clone()
        }
    }

    /// Exchange rank a SKU gives with these plans disabled.
    pub fn sku_rank(&self, sku_id: &str, disabled: &[String]) -> ExchangeRank {
        self.sku(sku_id)
            .map(|s| catalog::sku_exchange_rank(s, disabled))
            .unwrap_or(ExchangeRank::None)
    }

    /// Effective Exchange rank of a set of assignments (the stacking rule: the highest wins).
    pub fn rank_of(&self, licenses: &[LicenseAssignment]) -> ExchangeRank {
        crate::rules::exchange::rank_of(licenses, |id| self.sku(id))
    }
}

/// Users by UPN, ASCII case-insensitively (the last of equal UPNs, as a map collected from the
/// list answered). A normalised tenant lists its users in exactly that order, and the planner
/// asks for them in that order too (the desired state's keys are sorted): then a lookup looks
/// next to where the last one ended, else binary-searches, and no table is built (a table of
/// 1,000,000 UPNs took 0.4 s to build, 34 MB, and a random memory access per lookup). A
/// tenant in any other order gets the table.
enum UpnLookup {
    Sorted { last: AtomicUsize },
    Table(PositionTable),
}

impl UpnLookup {
    fn new(users: &[User]) -> UpnLookup {
        if users.is_sorted_by(|a, b| upn_order(a, b).is_le()) {
            UpnLookup::Sorted {
                last: AtomicUsize::new(0),
            }
        } else {
            UpnLookup::Table(PositionTable::new(Fold::AsciiCase, users.len(), |i| {
                &users[i].user_principal_name
            }))
        }
    }

    fn get(&self, users: &[User], upn: &str) -> Option<usize> {
        let last = match self {
            UpnLookup::Table(table) => {
                return table.get(upn, |i| {
                    users.get(i).map(|u| u.user_principal_name.as_str())
                });
            }
            UpnLookup::Sorted { last } => last,
        };
        let named = |i: usize| {
            users
                .get(i)
                .is_some_and(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
        };
        let previous = last.load(Relaxed);
        let found = [previous + 1, previous]
            .into_iter()
            .find(|&i| named(i) && !named(i + 1))
            .or_else(|| {
                let after = users.partition_point(|u| {
                    upn_cmp(&u.user_principal_name, upn) != std::cmp::Ordering::Greater
                });
                after.checked_sub(1).filter(|&i| named(i))
            })?;
        last.store(found, Relaxed);
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::TenantBuilder;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the order of the users (normalised or not, with UPNs repeated in other
        /// cases) and of the questions, a lookup answers as a map from lower-cased UPN to the
        /// last position holding it.
        #[test]
        fn upn_lookups_answer_as_a_map_of_lower_cased_upns(
            upns in proptest::collection::vec("[abAB]{1,3}@c", 0..30),
            probes in proptest::collection::vec("[abcAB]{1,3}@c", 0..30),
            normalise in any::<bool>(),
            sorted_probes in any::<bool>(),
        ) {
            let mut builder = TenantBuilder::new();
            for upn in &upns {
                builder = builder.user(upn, &[]);
            }
            let mut live = builder.build();
            if !normalise {
                live.users.reverse();
            }
            let ix = Index::new(&live);
            let map: HashMap<String, usize> = live
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.user_principal_name.to_ascii_lowercase(), i))
                .collect();
            let mut probes: Vec<&String> = upns.iter().chain(&probes).collect();
            if sorted_probes {
                probes.sort_by(|a, b| upn_cmp(a, b));
            }
            for probe in probes {
                prop_assert_eq!(ix.user_by_upn(probe), map.get(&probe.to_ascii_lowercase()).copied(), "{}", probe);
            }
        }
    }
}
