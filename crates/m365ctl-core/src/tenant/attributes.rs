//! A user's rule attributes, stored compactly.
//!
//! Every user carries a few of the 19 `USER_ATTRIBUTES`; a `BTreeMap<String, String>` spent
//! 623 of the model's 1,110 bytes per user on them (a node of 11 slots plus an allocation
//! per key). Here a user holds one boxed slice of (attribute, value) pairs: the key is an
//! index into `USER_ATTRIBUTES`, never a string. Serialisation is the map's, entries in the
//! same (name) order, so snapshots, fingerprints and plans stay byte-identical.

use super::USER_ATTRIBUTES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The attributes a user has, as (index into `USER_ATTRIBUTES`, value) sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttributes(Box<[(u8, Box<str>)]>);

/// The index of `name` in `USER_ATTRIBUTES`, compared case-insensitively as `User::attribute` is.
fn index_of(name: &str) -> Option<u8> {
    USER_ATTRIBUTES
        .iter()
        .position(|known| known.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
}

impl UserAttributes {
    /// Sets an attribute. Returns false (and keeps nothing) for a name outside
    /// `USER_ATTRIBUTES`: no rule can match on it, since the loader refuses such rules.
    pub fn insert(&mut self, name: impl AsRef<str>, value: impl Into<Box<str>>) -> bool {
        let Some(index) = index_of(name.as_ref()) else {
            return false;
        };
        let mut entries = std::mem::take(&mut self.0).into_vec();
        let key = USER_ATTRIBUTES[usize::from(index)];
        match entries.binary_search_by(|(i, _)| USER_ATTRIBUTES[usize::from(*i)].cmp(key)) {
            Ok(at) => entries[at].1 = value.into(),
            Err(at) => entries.insert(at, (index, value.into())),
        }
        self.0 = entries.into_boxed_slice();
        true
    }

    /// The value of an attribute (Graph name, case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        let index = index_of(name)?;
        self.0
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, value)| &**value)
    }

    /// (Graph name, value) pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(i, value)| (USER_ATTRIBUTES[usize::from(*i)], &**value))
    }

    /// Whether the user has none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: AsRef<str>, V: Into<Box<str>>> FromIterator<(K, V)> for UserAttributes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut attributes = UserAttributes::default();
        for (name, value) in pairs {
            attributes.insert(name, value);
        }
        attributes
    }
}

impl<K: AsRef<str>, V: Into<Box<str>>, const N: usize> From<[(K, V); N]> for UserAttributes {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl From<BTreeMap<String, String>> for UserAttributes {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl Serialize for UserAttributes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for UserAttributes {
    /// Refuses a name outside `USER_ATTRIBUTES` rather than dropping it unseen. Reads the
    /// pairs straight into the compact form: no map and no key strings per user (a
    /// `BTreeMap<String, String>` per user of a 1,000,000-user snapshot was a second of
    /// allocations). Keeps what reading that map kept: of names differing only in case, the
    /// greatest spelling's value; of a repeated name, the last.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AttributesVisitor)
    }
}

struct AttributesVisitor;

impl<'de> serde::de::Visitor<'de> for AttributesVisitor {
    type Value = UserAttributes;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of user attributes")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut read: Vec<(AttributeName, Box<str>)> = Vec::new();
        while let Some(name) = map.next_key::<AttributeName>()? {
            let value: String = map.next_value()?;
            read.push((name, value.into_boxed_str()));
        }
        // Name order, spellings of one name in byte order, repeats in file order: the last
        // of each name is the value the map kept.
        read.sort_by(|(a, _), (b, _)| {
            (USER_ATTRIBUTES[usize::from(a.index)], a.spelling())
                .cmp(&(USER_ATTRIBUTES[usize::from(b.index)], b.spelling()))
        });
        let names = 1 + read
            .windows(2)
            .filter(|w| w[0].0.index != w[1].0.index)
            .count();
        let mut entries = Vec::with_capacity(names.min(read.len()));
        let mut read = read.into_iter().peekable();
        while let Some((name, value)) = read.next() {
            if read.peek().is_none_or(|(next, _)| next.index != name.index) {
                entries.push((name.index, value));
            }
        }
        Ok(UserAttributes(entries.into_boxed_slice()))
    }
}

/// An attribute's name as read: its index, and its spelling when that is not the canonical
/// one (only then is a string allocated).
struct AttributeName {
    index: u8,
    other_spelling: Option<Box<str>>,
}

impl AttributeName {
    fn spelling(&self) -> &str {
        self.other_spelling
            .as_deref()
            .unwrap_or(USER_ATTRIBUTES[usize::from(self.index)])
    }
}

impl<'de> Deserialize<'de> for AttributeName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(AttributeNameVisitor)
    }
}

struct AttributeNameVisitor;

impl serde::de::Visitor<'_> for AttributeNameVisitor {
    type Value = AttributeName;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a user attribute name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
        let Some(index) = index_of(name) else {
            return Err(E::custom(format!(
                "unknown user attribute `{name}`, expected one of {}",
                USER_ATTRIBUTES.join(", ")
            )));
        };
        Ok(AttributeName {
            index,
            other_spelling: (name != USER_ATTRIBUTES[usize::from(index)]).then(|| name.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn known_map() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map(
            proptest::sample::select(USER_ATTRIBUTES.to_vec()).prop_map(str::to_string),
            "\\PC{0,12}",
            0..=USER_ATTRIBUTES.len(),
        )
    }

    proptest! {
        /// Any set of attributes serialises exactly as the map it replaced (so snapshots,
        /// fingerprints and plans are byte-identical), reads back equal, and answers every
        /// lookup as the map did.
        #[test]
        fn behaves_and_serialises_as_the_map(map in known_map()) {
            let attributes = UserAttributes::from(map.clone());
            let json = serde_json::to_string(&attributes).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&map).unwrap());
            prop_assert_eq!(serde_json::from_str::<UserAttributes>(&json).unwrap(), attributes.clone());
            for name in USER_ATTRIBUTES {
                prop_assert_eq!(attributes.get(name), map.get(name).map(String::as_str));
                prop_assert_eq!(attributes.get(&name.to_uppercase()), map.get(name).map(String::as_str));
            }
            prop_assert_eq!(attributes.is_empty(), map.is_empty());
        }
    }

    /// The reading this type replaced: a map of strings, each inserted in key order.
    fn read_as_a_map(json: &str) -> UserAttributes {
        let map = serde_json::from_str::<BTreeMap<String, String>>(json).unwrap();
        let mut attributes = UserAttributes::default();
        for (name, value) in map {
            assert!(attributes.insert(&name, value));
        }
        attributes
    }

    proptest! {
        /// Any object of known names, in any spelling and with repeats, reads as the map of
        /// strings did: the greatest spelling of a name wins, a repeated spelling's last value.
        #[test]
        fn reads_any_object_as_the_map_did(
            pairs in proptest::collection::vec(
                (proptest::sample::select(USER_ATTRIBUTES.to_vec()), 0..3usize, "[a-z]{0,3}"),
                0..12,
            ),
        ) {
            let members: Vec<String> = pairs
                .iter()
                .map(|(name, case, value)| {
                    let name = match case {
                        0 => name.to_string(),
                        1 => name.to_uppercase(),
                        _ => name.to_lowercase(),
                    };
                    format!("{}:{}", serde_json::json!(name), serde_json::json!(value))
                })
                .collect();
            let json = format!("{{{}}}", members.join(","));
            prop_assert_eq!(serde_json::from_str::<UserAttributes>(&json).unwrap(), read_as_a_map(&json));
        }
    }

    #[test]
    fn a_snapshot_naming_an_unknown_attribute_is_refused_not_dropped() {
        let error =
            serde_json::from_str::<UserAttributes>(r#"{"department":"Sales","shoeSize":"9"}"#)
                .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown user attribute `shoeSize`"),
            "{error}"
        );
    }

    #[test]
    fn a_later_value_replaces_the_earlier_one() {
        let mut attributes = UserAttributes::default();
        assert!(attributes.insert("jobTitle", "Engineer"));
        assert!(attributes.insert("JOBTITLE", "Manager"));
        assert!(!attributes.insert("shoeSize", "9"));
        assert_eq!(
            attributes.iter().collect::<Vec<_>>(),
            [("jobTitle", "Manager")]
        );
    }
}
