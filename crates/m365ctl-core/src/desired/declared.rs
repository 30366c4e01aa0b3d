//! The `[users]` entries of a config while they are validated: a list in declaration order
//! with a lookup by key, built into the config's map once at the end.
//!
//! Inserting 100,000 entries one by one into a `BTreeMap` left its nodes half empty, and
//! rebuilding it packed held that map and the list it was collected into at once: the load's
//! peak (176 MB of heap for an exported 100,000-entry users.toml). Here the lookup keeps a
//! 64-bit hash and a position per key (every hit checked against the list), and the map is
//! built once from the sorted list.

use crate::tenant::positions::Prehashed;
use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault};

/// Entries with unique keys, in the order they were declared (`S`: the keyed hash; tests
/// force collisions with a constant one).
pub(super) struct Declared<V, S = RandomState> {
    entries: Vec<(String, V)>,
    keys: S,
    /// The position of the first entry of each key hash.
    first: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    /// Whether two different keys had the same hash: then a lookup that misses scans.
    collided: bool,
}

impl<V> Declared<V> {
    /// Room for `count` entries (the raw entries being validated).
    pub fn with_capacity(count: usize) -> Self {
        Declared::with_hasher(count, RandomState::new())
    }
}

impl<V, S: BuildHasher> Declared<V, S> {
    fn with_hasher(count: usize, keys: S) -> Self {
        Declared {
            entries: Vec::with_capacity(count),
            keys,
            first: HashMap::with_capacity_and_hasher(count, Default::default()),
            collided: false,
        }
    }

    /// The entry declared under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        let at = self
            .first
            .get(&self.keys.hash_one(key))
            .map(|&p| p as usize);
        match at {
            Some(p) if self.entries[p].0 == key => Some(&self.entries[p].1),
            _ if self.collided => self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Adds an entry under a key not declared yet (`get` said `None`).
    pub fn push(&mut self, key: String, value: V) {
        let position = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries");
        let hash = self.keys.hash_one(key.as_str());
        match self.first.entry(hash) {
            Entry::Occupied(_) => self.collided = true,
            Entry::Vacant(slot) => {
                slot.insert(position);
            }
        }
        self.entries.push((key, value));
    }

    /// The entries by key. Sorted in place first (the keys are unique, so the order is the
    /// map's), so the map's own stable sort finds one run and the list is never copied.
    pub fn into_map(self) -> BTreeMap<String, V> {
        let Declared { mut entries, .. } = self;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::positions::colliding::Constant;
    use proptest::prelude::*;

    /// Declares `keys` as the loader does (a key already declared is refused, the first
    /// entry kept) into `declared` and into the map the loader used, checking every lookup
    /// before each declaration; then both hold the same entries.
    fn same_as_the_map<S: BuildHasher>(
        mut declared: Declared<usize, S>,
        keys: &[String],
    ) -> Result<(), TestCaseError> {
        let mut map: BTreeMap<String, usize> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            for probe in keys {
                prop_assert_eq!(declared.get(probe), map.get(probe), "{}", probe);
            }
            if declared.get(key).is_none() {
                declared.push(key.clone(), i);
            }
            map.entry(key.clone()).or_insert(i);
        }
        prop_assert_eq!(declared.into_map(), map);
        Ok(())
    }

    proptest! {
        /// Keys repeated, in other cases (different keys: the loader lower-cases them before)
        /// and in any order: the lookups and the resulting map are the `BTreeMap`'s.
        #[test]
        fn answers_and_builds_as_a_map(keys in proptest::collection::vec("[aAb\u{e9}]{0,3}", 0..40)) {
            same_as_the_map(Declared::with_capacity(keys.len()), &keys)?;
        }

        /// The same when every key has the same hash.
        #[test]
        fn colliding_hashes_never_answer_for_another_key(keys in proptest::collection::vec("[aAb]{0,2}", 0..20)) {
            same_as_the_map(Declared::with_hasher(keys.len(), Constant), &keys)?;
        }
    }
}
