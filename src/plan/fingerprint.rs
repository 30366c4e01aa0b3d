//! Fingerprints of the planner's inputs: `sha256:<hex>` over a canonical serialisation of the
//! desired state and of the live tenant, so a saved plan can be refused once either changed.

use super::Fingerprint;
use crate::desired::{DesiredLicense, DesiredState, LicenseIntent, UserScope};
use crate::planfile::hex;
use crate::tenant::Tenant;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Fingerprints both inputs. Origins (file positions) are left out: moving a line in the TOML
/// does not make a reviewed plan stale.
pub fn fingerprint(desired: &DesiredState, live: &Tenant) -> Fingerprint {
    Fingerprint {
        desired: desired_fingerprint(desired),
        live: live_fingerprint(live),
    }
}

fn licenses(map: &Option<BTreeMap<String, DesiredLicense>>) -> Value {
    match map {
        None => Value::Null,
        Some(map) => map
            .iter()
            .map(|(part, l)| (part.clone(), json!(l.disabled_plans)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn desired_fingerprint(desired: &DesiredState) -> String {
    let users: serde_json::Map<String, Value> = desired
        .users
        .iter()
        .map(|(upn, u)| {
            let value = json!({
                "usage_location": u.usage_location,
                "licenses": licenses(&u.licenses),
                "keep": u.license_intent == LicenseIntent::Keep,
                "mailbox": u.mailbox.map(|m| m.as_str()),
            });
            (upn.clone(), value)
        })
        .collect();
    let groups: serde_json::Map<String, Value> = desired
        .groups
        .iter()
        .map(|(name, g)| {
            let value = json!({ "licenses": licenses(&g.licenses), "members": g.members });
            (name.clone(), value)
        })
        .collect();
    let canonical = json!({
        "scope": {
            "managed_skus": desired.scope.managed_skus,
            "users": match desired.scope.users { UserScope::Declared => "declared", UserScope::All => "all" },
        },
        "users": users,
        "groups": groups,
    });
    digest(canonical.to_string().as_bytes())
}

/// Hashes the tenant's canonical JSON as it streams out, without copying a normalised tenant.
fn live_fingerprint(live: &Tenant) -> String {
    let mut hasher = HashWriter(Sha256::new());
    let write = |tenant: &Tenant, hasher: &mut HashWriter| {
        serde_json::to_writer(hasher, tenant).expect("the tenant serialises to JSON");
    };
    if is_normalized(live) {
        write(live, &mut hasher);
    } else {
        let mut copy = live.clone();
        copy.normalize();
        write(&copy, &mut hasher);
    }
    format!("sha256:{}", hex(&hasher.0.finalize()))
}

fn is_normalized(t: &Tenant) -> bool {
    t.skus
        .is_sorted_by(|a, b| a.sku_part_number <= b.sku_part_number)
        && t.groups
            .is_sorted_by(|a, b| a.display_name <= b.display_name)
        && t.users.is_sorted_by(|a, b| {
            a.user_principal_name.to_ascii_lowercase() <= b.user_principal_name.to_ascii_lowercase()
        })
        && t.users.iter().all(|u| {
            u.licenses.is_sorted_by(|a, b| {
                (&a.sku_id, &a.assigned_by_group) <= (&b.sku_id, &b.assigned_by_group)
            }) && u.licenses.iter().all(|l| l.disabled_plans.is_sorted())
        })
        && t.groups
            .iter()
            .all(|g| g.members.is_sorted() && g.licenses.is_sorted_by(|a, b| a.sku_id <= b.sku_id))
        && t.skus.iter().all(|s| {
            s.service_plans
                .is_sorted_by(|a, b| a.service_plan_name <= b.service_plan_name)
        })
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
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
