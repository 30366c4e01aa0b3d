//! The resolved desired state: per-principal intent after aliases, profiles, rules and
//! defaults have been expanded. This is the planner's input; it says nothing about TOML.
//!
//! `None` always means "not managed" and never "empty" (Microsoft365DSC users lost licences
//! when an omitted property was read as empty): a user whose `licenses` is `None` keeps
//! whatever they hold; `Some(empty)` removes every in-scope licence.

use crate::diag::Origin;
use crate::tenant::MailboxType;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Which users m365ctl may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserScope {
    /// Only users declared (or matched by a rule): others are never touched.
    Declared,
    /// Every user: an undeclared user loses the managed SKUs.
    All,
}

/// What m365ctl owns in the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// skuPartNumbers (upper-case) whose assignment m365ctl manages exclusively. A user in
    /// scope holding one of these that the desired state does not give them loses it; SKUs not
    /// listed are never removed.
    pub managed_skus: BTreeSet<String>,
    /// Which users are in scope.
    pub users: UserScope,
}

/// A licence the desired state wants a principal to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredLicense {
    /// skuPartNumber, upper-case as in the tenant (resolved from the alias).
    pub sku_part_number: String,
    /// Service plan names to disable (upper-case). `None` = not managed (keep what is there).
    pub disabled_plans: Option<BTreeSet<String>>,
    /// Where it was declared (the alias in the profile or user entry).
    pub origin: Option<Origin>,
}

/// The licences a principal should hold, one per skuPartNumber, in part-number order.
///
/// A sorted `Vec` rather than a `BTreeMap`: principals hold two or three licences, and a map's
/// node reserves room for eleven (1.3 KB per user; 130 MB for a 100,000-entry users.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseSet(Vec<DesiredLicense>);

/// The canonical form the plan fingerprint hashes: skuPartNumber -> disabled plans (`null`
/// when not managed); origins are left out, so moving a line does not make a plan stale.
impl serde::Serialize for LicenseSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|l| (&l.sku_part_number, &l.disabled_plans)),
        )
    }
}

impl LicenseSet {
    /// The licence for `part` (upper-case skuPartNumber).
    pub fn get(&self, part: &str) -> Option<&DesiredLicense> {
        self.position(part).ok().map(|i| &self.0[i])
    }

    /// The licence for `part`, to edit it in place.
    pub fn get_mut(&mut self, part: &str) -> Option<&mut DesiredLicense> {
        self.position(part).ok().map(|i| &mut self.0[i])
    }

    /// Adds a licence, replacing the one with the same part number.
    pub fn insert(&mut self, license: DesiredLicense) {
        match self.position(&license.sku_part_number) {
            Ok(i) => self.0[i] = license,
            Err(i) => self.0.insert(i, license),
        }
    }

    /// The licences in part-number order.
    pub fn iter(&self) -> std::slice::Iter<'_, DesiredLicense> {
        self.0.iter()
    }

    /// The licences in part-number order, to edit them in place (part numbers stay as they
    /// are: they are the order).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut DesiredLicense> {
        self.0.iter_mut()
    }

    /// The part numbers, in order.
    pub fn part_numbers(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|l| l.sku_part_number.as_str())
    }

    /// How many licences.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the principal should hold no licence.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, part: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|l| l.sku_part_number.as_str().cmp(part))
    }
}

/// Collects licences; a later licence with the same part number replaces an earlier one, as
/// collecting into a map would.
impl FromIterator<DesiredLicense> for LicenseSet {
    fn from_iter<I: IntoIterator<Item = DesiredLicense>>(iter: I) -> LicenseSet {
        let mut set = LicenseSet::default();
        for license in iter {
            set.insert(license);
        }
        // Exactly as long as needed: one set per user, grown by doubling it held room for 4.
        set.0.shrink_to_fit();
        set
    }
}

/// `set["ENTERPRISEPACK"]`, like a map: panics when the part number is not in the set.
impl std::ops::Index<&str> for LicenseSet {
    type Output = DesiredLicense;

    fn index(&self, part: &str) -> &DesiredLicense {
        self.get(part)
            .unwrap_or_else(|| panic!("no licence {part} in the set"))
    }
}

impl<'a> IntoIterator for &'a LicenseSet {
    type Item = &'a DesiredLicense;
    type IntoIter = std::slice::Iter<'a, DesiredLicense>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// What the desired state says about a user's licences when they leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseIntent {
    /// Hold exactly these managed licences.
    Exactly,
    /// Offboarding profile with `licenses = "keep"`: hold whatever they hold now.
    Keep,
}

impl LicenseIntent {
    /// The canonical (fingerprinted) form: `keep = true|false`.
    fn serialize_keep<S: serde::Serializer>(
        intent: &LicenseIntent,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*intent == LicenseIntent::Keep)
    }
}

/// Desired state of one user.
///
/// `Serialize` is the canonical form the plan fingerprint hashes (`plan::fingerprint`), so a
/// new field is part of it unless marked `#[serde(skip)]`: fields in alphabetical order of
/// their serialised names (the order the fingerprint always had; a test keeps it), what
/// only explains or locates a decision skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredUser {
    /// UPN as declared (compared case-insensitively); the key of `DesiredState::users`.
    #[serde(skip)]
    pub upn: String,
    /// Where the user was declared (or the rule that matched them).
    #[serde(skip)]
    pub origin: Option<Origin>,
    /// Profile name that applies, for plan explanations.
    #[serde(skip)]
    pub profile: Option<String>,
    /// Whether `licenses` is exact or "keep" (canonical: `keep`, a boolean).
    #[serde(rename = "keep", serialize_with = "LicenseIntent::serialize_keep")]
    pub license_intent: LicenseIntent,
    /// Desired direct licences; `None` = not managed. Shared: every user a rule matches holds
    /// the same profile's set (a private copy per user cost 1.5 KB each, 150 MB at 100,000
    /// users).
    pub licenses: Option<Arc<LicenseSet>>,
    /// Desired mailbox type; `None` = not managed.
    pub mailbox: Option<MailboxType>,
    /// `mailbox = "delete"`: the config accepts that this user's mailbox loses its last
    /// Exchange licence (Exchange disables it and deletes it after 30 days). Without it, a
    /// plan that strands a user mailbox is an error. Not fingerprinted: it changes no
    /// operation, only whether the plan is an error, and `apply` refuses plans with errors.
    #[serde(skip)]
    pub mailbox_deletion_accepted: bool,
    /// Desired sign-in (`accountEnabled`); `None` = not managed, and then left out of the
    /// canonical form, so fingerprints of configs without `sign_in` are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<crate::tenant::ops::SignIn>,
    /// Desired usage location; `None` = not managed.
    pub usage_location: Option<String>,
}

impl DesiredUser {
    /// A user in scope who should hold no managed licence and nothing else managed: what
    /// `users = "all"` means for a user no entry or rule names.
    pub fn without_managed_licenses(upn: String) -> DesiredUser {
        DesiredUser {
            upn,
            origin: None,
            profile: None,
            usage_location: None,
            licenses: Some(Default::default()),
            license_intent: LicenseIntent::Exactly,
            mailbox: None,
            mailbox_deletion_accepted: false,
            sign_in: None,
        }
    }
}

/// What `mailbox = "..."` says: a mailbox type to converge to, or `"delete"`, the explicit
/// acknowledgement that the user mailbox may lose its last Exchange licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxIntent {
    /// `user`, `shared`, `room`, `equipment`.
    Kind(MailboxType),
    /// `delete`.
    Delete,
}

impl MailboxIntent {
    /// The value that accepts the loss of a user mailbox.
    const DELETE: &'static str = "delete";

    /// Every value the config accepts, for the schema, hints and docs: the mailbox types'
    /// names (`MailboxType::ALL`), then `delete`.
    pub fn names() -> Vec<&'static str> {
        MailboxType::ALL
            .map(MailboxType::as_str)
            .into_iter()
            .chain([MailboxIntent::DELETE])
            .collect()
    }

    /// Parses a config value.
    pub fn parse(value: &str) -> Option<MailboxIntent> {
        if value == MailboxIntent::DELETE {
            Some(MailboxIntent::Delete)
        } else {
            MailboxType::parse(value).map(MailboxIntent::Kind)
        }
    }
}

/// Desired state of one group. `Serialize` is the canonical form the plan fingerprint
/// hashes, as for `DesiredUser`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DesiredGroup {
    /// Object id of the live group the entry resolved to: the planner finds the group by id,
    /// because Entra allows several groups with one display name.
    #[serde(skip)]
    pub id: String,
    /// The config key as declared (display name or object id), for messages.
    #[serde(skip)]
    pub name: String,
    /// Where it was declared.
    #[serde(skip)]
    pub origin: Option<Origin>,
    /// Desired group licences; `None` = not managed.
    pub licenses: Option<LicenseSet>,
    /// Desired member UPNs (lower-case); `None` = not managed.
    pub members: Option<BTreeSet<String>>,
    /// Where each member (lower-case UPN) is listed, so a plan-time problem about a
    /// membership points at that line of `members`.
    #[serde(skip)]
    pub member_origins: BTreeMap<String, Origin>,
}

/// Apply-time safety thresholds from the config (`[guards]`), used by `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    /// Refuse when more than this many managed users would lose a licence...
    pub max_license_removals: usize,
    /// ...and more than this percentage of managed users would.
    pub max_license_removal_percent: u8,
    /// Refuse when more than this many mailboxes would be converted.
    pub max_mailbox_conversions: usize,
    /// `approve_mass_change`: the operations checksum of the one mass change reviewers
    /// approved in the pull request (a line in the diff, so the approval is reviewed too).
    pub approve_mass_change: Option<MassChangeApproval>,
}

/// A reviewed approval of one exact set of operations over the guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MassChangeApproval {
    /// `sha256:<64 hex>`, compared with `PlanFile::operations_sha256`.
    pub operations_sha256: String,
    /// Where it is written, so the plan can annotate that line.
    pub origin: Origin,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            max_license_removals: 10,
            max_license_removal_percent: 30,
            max_mailbox_conversions: 10,
            approve_mass_change: None,
        }
    }
}

/// The whole resolved desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    /// What m365ctl owns.
    pub scope: Scope,
    /// Users keyed by lower-case UPN.
    pub users: BTreeMap<String, DesiredUser>,
    /// Groups keyed by their config key (display name or object id), each resolved to one
    /// live group.
    pub groups: BTreeMap<String, DesiredGroup>,
    /// Apply thresholds.
    pub guards: Guards,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn license(part: &str, disabled: &[&str]) -> DesiredLicense {
        DesiredLicense {
            sku_part_number: part.to_string(),
            disabled_plans: Some(disabled.iter().map(|p| p.to_string()).collect()),
            origin: None,
        }
    }

    #[test]
    fn a_license_set_keeps_part_number_order_and_the_last_of_a_repeated_part() {
        let set: LicenseSet = [
            license("SPE_E5", &[]),
            license("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"]),
            license("EMS", &[]),
            license("ENTERPRISEPACK", &["SWAY"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            set.part_numbers().collect::<Vec<_>>(),
            ["EMS", "ENTERPRISEPACK", "SPE_E5"]
        );
        assert_eq!(set.len(), 3);
        assert_eq!(
            set["ENTERPRISEPACK"].disabled_plans,
            Some(BTreeSet::from(["SWAY".to_string()]))
        );
        assert!(set.get("STANDARDPACK").is_none());
    }

    #[test]
    fn editing_a_license_in_place_leaves_the_others_alone() {
        let mut set: LicenseSet = [license("EMS", &[]), license("SPE_E5", &[])]
            .into_iter()
            .collect();
        set.get_mut("SPE_E5").expect("held").disabled_plans = None;
        set.insert(license("ENTERPRISEPACK", &[]));
        assert_eq!(
            set.iter()
                .map(|l| (l.sku_part_number.as_str(), l.disabled_plans.is_some()))
                .collect::<Vec<_>>(),
            [("EMS", true), ("ENTERPRISEPACK", true), ("SPE_E5", false)]
        );
        assert!(!set.is_empty());
        assert!(LicenseSet::default().is_empty());
    }
}
