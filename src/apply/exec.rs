//! The async shell of `apply`: walks the DAG from its ready set, hands batches of ready,
//! independent operations to the backend (up to `batch_size` per call, so Graph can `$batch`
//! them), keeps at most `concurrency` operations in flight, re-checks each target right
//! before writing (`TenantBackend::already_done`) so re-runs never repeat a write, waits after
//! a group licensing write until its members are processed (Graph does that asynchronously)
//! before its dependents run, and skips the transitive dependents of a failure while
//! unrelated branches finish.

use super::dag::{DagError, Readiness};
use super::{ApplyReport, OpResult, Outcome};
use crate::backend::{BackendError, ExecReport, TenantBackend};
use crate::plan::Operation;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// How the executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Most operations in flight at once (>= 1).
    pub concurrency: usize,
    /// Most operations per `TenantBackend::execute` call (Graph `$batch` takes 20).
    pub batch_size: usize,
    /// Longest wait for group licensing to reach the members after a group licensing write;
    /// past it the operation fails and its dependents are skipped.
    pub group_licensing_timeout: Duration,
    /// First pause between two reads of group licensing progress (doubled up to 2 s).
    pub group_licensing_poll: Duration,
}

impl Default for ExecOptions {
    fn default() -> ExecOptions {
        ExecOptions {
            concurrency: 8,
            batch_size: 20,
            group_licensing_timeout: Duration::from_secs(600),
            group_licensing_poll: Duration::from_millis(100),
        }
    }
}

/// Longest pause between two reads of group licensing progress.
const MAX_POLL: Duration = Duration::from_secs(2);

/// Receives every finished operation as it happens (journal, progress) and the end of each
/// wave (one backend call) so durable sinks can fsync.
pub trait Observer {
    /// These operations are about to be sent (write-ahead: a durable sink records them before
    /// anything can reach the tenant).
    fn starting(&mut self, _ops: &[Operation]) {}
    /// One operation finished with `outcome`.
    fn finished(&mut self, op: &Operation, outcome: &Outcome);
    /// A wave (one batch) completed.
    fn wave_done(&mut self) {}
    /// The operation was written and the executor now waits for group licensing to reach
    /// its members before it counts as finished (`why` says what it waits for).
    fn waiting(&mut self, _op: &Operation, _why: &str) {}
    /// Whether to stop dispatching (Ctrl-C): in-flight batches still finish and are recorded,
    /// the rest is reported as not started.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn finished(&mut self, _: &Operation, _: &Outcome) {}
}

type BatchFuture<'a> = Pin<Box<dyn Future<Output = (Vec<usize>, BatchOutcome)> + Send + 'a>>;

enum BatchOutcome {
    /// The pre-write check failed: nothing was written.
    CheckFailed(BackendError),
    /// Per op: `None` = already in effect (not sent), `Some(result)` = sent.
    Ran(Vec<Option<Result<ExecReport, BackendError>>>),
    /// Per op of a group licensing wait: `None` = reached the members, `Some(why)` = not.
    Settled(Vec<Option<String>>),
}

/// Executes `ops` (with their `depends_on` edges) against `backend`.
pub async fn execute<B: TenantBackend>(
    backend: &B,
    ops: Vec<Operation>,
    options: ExecOptions,
) -> Result<ApplyReport, DagError> {
    execute_observed(backend, ops, options, &mut NoObserver).await
}

/// `execute`, reporting each outcome to `observer` as it happens.
pub async fn execute_observed<B: TenantBackend>(
    backend: &B,
    ops: Vec<Operation>,
    options: ExecOptions,
    observer: &mut dyn Observer,
) -> Result<ApplyReport, DagError> {
    let mut dag = Readiness::new(&ops)?;
    let concurrency = options.concurrency.max(1);
    let batch_size = options.batch_size.max(1);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    // Written group licensing operations waiting for their members: the outcome they get
    // once group licensing has reached them.
    let mut settling: Vec<Option<Outcome>> = vec![None; ops.len()];
    let mut in_flight: Vec<BatchFuture<'_>> = Vec::new();
    let mut running = 0usize;
    loop {
        while running < concurrency && !observer.should_stop() {
            let batch = dag.take_ready(batch_size.min(concurrency - running));
            if batch.is_empty() {
                break;
            }
            running += batch.len();
            let batch_ops: Vec<Operation> = batch.iter().map(|&i| ops[i].clone()).collect();
            observer.starting(&batch_ops);
            in_flight.push(Box::pin(run_batch(backend, batch, batch_ops)));
        }
        if in_flight.is_empty() {
            break;
        }
        let (batch, outcome) = next_finished(&mut in_flight).await;
        let written = matches!(outcome, BatchOutcome::Ran(_));
        let per_op: Vec<Outcome> = match outcome {
            BatchOutcome::CheckFailed(e) => batch
                .iter()
                .map(|_| Outcome::Failed {
                    reason: format!("could not check current state before writing: {e}"),
                })
                .collect(),
            BatchOutcome::Ran(results) => results
                .into_iter()
                .map(|r| match r {
                    None => Outcome::AlreadyDone,
                    Some(Ok(report)) => Outcome::Done {
                        request_id: report.request_id,
                    },
                    Some(Err(e)) => Outcome::Failed {
                        reason: e.to_string(),
                    },
                })
                .collect(),
            BatchOutcome::Settled(results) => batch
                .iter()
                .zip(results)
                .map(|(&i, failure)| match failure {
                    None => settling[i].take().unwrap_or(Outcome::AlreadyDone),
                    Some(reason) => Outcome::Failed { reason },
                })
                .collect(),
        };
        // Group licensing writes are finished only once their members are processed: what
        // depends on them waits (still counted as in flight).
        let (wait, finished): (Vec<_>, Vec<_>) =
            batch.into_iter().zip(per_op).partition(|(i, outcome)| {
                written
                    && matches!(outcome, Outcome::Done { .. } | Outcome::AlreadyDone)
                    && super::settle::is_group_licensing(&ops[*i].kind)
            });
        running -= finished.len();
        if !wait.is_empty() {
            let mut waiting = Vec::with_capacity(wait.len());
            for (i, outcome) in wait {
                observer.waiting(
                    &ops[i],
                    &format!(
                        "for group licensing to reach the members (up to {:.1} s)",
                        options.group_licensing_timeout.as_secs_f64()
                    ),
                );
                settling[i] = Some(outcome);
                waiting.push(i);
            }
            let waiting_ops: Vec<Operation> = waiting.iter().map(|&i| ops[i].clone()).collect();
            in_flight.push(Box::pin(settle_batch(
                backend,
                waiting,
                waiting_ops,
                options,
            )));
        }
        for (i, outcome) in finished {
            observer.finished(&ops[i], &outcome);
            if outcome.is_failure() {
                for skipped in dag.failed(i) {
                    let because = Outcome::Skipped {
                        failed_dependency: ops[i].id.clone(),
                    };
                    observer.finished(&ops[skipped], &because);
                    outcomes[skipped] = Some(because);
                }
            } else {
                dag.succeeded(i);
            }
            outcomes[i] = Some(outcome);
        }
        observer.wave_done();
    }
    let results = ops
        .into_iter()
        .zip(outcomes)
        .map(|(op, outcome)| OpResult {
            outcome: outcome.unwrap_or(Outcome::NotStarted),
            kind: op.kind.name().to_string(),
            target: op.kind.target().to_string(),
            id: op.id,
        })
        .collect();
    Ok(ApplyReport { results })
}

/// Re-checks the batch's targets, then writes only what is not yet in effect.
async fn run_batch<B: TenantBackend>(
    backend: &B,
    batch: Vec<usize>,
    ops: Vec<Operation>,
) -> (Vec<usize>, BatchOutcome) {
    let done = match backend.already_done(&ops).await {
        Ok(done) if done.len() == ops.len() => done,
        Ok(done) => {
            let e = BackendError::Transport(format!(
                "backend answered {} state checks for {} operations",
                done.len(),
                ops.len()
            ));
            return (batch, BatchOutcome::CheckFailed(e));
        }
        Err(e) => return (batch, BatchOutcome::CheckFailed(e)),
    };
    let to_write: Vec<Operation> = ops
        .iter()
        .zip(&done)
        .filter(|(_, done)| !**done)
        .map(|(op, _)| op.clone())
        .collect();
    let mut written = if to_write.is_empty() {
        Vec::new()
    } else {
        backend.execute(&to_write).await
    }
    .into_iter();
    let results = done
        .iter()
        .map(|&done| {
            if done {
                None
            } else {
                Some(written.next().unwrap_or_else(|| {
                    Err(BackendError::Transport(
                        "backend returned fewer results than operations".into(),
                    ))
                }))
            }
        })
        .collect();
    (batch, BatchOutcome::Ran(results))
}

/// Waits, bounded by `group_licensing_timeout`, until group licensing has reached the
/// members of each of `ops` (re-reading them with `TenantBackend::read_group_licensing`,
/// pausing longer each round), and logs what it waits for. An error state or the timeout
/// fails the operation.
async fn settle_batch<B: TenantBackend>(
    backend: &B,
    batch: Vec<usize>,
    ops: Vec<Operation>,
    options: ExecOptions,
) -> (Vec<usize>, BatchOutcome) {
    use super::settle::{Settlement, settlement};
    let started = tokio::time::Instant::now();
    let mut pause = options.group_licensing_poll.max(Duration::from_millis(1));
    let mut result: Vec<Option<Option<String>>> = vec![None; ops.len()];
    loop {
        let open: Vec<usize> = (0..ops.len()).filter(|&k| result[k].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let reading: Vec<Operation> = open.iter().map(|&k| ops[k].clone()).collect();
        let live = match backend.read_group_licensing(&reading).await {
            Ok(live) => live,
            Err(e) => {
                for &k in &open {
                    result[k] = Some(Some(format!(
                        "could not read whether group licensing reached the members: {e}"
                    )));
                }
                break;
            }
        };
        let mut pending = Vec::new();
        for &k in &open {
            match settlement(&live, &ops[k].kind) {
                Settlement::Reached => result[k] = Some(None),
                Settlement::Failed(reason) => result[k] = Some(Some(reason)),
                Settlement::Pending { members } => pending.push((k, members)),
            }
        }
        if pending.is_empty() {
            break;
        }
        let waited = started.elapsed();
        if waited >= options.group_licensing_timeout {
            for (k, members) in pending {
                result[k] = Some(Some(format!(
                    "group licensing did not reach {members} member(s) within {:.1} s",
                    options.group_licensing_timeout.as_secs_f64()
                )));
            }
            break;
        }
        for (k, members) in &pending {
            tracing::info!(
                op = %ops[*k].id,
                members,
                waited_ms = waited.as_millis() as u64,
                "waiting for group licensing to reach the members"
            );
        }
        tokio::time::sleep(pause.min(options.group_licensing_timeout - waited)).await;
        pause = (pause * 2).min(MAX_POLL);
    }
    let results = result.into_iter().map(Option::flatten).collect();
    (batch, BatchOutcome::Settled(results))
}

/// Waits for whichever in-flight batch finishes first and removes it from the set.
async fn next_finished<'a, T>(
    in_flight: &mut Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>,
) -> T {
    std::future::poll_fn(|cx| {
        for i in 0..in_flight.len() {
            if let Poll::Ready(value) = in_flight[i].as_mut().poll(cx) {
                drop(in_flight.swap_remove(i));
                return Poll::Ready(value);
            }
        }
        Poll::Pending
    })
    .await
}
