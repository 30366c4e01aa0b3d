//! m365ctl's Graph backend under Microsoft's throttling model: resource-unit and write budgets
//! that run out, `Retry-After` computed from the window. The windows are compressed (1 s and
//! 2 s instead of 10 s and 150 s) so the limits bite within a test; the mechanics are the
//! published ones (https://learn.microsoft.com/en-us/graph/throttling-limits).

use crate::fx;

use m365ctl::apply::{ExecOptions, execute};
use m365ctl::backend::TenantBackend;
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
