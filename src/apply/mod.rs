//! `apply`: carry out a reviewed plan safely.
//!
//! Order: the caller takes the per-config lock, reads the tenant once and plans once; `run`
//! refuses a plan with errors, a stale or different saved plan (saying what changed) and a
//! plan over the blast-radius guards, then executes that same plan with a journal and
//! progress. The pure parts (readiness
//! bookkeeping `dag`, `guards`, `stale`, `done`) carry the logic and the tests; `exec` is the
//! thin async shell.
//!
//! Idempotence: before each write the executor asks the backend whether the operation is
//! already in effect (`TenantBackend::already_done`; the default re-reads the tenant once per
//! batch, the Graph backend can GET the targets). Already-done operations are reported as
//! such and not sent, so a second `apply` writes nothing and an interrupted one resumes by
//! re-planning and converging.

pub mod clock;
pub mod dag;
pub use crate::tenant::done;
pub mod exec;
pub mod guards;
pub mod journal;
pub mod lock;
pub mod progress;
pub mod settle;
pub mod stale;

pub use exec::{ExecOptions, Observer, execute, execute_observed};
pub use guards::GuardTrip;
pub use stale::StalePlan;

use crate::backend::TenantBackend;
use crate::desired::DesiredState;
use crate::plan::{Operation, Plan};
use crate::planfile::{PlanFile, PlanFileError};
use crate::render::escape;
use crate::tenant::Tenant;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written now.
    Done {
        /// Graph request id, when the backend has one.
        request_id: Option<String>,
    },
    /// Already in effect: nothing was sent.
    AlreadyDone,
    /// The backend refused or failed it.
    Failed {
        /// The backend's reason.
        reason: String,
    },
    /// Not attempted because an operation it depends on failed.
    Skipped {
        /// The failed operation's id.
        failed_dependency: String,
    },
    /// Not attempted because the apply was interrupted (Ctrl-C) first.
    NotStarted,
}

impl Outcome {
    /// `done`, `already_done`, `failed` or `skipped` (journal and report wording).
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::AlreadyDone => "already_done",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
            Outcome::NotStarted => "not_started",
        }
    }

    /// The reason for a failure or skip.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Failed { reason } => Some(reason.clone()),
            Outcome::Skipped { failed_dependency } => {
                Some(format!("skipped: depends on failed {failed_dependency}"))
            }
            Outcome::NotStarted => Some("not started: apply was interrupted".to_string()),
            _ => None,
        }
    }

    /// Whether dependents must be skipped.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// Operation id.
    pub id: String,
    /// snake_case kind.
    pub kind: String,
    /// UPN or group.
    pub target: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// What an apply did, one line per operation in plan order (deterministic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Results in plan order.
    pub results: Vec<OpResult>,
}

impl ApplyReport {
    /// Operations with the given outcome label.
    pub fn with_label(&self, label: &str) -> impl Iterator<Item = &OpResult> {
        self.results
            .iter()
            .filter(move |r| r.outcome.label() == label)
    }

    /// `(done, already_done, failed, skipped)` counts.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |l| self.with_label(l).count();
        (n("done"), n("already_done"), n("failed"), n("skipped"))
    }

    /// Operations never attempted because the apply was interrupted.
    pub fn not_started(&self) -> usize {
        self.with_label("not_started").count()
    }

    /// 0 when everything is done (or already was), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        let (_, _, failed, skipped) = self.counts();
        i32::from(failed + skipped + self.not_started() > 0)
    }

    /// The summary line and one line per failure and skip.
    pub fn render(&self) -> String {
        let (done, already, failed, skipped) = self.counts();
        let mut out = format!(
            "Apply: {done} done, {already} already done, {failed} failed, {skipped} skipped.\n"
        );
        if self.not_started() > 0 {
            out.push_str(&format!(
                "Interrupted: {} not started; re-run apply to converge.\n",
                self.not_started()
            ));
        }
        for r in &self.results {
            if let Some(reason) = r.outcome.reason() {
                // Ids carry UPNs and group names, reasons carry the service's messages.
                let (id, reason) = (escape::terminal(&r.id), escape::terminal(&reason));
                out.push_str(&format!("  {} {id}: {reason}\n", r.outcome.label()));
            }
        }
        out
    }
}

/// Everything `run` needs besides the backend: the tenant read once, the one plan made from
/// it, and the lock taken before that read, so the stale check, the guards and the executor
/// all see the same read and the same plan.
#[derive(Debug)]
pub struct ApplyRequest<'a> {
    /// The resolved desired state (scope, guards).
    pub desired: &'a DesiredState,
    /// The tenant as read for this apply (with the mailbox facts the plan needs), under `lock`.
    pub live: &'a Tenant,
    /// The plan of `desired` against `live`: checked, guarded and executed as it is.
    pub plan: &'a Plan,
    /// A reviewed `plan.json`, when there is one: only a claim, applied only when `plan` has
    /// exactly its operations and its inputs still match (`PlanFile::check_operations`,
    /// `stale::check`).
    pub reviewed: Option<&'a PlanFile>,
    /// The per-config lock (`lock::ApplyLock::acquire` on `lock::default_path`), taken before
    /// `live` was read and released when `run` returns.
    pub lock: lock::ApplyLock,
    /// `--allow-mass-change`.
    pub allow_mass_change: bool,
    /// Journal file (see `journal::default_path`).
    pub journal_path: PathBuf,
    /// Show progress on stderr.
    pub progress: bool,
    /// Executor options.
    pub options: ExecOptions,
}

/// Why `apply` refused or could not run. Every variant exits 1.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The plan carries errors.
    #[error("refusing to apply: the plan has {0} error(s); fix them and re-plan")]
    PlanHasErrors(usize),
    /// A saved plan is stale.
    #[error(transparent)]
    Stale(#[from] StalePlan),
    /// A guard tripped.
    #[error(transparent)]
    Guard(#[from] GuardTrip),
    /// The plan file is unreadable.
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// The operations do not form a DAG.
    #[error(transparent)]
    Dag(#[from] dag::DagError),
    /// The journal could not be written.
    #[error("journal {path}: {source}")]
    Journal {
        /// Journal file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// The CLI's entry point: check (errors, staleness, guards) the one plan, execute, journal.
/// Reads nothing before executing: the caller read the tenant once, under the lock.
pub async fn run<B: TenantBackend>(
    backend: &B,
    request: ApplyRequest<'_>,
) -> Result<ApplyReport, ApplyError> {
    let _lock = request.lock;
    let plan = request.plan;
    let errors = plan.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        return Err(ApplyError::PlanHasErrors(errors));
    }
    if let Some(file) = request.reviewed {
        stale::check(file, &plan.fingerprint, request.live)?;
        file.check_operations(plan)?;
    }
    let ops = plan.operations.clone();
    guards::check_plan(
        &ops,
        request.live,
        request.desired,
        request.allow_mass_change,
    )?;
    let journal =
        journal::Journal::open(&request.journal_path).map_err(|source| ApplyError::Journal {
            path: request.journal_path.clone(),
            source,
        })?;
    let progress = if request.progress {
        progress::Progress::for_stderr(ops.len())
    } else {
        progress::Progress::Silent
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let on_ctrl_c = {
        let interrupted = Arc::clone(&interrupted);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::warn!("interrupted: finishing in-flight operations, starting no more");
                interrupted.store(true, Ordering::SeqCst);
            }
        })
    };
    let mut sink = Sink {
        journal,
        progress,
        error: None,
        interrupted,
    };
    let report = execute_observed(backend, ops, request.options, &mut sink).await;
    on_ctrl_c.abort();
    let report = report?;
    sink.progress.finish();
    match sink.error {
        Some(source) => Err(ApplyError::Journal {
            path: request.journal_path,
            source,
        }),
        None => Ok(report),
    }
}

/// Journal + progress; keeps the first journal error. After one, no further batch is sent
/// (its write-ahead record could not be made); batches in flight finish and the error is
/// reported at the end.
struct Sink {
    journal: journal::Journal,
    progress: progress::Progress,
    error: Option<std::io::Error>,
    interrupted: Arc<AtomicBool>,
}

impl Observer for Sink {
    fn starting(&mut self, ops: &[Operation]) {
        if let Err(e) = self.journal.record_started(ops) {
            self.error.get_or_insert(e);
        }
    }

    fn finished(&mut self, op: &Operation, outcome: &Outcome) {
        if let Err(e) = self.journal.record(op, outcome) {
            self.error.get_or_insert(e);
        }
        self.progress.finished(op, outcome);
    }

    fn waiting(&mut self, op: &Operation, why: &str) {
        self.progress.waiting(op, why);
    }

    fn wave_done(&mut self) {
        if let Err(e) = self.journal.sync() {
            self.error.get_or_insert(e);
        }
    }

    fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst) || self.error.is_some()
    }
}
