//! Property tests over random small tenants and desired states: plans apply cleanly under
//! Graph's rules, never overspend or strand a mailbox at any step, converge, are topological
//! and deterministic.

use super::testkit::*;
use super::*;
use crate::tenant::{MailboxType, Tenant};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};

const SKUS: [&str; 5] = [
    "ENTERPRISEPACK",
    "ENTERPRISEPREMIUM",
    "EXCHANGESTANDARD",
    "POWER_BI_PRO",
    "EMS",
];

#[derive(Debug, Clone)]
struct UserSpec {
    located: bool,
    skus: u8,
    mailbox: u8,
    big: bool,
    synced: bool,
    declared: u8,
    want: u8,
    want_location: bool,
    want_mailbox: u8,
    disable_yammer: bool,
}

#[derive(Debug, Clone)]
struct GroupSpec {
    skus: u8,
    members: u8,
    declared: u8,
    want_skus: u8,
    want_members: u8,
}

#[derive(Debug, Clone)]
pub(super) struct Case {
    users: Vec<UserSpec>,
    groups: Vec<GroupSpec>,
    spare: Vec<u8>,
    managed: u8,
}

fn user_spec() -> impl Strategy<Value = UserSpec> {
    (
        (any::<u8>(), 0u8..32, 0u8..10, prop::bool::weighted(0.2)),
        (prop::bool::weighted(0.1), 0u8..6, 0u8..32, any::<bool>()),
        (0u8..4, prop::bool::weighted(0.3)),
    )
        .prop_map(
            |(
                (loc, skus, mailbox, big),
                (synced, declared, want, want_location),
                (want_mailbox, disable_yammer),
            )| {
                UserSpec {
                    located: loc % 8 != 0,
                    skus,
                    mailbox,
                    big,
                    synced,
                    declared,
                    want,
                    want_location,
                    want_mailbox,
                    disable_yammer,
                }
            },
        )
}

pub(super) fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(user_spec(), 1..7),
        prop::collection::vec(
            (0u8..32, any::<u8>(), 0u8..4, 0u8..32, any::<u8>()).prop_map(
                |(skus, members, declared, want_skus, want_members)| GroupSpec {
                    skus,
                    members,
                    declared,
                    want_skus,
                    want_members,
                },
            ),
            0..3,
        ),
        prop::collection::vec(0u8..3, SKUS.len()),
        1u8..32,
    )
        .prop_map(|(users, groups, spare, managed)| Case {
            users,
            groups,
            spare,
            managed,
        })
}

pub(super) fn build(case: &Case) -> (Tenant, crate::desired::DesiredState) {
    let mut b = TenantBuilder::new().skus(&SKUS, 0);
    for (i, u) in case.users.iter().enumerate() {
        let location = u.located.then_some("GB");
        b = b.user_at(&generated_upn(i), location, &pick(u.skus, &SKUS));
        let kind = match u.mailbox {
            0 => None,
            1..=5 => Some(MailboxType::User),
            6..=8 => Some(MailboxType::Shared),
            _ if u.declared > 3 => Some(MailboxType::User),
            _ => Some(MailboxType::Room),
        };
        b = b.mailbox(kind, if u.big { 60 } else { 1 });
        if u.synced {
            b = b.synced();
        }
    }
    for (gi, g) in case.groups.iter().enumerate() {
        b = b.generated_group(gi, &pick(g.skus, &SKUS), g.members, case.users.len());
    }
    let mut live = b.build();
    for (sku, spare) in live.skus.iter_mut().zip(&case.spare) {
        sku.enabled = sku.consumed + u32::from(*spare);
    }
    let managed = pick(case.managed, &SKUS);
    let mut d = desired(&managed);
    for (i, u) in case.users.iter().enumerate() {
        let Some(du) = declare_generated_user(&mut d, i, u.declared, &pick(u.want, &managed))
        else {
            continue;
        };
        if u.disable_yammer {
            for lic in du
                .licenses
                .iter_mut()
                .flat_map(|l| std::sync::Arc::make_mut(l).iter_mut())
            {
                if lic.sku_part_number.starts_with("ENTERPRISE") {
                    lic.disabled_plans = Some(BTreeSet::from(["YAMMER_ENTERPRISE".to_string()]));
                }
            }
        }
        du.usage_location = u.want_location.then(|| "US".to_string());
        du.mailbox = match u.want_mailbox {
            0 | 1 => None,
            2 => Some(MailboxType::Shared),
            _ => Some(MailboxType::User),
        };
    }
    for (gi, g) in case.groups.iter().enumerate() {
        declare_generated_group(
            &mut d,
            gi,
            case.users.len(),
            g.declared,
            g.want_skus,
            g.want_members,
            &managed,
        );
    }
    (live, d)
}

fn check_topological(plan: &Plan) {
    let mut seen = HashSet::new();
    let all: HashSet<&str> = plan.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(all.len(), plan.operations.len(), "op ids are unique");
    for op in &plan.operations {
        for dep in &op.depends_on {
            assert!(
                all.contains(dep.as_str()),
                "{} depends on unknown {dep}",
                op.id
            );
            assert!(
                seen.contains(dep.as_str()),
                "{} comes before its dependency {dep}",
                op.id
            );
        }
        seen.insert(op.id.as_str());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plans_apply_safely_converge_and_are_deterministic(case in case()) {
        let (live, d) = build(&case);
        let p = plan(&d, &live);
        check_topological(&p);
        prop_assert_eq!(&p, &plan(&d, &live));
        for diag in &p.diagnostics {
            prop_assert!(!diag.message.contains("internal planner error"), "{}", diag.message);
        }
        if p.has_errors() {
            return Ok(());
        }
        let after = apply_checked(&live, &p);
        let again = plan(&d, &after);
        let left: Vec<&str> = again.operations.iter().map(|o| o.id.as_str()).collect();
        prop_assert!(again.operations.is_empty(), "not converged: {:?}", left);
        let by_part: BTreeMap<&str, u32> =
            after.skus.iter().map(|s| (s.sku_part_number.as_str(), s.consumed)).collect();
        for seats in &p.seats {
            prop_assert_eq!(seats.consumed_after, by_part[seats.sku_part_number.as_str()]);
            prop_assert!(seats.peak <= seats.enabled.max(seats.consumed_now));
        }
    }

    #[test]
    fn seat_errors_name_the_numbers(case in case()) {
        let (live, d) = build(&case);
        let p = plan(&d, &live);
        for diag in p.diagnostics.iter().filter(|d| d.message.contains(" short by ")) {
            let part = diag.message.split(':').next().unwrap_or_default();
            prop_assert!(live.sku_by_part_number(part).is_some(), "{}", diag.message);
            prop_assert!(diag.message.contains("need ") && diag.message.contains(" available after freeing "));
        }
    }
}
