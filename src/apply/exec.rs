//! The async shell of `apply`: walks the DAG from its ready set as a two-stage pipeline.
//!
//! 1. *Check*: ready operations (everything they depend on has succeeded) are re-checked
//!    against the tenant in batches (`TenantBackend::already_done`), so re-runs never repeat a
//!    write; what is already in effect finishes there.
//! 2. *Write*: checked operations go to the backend in batches of up to `batch_size` (one
//!    Graph `$batch` envelope each), `concurrency` envelopes in flight at once.
//!
//! The check of the next envelopes runs while the current ones are in flight (at most
//! `concurrency` envelopes' worth of checked-but-unwritten operations), so a write waits for
//! one round trip, not two. Every write is still preceded by its own done-check, and nothing
//! is checked or written before its dependencies succeeded. After a group licensing write the
//! executor waits until its members are processed (Graph does that asynchronously) before its
//! dependents run, and it skips the transitive dependents of a failure while unrelated
//! branches finish.

use super::dag::{DagError, Readiness};
use super::{ApplyReport, OpResult, Outcome};
use crate::backend::{BackendError, ExecReport, TenantBackend};
use crate::plan::Operation;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// How the executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Most write batches (Graph `$batch` envelopes) in flight at once (>= 1). Graph counts
    /// every item of an envelope against its limits on its own, so the client's pacer, not
    /// this number, keeps the rate inside the budget; this one keeps enough work in flight.
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
    /// A wave (one written batch, or a check or wait that finished operations) completed.
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

type StageFuture<'a> = Pin<Box<dyn Future<Output = (Vec<usize>, StageOutcome)> + Send + 'a>>;

/// What one in-flight stage of a batch came back with.
enum StageOutcome {
    /// The pre-write check: per op whether it is already in effect, or why nobody knows.
    Checked(Result<Vec<bool>, BackendError>),
    /// The write: per op the backend's result.
    Written(Vec<Result<ExecReport, BackendError>>),
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
    let envelopes = options.concurrency.max(1);
    let batch_size = options.batch_size.max(1);
    // The check runs ahead by at most as many batches as are written at once, and by at most
    // that many envelopes' worth of checked-but-unwritten operations (so at most twice
    // `concurrency` requests are in flight).
    let lookahead = envelopes * batch_size;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; ops.len()];
    // Written group licensing operations waiting for their members: the outcome they get
    // once group licensing has reached them.
    let mut settling: Vec<Option<Outcome>> = vec![None; ops.len()];
    let mut in_flight: Vec<StageFuture<'_>> = Vec::new();
    // Operations being checked, and the check batches they are in.
    let mut checking = 0usize;
    let mut checks = 0usize;
    let mut checked: VecDeque<usize> = VecDeque::new();
    let mut writing = 0usize;
    let clone_ops =
        |batch: &[usize]| -> Vec<Operation> { batch.iter().map(|&i| ops[i].clone()).collect() };
    loop {
        if !observer.should_stop() {
            while writing < envelopes && !checked.is_empty() {
                let take = checked.len().min(batch_size);
                let batch: Vec<usize> = checked.drain(..take).collect();
                let batch_ops = clone_ops(&batch);
                observer.starting(&batch_ops);
                writing += 1;
                in_flight.push(Box::pin(async move {
                    let results = write_batch(backend, &batch_ops).await;
                    (batch, StageOutcome::Written(results))
                }));
            }
            while checks < envelopes && checking + checked.len() < lookahead {
                let room = lookahead - checking - checked.len();
                let batch = dag.take_ready(batch_size.min(room));
                if batch.is_empty() {
                    break;
                }
                checking += batch.len();
                checks += 1;
                let batch_ops = clone_ops(&batch);
                in_flight.push(Box::pin(async move {
                    let done = check_batch(backend, &batch_ops).await;
                    (batch, StageOutcome::Checked(done))
                }));
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let (batch, outcome) = next_finished(&mut in_flight).await;
        let settled = matches!(outcome, StageOutcome::Settled(_));
        let wrote = matches!(outcome, StageOutcome::Written(_));
        let mut finished: Vec<(usize, Outcome)> = Vec::new();
        match outcome {
            StageOutcome::Checked(result) => {
                checking -= batch.len();
                checks -= 1;
                match result {
                    Ok(done) => {
                        for (i, done) in batch.into_iter().zip(done) {
                            if done {
                                finished.push((i, Outcome::AlreadyDone));
                            } else {
                                checked.push_back(i);
                            }
                        }
                    }
                    Err(e) => finished.extend(batch.into_iter().map(|i| {
                        let reason = format!("could not check current state before writing: {e}");
                        (i, Outcome::Failed { reason })
                    })),
                }
            }
            StageOutcome::Written(results) => {
                writing -= 1;
                finished.extend(batch.into_iter().zip(results).map(|(i, result)| {
                    let outcome = match result {
                        Ok(report) => Outcome::Done {
                            request_id: report.request_id,
                        },
                        Err(e) => Outcome::Failed {
                            reason: e.to_string(),
                        },
                    };
                    (i, outcome)
                }));
            }
            StageOutcome::Settled(results) => {
                finished.extend(batch.into_iter().zip(results).map(|(i, failure)| {
                    let outcome = match failure {
                        None => settling[i].take().unwrap_or(Outcome::AlreadyDone),
                        Some(reason) => Outcome::Failed { reason },
                    };
                    (i, outcome)
                }));
            }
        }
        // Group licensing writes (or writes found already in effect) are finished only once
        // their members are processed: what depends on them waits.
        let (wait, finished): (Vec<_>, Vec<_>) = finished.into_iter().partition(|(i, outcome)| {
            !settled
                && matches!(outcome, Outcome::Done { .. } | Outcome::AlreadyDone)
                && super::settle::is_group_licensing(&ops[*i].kind)
        });
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
            let waiting_ops = clone_ops(&waiting);
            in_flight.push(Box::pin(settle_batch(
                backend,
                waiting,
                waiting_ops,
                options,
            )));
        }
        // A check that only queued writes recorded nothing: no wave ends there.
        let recorded = !finished.is_empty() || wrote;
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
        if recorded {
            observer.wave_done();
        }
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

/// The pre-write check of a batch: whether each operation is already in effect.
async fn check_batch<B: TenantBackend>(
    backend: &B,
    ops: &[Operation],
) -> Result<Vec<bool>, BackendError> {
    let done = backend.already_done(ops).await?;
    if done.len() != ops.len() {
        return Err(BackendError::Transport(format!(
            "backend answered {} state checks for {} operations",
            done.len(),
            ops.len()
        )));
    }
    Ok(done)
}

/// Writes a batch of checked operations; one result per operation, whatever the backend says.
async fn write_batch<B: TenantBackend>(
    backend: &B,
    ops: &[Operation],
) -> Vec<Result<ExecReport, BackendError>> {
    let mut results = backend.execute(ops).await;
    results.resize_with(ops.len(), || {
        Err(BackendError::Transport(
            "backend returned fewer results than operations".into(),
        ))
    });
    results
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
) -> (Vec<usize>, StageOutcome) {
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
    (batch, StageOutcome::Settled(results))
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
