//! Live users by lower-case UPN, without a lower-cased copy of every UPN.
//!
//! The resolver looked users up in a `HashMap<String, &User>` keyed by `to_lowercase()` of
//! each UPN: 69 MB and a million allocations at 1,000,000 users, alive beside the config, the
//! tenant and the desired state while an exported config is resolved. Here ASCII UPNs (every
//! UPN Entra issues, in practice) are found through a `PositionTable` (a 64-bit hash and a
//! position each, every hit checked against the list); only non-ASCII UPNs, whose Unicode
//! lower case can differ from the ASCII one, keep a lower-cased copy.

use crate::tenant::User;
use crate::tenant::positions::{Fold, PositionTable};
use std::borrow::Cow;
use std::collections::HashMap;

/// Answers as a map from `to_lowercase()` of each live UPN to the last user holding it.
pub(super) struct UpnIndex<'a> {
    users: &'a [User],
    /// Every user, by UPN compared ASCII case-insensitively (only ASCII UPNs can equal an
    /// ASCII key that way).
    ascii: PositionTable,
    /// Non-ASCII UPNs by their Unicode lower case, to their last position.
    others: HashMap<String, usize>,
}

impl<'a> UpnIndex<'a> {
    /// Indexes `users` once.
    pub fn new(users: &'a [User]) -> UpnIndex<'a> {
        let ascii = PositionTable::new(Fold::AsciiCase, users.len(), |i| {
            &users[i].user_principal_name
        });
        let others = users
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.user_principal_name.is_ascii())
            .map(|(i, u)| (u.user_principal_name.to_lowercase(), i))
            .collect();
        UpnIndex {
            users,
            ascii,
            others,
        }
    }

    /// The last user whose lower-cased UPN is exactly `key`.
    pub fn get(&self, key: &str) -> Option<&'a User> {
        let other = self.others.get(key).copied();
        let ascii = (key.is_ascii() && !key.bytes().any(|b| b.is_ascii_uppercase()))
            .then(|| {
                self.ascii.get(key, |i| {
                    self.users.get(i).map(|u| u.user_principal_name.as_str())
                })
            })
            .flatten();
        ascii.max(other).map(|i| &self.users[i])
    }

    /// Whether a user's lower-cased UPN is exactly `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Whether some lower-cased UPN ends with `suffix` (without lower-casing ASCII UPNs: this
    /// runs once per unknown user of a config).
    pub fn any_ends_with(&self, suffix: &str) -> bool {
        self.users.iter().any(|u| {
            let upn = &u.user_principal_name;
            if !upn.is_ascii() {
                return upn.to_lowercase().ends_with(suffix);
            }
            upn.len() >= suffix.len()
                && upn.as_bytes()[upn.len() - suffix.len()..]
                    .iter()
                    .map(u8::to_ascii_lowercase)
                    .eq(suffix.bytes())
        })
    }

    /// The lower-cased UPNs at most `limit` bytes longer or shorter than `len` (repeated when
    /// UPNs differ only in case), lower-casing only those.
    pub fn keys_near_length(&self, len: usize, limit: usize) -> Vec<Cow<'a, str>> {
        let near = |k: &str| k.len().abs_diff(len) <= limit;
        self.users
            .iter()
            .map(|u| u.user_principal_name.as_str())
            .filter(|upn| !upn.is_ascii() || near(upn))
            .map(lower)
            .filter(|k| near(k))
            .collect()
    }
}

/// `to_lowercase()`, borrowed when it changes nothing and ASCII-lowered bytes otherwise.
fn lower(upn: &str) -> Cow<'_, str> {
    if !upn.is_ascii() {
        Cow::Owned(upn.to_lowercase())
    } else if upn.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(upn.to_ascii_lowercase())
    } else {
        Cow::Borrowed(upn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::TenantBuilder;
    use proptest::prelude::*;

    /// UPN-like text with ASCII letters in both cases and characters whose Unicode lower case
    /// is not their ASCII one (Kelvin sign, dotted capital I, Greek capital sigma, É).
    fn upn() -> impl Strategy<Value = String> {
        "[abAB\u{212a}kK\u{130}i\u{3a3}\u{e9}\u{c9}]{1,3}@[cC]"
    }

    proptest! {
        /// Every lookup (declared keys, keys of other users, other cases, misses) answers as
        /// the map the resolver used to build, repeated and case-variant UPNs included; the
        /// suffix and length questions answer as that map's keys do.
        #[test]
        fn answers_as_the_map_of_lower_cased_upns(
            upns in proptest::collection::vec(upn(), 0..30),
            probes in proptest::collection::vec(upn(), 0..30),
            len in 0usize..12,
            limit in 0usize..4,
        ) {
            let mut builder = TenantBuilder::new();
            for upn in &upns {
                builder = builder.user(upn, &[]);
            }
            let live = builder.build();
            let index = UpnIndex::new(&live.users);
            let map: HashMap<String, &User> = live
                .users
                .iter()
                .map(|u| (u.user_principal_name.to_lowercase(), u))
                .collect();
            for probe in upns.iter().chain(&probes) {
                for key in [probe.clone(), probe.to_lowercase(), probe.to_ascii_lowercase(), probe.to_uppercase()] {
                    let want = map.get(&key).map(|u| std::ptr::from_ref(*u));
                    prop_assert_eq!(index.get(&key).map(std::ptr::from_ref), want, "{}", key);
                    prop_assert_eq!(index.contains(&key), want.is_some());
                }
            }
            for probe in upns.iter().chain(&probes) {
                for suffix in [probe.to_lowercase(), format!("@{}", probe.to_lowercase()), "@c".to_string(), "k@c".to_string()] {
                    prop_assert_eq!(index.any_ends_with(&suffix), map.keys().any(|k| k.ends_with(&suffix)), "{}", suffix);
                }
            }
            let mut keys: Vec<String> = index
                .keys_near_length(len, limit)
                .into_iter()
                .map(Cow::into_owned)
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let mut want: Vec<String> = map
                .into_keys()
                .filter(|k| k.len().abs_diff(len) <= limit)
                .collect();
            want.sort_unstable();
            prop_assert_eq!(keys, want);
        }
    }
}
