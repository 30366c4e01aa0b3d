//! How the fake renders the tenant model in Graph's and Exchange's JSON shapes.

use crate::tenant::{Group, MailboxType, Sku, TOP_LEVEL_ATTRIBUTES, Tenant, USER_ATTRIBUTES, User};
use serde_json::{Value, json};

/// A `subscribedSku`.
pub fn sku(s: &Sku) -> Value {
    json!({
        "id": format!("tenant_{}", s.sku_id),
        "skuId": s.sku_id,
        "skuPartNumber": s.sku_part_number,
        "appliesTo": s.applies_to,
        "capabilityStatus": s.capability_status,
        "consumedUnits": s.consumed,
        "prepaidUnits": {"enabled": s.enabled, "warning": s.warning, "suspended": 0, "lockedOut": 0},
        "servicePlans": s.service_plans.iter().map(|p| json!({
            "servicePlanId": p.service_plan_id,
            "servicePlanName": p.service_plan_name,
            "provisioningStatus": "Success",
            "appliesTo": "User",
        })).collect::<Vec<_>>(),
    })
}

/// A `user` with every property the backend may `$select`.
pub fn user(u: &User) -> Value {
    serde_json::to_value(UserView {
        user: u,
        select: &Select::all(),
    })
    .expect("a user serialises")
}

/// A `$select` list, parsed once per request (Graph matches property names case-insensitively).
pub struct Select<'a>(Option<Vec<&'a str>>);

impl<'a> Select<'a> {
    /// From the `$select` query parameter; `None` selects every property.
    pub fn parse(select: Option<&'a str>) -> Select<'a> {
        Select(select.map(|s| s.split(',').map(str::trim).collect()))
    }

    fn all() -> Select<'static> {
        Select(None)
    }

    /// Keeps only the selected properties of an object (Graph returns exactly those).
    pub fn apply(&self, value: Value) -> Value {
        match (&self.0, value) {
            (Some(_), Value::Object(map)) => {
                Value::Object(map.into_iter().filter(|(k, _)| self.wants(k)).collect())
            }
            (_, value) => value,
        }
    }

    fn wants(&self, key: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k.eq_ignore_ascii_case(key)))
    }
}

/// A `user` serialised straight from the model, `$select` applied while writing: paging
/// 100,000 users through an intermediate `Value` per user cost the fake more than Graph's
/// own latency.
pub struct UserView<'a> {
    /// The user.
    pub user: &'a User,
    /// Which properties to write.
    pub select: &'a Select<'a>,
}

impl serde::Serialize for UserView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let u = self.user;
        let mut map = serializer.serialize_map(None)?;
        if self.select.wants("id") {
            map.serialize_entry("id", &u.id)?;
        }
        if self.select.wants("userPrincipalName") {
            map.serialize_entry("userPrincipalName", &u.user_principal_name)?;
        }
        if self.select.wants("displayName") {
            map.serialize_entry("displayName", &u.display_name)?;
        }
        if self.select.wants("accountEnabled") {
            map.serialize_entry("accountEnabled", &u.account_enabled)?;
        }
        if self.select.wants("usageLocation") {
            map.serialize_entry("usageLocation", &u.usage_location)?;
        }
        if self.select.wants("onPremisesSyncEnabled") {
            map.serialize_entry(
                "onPremisesSyncEnabled",
                &u.on_premises_sync_enabled.then_some(true),
            )?;
        }
        if self.select.wants("onPremisesExtensionAttributes") {
            map.serialize_entry("onPremisesExtensionAttributes", &ExtensionAttributes(u))?;
        }
        if self.select.wants("assignedLicenses") {
            let mut seen: Vec<&str> = Vec::new();
            let assigned: Vec<AssignedLicense<'_>> = u
                .licenses
                .iter()
                .filter(|l| l.is_effective())
                .filter(|l| {
                    let first = !seen.contains(&l.sku_id.as_str());
                    seen.push(&l.sku_id);
                    first
                })
                .map(|l| AssignedLicense {
                    sku_id: &l.sku_id,
                    disabled_plans: &l.disabled_plans,
                })
                .collect();
            map.serialize_entry("assignedLicenses", &assigned)?;
        }
        if self.select.wants("licenseAssignmentStates") {
            let states: Vec<AssignmentState<'_>> = u
                .licenses
                .iter()
                .map(|l| AssignmentState {
                    sku_id: &l.sku_id,
                    disabled_plans: &l.disabled_plans,
                    assigned_by_group: l.assigned_by_group.as_deref(),
                    state: &l.state,
                    error: l.error.as_deref().unwrap_or("None"),
                    last_updated_date_time: "2026-01-01T00:00:00Z",
                })
                .collect();
            map.serialize_entry("licenseAssignmentStates", &states)?;
        }
        for key in &USER_ATTRIBUTES[..TOP_LEVEL_ATTRIBUTES] {
            if self.select.wants(key) {
                map.serialize_entry(key, &u.attribute(key))?;
            }
        }
        map.end()
    }
}

/// `onPremisesExtensionAttributes`: all fifteen, `null` when unset.
struct ExtensionAttributes<'a>(&'a User);

impl serde::Serialize for ExtensionAttributes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(15))?;
        for key in &USER_ATTRIBUTES[TOP_LEVEL_ATTRIBUTES..] {
            map.serialize_entry(key, &self.0.attribute(key))?;
        }
        map.end()
    }
}

/// `assignedLicense`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignedLicense<'a> {
    sku_id: &'a str,
    disabled_plans: &'a [String],
}

/// `licenseAssignmentState`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentState<'a> {
    sku_id: &'a str,
    disabled_plans: &'a [String],
    assigned_by_group: Option<&'a str>,
    state: &'a str,
    error: &'a str,
    last_updated_date_time: &'a str,
}

/// A `group`.
pub fn group(g: &Group) -> Value {
    json!({
        "id": g.id,
        "displayName": g.display_name,
        "securityEnabled": true,
        "assignedLicenses": g.licenses.iter().map(|l| json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans})).collect::<Vec<_>>(),
    })
}

/// `GET /users/{id}/licenseDetails`: one entry per SKU the user holds (directly or via a
/// group), with the service plans and their provisioning status (disabled ones `Disabled`).
pub fn license_details(tenant: &Tenant, u: &User) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    u.licenses
        .iter()
        .filter(|l| seen.insert(l.sku_id.as_str()))
        .filter_map(|l| {
            let sku = tenant.skus.iter().find(|s| s.sku_id == l.sku_id)?;
            let plans: Vec<Value> = sku
                .service_plans
                .iter()
                .map(|p| {
                    let disabled = l.disabled_plans.contains(&p.service_plan_id);
                    json!({
                        "servicePlanId": p.service_plan_id,
                        "servicePlanName": p.service_plan_name,
                        "provisioningStatus": if disabled { "Disabled" } else { "Success" },
                        "appliesTo": "User",
                    })
                })
                .collect();
            Some(json!({
                "id": format!("{}-{}", u.id, sku.sku_id),
                "skuId": sku.sku_id,
                "skuPartNumber": sku.sku_part_number,
                "servicePlans": plans,
            }))
        })
        .collect()
}

/// A `Get-Mailbox` record.
pub fn mailbox(u: &User) -> Option<Value> {
    let m = u.mailbox.as_ref()?;
    let details = match m.kind {
        MailboxType::User => "UserMailbox",
        MailboxType::Shared => "SharedMailbox",
        MailboxType::Room => "RoomMailbox",
        MailboxType::Equipment => "EquipmentMailbox",
    };
    Some(json!({
        "ExternalDirectoryObjectId": u.id,
        "UserPrincipalName": u.user_principal_name,
        "PrimarySmtpAddress": u.user_principal_name,
        "RecipientTypeDetails": details,
        "ArchiveStatus": if m.archive_enabled { "Active" } else { "None" },
        "LitigationHoldEnabled": m.litigation_hold,
    }))
}

/// A `Get-MailboxStatistics` record with Exchange's text size.
pub fn statistics(u: &User) -> Option<Value> {
    let m = u.mailbox.as_ref()?;
    let bytes = m.size_bytes;
    let grouped = bytes
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",");
    Some(json!({
        "DisplayName": u.display_name,
        "TotalItemSize": format!("{} ({grouped} bytes)", crate::tenant::human_size(bytes)),
    }))
}

/// Users with a mailbox, in Exchange's order (the tenant's canonical order).
pub fn mailbox_users(tenant: &Tenant) -> impl Iterator<Item = &User> {
    tenant.users.iter().filter(|u| u.mailbox.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::LicenseAssignment;

    fn assignment(sku: &str, group: Option<&str>, state: &str) -> LicenseAssignment {
        LicenseAssignment {
            sku_id: sku.into(),
            disabled_plans: vec!["p1".into()],
            assigned_by_group: group.map(str::to_string),
            state: state.into(),
            error: (state == "Error").then(|| "CountViolation".to_string()),
        }
    }

    fn ann() -> User {
        User {
            id: "u1".into(),
            user_principal_name: "ann@contoso.com".into(),
            display_name: None,
            account_enabled: true,
            usage_location: Some("GB".into()),
            on_premises_sync_enabled: false,
            attributes: [
                ("department".to_string(), "Sales".to_string()),
                ("extensionAttribute3".to_string(), "FTE".to_string()),
            ]
            .into_iter()
            .collect(),
            licenses: vec![
                assignment("e3", None, "Active"),
                assignment("e3", Some("g1"), "Active"),
                assignment("e5", Some("g2"), "Error"),
            ],
            mailbox: None,
        }
    }

    #[test]
    fn a_user_is_written_in_graphs_shape() {
        let v = user(&ann());
        assert_eq!(v["id"], "u1");
        assert_eq!(v["displayName"], Value::Null);
        assert_eq!(v["onPremisesSyncEnabled"], Value::Null);
        assert_eq!(v["department"], "Sales");
        assert_eq!(v["jobTitle"], Value::Null);
        let ext = v["onPremisesExtensionAttributes"].as_object().unwrap();
        assert_eq!(ext.len(), 15);
        assert_eq!(ext["extensionAttribute3"], "FTE");
        assert_eq!(ext["extensionAttribute1"], Value::Null);
        // One assignedLicense per effective SKU, whatever the number of paths; the errored
        // group assignment shows only in licenseAssignmentStates.
        assert_eq!(
            v["assignedLicenses"],
            json!([{"skuId": "e3", "disabledPlans": ["p1"]}])
        );
        let states = v["licenseAssignmentStates"].as_array().unwrap();
        assert_eq!(states.len(), 3);
        assert_eq!(states[0]["assignedByGroup"], Value::Null);
        assert_eq!(states[0]["error"], "None");
        assert_eq!(states[2]["assignedByGroup"], "g2");
        assert_eq!(states[2]["error"], "CountViolation");
    }

    #[test]
    fn select_keeps_exactly_the_named_properties_case_insensitively() {
        let select = Select::parse(Some("ID, usagelocation,assignedLicenses"));
        let v = serde_json::to_value(UserView {
            user: &ann(),
            select: &select,
        })
        .unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["assignedLicenses", "id", "usageLocation"]);
        let trimmed = select.apply(user(&ann()));
        assert_eq!(trimmed, v, "the typed and the generic select agree");
    }
}
