//! Whether group-based licensing has reached the members, the pure half of the executor's
//! wait after a group licensing write. Graph answers group `assignLicense` with `202
//! Accepted` and processes the members later; adding or removing a member of a licensed
//! group is processed the same way. Until the members are processed, what depends on the
//! write (removing the member's old direct licence, converting a shared mailbox back to a
//! user mailbox, giving a freed seat to someone else) would act on a tenant that is not
//! there yet.

use crate::plan::ops::{Licences, OpKind};
use crate::tenant::{Group, GroupProcessing, Tenant, User};

/// How far group licensing has carried an operation's effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Every member concerned holds exactly what the group gives.
    Reached,
    /// This many members are not processed yet.
    Pending {
        /// Members still waiting.
        members: usize,
    },
    /// Processing ended in an error state for a member: the licence did not reach them.
    Failed(String),
}

/// Whether the executor must wait for group licensing after `op`.
pub fn is_group_licensing(op: &OpKind) -> bool {
    group_licensing_scope(op).is_some()
}

/// The group a group-licensing write changes, and the one member it concerns (`None`: every
/// member), or `None` for a write group licensing does not process.
fn group_licensing_scope(op: &OpKind) -> Option<(&str, Option<&str>)> {
    match op.licences() {
        Licences::Group { group_id, .. } => Some((group_id, None)),
        Licences::Membership {
            group_id, user_id, ..
        } => Some((group_id, Some(user_id))),
        Licences::Untouched | Licences::User { .. } => None,
    }
}

/// How far `op` has reached its members in `live` (which must hold the group with its
/// members and the member users concerned: all members for a group licence change, the
/// member for a membership change). Operations that are not group licensing are `Reached`.
pub fn settlement(live: &Tenant, op: &OpKind) -> Settlement {
    let Some((group_id, only)) = group_licensing_scope(op) else {
        return Settlement::Reached;
    };
    let Some(group) = live.group(group_id) else {
        return Settlement::Failed(format!("group {group_id} was not found"));
    };
    // (user, taken from the member list): the member list's users need no membership scan.
    let concerned: Vec<(&User, bool)> = match only {
        Some(user_id) => live.user(user_id).map(|u| (u, false)).into_iter().collect(),
        None => group
            .members
            .iter()
            .filter_map(|m| live.user(m))
            .map(|u| (u, true))
            .collect(),
    };
    let mut pending = 0;
    for (user, listed) in concerned {
        let processing = if listed {
            group.processing_of_member(user)
        } else {
            group.processing_of(user)
        };
        match member_state(live, group, user, processing) {
            Ok(true) => {}
            Ok(false) => pending += 1,
            Err(reason) => return Settlement::Failed(reason),
        }
    }
    if pending == 0 {
        Settlement::Reached
    } else {
        Settlement::Pending { members: pending }
    }
}

/// `Ok(true)` when `user` is processed for `group` (`processing`); an expected assignment in
/// `Error` state is a failure naming the error.
fn member_state(
    live: &Tenant,
    group: &Group,
    user: &User,
    processing: GroupProcessing,
) -> Result<bool, String> {
    match processing {
        GroupProcessing::Done => Ok(true),
        GroupProcessing::Pending => Ok(false),
        GroupProcessing::Failed { sku_id, error } => {
            let part = live
                .sku(&sku_id)
                .map_or(sku_id.as_str(), |s| s.sku_part_number.as_str());
            Err(format!(
                "group licensing of {} gave {} to {} in error state ({})",
                group.display_name,
                part,
                user.user_principal_name,
                error.as_deref().unwrap_or("no error code")
            ))
        }
    }
}

#[cfg(test)]
mod props {
    //! The class: any group licensing write on any small tenant. Processing it later (the
    //! fake's two halves) ends where the synchronous write ends, and `settlement` says
    //! `Pending` exactly while a member concerned still differs from that end.
    use super::*;
    use crate::plan::ops::AssignGroupLicenses;
    use crate::plan::{LicenseGrant, LicenseRemoval};
    use crate::tenant::{apply_group_level, apply_operation, process_members};
    use proptest::prelude::*;

    const SKUS: [(&str, &str); 2] = [("e3", "ENTERPRISEPACK"), ("exo", "EXCHANGESTANDARD")];

    fn tenant(users: usize, members: u8, licences: u8) -> Tenant {
        let ids: Vec<String> = (0..users).map(|i| format!("u{i}")).collect();
        let mut t: Tenant = serde_json::from_value(serde_json::json!({
            "skus": SKUS.iter().map(|(id, part)| serde_json::json!(
                {"sku_id": id, "sku_part_number": part, "enabled": 100, "consumed": 0})).collect::<Vec<_>>(),
            "users": ids.iter().map(|id| serde_json::json!(
                {"id": id, "user_principal_name": format!("{id}@x.com"), "usage_location": "GB"})).collect::<Vec<_>>(),
            "groups": [{"id": "g", "display_name": "G",
                        "members": ids.iter().enumerate().filter(|(i, _)| members & (1 << i) != 0).map(|(_, id)| id).collect::<Vec<_>>(),
                        "licenses": SKUS.iter().enumerate().filter(|(i, _)| licences & (1 << i) != 0).map(|(_, (id, _))| serde_json::json!({"sku_id": id})).collect::<Vec<_>>()}]
        }))
        .expect("tenant");
        let all = (0..users).collect();
        process_members(&mut t, all);
        t
    }

    fn op(kind: u8, skus: u8, user: usize) -> OpKind {
        let picked = |bit: usize| skus & (1 << bit) != 0;
        match kind % 3 {
            0 => OpKind::AssignGroupLicenses(AssignGroupLicenses {
                group_id: "g".into(),
                group: "G".into(),
                add: (0..2)
                    .filter(|&i| picked(i))
                    .map(|i| LicenseGrant {
                        sku_id: SKUS[i].0.into(),
                        sku_part_number: SKUS[i].1.into(),
                        disabled_plans: vec![],
                        disabled_plan_names: vec![],
                        replaces_disabled: None,
                    })
                    .collect(),
                remove: (0..2)
                    .filter(|&i| picked(i + 2))
                    .map(|i| LicenseRemoval {
                        sku_id: SKUS[i].0.into(),
                        sku_part_number: SKUS[i].1.into(),
                    })
                    .collect(),
            }),
            k => OpKind::group_membership(
                k == 1,
                "g".into(),
                "G".into(),
                format!("u{user}"),
                format!("u{user}@x.com"),
            ),
        }
    }

    proptest! {
        #[test]
        fn processing_later_ends_where_the_write_ends_and_settlement_tracks_it(
            users in 1usize..6, members in any::<u8>(), licences in 0u8..4,
            kind in any::<u8>(), skus in any::<u8>(), user in 0usize..6,
        ) {
            let live = tenant(users, members, licences);
            let op = op(kind, skus, user % users);
            let mut synchronous = live.clone();
            let mut deferred = live.clone();
            let written = apply_group_level(&mut deferred, &op).expect("a group licensing write");
            prop_assert_eq!(written.is_ok(), apply_operation(&mut synchronous, &op).is_ok());
            let Ok(concerned) = written else {
                prop_assert_eq!(&deferred, &live, "a refused write changes nothing");
                return Ok(());
            };
            let differs = concerned
                .iter()
                .filter(|&&ui| deferred.users[ui].licenses != synchronous.users[ui].licenses)
                .count();
            let expected = if differs == 0 {
                Settlement::Reached
            } else {
                Settlement::Pending { members: differs }
            };
            prop_assert_eq!(settlement(&deferred, &op), expected);
            process_members(&mut deferred, concerned);
            prop_assert_eq!(&deferred, &synchronous);
            prop_assert_eq!(settlement(&deferred, &op), Settlement::Reached);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ops::{
        AddGroupMember, AssignGroupLicenses, RemoveGroupMember, SetUsageLocation,
    };
    use crate::plan::{LicenseGrant, LicenseRemoval};
    use crate::tenant::LicenseAssignment;

    fn live(member_has: &[(&str, &str)]) -> Tenant {
        serde_json::from_value(serde_json::json!({
            "skus": [{"sku_id": "e3", "sku_part_number": "ENTERPRISEPACK", "enabled": 5, "consumed": 1},
                     {"sku_id": "e5", "sku_part_number": "ENTERPRISEPREMIUM", "enabled": 5, "consumed": 0}],
            "users": [{"id": "u1", "user_principal_name": "ann@contoso.com", "usage_location": "GB",
                       "licenses": member_has.iter().map(|(sku, state)| serde_json::json!(
                           {"sku_id": sku, "assigned_by_group": "g1", "state": state,
                            "error": if *state == "Error" { Some("CountViolation") } else { None }})).collect::<Vec<_>>()},
                      {"id": "u2", "user_principal_name": "bob@contoso.com", "usage_location": "GB"}],
            "groups": [{"id": "g1", "display_name": "LIC", "members": ["u1"],
                        "licenses": [{"sku_id": "e5"}]}]
        }))
        .unwrap()
    }

    fn group_op(add: &str, remove: &str) -> OpKind {
        OpKind::AssignGroupLicenses(AssignGroupLicenses {
            group_id: "g1".into(),
            group: "LIC".into(),
            add: vec![LicenseGrant {
                sku_id: add.into(),
                sku_part_number: add.into(),
                disabled_plans: vec![],
                disabled_plan_names: vec![],
                replaces_disabled: None,
            }],
            remove: vec![LicenseRemoval {
                sku_id: remove.into(),
                sku_part_number: remove.into(),
            }],
        })
    }

    #[test]
    fn a_group_licence_change_is_reached_when_every_member_holds_what_the_group_gives() {
        let op = group_op("e5", "e3");
        assert_eq!(
            settlement(&live(&[("e3", "Active")]), &op),
            Settlement::Pending { members: 1 }
        );
        assert_eq!(
            settlement(&live(&[("e3", "Active"), ("e5", "Active")]), &op),
            Settlement::Pending { members: 1 },
            "the removed licence must be gone too"
        );
        assert_eq!(
            settlement(&live(&[("e5", "Active")]), &op),
            Settlement::Reached
        );
        let failed = settlement(&live(&[("e5", "Error")]), &op);
        assert!(
            matches!(&failed, Settlement::Failed(r) if r.contains("ENTERPRISEPREMIUM") && r.contains("ann@contoso.com") && r.contains("CountViolation")),
            "{failed:?}"
        );
    }

    #[test]
    fn a_membership_change_is_reached_for_that_member_only() {
        let join = |user: &str| {
            OpKind::AddGroupMember(AddGroupMember {
                group_id: "g1".into(),
                group: "LIC".into(),
                user_id: user.into(),
                upn: user.into(),
            })
        };
        let leave = OpKind::RemoveGroupMember(RemoveGroupMember {
            group_id: "g1".into(),
            group: "LIC".into(),
            user_id: "u2".into(),
            upn: "bob".into(),
        });
        assert_eq!(
            settlement(&live(&[]), &join("u1")),
            Settlement::Pending { members: 1 }
        );
        assert_eq!(
            settlement(&live(&[("e5", "Active")]), &join("u1")),
            Settlement::Reached
        );
        // u2 is not a member and holds nothing from the group: its leave is processed.
        assert_eq!(settlement(&live(&[]), &leave), Settlement::Reached);
        let mut still_inherited = live(&[]);
        still_inherited.users[1].licenses.push(LicenseAssignment {
            sku_id: "e5".into(),
            disabled_plans: vec![],
            assigned_by_group: Some("g1".into()),
            state: "Active".into(),
            error: None,
        });
        assert_eq!(
            settlement(&still_inherited, &leave),
            Settlement::Pending { members: 1 }
        );
        assert!(!is_group_licensing(&OpKind::SetUsageLocation(
            SetUsageLocation {
                user_id: "u1".into(),
                upn: "ann".into(),
                from: None,
                to: "GB".into()
            }
        )));
    }
}
