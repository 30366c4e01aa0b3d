//! Executor behaviour against the in-memory and snapshot backends (no planner needed).

use crate::common;

use common::*;
use m365ctl::apply::{ExecOptions, Outcome, execute};
use m365ctl::backend::snapshot::{SnapshotBackend, render_snapshot};
use m365ctl::backend::{BackendError, ExecReport, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::tenant::Tenant;
use std::sync::atomic::{AtomicUsize, Ordering};

fn outcome<'a>(report: &'a m365ctl::apply::ApplyReport, id: &str) -> &'a Outcome {
    &report
        .results
        .iter()
        .find(|r| r.id == id)
        .expect(id)
        .outcome
}

#[tokio::test]
async fn failure_skips_exactly_the_transitive_dependents() {
    // u0: location -> licence; u1: location -> licence; u2 licence depends on u0's licence.
    let ops = vec![
        set_location(0, "US", &[]),
        assign_e3(0, &["set_usage_location:u0@contoso.com"]),
        assign_e3(2, &["assign_licenses:u0@contoso.com"]),
        set_location(1, "FR", &[]),
        assign_e3(1, &["set_usage_location:u1@contoso.com"]),
    ];
    let faults = Faults {
        always_fail: ["set_usage_location:u0@contoso.com".to_string()].into(),
        ..Faults::default()
    };
    let backend = MemoryBackend::new(tenant(3, 10, 10), faults);
    let report = execute(&backend, ops, ExecOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        outcome(&report, "set_usage_location:u0@contoso.com"),
        Outcome::Failed { reason } if reason.contains("injected permanent failure")
    ));
    for skipped in [
        "assign_licenses:u0@contoso.com",
        "assign_licenses:u2@contoso.com",
    ] {
        assert_eq!(
            outcome(&report, skipped),
            &Outcome::Skipped {
                failed_dependency: "set_usage_location:u0@contoso.com".into()
            },
            "{skipped}"
        );
    }
    for done in [
        "set_usage_location:u1@contoso.com",
        "assign_licenses:u1@contoso.com",
    ] {
        assert!(
            matches!(outcome(&report, done), Outcome::Done { .. }),
            "{done}"
        );
    }
    assert_eq!(report.counts(), (2, 0, 1, 2));
    assert_eq!(report.exit_code(), 1);
    // Report lines are in plan order.
    let ids: Vec<&str> = report.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids[0], "set_usage_location:u0@contoso.com");
    assert_eq!(ids[4], "assign_licenses:u1@contoso.com");
    assert!(report.render().contains("skipped assign_licenses:u2@contoso.com: skipped: depends on failed set_usage_location:u0@contoso.com"));
}

/// Concurrency counts write envelopes (one `execute` call = one Graph `$batch`), not
/// operations: with enough independent work, exactly `concurrency` envelopes are in flight,
/// each filled up to `batch_size`.
#[tokio::test]
async fn the_executor_keeps_concurrency_envelopes_in_flight() {
    let ops: Vec<Operation> = (0..240).map(|i| set_location(i, "US", &[])).collect();
    for (concurrency, batch_size) in [(1, 20), (3, 20), (5, 7), (4, 1)] {
        let backend = MemoryBackend::new(tenant(240, 0, 0), Faults::default());
        let options = ExecOptions {
            concurrency,
            batch_size,
            ..ExecOptions::default()
        };
        let report = execute(&backend, ops.clone(), options).await.unwrap();
        assert_eq!(report.counts(), (240, 0, 0, 0));
        let envelopes = backend.max_envelopes_in_flight.load(Ordering::SeqCst);
        assert_eq!(
            envelopes, concurrency,
            "independent work fills exactly {concurrency} envelopes"
        );
        let ops_in_flight = backend.max_in_flight.load(Ordering::SeqCst);
        assert!(
            ops_in_flight <= concurrency * batch_size,
            "{ops_in_flight} operations in flight over {concurrency} x {batch_size}"
        );
        assert!(
            ops_in_flight > (concurrency - 1) * batch_size,
            "envelopes are filled: {ops_in_flight} operations in flight"
        );
        let calls = backend.execute_calls.load(Ordering::SeqCst);
        assert!(
            calls >= 240_usize.div_ceil(batch_size),
            "{calls} calls of at most {batch_size}"
        );
    }
}

/// Counts writes reaching a snapshot backend.
struct Counting {
    inner: SnapshotBackend,
    writes: AtomicUsize,
}

impl TenantBackend for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self) -> Result<Tenant, BackendError> {
        self.inner.read().await
    }
    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        self.writes.fetch_add(ops.len(), Ordering::SeqCst);
        self.inner.execute(ops).await
    }
}

#[tokio::test]
async fn second_apply_on_snapshot_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    let mut live = tenant(4, 5, 5);
    live.users[3].usage_location = None;
    std::fs::write(&path, render_snapshot(&live)).unwrap();
    let ops = vec![
        set_location(3, "DE", &[]),
        assign_e3(3, &["set_usage_location:u3@contoso.com"]),
        assign_e3(0, &[]),
        set_location(1, "FR", &[]),
    ];
    let backend = Counting {
        inner: SnapshotBackend::new(&path),
        writes: AtomicUsize::new(0),
    };
    let first = execute(&backend, ops.clone(), ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(first.counts(), (4, 0, 0, 0), "{}", first.render());
    assert_eq!(backend.writes.load(Ordering::SeqCst), 4);
    let bytes = std::fs::read(&path).unwrap();

    let second = execute(&backend, ops, ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(second.counts(), (0, 4, 0, 0));
    assert_eq!(second.exit_code(), 0);
    assert_eq!(
        backend.writes.load(Ordering::SeqCst),
        4,
        "no write on re-run"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "snapshot unchanged");
}

#[tokio::test]
async fn rejected_write_reports_the_backend_reason() {
    // One E3 seat, two users want it: one succeeds, the other is refused by the seat rule.
    let backend = MemoryBackend::new(tenant(2, 1, 0), Faults::default());
    let report = execute(
        &backend,
        vec![assign_e3(0, &[]), assign_e3(1, &[])],
        ExecOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.counts(), (1, 0, 1, 0));
    let failed = report.with_label("failed").next().unwrap();
    assert!(
        failed.outcome.reason().unwrap().contains("ENTERPRISEPACK"),
        "{:?}",
        failed.outcome
    );
    assert!(
        backend.violations().is_empty(),
        "{:?}",
        backend.violations()
    );
}

#[tokio::test]
async fn cyclic_plans_are_refused_before_any_write() {
    let backend = MemoryBackend::new(tenant(1, 1, 0), Faults::default());
    let ops = vec![
        set_location(0, "US", &["assign_licenses:u0@contoso.com"]),
        assign_e3(0, &["set_usage_location:u0@contoso.com"]),
    ];
    let err = execute(&backend, ops, ExecOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    assert_eq!(backend.writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn only_operations_not_yet_in_effect_are_sent() {
    let mut live = tenant(3, 5, 0);
    live.users[0].usage_location = Some("US".into());
    let backend = MemoryBackend::new(live, Faults::default());
    let ops = vec![
        set_location(0, "US", &[]),
        set_location(1, "US", &[]),
        set_location(2, "US", &[]),
    ];
    let report = execute(&backend, ops, ExecOptions::default())
        .await
        .unwrap();
    assert_eq!(report.counts(), (2, 1, 0, 0));
    assert_eq!(
        outcome(&report, "set_usage_location:u0@contoso.com"),
        &Outcome::AlreadyDone
    );
    assert_eq!(
        *backend.applied.lock().unwrap(),
        vec![
            "set_usage_location:u1@contoso.com",
            "set_usage_location:u2@contoso.com"
        ]
    );
    assert!(
        backend.violations().is_empty(),
        "{:?}",
        backend.violations()
    );
}

/// Stops dispatching after the first wave, as Ctrl-C does.
struct StopAfterFirstWave(bool);

impl m365ctl::apply::Observer for StopAfterFirstWave {
    fn finished(&mut self, _: &Operation, _: &Outcome) {}
    fn wave_done(&mut self) {
        self.0 = true;
    }
    fn should_stop(&self) -> bool {
        self.0
    }
}

#[tokio::test]
async fn interruption_finishes_in_flight_and_reports_the_rest_not_started() {
    let backend = MemoryBackend::new(tenant(10, 0, 0), Faults::default());
    let ops: Vec<Operation> = (0..10).map(|i| set_location(i, "US", &[])).collect();
    // One envelope of four in flight; the check of the next four runs ahead of it.
    let options = ExecOptions {
        concurrency: 1,
        batch_size: 4,
        ..ExecOptions::default()
    };
    let mut observer = StopAfterFirstWave(false);
    let report = m365ctl::apply::execute_observed(&backend, ops, options, &mut observer)
        .await
        .unwrap();
    assert_eq!(report.counts().0, 4, "{}", report.render());
    assert_eq!(report.not_started(), 6);
    assert_eq!(report.exit_code(), 1);
    assert!(report.render().contains("Interrupted: 6 not started"));
    assert_eq!(backend.applied.lock().unwrap().len(), 4);
}
