//! `assign_licenses`: `POST /users/{id}/assignLicense`, adds (with disabled plans) and removals
//! in one call. An existing assignment whose disabled plans change appears in `add` with the
//! new set.

use super::*;

/// Changes a user's direct licences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignLicenses {
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
    /// Licences to add or re-assign with new disabled plans.
    pub add: Vec<LicenseGrant>,
    /// Licences to remove.
    pub remove: Vec<LicenseRemoval>,
}

impl Kind for AssignLicenses {
    fn name(&self) -> &'static str {
        "assign_licenses"
    }
    fn action(&self) -> Action {
        licence_action(&self.add, &self.remove)
    }
    fn target(&self) -> &str {
        &self.upn
    }
    fn user_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    fn describe(&self) -> Description {
        licence_description(&self.add, &self.remove)
    }
    fn request(&self) -> Request {
        licence_request("users", &self.user_id, &self.add, &self.remove)
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::assign_user_licenses(tenant, &self.user_id, &self.add, &self.remove)
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.user(&self.user_id).is_some_and(|u| {
            self.add.iter().all(|g| {
                u.direct_license(&g.sku_id)
                    .is_some_and(|l| same_plans(&l.disabled_plans, &g.disabled_plans))
            }) && self
                .remove
                .iter()
                .all(|r| u.direct_license(&r.sku_id).is_none())
        })
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            user: Some(&self.user_id),
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::User {
            user_id: &self.user_id,
            add: &self.add,
            remove: &self.remove,
        }
    }
    fn role(&self) -> Role {
        licence_role(&self.add, &self.remove)
    }
    fn replay(&self, _: &mut Replayed<'_>) {}
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
