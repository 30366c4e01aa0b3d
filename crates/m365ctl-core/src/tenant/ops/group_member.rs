//! What the two membership kinds share (`add_group_member`, `remove_group_member`): the same
//! four fields, the same target, description, re-reads and licence view. One struct,
//! parameterised by direction; each kind keeps its own module with its own `Kind` impl (the
//! request, the model write, the done-check and the ordering role differ).

use super::*;

/// A user joining (`JOINS`) or leaving a group. Used through the kinds' names:
/// [`AddGroupMember`] (`GroupMember<true>`) and [`RemoveGroupMember`] (`GroupMember<false>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember<const JOINS: bool> {
    /// Group object id.
    pub group_id: String,
    /// Group display name.
    pub group: String,
    /// User object id.
    pub user_id: String,
    /// UPN.
    pub upn: String,
}

impl<const JOINS: bool> GroupMember<JOINS> {
    /// Membership changes are keyed by user: reviewers read them per user.
    pub(super) fn member_target(&self) -> &str {
        &self.upn
    }

    /// The line reviewers read; the symbol says whether the user joins or leaves.
    pub(super) fn member_description(&self) -> Description {
        Description::line(format!("member of group {}", self.group))
    }

    /// `groups/{id}/members`, the collection both requests address.
    pub(super) fn members_path(&self) -> Vec<PathPart> {
        vec![
            PathPart::Fixed("groups"),
            PathPart::Object(self.group_id.clone()),
            PathPart::Fixed("members"),
        ]
    }

    /// The group and its member list, for the done-check.
    pub(super) fn member_reads(&self) -> Reads<'_> {
        Reads {
            group: Some(&self.group_id),
            members: true,
            ..Reads::default()
        }
    }

    /// The member gains or loses what the group gives.
    pub(super) fn member_licences(&self) -> Licences<'_> {
        Licences::Membership {
            group_id: &self.group_id,
            user_id: &self.user_id,
            joins: JOINS,
        }
    }

    /// Whether the user is in the group now (`None`: the group is not there).
    pub(super) fn is_member(&self, live: &Tenant) -> Option<bool> {
        live.group(&self.group_id)
            .map(|g| g.members.iter().any(|m| m == &self.user_id))
    }
}
