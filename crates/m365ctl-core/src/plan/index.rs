//! Hash indexes over the live tenant, built once per plan so every lookup is O(1)
//! (`Tenant::user` is a linear scan: calling it per user would make planning quadratic).

use crate::catalog::{self, ExchangeRank};
use crate::tenant::positions::{Fold, PositionTable};
use crate::tenant::{LicenseAssignment, Sku, Tenant};
use std::collections::HashMap;

/// Lookups by id, UPN, name and part number, plus each user's live group memberships.
pub(crate) struct Index<'a> {
    /// The live tenant the indexes point into.
    pub live: &'a Tenant,
    sku_by_id: HashMap<&'a str, usize>,
    sku_by_part: HashMap<String, usize>,
    /// Users by object id and by UPN (ASCII case-insensitively), without copies of either:
    /// a lower-cased copy of every UPN was a million allocations at 1,000,000 users.
    user_by_id: PositionTable,
    user_by_upn: PositionTable,
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
            user_by_upn: PositionTable::new(Fold::AsciiCase, users.len(), |i| {
                &users[i].user_principal_name
            }),
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
        let users = &self.live.users;
        self.user_by_upn.get(upn, |i| {
            users.get(i).map(|u| u.user_principal_name.as_str())
        })
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
