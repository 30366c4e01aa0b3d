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

/// What the desired state says about a user's licences when they leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseIntent {
    /// Hold exactly these managed licences.
    Exactly,
    /// Offboarding profile with `licenses = "keep"`: hold whatever they hold now.
    Keep,
}

/// Desired state of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredUser {
    /// UPN as declared (compared case-insensitively).
    pub upn: String,
    /// Where the user was declared (or the rule that matched them).
    pub origin: Option<Origin>,
    /// Profile name that applies, for plan explanations.
    pub profile: Option<String>,
    /// Desired usage location; `None` = not managed.
    pub usage_location: Option<String>,
    /// Desired direct licences keyed by skuPartNumber; `None` = not managed. Shared: every
    /// user a rule matches holds the same profile's map (a private copy per user cost 1.5 KB
    /// each, 150 MB at 100,000 users).
    pub licenses: Option<Arc<BTreeMap<String, DesiredLicense>>>,
    /// Whether `licenses` is exact or "keep".
    pub license_intent: LicenseIntent,
    /// Desired mailbox type; `None` = not managed.
    pub mailbox: Option<MailboxType>,
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
        }
    }
}

/// Desired state of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredGroup {
    /// Display name as declared.
    pub name: String,
    /// Where it was declared.
    pub origin: Option<Origin>,
    /// Desired group licences keyed by skuPartNumber; `None` = not managed.
    pub licenses: Option<BTreeMap<String, DesiredLicense>>,
    /// Desired member UPNs (lower-case); `None` = not managed.
    pub members: Option<BTreeSet<String>>,
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
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            max_license_removals: 10,
            max_license_removal_percent: 30,
            max_mailbox_conversions: 10,
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
    /// Groups keyed by display name.
    pub groups: BTreeMap<String, DesiredGroup>,
    /// Apply thresholds.
    pub guards: Guards,
}
