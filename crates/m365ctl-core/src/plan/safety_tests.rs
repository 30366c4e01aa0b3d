//! The safety classes of issue 12 on small tenants: what a mailbox needs from its licences
//! (shared over the limits keeps Plan 2, a user mailbox fits its quota), valid plans that once
//! were "internal planner errors", real seat deadlocks as domain errors, and losing the last
//! Exchange licence of a user mailbox as an error unless the config accepts it. Every
//! appliable plan here is also walked in every adversarial and 32 random orders.

use super::orders::check_orders;
use super::testkit::*;
use super::*;
use crate::desired::{DesiredState, UserScope};
use crate::plan::ops::AssignLicenses;
use crate::tenant::{MailboxType, Tenant};

/// Plans, checks that the plan is appliable and that every order checked is safe, and that
/// applying it converges.
fn safe_in_every_order(d: &DesiredState, live: &Tenant) -> Plan {
    let p = plan(d, live);
    no_internal_errors(&p);
    assert!(!p.has_errors(), "{:?}", errors(&p));
    check_orders(live, &p, &deletion_accepted(d), 32, 7).unwrap_or_else(|e| panic!("{e}"));
    let after = apply_all(live, &p);
    assert!(plan(d, &after).is_empty(), "converges");
    p
}

// Point 2: shared mailboxes over the limits need Exchange Online Plan 2.

#[test]
fn shared_mailbox_with_an_archive_keeps_plan2_not_plan1() {
    // Holds Plan 1 and E3 (Plan 2); a leaver: Plan 1 alone is not enough for the archive.
    let (b, mut d) = managing(&["ENTERPRISEPACK", "EXCHANGESTANDARD"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK", "EXCHANGESTANDARD"])
        .mailbox_facts(true, false)
        .build();
    want(&mut d, "ann@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = safe_in_every_order(&d, &live);
    let OpKind::AssignLicenses(AssignLicenses { remove, .. }) =
        &p.operations[position(&p, "assign_licenses:ann@x.com")].kind
    else {
        panic!("a licence call")
    };
    let removed: Vec<&str> = remove.iter().map(|r| r.sku_part_number.as_str()).collect();
    assert_eq!(removed, ["EXCHANGESTANDARD"], "Plan 2 (E3) is the one kept");
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.message.contains("keeps ENTERPRISEPACK")
                && d.message.contains("Exchange Online Plan 2")
                && d.message.contains("archive is enabled"))
    );
}

#[test]
fn shared_mailbox_on_hold_with_only_plan1_is_an_error() {
    let (b, mut d) = managing(&["EXCHANGESTANDARD"]);
    let live = b
        .user("ann@x.com", &["EXCHANGESTANDARD"])
        .mailbox_facts(false, true)
        .build();
    want(&mut d, "ann@x.com", &["EXCHANGESTANDARD"]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    no_internal_errors(&p);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("ann@x.com") && e[0].contains("Exchange Online Plan 2"),
        "{e:?}"
    );
    assert!(e[0].contains("litigation hold"), "{e:?}");
    assert!(hint_of(&p, "ann@x.com").contains("EXCHANGE_S_ENTERPRISE"));
}

#[test]
fn over_50_gb_leaver_keeping_e3_with_exchange_disabled_is_an_error() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .mailbox(Some(MailboxType::User), 60)
        .build();
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    disable(ann, "ENTERPRISEPACK", Some(&["EXCHANGE_S_ENTERPRISE"]));
    ann.mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    no_internal_errors(&p);
    let e = errors(&p);
    assert!(
        e.iter()
            .any(|m| m.contains("60.0 GB") && m.contains("Exchange Online Plan 2")),
        "{e:?}"
    );
}

#[test]
fn moving_a_user_mailbox_to_a_smaller_quota_is_an_error_with_the_numbers() {
    // 30 GB on E3 (100 GB) to Kiosk (2 GB).
    let (b, mut d) = managing(&["ENTERPRISEPACK", "DESKLESSPACK"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .mailbox(Some(MailboxType::User), 30)
        .build();
    want(&mut d, "ann@x.com", &["DESKLESSPACK"]);
    let p = plan(&d, &live);
    no_internal_errors(&p);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("30.0 GB") && e[0].contains("2.0 GB") && e[0].contains("Exchange Kiosk"),
        "{e:?}"
    );
    assert!(hint_of(&p, "30.0 GB").contains("100 GB"));
}

#[test]
fn a_mailbox_that_fits_the_smaller_quota_moves() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "EXCHANGESTANDARD"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .mailbox(Some(MailboxType::User), 30)
        .build();
    want(&mut d, "ann@x.com", &["EXCHANGESTANDARD"]);
    safe_in_every_order(&d, &live);
}

// Point 4: valid plans that were "internal planner errors".

#[test]
fn leaver_keeping_e3_with_exchange_disabled_converts_before_the_reassignment() {
    let (live, mut d) = e3_holder("leo@x.com");
    let leo = want(&mut d, "leo@x.com", &["ENTERPRISEPACK"]);
    disable(leo, "ENTERPRISEPACK", Some(&["EXCHANGE_S_ENTERPRISE"]));
    leo.mailbox = Some(MailboxType::Shared);
    let p = safe_in_every_order(&d, &live);
    let convert = position(&p, "convert_mailbox:leo@x.com");
    let reassign = position(&p, "assign_licenses:leo@x.com");
    assert!(convert < reassign);
    assert!(depends_on(
        &p,
        "assign_licenses:leo@x.com",
        "convert_mailbox:leo@x.com"
    ));
}

#[test]
fn group_dropping_e3_while_its_member_gets_e5_directly() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &[])
        .group("LIC-E3", &["ENTERPRISEPACK"], &["ann@x.com"])
        .build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPREMIUM"]);
    want_group(&mut d, "LIC-E3", &[], Some(&["ann@x.com"]));
    let p = safe_in_every_order(&d, &live);
    let grant = position(&p, "assign_licenses:ann@x.com");
    let group = position(&p, "assign_group_licenses:LIC-E3");
    assert!(grant < group);
    assert!(
        depends_on(
            &p,
            "assign_group_licenses:LIC-E3",
            "assign_licenses:ann@x.com"
        ),
        "an edge, not luck"
    );
}

#[test]
fn group_gaining_an_exchange_licence_while_its_member_loses_the_direct_one() {
    // Ann swaps direct E3 for E5 from her group: the removal waits for the group's grant.
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .group("LIC-E5", &[], &["ann@x.com"])
        .build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPREMIUM"]);
    want_group(
        &mut d,
        "LIC-E5",
        &["ENTERPRISEPREMIUM"],
        Some(&["ann@x.com"]),
    );
    let p = safe_in_every_order(&d, &live);
    assert!(depends_on(
        &p,
        "assign_licenses:ann@x.com",
        "assign_group_licenses:LIC-E5"
    ));
}

// Losses that are harmless alone but not together: two groups each dropping the same
// Exchange licence leave it in place until the second one goes, in whichever order they run.

#[test]
fn group_changes_that_together_take_plan2_wait_for_the_shared_mailbox_to_become_a_user_mailbox() {
    // Sam's shared mailbox has an archive: it needs Plan 2 (E3 from two groups) while shared.
    // Both groups drop E3; Sam becomes a user mailbox, for which direct Plan 1 is enough.
    let live = TenantBuilder::new()
        .skus(&["ENTERPRISEPACK", "EXCHANGESTANDARD"], 5)
        .user("sam@x.com", &["EXCHANGESTANDARD"])
        .mailbox(Some(MailboxType::Shared), 1)
        .mailbox_facts(true, false)
        .group("LIC-A", &["ENTERPRISEPACK"], &["sam@x.com"])
        .group("LIC-B", &["ENTERPRISEPACK"], &["sam@x.com"])
        .build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    let sam = want(&mut d, "sam@x.com", &[]);
    sam.licenses = None;
    sam.mailbox = Some(MailboxType::User);
    want_group(&mut d, "LIC-A", &[], None);
    want_group(&mut d, "LIC-B", &[], None);
    let p = safe_in_every_order(&d, &live);
    for group in ["LIC-A", "LIC-B"] {
        assert!(
            depends_on(
                &p,
                &format!("assign_group_licenses:{group}"),
                "convert_mailbox:sam@x.com"
            ),
            "{group}: an edge, not luck"
        );
    }
}

#[test]
fn group_changes_that_together_take_the_last_exchange_licence_wait_for_the_direct_grant() {
    // Ann's user mailbox has E3 from two groups; both drop it and Ann gets E5 directly.
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &[])
        .group("LIC-A", &["ENTERPRISEPACK"], &["ann@x.com"])
        .group("LIC-B", &["ENTERPRISEPACK"], &["ann@x.com"])
        .build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPREMIUM"]);
    want_group(&mut d, "LIC-A", &[], None);
    want_group(&mut d, "LIC-B", &[], None);
    let p = safe_in_every_order(&d, &live);
    for group in ["LIC-A", "LIC-B"] {
        assert!(
            depends_on(
                &p,
                &format!("assign_group_licenses:{group}"),
                "assign_licenses:ann@x.com"
            ),
            "{group}: an edge, not luck"
        );
    }
}

#[test]
fn seat_deadlock_is_a_domain_error_with_skus_numbers_principals_and_a_hint() {
    let (live, d) = seat_swap("ENTERPRISEPACK", "ENTERPRISEPREMIUM");
    let p = plan(&d, &live);
    no_internal_errors(&p);
    let e = errors(&p);
    assert!(!e.is_empty());
    for m in &e {
        assert!(m.contains("no order fits the seats"), "{m}");
        assert!(m.contains("with 0 free"), "{m}");
        assert!(m.contains("amy@x.com") || m.contains("ben@x.com"), "{m}");
    }
    assert!(hint_of(&p, "no order fits").contains("buy 1 more"));
}

// Point 5: losing the last Exchange licence of a user mailbox is an error.

fn last_exchange_error(p: &Plan, upn: &str) {
    no_internal_errors(p);
    let e = errors(p);
    assert!(
        e.iter()
            .any(|m| m.contains(&format!("{upn} would lose its last Exchange licence"))),
        "{e:?}"
    );
    assert!(hint_of(p, upn).contains("mailbox = \"delete\""));
}

#[test]
fn last_exchange_licence_lost_by_a_group_licence_removal_is_an_error() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &[])
        .group("LIC-E3", &["ENTERPRISEPACK"], &["ann@x.com"])
        .build();
    want_group(&mut d, "LIC-E3", &[], None);
    last_exchange_error(&plan(&d, &live), "ann@x.com");
}

#[test]
fn last_exchange_licence_lost_by_disabling_the_exchange_plan_is_an_error() {
    let (live, mut d) = e3_holder("ann@x.com");
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    disable(ann, "ENTERPRISEPACK", Some(&["EXCHANGE_S_ENTERPRISE"]));
    last_exchange_error(&plan(&d, &live), "ann@x.com");
}

#[test]
fn users_all_sweeping_an_undeclared_mailbox_user_is_an_error() {
    let (live, mut d) = e3_holder("ann@x.com");
    d.scope.users = UserScope::All;
    d.users.insert(
        "ann@x.com".to_string(),
        crate::desired::DesiredUser::without_managed_licenses("ann@x.com".to_string()),
    );
    last_exchange_error(&plan(&d, &live), "ann@x.com");
}

#[test]
fn leaving_the_group_that_gives_the_last_exchange_licence_is_an_error() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &[])
        .group("LIC-E3", &["ENTERPRISEPACK"], &["ann@x.com"])
        .build();
    want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], Some(&[]));
    last_exchange_error(&plan(&d, &live), "ann@x.com");
}

#[test]
fn mailbox_delete_accepts_each_way_of_losing_exchange() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .user("bob@x.com", &[])
        .group("LIC-E3", &["ENTERPRISEPACK"], &["bob@x.com"])
        .build();
    want(&mut d, "ann@x.com", &[]).mailbox_deletion_accepted = true;
    want(&mut d, "bob@x.com", &[]).mailbox_deletion_accepted = true;
    want_group(&mut d, "LIC-E3", &[], None);
    let p = safe_in_every_order(&d, &live);
    for upn in ["ann@x.com", "bob@x.com"] {
        assert!(
            p.diagnostics.iter().any(|x| !x.is_error()
                && x.message.contains(upn)
                && x.message.contains("will be disabled")),
            "{upn} is warned"
        );
    }
}

// Two groups that each trade E3 for Exchange Online Plan 1 under a member's mailbox: the
// proptest regression 03d36106 ("assign_group_licenses:G0 -> assign_group_licenses:G1" as an
// internal planner error). `group_stops_exchange_last` made each group wait for the other's new
// Exchange licence although neither licence gives the member what the other takes away.

/// The class: the member with or without a usage location (without one the new group licences
/// land in error), mailbox sizes under and over each quota, no to two spare seats.
#[test]
fn two_groups_trading_exchange_under_a_shared_member_never_wait_on_each_other() {
    for located in [false, true] {
        for size_gb in [1, 3, 60] {
            for spare in [0, 1, 2] {
                let live = TenantBuilder::new()
                    .skus(&["ENTERPRISEPACK", "EXCHANGESTANDARD", "DESKLESSPACK"], 0)
                    .sku("POWER_BI_PRO", 0)
                    .user_at("mia@x.com", located.then_some("GB"), &[])
                    .mailbox(Some(MailboxType::User), size_gb)
                    .group("G0", &["ENTERPRISEPACK", "POWER_BI_PRO"], &["mia@x.com"])
                    .group("G1", &["ENTERPRISEPACK", "DESKLESSPACK"], &["mia@x.com"])
                    .build();
                let mut live = live;
                for sku in &mut live.skus {
                    sku.enabled = sku.consumed + spare;
                }
                let managed = ["ENTERPRISEPACK", "EXCHANGESTANDARD", "DESKLESSPACK"];
                let mut d = desired(&managed);
                want_group(&mut d, "G0", &["EXCHANGESTANDARD", "DESKLESSPACK"], None);
                want_group(&mut d, "G1", &["EXCHANGESTANDARD", "DESKLESSPACK"], None);
                let case = format!("located {located}, {size_gb} GB, {spare} spare");
                let p = plan(&d, &live);
                no_internal_errors(&p);
                if p.has_errors() {
                    // Domain errors (a SKU short, the mailbox over the new quota), each with
                    // what to do about it.
                    for e in p.diagnostics.iter().filter(|e| e.is_error()) {
                        assert!(e.hint.is_some(), "{case}: {}", e.message);
                    }
                    continue;
                }
                let accepted = |_: &str| false;
                check_orders(&live, &p, &accepted, 32, 7).unwrap_or_else(|e| panic!("{case}: {e}"));
            }
        }
    }
}
