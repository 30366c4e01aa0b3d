//! Operations: the unit of change the planner emits and the executor and backends carry out.
//!
//! Each operation names its target both by object id (what Graph needs) and by a human key
//! (UPN or group name, what reviewers read), so plans are reviewable and executable alike.

use super::MailboxType;
use serde::{Deserialize, Serialize};

/// A stable operation id, unique within a plan, e.g. `assign_licenses:ann@contoso.com`.
/// Ids are derived from kind and target (not from position) so plan diffs in PRs stay small
/// and the apply journal can be matched against a re-plan.
pub type OpId = String;

/// A licence to add, with the service plans to disable in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LicenseGrant {
    /// SKU GUID.
    pub sku_id: String,
    /// `skuPartNumber`, for humans.
    pub sku_part_number: String,
    /// Disabled service plan GUIDs, sorted (sent as `disabledPlans`, never null).
    #[serde(default)]
    pub disabled_plans: Vec<String>,
    /// Disabled service plan names matching `disabled_plans`, for humans.
    #[serde(default)]
    pub disabled_plan_names: Vec<String>,
    /// When the principal already holds this SKU and only its disabled plans change: the
    /// plan names disabled today. Makes the grant a `~` change in every output, not a `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_disabled: Option<Vec<String>>,
}

/// A licence to remove.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LicenseRemoval {
    /// SKU GUID.
    pub sku_id: String,
    /// `skuPartNumber`, for humans.
    pub sku_part_number: String,
}

/// What an operation does. Serialised with a snake_case `kind` tag, the names used in the
/// JSON plan format (`set_usage_location`, `assign_licenses`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpKind {
    /// `PATCH /users/{id}` with `usageLocation`.
    SetUsageLocation {
        /// User object id.
        user_id: String,
        /// UPN.
        upn: String,
        /// Current value.
        from: Option<String>,
        /// Desired value.
        to: String,
    },
    /// `POST /users/{id}/assignLicense`: adds (with disabled plans) and removals in one call.
    /// An existing assignment whose disabled plans change appears in `add` with the new set.
    AssignLicenses {
        /// User object id.
        user_id: String,
        /// UPN.
        upn: String,
        /// Licences to add or re-assign with new disabled plans.
        add: Vec<LicenseGrant>,
        /// Licences to remove.
        remove: Vec<LicenseRemoval>,
    },
    /// `POST /groups/{id}/assignLicense`.
    AssignGroupLicenses {
        /// Group object id.
        group_id: String,
        /// Group display name.
        group: String,
        /// Licences to add or re-assign with new disabled plans.
        add: Vec<LicenseGrant>,
        /// Licences to remove.
        remove: Vec<LicenseRemoval>,
    },
    /// `POST /groups/{id}/members/$ref`.
    AddGroupMember {
        /// Group object id.
        group_id: String,
        /// Group display name.
        group: String,
        /// User object id.
        user_id: String,
        /// UPN.
        upn: String,
    },
    /// `DELETE /groups/{id}/members/{user-id}/$ref`.
    RemoveGroupMember {
        /// Group object id.
        group_id: String,
        /// Group display name.
        group: String,
        /// User object id.
        user_id: String,
        /// UPN.
        upn: String,
    },
    /// Exchange `Set-Mailbox -Type`.
    ConvertMailbox {
        /// User object id.
        user_id: String,
        /// UPN.
        upn: String,
        /// Current type.
        from: MailboxType,
        /// Desired type.
        to: MailboxType,
    },
}

/// Terraform-style classification of an operation for the "N to add, M to change, K to
/// remove" summary line and the `+ ~ -` symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Something is granted or created (`+`).
    Add,
    /// Something existing is modified (`~`).
    Change,
    /// Something is taken away (`-`).
    Remove,
}

impl Action {
    /// The plan symbol: `+`, `~` or `-`.
    pub fn symbol(self) -> char {
        match self {
            Action::Add => '+',
            Action::Change => '~',
            Action::Remove => '-',
        }
    }
}

impl OpKind {
    /// `AddGroupMember` when `joins`, else `RemoveGroupMember`: the planner, the fake's
    /// request decoder and the tests all pick between the two from a flag.
    pub fn group_membership(
        joins: bool,
        group_id: String,
        group: String,
        user_id: String,
        upn: String,
    ) -> OpKind {
        if joins {
            OpKind::AddGroupMember {
                group_id,
                group,
                user_id,
                upn,
            }
        } else {
            OpKind::RemoveGroupMember {
                group_id,
                group,
                user_id,
                upn,
            }
        }
    }

    /// Whether the operation grants, modifies or takes away.
    pub fn action(&self) -> Action {
        let licences = |add: &[LicenseGrant], remove: &[LicenseRemoval]| match (
            add.is_empty(),
            remove.is_empty(),
        ) {
            (false, true) if add.iter().all(|g| g.replaces_disabled.is_some()) => Action::Change,
            (false, true) => Action::Add,
            (true, false) => Action::Remove,
            _ => Action::Change,
        };
        match self {
            OpKind::SetUsageLocation { from: None, .. } => Action::Add,
            OpKind::SetUsageLocation { .. } | OpKind::ConvertMailbox { .. } => Action::Change,
            OpKind::AssignLicenses { add, remove, .. }
            | OpKind::AssignGroupLicenses { add, remove, .. } => licences(add, remove),
            OpKind::AddGroupMember { .. } => Action::Add,
            OpKind::RemoveGroupMember { .. } => Action::Remove,
        }
    }

    /// The snake_case kind name used in JSON plans and op ids.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::SetUsageLocation { .. } => "set_usage_location",
            OpKind::AssignLicenses { .. } => "assign_licenses",
            OpKind::AssignGroupLicenses { .. } => "assign_group_licenses",
            OpKind::AddGroupMember { .. } => "add_group_member",
            OpKind::RemoveGroupMember { .. } => "remove_group_member",
            OpKind::ConvertMailbox { .. } => "convert_mailbox",
        }
    }

    /// The human key of the principal the operation changes (UPN or group name).
    pub fn target(&self) -> &str {
        match self {
            OpKind::SetUsageLocation { upn, .. }
            | OpKind::AssignLicenses { upn, .. }
            | OpKind::ConvertMailbox { upn, .. } => upn,
            OpKind::AssignGroupLicenses { group, .. } => group,
            OpKind::AddGroupMember { group, upn, .. }
            | OpKind::RemoveGroupMember { group, upn, .. } => {
                // Membership changes are keyed by user: reviewers read them per user.
                let _ = group;
                upn
            }
        }
    }

    /// The user object id the operation changes, if it changes a user.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            OpKind::SetUsageLocation { user_id, .. }
            | OpKind::AssignLicenses { user_id, .. }
            | OpKind::ConvertMailbox { user_id, .. }
            | OpKind::AddGroupMember { user_id, .. }
            | OpKind::RemoveGroupMember { user_id, .. } => Some(user_id),
            OpKind::AssignGroupLicenses { .. } => None,
        }
    }
}

/// One node of the plan: an operation, its stable id, and the ids it must wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Stable id, unique within the plan.
    pub id: OpId,
    /// What to do.
    #[serde(flatten)]
    pub kind: OpKind,
    /// Ids of operations that must succeed first (DAG edges).
    #[serde(default)]
    pub depends_on: Vec<OpId>,
    /// Why the planner ordered or shaped it this way, shown to reviewers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(part: &str, replaces: Option<Vec<String>>) -> LicenseGrant {
        LicenseGrant {
            sku_id: format!("id-{part}"),
            sku_part_number: part.into(),
            disabled_plans: vec![],
            disabled_plan_names: vec![],
            replaces_disabled: replaces,
        }
    }

    fn assign(add: Vec<LicenseGrant>, remove: Vec<LicenseRemoval>) -> OpKind {
        OpKind::AssignLicenses {
            user_id: "u1".into(),
            upn: "ann@x.com".into(),
            add,
            remove,
        }
    }

    #[test]
    fn changing_the_disabled_plans_of_a_held_licence_is_a_change_not_an_add() {
        let toggle = assign(vec![grant("E3", Some(vec!["SWAY".into()]))], vec![]);
        assert_eq!(toggle.action(), Action::Change);
        let new = assign(vec![grant("E3", None)], vec![]);
        assert_eq!(new.action(), Action::Add);
        let mixed = assign(vec![grant("E3", Some(vec![])), grant("E5", None)], vec![]);
        assert_eq!(mixed.action(), Action::Add);
        let removal = LicenseRemoval {
            sku_id: "id-E1".into(),
            sku_part_number: "E1".into(),
        };
        assert_eq!(assign(vec![], vec![removal]).action(), Action::Remove);
    }
}
