//! `add_group_member`: `POST /groups/{id}/members/$ref`. In a licensed group the member's
//! licences follow asynchronously (group-based licensing).

use super::*;

/// Adds a user to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddGroupMember {
    /// Group object id.
    pub group_id: String,
    /// Group display name.
    pub group: String,
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
}

impl Kind for AddGroupMember {
    fn name(&self) -> &'static str {
        "add_group_member"
    }
    fn action(&self) -> Action {
        Action::Add
    }
    /// Membership changes are keyed by user: reviewers read them per user.
    fn target(&self) -> &str {
        &self.upn
    }
    fn user_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    fn describe(&self) -> Description {
        Description::line(format!("member of group {}", self.group))
    }
    fn request(&self) -> Request {
        Request::Graph(GraphRequest {
            method: HttpMethod::Post,
            path: vec![
                PathPart::Fixed("groups"),
                PathPart::Object(self.group_id.clone()),
                PathPart::Fixed("members"),
                PathPart::Fixed("$ref"),
            ],
            body: Some(RequestBody::DirectoryObject(self.user_id.clone())),
            permission: "GroupMember.ReadWrite.All",
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::add_member(tenant, &self.group_id, &self.user_id)
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        live.group(&self.group_id)
            .is_some_and(|g| g.members.iter().any(|m| m == &self.user_id))
    }
    fn reads(&self) -> Reads<'_> {
        Reads {
            group: Some(&self.group_id),
            members: true,
            ..Reads::default()
        }
    }
    fn licences(&self) -> Licences<'_> {
        Licences::Membership {
            group_id: &self.group_id,
            user_id: &self.user_id,
            joins: true,
        }
    }
    fn role(&self) -> Role {
        Role::Gain
    }
    fn replay(&self, _: &mut Replayed<'_>) {}
    fn retry_refusal_may_mean_done(&self) -> bool {
        // "Add members": a member already there is refused with 400 Request_BadRequest.
        true
    }
}
