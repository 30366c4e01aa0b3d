//! Each rule on its own, on small tenants: the edges it adds (by operation id), and none
//! where it does not apply.

use super::*;
use crate::desired::DesiredState;
use crate::plan::ops::SignIn;
use crate::plan::testkit::*;
use crate::tenant::Tenant;

type Ids = BTreeSet<(String, String)>;

/// Runs one rule alone on the operations of `d` against `live`: (hard, soft) edges.
fn rule(name: &str, d: &DesiredState, live: &Tenant) -> (Ids, Ids) {
    let ix = Index::new(live);
    let intent = super::super::intent::diff(d, &ix);
    assert!(
        intent.diagnostics.iter().all(|x| !x.is_error()),
        "{:?}",
        intent.diagnostics
    );
    let seat_first = HashSet::new();
    let layout = super::super::graph::operations(&ix, &intent, &seat_first);
    let cx = layout.context(&ix, &intent, &seat_first);
    let (_, run) = RULES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a rule of that name");
    let mut out = Edges::default();
    run(&cx, &mut out);
    let id = |(a, b): (usize, usize)| (layout.ops[a].id.clone(), layout.ops[b].id.clone());
    (
        out.hard.into_iter().map(id).collect(),
        out.soft.into_iter().map(id).collect(),
    )
}

fn edge(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn within_user_usage_location_before_the_licence() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b.user_at("ann@x.com", None, &[]).build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPACK"]).usage_location = Some("GB".into());
    let (hard, soft) = rule("within_user", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge(
            "set_usage_location:ann@x.com",
            "assign_licenses:ann@x.com"
        )])
    );
    assert!(soft.is_empty());
}

#[test]
fn within_user_shared_before_the_licence_goes_and_user_mailbox_after_it_comes() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("lee@x.com", &["ENTERPRISEPACK"])
        .user("sam@x.com", &[])
        .mailbox(Some(crate::tenant::MailboxType::Shared), 1)
        .build();
    want(&mut d, "lee@x.com", &[]).mailbox = Some(MailboxType::Shared);
    want(&mut d, "sam@x.com", &["ENTERPRISEPACK"]).mailbox = Some(MailboxType::User);
    let (hard, _) = rule("within_user", &d, &live);
    assert_eq!(
        hard,
        Ids::from([
            edge("convert_mailbox:lee@x.com", "assign_licenses:lee@x.com"),
            edge("assign_licenses:sam@x.com", "convert_mailbox:sam@x.com"),
        ])
    );
}

#[test]
fn within_user_sign_in_allowed_before_the_user_mailbox_and_blocking_needs_nothing() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user("sam@x.com", &["ENTERPRISEPACK"])
        .mailbox(Some(MailboxType::Shared), 1)
        .account_enabled(false)
        .user("lee@x.com", &[])
        .build();
    let sam = want(&mut d, "sam@x.com", &["ENTERPRISEPACK"]);
    sam.mailbox = Some(MailboxType::User);
    sam.sign_in = Some(SignIn::Allowed);
    want(&mut d, "lee@x.com", &[]).sign_in = Some(SignIn::Blocked);
    let (hard, _) = rule("within_user", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge("set_sign_in:sam@x.com", "convert_mailbox:sam@x.com")])
    );
}

#[test]
fn gains_before_losses_of_one_user() {
    let (live, d) = licence_swap("ken@x.com", "ENTERPRISEPACK", "ENTERPRISEPREMIUM");
    let (hard, _) = rule("gains_before_losses", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge(
            "assign_licenses:ken@x.com",
            "assign_licenses:ken@x.com#2"
        )])
    );
}

#[test]
fn exchange_continuity_joining_a_group_before_the_direct_licence_goes() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPACK"])
        .group("LIC-E5", &["ENTERPRISEPREMIUM"], &[])
        .build();
    want(&mut d, "ann@x.com", &["ENTERPRISEPREMIUM"]);
    want_group(
        &mut d,
        "LIC-E5",
        &["ENTERPRISEPREMIUM"],
        Some(&["ann@x.com"]),
    );
    let (hard, _) = rule("exchange_continuity_within_user", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge(
            "add_group_member:ann@x.com",
            "assign_licenses:ann@x.com"
        )])
    );
}

#[test]
fn membership_around_group_change_is_a_preference_unless_the_leaver_is_hurt() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("bob@x.com", &[])
        .user("eve@x.com", &[])
        .group("LIC", &["ENTERPRISEPACK"], &["bob@x.com"])
        .build();
    want_group(&mut d, "LIC", &["ENTERPRISEPREMIUM"], Some(&["eve@x.com"]));
    want(&mut d, "bob@x.com", &[]).mailbox_deletion_accepted = true;
    let (hard, soft) = rule("membership_around_group_change", &d, &live);
    assert!(hard.is_empty(), "{hard:?}");
    assert_eq!(
        soft,
        Ids::from([
            edge("remove_group_member:bob@x.com", "assign_group_licenses:LIC"),
            edge("assign_group_licenses:LIC", "add_group_member:eve@x.com"),
        ])
    );
}

#[test]
fn members_around_group_change_location_before_the_group_grants() {
    let (b, mut d) = managing(&["ENTERPRISEPACK"]);
    let live = b
        .user_at("ann@x.com", None, &[])
        .group("LIC", &[], &["ann@x.com"])
        .build();
    want_group(&mut d, "LIC", &["ENTERPRISEPACK"], None);
    let ann = want(&mut d, "ann@x.com", &[]);
    ann.usage_location = Some("GB".into());
    ann.licenses = None;
    let (hard, _) = rule("members_around_group_change", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge(
            "set_usage_location:ann@x.com",
            "assign_group_licenses:LIC"
        )])
    );
}

#[test]
fn a_group_stops_giving_exchange_after_another_group_gives_it() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &[])
        .group("OLD", &["ENTERPRISEPACK"], &["ann@x.com"])
        .group("NEW", &[], &["ann@x.com"])
        .build();
    want_group(&mut d, "OLD", &[], None);
    want_group(&mut d, "NEW", &["ENTERPRISEPREMIUM"], None);
    let (hard, soft) = rule("group_stops_exchange_last", &d, &live);
    assert_eq!(
        hard,
        Ids::from([edge(
            "assign_group_licenses:NEW",
            "assign_group_licenses:OLD"
        )])
    );
    assert!(soft.is_empty());
}

#[test]
fn a_group_stops_giving_exchange_after_another_only_when_that_one_suffices() {
    // Ann has no usage location: NEW's licence would reach her in error, so OLD waiting
    // for NEW guarantees her mailbox nothing and is only a preference.
    let (b, mut d) = managing(&["ENTERPRISEPACK", "EXCHANGESTANDARD"]);
    let live = b
        .user_at("ann@x.com", None, &[])
        .mailbox(Some(MailboxType::User), 3)
        .group("OLD", &["ENTERPRISEPACK"], &["ann@x.com"])
        .group("NEW", &[], &["ann@x.com"])
        .build();
    want_group(&mut d, "OLD", &[], None);
    want_group(&mut d, "NEW", &["EXCHANGESTANDARD"], None);
    let (hard, soft) = rule("group_stops_exchange_last", &d, &live);
    assert!(hard.is_empty(), "{hard:?}");
    assert_eq!(
        soft,
        Ids::from([edge(
            "assign_group_licenses:NEW",
            "assign_group_licenses:OLD"
        )])
    );
}

#[test]
fn a_direct_licence_replacing_what_the_group_stops_giving_comes_first() {
    let (b, mut d) = managing(&["ENTERPRISEPACK", "ENTERPRISEPREMIUM"]);
    let live = b
        .user("ann@x.com", &["ENTERPRISEPREMIUM"])
        .group("LIC", &["ENTERPRISEPACK"], &["ann@x.com"])
        .build();
    want_group(&mut d, "LIC", &[], None);
    want(
        &mut d,
        "ann@x.com",
        &["ENTERPRISEPACK", "ENTERPRISEPREMIUM"],
    );
    let (hard, soft) = rule("direct_licences_around_group_change", &d, &live);
    assert!(hard.is_empty(), "{hard:?}");
    assert_eq!(
        soft,
        Ids::from([edge(
            "assign_licenses:ann@x.com",
            "assign_group_licenses:LIC"
        )])
    );
}

#[test]
fn rule_names_are_unique() {
    let names: BTreeSet<&str> = RULES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), RULES.len());
}
