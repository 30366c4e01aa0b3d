//! Fingerprints of the planner's inputs: `sha256:<hex>` over a canonical serialisation of the
//! desired state and of the live tenant, so a saved plan can be refused once either changed.

use super::Fingerprint;
use crate::desired::{DesiredGroup, DesiredState, DesiredUser, UserScope};
use crate::tenant::{LicenseAssignment, Mailbox, Tenant, User, UserAttributes};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Fingerprints both inputs, as the plan for them records it. Origins (file positions) are
/// left out: moving a line in the TOML does not make a reviewed plan stale. Mailbox facts
/// count only for the mailboxes the plan depends on (`plan::facts_needed`).
pub fn fingerprint(desired: &DesiredState, live: &Tenant) -> Fingerprint {
    let ix = super::index::Index::new(live);
    let needed = super::intent::diff(desired, &ix).needs_facts;
    with_facts(without_facts(desired, live), live, &needed)
}

/// The fingerprint with every mailbox fact left out: it does not depend on the diff, so the
/// planner hashes it beside the diff and adds the facts it needed with `with_facts`.
pub(super) fn without_facts(desired: &DesiredState, live: &Tenant) -> Fingerprint {
    Fingerprint {
        desired: desired_fingerprint(desired),
        live: live_fingerprint(live),
    }
}

/// Adds the facts of the mailboxes of `needed` (user indexes) to a `without_facts`
/// fingerprint. Facts of other mailboxes are not part of the plan's inputs: a mailbox the
/// plan never judged growing by a message does not make it stale, and a backend that read
/// only the facts the plan needs fingerprints the tenant like one that read them all.
pub(super) fn with_facts(base: Fingerprint, live: &Tenant, needed: &[usize]) -> Fingerprint {
    let mut facts: Vec<(&str, &crate::tenant::Mailbox)> = needed
        .iter()
        .filter_map(|&ui| live.users.get(ui))
        .filter_map(|u| u.mailbox.as_ref().map(|m| (u.id.as_str(), m)))
        .collect();
    facts.sort_unstable_by_key(|(id, _)| *id);
    facts.dedup_by_key(|(id, _)| *id);
    Fingerprint {
        live: hash_json(&(&base.live, facts)),
        desired: base.desired,
    }
}

/// Canonical form of the desired state, streamed into the hash: the model types' own
/// `Serialize` (`DesiredUser`, `DesiredGroup`, `LicenseSet`: fields in alphabetical order,
/// origins skipped), compact, byte for byte what `serde_json::Value`'s sorted maps printed
/// when the canonical form was built as a tree (building it cost ~250 MB at 100,000 users).
#[derive(Serialize)]
struct CanonicalDesired<'a> {
    groups: &'a BTreeMap<String, DesiredGroup>,
    scope: CanonicalScope<'a>,
    users: &'a BTreeMap<String, DesiredUser>,
}

#[derive(Serialize)]
struct CanonicalScope<'a> {
    managed_skus: &'a BTreeSet<String>,
    users: &'static str,
}

fn desired_fingerprint(desired: &DesiredState) -> String {
    let canonical = CanonicalDesired {
        groups: &desired.groups,
        scope: CanonicalScope {
            managed_skus: &desired.scope.managed_skus,
            users: match desired.scope.users {
                UserScope::Declared => "declared",
                UserScope::All => "all",
            },
        },
        users: &desired.users,
    };
    hash_json(&canonical)
}

/// Hashes the tenant's canonical JSON, mailbox facts left out, as it streams out, without
/// copying a normalised tenant.
fn live_fingerprint(live: &Tenant) -> String {
    if live.is_normalized() {
        hash_json(&WithoutFacts(live))
    } else {
        let mut copy = live.clone();
        copy.normalize();
        hash_json(&WithoutFacts(&copy))
    }
}

/// A tenant written as its own JSON with every mailbox's size, archive and hold unknown.
struct WithoutFacts<'a>(&'a Tenant);

impl Serialize for WithoutFacts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let tenant = self.0;
        let mut out = serializer.serialize_struct("Tenant", 4)?;
        match &tenant.tenant_id {
            Some(_) => out.serialize_field("tenant_id", &tenant.tenant_id)?,
            None => out.skip_field("tenant_id")?,
        }
        out.serialize_field("skus", &tenant.skus)?;
        out.serialize_field("users", &UsersWithoutFacts(&tenant.users))?;
        out.serialize_field("groups", &tenant.groups)?;
        out.end()
    }
}

struct UsersWithoutFacts<'a>(&'a [User]);

impl Serialize for UsersWithoutFacts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(UserWithoutFacts::of))
    }
}

/// One user written as `User` writes itself with its mailbox's size, archive and hold unknown,
/// borrowing every field (a copy per user with a mailbox was a million allocations on a
/// 1,000,000-user tenant). `of` takes the user apart field by field, so a field added to
/// `User` does not compile here until it is written here too.
#[derive(Serialize)]
struct UserWithoutFacts<'a> {
    id: &'a str,
    user_principal_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    account_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_location: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    on_premises_sync_enabled: bool,
    #[serde(skip_serializing_if = "no_attributes")]
    attributes: &'a UserAttributes,
    #[serde(skip_serializing_if = "no_licences")]
    licenses: &'a [LicenseAssignment],
    #[serde(skip_serializing_if = "Option::is_none")]
    mailbox: Option<Mailbox>,
}

impl<'a> UserWithoutFacts<'a> {
    fn of(user: &'a User) -> UserWithoutFacts<'a> {
        let User {
            id,
            user_principal_name,
            display_name,
            account_enabled,
            usage_location,
            on_premises_sync_enabled,
            attributes,
            licenses,
            mailbox,
        } = user;
        UserWithoutFacts {
            id,
            user_principal_name,
            display_name: display_name.as_deref(),
            account_enabled: *account_enabled,
            usage_location: usage_location.as_deref(),
            on_premises_sync_enabled: *on_premises_sync_enabled,
            attributes,
            licenses,
            mailbox: mailbox.as_ref().map(|m| Mailbox {
                kind: m.kind,
                size_bytes: None,
                archive_enabled: None,
                litigation_hold: None,
            }),
        }
    }
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

fn no_attributes(attributes: &&UserAttributes) -> bool {
    attributes.is_empty()
}

fn no_licences(licences: &&[LicenseAssignment]) -> bool {
    licences.is_empty()
}

/// `sha256:<hex>` of the compact JSON of `value`, streamed through a 64 KiB buffer (serde_json
/// writes in fragments of a few bytes; feeding those to the hasher one by one cost more
/// than the hashing).
fn hash_json(value: &impl Serialize) -> String {
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, HashWriter(Sha256::new()));
    serde_json::to_writer(&mut buffered, value).expect("the planner's inputs serialise to JSON");
    let hasher = buffered
        .into_inner()
        .unwrap_or_else(|_| unreachable!("hashing never fails"));
    format!("sha256:{}", hex(&hasher.0.finalize()))
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lower-case hex of a digest (sha2 0.11 digests do not implement `LowerHex`).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DesiredLicense, LicenseIntent, LicenseSet};
    use crate::tenant::MailboxType;
    use std::sync::Arc;

    /// Top-level keys of a JSON object, in the order they were written.
    fn keys_in_order(json: &str) -> Vec<String> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, serde::de::IgnoredAny)) = map.next_entry::<String, _>()? {
                    keys.push(key);
                }
                Ok(keys)
            }
        }
        serde::Deserializer::deserialize_map(&mut serde_json::Deserializer::from_str(json), Keys)
            .unwrap()
    }

    fn every_field_set() -> DesiredUser {
        let mut licenses = LicenseSet::default();
        licenses.insert(DesiredLicense {
            sku_part_number: "ENTERPRISEPACK".into(),
            disabled_plans: Some(["YAMMER_ENTERPRISE".to_string()].into()),
            origin: None,
        });
        DesiredUser {
            upn: "ann@contoso.com".into(),
            origin: None,
            profile: Some("staff".into()),
            usage_location: Some("GB".into()),
            licenses: Some(Arc::new(licenses)),
            license_intent: LicenseIntent::Keep,
            mailbox: Some(MailboxType::Shared),
            mailbox_deletion_accepted: true,
            sign_in: Some(crate::tenant::ops::SignIn::Blocked),
        }
    }

    /// The derived canonical form is the hand-written one saved plans were fingerprinted
    /// with: the same keys, alphabetical, the same values.
    #[test]
    fn the_derived_canonical_user_is_the_form_saved_plans_were_fingerprinted_with() {
        let json = serde_json::to_string(&every_field_set()).unwrap();
        assert_eq!(
            json,
            r#"{"keep":true,"licenses":{"ENTERPRISEPACK":["YAMMER_ENTERPRISE"]},"mailbox":"shared","sign_in":"blocked","usage_location":"GB"}"#
        );
        let keys = keys_in_order(&json);
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "canonical keys stay in alphabetical order");
    }

    /// A user whose sign-in is not managed is fingerprinted as before `sign_in` existed.
    #[test]
    fn an_unmanaged_sign_in_leaves_the_canonical_form_unchanged() {
        let user = DesiredUser {
            sign_in: None,
            ..every_field_set()
        };
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            r#"{"keep":true,"licenses":{"ENTERPRISEPACK":["YAMMER_ENTERPRISE"]},"mailbox":"shared","usage_location":"GB"}"#
        );
    }

    /// The borrowed form writes a user exactly as a copy of it with unknown facts writes
    /// itself: every field set or left at its default, every mailbox type and fact.
    #[test]
    fn a_user_without_facts_is_written_as_a_copy_with_the_facts_unknown() {
        use crate::tenant::{LicenseAssignment, UserAttributes};
        let full = User {
            id: "u1".into(),
            user_principal_name: "Ann@contoso.com".into(),
            display_name: Some("Ann \"A\" Smith".into()),
            account_enabled: false,
            usage_location: Some("GB".into()),
            on_premises_sync_enabled: true,
            attributes: UserAttributes::from([("department", "Sales"), ("country", "UK")]),
            licenses: vec![LicenseAssignment {
                sku_id: "sku".into(),
                disabled_plans: vec!["p".into()],
                assigned_by_group: Some("g".into()),
                state: "Error".into(),
                error: Some("CountViolation".into()),
            }],
            mailbox: None,
        };
        let bare = User {
            id: "u2".into(),
            user_principal_name: "bob@contoso.com".into(),
            display_name: None,
            account_enabled: true,
            usage_location: None,
            on_premises_sync_enabled: false,
            attributes: UserAttributes::default(),
            licenses: vec![],
            mailbox: None,
        };
        let mailboxes = MailboxType::ALL.into_iter().flat_map(|kind| {
            [
                (Some(0), Some(false), Some(false)),
                (Some(7), Some(true), None),
                (None, None, None),
            ]
            .map(|(size_bytes, archive_enabled, litigation_hold)| {
                Some(Mailbox {
                    kind,
                    size_bytes,
                    archive_enabled,
                    litigation_hold,
                })
            })
        });
        for mailbox in mailboxes.chain([None]) {
            for user in [&full, &bare] {
                let user = User {
                    mailbox: mailbox.clone(),
                    ..user.clone()
                };
                let mut copy = user.clone();
                copy.mailbox = mailbox.as_ref().map(|m| Mailbox {
                    kind: m.kind,
                    size_bytes: None,
                    archive_enabled: None,
                    litigation_hold: None,
                });
                assert_eq!(
                    serde_json::to_string(&UserWithoutFacts::of(&user)).unwrap(),
                    serde_json::to_string(&copy).unwrap()
                );
            }
        }
    }

    #[test]
    fn every_mailbox_type_is_fingerprinted_by_its_config_name() {
        for kind in MailboxType::ALL {
            let user = DesiredUser {
                mailbox: Some(kind),
                ..every_field_set()
            };
            let json = serde_json::to_value(&user).unwrap();
            assert_eq!(json["mailbox"], kind.as_str());
        }
    }
}
