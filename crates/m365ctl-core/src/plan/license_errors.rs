//! Inherited licences the tenant reports in an error state.
//!
//! Group-based licensing assigns licences asynchronously and records failures per member in
//! `licenseAssignmentStates`: `state` Error / ActiveWithError / Disabled, `error`
//! CountViolation, MutuallyExclusiveViolation, DependencyViolation,
//! ProhibitedInUsageLocationViolation, UniquenessViolation or Other (Microsoft Graph
//! `licenseAssignmentState`; Entra "Identify and resolve license assignment problems for a
//! group"; research/graph-api.md §1.1-1.3). Such a member does not have a working licence,
//! so a desired state asking for it is not met: every such assignment is drift, shown per user
//! with what fixes it, and keeps `plan` from saying the tenant matches.

use super::SeatSummary;
use super::index::Index;
use super::intent::Intent;
use crate::desired::{DesiredState, LicenseIntent};
use crate::rules::writes::LicenceRule;
use crate::tenant::{LicenseAssignment, User};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// One inherited assignment the desired state wants working but the tenant reports failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseError {
    /// UPN of the member.
    pub upn: String,
    /// skuPartNumber of the failing licence.
    pub sku_part_number: String,
    /// The group it is inherited from (its display name, with the id when the name is shared).
    pub group: String,
    /// `state` as Graph reports it (`Error`, `ActiveWithError`, `Disabled`).
    pub state: String,
    /// `error` as Graph reports it (`CountViolation`, ...), when there is one.
    pub error: Option<String>,
    /// What fixes it, and why m365ctl's operations cannot.
    pub remedy: String,
}

/// Whether an assignment is not working as assigned: any state but a clean `Active`.
fn failing(l: &LicenseAssignment) -> bool {
    l.state != "Active" || l.error.as_deref().is_some_and(|e| e != "None")
}

/// The failing inherited assignments of members the desired state covers: the group's
/// licences are declared (and keep the SKU), or the member's own licences ask for the SKU and
/// the group is what provides it. Members leaving the group, and SKUs the group loses, are
/// not drift: the plan removes the assignment anyway.
pub(crate) fn find(
    desired: &DesiredState,
    ix: &Index<'_>,
    intent: &Intent,
    seats: &[SeatSummary],
) -> Vec<LicenseError> {
    let live = ix.live;
    let leaving: HashSet<(usize, usize)> = intent
        .users
        .iter()
        .flat_map(|(ui, c)| c.leave.iter().map(move |m| (*ui, m.gi)))
        .collect();
    let granted: HashSet<(usize, &str)> = intent
        .users
        .iter()
        .flat_map(|(ui, c)| c.grants.iter().map(move |g| (*ui, g.sku_id.as_str())))
        .collect();
    let group_loses: HashSet<(usize, &str)> = intent
        .groups
        .iter()
        .flat_map(|g| g.remove.iter().map(move |r| (g.gi, r.sku_id.as_str())))
        .collect();
    let declared: HashMap<&str, &crate::desired::DesiredGroup> = desired
        .groups
        .values()
        .map(|g| (g.id.as_str(), g))
        .collect();
    let mut out = Vec::new();
    for (ui, user) in live.users.iter().enumerate() {
        for l in user.licenses.iter().filter(|l| failing(l)) {
            let Some(gi) = l
                .assigned_by_group
                .as_deref()
                .and_then(|g| ix.group_by_id(g))
            else {
                continue;
            };
            if leaving.contains(&(ui, gi)) || group_loses.contains(&(gi, l.sku_id.as_str())) {
                continue;
            }
            let part = ix.part(&l.sku_id);
            let group_wants = declared
                .get(live.groups[gi].id.as_str())
                .and_then(|g| g.licenses.as_ref())
                .is_some_and(|set| set.get(&part.to_ascii_uppercase()).is_some());
            let user_wants = desired
                .users
                .get(&user.user_principal_name.to_lowercase())
                .filter(|d| d.license_intent == LicenseIntent::Exactly)
                .and_then(|d| d.licenses.as_ref())
                .is_some_and(|set| set.get(&part.to_ascii_uppercase()).is_some())
                && user.direct_license(&l.sku_id).is_none()
                && !granted.contains(&(ui, l.sku_id.as_str()));
            if !group_wants && !user_wants {
                continue;
            }
            out.push(LicenseError {
                upn: user.user_principal_name.clone(),
                sku_part_number: part.to_string(),
                group: ix.group_label(gi),
                state: l.state.clone(),
                error: l.error.clone(),
                remedy: remedy(user, l, part, ix, seats),
            });
        }
    }
    out
}

/// What fixes an assignment error (Entra's resolution steps per error), ending with the
/// reprocessing m365ctl has no operation for (the renderers say where it is done).
fn remedy(
    user: &User,
    l: &LicenseAssignment,
    part: &str,
    ix: &Index<'_>,
    seats: &[SeatSummary],
) -> String {
    const REPROCESS: &str = "then reprocess the user's licences";
    let Some(rule) = l.error.as_deref().and_then(LicenceRule::from_code) else {
        return format!(
            "look up the member's error on the group's Licenses page in the Entra admin center, fix it, {REPROCESS}"
        );
    };
    match rule {
        LicenceRule::CountViolation => {
            let free = seats
                .iter()
                .find(|s| s.sku_part_number == part)
                .map(|s| i64::from(s.enabled) - i64::from(s.consumed_after))
                .or_else(|| ix.sku(&l.sku_id).map(|s| s.available()))
                .unwrap_or(0);
            if free > 0 {
                format!(
                    "no {part} seat was free when the group was processed; {free} will be free after this plan: {REPROCESS}"
                )
            } else {
                format!(
                    "no {part} seat is free, even after this plan: buy or free one, {REPROCESS}"
                )
            }
        }
        LicenceRule::MutuallyExclusiveViolation => format!(
            "the user holds another licence whose service plans cannot be combined with {part}: remove it or disable the conflicting plan, {REPROCESS}"
        ),
        LicenceRule::DependencyViolation => format!(
            "a service plan of {part} depends on a plan that is disabled or missing: enable the prerequisite plan (the group's disabled_plans), {REPROCESS}"
        ),
        LicenceRule::ProhibitedInUsageLocationViolation => format!(
            "{part} cannot be delivered in the user's usage location ({}): set usage_location to a country where it is sold, {REPROCESS}",
            user.usage_location
                .as_deref()
                .unwrap_or("none; the tenant's country applies")
        ),
        LicenceRule::UniquenessViolation => format!(
            "a proxy address of the user is already used by another object: resolve the clash in Exchange, {REPROCESS}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan;
    use super::super::testkit::*;
    use crate::tenant::Tenant;

    /// Ann inherits E3 from LIC-E3 with this state and error; E3 has `spare` free seats.
    fn failing_member(state: &str, error: Option<&str>, spare: u32) -> Tenant {
        let mut live = TenantBuilder::new()
            .sku("ENTERPRISEPACK", 1)
            .user("ann@x.com", &[])
            .user("bob@x.com", &["ENTERPRISEPACK"])
            .group("LIC-E3", &["ENTERPRISEPACK"], &["ann@x.com"])
            .build();
        let ann = live
            .users
            .iter_mut()
            .find(|u| u.id == uid("ann@x.com"))
            .expect("ann");
        ann.licenses[0].state = state.to_string();
        ann.licenses[0].error = error.map(str::to_string);
        live.recount_consumed();
        live.skus[0].enabled = live.skus[0].consumed + spare;
        live
    }

    const CODES: [(&str, &str); 6] = [
        ("CountViolation", "seat"),
        ("MutuallyExclusiveViolation", "cannot be combined"),
        ("DependencyViolation", "prerequisite plan"),
        ("ProhibitedInUsageLocationViolation", "usage location (GB)"),
        ("UniquenessViolation", "proxy address"),
        ("Other", "Licenses page"),
    ];

    #[test]
    fn every_error_state_of_a_declared_group_licence_is_drift_with_its_remedy() {
        for rule in crate::rules::writes::LicenceRule::ALL {
            assert!(
                CODES.iter().any(|(code, _)| *code == rule.code()),
                "{rule:?} has a remedy test"
            );
        }
        for state in ["Error", "ActiveWithError", "Disabled"] {
            for (code, remedy) in CODES {
                let live = failing_member(state, Some(code), 0);
                let mut d = desired(&["ENTERPRISEPACK"]);
                want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], None);
                let p = plan(&d, &live);
                assert!(
                    p.operations.is_empty(),
                    "{state} {code}: {:#?}",
                    p.operations
                );
                assert_eq!(p.license_errors.len(), 1, "{state} {code}");
                let e = &p.license_errors[0];
                assert_eq!(
                    (e.upn.as_str(), e.sku_part_number.as_str(), e.group.as_str()),
                    ("ann@x.com", "ENTERPRISEPACK", "LIC-E3")
                );
                assert_eq!((e.state.as_str(), e.error.as_deref()), (state, Some(code)));
                assert!(e.remedy.contains(remedy), "{code}: {}", e.remedy);
                assert!(e.remedy.contains("reprocess"), "{}", e.remedy);
                assert!(!p.in_sync(), "{state} {code}");
            }
        }
    }

    #[test]
    fn a_users_licence_met_only_through_a_failing_group_licence_is_drift() {
        let live = failing_member("Error", Some("CountViolation"), 0);
        let mut d = desired(&["ENTERPRISEPACK"]);
        want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
        let p = plan(&d, &live);
        assert_eq!(p.license_errors.len(), 1, "{:#?}", p);
        assert!(!p.in_sync());
    }

    #[test]
    fn a_clean_active_assignment_or_an_unmanaged_one_is_not_drift() {
        let live = failing_member("Active", None, 0);
        let mut d = desired(&["ENTERPRISEPACK"]);
        want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], None);
        let p = plan(&d, &live);
        assert!(p.license_errors.is_empty() && p.in_sync(), "{p:#?}");

        // Neither the group nor the member is in the desired state: not m365ctl's business.
        let live = failing_member("Error", Some("CountViolation"), 0);
        let p = plan(&desired(&["ENTERPRISEPACK"]), &live);
        assert!(p.license_errors.is_empty() && p.in_sync(), "{p:#?}");
    }

    #[test]
    fn a_member_leaving_the_group_is_not_drift_the_plan_removes_the_assignment() {
        let live = failing_member("Error", Some("CountViolation"), 0);
        let mut d = desired(&["ENTERPRISEPACK"]);
        want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], Some(&[]));
        let p = plan(&d, &live);
        assert!(p.license_errors.is_empty(), "{:#?}", p.license_errors);
        assert_eq!(p.operations.len(), 1);
    }

    #[test]
    fn a_count_violation_says_whether_a_seat_is_free_after_the_plan() {
        for (spare, says) in [
            (0, "buy or free one"),
            (2, "2 will be free after this plan"),
        ] {
            let live = failing_member("Error", Some("CountViolation"), spare);
            let mut d = desired(&["ENTERPRISEPACK"]);
            want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], None);
            let p = plan(&d, &live);
            assert!(
                p.license_errors[0].remedy.contains(says),
                "{spare}: {}",
                p.license_errors[0].remedy
            );
        }
        // Bob leaving frees his seat: after this plan one is free.
        let live = failing_member("Error", Some("CountViolation"), 0);
        let mut d = desired(&["ENTERPRISEPACK"]);
        want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], None);
        want(&mut d, "bob@x.com", &[]).mailbox = Some(crate::tenant::MailboxType::Shared);
        let p = plan(&d, &live);
        assert!(
            p.license_errors[0]
                .remedy
                .contains("1 will be free after this plan"),
            "{}",
            p.license_errors[0].remedy
        );
    }
}
