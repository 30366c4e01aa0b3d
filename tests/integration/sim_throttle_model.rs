//! m365ctl's Graph backend under Microsoft's throttling model: resource-unit and write budgets
//! that run out, `Retry-After` computed from the window. The windows are compressed (1 s and
//! 2 s instead of 10 s and 150 s) so the limits bite within a test; the mechanics are the
//! published ones (https://learn.microsoft.com/en-us/graph/throttling-limits).

use crate::fx;

use m365ctl::apply::{ExecOptions, execute};
use m365ctl::backend::TenantBackend;
use m365ctl::graph::pacing::WriteQuota;
use m365ctl::sim::{SimOptions, ThrottleModel};
use m365ctl::synth::{SynthSpec, generate};
use std::time::Duration;

fn compressed_model() -> ThrottleModel {
    ThrottleModel {
        resource_units: Some(40),
        ru_window: Duration::from_secs(1),
        app_writes: 15,
        app_write_window: Duration::from_secs(2),
        tenant_writes: 40,
        tenant_write_window: Duration::from_secs(4),
        exchange_requests: 20,
        exchange_window: Duration::from_secs(1),
        ..ThrottleModel::microsoft()
    }
}

#[tokio::test]
async fn plan_and_apply_converge_under_the_throttling_model() {
    let synth = generate(&SynthSpec {
        change_rate: 0.25,
        ..SynthSpec::served(160, 11)
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).unwrap();
    std::fs::write(
        dir.path().join("tenant.json"),
        m365ctl::backend::snapshot::render_snapshot(&synth.tenant),
    )
    .unwrap();
    let config = m365ctl::input::load(dir.path()).unwrap();
    let fake = fx::start(
        synth.tenant.clone(),
        SimOptions {
            throttle_model: Some(compressed_model()),
            ..SimOptions::default()
        },
    )
    .await;
    let backend = fx::backend(&fake);

    let mut live = backend.read().await.expect("the read survives the budget");
    assert_eq!(live.users.len(), 160);
    let (desired, _) = m365ctl::desired::resolve(&config, &live).unwrap();
    // As `plan` does: the mailbox facts the plan depends on are read before planning.
    m365ctl::backend::read_needed_facts(&backend, &desired, &mut live)
        .await
        .expect("facts read under the budget");
    let plan = m365ctl::plan::plan(&desired, &live);
    assert!(!plan.has_errors());
    assert!(
        plan.operations.len() > 30,
        "{} operations",
        plan.operations.len()
    );

    let report = execute(
        &backend,
        plan.operations.clone(),
        ExecOptions {
            concurrency: 16,
            batch_size: 20,
            ..ExecOptions::default()
        },
    )
    .await
    .expect("a DAG");
    let (_, _, failed, skipped) = report.counts();
    let reasons: Vec<String> = report
        .with_label("failed")
        .filter_map(|r| r.outcome.reason())
        .collect();
    assert_eq!((failed, skipped), (0, 0), "{reasons:?}");
    let throttled = fake.requests().iter().filter(|r| r.status == 429).count();
    assert!(throttled > 0, "the budgets ran out at least once");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    let after = backend.read().await.unwrap();
    let (desired, _) = m365ctl::desired::resolve(&config, &after).unwrap();
    assert!(
        m365ctl::plan::plan(&desired, &after).operations.is_empty(),
        "apply converged"
    );
}

/// Microsoft's write quotas at 1/50 of their size and 1/50 of their windows: the same rate (20
/// writes a second per app + tenant once the bucket is spent) from a bucket of 60 instead of
/// 3,000, so the quota binds within a test; resource units and Exchange as published.
fn scaled_write_model() -> ThrottleModel {
    let published = ThrottleModel::microsoft();
    ThrottleModel {
        app_writes: published.app_writes / 50,
        app_write_window: published.app_write_window / 50,
        tenant_writes: published.tenant_writes / 50,
        tenant_write_window: published.tenant_write_window / 50,
        ..published
    }
}

/// The client paced at the model's write quota (as configured for a tenant whose quota is
/// known) runs several full envelopes at once and still stays inside the budget: every
/// operation succeeds and at most a few 429s are met, not one per write beyond the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_paced_at_the_write_quota_meets_almost_no_429() {
    let synth = generate(&SynthSpec {
        change_rate: 0.25,
        ..SynthSpec::served(400, 11)
    });
    let config = {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m365ctl.toml"), &synth.config_toml).unwrap();
        m365ctl::input::load(dir.path()).unwrap()
    };
    let model = scaled_write_model();
    let fake = fx::start(
        synth.tenant.clone(),
        SimOptions {
            throttle_model: Some(model.clone()),
            ..SimOptions::default()
        },
    )
    .await;
    let quota = WriteQuota {
        writes: model.app_writes,
        window: model.app_write_window,
    };
    let backend = fx::backend(&fake).with_write_quota(quota);
    let mut live = backend.read().await.unwrap();
    let (desired, _) = m365ctl::desired::resolve(&config, &live).unwrap();
    m365ctl::backend::read_needed_facts(&backend, &desired, &mut live)
        .await
        .unwrap();
    let plan = m365ctl::plan::plan(&desired, &live);
    assert!(!plan.has_errors(), "{:?}", plan.diagnostics);
    fake.clear_requests();

    let report = execute(
        &backend,
        plan.operations.clone(),
        ExecOptions {
            concurrency: 8,
            ..ExecOptions::default()
        },
    )
    .await
    .expect("a DAG");
    let reasons: Vec<String> = report
        .with_label("failed")
        .filter_map(|r| r.outcome.reason())
        .collect();
    let (_, _, failed, skipped) = report.counts();
    assert_eq!((failed, skipped), (0, 0), "{reasons:?}");
    let log = fake.requests();
    let writes = log
        .iter()
        .filter(|r| r.is_batch_item() && !r.is_exchange() && r.method != "GET" && r.status < 300)
        .count();
    assert!(
        writes > 2 * quota.writes as usize,
        "{writes} writes: the quota must bind"
    );
    let throttled = log.iter().filter(|r| r.status == 429).count();
    assert!(
        throttled <= 3,
        "{throttled} answers were 429 for {writes} writes"
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
