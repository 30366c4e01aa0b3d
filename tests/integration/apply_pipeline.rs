//! The executor's pipeline (pre-write checks run ahead of the writes in flight) over random
//! DAGs and random interleavings: every write is preceded by its own done-check, nothing is
//! checked or written before all its dependencies succeeded, what is already in effect is never
//! written, each operation is written at most once, and the dependents of a failure are never
//! touched.

use crate::common::set_location;
use m365ctl::apply::{ExecOptions, Outcome, execute};
use m365ctl::backend::{BackendError, ExecReport, Refusal, TenantBackend};
use m365ctl::plan::Operation;
use m365ctl::tenant::Tenant;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// What the backend saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// A pre-write check of these operations answered `(id, already in effect)`.
    Checked(Vec<(String, bool)>),
    /// A write of these operations answered `(id, succeeded)`.
    Wrote(Vec<(String, bool)>),
}

/// A backend with no tenant: operations in `in_effect` are already done, operations in
/// `failing` are refused, and every call yields a scripted number of times so that batches
/// overlap in many orders.
struct Scripted {
    in_effect: BTreeSet<String>,
    failing: BTreeSet<String>,
    yields: Mutex<std::vec::IntoIter<u8>>,
    events: Mutex<Vec<Event>>,
}

impl Scripted {
    async fn on_the_wire(&self) {
        let n = self.yields.lock().unwrap().next().unwrap_or(0);
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }
}

impl TenantBackend for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }

    async fn read(&self) -> Result<Tenant, BackendError> {
        Ok(Tenant::default())
    }

    async fn already_done(&self, ops: &[Operation]) -> Result<Vec<bool>, BackendError> {
        self.on_the_wire().await;
        let answers: Vec<(String, bool)> = ops
            .iter()
            .map(|op| (op.id.clone(), self.in_effect.contains(&op.id)))
            .collect();
        let done = answers.iter().map(|(_, d)| *d).collect();
        self.events.lock().unwrap().push(Event::Checked(answers));
        Ok(done)
    }

    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        self.on_the_wire().await;
        let answers: Vec<(String, bool)> = ops
            .iter()
            .map(|op| (op.id.clone(), !self.failing.contains(&op.id)))
            .collect();
        self.events
            .lock()
            .unwrap()
            .push(Event::Wrote(answers.clone()));
        answers
            .into_iter()
            .map(|(id, ok)| {
                if ok {
                    Ok(ExecReport::default())
                } else {
                    Err(BackendError::Refused {
                        target: id,
                        refusal: Refusal::BadRequest,
                        message: "scripted failure".into(),
                        request_id: None,
                    })
                }
            })
            .collect()
    }
}

/// A random DAG over `n` operations: each may depend on any earlier one.
fn dag() -> impl Strategy<Value = (Vec<Operation>, BTreeSet<usize>, BTreeSet<usize>)> {
    (1usize..48).prop_flat_map(|n| {
        (
            prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..3), n),
            prop::collection::btree_set(0..n, 0..n / 3 + 1),
            prop::collection::btree_set(0..n, 0..n / 4 + 1),
        )
            .prop_map(move |(deps, in_effect, failing)| {
                let id = |i: usize| format!("set_usage_location:u{i}@contoso.com");
                let ops = deps
                    .into_iter()
                    .enumerate()
                    .map(|(i, picks)| {
                        let deps: BTreeSet<String> = if i == 0 {
                            BTreeSet::new()
                        } else {
                            picks.iter().map(|p| id(p.index(i))).collect()
                        };
                        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                        set_location(i, "US", &deps)
                    })
                    .collect();
                (ops, in_effect, failing)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_write_is_checked_after_its_dependencies_and_written_once(
        (ops, in_effect, failing) in dag(),
        concurrency in 1usize..5,
        batch_size in 1usize..8,
        yields in prop::collection::vec(0u8..6, 0..200),
    ) {
        let id = |i: usize| ops[i].id.clone();
        let backend = Scripted {
            in_effect: in_effect.iter().map(|&i| id(i)).collect(),
            // An operation already in effect is never written, so it cannot fail.
            failing: failing.difference(&in_effect).map(|&i| id(i)).collect(),
            yields: Mutex::new(yields.into_iter()),
            events: Mutex::new(Vec::new()),
        };
        let options = ExecOptions { concurrency, batch_size, ..ExecOptions::default() };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let report = runtime.block_on(execute(&backend, ops.clone(), options)).unwrap();

        let deps: BTreeMap<&str, &[String]> =
            ops.iter().map(|op| (op.id.as_str(), op.depends_on.as_slice())).collect();
        // Operations that succeeded so far (written, or found in effect), and those checked
        // and found not in effect (allowed to be written once).
        let mut succeeded: BTreeSet<String> = BTreeSet::new();
        let mut may_write: BTreeSet<String> = BTreeSet::new();
        let mut written: BTreeSet<String> = BTreeSet::new();
        for event in backend.events.lock().unwrap().iter() {
            match event {
                Event::Checked(answers) => {
                    for (op, done) in answers {
                        for dep in deps[op.as_str()] {
                            prop_assert!(succeeded.contains(dep), "{op} checked before {dep} succeeded");
                        }
                        if *done {
                            succeeded.insert(op.clone());
                        } else {
                            may_write.insert(op.clone());
                        }
                    }
                }
                Event::Wrote(answers) => {
                    for (op, ok) in answers {
                        prop_assert!(may_write.remove(op), "{op} written without a fresh check saying it is not in effect");
                        prop_assert!(written.insert(op.clone()), "{op} written twice");
                        prop_assert!(!backend.in_effect.contains(op), "{op} was in effect and still written");
                        for dep in deps[op.as_str()] {
                            prop_assert!(succeeded.contains(dep), "{op} written before {dep} succeeded");
                        }
                        if *ok {
                            succeeded.insert(op.clone());
                        }
                    }
                }
            }
        }
        // The report says exactly what happened: every operation ends, failures are the
        // refused writes, skips are the operations with a failed dependency.
        for result in &report.results {
            let expected_written = written.contains(&result.id);
            match &result.outcome {
                Outcome::Done { .. } => prop_assert!(expected_written && succeeded.contains(&result.id)),
                Outcome::AlreadyDone => prop_assert!(backend.in_effect.contains(&result.id) && !expected_written),
                Outcome::Failed { .. } => prop_assert!(backend.failing.contains(&result.id) && expected_written),
                Outcome::Skipped { failed_dependency } => {
                    prop_assert!(!expected_written && !succeeded.contains(&result.id));
                    prop_assert!(backend.failing.contains(failed_dependency));
                }
                Outcome::NotStarted => prop_assert!(false, "{} never started", result.id),
            }
        }
    }
}
