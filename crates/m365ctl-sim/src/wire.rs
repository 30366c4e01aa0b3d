//! How the fake renders the tenant model in Graph's and Exchange's JSON shapes.

use super::query::{self, Projection};
use super::schema::Shape;
use crate::tenant::{Group, MailboxType, Sku, TOP_LEVEL_ATTRIBUTES, Tenant, USER_ATTRIBUTES, User};
use serde_json::{Value, json};

/// A `subscribedSku`: `id` is `{tenantId}_{skuId}` and `accountId` the tenant, as Graph
/// writes them (https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku).
pub fn sku(s: &Sku, tenant_id: &str, account_name: &str) -> Value {
    json!({
        "id": format!("{tenant_id}_{}", s.sku_id),
        "accountId": tenant_id,
        "accountName": account_name,
        "skuId": s.sku_id,
        "skuPartNumber": s.sku_part_number,
        "appliesTo": s.applies_to,
        "capabilityStatus": s.capability_status,
        "consumedUnits": s.consumed,
        "prepaidUnits": {"enabled": s.enabled, "warning": s.warning, "suspended": 0, "lockedOut": 0},
        "subscriptionIds": [derived_guid(&s.sku_id)],
        "servicePlans": s.service_plans.iter().map(|p| json!({
            "servicePlanId": p.service_plan_id,
            "servicePlanName": p.service_plan_name,
            "provisioningStatus": "Success",
            "appliesTo": "User",
        })).collect::<Vec<_>>(),
    })
}

/// A stable GUID-shaped id derived from `seed` (subscription ids, mailbox GUIDs): the model
/// has no such ids, and clients must not be able to tell.
pub fn derived_guid(seed: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in seed.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A `user` with every property Graph knows (write answers, tests).
pub fn user(u: &User) -> Value {
    serde_json::to_value(UserView {
        user: u,
        projection: &Projection::all(&query::USER),
    })
    .expect("a user serialises")
}

/// A `user` serialised straight from the model with its projection applied while writing:
/// paging 100,000 users through an intermediate `Value` per user cost the fake more than
/// Graph's own latency. Properties the model does not hold are written as Graph writes unset
/// ones: `null`, or `[]` for collections.
pub struct UserView<'a> {
    /// The user.
    pub user: &'a User,
    /// Which properties to write.
    pub projection: &'a Projection,
}

impl serde::Serialize for UserView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let u = self.user;
        let mut map = serializer.serialize_map(Some(self.projection.properties.len()))?;
        for &key in &self.projection.properties {
            match key {
                "id" => map.serialize_entry(key, &u.id)?,
                "userPrincipalName" => map.serialize_entry(key, &u.user_principal_name)?,
                "displayName" => map.serialize_entry(key, &u.display_name)?,
                "accountEnabled" => map.serialize_entry(key, &u.account_enabled)?,
                "usageLocation" => map.serialize_entry(key, &u.usage_location)?,
                "mail" => map.serialize_entry(
                    key,
                    &u.mailbox.as_ref().map(|_| u.user_principal_name.as_str()),
                )?,
                "onPremisesSyncEnabled" => {
                    map.serialize_entry(key, &u.on_premises_sync_enabled.then_some(true))?
                }
                "onPremisesExtensionAttributes" => {
                    map.serialize_entry(key, &ExtensionAttributes(u))?
                }
                "assignedLicenses" => {
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
                    map.serialize_entry(key, &assigned)?
                }
                "licenseAssignmentStates" => {
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
                    map.serialize_entry(key, &states)?
                }
                _ if USER_ATTRIBUTES[..TOP_LEVEL_ATTRIBUTES].contains(&key) => {
                    map.serialize_entry(key, &u.attribute(key))?
                }
                _ => unset(&mut map, &query::USER, key)?,
            }
        }
        map.end()
    }
}

/// Writes a property the model does not hold: `[]` for a collection, Graph's default for the
/// few non-nullable single values (`birthday` and `hireDate` come back as
/// `0001-01-01T08:00:00Z` when unset; `deviceEnrollmentLimit` defaults to 5, user resource),
/// else `null`.
fn unset<M: serde::ser::SerializeMap>(
    map: &mut M,
    entity: &query::EntityType,
    key: &str,
) -> Result<(), M::Error> {
    match (key, entity.property(key)) {
        (_, Some((_, Shape::Collection))) => map.serialize_entry(key, &[(); 0]),
        ("birthday" | "hireDate", _) => map.serialize_entry(key, "0001-01-01T08:00:00Z"),
        ("deviceEnrollmentLimit", _) => map.serialize_entry(key, &5),
        _ => map.serialize_entry(key, &()),
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

/// A `group` with the properties of `projection`. The fake's groups are security groups
/// (the only kind group-based licensing accepts); `mailNickname` is required by Graph and
/// derived from the id, since the model has none.
pub fn group(g: &Group, projection: &Projection) -> Value {
    let mut out = serde_json::Map::new();
    for &key in &projection.properties {
        let value = match key {
            "id" => json!(g.id),
            "displayName" => json!(g.display_name),
            "securityEnabled" => json!(true),
            "mailEnabled" => json!(false),
            "mailNickname" => json!(g.id),
            "assignedLicenses" => json!(
                g.licenses
                    .iter()
                    .map(|l| json!({"skuId": l.sku_id, "disabledPlans": l.disabled_plans}))
                    .collect::<Vec<_>>()
            ),
            "hasMembersWithLicenseErrors" => json!(false),
            _ => match query::GROUP.property(key) {
                Some((_, Shape::Collection)) => json!([]),
                _ => Value::Null,
            },
        };
        out.insert(key.to_string(), value);
    }
    Value::Object(out)
}

/// Exchange's text form of a size: `"1.234 GB (1,325,400,064 bytes)"`.
fn exchange_size(bytes: u64) -> String {
    let grouped = bytes
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",");
    format!("{} ({grouped} bytes)", crate::tenant::human_size(bytes))
}

/// The mailbox's alias: the UPN's local part, as Exchange derives it by default.
pub fn alias(u: &User) -> &str {
    u.user_principal_name
        .split('@')
        .next()
        .unwrap_or(&u.user_principal_name)
}

/// A `Get-Mailbox` record with the properties Exchange Online returns for it (Get-Mailbox,
/// https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailbox), not
/// only the few m365ctl reads.
pub fn mailbox(u: &User) -> Option<Value> {
    let m = u.mailbox.as_ref()?;
    let details = m.kind.recipient_type_details();
    let display = u
        .display_name
        .clone()
        .unwrap_or_else(|| alias(u).to_string());
    let guid = derived_guid(&format!("mailbox:{}", u.id));
    let gb = |n: u64| exchange_size(n * 1024 * 1024 * 1024);
    let archive = m.archive_enabled.unwrap_or(false);
    let mut record = json!({
        "Identity": alias(u),
        "Id": alias(u),
        "Name": alias(u),
        "Alias": alias(u),
        "DisplayName": display,
        "Guid": guid,
        "ExchangeGuid": derived_guid(&format!("exchange:{}", u.id)),
        "ExternalDirectoryObjectId": u.id,
        "UserPrincipalName": u.user_principal_name,
        "PrimarySmtpAddress": u.user_principal_name,
        "WindowsEmailAddress": u.user_principal_name,
        "EmailAddresses": [format!("SMTP:{}", u.user_principal_name)],
        "DistinguishedName": format!("CN={},OU=sim.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizations,DC=SIMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM", alias(u)),
        "RecipientType": "UserMailbox",
        "RecipientTypeDetails": details,
        "IsShared": m.kind == MailboxType::Shared,
        "IsResource": matches!(m.kind, MailboxType::Room | MailboxType::Equipment),
        "IsMailboxEnabled": true,
        "IsDirSynced": u.on_premises_sync_enabled,
        "AccountDisabled": !u.account_enabled,
        "HiddenFromAddressListsEnabled": false,
        "ArchiveStatus": if archive { "Active" } else { "None" },
        "ArchiveGuid": if archive { derived_guid(&format!("archive:{}", u.id)) } else { "00000000-0000-0000-0000-000000000000".to_string() },
        "ArchiveName": if archive { vec![format!("In-Place Archive - {display}")] } else { Vec::new() },
        "LitigationHoldEnabled": m.litigation_hold,
        "RetentionHoldEnabled": false,
        "InPlaceHolds": [],
        "ProhibitSendQuota": gb(99),
        "ProhibitSendReceiveQuota": gb(100),
        "IssueWarningQuota": gb(98),
        "UsageLocation": u.usage_location,
        "WhenCreated": "2024-01-01T00:00:00+00:00",
        "WhenChanged": "2026-01-01T00:00:00+00:00",
    });
    // A fact the served tenant does not hold is left out, never invented.
    if let Some(fields) = record.as_object_mut() {
        if m.archive_enabled.is_none() {
            for key in ["ArchiveStatus", "ArchiveGuid", "ArchiveName"] {
                fields.remove(key);
            }
        }
        if m.litigation_hold.is_none() {
            fields.remove("LitigationHoldEnabled");
        }
    }
    Some(record)
}

/// A `Get-MailboxStatistics` record with Exchange's text sizes
/// (https://learn.microsoft.com/en-us/powershell/module/exchangepowershell/get-mailboxstatistics),
/// for every mailbox (Exchange keeps statistics for user, shared and resource mailboxes
/// alike); without the sizes when the served tenant does not know them.
pub fn statistics(u: &User) -> Option<Value> {
    let m = u.mailbox.as_ref()?;
    let mut record = json!({
        "DisplayName": u.display_name.clone().unwrap_or_else(|| alias(u).to_string()),
        "MailboxGuid": derived_guid(&format!("exchange:{}", u.id)),
        "MailboxTypeDetail": m.kind.recipient_type_details(),
        "TotalDeletedItemSize": exchange_size(0),
        "DeletedItemCount": 0,
        "IsArchiveMailbox": false,
        "LastLogonTime": null,
    });
    if let Some(size) = m.size_bytes {
        record["TotalItemSize"] = json!(exchange_size(size));
        record["ItemCount"] = json!(size / 75_000);
    }
    Some(record)
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
        let projection = Projection::parse(
            &query::USER,
            Some("ID, usagelocation,assignedLicenses,city"),
            true,
        )
        .unwrap();
        let v = serde_json::to_value(UserView {
            user: &ann(),
            projection: &projection,
        })
        .unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["assignedLicenses", "city", "id", "usageLocation"]);
        assert_eq!(v["city"], Value::Null, "a property the model lacks is null");
        let full = user(&ann());
        for key in keys {
            assert_eq!(
                full[key], v[key],
                "the projection and the full user agree on {key}"
            );
        }
    }
}
