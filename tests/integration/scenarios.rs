//! Planner scenarios (issue 4): each directory of tests/scenarios/ is a desired state
//! (`m365ctl.toml`, whose header explains the case) and a tenant snapshot. The runner plans
//! each through the library exactly as `m365ctl plan` does, snapshots the human and JSON
//! plans with insta (reviewed), and asserts the property each scenario exists for, so a
//! blindly accepted snapshot cannot hide a regression.

use m365ctl::backend::TenantBackend;
use m365ctl::backend::snapshot::SnapshotBackend;
use m365ctl::plan::ops::{AssignLicenses, RemoveGroupMember};
use m365ctl::plan::{OpKind, Plan};
use m365ctl::render::Wording;
use m365ctl::render::human::{HumanOptions, render};
use m365ctl::tenant::Tenant;
use std::path::Path;

pub(crate) fn plan_scenario(name: &str) -> (Tenant, Plan) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let config = m365ctl::input::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let m365ctl::backend::BackendConfig::Snapshot { path } = &config.backend else {
        panic!("{name}: scenarios use the snapshot backend")
    };
    let live = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(SnapshotBackend::new(path).read())
        .unwrap();
    let (desired, warnings) =
        m365ctl::desired::resolve(&config, &live).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut plan = m365ctl::plan::plan(&desired, &live);
    let mut diagnostics = warnings;
    diagnostics.append(&mut plan.diagnostics);
    plan.diagnostics = diagnostics;
    let human = render(
        &plan,
        HumanOptions {
            color: false,
            wording: Wording::Plan,
        },
    )
    // Paths in diagnostics are absolute: make the snapshot independent of the checkout.
    .replace(&format!("{}/", env!("CARGO_MANIFEST_DIR")), "");
    insta::assert_snapshot!(format!("{name}_human"), human);
    insta::assert_snapshot!(
        format!("{name}_json"),
        m365ctl::render::json::render(&plan)
            .replace(&format!("{}/", env!("CARGO_MANIFEST_DIR")), "")
    );
    (live, plan)
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.operations
        .iter()
        .position(|o| o.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", plan.operations))
}

pub(crate) fn errors(plan: &Plan) -> Vec<&str> {
    plan.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .collect()
}

#[test]
fn zero_free_seats_reallocation_frees_before_it_grants() {
    let (_, plan) = plan_scenario("zero_free_seats_reallocation");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    let convert = position(&plan, "convert_mailbox:amy@contoso.com");
    let free = position(&plan, "assign_licenses:amy@contoso.com");
    let grant = position(&plan, "assign_licenses:ben@contoso.com");
    assert!(convert < free && free < grant);
    assert!(
        plan.operations[grant]
            .depends_on
            .contains(&"assign_licenses:amy@contoso.com".to_string())
    );
    let e3 = plan
        .seats
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPACK")
        .unwrap();
    assert_eq!((e3.enabled, e3.consumed_now, e3.consumed_after), (2, 2, 2));
    assert!(e3.peak <= 2, "never over the enabled count: {e3:?}");
}

#[test]
fn unaffordable_plan_names_the_shortfall_per_sku() {
    let (_, plan) = plan_scenario("unaffordable");
    assert!(plan.has_errors());
    assert_eq!(
        errors(&plan),
        ["ENTERPRISEPACK: need 3, have 0 available after freeing 0 — short by 3"]
    );
}

#[test]
fn e3_to_e5_swap_keeps_exchange_at_every_step() {
    let (live, plan) = plan_scenario("e3_to_e5_swap");
    assert!(errors(&plan).is_empty());
    let mut tenant = live;
    for op in &plan.operations {
        m365ctl::tenant::apply_operation(&mut tenant, &op.kind).unwrap();
        assert!(
            m365ctl::tenant::unlicensed_user_mailboxes(&tenant).is_empty(),
            "Ken's mailbox lost Exchange after {}",
            op.id
        );
    }
    let ken = &tenant.users[0];
    let e5 = &tenant
        .skus
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPREMIUM")
        .unwrap()
        .sku_id;
    let e3 = &tenant
        .skus
        .iter()
        .find(|s| s.sku_part_number == "ENTERPRISEPACK")
        .unwrap()
        .sku_id;
    assert!(ken.holds(e5) && !ken.holds(e3));
}

#[test]
fn leaver_with_a_60_gb_mailbox_keeps_the_licence_and_says_why() {
    let (_, plan) = plan_scenario("leaver_60gb_mailbox");
    assert!(errors(&plan).is_empty());
    let kinds: Vec<&str> = plan.operations.iter().map(|o| o.kind.name()).collect();
    assert_eq!(kinds, ["convert_mailbox"], "no licence removal");
    let warning = plan
        .diagnostics
        .iter()
        .find(|d| d.message.contains("keeps ENTERPRISEPACK"))
        .expect("a warning saying the licence is kept");
    assert!(warning.message.contains("60.0 GB"), "{}", warning.message);
    assert!(
        warning.message.contains("over 50 GB"),
        "{}",
        warning.message
    );
}

#[test]
fn inherited_licence_is_removed_by_leaving_the_group() {
    let (_, plan) = plan_scenario("inherited_removal_via_group");
    assert!(errors(&plan).is_empty());
    let leave = &plan.operations[position(&plan, "remove_group_member:bob@contoso.com")];
    let OpKind::RemoveGroupMember(RemoveGroupMember { group, .. }) = &leave.kind else {
        panic!()
    };
    assert_eq!(group, "LIC-E5");
    assert!(
        leave
            .reasons
            .iter()
            .any(|r| r.contains("inherited from group LIC-E5"))
    );
    // Bob gets E3 before he leaves the group: his mailbox always has Exchange.
    assert!(
        position(&plan, "assign_licenses:bob@contoso.com")
            < position(&plan, "remove_group_member:bob@contoso.com")
    );
    // Eve keeps hers through the group: nothing is assigned to her directly.
    assert!(
        !plan
            .operations
            .iter()
            .any(|o| o.kind.target() == "eve@contoso.com")
    );
}

#[test]
fn redundant_stacked_licences_are_reported() {
    let (live, plan) = plan_scenario("redundant_stacking");
    assert!(plan.is_empty());
    let report = m365ctl::plan::stacking::report(&live);
    assert_eq!(report.users.len(), 1);
    assert_eq!(report.users[0].upn, "dana@contoso.com");
    assert_eq!(report.users[0].kept.sku_part_number, "ENTERPRISEPREMIUM");
    assert_eq!(
        report.users[0].redundant[0].sku_part_number,
        "EXCHANGESTANDARD"
    );
    assert_eq!(report.freeable.len(), 1);
    assert_eq!(report.freeable[0].seats, 1);
    insta::assert_snapshot!(
        "redundant_stacking_report",
        m365ctl::render::stacking::human(&report)
    );
}

#[test]
fn disabled_plan_toggle_is_a_single_change() {
    let (_, plan) = plan_scenario("disabled_plan_toggle");
    assert_eq!(plan.operations.len(), 1);
    assert_eq!(
        plan.operations[0].kind.action(),
        m365ctl::plan::Action::Change
    );
    let OpKind::AssignLicenses(AssignLicenses { add, remove, .. }) = &plan.operations[0].kind
    else {
        panic!()
    };
    assert!(remove.is_empty());
    assert_eq!(add[0].disabled_plan_names, ["YAMMER_ENTERPRISE"]);
    assert_eq!(add[0].replaces_disabled, Some(vec![]));
}

// Issue 12 (safety): each class with reviewed snapshots, explicit assertions, and every
// appliable plan walked in its printed, adversarial and 64 random orders.

/// Walks the plan's printed, removals-first, grants-first and 64 random orders with Graph's
/// rules, checking the invariants after every step; `let_go` are UPNs with mailbox = "delete".
fn safe_in_every_order(live: &Tenant, plan: &Plan, let_go: &[&str]) {
    let accepted = |upn: &str| let_go.contains(&upn);
    m365ctl::plan::orders::check_orders(live, plan, &accepted, 64, 12)
        .unwrap_or_else(|unsafe_order| panic!("{unsafe_order}"));
}

fn no_internal_errors(plan: &Plan) {
    for e in errors(plan) {
        assert!(!e.contains("internal planner error"), "{e}");
    }
}

fn removed_by(plan: &Plan, id: &str) -> Vec<String> {
    let OpKind::AssignLicenses(AssignLicenses { remove, .. }) =
        &plan.operations[position(plan, id)].kind
    else {
        panic!("{id} is not a licence call")
    };
    remove.iter().map(|r| r.sku_part_number.clone()).collect()
}

#[test]
fn shared_mailboxes_over_the_limits_keep_plan2() {
    let (live, plan) = plan_scenario("shared_over_limits_keeps_plan2");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    safe_in_every_order(&live, &plan, &[]);
    // Ada (archive): E3 is Plan 2 and stays; Plan 1 alone would not do, so it goes.
    assert_eq!(
        removed_by(&plan, "assign_licenses:ada@contoso.com"),
        ["EXCHANGESTANDARD"]
    );
    // Hal (hold) keeps his only licence: nothing to remove, only the conversion.
    assert!(
        !plan
            .operations
            .iter()
            .any(|o| o.id == "assign_licenses:hal@contoso.com")
    );
    // Sam needs nothing as a shared mailbox: converted, then unlicensed.
    assert!(
        position(&plan, "convert_mailbox:sam@contoso.com")
            < position(&plan, "assign_licenses:sam@contoso.com")
    );
    for (upn, why) in [
        ("ada@contoso.com", "archive is enabled"),
        ("hal@contoso.com", "litigation hold is on"),
    ] {
        assert!(
            plan.diagnostics.iter().any(|d| !d.is_error()
                && d.message.contains(&format!("{upn} keeps ENTERPRISEPACK"))
                && d.message.contains("Exchange Online Plan 2")
                && d.message.contains(why)),
            "{upn}: {:?}",
            plan.diagnostics
        );
    }
}

#[test]
fn mailbox_needs_are_refused_before_they_happen() {
    let (_, plan) = plan_scenario("mailbox_needs_refused");
    no_internal_errors(&plan);
    let e = errors(&plan);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter().any(|m| m.contains("ivy@contoso.com")
            && m.contains("Exchange Online Plan 2")
            && m.contains("litigation hold")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.contains("kai@contoso.com")
            && m.contains("30.0 GB")
            && m.contains("2.0 GB quota of Exchange Kiosk")),
        "{e:?}"
    );
}

#[test]
fn leaver_keeping_e3_without_exchange_is_converted_first() {
    let (live, plan) = plan_scenario("leaver_keeps_e3_without_exchange");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    safe_in_every_order(&live, &plan, &[]);
    let reassign = &plan.operations[position(&plan, "assign_licenses:leo@contoso.com")];
    assert!(
        reassign
            .depends_on
            .contains(&"convert_mailbox:leo@contoso.com".to_string())
    );
}

#[test]
fn group_dropping_e3_waits_for_its_members_e5() {
    let (live, plan) = plan_scenario("group_drops_e3_member_gets_e5");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    safe_in_every_order(&live, &plan, &[]);
    let group = &plan.operations[position(&plan, "assign_group_licenses:LIC-E3")];
    assert!(
        group
            .depends_on
            .contains(&"assign_licenses:mia@contoso.com".to_string()),
        "{:?}",
        group.depends_on
    );
}

#[test]
fn member_drops_direct_e3_after_the_group_gives_e5() {
    let (live, plan) = plan_scenario("group_gains_e5_member_drops_e3");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    safe_in_every_order(&live, &plan, &[]);
    let removal = &plan.operations[position(&plan, "assign_licenses:oli@contoso.com")];
    assert_eq!(
        removed_by(&plan, "assign_licenses:oli@contoso.com"),
        ["ENTERPRISEPACK"]
    );
    assert!(
        removal
            .depends_on
            .contains(&"assign_group_licenses:LIC-E5".to_string())
    );
}

#[test]
fn seat_deadlock_is_a_domain_error() {
    let (_, plan) = plan_scenario("seat_deadlock");
    no_internal_errors(&plan);
    let e = errors(&plan);
    assert!(!e.is_empty());
    for m in &e {
        assert!(
            m.contains("no order fits the seats") && m.contains("with 0 free"),
            "{m}"
        );
    }
    let all = e.join("\n");
    assert!(all.contains("ENTERPRISEPACK") || all.contains("ENTERPRISEPREMIUM"));
    assert!(
        all.contains("amy@contoso.com") && all.contains("ben@contoso.com"),
        "{all}"
    );
}

#[test]
fn losing_the_last_exchange_licence_is_an_error_three_ways() {
    let (_, plan) = plan_scenario("last_exchange_licence_refused");
    no_internal_errors(&plan);
    let e = errors(&plan);
    for upn in ["pam@contoso.com", "raj@contoso.com", "tom@contoso.com"] {
        assert!(
            e.iter()
                .any(|m| m.contains(&format!("{upn} would lose its last Exchange licence"))),
            "{upn}: {e:?}"
        );
    }
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn mailbox_delete_accepts_the_loss_with_a_warning() {
    let (live, plan) = plan_scenario("mailbox_delete_accepted");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    safe_in_every_order(&live, &plan, &["uma@contoso.com"]);
    assert_eq!(
        removed_by(&plan, "assign_licenses:uma@contoso.com"),
        ["ENTERPRISEPACK"]
    );
    assert!(plan.diagnostics.iter().any(|d| !d.is_error()
        && d.message.contains("uma@contoso.com")
        && d.message.contains("deleted after 30 days")));
}
