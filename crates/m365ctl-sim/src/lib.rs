//! A faithful fake of Microsoft Graph, Entra's token endpoint and the Exchange Online admin
//! API, serving a `Tenant` over loopback HTTP. Tests, benchmarks and `m365ctl sim serve` use
//! it to run the real Graph backend end to end.
//!
//! It behaves like the services where m365ctl depends on them: client-credential tokens with
//! audiences and expiry, `$top` caps and `@odata.nextLink` paging, `$select`, the advanced
//! query rules of `$filter=assignedLicenses/$count ne 0`, `$batch` (20 items, per-item status,
//! `dependsOn`, 424), writes through `tenant::apply_operation` answered with Graph's error
//! bodies, throttling and transient faults on a seeded schedule. After every write it checks
//! the safety invariants and records violations for the test to assert on.
//!
//! A crate of its own, on the pure core only: the fake cannot reach the client it is a fake
//! for (it is held to Microsoft's documentation, not to m365ctl's Graph code), and the
//! `m365ctl` binary links it (and axum) only with its default `sim` feature.

mod batch;
mod device_code;
mod exchange;
mod exchange_batch;
mod faults;
mod group_licensing;
mod opath;
mod query;
mod routes;
pub mod schema;
mod throttle;
mod token;
mod upn_prefix;
mod wire;

pub use device_code::DeviceCodeOptions;

pub use faults::{Fault, FaultSchedule, ThrottleBudget};
pub use throttle::ThrottleModel;

use throttle::Budgets;

use m365ctl_core::desired::connection::{AuthMode, GraphSettings};
use m365ctl_core::tenant::Tenant;
// The core modules the fake's files name as `crate::<module>`.
use m365ctl_core::{desired, plan, rules, synth, tenant};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Tenant id in URLs; defaults to the snapshot's or a fixed GUID.
    pub tenant_id: Option<String>,
    /// The app's client id.
    pub client_id: String,
    /// Accepted client secret (`None`: secrets are refused).
    pub client_secret: Option<String>,
    /// Accepted federated assertion (an opaque OIDC token), if any.
    pub federated_assertion: Option<String>,
    /// Certificate credential: public key PEM and expected `x5t#S256`; assertions must verify.
    pub certificate: Option<(String, String)>,
    /// GitHub Actions' OIDC token service, served at `/_github/oidc`: the request token the
    /// caller must present and the ID token it gets (use it as `federated_assertion` too).
    pub github_oidc: Option<(String, String)>,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Seed of the fault schedule.
    pub seed: u64,
    /// Share of requests (and `$batch` items) answered with 429/503/504 instead.
    pub fault_rate: f64,
    /// `Retry-After` seconds on injected 429s.
    pub retry_after_secs: u64,
    /// Delay before every answer (benchmarks).
    pub latency: Duration,
    /// Added delay per object in an answer: Graph's latency grows with page size.
    pub latency_per_item: Duration,
    /// At most this many requests per window, then 429 with `Retry-After` (simple fault
    /// injection; see `throttle_model` for Microsoft's limits).
    pub throttle: Option<(u32, Duration)>,
    /// Microsoft's throttling model (resource units, write quotas, Exchange's budget); on by
    /// default, so every test and benchmark meets Microsoft's published limits.
    pub throttle_model: Option<ThrottleModel>,
    /// User ids writes may touch; a write to any other user is recorded as a violation.
    pub write_scope: Option<HashSet<String>>,
    /// Share of successful write requests whose answer is held back for `lost_answer_delay`
    /// after the write took effect: with a shorter client timeout this is the timeout whose
    /// write *did* land, the case that tempts clients into duplicate writes.
    pub lost_answer_rate: f64,
    /// How long a lost answer is held back.
    pub lost_answer_delay: Duration,
    /// How the simulated admin behaves at a device-code sign-in.
    pub device_code: DeviceCodeOptions,
    /// How long after a group licensing write (group `assignLicense`, a member added to or
    /// removed from a group) its members are processed: Graph answers `202 Accepted` and
    /// processes them asynchronously. Zero processes them at once.
    pub group_licensing_delay: Duration,
    /// Replaces the human message of every error answer with other words, keeping codes
    /// and statuses: proves a client classifies errors without reading Microsoft's English.
    pub garble_error_messages: bool,
    /// Whether the Exchange admin API serves `$batch` (10 `InvokeCommand` calls per
    /// envelope); off, the envelope is an unknown endpoint (404), as on a service without it.
    pub exchange_batch: bool,
}

/// The fake's default group licensing delay: on, and long enough that a client which does
/// not wait for processing sees the members unprocessed.
pub const DEFAULT_GROUP_LICENSING_DELAY: Duration = Duration::from_millis(300);

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions {
            tenant_id: None,
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret: Some("sim-client-secret".into()),
            federated_assertion: None,
            certificate: None,
            github_oidc: None,
            token_lifetime: Duration::from_secs(3599),
            seed: 1,
            fault_rate: 0.0,
            retry_after_secs: 1,
            latency: Duration::ZERO,
            latency_per_item: Duration::ZERO,
            throttle: None,
            throttle_model: Some(ThrottleModel::microsoft()),
            write_scope: None,
            lost_answer_rate: 0.0,
            lost_answer_delay: Duration::from_secs(5),
            device_code: DeviceCodeOptions::default(),
            group_licensing_delay: DEFAULT_GROUP_LICENSING_DELAY,
            garble_error_messages: false,
            exchange_batch: true,
        }
    }
}

/// One request as the fake saw it (`$batch` items are logged individually too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// HTTP method (for batch items, the item's method).
    pub method: String,
    /// Path and query as received (batch items: `$batch:` + relative URL; Exchange calls:
    /// `#Cmdlet:Identity` appended, and `?Filter=…` after it for a `-Filter`).
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Time since the server started.
    pub at: Duration,
    /// `Retry-After` sent with this answer.
    pub retry_after: Option<u64>,
}

impl LoggedRequest {
    /// Whether this is a `$batch` item rather than an HTTP request.
    pub fn is_batch_item(&self) -> bool {
        self.path.starts_with("$batch:")
    }

    /// Whether this is an Exchange admin API call (a lone `InvokeCommand`, an adminapi
    /// `$batch` or an item of one) rather than Graph: Exchange reads are POSTs, so a count of
    /// Graph writes must leave them out.
    pub fn is_exchange(&self) -> bool {
        self.path.starts_with("/exo/")
            || (self.is_batch_item() && self.path.contains("/InvokeCommand"))
    }
}

#[derive(Debug)]
struct IssuedToken {
    audience: String,
    expires: Instant,
}

/// Mutable server state behind one lock (requests are short; contention is irrelevant).
#[derive(Debug)]
struct State {
    tenant: Tenant,
    log: Vec<LoggedRequest>,
    violations: Vec<String>,
    tokens: HashMap<String, IssuedToken>,
    token_requests: usize,
    reject_tokens: bool,
    faults: FaultSchedule,
    throttle: Option<ThrottleBudget>,
    budgets: Option<Budgets>,
    lost_answers: rand::rngs::ChaCha8Rng,
    next_id: u64,
    device_codes: device_code::DeviceCodes,
    licensing: group_licensing::Queue,
    /// Tenant changes waiting for a request (`FakeTenantHandle::change_after`).
    changes: Vec<PendingChange>,
    /// Whether the users are in UPN order, so a prefix count is a range (`upn_prefix`).
    /// Only `changes` add users or rename them; checked again after each.
    users_sorted: bool,
}

/// A change to the tenant made right after the `after`-th answered request whose path
/// contains `matching`: the directory changing while a client pages through it.
struct PendingChange {
    matching: String,
    after: usize,
    seen: usize,
    change: Box<dyn FnOnce(&mut Tenant) + Send>,
}

impl std::fmt::Debug for PendingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingChange")
            .field("matching", &self.matching)
            .field("after", &self.after)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Counts an answered request against the pending changes and makes those now due.
    fn answered(&mut self, path: &str) {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.changes.len() {
            let pending = &mut self.changes[i];
            if path.contains(&pending.matching) {
                pending.seen += 1;
            }
            if pending.seen >= pending.after {
                due.push(self.changes.remove(i));
            } else {
                i += 1;
            }
        }
        if due.is_empty() {
            return;
        }
        for pending in due {
            (pending.change)(&mut self.tenant);
        }
        self.users_sorted = upn_prefix::sorted(&self.tenant.users);
    }
}

/// Everything the request handlers share.
#[derive(Debug)]
struct Shared {
    options: SimOptions,
    base: String,
    tenant_id: String,
    /// `subscribedSku.accountName`: the tenant's initial domain label.
    account_name: String,
    started: Instant,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn graph_audience(&self) -> String {
        self.base.clone()
    }
    fn exchange_audience(&self) -> String {
        format!("{}/exo", self.base)
    }
}

/// Starts fake tenants.
#[derive(Debug)]
pub struct FakeTenant;

impl FakeTenant {
    /// Serves `tenant` on a random loopback port.
    pub async fn start(tenant: Tenant, options: SimOptions) -> std::io::Result<FakeTenantHandle> {
        FakeTenant::start_on(tenant, options, 0).await
    }

    /// Serves `tenant` on `port` (0 = random) of 127.0.0.1.
    pub async fn start_on(
        mut tenant: Tenant,
        options: SimOptions,
        port: u16,
    ) -> std::io::Result<FakeTenantHandle> {
        tenant.recount_consumed();
        tenant.normalize();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let tenant_id = options
            .tenant_id
            .clone()
            .or_else(|| tenant.tenant_id.clone())
            .unwrap_or_else(|| "00000000-0000-4000-8000-00000000c0de".into());
        let account_name = tenant
            .users
            .first()
            .and_then(|u| u.user_principal_name.rsplit_once('@'))
            .map_or("contoso", |(_, domain)| {
                domain.split('.').next().unwrap_or(domain)
            })
            .to_string();
        let users = tenant.users.len();
        let state = State {
            users_sorted: upn_prefix::sorted(&tenant.users),
            tenant,
            log: Vec::new(),
            violations: Vec::new(),
            tokens: HashMap::new(),
            token_requests: 0,
            reject_tokens: false,
            faults: FaultSchedule::new(options.seed, options.fault_rate, options.retry_after_secs),
            throttle: options.throttle.map(|(n, w)| ThrottleBudget::new(n, w)),
            budgets: options
                .throttle_model
                .as_ref()
                .map(|m| Budgets::new(m, users, Instant::now())),
            lost_answers: rand::SeedableRng::seed_from_u64(options.seed ^ 0x5eed_1057),
            next_id: 0,
            device_codes: Default::default(),
            licensing: group_licensing::Queue::new(options.group_licensing_delay),
            changes: Vec::new(),
        };
        let shared = Arc::new(Shared {
            options,
            base: base.clone(),
            tenant_id,
            account_name,
            started: Instant::now(),
            state: Mutex::new(state),
        });
        let app = axum::Router::new()
            .fallback(routes::handle)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeTenantHandle {
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running fake; dropping it stops the server.
#[derive(Debug)]
pub struct FakeTenantHandle {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeTenantHandle {
    /// `http://127.0.0.1:PORT`: the authority and Graph host.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// Entra authority host (`{authority}/{tenant}/oauth2/v2.0/token`).
    pub fn authority_host(&self) -> String {
        self.shared.base.clone()
    }

    /// Graph host (`{graph}/v1.0/...`).
    pub fn graph_host(&self) -> String {
        self.shared.graph_audience()
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` for the fake GitHub OIDC service.
    pub fn github_oidc_url(&self) -> String {
        format!("{}/_github/oidc?api-version=2.0", self.shared.base)
    }

    /// Exchange host (`{exchange}/adminapi/beta/{tenant}/InvokeCommand`); a distinct audience.
    pub fn exchange_host(&self) -> String {
        self.shared.exchange_audience()
    }

    /// The tenant id the fake answers for.
    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }

    /// Backend settings pointing at this fake.
    pub fn settings(&self, auth: AuthMode) -> GraphSettings {
        GraphSettings {
            tenant_id: self.shared.tenant_id.clone(),
            client_id: self.shared.options.client_id.clone(),
            auth,
            authority_host: self.authority_host(),
            graph_host: self.graph_host(),
            exchange_host: self.exchange_host(),
        }
    }

    /// Every request so far (token requests included).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    /// Forgets the request log (e.g. after a warm-up read).
    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// How many token requests were made.
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// The tenant as it is now (group licensing processed as far as it is due).
    pub fn tenant(&self) -> Tenant {
        let mut state = self.shared.lock();
        routes::process_due_group_licensing(&mut state);
        state.tenant.clone()
    }

    /// Safety violations recorded after writes and group licensing processing (empty = safe).
    pub fn violations(&self) -> Vec<String> {
        let mut state = self.shared.lock();
        routes::process_due_group_licensing(&mut state);
        state.violations.clone()
    }

    /// Expires every issued token now (the next API call gets 401).
    pub fn expire_tokens(&self) {
        let mut state = self.shared.lock();
        let now = Instant::now();
        for token in state.tokens.values_mut() {
            token.expires = now;
        }
    }

    /// Changes the tenant right after the `after`-th answered request whose path (as logged:
    /// path and query, Exchange calls with `#Cmdlet:Identity`) contains `matching`, before
    /// the next request is served: users created or deleted while a client reads, at a
    /// reproducible point of the read.
    pub fn change_after(
        &self,
        matching: &str,
        after: usize,
        change: impl FnOnce(&mut Tenant) + Send + 'static,
    ) {
        self.shared.lock().changes.push(PendingChange {
            matching: matching.to_string(),
            after,
            seen: 0,
            change: Box::new(change),
        });
    }

    /// Makes every token, present and future, invalid (a revoked app).
    pub fn reject_tokens(&self, reject: bool) {
        self.shared.lock().reject_tokens = reject;
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeTenantHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Where `m365ctl sim serve` gets its tenant.
#[derive(Debug, Clone)]
pub enum TenantSource {
    /// A snapshot file.
    Snapshot(std::path::PathBuf),
    /// A generated tenant (`synth`) of this many users from this seed.
    Generated {
        /// Number of users.
        users: usize,
        /// PRNG seed.
        seed: u64,
    },
}

impl TenantSource {
    fn load(&self) -> Result<Tenant, String> {
        match self {
            TenantSource::Snapshot(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                crate::tenant::snapshot::parse_snapshot(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            TenantSource::Generated { users, seed } => {
                Ok(crate::synth::generate(&crate::synth::SynthSpec::served(*users, *seed)).tenant)
            }
        }
    }
}

/// `m365ctl sim serve`: serves the tenant from `source` on `port` with `options` until
/// Ctrl-C, handing `announce` the base URL and a config that points m365ctl at it (the
/// command prints it on stdout).
pub async fn serve(
    source: &TenantSource,
    port: u16,
    options: SimOptions,
    announce: impl FnOnce(&str),
) -> Result<(), String> {
    let tenant = source.load()?;
    let secret = options.client_secret.clone().unwrap_or_default();
    let handle = FakeTenant::start_on(tenant, options, port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    announce(&format!(
        "Fake Microsoft Graph + Exchange Online listening on {base}\n\
         \n\
         # m365ctl.toml [tenant] table for this fake:\n\
         [tenant]\n\
         backend = \"graph\"\n\
         tenant_id = \"{tenant_id}\"\n\
         client_id = \"{client_id}\"\n\
         auth = \"secret\"\n\
         \n\
         # and the environment that points m365ctl at it (a config names only Microsoft's hosts):\n\
         export M365CTL_CLIENT_SECRET={secret}\n\
         export M365CTL_AUTHORITY_HOST={authority}\n\
         export M365CTL_GRAPH_HOST={graph}\n\
         export M365CTL_EXCHANGE_HOST={exchange}\n",
        base = handle.base_url(),
        tenant_id = handle.tenant_id(),
        client_id = handle.shared.options.client_id,
        authority = handle.authority_host(),
        graph = handle.graph_host(),
        exchange = handle.exchange_host(),
    ));
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    handle.shutdown().await;
    Ok(())
}
