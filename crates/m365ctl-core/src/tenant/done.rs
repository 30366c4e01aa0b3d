//! Whether an operation is already in effect in a tenant: the pure half of the executor's
//! re-check before each write, which makes re-runs (after a crash, or a second `apply`)
//! idempotent instead of sending duplicate writes.

use super::Tenant;
use super::ops::OpKind;

/// True when the tenant already looks the way `op` would make it. A missing target is "not
/// in effect": the write is attempted and the backend reports the real error.
pub fn is_in_effect(live: &Tenant, op: &OpKind) -> bool {
    op.kind().is_in_effect(live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::MailboxType;
    use crate::tenant::ops::{
        AddGroupMember, AssignGroupLicenses, AssignLicenses, ConvertMailbox, RemoveGroupMember,
        SetUsageLocation,
    };
    use crate::tenant::ops::{LicenseGrant, LicenseRemoval};

    fn live() -> Tenant {
        serde_json::from_value(serde_json::json!({
            "skus": [{"sku_id": "e3", "sku_part_number": "ENTERPRISEPACK", "enabled": 5, "consumed": 1}],
            "users": [{"id": "u1", "user_principal_name": "ann@contoso.com", "usage_location": "gb",
                       "licenses": [{"sku_id": "e3", "disabled_plans": ["p2", "p1"]}],
                       "mailbox": {"type": "user"}}],
            "groups": [{"id": "g1", "display_name": "LIC-E3", "members": ["u1"],
                        "licenses": [{"sku_id": "e3"}]}]
        }))
        .unwrap()
    }

    fn grant(plans: &[&str]) -> LicenseGrant {
        LicenseGrant {
            sku_id: "e3".into(),
            sku_part_number: "ENTERPRISEPACK".into(),
            disabled_plans: plans.iter().map(|p| p.to_string()).collect(),
            disabled_plan_names: vec![],
            replaces_disabled: None,
        }
    }

    fn assign(add: Vec<LicenseGrant>, remove: Vec<LicenseRemoval>) -> OpKind {
        OpKind::AssignLicenses(AssignLicenses {
            user_id: "u1".into(),
            upn: "ann@contoso.com".into(),
            add,
            remove,
        })
    }

    #[test]
    fn licences_compare_disabled_plans_as_sets() {
        let live = live();
        assert!(is_in_effect(
            &live,
            &assign(vec![grant(&["p1", "p2"])], vec![])
        ));
        assert!(!is_in_effect(&live, &assign(vec![grant(&["p1"])], vec![])));
        let remove = LicenseRemoval {
            sku_id: "e3".into(),
            sku_part_number: "ENTERPRISEPACK".into(),
        };
        assert!(!is_in_effect(&live, &assign(vec![], vec![remove])));
    }

    #[test]
    fn location_membership_and_mailbox() {
        let live = live();
        let location = |to: &str| {
            OpKind::SetUsageLocation(SetUsageLocation {
                user_id: "u1".into(),
                upn: "ann@contoso.com".into(),
                from: None,
                to: to.into(),
            })
        };
        assert!(is_in_effect(&live, &location("GB")));
        assert!(!is_in_effect(&live, &location("US")));
        let member = OpKind::AddGroupMember(AddGroupMember {
            group_id: "g1".into(),
            group: "LIC-E3".into(),
            user_id: "u1".into(),
            upn: "ann@contoso.com".into(),
        });
        assert!(is_in_effect(&live, &member));
        let leave = OpKind::RemoveGroupMember(RemoveGroupMember {
            group_id: "g1".into(),
            group: "LIC-E3".into(),
            user_id: "u1".into(),
            upn: "ann@contoso.com".into(),
        });
        assert!(!is_in_effect(&live, &leave));
        let convert = |to| {
            OpKind::ConvertMailbox(ConvertMailbox {
                user_id: "u1".into(),
                upn: "ann@contoso.com".into(),
                from: MailboxType::User,
                to,
            })
        };
        assert!(is_in_effect(&live, &convert(MailboxType::User)));
        assert!(!is_in_effect(&live, &convert(MailboxType::Shared)));
    }

    #[test]
    fn missing_targets_are_never_in_effect() {
        let mut live = live();
        live.users.clear();
        live.groups.clear();
        let group = OpKind::AssignGroupLicenses(AssignGroupLicenses {
            group_id: "g1".into(),
            group: "LIC-E3".into(),
            add: vec![],
            remove: vec![],
        });
        assert!(!is_in_effect(&live, &group));
        assert!(!is_in_effect(&live, &assign(vec![], vec![])));
    }
}
