//! Fault-injection suite: N seeded random scenarios (env `M365CTL_FAULT_SEEDS`, default 200).
//! Each applies a random plan through a backend that injects transient failures and a crash
//! after a random number of writes, then re-plans and re-applies (bounded) until converged.
//! Asserts convergence (final plan empty) and zero safety violations: no SKU over its enabled
//! seats, no user mailbox newly left unlicensed, no write to an out-of-scope user, no write
//! whose effect was already present.
//!
//! Today it runs against the in-memory backend (`tests/common`); after the fake Graph server
//! (`sim`) lands, the same loop runs against the Graph backend on loopback. Needs `plan::plan`.

use crate::common;

use common::*;
use m365ctl::apply::{ExecOptions, execute};

const MAX_ROUNDS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_scenarios_converge_safely_under_faults() {
    let seeds: u64 = std::env::var("M365CTL_FAULT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (mut ops_total, mut writes, mut failures, mut crashes, mut rounds_total) = (0, 0, 0, 0, 0);
    let mut unaffordable = 0;
    for seed in 0..seeds {
        let mut rng = Rng::new(seed);
        let scenario = scenario(&mut rng);
        let mut tenant = scenario.live.clone();
        let mut converged = false;
        for round in 0..MAX_ROUNDS {
            let plan = m365ctl::plan::plan(&scenario.desired, &tenant);
            if plan.has_errors() {
                unaffordable += 1;
                converged = true; // apply refuses such plans; nothing to execute
                break;
            }
            if plan.is_empty() {
                converged = true;
                break;
            }
            ops_total += plan.operations.len();
            rounds_total += 1;
            let crash = (round < 3 && rng.chance(50))
                .then(|| rng.below(plan.operations.len() as u64) as usize);
            crashes += usize::from(crash.is_some());
            let mut backend = MemoryBackend::new(
                tenant.clone(),
                Faults {
                    transient_percent: if round < 4 { 20 } else { 0 },
                    crash_after_writes: crash,
                    seed: seed * 1000 + round as u64,
                    ..Faults::default()
                },
            );
            backend.out_of_scope = scenario.out_of_scope.clone();
            let options = ExecOptions {
                concurrency: 1 + rng.below(8) as usize,
                batch_size: 1 + rng.below(20) as usize,
                ..ExecOptions::default()
            };
            let report = execute(&backend, plan.operations, options)
                .await
                .expect("planner emits a DAG");
            failures += report.counts().2;
            writes += backend.applied.lock().unwrap().len();
            let violations = backend.violations();
            assert!(
                violations.is_empty(),
                "seed {seed} round {round}: {violations:#?}"
            );
            tenant = backend.snapshot();
        }
        assert!(
            converged,
            "seed {seed}: not converged after {MAX_ROUNDS} rounds"
        );
    }
    println!(
        "fault suite: {seeds} scenarios, {rounds_total} apply rounds, {ops_total} ops planned, {writes} writes, {failures} failed ops, {crashes} crashes, {unaffordable} refused as unaffordable"
    );
    assert!(writes > 0, "the scenarios must exercise writes");
}
