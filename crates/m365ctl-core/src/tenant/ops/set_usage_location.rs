//! `set_usage_location`: `PATCH /users/{id}` with `usageLocation`. Graph refuses a licence to
//! a user without one (`assignLicense`: "invalid usage location").

use super::*;
use crate::rules::writes;

/// Sets a user's usage location (ISO 3166-1 alpha-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetUsageLocation {
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
    /// Current value.
    pub from: Option<String>,
    /// Desired value.
    pub to: String,
}

impl Kind for SetUsageLocation {
    fn name(&self) -> &'static str {
        "set_usage_location"
    }
    fn action(&self) -> Action {
        match self.from {
            None => Action::Add,
            Some(_) => Action::Change,
        }
    }
    fn target(&self) -> &str {
        &self.upn
    }
    fn user_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    fn describe(&self) -> Description {
        let from = self.from.as_deref().unwrap_or("(none)");
        Description::line(format!("usage location: {from} -> {}", self.to))
    }
    fn request(&self) -> Request {
        Request::Graph(GraphRequest {
            method: HttpMethod::Patch,
            path: vec![
                PathPart::Fixed("users"),
                PathPart::Object(self.user_id.clone()),
            ],
            body: Some(RequestBody::Json(
                serde_json::json!({"usageLocation": self.to}),
            )),
            permission: "User.ReadUpdate.All",
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        writes::check_usage_location(&self.to)?;
        let user = crate::tenant::mutate::user_mut(tenant, &self.user_id)?;
        user.usage_location = Some(self.to.clone());
        Ok(())
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.user(&self.user_id).is_some_and(|u| {
            u.usage_location
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(&self.to))
        })
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            user: Some(&self.user_id),
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::Untouched
    }
    fn role(&self) -> Role {
        Role::Location
    }
    fn replay(&self, user: &mut Replayed<'_>) {
        *user.usage_location = Some(self.to.clone());
    }
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
