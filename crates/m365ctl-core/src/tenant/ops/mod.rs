//! Operations: the unit of change the planner emits and the executor and backends carry out.
//!
//! Each operation kind is one module here (`set_usage_location`, `assign_licenses`, ...) with
//! one struct implementing [`Kind`]: everything about the kind — how reviewers read it, the
//! request that carries it out (as data: the backends only send it), what it does to the live
//! model, how the executor tells it is already done, which licences it touches (seat, guard,
//! group-licensing and Exchange accounting derive from that) and its role for the ordering
//! rules. [`OpKind`] is the closed list: adding a kind is a new module and one line in
//! `kinds!`; the compiler then names every method the new kind must define and every
//! exhaustive `match` over [`Role`] or [`Licences`] that must consider it.
//!
//! Shared by several kinds, not kinds themselves: `request` (requests as data) and
//! `group_member` (what the two membership kinds have in common) and `licence_call` (what
//! the user and group `assignLicense` kinds have in common).
//!
//! Each operation names its target both by object id (what Graph needs) and by a human key
//! (UPN or group name, what reviewers read), so plans are reviewable and executable alike.

mod add_group_member;
mod assign_group_licenses;
mod assign_licenses;
mod convert_mailbox;
mod group_member;
mod licence_call;
mod remove_group_member;
mod request;
mod set_sign_in;
mod set_usage_location;

pub use add_group_member::AddGroupMember;
pub use assign_group_licenses::AssignGroupLicenses;
pub use assign_licenses::AssignLicenses;
pub use convert_mailbox::ConvertMailbox;
pub use group_member::GroupMember;
use licence_call::{
    licence_action, licence_description, licence_request, licence_role, same_plans,
};
pub use remove_group_member::RemoveGroupMember;
pub use request::{ExchangeCommand, GraphRequest, HttpMethod, PathPart, Request, RequestBody};
pub use set_sign_in::{SetSignIn, SignIn};
pub use set_usage_location::SetUsageLocation;

use crate::tenant::{MailboxType, RuleViolation, Tenant};
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

/// How reviewers read an operation: one line of text and indented detail lines, shared by
/// the human and markdown renderers so both say the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The line after the symbol, e.g. `usage location: (none) -> GB`.
    pub text: String,
    /// Detail lines with their own symbol (a licence added, removed, re-scoped).
    pub details: Vec<(Action, String)>,
}

impl Description {
    /// A description without detail lines.
    pub fn line(text: String) -> Description {
        Description {
            text,
            details: Vec::new(),
        }
    }
}

/// The licences an operation touches: the one view seat accounting, blast-radius guards,
/// group-licensing settlement and Exchange continuity need, so they stay generic over kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Licences<'a> {
    /// No licence changes (an attribute, a mailbox type).
    Untouched,
    /// A user's direct licences (`POST /users/{id}/assignLicense`).
    User {
        /// User object id.
        user_id: &'a str,
        /// Licences added or re-assigned with new disabled plans.
        add: &'a [LicenseGrant],
        /// Licences removed.
        remove: &'a [LicenseRemoval],
    },
    /// A group's licences, inherited by its members (`POST /groups/{id}/assignLicense`).
    Group {
        /// Group object id.
        group_id: &'a str,
        /// Licences added or re-assigned with new disabled plans.
        add: &'a [LicenseGrant],
        /// Licences removed.
        remove: &'a [LicenseRemoval],
    },
    /// A membership change: the member gains or loses what the group gives.
    Membership {
        /// Group object id.
        group_id: &'a str,
        /// User object id.
        user_id: &'a str,
        /// Joins (`true`) or leaves.
        joins: bool,
    },
}

/// What an operation does to its user, for the planner's ordering rules (`plan::graph`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sets the usage location: before any licence the user gains.
    Location,
    /// Gives the user something (a licence, a membership).
    Gain,
    /// Takes something from the user.
    Loss,
    /// One licence call that both gives and takes.
    GainLoss,
    /// Converts the mailbox to this type.
    Convert(MailboxType),
    /// Changes a group's licences (its members are ordered by the group rules).
    Group,
    /// Changes an account attribute no ordering rule places (a blocked sign-in).
    Attribute,
    /// Changes an account attribute the user's conversion to this mailbox type waits for
    /// (allowed sign-in before a shared mailbox becomes a user's): the kind states the need,
    /// the ordering rule and the order checker act on it without knowing the kind.
    BeforeConvert(MailboxType),
}

impl Role {
    /// Whether the operation gives its user something (a licence, a membership): what a
    /// usage location precedes and what the user's losses wait for.
    pub fn gives(self) -> bool {
        match self {
            Role::Gain | Role::GainLoss => true,
            Role::Location
            | Role::Loss
            | Role::Convert(_)
            | Role::Group
            | Role::Attribute
            | Role::BeforeConvert(_) => false,
        }
    }

    /// Whether the operation takes something from its user.
    pub fn takes(self) -> bool {
        match self {
            Role::Loss | Role::GainLoss => true,
            Role::Location
            | Role::Gain
            | Role::Convert(_)
            | Role::Group
            | Role::Attribute
            | Role::BeforeConvert(_) => false,
        }
    }

    /// Whether the operation can free a seat (a licence or membership taken away, a group's
    /// licences changed).
    pub fn may_free(self) -> bool {
        match self {
            Role::Loss | Role::GainLoss | Role::Group => true,
            Role::Location
            | Role::Gain
            | Role::Convert(_)
            | Role::Attribute
            | Role::BeforeConvert(_) => false,
        }
    }
}

/// What the executor reads again before a write to tell whether it is already in effect
/// (`Kind::is_in_effect` is then checked against exactly these objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reads<'a> {
    /// A user, by object id.
    pub user: Option<&'a str>,
    /// A group, by object id.
    pub group: Option<&'a str>,
    /// Whether the group's member list is needed too.
    pub members: bool,
    /// A mailbox, by UPN (Exchange `Get-Mailbox`).
    pub mailbox: Option<&'a str>,
}

/// The user attributes the planner's simulator replays besides licences and memberships
/// (`plan::sim`): what later steps of an order check.
#[derive(Debug)]
pub struct Replayed<'a> {
    /// Usage location.
    pub usage_location: &'a mut Option<String>,
    /// Mailbox type.
    pub mailbox: &'a mut Option<MailboxType>,
}

/// Everything about one operation kind. Every method is required: a new kind is complete
/// when it compiles.
pub trait Kind {
    /// The snake_case kind name used in JSON plans and op ids (the serde tag).
    fn name(&self) -> &'static str;
    /// Whether the operation grants, modifies or takes away.
    fn action(&self) -> Action;
    /// The human key of the principal the operation changes (UPN or group name).
    fn target(&self) -> &str;
    /// The user object id the operation changes, if it changes a user.
    fn user_id(&self) -> Option<&str>;
    /// How reviewers read it.
    fn describe(&self) -> Description;
    /// The request that carries it out, as data: the backend only sends it.
    fn request(&self) -> Request;
    /// Its effect on the live model, with Graph's write rules (`rules::writes`): the
    /// snapshot backend, the fake server and the property tests all apply writes this way.
    /// A rejected write leaves the tenant unchanged.
    fn apply_to(&self, tenant: &mut Tenant) -> Result<(), RuleViolation>;
    /// True when `live` already looks the way the operation would make it (the executor's
    /// re-check before each write). A missing target is "not in effect".
    fn is_in_effect(&self, live: &Tenant) -> bool;
    /// What the executor reads again for `is_in_effect`.
    fn reads(&self) -> Reads<'_>;
    /// The licences it touches.
    fn licences(&self) -> Licences<'_>;
    /// Its role in the planner's ordering rules.
    fn role(&self) -> Role;
    /// Its effect on the attributes the planner's simulator tracks.
    fn replay(&self, user: &mut Replayed<'_>);
    /// Whether Graph may refuse a retry of this write, after a first attempt that landed
    /// but whose answer was lost, with a code that cannot say so (400 `Request_BadRequest`
    /// for a member already added): the backend then re-reads it (`reads`) and counts it
    /// done when it is in effect, so apply stays idempotent without reading messages.
    fn retry_refusal_may_mean_done(&self) -> bool;
}

/// Declares the closed list of kinds: the `OpKind` enum (serialised with a snake_case `kind`
/// tag, the names of the JSON plan format) and its one dispatch to [`Kind`].
macro_rules! kinds {
    ($($variant:ident),* $(,)?) => {
        /// What an operation does: one of the kinds, each a struct implementing [`Kind`].
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum OpKind {
            $(
                #[doc = concat!("See [`", stringify!($variant), "`].")]
                $variant($variant),
            )*
        }

        impl OpKind {
            /// The kind's behaviour: the one dispatch over the list.
            pub fn kind(&self) -> &dyn Kind {
                match self {
                    $(OpKind::$variant(k) => k,)*
                }
            }
        }

        $(
            impl From<$variant> for OpKind {
                fn from(k: $variant) -> OpKind {
                    OpKind::$variant(k)
                }
            }
        )*
    };
}

kinds! {
    SetUsageLocation,
    AssignLicenses,
    AssignGroupLicenses,
    AddGroupMember,
    RemoveGroupMember,
    ConvertMailbox,
    SetSignIn,
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
            OpKind::AddGroupMember(AddGroupMember {
                group_id,
                group,
                user_id,
                upn,
            })
        } else {
            OpKind::RemoveGroupMember(RemoveGroupMember {
                group_id,
                group,
                user_id,
                upn,
            })
        }
    }

    /// Whether the operation grants, modifies or takes away.
    pub fn action(&self) -> Action {
        self.kind().action()
    }

    /// The snake_case kind name used in JSON plans and op ids.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The human key of the principal the operation changes (UPN or group name).
    pub fn target(&self) -> &str {
        self.kind().target()
    }

    /// The user object id the operation changes, if it changes a user.
    pub fn user_id(&self) -> Option<&str> {
        self.kind().user_id()
    }

    /// The licences the operation touches.
    pub fn licences(&self) -> Licences<'_> {
        self.kind().licences()
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
        OpKind::AssignLicenses(AssignLicenses {
            user_id: "u1".into(),
            upn: "ann@x.com".into(),
            add,
            remove,
        })
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

    /// `Kind::name` (ids, the version 1 plan file) is the serde tag (the JSON operations, the
    /// version 2 plan file) for every kind of the every-kind fixture.
    #[test]
    fn every_kinds_name_is_its_serde_tag() {
        for op in crate::render::fixtures::every_kind().operations {
            let json = serde_json::to_value(&op.kind).expect("serialises");
            assert_eq!(json["kind"], op.kind.name(), "{op:?}");
        }
    }
}
