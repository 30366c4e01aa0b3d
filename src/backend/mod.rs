//! Backends: where the live state comes from and where operations are carried out.
//!
//! `TenantBackend` is the one seam between the pure core and the outside world. The snapshot
//! backend (a JSON file) is the embedded default; the Graph backend talks to Microsoft Graph
//! and Exchange Online. Both produce the same `Tenant` model and accept the same `Operation`s,
//! so one test suite runs against both.

pub mod graph;
pub mod refusal;
pub mod snapshot;

pub use crate::desired::connection::{AuthMode, BackendConfig, GraphSettings};

use crate::plan::Operation;
use crate::tenant::{RuleViolation, Tenant};
pub use refusal::{ErrorCodes, LicenceRule, Refusal};
use std::future::Future;

/// What a backend reports for one executed operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReport {
    /// Graph's `request-id` (or `client-request-id`) for the journal and support tickets.
    pub request_id: Option<String>,
}

/// Why a backend could not read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The snapshot file could not be read, parsed or written.
    #[error("snapshot {path}: {message}")]
    Snapshot {
        /// File path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The service (or the snapshot's model of its rules) refused the request. `refusal` is
    /// what the answer's codes and status say, the same on both backends; `message` is for
    /// humans only (Graph's `code: message`, or the model's rule).
    #[error("{target}: {message}{}", request_id.as_ref().map(|r| format!(" (request-id {r})")).unwrap_or_default())]
    Refused {
        /// UPN, group or endpoint the request targeted.
        target: String,
        /// Why, as far as the codes say.
        refusal: Refusal,
        /// What the service said, for humans.
        message: String,
        /// Graph `request-id`, for support tickets.
        request_id: Option<String>,
    },
    /// m365ctl could not use a request or an answer: an id that is not a GUID (refused before
    /// sending), or an answer that does not parse or lacks a fact.
    #[error("{target}: {code}: {message}{}", request_id.as_ref().map(|r| format!(" (request-id {r})")).unwrap_or_default())]
    Invalid {
        /// UPN, group or endpoint.
        target: String,
        /// `InvalidObjectId` or `InvalidResponse`.
        code: String,
        /// What is wrong.
        message: String,
        /// Graph `request-id`.
        request_id: Option<String>,
    },
    /// Authentication failed (token endpoint or 401 after refresh).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// Network failure, timeout, or retries exhausted.
    #[error("transport: {0}")]
    Transport(String),
}

impl BackendError {
    /// The snapshot backend's refusal of a write to `target` that breaks `violation`: the
    /// variant Graph's codes give for the same rule (`Refusal::of_violation`).
    pub fn broke_rule(target: &str, violation: &RuleViolation) -> BackendError {
        BackendError::Refused {
            target: target.to_string(),
            refusal: Refusal::of_violation(violation),
            message: violation.to_string(),
            request_id: None,
        }
    }

    /// The refusal, when the service refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            BackendError::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }
}

/// A source of live state and a sink for operations.
///
/// `execute` receives operations that are mutually independent (the executor only passes
/// ready DAG nodes), so a backend may run them in any order or batch them (Graph `$batch`).
/// Results are returned in the order of `ops`.
pub trait TenantBackend: Send + Sync {
    /// Short human description (`snapshot examples/quickstart/tenant.json`, `graph contoso`).
    fn describe(&self) -> String;

    /// Reads the whole live state needed for planning.
    fn read(&self) -> impl Future<Output = Result<Tenant, BackendError>> + Send;

    /// Carries out independent operations and reports each one's outcome.
    fn execute(
        &self,
        ops: &[Operation],
    ) -> impl Future<Output = Vec<Result<ExecReport, BackendError>>> + Send;

    /// Reads size, archive and litigation hold of the mailboxes of `user_ids` into `live`
    /// (`read` may leave them unknown: one Exchange call per mailbox is too dear for all).
    /// A fact that cannot be read is an error, never a 0. The default does nothing: a
    /// snapshot already holds every fact it has.
    fn read_mailbox_facts(
        &self,
        live: &mut Tenant,
        user_ids: &[String],
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let _ = (live, user_ids);
        async { Ok(()) }
    }

    /// What the executor needs to see how far group licensing has carried `ops` (group
    /// licence and membership writes; see `apply::settle`): their groups with members and the
    /// member users concerned. The default re-reads the whole tenant (cheap for a snapshot,
    /// which processes group licensing at once).
    fn read_group_licensing(
        &self,
        ops: &[Operation],
    ) -> impl Future<Output = Result<Tenant, BackendError>> + Send {
        let _ = ops;
        self.read()
    }

    /// Whether each of `ops` is already in effect, checked by the executor right before it
    /// writes, so re-runs never repeat a write. The default re-reads the whole tenant once per
    /// call (cheap for a snapshot); the Graph backend should override it with GETs of the
    /// targets (one user or group each, `$batch`-able). Answers in the order of `ops`.
    fn already_done(
        &self,
        ops: &[Operation],
    ) -> impl Future<Output = Result<Vec<bool>, BackendError>> + Send {
        async move {
            let live = self.read().await?;
            Ok(ops
                .iter()
                .map(|op| crate::tenant::done::is_in_effect(&live, &op.kind))
                .collect())
        }
    }
}

/// Reads into `live` the mailbox facts the plan for `desired` depends on and `live` lacks
/// (see `plan::facts_needed`): read the tenant without facts, learn from the diff which
/// mailboxes matter, read exactly those, then plan. A fact that cannot be read is an error.
pub async fn read_needed_facts<B: TenantBackend>(
    backend: &B,
    desired: &crate::desired::DesiredState,
    live: &mut Tenant,
) -> Result<(), BackendError> {
    let missing = facts_to_read(desired, live);
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(
        mailboxes = missing.len(),
        "reading mailbox facts the plan depends on"
    );
    backend.read_mailbox_facts(live, &missing).await
}

/// The object ids of the mailboxes the plan depends on whose facts `live` lacks. When every
/// mailbox's facts are known (a snapshot that writes them) that is none, and the diff that
/// finds the needed ones (1.3-4 CPU seconds at 1,000,000 users) is not run.
fn facts_to_read(desired: &crate::desired::DesiredState, live: &Tenant) -> Vec<String> {
    let unknown = |u: &crate::tenant::User| u.mailbox.as_ref().is_some_and(|m| !m.facts_known());
    if !live.users.iter().any(unknown) {
        return Vec::new();
    }
    crate::plan::facts_needed(desired, live)
        .into_iter()
        .filter(|id| live.user(id).is_some_and(unknown))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// On generated tenants with the facts of any share of their mailboxes unknown (none,
        /// some, all), the mailboxes to read are the needed ones whose facts are unknown:
        /// skipping the diff when every fact is known changes no answer.
        #[test]
        fn facts_to_read_are_the_needed_ones_not_known(
            seed in any::<u64>(),
            unknown_per_mille in prop_oneof![Just(0u64), 1u64..1000, Just(1000u64)],
        ) {
            let mut spec = crate::synth::SynthSpec::served(300, seed);
            spec.change_rate = 0.2;
            let synth = crate::synth::generate(&spec);
            let config = crate::desired::from_sources(
                &[("m365ctl.toml".to_string(), synth.config_toml.clone())],
                std::path::Path::new("."),
            )
            .expect("the generated config loads");
            let (desired, _) = crate::desired::resolve(&config, &synth.tenant).expect("it resolves");
            let mut live = synth.tenant;
            let mut unknown = 0;
            for (i, user) in live.users.iter_mut().enumerate() {
                if let Some(mailbox) = user.mailbox.as_mut()
                    && (i as u64 * 7919 + seed) % 1000 < unknown_per_mille
                {
                    mailbox.size_bytes = None;
                    unknown += 1;
                }
            }
            let want: Vec<String> = crate::plan::facts_needed(&desired, &live)
                .into_iter()
                .filter(|id| {
                    live.user(id)
                        .and_then(|u| u.mailbox.as_ref())
                        .is_some_and(|m| !m.facts_known())
                })
                .collect();
            let got = facts_to_read(&desired, &live);
            prop_assert_eq!(&got, &want);
            if unknown == 0 {
                prop_assert!(got.is_empty());
            }
        }
    }
}
