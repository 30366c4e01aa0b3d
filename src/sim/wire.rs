//! How the fake renders the tenant model in Graph's and Exchange's JSON shapes.

use crate::tenant::{Group, MailboxType, Sku, Tenant, User};
use serde_json::{Map, Value, json};

/// Rule attributes Graph returns as top-level user properties.
const TOP_LEVEL_ATTRIBUTES: [&str; 4] = ["department", "jobTitle", "companyName", "country"];

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
    let mut extension = Map::new();
    for i in 1..=15 {
        let key = format!("extensionAttribute{i}");
        extension.insert(
            key.clone(),
            u.attribute(&key).map_or(Value::Null, |v| json!(v)),
        );
    }
    let mut assigned: Vec<Value> = Vec::new();
    let mut seen = Vec::new();
    for l in u.licenses.iter().filter(|l| l.is_effective()) {
        if !seen.contains(&&l.sku_id) {
            seen.push(&l.sku_id);
            assigned.push(json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans}));
        }
    }
    let mut value = json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "displayName": u.display_name,
        "accountEnabled": u.account_enabled,
        "usageLocation": u.usage_location,
        "onPremisesSyncEnabled": if u.on_premises_sync_enabled { json!(true) } else { Value::Null },
        "onPremisesExtensionAttributes": extension,
        "assignedLicenses": assigned,
        "licenseAssignmentStates": u.licenses.iter().map(|l| json!({
            "skuId": l.sku_id,
            "disabledPlans": l.disabled_plans,
            "assignedByGroup": l.assigned_by_group,
            "state": l.state,
            "error": l.error.clone().unwrap_or_else(|| "None".into()),
            "lastUpdatedDateTime": "2026-01-01T00:00:00Z",
        })).collect::<Vec<_>>(),
    });
    for key in TOP_LEVEL_ATTRIBUTES {
        value[key] = u.attribute(key).map_or(Value::Null, |v| json!(v));
    }
    value
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

/// Keeps only the `$select`ed properties (Graph returns exactly those).
pub fn select(value: Value, select: Option<&str>) -> Value {
    let (Some(select), Value::Object(map)) = (select, &value) else {
        return value;
    };
    let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| wanted.iter().any(|w| w.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
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
