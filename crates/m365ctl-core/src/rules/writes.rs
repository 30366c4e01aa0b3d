//! Write preconditions: when Microsoft Graph (or Exchange) refuses a write, and with which
//! error. `tenant::apply_operation` checks every write with these before changing the model,
//! so the snapshot backend, the fake server and the planner's tests refuse the same writes.

use super::exchange::ExchangeRank;
use super::seats;
use crate::tenant::{MailboxType, Sku};

/// Why Graph (or Exchange) would reject an operation, in the model's words (the snapshot
/// backend shows them). `backend::Refusal::of_violation` says what Graph's codes make of each;
/// the fake answers each with Graph's code and message (`sim::routes::violation_answer`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    /// The user or group does not exist (`Request_ResourceNotFound`).
    #[error("{0} was not found")]
    NotFound(String),
    /// License assignment without usage location (Graph: "License assignment cannot be done for
    /// user with invalid usage location.").
    #[error("License assignment cannot be done for user {0} with invalid usage location.")]
    InvalidUsageLocation(String),
    /// Usage location value is not an ISO 3166-1 alpha-2 code.
    #[error("Invalid value specified for property 'usageLocation' of resource 'User': {0:?}")]
    BadUsageLocationValue(String),
    /// Seat limit (Graph: CountViolation / "does not have any available licenses").
    #[error(
        "Subscription {sku} does not have any available licenses (enabled {enabled}, needed {needed})"
    )]
    NoSeats {
        /// skuPartNumber.
        sku: String,
        /// enabled units.
        enabled: u32,
        /// seats the change would need in total.
        needed: u32,
    },
    /// Removal of a licence inherited from a group (Graph: "User license is inherited from a
    /// group membership and it cannot be removed directly from the user.").
    #[error(
        "User license {sku} of {user} is inherited from a group membership and it cannot be removed directly from the user."
    )]
    InheritedLicense {
        /// UPN.
        user: String,
        /// skuPartNumber.
        sku: String,
    },
    /// Removal of a licence the principal does not hold.
    #[error("{principal} does not have a corresponding license {sku}.")]
    LicenseNotHeld {
        /// UPN or group name.
        principal: String,
        /// sku id or part number.
        sku: String,
    },
    /// Unknown SKU (Graph: "License {id} does not correspond to a valid company License.").
    #[error("License {0} does not correspond to a valid company License.")]
    UnknownSku(String),
    /// Disabled plan that is not part of the SKU.
    #[error("Service plan {plan} is not part of {sku}")]
    UnknownPlan {
        /// plan id.
        plan: String,
        /// skuPartNumber.
        sku: String,
    },
    /// There is no mailbox to convert (Exchange: `ManagementObjectNotFoundException`).
    #[error(
        "The operation couldn't be performed because object '{0}' couldn't be found on the mailbox server."
    )]
    NoMailbox(String),
    /// Other mailbox problems (Exchange): synced user, shared->user without licence.
    #[error("{0}")]
    Mailbox(String),
    /// The user is already a member of the group (Graph: "One or more added object references
    /// already exist").
    #[error("{user} is already a member of {group}")]
    AlreadyMember {
        /// User id.
        user: String,
        /// Group display name.
        group: String,
    },
}

/// Graph's code for a missing object (https://learn.microsoft.com/en-us/graph/errors). The
/// fake answers with these codes and the Graph backend classifies by them: one definition.
pub const GRAPH_NOT_FOUND: &str = "Request_ResourceNotFound";
/// Graph's code for a request that broke a rule (research graph-api.md §1.1).
pub const GRAPH_BAD_REQUEST: &str = "Request_BadRequest";
/// Exchange's exception type for an identity it cannot find (adminapi `details[].message`
/// `Ex…|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|…` and
/// `innererror.internalexception.type`; research graph-api.md §5.2, [3P]).
pub const EXCHANGE_NOT_FOUND: &str =
    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";

/// Licence-assignment error codes Microsoft documents ("Identify and resolve license
/// assignment problems for a group in Microsoft Entra ID"; research graph-api.md §1.1): the
/// `error` of a `licenseAssignmentState` (`plan::license_errors`) and the codes the Graph
/// backend classifies refusals by (`backend::Refusal::Licence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenceRule {
    /// `CountViolation`: no free seats.
    CountViolation,
    /// `MutuallyExclusiveViolation`: service plans that cannot be combined.
    MutuallyExclusiveViolation,
    /// `DependencyViolation`: a service plan needs another one.
    DependencyViolation,
    /// `ProhibitedInUsageLocationViolation`: the product is not sold in the user's location.
    ProhibitedInUsageLocationViolation,
    /// `UniquenessViolation`: a proxy address is taken.
    UniquenessViolation,
}

impl LicenceRule {
    /// Every rule, for parsing and tests.
    pub const ALL: [LicenceRule; 5] = [
        LicenceRule::CountViolation,
        LicenceRule::MutuallyExclusiveViolation,
        LicenceRule::DependencyViolation,
        LicenceRule::ProhibitedInUsageLocationViolation,
        LicenceRule::UniquenessViolation,
    ];

    /// The code as Graph writes it.
    pub fn code(self) -> &'static str {
        match self {
            LicenceRule::CountViolation => "CountViolation",
            LicenceRule::MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
            LicenceRule::DependencyViolation => "DependencyViolation",
            LicenceRule::ProhibitedInUsageLocationViolation => "ProhibitedInUsageLocationViolation",
            LicenceRule::UniquenessViolation => "UniquenessViolation",
        }
    }

    /// The rule a code names, if any.
    pub fn from_code(code: &str) -> Option<LicenceRule> {
        LicenceRule::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Graph's `usageLocation` must be an ISO 3166-1 alpha-2 code ("user resource type":
/// "A two-letter country code (ISO standard 3166)"); the config loader checks the same list.
pub fn check_usage_location(code: &str) -> Result<(), RuleViolation> {
    if crate::countries::is_valid(code) {
        Ok(())
    } else {
        Err(RuleViolation::BadUsageLocationValue(code.to_string()))
    }
}

/// A licence can be assigned only to a user with a usage location (Graph `assignLicense`:
/// "License assignment cannot be done for user with invalid usage location.").
pub fn check_location_for_grant(upn: &str, has_location: bool) -> Result<(), RuleViolation> {
    if has_location {
        Ok(())
    } else {
        Err(RuleViolation::InvalidUsageLocation(upn.to_string()))
    }
}

/// A write that takes `sku` from `before` to `after` consumed seats must fit
/// (`seats::step_fits`; Graph answers CountViolation otherwise).
pub fn check_seats(sku: &Sku, before: i64, after: i64) -> Result<(), RuleViolation> {
    if seats::step_fits(sku, before, after) {
        Ok(())
    } else {
        Err(RuleViolation::NoSeats {
            sku: sku.sku_part_number.clone(),
            enabled: sku.enabled,
            needed: u32::try_from(after.max(0)).unwrap_or(u32::MAX),
        })
    }
}

/// `Set-Mailbox -Type`: a synced user's mailbox is converted on-premises (Microsoft, "Convert a
/// user mailbox to a shared mailbox": hybrid environments), there must be a mailbox, and a
/// mailbox becomes a user mailbox only with an Exchange licence in place ("Assign a license to
/// the account" before use; Exchange refuses the conversion without one).
pub fn check_conversion(
    upn: &str,
    synced: bool,
    has_mailbox: bool,
    to: MailboxType,
    rank: ExchangeRank,
) -> Result<(), RuleViolation> {
    if synced {
        return Err(RuleViolation::Mailbox(format!(
            "{upn} is synchronised from on-premises; convert the mailbox in on-premises Exchange"
        )));
    }
    if !has_mailbox {
        return Err(RuleViolation::NoMailbox(upn.to_string()));
    }
    if to == MailboxType::User && !rank.has_mailbox() {
        return Err(RuleViolation::Mailbox(format!(
            "{upn} has no Exchange Online licence; a user mailbox needs one before conversion"
        )));
    }
    Ok(())
}
