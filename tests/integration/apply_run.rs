//! `apply::run`: the CLI's entry point (plan errors, guards, journal, execution, releasing the
//! lock) with a fresh plan, which needs no planner.

use crate::common;
use m365ctl::plan::ops::AssignLicenses;

use common::*;
use m365ctl::apply::lock::ApplyLock;
use m365ctl::apply::{ApplyError, ApplyRequest, ExecOptions, journal, lock, run};
use m365ctl::desired::{DesiredState, Guards, Scope, UserScope};
use m365ctl::diag::Diagnostic;
use m365ctl::plan::{Fingerprint, Operation, Plan};
use m365ctl::tenant::Tenant;
use std::collections::BTreeMap;
use std::path::Path;

fn desired() -> DesiredState {
    DesiredState {
        scope: Scope {
            managed_skus: ["ENTERPRISEPACK".to_string()].into(),
            users: UserScope::All,
        },
        users: BTreeMap::new(),
        groups: BTreeMap::new(),
        guards: Guards::default(),
    }
}

fn plan(operations: Vec<Operation>) -> Plan {
    Plan {
        operations,
        diagnostics: vec![],
        seats: vec![],
        exchange_changes: vec![],
        license_errors: vec![],
        fingerprint: Fingerprint {
            desired: "sha256:d".into(),
            live: "sha256:l".into(),
        },
        cost: None,
    }
}

fn request<'a>(
    desired: &'a DesiredState,
    live: &'a Tenant,
    plan: &'a Plan,
    dir: &Path,
) -> ApplyRequest<'a> {
    ApplyRequest {
        desired,
        live,
        plan,
        reviewed: None,
        lock: ApplyLock::acquire(&lock::default_path(dir), false).unwrap(),
        allow_mass_change: false,
        journal_path: journal::default_path(dir),
        progress: false,
        options: ExecOptions::default(),
    }
}

#[tokio::test]
async fn run_executes_journals_and_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let desired = desired();
    let backend = MemoryBackend::new(tenant(3, 3, 0), Faults::default());
    let live = backend.snapshot();
    let plan = plan(vec![assign_e3(0, &[]), assign_e3(1, &[])]);
    let report = run(&backend, request(&desired, &live, &plan, dir.path()))
        .await
        .unwrap();
    assert_eq!(report.counts(), (2, 0, 0, 0));
    let journal = std::fs::read_to_string(journal::default_path(dir.path())).unwrap();
    // Written ahead: a `started` line per operation, then its outcome.
    assert_eq!(journal.lines().count(), 4);
    assert_eq!(journal.matches("\"outcome\":\"started\"").count(), 2);
    assert!(!lock::default_path(dir.path()).exists());
}

#[tokio::test]
async fn run_refuses_plans_with_errors_and_over_the_guards() {
    let dir = tempfile::tempdir().unwrap();
    let desired = desired();
    let backend = MemoryBackend::new(tenant(1, 1, 0), Faults::default());
    let live = backend.snapshot();
    let mut bad = plan(vec![assign_e3(0, &[])]);
    bad.diagnostics.push(Diagnostic::error(
        "ENTERPRISEPACK: needs 2 seats, 1 enabled",
        None,
    ));
    let err = run(&backend, request(&desired, &live, &bad, dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::PlanHasErrors(1)), "{err}");

    let mut live = tenant(1, 1, 0);
    live.users[0]
        .licenses
        .push(serde_json::from_value(serde_json::json!({"sku_id": E3_ID})).unwrap());
    live.recount_consumed();
    let backend = MemoryBackend::new(live.clone(), Faults::default());
    let prune = Operation {
        id: "assign_licenses:u0@contoso.com".into(),
        kind: m365ctl::plan::OpKind::AssignLicenses(AssignLicenses {
            user_id: user_id(0),
            upn: "u0@contoso.com".into(),
            add: vec![],
            remove: vec![removal(E3_ID, "ENTERPRISEPACK")],
        }),
        depends_on: vec![],
        reasons: vec![],
    };
    let prune = plan(vec![prune]);
    let err = run(&backend, request(&desired, &live, &prune, dir.path()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--allow-mass-change"), "{err}");
    assert!(backend.applied.lock().unwrap().is_empty());
    let mut allowed = request(&desired, &live, &prune, dir.path());
    allowed.allow_mass_change = true;
    assert_eq!(run(&backend, allowed).await.unwrap().counts(), (1, 0, 0, 0));
}
