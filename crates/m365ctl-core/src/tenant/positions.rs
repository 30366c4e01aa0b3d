//! Where a string key sits in a list, without a copy of the keys.
//!
//! A `HashMap<String, usize>` over a 1,000,000-user tenant's ids held a copy of every id: a
//! 48-byte allocation per user besides the 32-byte entry, 100 MB in all (and one more for
//! lower-cased UPNs). This table keeps only a 64-bit hash of each key and its position (16
//! bytes an entry); a hit is confirmed against the list itself, so a hash collision can never
//! return the wrong element.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// How keys are compared: exactly, or ASCII case-insensitively (UPNs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Byte for byte.
    Exact,
    /// ASCII letters compared without case (`eq_ignore_ascii_case`).
    AsciiCase,
}

/// Positions of keys in a list, by a randomly keyed 64-bit hash of each key (`S`: the keyed
/// hash; tests force collisions with a constant one).
pub(crate) struct PositionTable<S = RandomState> {
    fold: Fold,
    keys: S,
    positions: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    /// Whether two different keys had the same hash (practically never with 64 random bits):
    /// then a lookup whose hash names another key scans the list.
    collided: bool,
}

impl PositionTable {
    /// Indexes the `count` keys `key_at` yields; a repeated key maps to its last position, as
    /// collecting into a `HashMap` did.
    pub fn new<'k>(fold: Fold, count: usize, key_at: impl Fn(usize) -> &'k str) -> Self {
        PositionTable::with_hasher(fold, count, key_at, RandomState::new())
    }
}

impl<S: BuildHasher> PositionTable<S> {
    fn with_hasher<'k>(
        fold: Fold,
        count: usize,
        key_at: impl Fn(usize) -> &'k str,
        keys: S,
    ) -> Self {
        let mut table = PositionTable {
            fold,
            keys,
            positions: HashMap::with_capacity_and_hasher(count, Default::default()),
            collided: false,
        };
        for position in 0..count {
            let key = key_at(position);
            let hash = table.hash(key);
            let position = u32::try_from(position).expect("fewer than 2^32 elements");
            match table.positions.insert(hash, position) {
                Some(earlier) if !table.same(key_at(earlier as usize), key) => {
                    // Keep the first key's entry; the other is found by the scan.
                    table.positions.insert(hash, earlier);
                    table.collided = true;
                }
                _ => {}
            }
        }
        table
    }

    /// The position of `key`, given the key at each position (the list indexed).
    pub fn get<'k>(&self, key: &str, key_at: impl Fn(usize) -> Option<&'k str>) -> Option<usize> {
        let found = self.positions.get(&self.hash(key)).map(|&p| p as usize);
        match found {
            Some(p) if key_at(p).is_some_and(|k| self.same(k, key)) => Some(p),
            _ if self.collided => self.scan(key, key_at),
            _ => None,
        }
    }

    /// The last position holding `key`, by a scan (only after a collision).
    fn scan<'k>(&self, key: &str, key_at: impl Fn(usize) -> Option<&'k str>) -> Option<usize> {
        let mut last = None;
        let mut p = 0;
        while let Some(k) = key_at(p) {
            if self.same(k, key) {
                last = Some(p);
            }
            p += 1;
        }
        last
    }

    fn same(&self, a: &str, b: &str) -> bool {
        match self.fold {
            Fold::Exact => a == b,
            Fold::AsciiCase => a.eq_ignore_ascii_case(b),
        }
    }

    /// The hash of the key as compared (ASCII-lower-cased for `AsciiCase`), in 64-byte pieces.
    fn hash(&self, key: &str) -> u64 {
        let mut hasher = self.keys.build_hasher();
        match self.fold {
            Fold::Exact => hasher.write(key.as_bytes()),
            Fold::AsciiCase => {
                let mut piece = [0u8; 64];
                for chunk in key.as_bytes().chunks(piece.len()) {
                    let piece = &mut piece[..chunk.len()];
                    piece.copy_from_slice(chunk);
                    piece.make_ascii_lowercase();
                    hasher.write(piece);
                }
            }
        }
        hasher.write_usize(key.len());
        hasher.finish()
    }
}

/// The hasher of keys that are already random 64-bit hashes: passes them through.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// A hasher that gives every key the same hash, for tests that every lookup structure keyed by
/// a hash still answers for the right key when all hashes collide.
#[cfg(test)]
pub(crate) mod colliding {
    use std::hash::{BuildHasher, Hasher};

    /// A keyed hash that gives every key the same hash.
    pub(crate) struct Constant;

    /// The hasher `Constant` builds: always 0.
    pub(crate) struct Zero;

    impl Hasher for Zero {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }

    impl BuildHasher for Constant {
        type Hasher = Zero;
        fn build_hasher(&self) -> Zero {
            Zero
        }
    }
}

#[cfg(test)]
mod tests {
    use super::colliding::Constant;
    use super::*;
    use proptest::prelude::*;

    /// What the table replaced: a map from the (folded) key to its last position.
    fn expected(fold: Fold, keys: &[String], key: &str) -> Option<usize> {
        keys.iter().rposition(|k| match fold {
            Fold::Exact => k == key,
            Fold::AsciiCase => k.eq_ignore_ascii_case(key),
        })
    }

    proptest! {
        /// Every lookup (present, absent, other case) answers as the map of copied keys did,
        /// repeated keys included.
        #[test]
        fn answers_as_a_map_of_the_keys(
            keys in proptest::collection::vec("[a-cA-C\u{e9}]{0,3}", 0..40),
            probes in proptest::collection::vec("[a-cA-C\u{e9}]{0,3}", 0..20),
            exact in any::<bool>(),
        ) {
            let fold = if exact { Fold::Exact } else { Fold::AsciiCase };
            let table = PositionTable::new(fold, keys.len(), |p| keys[p].as_str());
            let key_at = |p: usize| keys.get(p).map(String::as_str);
            for probe in keys.iter().chain(&probes) {
                prop_assert_eq!(table.get(probe, key_at), expected(fold, &keys, probe));
                let upper = probe.to_ascii_uppercase();
                prop_assert_eq!(table.get(&upper, key_at), expected(fold, &keys, &upper));
            }
        }
    }

    /// Keys whose hashes collide are still told apart, repeated keys at their last position.
    #[test]
    fn colliding_hashes_never_return_another_key() {
        let keys = ["a", "b", "a", "c", "B"];
        let key_at = |p: usize| keys.get(p).copied();
        for fold in [Fold::Exact, Fold::AsciiCase] {
            let table = PositionTable::with_hasher(fold, keys.len(), |p| keys[p], Constant);
            assert!(table.collided);
            for probe in ["a", "b", "c", "d", "B", "A"] {
                let want = keys.iter().rposition(|k| table.same(k, probe));
                assert_eq!(table.get(probe, key_at), want, "{probe} {fold:?}");
            }
        }
    }
}
