//! Asynchronous group licensing over HTTP (issue 12 point 9): Graph answers group
//! `assignLicense` with 202 and processes members later, and the fake does the same (with its
//! default delay). The executor waits, bounded and visibly, for a group licence to reach the
//! members before what depends on it runs; a timeout or an error state fails the operation
//! and skips its dependents. The control experiment shows the hazard is real: the same
//! operations sent without waiting strand a mailbox in the fake.

use crate::fx;
use m365ctl::apply::{ExecOptions, Outcome, execute};
use m365ctl::backend::TenantBackend;
use m365ctl::plan::ops::{AddGroupMember, AssignGroupLicenses, AssignLicenses};
use m365ctl::plan::{OpKind, Operation, Plan};
use m365ctl::sim::{DEFAULT_GROUP_LICENSING_DELAY, SimOptions};
use m365ctl::tenant::Tenant;
use std::time::Duration;

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const EXO: &str = "4b9405b0-7788-4568-add1-99614e613b69";

/// Ann holds E3 directly; the licensing group LIC-EXO gives Exchange Plan 1; `exo_seats`
/// Plan 1 seats; Bob is already a member.
fn tenant(exo_seats: u32) -> Tenant {
    let mut t: Tenant = serde_json::from_value(serde_json::json!({
        "tenant_id": "4a1b2c3d-3333-4e5f-8a9b-0c1d2e3f4a5b",
        "skus": [
            {"sku_id": E3, "sku_part_number": "ENTERPRISEPACK", "enabled": 5, "consumed": 0,
             "service_plans": [{"service_plan_id": "efb87545-963c-4e0d-99df-69c6916d9eb0", "service_plan_name": "EXCHANGE_S_ENTERPRISE"}]},
            {"sku_id": EXO, "sku_part_number": "EXCHANGESTANDARD", "enabled": exo_seats, "consumed": 0,
             "service_plans": [{"service_plan_id": "9aaf7827-d63c-4b61-89c3-182f06f82e5c", "service_plan_name": "EXCHANGE_S_STANDARD"}]}],
        "users": [
            {"id": "00000000-0000-4000-8000-0000000000a1", "user_principal_name": "ann@contoso.com", "usage_location": "GB",
             "licenses": [{"sku_id": E3}], "mailbox": {"type": "user", "size_bytes": 1000}},
            {"id": "00000000-0000-4000-8000-0000000000b1", "user_principal_name": "bob@contoso.com", "usage_location": "GB",
             "licenses": [{"sku_id": E3}], "mailbox": {"type": "user", "size_bytes": 1000}}],
        "groups": [{"id": "00000000-0000-4000-8000-0000000000e0", "display_name": "LIC-EXO", "members": ["00000000-0000-4000-8000-0000000000b1"]}]
    }))
    .expect("tenant");
    t.recount_consumed();
    t.normalize();
    t
}

/// Ann moves to Exchange Plan 1 through LIC-EXO (which gets its licence now): the group
/// licence, the join, and the removal of her direct E3 that must wait for both. (Bob, an
/// undeclared member, only gains Plan 1.)
fn plan(live: &Tenant) -> Plan {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m365ctl.toml"),
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n\
         [skus]\nE3 = \"ENTERPRISEPACK\"\nEXO = \"EXCHANGESTANDARD\"\n\
         [scope]\nmanage_skus = [\"E3\", \"EXO\"]\nusers = \"declared\"\n\
         [users.\"ann@contoso.com\"]\nlicenses = [\"EXO\"]\n\
         [groups.\"LIC-EXO\"]\nlicenses = [\"EXO\"]\nmembers = [\"ann@contoso.com\", \"bob@contoso.com\"]\n",
    )
    .expect("config");
    let config = m365ctl::input::load(dir.path()).expect("config loads");
    let (desired, _) = m365ctl::desired::resolve(&config, live).expect("resolves");
    let plan = m365ctl::plan::plan(&desired, live);
    assert!(!plan.has_errors(), "{:?}", plan.diagnostics);
    plan
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.operations
        .iter()
        .position(|o| o.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// Asserts that operation `id` of the plan depends on operation `on`.
fn assert_waits_for(plan: &Plan, id: &str, on: &str) {
    assert!(
        plan.operations[position(plan, id)]
            .depends_on
            .contains(&on.to_string()),
        "{:#?}",
        plan.operations
    );
}

/// Executes the whole plan against a fake serving `live` (its default group-licensing
/// delay): every operation succeeds and the fake records no safety violation.
async fn executes_cleanly(live: Tenant, plan: &Plan) -> m365ctl::sim::FakeTenantHandle {
    let fake = fx::start(live, SimOptions::default()).await;
    let report = execute(
        &fx::backend(&fake),
        plan.operations.clone(),
        ExecOptions::default(),
    )
    .await
    .expect("a DAG");
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    fake
}

#[tokio::test]
async fn the_executor_waits_for_group_licensing_before_removing_the_direct_licence() {
    let live = tenant(5);
    let plan = plan(&live);
    assert_waits_for(
        &plan,
        "assign_licenses:ann@contoso.com",
        "add_group_member:ann@contoso.com",
    );
    let fake = executes_cleanly(live, &plan).await;
    // The fake answered the group write with 202, and the removals were sent only once the
    // members held the group's licence: at least the fake's delay after the group write.
    let log = fake.requests();
    let at = |needle: &str| {
        log.iter()
            .find(|r| r.path.contains(needle) && (200..300).contains(&r.status))
            .map(|r| r.at)
            .unwrap_or_else(|| panic!("no {needle} in {log:#?}"))
    };
    let group_write = log
        .iter()
        .find(|r| {
            r.path
                .contains("/groups/00000000-0000-4000-8000-0000000000e0/assignLicense")
        })
        .expect("group write");
    assert_eq!(group_write.status, 202);
    let removal_sent = at("/users/00000000-0000-4000-8000-0000000000a1/assignLicense");
    assert!(
        removal_sent >= group_write.at + DEFAULT_GROUP_LICENSING_DELAY,
        "removal at {removal_sent:?}, group write at {:?}",
        group_write.at
    );
    let live = fake.tenant();
    let ann = live.user_by_upn("ann@contoso.com").expect("ann");
    assert!(ann.direct_license(E3).is_none() && ann.holds(EXO));
}

#[tokio::test]
async fn without_the_wait_the_same_operations_strand_a_mailbox_in_the_fake() {
    let live = tenant(5);
    let plan = plan(&live);
    let fake = fx::start(live, SimOptions::default()).await;
    let backend = fx::backend(&fake);
    // The plan's order, one write after the other, as a client that trusts the 202 would.
    for op in &plan.operations {
        let result = backend.execute(std::slice::from_ref(op)).await;
        assert!(result[0].is_ok(), "{}: {result:?}", op.id);
    }
    let violations = fake.violations();
    assert!(
        violations
            .iter()
            .any(|v| v.contains("ann@contoso.com") && v.contains("without an Exchange licence")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn a_timeout_fails_the_group_operation_and_skips_its_dependents() {
    let live = tenant(5);
    let plan = plan(&live);
    let options = SimOptions {
        group_licensing_delay: Duration::from_secs(30),
        ..SimOptions::default()
    };
    let fake = fx::start(live, options).await;
    let exec = ExecOptions {
        group_licensing_timeout: Duration::from_millis(300),
        ..ExecOptions::default()
    };
    let report = execute(&fx::backend(&fake), plan.operations.clone(), exec)
        .await
        .expect("a DAG");
    let outcome = |id: &str| {
        report
            .results
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.outcome.clone())
            .unwrap_or_else(|| panic!("no {id}"))
    };
    assert!(
        matches!(outcome("assign_group_licenses:LIC-EXO"), Outcome::Failed { reason } if reason.contains("did not reach 1 member(s) within 0.3 s")),
        "{}",
        report.render()
    );
    for dependent in [
        "add_group_member:ann@contoso.com",
        "assign_licenses:ann@contoso.com",
    ] {
        assert!(
            matches!(outcome(dependent), Outcome::Skipped { .. }),
            "{}",
            report.render()
        );
    }
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let ann = fake.tenant();
    assert!(
        ann.user_by_upn("ann@contoso.com")
            .expect("ann")
            .direct_license(E3)
            .is_some(),
        "the direct licence was kept"
    );
}

#[tokio::test]
async fn an_error_state_fails_the_group_operation_and_skips_its_dependents() {
    // One Plan 1 seat for two members: group licensing gives the second one CountViolation.
    let live = tenant(1);
    let group_licence = Operation {
        id: "assign_group_licenses:LIC-EXO".into(),
        kind: OpKind::AssignGroupLicenses(AssignGroupLicenses {
            group_id: "00000000-0000-4000-8000-0000000000e0".into(),
            group: "LIC-EXO".into(),
            add: vec![crate::common::grant(EXO, "EXCHANGESTANDARD")],
            remove: vec![],
        }),
        depends_on: vec![],
        reasons: vec![],
    };
    let join = Operation {
        id: "add_group_member:ann@contoso.com".into(),
        kind: OpKind::AddGroupMember(AddGroupMember {
            group_id: "00000000-0000-4000-8000-0000000000e0".into(),
            group: "LIC-EXO".into(),
            user_id: "00000000-0000-4000-8000-0000000000a1".into(),
            upn: "ann@contoso.com".into(),
        }),
        depends_on: vec![],
        reasons: vec![],
    };
    let removal = Operation {
        id: "assign_licenses:bob@contoso.com".into(),
        kind: OpKind::AssignLicenses(AssignLicenses {
            user_id: "00000000-0000-4000-8000-0000000000b1".into(),
            upn: "bob@contoso.com".into(),
            add: vec![],
            remove: vec![crate::common::removal(E3, "ENTERPRISEPACK")],
        }),
        depends_on: vec![group_licence.id.clone()],
        reasons: vec![],
    };
    let fake = fx::start(live, SimOptions::default()).await;
    let backend = fx::backend(&fake);
    // Ann joins first and takes the only seat once processed.
    let joined = execute(&backend, vec![join], ExecOptions::default())
        .await
        .expect("a DAG");
    assert_eq!(joined.exit_code(), 0, "{}", joined.render());
    let report = execute(
        &backend,
        vec![group_licence, removal],
        ExecOptions::default(),
    )
    .await
    .expect("a DAG");
    let failed = &report.results[0].outcome;
    assert!(
        matches!(failed, Outcome::Failed { reason } if reason.contains("CountViolation") && reason.contains("bob@contoso.com")),
        "{}",
        report.render()
    );
    assert!(matches!(report.results[1].outcome, Outcome::Skipped { .. }));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let bob = fake.tenant();
    assert!(
        bob.user_by_upn("bob@contoso.com")
            .expect("bob")
            .direct_license(E3)
            .is_some()
    );
}

#[tokio::test]
async fn a_seat_freed_by_leaving_a_group_is_given_away_only_once_processing_freed_it() {
    // One Plan 1 seat, held by Bob through LIC-EXO; Bob leaves, Ann gets Plan 1 directly.
    let mut live = tenant(1);
    live.groups[0].licenses = vec![m365ctl::tenant::GroupLicense {
        sku_id: EXO.into(),
        disabled_plans: vec![],
    }];
    let bob = live
        .user_position("00000000-0000-4000-8000-0000000000b1")
        .expect("bob");
    live.users[bob]
        .licenses
        .push(m365ctl::tenant::LicenseAssignment {
            sku_id: EXO.into(),
            disabled_plans: vec![],
            assigned_by_group: Some("00000000-0000-4000-8000-0000000000e0".into()),
            state: "Active".into(),
            error: None,
        });
    live.recount_consumed();
    live.normalize();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m365ctl.toml"),
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n\
         [skus]\nE3 = \"ENTERPRISEPACK\"\nEXO = \"EXCHANGESTANDARD\"\n\
         [scope]\nmanage_skus = [\"EXO\"]\nusers = \"declared\"\n\
         [users.\"ann@contoso.com\"]\nlicenses = [\"EXO\"]\n\
         [users.\"bob@contoso.com\"]\nlicenses = []\n\
         [groups.\"LIC-EXO\"]\nmembers = []\n",
    )
    .expect("config");
    let config = m365ctl::input::load(dir.path()).expect("config loads");
    let (desired, _) = m365ctl::desired::resolve(&config, &live).expect("resolves");
    let plan = m365ctl::plan::plan(&desired, &live);
    assert!(!plan.has_errors(), "{:?}", plan.diagnostics);
    assert_waits_for(
        &plan,
        "assign_licenses:ann@contoso.com",
        "remove_group_member:bob@contoso.com",
    );
    let grant = position(&plan, "assign_licenses:ann@contoso.com");
    // Without waiting, the seat is not free yet when the grant arrives: Graph refuses it.
    let fake = fx::start(live.clone(), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    let leave = position(&plan, "remove_group_member:bob@contoso.com");
    let results = backend.execute(&plan.operations[leave..=leave]).await;
    assert!(results[0].is_ok(), "{results:?}");
    let early = backend.execute(&plan.operations[grant..=grant]).await;
    assert!(
        matches!(&early[0], Err(e) if e.to_string().contains("available")),
        "{early:?}"
    );
    fake.shutdown().await;
    // The executor waits for the leave to be processed, then the grant succeeds.
    let fake = executes_cleanly(live, &plan).await;
    let after = fake.tenant();
    assert!(
        after
            .user_by_upn("ann@contoso.com")
            .expect("ann")
            .holds(EXO)
    );
}
