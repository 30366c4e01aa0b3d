//! `assign_group_licenses`: `POST /groups/{id}/assignLicense`. Graph answers `202 Accepted`
//! and processes the members later (group-based licensing).

use super::*;

/// Changes a group's licences, which its members inherit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignGroupLicenses {
    /// Group object id.
    pub group_id: String,
    /// Group display name.
    pub group: String,
    /// Licences to add or re-assign with new disabled plans.
    pub add: Vec<LicenseGrant>,
    /// Licences to remove.
    pub remove: Vec<LicenseRemoval>,
}

impl Kind for AssignGroupLicenses {
    fn name(&self) -> &'static str {
        "assign_group_licenses"
    }
    fn action(&self) -> Action {
        licence_action(&self.add, &self.remove)
    }
    fn target(&self) -> &str {
        &self.group
    }
    fn user_id(&self) -> Option<&str> {
        None
    }
    fn describe(&self) -> Description {
        licence_description(&self.add, &self.remove)
    }
    fn request(&self) -> Request {
        licence_request("groups", &self.group_id, &self.add, &self.remove)
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::assign_group_licenses(
            tenant,
            &self.group_id,
            &self.add,
            &self.remove,
        )
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.group(&self.group_id).is_some_and(|g| {
            self.add.iter().all(|a| {
                g.licenses.iter().any(|l| {
                    l.sku_id == a.sku_id && same_plans(&l.disabled_plans, &a.disabled_plans)
                })
            }) && self
                .remove
                .iter()
                .all(|r| g.licenses.iter().all(|l| l.sku_id != r.sku_id))
        })
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            group: Some(&self.group_id),
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::Group {
            group_id: &self.group_id,
            add: &self.add,
            remove: &self.remove,
        }
    }
    fn role(&self) -> Role {
        Role::Group
    }
    fn replay(&self, _: &mut Replayed<'_>) {}
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
