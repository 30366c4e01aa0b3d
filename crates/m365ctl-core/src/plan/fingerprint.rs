//! Fingerprints of the planner's inputs: `sha256:<hex>` over a canonical serialisation of the
//! desired state and of the live tenant, so a saved plan can be refused once either changed.

use super::Fingerprint;
use crate::desired::{
    DesiredGroup, DesiredState, DesiredUser, LicenseIntent, LicenseSet, UserScope,
};
use crate::tenant::{Mailbox, Tenant, User};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
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

/// Canonical form of the desired state, streamed into the hash: fields in alphabetical
/// order and compact, byte for byte what `serde_json::Value`'s sorted maps printed when the
/// canonical form was built as a tree (building it cost ~250 MB at 100,000 users).
#[derive(Serialize)]
struct CanonicalDesired<'a> {
    groups: Entries<'a, DesiredGroup, CanonicalGroup<'a>>,
    scope: CanonicalScope<'a>,
    users: Entries<'a, DesiredUser, CanonicalUser<'a>>,
}

#[derive(Serialize)]
struct CanonicalScope<'a> {
    managed_skus: &'a BTreeSet<String>,
    users: &'static str,
}

#[derive(Serialize)]
struct CanonicalUser<'a> {
    keep: bool,
    licenses: Option<Licenses<'a>>,
    mailbox: Option<&'static str>,
    /// Left out when not managed: fingerprints of configs without `sign_in` are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    sign_in: Option<&'static str>,
    usage_location: &'a Option<String>,
}

#[derive(Serialize)]
struct CanonicalGroup<'a> {
    licenses: Option<Licenses<'a>>,
    members: &'a Option<BTreeSet<String>>,
}

/// skuPartNumber -> disabled plans (`null` when not managed).
struct Licenses<'a>(&'a LicenseSet);

impl Serialize for Licenses<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|l| (&l.sku_part_number, &l.disabled_plans)),
        )
    }
}

/// A `BTreeMap` written through a per-entry view, without materialising the views.
struct Entries<'a, T, V> {
    map: &'a BTreeMap<String, T>,
    view: fn(&'a T) -> V,
}

impl<'a, T, V: Serialize> Serialize for Entries<'a, T, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.map.iter().map(|(k, v)| (k, (self.view)(v))))
    }
}

fn desired_fingerprint(desired: &DesiredState) -> String {
    let canonical = CanonicalDesired {
        groups: Entries {
            map: &desired.groups,
            view: |g| CanonicalGroup {
                licenses: g.licenses.as_ref().map(Licenses),
                members: &g.members,
            },
        },
        scope: CanonicalScope {
            managed_skus: &desired.scope.managed_skus,
            users: match desired.scope.users {
                UserScope::Declared => "declared",
                UserScope::All => "all",
            },
        },
        users: Entries {
            map: &desired.users,
            view: |u| {
                // Every field named: a new one must say whether it is an input of the plan.
                let DesiredUser {
                    upn: _,
                    origin: _,
                    profile: _,
                    usage_location,
                    licenses,
                    license_intent,
                    mailbox,
                    mailbox_deletion_accepted: _,
                    sign_in,
                } = u;
                CanonicalUser {
                    keep: *license_intent == LicenseIntent::Keep,
                    licenses: licenses.as_deref().map(Licenses),
                    mailbox: mailbox.map(|m| m.as_str()),
                    sign_in: sign_in.map(|s| s.as_str()),
                    usage_location,
                }
            },
        },
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
        serializer.collect_seq(self.0.iter().map(|user| match &user.mailbox {
            // One user at a time is copied, never the tenant.
            Some(m)
                if m.size_bytes.is_some()
                    || m.archive_enabled.is_some()
                    || m.litigation_hold.is_some() =>
            {
                let mut copy = user.clone();
                copy.mailbox = Some(Mailbox {
                    kind: m.kind,
                    size_bytes: None,
                    archive_enabled: None,
                    litigation_hold: None,
                });
                Cow::Owned(copy)
            }
            _ => Cow::Borrowed(user),
        }))
    }
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
