//! Readiness bookkeeping for the executor: which operations may start now, and which must be
//! skipped because something they depend on failed. Pure; the async shell only asks it.
//!
//! The executor works from a ready set (not fixed layers), so a slow operation never holds
//! back unrelated branches.

use crate::plan::Operation;
use std::collections::{BTreeSet, HashMap};

/// Why the operations cannot form an executable graph (a planner bug or an edited file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// An operation waits for an id that is not in the plan.
    #[error("operation {op} depends on {missing}, which is not in the plan")]
    UnknownDependency {
        /// The waiting operation.
        op: String,
        /// The missing id.
        missing: String,
    },
    /// Two operations share an id.
    #[error("operation id {0} appears twice in the plan")]
    DuplicateId(String),
    /// The dependencies form a cycle; names every operation that can never start.
    #[error("operations depend on each other in a cycle: {}", .0.join(", "))]
    Cycle(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Finished,
}

/// Dependency counters over operations indexed by their position in the plan.
#[derive(Debug)]
pub struct Readiness {
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    state: Vec<State>,
    /// Waiting operations with nothing left to wait for, in plan order.
    ready: BTreeSet<usize>,
}

impl Readiness {
    /// Builds the bookkeeping; refuses unknown dependencies, duplicate ids and cycles.
    pub fn new(ops: &[Operation]) -> Result<Readiness, DagError> {
        let mut index = HashMap::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            if index.insert(op.id.as_str(), i).is_some() {
                return Err(DagError::DuplicateId(op.id.clone()));
            }
        }
        let mut waiting_on = vec![0; ops.len()];
        let mut dependents = vec![Vec::new(); ops.len()];
        for (i, op) in ops.iter().enumerate() {
            let mut deps: Vec<usize> = Vec::with_capacity(op.depends_on.len());
            for dep in &op.depends_on {
                let d = *index
                    .get(dep.as_str())
                    .ok_or_else(|| DagError::UnknownDependency {
                        op: op.id.clone(),
                        missing: dep.clone(),
                    })?;
                deps.push(d);
            }
            deps.sort_unstable();
            deps.dedup();
            waiting_on[i] = deps.len();
            for d in deps {
                dependents[d].push(i);
            }
        }
        let readiness = Readiness {
            state: vec![State::Waiting; ops.len()],
            ready: (0..ops.len()).filter(|&i| waiting_on[i] == 0).collect(),
            waiting_on,
            dependents,
        };
        let stuck = readiness.unreachable();
        if stuck.is_empty() {
            Ok(readiness)
        } else {
            Err(DagError::Cycle(
                stuck.into_iter().map(|i| ops[i].id.clone()).collect(),
            ))
        }
    }

    /// Operations that can never start (Kahn's algorithm leaves them with a non-zero count).
    fn unreachable(&self) -> Vec<usize> {
        let mut count = self.waiting_on.clone();
        let mut queue: Vec<usize> = (0..count.len()).filter(|&i| count[i] == 0).collect();
        while let Some(i) = queue.pop() {
            for &d in &self.dependents[i] {
                count[d] -= 1;
                if count[d] == 0 {
                    queue.push(d);
                }
            }
        }
        (0..count.len()).filter(|&i| count[i] > 0).collect()
    }

    /// Up to `max` ready operations in plan order, marked running.
    pub fn take_ready(&mut self, max: usize) -> Vec<usize> {
        let mut taken = Vec::with_capacity(max.min(self.ready.len()));
        while taken.len() < max {
            let Some(i) = self.ready.pop_first() else {
                break;
            };
            self.state[i] = State::Running;
            taken.push(i);
        }
        taken
    }

    /// Records a success (or already-in-effect): its dependents lose one wait.
    pub fn succeeded(&mut self, i: usize) {
        self.state[i] = State::Finished;
        for &d in &self.dependents[i] {
            self.waiting_on[d] -= 1;
            if self.waiting_on[d] == 0 && self.state[d] == State::Waiting {
                self.ready.insert(d);
            }
        }
    }

    /// Records a failure and returns every transitive dependent, now skipped, in plan order.
    pub fn failed(&mut self, i: usize) -> Vec<usize> {
        self.state[i] = State::Finished;
        let mut skipped = Vec::new();
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            if self.state[d] == State::Waiting {
                self.state[d] = State::Finished;
                skipped.push(d);
                stack.extend(self.dependents[d].iter().copied());
            }
        }
        skipped.sort_unstable();
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OpKind;
    use crate::plan::ops::SetUsageLocation;

    fn op(id: &str, deps: &[&str]) -> Operation {
        Operation {
            id: id.into(),
            kind: OpKind::SetUsageLocation(SetUsageLocation {
                user_id: id.into(),
                upn: id.into(),
                from: None,
                to: "GB".into(),
            }),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            reasons: vec![],
        }
    }

    #[test]
    fn ready_set_follows_edges() {
        let ops = [
            op("a", &[]),
            op("b", &["a"]),
            op("c", &[]),
            op("d", &["b", "c"]),
        ];
        let mut r = Readiness::new(&ops).unwrap();
        assert_eq!(r.take_ready(10), vec![0, 2]);
        assert!(r.take_ready(10).is_empty());
        r.succeeded(0);
        assert_eq!(r.take_ready(10), vec![1]);
        r.succeeded(1);
        assert!(r.take_ready(10).is_empty(), "d still waits for c");
        r.succeeded(2);
        assert_eq!(r.take_ready(1), vec![3]);
    }

    #[test]
    fn failure_skips_transitive_dependents_only() {
        let ops = [
            op("a", &[]),
            op("b", &["a"]),
            op("c", &["b"]),
            op("x", &[]),
            op("y", &["x"]),
        ];
        let mut r = Readiness::new(&ops).unwrap();
        assert_eq!(r.take_ready(10), vec![0, 3]);
        assert_eq!(r.failed(0), vec![1, 2]);
        r.succeeded(3);
        assert_eq!(r.take_ready(10), vec![4]);
    }

    #[test]
    fn refuses_cycles_and_unknown_ids() {
        let cyclic = [op("a", &["b"]), op("b", &["a"]), op("c", &[])];
        assert_eq!(
            Readiness::new(&cyclic).unwrap_err(),
            DagError::Cycle(vec!["a".into(), "b".into()])
        );
        let dangling = [op("a", &["zz"])];
        assert!(matches!(
            Readiness::new(&dangling),
            Err(DagError::UnknownDependency { .. })
        ));
        assert!(matches!(
            Readiness::new(&[op("a", &[]), op("a", &[])]),
            Err(DagError::DuplicateId(_))
        ));
    }
}
