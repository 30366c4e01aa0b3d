//! The live-state model: what the tenant looks like right now.
//!
//! Every backend (snapshot file, Microsoft Graph, the fake server) produces and consumes this
//! one model, so the planner never knows where the state came from. The model mirrors Graph's
//! own vocabulary (skuId GUIDs, `licenseAssignmentStates` with `assignedByGroup`) so that the
//! Graph backend maps onto it without loss. It is pure data: no I/O lives here.

mod attributes;
pub mod done;
pub(crate) mod mutate;
pub mod ops;
pub(crate) mod positions;
pub mod snapshot;

pub use crate::rules::invariants::unlicensed_user_mailboxes;
pub use crate::rules::mailbox::SHARED_MAILBOX_FREE_LIMIT_BYTES;
pub use attributes::UserAttributes;
pub use mutate::{RuleViolation, apply_group_level, apply_operation, process_members};
pub(crate) use mutate::{grant_direct, grant_to_group, sync_inherited};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// User attributes `[[rules]]` match on, in Graph's names: four top-level user properties,
/// then `onPremisesExtensionAttributes.extensionAttribute1..15`.
pub const USER_ATTRIBUTES: [&str; 19] = [
    "department",
    "jobTitle",
    "companyName",
    "country",
    "extensionAttribute1",
    "extensionAttribute2",
    "extensionAttribute3",
    "extensionAttribute4",
    "extensionAttribute5",
    "extensionAttribute6",
    "extensionAttribute7",
    "extensionAttribute8",
    "extensionAttribute9",
    "extensionAttribute10",
    "extensionAttribute11",
    "extensionAttribute12",
    "extensionAttribute13",
    "extensionAttribute14",
    "extensionAttribute15",
];

/// How many of `USER_ATTRIBUTES` are top-level user properties (the rest are extension
/// attributes).
pub const TOP_LEVEL_ATTRIBUTES: usize = 4;

/// The whole tenant as m365ctl sees it. Collections are kept sorted (SKUs by part number,
/// users by UPN, groups by display name) so serialisation and fingerprints are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Entra tenant id (GUID), when known; informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Subscribed SKUs (`/subscribedSkus`).
    #[serde(default)]
    pub skus: Vec<Sku>,
    /// Users (`/users`), each with licences and mailbox.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups that matter to licensing (licensed groups and groups named in the config).
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Where each user id sits in `users`: lookups by id are O(1) on 100,000-user tenants
    /// (the fake server and the apply guards look users up once per operation).
    #[serde(skip)]
    positions: UserPositions,
}

/// A lazily built id -> position table over `Tenant::users`. It is a cache, never the truth:
/// every hit is checked against `users` and a miss falls back to a scan, so code that edits
/// `users` directly stays correct; `normalize` drops the table when it reorders users. It
/// holds no copy of the ids (`positions::PositionTable`: 16 bytes a user, not 100).
#[derive(Default)]
struct UserPositions(std::sync::OnceLock<positions::PositionTable>);

impl UserPositions {
    fn get(&self, users: &[User], id: &str) -> Option<usize> {
        let table = self.0.get_or_init(|| {
            positions::PositionTable::new(positions::Fold::Exact, users.len(), |i| &users[i].id)
        });
        let id_at = |i: usize| users.get(i).map(|u| u.id.as_str());
        table
            .get(id, id_at)
            .or_else(|| users.iter().position(|u| u.id == id))
    }
}

impl Clone for UserPositions {
    /// A clone starts cold: copying a 100,000-entry map to maybe never use it costs more than
    /// rebuilding it on first lookup.
    fn clone(&self) -> Self {
        UserPositions::default()
    }
}

impl PartialEq for UserPositions {
    /// A cache has no bearing on equality.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for UserPositions {}

impl std::fmt::Debug for UserPositions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserPositions")
    }
}

/// A subscribed SKU (`subscribedSku`): what the tenant bought and how much is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sku {
    /// `skuId` GUID, the identity used by `assignLicense`.
    pub sku_id: String,
    /// `skuPartNumber`, e.g. `ENTERPRISEPACK`; what humans and the TOML use.
    pub sku_part_number: String,
    /// `prepaidUnits.enabled`.
    pub enabled: u32,
    /// `prepaidUnits.warning`: expired units in grace period. Microsoft subtracts them from free seats.
    #[serde(default)]
    pub warning: u32,
    /// `consumedUnits`.
    pub consumed: u32,
    /// `appliesTo`: only `User` SKUs are assignable to users.
    #[serde(default = "default_applies_to")]
    pub applies_to: String,
    /// `capabilityStatus`: anything but `Enabled` is a warning in the plan.
    #[serde(default = "default_capability_status")]
    pub capability_status: String,
    /// `servicePlans`: the plans inside the SKU (names drive Exchange rank and disabled plans).
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

fn default_applies_to() -> String {
    "User".to_string()
}

fn default_capability_status() -> String {
    "Enabled".to_string()
}

impl Sku {
    /// Seats that can still be assigned (`rules::seats::free`: enabled − warning − consumed),
    /// signed because a tenant can already be over-assigned.
    pub fn available(&self) -> i64 {
        crate::rules::seats::free(self)
    }

    /// Looks a service plan up by its name (`servicePlanName`), case-insensitively.
    pub fn plan_by_name(&self, name: &str) -> Option<&ServicePlan> {
        self.service_plans
            .iter()
            .find(|p| p.service_plan_name.eq_ignore_ascii_case(name))
    }

    /// Looks a service plan up by its id.
    pub fn plan_by_id(&self, id: &str) -> Option<&ServicePlan> {
        self.service_plans
            .iter()
            .find(|p| p.service_plan_id.eq_ignore_ascii_case(id))
    }
}

/// One service plan inside a SKU (`servicePlanInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePlan {
    /// `servicePlanId` GUID; `disabledPlans` lists these.
    pub service_plan_id: String,
    /// `servicePlanName`, e.g. `EXCHANGE_S_ENTERPRISE`.
    pub service_plan_name: String,
}

/// A user account with everything the planner needs to decide about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Object id GUID.
    pub id: String,
    /// `userPrincipalName`; the key users are declared by in the TOML (compared case-insensitively).
    pub user_principal_name: String,
    /// `displayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `accountEnabled`.
    #[serde(default = "default_true")]
    pub account_enabled: bool,
    /// `usageLocation` (ISO 3166-1 alpha-2); licences cannot be assigned without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
    /// `onPremisesSyncEnabled`: synced users cannot have their mailbox converted in the cloud.
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_premises_sync_enabled: bool,
    /// Directory attributes that `[[rules]]` match on: `department`, `jobTitle`, `companyName`,
    /// `country`, `extensionAttribute1`..`15` (Graph's names, camelCase).
    #[serde(default, skip_serializing_if = "UserAttributes::is_empty")]
    pub attributes: UserAttributes,
    /// Licence assignments, one per path (direct, and each group), as `licenseAssignmentStates`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "exact_vec"
    )]
    pub licenses: Vec<LicenseAssignment>,
    /// The Exchange Online mailbox, when the user has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<Mailbox>,
}

/// Deserialises a sequence into a vector of exactly its length. Serde's own grows by
/// doubling (a user's two licence assignments held room for four), and shrinking each one
/// afterwards left a freed hole per user that stayed resident: 240 MB at 1,000,000 users.
fn exact_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut grown = Vec::<T>::deserialize(deserializer)?;
    if grown.len() == grown.capacity() {
        return Ok(grown);
    }
    // The exact vector is allocated while the grown one still lives, so the grown one's
    // block is free again for the next user's and the kept vectors lie side by side.
    let mut exact = Vec::with_capacity(grown.len());
    exact.append(&mut grown);
    Ok(exact)
}

fn default_true() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl User {
    /// Puts licences into canonical order (by SKU, then granting group; disabled plans
    /// sorted), so one user's change never needs a whole-tenant `normalize`.
    pub fn normalize_licenses(&mut self) {
        for l in &mut self.licenses {
            l.disabled_plans.sort();
        }
        self.licenses.sort_by(|a, b| {
            (&a.sku_id, &a.assigned_by_group).cmp(&(&b.sku_id, &b.assigned_by_group))
        });
    }

    /// SKU ids this user holds effectively: one seat each, whatever the number of paths.
    pub fn effective_skus(&self) -> Vec<&str> {
        let mut held: Vec<&str> = self
            .licenses
            .iter()
            .filter(|l| l.is_effective())
            .map(|l| l.sku_id.as_str())
            .collect();
        held.sort_unstable();
        held.dedup();
        held
    }

    /// Direct (not group-inherited) assignment of a SKU, if any.
    pub fn direct_license(&self, sku_id: &str) -> Option<&LicenseAssignment> {
        self.licenses
            .iter()
            .find(|l| l.assigned_by_group.is_none() && l.sku_id == sku_id)
    }

    /// Whether the user holds the SKU by any path (direct or group).
    pub fn holds(&self, sku_id: &str) -> bool {
        self.licenses.iter().any(|l| l.sku_id == sku_id)
    }

    /// Distinct SKU ids the user holds by any path, sorted.
    pub fn held_sku_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.licenses.iter().map(|l| l.sku_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The value of a rule-matchable attribute (Graph name, case-insensitive key).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)
    }
}

/// One licence assignment path (`licenseAssignmentState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseAssignment {
    /// SKU GUID.
    pub sku_id: String,
    /// Disabled service plan GUIDs, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
    /// `assignedByGroup`: `None` = direct; otherwise the group id the licence is inherited from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_by_group: Option<String>,
    /// `state`: `Active`, `ActiveWithError`, `Disabled` or `Error`.
    #[serde(default = "default_state")]
    pub state: String,
    /// `error`: `None`, `CountViolation`, `MutuallyExclusiveViolation`, ... when the state is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LicenseAssignment {
    /// Whether the assignment grants service and holds a seat (`Active` or `ActiveWithError`);
    /// `Error`/`Disabled` assignments (e.g. a group licence beyond the seat count) do neither.
    pub fn is_effective(&self) -> bool {
        matches!(self.state.as_str(), "Active" | "ActiveWithError")
    }
}

fn default_state() -> String {
    "Active".to_string()
}

/// A group that carries licences (group-based licensing) or is managed by the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Object id GUID.
    pub id: String,
    /// `displayName`; the key groups are declared by in the TOML. Not unique: Entra allows
    /// several groups with one name (the config then names them by object id).
    pub display_name: String,
    /// `assignedLicenses` of the group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<GroupLicense>,
    /// Member user ids (direct members; nested groups are not supported by group licensing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// How far group-based licensing has processed one user for one group. Graph processes group
/// licence and membership changes asynchronously (group `assignLicense` answers `202
/// Accepted`): until then a member lacks the group's licences, or a former member still
/// holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupProcessing {
    /// The user holds exactly what the group gives them now.
    Done,
    /// Not processed yet.
    Pending,
    /// Processed, and a licence the group gives is in `Error` state for the user.
    Failed {
        /// SKU in error.
        sku_id: String,
        /// `error`, e.g. `CountViolation`.
        error: Option<String>,
    },
}

impl Group {
    /// Whether `user`'s assignments inherited from this group are exactly what the group
    /// gives them now: its licences, with its disabled plans, if they are a member; nothing
    /// otherwise.
    pub fn processing_of(&self, user: &User) -> GroupProcessing {
        self.processing(user, self.members.contains(&user.id))
    }

    /// `processing_of` for a user taken from the group's own member list.
    pub fn processing_of_member(&self, member: &User) -> GroupProcessing {
        self.processing(member, true)
    }

    /// `processing_of` with the membership already known (a member scan per user would be
    /// quadratic in a 50,000-member group).
    pub(crate) fn processing(&self, user: &User, member: bool) -> GroupProcessing {
        let inherited: Vec<&LicenseAssignment> = user
            .licenses
            .iter()
            .filter(|l| l.assigned_by_group.as_deref() == Some(self.id.as_str()))
            .collect();
        let expected: &[GroupLicense] = if member { &self.licenses } else { &[] };
        if let Some(failed) = inherited
            .iter()
            .find(|l| l.state == "Error" && expected.iter().any(|e| e.sku_id == l.sku_id))
        {
            return GroupProcessing::Failed {
                sku_id: failed.sku_id.clone(),
                error: failed.error.clone(),
            };
        }
        let sorted = |plans: &[String]| {
            let mut plans = plans.to_vec();
            plans.sort();
            plans
        };
        let done = inherited.len() == expected.len()
            && expected.iter().all(|e| {
                inherited.iter().any(|l| {
                    l.sku_id == e.sku_id && sorted(&l.disabled_plans) == sorted(&e.disabled_plans)
                })
            });
        if done {
            GroupProcessing::Done
        } else {
            GroupProcessing::Pending
        }
    }
}

/// A licence assigned to a group (`assignedLicense`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLicense {
    /// SKU GUID.
    pub sku_id: String,
    /// Disabled service plan GUIDs, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_plans: Vec<String>,
}

/// Exchange recipient type details of a mailbox (`RecipientTypeDetails`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxType {
    /// `UserMailbox`: needs an Exchange licence.
    User,
    /// `SharedMailbox`: free up to 50 GB without archive or hold.
    Shared,
    /// `RoomMailbox`: never gets a user licence by rule.
    Room,
    /// `EquipmentMailbox`: never gets a user licence by rule.
    Equipment,
}

impl MailboxType {
    /// Every mailbox type: the one list the config language, the schema, the Exchange reads,
    /// the fake and the docs' tests derive their names from.
    pub const ALL: [MailboxType; 4] = [
        MailboxType::User,
        MailboxType::Shared,
        MailboxType::Room,
        MailboxType::Equipment,
    ];

    /// The `Set-Mailbox -Type` spelling (`ConvertibleMailboxSubType`: `Regular` for a user
    /// mailbox; research graph-api.md §5.1).
    pub fn exchange_name(self) -> &'static str {
        match self {
            MailboxType::User => "Regular",
            MailboxType::Shared => "Shared",
            MailboxType::Room => "Room",
            MailboxType::Equipment => "Equipment",
        }
    }

    /// The Exchange `RecipientTypeDetails` spelling (`Get-Mailbox`).
    pub fn recipient_type_details(self) -> &'static str {
        match self {
            MailboxType::User => "UserMailbox",
            MailboxType::Shared => "SharedMailbox",
            MailboxType::Room => "RoomMailbox",
            MailboxType::Equipment => "EquipmentMailbox",
        }
    }

    /// Lower-case name as written in the TOML and plans (also its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxType::User => "user",
            MailboxType::Shared => "shared",
            MailboxType::Room => "room",
            MailboxType::Equipment => "equipment",
        }
    }

    /// The type a config name (`as_str`) names.
    pub fn parse(name: &str) -> Option<MailboxType> {
        MailboxType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The type a `Set-Mailbox -Type` value names.
    pub fn from_exchange_name(name: &str) -> Option<MailboxType> {
        MailboxType::ALL
            .into_iter()
            .find(|t| t.exchange_name() == name)
    }

    /// The type a `RecipientTypeDetails` value names (`None`: not a mailbox kind m365ctl
    /// manages, e.g. `SchedulingMailbox`).
    pub fn from_recipient_type_details(name: &str) -> Option<MailboxType> {
        MailboxType::ALL
            .into_iter()
            .find(|t| t.recipient_type_details() == name)
    }
}

impl std::fmt::Display for MailboxType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An Exchange Online mailbox.
///
/// The facts the safety rules depend on (size, archive, hold) are `None` until they have been
/// read: a backend that did not ask Exchange says so instead of reporting 0, and the planner
/// refuses a decision that depends on a fact it does not have. In a snapshot file an absent
/// fact is the file's own statement (0 / off); an unread one is written as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    /// Recipient type.
    #[serde(rename = "type")]
    pub kind: MailboxType,
    /// Total item size in bytes (`Get-MailboxStatistics` TotalItemSize); `None` = not read.
    #[serde(default = "known_zero", skip_serializing_if = "is_known_zero")]
    pub size_bytes: Option<u64>,
    /// `ArchiveStatus` is Active; `None` = not read.
    #[serde(default = "known_off", skip_serializing_if = "is_known_off")]
    pub archive_enabled: Option<bool>,
    /// `LitigationHoldEnabled`; `None` = not read.
    #[serde(default = "known_off", skip_serializing_if = "is_known_off")]
    pub litigation_hold: Option<bool>,
}

fn known_zero() -> Option<u64> {
    Some(0)
}

fn is_known_zero(size: &Option<u64>) -> bool {
    *size == Some(0)
}

fn known_off() -> Option<bool> {
    Some(false)
}

fn is_known_off(flag: &Option<bool>) -> bool {
    *flag == Some(false)
}

impl Mailbox {
    /// Whether size, archive and hold have all been read.
    pub fn facts_known(&self) -> bool {
        self.size_bytes.is_some()
            && self.archive_enabled.is_some()
            && self.litigation_hold.is_some()
    }

    /// The facts not read yet, by name (for "needs facts" diagnostics).
    pub fn unknown_facts(&self) -> Vec<&'static str> {
        [
            (self.size_bytes.is_none(), "size"),
            (self.archive_enabled.is_none(), "archive"),
            (self.litigation_hold.is_none(), "litigation hold"),
        ]
        .into_iter()
        .filter_map(|(unknown, name)| unknown.then_some(name))
        .collect()
    }

    /// The size as admins read it, or "size not read".
    pub fn size_text(&self) -> String {
        self.size_bytes
            .map_or_else(|| "size not read".to_string(), human_size)
    }

    /// Why this mailbox would need Exchange Online Plan 2 if it were shared, if it would
    /// (`rules::mailbox::shared_mailbox_needs_plan2`).
    pub fn shared_licence_reason(&self) -> Option<String> {
        crate::rules::mailbox::shared_mailbox_needs_plan2(self)
    }
}

/// Formats a byte count the way admins read mailbox sizes (`61.2 GB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Canonical user order: UPN, case-insensitively, compared without allocating.
pub(crate) fn upn_order(a: &User, b: &User) -> std::cmp::Ordering {
    upn_cmp(&a.user_principal_name, &b.user_principal_name)
}

/// UPNs compared as the canonical user order compares them (ASCII case-insensitively).
pub(crate) fn upn_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Canonical group order: display name, then object id, because Entra allows several groups
/// with one display name and their order must not depend on how they were read.
fn group_order(a: &Group, b: &Group) -> std::cmp::Ordering {
    (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id))
}

impl Tenant {
    /// Assembles a tenant from its parts (the id index is private and starts cold).
    pub fn new(
        tenant_id: Option<String>,
        skus: Vec<Sku>,
        users: Vec<User>,
        groups: Vec<Group>,
    ) -> Tenant {
        Tenant {
            tenant_id,
            skus,
            users,
            groups,
            positions: UserPositions::default(),
        }
    }

    /// Whether the collections are already in `normalize`'s order (checked without copying,
    /// so a tenant read from Graph or a snapshot is fingerprinted as it is).
    pub fn is_normalized(&self) -> bool {
        self.skus
            .is_sorted_by(|a, b| a.sku_part_number <= b.sku_part_number)
            && self.groups.is_sorted_by(|a, b| group_order(a, b).is_le())
            && self
                .users
                .is_sorted_by(|a, b| upn_order(a, b) != std::cmp::Ordering::Greater)
            && self.users.iter().all(|u| {
                u.licenses.is_sorted_by(|a, b| {
                    (&a.sku_id, &a.assigned_by_group) <= (&b.sku_id, &b.assigned_by_group)
                }) && u.licenses.iter().all(|l| l.disabled_plans.is_sorted())
            })
            && self.groups.iter().all(|g| {
                g.members.is_sorted_by(|a, b| a < b)
                    && g.licenses.is_sorted_by(|a, b| a.sku_id <= b.sku_id)
            })
            && self.skus.iter().all(|s| {
                s.service_plans
                    .is_sorted_by(|a, b| a.service_plan_name <= b.service_plan_name)
            })
    }

    /// Sorts every collection into canonical order so equal tenants serialise identically.
    pub fn normalize(&mut self) {
        self.skus
            .sort_by(|a, b| a.sku_part_number.cmp(&b.sku_part_number));
        for sku in &mut self.skus {
            sku.service_plans
                .sort_by(|a, b| a.service_plan_name.cmp(&b.service_plan_name));
        }
        if !self
            .users
            .is_sorted_by(|a, b| upn_order(a, b) != std::cmp::Ordering::Greater)
        {
            self.users.sort_by(upn_order);
            self.positions = UserPositions::default();
        }
        for user in &mut self.users {
            user.normalize_licenses();
        }
        self.groups.sort_by(group_order);
        for group in &mut self.groups {
            group.members.sort();
            group.members.dedup();
            for l in &mut group.licenses {
                l.disabled_plans.sort();
            }
            group.licenses.sort_by(|a, b| a.sku_id.cmp(&b.sku_id));
        }
    }

    /// SKU by GUID.
    pub fn sku(&self, sku_id: &str) -> Option<&Sku> {
        self.skus
            .iter()
            .find(|s| s.sku_id.eq_ignore_ascii_case(sku_id))
    }

    /// SKU by part number (case-insensitive).
    pub fn sku_by_part_number(&self, part: &str) -> Option<&Sku> {
        self.skus
            .iter()
            .find(|s| s.sku_part_number.eq_ignore_ascii_case(part))
    }

    /// User by object id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.user_position(id).map(|i| &self.users[i])
    }

    /// Where the user with this object id sits in `users` (O(1) after the first lookup).
    pub fn user_position(&self, id: &str) -> Option<usize> {
        self.positions.get(&self.users, id)
    }

    /// User by UPN (case-insensitive).
    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
    }

    /// Group by object id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// `(group index, user index)` pairs group-based licensing has not processed yet: members
    /// lacking what their group gives, and users still holding what a group no longer gives
    /// them.
    pub fn pending_group_licensing(&self) -> Vec<(usize, usize)> {
        // Users by the groups they inherit from, in one pass over the users.
        let mut inheriting: std::collections::HashMap<&str, Vec<usize>> =
            std::collections::HashMap::new();
        for (ui, user) in self.users.iter().enumerate() {
            for group in user
                .licenses
                .iter()
                .filter_map(|l| l.assigned_by_group.as_deref())
            {
                inheriting.entry(group).or_default().push(ui);
            }
        }
        let mut pending = Vec::new();
        for (gi, group) in self.groups.iter().enumerate() {
            let members: std::collections::HashSet<usize> = group
                .members
                .iter()
                .filter_map(|m| self.user_position(m))
                .collect();
            let inherits = inheriting.get(group.id.as_str()).into_iter().flatten();
            let mut concerned: Vec<usize> = members.iter().chain(inherits).copied().collect();
            concerned.sort_unstable();
            concerned.dedup();
            for ui in concerned {
                let member = members.contains(&ui);
                if group.processing(&self.users[ui], member) == GroupProcessing::Pending {
                    pending.push((gi, ui));
                }
            }
        }
        pending
    }

    /// Recomputes every SKU's `consumed` from the users' effective assignments: a user holding
    /// a SKU by several paths consumes one seat, as in Microsoft 365.
    pub fn recount_consumed(&mut self) {
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        for user in &self.users {
            for sku in user.effective_skus() {
                *counts.entry(sku).or_default() += 1;
            }
        }
        let counts: BTreeMap<String, u32> = counts
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for sku in &mut self.skus {
            sku.consumed = counts.get(&sku.sku_id).copied().unwrap_or(0);
        }
    }
}
