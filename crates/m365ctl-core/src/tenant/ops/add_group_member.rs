//! `add_group_member`: `POST /groups/{id}/members/$ref`. In a licensed group the member's
//! licences follow asynchronously (group-based licensing).

use super::*;

/// Adds a user to a group.
pub type AddGroupMember = GroupMember<true>;

impl Kind for AddGroupMember {
    fn name(&self) -> &'static str {
        "add_group_member"
    }
    fn action(&self) -> Action {
        Action::Add
    }
    fn target(&self) -> &str {
        self.member_target()
    }
    fn user_id(&self) -> Option<&str> {
        Some(&self.user_id)
    }
    fn describe(&self) -> Description {
        self.member_description()
    }
    fn request(&self) -> Request {
        let mut path = self.members_path();
        path.push(PathPart::Fixed("$ref"));
        Request::Graph(GraphRequest {
            method: HttpMethod::Post,
            path,
            body: Some(RequestBody::DirectoryObject(self.user_id.clone())),
            permission: "GroupMember.ReadWrite.All",
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::add_member(tenant, &self.group_id, &self.user_id)
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        self.is_member(live) == Some(true)
    }
    fn reads(&self) -> Reads<'_> {
        self.member_reads()
    }
    fn licences(&self) -> Licences<'_> {
        self.member_licences()
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
