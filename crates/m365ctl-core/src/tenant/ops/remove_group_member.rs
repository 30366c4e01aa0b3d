//! `remove_group_member`: `DELETE /groups/{id}/members/{user-id}/$ref`. In a licensed group the
//! member's inherited licences go asynchronously (group-based licensing).

use super::*;

/// Removes a user from a group.
pub type RemoveGroupMember = GroupMember<false>;

impl Kind for RemoveGroupMember {
    fn name(&self) -> &'static str {
        "remove_group_member"
    }
    fn action(&self) -> Action {
        Action::Remove
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
        path.extend([
            PathPart::Object(self.user_id.clone()),
            PathPart::Fixed("$ref"),
        ]);
        Request::Graph(GraphRequest {
            method: HttpMethod::Delete,
            path,
            body: None,
            permission: "GroupMember.ReadWrite.All",
        })
    }
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation> {
        crate::tenant::mutate::remove_member(tenant, &self.group_id, &self.user_id)
    }
    fn is_in_effect(&self, live: &Tenant) -> bool {
        self.is_member(live) == Some(false)
    }
    fn reads(&self) -> Reads<'_> {
        self.member_reads()
    }
    fn licences(&self) -> Licences<'_> {
        self.member_licences()
    }
    fn role(&self) -> Role {
        Role::Loss
    }
    fn replay(&self, _: &mut Replayed<'_>) {}
    fn retry_refusal_may_mean_done(&self) -> bool {
        false
    }
}
