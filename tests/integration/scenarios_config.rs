//! Scenarios about what the config names and what the tenant reports (issue 12, part C):
//! group display names held by several groups, inherited licences in an error state,
//! `disabled_plans` that would silently do nothing, members without usage location, and
//! plans with errors that must not claim the tenant matches. Each directory of
//! tests/scenarios/ explains its case in its `m365ctl.toml` header; the outputs are reviewed
//! snapshots and each test asserts the property the scenario exists for.

use crate::scenarios::{errors, plan_scenario};
use assert_cmd::Command;
use m365ctl::backend::TenantBackend;
use m365ctl::backend::snapshot::SnapshotBackend;
use m365ctl::diag::Diagnostic;
use m365ctl::plan::OpKind;
use m365ctl::plan::ops::AddGroupMember;
use m365ctl::render::Wording;
use std::path::{Path, PathBuf};

const FIRST: &str = "a5e1c0de-0000-4000-8000-000000000001";
const SECOND: &str = "a5e1c0de-0000-4000-8000-000000000002";

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// Loads and resolves a scenario whose config must be refused against its tenant; snapshots
/// the diagnostics as the CLI prints them (with the source line) and returns them.
fn resolve_errors(name: &str) -> Vec<Diagnostic> {
    let config = m365ctl::input::load(&dir(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let live = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(SnapshotBackend::new(dir(name).join("tenant.json")).read())
        .unwrap();
    let diagnostics = m365ctl::desired::resolve(&config, &live)
        .expect_err("the config is refused")
        .0;
    let source = std::fs::read_to_string(dir(name).join("m365ctl.toml")).unwrap();
    let text: String = diagnostics
        .iter()
        .map(|d| m365ctl::render::diagnostic::render(d, Some(&source), false))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(
        format!("{name}_diagnostics"),
        text.replace(&format!("{}/", env!("CARGO_MANIFEST_DIR")), "")
    );
    diagnostics
}

fn m365ctl(args: &[&str], scenario: &str) -> i32 {
    run(args, scenario).0
}

/// Runs the binary on a scenario: exit code and stdout.
fn run(args: &[&str], scenario: &str) -> (i32, String) {
    let output = Command::cargo_bin("m365ctl")
        .expect("binary built")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .args(args)
        .arg("-c")
        .arg(dir(scenario))
        .output()
        .expect("runs");
    (
        output.status.code().expect("exit code"),
        String::from_utf8(output.stdout).expect("UTF-8"),
    )
}

#[test]
fn a_group_name_two_groups_share_is_refused_naming_both_ids() {
    let diagnostics = resolve_errors("duplicate_group_names");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    assert!(d.is_error());
    assert!(
        d.message.contains(FIRST) && d.message.contains(SECOND),
        "{}",
        d.message
    );
    assert!(
        d.origin
            .as_ref()
            .unwrap()
            .to_string()
            .ends_with("duplicate_group_names/m365ctl.toml:17:9")
    );
    assert!(d.hint.as_deref().unwrap().contains("id = \""));
    assert_eq!(
        m365ctl(&["plan"], "duplicate_group_names"),
        1,
        "refused, nothing planned"
    );
}

#[test]
fn groups_named_by_object_id_are_planned_each_on_its_own_group() {
    let (_, plan) = plan_scenario("duplicate_group_names_by_id");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    assert_eq!(plan.operations.len(), 1, "{:#?}", plan.operations);
    let OpKind::AddGroupMember(AddGroupMember {
        group_id,
        group,
        upn,
        ..
    }) = &plan.operations[0].kind
    else {
        panic!("{:#?}", plan.operations)
    };
    assert_eq!(
        (group_id.as_str(), upn.as_str()),
        (FIRST, "cat@contoso.com")
    );
    assert_eq!(group, &format!("LIC-E5 ({FIRST})"));
    // Bob, in the other LIC-E5, is not touched.
    assert!(
        plan.operations
            .iter()
            .all(|o| o.kind.target() != "bob@contoso.com")
    );
}

#[test]
fn inherited_licences_in_an_error_state_are_drift_per_user_with_their_fix() {
    let (_, plan) = plan_scenario("inherited_error_states");
    assert!(plan.operations.is_empty());
    assert!(!plan.has_errors());
    let failing: Vec<(&str, Option<&str>)> = plan
        .license_errors
        .iter()
        .map(|e| (e.upn.as_str(), e.error.as_deref()))
        .collect();
    assert_eq!(
        failing,
        [
            ("ann@contoso.com", Some("CountViolation")),
            ("bob@contoso.com", Some("MutuallyExclusiveViolation")),
            ("cat@contoso.com", Some("UniquenessViolation")),
            (
                "dan@contoso.com",
                Some("ProhibitedInUsageLocationViolation")
            ),
            ("fay@contoso.com", Some("DependencyViolation")),
        ],
        "eve's Active licence is not drift"
    );
    assert!(
        plan.license_errors[0]
            .remedy
            .contains("no ENTERPRISEPACK seat is free")
    );
    assert!(plan.license_errors[3].remedy.contains("(CU)"));
    assert!(!plan.in_sync());
    let human = m365ctl::render::human::render(
        &plan,
        m365ctl::render::human::HumanOptions {
            color: false,
            wording: Wording::Drift,
        },
    );
    assert!(!human.contains("No drift"), "{human}");
    assert!(
        human.contains("5 inherited licences in an error state"),
        "{human}"
    );
    assert_eq!(m365ctl(&["drift"], "inherited_error_states"), 2);
    assert_eq!(
        m365ctl(&["plan", "--detailed-exitcode"], "inherited_error_states"),
        2
    );
    assert_eq!(m365ctl(&["plan"], "inherited_error_states"), 0);
}

#[test]
fn a_users_disabled_plans_on_a_group_licence_is_an_error_naming_the_group() {
    let (_, plan) = plan_scenario("disabled_plans_via_group");
    assert_eq!(
        errors(&plan),
        [
            "ann@contoso.com: disabled_plans for ENTERPRISEPACK would have no effect: ENTERPRISEPACK reaches the user through group LIC-E3, whose disabled plans apply"
        ]
    );
    let error = plan.diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert!(
        error
            .origin
            .as_ref()
            .unwrap()
            .to_string()
            .ends_with("disabled_plans_via_group/m365ctl.toml:18:13")
    );
    assert!(
        error
            .hint
            .as_deref()
            .unwrap()
            .contains("[groups.\"LIC-E3\"]")
    );
    assert!(plan.operations.is_empty());
    // A plan with errors and nothing to do never says the tenant matches.
    let text = m365ctl::render::summary_line(&plan, Wording::Plan);
    assert!(
        text.starts_with("No changes can be planned until the errors"),
        "{text}"
    );
    for command in ["plan", "drift"] {
        for format in ["human", "markdown", "github", "json"] {
            let (code, stdout) = run(&[command, "--format", format], "disabled_plans_via_group");
            assert_eq!(code, 1, "{command} --format {format}");
            assert!(
                !stdout.contains("matches the desired state"),
                "{command} --format {format}: {stdout}"
            );
        }
    }
}

#[test]
fn disabled_plans_on_unmanaged_licences_are_refused_at_their_place() {
    let diagnostics = resolve_errors("disabled_plans_not_licensed");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(
        diagnostics[0].message,
        "disabled_plans for `E3` would have no effect on user `ann@contoso.com`: their licences are not managed (no `licenses` in the entry or its profile)"
    );
    assert!(
        diagnostics[0]
            .origin
            .as_ref()
            .unwrap()
            .to_string()
            .ends_with("disabled_plans_not_licensed/m365ctl.toml:17:20")
    );
    assert_eq!(m365ctl(&["validate"], "disabled_plans_not_licensed"), 1);
}

#[test]
fn a_member_without_usage_location_joins_a_licensing_group_with_a_warning() {
    let (live, plan) = plan_scenario("member_without_usage_location");
    assert!(errors(&plan).is_empty(), "{:?}", errors(&plan));
    let warning = plan
        .diagnostics
        .iter()
        .find(|d| d.message.contains("cat@contoso.com has no usage location"))
        .expect("a warning");
    assert!(warning.message.contains("tenant's country"));
    let ids: Vec<&str> = plan.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["add_group_member:cat@contoso.com"]);
    let mut tenant = live;
    m365ctl::tenant::apply_operation(&mut tenant, &plan.operations[0].kind).unwrap();
    let cat = tenant.user_by_upn("cat@contoso.com").unwrap();
    assert!(cat.licenses.iter().all(|l| l.is_effective()) && !cat.licenses.is_empty());
    assert_eq!(plan.seats[0].consumed_after, 2, "the seat is counted");
}
