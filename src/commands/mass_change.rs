//! Mass changes approved in review. The blast-radius guards (`apply::guards`) refuse a plan
//! that removes too much; `--allow-mass-change` overrides them, but nobody reviews a flag
//! typed in a terminal or a workflow. Instead the pull request carries the approval:
//! `[guards] approve_mass_change = "sha256:…"` names the checksum of the exact operation set,
//! so it shows in the diff, is reviewed with the config, and approves nothing else (a tenant
//! change that alters the operations invalidates it).
//!
//! Pure functions over values the shell already has: `compute_plan` adds `review`'s
//! diagnostic to every plan, `apply` asks `approved`.

use crate::apply::guards;
use crate::desired::DesiredState;
use crate::diag::Diagnostic;
use crate::plan::Plan;
use crate::planfile::PlanFile;
use crate::tenant::Tenant;

/// The checksum a reviewer writes into `approve_mass_change` for this plan.
pub(crate) fn operations_sha256(plan: &Plan) -> String {
    PlanFile::from_plan(plan).operations_sha256()
}

/// Whether the config approves exactly this plan's operations.
pub(crate) fn approved(plan: &Plan, desired: &DesiredState) -> bool {
    desired
        .guards
        .approve_mass_change
        .as_ref()
        .is_some_and(|a| a.operations_sha256 == operations_sha256(plan))
}

/// What the plan must tell reviewers about the guards: that `apply` will refuse it and how
/// to approve it, that it is approved, or that an approval names other operations.
pub(crate) fn review(plan: &Plan, desired: &DesiredState, live: &Tenant) -> Option<Diagnostic> {
    let trip = guards::check_plan(&plan.operations, live, desired, false).err();
    let checksum = operations_sha256(plan);
    let approval = desired.guards.approve_mass_change.as_ref();
    let origin = approval.map(|a| a.origin.clone());
    match (trip, approval) {
        (Some(trip), Some(a)) if a.operations_sha256 == checksum => Some(Diagnostic::warning(
            format!(
                "mass change approved in review by [guards] approve_mass_change ({checksum}); without it apply would refuse: {trip}"
            ),
            origin,
        )),
        (Some(trip), approval) => {
            let stale = approval
                .map(|a| {
                    format!(
                        " ([guards] approve_mass_change names other operations: {})",
                        a.operations_sha256
                    )
                })
                .unwrap_or_default();
            Some(
                Diagnostic::warning(format!("apply will refuse this plan{stale}: {trip}"), origin)
                    .with_hint(format!(
                        "to approve exactly this change in this pull request, add to [guards]: approve_mass_change = \"{checksum}\""
                    )),
            )
        }
        (None, Some(a)) if a.operations_sha256 != checksum => Some(
            Diagnostic::warning(
                format!(
                    "[guards] approve_mass_change ({}) matches no mass change in this plan (operations checksum {checksum})",
                    a.operations_sha256
                ),
                origin,
            )
            .with_hint("remove approve_mass_change once the change it approved is applied"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::MassChangeApproval;
    use crate::diag::Origin;
    use crate::plan::testkit::{TenantBuilder, desired, want};

    /// `users` users holding E3 (no mailbox), all declared; the first `leavers` without it.
    fn case(users: usize, leavers: usize) -> (Plan, DesiredState, Tenant) {
        let mut builder = TenantBuilder::new().sku("ENTERPRISEPACK", users as u32);
        let mut wanted = desired(&["ENTERPRISEPACK"]);
        for i in 0..users {
            let upn = format!("u{i}@contoso.com");
            builder = builder.user(&upn, &["ENTERPRISEPACK"]).mailbox(None, 0);
            want(
                &mut wanted,
                &upn,
                if i < leavers {
                    &[]
                } else {
                    &["ENTERPRISEPACK"]
                },
            );
        }
        let live = builder.build();
        let plan = crate::plan::plan(&wanted, &live);
        (plan, wanted, live)
    }

    fn approve(desired: &mut DesiredState, checksum: String) {
        desired.guards.approve_mass_change = Some(MassChangeApproval {
            operations_sha256: checksum,
            origin: Origin::from_span("m365ctl.toml", "x", 0..1),
        });
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Over the class of removal plans: a plan over the guards is flagged with its own
        /// checksum in the hint; approving that checksum approves it and nothing else; a plan
        /// under the guards says nothing unless a stale approval is left in the config.
        #[test]
        fn an_approval_covers_exactly_its_operation_set(
            users in 1usize..60,
            leavers_pct in 0usize..=100,
            other_leavers in 0usize..60,
        ) {
            let leavers = users * leavers_pct / 100;
            let (plan, mut wanted, live) = case(users, leavers);
            proptest::prop_assert_eq!(plan.operations.len(), leavers);
            let checksum = operations_sha256(&plan);
            let trips = guards::check(
                &plan.operations, &live, users, &wanted.scope.managed_skus, &wanted.guards, false,
            ).is_err();
            // Over both removal thresholds, or every managed licence gone (prune to empty).
            let expected = (leavers > 10 && leavers * 100 > 30 * users) || leavers == users;
            proptest::prop_assert_eq!(trips, expected);
            let said = review(&plan, &wanted, &live);
            proptest::prop_assert_eq!(said.is_some(), trips);
            if let Some(d) = &said {
                proptest::prop_assert!(d.message.starts_with("apply will refuse this plan"), "{}", d.message);
                proptest::prop_assert!(d.hint.as_deref().unwrap_or("").contains(&checksum));
            }
            proptest::prop_assert!(!approved(&plan, &wanted));

            approve(&mut wanted, checksum.clone());
            proptest::prop_assert!(approved(&plan, &wanted));
            let said = review(&plan, &wanted, &live);
            proptest::prop_assert_eq!(said.is_some(), trips);
            if let Some(d) = said {
                proptest::prop_assert!(d.message.starts_with("mass change approved"), "{}", d.message);
                proptest::prop_assert!(d.origin.is_some(), "annotates the approval line");
            }

            // The same approval does not cover another operation set.
            let other_leavers = other_leavers.min(users);
            if other_leavers != leavers {
                let (other, mut other_wanted, other_live) = case(users, other_leavers);
                other_wanted.guards = wanted.guards.clone();
                proptest::prop_assert!(!approved(&other, &other_wanted));
                let said = review(&other, &other_wanted, &other_live);
                proptest::prop_assert!(said.is_some(), "a stale approval is always mentioned");
                let said = said.unwrap();
                proptest::prop_assert!(!said.message.starts_with("mass change approved"), "{}", said.message);
            }
        }
    }
}
