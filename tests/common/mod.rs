//! Shared test doubles for the apply tests: an in-memory backend over
//! `tenant::apply_operation` with injected failures and safety bookkeeping, a seeded random
//! generator of tenants and desired states, and small operation builders.
#![allow(dead_code)] // each test binary uses a different subset

use m365ctl::backend::{BackendError, ExecReport, Refusal, TenantBackend};
use m365ctl::desired::{
    DesiredLicense, DesiredState, DesiredUser, Guards, LicenseIntent, LicenseSet, Scope, UserScope,
};
use m365ctl::plan::ops::{AssignLicenses, SetUsageLocation, SignIn};
use m365ctl::plan::{LicenseGrant, LicenseRemoval, OpKind, Operation};
use m365ctl::tenant::{MailboxType, Tenant, apply_operation, unlicensed_user_mailboxes};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const E3_ID: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const EXO1_ID: &str = "4b9405b0-7788-4568-add1-99614e613b69";
pub const OTHER_ID: &str = "f30db892-07e9-47e9-837c-80727f46fd3d";

/// User `i`'s object id: a GUID, as Graph's are (the Graph backend refuses anything else).
pub fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// A tenant with E3 (Exchange Plan 2), EXCHANGESTANDARD (Plan 1) and an unmanaged SKU, and
/// `users` users `u0@contoso.com`.. with usage location GB, no licences, no mailbox.
pub fn tenant(users: usize, e3_seats: u32, exo_seats: u32) -> Tenant {
    let users: Vec<serde_json::Value> = (0..users)
        .map(|i| {
            serde_json::json!({
                "id": user_id(i),
                "user_principal_name": format!("u{i}@contoso.com"),
                "usage_location": "GB",
            })
        })
        .collect();
    let value = serde_json::json!({
        "skus": [
            {"sku_id": E3_ID, "sku_part_number": "ENTERPRISEPACK", "enabled": e3_seats, "consumed": 0,
             "service_plans": [{"service_plan_id": "efb87545-963c-4e0d-99df-69c6916d9eb0", "service_plan_name": "EXCHANGE_S_ENTERPRISE"},
                               {"service_plan_id": "7547a3fe-08ee-4ccb-b430-5077c5041653", "service_plan_name": "YAMMER_ENTERPRISE"}]},
            {"sku_id": EXO1_ID, "sku_part_number": "EXCHANGESTANDARD", "enabled": exo_seats, "consumed": 0,
             "service_plans": [{"service_plan_id": "9aaf7827-d63c-4b61-89c3-182f06f82e5c", "service_plan_name": "EXCHANGE_S_STANDARD"}]},
            {"sku_id": OTHER_ID, "sku_part_number": "POWER_BI_STANDARD", "enabled": 1000, "consumed": 0}
        ],
        "users": users,
        "groups": [],
    });
    let mut tenant: Tenant = serde_json::from_value(value).expect("test tenant");
    tenant.recount_consumed();
    tenant.normalize();
    tenant
}

pub fn grant(sku_id: &str, part: &str) -> LicenseGrant {
    LicenseGrant {
        sku_id: sku_id.into(),
        sku_part_number: part.into(),
        disabled_plans: vec![],
        disabled_plan_names: vec![],
        replaces_disabled: None,
    }
}

pub fn removal(sku_id: &str, part: &str) -> LicenseRemoval {
    LicenseRemoval {
        sku_id: sku_id.into(),
        sku_part_number: part.into(),
    }
}

/// `assign_licenses:u{i}@contoso.com` adding E3.
pub fn assign_e3(i: usize, deps: &[&str]) -> Operation {
    Operation {
        id: format!("assign_licenses:u{i}@contoso.com"),
        kind: OpKind::AssignLicenses(AssignLicenses {
            user_id: user_id(i),
            upn: format!("u{i}@contoso.com"),
            add: vec![grant(E3_ID, "ENTERPRISEPACK")],
            remove: vec![],
        }),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        reasons: vec![],
    }
}

/// `set_usage_location:u{i}@contoso.com` to `to`.
pub fn set_location(i: usize, to: &str, deps: &[&str]) -> Operation {
    Operation {
        id: format!("set_usage_location:u{i}@contoso.com"),
        kind: OpKind::SetUsageLocation(SetUsageLocation {
            user_id: user_id(i),
            upn: format!("u{i}@contoso.com"),
            from: Some("GB".into()),
            to: to.into(),
        }),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        reasons: vec![],
    }
}

/// Failure injection for `MemoryBackend`.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Operation ids that always fail.
    pub always_fail: BTreeSet<String>,
    /// Per-write probability (0..=100) of a transient 503.
    pub transient_percent: u8,
    /// After this many successful writes every further call fails, as if the process died.
    pub crash_after_writes: Option<usize>,
    /// Seed of the transient-failure generator.
    pub seed: u64,
}

/// An in-memory tenant that applies operations by Graph's rules, with injected failures, and
/// records what a reviewer of safety would want to know.
#[derive(Debug)]
pub struct MemoryBackend {
    pub state: Mutex<Tenant>,
    faults: Faults,
    rng: Mutex<Rng>,
    /// User ids m365ctl must never touch.
    pub out_of_scope: BTreeSet<String>,
    pub writes: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    envelopes_in_flight: AtomicUsize,
    /// Most `execute` calls (write envelopes) that were in flight at once.
    pub max_envelopes_in_flight: AtomicUsize,
    pub execute_calls: AtomicUsize,
    /// Every write that reached the tenant, by op id.
    pub applied: Mutex<Vec<String>>,
    /// Safety invariants broken (duplicate writes included).
    pub violations: Mutex<Vec<String>>,
}

impl MemoryBackend {
    pub fn new(tenant: Tenant, faults: Faults) -> MemoryBackend {
        MemoryBackend {
            rng: Mutex::new(Rng::new(faults.seed ^ 0x9e37_79b9_7f4a_7c15)),
            state: Mutex::new(tenant),
            faults,
            out_of_scope: BTreeSet::new(),
            writes: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            envelopes_in_flight: AtomicUsize::new(0),
            max_envelopes_in_flight: AtomicUsize::new(0),
            execute_calls: AtomicUsize::new(0),
            applied: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        }
    }

    pub fn snapshot(&self) -> Tenant {
        self.state.lock().unwrap().clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    fn write_one(&self, op: &Operation) -> Result<ExecReport, BackendError> {
        let fail = |refusal: Refusal, message: &str| BackendError::Refused {
            target: op.kind.target().to_string(),
            refusal,
            message: message.into(),
            request_id: None,
        };
        if self
            .faults
            .crash_after_writes
            .is_some_and(|k| self.writes.load(Ordering::SeqCst) >= k)
        {
            return Err(BackendError::Transport("process crashed".into()));
        }
        if self.faults.always_fail.contains(&op.id) {
            return Err(fail(Refusal::BadRequest, "injected permanent failure"));
        }
        if self.rng.lock().unwrap().below(100) < u64::from(self.faults.transient_percent) {
            return Err(fail(
                Refusal::Transient { status: 503 },
                "injected transient failure",
            ));
        }
        let mut state = self.state.lock().unwrap();
        let before = state.clone();
        let mut violations = Vec::new();
        if m365ctl::apply::done::is_in_effect(&before, &op.kind) {
            violations.push(format!("duplicate write: {} was already in effect", op.id));
        }
        apply_operation(&mut state, &op.kind)
            .map_err(|violation| BackendError::broke_rule(op.kind.target(), &violation))?;
        for sku in &state.skus {
            if sku.consumed > sku.enabled {
                violations.push(format!(
                    "{}: {} consumed over {} enabled after {}",
                    sku.sku_part_number, sku.consumed, sku.enabled, op.id
                ));
            }
        }
        let unlicensed_before: BTreeSet<String> =
            unlicensed_user_mailboxes(&before).into_iter().collect();
        for upn in unlicensed_user_mailboxes(&state) {
            if !unlicensed_before.contains(&upn) {
                violations.push(format!("{upn}: user mailbox left unlicensed by {}", op.id));
            }
        }
        if op
            .kind
            .user_id()
            .is_some_and(|id| self.out_of_scope.contains(id))
        {
            violations.push(format!("{} changed an out-of-scope user", op.id));
        }
        drop(state);
        self.violations.lock().unwrap().extend(violations);
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.applied.lock().unwrap().push(op.id.clone());
        Ok(ExecReport {
            request_id: Some(format!("req-{}", self.writes.load(Ordering::SeqCst))),
        })
    }
}

impl TenantBackend for MemoryBackend {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn read(&self) -> Result<Tenant, BackendError> {
        Ok(self.snapshot())
    }

    async fn execute(&self, ops: &[Operation]) -> Vec<Result<ExecReport, BackendError>> {
        self.execute_calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(ops.len(), Ordering::SeqCst) + ops.len();
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let envelopes = self.envelopes_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_envelopes_in_flight
            .fetch_max(envelopes, Ordering::SeqCst);
        // Let other batches start while this one is "on the wire".
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let results = ops.iter().map(|op| self.write_one(op)).collect();
        self.in_flight.fetch_sub(ops.len(), Ordering::SeqCst);
        self.envelopes_in_flight.fetch_sub(1, Ordering::SeqCst);
        results
    }
}

/// Reproducible random choices for scenarios: a seeded ChaCha8 (rand), the same stream on
/// every platform, with the two shapes of choice the scenarios make.
#[derive(Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A random scenario: a live tenant and a desired state for it (declared scope; undeclared
/// users are out of scope).
pub struct Scenario {
    pub live: Tenant,
    pub desired: DesiredState,
    /// Ids of users the desired state does not declare.
    pub out_of_scope: BTreeSet<String>,
}

/// Generates a scenario with enough seats for the desired state to be affordable.
pub fn scenario(rng: &mut Rng) -> Scenario {
    let n = 3 + rng.below(12) as usize;
    let mut live = tenant(n, 0, 0);
    for user in &mut live.users {
        if rng.chance(20) {
            user.usage_location = None;
        }
        for (sku, percent) in [(E3_ID, 40), (EXO1_ID, 25), (OTHER_ID, 20)] {
            if rng.chance(percent) {
                user.licenses.push(
                    serde_json::from_value(serde_json::json!({"sku_id": sku})).expect("licence"),
                );
                if user.usage_location.is_none() {
                    user.usage_location = Some("US".into());
                }
            }
        }
        let exchange = user.holds(E3_ID) || user.holds(EXO1_ID);
        if exchange || rng.chance(20) {
            let kind = if exchange { "user" } else { "shared" };
            user.mailbox =
                Some(serde_json::from_value(serde_json::json!({"type": kind})).expect("mailbox"));
        }
    }
    let mut users = BTreeMap::new();
    let mut out_of_scope = BTreeSet::new();
    for user in &live.users {
        if !rng.chance(75) {
            out_of_scope.insert(user.id.clone());
            continue;
        }
        let upn = user.user_principal_name.to_lowercase();
        let leaver = user
            .mailbox
            .as_ref()
            .is_some_and(|m| m.kind == MailboxType::User)
            && rng.chance(15);
        let mut licenses = LicenseSet::default();
        if !leaver {
            for (part, percent) in [("ENTERPRISEPACK", 50), ("EXCHANGESTANDARD", 25)] {
                if rng.chance(percent) {
                    licenses.insert(DesiredLicense {
                        sku_part_number: part.into(),
                        disabled_plans: None,
                        origin: None,
                    });
                }
            }
        }
        let has_exchange = !licenses.is_empty();
        let mailbox = match &user.mailbox {
            Some(_) if leaver || !has_exchange => Some(MailboxType::Shared),
            Some(_) if rng.chance(50) => Some(MailboxType::User),
            _ => None,
        };
        users.insert(
            upn.clone(),
            DesiredUser {
                upn,
                origin: None,
                profile: None,
                usage_location: Some(if rng.chance(80) { "GB" } else { "US" }.into()),
                licenses: Some(licenses.into()),
                license_intent: LicenseIntent::Exactly,
                // Leavers are blocked ("Block sign-in for the shared mailbox account"); a mailbox
                // that becomes (or stays) a user's signs in. No draw: the stream is unchanged.
                sign_in: match mailbox {
                    _ if leaver => Some(SignIn::Blocked),
                    Some(MailboxType::User) => Some(SignIn::Allowed),
                    _ => None,
                },
                mailbox,
                mailbox_deletion_accepted: false,
            },
        );
    }
    // Enough seats for everyone who holds or wants a licence, plus slack.
    for sku in &mut live.skus {
        if sku.sku_id != OTHER_ID {
            sku.enabled = n as u32 + rng.below(3) as u32;
        }
    }
    live.recount_consumed();
    live.normalize();
    let desired = DesiredState {
        scope: Scope {
            managed_skus: ["ENTERPRISEPACK", "EXCHANGESTANDARD"]
                .into_iter()
                .map(String::from)
                .collect(),
            users: UserScope::Declared,
        },
        users,
        groups: BTreeMap::new(),
        guards: Guards::default(),
    };
    Scenario {
        live,
        desired,
        out_of_scope,
    }
}

/// The repository's quickstart example: the config and tenant most end-to-end tests start from.
pub mod quickstart {
    use m365ctl::tenant::Tenant;
    use std::path::{Path, PathBuf};

    /// The `[tenant]` table the quickstart ships with, which tests replace to point elsewhere.
    pub const SNAPSHOT_TABLE: &str =
        "[tenant]\nbackend = \"snapshot\"\nsnapshot = \"tenant.json\"\n";

    /// `examples/quickstart/{file}` in this repository.
    pub fn file(file: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/quickstart")
            .join(file)
    }

    /// The quickstart's tenant snapshot, parsed.
    pub fn tenant() -> Tenant {
        let text = std::fs::read_to_string(file("tenant.json")).unwrap();
        m365ctl::backend::snapshot::parse_snapshot(&text).unwrap()
    }

    /// A scratch copy of the quickstart (config and tenant), for tests that apply to it.
    pub fn copy() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in ["m365ctl.toml", "tenant.json"] {
            std::fs::copy(file(name), dir.path().join(name)).unwrap();
        }
        dir
    }

    /// Writes the quickstart config into `dir` with its `[tenant]` table replaced by
    /// `tenant_table`; the directory to pass to `-c`.
    pub fn config_with(dir: &Path, tenant_table: &str) -> String {
        let quickstart = std::fs::read_to_string(file("m365ctl.toml")).unwrap();
        assert!(quickstart.contains(SNAPSHOT_TABLE));
        let config = quickstart.replace(SNAPSHOT_TABLE, tenant_table);
        std::fs::write(dir.join("m365ctl.toml"), config).unwrap();
        dir.display().to_string()
    }
}

/// The fake Graph/Exchange server as the tests meet it: started on a tenant, named in a
/// config, reached through the environment, asked for a token.
pub mod fake {
    use m365ctl::sim::{FakeTenant, FakeTenantHandle, SimOptions};
    use m365ctl::tenant::Tenant;

    /// The fake's defaults, accepting `secret` as the client secret the CLI reads from the
    /// environment.
    pub fn accepting(secret: &str) -> SimOptions {
        SimOptions {
            client_secret: Some(secret.to_string()),
            ..SimOptions::default()
        }
    }

    /// A fake serving `tenant` on loopback.
    pub async fn serving(tenant: Tenant, options: SimOptions) -> FakeTenantHandle {
        FakeTenant::start(tenant, options).await.unwrap()
    }

    /// The `[tenant]` keys (without the header) pointing the graph backend at the fake's
    /// tenant as the fake's default app, then `auth` (whole lines).
    pub fn graph_keys(fake: &FakeTenantHandle, auth: &str) -> String {
        format!(
            "backend = \"graph\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\n{auth}",
            fake.tenant_id(),
            SimOptions::default().client_id,
        )
    }

    /// The whole `[tenant]` table of `graph_keys`.
    pub fn graph_table(fake: &FakeTenantHandle, auth: &str) -> String {
        format!("[tenant]\n{}", graph_keys(fake, auth))
    }

    /// `auth` lines: a client secret read from the environment variable `env`.
    pub fn secret_auth(env: &str) -> String {
        format!("auth = \"secret\"\nclient_secret_env = \"{env}\"\n")
    }

    /// The environment that points the binary at the fake (a config may name only
    /// Microsoft's hosts).
    pub fn host_env(fake: &FakeTenantHandle) -> [(&'static str, String); 3] {
        [
            ("M365CTL_AUTHORITY_HOST", fake.authority_host()),
            ("M365CTL_GRAPH_HOST", fake.graph_host()),
            ("M365CTL_EXCHANGE_HOST", fake.exchange_host()),
        ]
    }

    /// The fake's default app's token for `scope`: its default client id and secret.
    pub async fn app_token(fake: &FakeTenantHandle, scope: &str) -> String {
        let client_id = SimOptions::default().client_id;
        token(fake, &client_id, "sim-client-secret", scope).await
    }

    /// The fake's default app's token for its Graph host.
    pub async fn graph_token(fake: &FakeTenantHandle) -> String {
        app_token(fake, &format!("{}/.default", fake.graph_host())).await
    }

    /// An access token from the fake's token endpoint by the client-credentials grant.
    pub async fn token(
        fake: &FakeTenantHandle,
        client_id: &str,
        secret: &str,
        scope: &str,
    ) -> String {
        let endpoint = format!(
            "{}/{}/oauth2/v2.0/token",
            fake.authority_host(),
            fake.tenant_id()
        );
        token_from(&endpoint, client_id, secret, scope).await
    }

    /// An access token by the client-credentials grant from `endpoint`, for a fake served
    /// in-process or by `m365ctl sim serve`.
    pub async fn token_from(endpoint: &str, client_id: &str, secret: &str, scope: &str) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(endpoint)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }
}

/// Running the `m365ctl` binary from a test.
pub mod cli {
    use assert_cmd::Command;
    use std::path::Path;

    /// The binary, uncoloured and unaware of any GitHub Actions job the tests run in.
    pub fn m365ctl() -> Command {
        let mut cmd = Command::cargo_bin("m365ctl").expect("binary built");
        cmd.env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `cmd` on a blocking thread: async tests keep the fake serving on their runtime.
    pub async fn output(mut cmd: Command) -> std::process::Output {
        tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
            .await
            .expect("joined")
    }

    /// Asserts that a run exited with `code`, showing both of its streams if not; its stdout.
    pub fn exited(out: &std::process::Output, code: i32) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stdout}{stderr}");
        stdout
    }

    /// Owned arguments, as a command run on another thread takes them.
    pub fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// `apply --auto-approve -c config planfile`: the reviewed plan applied, for the caller
    /// to assert on.
    pub fn apply_plan(config: &Path, planfile: &Path) -> assert_cmd::assert::Assert {
        m365ctl()
            .args(["apply", "--auto-approve", "-c"])
            .arg(config)
            .arg(planfile)
            .assert()
    }

    /// `plan -c config --out planfile`, which must succeed: the reviewed plan of a test.
    pub fn save_plan(config: &Path, planfile: &Path) {
        m365ctl()
            .args(["plan", "-c"])
            .arg(config)
            .arg("--out")
            .arg(planfile)
            .assert()
            .code(0);
    }
}
