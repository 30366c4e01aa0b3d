//! Planner unit tests: every ordering rule and every domain rule, on small tenants.

use super::testkit::*;
use super::*;
use crate::desired::DesiredState;
use crate::plan::ops::AssignLicenses;
use crate::tenant::{MailboxType, Tenant};

fn converges(d: &DesiredState, live: &Tenant) {
    let p = plan(d, live);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    let after = apply_checked(live, &p);
    let again = plan(d, &after);
    assert!(
        again.in_sync(),
        "second plan not in sync: {:?} {:?}",
        ids(&again),
        again.license_errors
    );
}

#[test]
fn in_sync_tenant_plans_nothing() {
    let (live, mut d) = e3_holder("ann@x.com");
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    let p = plan(&d, &live);
    assert!(p.is_empty());
    assert_eq!(p.seats.len(), 1);
    assert_eq!(p.seats[0].consumed_after, 1);
}

#[test]
fn undeclared_users_and_unmanaged_skus_are_never_touched() {
    let live = TenantBuilder::new()
        .skus(&["ENTERPRISEPACK", "POWER_BI_PRO"], 5)
        .user("ann@x.com", &["ENTERPRISEPACK", "POWER_BI_PRO"])
        .user("bob@x.com", &["ENTERPRISEPACK"])
        .build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    want(&mut d, "ann@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["convert_mailbox:ann@x.com", "assign_licenses:ann@x.com"]
    );
    let OpKind::AssignLicenses(AssignLicenses { remove, add, .. }) =
        &op(&p, "assign_licenses:ann@x.com").kind
    else {
        panic!()
    };
    assert!(add.is_empty());
    assert_eq!(remove.len(), 1);
    assert_eq!(remove[0].sku_part_number, "ENTERPRISEPACK");
    converges(&d, &live);
}

#[test]
fn none_and_keep_mean_no_licence_changes() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .user("bob@x.com", &["ENTERPRISEPACK"])
        .build();
    want(&mut d, "ann@x.com", &[]).licenses = None;
    let bob = want(&mut d, "bob@x.com", &[]);
    bob.license_intent = crate::desired::LicenseIntent::Keep;
    assert!(plan(&d, &live).is_empty());
}

#[test]
fn usage_location_precedes_the_licence() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b.user_at("ann@x.com", None, &[]).mailbox(None, 0).build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]).usage_location = Some("US".into());
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["set_usage_location:ann@x.com", "assign_licenses:ann@x.com"]
    );
    assert_eq!(
        op(&p, "assign_licenses:ann@x.com").depends_on,
        ["set_usage_location:ann@x.com"]
    );
    converges(&d, &live);
}

#[test]
fn licence_without_any_usage_location_is_an_error() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b.user_at("ann@x.com", None, &[]).build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    let p = plan(&d, &live);
    assert!(p.has_errors());
    let diag = p.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert!(diag.message.contains("no usage location"), "{diag}");
    assert!(
        diag.hint
            .as_deref()
            .unwrap()
            .contains("defaults.usage_location")
    );
}

#[test]
fn usage_location_is_independent_of_licensing() {
    let (live, mut d) = e3_holder("ann@x.com");
    let ann = want(&mut d, "ann@x.com", &[]);
    ann.licenses = None;
    ann.usage_location = Some("FR".into());
    let p = plan(&d, &live);
    assert_eq!(ids(&p), ["set_usage_location:ann@x.com"]);
    assert_eq!(p.operations[0].kind.action(), Action::Change);
}

#[test]
fn reallocation_with_zero_free_seats_frees_before_granting() {
    let live = TenantBuilder::new()
        .sku("ENTERPRISEPACK", 1)
        .user("amy@x.com", &["ENTERPRISEPACK"])
        .user("ben@x.com", &[])
        .mailbox(None, 0)
        .build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    want(&mut d, "amy@x.com", &[]).mailbox = Some(MailboxType::Shared);
    want(&mut d, "ben@x.com", &["ENTERPRISEPACK"]);
    let p = plan(&d, &live);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    assert!(position(&p, "assign_licenses:amy@x.com") < position(&p, "assign_licenses:ben@x.com"));
    let ben = op(&p, "assign_licenses:ben@x.com");
    assert_eq!(ben.depends_on, ["assign_licenses:amy@x.com"]);
    assert!(
        ben.reasons
            .iter()
            .any(|r| r.contains("ENTERPRISEPACK seat freed by"))
    );
    assert_eq!(
        p.seats[0],
        SeatSummary {
            sku_part_number: "ENTERPRISEPACK".into(),
            enabled: 1,
            consumed_now: 1,
            consumed_after: 1,
            peak: 1
        }
    );
    converges(&d, &live);
}

/// Ten E3 seats held by `leavers` users (`{prefix}{i}@x.com`) who all become shared
/// mailboxes, the first `freed` of them giving their E3 back, and twelve unlicensed newcomers
/// without a mailbox (`new{i:02}@x.com`) who each want E3.
fn newcomers_wanting_e3_after_leavers(
    prefix: &str,
    leavers: usize,
    freed: usize,
) -> (Tenant, DesiredState) {
    let mut b = TenantBuilder::new().sku("ENTERPRISEPACK", 10);
    for i in 0..leavers {
        b = b.user(&format!("{prefix}{i}@x.com"), &["ENTERPRISEPACK"]);
    }
    for i in 0..12 {
        b = b.user(&format!("new{i:02}@x.com"), &[]).mailbox(None, 0);
    }
    let live = b.build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    for i in 0..leavers {
        let kept: &[&str] = if i < freed { &[] } else { &["ENTERPRISEPACK"] };
        want(&mut d, &format!("{prefix}{i}@x.com"), kept).mailbox = Some(MailboxType::Shared);
    }
    for i in 0..12 {
        want(&mut d, &format!("new{i:02}@x.com"), &["ENTERPRISEPACK"]);
    }
    (live, d)
}

#[test]
fn unaffordable_plan_reports_numbers_per_sku() {
    let (live, d) = newcomers_wanting_e3_after_leavers("has", 7, 3);
    let p = plan(&d, &live);
    assert!(p.has_errors());
    assert_eq!(
        errors(&p),
        ["ENTERPRISEPACK: need 12, have 6 available after freeing 3 \u{2014} short by 6"]
    );
}

#[test]
fn unaffordable_message_matches_the_documented_style() {
    let (live, d) = newcomers_wanting_e3_after_leavers("old", 3, 3);
    let p = plan(&d, &live);
    assert_eq!(
        errors(&p),
        ["ENTERPRISEPACK: need 12, have 10 available after freeing 3 \u{2014} short by 2"]
    );
    let hint = p.diagnostics[0].hint.as_deref().unwrap_or_default();
    assert!(hint.contains("buy 2 more ENTERPRISEPACK"), "{hint}");
}

#[test]
fn e3_to_e5_swap_keeps_exchange_continuous() {
    let (live, d) = licence_swap("ann@x.com", "ENTERPRISEPACK", "ENTERPRISEPREMIUM");
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["assign_licenses:ann@x.com", "assign_licenses:ann@x.com#2"]
    );
    let OpKind::AssignLicenses(AssignLicenses { add, remove, .. }) = &p.operations[0].kind else {
        panic!()
    };
    assert_eq!((add.len(), remove.len()), (1, 0));
    assert_eq!(add[0].sku_part_number, "ENTERPRISEPREMIUM");
    let second = &p.operations[1];
    assert_eq!(second.depends_on, ["assign_licenses:ann@x.com"]);
    assert!(
        second
            .reasons
            .iter()
            .any(|r| r.contains("Exchange continuity"))
    );
    converges(&d, &live);
}

#[test]
fn swap_between_non_exchange_skus_is_one_call() {
    let live = TenantBuilder::new()
        .skus(&["ENTERPRISEPACK", "POWER_BI_PRO", "EMS"], 5)
        .user("ann@x.com", &["ENTERPRISEPACK", "POWER_BI_PRO"])
        .build();
    let mut d = desired(&["POWER_BI_PRO", "EMS"]);
    want(&mut d, "ann@x.com", &["EMS"]);
    let p = plan(&d, &live);
    assert_eq!(ids(&p), ["assign_licenses:ann@x.com"]);
    assert_eq!(p.operations[0].kind.action(), Action::Change);
}

#[test]
fn exchange_downgrade_is_reported() {
    let (live, d) = licence_swap("ann@x.com", "ENTERPRISEPACK", "EXCHANGESTANDARD");
    let p = plan(&d, &live);
    assert_eq!(
        p.exchange_changes,
        [ExchangeChange {
            upn: "ann@x.com".into(),
            before: crate::catalog::ExchangeRank::Plan2,
            after: crate::catalog::ExchangeRank::Plan1
        }]
    );
    converges(&d, &live);
}

#[test]
fn leaver_is_converted_before_the_licence_goes() {
    let (live, mut d) = e3_holder("leo@x.com");
    want(&mut d, "leo@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["convert_mailbox:leo@x.com", "assign_licenses:leo@x.com"]
    );
    assert_eq!(p.operations[1].depends_on, ["convert_mailbox:leo@x.com"]);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    converges(&d, &live);
}

#[test]
fn leaver_with_a_60_gb_mailbox_keeps_the_licence_and_says_why() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "POWER_BI_PRO"]);
    let live = b
        .user("big@x.com", &["ENTERPRISEPACK", "POWER_BI_PRO"])
        .mailbox(Some(MailboxType::User), 60)
        .build();
    want(&mut d, "big@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    assert!(!p.has_errors());
    let OpKind::AssignLicenses(AssignLicenses { remove, .. }) =
        &op(&p, "assign_licenses:big@x.com").kind
    else {
        panic!()
    };
    assert_eq!(remove.len(), 1);
    assert_eq!(remove[0].sku_part_number, "POWER_BI_PRO");
    let w = warnings(&p);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("keeps ENTERPRISEPACK"), "{}", w[0]);
    assert!(w[0].contains("60.0 GB"), "{}", w[0]);
    converges(&d, &live);
}

#[test]
fn losing_the_last_exchange_licence_of_a_user_mailbox_is_an_error() {
    let (live, mut d) = e3_holder("ann@x.com");
    want(&mut d, "ann@x.com", &[]);
    let p = plan(&d, &live);
    assert!(p.has_errors());
    let e = errors(&p);
    assert!(
        e[0].contains("ann@x.com would lose its last Exchange licence"),
        "{e:?}"
    );
    assert!(e[0].contains("deleted after 30 days"), "{e:?}");
}

#[test]
fn mailbox_delete_accepts_the_loss_with_a_warning() {
    let (live, mut d) = e3_holder("ann@x.com");
    want(&mut d, "ann@x.com", &[]).mailbox_deletion_accepted = true;
    let p = plan(&d, &live);
    assert_eq!(ids(&p), ["assign_licenses:ann@x.com"]);
    assert!(warnings(&p)[0].contains("mailbox will be disabled"));
    converges(&d, &live);
}

#[test]
fn desired_user_mailbox_without_exchange_is_an_error() {
    let (live, mut d) = e3_holder("ann@x.com");
    want(&mut d, "ann@x.com", &[]).mailbox = Some(MailboxType::User);
    let p = plan(&d, &live);
    assert!(errors(&p)[0].contains("needs an Exchange licence"));
}

#[test]
fn shared_to_user_gets_the_licence_first() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("sam@x.com", &[])
        .mailbox(Some(MailboxType::Shared), 1)
        .build();
    want(&mut d, "sam@x.com", &["ENTERPRISEPACK"]).mailbox = Some(MailboxType::User);
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["assign_licenses:sam@x.com", "convert_mailbox:sam@x.com"]
    );
    assert_eq!(p.operations[1].depends_on, ["assign_licenses:sam@x.com"]);
    converges(&d, &live);
}

#[test]
fn room_mailboxes_never_get_user_licences() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("room1@x.com", &[])
        .mailbox(Some(MailboxType::Room), 0)
        .build();
    want(&mut d, "room1@x.com", &["ENTERPRISEPACK"]);
    let p = plan(&d, &live);
    assert!(errors(&p)[0].contains("resource mailboxes never get user licences"));
    assert!(p.is_empty());
}

#[test]
fn synced_users_are_not_converted_and_keep_their_licence() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b.user("syn@x.com", &["ENTERPRISEPACK"]).synced().build();
    want(&mut d, "syn@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    assert!(p.is_empty(), "{:?}", ids(&p));
    let w = warnings(&p);
    assert!(
        w.iter()
            .any(|m| m.contains("synchronised from on-premises")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|m| m.contains("keeps ENTERPRISEPACK")),
        "{w:?}"
    );
}

#[test]
fn disabled_plan_toggle_is_a_single_change() {
    let (live, mut d) = e3_holder("ann@x.com");
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    disable(ann, "ENTERPRISEPACK", Some(&["YAMMER_ENTERPRISE"]));
    let p = plan(&d, &live);
    assert_eq!(ids(&p), ["assign_licenses:ann@x.com"]);
    let OpKind::AssignLicenses(AssignLicenses { add, remove, .. }) = &p.operations[0].kind else {
        panic!()
    };
    assert!(remove.is_empty());
    assert_eq!(add[0].disabled_plan_names, ["YAMMER_ENTERPRISE"]);
    assert_eq!(add[0].replaces_disabled, Some(vec![]));
    assert_eq!(
        p.summary(),
        Summary {
            add: 0,
            change: 1,
            remove: 0
        }
    );
    // A re-assignment of a held SKU is a `~` for reviewers: the seat count does not move.
    assert_eq!(p.seats[0].consumed_after, p.seats[0].consumed_now);
    converges(&d, &live);
}

#[test]
fn unknown_disabled_plan_lists_the_real_ones() {
    let (live, mut d) = e3_holder("ann@x.com");
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    disable(ann, "ENTERPRISEPACK", Some(&["NOPE"]));
    let p = plan(&d, &live);
    let e = p.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert!(e.message.contains("NOPE"));
    assert!(e.hint.as_deref().unwrap().contains("YAMMER_ENTERPRISE"));
}

#[test]
fn inherited_licence_removal_leaves_the_declared_group() {
    let (b, mut d) = managing(&["ENTERPRISEPREMIUM", "ENTERPRISEPACK"]);
    let live = b
        .user("bob@x.com", &[])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["bob@x.com"])
        .build();
    want(&mut d, "bob@x.com", &["ENTERPRISEPACK"]);
    d.groups.insert(
        "LIC-E5".into(),
        crate::desired::DesiredGroup {
            id: gid("LIC-E5"),
            name: "LIC-E5".into(),
            origin: None,
            licenses: None,
            members: None,
            member_origins: Default::default(),
        },
    );
    let p = plan(&d, &live);
    assert_eq!(
        ids(&p),
        ["assign_licenses:bob@x.com", "remove_group_member:bob@x.com"]
    );
    assert_eq!(p.operations[1].depends_on, ["assign_licenses:bob@x.com"]);
    assert!(p.operations[1].reasons[0].contains("inherited from group LIC-E5"));
    converges(&d, &live);
}

#[test]
fn inherited_licence_from_an_undeclared_group_is_an_error() {
    let (b, mut d) = managing(&["ENTERPRISEPREMIUM"]);
    let live = b
        .user("bob@x.com", &[])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["bob@x.com"])
        .build();
    want(&mut d, "bob@x.com", &[]);
    let p = plan(&d, &live);
    assert_eq!(
        errors(&p),
        [
            "bob@x.com inherits ENTERPRISEPREMIUM from group LIC-E5 which is not managed here; remove them from the group or declare [groups.\"LIC-E5\"]"
        ]
    );
}

#[test]
fn licence_provided_by_a_group_needs_no_direct_assignment() {
    let (b, mut d) = managing(&["ENTERPRISEPREMIUM"]);
    let live = b
        .user("bob@x.com", &[])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["bob@x.com"])
        .build();
    want(&mut d, "bob@x.com", &["ENTERPRISEPREMIUM"]);
    assert!(plan(&d, &live).is_empty());
}

#[test]
fn redundant_direct_assignment_is_warned_not_removed() {
    let (b, mut d) = managing(&["ENTERPRISEPREMIUM"]);
    let live = b
        .user("bob@x.com", &["ENTERPRISEPREMIUM"])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["bob@x.com"])
        .build();
    want(&mut d, "bob@x.com", &["ENTERPRISEPREMIUM"]);
    let p = plan(&d, &live);
    assert!(p.is_empty());
    let w = warnings(&p);
    assert!(
        w[0].contains("redundant") && w[0].contains("LIC-E5"),
        "{w:?}"
    );
}

#[test]
fn declared_group_members_are_added_after_location_and_counted() {
    let live = TenantBuilder::new()
        .sku("ENTERPRISEPREMIUM", 1)
        .user("old@x.com", &[])
        .user_at("new@x.com", None, &[])
        .mailbox(None, 0)
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["old@x.com"])
        .build();
    let mut d = desired(&["ENTERPRISEPREMIUM"]);
    want_group(
        &mut d,
        "LIC-E5",
        &["ENTERPRISEPREMIUM"],
        Some(&["new@x.com"]),
    );
    want(&mut d, "new@x.com", &["ENTERPRISEPREMIUM"]).usage_location = Some("DE".into());
    want(&mut d, "old@x.com", &[]).mailbox = Some(MailboxType::Shared);
    let p = plan(&d, &live);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    let add = op(&p, "add_group_member:new@x.com");
    assert!(
        add.depends_on
            .contains(&"set_usage_location:new@x.com".to_string())
    );
    assert!(
        add.depends_on
            .contains(&"remove_group_member:old@x.com".to_string()),
        "{:?}",
        add.depends_on
    );
    converges(&d, &live);
}

#[test]
fn group_licence_changes_account_every_member() {
    let live = TenantBuilder::new()
        .sku("ENTERPRISEPACK", 2)
        .user("a@x.com", &[])
        .user("b@x.com", &[])
        .user("c@x.com", &[])
        .group("LIC-E3", &[], &["a@x.com", "b@x.com", "c@x.com"])
        .build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    want_group(&mut d, "LIC-E3", &["ENTERPRISEPACK"], None);
    let p = plan(&d, &live);
    assert_eq!(
        errors(&p),
        ["ENTERPRISEPACK: need 3, have 2 available after freeing 0 \u{2014} short by 1"]
    );
}

#[test]
fn seat_swap_between_users_is_split_without_a_cycle() {
    // amy: E3 -> EMS, ben: EMS -> E3, no spare seats of either: each removal goes first.
    let (live, d) = seat_swap("POWER_BI_PRO", "EMS");
    let p = plan(&d, &live);
    assert!(!p.has_errors(), "{:?}", p.diagnostics);
    assert_eq!(p.operations.len(), 4);
    converges(&d, &live);
}

#[test]
fn contradictory_exchange_swaps_with_no_seats_are_a_deadlock_naming_skus_numbers_and_users() {
    let (live, d) = seat_swap("ENTERPRISEPACK", "ENTERPRISEPREMIUM");
    let p = plan(&d, &live);
    assert!(p.has_errors());
    let e = errors(&p);
    assert!(
        e.iter().all(|m| !m.contains("internal planner error")),
        "{e:?}"
    );
    let deadlock = e
        .iter()
        .find(|m| m.contains("no order fits the seats"))
        .unwrap_or_else(|| panic!("{e:?}"));
    assert!(deadlock.contains("with 0 free"), "{deadlock}");
    assert!(
        deadlock.contains("amy@x.com") && deadlock.contains("ben@x.com"),
        "{deadlock}"
    );
    let hint = p
        .diagnostics
        .iter()
        .find(|d| d.message == *deadlock)
        .and_then(|d| d.hint.clone());
    assert!(
        hint.is_some_and(|h| h.contains("more")),
        "a hint names the way out"
    );
}

#[test]
fn stacking_report_lists_redundant_exchange_licences() {
    let live = TenantBuilder::new()
        .skus(
            &["ENTERPRISEPACK", "EXCHANGESTANDARD", "ENTERPRISEPREMIUM"],
            5,
        )
        .user("ann@x.com", &["ENTERPRISEPACK", "EXCHANGESTANDARD"])
        .user("bob@x.com", &["ENTERPRISEPACK"])
        .user("cy@x.com", &["ENTERPRISEPACK", "ENTERPRISEPREMIUM"])
        .build();
    let r = stacking::report(&live);
    assert_eq!(r.users.len(), 2);
    assert_eq!(r.users[0].upn, "ann@x.com");
    assert_eq!(r.users[0].kept.sku_part_number, "ENTERPRISEPACK");
    assert_eq!(r.users[0].redundant[0].sku_part_number, "EXCHANGESTANDARD");
    // Equal rank: one of the two Plan 2 SKUs is redundant.
    assert_eq!(r.users[1].redundant.len(), 1);
    let freeable: Vec<(&str, u32)> = r
        .freeable
        .iter()
        .map(|f| (f.sku_part_number.as_str(), f.seats))
        .collect();
    assert_eq!(
        freeable,
        [("ENTERPRISEPREMIUM", 1), ("EXCHANGESTANDARD", 1)]
    );
}

#[test]
fn fingerprints_track_inputs() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b.user("ann@x.com", &[]).build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    let a = fingerprint(&d, &live);
    assert!(a.desired.starts_with("sha256:") && a.desired.len() == 71);
    want(&mut d, "ann@x.com", &[]);
    let b = fingerprint(&d, &live);
    assert_ne!(a.desired, b.desired);
    assert_eq!(a.live, b.live);
    let mut shuffled = live.clone();
    shuffled.users.reverse();
    let mut other = live.clone();
    other.users[0].usage_location = Some("FR".into());
    assert_eq!(fingerprint(&d, &shuffled).live, a.live);
    assert_ne!(fingerprint(&d, &other).live, a.live);
}

#[test]
fn unmanaged_disabled_plans_are_kept_and_managed_ones_enforced() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .disabled("ENTERPRISEPACK", &["YAMMER_ENTERPRISE"])
        .build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    assert!(
        plan(&d, &live).is_empty(),
        "None = keep the disabled plans there are"
    );
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    disable(ann, "ENTERPRISEPACK", Some(&[]));
    let p = plan(&d, &live);
    let OpKind::AssignLicenses(AssignLicenses { add, .. }) = &p.operations[0].kind else {
        panic!()
    };
    assert!(add[0].disabled_plans.is_empty());
    converges(&d, &live);
}

#[test]
fn planning_is_deterministic() {
    let live = TenantBuilder::new()
        .sku("ENTERPRISEPACK", 2)
        .user("a@x.com", &["ENTERPRISEPACK"])
        .user("b@x.com", &[])
        .user("c@x.com", &["ENTERPRISEPACK"])
        .build();
    let mut d = desired(&["ENTERPRISEPACK"]);
    want(&mut d, "a@x.com", &[]).mailbox = Some(MailboxType::Shared);
    want(&mut d, "b@x.com", &["ENTERPRISEPACK"]);
    let a = serde_json::to_string(&plan(&d, &live)).unwrap();
    let b = serde_json::to_string(&plan(&d, &live)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_member_without_usage_location_joining_a_licensing_group_is_only_warned() {
    // Group-based licensing uses the tenant's country for a member without usageLocation
    // (Entra licensing-group-advanced); only a direct assignment needs the user's own.
    for seats in [1, 3] {
        let live = TenantBuilder::new()
            .sku("ENTERPRISEPREMIUM", seats)
            .user_at("ann@x.com", None, &[])
            .group("LIC-E5", &["ENTERPRISEPREMIUM"], &[])
            .build();
        let mut d = desired(&["ENTERPRISEPREMIUM"]);
        want_group(
            &mut d,
            "LIC-E5",
            &["ENTERPRISEPREMIUM"],
            Some(&["ann@x.com"]),
        );
        let p = plan(&d, &live);
        assert!(!p.has_errors(), "{:#?}", p.diagnostics);
        let warning = p
            .diagnostics
            .iter()
            .find(|d| d.message.contains("no usage location"))
            .expect("a warning");
        assert!(warning.message.contains("tenant's country"), "{warning}");
        assert_eq!(ids(&p), ["add_group_member:ann@x.com"]);
        // The seat the group licence takes is accounted for: it is active, not an error.
        let e5 = &p.seats[0];
        assert_eq!((e5.consumed_now, e5.consumed_after), (0, 1));
        let after = apply_checked(&live, &p);
        let ann = &after.users[0];
        assert!(ann.licenses[0].is_effective() && ann.licenses[0].error.is_none());
        assert!(
            ann.usage_location.is_none(),
            "group licensing never sets it"
        );
        converges(&d, &live);
    }
}

#[test]
fn hints_name_a_group_whose_name_is_shared_by_its_object_id() {
    let mut live = TenantBuilder::new()
        .sku("ENTERPRISEPREMIUM", 5)
        .user("ann@x.com", &[])
        .user("bob@x.com", &[])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &["ann@x.com"])
        .group("LIC-E5 twin", &["ENTERPRISEPREMIUM"], &["bob@x.com"])
        .build();
    for g in &mut live.groups {
        g.display_name = "LIC-E5".to_string();
    }
    live.normalize();
    let mut d = desired(&["ENTERPRISEPREMIUM"]);
    want(&mut d, "ann@x.com", &[]);
    let p = plan(&d, &live);
    let e = p
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("an error");
    let id = gid("LIC-E5");
    assert!(
        e.message.contains(&format!(
            "from group LIC-E5 ({id}) which is not managed here"
        )) && e.message.contains(&format!("declare [groups.\"{id}\"]")),
        "{}",
        e.message
    );
}

/// Every (live `accountEnabled`, declared `sign_in`) pair: the rule plans exactly the declared
/// difference, and nothing when sign-in is not managed.
#[test]
fn sign_in_rule_plans_exactly_the_declared_difference() {
    use crate::plan::ops::SignIn;
    for enabled in [false, true] {
        for wanted in [None, Some(SignIn::Blocked), Some(SignIn::Allowed)] {
            let live = TenantBuilder::new()
                .user("ann@x.com", &[])
                .account_enabled(enabled)
                .build();
            let mut d = desired(&[]);
            want(&mut d, "ann@x.com", &[]).sign_in = wanted;
            let change = super::intent::sign_in_change(&live.users[0], wanted).map(|op| match op {
                OpKind::SetSignIn(s) => (s.from, s.to),
                other => panic!("not a sign-in change: {other:?}"),
            });
            let expected = wanted
                .filter(|w| w.account_enabled() != enabled)
                .map(|w| (SignIn::of_account(enabled), w));
            assert_eq!(change, expected, "enabled {enabled}, wanted {wanted:?}");
            let p = plan(&d, &live);
            assert_eq!(
                ids(&p),
                expected
                    .map(|_| vec!["set_sign_in:ann@x.com"])
                    .unwrap_or_default()
            );
        }
    }
}

/// "Convert a shared mailbox back to a user mailbox": the account signs in again, so allowing
/// sign-in comes before the conversion, which itself waits for the Exchange licence.
#[test]
fn allowing_sign_in_comes_before_a_shared_mailbox_becomes_a_users() {
    use crate::plan::ops::SignIn;
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("ann@x.com", &[])
        .mailbox(Some(MailboxType::Shared), 1)
        .account_enabled(false)
        .build();
    let ann = want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]);
    ann.mailbox = Some(MailboxType::User);
    ann.sign_in = Some(SignIn::Allowed);
    ann.usage_location = Some("GB".into());
    let p = plan(&d, &live);
    assert!(!p.has_errors(), "{:?}", errors(&p));
    let convert = op(&p, "convert_mailbox:ann@x.com");
    assert!(
        convert
            .depends_on
            .contains(&"set_sign_in:ann@x.com".to_string()),
        "{:?}",
        convert.depends_on
    );
    assert!(position(&p, "set_sign_in:ann@x.com") < position(&p, "convert_mailbox:ann@x.com"));
    converges(&d, &live);
}

/// The class: every live sign-in state, declared state and mailbox move between user and
/// shared converges (plan, apply to the model, plan again: nothing left).
#[test]
fn sign_in_converges_for_every_combination() {
    use crate::plan::ops::SignIn;
    for enabled in [false, true] {
        for wanted in [None, Some(SignIn::Blocked), Some(SignIn::Allowed)] {
            for (from, to) in [
                (MailboxType::User, MailboxType::Shared),
                (MailboxType::Shared, MailboxType::User),
                (MailboxType::User, MailboxType::User),
            ] {
                let held: &[&str] = if from == MailboxType::User {
                    &["ENTERPRISEPACK"]
                } else {
                    &[]
                };
                let (b, mut d) = managing(&["ENTERPRISEPACK"]);
                let live = b
                    .user_at("ann@x.com", Some("GB"), held)
                    .mailbox(Some(from), 1)
                    .account_enabled(enabled)
                    .build();
                let wants: &[&str] = if to == MailboxType::User {
                    &["ENTERPRISEPACK"]
                } else {
                    &[]
                };
                let ann = want(&mut d, "ann@x.com", wants);
                ann.mailbox = Some(to);
                ann.sign_in = wanted;
                converges(&d, &live);
            }
        }
    }
}
